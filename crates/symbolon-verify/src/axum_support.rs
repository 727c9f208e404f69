//! axum: the [`VerifiedToken`] extractor and the [`require_token`] middleware, answering
//! RFC 6750 errors as symbolon does (docs/API.md §2.1).

use crate::{AccessClaims, Verifier, VerifyError};
use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The claims of a verified access token of a live session.
///
/// As an extractor it verifies the request's `Authorization: Bearer` token with the
/// [`Verifier`] of the router's state (`Verifier: FromRef<S>`), unless
/// [`require_token`] already did (then it takes the claims that left).
#[derive(Debug, Clone)]
pub struct VerifiedToken(pub AccessClaims);

impl<S> FromRequestParts<S> for VerifiedToken
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Rejection> {
        if let Some(verified) = parts.extensions.get::<VerifiedToken>() {
            return Ok(verified.clone());
        }
        let verifier = Verifier::from_ref(state);
        let token = bearer_token(&parts.headers).ok_or(Rejection(VerifyError::Missing))?;
        Ok(VerifiedToken(verifier.verify_async(token).await?))
    }
}

/// Middleware that lets through only requests with a verified token, and puts the
/// [`VerifiedToken`] in the request's extensions (for `Extension<VerifiedToken>`, or the
/// extractor). Use it with `axum::middleware::from_fn_with_state(verifier,
/// require_token)`.
pub async fn require_token(
    State(verifier): State<Verifier>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer_token(request.headers()) else {
        return Rejection(VerifyError::Missing).into_response();
    };
    match verifier.verify_async(token).await {
        Ok(claims) => {
            request.extensions_mut().insert(VerifiedToken(claims));
            next.run(request).await
        }
        Err(e) => Rejection(e).into_response(),
    }
}

/// Why a request was refused, rendered as symbolon renders it: 401 `invalid_token` with
/// `WWW-Authenticate: Bearer error="invalid_token"` (so that the SDKs refresh and try
/// again), or 503 `server_error` with `Retry-After` when the verifier cannot judge now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection(pub VerifyError);

impl From<VerifyError> for Rejection {
    fn from(e: VerifyError) -> Self {
        Self(e)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let description = self.0.to_string();
        let (status, code) = if self.0.is_invalid_token() {
            (StatusCode::UNAUTHORIZED, "invalid_token")
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, "server_error")
        };
        let body = serde_json::json!({"error": code, "error_description": description});
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3.1: no error code when the request had no token at all.
            let challenge = match self.0 {
                VerifyError::Missing => "Bearer".to_owned(),
                _ => format!("Bearer error=\"invalid_token\", error_description=\"{description}\""),
            };
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        } else {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    symbolon_proto::bearer_token(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}
