//! API errors: every failure is a status code and a JSON body `{"error": "…"}` whose message
//! names the field or record at fault. JSON bodies are read through [`ApiJson`], so a missing
//! or mistyped field is a 422 that says which, not a bare 400.

use areya_store::StoreError;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("log in first")]
    Unauthorized,
    /// A login with a wrong name or password (which of the two is not said).
    #[error("wrong user name or password")]
    LoginFailed,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    /// One field of the request is out of range; the body names it in `field` too, so a
    /// client can drop just that item of a batch (`observations[3].at_ms`).
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMedia(String),
    #[error("{0}")]
    TooMany(String),
    #[error("storage unavailable: {0}")]
    Store(StoreError),
    /// Nothing can do it now (no server runs the ward engine at the moment); try again.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The client accepts only what is not offered (FHIR XML, say).
    #[error("{0}")]
    NotAcceptable(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(m) => ApiError::Unprocessable(m),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            e => ApiError::Store(e),
        }
    }
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> ApiError {
        ApiError::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::LoginFailed => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) | ApiError::Invalid { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Store(_) | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
        }
    }

    /// The error another server answered with (a command run by the engine leader).
    pub fn from_status(status: u16, message: String) -> ApiError {
        match status {
            400 => ApiError::BadRequest(message),
            401 => ApiError::Unauthorized,
            403 => ApiError::Forbidden(message),
            404 => ApiError::NotFound(message),
            405 => ApiError::MethodNotAllowed(message),
            406 => ApiError::NotAcceptable(message),
            409 => ApiError::Conflict(message),
            413 => ApiError::TooLarge(message),
            415 => ApiError::UnsupportedMedia(message),
            422 => ApiError::Unprocessable(message),
            429 => ApiError::TooMany(message),
            _ => ApiError::Unavailable(message),
        }
    }
}

impl ApiError {
    /// What a client is told: the database's own words stay in the server's log.
    pub fn client_message(&self) -> String {
        match self {
            ApiError::Store(_) => "storage unavailable: the server could not save or read its \
                                  records; try again shortly"
                .into(),
            _ => self.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Store(e) = &self {
            tracing::error!("{e}");
        }
        let body = areya_core::ErrorBody {
            error: self.client_message(),
            field: match &self {
                ApiError::Invalid { field, .. } => Some(field.clone()),
                _ => None,
            },
        };
        (self.status(), Json(body)).into_response()
    }
}

/// A query string whose rejections are [`ApiError`]s (the framework's own answer is plain
/// text). Parameters a route does not know are ignored, on every route alike.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, St: Send + Sync> FromRequestParts<St> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(r) => {
                let text = r.body_text();
                let detail = text.rsplit_once(": ").map_or(text.as_str(), |(_, d)| d);
                Err(ApiError::BadRequest(format!("query string: {detail}")))
            }
        }
    }
}

/// Path parameters whose rejections are [`ApiError`]s naming the parameter.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, St: Send + Sync> FromRequestParts<St> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(r) => {
                let what = match &r {
                    PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
                        ErrorKind::ParseErrorAtKey { key, value, .. } => {
                            format!("{key}: '{value}' is not a valid value")
                        }
                        ErrorKind::ParseError { value, .. } => {
                            // A single parameter: name it from the route.
                            let key =
                                axum::extract::RawPathParams::from_request_parts(parts, state)
                                    .await
                                    .ok()
                                    .and_then(|p| p.iter().next().map(|(k, _)| k.to_string()));
                            match key {
                                Some(k) => format!("{k}: '{value}' is not a valid value"),
                                None => format!("'{value}' is not a valid value in the path"),
                            }
                        }
                        _ => e.body_text(),
                    },
                    other => other.body_text(),
                };
                Err(ApiError::BadRequest(what))
            }
        }
    }
}

/// A JSON request body whose rejections are [`ApiError`]s.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, St: Send + Sync> FromRequest<St> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let text = r.body_text();
    // serde's message names the field ("missing field `actionable`", "unknown variant …").
    let detail = text
        .split_once(": ")
        .map(|(_, d)| d.to_string())
        .unwrap_or(text.clone());
    match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::TooLarge(format!("request body too large: {detail}"))
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::UnsupportedMedia("send the body as Content-Type: application/json".into())
        }
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(detail),
        _ => ApiError::BadRequest(format!("body is not valid JSON: {detail}")),
    }
}
