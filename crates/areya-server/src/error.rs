//! Errors. [`AppError`] is what the server's logic (the App, the engine's commands, the
//! cluster, the limits) refuses or fails with, with no HTTP in it; [`ApiError`] is what a
//! client gets: a status code and a JSON body `{"error": "…"}` whose message names the field
//! or record at fault (an `AppError` becomes one at the route, by `?`); a refusal a dashboard
//! shows (a rule file's fault, a snooze too long) carries the same as words in `said`, for the
//! page to write in its reader's language. JSON bodies, query
//! strings and path parameters are read through [`ApiJson`], [`ApiQuery`] and [`ApiPath`], so
//! even the framework's own refusals are that JSON body and name what is wrong.

use areya_core::Words;
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
    /// A request the server cannot carry out as asked (a rule file's fault, a snooze too
    /// long): words a dashboard writes in its reader's language.
    #[error("{0}")]
    Unprocessable(Words),
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

/// What the server's own logic (the App, the engine's commands, the cluster, the limits)
/// refuses or fails with — no HTTP in it: a route turns it into an [`ApiError`] (a status and
/// the JSON body) at the edge.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    /// A value or request the ward cannot take (out of range, against the rules).
    #[error("{0}")]
    Refused(Words),
    /// One field out of range, named as the client wrote it (`observations[3].at_ms`).
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    /// Changed by someone else meanwhile.
    #[error("{0}")]
    Conflict(String),
    /// Not for this client (another ward's camera, say).
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    TooLarge(String),
    /// Too many at once (logins, streams); try later.
    #[error("{0}")]
    Busy(String),
    /// Nothing can do it now (no engine leader, the hashing pool full); try again.
    #[error("{0}")]
    Unavailable(String),
    #[error("storage unavailable: {0}")]
    Store(StoreError),
}

impl AppError {
    /// A refusal in English only (a library's or a stored file's words).
    pub fn refused(message: impl Into<Words>) -> AppError {
        AppError::Refused(message.into())
    }

    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> AppError {
        AppError::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// How a leader's answer names it to a follower (the cluster's command table keeps the
    /// numbers earlier versions wrote).
    pub fn wire_code(&self) -> u16 {
        match self {
            AppError::NotFound(_) => 404,
            AppError::Refused(_) | AppError::Invalid { .. } => 422,
            AppError::Conflict(_) => 409,
            AppError::NotAllowed(_) => 403,
            AppError::TooLarge(_) => 413,
            AppError::Busy(_) => 429,
            AppError::Unavailable(_) | AppError::Store(_) => 503,
        }
    }

    /// A follower reads the leader's answer back.
    pub fn from_wire(code: u16, message: String, said: Option<Words>) -> AppError {
        match code {
            404 => AppError::NotFound(message),
            409 => AppError::Conflict(message),
            403 => AppError::NotAllowed(message),
            413 => AppError::TooLarge(message),
            429 => AppError::Busy(message),
            400 | 422 => AppError::Refused(said.unwrap_or_else(|| message.into())),
            _ => AppError::Unavailable(message),
        }
    }

    /// What a client may be told: the database's own words stay in the server's log.
    pub fn client_message(&self) -> String {
        match self {
            AppError::Store(_) => STORE_DOWN.into(),
            e => e.to_string(),
        }
    }

    /// The words of a refusal, for a client to write in its reader's language.
    pub fn said(&self) -> Option<&Words> {
        match self {
            AppError::Refused(w) => Some(w),
            _ => None,
        }
    }
}

const STORE_DOWN: &str =
    "storage unavailable: the server could not save or read its records; try again shortly";

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(m) => AppError::Refused(m.into()),
            StoreError::Conflict(m) => AppError::Conflict(m),
            e => AppError::Store(e),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound(m) => ApiError::NotFound(m),
            AppError::Refused(m) => ApiError::Unprocessable(m),
            AppError::Invalid { field, problem } => ApiError::Invalid { field, problem },
            AppError::Conflict(m) => ApiError::Conflict(m),
            AppError::NotAllowed(m) => ApiError::Forbidden(m),
            AppError::TooLarge(m) => ApiError::TooLarge(m),
            AppError::Busy(m) => ApiError::TooMany(m),
            AppError::Unavailable(m) => ApiError::Unavailable(m),
            AppError::Store(e) => ApiError::Store(e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl ApiError {
    pub fn unprocessable(message: impl Into<Words>) -> ApiError {
        ApiError::Unprocessable(message.into())
    }

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
}

impl ApiError {
    /// What a client is told: the database's own words stay in the server's log.
    pub fn client_message(&self) -> String {
        match self {
            ApiError::Store(_) => STORE_DOWN.into(),
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
            said: match &self {
                ApiError::Unprocessable(w) => Some(w.clone()),
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
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(detail.into()),
        _ => ApiError::BadRequest(format!("body is not valid JSON: {detail}")),
    }
}
