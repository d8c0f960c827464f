//! The server over real HTTP on port 0: authentication, roles and ward scoping, validation
//! errors, idempotent ingest, an alert raised by sustained sadness reaching a live-event
//! subscriber and being acknowledged, consent, and a restart that loses nothing stored.
//! Time comes from a manual clock, so minutes of ward time pass in milliseconds.

use areya_core::{
    FaceBox, Observation, ObservationWire, PatientId, Probabilities, RawProbabilities, SeenFace,
    SourceId,
};
use areya_monitor::SECOND;
use areya_server::demo::{demo_settings, DEMO_RULES};
use areya_server::setup::install_demo;
use areya_server::{App, Role};
use areya_store::{postgres_test_database_url, PgCluster, PgStore, SqliteStore, Store};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[path = "server/contract.rs"]
mod contract;
#[path = "server/doctor.rs"]
mod doctor;
#[path = "server/security.rs"]
mod security;
#[path = "server/sight.rs"]
mod sight;
#[path = "server/webhook.rs"]
mod webhook;
#[path = "server/words.rs"]
mod words;

const PASSWORD: &str = "correct horse battery";
const DEVICE: &str = "device-token-of-ward-4b";
const T0: i64 = 1_796_000_000_000;

struct Server {
    addr: SocketAddr,
    app: Arc<App>,
    clock: Arc<AtomicI64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(url: &str, fresh: bool) -> Server {
        Server::start_at(url, fresh, T0).await
    }

    async fn start_at(url: &str, fresh: bool, t: i64) -> Server {
        Server::start_with(url, fresh, t, |_| {}).await
    }

    /// The server on `url` again at ward time `t`, listening on `addr` (a restart, as a
    /// dashboard left open sees it).
    async fn restart_on(url: &str, t: i64, addr: SocketAddr) -> Server {
        let clock = Arc::new(AtomicI64::new(t));
        let c = clock.clone();
        let store = SqliteStore::open(url).await.expect("store");
        let mut settings = demo_settings("test".into());
        settings.live_recheck_ms = 200;
        let app = App::open(store, settings, Arc::new(move || c.load(Ordering::SeqCst)))
            .await
            .expect("app");
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the same address again");
        Server::serve_on(listener, app, clock, false).await
    }

    async fn start_with(
        url: &str,
        fresh: bool,
        t: i64,
        tweak: impl FnOnce(&mut areya_server::Settings),
    ) -> Server {
        let clock = Arc::new(AtomicI64::new(t));
        let c = clock.clone();
        let store = SqliteStore::open(url).await.expect("store");
        let mut settings = demo_settings("test".into());
        settings.live_recheck_ms = 200;
        settings.trust_forwarded_for = true;
        tweak(&mut settings);
        let app = App::open(store, settings, Arc::new(move || c.load(Ordering::SeqCst)))
            .await
            .expect("app");
        Server::serve(app, clock, fresh).await
    }
}

impl Server {
    /// A single server (no cluster) on the PostgreSQL database `url` at ward time `t`.
    async fn start_pg(url: &str, fresh: bool, t: i64) -> Self {
        let clock = Arc::new(AtomicI64::new(t));
        let c = clock.clone();
        let store = PgStore::open(url).await.expect("store");
        let app = App::open(
            store,
            demo_settings("test".into()),
            Arc::new(move || c.load(Ordering::SeqCst)),
        )
        .await
        .expect("app");
        Server::serve(app, clock, fresh).await
    }

    /// One of several servers on the PostgreSQL database `url`, all on the same `clock`.
    async fn start_cluster(url: &str, node: &str, clock: Arc<AtomicI64>, fresh: bool) -> Self {
        Self::start_cluster_with(url, node, clock, fresh, |_| {}).await
    }

    async fn start_cluster_with(
        url: &str,
        node: &str,
        clock: Arc<AtomicI64>,
        fresh: bool,
        tweak: impl FnOnce(&mut areya_server::Settings),
    ) -> Self {
        let c = clock.clone();
        let store = PgStore::open(url).await.expect("store");
        let cluster = PgCluster::new(&store, node);
        let mut settings = demo_settings("test".into());
        settings.live_recheck_ms = 200;
        settings.trust_forwarded_for = true;
        tweak(&mut settings);
        let app = App::open_cluster(
            store,
            cluster,
            settings,
            Arc::new(move || c.load(Ordering::SeqCst)),
        )
        .await
        .expect("app");
        Server::serve(app, clock, fresh).await
    }
}

impl Server {
    async fn serve(app: Arc<App>, clock: Arc<AtomicI64>, fresh: bool) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Server::serve_on(listener, app, clock, fresh).await
    }

    async fn serve_on(
        listener: tokio::net::TcpListener,
        app: Arc<App>,
        clock: Arc<AtomicI64>,
        fresh: bool,
    ) -> Self {
        if fresh {
            install_demo(&app, PASSWORD, DEVICE)
                .await
                .expect("demo ward");
            app.set_rules("test", DEMO_RULES).await.expect("rules");
        }
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(areya_server::serve(listener, app.clone(), async move {
            let _ = rx.await;
        }));
        Server {
            addr,
            app,
            clock,
            stop: Some(tx),
            task,
        }
    }

    fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.expect("join").expect("serve");
    }

    async fn req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> (u16, String, String) {
        let mut s = TcpStream::connect(self.addr).await.expect("connect");
        let mut r = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (k, v) in headers {
            r.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            r.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        r.push_str("\r\n");
        r.push_str(body.unwrap_or(""));
        // A server that refuses a large body may close before reading all of it.
        let _ = s.write_all(r.as_bytes()).await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        let text = String::from_utf8_lossy(&out).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        (status, head.to_string(), body)
    }

    async fn json(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let c = cookie.map(|c| format!("areya_session={c}"));
        let mut h = vec![("Content-Type", "application/json")];
        if let Some(c) = &c {
            h.push(("Cookie", c.as_str()));
        }
        let b = body.map(|b| b.to_string());
        let (status, _, text) = self.req(method, path, &h, b.as_deref()).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A login attempt: (status, body).
    async fn try_login(&self, user: &str, password: &str) -> (u16, Value) {
        let body = json!({ "user": user, "password": password });
        self.json("POST", "/api/login", None, Some(body)).await
    }

    /// A login attempt from client address `ip` (the test servers trust X-Forwarded-For).
    async fn try_login_from(&self, ip: &str, user: &str, password: &str) -> (u16, Value) {
        let body = json!({ "user": user, "password": password }).to_string();
        let (status, _, text) = self
            .req(
                "POST",
                "/api/login",
                &[
                    ("Content-Type", "application/json"),
                    ("X-Forwarded-For", ip),
                ],
                Some(&body),
            )
            .await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn login(&self, user: &str) -> String {
        let body = json!({ "user": user, "password": PASSWORD }).to_string();
        let (status, head, text) = self
            .req(
                "POST",
                "/api/login",
                &[("Content-Type", "application/json")],
                Some(&body),
            )
            .await;
        assert_eq!(status, 200, "login {user}: {text}");
        let cookie = head
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: areya_session="))
            .expect("session cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        cookie.split(';').next().unwrap_or_default().to_string()
    }

    /// Acknowledges alert `id` as `cookie`'s user with `body` ({"actionable", "reason"}).
    async fn ack(&self, cookie: &str, id: u64, body: Value) -> (u16, Value) {
        let path = format!("/api/alerts/{id}/ack");
        self.json("POST", &path, Some(cookie), Some(body)).await
    }

    async fn ingest(&self, obs: &[impl serde::Serialize], token: &str) -> (u16, Value) {
        let body = json!({ "observations": obs }).to_string();
        self.ingest_text(&body, token).await
    }

    /// Posts `body` as it is to the ingest endpoint with the device token `token`.
    async fn ingest_text(&self, body: &str, token: &str) -> (u16, Value) {
        let auth = format!("Bearer {token}");
        let (status, _, text) = self
            .req(
                "POST",
                "/api/ingest",
                &[
                    ("Content-Type", "application/json"),
                    ("Authorization", &auth),
                ],
                Some(body),
            )
            .await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn patient(i: usize) -> PatientId {
    areya_server::setup::demo_patient(i).expect("bed with a patient")
}

impl Server {
    /// Demo bed `i`'s current assessment (the card's).
    async fn assessment_of(&self, i: usize) -> areya_monitor::state::Assessment {
        self.app
            .assessment(&patient(i))
            .await
            .expect("read")
            .expect("assessed")
    }

    /// `GET path` as the user of `cookie`, answered 200.
    async fn get_ok(&self, path: &str, cookie: &str) -> Value {
        self.json_expect(200, "GET", path, Some(cookie), None).await
    }

    /// [`Server::json`] answered with `status`: the body.
    async fn json_expect(
        &self,
        status: u16,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let (got, v) = self.json(method, path, cookie, body).await;
        assert_eq!(got, status, "{method} {path}: {v}");
        v
    }

    /// The id of demo bed `i`'s open sustained-negative alert.
    async fn open_alert_of(&self, i: usize) -> u64 {
        self.app
            .open_alerts()
            .await
            .expect("open alerts")
            .iter()
            .find(|a| {
                a.patient == patient(i)
                    && a.kind == areya_monitor::alerts::AlertKind::SustainedNegative
            })
            .map(|a| a.id)
            .unwrap_or_else(|| panic!("bed {} has an open alert", i + 1))
    }
}

/// One observation of demo bed `i` at `at_ms` with the given negative share (None: no face).
fn obs(i: usize, at_ms: i64, negative: Option<f32>) -> Observation {
    Observation {
        source: areya_server::setup::demo_source(i),
        patient: patient(i),
        at_ms,
        frame: (at_ms / SECOND) as u64,
        face: negative.map(|n| {
            SeenFace::new(
                FaceBox::square(100, 80, 120, 4.0),
                Probabilities::new(n * 0.3, (1.0 - n) * 0.4, (1.0 - n) * 0.6, n * 0.7)
                    .expect("a distribution"),
            )
        }),
    }
}

/// `seconds` of one observation per second for bed `i`, each posted as it happens.
async fn feed(s: &Server, i: usize, seconds: i64, negative: f32) {
    for _ in 0..seconds {
        let (status, v) = s.ingest(&[obs(i, s.now(), Some(negative))], DEVICE).await;
        assert_eq!(status, 200, "{v}");
        s.advance(SECOND);
    }
    s.app.tick().await.expect("tick");
}

#[tokio::test]
async fn authentication_roles_and_ward_scoping() {
    let s = Server::start("sqlite::memory:", true).await;
    for path in [
        "/api/me",
        "/api/wards/ward-4b",
        "/api/alerts",
        "/api/audit",
        "/api/events",
    ] {
        let (status, v) = s.json("GET", path, None, None).await;
        assert_eq!(status, 401, "{path}: {v}");
        assert_eq!(v["error"], "log in first");
    }
    let (status, _) = s.try_login("ana", "wrong password").await;
    assert_eq!(status, 401);
    let (status, _) = s.try_login("nobody", PASSWORD).await;
    assert_eq!(status, 401);

    // Five wrong passwords for a name from one device lock that name on that device for
    // 15 minutes, even for the right password; Ben at his own workstation is not locked out.
    for _ in 0..5 {
        let (status, _) = s.try_login_from("10.1.0.1", "ben", "guess").await;
        assert_eq!(status, 401);
    }
    let (status, v) = s.try_login_from("10.1.0.1", "ben", PASSWORD).await;
    assert_eq!(status, 429, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or("")
            .contains("from this device: try again in 15 min"),
        "{v}"
    );
    let (status, v) = s.try_login_from("10.1.0.2", "ben", PASSWORD).await;
    assert_eq!(status, 200, "{v}");
    s.advance(15 * 60 * SECOND);
    let (status, v) = s.try_login_from("10.1.0.1", "ben", PASSWORD).await;
    assert_eq!(status, 200, "{v}");
    let ana = s.login("ana").await;
    let (status, me) = s.json("GET", "/api/me", Some(&ana), None).await;
    assert_eq!((status, me["role"].as_str()), (200, Some("nurse")));
    assert_eq!(
        me["wards"].as_array().map(|w| w.len()),
        Some(1),
        "a nurse sees only her ward"
    );
    let ward = s.get_ok("/api/wards/ward-4b", &ana).await;
    assert_eq!(ward["beds"].as_array().map(|b| b.len()), Some(12));
    let (status, v) = s.json("GET", "/api/wards/ward-2a", Some(&ana), None).await;
    assert_eq!(status, 403, "another ward: {v}");
    assert!(v["error"].as_str().unwrap_or("").contains("ward-2a"));
    for (method, path, body) in [
        ("GET", "/api/admin/directory", None),
        ("GET", "/api/audit", None),
        ("PUT", "/api/rules", Some(json!({ "toml": DEMO_RULES }))),
        (
            "PUT",
            "/api/patients/p-1001/consent",
            Some(json!({ "consent": "opted_out" })),
        ),
    ] {
        let (status, v) = s.json(method, path, Some(&ana), body).await;
        assert_eq!(status, 403, "nurse {method} {path}: {v}");
        assert!(v["error"].as_str().unwrap_or("").contains("admin"), "{v}");
    }

    let admin = s.login("admin").await;
    let d = s.get_ok("/api/admin/directory", &admin).await;
    assert!(
        d["directory"]["staff"]
            .as_array()
            .expect("staff")
            .iter()
            .all(|st| st.get("password_hash").is_none())
            && !d.to_string().contains("$argon2")
            && !d.to_string().contains("token_hash"),
        "hashes never leave the server: {d}"
    );
    let (status, v) = s.ack(&admin, 1, json!({ "actionable": true })).await;
    assert_eq!(
        status, 403,
        "admins configure, clinicians act on alerts: {v}"
    );

    // A state-changing request from another site's page is refused.
    let cookie = format!("areya_session={ana}");
    let (status, _, _) = s
        .req(
            "POST",
            "/api/logout",
            &[
                ("Cookie", &cookie),
                ("Origin", "https://evil.example"),
                ("Content-Type", "application/json"),
            ],
            Some("{}"),
        )
        .await;
    assert_eq!(status, 403);
    let _ = s
        .json_expect(200, "POST", "/api/logout", Some(&ana), Some(json!({})))
        .await;
    let (status, _) = s.json("GET", "/api/me", Some(&ana), None).await;
    assert_eq!(status, 401, "logged out");

    let audit = s.get_ok("/api/audit", &admin).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for want in ["login failed", "login", "logout", "login refused"] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
    s.stop().await;
}

/// (method, path, headers, body, expected status, text the answer must contain)
type BadRequestCase<'a> = (
    &'a str,
    &'a str,
    Vec<(&'a str, &'a str)>,
    String,
    u16,
    &'a str,
);

#[tokio::test]
async fn bad_requests_name_the_field() {
    let s = Server::start("sqlite::memory:", true).await;
    let charge = s.login("charge").await;
    let c = format!("areya_session={charge}");
    let cases: Vec<BadRequestCase> = vec![
        (
            "POST",
            "/api/alerts/1/ack",
            vec![("Content-Type", "application/json")],
            "{}".into(),
            422,
            "actionable",
        ),
        (
            "POST",
            "/api/alerts/1/ack",
            vec![("Content-Type", "application/json")],
            "{not json".into(),
            400,
            "not valid JSON",
        ),
        (
            "POST",
            "/api/alerts/1/ack",
            vec![("Content-Type", "text/plain")],
            "{}".into(),
            415,
            "application/json",
        ),
        (
            "POST",
            "/api/alerts/1/snooze",
            vec![("Content-Type", "application/json")],
            r#"{"seconds": "ten"}"#.into(),
            422,
            "seconds",
        ),
        (
            "POST",
            "/api/alerts/1/ack",
            vec![("Content-Type", "application/json")],
            "{\"actionable\":true}".into(),
            404,
            "alert 1",
        ),
        (
            "POST",
            "/api/alerts/1/ack",
            vec![("Content-Type", "application/json")],
            format!(
                "{{\"actionable\":true,\"reason\":\"{}\"}}",
                "x".repeat(2 << 20)
            ),
            413,
            "too large",
        ),
        (
            "GET",
            "/api/patients/bad%20id",
            vec![],
            String::new(),
            400,
            "invalid patient id",
        ),
        (
            "GET",
            "/api/patients/p-1001?hours=500",
            vec![],
            String::new(),
            400,
            "hours",
        ),
        (
            "GET",
            "/api/nothing-here",
            vec![],
            String::new(),
            404,
            "no such route",
        ),
        // The framework's own refusals answer the same JSON body.
        (
            "GET",
            "/api/patients/p-1001?hours=many",
            vec![],
            String::new(),
            400,
            "query string: ",
        ),
        (
            "POST",
            "/api/alerts/abc/ack",
            vec![("Content-Type", "application/json")],
            "{\"actionable\":true}".into(),
            400,
            "id: 'abc' is not a valid value",
        ),
        (
            "DELETE",
            "/api/alerts",
            vec![],
            String::new(),
            405,
            "DELETE is not allowed on /api/alerts",
        ),
    ];
    for (method, path, mut headers, body, want, needle) in cases {
        headers.push(("Cookie", &c));
        let b = (!body.is_empty()).then_some(body.as_str());
        let (status, _, text) = s.req(method, path, &headers, b).await;
        assert_eq!(
            status,
            want,
            "{method} {path}: {}",
            &text[..text.len().min(300)]
        );
        assert!(
            text.contains(needle),
            "{method} {path}: '{needle}' not in {}",
            &text[..text.len().min(300)]
        );
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(
            body["error"].is_string(),
            "{method} {path}: not the JSON error body: {}",
            &text[..text.len().min(300)]
        );
    }
    // Query parameters a route does not list are ignored, on every route alike.
    for path in [
        "/api/alerts?ward=ward-4b&_=1700000000",
        "/api/patients/p-1001?hours=1&_format=json",
        "/api/me?x=1",
    ] {
        let (status, _, text) = s.req("GET", path, &[("Cookie", &c)], None).await;
        assert_eq!(status, 200, "{path}: {}", &text[..text.len().min(300)]);
    }

    // Ingest: device tokens, and each observation checked.
    let good = obs(0, s.now(), Some(0.2));
    let (status, _) = s.ingest(std::slice::from_ref(&good), "not-a-device").await;
    assert_eq!(status, 401);
    // What a broken client may send, written as the wire carries it.
    let wire = || ObservationWire::from(good.clone());
    let mut bad_probs = wire();
    bad_probs.probs = Some(RawProbabilities {
        angry: 0.9,
        happy: 0.9,
        relaxed: 0.0,
        sad: 0.0,
    });
    let mut stranger = wire();
    stranger.patient = PatientId::parse("p-9999").expect("id");
    let mut wrong_source = wire();
    wrong_source.source = SourceId::parse("cam-07").expect("id");
    let mut face_no_probs = wire();
    face_no_probs.probs = None;
    for (o, want, needle) in [
        (bad_probs, 422, "observations[1].probs"),
        (stranger, 422, "'p-9999' is not in any bed"),
        (
            wrong_source,
            422,
            "'cam-07' feeds bed 'bed-07', not bed 'bed-01'",
        ),
        (face_no_probs, 422, "both or neither"),
    ] {
        let (status, v) = s.ingest(&[wire(), o], DEVICE).await;
        assert_eq!(status, want, "{v}");
        assert!(
            v["error"].as_str().unwrap_or("").contains(needle),
            "{needle}: {v}"
        );
    }
    let (_, v) = s.ingest(&[good], DEVICE).await;
    assert_eq!(
        v["accepted"], 1,
        "nothing of the refused batches was stored: {v}"
    );
    s.stop().await;
}

#[tokio::test]
async fn ingest_is_idempotent_and_consent_is_enforced() {
    let s = Server::start("sqlite::memory:", true).await;
    let batch: Vec<Observation> = (0..20)
        .map(|k| obs(1, s.now() + k * SECOND, Some(0.1)))
        .collect();
    let (status, v) = s.ingest(&batch, DEVICE).await;
    assert_eq!(
        (status, v["accepted"].as_u64(), v["duplicate"].as_u64()),
        (200, Some(20), Some(0)),
        "{v}"
    );
    let (_, v) = s.ingest(&batch[10..], DEVICE).await;
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicate"].as_u64()),
        (Some(0), Some(10)),
        "a retry stores nothing twice: {v}"
    );

    let admin = s.login("admin").await;
    let v = s
        .json_expect(
            422,
            "PUT",
            "/api/patients/p-1003/consent",
            Some(&admin),
            Some(json!({ "consent": "paused" })),
        )
        .await;
    assert!(v["error"].as_str().unwrap_or("").contains("minutes"));
    let _ = s
        .json_expect(
            200,
            "PUT",
            "/api/patients/p-1003/consent",
            Some(&admin),
            Some(json!({ "consent": "opted_out" })),
        )
        .await;
    let (_, v) = s.ingest(&[obs(2, s.now(), Some(0.9))], DEVICE).await;
    assert_eq!(v["refused"], 1, "{v}");
    let stored = s.app.store.observations_since(0).await.expect("read");
    assert!(
        stored.iter().all(|o| o.patient != patient(2)),
        "opted out: never stored"
    );

    let (_, _, metrics) = s.req("GET", "/metrics", &[], None).await;
    assert!(
        metrics.contains("areya_observations_ingested_total 20"),
        "{metrics}"
    );
    assert!(metrics.contains("areya_observations_duplicate_total 10"));
    assert!(metrics.contains("areya_observations_refused_total 1"));
    let (status, v) = s.json("GET", "/healthz", None, None).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("ok")));
    let v = s.json_expect(200, "GET", "/openapi.json", None, None).await;
    assert_eq!(v["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    for (path, _) in v["paths"].as_object().expect("paths") {
        assert!(path.starts_with('/'), "{path}");
    }
    s.stop().await;
}

/// Reads server-sent events until one named `name` whose data satisfies `want` arrives.
async fn next_event(
    lines: &mut tokio::io::Lines<BufReader<TcpStream>>,
    name: &str,
    want: impl Fn(&Value) -> bool,
) -> Value {
    let mut current = String::new();
    loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
            .await
            .expect("an event within 10 s")
            .expect("read")
            .expect("stream open");
        if let Some(e) = line.strip_prefix("event: ") {
            current = e.to_string();
        } else if let Some(d) = line.strip_prefix("data: ") {
            let v: Value = serde_json::from_str(d).expect("event JSON");
            if current == name && want(&v) {
                return v;
            }
        }
    }
}

#[tokio::test]
async fn sustained_sadness_alerts_live_and_is_acknowledged() {
    let s = Server::start("sqlite::memory:", true).await;
    let ana = s.login("ana").await;
    // A live subscriber, as the dashboard is.
    let mut sse = TcpStream::connect(s.addr).await.expect("connect");
    sse.write_all(
        format!(
            "GET /api/events HTTP/1.1\r\nHost: {}\r\nCookie: areya_session={ana}\r\n\r\n",
            s.addr
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let mut lines = BufReader::new(sse).lines();

    // 30 s calm, then sad for 100 s: 60 s minimum duration on 10 s windows.
    feed(&s, 0, 30, 0.1).await;
    feed(&s, 0, 100, 0.9).await;
    let raised = next_event(&mut lines, "alert", |v| {
        v["event"]["alert"]["kind"] == "sustained_negative"
    })
    .await;
    assert_eq!(raised["event"]["event"], "raised", "{raised}");
    let alert = &raised["event"]["alert"];
    assert_eq!(alert["patient"], "p-1001");
    assert_eq!(alert["kind"], "sustained_negative");
    assert_ne!(alert["priority"], "high");
    let id = alert["id"].as_u64().expect("id");

    let v = s.get_ok("/api/alerts?ward=ward-4b", &ana).await;
    assert_eq!(v["alerts"][0]["alert"]["id"], id);
    assert_eq!(v["alerts"][0]["bed"], "bed-01");
    // Reading changes nothing: a nurse's GET (or a stale tab, or an integration polling as
    // her) leaves the alert undelivered; the dashboard reports a card it has drawn.
    assert_eq!(v["alerts"][0]["alert"]["state"], "raised", "{v}");
    let again = s.app.open_alert(id).await.expect("open");
    assert_eq!(again.state, areya_monitor::alerts::AlertState::Raised);
    let admin = s.login("admin").await;
    let (status, v) = s
        .json(
            "POST",
            "/api/alerts/delivered",
            Some(&admin),
            Some(json!({ "ids": [id] })),
        )
        .await;
    assert_eq!(status, 403, "an admin is no clinician: {v}");
    let (status, v) = s
        .json(
            "POST",
            "/api/alerts/delivered",
            Some(&ana),
            Some(json!({ "ids": [id, 999_999] })),
        )
        .await;
    assert_eq!((status, &v["ids"]), (200, &json!([id])), "{v}");
    next_event(&mut lines, "alert", |v| {
        v["event"]["id"] == id && v["event"]["event"] == "delivered"
    })
    .await;

    // Not actionable needs a reason; then acknowledge.
    let (status, v) = s.ack(&ana, id, json!({ "actionable": false })).await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap_or("").contains("reason"));
    let (status, v) = s.ack(&ana, id, json!({ "actionable": true })).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["alert"]["state"], "acknowledged");
    assert_eq!(v["alert"]["ack"]["by"], "ana");
    let acked = next_event(&mut lines, "alert", |v| {
        v["event"]["id"] == id && v["event"]["event"] == "acknowledged"
    })
    .await;
    assert_eq!(acked["event"]["event"], "acknowledged", "{acked}");

    // The ward lists the bed first, the patient page shows the timeline, and it was audited.
    let (_, ward) = s.json("GET", "/api/wards/ward-4b", Some(&ana), None).await;
    assert_eq!(ward["beds"][0]["patient"], "p-1001", "ordered by attention");
    let page = s.get_ok("/api/patients/p-1001?hours=1", &ana).await;
    assert!(
        page["windows"].as_array().map_or(0, |w| w.len()) >= 12,
        "{}",
        page["windows"]
    );
    let events: Vec<&str> = page["alerts"][0]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(
        events,
        ["raised", "notified", "delivered", "acknowledged"],
        "shown in the nurse's inbox: delivered"
    );
    let (status, bundle) = s
        .json("GET", "/api/patients/p-1001/fhir", Some(&ana), None)
        .await;
    assert_eq!(
        (status, bundle["resourceType"].as_str()),
        (200, Some("Bundle"))
    );
    let admin = s.login("admin").await;
    let (_, audit) = s.json("GET", "/api/audit", Some(&admin), None).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for want in ["view patient", "acknowledge alert", "export fhir"] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }

    // The ward's KPI counts the acknowledgement.
    let kpi = s.get_ok("/api/wards/ward-4b/kpi", &ana).await;
    assert_eq!(
        (
            kpi["patient_alerts"].as_u64(),
            kpi["acknowledged"].as_u64(),
            kpi["actionable"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{kpi}"
    );
    assert_eq!(kpi["actionable_share"], 1.0);
    let _ = s
        .json_expect(403, "GET", "/api/wards/ward-2a/kpi", Some(&ana), None)
        .await;

    // Logging out ends the live stream too (the last chunk, "0", closes the response).
    let _ = s
        .json_expect(200, "POST", "/api/logout", Some(&ana), Some(json!({})))
        .await;
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim() == "0" {
                return true;
            }
        }
        true
    })
    .await;
    assert_eq!(ended.ok(), Some(true), "the stream ended after logout");
    let ana = s.login("ana").await;

    // Calm again: the alert resolves and leaves the inbox.
    feed(&s, 0, 200, 0.05).await;
    let (_, v) = s
        .json("GET", "/api/alerts?ward=ward-4b", Some(&ana), None)
        .await;
    assert!(
        v["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .all(|a| a["alert"]["id"] != id),
        "{v}"
    );
    s.stop().await;
}

#[tokio::test]
async fn escalation_reaches_the_charge_nurse_and_a_silent_camera_raises_a_technical_alert() {
    let s = Server::start("sqlite::memory:", true).await;
    // Calm while the baseline is learned (100 s in the demo settings), then sad.
    feed(&s, 0, 110, 0.1).await;
    feed(&s, 0, 130, 0.9).await;
    let open = s.app.open_alerts().await.expect("open alerts");
    let a = open
        .iter()
        .find(|a| a.patient == patient(0))
        .expect("raised");
    assert_eq!(a.notified, areya_monitor::alerts::Recipient::AssignedNurse);
    // Still sad and in view, nobody acknowledges for 2 minutes (demo escalation): the charge
    // nurse is notified.
    feed(&s, 0, 125, 0.9).await;
    let open = s.app.open_alerts().await.expect("open alerts");
    let a = open
        .iter()
        .find(|a| a.patient == patient(0))
        .expect("still open");
    assert_eq!(a.notified, areya_monitor::alerts::Recipient::ChargeNurse);
    assert!(a.escalated_unacknowledged(), "red on the dashboard");
    // Bed 2's camera never sent anything: after 30 s it is reported offline (technical).
    assert!(open.iter().any(
        |a| a.kind == areya_monitor::alerts::AlertKind::SourceOffline && a.patient == patient(1)
    ));
    s.stop().await;
}

#[tokio::test]
async fn a_restart_loses_nothing_stored() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}", dir.path().join("areya.db").display());
    let s = Server::start(&url, true).await;
    let batch: Vec<Observation> = (0..5)
        .map(|k| obs(3, s.now() + k * SECOND, Some(0.2)))
        .collect();
    s.ingest(&batch, DEVICE).await;
    feed(&s, 0, 110, 0.1).await;
    feed(&s, 0, 130, 0.9).await;
    let negative = |v: Vec<areya_monitor::alerts::Alert>| -> Vec<_> {
        v.into_iter()
            .filter(|a| a.kind == areya_monitor::alerts::AlertKind::SustainedNegative)
            .collect()
    };
    let before = negative(s.app.open_alerts().await.expect("open alerts"));
    assert_eq!(before.len(), 1, "{before:?}");
    let ana = s.login("ana").await;
    let id = before[0].id;
    let _ = s
        .json_expect(
            200,
            "POST",
            &format!("/api/alerts/{id}/ack"),
            Some(&ana),
            Some(json!({ "actionable": false, "reason": "watching a sad film" })),
        )
        .await;
    let recent: Vec<Observation> = (0..5)
        .map(|k| obs(3, s.now() - (5 - k) * SECOND, Some(0.2)))
        .collect();
    let (status, v) = s.ingest(&recent, DEVICE).await;
    assert_eq!((status, &v["accepted"]), (200, &json!(5)), "{v}");
    let t = s.now();
    let max_id = s.app.store.max_alert_id().await.expect("read");
    s.stop().await;

    let s = Server::start_at(&url, false, t).await;
    let after = negative(s.app.open_alerts().await.expect("open alerts"));
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, id);
    assert_eq!(
        after[0].ack.as_ref().map(|a| a.reason.clone()),
        Some(Some("watching a sad film".into())),
        "the acknowledgement survived"
    );
    let (status, _) = s.json("GET", "/api/me", Some(&ana), None).await;
    assert_eq!(status, 200, "sessions survive a restart");
    let (_, v) = s.ingest(&recent, DEVICE).await;
    assert_eq!(
        v["duplicate"], 5,
        "a retry after the restart stores nothing twice: {v}"
    );
    // The first batch is older than anything that can still be scored: refused, and the
    // edge drops it (it was stored long ago).
    let (status, v) = s.ingest(&batch, DEVICE).await;
    assert_eq!(
        (status, &v["field"]),
        (422, &json!("observations[0].at_ms")),
        "{v}"
    );
    feed(&s, 6, 110, 0.1).await;
    feed(&s, 6, 130, 0.9).await;
    let new = negative(s.app.open_alerts().await.expect("open alerts"));
    let fresh = new
        .iter()
        .find(|a| a.patient == patient(6))
        .expect("new alert");
    assert!(
        fresh.id > max_id,
        "numbering continues after the restart: {} vs {max_id}",
        fresh.id
    );
    s.stop().await;
}

#[tokio::test]
async fn a_failing_model_is_a_technical_alert_until_it_works_again() {
    let s = Server::start("sqlite::memory:", true).await;
    let post = |body: Value| {
        let s = &s;
        async move {
            let auth = format!("Bearer {DEVICE}");
            let (status, _, text) = s
                .req(
                    "POST",
                    "/api/ingest",
                    &[
                        ("Content-Type", "application/json"),
                        ("Authorization", &auth),
                    ],
                    Some(&body.to_string()),
                )
                .await;
            (status, text)
        }
    };
    let (status, text) = post(
        json!({ "health": [{ "patient": "p-1004", "model_error": "tensor shape mismatch" }] }),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let open = s.app.open_alerts().await.expect("open alerts");
    let a = open
        .iter()
        .find(|a| a.kind == areya_monitor::alerts::AlertKind::ModelError)
        .expect("model error alert");
    assert_eq!(a.patient, patient(3));
    assert_eq!(a.reason, "emotion model failed: tensor shape mismatch");
    // As data too, for a dashboard in another language.
    assert_eq!(
        a.said,
        Some(areya_monitor::state::Said::ModelFailed {
            error: "tensor shape mismatch".into()
        })
    );
    assert_ne!(
        a.priority,
        areya_monitor::rules::Priority::Medium,
        "technical alerts are low"
    );
    let (status, text) =
        post(json!({ "health": [{ "patient": "p-9999", "model_error": "x" }] })).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("health.patient"), "{text}");
    let (status, _) =
        post(json!({ "health": [{ "patient": "p-1004", "model_error": null }] })).await;
    assert_eq!(status, 200);
    assert!(
        s.app
            .open_alerts()
            .await
            .expect("open alerts")
            .iter()
            .all(|a| a.kind != areya_monitor::alerts::AlertKind::ModelError),
        "resolved once the model works again"
    );
    s.stop().await;
}

/// A bounded loopback load test: 20 edge agents, 5 beds each, post as fast as they can for
/// 2 s. Every observation the server answered 200 for is stored, exactly once. Request
/// latencies are reported (no timing assertion: this machine's speed varies).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_from_many_agents_loses_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}", dir.path().join("load.db").display());
    let s = Server::start(&url, false).await;
    let hash = areya_server::auth::hash_password(PASSWORD).expect("hash");
    s.app
        .set_registry(
            0,
            "test",
            areya_server::setup::large_ward(100, &hash, DEVICE),
        )
        .await
        .expect("directory");
    let s = Arc::new(s);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut agents = Vec::new();
    for a in 0..20usize {
        let s = s.clone();
        agents.push(tokio::spawn(async move {
            let (mut ok, mut lat) = (0u64, Vec::new());
            let mut frame = 0u64;
            while std::time::Instant::now() < deadline {
                frame += 1;
                let batch: Vec<Observation> = (0..5)
                    .map(|k| {
                        let bed = a * 5 + k;
                        let mut o = obs(0, T0 + frame as i64 * 100, Some(0.3));
                        o.patient = PatientId::parse(&format!("p-{:04}", 1001 + bed)).expect("id");
                        o.source = areya_server::setup::demo_source(bed);
                        o.frame = frame;
                        o
                    })
                    .collect();
                let t = std::time::Instant::now();
                let (status, v) = s.ingest(&batch, DEVICE).await;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(status, 200, "{v}");
                ok += v["accepted"].as_u64().unwrap_or(0);
            }
            (ok, lat)
        }));
    }
    let (mut accepted, mut lat) = (0u64, Vec::new());
    for a in agents {
        let (ok, l) = a.await.expect("agent");
        accepted += ok;
        lat.extend(l);
    }
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
    eprintln!(
        "load: {} requests, {accepted} observations accepted; latency p50 {:.1} ms, p99 {:.1} ms",
        lat.len(),
        q(0.5),
        q(0.99)
    );
    let stored = s.app.store.observations_since(0).await.expect("read");
    assert_eq!(
        stored.len() as u64,
        accepted,
        "every acknowledged observation is stored, once"
    );
    assert!(accepted >= 100, "the load test did run: {accepted}");
}

/// The dashboard in headless Chromium (Debian's chromium + chromium-driver, installed by CI):
/// a nurse logs in, an alert appears live, she acknowledges it and it leaves the inbox. Saves
/// a screenshot to `target/e2e-dashboard.png`. Skipped only when chromedriver is missing and
/// `AREYA_REQUIRE_BROWSER` is unset (CI sets it, so there it cannot be skipped).
mod browser {
    use super::*;
    use std::time::{Duration, Instant};

    struct Driver {
        port: u16,
        child: std::process::Child,
        session: String,
    }

    async fn call(port: u16, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("chromedriver");
        // WebDriver wants a JSON object with every POST, if only `{}`.
        let b = body.map(|b| b.to_string()).unwrap_or_else(|| {
            if method == "POST" {
                "{}".into()
            } else {
                String::new()
            }
        });
        let r = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        );
        s.write_all(r.as_bytes()).await.expect("write");
        // chromedriver may keep the connection open: read exactly Content-Length bytes.
        let mut reader = BufReader::new(s);
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.expect("read");
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).await.expect("body");
        serde_json::from_slice::<Value>(&body)
            .map(|v| v["value"].clone())
            .unwrap_or(Value::Null)
    }

    impl Driver {
        async fn start() -> Option<Driver> {
            let exe =
                std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
            if !std::path::Path::new(&exe).exists() {
                assert!(
                    std::env::var_os("AREYA_REQUIRE_BROWSER").is_none(),
                    "AREYA_REQUIRE_BROWSER is set but {exe} is missing"
                );
                eprintln!(
                    "skipped: {exe} is not installed (apt-get install chromium chromium-driver)"
                );
                return None;
            }
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .expect("port")
                .local_addr()
                .expect("addr")
                .port();
            let child = std::process::Command::new(exe)
                .arg(format!("--port={port}"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("chromedriver starts");
            let start = Instant::now();
            while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "chromedriver did not listen"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": {
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=1280,900"] } } } });
            let v = call(port, "POST", "/session", Some(caps)).await;
            let session = v["sessionId"]
                .as_str()
                .expect("a browser session")
                .to_string();
            Some(Driver {
                port,
                child,
                session,
            })
        }

        async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
            call(
                self.port,
                method,
                &format!("/session/{}{path}", self.session),
                body,
            )
            .await
        }

        async fn find(&self, css: &str) -> Vec<String> {
            let v = self
                .cmd(
                    "POST",
                    "/elements",
                    Some(json!({ "using": "css selector", "value": css })),
                )
                .await;
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_object()?.values().next()?.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        }

        /// Waits up to 15 s for `css` to match (or, with `present == false`, to stop matching).
        async fn wait(&self, css: &str, present: bool) -> Vec<String> {
            let start = Instant::now();
            loop {
                let found = self.find(css).await;
                if found.is_empty() != present {
                    return found;
                }
                if start.elapsed() > Duration::from_secs(15) {
                    let text = self
                        .cmd(
                            "POST",
                            "/execute/sync",
                            Some(json!({ "script": "return document.body.innerText", "args": [] })),
                        )
                        .await;
                    panic!("waited 15 s for '{css}' present={present}; the page says: {text}");
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        }

        /// Waits up to 15 s for the text of `css` to contain `want`.
        async fn wait_text(&self, css: &str, want: &str) {
            let start = Instant::now();
            let script = format!(
                "const e = document.querySelector({}); return e ? e.textContent : ''",
                json!(css)
            );
            loop {
                let text = self.exec(&script).await;
                if text.as_str().is_some_and(|t| t.contains(want)) {
                    return;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(15),
                    "waited 15 s for '{css}' to say '{want}'; it says {text}"
                );
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        }

        /// Runs `script` (a function body) in the page; returns what it returns.
        async fn exec(&self, script: &str) -> Value {
            self.cmd(
                "POST",
                "/execute/sync",
                Some(json!({ "script": script, "args": [] })),
            )
            .await
        }

        /// Clicks the first element matching `css` (waiting for it). A live update may
        /// replace the element between finding and clicking it (WebDriver then answers "stale
        /// element reference"), or something may still cover it: find it again and retry for
        /// up to 15 s, then fail naming WebDriver's error rather than go on as if clicked.
        async fn click(&self, css: &str) {
            let start = Instant::now();
            loop {
                let el = self.wait(css, true).await;
                let answer = self
                    .cmd("POST", &format!("/element/{}/click", el[0]), None)
                    .await;
                let Some(error) = answer.get("error") else {
                    return;
                };
                assert!(
                    start.elapsed() < Duration::from_secs(15),
                    "clicking '{css}' failed for 15 s: {error} {}",
                    answer["message"]
                );
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        }

        /// The beds on the page, in order.
        async fn bed_order(&self) -> Vec<String> {
            let v = self
                .exec("return [...document.querySelectorAll('#beds .bed')].map(e => e.dataset.key)")
                .await;
            serde_json::from_value(v).unwrap_or_default()
        }

        async fn quit(mut self) {
            self.cmd("DELETE", "", None).await;
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Opens the dashboard of `s` and types `user` and `password` into the login form.
    async fn fill_login(d: &Driver, s: &Server, user: &str, password: &str) {
        d.cmd(
            "POST",
            "/url",
            Some(json!({ "url": format!("http://{}/", s.addr) })),
        )
        .await;
        let field = d.wait("#login:not([hidden]) input[name=user]", true).await;
        d.cmd(
            "POST",
            &format!("/element/{}/value", field[0]),
            Some(json!({ "text": user })),
        )
        .await;
        let pw = d.find("input[name=password]").await;
        d.cmd(
            "POST",
            &format!("/element/{}/value", pw[0]),
            Some(json!({ "text": password })),
        )
        .await;
    }

    /// Opens the dashboard of `s` and logs in as Ana; returns once the ward is live.
    async fn log_in_as_ana(d: &Driver, s: &Server) {
        fill_login(d, s, "ana", PASSWORD).await;
        d.click("#login-form button").await;
        d.wait("#beds .bed", true).await;
        d.wait("#live.on", true).await;
    }

    /// Bed 1 turns sad until its alert is raised; returns the alert's id and its card's CSS
    /// selector once the card is on the open page.
    async fn alert_reaches_the_page(d: &Driver, s: &Server) -> (u64, String) {
        feed(s, 0, 30, 0.1).await;
        feed(s, 0, 100, 0.9).await;
        let id = s.open_alert_of(0).await;
        let card = format!("#inbox [data-alert=\"{id}\"]");
        d.wait(&card, true).await;
        (id, card)
    }

    async fn screenshot(d: &Driver, name: &str) {
        let png = d.cmd("GET", "/screenshot", None).await;
        let bytes = base64_decode(png.as_str().expect("screenshot"));
        assert_eq!(&bytes[1..4], b"PNG");
        let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target")
            .join(name);
        std::fs::write(&target, bytes).expect("write screenshot");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_nurse_sees_an_alert_arrive_live_and_acknowledges_it() {
        let Some(d) = Driver::start().await else {
            return;
        };
        let s = Server::start("sqlite::memory:", true).await;
        log_in_as_ana(&d, &s).await;
        // Ana allows notifications (the browser's permission prompt stands in for a stub that
        // records what would pop up).
        d.exec(
            "window.__notes = []; window.Notification = function (t, o) { window.__notes.push([t, o.body]); this.close = () => {}; }; \
             window.Notification.permission = 'granted'; window.Notification.requestPermission = async () => 'granted'; return 1",
        )
        .await;
        d.click("#notify").await;
        d.wait_text("#notify", "Notifications on").await;

        // A patient seen for seconds only: the usual is still being learned, and the card names
        // the usual the status is judged against meanwhile.
        feed(&s, 1, 20, 0.1).await;
        let bed2 = "#beds [data-key=\"bed-02\"]";
        d.wait_text(bed2, "(usual: still learning, 25% assumed)")
            .await;

        // Bed 1 turns sad; the alert must reach the open page by itself, and the page reports
        // it shown (delivered).
        let (id, card) = alert_reaches_the_page(&d, &s).await;
        // The bed's card names the span of its figures (the score's horizon, 3 min here), so its
        // share is not read against the alert's run as a contradiction.
        d.wait_text(
            "#beds [data-key=\"bed-01\"]",
            "last 3 min: mostly sad · negative",
        )
        .await;
        // It pops up as a notification too, for her bed.
        let notes = d.exec("return window.__notes").await;
        assert!(
            notes.as_array().is_some_and(|n| n.iter().any(|x| x[0]
                .as_str()
                .is_some_and(|t| t.contains("bed-01 · p-1001"))
                && x[1]
                    .as_str()
                    .is_some_and(|b| b.starts_with("Sustained negative emotion: negative ")))),
            "{notes}"
        );
        // The day's counts above the inbox agree with it without waiting for a full reload.
        d.wait_text("#kpi", "1 patient alert, 0 acknowledged").await;
        wait_until("the drawn card is reported delivered", async || {
            s.app
                .open_alert(id)
                .await
                .is_ok_and(|a| a.state == areya_monitor::alerts::AlertState::Delivered)
        })
        .await;
        let ack = d.wait(&format!("{card} button[data-act=ack]"), true).await;
        d.cmd("POST", &format!("/element/{}/click", ack[0]), None)
            .await;
        d.wait(&card, false).await;
        d.wait(&format!("#acked [data-alert=\"{id}\"]"), true).await;
        let open = s.app.open_alerts().await.expect("open alerts");
        let a = open.iter().find(|a| a.id == id).expect("open");
        assert_eq!(
            a.ack.as_ref().map(|k| (k.by.as_str(), k.actionable)),
            Some(("ana", true))
        );
        d.wait_text("#kpi", "1 patient alert, 1 acknowledged").await;

        screenshot(&d, "e2e-dashboard.png").await;
        d.quit().await;
        s.stop().await;
    }

    /// An open alert whose patient turns away: the card on the open page turns to "cannot
    /// assess" by itself (screenshot `target/e2e-cannot-assess.png`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_alert_turns_to_cannot_assess_on_the_open_page() {
        let Some(d) = Driver::start().await else {
            return;
        };
        let s = Server::start("sqlite::memory:", true).await;
        log_in_as_ana(&d, &s).await;
        let (_, card) = alert_reaches_the_page(&d, &s).await;
        for _ in 0..70 {
            s.ingest(&[obs(0, s.now(), None)], DEVICE).await;
            s.advance(SECOND);
            s.app.tick().await.expect("tick");
        }
        d.wait(&format!("{card}.blind"), true).await;
        let text = d
            .cmd(
                "POST",
                "/execute/sync",
                Some(json!({ "script": format!("return document.querySelector('{}').innerText", card.replace('\'', "\\'")), "args": [] })),
            )
            .await;
        let text = text.as_str().unwrap_or_default().to_lowercase();
        assert!(
            text.contains("cannot assess") && text.contains("face not seen since"),
            "{text}"
        );
        // The card itself (the inbox may scroll it out of the page's first screen).
        let el = d.find(&card).await;
        let png = d
            .cmd("GET", &format!("/element/{}/screenshot", el[0]), None)
            .await;
        let bytes = base64_decode(png.as_str().expect("screenshot"));
        let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/e2e-cannot-assess.png");
        std::fs::write(&target, bytes).expect("write screenshot");
        d.quit().await;
        s.stop().await;
    }

    /// Dr Lee logs in to their patients (beds 1–5 and 8, nobody else's), reads bed 1's week
    /// (negative share rising over the last days) and opens its printable page. Screenshots
    /// `target/e2e-doctor.png`, `target/e2e-stay.png` and `target/e2e-stay-phone.png`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_doctor_reads_their_patients_week() {
        let Some(d) = Driver::start().await else {
            return;
        };
        let s = Server::start("sqlite::memory:", true).await;
        // Five past days of bed 1: two hours of face a day, the negative share rising.
        let day = 24 * 3600 * SECOND;
        let mut batch = areya_store::Batch::default();
        for (n, negative) in [(5, 0.10), (4, 0.12), (3, 0.15), (2, 0.22), (1, 0.35)] {
            let start = s.now() - n * day;
            for m in 0..120 {
                let at = start + m * 60 * SECOND;
                batch
                    .windows
                    .push(areya_monitor::window::WindowAggregate::seen(
                        patient(0),
                        (at, at + 60 * SECOND),
                        (60, 60),
                        negative,
                        45.0,
                    ));
            }
        }
        s.app.store.save(&batch).await.expect("save the week");
        feed(&s, 0, 30, 0.1).await;
        feed(&s, 0, 100, 0.9).await;
        areya_server::doctors::round_judging(&s.app, true)
            .await
            .expect("the doctors' round");

        fill_login(&d, &s, "drlee", PASSWORD).await;
        d.click("#login-form button").await;
        d.wait("#doctor-patients .stay", true).await;
        let names = d
            .exec("return [...document.querySelectorAll('#doctor-patients .stay .name')].map(e => e.textContent.split(' · ')[0])")
            .await;
        assert_eq!(
            names,
            json!(["bed-01", "bed-02", "bed-03", "bed-04", "bed-05", "bed-08"])
        );
        d.wait_text(
            "#doctor-patients .stay .line",
            "Negative share rising for 4 days: 10% → 35%",
        )
        .await;
        // The rising notice waits in the inbox until read.
        d.wait_text(
            "#notice-list .notice .text",
            "bed-01 · p-1001: Negative share rising for 4 days",
        )
        .await;
        d.wait_text("#notice-count", "1").await;
        // Six rows a patient: five days and today.
        let rows = d
            .exec("return document.querySelectorAll('#doctor-patients .stay:first-child tbody tr').length")
            .await;
        assert_eq!(rows, json!(7), "a week, today included");
        screenshot(&d, "e2e-doctor.png").await;
        d.click("#notice-list button[data-act=read]").await;
        d.wait_text("#notice-count", "0").await;
        d.wait("#notice-read .notice", true).await;
        let read = s
            .app
            .store
            .notices(Some("drlee"), 0)
            .await
            .expect("notices");
        assert!(read.iter().all(|n| n.ack.is_some()), "{read:?}");

        d.click("#doctor-patients .stay").await;
        d.wait("#stay-days table.days", true).await;
        d.wait_text("#stay-people", "Attending: Dr Lee").await;
        d.wait_text("#stay-alerts", "not acknowledged yet").await;
        screenshot(&d, "e2e-stay.png").await;
        d.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": 390, "height": 844 })),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        screenshot(&d, "e2e-stay-phone.png").await;
        d.quit().await;
        s.stop().await;
    }

    /// Ana's and Dr Lee's dashboards in German (their language in the directory): none of the
    /// page's own words left in English on the ward, the patient page, the doctor's pages; dates
    /// and numbers in German. Screenshots `target/e2e-german.png`, `target/e2e-german-doctor.png`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_dashboard_speaks_german_when_chosen() {
        let Some(d) = Driver::start().await else {
            return;
        };
        let s = Server::start("sqlite::memory:", true).await;
        s.edit_directory(|dir| {
            for st in dir
                .staff
                .iter_mut()
                .filter(|st| ["ana", "drlee", "admin"].contains(&st.id.as_str()))
            {
                st.lang = Some("de".into());
            }
        })
        .await;
        // English as it would show: the page's own words, and the server's sentences (an
        // alert's reason, an assessment's, a stay's summary line), which the page writes from
        // their data. (Names — "Nurse Ana Costa", "Ward 4B — Internal medicine" — are data.)
        const ENGLISH: [&str; 44] = [
            "Log out",
            "My patients",
            "Whole ward",
            "needs attention",
            "escalated",
            "Acknowledge",
            "Not actionable",
            "Snooze",
            "Raised",
            "notified",
            "No camera",
            "camera ok",
            "acknowledged or snoozed",
            "last 24 h",
            "Alerts",
            "The patient cannot be watched",
            "cannot judge",
            "Assigned nurse",
            "attention score",
            "Notices",
            "Face seen",
            "Today",
            "Print",
            "min, mostly",
            "Negative share",
            "mostly",
            "usual",
            "face visible",
            "of the last",
            "alert",
            // The administrator's pages: the rule checker, the audit log, the messages.
            "is not an hour",
            "Not saved",
            "view ward",
            "view patient",
            "acknowledge",
            "login",
            "session",
            "from ",
            "notify doctor",
            "patient p-",
            "the gateway",
            "refused",
            "Messages",
            "Last error",
        ];
        let english_on_page = async || -> Vec<&str> {
            let text = d.exec("return document.body.innerText").await;
            let text = text.as_str().unwrap_or_default().to_string();
            ENGLISH
                .iter()
                .copied()
                .filter(|w| text.contains(w))
                .collect()
        };
        log_in_as_ana(&d, &s).await;
        let (_, card) = alert_reaches_the_page(&d, &s).await;
        d.wait_text(&format!("{card} button[data-act=ack]"), "Quittieren")
            .await;
        d.wait_text("#kpi", "Ganze Station, letzte 24 h: 1 Patientenalarm")
            .await;
        assert_eq!(english_on_page().await, Vec::<&str>::new(), "the ward view");
        // The longer German words keep the card's layout: the camera's state on one line and
        // the status words ("über dem Üblichen") beside the score, not wrapped under it — at a
        // width where the ward shows four narrow cards a row.
        d.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": 1400, "height": 900 })),
        )
        .await;
        let layout = d
            .exec(
                "const c = document.querySelector('#beds [data-key=\"bed-01\"]');
                 const cam = c.querySelector('.cam'), score = c.querySelector('.score');
                 const words = score.querySelector('small'), r = document.createRange();
                 r.selectNodeContents(score.firstChild);
                 const line = parseFloat(getComputedStyle(cam).fontSize) * 1.6;
                 return [cam.getBoundingClientRect().height <= line,
                         words.getBoundingClientRect().left >= r.getBoundingClientRect().right - 1,
                         words.innerText, c.getBoundingClientRect().width, window.innerWidth, cam.getBoundingClientRect().height]",
            )
            .await;
        assert_eq!(
            (&layout[0], &layout[1]),
            (&json!(true), &json!(true)),
            "camera on one line, words beside the score: {layout}"
        );
        screenshot(&d, "e2e-german.png").await;
        // (The card is redrawn as scores arrive: go by the address, as the card's click does.)
        d.exec("location.hash = 'patient/p-1001'; return 1").await;
        d.wait_text("#patient-nurse", "Zuständige Pflegekraft")
            .await;
        assert_eq!(
            english_on_page().await,
            Vec::<&str>::new(),
            "the patient page"
        );

        // Dr Lee: his week, with German dates ("Mo., 30. Nov.").
        let day = 24 * 3600 * SECOND;
        let mut batch = areya_store::Batch::default();
        for n in 1..=3 {
            let start = s.now() - n * day;
            batch.windows.extend((0..60).map(|m| {
                let at = start + m * 60 * SECOND;
                areya_monitor::window::WindowAggregate::seen(
                    patient(0),
                    (at, at + 60 * SECOND),
                    (60, 60),
                    0.2,
                    40.0,
                )
            }));
        }
        s.app.store.save(&batch).await.expect("save");
        d.click("#logout").await;
        fill_login(&d, &s, "drlee", PASSWORD).await;
        d.click("#login-form button").await;
        d.wait("#doctor-patients .stay", true).await;
        d.wait_text("#doctor-title", "Meine Patienten").await;
        let days = d
            .exec("return [...document.querySelectorAll('#doctor-patients .stay:first-child tbody td:first-child')].map(e => e.textContent)")
            .await;
        let days: Vec<String> = serde_json::from_value(days).unwrap_or_default();
        let german = ["Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."];
        assert!(
            days.iter()
                .skip(1)
                .all(|d| german.iter().any(|g| d.starts_with(g))),
            "German day names: {days:?}"
        );
        assert_eq!(days[0], "Heute (bisher)");
        assert_eq!(
            english_on_page().await,
            Vec::<&str>::new(),
            "the doctor's view"
        );
        // At 07:00 his digest: in German too.
        let day_start = s.now() - s.now().rem_euclid(day);
        s.advance(day_start + 7 * 3600 * SECOND - s.now());
        areya_server::doctors::round_judging(&s.app, true)
            .await
            .expect("the doctors' round");
        d.exec("location.reload(); return 1").await;
        d.wait_text("#notice-list .notice .text", "Ihrer 6 Patienten")
            .await;
        assert_eq!(english_on_page().await, Vec::<&str>::new(), "the digest");
        screenshot(&d, "e2e-german-doctor.png").await;

        // The administrator: a rule file's fault, the audit log, a message the gateway refused.
        let queued = areya_store::NewDelivery {
            key: "alert-1-notified-1".into(),
            created_ms: s.now(),
            ward: Some("ward-4b".into()),
            body: r#"{"type":"alert.notified"}"#.into(),
        };
        s.app.store.enqueue(&[queued]).await.expect("queue");
        let due = s.app.store.due_deliveries(s.now(), 10).await.expect("due");
        let dead = areya_store::DeliveryOutcome::Dead {
            attempts: 8,
            at_ms: s.now(),
            error: areya_core::Words::new("the gateway refused the connection"),
        };
        s.app
            .store
            .finish_delivery(due[0].id, &dead)
            .await
            .expect("dead");
        d.click("#logout").await;
        fill_login(&d, &s, "admin", PASSWORD).await;
        d.click("#login-form button").await;
        d.exec("location.hash = 'rules'; return 1").await;
        // The stored rules (or the defaults) have loaded before the text is replaced.
        for _ in 0..150 {
            let msg = d
                .exec("return document.getElementById('rules-msg').textContent")
                .await;
            if msg.as_str().is_some_and(|m| !m.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        d.exec(
            "document.getElementById('rules-text').value = '[doctor]\\ndigest_hour = 24'; return 1",
        )
        .await;
        d.click("#rules-save").await;
        d.wait_text(
            "#rules-msg",
            "doctor.digest_hour: 24 ist keine Stunde des Tages (0–23)",
        )
        .await;
        assert_eq!(english_on_page().await, Vec::<&str>::new(), "the rules");
        screenshot(&d, "e2e-german-rules.png").await;
        d.exec("location.hash = 'audit'; return 1").await;
        d.wait_text("#audit-rows", "Anmeldung").await;
        assert_eq!(english_on_page().await, Vec::<&str>::new(), "the audit log");
        let audit = d
            .exec("return document.getElementById('audit-rows').innerText")
            .await;
        let audit = audit.as_str().unwrap_or_default().to_string();
        for german in [
            "Station ansehen",
            "Ärztin/Arzt benachrichtigen",
            "Tägliche Übersicht",
            "Sitzung",
            "von 127.0.0.1",
        ] {
            assert!(
                audit.contains(german),
                "{german:?} in the audit log: {audit}"
            );
        }
        screenshot(&d, "e2e-german-audit.png").await;
        d.exec("location.hash = 'deliveries'; return 1").await;
        d.wait_text("#delivery-rows", "das Gateway lehnte die Verbindung ab")
            .await;
        assert_eq!(english_on_page().await, Vec::<&str>::new(), "messages");
        screenshot(&d, "e2e-german-admin.png").await;
        d.quit().await;
        s.stop().await;
    }

    /// A nurse has opened "Not actionable" and chosen a reason; live updates arrive (scores,
    /// another bed's alert, the inbox reloading): the box, the reason and the focus stay, and
    /// confirming records that reason. A phone-width screenshot goes to
    /// `target/e2e-phone.png`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_chosen_reason_survives_live_updates_and_is_recorded() {
        let Some(d) = Driver::start().await else {
            return;
        };
        let s = Server::start("sqlite::memory:", true).await;
        log_in_as_ana(&d, &s).await;
        let (id, card) = alert_reaches_the_page(&d, &s).await;
        d.click(&format!("{card} button[data-act=not-actionable]"))
            .await;
        let reason = "watching TV / talking";
        let chose = d
            .exec(&format!(
                "const s = document.querySelector('{card} .reasonbox select'); s.value = '{reason}'; s.focus(); return s.value"
            ))
            .await;
        assert_eq!(chose, reason);
        // Bed 1 stays sad in view (its alert escalates, so its card moves up the inbox); bed 2
        // turns sad until its own alert reaches the page.
        for k in 0..150 {
            let batch = [
                obs(0, s.now(), Some(0.9)),
                obs(1, s.now(), Some(if k < 30 { 0.1 } else { 0.9 })),
            ];
            s.ingest(&batch, DEVICE).await;
            s.advance(SECOND);
            if k % 10 == 0 {
                s.app.tick().await.expect("tick");
            }
        }
        s.app.tick().await.expect("tick");
        let second = s.open_alert_of(1).await;
        d.wait(&format!("#inbox [data-alert=\"{second}\"]"), true)
            .await;
        // Meanwhile bed 1's alert escalated.
        let first = s.app.open_alert(id).await.expect("open");
        assert_ne!(
            first.notified,
            areya_monitor::alerts::Recipient::AssignedNurse,
            "the card had a reason to move"
        );
        // Let the inbox's own reload (it delivers the new alert) land too.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let state = d
            .exec(&format!(
                "const c = document.querySelector('{card}'); const s = c.querySelector('.reasonbox select'); \
                 return [c.querySelector('.reasonbox').hidden, s.value, document.activeElement === s]"
            ))
            .await;
        assert_eq!(
            state,
            json!([false, reason, true]),
            "box open, reason kept, focus kept"
        );
        d.click(&format!("{card} button[data-act=confirm]")).await;
        d.wait(&format!("#acked [data-alert=\"{id}\"]"), true).await;
        let open = s.app.open_alerts().await.expect("open alerts");
        let a = open.iter().find(|a| a.id == id).expect("open");
        let ack = a.ack.as_ref().expect("acknowledged");
        assert_eq!(
            (ack.by.as_str(), ack.actionable, ack.reason.as_deref()),
            ("ana", false, Some(reason))
        );
        let text = d
            .exec(&format!(
                "return document.querySelector('#acked [data-alert=\"{id}\"]').innerText"
            ))
            .await;
        let text = text.as_str().unwrap_or_default();
        assert!(
            text.contains("Acknowledged by Nurse Ana Costa at ") && !text.contains("by ana"),
            "people by name: {text}"
        );

        // The patient's page: the alert with its history, and the timeline.
        d.exec("location.hash = 'patient/p-1001'; return 1").await;
        d.wait(&format!("#patient-alerts [data-alert=\"{id}\"]"), true)
            .await;
        let page = d
            .exec("return [document.getElementById('patient-alerts').innerText, document.querySelectorAll('#timeline svg text').length, document.getElementById('timeline').textContent]")
            .await;
        let history = page[0].as_str().unwrap_or_default();
        assert!(
            history.contains("raised")
                && history.contains("notified the assigned nurse")
                && history
                    .contains("marked not actionable by Nurse Ana Costa (watching TV / talking)"),
            "{history}"
        );
        assert!(page[1].as_u64().unwrap_or(0) >= 4, "timeline drawn: {page}");
        // Once the patient is calm again the alert is over, and its card on the page says so
        // in no colour that asks for action (it stayed yellow, "needs attention", before).
        feed(&s, 0, 120, 0.1).await;
        let card = format!("#patient-alerts [data-alert=\"{id}\"]");
        d.wait_text(&format!("{card} .tag"), "over").await;
        let look = d
            .exec(&format!(
                "const e = document.querySelector('{card}'); return [e.className, e.innerText]"
            ))
            .await;
        let class = look[0].as_str().unwrap_or_default();
        assert!(
            !class.contains("red") && !class.contains("yellow"),
            "an alert that is over: {look}"
        );
        assert!(
            look[1]
                .as_str()
                .unwrap_or_default()
                .contains("Nurse Ana Costa"),
            "its card still says who answered it: {look}"
        );
        screenshot(&d, "e2e-patient.png").await;

        d.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": 390, "height": 844 })),
        )
        .await;
        d.exec("location.hash = ''; return 1").await;
        d.wait("#beds .bed", true).await;
        d.exec("window.scrollTo(0, 0); return 1").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        screenshot(&d, "e2e-phone.png").await;
        d.quit().await;
        s.stop().await;
    }

    /// The server stops under an open dashboard: within 5 s a banner says so, every action is
    /// disabled and no browser dialog appears; when it is back the banner goes and the page is
    /// live again (screenshot `target/e2e-offline.png`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_outage_is_unmistakable_and_the_page_recovers() {
        let Some(d) = Driver::start().await else {
            return;
        };
        let dir = tempfile::tempdir().expect("tmp");
        let url = format!("sqlite://{}", dir.path().join("areya.db").display());
        let s = Server::start(&url, true).await;
        log_in_as_ana(&d, &s).await;
        let (_, card) = alert_reaches_the_page(&d, &s).await;
        let (addr, t) = (s.addr, s.now());
        s.stop().await;
        let stopped = Instant::now();
        d.wait("#offline:not([hidden])", true).await;
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "banner after {:?}",
            stopped.elapsed()
        );
        let banner = d
            .exec("return document.getElementById('offline').innerText")
            .await;
        assert!(
            banner
                .as_str()
                .unwrap_or_default()
                .contains("No connection to the Areya server since"),
            "{banner}"
        );
        let disabled = d
            .exec(&format!(
                "const b = [...document.querySelectorAll('{card} button')]; return [b.length, b.every(x => x.disabled)]"
            ))
            .await;
        assert_eq!(disabled, json!([4, true]), "actions disabled");
        // Clicking anyway does nothing, and never opens a browser dialog.
        d.exec(&format!(
            "document.querySelector('{card} button[data-act=ack]').click(); return 1"
        ))
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let dialog = d.cmd("GET", "/alert/text", None).await;
        assert_eq!(dialog["error"], "no such alert", "{dialog}");
        let body = d.exec("return document.body.innerText").await;
        assert!(
            !body
                .as_str()
                .unwrap_or_default()
                .contains("Failed to fetch"),
            "{body}"
        );
        screenshot(&d, "e2e-offline.png").await;

        let s = Server::restart_on(&url, t, addr).await;
        d.wait("#offline:not([hidden])", false).await;
        d.wait("#live.on", true).await;
        // The page is current and live: bed 3 turns sad and its alert arrives by itself.
        feed(&s, 2, 30, 0.1).await;
        feed(&s, 2, 100, 0.9).await;
        let id = s.open_alert_of(2).await;
        d.wait(&format!("#inbox [data-alert=\"{id}\"]"), true).await;
        let enabled = d
            .exec(&format!(
                "return [...document.querySelectorAll('{card} button')].every(x => !x.disabled)"
            ))
            .await;
        assert_eq!(enabled, json!(true), "actions work again");
        d.quit().await;
        s.stop().await;
    }

    /// A bed whose camera has gone silent shows "No camera since …", greyed, and never a score;
    /// beds keep their order while scores change (20 updates); a wrong password is told as such.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_silent_camera_shows_no_score_and_beds_keep_their_order() {
        let Some(d) = Driver::start().await else {
            return;
        };
        let s = Server::start("sqlite::memory:", true).await;
        fill_login(&d, &s, "ana", "wrong").await;
        let live = d
            .exec("return document.getElementById('live').hidden")
            .await;
        assert_eq!(
            live,
            json!(true),
            "no connection badge before anyone logs in"
        );
        d.click("#login-form button").await;
        d.wait("#login-error:not(:empty)", true).await;
        let said = d
            .exec("return document.getElementById('login-error').innerText")
            .await;
        assert_eq!(said, "Wrong user name or password.");
        log_in_as_ana(&d, &s).await;

        // Beds 1–4 seen; scores differ (beds 3 and 4 more negative, below the alert level).
        for i in 0..4 {
            feed(&s, i, 1, 0.1).await;
        }
        for _ in 0..120 {
            let batch: Vec<Observation> = (0..4)
                .map(|i| obs(i, s.now(), Some(if i < 2 { 0.1 } else { 0.5 })))
                .collect();
            s.ingest(&batch, DEVICE).await;
            s.advance(SECOND);
        }
        s.app.tick().await.expect("tick");
        d.wait("#beds [data-key=\"bed-02\"] .score", true).await;
        // Beds 5 and 6 never had a camera: their alerts pin them on top (a change of state).
        d.wait("#beds [data-key=\"bed-06\"].nocam .tag", true).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let order = d.bed_order().await;
        let seen: Vec<&String> = order
            .iter()
            .filter(|b| ["bed-01", "bed-02", "bed-03", "bed-04"].contains(&b.as_str()))
            .collect();
        assert_eq!(
            seen,
            ["bed-01", "bed-02", "bed-03", "bed-04"],
            "by bed: {order:?}"
        );
        assert_eq!(
            order[..2],
            ["bed-05", "bed-06"],
            "alerting beds pinned: {order:?}"
        );
        for k in 0..20 {
            for _ in 0..15 {
                let batch: Vec<Observation> = (0..4)
                    .map(|i| obs(i, s.now(), Some(if (i + k) % 3 == 0 { 0.55 } else { 0.1 })))
                    .collect();
                s.ingest(&batch, DEVICE).await;
                s.advance(SECOND);
            }
            s.app.tick().await.expect("tick");
            tokio::time::sleep(Duration::from_millis(250)).await;
            assert_eq!(d.bed_order().await, order, "update {k}");
        }

        // Bed 2's camera goes silent while the others go on: past the offline time its card
        // says so and shows no score.
        for _ in 0..40 {
            let batch: Vec<Observation> = [0, 2, 3]
                .iter()
                .map(|&i| obs(i, s.now(), Some(0.1)))
                .collect();
            s.ingest(&batch, DEVICE).await;
            s.advance(SECOND);
            s.app.tick().await.expect("tick");
        }
        let bed2 = "#beds [data-key=\"bed-02\"]";
        d.wait(&format!("{bed2}.nocam"), true).await;
        let card = d
            .exec(&format!("const c = document.querySelector('{bed2}'); return [c.querySelector('.score') === null, c.innerText]"))
            .await;
        let text = card[1].as_str().unwrap_or_default();
        assert_eq!(
            card[0],
            json!(true),
            "no score on a silent camera's card: {text}"
        );
        assert!(
            text.contains("No camera since") && !text.contains("face visible"),
            "{text}"
        );
        // Its patient's timeline names the gap.
        d.exec("location.hash = 'patient/p-1002'; return 1").await;
        d.wait("#timeline svg", true).await;
        let chart = d
            .exec("return document.getElementById('timeline').textContent")
            .await;
        assert!(
            chart
                .as_str()
                .unwrap_or_default()
                .contains("camera offline"),
            "gap labelled: {chart}"
        );
        d.quit().await;
        s.stop().await;
    }

    fn base64_decode(s: &str) -> Vec<u8> {
        let val = |c: u8| match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        };
        let digits: Vec<u8> = s.bytes().filter_map(val).collect();
        digits
            .chunks(4)
            .flat_map(|c| {
                let n = c.iter().fold(0u32, |n, &d| n << 6 | u32::from(d)) << (6 * (4 - c.len()));
                let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
                bytes.into_iter().take(c.len().saturating_sub(1))
            })
            .collect()
    }
}

/// A live-event subscriber on `s`, as the dashboard is.
async fn live(s: &Server, cookie: &str) -> tokio::io::Lines<BufReader<TcpStream>> {
    live_from(s, cookie, None).await
}

/// A live-event subscriber that resumes after the event `last` (`Last-Event-ID`).
async fn live_from(
    s: &Server,
    cookie: &str,
    last: Option<&str>,
) -> tokio::io::Lines<BufReader<TcpStream>> {
    let mut sse = TcpStream::connect(s.addr).await.expect("connect");
    let resume = last.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
    sse.write_all(
        format!(
            "GET /api/events HTTP/1.1\r\nHost: {}\r\nCookie: areya_session={cookie}\r\n{resume}\r\n",
            s.addr
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    BufReader::new(sse).lines()
}

/// Server-sent events read from `lines` as (id, name, data), heartbeats left out, up to and
/// including the first for which `until` holds (15 s at most).
async fn read_events(
    lines: &mut tokio::io::Lines<BufReader<TcpStream>>,
    mut until: impl FnMut(&str, &Value) -> bool,
) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    let (mut id, mut name) = (String::new(), String::new());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = tokio::time::timeout(left, lines.next_line())
            .await
            .expect("the event within 15 s")
            .expect("read")
            .expect("the stream stays open");
        if let Some(v) = line.strip_prefix("id: ") {
            id = v.to_string();
        } else if let Some(v) = line.strip_prefix("event: ") {
            name = v.to_string();
        } else if let Some(d) = line.strip_prefix("data: ") {
            let data: Value = serde_json::from_str(d).expect("event JSON");
            let (i, n) = (std::mem::take(&mut id), std::mem::take(&mut name));
            if n == "heartbeat" {
                continue;
            }
            let stop = until(&n, &data);
            out.push((i, n, data));
            if stop {
                return out;
            }
        }
    }
}

/// What a hospital's integration engine sees: the export answers as FHIR, honours `_format`
/// and Accept, links the hospital's patient (MRN) and resolves every reference and code inside
/// the Bundle; `/fhir/metadata` and Areya's CodeSystem are published.
#[tokio::test]
async fn the_fhir_export_is_fhir_an_engine_can_file() {
    let s = Server::start("sqlite::memory:", true).await;
    feed(&s, 0, 30, 0.1).await;
    feed(&s, 0, 100, 0.9).await;
    let ana = s.login("ana").await;
    let c = format!("areya_session={ana}");
    let path = "/api/patients/p-1001/fhir?hours=1";
    let (status, head, body) = s.req("GET", path, &[("Cookie", &c)], None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/fhir+json; fhirversion=4.0"),
        "{head}"
    );
    let b: Value = serde_json::from_str(&body).expect("JSON");
    if let Some(out) = std::env::var_os("AREYA_FHIR_OUT") {
        std::fs::write(out, &body).expect("write");
    }
    let entries = b["entry"].as_array().expect("entries");
    let patient = &entries[0];
    assert_eq!(patient["resource"]["resourceType"], "Patient");
    let mrn = patient["resource"]["identifier"]
        .as_array()
        .expect("identifiers")
        .iter()
        .find(|i| i["type"]["coding"][0]["code"] == "MR")
        .expect("the hospital's MRN");
    assert_eq!(mrn["system"], areya_server::setup::DEMO_MRN_SYSTEM);
    assert_eq!(mrn["value"], "MRN-004200");
    let urls: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["fullUrl"].as_str())
        .collect();
    let text = body.as_str();
    for r in text.split("\"reference\":\"").skip(1) {
        let r = r.split('"').next().unwrap_or_default();
        assert!(urls.contains(&r), "{r} does not resolve in the Bundle");
    }
    assert!(
        !text.contains("Patient/p-1001"),
        "no reference outside the Bundle"
    );
    assert!(
        text.contains("\"sustained_negative\"") && !text.contains("sustainednegative"),
        "kinds spelled as the API spells them"
    );
    // The day of the stay, as the doctor's view sums it up.
    let day = entries
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["code"]["coding"][1]["code"] == "emotion-day")
        .expect("the day's Observation");
    let part = |c: &str| {
        day["component"]
            .as_array()
            .and_then(|v| v.iter().find(|x| x["code"]["coding"][0]["code"] == c))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(part("alerts-raised")["valueInteger"], 1, "{day}");
    assert!(part("face-seen-time")["valueQuantity"]["value"].as_f64() >= Some(2.0));
    // _format and Accept: JSON in any of its names; anything else is a JSON 406.
    for (q, accept, want) in [
        ("&_format=json", None, 200),
        ("&_format=application/fhir%2Bjson", None, 200),
        ("&_format=xml", None, 406),
        ("", Some("application/fhir+json"), 200),
        ("", Some("application/json, text/plain"), 200),
        ("", Some("*/*"), 200),
        ("", Some("application/fhir+xml"), 406),
        ("&_format=json", Some("application/fhir+xml"), 200),
    ] {
        let mut h = vec![("Cookie", c.as_str())];
        if let Some(a) = accept {
            h.push(("Accept", a));
        }
        let (status, _, body) = s.req("GET", &format!("{path}{q}"), &h, None).await;
        assert_eq!(status, want, "{q} {accept:?}: {body}");
        if want == 406 {
            let v: Value = serde_json::from_str(&body).expect("the JSON error body");
            assert!(
                v["error"].as_str().unwrap_or("").contains("not offered"),
                "{v}"
            );
        }
    }
    // Published without a login: what is offered, and Areya's codes.
    let (status, head, body) = s.req("GET", "/fhir/metadata", &[], None).await;
    assert_eq!(status, 200, "{body}");
    assert!(head.to_ascii_lowercase().contains("application/fhir+json"));
    let cap: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        (cap["resourceType"].as_str(), cap["fhirVersion"].as_str()),
        (Some("CapabilityStatement"), Some("4.0.1"))
    );
    let (status, _, body) = s.req("GET", "/fhir/CodeSystem/areya", &[], None).await;
    assert_eq!(status, 200, "{body}");
    let cs: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(cs["url"], areya_monitor::fhir::CODE_SYSTEM);
    let known: Vec<&str> = cs["concept"]
        .as_array()
        .expect("concepts")
        .iter()
        .filter_map(|c| c["code"].as_str())
        .collect();
    for k in [
        "sustained_negative",
        "source_offline",
        "attention-score",
        "negative-share",
    ] {
        assert!(known.contains(&k), "{k}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_consumer_that_reconnects_with_last_event_id_gets_what_it_missed() {
    let s = Server::start("sqlite::memory:", true).await;
    let ana = s.login("ana").await;
    let mut control = live(&s, &ana).await;
    let mut consumer = live(&s, &ana).await;
    feed(&s, 0, 30, 0.1).await;
    let got = read_events(&mut consumer, |name, _| name == "score").await;
    let last_id = got.last().map(|e| e.0.clone()).expect("an event");
    assert!(!last_id.is_empty(), "every event has an id: {got:?}");
    drop(consumer);

    // Away for a while: bed 1 turns sad and its alert is raised.
    feed(&s, 0, 100, 0.9).await;
    let raised = |name: &str, v: &Value| name == "alert" && v["event"]["event"] == "raised";
    let all = read_events(&mut control, raised).await;
    let at = all
        .iter()
        .position(|e| e.0 == last_id)
        .expect("the stream that stayed saw it");
    let missed: Vec<&str> = all[at + 1..].iter().map(|e| e.0.as_str()).collect();
    assert!(missed.len() >= 3, "scores and the alert: {missed:?}");

    let mut resumed = live_from(&s, &ana, Some(&last_id)).await;
    let replayed = read_events(&mut resumed, raised).await;
    let ids: Vec<&str> = replayed.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(ids, missed, "every event it missed, in order, once");

    // An id this server never gave (another server's, an earlier run's): reload first.
    let mut stale = live_from(&s, &ana, Some("ffff-1")).await;
    let first = read_events(&mut stale, |_, _| true).await;
    assert_eq!(first[0].1, "resync", "{first:?}");
    s.stop().await;
}

/// Like [`feed`], posting to `post` while `leader` runs the engine. After each post the leader
/// takes its step at once (what the notification does a moment later anyway), so ward time
/// and processing stay in step.
async fn feed_via(post: &Server, leader: &Server, i: usize, seconds: i64, negative: f32) {
    for _ in 0..seconds {
        let (status, v) = post
            .ingest(&[obs(i, post.now(), Some(negative))], DEVICE)
            .await;
        assert_eq!((status, v["accepted"].as_u64()), (200, Some(1)), "{v}");
        leader.app.cluster_step().await;
        post.advance(SECOND);
    }
    leader.app.tick().await.expect("tick");
}

async fn wait_until(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !cond().await {
        assert!(std::time::Instant::now() < deadline, "{what} within 15 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_sharing_one_postgres_act_as_one_ward_and_fail_over() {
    use areya_monitor::alerts::AlertState;
    let Some(url) = postgres_test_database_url().await else {
        return;
    };
    let clock = Arc::new(AtomicI64::new(T0));
    let a = Server::start_cluster(&url, "a", clock.clone(), true).await;
    let b = Server::start_cluster(&url, "b", clock.clone(), false).await;
    assert_eq!((a.app.role(), b.app.role()), (Role::Leader, Role::Follower));
    let (_, health) = b.json("GET", "/healthz", None, None).await;
    assert_eq!(health["role"], "follower", "{health}");
    let (_, _, metrics) = b.req("GET", "/metrics", &[], None).await;
    assert!(metrics.contains("areya_engine_leader 0"), "{metrics}");

    // The nurse's dashboard is on B and the bed's agent posts to B; A runs the engine.
    let ana = b.login("ana").await;
    let mut lines = live(&b, &ana).await;
    feed_via(&b, &a, 0, 30, 0.1).await;
    feed_via(&b, &a, 0, 100, 0.9).await;
    let raised = next_event(&mut lines, "alert", |v| {
        v["event"]["event"] == "raised" && v["event"]["alert"]["kind"] == "sustained_negative"
    })
    .await;
    let id = raised["event"]["alert"]["id"].as_u64().expect("id");
    assert_eq!(raised["event"]["alert"]["patient"], "p-1001");

    // B's inbox comes from the database; reading it changes nothing, and the dashboard's
    // report that it showed the alert marks it delivered on A.
    let v = b.get_ok("/api/alerts?ward=ward-4b", &ana).await;
    assert_eq!(v["alerts"][0]["alert"]["id"], id, "{v}");
    let on_a = a.app.open_alert(id).await.expect("open on the leader");
    assert_eq!(on_a.state, AlertState::Raised);
    let (status, v) = b
        .json(
            "POST",
            "/api/alerts/delivered",
            Some(&ana),
            Some(json!({ "ids": [id] })),
        )
        .await;
    assert_eq!((status, &v["ids"]), (200, &json!([id])), "{v}");
    let on_a = a.app.open_alert(id).await.expect("open on the leader");
    assert_eq!(on_a.state, AlertState::Delivered);

    // Acknowledging on B is done by A: its refusal and its answer come back through B.
    let (status, v) = b.ack(&ana, id, json!({ "actionable": false })).await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap_or("").contains("reason"), "{v}");
    let (status, v) = b.ack(&ana, id, json!({ "actionable": true })).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["alert"]["state"], "acknowledged", "{v}");
    assert_eq!(v["alert"]["ack"]["by"], "ana", "{v}");
    next_event(&mut lines, "alert", |v| {
        v["event"]["id"] == id && v["event"]["event"] == "acknowledged"
    })
    .await;
    let on_a = a.app.open_alert(id).await.expect("open on the leader");
    assert_eq!(on_a.state, AlertState::Acknowledged);

    // Consent set on B reaches A's engine; B refuses the paused patient's frames.
    let admin = b.login("admin").await;
    b.json_expect(
        200,
        "PUT",
        "/api/patients/p-1002/consent",
        Some(&admin),
        Some(json!({ "consent": "paused", "minutes": 30 })),
    )
    .await;
    assert!(!a
        .app
        .consent(&patient(1))
        .await
        .expect("consent")
        .allows(a.now()));
    let (_, v) = b.ingest(&[obs(1, b.now(), Some(0.9))], DEVICE).await;
    assert_eq!(v["refused"], 1, "{v}");
    // B's ward view, read from the database, matches A's from its engine.
    let on_b = b.get_ok("/api/wards/ward-4b", &ana).await;
    let ana_a = a.login("ana").await;
    let (_, on_a) = a
        .json("GET", "/api/wards/ward-4b", Some(&ana_a), None)
        .await;
    let first = &on_b["beds"][0];
    assert_eq!(first["patient"], "p-1001", "ordered by attention: {on_b}");
    assert_eq!(first["alerts"][0]["id"], id, "{first}");
    assert!(
        first["assessment"]["score"].as_u64().unwrap_or(0) > 0,
        "{first}"
    );
    assert_eq!(first["camera"]["online"], true, "{first}");
    let paused = on_b["beds"]
        .as_array()
        .expect("beds")
        .iter()
        .find(|b| b["patient"] == "p-1002")
        .expect("bed of p-1002");
    assert_eq!(paused["consent"]["consent"], "paused", "{paused}");
    for (x, y) in on_a["beds"]
        .as_array()
        .expect("beds")
        .iter()
        .zip(on_b["beds"].as_array().expect("beds"))
    {
        assert_eq!(x["patient"], y["patient"], "same order on both servers");
        assert_eq!(x["consent"], y["consent"]);
        assert_eq!(
            x["assessment"]["score"], y["assessment"]["score"],
            "{x} vs {y}"
        );
    }
    // A rule change made on B is stored and applied by A; its time zone reaches both ward
    // views (the dashboard's clock).
    let zoned = format!("time_zone = \"Europe/Berlin\"\n{DEMO_RULES}");
    let v = b
        .json_expect(
            200,
            "PUT",
            "/api/rules",
            Some(&admin),
            Some(json!({ "toml": zoned })),
        )
        .await;
    assert!(v["version"].as_i64().unwrap_or(0) >= 2, "{v}");
    wait_until("A applies the rules", async || {
        let (_, w) = a
            .json("GET", "/api/wards/ward-4b", Some(&ana_a), None)
            .await;
        w["ward"]["time_zone"] == "Europe/Berlin"
    })
    .await;
    let (_, w) = b.json("GET", "/api/wards/ward-4b", Some(&ana), None).await;
    assert_eq!(w["ward"]["time_zone"], "Europe/Berlin", "{w}");
    // A directory change on A reaches B.
    let before = b.app.directory_version();
    let dir = a.app.directory().as_ref().clone();
    let version = a
        .app
        .set_directory(a.app.directory_version(), "test", dir)
        .await
        .expect("save");
    wait_until("B reloads the directory", async || {
        b.app.directory_version() == version
    })
    .await;
    assert!(version > before);

    // A stops: B takes the engine over, rebuilt from the store, the acknowledgement kept.
    a.stop().await;
    wait_until("B becomes the leader", async || {
        b.app.role() == Role::Leader
    })
    .await;
    let on_b = b.app.open_alert(id).await.expect("still open");
    assert_eq!(on_b.state, AlertState::Acknowledged);
    assert_eq!(on_b.ack.as_ref().map(|a| a.by.as_str()), Some("ana"));

    // A third server joins as a follower; what its agents post reaches B without help.
    let c = Server::start_cluster(&url, "c", clock.clone(), false).await;
    assert_eq!(c.app.role(), Role::Follower);
    let source = areya_server::setup::demo_source(2);
    let (status, v) = c.ingest(&[obs(2, c.now(), Some(0.2))], DEVICE).await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(1)), "{v}");
    wait_until("B runs C's observation through the engine", async || {
        b.app
            .last_seen(std::slice::from_ref(&source))
            .await
            .ok()
            .flatten()
            == Some(c.now())
    })
    .await;

    // Calm again, posted to C: B resolves the alert and both dashboards hear of it.
    let ana_c = c.login("ana").await;
    let mut lines_c = live(&c, &ana_c).await;
    feed_via(&c, &b, 0, 200, 0.05).await;
    for l in [&mut lines, &mut lines_c] {
        next_event(l, "alert", |v| {
            v["event"]["id"] == id && v["event"]["event"] == "resolved"
        })
        .await;
    }
    assert!(c.app.open_alert(id).await.is_err(), "resolved, read on C");
    c.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_engine_leader_a_follower_answers_503_and_changes_nothing() {
    let Some(url) = postgres_test_database_url().await else {
        return;
    };
    let clock = Arc::new(AtomicI64::new(T0));
    // A sets the ward up and goes; something holds the leader lock but does no work (a leader
    // that hangs).
    let a = Server::start_cluster(&url, "a", clock.clone(), true).await;
    a.stop().await;
    let store = PgStore::open(&url).await.expect("store");
    let hung = PgCluster::new(&store, "hung");
    assert!(hung.try_lead().await.expect("lock"));
    let b = Server::start_cluster_with(&url, "b", clock.clone(), false, |s| {
        s.command_wait_ms = 300;
    })
    .await;
    assert_eq!(b.app.role(), Role::Follower);
    let admin = b.login("admin").await;
    let pause = json!({ "consent": "paused", "minutes": 30 });
    let path = "/api/patients/p-1002/consent";
    let v = b
        .json_expect(503, "PUT", path, Some(&admin), Some(pause.clone()))
        .await;
    assert!(
        v["error"]
            .as_str()
            .unwrap_or("")
            .contains("nothing was changed"),
        "{v}"
    );
    assert_eq!(
        b.app.consent(&patient(1)).await.expect("consent"),
        areya_monitor::engine::Consent::Active,
        "withdrawn, not applied later"
    );
    // Ingest still works meanwhile: stored, for whichever server leads next.
    let (status, v) = b.ingest(&[obs(0, b.now(), Some(0.2))], DEVICE).await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(1)), "{v}");

    // The hung leader goes; B takes over and the same request works.
    hung.resign().await;
    wait_until("B becomes the leader", async || {
        b.app.role() == Role::Leader
    })
    .await;
    b.app.cluster_step().await;
    assert_eq!(
        b.app.consent(&patient(1)).await.expect("consent"),
        areya_monitor::engine::Consent::Active,
        "the withdrawn request stays withdrawn under the new leader"
    );
    b.json_expect(200, "PUT", path, Some(&admin), Some(pause))
        .await;
    assert!(!b
        .app
        .consent(&patient(1))
        .await
        .expect("consent")
        .allows(b.now()));
    b.stop().await;
}
