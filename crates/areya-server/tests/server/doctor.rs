//! The attending doctor: their patients across wards and nothing else, each with the stay day
//! by day.

use super::*;
use areya_monitor::directory::{Bed, Role as StaffRole, Staff};
use areya_monitor::notice::NoticeKind;
use areya_monitor::window::WindowAggregate;

/// The demo ward plus a patient of Dr Lee's on ward 2A, and Dr Kim attending bed 5 (where
/// Dr Lee is on the team).
async fn two_wards() -> Server {
    let s = Server::start("sqlite::memory:", true).await;
    s.edit_directory(|d| {
        d.staff
            .push(Staff::new("drkim", "Dr Kim", StaffRole::Doctor, vec![]));
        d.wards[0].beds[4].attending = Some("drkim".into());
        d.wards[1].beds.push(Bed {
            id: "bed-2a-01".into(),
            patient: PatientId::parse("p-2001").ok(),
            patient_identifiers: vec![],
            assigned_nurse: None,
            attending: Some("drlee".into()),
            care_team: vec![],
            sources: vec![],
        });
    })
    .await;
    s
}

#[tokio::test]
async fn a_doctor_sees_exactly_their_patients_across_two_wards() {
    let s = two_wards().await;
    // Bed 1 turns sad; Ana answers the alert as not actionable after a minute.
    feed(&s, 0, 30, 0.1).await;
    feed(&s, 0, 100, 0.9).await;
    let id = s.open_alert_of(0).await;
    s.advance(60 * SECOND);
    let ana = s.login("ana").await;
    let body = json!({ "actionable": false, "reason": "visitor upset, not patient" });
    assert_eq!(s.ack(&ana, id, body).await.0, 200);

    let lee = s.login("drlee").await;
    let v = s.get_ok("/api/doctor/patients?days=3", &lee).await;
    let mine: Vec<(&str, &str, &str)> = v["patients"]
        .as_array()
        .expect("patients")
        .iter()
        .map(|p| {
            (
                p["patient"].as_str().unwrap_or(""),
                p["ward"]["id"].as_str().unwrap_or(""),
                p["care"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        mine,
        [
            ("p-1001", "ward-4b", "attending"),
            ("p-1002", "ward-4b", "attending"),
            ("p-1003", "ward-4b", "attending"),
            ("p-1004", "ward-4b", "attending"),
            ("p-1005", "ward-4b", "team"),
            ("p-1008", "ward-4b", "attending"),
            ("p-2001", "ward-2a", "attending"),
        ]
    );
    // Bed 1's stay: today seen, the alert raised and how it was answered.
    let p1 = &v["patients"][0];
    let days = p1["stay"]["days"].as_array().expect("days");
    assert_eq!(days.len(), 3);
    let today = &days[2];
    assert!(today["seen_ms"].as_i64().unwrap_or(0) >= 120_000, "{today}");
    assert_eq!(today["alerts"]["raised"], 1, "{today}");
    assert_eq!(today["alerts"]["not_actionable"], 1, "{today}");
    let wait = today["alerts"]["median_minutes_to_acknowledge"].as_f64();
    assert!(wait.is_some_and(|m| (1.0..3.0).contains(&m)), "{today}");
    assert_eq!(
        p1["alerts"][0]["ack"]["reason"],
        "visitor upset, not patient"
    );
    assert_eq!(p1["attending"]["name"], "Dr Lee");
    assert_eq!(p1["nurse"]["name"], "Nurse Ana Costa");
    assert!(p1["assessment"]["score"].as_u64().is_some(), "{p1}");

    // Their patients' pages, stays and exports, in either ward; nothing else.
    for (path, want) in [
        ("/api/patients/p-2001/stay", 200),
        ("/api/patients/p-1005/stay?days=1", 200),
        ("/api/patients/p-1001", 200),
        ("/api/patients/p-2001/fhir", 200),
        ("/api/patients/p-1006", 403),
        ("/api/patients/p-1006/stay", 403),
        ("/api/patients/p-1006/fhir", 403),
        ("/api/wards/ward-4b", 403),
        ("/api/wards/ward-2a", 403),
        ("/api/alerts?ward=ward-4b", 403),
        ("/api/doctor/patients?doctor=drkim", 403),
        ("/api/doctor/patients?days=0", 400),
    ] {
        let (status, v) = s.json("GET", path, Some(&lee), None).await;
        assert_eq!(status, want, "{path}: {v}");
        if want == 403 && path.starts_with("/api/patients") {
            assert_eq!(v["error"], "patient 'p-1006' is not one of your patients");
        }
    }
    // Others: a nurse has no doctor's view; an admin names the doctor.
    let v = s
        .json_expect(403, "GET", "/api/doctor/patients", Some(&ana), None)
        .await;
    assert_eq!(
        v["error"],
        "the doctor's view needs the role doctor; you are nurse"
    );
    let admin = s.login("admin").await;
    let v = s
        .json_expect(400, "GET", "/api/doctor/patients", Some(&admin), None)
        .await;
    assert_eq!(v["error"], "doctor: name the doctor whose patients to show");
    let path = "/api/doctor/patients?doctor=drkim";
    let v = s.get_ok(path, &admin).await;
    assert_eq!(v["patients"][0]["patient"], "p-1005");
    assert_eq!(v["patients"].as_array().map(Vec::len), Some(1));
    let path = "/api/doctor/patients?doctor=ana";
    assert_eq!(s.json("GET", path, Some(&admin), None).await.0, 404);
    // Looking is audited.
    assert_eq!(s.audit_rows("view doctor's patients").await.len(), 2);
    s.stop().await;
}

/// `hours` of minutes of `patient` from `at`, face seen throughout at `negative`.
fn seen(patient: &PatientId, at: i64, hours: i64, negative: f64) -> Vec<WindowAggregate> {
    (0..hours * 60)
        .map(|m| {
            let s = at + m * 60 * SECOND;
            WindowAggregate::seen(
                patient.clone(),
                (s, s + 60 * SECOND),
                (60, 60),
                negative,
                40.0,
            )
        })
        .collect()
}

#[tokio::test]
async fn the_doctors_round_sends_a_rising_notice_and_a_digest_once_into_their_inbox() {
    let s = Server::start("sqlite::memory:", true).await;
    // Four days before: bed 1 rising every day, bed 2 steady.
    let day = 24 * 3600 * SECOND;
    let today = s.now() - s.now().rem_euclid(day);
    let mut batch = areya_store::Batch::default();
    for (d, rising) in [(4, 0.10), (3, 0.15), (2, 0.22), (1, 0.30)] {
        batch.windows.extend(seen(
            &patient(0),
            today - d * day + 9 * 3_600_000,
            2,
            rising,
        ));
        batch
            .windows
            .extend(seen(&patient(1), today - d * day + 9 * 3_600_000, 2, 0.12));
    }
    s.app.store.save(&batch).await.expect("save");

    // Before the digest hour (07:00, ward clock UTC): the rising notice only. (The server's
    // own ticker may run a round too: what lands in the inbox is the same.)
    assert!(
        s.now() - today < 7 * 3_600_000,
        "the test starts before 07:00"
    );
    let inbox = async || {
        areya_server::doctors::round_judging(&s.app, true)
            .await
            .expect("round");
        s.app
            .store
            .notices(Some("drlee"), 0)
            .await
            .expect("notices")
    };
    let got = inbox().await;
    let kinds: Vec<NoticeKind> = got.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, [NoticeKind::Rising]);
    assert_eq!(
        got[0].text,
        "bed-01 · p-1001: Negative share rising for 3 days: 10% → 30%."
    );
    // At 07:00 the digest; the rising notice is not sent again.
    s.advance(today + 7 * 3_600_000 - s.now());
    let got = inbox().await;
    let kinds: Vec<NoticeKind> = got.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, [NoticeKind::Digest, NoticeKind::Rising]);
    assert!(
        got[0].text.starts_with(
            "1 of your 6 patients needs a look (alerts since 24 h ago): bed-01 · p-1001: negative share rising for 3 days (10% → 30%)."
        ),
        "{}",
        got[0].text
    );
    // Later the same day (or after a restart): nothing twice.
    s.advance(30 * 60 * SECOND);
    assert_eq!(inbox().await.len(), 2);
    let rows = s.audit_rows("notify doctor").await;
    assert_eq!(rows.len(), 2, "{rows:?}");

    // The inbox: Dr Lee's two, waiting; acknowledged once (audited once).
    let lee = s.login("drlee").await;
    let v = s.get_ok("/api/doctor/notices", &lee).await;
    assert_eq!(v["waiting"], 2);
    assert_eq!(v["notices"][0]["kind"], "digest");
    let id = v["notices"][1]["id"].as_u64().expect("id");
    let ack = format!("/api/doctor/notices/{id}/ack");
    for _ in 0..2 {
        let n = s
            .json_expect(200, "POST", &ack, Some(&lee), Some(json!({})))
            .await;
        assert_eq!(n["ack"]["by"], "drlee");
    }
    assert_eq!(s.audit_rows("acknowledge notice").await.len(), 1);
    let (_, v) = s.json("GET", "/api/doctor/notices", Some(&lee), None).await;
    assert_eq!(v["waiting"], 1);
    // Nobody else's: a nurse cannot, another doctor's or no notice is not found.
    let ana = s.login("ana").await;
    assert_eq!(
        s.json("POST", &ack, Some(&ana), Some(json!({}))).await.0,
        403
    );
    assert_eq!(
        s.json("GET", "/api/doctor/notices", Some(&ana), None)
            .await
            .0,
        403
    );
    let none = "/api/doctor/notices/999999/ack";
    assert_eq!(
        s.json("POST", none, Some(&lee), Some(json!({}))).await.0,
        404
    );
    s.stop().await;
}

/// Above usual for hours: the round sends it once, not again while it lasts, and again only
/// after an hour back below (read by the hourly rounds, which look at those hours only).
#[tokio::test]
async fn a_persisting_notice_fires_once_and_again_only_after_an_hour_back_below() {
    // The patient's usual learned in 20 s of face (4 h on a ward).
    let s = Server::start_with("sqlite::memory:", true, T0, |st| {
        st.engine.state.baseline_ms = 20 * SECOND;
    })
    .await;
    feed(&s, 0, 30, 0.1).await;
    let p = patient(0);
    let learned = s.app.assessment(&p).await.expect("assessment");
    assert!(
        learned.as_ref().is_some_and(|a| a.baseline_learned),
        "{learned:?}"
    );
    let persisting = async || {
        s.app
            .store
            .notices(Some("drlee"), 0)
            .await
            .expect("notices")
            .into_iter()
            .filter(|n| n.kind == NoticeKind::Persisting && n.patient.as_ref() == Some(&p))
            .count()
    };
    // An hour of the patient at `negative`, then the hourly round.
    let hour = async |negative: f64| {
        let batch = areya_store::Batch {
            windows: seen(&p, s.now() + 60 * SECOND, 1, negative),
            ..areya_store::Batch::default()
        };
        s.app.store.save(&batch).await.expect("save");
        s.advance(3600 * SECOND);
        areya_server::doctors::round(&s.app).await.expect("round");
    };
    for _ in 0..4 {
        hour(0.6).await;
    }
    assert_eq!(persisting().await, 1, "four hours above usual");
    for _ in 0..3 {
        hour(0.6).await;
    }
    assert_eq!(persisting().await, 1, "still the same stretch: not again");
    hour(0.05).await;
    for _ in 0..3 {
        hour(0.6).await;
    }
    assert_eq!(persisting().await, 1, "three hours above after the dip");
    hour(0.6).await;
    assert_eq!(
        persisting().await,
        2,
        "four hours above after an hour below"
    );
    s.stop().await;
}

/// The demo's seeded week and its live readings share one usual: the ward's card (the live
/// assessment) and the doctor's page (the week's days) both name 12% for bed 1. Before, the
/// live state learned a usual of its own from the first live minutes, and a doctor read two.
#[tokio::test]
async fn the_demo_week_and_the_live_card_name_the_same_usual() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let store = SqliteStore::open(&url).await.expect("store");
    areya_server::demo::seed_history(&store, T0)
        .await
        .expect("seed the week");
    drop(store);
    let s = Server::start(&url, true).await;
    // Calm live readings for longer than the demo's 100 s of baseline learning.
    feed(&s, 0, 200, 0.3).await;
    let live = s.assessment_of(0).await;
    assert!(
        live.baseline_learned && (live.baseline - 0.12).abs() < 1e-9,
        "the card's usual is the week's: {live:?}"
    );
    let lee = s.login("drlee").await;
    let v = s.get_ok("/api/doctor/patients?days=3", &lee).await;
    let bed1 = v["patients"]
        .as_array()
        .expect("patients")
        .iter()
        .find(|p| p["patient"] == patient(0).as_str())
        .expect("bed 1 is Dr Lee's");
    let usual: Vec<f64> = bed1["stay"]["days"]
        .as_array()
        .expect("days")
        .iter()
        .filter_map(|d| d["baseline"].as_f64())
        .collect();
    assert!(
        !usual.is_empty() && usual.iter().all(|u| (u - 0.12).abs() < 1e-9),
        "the week's usual: {usual:?}"
    );
}
