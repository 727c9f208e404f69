//! The standard API: RFC 6749 token endpoint, RFC 7009 revocation, RFC 7662
//! introspection, RFC 7517 JWKS and RFC 8414 metadata.

use super::error::{ApiError, Dialect};
use super::extract::{basic_credentials, ApiForm};
use super::openapi::{BodyRejected, RateLimited, ServerFailed};
use super::{no_store, AppState, Tokens};
use crate::service::{ClientIdentity, FoundToken, RequestMeta};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use symbolon_core::ids::Password;
use symbolon_proto::{
    ErrorBody, Introspection, RevocationFeed, RevokedSession, ServerMetadata, TokenKind,
    TokenResponse,
};
use utoipa::ToSchema;

/// Identifies the client (RFC 6749 §2.3, §3.2.1): HTTP Basic for confidential clients,
/// a `client_id` parameter (or the built-in default) for public ones. Returns it with the
/// dialect its failures answer in.
async fn identify_client(
    state: &AppState,
    headers: &HeaderMap,
    meta: &RequestMeta,
    client_id: Option<&str>,
) -> Result<(ClientIdentity, Dialect), ApiError> {
    let credentials = basic_credentials(headers)?;
    let dialect = Dialect::OAuth {
        basic_attempted: credentials.is_some(),
    };
    if let Some(creds) = &credentials {
        if client_id.is_some_and(|p| p != creds.client_id) {
            return Err(ApiError::InvalidRequest(
                "client_id does not match the authenticated client".into(),
            ));
        }
    }
    let client = state
        .service()
        .clients()
        .identify(credentials, client_id, meta)
        .await
        .map_err(|e| ApiError::from_service(e, dialect))?;
    Ok((client, dialect))
}

/// The token request (RFC 6749 §4.3.2, §6).
// No Debug: it holds a refresh token and a password.
#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<Password>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    #[allow(dead_code)] // Accepted and ignored: symbolon has no scopes yet.
    scope: Option<String>,
}

// The forms as the OpenAPI document states them. The handlers parse the looser
// `TokenForm` and `TokenParam` instead, so that a missing parameter is RFC 6749's
// `invalid_request` "missing parameter: …" and an unknown `grant_type` its
// `unsupported_grant_type`; these types are never built.

/// A token request: the password grant or the refresh-token grant.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // A schema: never built.
pub enum TokenRequest {
    /// RFC 6749 §4.3.2.
    Password(PasswordGrant),
    /// RFC 6749 §6.
    RefreshToken(RefreshTokenGrant),
}

/// `grant_type=password`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // A schema: never built.
pub struct PasswordGrant {
    /// `password`.
    #[schema(inline)]
    grant_type: GrantPassword,
    /// The username (any string: an unknown or malformed one is `invalid_grant`).
    #[schema(min_length = 1)]
    username: String,
    /// The password.
    password: String,
    /// The client, when it does not authenticate with Basic; default `default_client_id`.
    #[serde(default)]
    client_id: String,
    /// Accepted and ignored.
    #[serde(default)]
    scope: String,
}

/// `grant_type=refresh_token`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // A schema: never built.
pub struct RefreshTokenGrant {
    /// `refresh_token`.
    #[schema(inline)]
    grant_type: GrantRefreshToken,
    /// The refresh token to rotate.
    #[schema(min_length = 1)]
    refresh_token: String,
    /// The client, when it does not authenticate with Basic; default `default_client_id`.
    #[serde(default)]
    client_id: String,
    /// Accepted and ignored.
    #[serde(default)]
    scope: String,
}

/// The password grant's `grant_type`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // A schema: never built.
pub enum GrantPassword {
    /// `password`.
    Password,
}

/// The refresh-token grant's `grant_type`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // A schema: never built.
pub enum GrantRefreshToken {
    /// `refresh_token`.
    RefreshToken,
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest(format!("missing parameter: {name}")))
}

/// The OAuth 2.0 token endpoint: `password` and `refresh_token` grants.
#[utoipa::path(post, path = "/oauth/token",
    request_body(content_type = "application/x-www-form-urlencoded", content = TokenRequest),
    responses(
        (status = 200, description = "A new session, or the successor of a refresh token", body = TokenResponse, links(
            ("refresh" = (operation_id = "token", request_body = json!({
                "grant_type": "refresh_token", "refresh_token": "$response.body#/refresh_token"}))),
            ("revoke" = (operation_id = "revoke",
                request_body = json!({"token": "$response.body#/refresh_token"}))))),
        (status = 400, description = "`invalid_request`: a missing parameter, a bad form, or a \
            `client_id` that differs from the Basic one; `unsupported_grant_type`; \
            `invalid_grant`: wrong password, refused refresh token", body = ErrorBody),
        (status = 401, description = "`invalid_client`: client identification failed", body = ErrorBody),
        RateLimited, BodyRejected, ServerFailed),
    security((), ("client_basic" = [])))]
pub async fn token(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    ApiForm(form): ApiForm<TokenForm>,
) -> Result<Tokens, ApiError> {
    let grant_type = required(&form.grant_type, "grant_type")?;
    if !matches!(grant_type, "password" | "refresh_token") {
        return Err(ApiError::UnsupportedGrantType);
    }
    let (client, dialect) =
        identify_client(&state, &headers, &meta, form.client_id.as_deref()).await?;
    let sessions = state.service().sessions();
    let issued = if grant_type == "password" {
        let username = required(&form.username, "username")?;
        let password = form
            .password
            .ok_or_else(|| ApiError::InvalidRequest("missing parameter: password".into()))?;
        sessions.login(username, password, &client.id, &meta).await
    } else {
        let token = required(&form.refresh_token, "refresh_token")?;
        sessions.refresh(token, &client.id, &meta).await
    };
    Ok(issued
        .map_err(|e| ApiError::from_service(e, dialect))?
        .into())
}

/// The revocation and introspection request (RFC 7009 §2.1, RFC 7662 §2.1).
// No Debug: it holds a token.
#[derive(Deserialize)]
pub struct TokenParam {
    token: Option<String>,
    #[allow(dead_code)] // Either kind is recognised by its form; the hint is not needed.
    token_type_hint: Option<String>,
    client_id: Option<String>,
}

/// A revocation request (RFC 7009 §2.1).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // A schema: never built.
pub struct RevocationRequest {
    /// An access or a refresh token.
    #[schema(min_length = 1)]
    token: String,
    /// Ignored: both kinds are recognised.
    #[serde(default)]
    token_type_hint: String,
    /// The client, when it does not authenticate with Basic; default `default_client_id`.
    #[serde(default)]
    client_id: String,
}

/// An introspection request (RFC 7662 §2.1).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // A schema: never built.
pub struct IntrospectionRequest {
    /// An access or a refresh token.
    #[schema(min_length = 1)]
    token: String,
    /// Ignored: both kinds are recognised.
    #[serde(default)]
    token_type_hint: String,
}

/// Revokes the session of an access or refresh token. 200 even for unknown tokens.
#[utoipa::path(post, path = "/oauth/revoke",
    request_body(content_type = "application/x-www-form-urlencoded", content = RevocationRequest),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke; empty body"),
        (status = 400, description = "`invalid_request`: no `token`, a bad form, or a \
            `client_id` that differs from the Basic one", body = ErrorBody),
        (status = 401, description = "`invalid_client`: client identification failed, or the \
            token's session belongs to a client the caller may not manage", body = ErrorBody),
        RateLimited, BodyRejected, ServerFailed),
    security((), ("client_basic" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    ApiForm(form): ApiForm<TokenParam>,
) -> Result<StatusCode, ApiError> {
    let token = required(&form.token, "token")?;
    let (client, dialect) =
        identify_client(&state, &headers, &meta, form.client_id.as_deref()).await?;
    state
        .service()
        .sessions()
        .revoke_token(&client, token, &meta)
        .await
        .map_err(|e| ApiError::from_service(e, dialect))?;
    Ok(StatusCode::OK)
}

/// Tells a resource server whether a token is active (RFC 7662). The caller
/// authenticates as a registered confidential client.
#[utoipa::path(post, path = "/oauth/introspect",
    request_body(content_type = "application/x-www-form-urlencoded", content = IntrospectionRequest),
    responses(
        (status = 200, description = "`{\"active\": false}`, or the token's claims", body = Introspection),
        (status = 400, description = "`invalid_request`: no `token`, or a bad form", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or failed client authentication", body = ErrorBody),
        (status = 403, description = "`forbidden`: the client lacks the `introspect` capability", body = ErrorBody),
        RateLimited, BodyRejected, ServerFailed),
    security(("client_basic" = [])))]
pub async fn introspect(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    ApiForm(form): ApiForm<TokenParam>,
) -> Result<Response, ApiError> {
    let (client, dialect) =
        identify_client(&state, &headers, &meta, form.client_id.as_deref()).await?;
    if !client.authenticated {
        return Err(ApiError::from_service(
            crate::service::ServiceError::ClientRejected,
            dialect,
        ));
    }
    let token = required(&form.token, "token")?;
    let sessions = state.service().sessions();
    let found = sessions
        .introspect(&client, token)
        .await
        .map_err(|e| ApiError::from_service(e, dialect))?;
    let body = match found {
        None => Introspection::default(),
        Some(FoundToken::Access(c, _)) => Introspection {
            active: true,
            token_type: Some(TokenKind::AccessToken),
            client_id: Some(c.client_id),
            username: Some(c.preferred_username),
            sub: Some(c.sub),
            aud: Some(c.aud),
            iss: Some(c.iss),
            exp: Some(c.exp),
            iat: Some(c.iat),
            jti: Some(c.jti),
            sid: Some(c.sid),
        },
        Some(FoundToken::Refresh(s)) => Introspection {
            active: true,
            token_type: Some(TokenKind::RefreshToken),
            exp: Some(sessions.refresh_expiry(&s)),
            iat: Some(s.rotated_at),
            sid: Some(s.id.to_string()),
            sub: Some(s.user_id.to_string()),
            iss: Some(state.service().settings().issuer.clone()),
            client_id: Some(s.client_id),
            username: Some(s.username),
            ..Introspection::default()
        },
    };
    Ok(no_store(Json(body).into_response()))
}

/// The query of a feed poll.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The last `seq` the reader has (the `cursor` of its last answer); 0 or absent: none,
    /// answer the whole window.
    #[param(minimum = 0)]
    after: Option<u64>,
    /// Seconds to wait for news when there is none (long poll), 0–30; default 0.
    #[param(minimum = 0, maximum = 30)]
    wait: Option<u64>,
    /// The most entries to answer, 1–1000; default 1000.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The revocation feed: the sessions revoked since the reader's cursor, for resource
/// servers that verify access tokens themselves (docs/API.md §2.8). The caller
/// authenticates as a confidential client with the `revocations` capability.
#[utoipa::path(get, path = "/revocations", params(FeedQuery),
    responses(
        (status = 200, description = "the entries beyond `after`, and the next cursor", body = RevocationFeed),
        (status = 400, description = "`invalid_request`: a bad query", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or failed client authentication", body = ErrorBody),
        (status = 403, description = "`forbidden`: the client lacks the `revocations` capability", body = ErrorBody),
        RateLimited, ServerFailed),
    security(("client_basic" = [])))]
pub async fn revocations(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    query: Result<axum::extract::Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let axum::extract::Query(query) =
        query.map_err(|e| ApiError::InvalidRequest(format!("bad query: {}", e.body_text())))?;
    let wait = query.wait.unwrap_or(0);
    let limit = query.limit.unwrap_or(crate::service::feed::MAX_LIMIT);
    if wait > crate::service::feed::MAX_WAIT.as_secs() {
        return Err(ApiError::InvalidRequest("wait must be at most 30".into()));
    }
    if !(1..=crate::service::feed::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidRequest("limit must be 1 to 1000".into()));
    }
    let (client, dialect) = identify_client(&state, &headers, &meta, None).await?;
    if !client.authenticated {
        return Err(ApiError::from_service(
            crate::service::ServiceError::ClientRejected,
            dialect,
        ));
    }
    let page = state
        .service()
        .feed()
        .poll(
            &client,
            crate::service::FeedRequest {
                after: query.after.unwrap_or(0),
                wait: std::time::Duration::from_secs(wait),
                limit,
            },
        )
        .await
        .map_err(|e| ApiError::from_service(e, dialect))?;
    let body = RevocationFeed {
        revoked: page
            .entries
            .into_iter()
            .map(|e| RevokedSession {
                seq: e.seq,
                sid: e.session_id.to_string(),
                revoked_at: e.revoked_at,
                until: e.revoked_at + page.window,
            })
            .collect(),
        cursor: page.cursor,
        more: page.more,
        reset: page.reset,
        window: page.window,
    };
    Ok(no_store(Json(body).into_response()))
}

/// The JWK Set (RFC 7517 §5).
#[derive(Debug, Serialize, ToSchema)]
pub struct Jwks {
    /// Each key with `kty`, `kid`, `alg`, `use: "sig"` and its parameters.
    #[schema(value_type = Vec<Object>)]
    keys: Vec<symbolon_core::keys::Jwk>,
}

/// Every public key whose tokens may still be valid.
#[utoipa::path(get, path = "/.well-known/jwks.json", responses(
    (status = 200, description = "RFC 7517 JWK Set", body = Jwks),
    (status = 500, description = "a stored signing key cannot be opened", body = ErrorBody),
    (status = 503, description = "this instance cannot read the signing keys now", body = ErrorBody)))]
pub async fn jwks(State(state): State<AppState>) -> Result<Json<Jwks>, ApiError> {
    let keys = state
        .service()
        .keys()
        .jwks()
        .await
        .map_err(|e| ApiError::from_service(e, Dialect::Simple))?;
    Ok(Json(Jwks {
        keys: keys.as_ref().clone(),
    }))
}

/// Authorization-server metadata (RFC 8414 §2).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server",
    responses((status = 200, description = "RFC 8414 metadata", body = ServerMetadata)))]
pub async fn metadata(State(state): State<AppState>) -> Json<ServerMetadata> {
    let base = &state.service().settings().issuer;
    let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
    Json(ServerMetadata {
        issuer: base.clone(),
        revocation_feed_endpoint: Some(format!("{base}/revocations")),
        token_endpoint: format!("{base}/oauth/token"),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        revocation_endpoint: format!("{base}/oauth/revoke"),
        introspection_endpoint: format!("{base}/oauth/introspect"),
        grant_types_supported: list(&["password", "refresh_token"]),
        response_types_supported: Vec::new(),
        token_endpoint_auth_methods_supported: list(&["none", "client_secret_basic"]),
        revocation_endpoint_auth_methods_supported: list(&["none", "client_secret_basic"]),
        introspection_endpoint_auth_methods_supported: list(&["client_secret_basic"]),
    })
}
