//! What a login flood does to the ward: a nurse's ward view (12 beds, one request at a time)
//! is timed on an idle server — the reference — and again while `clients` anonymous clients
//! (default 64) post wrong logins as fast as they are answered, each from an address of its
//! own (the server trusts X-Forwarded-For here) so that no throttle spares it the password
//! work. Prints both medians, their ratio, how the logins were answered, and this process's
//! resident memory before and at its peak.
//!
//! `cargo run --release -p areya-server --example login_flood -- [clients] [seconds]`

use areya_server::setup::{demo_directory, DEMO_WARD};
use areya_server::{App, Settings};
use areya_store::SqliteStore;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{login, request, PASSWORD};

fn rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// Median and 95th percentile of `n` ward views, in ms.
async fn ward_views(addr: SocketAddr, cookie: &str, n: usize) -> (f64, f64) {
    let head = format!("GET /api/wards/{DEMO_WARD} HTTP/1.1\r\nCookie: {cookie}");
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let (status, _) = request(addr, &head, "").await;
        assert_eq!(status, 200, "ward view");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    (ms[n / 2], ms[n * 95 / 100])
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().ok());
    let clients = args.next().flatten().unwrap_or(64) as usize;
    let seconds = args.next().flatten().unwrap_or(10);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let settings = Settings {
        trust_forwarded_for: true,
        ..Settings::default()
    };
    let app = App::open(
        SqliteStore::open(&url).await.expect("store"),
        settings,
        areya_server::system_clock(),
    )
    .await
    .expect("app");
    let hash = areya_server::auth::hash_password(PASSWORD).expect("hash");
    app.set_registry(0, "bench", demo_directory(&hash, "bench-device"))
        .await
        .expect("directory");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(areya_server::serve(
        listener,
        app.clone(),
        std::future::pending(),
    ));
    let cookie = login(addr).await;

    let before = rss_mb();
    let idle = ward_views(addr, &cookie, 200).await;
    let stop = Arc::new(AtomicBool::new(false));
    let answers: Arc<Mutex<BTreeMap<u16, u64>>> = Arc::default();
    let peak = Arc::new(AtomicU64::new(before));
    let mut flood = Vec::new();
    for c in 0..clients {
        let (stop, answers) = (stop.clone(), answers.clone());
        flood.push(tokio::spawn(async move {
            let mut k = 0u64;
            while !stop.load(Ordering::Relaxed) {
                k += 1;
                let head = format!(
                    "POST /api/login HTTP/1.1\r\nX-Forwarded-For: 10.{}.{}.{}",
                    c / 256,
                    c % 256,
                    k % 250
                );
                let body = format!(r#"{{"user":"flood{c}-{k}","password":"a wrong guess"}}"#);
                let (status, _) = request(addr, &head, &body).await;
                *answers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(status)
                    .or_default() += 1;
            }
        }));
    }
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_mb(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    // Let the flood build up, then time the ward view under it until the time is up.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let t = Instant::now();
    let mut under = Vec::new();
    while t.elapsed() < Duration::from_secs(seconds.max(2) - 1) {
        under.push(ward_views(addr, &cookie, 20).await);
    }
    stop.store(true, Ordering::Relaxed);
    for f in flood {
        let _ = f.await;
    }
    let _ = sampler.await;
    under.sort_by(|a, b| a.0.total_cmp(&b.0));
    let flooded = under[under.len() / 2];
    println!(
        "login flood: {clients} clients for {seconds} s, logins answered {:?}",
        answers.lock().unwrap_or_else(|p| p.into_inner())
    );
    println!(
        "ward view, idle (reference):  median {:.2} ms, p95 {:.2} ms",
        idle.0, idle.1
    );
    println!(
        "ward view, during the flood:  median {:.2} ms, p95 {:.2} ms (median of {} rounds of 20)",
        flooded.0,
        flooded.1,
        under.len()
    );
    println!("ratio (flood / idle median): {:.1}x", flooded.0 / idle.0);
    println!(
        "resident memory: {before} MB before, {} MB at the peak",
        peak.load(Ordering::Relaxed)
    );
}
