//! Observation-to-dashboard latency: `beds` beds each send one observation a second (edge
//! agents posting over loopback HTTP, one request per agent per second) to a server on a SQLite
//! file; one dashboard is subscribed to the live events. For every window that an observation
//! closes, the time from sending that observation to receiving its `score` event is measured.
//! The edge clocks run 0.5 s ahead of the server's, so it is always the observation (never the
//! once-a-second ticker) that closes a window and the latency is that of the ingest path:
//! HTTP, consent, the ingest log, the engine, the store transaction, the broadcast, SSE.
//!
//! On PostgreSQL the server runs as a cluster member (as `areya serve` does); with a fifth
//! argument `N` > 1, N servers share the database: the first runs the engine, the agents and
//! the dashboard use the last, so every observation crosses servers twice (the ingest log to
//! the leader, the live event back through NOTIFY).
//!
//! `cargo run --release -p areya-server --example sse_latency -- [beds] [seconds] [agents] [postgres://… [servers]]`

use areya_core::{FaceBox, Observation, PatientId, Probabilities, SeenFace};
use areya_monitor::engine::EngineConfig;
use areya_server::setup::{demo_source, large_ward};
use areya_server::{App, Settings};
use areya_store::{PgCluster, PgStore, SqliteStore, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

mod common;
use common::{login, request, PASSWORD};

const WINDOW_MS: i64 = 5_000;
const AHEAD_MS: i64 = 500;
const DEVICE: &str = "bench-device-token";

type Sent = Arc<Mutex<HashMap<(String, i64), Instant>>>;

/// A POST with `headers` (each ending in `\r\n`) through the shared raw request.
async fn post(addr: std::net::SocketAddr, path: &str, headers: &str, body: &str) -> (u16, String) {
    let head = format!("POST {path} HTTP/1.1\r\n{headers}");
    request(addr, head.trim_end_matches("\r\n"), body).await
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut args = raw.iter().map(|a| a.parse::<usize>().ok());
    let beds = args.next().flatten().unwrap_or(200);
    let seconds = args.next().flatten().unwrap_or(60) as u64;
    let agents = args.next().flatten().unwrap_or(20).clamp(1, beds);
    let settings = Settings {
        engine: EngineConfig {
            window_ms: WINDOW_MS,
            ..EngineConfig::default()
        },
        max_batch: 1000,
        ..Settings::default()
    };
    let hash = areya_server::auth::hash_password(PASSWORD).expect("hash");
    let ward = large_ward(beds, &hash, DEVICE);
    // A fourth argument: an empty PostgreSQL database to run on instead of a SQLite file.
    match raw.get(3) {
        Some(url) if url.starts_with("postgres") => {
            let servers = raw
                .get(4)
                .and_then(|n| n.parse().ok())
                .unwrap_or(1usize)
                .max(1);
            println!("store: PostgreSQL, {servers} server(s)");
            let mut apps = Vec::new();
            for i in 0..servers {
                let store = PgStore::open(url).await.expect("PostgreSQL");
                let cluster = PgCluster::new(&store, format!("bench-{i}"));
                let app = App::open_cluster(
                    store,
                    cluster,
                    settings.clone(),
                    areya_server::system_clock(),
                )
                .await
                .expect("app");
                if i == 0 {
                    app.set_registry(0, "bench", ward.clone())
                        .await
                        .expect("directory");
                }
                apps.push(app);
            }
            bench(apps, beds, seconds, agents).await
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            println!("store: SQLite file");
            let store = SqliteStore::open(&url).await.expect("store");
            let app = App::open(store, settings, areya_server::system_clock())
                .await
                .expect("app");
            app.set_registry(0, "bench", ward).await.expect("directory");
            bench(vec![app], beds, seconds, agents).await
        }
    }
}

/// `apps[0]` runs the engine; agents and the dashboard use the last one.
async fn bench(apps: Vec<Arc<App>>, beds: usize, seconds: u64, agents: usize) {
    let mut stops = Vec::new();
    let mut servers = Vec::new();
    let mut addr = None;
    for app in &apps {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        addr = Some(listener.local_addr().expect("addr"));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop_tx);
        servers.push(tokio::spawn(areya_server::serve(
            listener,
            app.clone(),
            async move {
                let _ = stop_rx.await;
            },
        )));
    }
    let addr = addr.expect("one server at least");
    let app = apps[0].clone();
    let roles: Vec<_> = apps.iter().map(|a| a.role()).collect();
    println!("roles: {roles:?}");

    // The dashboard: log in and subscribe.
    let cookie = login(addr).await;
    let mut sse = TcpStream::connect(addr).await.expect("connect");
    sse.write_all(
        format!("GET /api/events HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\r\n").as_bytes(),
    )
    .await
    .expect("subscribe");
    let sent: Sent = Arc::default();
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let received = Arc::new(Mutex::new(HashMap::<String, u64>::new()));
    let reader = {
        let (sent, latencies, received) = (sent.clone(), latencies.clone(), received.clone());
        tokio::spawn(async move {
            let mut lines = BufReader::new(sse).lines();
            let mut event = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                let now = Instant::now();
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_string();
                    *received
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(event.clone())
                        .or_default() += 1;
                } else if let (Some(d), "score") = (line.strip_prefix("data: "), event.as_str()) {
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(d) else {
                        continue;
                    };
                    let key = (
                        v["patient"].as_str().unwrap_or_default().to_string(),
                        v["assessment"]["at_ms"].as_i64().unwrap_or(0),
                    );
                    let t = sent.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
                    if let Some(t) = t {
                        latencies
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(now.duration_since(t).as_secs_f64() * 1000.0);
                    }
                }
            }
        })
    };

    println!(
        "{beds} beds × 1 observation/s from {agents} agents for {seconds} s; windows of {} s",
        WINDOW_MS / 1000
    );
    let posted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for a in 0..agents {
        let my_beds: Vec<usize> = (0..beds).filter(|b| b % agents == a).collect();
        let (sent, posted, failed) = (sent.clone(), posted.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            // Agents start spread over the first second, as real ones would.
            tokio::time::sleep(Duration::from_millis((a * 1000 / agents) as u64)).await;
            let mut every = tokio::time::interval(Duration::from_secs(1));
            let end = Instant::now() + Duration::from_secs(seconds);
            let mut frame = 0u64;
            let mut last_window: HashMap<usize, i64> = HashMap::new();
            while Instant::now() < end {
                every.tick().await;
                frame += 1;
                let at_ms = areya_core::time::now_ms() + AHEAD_MS;
                let window = at_ms.div_euclid(WINDOW_MS) * WINDOW_MS;
                let obs: Vec<Observation> = my_beds
                    .iter()
                    .map(|&b| {
                        let n = ((b as u64 + frame / 30) % 10) as f32 / 10.0;
                        Observation {
                            source: demo_source(b),
                            patient: PatientId::parse(&format!("p-{:04}", 1001 + b))
                                .expect("valid id"),
                            at_ms,
                            frame,
                            face: Some(SeenFace::new(
                                FaceBox::square(200, 120, 120, 4.0),
                                Probabilities::new(
                                    n * 0.3,
                                    (1.0 - n) * 0.4,
                                    (1.0 - n) * 0.6,
                                    n * 0.7,
                                )
                                .expect("a distribution"),
                            )),
                        }
                    })
                    .collect();
                let body = serde_json::json!({ "observations": obs }).to_string();
                let t = Instant::now();
                {
                    let mut s = sent.lock().unwrap_or_else(|p| p.into_inner());
                    for &b in &my_beds {
                        if last_window.get(&b).is_some_and(|&w| w != window) {
                            s.insert((format!("p-{:04}", 1001 + b), window), t);
                        }
                        last_window.insert(b, window);
                    }
                }
                let (status, _) = post(
                    addr,
                    "/api/ingest",
                    &format!("Authorization: Bearer {DEVICE}\r\n"),
                    &body,
                )
                .await;
                if status == 200 {
                    posted.fetch_add(obs.len() as u64, std::sync::atomic::Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let roles: Vec<_> = apps.iter().map(|a| a.role()).collect();
    println!("roles at the end: {roles:?}");
    // Followers first, so the leader is still there for their last words.
    for (stop, server) in stops.into_iter().zip(servers).rev() {
        let _ = stop.send(());
        let _ = server.await;
    }
    reader.abort();

    let mut l = latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    l.sort_by(f64::total_cmp);
    let q = |p: f64| {
        l.get(((l.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let stored = app
        .store
        .observations_since(0)
        .await
        .map(|v| v.len())
        .unwrap_or(0);
    println!(
        "observations posted {} (stored {stored}), failed requests {}",
        posted.load(std::sync::atomic::Ordering::Relaxed),
        failed.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!(
        "observation → SSE latency over {} window closes: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        l.len(),
        q(0.5),
        q(0.9),
        q(0.99),
        l.last().copied().unwrap_or(f64::NAN)
    );
    println!("goal p99 ≤ 250 ms: p99 is {:.2}× the goal", q(0.99) / 250.0);
    let mut received: Vec<_> = received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .into_iter()
        .collect();
    received.sort();
    let unmatched = sent.lock().unwrap_or_else(|p| p.into_inner()).len();
    // A window the once-a-second ticker closed before its next observation was sent is not
    // timed (its score event came first).
    println!("live events received: {received:?}; window closes not timed (closed by the ticker first): {unmatched}");
}
