//! The HTTP layer: the router, extractors, handlers of a few lines each that call the
//! [`service`](crate::service) and render its results, the one error mapping
//! ([`error`]), and the generated OpenAPI document. Only this module knows HTTP.

pub mod body;
pub mod cookie;
pub mod error;
pub mod extract;
pub mod oauth;
pub mod openapi;
pub mod ops;
pub mod simple;
pub mod state;

pub use error::{ApiError, Dialect};
pub use openapi::ApiDoc;
pub use state::{AppState, BrowserSettings, HttpSettings};

use crate::service::Issued;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use symbolon_proto::{Secret, TokenResponse, BEARER};

/// Requests over this size get 413 (`docs/API.md` §2).
pub const MAX_BODY: usize = 64 * 1024;

/// A token pair as the JSON APIs render it; never cached.
#[derive(Debug)]
pub struct Tokens(pub TokenResponse);

impl From<Issued> for Tokens {
    fn from(issued: Issued) -> Self {
        Self(TokenResponse {
            access_token: Secret::new(issued.access_token),
            token_type: BEARER.to_owned(),
            expires_in: issued.expires_in.max(0) as u64,
            refresh_token: Secret::new(issued.refresh_token.expose()),
            refresh_token_expires_in: issued.refresh_expires_in.max(0) as u64,
            session_id: issued.session_id.to_string(),
        })
    }
}

impl IntoResponse for Tokens {
    fn into_response(self) -> Response {
        no_store(Json(self.0).into_response())
    }
}

/// Marks a response as not cacheable (RFC 6749 §5.1).
pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Every route of `docs/API.md` §2.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/login", post(simple::login))
        .route("/token/refresh", post(simple::refresh))
        .route("/logout", post(simple::logout))
        .route("/register", post(simple::register))
        .route("/password", post(simple::password_change))
        .route("/me", get(simple::me))
        .route("/sessions", get(simple::sessions))
        .route("/sessions/{id}", delete(simple::delete_session))
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/revoke", post(oauth::revoke))
        .route("/oauth/introspect", post(oauth::introspect))
        .route("/revocations", get(oauth::revocations))
        .route("/.well-known/jwks.json", get(oauth::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth::metadata),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        // CORS preflights and headers, and the CSRF check of the cookie mode (§2.9).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cookie::browser,
        ))
        // Method, path, status and latency at DEBUG; bodies and headers (where tokens
        // live) are never logged.
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
