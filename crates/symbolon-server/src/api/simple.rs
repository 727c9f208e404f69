//! The simple API (contract §2): JSON in, JSON out, `invalid_grant` as 401.

use super::{rfc3339, TokenResponse};
use crate::auth::{self, AuthError, LogoutScope, RequestMeta};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{bearer_token, rejection, scrub, ApiJson, Authenticated};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use symbolon_core::ids::{Password, SessionId, UserId, Username};
use symbolon_store::UserRecord;
use utoipa::ToSchema;

fn grant(e: AuthError) -> ApiError {
    e.into_api(StatusCode::UNAUTHORIZED)
}

/// `POST /login` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The username.
    pub username: String,
    /// The password.
    #[schema(value_type = String)]
    pub password: Password,
}

/// Logs in and starts a session.
#[utoipa::path(post, path = "/login", request_body = LoginRequest, responses(
    (status = 200, body = TokenResponse), (status = 400, body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<TokenResponse, ApiError> {
    let client = state.config.default_client_id.clone();
    let issued = auth::login(&state, &body.username, body.password, &client, &meta)
        .await
        .map_err(grant)?;
    Ok(issued.into())
}

/// `POST /token/refresh` body.
#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token to rotate.
    pub refresh_token: String,
}

/// Rotates a refresh token: returns the successor and a new access token.
#[utoipa::path(post, path = "/token/refresh", request_body = RefreshRequest, responses(
    (status = 200, body = TokenResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<TokenResponse, ApiError> {
    let client = state.config.default_client_id.clone();
    let issued = auth::refresh(&state, &body.refresh_token, &client, &meta)
        .await
        .map_err(grant)?;
    Ok(issued.into())
}

/// `POST /logout` body (optional with a bearer token).
#[derive(Default, Deserialize, ToSchema)]
pub struct LogoutRequest {
    /// A refresh token of the session, when no bearer token is sent.
    pub refresh_token: Option<String>,
    /// `local` (default), `others` or `global`.
    pub scope: Option<LogoutScope>,
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
    } else {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "Content-Type must be application/json".into(),
            ));
        }
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::InvalidRequest(format!("invalid JSON body: {}", scrub(&e.to_string())))
        })?
    };
    let session = if let Some(token) = bearer_token(&headers) {
        auth::authenticate(&state, token).await?.1
    } else if let Some(refresh) = &request.refresh_token {
        auth::session_of_refresh_token(&state, refresh, Some(&meta))
            .await
            .map_err(grant)?
    } else {
        return Err(ApiError::InvalidToken(None));
    };
    auth::logout(
        &state,
        &session,
        request.scope.unwrap_or(LogoutScope::Local),
        &meta,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /register` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 1-64 characters of ASCII letters, digits and `._-@`.
    pub username: String,
    /// 8-1024 characters.
    #[schema(value_type = String)]
    pub password: Password,
}

/// A user as shown to clients.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// The stable user id.
    pub sub: String,
    /// The username.
    pub username: String,
}

/// Creates an account, when registration is open.
#[utoipa::path(post, path = "/register", request_body = RegisterRequest, responses(
    (status = 201, body = UserResponse), (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    if !state.config.allow_registration {
        return Err(ApiError::Forbidden("registration is disabled".into()));
    }
    let user = create_user(&state, &body.username, body.password).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserResponse {
            sub: user.id.to_string(),
            username: user.username,
        }),
    ))
}

/// Validates, hashes and stores a new user, and audits it (shared with `symbolon user add`).
pub async fn create_user(
    state: &AppState,
    username: &str,
    password: Password,
) -> Result<UserRecord, ApiError> {
    let username =
        Username::parse(username).map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let password = Password::new_checked(password.expose().to_owned())
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    if state
        .store()
        .user_by_name(&username.normalized())
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict("the username is taken".into()));
    }
    let hash = state
        .hasher
        .hash(&state.metrics, password)
        .await
        .map_err(ApiError::from)?;
    let user = UserRecord {
        id: UserId::generate(),
        username: username.as_str().to_owned(),
        password_hash: hash,
        created_at: state.now(),
        disabled_at: None,
    };
    state
        .store()
        .create_user(&user)
        .await
        .map_err(|e| match e {
            symbolon_store::StoreError::Conflict => {
                ApiError::Conflict("the username is taken".into())
            }
            other => other.into(),
        })?;
    let event = symbolon_store::AuditEvent {
        user_id: Some(user.id.to_string()),
        ..symbolon_store::AuditEvent::new(symbolon_store::audit_kind::USER_CREATED, user.created_at)
    };
    state.store().audit(&event).await?;
    Ok(user)
}

/// `POST /password` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordRequest {
    /// The password now.
    #[schema(value_type = String)]
    pub current_password: Password,
    /// The new password (8-1024 characters).
    #[schema(value_type = String)]
    pub new_password: Password,
}

/// Changes the password and ends every other session of the user.
#[utoipa::path(post, path = "/password", request_body = PasswordRequest, responses(
    (status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn password(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: Authenticated,
    ApiJson(body): ApiJson<PasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let new = Password::new_checked(body.new_password.expose().to_owned())
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let user = auth::check_password(&state, &auth.session.username, body.current_password, &meta)
        .await
        .map_err(|e| match e {
            AuthError::BadCredentials => ApiError::grant_401("the current password is wrong"),
            other => grant(other),
        })?;
    let hash = state
        .hasher
        .hash(&state.metrics, new)
        .await
        .map_err(ApiError::from)?;
    state
        .store()
        .change_password(&user.id, &hash, Some(&auth.session.id), state.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /me` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// The stable user id.
    pub sub: String,
    /// The username.
    pub username: String,
    /// The session of the token.
    pub session_id: String,
}

/// Who the access token belongs to.
#[utoipa::path(get, path = "/me", responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(auth: Authenticated) -> Json<MeResponse> {
    Json(MeResponse {
        sub: auth.claims.sub,
        username: auth.session.username,
        session_id: auth.claims.sid,
    })
}

/// One entry of `GET /sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// Session id.
    pub id: String,
    /// Login time.
    pub created_at: String,
    /// Last login or refresh.
    pub last_used_at: String,
    /// When the session's current refresh token expires.
    pub expires_at: String,
    /// User agent at login.
    pub user_agent: Option<String>,
    /// Client IP at login.
    pub ip: Option<String>,
    /// Whether this is the session of the token used.
    pub current: bool,
}

/// The user's live sessions.
#[utoipa::path(get, path = "/sessions", responses((status = 200, body = [SessionResponse]), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn sessions(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Vec<SessionResponse>>, ApiError> {
    let now = state.now();
    let sessions = state
        .store()
        .live_sessions(&auth.session.user_id, now)
        .await?;
    Ok(Json(
        sessions
            .into_iter()
            .filter_map(|s| {
                let expires = s.clock().current_token_expiry(&state.policy);
                (expires > now || s.id == auth.session.id).then(|| SessionResponse {
                    id: s.id.to_string(),
                    created_at: rfc3339(s.created_at),
                    last_used_at: rfc3339(s.last_used_at),
                    expires_at: rfc3339(expires),
                    current: s.id == auth.session.id,
                    user_agent: s.user_agent,
                    ip: s.ip,
                })
            })
            .collect(),
    ))
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
    let not_found = || ApiError::NotFound("no such session".into());
    let id = SessionId::parse(&id).ok_or_else(not_found)?;
    let session = state.store().session(&id).await?.ok_or_else(not_found)?;
    // Another user's session is reported as absent: its existence is not ours to tell.
    if session.user_id != auth.session.user_id || !session.is_live(state.now()) {
        return Err(not_found());
    }
    auth::logout(&state, &session, LogoutScope::Local, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
