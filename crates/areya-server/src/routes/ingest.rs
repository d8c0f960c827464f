//! `POST /api/ingest`: observations from `areya watch` edge agents (device bearer token),
//! batched and idempotent by (source, time, frame), so a retry after a timeout or a server
//! restart stores nothing twice. The body is [`areya_core::IngestRequest`], the contract the
//! edge poster writes.

use crate::app::App;
use crate::auth::DeviceAuth;
use crate::command::Command;
use crate::error::{ApiError, ApiJson};
use crate::openapi::errors::{JsonBody, Malformed, NotAllowed, NotLoggedIn};
use areya_core::ErrorBody;
use areya_core::{IngestReport, IngestRequest};
use axum::extract::State;
use axum::Json;
use std::sync::Arc;

#[utoipa::path(
    post, path = "/api/ingest", tag = "ingest", operation_id = "ingest",
    summary = "Observations from an edge device; idempotent by (source, at_ms, frame)",
    description = "At most 1000 observations a request. A refusal names the item and field (`observations[3].at_ms`) so the edge can drop just that item.",
    security(("device" = [])),
    request_body = IngestRequest,
    responses((status = 200, body = IngestReport), Malformed, NotLoggedIn, NotAllowed, JsonBody, (status = 503, description = "The store cannot write; retry", body = ErrorBody))
)]
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
