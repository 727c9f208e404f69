//! The one place where failures become HTTP answers (contract §2: every error is
//! `{"error", "error_description"}`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use symbolon_store::StoreError;

/// Every error the HTTP layer can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_request` (RFC 6749 §5.2): missing or malformed parameters.
    #[error("{0}")]
    InvalidRequest(String),
    /// 413 `invalid_request`: the body is over 64 KiB.
    #[error("request body too large")]
    TooLarge,
    /// 415 `invalid_request`: wrong content type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// `invalid_grant` (RFC 6749 §5.2): 401 on the simple API, 400 on `/oauth/token`.
    #[error("{description}")]
    InvalidGrant {
        /// 400 or 401.
        status: StatusCode,
        /// Safe text for the client.
        description: String,
    },
    /// 401 `invalid_client` (RFC 6749 §5.2); with `WWW-Authenticate: Basic` when the
    /// client tried HTTP Basic.
    #[error("client authentication failed")]
    InvalidClient {
        /// Whether an Authorization header was sent.
        basic_attempted: bool,
    },
    /// 400 `unsupported_grant_type`.
    #[error("grant_type must be password or refresh_token")]
    UnsupportedGrantType,
    /// 401 on protected resources (RFC 6750 §3). `None`: no token was sent.
    #[error("{}", .0.as_deref().unwrap_or("an access token is required"))]
    InvalidToken(Option<String>),
    /// 403 `forbidden`.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `not_found`.
    #[error("{0}")]
    NotFound(String),
    /// 405, reported as `invalid_request`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 `conflict`.
    #[error("{0}")]
    Conflict(String),
    /// 429 `rate_limited` with `Retry-After` seconds.
    #[error("too many attempts; retry later")]
    RateLimited(u64),
    /// 500 `server_error`; the cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 401 `invalid_grant` for the simple API.
    pub fn grant_401(description: impl Into<String>) -> Self {
        Self::InvalidGrant {
            status: StatusCode::UNAUTHORIZED,
            description: description.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request")
            }
            Self::InvalidGrant { status, .. } => (*status, "invalid_grant"),
            Self::InvalidClient { .. } => (StatusCode::UNAUTHORIZED, "invalid_client"),
            Self::UnsupportedGrantType => (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
            Self::InvalidToken(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "invalid_request"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::Conflict("already exists".into()),
            other => Self::Internal(crate::error_chain(&other)),
        }
    }
}

/// The error body of contract §2.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// One of the contract's error codes.
    pub error: &'static str,
    /// Human-readable text; never contains a secret or an internal detail.
    pub error_description: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let body = ErrorBody {
            error: code,
            error_description: self.to_string(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::InvalidToken(None) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"symbolon\""),
                );
            }
            Self::InvalidToken(Some(description)) => {
                // Descriptions are our own fixed texts: no quotes or control characters.
                let value = format!("Bearer realm=\"symbolon\", error=\"invalid_token\", error_description=\"{description}\"");
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
            }
            Self::InvalidClient {
                basic_attempted: true,
            } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"symbolon\""),
                );
            }
            Self::RateLimited(seconds) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
            }
            _ => {}
        }
        // Errors from token endpoints must not be cached either (RFC 6749 §5.2).
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
