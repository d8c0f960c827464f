//! Areya's server: the HTTP API (JSON, described at `/openapi.json`), live events for the
//! dashboard (server-sent), staff sessions with roles and ward scoping, device tokens for the
//! edge agents, the append-only audit log, and the clinician dashboard itself, compiled in.
//! It runs on the monitor (`areya-monitor`) and never depends on tch.
//!
//! [`serve`] takes an already-bound listener and a shutdown future, so tests start it on
//! port 0 and stop it when they are done.

pub mod api;
pub mod app;
pub mod auth;
pub mod cluster;
pub mod command;
pub mod credentials;
pub mod demo;
pub mod doctors;
pub mod error;
pub mod guard;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod setup;
pub mod webhook;
pub mod words;

pub use app::{system_clock, App, Clock, Settings};
pub use cluster::Role;
pub use command::Command;
pub use error::{ApiError, AppError};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Serves `app` on `listener` until `shutdown` resolves, ticking the engine every second (and,
/// on a cluster, taking part in the engine-leader election and relaying live events).
/// Returns once in-flight requests have finished (at most 10 s) and live streams have been
/// closed. A connection that does not send a whole request head within the header-read
/// timeout is closed (idle keep-alive connections too), and at most `max_connections` are
/// open at once (further ones wait in the kernel's backlog).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // One stop signal for the ticker and the live streams alike.
    let ticker = tokio::spawn(app::run_ticker(
        app.clone(),
        Duration::from_secs(1),
        wait(app.stopping.subscribe()),
    ));
    // Signed webhooks to the messaging gateway, when one is configured.
    let deliveries = tokio::spawn(webhook::run_deliveries(
        app.clone(),
        wait(app.stopping.subscribe()),
    ));
    // Several servers on one PostgreSQL: the election, the leader's work, the relay.
    let cluster = tokio::spawn(cluster::run_cluster(
        app.clone(),
        wait(app.stopping.subscribe()),
    ));
    let router = routes::router(app.clone());
    let limits = app.settings.limits.clone();
    let header_timeout = Duration::from_millis(limits.header_read_timeout_ms.max(1) as u64);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                let mut router = router.clone();
                async move {
                    tower_service::Service::call(&mut router, req.map(axum::body::Body::new)).await
                }
            });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    // Live streams end too, so the graceful shutdown does not wait on them.
    app.stopping.send_replace(true);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("stopping with requests still in flight after 10 s");
        }
    }
    let _ = ticker.await;
    let _ = cluster.await;
    let _ = deliveries.await;
    Ok(())
}

async fn wait(mut rx: tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}
