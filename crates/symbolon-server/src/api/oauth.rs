//! The standard API: RFC 6749 token endpoint, RFC 7009 revocation, RFC 7662
//! introspection, RFC 7517 JWKS and RFC 8414 metadata.

use super::TokenResponse;
use crate::auth::{self, AuthError, LogoutScope, RequestMeta};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{basic_credentials, ApiForm};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use symbolon_core::ids::Password;
use symbolon_store::SessionRecord;

/// The client a request acts for (RFC 6749 §2).
#[derive(Debug)]
struct Client {
    id: String,
    /// Authenticated with a secret (a confidential client).
    authenticated: bool,
}

/// Identifies the client: HTTP Basic for confidential clients, a `client_id`
/// parameter (or the built-in default) for public ones. RFC 6749 §2.3, §3.2.1.
async fn identify_client(
    state: &AppState,
    headers: &HeaderMap,
    meta: &RequestMeta,
    param: Option<&str>,
) -> Result<Client, ApiError> {
    if let Some(creds) = basic_credentials(headers)? {
        let denied = || ApiError::InvalidClient {
            basic_attempted: true,
        };
        if param.is_some_and(|p| p != creds.client_id) {
            return Err(ApiError::InvalidRequest(
                "client_id does not match the authenticated client".into(),
            ));
        }
        // Secret guesses are throttled like passwords, per client and per IP.
        let keys = auth::throttle_keys(&format!("client:{}", creds.client_id), meta.ip);
        auth::guarded(state, &keys, async {
            let record = state.store().client(&creds.client_id).await?;
            let stored = record.as_ref().and_then(|c| c.secret_hash.clone());
            let has_secret = stored.is_some();
            // Unknown clients cost a dummy hash too, so their existence does not show.
            let ok = state
                .hasher
                .verify(&state.metrics, creds.secret, stored)
                .await?;
            Ok((ok && has_secret).then_some(()))
        })
        .await
        .map_err(|e| match e {
            AuthError::BadCredentials => denied(),
            other => other.into_api(StatusCode::BAD_REQUEST),
        })?;
        return Ok(Client {
            id: creds.client_id,
            authenticated: true,
        });
    }
    let id = param.unwrap_or(&state.config.default_client_id).to_owned();
    if id == state.config.default_client_id {
        return Ok(Client {
            id,
            authenticated: false,
        });
    }
    match state.store().client(&id).await? {
        Some(c) if c.secret_hash.is_none() => Ok(Client {
            id,
            authenticated: false,
        }),
        // A confidential client must authenticate; an unknown one is refused.
        _ => Err(ApiError::InvalidClient {
            basic_attempted: false,
        }),
    }
}

/// Whether a session's tokens may be managed by `client` without further proof.
async fn may_manage(
    state: &AppState,
    client: &Client,
    session: &SessionRecord,
) -> Result<bool, ApiError> {
    if client.authenticated {
        return Ok(client.id == session.client_id);
    }
    if session.client_id == state.config.default_client_id {
        return Ok(true);
    }
    let confidential = state
        .store()
        .client(&session.client_id)
        .await?
        .is_some_and(|c| c.secret_hash.is_some());
    Ok(!confidential)
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

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest(format!("missing parameter: {name}")))
}

/// The OAuth 2.0 token endpoint: `password` and `refresh_token` grants.
#[utoipa::path(post, path = "/oauth/token",
    request_body(content_type = "application/x-www-form-urlencoded", content = String,
        description = "grant_type=password&username=..&password=.. or grant_type=refresh_token&refresh_token=.."),
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn token(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    ApiForm(form): ApiForm<TokenForm>,
) -> Result<TokenResponse, ApiError> {
    let grant_type = required(&form.grant_type, "grant_type")?;
    if !matches!(grant_type, "password" | "refresh_token") {
        return Err(ApiError::UnsupportedGrantType);
    }
    let client = identify_client(&state, &headers, &meta, form.client_id.as_deref()).await?;
    // RFC 6749 §5.2: invalid_grant is a 400 here.
    let grant = |e: AuthError| e.into_api(StatusCode::BAD_REQUEST);
    let issued = if grant_type == "password" {
        let username = required(&form.username, "username")?;
        let password = form
            .password
            .ok_or_else(|| ApiError::InvalidRequest("missing parameter: password".into()))?;
        auth::login(&state, username, password, &client.id, &meta)
            .await
            .map_err(grant)?
    } else {
        let token = required(&form.refresh_token, "refresh_token")?;
        auth::refresh(&state, token, &client.id, &meta)
            .await
            .map_err(grant)?
    };
    Ok(issued.into())
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

/// Which token a presented string is, and its session.
enum Found {
    Refresh(SessionRecord),
    Access(symbolon_core::access::AccessClaims, SessionRecord),
}

/// `reuse_from`: see [`auth::session_of_refresh_token`].
async fn find_token(
    state: &AppState,
    token: &str,
    reuse_from: Option<&RequestMeta>,
) -> Result<Option<Found>, ApiError> {
    if let Ok(session) = auth::session_of_refresh_token(state, token, reuse_from).await {
        return Ok(Some(Found::Refresh(session)));
    }
    match auth::authenticate(state, token).await {
        Ok((claims, session)) => Ok(Some(Found::Access(claims, session))),
        Err(ApiError::InvalidToken(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Revokes the session of an access or refresh token. 200 even for unknown tokens.
#[utoipa::path(post, path = "/oauth/revoke",
    request_body(content_type = "application/x-www-form-urlencoded", content = String, description = "token=..&token_type_hint=.."),
    responses((status = 200), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    ApiForm(form): ApiForm<TokenParam>,
) -> Result<StatusCode, ApiError> {
    let token = required(&form.token, "token")?;
    let client = identify_client(&state, &headers, &meta, form.client_id.as_deref()).await?;
    let session = match find_token(&state, token, Some(&meta)).await? {
        Some(Found::Refresh(s)) | Some(Found::Access(_, s)) => s,
        None => return Ok(StatusCode::OK),
    };
    if !may_manage(&state, &client, &session).await? {
        // RFC 7009 §2.1: a token issued to another client is refused.
        return Err(ApiError::InvalidClient {
            basic_attempted: client.authenticated,
        });
    }
    auth::logout(&state, &session, LogoutScope::Local, &meta).await?;
    Ok(StatusCode::OK)
}

/// Tells a resource server whether a token is active (RFC 7662). The caller
/// authenticates as a registered confidential client.
#[utoipa::path(post, path = "/oauth/introspect",
    request_body(content_type = "application/x-www-form-urlencoded", content = String, description = "token=.."),
    responses((status = 200, description = "RFC 7662 §2.2 response"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub async fn introspect(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    ApiForm(form): ApiForm<TokenParam>,
) -> Result<Response, ApiError> {
    let client = identify_client(&state, &headers, &meta, form.client_id.as_deref()).await?;
    if !client.authenticated {
        return Err(ApiError::InvalidClient {
            basic_attempted: false,
        });
    }
    let token = required(&form.token, "token")?;
    let body = match find_token(&state, token, None).await? {
        None => json!({"active": false}),
        Some(Found::Access(c, _)) => json!({
            "active": true, "token_type": "access_token", "client_id": c.client_id,
            "username": c.preferred_username, "sub": c.sub, "aud": c.aud, "iss": c.iss,
            "exp": c.exp, "iat": c.iat, "jti": c.jti, "sid": c.sid,
        }),
        Some(Found::Refresh(s)) => json!({
            "active": true, "token_type": "refresh_token", "client_id": s.client_id,
            "username": s.username, "sub": s.user_id.to_string(), "iss": state.issuer,
            "exp": s.clock().current_token_expiry(&state.policy), "iat": s.rotated_at,
            "sid": s.id.to_string(),
        }),
    };
    Ok(super::no_store(Json(body).into_response()))
}

/// The JWK Set (RFC 7517 §5).
#[derive(Debug, Serialize)]
pub struct Jwks {
    keys: Vec<symbolon_core::keys::Jwk>,
}

/// Every public key whose tokens may still be valid.
#[utoipa::path(get, path = "/.well-known/jwks.json", responses((status = 200, description = "RFC 7517 JWK Set")))]
pub async fn jwks(State(state): State<AppState>) -> Json<Jwks> {
    Json(Jwks {
        keys: state.keys.jwks().as_ref().clone(),
    })
}

/// Authorization-server metadata (RFC 8414 §2).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server",
    responses((status = 200, description = "RFC 8414 metadata")))]
pub async fn metadata(State(state): State<AppState>) -> Json<Value> {
    let base = &state.issuer;
    Json(json!({
        "issuer": base,
        "token_endpoint": format!("{base}/oauth/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "grant_types_supported": ["password", "refresh_token"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
    }))
}
