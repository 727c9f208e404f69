//! The simple API (`docs/API.md` §2): JSON in, JSON out, `invalid_grant` as 401.

use super::error::ApiError;
use super::extract::{bearer_token, is_json, json_object, not_json, rejection, ApiJson};
use super::openapi::{BodyRejected, RateLimited, ServerFailed};
use super::{AppState, Tokens};
use crate::rfc3339;
use crate::service::{Authenticated, Credential, RequestMeta};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use symbolon_core::ids::Password;
use symbolon_proto::{
    Credentials, ErrorBody, LogoutRequest, MeView, PasswordChange, RefreshRequest, Registration,
    SessionView, TokenResponse, UserView,
};

/// A password as the core types keep it (wiped on drop), moved out of its wire wrapper.
fn password(secret: symbolon_proto::Secret) -> Password {
    Password::new(secret.into_inner())
}

/// Logs in and starts a session.
#[utoipa::path(post, path = "/login", request_body = Credentials, responses(
    (status = 200, description = "A new session", body = TokenResponse, links(
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
    RateLimited, BodyRejected, ServerFailed))]
pub async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Tokens, ApiError> {
    let service = state.service();
    let client = &service.settings().default_client;
    let issued = service
        .sessions()
        .login(&body.username, password(body.password), client, &meta)
        .await?;
    Ok(issued.into())
}

/// Rotates a refresh token: returns the successor and a new access token.
#[utoipa::path(post, path = "/token/refresh", request_body = RefreshRequest, responses(
    (status = 200, description = "The successor and a new access token", body = TokenResponse, links(
        ("refresh" = (operation_id = "refresh",
            request_body = json!({"refresh_token": "$response.body#/refresh_token"}))),
        ("logout" = (operation_id = "logout",
            request_body = json!({"refresh_token": "$response.body#/refresh_token"}))))),
    (status = 400, description = "`invalid_request`: malformed body", body = ErrorBody),
    (status = 401, description = "`invalid_grant`: the refresh token is refused (docs/API.md §1.3)", body = ErrorBody),
    BodyRejected, ServerFailed))]
pub async fn refresh(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Tokens, ApiError> {
    let service = state.service();
    let client = &service.settings().default_client;
    let issued = service
        .sessions()
        .refresh(body.refresh_token.expose(), client, &meta)
        .await?;
    Ok(issued.into())
}

/// Ends this session, the user's other sessions, or all of them: those of the bearer
/// token, else those of the body's refresh token. The body may be empty.
#[utoipa::path(post, path = "/logout", request_body = LogoutRequest, responses(
    (status = 204, description = "The sessions are ended"),
    (status = 400, description = "`invalid_request`: malformed body, unknown scope", body = ErrorBody),
    (status = 401, description = "`invalid_token`: no credentials, or an unusable bearer token; \
        `invalid_grant`: the refresh token is refused; `invalid_client`: a refresh token of a \
        confidential client", body = ErrorBody),
    BodyRejected, ServerFailed),
    security((), ("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    // The body is optional here, so it is parsed by hand, with the same rules as ApiJson:
    // a body that cannot be read (over 64 KiB) answers in the contract's format too.
    let body = body.map_err(|e| rejection(e.status(), e.body_text()))?;
    let request: LogoutRequest = if body.iter().all(u8::is_ascii_whitespace) {
        LogoutRequest::default()
    } else if !is_json(&headers) {
        return Err(not_json());
    } else {
        json_object(&body)?
    };
    let credential = match (bearer_token(&headers), &request.refresh_token) {
        (Some(access), _) => Credential::Access(access),
        (None, Some(refresh)) => Credential::Refresh(refresh.expose()),
        (None, None) => return Err(ApiError::InvalidToken(None)),
    };
    let scope = request.scope.unwrap_or_default();
    // The simple API speaks for the built-in public client.
    let service = state.service();
    let client = service.clients().default_client();
    service
        .sessions()
        .logout(credential, scope, &client, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates an account, when registration is open.
#[utoipa::path(post, path = "/register", request_body = Registration, responses(
    (status = 201, description = "The account", body = UserView, links(
        ("login" = (operation_id = "login", request_body = json!({
            "username": "$request.body#/username", "password": "$request.body#/password"}))))),
    (status = 400, description = "`invalid_request`: malformed body, username or password \
        breaking its policy", body = ErrorBody),
    (status = 403, description = "`forbidden`: registration is off", body = ErrorBody),
    (status = 409, description = "`conflict`: the username is taken", body = ErrorBody),
    RateLimited, BodyRejected, ServerFailed))]
pub async fn register(
    State(state): State<AppState>,
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
