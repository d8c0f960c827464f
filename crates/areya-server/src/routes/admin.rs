//! Configuration (admins only, every change audited): the ward directory (wards, beds,
//! patients, staff, devices), staff passwords, device tokens, the alert rules, and the audit
//! log itself.

use crate::api::{
    AuditLog, DeviceRegistered, DirectoryView, IntegrationRegistered, PasswordSet, Rules, Version,
};
use crate::app::App;
use crate::auth::{hash_password, new_token, token_hash, Client, User};
use crate::credentials::{Credentials, Registry};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::openapi::errors::{JsonBody, Malformed, NoSuchRecord, NotAllowed, NotLoggedIn};
use areya_core::ErrorBody;
use areya_core::Words;
use areya_monitor::directory::{Device, Directory, Integration};
use areya_store::AuditAction;
use areya_store::Store;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;

/// The current directory and credentials changed by `edit` and saved as the next version
/// (checked whole).
async fn edit_registry(
    app: &App,
    user: &User,
    edit: impl FnOnce(&mut Directory, &mut Credentials),
) -> Result<i64, ApiError> {
    let mut reg = Registry {
        directory: (*app.directory()).clone(),
        credentials: (*app.credentials()).clone(),
    };
    edit(&mut reg.directory, &mut reg.credentials);
    Ok(app
        .set_registry(app.directory_version(), user.id(), reg)
        .await?)
}

#[utoipa::path(
    get, path = "/api/admin/directory", tag = "admin", operation_id = "directory",
    summary = "Wards, beds, patients, staff (no password hashes), devices (admin)", security(("session" = [])),
    responses((status = 200, body = DirectoryView), NotLoggedIn, NotAllowed)
)]
pub async fn get_directory(
    State(app): State<Arc<App>>,
    user: User,
) -> Result<Json<DirectoryView>, ApiError> {
    user.require_admin("reading the directory")?;
    Ok(Json(DirectoryView {
        version: app.directory_version(),
        directory: (*app.directory()).clone(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutDirectory {
    /// The version this change was made from (optimistic concurrency).
    pub version: i64,
    pub directory: Directory,
}

#[utoipa::path(
    put, path = "/api/admin/directory", tag = "admin", operation_id = "setDirectory",
    summary = "Replace the directory at a version (admin; audited; 409 on a concurrent change)", security(("session" = [])),
    request_body = PutDirectory,
    responses((status = 200, body = Version), Malformed, NotLoggedIn, NotAllowed, (status = 409, description = "Changed by someone else meanwhile", body = ErrorBody), JsonBody)
)]
pub async fn put_directory(
    State(app): State<Arc<App>>,
    user: User,
    ApiJson(body): ApiJson<PutDirectory>,
) -> Result<Json<Version>, ApiError> {
    user.require_admin("changing the directory")?;
    // Passwords and tokens are not part of the directory: whoever stays keeps theirs.
    let dir = body.directory;
    let cred = app.credentials();
    if !dir
        .staff
        .iter()
        .any(|s| s.role.sees_all_wards() && cred.password(&s.id).is_some())
    {
        return Err(ApiError::Unprocessable(
            "directory.staff: keep at least one admin who can log in".into(),
        ));
    }
    let version = app.set_directory(body.version, user.id(), dir).await?;
    app.audit(
        user.id(),
        AuditAction::ChangeDirectory,
        Words::new("directory"),
        Words::new("version {n}").with("n", version.to_string()),
    )
    .await?;
    Ok(Json(Version { version }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    pub password: String,
    /// The present password: needed to change one's own, so a stolen session cannot take
    /// the account (an admin resetting someone else's does not know theirs).
    #[serde(default)]
    pub current: Option<String>,
}

/// Sets a password: one's own with the present one, anyone's as an admin. Every other
/// session of that person ends (a thief logged in elsewhere is logged out).
#[utoipa::path(
    put, path = "/api/admin/staff/{id}/password", tag = "admin", operation_id = "setPassword",
    summary = "Set a password (admin, or oneself with the present one; ends the person's other sessions; audited)", security(("session" = [])),
    params(("id" = String, Path, description = "Staff id")),
    request_body = PasswordBody,
    responses((status = 200, body = PasswordSet), Malformed, NotLoggedIn, NotAllowed, NoSuchRecord, JsonBody, (status = 429, description = "Too many attempts", body = ErrorBody), (status = 503, description = "Too many password checks waiting", body = ErrorBody))
)]
pub async fn set_password(
    State(app): State<Arc<App>>,
    user: User,
    client: Client,
    ApiPath(staff_id): ApiPath<String>,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Json<PasswordSet>, ApiError> {
    let own = user.id() == staff_id;
    if !own {
        user.require_admin("setting another person's password")?;
    }
    let n = body.password.chars().count();
    if !(10..=app.settings.limits.max_password_chars).contains(&n) {
        return Err(ApiError::invalid(
            "password",
            format!(
                "{n} characters; use 10 to {}",
                app.settings.limits.max_password_chars
            ),
        ));
    }
    if app.directory().staff(&staff_id).is_none() {
        return Err(ApiError::NotFound(format!(
            "staff '{staff_id}' does not exist"
        )));
    }
    if own {
        let Some(current) = body.current.filter(|c| c.chars().count() <= 1024) else {
            return Err(ApiError::invalid(
                "current",
                "give your present password to set a new one",
            ));
        };
        // The same throttle as logins: a stolen session must not be a way to guess.
        let ip = client.0;
        app.logins
            .check(ip, &staff_id, app.now())
            .map_err(|t| t.into_error())?;
        let present = app
            .credentials()
            .password(&staff_id)
            .unwrap_or_default()
            .to_string();
        let ok = app.check_password(present, current).await?;
        app.logins.record(ip, &staff_id, ok, app.now());
        if !ok {
            app.audit(
                user.id(),
                AuditAction::SetPasswordRefused,
                Words::new("staff {id}").with("id", &staff_id),
                Words::new("the present password was wrong"),
            )
            .await?;
            return Err(ApiError::Forbidden(
                "current: that is not your present password".into(),
            ));
        }
    }
    let pw = body.password;
    let hash = app.hash_pool.run(move || hash_password(&pw)).await??;
    let version = edit_registry(&app, &user, |_, cred| cred.set_password(&staff_id, hash)).await?;
    let keep = own.then_some(user.token_hash.as_str());
    let ended = app.store.delete_sessions_of(&staff_id, keep).await?;
    app.audit(
        user.id(),
        AuditAction::SetPassword,
        Words::new("staff {id}").with("id", &staff_id),
        Words::new("{n} other session(s) ended").with("n", ended),
    )
    .await?;
    Ok(Json(PasswordSet {
        version,
        sessions_ended: ended,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceBody {
    pub ward: String,
}

/// Creates (or re-keys) a device; the token is shown once and only its hash is kept.
#[utoipa::path(
    put, path = "/api/admin/devices/{id}", tag = "admin", operation_id = "registerDevice",
    summary = "Register or re-key an edge device; returns its token once (admin; audited)", security(("session" = [])),
    params(("id" = String, Path, description = "Device id")),
    request_body = DeviceBody,
    responses((status = 200, body = DeviceRegistered), Malformed, NotLoggedIn, NotAllowed, JsonBody)
)]
pub async fn put_device(
    State(app): State<Arc<App>>,
    user: User,
    ApiPath(device_id): ApiPath<String>,
    ApiJson(body): ApiJson<DeviceBody>,
) -> Result<Json<DeviceRegistered>, ApiError> {
    user.require_admin("registering devices")?;
    let token = new_token();
    let version = edit_registry(&app, &user, |dir, cred| {
        dir.devices.retain(|d| d.id != device_id);
        dir.devices.push(Device {
            id: device_id.clone(),
            ward: body.ward,
        });
        cred.set_device(&device_id, token_hash(&token));
    })
    .await?;
    app.audit(
        user.id(),
        AuditAction::RegisterDevice,
        Words::new("device {id}").with("id", &device_id),
        Words::nothing(),
    )
    .await?;
    Ok(Json(DeviceRegistered {
        version,
        device: device_id,
        token,
    }))
}

/// An integration engine's read access.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationBody {
    /// Who it is, for the audit log's readers (e.g. "Hospital interface engine").
    pub name: String,
    /// The wards it may read.
    pub wards: Vec<String>,
}

#[utoipa::path(
    put, path = "/api/admin/integrations/{id}", tag = "admin", operation_id = "registerIntegration",
    summary = "Create or re-key an integration's read-only token for some wards; returns the token once (admin; audited)",
    description = "The integration sends `Authorization: Bearer TOKEN`: it may read the wards named (ward view, patients, FHIR export, alerts, live events) and nothing else; it is audited under its id. Re-keying ends the old token.",
    security(("session" = [])),
    params(("id" = String, Path, description = "Integration id (not a staff id)")),
    request_body = IntegrationBody,
    responses((status = 200, body = IntegrationRegistered), Malformed, NotLoggedIn, (status = 403, description = "Not an admin", body = ErrorBody), JsonBody)
)]
pub async fn put_integration(
    State(app): State<Arc<App>>,
    user: User,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<IntegrationBody>,
) -> Result<Json<IntegrationRegistered>, ApiError> {
    user.require_admin("registering integrations")?;
    let token = new_token();
    let version = edit_registry(&app, &user, |dir, cred| {
        dir.integrations.retain(|i| i.id != id);
        dir.integrations.push(Integration {
            id: id.clone(),
            name: body.name.trim().to_string(),
            wards: body.wards.clone(),
        });
        cred.set_integration(&id, token_hash(&token));
    })
    .await?;
    app.audit(
        user.id(),
        AuditAction::RegisterIntegration,
        Words::new("integration {id}").with("id", &id),
        Words::new("wards {list}").with("list", body.wards.join(", ")),
    )
    .await?;
    Ok(Json(IntegrationRegistered {
        version,
        integration: id,
        token,
    }))
}

#[utoipa::path(
    delete, path = "/api/admin/integrations/{id}", tag = "admin", operation_id = "revokeIntegration",
    summary = "Revoke an integration: its token stops working at once, its live streams end (admin; audited)",
    security(("session" = [])),
    params(("id" = String, Path, description = "Integration id")),
    responses((status = 200, body = Version), NotLoggedIn, (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such integration", body = ErrorBody))
)]
pub async fn delete_integration(
    State(app): State<Arc<App>>,
    user: User,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Version>, ApiError> {
    user.require_admin("revoking integrations")?;
    if !app.directory().integrations.iter().any(|i| i.id == id) {
        return Err(ApiError::NotFound(format!(
            "integration '{id}' does not exist"
        )));
    }
    // Its token goes with it (the credentials keep only what the directory has).
    let version = edit_registry(&app, &user, |dir, _| {
        dir.integrations.retain(|i| i.id != id)
    })
    .await?;
    app.audit(
        user.id(),
        AuditAction::RevokeIntegration,
        Words::new("integration {id}").with("id", &id),
        Words::nothing(),
    )
    .await?;
    Ok(Json(Version { version }))
}

#[utoipa::path(
    get, path = "/api/rules", tag = "admin", operation_id = "rules",
    summary = "The current rule file (TOML) and its version", security(("session" = [])),
    responses((status = 200, body = Rules), NotLoggedIn, NotAllowed)
)]
pub async fn get_rules(State(app): State<Arc<App>>, user: User) -> Result<Json<Rules>, ApiError> {
    let _ = user;
    let (version, toml) = app
        .store
        .current_rules()
        .await?
        .unwrap_or((0, String::new()));
    Ok(Json(Rules { version, toml }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesBody {
    pub toml: String,
}

#[utoipa::path(
    put, path = "/api/rules", tag = "admin", operation_id = "setRules",
    summary = "Replace the rule file (admin; checked; audited)", security(("session" = [])),
    request_body = RulesBody,
    responses((status = 200, body = Version), Malformed, NotLoggedIn, NotAllowed, JsonBody)
)]
pub async fn put_rules(
    State(app): State<Arc<App>>,
    user: User,
    ApiJson(body): ApiJson<RulesBody>,
) -> Result<Json<Version>, ApiError> {
    user.require_admin("changing the alert rules")?;
    let version = app.set_rules(user.id(), &body.toml).await?;
    app.audit(
        user.id(),
        AuditAction::ChangeRules,
        Words::new("rules"),
        Words::new("version {n}").with("n", version.to_string()),
    )
    .await?;
    Ok(Json(Version { version }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

#[utoipa::path(
    get, path = "/api/audit", tag = "admin", operation_id = "auditLog",
    summary = "The append-only audit log (admin; reading it is audited)", security(("session" = [])),
    params(AuditQuery),
    responses((status = 200, body = AuditLog), Malformed, NotLoggedIn, NotAllowed)
)]
pub async fn audit_log(
    State(app): State<Arc<App>>,
    user: User,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditLog>, ApiError> {
    user.require_admin("reading the audit log")?;
    let now = app.now();
    let from = q.from_ms.unwrap_or(now - 24 * areya_monitor::HOUR);
    let to = q.to_ms.unwrap_or(now + 1);
    if from > to {
        return Err(ApiError::BadRequest("from_ms: later than to_ms".into()));
    }
    let entries = app.store.audit_log(from, to).await?;
    app.audit(
        user.id(),
        AuditAction::ReadAuditLog,
        Words::new("audit log"),
        Words::nothing(),
    )
    .await?;
    Ok(Json(AuditLog { entries }))
}

#[utoipa::path(
    get, path = "/api/admin/deliveries", tag = "admin", operation_id = "deliveries",
    summary = "Messages to the messaging gateway of the last 24 h (admin): delivered, being retried, dead letters", security(("session" = [])),
    responses((status = 200, body = crate::api::DeliveryList), NotLoggedIn, (status = 403, description = "Not an admin", body = ErrorBody))
)]
pub async fn deliveries(
    State(app): State<Arc<App>>,
    user: User,
) -> Result<Json<crate::api::DeliveryList>, ApiError> {
    user.require_admin("the delivery log")?;
    let from = app.now() - 24 * areya_monitor::HOUR;
    Ok(Json(crate::api::DeliveryList {
        configured: app.settings.webhook.is_some(),
        deliveries: app.store.deliveries(from, 500).await?,
    }))
}
