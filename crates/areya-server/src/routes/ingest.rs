//! `POST /api/ingest`: observations from `areya watch` edge agents (device bearer token),
//! batched and idempotent by (source, time, frame), so a retry after a timeout or a server
//! restart stores nothing twice.

use crate::app::{App, IngestReport};
use crate::auth::DeviceAuth;
use crate::error::{ApiError, ApiJson};
use areya_core::Observation;
use areya_monitor::store::Store;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestBody {
    #[serde(default)]
    pub observations: Vec<Observation>,
    /// The edge's own state per bed: a failing model becomes a technical alert.
    #[serde(default)]
    pub health: Vec<Health>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    pub patient: areya_core::PatientId,
    /// `Some(what failed)` while the model fails on this bed's frames; `None` once it works.
    pub model_error: Option<String>,
}

pub async fn ingest<S: Store + 'static>(
    State(app): State<Arc<App<S>>>,
    DeviceAuth(device): DeviceAuth,
    ApiJson(body): ApiJson<IngestBody>,
) -> Result<Json<IngestReport>, ApiError> {
    for (i, h) in body.health.iter().enumerate() {
        if h.model_error.as_ref().is_some_and(|e| e.len() > 500) {
            return Err(ApiError::Unprocessable(format!(
                "health[{i}].model_error: at most 500 characters"
            )));
        }
    }
    for h in &body.health {
        app.model_health(&device.ward, &h.patient, h.model_error.as_deref())
            .await?;
    }
    Ok(Json(app.ingest(&device.ward, body.observations).await?))
}
