//! Hours of a simulated ward through the engine, in milliseconds of test time.

use areya_core::{FaceBox, Observation, PatientId, Probabilities, SourceId};
use areya_monitor::alerts::AlertEvent;
use areya_monitor::engine::{Consent, Engine, EngineConfig, Output};
use areya_monitor::rules::RuleSet;
use areya_monitor::{Millis, HOUR, MINUTE, SECOND};

fn obs(patient: &PatientId, at_ms: Millis, negative: Option<f32>) -> Observation {
    Observation {
        source: SourceId::parse("cam").unwrap(),
        patient: patient.clone(),
        at_ms,
        frame: (at_ms / SECOND) as u64,
        face: negative.map(|_| FaceBox {
            x: 10,
            y: 10,
            width: 90,
            height: 90,
            score: 4.0,
        }),
        probs: negative.map(|n| Probabilities {
            angry: n * 0.3,
            happy: (1.0 - n) * 0.3,
            relaxed: (1.0 - n) * 0.7,
            sad: n * 0.7,
        }),
        quality: None,
    }
}

/// Runs `hours` of one observation every 2 s per patient; `neg(patient index, t)` gives the
/// negative share (None = no face). Returns the alert events.
fn simulate(
    engine: &mut Engine,
    patients: &[PatientId],
    hours: i64,
    neg: impl Fn(usize, Millis) -> Option<f32>,
) -> Vec<AlertEvent> {
    let mut events = Vec::new();
    let mut t = 0;
    while t < hours * HOUR {
        for (i, p) in patients.iter().enumerate() {
            if let Some(out) = engine.ingest(&obs(p, t, neg(i, t)), t).unwrap() {
                events.extend(out.into_iter().filter_map(|o| {
                    if let Output::Alert { event } = o {
                        Some(event)
                    } else {
                        None
                    }
                }));
            }
        }
        if t % MINUTE == 0 {
            events.extend(engine.tick(t).unwrap().into_iter().filter_map(|o| {
                if let Output::Alert { event } = o {
                    Some(event)
                } else {
                    None
                }
            }));
        }
        t += 2 * SECOND;
    }
    events
}

fn raised_for(events: &[AlertEvent], p: &PatientId) -> usize {
    events.iter().filter(|e| matches!(e, AlertEvent::Raised { alert } if &alert.patient == p && alert.kind == areya_monitor::alerts::AlertKind::SustainedNegative)).count()
}

#[test]
fn a_simulated_ward_raises_what_it_should_and_nothing_else() {
    let rules = RuleSet::from_toml("[ward]\nmin_duration_s = 600\n").unwrap();
    let mut engine = Engine::new(EngineConfig::default(), rules);
    let ps: Vec<PatientId> = ["drifts-to-sad", "flickers", "calm", "opted-out"]
        .iter()
        .map(|s| PatientId::parse(s).unwrap())
        .collect();
    engine.set_consent(&ps[3], Consent::OptedOut);
    let events = simulate(&mut engine, &ps, 8, |i, t| match i {
        // Calm for 5 hours (the baseline), then sad.
        0 => Some(if t < 5 * HOUR { 0.15 } else { 0.85 }),
        // Around the threshold, changing every 90 seconds.
        1 => Some(if (t / (90 * SECOND)) % 2 == 0 {
            0.62
        } else {
            0.40
        }),
        _ => Some(0.1),
    });
    assert_eq!(
        raised_for(&events, &ps[0]),
        1,
        "the drift alerts once, updated in place"
    );
    assert_eq!(
        raised_for(&events, &ps[1]),
        0,
        "flicker below the duration never alerts"
    );
    assert_eq!(raised_for(&events, &ps[2]), 0);
    assert_eq!(raised_for(&events, &ps[3]), 0);
    assert!(
        engine.assess(&ps[3], 8 * HOUR).is_none(),
        "an opted-out patient is never processed"
    );
    assert_eq!(engine.refused, 8 * 3600 / 2);
    let a = engine.assess(&ps[0], 8 * HOUR).unwrap();
    assert!(a.score > 60 && a.reason.contains("mostly sad"), "{a:?}");
    // The drifting patient's alert escalated while nobody acknowledged it.
    assert!(events.iter().any(|e| matches!(
        e,
        AlertEvent::Notified {
            to: areya_monitor::alerts::Recipient::WardFailsafe,
            ..
        }
    )));
}

#[test]
fn paused_consent_resumes_and_no_face_raises_a_technical_alert() {
    let mut engine = Engine::new(EngineConfig::default(), RuleSet::default());
    let p = PatientId::parse("p").unwrap();
    engine.set_consent(&p, Consent::PausedUntil { until_ms: HOUR });
    let events = simulate(&mut engine, std::slice::from_ref(&p), 2, |_, _| None);
    assert_eq!(engine.refused, 1800);
    assert!(events.iter().any(|e| matches!(e, AlertEvent::Raised { alert } if alert.kind == areya_monitor::alerts::AlertKind::NoFace)));
    let a = engine.assess(&p, 2 * HOUR).unwrap();
    assert_eq!(a.status, areya_monitor::state::Status::Unknown);
}

mod sqlite_store {
    use areya_monitor::store::{conformance, SqliteStore, Store};

    async fn fresh() -> SqliteStore {
        SqliteStore::open("sqlite::memory:")
            .await
            .expect("in-memory SQLite")
    }

    #[tokio::test]
    async fn conformance_records_round_trip() {
        conformance::records_round_trip(&fresh().await).await;
    }

    #[tokio::test]
    async fn conformance_rules_and_consent() {
        conformance::rules_and_consent(&fresh().await).await;
    }

    #[tokio::test]
    async fn conformance_audit_and_retention() {
        conformance::audit_and_retention(&fresh().await).await;
    }

    #[tokio::test]
    async fn conformance_ingest_directory_and_sessions() {
        conformance::ingest_directory_and_sessions(&fresh().await).await;
    }

    #[tokio::test]
    async fn a_file_database_survives_reopening_and_bad_urls_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("areya.db").display());
        {
            let s = SqliteStore::open(&url).await.unwrap();
            s.save_rules(1, "admin", "[ward]\nenter = 0.7")
                .await
                .unwrap();
        }
        let s = SqliteStore::open(&url).await.unwrap();
        assert_eq!(s.current_rules().await.unwrap().map(|r| r.0), Some(1));
        let err = SqliteStore::open("sqlite:///no/such/dir/x.db")
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("database open"), "{err}");
    }
}

mod postgres_store {
    use areya_monitor::store::{conformance, postgres_test_database};

    #[tokio::test]
    async fn conformance_records_round_trip() {
        let Some(s) = postgres_test_database().await else {
            return;
        };
        conformance::records_round_trip(&s).await;
    }

    #[tokio::test]
    async fn conformance_rules_and_consent() {
        let Some(s) = postgres_test_database().await else {
            return;
        };
        conformance::rules_and_consent(&s).await;
    }

    #[tokio::test]
    async fn conformance_audit_and_retention() {
        let Some(s) = postgres_test_database().await else {
            return;
        };
        conformance::audit_and_retention(&s).await;
    }

    #[tokio::test]
    async fn conformance_ingest_directory_and_sessions() {
        let Some(s) = postgres_test_database().await else {
            return;
        };
        conformance::ingest_directory_and_sessions(&s).await;
    }
}
