//! The alert inbox: open alerts of the user's wards, acknowledge (actionable, or not actionable
//! with a reason) and snooze. Every action is audited.

use crate::api::{AlertItem, AlertList, AlertNow};
use crate::app::{AlertAct, App};
use crate::auth::User;
use crate::command::Command;
use crate::error::{ApiError, ApiJson};
use areya_core::ErrorBody;
use areya_monitor::alerts::AlertKind;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub ward: Option<String>,
}

#[utoipa::path(
    get, path = "/api/alerts", tag = "alerts", operation_id = "alerts",
    summary = "Open alerts of the user's wards, escalated first", security(("session" = [])),
    params(Filter),
    responses((status = 200, body = AlertList), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not allowed for this role or ward", body = ErrorBody))
)]
pub async fn list(
    State(app): State<Arc<App>>,
    user: User,
    Query(f): Query<Filter>,
) -> Result<Json<AlertList>, ApiError> {
    if let Some(w) = &f.ward {
        user.require_ward(w)?;
    }
    let scope: String = f
        .ward
        .as_deref()
        .unwrap_or("all wards")
        .chars()
        .take(64)
        .collect();
    app.audit_gated(
        &app.view_gate,
        &format!("alerts {scope} {}", user.token_hash),
        (user.id(), "view alerts", &scope, ""),
    )
    .await?;
    let dir = app.directory();
    let mut open: Vec<_> = app
        .open_alerts()
        .await?
        .into_iter()
        .filter_map(|a| {
            let (w, b) = dir.bed_of(&a.patient)?;
            let shown = user.sees_ward(&w.id) && f.ward.as_ref().is_none_or(|f| f == &w.id);
            shown.then(|| (a, w.id.clone(), b.id.clone()))
        })
        .collect();
    // Escalated first, then patients before technical alerts, higher priority, older first.
    open.sort_by_key(|(a, _, _)| {
        (
            std::cmp::Reverse(a.escalated_unacknowledged()),
            a.kind != AlertKind::SustainedNegative,
            std::cmp::Reverse(a.priority),
            a.raised_ms,
        )
    });
    // A clinician's inbox is the device the alert is delivered to.
    let raised: Vec<u64> = open
        .iter()
        .filter(|(a, _, _)| a.state == areya_monitor::alerts::AlertState::Raised)
        .map(|(a, _, _)| a.id)
        .collect();
    if !raised.is_empty() && user.require_clinical("").is_ok() {
        app.run(Command::Delivered {
            ids: raised.clone(),
        })
        .await?;
        for (a, _, _) in &mut open {
            if raised.contains(&a.id) {
                a.state = areya_monitor::alerts::AlertState::Delivered;
            }
        }
    }
    let alerts = open
        .into_iter()
        .map(|(alert, ward, bed)| AlertItem { alert, ward, bed })
        .collect();
    Ok(Json(AlertList { alerts }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    pub actionable: bool,
    pub reason: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnoozeBody {
    pub seconds: u64,
}

async fn act(app: &App, user: &User, id: u64, act: AlertAct) -> Result<Json<AlertNow>, ApiError> {
    user.require_clinical("acting on alerts")?;
    // Another ward's alert gets the same answer as one that does not exist, so alert ids
    // do not tell a user what happens on wards they do not work on.
    let not_found = || {
        ApiError::NotFound(format!(
            "alert {id}: no open alert with this id on your wards"
        ))
    };
    let alert = match app.open_alert(id).await {
        Err(ApiError::NotFound(_)) => return Err(not_found()),
        r => r?,
    };
    let ward = app.ward_of(&alert.patient).ok_or_else(not_found)?;
    user.require_ward(&ward).map_err(|_| not_found())?;
    let (action, detail) = match &act {
        AlertAct::Acknowledge { actionable, reason } => (
            "acknowledge alert",
            format!(
                "{}{}",
                if *actionable {
                    "actionable"
                } else {
                    "not actionable"
                },
                reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        ),
        AlertAct::Snooze { seconds } => ("snooze alert", format!("{seconds} s")),
    };
    if let AlertAct::Acknowledge {
        reason: Some(r), ..
    } = &act
    {
        if r.len() > 500 {
            return Err(ApiError::Unprocessable(
                "reason: at most 500 characters".into(),
            ));
        }
    }
    app.run(Command::Act {
        id,
        by: user.id().to_string(),
        act,
    })
    .await?;
    app.audit(
        user.id(),
        action,
        &format!("alert {id} (patient {})", alert.patient),
        &detail,
    )
    .await?;
    let alert = app.open_alert(id).await.ok();
    Ok(Json(AlertNow { alert }))
}

#[utoipa::path(
    post, path = "/api/alerts/{id}/ack", tag = "alerts", operation_id = "acknowledge",
    summary = "Acknowledge: actionable, or not actionable with a reason (clinical roles; audited)", security(("session" = [])),
    params(("id" = u64, Path, description = "Alert id")),
    request_body = AckBody,
    responses((status = 200, body = AlertNow), (status = 400, description = "A malformed value, named", body = ErrorBody), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not allowed for this role or ward", body = ErrorBody), (status = 404, description = "No such record", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Not JSON", body = ErrorBody), (status = 422, description = "A value out of range, named", body = ErrorBody))
)]
pub async fn acknowledge(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<u64>,
    ApiJson(body): ApiJson<AckBody>,
) -> Result<Json<AlertNow>, ApiError> {
    let a = AlertAct::Acknowledge {
        actionable: body.actionable,
        reason: body.reason,
    };
    act(&app, &user, id, a).await
}

#[utoipa::path(
    post, path = "/api/alerts/{id}/snooze", tag = "alerts", operation_id = "snooze",
    summary = "Snooze for a bounded time (clinical roles; audited)", security(("session" = [])),
    params(("id" = u64, Path, description = "Alert id")),
    request_body = SnoozeBody,
    responses((status = 200, body = AlertNow), (status = 400, description = "A malformed value, named", body = ErrorBody), (status = 401, description = "Not logged in", body = ErrorBody), (status = 403, description = "Not allowed for this role or ward", body = ErrorBody), (status = 404, description = "No such record", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Not JSON", body = ErrorBody), (status = 422, description = "A value out of range, named", body = ErrorBody))
)]
pub async fn snooze(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<u64>,
    ApiJson(body): ApiJson<SnoozeBody>,
) -> Result<Json<AlertNow>, ApiError> {
    if body.seconds == 0 {
        return Err(ApiError::Unprocessable(
            "seconds: must be at least 1".into(),
        ));
    }
    act(
        &app,
        &user,
        id,
        AlertAct::Snooze {
            seconds: body.seconds,
        },
    )
    .await
}
