//! Alerts only from what was seen, across restarts: an open alert, its escalation and the
//! patient's baseline come back exactly as they were, on SQLite and PostgreSQL.

use super::*;
use areya_monitor::alerts::{AlertKind, Recipient};

/// The sustained-negative alert of bed 0, if open.
async fn alert_of_bed0(s: &Server) -> Option<areya_monitor::alerts::Alert> {
    s.app
        .open_alerts()
        .await
        .expect("alerts")
        .into_iter()
        .find(|a| a.patient == patient(0) && a.kind == AlertKind::SustainedNegative)
}

/// Bed 0 calm long enough to learn its baseline, then sad until its alert has escalated to
/// the charge nurse; the server restarts; then bed 0 stays sad. Returns the servers' view
/// before and after.
async fn escalated_alert_survives_a_restart(
    first: Server,
    restart: impl AsyncFnOnce(i64) -> Server,
) {
    let s = first;
    feed(&s, 0, 110, 0.1).await;
    feed(&s, 0, 130, 0.9).await;
    let raised = alert_of_bed0(&s).await.expect("raised");
    feed(&s, 0, 130, 0.9).await;
    let before = alert_of_bed0(&s).await.expect("still open");
    assert_eq!(before.id, raised.id);
    assert_eq!(before.notified, Recipient::ChargeNurse, "{before:?}");
    let assessed = s.assessment_of(0).await;
    assert!(
        assessed.baseline_learned && assessed.baseline < 0.3,
        "{assessed:?}"
    );
    let t = s.now();
    s.stop().await;

    let s = restart(t).await;
    let after = alert_of_bed0(&s).await.expect("open after the restart");
    assert_eq!(after, before, "the alert is exactly as it was");
    let again = s.assessment_of(0).await;
    assert_eq!(
        (again.baseline, again.baseline_learned),
        (assessed.baseline, true),
        "the baseline is restored, not learned again"
    );
    // Only new readings decide: still sad, so still open, the same alert.
    feed(&s, 0, 60, 0.9).await;
    let later = alert_of_bed0(&s)
        .await
        .expect("still open after new sad minutes");
    assert_eq!(later.id, before.id);
    let now = s.assessment_of(0).await;
    assert!(now.score > 50, "the score still says so: {now:?}");
    s.stop().await;
}

#[tokio::test]
async fn a_restart_leaves_an_escalated_alert_and_the_baseline_as_they_were() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}", dir.path().join("areya.db").display());
    let first = Server::start(&url, true).await;
    escalated_alert_survives_a_restart(first, async |t| Server::start_at(&url, false, t).await)
        .await;
}

#[tokio::test]
async fn a_restart_leaves_an_escalated_alert_and_the_baseline_as_they_were_on_postgres() {
    let Some(url) = postgres_test_database_url().await else {
        return;
    };
    let first = Server::start_pg(&url, true, T0).await;
    escalated_alert_survives_a_restart(first, async |t| Server::start_pg(&url, false, t).await)
        .await;
}

#[tokio::test]
async fn a_patient_out_of_sight_turns_the_alert_to_cannot_assess_until_seen_again() {
    let s = Server::start("sqlite::memory:", true).await;
    let ana = s.login("ana").await;
    feed(&s, 0, 110, 0.1).await;
    feed(&s, 0, 80, 0.9).await;
    let id = alert_of_bed0(&s).await.expect("raised").id;
    let mut lines = live(&s, &ana).await;
    // Frames keep coming, but the patient has turned away: no face for 70 s.
    for _ in 0..70 {
        let (status, v) = s.ingest(&[obs(0, s.now(), None)], DEVICE).await;
        assert_eq!(status, 200, "{v}");
        s.advance(SECOND);
        s.app.tick().await.expect("tick");
    }
    let ev = next_event(&mut lines, "alert", |v| {
        v["event"]["event"] == "cannot_assess" && v["event"]["id"] == id
    })
    .await;
    assert!(ev["alert"]["blind_since_ms"].is_i64(), "{ev}");
    let list = s.get_ok("/api/alerts", &ana).await;
    let shown = list["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|x| &x["alert"])
        .find(|a| a["id"] == id)
        .expect("listed");
    assert!(shown["blind_since_ms"].is_i64(), "{shown}");
    let (_, bundle) = s
        .json("GET", "/api/patients/p-1001/fhir", Some(&ana), None)
        .await;
    let request = bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "CommunicationRequest" && r["status"] == "on-hold")
        .expect("the alert is on hold in the export");
    assert!(request["statusReason"]["text"]
        .as_str()
        .unwrap_or("")
        .contains("face not seen since"));
    // Still no escalation while nobody can see the patient.
    let before = alert_of_bed0(&s).await.expect("open");
    for _ in 0..300 {
        s.ingest(&[obs(0, s.now(), None)], DEVICE).await;
        s.advance(SECOND);
        s.app.tick().await.expect("tick");
    }
    let after = alert_of_bed0(&s).await.expect("open");
    assert_eq!(
        after.notified, before.notified,
        "no escalation while unseen"
    );
    // Back in view and calm: the alert resolves.
    feed(&s, 0, 60, 0.1).await;
    assert!(alert_of_bed0(&s).await.is_none(), "resolved once seen calm");
    s.stop().await;
}
