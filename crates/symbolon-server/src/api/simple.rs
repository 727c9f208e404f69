//! The simple API (`docs/API.md` §2): JSON in, JSON out, `invalid_grant` as 401.

use super::cookie::Browser;
use super::error::ApiError;
use super::extract::{bearer_token, is_json, json_object, not_json, rejection, ApiJson};
use super::openapi::{BodyRejected, CookieForbidden, CookieHeader, RateLimited, ServerFailed};
use super::{AppState, Tokens};
use crate::rfc3339;
use crate::service::{Authenticated, Credential, RequestMeta};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use symbolon_core::ids::Password;
use symbolon_proto::{
    Credentials, ErrorBody, LogoutRequest, LogoutScope, MeView, PasswordChange, RefreshRequest,
    Registration, SessionView, TokenResponse, UserView,
};

/// A password as the core types keep it (wiped on drop), moved out of its wire wrapper.
fn password(secret: symbolon_proto::Secret) -> Password {
    Password::new(secret.into_inner())
}

/// The 400 of a cookie-mode request that also sends a refresh token in its body.
fn token_in_body() -> ApiError {
    ApiError::InvalidRequest(
        "in cookie mode the refresh token travels only in its cookie: send no refresh_token".into(),
    )
}

/// A body that may be empty (`POST /logout`, and `POST /token/refresh` in cookie mode):
/// empty or whitespace is the default; otherwise it must be JSON, and a JSON object.
fn optional_json<T: serde::de::DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    // A body that cannot be read (over 64 KiB) answers in the contract's format too.
    let body = body.map_err(|e| rejection(e.status(), e.body_text()))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else if !is_json(headers) {
        Err(not_json())
    } else {
        json_object(&body)
    }
}

/// The body of `POST /token/refresh` in cookie mode: nothing, or an object without
/// `refresh_token` (its value is never read).
#[derive(Debug, Default, serde::Deserialize)]
struct CookieRefresh {
    refresh_token: Option<serde::de::IgnoredAny>,
}

/// Logs in and starts a session.
#[utoipa::path(post, path = "/login", request_body = Credentials, params(CookieHeader), responses(
    (status = 200, description = "A new session; in cookie mode a `CookieTokenResponse` and \
        the refresh token in a `Set-Cookie` (docs/API.md §2.9)", body = TokenResponse, links(
        ("refresh" = (operation_id = "refresh",
            request_body = json!({"refresh_token": "$response.body#/refresh_token"}))),
        ("logout" = (operation_id = "logout",
            request_body = json!({"refresh_token": "$response.body#/refresh_token"}))),
        ("revoke" = (operation_id = "revoke",
            request_body = json!({"token": "$response.body#/refresh_token"}))),
        ("delete_session" = (operation_id = "delete_session",
            parameters(("id" = "$response.body#/session_id")))))),
    (status = 400, description = "`invalid_request`: malformed body", body = ErrorBody),
    (status = 401, description = "`invalid_grant`: unknown user, wrong password, disabled user", body = ErrorBody),
    CookieForbidden, RateLimited, BodyRejected, ServerFailed))]
pub async fn login(
    State(state): State<AppState>,
    browser: Browser,
    meta: RequestMeta,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let service = state.service();
    let client = &service.settings().default_client;
    let issued = service
        .sessions()
        .login(&body.username, password(body.password), client, &meta)
        .await?;
    browser.tokens(issued)
}

/// Rotates a refresh token: returns the successor and a new access token. In cookie mode
/// the refresh token is the cookie's, and the body may be empty.
#[utoipa::path(post, path = "/token/refresh", request_body = RefreshRequest, params(CookieHeader), responses(
    (status = 200, description = "The successor and a new access token; in cookie mode a \
        `CookieTokenResponse` and the successor in a `Set-Cookie`", body = TokenResponse, links(
        ("refresh" = (operation_id = "refresh",
            request_body = json!({"refresh_token": "$response.body#/refresh_token"}))),
        ("logout" = (operation_id = "logout",
            request_body = json!({"refresh_token": "$response.body#/refresh_token"}))))),
    (status = 400, description = "`invalid_request`: malformed body; in cookie mode a \
        `refresh_token` in the body", body = ErrorBody),
    (status = 401, description = "`invalid_grant`: the refresh token is refused (docs/API.md \
        §1.3), or in cookie mode there is no cookie (the answer then deletes the cookie)", body = ErrorBody),
    CookieForbidden, BodyRejected, ServerFailed))]
pub async fn refresh(
    State(state): State<AppState>,
    browser: Browser,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let service = state.service();
    let client = &service.settings().default_client;
    let Some(mode) = browser.0 else {
        // The JSON API, with ApiJson's rules in ApiJson's order.
        if !is_json(&headers) {
            return Err(not_json());
        }
        let body = body.map_err(|e| rejection(e.status(), e.body_text()))?;
        let request: RefreshRequest = json_object(&body)?;
        let issued = service
            .sessions()
            .refresh(request.refresh_token.expose(), client, &meta)
            .await?;
        return Ok(Tokens::from(issued).into_response());
    };
    let request: CookieRefresh = optional_json(&headers, body)?;
    if request.refresh_token.is_some() {
        return Err(token_in_body());
    }
    let Some(token) = mode.refresh_token(&headers) else {
        return Ok(mode.failed(ApiError::InvalidGrant {
            status: StatusCode::UNAUTHORIZED,
            description: "there is no refresh-token cookie".into(),
        }));
    };
    match service.sessions().refresh(token, client, &meta).await {
        Ok(issued) => mode.tokens(issued),
        Err(error) => Ok(mode.failed(error.into())),
    }
}

/// Ends this session, the user's other sessions, or all of them: those of the bearer
/// token, else those of the body's refresh token (in cookie mode: of the cookie's). The
/// body may be empty.
#[utoipa::path(post, path = "/logout", request_body = LogoutRequest, params(CookieHeader), responses(
    (status = 204, description = "The sessions are ended; in cookie mode, unless the scope is \
        `others`, a `Set-Cookie` deletes the cookie"),
    (status = 400, description = "`invalid_request`: malformed body, unknown scope; in cookie \
        mode a `refresh_token` in the body", body = ErrorBody),
    (status = 401, description = "`invalid_token`: no credentials, or an unusable bearer token; \
        `invalid_grant`: the refresh token is refused; `invalid_client`: a refresh token of a \
        confidential client", body = ErrorBody),
    CookieForbidden, BodyRejected, ServerFailed),
    security((), ("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    browser: Browser,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // The body is optional here, so it is parsed by hand, with the same rules as ApiJson.
    let request: LogoutRequest = optional_json(&headers, body)?;
    if browser.0.is_some() && request.refresh_token.is_some() {
        return Err(token_in_body());
    }
    let credential = match (bearer_token(&headers), &request.refresh_token, browser.0) {
        (Some(access), _, _) => Credential::Access(access),
        (None, Some(refresh), _) => Credential::Refresh(refresh.expose()),
        (None, None, Some(mode)) => match mode.refresh_token(&headers) {
            Some(refresh) => Credential::Refresh(refresh),
            None => return Err(ApiError::InvalidToken(None)),
        },
        (None, None, None) => return Err(ApiError::InvalidToken(None)),
    };
    let scope = request.scope.unwrap_or_default();
    // The simple API speaks for the built-in public client.
    let service = state.service();
    let client = service.clients().default_client();
    let ended = service
        .sessions()
        .logout(credential, scope, &client, &meta)
        .await;
    let Some(mode) = browser.0 else {
        ended?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    Ok(match ended {
        // `others` keeps this session, and so its cookie.
        Ok(_) if scope == LogoutScope::Others => StatusCode::NO_CONTENT.into_response(),
        Ok(_) => mode.cleared(StatusCode::NO_CONTENT.into_response()),
        Err(error) => mode.failed(error.into()),
    })
}

/// Creates an account, when registration is open.
#[utoipa::path(post, path = "/register", request_body = Registration, params(CookieHeader), responses(
    (status = 201, description = "The account", body = UserView, links(
        ("login" = (operation_id = "login", request_body = json!({
            "username": "$request.body#/username", "password": "$request.body#/password"}))))),
    (status = 400, description = "`invalid_request`: malformed body, username or password \
        breaking its policy", body = ErrorBody),
    (status = 403, description = "`forbidden`: registration is off; or a cookie-mode request \
        failing the CSRF check (docs/API.md §2.9)", body = ErrorBody),
    (status = 409, description = "`conflict`: the username is taken", body = ErrorBody),
    RateLimited, BodyRejected, ServerFailed))]
pub async fn register(
    State(state): State<AppState>,
    // Cookie mode changes nothing here but the CSRF check (no session, no cookie).
    _browser: Browser,
    ApiJson(body): ApiJson<Registration>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let user = state
        .service()
        .users()
        .register(&body.username, password(body.password))
        .await?;
    let view = UserView {
        sub: user.id.to_string(),
        username: user.username,
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// Changes the password and ends every other session of the user.
#[utoipa::path(post, path = "/password", request_body = PasswordChange, responses(
    (status = 204, description = "Changed; every other session of the user is ended"),
    (status = 400, description = "`invalid_request`: malformed body, the new password breaks \
        the policy", body = ErrorBody),
    (status = 401, description = "`invalid_token`: no usable access token; `invalid_grant`: \
        the current password is wrong", body = ErrorBody),
    RateLimited, BodyRejected, ServerFailed),
    security(("bearer" = [])))]
pub async fn password_change(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: Authenticated,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let (current, new) = (password(body.current_password), password(body.new_password));
    state
        .service()
        .users()
        .change_password(&auth, current, new, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the access token belongs to.
#[utoipa::path(get, path = "/me", responses(
    (status = 200, description = "The token's user and session", body = MeView),
    (status = 401, description = "`invalid_token`: no usable access token", body = ErrorBody),
    ServerFailed),
    security(("bearer" = [])))]
pub async fn me(auth: Authenticated) -> Json<MeView> {
    Json(MeView {
        sub: auth.claims.sub,
        username: auth.session.username,
        session_id: auth.claims.sid,
    })
}

/// The user's live sessions.
#[utoipa::path(get, path = "/sessions", responses(
    (status = 200, description = "The user's live sessions", body = [SessionView], links(
        ("delete_session" = (operation_id = "delete_session",
            parameters(("id" = "$response.body#/0/id")))))),
    (status = 401, description = "`invalid_token`: no usable access token", body = ErrorBody),
    ServerFailed),
    security(("bearer" = [])))]
pub async fn sessions(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let list = state.service().sessions().list(&auth).await?;
    let views = list
        .into_iter()
        .map(|s| SessionView {
            id: s.session.id.to_string(),
            created_at: rfc3339(s.session.created_at),
            last_used_at: rfc3339(s.session.last_used_at),
            expires_at: rfc3339(s.expires_at),
            user_agent: s.session.user_agent,
            ip: s.session.ip,
            current: s.current,
        })
        .collect();
    Ok(Json(views))
}

/// Ends one of the user's own sessions.
#[utoipa::path(delete, path = "/sessions/{id}", params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "The session is ended"),
        (status = 401, description = "`invalid_token`: no usable access token", body = ErrorBody),
        (status = 404, description = "`not_found`: not a live session of the caller's", body = ErrorBody),
        ServerFailed),
    security(("bearer" = [])))]
pub async fn delete_session(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.service().sessions().revoke(&auth, &id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
