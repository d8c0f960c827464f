//! The conformance suite every [`Store`] implementation runs (SQLite here; PostgreSQL too once
//! it exists). Each check starts from an empty store.

use super::{AuditEntry, Batch, Store};
use areya_core::PatientId;
use areya_monitor::alerts::{AlertBook, AlertEvent, AlertKind, AlertState, ConditionInfo};
use areya_monitor::engine::Consent;
use areya_monitor::rules::{Escalation, Priority};
use areya_monitor::state::{PatientState, StateConfig};
use areya_monitor::window::WindowAggregate;
use areya_monitor::MINUTE;

fn pid(s: &str) -> PatientId {
    PatientId::parse(s).expect("valid id")
}

fn window(p: &str, minute: i64) -> WindowAggregate {
    WindowAggregate {
        patient: pid(p),
        start_ms: minute * MINUTE,
        end_ms: (minute + 1) * MINUTE,
        frames: 30,
        faces: 24,
        prob_sums: areya_core::EmotionSums::from_array([3.0, 6.0, 9.0, 6.0]),
        confidence_sum: 14.4,
    }
}

/// The audit log is only added to: each statement that would rewrite or empty it (UPDATE and
/// DELETE, and those a back end adds, e.g. PostgreSQL's TRUNCATE), run through `exec`, is
/// refused as "append-only", and the entry is still there.
pub async fn audit_is_append_only<S: Store, F>(
    s: &S,
    also: &[&'static str],
    exec: impl Fn(&'static str) -> F,
) where
    F: std::future::Future<Output = Result<(), String>>,
{
    let e = AuditEntry::new(
        1,
        "admin",
        crate::AuditAction::ChangeRules,
        areya_core::Words::new("rules"),
        areya_core::Words::nothing(),
    );
    s.audit(&e).await.expect("append");
    let changes = [
        "UPDATE audit SET actor = 'someone else'",
        "DELETE FROM audit",
    ];
    for &q in changes.iter().chain(also) {
        let err = exec(q).await.expect_err(q);
        assert!(err.contains("append-only"), "{q}: {err}");
    }
    assert_eq!(s.audit_log(0, 10).await.expect("read")[0].actor, "admin");
}

/// Runs `sql` on `pool` as it is, past the `Store`: what a person with the database's password
/// could do, for checks of what the schema itself refuses.
pub async fn raw_sql<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    sql: &'static str,
) -> Result<(), String>
where
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    sqlx::query(sql)
        .execute(pool)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Windows, assessments, alerts and events round-trip; saving twice is idempotent.
pub async fn records_round_trip<S: Store>(s: &S) {
    let ws: Vec<WindowAggregate> = (0..5)
        .map(|m| window("a", m))
        .chain((0..3).map(|m| window("b", m)))
        .collect();
    let mut state = PatientState::new(StateConfig::default());
    ws.iter()
        .filter(|w| w.patient.as_str() == "a")
        .for_each(|w| state.add(w.clone()));
    let assessment = state.assess(5 * MINUTE);
    let mut book = AlertBook::new(Escalation::default());
    let info = ConditionInfo {
        said: None,
        priority: Priority::Low,
        reason: assessment.reason.clone(),
        score: assessment.score,
        cooldown_s: 0,
        realarm_s: 3600,
    };
    let mut events = book.on_condition(
        &pid("a"),
        AlertKind::SustainedNegative,
        true,
        5 * MINUTE,
        &info,
    );
    events.extend(
        book.acknowledge(
            1,
            "nurse.ana",
            false,
            Some("was laughing at a film".into()),
            6 * MINUTE,
        )
        .expect("open"),
    );
    let (baseline, elevated) = state.carried();
    let snapshot = areya_monitor::engine::PatientSnapshot {
        patient: pid("a"),
        at_ms: 5 * MINUTE,
        baseline,
        elevated,
        tracker: areya_monitor::rules::ConditionTracker::default(),
        last_face_ms: Some(4 * MINUTE),
        first_seen_ms: 0,
    };
    let batch = Batch {
        windows: ws.clone(),
        assessments: vec![(pid("a"), assessment.clone())],
        alerts: book.open_alerts().cloned().collect(),
        events: events.clone(),
        patients: vec![snapshot.clone()],
        deliveries: vec![],
    };
    s.save(&batch).await.expect("save");
    s.save(&batch)
        .await
        .expect("windows, assessments and alerts are idempotent");

    assert_eq!(
        s.windows(Some(&pid("a")), 0, 10 * MINUTE)
            .await
            .expect("read"),
        ws[..5]
    );
    assert_eq!(
        s.windows(None, 0, 10 * MINUTE).await.expect("read").len(),
        8
    );
    assert_eq!(
        s.windows(Some(&pid("a")), MINUTE, 3 * MINUTE)
            .await
            .expect("read")
            .len(),
        2
    );
    assert_eq!(
        s.assessments(&pid("a"), 0, 10 * MINUTE)
            .await
            .expect("read"),
        vec![assessment]
    );
    assert_eq!(
        s.patient_states().await.expect("read"),
        vec![snapshot],
        "the patient's snapshot is kept, once"
    );
    let alerts = s.alerts(Some(&pid("a"))).await.expect("read");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].state, AlertState::Acknowledged);
    assert_eq!(alerts[0].ack.as_ref().map(|a| a.actionable), Some(false));
    assert!(s.alerts(Some(&pid("b"))).await.expect("read").is_empty());
    let stored = s.alert_events(1).await.expect("read");
    assert_eq!(
        stored.len(),
        2 * events.len(),
        "events are appended, not replaced"
    );
    assert_eq!(stored[..events.len()], events[..]);
    assert_eq!(s.max_alert_id().await.expect("read"), 1);

    // Resolution updates the stored snapshot.
    let resolved = book.on_condition(
        &pid("a"),
        AlertKind::SustainedNegative,
        false,
        9 * MINUTE,
        &info,
    );
    s.save(&Batch {
        events: resolved,
        ..Batch::default()
    })
    .await
    .expect("save");
    let a = &s.alerts(None).await.expect("read")[0];
    assert_eq!((a.state, a.updated_ms), (AlertState::Resolved, 9 * MINUTE));
    assert!(matches!(
        s.alert_events(1).await.expect("read").last(),
        Some(AlertEvent::Resolved { .. })
    ));
}

/// Rules are versioned and checked; consent opt-out forgets the patient's data.
pub async fn rules_and_consent<S: Store>(s: &S) {
    assert_eq!(s.current_rules().await.expect("read"), None);
    let v1 = s
        .save_rules(1, "admin", "[ward]\nenter = 0.7")
        .await
        .expect("save");
    let v2 = s
        .save_rules(2, "admin", "[ward]\nenter = 0.8")
        .await
        .expect("save");
    assert!(v2 > v1);
    assert_eq!(
        s.current_rules().await.expect("read"),
        Some((v2, "[ward]\nenter = 0.8".to_string()))
    );
    let err = s
        .save_rules(3, "admin", "[ward]\nexit = 0.99")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ward.exit"), "{err}");
    assert_eq!(
        s.current_rules().await.expect("read").map(|r| r.0),
        Some(v2),
        "a refused rule file changes nothing"
    );

    let snap = |p: &str| areya_monitor::engine::PatientSnapshot {
        patient: pid(p),
        at_ms: MINUTE,
        baseline: Default::default(),
        elevated: false,
        tracker: Default::default(),
        last_face_ms: None,
        first_seen_ms: 0,
    };
    s.save(&Batch {
        windows: vec![window("c", 0), window("d", 0)],
        patients: vec![snap("c"), snap("d")],
        ..Batch::default()
    })
    .await
    .expect("save");
    s.set_consent(&pid("c"), Consent::PausedUntil { until_ms: 99 })
        .await
        .expect("save");
    s.set_consent(&pid("d"), Consent::OptedOut)
        .await
        .expect("save");
    assert_eq!(
        s.consents().await.expect("read"),
        vec![
            (pid("c"), Consent::PausedUntil { until_ms: 99 }),
            (pid("d"), Consent::OptedOut)
        ]
    );
    let kept: Vec<_> = s
        .patient_states()
        .await
        .expect("read")
        .into_iter()
        .map(|p| p.patient)
        .filter(|p| ["c", "d"].contains(&p.as_str()))
        .collect();
    assert_eq!(kept, [pid("c")], "opting out forgets the snapshot too");
    assert_eq!(
        s.windows(Some(&pid("c")), 0, MINUTE)
            .await
            .expect("read")
            .len(),
        1
    );
    assert!(
        s.windows(Some(&pid("d")), 0, MINUTE)
            .await
            .expect("read")
            .is_empty(),
        "opted out: forgotten"
    );
}

/// The audit log is append-only and ordered; retention purges old records but not the audit.
pub async fn audit_and_retention<S: Store>(s: &S) {
    for (i, action) in ["view patient", "acknowledge", "export"].iter().enumerate() {
        let e = AuditEntry {
            seq: 0,
            at_ms: i as i64 * MINUTE,
            actor: "nurse.ana".into(),
            action: action.to_string(),
            target: "patient a".into(),
            detail: String::new(),
            said: (i == 1).then(|| crate::AuditWords {
                target: areya_core::Words::new("patient {id}").with("id", "a"),
                detail: areya_core::Words::new("{n} s").with("n", 600u32),
            }),
        };
        s.audit(&e).await.expect("append");
    }
    let log = s.audit_log(0, 10 * MINUTE).await.expect("read");
    assert_eq!(
        log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["view patient", "acknowledge", "export"]
    );
    assert!(log.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        log.iter().map(|e| e.said.is_some()).collect::<Vec<_>>(),
        [false, true, false],
        "the words are kept where there were some"
    );
    assert_eq!(
        log[1].said.as_ref().map(|w| w.detail.to_string()),
        Some("600 s".to_string())
    );
    let of = s
        .audit_of("acknowledge", "patient a", 0, 10 * MINUTE)
        .await
        .expect("read");
    assert_eq!(of.len(), 1);
    assert_eq!(of[0].seq, log[1].seq);
    assert!(s
        .audit_of("acknowledge", "patient b", 0, 10 * MINUTE)
        .await
        .expect("read")
        .is_empty());

    s.save(&Batch {
        windows: (0..10).map(|m| window("e", m)).collect(),
        ..Batch::default()
    })
    .await
    .expect("save");
    let purged = s.purge_before(5 * MINUTE).await.expect("purge");
    assert_eq!(purged.windows, 5);
    assert_eq!(
        s.windows(Some(&pid("e")), 0, 20 * MINUTE)
            .await
            .expect("read")
            .len(),
        5
    );
    assert_eq!(
        s.audit_log(0, 10 * MINUTE).await.expect("read").len(),
        3,
        "the audit log is kept"
    );
}

fn observation(source: &str, patient: &str, second: i64) -> areya_core::Observation {
    areya_core::Observation {
        source: areya_core::SourceId::parse(source).expect("valid id"),
        patient: pid(patient),
        at_ms: second * 1000,
        frame: second as u64,
        face: None,
    }
}

/// Observations are stored once per (source, time, frame); directories are versioned with a
/// conflict check; sessions expire and can be ended; opting out forgets observations too.
pub async fn ingest_directory_and_sessions<S: Store>(s: &S) {
    let first: Vec<_> = (0..4).map(|t| observation("cam1", "a", t)).collect();
    assert_eq!(
        s.insert_observations(&first).await.expect("insert"),
        [true; 4]
    );
    let mut retry = first[2..].to_vec();
    retry.push(observation("cam1", "a", 4));
    retry.push(observation("cam2", "g", 4));
    assert_eq!(
        s.insert_observations(&retry).await.expect("insert"),
        [false, false, true, true],
        "a retried delivery stores nothing twice"
    );
    let twice = [observation("cam3", "a", 9), observation("cam3", "a", 9)];
    assert_eq!(
        s.insert_observations(&twice).await.expect("insert"),
        [true, false],
        "a key repeated within one request is stored once"
    );
    let since = s.observations_since(3000).await.expect("read");
    assert_eq!(since.len(), 4);
    assert_eq!(since[0], first[3]);
    s.set_consent(&pid("g"), areya_monitor::engine::Consent::OptedOut)
        .await
        .expect("consent");
    assert_eq!(s.observations_since(0).await.expect("read").len(), 6);
    // A row an older version stored without checking (an infinite sharpness is written as
    // null) is skipped by the replay instead of failing it.
    let mut bad = observation("cam4", "a", 20);
    bad.face = Some(areya_core::SeenFace {
        bbox: areya_core::FaceBox {
            x: 0,
            y: 0,
            width: 10,
            height: 10,
            score: 1.0,
        },
        probs: areya_core::Probabilities::new(0.25, 0.25, 0.25, 0.25).expect("valid"),
        quality: Some(areya_core::Quality {
            face_px: 10,
            sharpness: f32::INFINITY,
        }),
    });
    assert_eq!(
        s.insert_observations(&[bad, observation("cam4", "a", 21)])
            .await
            .expect("insert"),
        [true, true]
    );
    let since = s.observations_since(20_000).await.expect("read");
    assert_eq!(
        since,
        [observation("cam4", "a", 21)],
        "the bad row is skipped"
    );

    assert_eq!(s.directory().await.expect("read"), None);
    let doc = r#"{"wards":[{"id":"w1","name":"Ward 1","beds":[]}]}"#;
    assert_eq!(
        s.save_directory(None, 1, "admin", doc).await.expect("save"),
        1
    );
    let err = s.save_directory(None, 2, "admin", doc).await.unwrap_err();
    assert!(matches!(err, super::StoreError::Conflict(_)), "{err}");
    assert_eq!(
        s.save_directory(Some(1), 3, "admin", doc)
            .await
            .expect("save"),
        2
    );
    let err = s
        .save_directory(
            Some(2),
            4,
            "admin",
            r#"{"staff":[{"id":"x","name":"X","role":"nurse","wards":["nope"]}]}"#,
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("ward 'nope' does not exist"),
        "{err}"
    );
    assert_eq!(
        s.directory().await.expect("read"),
        Some((2, doc.to_string()))
    );

    s.create_session("h1", "ana", 10_000)
        .await
        .expect("session");
    assert_eq!(
        s.session("h1", 9_999).await.expect("read").as_deref(),
        Some("ana")
    );
    assert_eq!(
        s.session("h1", 10_000).await.expect("read"),
        None,
        "expired"
    );
    assert_eq!(s.session("h2", 0).await.expect("read"), None);
    s.delete_session("h1").await.expect("delete");
    assert_eq!(s.session("h1", 0).await.expect("read"), None, "logged out");
    for (h, who) in [("h3", "ana"), ("h4", "ana"), ("h5", "ben")] {
        s.create_session(h, who, 10_000).await.expect("session");
    }
    assert_eq!(
        s.delete_sessions_of("ana", Some("h3")).await.expect("end"),
        1,
        "all of ana's sessions but the one kept"
    );
    assert_eq!(
        s.session("h3", 0).await.expect("read").as_deref(),
        Some("ana")
    );
    assert_eq!(s.session("h4", 0).await.expect("read"), None);
    assert_eq!(
        s.session("h5", 0).await.expect("read").as_deref(),
        Some("ben")
    );
    assert_eq!(s.delete_sessions_of("ana", None).await.expect("end"), 1);
    assert_eq!(s.session("h3", 0).await.expect("read"), None);
    s.check_writable(5).await.expect("heartbeat");
    s.check_writable(6).await.expect("heartbeat again");
}

/// Doctors' notices: each in its doctor's inbox only, newest first, acknowledged once.
pub async fn doctor_notices<S: Store>(s: &S) {
    use areya_monitor::notice::{Notice, NoticeAck, NoticeKind};
    let notice = |at_ms: i64, doctor: &str, kind: NoticeKind| Notice {
        id: 0,
        at_ms,
        doctor: doctor.into(),
        patient: (kind != NoticeKind::Digest).then(|| pid("p-1")),
        kind,
        bed: None,
        text: format!("{} at {at_ms}", kind.as_str()),
        said: None,
        ack: None,
    };
    let a = s
        .add_notice(&notice(10, "lee", NoticeKind::Persisting))
        .await
        .unwrap();
    let b = s
        .add_notice(&notice(20, "lee", NoticeKind::Digest))
        .await
        .unwrap();
    let c = s
        .add_notice(&notice(30, "kim", NoticeKind::Rising))
        .await
        .unwrap();
    assert!(a != b && b != c, "ids are distinct");
    let lee = s.notices(Some("lee"), 0).await.unwrap();
    assert_eq!(
        lee.iter().map(|n| (n.id, n.kind)).collect::<Vec<_>>(),
        [(b, NoticeKind::Digest), (a, NoticeKind::Persisting)],
        "newest first, Lee's only"
    );
    assert_eq!(lee[1].patient, Some(pid("p-1")));
    assert_eq!(
        s.notices(None, 15).await.unwrap().len(),
        2,
        "from a time on"
    );
    // Acknowledged once, by its own doctor only; the first acknowledgement stays.
    let first = NoticeAck {
        by: "lee".into(),
        at_ms: 40,
    };
    assert_eq!(s.ack_notice(a, "kim", &first).await.unwrap(), None);
    let (acked, now) = s
        .ack_notice(a, "lee", &first)
        .await
        .unwrap()
        .expect("Lee's");
    assert_eq!((acked.ack, now), (Some(first.clone()), true));
    let later = NoticeAck {
        by: "lee".into(),
        at_ms: 50,
    };
    let (again, now) = s
        .ack_notice(a, "lee", &later)
        .await
        .unwrap()
        .expect("still there");
    assert_eq!((again.ack, now), (Some(first.clone()), false));
    let (same, now) = s
        .ack_notice(a, "lee", &first)
        .await
        .unwrap()
        .expect("still there");
    assert_eq!(
        (same.ack, now),
        (Some(first), false),
        "the same acknowledgement twice"
    );
    assert_eq!(s.ack_notice(999_999, "lee", &later).await.unwrap(), None);
    let lee = s.notices(Some("lee"), 0).await.unwrap();
    assert_eq!(lee[1].ack.as_ref().map(|k| k.at_ms), Some(40));
    assert_eq!(lee[0].ack, None);
}

/// The gateway's outbox: each key queued once (in a batch or alone), due in order, retried,
/// delivered or dead.
pub async fn outbox<S: Store>(s: &S) {
    use super::{DeliveryOutcome, DeliveryState, NewDelivery};
    let item = |key: &str, at: i64| NewDelivery {
        key: key.into(),
        created_ms: at,
        ward: Some("w1".into()),
        body: format!("{{\"id\":\"{key}\"}}"),
    };
    s.save(&Batch {
        deliveries: vec![item("a", 10), item("b", 20)],
        ..Batch::default()
    })
    .await
    .unwrap();
    s.enqueue(&[item("a", 10), item("c", 30)]).await.unwrap();
    let due = s.due_deliveries(25, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(),
        ["a", "b"],
        "due by time, oldest first, 'a' once"
    );
    assert_eq!(due[0].state, DeliveryState::Pending);
    assert_eq!(s.due_deliveries(100, 1).await.unwrap().len(), 1, "limit");
    let (a, b) = (due[0].id, due[1].id);
    s.finish_delivery(a, &DeliveryOutcome::Delivered { at_ms: 26 })
        .await
        .unwrap();
    let retry = DeliveryOutcome::Retry {
        attempts: 1,
        next_ms: 60,
        error: areya_core::Words::new("the gateway answered {status}").with("status", 503u32),
    };
    s.finish_delivery(b, &retry).await.unwrap();
    let due = s.due_deliveries(50, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(),
        ["c"],
        "b waits"
    );
    let due = s.due_deliveries(60, 10).await.unwrap();
    assert_eq!(due[0].key, "b");
    assert_eq!(
        (due[0].attempts, due[0].last_error.as_deref()),
        (1, Some("the gateway answered 503"))
    );
    assert_eq!(
        due[0].last_said.as_ref().map(|w| w.text.as_str()),
        Some("the gateway answered {status}"),
        "the failure's words are kept for a reader in any language"
    );
    let dead = DeliveryOutcome::Dead {
        attempts: 2,
        at_ms: 61,
        error: "refused".into(),
    };
    s.finish_delivery(b, &dead).await.unwrap();
    let all = s.deliveries(0, 10).await.unwrap();
    let got: Vec<(&str, DeliveryState, u32)> = all
        .iter()
        .map(|d| (d.key.as_str(), d.state, d.attempts))
        .collect();
    assert_eq!(
        got,
        [
            ("c", DeliveryState::Pending, 0),
            ("b", DeliveryState::Dead, 2),
            ("a", DeliveryState::Delivered, 1),
        ]
    );
    assert_eq!(all[1].done_ms, Some(61));
    // The ward's failures: the dead letter only ('c' has not been tried, 'a' went through).
    let failed = s.failed_deliveries("w1", 0, 10).await.unwrap();
    assert_eq!(
        failed.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
    assert!(s.failed_deliveries("w2", 0, 10).await.unwrap().is_empty());
    assert!(
        s.failed_deliveries("w1", 62, 10).await.unwrap().is_empty(),
        "from a time on"
    );
    assert_eq!(all[1].ward.as_deref(), Some("w1"));
    assert_eq!(
        s.deliveries(25, 10).await.unwrap().len(),
        1,
        "from a time on"
    );
}
