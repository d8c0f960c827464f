//! Hours of a simulated ward through the engine, in milliseconds of test time.

use areya_core::{FaceBox, Observation, PatientId, Probabilities, SeenFace, SourceId};
use areya_monitor::alerts::{AlertEvent, AlertKind, Recipient};
use areya_monitor::engine::{Consent, Engine, EngineConfig, Output};
use areya_monitor::rules::RuleSet;
use areya_monitor::state::Status;
use areya_monitor::{Millis, HOUR, MINUTE, SECOND};

fn obs(patient: &PatientId, at_ms: Millis, negative: Option<f32>) -> Observation {
    Observation {
        source: SourceId::parse("cam").unwrap(),
        patient: patient.clone(),
        at_ms,
        frame: (at_ms / SECOND) as u64,
        face: negative.map(|n| {
            SeenFace::new(
                FaceBox::square(10, 10, 90, 4.0),
                Probabilities::new(n * 0.3, (1.0 - n) * 0.3, (1.0 - n) * 0.7, n * 0.7)
                    .expect("a distribution"),
            )
        }),
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
    // The alert says what raised it: the run since the drift, against the learned usual.
    let raised = events
        .iter()
        .find_map(|e| match e {
            AlertEvent::Raised { alert } if alert.patient == ps[0] => Some(alert),
            _ => None,
        })
        .expect("raised");
    assert!(
        raised.reason.starts_with("negative 85% for 1")
            && raised.reason.ends_with(" min, mostly sad, usual 15%"),
        "{}",
        raised.reason
    );
    let open = engine
        .alerts
        .open_alert(&ps[0], areya_monitor::alerts::AlertKind::SustainedNegative)
        .expect("open");
    assert!(
        open.reason.starts_with("negative 85% for 180 min")
            || open.reason.starts_with("negative 85% for 179 min"),
        "updated in place as the run goes on: {}",
        open.reason
    );
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
fn pausing_or_opting_out_ends_the_patients_open_alerts_and_only_theirs() {
    let rules = RuleSet::from_toml("[ward]\nmin_duration_s = 600\n").unwrap();
    for consent in [
        Consent::PausedUntil {
            until_ms: 10 * HOUR,
        },
        Consent::OptedOut,
    ] {
        let mut engine = Engine::new(EngineConfig::default(), rules.clone());
        let ps: Vec<PatientId> = ["a", "b"]
            .iter()
            .map(|s| PatientId::parse(s).unwrap())
            .collect();
        simulate(&mut engine, &ps, 2, |_, _| Some(0.9));
        let open =
            |e: &Engine, p: &PatientId| e.alerts.open_alerts().filter(|a| &a.patient == p).count();
        assert_eq!((open(&engine, &ps[0]), open(&engine, &ps[1])), (1, 1));
        let out = engine.change_consent(&ps[0], consent, 2 * HOUR);
        assert!(
            out.iter().any(|o| matches!(
                o,
                Output::Alert {
                    event: AlertEvent::Resolved { .. }
                }
            )),
            "{consent:?}: {out:?}"
        );
        assert_eq!(
            (open(&engine, &ps[0]), open(&engine, &ps[1])),
            (0, 1),
            "{consent:?}"
        );
        assert!(engine
            .change_consent(&ps[1], Consent::Active, 2 * HOUR)
            .is_empty());
    }
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

/// A small deterministic random stream (xorshift), so the scripted streams are the same on
/// every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs the engine as `areya serve` drives it: one observation per 5 s per patient,
/// `neg(patient, t)` as the negative share (None: no face in the frame), a tick every second
/// of ward time. Returns every output.
fn ward(
    engine: &mut Engine,
    patients: &[PatientId],
    hours: f64,
    mut neg: impl FnMut(usize, Millis) -> Option<f32>,
) -> Vec<Output> {
    let mut out = Vec::new();
    let end = (hours * HOUR as f64) as Millis;
    let mut t = 0;
    while t < end {
        if t % (5 * SECOND) == 0 {
            for (i, p) in patients.iter().enumerate() {
                if let Some(o) = engine.ingest(&obs(p, t, neg(i, t)), t).unwrap() {
                    out.extend(o);
                }
            }
        }
        out.extend(engine.tick(t).unwrap());
        t += SECOND;
    }
    out
}

fn alert_events(out: &[Output]) -> Vec<&AlertEvent> {
    out.iter()
        .filter_map(|o| match o {
            Output::Alert { event } => Some(event),
            _ => None,
        })
        .collect()
}

fn emotion_alerts_raised(out: &[Output], p: &PatientId) -> usize {
    alert_events(out)
        .into_iter()
        .filter(|e| matches!(e, AlertEvent::Raised { alert } if &alert.patient == p && alert.kind == AlertKind::SustainedNegative))
        .count()
}

#[test]
fn sparse_sight_alerts_only_at_the_coverage_the_rules_name() {
    // The real defaults: 1-minute windows, 10 seen minutes, windows count with half the
    // frames showing a face, blind gaps over 3 minutes end a run.
    let mut engine = Engine::new(EngineConfig::default(), RuleSet::default());
    let ps: Vec<PatientId> = ["seen-15", "seen-30", "seen-50"]
        .iter()
        .map(|s| PatientId::parse(s).unwrap())
        .collect();
    let seen = [0.15, 0.30, 0.50];
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    // Six hours of a distressed patient whose face is in view only now and then.
    let out = ward(&mut engine, &ps, 6.0, |i, _| {
        (rng.next() < seen[i]).then_some(0.9)
    });
    assert_eq!(
        emotion_alerts_raised(&out, &ps[0]),
        0,
        "face seen 15% of frames"
    );
    assert_eq!(
        emotion_alerts_raised(&out, &ps[1]),
        0,
        "face seen 30% of frames"
    );
    assert!(
        emotion_alerts_raised(&out, &ps[2]) >= 1,
        "seen half the time (the coverage the rules name), sustained distress alerts"
    );
    for a in engine.alerts.open_alerts() {
        assert!(
            !a.reason.contains("not enough to judge"),
            "an alert must rest on sight: {a:?}"
        );
    }
}

#[test]
fn seen_one_minute_hidden_nine_is_never_sustained() {
    let mut engine = Engine::new(EngineConfig::default(), RuleSet::default());
    let p = PatientId::parse("p").unwrap();
    // Seen (and sad) one minute in ten, for six hours.
    let out = ward(&mut engine, std::slice::from_ref(&p), 6.0, |_, t| {
        ((t / MINUTE) % 10 == 0).then_some(0.9)
    });
    assert_eq!(emotion_alerts_raised(&out, &p), 0);
}

#[test]
fn an_alert_whose_patient_is_no_longer_seen_stops_escalating_and_says_so() {
    let mut engine = Engine::new(EngineConfig::default(), RuleSet::default());
    let p = PatientId::parse("p").unwrap();
    // Sad in view for 11 minutes (raised after 10 seen minutes), then out of view for an
    // hour, then back in view: still sad in one run, calm in another.
    for (back, want_resolved) in [(0.9f32, false), (0.1, true)] {
        let mut engine = Engine::new(EngineConfig::default(), RuleSet::default());
        let out = ward(&mut engine, std::slice::from_ref(&p), 1.5, |_, t| match t {
            t if t < 11 * MINUTE => Some(0.9),
            t if t < 71 * MINUTE => None,
            _ => Some(back),
        });
        let events = alert_events(&out);
        let id = events
            .iter()
            .find_map(|e| match e {
                AlertEvent::Raised { alert } if alert.kind == AlertKind::SustainedNegative => {
                    Some(alert.id)
                }
                _ => None,
            })
            .expect("raised while in view");
        let blind: Vec<_> = events
            .iter()
            .filter(|e| matches!(e, AlertEvent::CannotAssess { id: i, .. } if *i == id))
            .collect();
        assert_eq!(blind.len(), 1, "the nurse is told once: {blind:?}");
        if let AlertEvent::CannotAssess {
            since_ms, at_ms, ..
        } = blind[0]
        {
            assert_eq!(
                *since_ms,
                11 * MINUTE,
                "face last seen at the end of minute 10"
            );
            assert!(*at_ms - since_ms >= 10 * MINUTE && *at_ms - since_ms < 11 * MINUTE);
        }
        assert!(
            !events.iter().any(|e| matches!(e, AlertEvent::Notified { id: i, to: Recipient::WardFailsafe, at_ms } if *i == id && *at_ms < 71 * MINUTE)),
            "no failsafe page for a patient nobody can see"
        );
        let resolved = events
            .iter()
            .any(|e| matches!(e, AlertEvent::Resolved { id: i, .. } if *i == id));
        assert_eq!(resolved, want_resolved, "face back with negative {back}");
        if !want_resolved {
            let open = engine
                .alerts
                .open_alerts()
                .find(|a| a.id == id)
                .expect("open");
            assert_eq!(
                open.blind_since_ms, None,
                "seen again and still sad: alarmed again"
            );
            assert!(events.iter().any(|e| matches!(e, AlertEvent::Realarmed { id: i, at_ms } if *i == id && *at_ms > 71 * MINUTE)));
        }
    }
    let _ = &mut engine;
}

#[test]
fn a_calm_patient_stays_settled_for_six_hours() {
    let mut engine = Engine::new(EngineConfig::default(), RuleSet::default());
    let p = PatientId::parse("calm").unwrap();
    let mut rng = Rng(0xca1f_0000_0000_0042);
    // Calm with the ordinary noise of a classifier: negative share 0.1–0.3 frame to frame.
    let out = ward(&mut engine, std::slice::from_ref(&p), 6.0, |_, _| {
        Some(0.1 + 0.2 * rng.next() as f32)
    });
    let statuses: Vec<Status> = out
        .iter()
        .filter_map(|o| match o {
            Output::Assessment { assessment, .. } => Some(assessment.status),
            _ => None,
        })
        .collect();
    assert!(
        statuses.len() >= 359,
        "one assessment a minute: {}",
        statuses.len()
    );
    let elevated = statuses.iter().filter(|s| **s != Status::Settled).count();
    assert_eq!(elevated, 0, "the card never leaves settled");
    assert_eq!(emotion_alerts_raised(&out, &p), 0);
}

#[test]
fn consent_is_spelled_as_the_api_takes_it_and_older_records_still_read() {
    let c = Consent::PausedUntil { until_ms: 5 };
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        r#"{"consent":"paused","until_ms":5}"#
    );
    let old: Consent = serde_json::from_str(r#"{"consent":"paused_until","until_ms":5}"#).unwrap();
    assert_eq!(old, c);
}
