//! Sessions: login, refresh (the rotation rules of `docs/API.md` §1, carried out with
//! one compare-and-swap), access-token checks, logout, the session list, revocation and
//! introspection.

use super::clients::ClientIdentity;
use super::metrics::RefreshOutcome;
use super::{users, AccessTokenProblem, Core, RefreshFailure, RequestMeta, Result, ServiceError};
use symbolon_core::access::{self, AccessClaims, TokenError};
use symbolon_core::ids::{new_jti, Capability, ClientId, Password, SessionId};
use symbolon_core::refresh::{RefreshClaims, RefreshTokenText};
use symbolon_core::rotation::{decide, Decision};
use symbolon_core::UnixTime;
use symbolon_proto::LogoutScope;
use symbolon_store::{audit_kind, AuditEvent, SessionRecord};

/// A freshly issued token pair.
#[derive(Debug)]
pub struct Issued {
    /// The access token (a JWT).
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: i64,
    /// The refresh token.
    pub refresh_token: RefreshTokenText,
    /// Its remaining lifetime in seconds (idle or absolute end, whichever first).
    pub refresh_expires_in: i64,
    /// The session both belong to.
    pub session_id: SessionId,
}

/// A request carrying a valid access token of a live session.
#[derive(Debug)]
pub struct Authenticated {
    /// The token's claims.
    pub claims: AccessClaims,
    /// Its session, as just read.
    pub session: SessionRecord,
}

/// What proves which session a logout starts from.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// An access token of the session.
    Access(&'a str),
    /// The session's current refresh token (or the one just rotated, within the grace).
    Refresh(&'a str),
}

/// A token that revocation or introspection recognised, with its session.
#[derive(Debug)]
pub enum FoundToken {
    /// A live refresh token.
    Refresh(SessionRecord),
    /// A valid access token.
    Access(AccessClaims, SessionRecord),
}

/// One live session of a user, for the session list.
#[derive(Debug)]
pub struct SessionSummary {
    /// The session.
    pub session: SessionRecord,
    /// When its current refresh token expires.
    pub expires_at: UnixTime,
    /// Whether the asking token belongs to it.
    pub current: bool,
}

/// Session operations; see [`super::Service::sessions`].
#[derive(Debug, Clone, Copy)]
pub struct Sessions<'a> {
    core: &'a Core,
}

impl<'a> Sessions<'a> {
    pub(super) fn new(core: &'a Core) -> Self {
        Self { core }
    }

    /// Checks the password and starts a session for `client`.
    pub async fn login(
        &self,
        username: &str,
        password: Password,
        client: &ClientId,
        meta: &RequestMeta,
    ) -> Result<Issued> {
        let core = self.core;
        let result = self.start_session(username, password, client, meta).await;
        core.metrics.login(match &result {
            Ok(_) => "success",
            Err(ServiceError::BadCredentials) => "failure",
            Err(ServiceError::Throttled { .. } | ServiceError::Busy) => "throttled",
            Err(_) => "error",
        });
        if let Ok((issued, user)) = &result {
            tracing::info!(user = %user, session = %issued.session_id, "login");
        }
        result.map(|(issued, _)| issued)
    }

    async fn start_session(
        &self,
        username: &str,
        password: Password,
        client: &ClientId,
        meta: &RequestMeta,
    ) -> Result<(Issued, symbolon_core::ids::UserId)> {
        let core = self.core;
        let user = users::check_password(core, username, password, meta).await?;
        let now = core.now();
        let session = SessionRecord {
            id: SessionId::generate(),
            user_id: user.id,
            username: user.username.clone(),
            client_id: client.as_str().to_owned(),
            generation: 0,
            created_at: now,
            rotated_at: now,
            last_used_at: now,
            absolute_end: now + core.settings.session_ttl,
            revoked_at: None,
            user_agent: meta.user_agent.clone(),
            ip: meta.ip.map(|ip| ip.to_string()),
        };
        if !core
            .store()
            .create_session(&session, user.credential_epoch)
            .await?
        {
            // The password changed or the user was disabled since the check: the
            // password that was checked no longer opens this account.
            return Err(ServiceError::BadCredentials);
        }
        let event = AuditEvent {
            user_id: Some(user.id.to_string()),
            session_id: Some(session.id.to_string()),
            ip: session.ip.clone(),
            ..AuditEvent::new(audit_kind::LOGIN_SUCCESS, now)
        };
        core.store().audit(&event).await?;
        Ok((issue(core, &session, 0, now).await?, user.id))
    }

    /// Rotates a refresh token of `client`: the successor and a new access token, or
    /// the same successor again for a replay within the grace.
    pub async fn refresh(
        &self,
        token: &str,
        client: &ClientId,
        meta: &RequestMeta,
    ) -> Result<Issued> {
        let result = self.rotate(token, client, meta).await;
        let outcome = match &result {
            Ok((_, replay)) if *replay => Some(RefreshOutcome::GraceReplay),
            Ok(_) => Some(RefreshOutcome::Rotated),
            Err(ServiceError::Refresh(failure)) => Some(refresh_outcome(*failure)),
            Err(_) => None,
        };
        if let Some(outcome) = outcome {
            self.core.metrics.refresh(outcome);
        }
        result.map(|(issued, _)| issued)
    }

    /// The rotation itself; `true` with a grace replay.
    async fn rotate(
        &self,
        token: &str,
        client: &ClientId,
        meta: &RequestMeta,
    ) -> Result<(Issued, bool)> {
        let core = self.core;
        // The MAC check needs no database read: garbage stops here.
        let claims = core
            .codec
            .decode(token)
            .map_err(|_| RefreshFailure::Invalid)?;
        // Fast path, one statement: a current, unexpired token of a live session rotates.
        let now = core.now();
        let fast = symbolon_store::RotateCurrent {
            id: &claims.session,
            generation: claims.generation,
            client_id: client.as_str(),
            refresh_ttl: core.settings.policy.refresh_ttl,
            now,
        };
        if let Some(session) = core.store().rotate_current(&fast).await? {
            return Ok((
                issue(core, &session, claims.generation + 1, now).await?,
                false,
            ));
        }
        // Slow path: read the session and let the rules decide (grace, reuse, expiry, ...).
        let mut session = core
            .store()
            .session(&claims.session)
            .await?
            .ok_or(RefreshFailure::Invalid)?;
        if session.client_id != client.as_str() {
            return Err(RefreshFailure::WrongClient.into());
        }
        // A lost race re-reads the row once per competitor; three rounds are plenty since
        // after one lost swap the token is at worst a grace replay.
        for _ in 0..3 {
            let now = core.now();
            match decide(
                &session.clock(),
                claims.generation,
                now,
                &core.settings.policy,
            ) {
                Decision::Rotate { from } => {
                    if core.store().rotate(&session.id, from, now).await? {
                        session.generation = from + 1;
                        session.rotated_at = now;
                        session.last_used_at = now;
                        return Ok((issue(core, &session, from + 1, now).await?, false));
                    }
                    session = core
                        .store()
                        .session(&claims.session)
                        .await?
                        .ok_or(RefreshFailure::Invalid)?;
                }
                Decision::GraceReplay { successor } => {
                    return Ok((issue(core, &session, successor, now).await?, true));
                }
                Decision::Reuse => {
                    revoke_for_reuse(core, &claims, &session, meta).await?;
                    return Err(RefreshFailure::Reused.into());
                }
                Decision::Expired => return Err(RefreshFailure::Expired.into()),
                Decision::Revoked => return Err(RefreshFailure::Revoked.into()),
                Decision::Unknown => return Err(RefreshFailure::Invalid.into()),
            }
        }
        Err(ServiceError::RotationContention)
    }

    /// Verifies an access token and reads its session: a revoked session's tokens stop
    /// working at once.
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated> {
        let core = self.core;
        let now = core.now();
        let mut result = core.keys.key_set().verify(token, &core.expect, now);
        if result == Err(TokenError::UnknownKey) {
            // Another instance may have rotated the key: read the keys again, then retry.
            if let Some(kid) = access::header_kid(token) {
                core.keys
                    .reload_for_unknown_kid(core.store(), &kid, now)
                    .await;
                result = core.keys.key_set().verify(token, &core.expect, now);
            }
        }
        let claims = result.map_err(AccessTokenProblem::Invalid)?;
        let ended = || AccessTokenProblem::SessionEnded;
        let sid = SessionId::parse(&claims.sid).ok_or_else(ended)?;
        let session = core.store().session(&sid).await?.ok_or_else(ended)?;
        if !session.is_live(now) || session.user_id.to_string() != claims.sub {
            return Err(ended().into());
        }
        Ok(Authenticated { claims, session })
    }

    /// Ends sessions per `scope`, starting from the session `credential` proves. A
    /// refresh token is checked against `client` before anything else happens (a token
    /// of a confidential client ends nothing without that client's secret); a rotated
    /// one outside the grace is reuse, as on refresh.
    pub async fn logout(
        &self,
        credential: Credential<'_>,
        scope: LogoutScope,
        client: &ClientIdentity,
        meta: &RequestMeta,
    ) -> Result<()> {
        let session = match credential {
            Credential::Access(token) => self.authenticate(token).await?.session,
            Credential::Refresh(token) => self.session_to_end(token, client, meta).await?,
        };
        end_sessions(self.core, &session, scope, meta).await
    }

    /// The session of a refresh token presented to end it (logout, revocation) by
    /// `client`. The client is checked first, before any side effect; then the current
    /// token, or the one just rotated (within the grace), qualifies, and a rotated token
    /// outside the grace is reuse, as on refresh: the session is revoked.
    async fn session_to_end(
        &self,
        token: &str,
        client: &ClientIdentity,
        meta: &RequestMeta,
    ) -> Result<SessionRecord> {
        let core = self.core;
        let (claims, session) = read_refresh_token(core, token).await?;
        if !super::clients::may_manage(core, client, &session).await? {
            return Err(ServiceError::ForeignClient);
        }
        let failure = match decide(
            &session.clock(),
            claims.generation,
            core.now(),
            &core.settings.policy,
        ) {
            Decision::Rotate { .. } | Decision::GraceReplay { .. } => return Ok(session),
            Decision::Expired => RefreshFailure::Expired,
            Decision::Revoked => RefreshFailure::Revoked,
            Decision::Reuse => {
                revoke_for_reuse(core, &claims, &session, meta).await?;
                core.metrics.refresh(RefreshOutcome::ReuseDetected);
                RefreshFailure::Reused
            }
            Decision::Unknown => RefreshFailure::Invalid,
        };
        Err(failure.into())
    }

    /// The user's live sessions, newest use first as the store lists them.
    pub async fn list(&self, auth: &Authenticated) -> Result<Vec<SessionSummary>> {
        let core = self.core;
        let now = core.now();
        let sessions = core
            .store()
            .live_sessions(&auth.session.user_id, now)
            .await?;
        Ok(sessions
            .into_iter()
            .filter_map(|session| {
                let expires_at = session.clock().current_token_expiry(&core.settings.policy);
                let current = session.id == auth.session.id;
                (expires_at > now || current).then_some(SessionSummary {
                    session,
                    expires_at,
                    current,
                })
            })
            .collect())
    }

    /// Ends one of the caller's own sessions, by id. Another user's session, or one
    /// that has ended, is [`ServiceError::NoSuchSession`]: its existence is not ours to
    /// tell.
    pub async fn revoke(&self, auth: &Authenticated, id: &str, meta: &RequestMeta) -> Result<()> {
        let core = self.core;
        let id = SessionId::parse(id).ok_or(ServiceError::NoSuchSession)?;
        let session = core
            .store()
            .session(&id)
            .await?
            .ok_or(ServiceError::NoSuchSession)?;
        if session.user_id != auth.session.user_id || !session.is_live(core.now()) {
            return Err(ServiceError::NoSuchSession);
        }
        end_sessions(core, &session, LogoutScope::Local, meta).await
    }

    /// RFC 7009: ends the session of an access or refresh token on behalf of `client`.
    /// An unknown or dead token is not an error; another client's token is
    /// [`ServiceError::ForeignClient`], refused before any side effect.
    pub async fn revoke_token(
        &self,
        client: &ClientIdentity,
        token: &str,
        meta: &RequestMeta,
    ) -> Result<()> {
        let session = match self.session_to_end(token, client, meta).await {
            Ok(session) => session,
            // Not a live refresh token (a reused one has just ended its session): maybe
            // an access token.
            Err(ServiceError::Refresh(_)) => match self.authenticate(token).await {
                Ok(auth) => {
                    if !super::clients::may_manage(self.core, client, &auth.session).await? {
                        return Err(ServiceError::ForeignClient);
                    }
                    auth.session
                }
                Err(ServiceError::AccessToken(_)) => return Ok(()),
                Err(other) => return Err(other),
            },
            Err(other) => return Err(other),
        };
        end_sessions(self.core, &session, LogoutScope::Local, meta).await
    }

    /// RFC 7662: what a token is, for an authenticated client; `None` when inactive.
    pub async fn introspect(
        &self,
        client: &ClientIdentity,
        token: &str,
    ) -> Result<Option<FoundToken>> {
        if !client.authenticated {
            return Err(ServiceError::ClientRejected);
        }
        if !client.may(Capability::Introspect) {
            return Err(ServiceError::NotPermitted(Capability::Introspect));
        }
        // A resource server asking about a token does not present it: no reuse check.
        match read_refresh_token(self.core, token).await {
            Ok((claims, session)) => {
                let policy = &self.core.settings.policy;
                return Ok(matches!(
                    decide(&session.clock(), claims.generation, self.core.now(), policy),
                    Decision::Rotate { .. } | Decision::GraceReplay { .. }
                )
                .then_some(FoundToken::Refresh(session)));
            }
            Err(ServiceError::Refresh(_)) => {}
            Err(other) => return Err(other),
        }
        match self.authenticate(token).await {
            Ok(auth) => Ok(Some(FoundToken::Access(auth.claims, auth.session))),
            Err(ServiceError::AccessToken(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// When a session's current refresh token expires.
    pub fn refresh_expiry(&self, session: &SessionRecord) -> UnixTime {
        session
            .clock()
            .current_token_expiry(&self.core.settings.policy)
    }
}

fn refresh_outcome(failure: RefreshFailure) -> RefreshOutcome {
    match failure {
        RefreshFailure::Invalid | RefreshFailure::WrongClient => RefreshOutcome::Invalid,
        RefreshFailure::Expired => RefreshOutcome::Expired,
        RefreshFailure::Revoked => RefreshOutcome::Revoked,
        RefreshFailure::Reused => RefreshOutcome::ReuseDetected,
    }
}

/// Signs an access token and derives the refresh token of `generation` for a session
/// whose current generation was issued at `session.rotated_at`.
async fn issue(
    core: &Core,
    session: &SessionRecord,
    generation: u64,
    now: UnixTime,
) -> Result<Issued> {
    let s = &core.settings;
    let claims = AccessClaims {
        iss: s.issuer.clone(),
        sub: session.user_id.to_string(),
        aud: s.audience.clone(),
        exp: now + s.access_ttl,
        iat: now,
        jti: new_jti(),
        sid: session.id.to_string(),
        client_id: session.client_id.clone(),
        preferred_username: session.username.clone(),
        nbf: None,
    };
    let keys = core.keys.signing_set(core.store(), now).await?;
    let access_token = access::issue(keys.current(), &claims).map_err(ServiceError::Signing)?;
    let refresh_token = core.codec.encode(RefreshClaims {
        session: session.id,
        generation,
    });
    let refresh_expires_at = session.clock().current_token_expiry(&s.policy);
    Ok(Issued {
        access_token,
        expires_in: s.access_ttl,
        refresh_token,
        refresh_expires_in: (refresh_expires_at - now).max(0),
        session_id: session.id,
    })
}

/// Revokes a session whose rotated token was presented again, with its audit row in
/// the same transaction.
async fn revoke_for_reuse(
    core: &Core,
    claims: &RefreshClaims,
    session: &SessionRecord,
    meta: &RequestMeta,
) -> Result<()> {
    let detail = format!(
        "generation {} presented, current {}",
        claims.generation, session.generation
    );
    let event = session_event(
        audit_kind::REUSE_DETECTED,
        session,
        meta,
        detail,
        core.now(),
    );
    core.store()
        .revoke_session(&session.id, "reuse_detected", &event)
        .await?;
    tracing::warn!(session = %session.id, user = %session.user_id, "refresh token reuse detected; session revoked");
    Ok(())
}

/// An audit row about `session`, asked for by `meta`.
fn session_event(
    kind: &str,
    session: &SessionRecord,
    meta: &RequestMeta,
    detail: String,
    at: UnixTime,
) -> AuditEvent {
    AuditEvent {
        user_id: Some(session.user_id.to_string()),
        session_id: Some(session.id.to_string()),
        ip: meta.ip.map(|ip| ip.to_string()),
        detail: Some(detail),
        ..AuditEvent::new(kind, at)
    }
}

/// The claims and the session row of a refresh token; garbage, forgeries and unknown
/// sessions are [`RefreshFailure::Invalid`].
async fn read_refresh_token(core: &Core, token: &str) -> Result<(RefreshClaims, SessionRecord)> {
    // The MAC check needs no database read: garbage stops here.
    let claims = core
        .codec
        .decode(token)
        .map_err(|_| RefreshFailure::Invalid)?;
    let session = core
        .store()
        .session(&claims.session)
        .await?
        .ok_or(RefreshFailure::Invalid)?;
    Ok((claims, session))
}

/// Ends sessions per `scope`, starting from `session`, with the audit row written in the
/// revoking transaction.
async fn end_sessions(
    core: &Core,
    session: &SessionRecord,
    scope: LogoutScope,
    meta: &RequestMeta,
) -> Result<()> {
    let detail = format!("scope={}", scope.as_str());
    let event = session_event(audit_kind::LOGOUT, session, meta, detail, core.now());
    match scope {
        LogoutScope::Local => {
            core.store()
                .revoke_session(&session.id, "logout", &event)
                .await?;
        }
        LogoutScope::Others | LogoutScope::Global => {
            let except = (scope == LogoutScope::Others).then_some(&session.id);
            core.store()
                .revoke_user_sessions(&session.user_id, except, "logout", &event)
                .await?;
        }
    }
    Ok(())
}
