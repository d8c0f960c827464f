//! FHIR for an integration engine: the patient export answers `application/fhir+json` and
//! honours `_format`; `/fhir/metadata` says what is offered (a CapabilityStatement) and
//! `/fhir/CodeSystem/areya` publishes Areya's own codes.

use crate::error::ApiError;
use areya_core::ErrorBody;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// The media type of every FHIR answer.
pub const FHIR_JSON: &str = "application/fhir+json; fhirVersion=4.0";

/// `_format` (FHIR's override of Accept), on every FHIR route.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Format {
    /// `json`, `application/json` or `application/fhir+json` (XML and Turtle are not offered).
    #[serde(rename = "_format")]
    #[param(rename = "_format")]
    pub format: Option<String>,
}

fn is_json(media: &str) -> bool {
    let m = media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        m.as_str(),
        "json"
            | "application/json"
            | "application/fhir+json"
            | "application/json+fhir"
            | "*/*"
            | "application/*"
    )
}

/// Refuses (406) a client that asks only for what is not offered: `_format` wins over Accept.
pub fn negotiate(format: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(f) = format {
        return if is_json(f) && f != "*/*" && f != "application/*" {
            Ok(())
        } else {
            Err(ApiError::NotAcceptable(format!(
                "_format: '{}' is not offered; use json (application/fhir+json)",
                f.chars().take(60).collect::<String>()
            )))
        };
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("*/*");
    if accept.split(',').any(is_json) {
        Ok(())
    } else {
        Err(ApiError::NotAcceptable(format!(
            "Accept: '{}' is not offered; accept application/fhir+json",
            accept.chars().take(80).collect::<String>()
        )))
    }
}

/// A FHIR resource as an answer.
pub fn fhir_json(v: Value) -> Response {
    ([(header::CONTENT_TYPE, FHIR_JSON)], Json(v)).into_response()
}

/// The CapabilityStatement: what an integration engine can do here.
pub fn capability_statement(now_ms: i64) -> Value {
    json!({
        "resourceType": "CapabilityStatement",
        "id": "areya",
        "url": "urn:areya:fhir:capability",
        "version": env!("CARGO_PKG_VERSION"),
        "name": "AreyaCapability",
        "title": "Areya bedside emotion monitoring",
        "status": "active",
        "date": areya_core::time::iso8601_utc(now_ms),
        "publisher": "Areya",
        "kind": "instance",
        "software": {"name": "Areya", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Areya server: a patient's monitoring record as a FHIR R4 collection Bundle"},
        "fhirVersion": "4.0.1",
        "format": ["json", "application/fhir+json"],
        "rest": [{
            "mode": "server",
            "documentation": "GET /api/patients/{id}/fhir?hours=N (1–72) returns a collection Bundle of the patient (Areya's id and the hospital's identifiers), an Observation per window and per attention score, a CommunicationRequest per alert, a Communication per acknowledgement, a Flag per open alert and Areya's CodeSystem; every reference resolves inside it. Every export is audited. See /openapi.json.",
            "security": {
                "cors": false,
                "description": "A staff session (the cookie of POST /api/login) with access to the patient's ward; the export is written to the audit log."
            },
            "resource": [
                {"type": "CodeSystem", "interaction": [{"code": "read"}], "documentation": "GET /fhir/CodeSystem/areya: Areya's own codes"}
            ]
        }]
    })
}

#[utoipa::path(
    get, path = "/fhir/metadata", tag = "fhir", operation_id = "fhirMetadata",
    summary = "The FHIR CapabilityStatement (public)",
    params(Format),
    responses((status = 200, description = "CapabilityStatement", content_type = "application/fhir+json", body = serde_json::Value), (status = 406, description = "Only JSON is offered", body = ErrorBody))
)]
pub async fn metadata(
    axum::extract::State(app): axum::extract::State<std::sync::Arc<crate::app::App>>,
    headers: HeaderMap,
    crate::error::ApiQuery(f): crate::error::ApiQuery<Format>,
) -> Result<Response, ApiError> {
    negotiate(f.format.as_deref(), &headers)?;
    Ok(fhir_json(capability_statement(app.now())))
}

#[utoipa::path(
    get, path = "/fhir/CodeSystem/areya", tag = "fhir", operation_id = "fhirCodeSystem",
    summary = "Areya's CodeSystem: every code of urn:areya:fhir:codes with its definition (public)",
    params(Format),
    responses((status = 200, description = "CodeSystem", content_type = "application/fhir+json", body = serde_json::Value), (status = 406, description = "Only JSON is offered", body = ErrorBody))
)]
pub async fn code_system(
    headers: HeaderMap,
    crate::error::ApiQuery(f): crate::error::ApiQuery<Format>,
) -> Result<Response, ApiError> {
    negotiate(f.format.as_deref(), &headers)?;
    Ok(fhir_json(areya_monitor::fhir::code_system()))
}
