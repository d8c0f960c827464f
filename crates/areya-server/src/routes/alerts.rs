//! The alert inbox: open alerts of the user's wards, acknowledge (actionable, or not actionable
//! with a reason) and snooze. Every action is audited.

use crate::api::{AlertItem, AlertList, AlertNow, Delivered};
use crate::app::{AlertAct, App};
use crate::auth::User;
use crate::command::Command;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::openapi::errors::{JsonBody, Malformed, NoSuchRecord, NotAllowed, NotLoggedIn};
use areya_core::ErrorBody;
use areya_core::Words;
use areya_monitor::alerts::AlertKind;
use areya_store::AuditAction;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    pub ward: Option<String>,
}

#[utoipa::path(
    get, path = "/api/alerts", tag = "alerts", operation_id = "alerts",
    summary = "Open alerts of the user's wards, escalated first", security(("session" = [])),
    params(Filter),
    responses((status = 200, body = AlertList), NotLoggedIn, NotAllowed)
)]
pub async fn list(
    State(app): State<Arc<App>>,
    user: User,
    ApiQuery(f): ApiQuery<Filter>,
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
    let scope_words = match &f.ward {
        Some(_) => Words::new("ward {id}").with("id", &scope),
        None => Words::new("all wards"),
    };
    app.audit_gated(
        &app.view_gate,
        &format!("alerts {scope} {}", user.token_hash),
        (
            user.id(),
            AuditAction::ViewAlerts,
            scope_words,
            Words::nothing(),
        ),
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
    // Reading changes nothing: "delivered" is the dashboard's own report (`POST
    // /api/alerts/delivered`) once a card is on a clinician's screen.
    let alerts = open
        .into_iter()
        .map(|(alert, ward, bed)| AlertItem { alert, ward, bed })
        .collect();
    Ok(Json(AlertList { alerts }))
}

/// Alerts now on a clinician's screen.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveredBody {
    /// At most 1000 ids; ids not open on the user's wards, or delivered already, are left out.
    pub ids: Vec<u64>,
}

#[utoipa::path(
    post, path = "/api/alerts/delivered", tag = "alerts", operation_id = "delivered",
    summary = "Report alerts shown on a clinician's screen: raised → delivered (clinical roles)",
    description = "The dashboard calls this once a card is drawn; reading `GET /api/alerts` never marks anything delivered, so an integration or a stale tab cannot claim a person saw an alert.",
    security(("session" = [])),
    request_body = DeliveredBody,
    responses((status = 200, body = Delivered), NotLoggedIn, (status = 403, description = "Not allowed for this role", body = ErrorBody), JsonBody)
)]
pub async fn delivered(
    State(app): State<Arc<App>>,
    user: User,
    ApiJson(body): ApiJson<DeliveredBody>,
) -> Result<Json<Delivered>, ApiError> {
    user.require_clinical("reporting alerts shown")?;
    if body.ids.len() > 1000 {
        return Err(ApiError::invalid("ids", "at most 1000 a request"));
    }
    let dir = app.directory();
    let ids: Vec<u64> = app
        .open_alerts()
        .await?
        .into_iter()
        .filter(|a| {
            a.state == areya_monitor::alerts::AlertState::Raised
                && body.ids.contains(&a.id)
                && dir
                    .bed_of(&a.patient)
                    .is_some_and(|(w, _)| user.sees_ward(&w.id))
        })
        .map(|a| a.id)
        .collect();
    if !ids.is_empty() {
        app.run(Command::Delivered { ids: ids.clone() }).await?;
    }
    Ok(Json(Delivered { ids }))
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
        Err(crate::error::AppError::NotFound(_)) => return Err(not_found()),
        r => r?,
    };
    let ward = app.ward_of(&alert.patient).ok_or_else(not_found)?;
    user.require_ward(&ward).map_err(|_| not_found())?;
    let (action, detail) = match &act {
        AlertAct::Acknowledge { actionable, reason } => {
            let answer = Words::new(if *actionable {
                "actionable"
            } else {
                "not actionable"
            });
            let detail = match reason {
                // The reason as the nurse chose it (one of the dashboard's, or their own).
                Some(r) => Words::new("{answer}: {reason}")
                    .with("answer", answer)
                    .with("reason", Words::new(r.as_str())),
                None => answer,
            };
            (AuditAction::AcknowledgeAlert, detail)
        }
        AlertAct::Snooze { seconds } => (
            AuditAction::SnoozeAlert,
            Words::new("{n} s").with("n", *seconds),
        ),
    };
    if let AlertAct::Acknowledge {
        reason: Some(r), ..
    } = &act
    {
        if r.len() > 500 {
            return Err(ApiError::Unprocessable(
                Words::new("reason: at most {n} characters").with("n", 500u32),
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
        Words::new("alert {id} (patient {patient})")
            .with("id", id.to_string())
            .with("patient", alert.patient.as_str()),
        detail,
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
    responses((status = 200, body = AlertNow), Malformed, NotLoggedIn, NotAllowed, NoSuchRecord, JsonBody)
)]
pub async fn acknowledge(
    State(app): State<Arc<App>>,
    user: User,
    ApiPath(id): ApiPath<u64>,
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
    responses((status = 200, body = AlertNow), Malformed, NotLoggedIn, NotAllowed, NoSuchRecord, JsonBody)
)]
pub async fn snooze(
    State(app): State<Arc<App>>,
    user: User,
    ApiPath(id): ApiPath<u64>,
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
