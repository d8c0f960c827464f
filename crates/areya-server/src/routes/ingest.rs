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
    pub observations: Vec<Observation>,
}

pub async fn ingest<S: Store + 'static>(
    State(app): State<Arc<App<S>>>,
    DeviceAuth(device): DeviceAuth,
    ApiJson(body): ApiJson<IngestBody>,
) -> Result<Json<IngestReport>, ApiError> {
    for (i, o) in body.observations.iter().enumerate() {
        if o.face.is_some() != o.probs.is_some() {
            return Err(ApiError::Unprocessable(format!(
                "observations[{i}]: face and probs come together (both or neither)"
            )));
        }
        if let Some(p) = o.probs {
            areya_core::Probabilities::new(p.angry, p.happy, p.relaxed, p.sad)
                .map_err(|e| ApiError::Unprocessable(format!("observations[{i}].probs: {e}")))?;
        }
    }
    Ok(Json(app.ingest(&device.ward, body.observations).await?))
}
