//! The flows behind the endpoints: log in, refresh, authenticate a bearer token, log
//! out. Both the simple API and the OAuth 2.0 API call these, so the rules hold the same
//! on both; each API maps [`AuthError`] to its own status codes.

use crate::error::ApiError;
use crate::metrics::RefreshOutcome;
use crate::state::AppState;
use axum::http::StatusCode;
use std::net::IpAddr;
use symbolon_core::access::{self, AccessClaims, TokenError};
use symbolon_core::ids::{new_jti, Password, SessionId, Username};
use symbolon_core::refresh::{RefreshClaims, RefreshTokenText};
use symbolon_core::rotation::{decide, Decision};
use symbolon_core::throttle::backoff;
use symbolon_store::{audit_kind, AuditEvent, SessionRecord, StoreError};

/// Who is asking, as far as the server can tell.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The peer address.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header, truncated.
    pub user_agent: Option<String>,
}

/// A freshly issued token pair.
#[derive(Debug)]
pub struct Issued {
    /// The access token.
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: i64,
    /// The refresh token.
    pub refresh_token: RefreshTokenText,
    /// Its remaining lifetime in seconds.
    pub refresh_expires_in: i64,
    /// The session both belong to.
    pub session_id: SessionId,
}

/// Why a refresh token was refused; each is `invalid_grant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshFailure {
    /// Garbage, a foreign token, or a session that does not exist.
    Invalid,
    /// The token or its session expired.
    Expired,
    /// The session was revoked.
    Revoked,
    /// A rotated token was presented again: the session is now revoked.
    Reused,
    /// The token belongs to another client.
    WrongClient,
}

impl RefreshFailure {
    fn description(self) -> &'static str {
        match self {
            Self::Invalid => "invalid refresh token",
            Self::Expired => "refresh token expired",
            Self::Revoked => "refresh token revoked",
            Self::Reused => "refresh token reuse detected",
            Self::WrongClient => "refresh token was issued to another client",
        }
    }
}

/// Failures of the flows, before they become HTTP answers.
#[derive(Debug)]
pub enum AuthError {
    /// Wrong username or password (one message for both), or a disabled account.
    BadCredentials,
    /// Too many failures: retry after this many seconds.
    Throttled(u64),
    /// A refresh token was refused.
    Refresh(RefreshFailure),
    /// Other failures, already in HTTP form.
    Api(ApiError),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        Self::Api(e.into())
    }
}

impl From<crate::hashing::Busy> for AuthError {
    fn from(_: crate::hashing::Busy) -> Self {
        Self::Throttled(1)
    }
}

impl AuthError {
    /// As an answer of the API whose `invalid_grant` status is `grant_status`
    /// (401 on the simple API, 400 on the OAuth token endpoint).
    pub fn into_api(self, grant_status: StatusCode) -> ApiError {
        let grant = |description: &str| ApiError::InvalidGrant {
            status: grant_status,
            description: description.into(),
        };
        match self {
            Self::BadCredentials => grant("invalid username or password"),
            Self::Throttled(seconds) => ApiError::RateLimited(seconds.max(1)),
            Self::Refresh(failure) => grant(failure.description()),
            Self::Api(e) => e,
        }
    }
}

/// Checks the brute-force back-off for an account and an IP.
async fn check_throttle(state: &AppState, keys: &[String]) -> Result<(), AuthError> {
    let now = state.now();
    let until = state.store().blocked_until(keys).await?;
    if until > now {
        state.metrics.login("throttled");
        return Err(AuthError::Throttled((until - now) as u64));
    }
    Ok(())
}

/// Counts a failure against each key and extends its back-off.
async fn record_failure(state: &AppState, keys: &[String]) -> Result<(), AuthError> {
    let now = state.now();
    let c = &state.config;
    for key in keys {
        let allowed = if key.starts_with("ip:") {
            c.ip_failures_allowed
        } else {
            c.account_failures_allowed
        };
        let failures = state
            .store()
            .record_failure(key, now, c.failure_window.0)
            .await?;
        let wait = backoff(failures, allowed, c.max_backoff.0);
        if wait > 0 {
            state.store().block(key, now + wait).await?;
        }
    }
    Ok(())
}

/// Runs a secret check under the brute-force rules for `keys` (the first is the
/// account's): refused while any key is blocked, before the check and again after it,
/// so guesses that were already queued when the block began learn nothing; a failure
/// counts against every key, a success clears the account's count.
pub async fn guarded<T>(
    state: &AppState,
    keys: &[String],
    check: impl std::future::Future<Output = Result<Option<T>, AuthError>>,
) -> Result<T, AuthError> {
    check_throttle(state, keys).await?;
    let outcome = check.await?;
    check_throttle(state, keys).await?;
    match outcome {
        Some(value) => {
            if let Some(account) = keys.first() {
                state.store().clear_failures(account).await?;
            }
            Ok(value)
        }
        None => {
            record_failure(state, keys).await?;
            Err(AuthError::BadCredentials)
        }
    }
}

/// The throttle keys of a secret check: the account (or client), and the client IP.
pub fn throttle_keys(account: &str, ip: Option<IpAddr>) -> Vec<String> {
    let mut keys = vec![account.to_owned()];
    if let Some(ip) = ip {
        keys.push(format!("ip:{}", ip_key(ip)));
    }
    keys
}

/// An IPv6 client is counted by its /64, the smallest block one subscriber gets, so one
/// attacker cannot spread guesses over 2^64 addresses.
fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Checks a user's password under the brute-force rules, for login and password change.
/// Returns the user on success.
pub async fn check_password(
    state: &AppState,
    username: &str,
    password: Password,
    meta: &RequestMeta,
) -> Result<symbolon_store::UserRecord, AuthError> {
    let parsed = Username::parse(username).ok();
    let key = parsed
        .as_ref()
        .map(Username::normalized)
        .unwrap_or_else(|| "(invalid)".into());
    let keys = throttle_keys(&format!("acct:{key}"), meta.ip);
    let mut failed_user = None;
    let result = guarded(state, &keys, async {
        let user = match &parsed {
            Some(_) => state.store().user_by_name(&key).await?,
            None => None,
        };
        // An unknown or malformed username is checked against a dummy hash: same cost.
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let ok = state
            .hasher
            .verify(&state.metrics, password, stored)
            .await?;
        match user {
            Some(user) if ok && user.disabled_at.is_none() => Ok::<_, AuthError>(Some(user)),
            other => {
                failed_user = other.map(|u| u.id);
                Ok(None)
            }
        }
    })
    .await;
    if let Err(AuthError::BadCredentials) = &result {
        let event = AuditEvent {
            user_id: failed_user.map(|id| id.to_string()),
            ip: meta.ip.map(|ip| ip.to_string()),
            detail: Some(format!("username={key}")),
            ..AuditEvent::new(audit_kind::LOGIN_FAILURE, state.now())
        };
        state.store().audit(&event).await?;
        state.metrics.login("failure");
    }
    result
}

/// `POST /login` and the password grant: checks the password and starts a session.
pub async fn login(
    state: &AppState,
    username: &str,
    password: Password,
    client_id: &str,
    meta: &RequestMeta,
) -> Result<Issued, AuthError> {
    let user = check_password(state, username, password, meta).await?;
    let now = state.now();
    let session = SessionRecord {
        id: SessionId::generate(),
        user_id: user.id,
        username: user.username.clone(),
        client_id: client_id.to_owned(),
        generation: 0,
        created_at: now,
        rotated_at: now,
        last_used_at: now,
        absolute_end: now + state.config.session_ttl.0,
        revoked_at: None,
        user_agent: meta.user_agent.clone(),
        ip: meta.ip.map(|ip| ip.to_string()),
    };
    if !state.store().create_session(&session).await? {
        // Disabled between the password check and now.
        return Err(AuthError::BadCredentials);
    }
    let event = AuditEvent {
        user_id: Some(user.id.to_string()),
        session_id: Some(session.id.to_string()),
        ip: session.ip.clone(),
        ..AuditEvent::new(audit_kind::LOGIN_SUCCESS, now)
    };
    state.store().audit(&event).await?;
    state.metrics.login("success");
    tracing::info!(user = %user.id, session = %session.id, "login");
    issue(state, &session, 0, now)
}

/// Signs an access token and derives the refresh token of `generation` for a session
/// whose current generation was issued at `session.rotated_at`.
fn issue(
    state: &AppState,
    session: &SessionRecord,
    generation: u64,
    now: i64,
) -> Result<Issued, AuthError> {
    let ttl = state.config.access_ttl.0;
    let claims = AccessClaims {
        iss: state.issuer.clone(),
        sub: session.user_id.to_string(),
        aud: state.config.audience.clone(),
        exp: now + ttl,
        iat: now,
        jti: new_jti(),
        sid: session.id.to_string(),
        client_id: session.client_id.clone(),
        preferred_username: session.username.clone(),
        nbf: None,
    };
    let keys = state.keys.key_set();
    let access_token = access::issue(keys.current(), &claims)
        .map_err(|e| AuthError::Api(ApiError::Internal(e.to_string())))?;
    let refresh_token = state.codec.encode(RefreshClaims {
        session: session.id,
        generation,
    });
    let refresh_expires_at = session.clock().current_token_expiry(&state.policy);
    Ok(Issued {
        access_token,
        expires_in: ttl,
        refresh_token,
        refresh_expires_in: (refresh_expires_at - now).max(0),
        session_id: session.id,
    })
}

/// Reads a refresh token's session, or says why there is none.
async fn token_session(
    state: &AppState,
    token: &str,
) -> Result<(RefreshClaims, SessionRecord), AuthError> {
    // The MAC check needs no database read: garbage stops here.
    let invalid = || AuthError::Refresh(RefreshFailure::Invalid);
    let claims = state.codec.decode(token).map_err(|_| invalid())?;
    let session = state.store().session(&claims.session).await?;
    Ok((claims, session.ok_or_else(invalid)?))
}

/// Revokes a session whose rotated token was presented again, with its audit row.
async fn revoke_for_reuse(
    state: &AppState,
    claims: &RefreshClaims,
    session: &SessionRecord,
    meta: &RequestMeta,
) -> Result<AuthError, AuthError> {
    let event = AuditEvent {
        user_id: Some(session.user_id.to_string()),
        session_id: Some(session.id.to_string()),
        ip: meta.ip.map(|ip| ip.to_string()),
        detail: Some(format!(
            "generation {} presented, current {}",
            claims.generation, session.generation
        )),
        ..AuditEvent::new(audit_kind::REUSE_DETECTED, state.now())
    };
    state
        .store()
        .revoke_session(&session.id, "reuse_detected", &event)
        .await?;
    state.metrics.refresh(RefreshOutcome::ReuseDetected);
    tracing::warn!(session = %session.id, user = %session.user_id, "refresh token reuse detected; session revoked");
    Ok(AuthError::Refresh(RefreshFailure::Reused))
}

/// `POST /token/refresh` and the refresh grant: the rotation rules of contract §1,
/// carried out with one compare-and-swap.
pub async fn refresh(
    state: &AppState,
    token: &str,
    client_id: &str,
    meta: &RequestMeta,
) -> Result<Issued, AuthError> {
    // The MAC check needs no database read: garbage stops here.
    let claims = state.codec.decode(token).map_err(|_| {
        state.metrics.refresh(RefreshOutcome::Invalid);
        AuthError::Refresh(RefreshFailure::Invalid)
    })?;
    // Fast path, one statement: a current, unexpired token of a live session rotates.
    let now = state.now();
    let fast = symbolon_store::RotateCurrent {
        id: &claims.session,
        generation: claims.generation,
        client_id,
        refresh_ttl: state.policy.refresh_ttl,
        now,
    };
    if let Some(session) = state.store().rotate_current(&fast).await? {
        state.metrics.refresh(RefreshOutcome::Rotated);
        return issue(state, &session, claims.generation + 1, now);
    }
    // Slow path: read the session and let the rules decide (grace, reuse, expiry, ...).
    let Some(mut session) = state.store().session(&claims.session).await? else {
        state.metrics.refresh(RefreshOutcome::Invalid);
        return Err(AuthError::Refresh(RefreshFailure::Invalid));
    };
    if session.client_id != client_id {
        state.metrics.refresh(RefreshOutcome::Invalid);
        return Err(AuthError::Refresh(RefreshFailure::WrongClient));
    }
    // A lost race re-reads the row once per competitor; three rounds are plenty since
    // after one lost swap the token is at worst a grace replay.
    for _ in 0..3 {
        let now = state.now();
        match decide(&session.clock(), claims.generation, now, &state.policy) {
            Decision::Rotate { from } => {
                if state.store().rotate(&session.id, from, now).await? {
                    session.generation = from + 1;
                    session.rotated_at = now;
                    session.last_used_at = now;
                    state.metrics.refresh(RefreshOutcome::Rotated);
                    return issue(state, &session, from + 1, now);
                }
                session = state
                    .store()
                    .session(&claims.session)
                    .await?
                    .ok_or(AuthError::Refresh(RefreshFailure::Invalid))?;
            }
            Decision::GraceReplay { successor } => {
                state.metrics.refresh(RefreshOutcome::GraceReplay);
                return issue(state, &session, successor, now);
            }
            Decision::Reuse => return Err(revoke_for_reuse(state, &claims, &session, meta).await?),
            Decision::Expired => {
                state.metrics.refresh(RefreshOutcome::Expired);
                return Err(AuthError::Refresh(RefreshFailure::Expired));
            }
            Decision::Revoked => {
                state.metrics.refresh(RefreshOutcome::Revoked);
                return Err(AuthError::Refresh(RefreshFailure::Revoked));
            }
            Decision::Unknown => {
                state.metrics.refresh(RefreshOutcome::Invalid);
                return Err(AuthError::Refresh(RefreshFailure::Invalid));
            }
        }
    }
    Err(AuthError::Api(ApiError::Internal(
        "refresh lost the rotation race three times".into(),
    )))
}

/// A refresh token's live session, for logout and revocation: the current token or the
/// one just rotated (within the grace) may end its session.
///
/// With `reuse_from` set (logout, revocation), a rotated token outside the grace is
/// reuse as on refresh: the session is revoked. Introspection passes `None`: a resource
/// server asking about a token does not present it.
pub async fn session_of_refresh_token(
    state: &AppState,
    token: &str,
    reuse_from: Option<&RequestMeta>,
) -> Result<SessionRecord, AuthError> {
    let (claims, session) = token_session(state, token).await?;
    match decide(
        &session.clock(),
        claims.generation,
        state.now(),
        &state.policy,
    ) {
        Decision::Rotate { .. } | Decision::GraceReplay { .. } => Ok(session),
        Decision::Expired => Err(AuthError::Refresh(RefreshFailure::Expired)),
        Decision::Revoked => Err(AuthError::Refresh(RefreshFailure::Revoked)),
        Decision::Reuse => match reuse_from {
            Some(meta) => Err(revoke_for_reuse(state, &claims, &session, meta).await?),
            None => Err(AuthError::Refresh(RefreshFailure::Invalid)),
        },
        Decision::Unknown => Err(AuthError::Refresh(RefreshFailure::Invalid)),
    }
}

/// Verifies an access token and its session (revocation takes effect at once).
pub async fn authenticate(
    state: &AppState,
    token: &str,
) -> Result<(AccessClaims, SessionRecord), ApiError> {
    let now = state.now();
    let mut result = state.keys.key_set().verify(token, &state.expect, now);
    if result == Err(TokenError::UnknownKey) {
        // Another instance may have rotated the key: read the keys again, then retry.
        if let Some(kid) = access::header_kid(token) {
            state
                .keys
                .reload_for_unknown_kid(state.store(), &kid, now)
                .await;
            result = state.keys.key_set().verify(token, &state.expect, now);
        }
    }
    let claims = result.map_err(|e| ApiError::InvalidToken(Some(e.to_string())))?;
    let revoked = || ApiError::InvalidToken(Some("the session has ended".into()));
    let sid = SessionId::parse(&claims.sid).ok_or_else(revoked)?;
    let session = state.store().session(&sid).await?.ok_or_else(revoked)?;
    if !session.is_live(now) || session.user_id.to_string() != claims.sub {
        return Err(revoked());
    }
    Ok((claims, session))
}

/// Which sessions a logout ends (contract §2, `POST /logout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogoutScope {
    /// This session only (the default).
    Local,
    /// Every other session of the user.
    Others,
    /// Every session of the user.
    Global,
}

/// Ends sessions per `scope`, starting from `session`.
pub async fn logout(
    state: &AppState,
    session: &SessionRecord,
    scope: LogoutScope,
    meta: &RequestMeta,
) -> Result<(), ApiError> {
    let now = state.now();
    let event = AuditEvent {
        user_id: Some(session.user_id.to_string()),
        session_id: Some(session.id.to_string()),
        ip: meta.ip.map(|ip| ip.to_string()),
        detail: Some(format!("scope={scope:?}").to_lowercase()),
        ..AuditEvent::new(audit_kind::LOGOUT, now)
    };
    match scope {
        LogoutScope::Local => {
            state
                .store()
                .revoke_session(&session.id, "logout", &event)
                .await?;
        }
        LogoutScope::Others | LogoutScope::Global => {
            let except = (scope == LogoutScope::Others).then_some(&session.id);
            state
                .store()
                .revoke_user_sessions(&session.user_id, except, "logout", &event)
                .await?;
        }
    }
    Ok(())
}
