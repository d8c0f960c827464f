//! The HTTP surface: one router, one file per area. Every `/api` route but login, ingest
//! (device token) and the health/metrics/OpenAPI endpoints needs a staff session; role and
//! ward checks are made in each handler through [`crate::auth::User`].

pub mod admin;
pub mod alerts;
pub mod doctor;
pub mod fhir;
pub mod ingest;
pub mod ops;
pub mod session;
pub mod ward;

use crate::app::App;
use areya_core::Words;
use areya_store::AuditAction;
use areya_store::Store;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::routing::{get, post, put};
use axum::Router;
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;

pub fn router(app: Arc<App>) -> Router {
    let limit = app.settings.body_limit;
    let csp = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
    Router::new()
        .route("/", get(ops::index))
        .route("/app.js", get(ops::script))
        .route("/catalogue.js", get(ops::catalogue))
        .route("/style.css", get(ops::style))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/api/login", post(session::login))
        .route("/api/logout", post(session::logout))
        .route("/api/me", get(session::me))
        .route("/api/events", get(ops::events))
        .route("/api/wards/{ward}", get(ward::ward))
        .route("/api/wards/{ward}/kpi", get(ward::kpi))
        .route("/api/patients/{id}", get(ward::patient))
        .route("/api/patients/{id}/fhir", get(ward::fhir))
        .route("/api/patients/{id}/stay", get(doctor::stay))
        .route("/api/doctor/patients", get(doctor::patients))
        .route("/api/doctor/notices", get(doctor::notices))
        .route("/api/doctor/notices/{id}/ack", post(doctor::ack_notice))
        .route("/api/patients/{id}/consent", put(ward::set_consent))
        .route("/api/alerts", get(alerts::list))
        .route("/api/alerts/delivered", post(alerts::delivered))
        .route("/api/alerts/{id}/ack", post(alerts::acknowledge))
        .route("/api/alerts/{id}/snooze", post(alerts::snooze))
        .route("/api/ingest", post(ingest::ingest))
        .route("/api/rules", get(admin::get_rules).put(admin::put_rules))
        .route(
            "/api/admin/directory",
            get(admin::get_directory).put(admin::put_directory),
        )
        .route("/api/admin/staff/{id}/password", put(admin::set_password))
        .route("/api/admin/devices/{id}", put(admin::put_device))
        .route(
            "/api/admin/integrations/{id}",
            put(admin::put_integration).delete(admin::delete_integration),
        )
        .route("/api/audit", get(admin::audit_log))
        .route("/api/admin/deliveries", get(admin::deliveries))
        .route("/fhir/metadata", get(fhir::metadata))
        .route("/fhir/CodeSystem/areya", get(fhir::code_system))
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            audit_refusals,
        ))
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

/// Writes refused requests (401, 403) to the audit log, at most a few rows per client a
/// minute (the rest are counted in the next row). Failed logins are audited by the login
/// route, and the page's own "am I logged in?" question is not an attempt.
async fn audit_refusals(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = req.method().clone();
    let path: String = req.uri().path().chars().take(120).collect();
    let client = crate::auth::Client::from(
        req.headers(),
        req.extensions(),
        app.settings.trust_forwarded_for,
    );
    let token = crate::auth::session_token_in(req.headers());
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let probe = method == axum::http::Method::GET && path == "/api/me";
    if matches!(status, 401 | 403) && path != "/api/login" && !(probe && status == 401) {
        let actor = match token {
            Some(t) => app
                .store
                .session(&crate::auth::token_hash(&t), app.now())
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| "anonymous".into()),
            None => "anonymous".into(),
        };
        let ip = client.0;
        let entry = (
            actor.as_str(),
            AuditAction::RequestRefused,
            Words::new("{method} {path}")
                .with("method", method.to_string())
                .with("path", path.as_str()),
            Words::new("{status} from {ip}")
                .with("status", status.to_string())
                .with("ip", ip.to_string()),
        );
        if let Err(e) = app
            .audit_gated(&app.refusal_gate, &ip.to_string(), entry)
            .await
        {
            tracing::warn!("audit of a refused request: {e}");
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    /// (path, methods) of every route in `router`, read from this file's source.
    fn routes() -> Vec<(String, Vec<String>)> {
        let src = include_str!("mod.rs");
        let body = src
            .split("pub fn router(")
            .nth(1)
            .and_then(|s| s.split(".fallback(").next())
            .unwrap_or_default();
        body.split(".route(")
            .skip(1)
            .map(|call| {
                let path = call.split('"').nth(1).unwrap_or_default().to_string();
                let methods = ["get", "post", "put", "delete", "patch"]
                    .into_iter()
                    .filter(|m| call.contains(&format!("{m}(")))
                    .map(str::to_string)
                    .collect();
                (path, methods)
            })
            .collect()
    }

    /// Writes the generated document to `AREYA_OPENAPI_OUT` (for a validator or a client
    /// generator to read).
    #[test]
    fn the_openapi_document_can_be_written_out() {
        if let Some(p) = std::env::var_os("AREYA_OPENAPI_OUT") {
            std::fs::write(p, crate::openapi::document()).expect("write");
        }
    }

    #[test]
    fn the_openapi_document_describes_every_api_route_and_nothing_else() {
        let doc: serde_json::Value =
            serde_json::from_str(crate::openapi::document()).expect("valid JSON");
        let paths = doc["paths"].as_object().expect("paths");
        let routes = routes();
        assert!(routes.len() >= 20, "{routes:?}");
        let assets = ["/", "/app.js", "/catalogue.js", "/style.css"];
        for (path, methods) in &routes {
            if assets.contains(&path.as_str()) {
                continue;
            }
            assert!(!methods.is_empty(), "{path}: no method read");
            for m in methods {
                assert!(
                    paths.get(path).and_then(|p| p.get(m)).is_some(),
                    "{} {path} is served but not in /openapi.json (add it to openapi.rs)",
                    m.to_uppercase()
                );
            }
        }
        for (path, ops) in paths {
            let served = routes.iter().find(|(p, _)| p == path);
            for m in ["get", "post", "put", "delete", "patch"] {
                if ops.get(m).is_some() {
                    assert!(
                        served.is_some_and(|(_, ms)| ms.iter().any(|x| x == m)),
                        "/openapi.json documents {} {path}, which is not served",
                        m.to_uppercase()
                    );
                }
            }
        }
    }
}
