//! Logging in and out: `POST /api/login`, `POST /api/logout`, `GET /api/me`.

use crate::app::App;
use crate::auth::{hash_password, new_token, token_hash, verify_password, User, COOKIE};
use crate::error::{ApiError, ApiJson};
use areya_monitor::store::Store;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{AppendHeaders, IntoResponse};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};

#[derive(Deserialize)]
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

pub async fn login<S: Store + 'static>(
    State(app): State<Arc<App<S>>>,
    ApiJson(body): ApiJson<Login>,
) -> Result<impl IntoResponse, ApiError> {
    let name = body.user.trim();
    if let Some(wait) = app.login_locked(name) {
        app.audit(name, "login refused", "session", "too many failed logins")
            .await?;
        return Err(ApiError::TooMany(format!(
            "too many failed logins for '{name}': try again in {} min",
            (wait + 59_999) / 60_000
        )));
    }
    let dir = app.directory();
    let staff = dir.staff(name);
    let hash = staff.map_or(dummy_hash(), |s| s.password_hash.as_str());
    let password = body.password.clone();
    let hash_owned = hash.to_string();
    // argon2 is deliberately slow: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || verify_password(&hash_owned, &password))
        .await
        .unwrap_or(false);
    app.login_result(name, ok && staff.is_some());
    let Some(staff) = staff.filter(|_| ok) else {
        app.audit(name, "login failed", "session", "").await?;
        return Err(ApiError::Unauthorized);
    };
    let token = new_token();
    let expires = app.now() + app.settings.session_ms;
    app.store
        .create_session(&token_hash(&token), &staff.id, expires)
        .await?;
    app.audit(&staff.id, "login", "session", "").await?;
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
        Json(
            json!({ "id": staff.id, "name": staff.name, "role": staff.role, "wards": staff.wards }),
        ),
    ))
}

pub async fn logout<S: Store + 'static>(
    State(app): State<Arc<App<S>>>,
    user: User,
) -> Result<impl IntoResponse, ApiError> {
    app.store.delete_session(&user.token_hash).await?;
    app.audit(user.id(), "logout", "session", "").await?;
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok((
        AppendHeaders([(SET_COOKIE, cookie)]),
        Json(json!({ "ok": true })),
    ))
}

pub async fn me<S: Store + 'static>(State(app): State<Arc<App<S>>>, user: User) -> Json<Value> {
    let dir = app.directory();
    let wards: Vec<Value> = dir
        .wards
        .iter()
        .filter(|w| user.sees_ward(&w.id))
        .map(|w| json!({ "id": w.id, "name": w.name }))
        .collect();
    Json(json!({
        "id": user.staff.id,
        "name": user.staff.name,
        "role": user.staff.role,
        "wards": wards,
        "banner": app.settings.banner,
    }))
}
