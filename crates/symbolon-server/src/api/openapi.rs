//! The OpenAPI 3.1 document (`GET /openapi.json`, `docs/API.md` §2.6), generated from the
//! handlers' annotations: the security schemes they name and the error answers many of
//! them share. `scripts/schemathesis.sh` fuzzes the server against it.

use super::{oauth, ops, simple};
use symbolon_proto::{CookieTokenResponse, ErrorBody, TokenResponse};
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::OpenApi;

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "symbolon", description = "Self-hosted token service: access and rotating refresh tokens. The reference is docs/API.md."),
    paths(
        simple::login, simple::refresh, simple::logout, simple::register, simple::password_change,
        simple::me, simple::sessions, simple::delete_session,
        oauth::token, oauth::revoke, oauth::introspect, oauth::revocations, oauth::jwks, oauth::metadata,
        ops::healthz, ops::readyz, ops::metrics, ops::openapi,
    ),
    components(schemas(TokenResponse, CookieTokenResponse, ErrorBody)),
    modifiers(&SecuritySchemes, &OptionalLogoutBody)
)]
pub struct ApiDoc;

/// The document as `GET /openapi.json` serves it.
pub fn document() -> Result<serde_json::Value, serde_json::Error> {
    let mut doc = serde_json::to_value(ApiDoc::openapi())?;
    // utoipa 5.5 writes the Link Object's fields in snake case; OpenAPI 3.1 §4.8.20
    // spells them `operationRef`, `operationId`, `requestBody`.
    let operations = doc["paths"].as_object_mut().into_iter().flat_map(|paths| {
        paths
            .values_mut()
            .filter_map(|p| p.as_object_mut())
            .flat_map(|p| p.values_mut())
    });
    for operation in operations {
        let responses = operation["responses"].as_object_mut().into_iter().flatten();
        for (_, response) in responses {
            let links = response["links"].as_object_mut().into_iter().flatten();
            for (_, link) in links {
                let Some(link) = link.as_object_mut() else {
                    continue;
                };
                for (snake, camel) in [
                    ("operation_ref", "operationRef"),
                    ("operation_id", "operationId"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(value) = link.remove(snake) {
                        link.insert(camel.to_owned(), value);
                    }
                }
            }
        }
    }
    Ok(doc)
}

/// `POST /logout` takes an optional body (`docs/API.md` §2.3): not required, and when
/// sent, a [`symbolon_proto::LogoutRequest`] (utoipa's `Option<T>` would also admit a
/// JSON `null`, which the server refuses).
struct OptionalLogoutBody;

impl utoipa::Modify for OptionalLogoutBody {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let body = openapi
            .paths
            .paths
            .get_mut("/logout")
            .and_then(|item| item.post.as_mut())
            .and_then(|operation| operation.request_body.as_mut());
        if let Some(body) = body {
            body.required = Some(utoipa::openapi::Required::False);
        }
    }
}

/// The schemes the operations name (OpenAPI requires every security requirement to refer
/// to one in `components.securitySchemes`), and the OAuth 2.0 password flow, so that
/// OAuth tooling finds the token endpoint.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "An access token (docs/API.md §1.1) of a live session.",
            ))
            .build();
        let basic = HttpBuilder::new()
            .scheme(HttpAuthScheme::Basic)
            .description(Some(
                "A registered confidential client: client_id and secret, each form-urlencoded \
                 (RFC 6749 §2.3.1).",
            ))
            .build();
        let flow = Password::with_refresh_url("/oauth/token", Scopes::new(), "/oauth/token");
        let oauth2 = OAuth2::with_description(
            [Flow::Password(flow)],
            "The tokens of POST /oauth/token are the bearer tokens of `bearer`.",
        );
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        components.add_security_scheme("client_basic", SecurityScheme::Http(basic));
        components.add_security_scheme("oauth2", SecurityScheme::OAuth2(oauth2));
    }
}

/// The answers of every operation that reads a body, before its handler runs
/// (`docs/API.md` §2.1).
#[derive(utoipa::IntoResponses)]
pub enum BodyRejected {
    /// `invalid_request`: the body is over 64 KiB.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// `invalid_request`: the body is not of the operation's media type.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
}

/// The answers of every operation that needs the database (`docs/API.md` §2.1, §5.1).
#[derive(utoipa::IntoResponses)]
pub enum ServerFailed {
    /// `server_error`: internal error; the cause is logged.
    #[response(status = 500)]
    Internal(ErrorBody),
    /// `server_error`: the database cannot serve now; retry.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds (1)")))]
    Unavailable(ErrorBody),
}

/// `rate_limited`: brute-force back-off, or too many password checks queued
/// (`docs/API.md` §2.7).
#[derive(utoipa::IntoResponses)]
#[response(
    status = 429,
    headers(("Retry-After" = u64, description = "Seconds until a retry may succeed (at least 1)"))
)]
pub struct RateLimited(pub ErrorBody);

/// `X-Symbolon-Cookie`: the browser cookie mode (`docs/API.md` §2.9).
#[derive(utoipa::IntoParams)]
#[into_params(names("X-Symbolon-Cookie"), parameter_in = Header)]
pub struct CookieHeader(
    /// `1` asks for the browser cookie mode (docs/API.md §2.9): the refresh token travels
    /// only in the `HttpOnly` cookie `__Host-symbolon-refresh`. The request must then come
    /// from an allowed `Origin` (or carry `Sec-Fetch-Site: same-origin`), else 403.
    #[allow(dead_code)]
    Option<String>,
);

/// `forbidden`: a cookie-mode request failing the CSRF check (`docs/API.md` §2.9).
#[derive(utoipa::IntoResponses)]
#[response(status = 403)]
pub struct CookieForbidden(pub ErrorBody);
