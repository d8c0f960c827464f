//! `POST /api/ingest`: observations from `areya watch` edge agents (device bearer token),
//! batched and idempotent by (source, time, frame), so a retry after a timeout or a server
//! restart stores nothing twice. The body is [`areya_core::IngestRequest`], the contract the
//! edge poster writes.

use crate::app::App;
use crate::auth::DeviceAuth;
use crate::command::Command;
use crate::error::{ApiError, ApiJson};
use areya_core::{IngestReport, IngestRequest};
use axum::extract::State;
use axum::Json;
use std::sync::Arc;

pub async fn ingest(
    State(app): State<Arc<App>>,
    DeviceAuth(device): DeviceAuth,
    ApiJson(body): ApiJson<IngestRequest>,
) -> Result<Json<IngestReport>, ApiError> {
    // Before checking each item: an oversized batch is refused as a whole.
    app.check_batch(body.observations.len())?;
    let body = body
        .check()
        .map_err(|e| ApiError::invalid(e.field, e.problem))?;
    for h in body.health {
        app.run(Command::ModelHealth {
            ward: device.ward.clone(),
            patient: h.patient,
            error: h.model_error,
        })
        .await?;
    }
    Ok(Json(app.ingest(&device.ward, body.observations).await?))
}
