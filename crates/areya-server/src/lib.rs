//! Areya's server: the HTTP API (JSON, described at `/openapi.json`), live events for the
//! dashboard (server-sent), staff sessions with roles and ward scoping, device tokens for the
//! edge agents, the append-only audit log, and the clinician dashboard itself, compiled in.
//! It runs on the monitor (`areya-monitor`) and never depends on tch.
//!
//! [`serve`] takes an already-bound listener and a shutdown future, so tests start it on
//! port 0 and stop it when they are done.

pub mod app;
pub mod auth;
pub mod cluster;
pub mod demo;
pub mod error;
pub mod routes;
pub mod setup;

pub use app::{system_clock, App, Clock, Settings};
pub use cluster::Role;
pub use error::ApiError;

use areya_monitor::store::Store;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Serves `app` on `listener` until `shutdown` resolves, ticking the engine every second (and,
/// on a cluster, taking part in the engine-leader election and relaying live events).
/// Returns once in-flight requests have finished and live streams have been closed.
pub async fn serve<S: Store + 'static>(
    listener: tokio::net::TcpListener,
    app: Arc<App<S>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // One stop signal for the ticker and the live streams alike.
    let ticker = tokio::spawn(app::run_ticker(
        app.clone(),
        Duration::from_secs(1),
        wait(app.stopping.subscribe()),
    ));
    // Several servers on one PostgreSQL: the election, the leader's work, the relay.
    let cluster = tokio::spawn(cluster::run_cluster(
        app.clone(),
        wait(app.stopping.subscribe()),
    ));
    let stopping = app.clone();
    let signal = async move {
        shutdown.await;
        // Live streams end too, so the graceful shutdown does not wait on them.
        stopping.stopping.send_replace(true);
    };
    let result = axum::serve(listener, routes::router(app))
        .with_graceful_shutdown(signal)
        .await;
    let _ = ticker.await;
    let _ = cluster.await;
    result
}

async fn wait(mut rx: tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}
