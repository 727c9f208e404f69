//! The one place where failures become HTTP answers (`docs/API.md` §2: every error is
//! `{"error", "error_description"}`), including the one mapping from the service's
//! [`ServiceError`].

use crate::service::{AccessTokenProblem, KeysError, ServiceError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use symbolon_proto::{ErrorBody, ErrorCode};
use symbolon_store::StoreError;

/// A cause kept for the log; never sent.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// The `Retry-After` of a 503, in seconds.
pub const UNAVAILABLE_RETRY_AFTER: u64 = 1;

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
    /// 503 `server_error` with `Retry-After`: the database cannot serve now. The cause
    /// is logged, never sent.
    #[error("temporarily unavailable; retry later")]
    Unavailable(#[source] Cause),
    /// 500 `server_error`; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Cause),
}

/// Which API answers: they spell some failures differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The simple JSON API (and protected resources): `invalid_grant` is a 401.
    Simple,
    /// The OAuth 2.0 endpoints: `invalid_grant` is a 400 (RFC 6749 §5.2).
    OAuth {
        /// Whether the request carried HTTP Basic client credentials, which a refusal
        /// answers with `WWW-Authenticate: Basic`.
        basic_attempted: bool,
    },
}

impl ApiError {
    /// The answer to a service failure, as `dialect` spells it.
    pub fn from_service(error: ServiceError, dialect: Dialect) -> Self {
        use ServiceError as S;
        let grant = |description: String| Self::InvalidGrant {
            status: match dialect {
                Dialect::Simple => StatusCode::UNAUTHORIZED,
                Dialect::OAuth { .. } => StatusCode::BAD_REQUEST,
            },
            description,
        };
        match error {
            S::BadCredentials | S::WrongCurrentPassword | S::Refresh(_) => grant(error.to_string()),
            S::Throttled { retry_after } => Self::RateLimited(retry_after.max(1)),
            S::Busy => Self::RateLimited(1),
            S::AccessToken(AccessTokenProblem::Missing) => Self::InvalidToken(None),
            S::AccessToken(problem) => Self::InvalidToken(Some(problem.to_string())),
            S::Invalid(_) | S::WeakClientSecret | S::CapabilityNeedsSecret => {
                Self::InvalidRequest(error.to_string())
            }
            S::UsernameTaken | S::ClientExists(_) => Self::Conflict(error.to_string()),
            S::RegistrationClosed | S::NotPermitted(_) => Self::Forbidden(error.to_string()),
            S::NoSuchSession | S::NoSuchUser(_) => Self::NotFound(error.to_string()),
            S::ClientRejected | S::ForeignClient => Self::InvalidClient {
                basic_attempted: matches!(
                    dialect,
                    Dialect::OAuth {
                        basic_attempted: true
                    }
                ),
            },
            S::Store(StoreError::Unavailable(_))
            | S::Keys(KeysError::Store(StoreError::Unavailable(_))) => {
                Self::Unavailable(Box::new(error))
            }
            S::Store(_) | S::Signing(_) | S::Keys(_) | S::Hashing(_) | S::RotationContention => {
                Self::Internal(Box::new(error))
            }
        }
    }

    fn parts(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest),
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::InvalidRequest),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::InvalidRequest,
            ),
            Self::InvalidGrant { status, .. } => (*status, ErrorCode::InvalidGrant),
            Self::InvalidClient { .. } => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidClient),
            Self::UnsupportedGrantType => {
                (StatusCode::BAD_REQUEST, ErrorCode::UnsupportedGrantType)
            }
            Self::InvalidToken(_) => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidToken),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::InvalidRequest),
            Self::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ServerError),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::ServerError),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        Self::from_service(error, Dialect::Simple)
    }
}

/// An error and its causes, each said once: `a: b: c`.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        match &self {
            Self::Internal(cause) => {
                tracing::error!(cause = %chain(cause.as_ref()), "request failed")
            }
            Self::Unavailable(cause) => {
                tracing::warn!(cause = %chain(cause.as_ref()), "request failed: the database is unavailable")
            }
            _ => {}
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
            // Soon: the SDK retries a refresh only within its short pauses.
            Self::Unavailable(_) => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(UNAVAILABLE_RETRY_AFTER),
                );
            }
            _ => {}
        }
        // Errors from token endpoints must not be cached either (RFC 6749 §5.2).
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
