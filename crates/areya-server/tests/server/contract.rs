//! What Areya sends is what its documents say: every response of a full run through the API
//! (errors included) and every live event checked against the generated `/openapi.json` with a
//! JSON Schema validator, and the FHIR export parsed by the FHIR R4B resource models. The
//! validators are Python packages in the project's `.venv` (scripts/setup --test); without them
//! the test is skipped, unless `AREYA_REQUIRE_VALIDATORS` is set (CI sets it).

use super::*;

/// The venv's Python with the validators, or `None` (skipped) where they are missing.
fn validators() -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    let ok = std::process::Command::new(&python)
        .args(["-c", "import fhir.resources, jsonschema"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("AREYA_REQUIRE_VALIDATORS").is_none(),
            "AREYA_REQUIRE_VALIDATORS is set but {} cannot import fhir.resources and jsonschema \
             (scripts/setup --test installs them)",
            python.display()
        );
        eprintln!("skipped: the validators are not installed (scripts/setup --test)");
        return None;
    }
    Some(python)
}

fn validate(python: &std::path::Path, args: &[&std::path::Path], kind: &str) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/validate.py");
    let o = std::process::Command::new(python)
        .arg(script)
        .arg(kind)
        .args(args)
        .output()
        .expect("run the validator");
    assert!(
        o.status.success(),
        "{kind}:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

struct Recorder<'a> {
    s: &'a Server,
    samples: Vec<Value>,
}

impl Recorder<'_> {
    /// Sends a request and records its answer under the route `template`.
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        template: &str,
        cookie: Option<&str>,
        body: Option<Value>,
        want: u16,
    ) -> Value {
        let (status, v) = self.s.json(method, path, cookie, body).await;
        assert_eq!(status, want, "{method} {path}: {v}");
        self.samples.push(json!({
            "method": method, "path": template, "status": status, "body": v,
        }));
        v
    }
}

#[tokio::test]
async fn every_response_and_live_event_matches_the_documents() {
    let Some(python) = validators() else {
        return;
    };
    let s = Server::start("sqlite::memory:", true).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let mut r = Recorder {
        s: &s,
        samples: vec![],
    };
    r.call(
        "POST",
        "/api/login",
        "/api/login",
        None,
        Some(json!({ "user": "ana", "password": "wrong" })),
        401,
    )
    .await;
    let (ana_cookie, admin_cookie) = (s.login("ana").await, s.login("admin").await);
    let mut lines = live(&s, &ana_cookie).await;
    let (ana, admin) = (Some(ana_cookie.as_str()), Some(admin_cookie.as_str()));

    feed(&s, 0, 30, 0.1).await;
    feed(&s, 0, 100, 0.9).await;
    let id = s.open_alert_of(0).await;

    r.call("GET", "/healthz", "/healthz", None, None, 200).await;
    r.call("GET", "/api/me", "/api/me", ana, None, 200).await;
    r.call("GET", "/api/me", "/api/me", None, None, 401).await;
    r.call(
        "GET",
        "/api/wards/ward-4b",
        "/api/wards/{ward}",
        ana,
        None,
        200,
    )
    .await;
    r.call(
        "GET",
        "/api/wards/ward-2a",
        "/api/wards/{ward}",
        ana,
        None,
        403,
    )
    .await;
    r.call(
        "GET",
        "/api/wards/nowhere",
        "/api/wards/{ward}",
        admin,
        None,
        404,
    )
    .await;
    let kpi = "/api/wards/{ward}/kpi";
    r.call(
        "GET",
        "/api/wards/ward-4b/kpi?hours=24",
        kpi,
        ana,
        None,
        200,
    )
    .await;
    r.call("GET", "/api/wards/ward-4b/kpi?hours=0", kpi, ana, None, 400)
        .await;
    let page = "/api/patients/{id}";
    r.call("GET", "/api/patients/p-1001?hours=1", page, ana, None, 200)
        .await;
    r.call("GET", "/api/patients/bad%20id", page, ana, None, 400)
        .await;
    // The attending doctor's view of their patients' stays.
    let lee_cookie = s.login("drlee").await;
    let lee = Some(lee_cookie.as_str());
    let (mine, stay) = ("/api/doctor/patients", "/api/patients/{id}/stay");
    r.call("GET", "/api/doctor/patients?days=2", mine, lee, None, 200)
        .await;
    r.call("GET", "/api/doctor/patients", mine, ana, None, 403)
        .await;
    r.call("GET", "/api/patients/p-1001/stay", stay, lee, None, 200)
        .await;
    r.call("GET", "/api/patients/p-1006/stay", stay, lee, None, 403)
        .await;
    areya_server::doctors::round(&s.app).await.expect("round");
    let notices = "/api/doctor/notices";
    r.call("GET", notices, notices, lee, None, 200).await;
    r.call(
        "GET",
        "/api/doctor/notices?days=99",
        notices,
        lee,
        None,
        400,
    )
    .await;
    let read = "/api/doctor/notices/{id}/ack";
    r.call(
        "POST",
        "/api/doctor/notices/999/ack",
        read,
        lee,
        Some(json!({})),
        404,
    )
    .await;
    r.call(
        "POST",
        "/api/doctor/notices/1/ack",
        read,
        ana,
        Some(json!({})),
        403,
    )
    .await;
    r.call(
        "GET",
        "/api/alerts?ward=ward-4b",
        "/api/alerts",
        ana,
        None,
        200,
    )
    .await;
    let delivered = json!({ "ids": [id] });
    r.call(
        "POST",
        "/api/alerts/delivered",
        "/api/alerts/delivered",
        ana,
        Some(delivered),
        200,
    )
    .await;
    let snooze = "/api/alerts/{id}/snooze";
    r.call(
        "POST",
        &format!("/api/alerts/{id}/snooze"),
        snooze,
        ana,
        Some(json!({ "seconds": 60 })),
        200,
    )
    .await;
    // Acknowledging: no reason, not a clinician, done, an alert that is not open.
    let ack = "/api/alerts/{id}/ack";
    let path = format!("/api/alerts/{id}/ack");
    for (path, who, actionable, want) in [
        (path.as_str(), ana, false, 422),
        (path.as_str(), admin, true, 403),
        (path.as_str(), ana, true, 200),
        ("/api/alerts/999999/ack", ana, true, 404),
    ] {
        let body = json!({ "actionable": actionable });
        r.call("POST", path, ack, who, Some(body), want).await;
    }

    // Ingest, as an edge device.
    let body = json!({ "observations": [obs(1, s.now(), Some(0.2))] }).to_string();
    let auth = format!("Bearer {DEVICE}");
    let headers = [
        ("Content-Type", "application/json"),
        ("Authorization", auth.as_str()),
    ];
    let (status, _, text) = s.req("POST", "/api/ingest", &headers, Some(&body)).await;
    r.samples.push(json!({ "method": "POST", "path": "/api/ingest", "status": status, "body": serde_json::from_str::<Value>(&text).unwrap_or_default() }));
    let mut bad = serde_json::to_value(obs(1, s.now(), Some(0.2))).expect("json");
    bad["probs"]["angry"] = json!(0.9);
    let body = json!({ "observations": [bad] }).to_string();
    let (status, _, text) = s.req("POST", "/api/ingest", &headers, Some(&body)).await;
    assert_eq!(status, 422, "{text}");
    r.samples.push(json!({ "method": "POST", "path": "/api/ingest", "status": status, "body": serde_json::from_str::<Value>(&text).unwrap_or_default() }));

    // Configuration, as the admin.
    r.call("GET", "/api/rules", "/api/rules", admin, None, 200)
        .await;
    r.call(
        "PUT",
        "/api/rules",
        "/api/rules",
        admin,
        Some(json!({ "toml": DEMO_RULES })),
        200,
    )
    .await;
    r.call(
        "PUT",
        "/api/rules",
        "/api/rules",
        admin,
        Some(json!({ "toml": "[ward]\nmin_duration = 60\n" })),
        422,
    )
    .await;
    let dir = r
        .call(
            "GET",
            "/api/admin/directory",
            "/api/admin/directory",
            admin,
            None,
            200,
        )
        .await;
    // Saved at its version, then the same version again: a concurrent change.
    for want in [200, 409] {
        let body = json!({ "version": dir["version"], "directory": dir["directory"] });
        let d = "/api/admin/directory";
        r.call("PUT", d, d, admin, Some(body), want).await;
    }
    r.call(
        "PUT",
        "/api/admin/devices/edge-2",
        "/api/admin/devices/{id}",
        admin,
        Some(json!({ "ward": "ward-4b" })),
        200,
    )
    .await;
    let integ = "/api/admin/integrations/{id}";
    r.call(
        "PUT",
        "/api/admin/integrations/hie",
        integ,
        admin,
        Some(json!({ "name": "Interface engine", "wards": ["ward-4b"] })),
        200,
    )
    .await;
    // Revoked, then gone.
    for want in [200, 404] {
        let path = "/api/admin/integrations/hie";
        r.call("DELETE", path, integ, admin, None, want).await;
    }
    r.call(
        "PUT",
        "/api/admin/staff/ben/password",
        "/api/admin/staff/{id}/password",
        admin,
        Some(json!({ "password": "a new long password" })),
        200,
    )
    .await;
    r.call(
        "PUT",
        "/api/patients/p-1002/consent",
        "/api/patients/{id}/consent",
        admin,
        Some(json!({ "consent": "paused", "minutes": 30 })),
        200,
    )
    .await;
    r.call("GET", "/api/audit", "/api/audit", admin, None, 200)
        .await;
    let msgs = "/api/admin/deliveries";
    r.call("GET", msgs, msgs, admin, None, 200).await;
    r.call("GET", msgs, msgs, ana, None, 403).await;
    r.call("GET", "/api/audit", "/api/audit", ana, None, 403)
        .await;
    r.call(
        "POST",
        "/api/logout",
        "/api/logout",
        ana,
        Some(json!({})),
        200,
    )
    .await;

    // Every live event ana's dashboard heard meanwhile (a paused patient's consent last).
    let events = read_events(&mut lines, |name, _| name == "consent").await;
    assert!(events.len() >= 5, "{events:?}");
    let kinds: std::collections::BTreeSet<&str> = events.iter().map(|e| e.1.as_str()).collect();
    for k in ["score", "alert", "directory", "consent"] {
        assert!(kinds.contains(k), "{k} in {kinds:?}");
    }
    r.samples.extend(
        events
            .iter()
            .map(|(_, name, data)| json!({ "event": name, "data": data })),
    );

    let doc = tmp.path().join("openapi.json");
    let (status, _, text) = s.req("GET", "/openapi.json", &[], None).await;
    assert_eq!(status, 200);
    std::fs::write(&doc, text).expect("write");
    let samples = tmp.path().join("samples.json");
    std::fs::write(&samples, Value::Array(r.samples).to_string()).expect("write");
    validate(&python, &[&doc, &samples], "openapi");

    // The FHIR export, by the FHIR models.
    let admin2 = s.login("charge").await;
    let (status, _, bundle) = s
        .req(
            "GET",
            "/api/patients/p-1001/fhir?hours=1",
            &[("Cookie", &format!("areya_session={admin2}"))],
            None,
        )
        .await;
    assert_eq!(status, 200, "{bundle}");
    let file = tmp.path().join("bundle.json");
    std::fs::write(&file, bundle).expect("write");
    validate(&python, &[&file], "fhir");
    // The validator does fail: a resource with an element FHIR does not have.
    let mut broken: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("JSON");
    broken["entry"][2]["resource"]["mood"] = json!("sad");
    let bad = tmp.path().join("broken.json");
    std::fs::write(&bad, broken.to_string()).expect("write");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/validate.py");
    let o = std::process::Command::new(&python)
        .arg(script)
        .args(["fhir"])
        .arg(&bad)
        .output()
        .expect("run");
    assert!(!o.status.success(), "a broken Bundle must fail validation");
    s.stop().await;
}
