//! The alert inbox: open alerts of the user's wards, acknowledge (actionable, or not actionable
//! with a reason) and snooze. Every action is audited.

use crate::app::{AlertAct, App};
use crate::auth::User;
use crate::command::Command;
use crate::error::{ApiError, ApiJson};
use areya_monitor::alerts::AlertKind;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub ward: Option<String>,
}

pub async fn list(
    State(app): State<Arc<App>>,
    user: User,
    Query(f): Query<Filter>,
) -> Result<Json<Value>, ApiError> {
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
    let out: Vec<Value> = open
        .into_iter()
        .map(|(a, w, b)| json!({ "alert": a, "ward": w, "bed": b }))
        .collect();
    Ok(Json(json!({ "alerts": out })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    pub actionable: bool,
    pub reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnoozeBody {
    pub seconds: u64,
}

async fn act(app: &App, user: &User, id: u64, act: AlertAct) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({ "alert": alert })))
}

pub async fn acknowledge(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<u64>,
    ApiJson(body): ApiJson<AckBody>,
) -> Result<Json<Value>, ApiError> {
    let a = AlertAct::Acknowledge {
        actionable: body.actionable,
        reason: body.reason,
    };
    act(&app, &user, id, a).await
}

pub async fn snooze(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<u64>,
    ApiJson(body): ApiJson<SnoozeBody>,
) -> Result<Json<Value>, ApiError> {
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
