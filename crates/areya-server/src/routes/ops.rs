//! Operations and the page itself: `/healthz`, `/metrics` (Prometheus text), `/openapi.json`,
//! the live event stream (`/api/events`, server-sent events scoped to the user's wards), and
//! the dashboard's files, compiled into the binary (no CDN; works offline).

use crate::api::Health;
use crate::app::App;
use crate::auth::User;
use crate::error::ApiError;
use crate::live::{LiveEvent, Numbered, Resume};
use crate::openapi::errors::NotLoggedIn;
use areya_core::ErrorBody;
use areya_store::Store;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::Stream;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// 200 while the store can write; 503 "degraded" while it cannot (disk full, I/O errors,
/// database down), so a load balancer or monitor sees it even though reads still work.
#[utoipa::path(
    get, path = "/healthz", tag = "ops", operation_id = "health",
    summary = "Liveness, store writability and this server's role (single, leader or follower)",
    responses((status = 200, body = Health), (status = 503, description = "The store cannot write", body = Health))
)]
pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    match app.store.check_writable(app.now()).await {
        Ok(()) => {
            app.store_ok.store(true, Ordering::Relaxed);
            Json(Health {
                status: "ok".into(),
                role: app.role(),
                error: None,
            })
            .into_response()
        }
        Err(e) => {
            app.store_ok.store(false, Ordering::Relaxed);
            app.counters.store_errors.inc();
            tracing::error!("health check: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "degraded".into(),
                    role: app.role(),
                    error: Some("the store cannot write (see the server's log)".into()),
                }),
            )
                .into_response()
        }
    }
}

#[utoipa::path(
    get, path = "/metrics", tag = "ops", operation_id = "metrics",
    summary = "Prometheus metrics (text exposition format)",
    responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String))
)]
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    // A failing store shows in areya_store_errors_total and /healthz; the rest still reports.
    let open = app.open_alerts().await.unwrap_or_default();
    let now = crate::metrics::Now {
        store_reopens: app.store.reopens(),
        alerts_open: open.len(),
        alerts_escalated: open.iter().filter(|a| a.escalated_unacknowledged()).count(),
        store_writable: app.store_ok.load(Ordering::Relaxed),
        live_subscribers: app.live.receiver_count(),
        engine_leader: app.role() != crate::cluster::Role::Follower,
    };
    let (text, kind) = app.counters.render(now);
    ([(header::CONTENT_TYPE, kind)], text).into_response()
}

#[utoipa::path(
    get, path = "/openapi.json", tag = "ops", operation_id = "openapi",
    summary = "This document, generated from the route and body types",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json", body = serde_json::Value))
)]
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document(),
    )
        .into_response()
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub async fn index() -> Response {
    asset(
        "text/html; charset=utf-8",
        include_str!("../assets/index.html"),
    )
}
pub async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/app.js"),
    )
}
/// The dashboard's German catalogue (the server writes pager and phone messages from it too).
pub async fn catalogue() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        concat!("const DE = ", include_str!("../assets/de.json"), ";\n"),
    )
}
pub async fn style() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/style.css"),
    )
}

/// Live changes for the user's wards: `score`, `alert`, `consent`, `directory`, and `resync`
/// when this stream fell behind (the page then reloads what it shows).
/// Seconds between heartbeats on a quiet live stream.
pub const HEARTBEAT_S: u64 = 5;

#[utoipa::path(
    get, path = "/api/events", tag = "live", operation_id = "liveEvents",
    summary = "Live events (server-sent) of the user's wards",
    description = "Each event's name is the kind (score, alert, consent, directory, resync) and its data the payload as JSON, as LiveEvent describes (event = name, data = payload). Every event has an id; reconnecting with the `Last-Event-ID` header replays what was missed (the last 4096 events of this server; further behind, or an id of another server or an earlier run, gets one `resync` first: reload). A quiet stream sends a `heartbeat` event (data `{}`, no id) every 5 s.",
    security(("session" = [])),
    responses((status = 200, description = "text/event-stream of LiveEvent payloads", content_type = "text/event-stream", body = LiveEvent), NotLoggedIn, (status = 429, description = "Too many open streams for this session", body = ErrorBody))
)]
pub async fn events(
    State(app): State<Arc<App>>,
    user: User,
    headers: axum::http::HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let slot =
        crate::guard::LiveSlot::take(&app.live_counts, &user.token_hash, &app.settings.limits)?;
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(64).collect::<String>());
    let (rx, resume) = app.live.subscribe(last.as_deref());
    // What it missed first (its wards only), then live events after the last replayed.
    let (mut first, mut seen) = (std::collections::VecDeque::new(), 0);
    match resume {
        Resume::Replay(missed) => {
            for n in missed {
                seen = n.seq;
                if n.ward.as_ref().is_none_or(|w| user.sees_ward(w)) {
                    first.push_back(numbered(&app, &n));
                }
            }
        }
        Resume::Resync => first.push_back(sse(&LiveEvent::Resync { missed: None })),
    }
    let stop = app.stopping.subscribe();
    let every = Duration::from_millis(app.settings.live_recheck_ms.max(10) as u64);
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The slot lives as long as the stream and gives its place back when the stream ends.
    let state = (rx, stop, user, app, recheck, slot, first, seen);
    let stream = futures_util::stream::unfold(
        state,
        |(mut rx, mut stop, user, app, mut recheck, slot, mut first, seen)| async move {
            if let Some(ev) = first.pop_front() {
                return Some((Ok(ev), (rx, stop, user, app, recheck, slot, first, seen)));
            }
            loop {
                let got = tokio::select! {
                    r = rx.recv() => Some(r),
                    _ = stop.wait_for(|s| *s) => return None,
                    _ = recheck.tick() => None,
                };
                let Some(got) = got else {
                    // A logged-out, expired or removed user's (or a revoked integration's)
                    // stream ends.
                    if !user.still_valid(&app).await {
                        return None;
                    }
                    continue;
                };
                let ev = match got {
                    Ok(n) => {
                        if n.seq <= seen || n.ward.as_ref().is_some_and(|w| !user.sees_ward(w)) {
                            continue;
                        }
                        numbered(&app, &n)
                    }
                    Err(RecvError::Lagged(n)) => sse(&LiveEvent::Resync { missed: Some(n) }),
                    Err(RecvError::Closed) => return None,
                };
                return Some((Ok(ev), (rx, stop, user, app, recheck, slot, first, seen)));
            }
        },
    );
    // A quiet stream still says "heartbeat" every 5 s, so a dashboard can tell a hung
    // server or a dead link from a calm ward and say so.
    Ok(Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(HEARTBEAT_S))
            .event(Event::default().event("heartbeat").data("{}")),
    ))
}

fn sse(e: &LiveEvent) -> Event {
    Event::default().event(e.name()).data(e.data().to_string())
}

/// A numbered event with its id (payload serialised once, when it was numbered).
fn numbered(app: &App, n: &Numbered) -> Event {
    Event::default()
        .id(app.live.id(n.seq))
        .event(n.name)
        .data(&*n.data)
}

pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{method} is not allowed on {} (see /openapi.json)",
        uri.path().chars().take(120).collect::<String>()
    ))
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}
