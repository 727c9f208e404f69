//! The simple API (`docs/API.md` §2): JSON in, JSON out, `invalid_grant` as 401.

use super::error::ApiError;
use super::extract::{bearer_token, is_json, json_object, not_json, rejection, ApiJson};
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
    Credentials, ErrorBody, LogoutRequest, MeView, PasswordChange, RefreshRequest, SessionView,
    TokenResponse, UserView,
};

/// A password as the core types keep it (wiped on drop), moved out of its wire wrapper.
fn password(secret: symbolon_proto::Secret) -> Password {
    Password::new(secret.into_inner())
}

/// Logs in and starts a session.
#[utoipa::path(post, path = "/login", request_body = Credentials, responses(
    (status = 200, body = TokenResponse), (status = 400, body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
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
    (status = 200, body = TokenResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
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

/// Ends this session, the user's other sessions, or all of them.
#[utoipa::path(post, path = "/logout", request_body = LogoutRequest, responses(
    (status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
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
#[utoipa::path(post, path = "/register", request_body = Credentials, responses(
    (status = 201, body = UserView), (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Credentials>,
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
    (status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
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
#[utoipa::path(get, path = "/me", responses((status = 200, body = MeView), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(auth: Authenticated) -> Json<MeView> {
    Json(MeView {
        sub: auth.claims.sub,
        username: auth.session.username,
        session_id: auth.claims.sid,
    })
}

/// The user's live sessions.
#[utoipa::path(get, path = "/sessions", responses((status = 200, body = [SessionView]), (status = 401, body = ErrorBody)),
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
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
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
