//! Logging in and out: `POST /api/login`, `POST /api/logout`, `GET /api/me`.

use crate::api::{Done, LoggedIn, Me, WardRef};
use crate::app::App;
use crate::auth::{hash_password, new_token, token_hash, Client, User, COOKIE};
use crate::error::{ApiError, ApiJson};
use crate::openapi::errors::{JsonBody, Malformed, NotLoggedIn};
use areya_core::ErrorBody;
use areya_core::Words;
use areya_store::AuditAction;
use areya_store::Store;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{AppendHeaders, IntoResponse};
use axum::Json;
use serde::Deserialize;
use std::sync::{Arc, OnceLock};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub user: String,
    pub password: String,
}

/// A hash to verify against when the user does not exist, so both cases take the same time.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password("areya-dummy-password").unwrap_or_default())
}

#[utoipa::path(
    post, path = "/api/login", tag = "session", operation_id = "login",
    summary = "Log in; sets the session cookie (HttpOnly, SameSite=Strict)",
    description = "Throttled per client (backoff after 5 failures), per client and name (15-min lock-out after 5) and per name (tries 3 s apart after 10 failures): 429 with the wait. 503 while too many logins wait for a password check.",
    request_body = Login,
    responses((status = 200, body = LoggedIn, headers(("set-cookie" = String, description = "areya_session=…"))), (status = 401, description = "Wrong user or password", body = ErrorBody), Malformed, JsonBody, (status = 429, description = "Too many attempts", body = ErrorBody), (status = 503, description = "Too many logins waiting", body = ErrorBody))
)]
pub async fn login(
    State(app): State<Arc<App>>,
    client: Client,
    ApiJson(body): ApiJson<Login>,
) -> Result<impl IntoResponse, ApiError> {
    let limits = &app.settings.limits;
    // Sizes first, before any work or any row in the audit log.
    let name = body.user.trim();
    if name.is_empty() || name.chars().count() > limits.max_name_chars {
        return Err(ApiError::invalid(
            "user",
            format!(
                "give your user name (at most {} characters)",
                limits.max_name_chars
            ),
        ));
    }
    if body.password.chars().count() > limits.max_password_chars {
        return Err(ApiError::invalid(
            "password",
            format!("at most {} characters", limits.max_password_chars),
        ));
    }
    let ip = client.0;
    if let Err(t) = app.logins.check(ip, name, app.now()) {
        app.audit_gated(
            &app.refusal_gate,
            &ip.to_string(),
            (
                name,
                AuditAction::LoginRefused,
                Words::new("session"),
                Words::new("from {ip}: {why}")
                    .with("ip", ip.to_string())
                    .with("why", t.why.clone()),
            ),
        )
        .await?;
        return Err(t.into_error().into());
    }
    let dir = app.directory();
    let staff = dir.staff(name);
    // Unknown names and staff without a password are checked against a dummy hash, so every
    // answer takes the same time and none reveals who exists.
    let cred = app.credentials();
    let password = staff.and_then(|s| cred.password(&s.id));
    let hash = password.unwrap_or(dummy_hash()).to_string();
    let can_log_in = password.is_some();
    let ok = app.check_password(hash, body.password).await? && can_log_in;
    app.logins.record(ip, name, ok, app.now());
    let Some(staff) = staff.filter(|_| ok) else {
        app.audit_gated(
            &app.refusal_gate,
            &ip.to_string(),
            (
                name,
                AuditAction::LoginFailed,
                Words::new("session"),
                Words::new("from {ip}").with("ip", ip.to_string()),
            ),
        )
        .await?;
        return Err(ApiError::LoginFailed);
    };
    let token = new_token();
    let expires = app.now() + app.settings.session_ms;
    app.store
        .create_session(&token_hash(&token), &staff.id, expires)
        .await?;
    app.audit(
        &staff.id,
        AuditAction::Login,
        Words::new("session"),
        Words::new("from {ip}").with("ip", ip.to_string()),
    )
    .await?;
    let cookie = format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        app.settings.session_ms / 1000,
        if app.settings.secure_cookie {
            "; Secure"
        } else {
            ""
        }
    );
    Ok((
        AppendHeaders([(SET_COOKIE, cookie)]),
        Json(LoggedIn {
            id: staff.id.clone(),
            name: staff.name.clone(),
            role: staff.role,
            wards: staff.wards.clone(),
        }),
    ))
}

#[utoipa::path(
    post, path = "/api/logout", tag = "session", operation_id = "logout",
    summary = "End the session", security(("session" = [])),
    responses((status = 200, body = Done), NotLoggedIn)
)]
pub async fn logout(
    State(app): State<Arc<App>>,
    user: User,
) -> Result<impl IntoResponse, ApiError> {
    app.store.delete_session(&user.token_hash).await?;
    app.audit(
        user.id(),
        AuditAction::Logout,
        Words::new("session"),
        Words::nothing(),
    )
    .await?;
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok((
        AppendHeaders([(SET_COOKIE, cookie)]),
        Json(Done { ok: true }),
    ))
}

#[utoipa::path(
    get, path = "/api/me", tag = "session", operation_id = "me",
    summary = "The logged-in user and the wards they may see", security(("session" = [])),
    responses((status = 200, body = Me), NotLoggedIn)
)]
pub async fn me(State(app): State<Arc<App>>, user: User) -> Json<Me> {
    let dir = app.directory();
    let wards = dir
        .wards
        .iter()
        .filter(|w| user.sees_ward(&w.id))
        .map(|w| WardRef {
            id: w.id.clone(),
            name: w.name.clone(),
        })
        .collect();
    Json(Me {
        id: user.staff.id.clone(),
        name: user.staff.name.clone(),
        role: user.staff.role,
        lang: user.staff.lang.clone(),
        wards,
        banner: app.settings.banner.clone(),
    })
}
