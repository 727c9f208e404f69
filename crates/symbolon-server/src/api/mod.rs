//! The HTTP surface: the router, the response types and the generated OpenAPI document.

pub mod oauth;
pub mod ops;
pub mod simple;

use crate::auth::Issued;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

/// Requests over this size get 413 (contract §2).
pub const MAX_BODY: usize = 64 * 1024;

/// The token response of contract §2.
// No Debug: it holds both tokens.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The refresh token (opaque).
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_token_expires_in: i64,
    /// The session both belong to.
    pub session_id: String,
}

impl From<Issued> for TokenResponse {
    fn from(i: Issued) -> Self {
        Self {
            access_token: i.access_token,
            token_type: "Bearer",
            expires_in: i.expires_in,
            refresh_token: i.refresh_token.expose().to_owned(),
            refresh_token_expires_in: i.refresh_expires_in,
            session_id: i.session_id.to_string(),
        }
    }
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        no_store(axum::Json(self).into_response())
    }
}

/// Marks a response as not cacheable (RFC 6749 §5.1).
pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// An RFC 3339 UTC time.
pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The OpenAPI 3.1 document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "symbolon", description = "Self-hosted token service: access and rotating refresh tokens."),
    paths(
        simple::login, simple::refresh, simple::logout, simple::register, simple::password,
        simple::me, simple::sessions, simple::delete_session,
        oauth::token, oauth::revoke, oauth::introspect, oauth::jwks, oauth::metadata,
        ops::healthz, ops::readyz, ops::metrics, ops::openapi,
    ),
    components(schemas(TokenResponse, crate::error::ErrorBody)),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme the protected operations name: OpenAPI requires every
/// security requirement to refer to a scheme in `components.securitySchemes`.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Every route of contract §2.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/login", post(simple::login))
        .route("/token/refresh", post(simple::refresh))
        .route("/logout", post(simple::logout))
        .route("/register", post(simple::register))
        .route("/password", post(simple::password))
        .route("/me", get(simple::me))
        .route("/sessions", get(simple::sessions))
        .route("/sessions/{id}", delete(simple::delete_session))
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/revoke", post(oauth::revoke))
        .route("/oauth/introspect", post(oauth::introspect))
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
        // Method, path, status and latency at DEBUG; bodies and headers (where tokens
        // live) are never logged.
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
