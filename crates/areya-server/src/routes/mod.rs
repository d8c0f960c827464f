//! The HTTP surface: one router, one file per area. Every `/api` route but login, ingest
//! (device token) and the health/metrics/OpenAPI endpoints needs a staff session; role and
//! ward checks are made in each handler through [`crate::auth::User`].

pub mod admin;
pub mod alerts;
pub mod ingest;
pub mod ops;
pub mod session;
pub mod ward;

use crate::app::App;
use areya_monitor::store::Store;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::routing::{get, post, put};
use axum::Router;
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;

pub fn router<S: Store + 'static>(app: Arc<App<S>>) -> Router {
    let limit = app.settings.body_limit;
    let csp = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
    Router::new()
        .route("/", get(ops::index))
        .route("/app.js", get(ops::script))
        .route("/style.css", get(ops::style))
        .route("/healthz", get(ops::healthz::<S>))
        .route("/metrics", get(ops::metrics::<S>))
        .route("/openapi.json", get(ops::openapi))
        .route("/api/login", post(session::login::<S>))
        .route("/api/logout", post(session::logout::<S>))
        .route("/api/me", get(session::me::<S>))
        .route("/api/events", get(ops::events::<S>))
        .route("/api/wards/{ward}", get(ward::ward::<S>))
        .route("/api/wards/{ward}/kpi", get(ward::kpi::<S>))
        .route("/api/patients/{id}", get(ward::patient::<S>))
        .route("/api/patients/{id}/fhir", get(ward::fhir::<S>))
        .route("/api/patients/{id}/consent", put(ward::set_consent::<S>))
        .route("/api/alerts", get(alerts::list::<S>))
        .route("/api/alerts/{id}/ack", post(alerts::acknowledge::<S>))
        .route("/api/alerts/{id}/snooze", post(alerts::snooze::<S>))
        .route("/api/ingest", post(ingest::ingest::<S>))
        .route(
            "/api/rules",
            get(admin::get_rules::<S>).put(admin::put_rules::<S>),
        )
        .route(
            "/api/admin/directory",
            get(admin::get_directory::<S>).put(admin::put_directory::<S>),
        )
        .route(
            "/api/admin/staff/{id}/password",
            put(admin::set_password::<S>),
        )
        .route("/api/admin/devices/{id}", put(admin::put_device::<S>))
        .route("/api/audit", get(admin::audit_log::<S>))
        .fallback(ops::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .with_state(app)
}
