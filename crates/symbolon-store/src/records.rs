//! The records the store reads and writes, in domain types.

use symbolon_core::ids::{Capability, SessionId, UserId};
use symbolon_core::rotation::SessionClock;
use symbolon_core::UnixTime;

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Stable id (the `sub` claim).
    pub id: UserId,
    /// The username as registered.
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// When the account was made.
    pub created_at: UnixTime,
    /// When it was disabled, if it was.
    pub disabled_at: Option<UnixTime>,
    /// Raised by every password change and disable: a session starts only under the
    /// epoch its password was checked in (see [`crate::Store::create_session`]).
    pub credential_epoch: u64,
}

impl UserRecord {
    /// The comparison key of the username.
    pub fn username_key(&self) -> String {
        self.username.to_ascii_lowercase()
    }
}

/// An OAuth 2.0 client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// The client id.
    pub client_id: String,
    /// Keyed hash of the secret (or the Argon2id PHC string of earlier versions);
    /// `None` for a public client.
    pub secret_hash: Option<String>,
    /// When it was registered.
    pub created_at: UnixTime,
    /// What it may do beyond its own tokens (sorted, no duplicates).
    pub capabilities: Vec<Capability>,
}

/// A session: one login's chain of refresh tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Session id (the `sid` claim).
    pub id: SessionId,
    /// Its user.
    pub user_id: UserId,
    /// The user's name at login (usernames never change).
    pub username: String,
    /// The client that logged in.
    pub client_id: String,
    /// How many times the refresh token was rotated.
    pub generation: u64,
    /// Login time.
    pub created_at: UnixTime,
    /// When the current generation was issued.
    pub rotated_at: UnixTime,
    /// Last login or refresh.
    pub last_used_at: UnixTime,
    /// The session's absolute end.
    pub absolute_end: UnixTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<UnixTime>,
    /// The user agent at login.
    pub user_agent: Option<String>,
    /// The client IP at login.
    pub ip: Option<String>,
}

impl SessionRecord {
    /// The state the rotation rules look at.
    pub fn clock(&self) -> SessionClock {
        SessionClock {
            generation: self.generation,
            created_at: self.created_at,
            rotated_at: self.rotated_at,
            absolute_end: self.absolute_end,
            revoked: self.revoked_at.is_some(),
        }
    }

    /// Whether access tokens of this session are still honoured at `now`.
    pub fn is_live(&self, now: UnixTime) -> bool {
        self.revoked_at.is_none() && now < self.absolute_end
    }
}

/// One entry of the revocation feed: a session that was revoked (docs/API.md §2.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRecord {
    /// Its place in the feed: commit order, never reused.
    pub seq: u64,
    /// The revoked session (the `sid` of its access tokens).
    pub session_id: SessionId,
    /// When it was revoked.
    pub revoked_at: UnixTime,
}

/// A signing key as stored: the private half wrapped under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// Key id.
    pub kid: String,
    /// Algorithm name (`EdDSA`, `ES256`, `RS256`, `HS256`).
    pub alg: String,
    /// Nonce, ciphertext and tag of the private material.
    pub wrapped_private: Vec<u8>,
    /// When it was made (and published).
    pub created_at: UnixTime,
    /// When it starts signing: later than `created_at` for a rotated-in key, so that
    /// every instance publishes it before any token carries its `kid`.
    pub active_at: UnixTime,
    /// When it stops (or stopped) signing; `None` while no successor is scheduled.
    pub retired_at: Option<UnixTime>,
}

/// Kinds of audit event.
pub mod audit_kind {
    /// A successful login.
    pub const LOGIN_SUCCESS: &str = "login_success";
    /// A failed login.
    pub const LOGIN_FAILURE: &str = "login_failure";
    /// A rotated refresh token was presented again: the session was revoked.
    pub const REUSE_DETECTED: &str = "reuse_detected";
    /// A logout or revocation.
    pub const LOGOUT: &str = "logout";
    /// A password change.
    pub const PASSWORD_CHANGED: &str = "password_changed";
    /// A signing-key rotation.
    pub const KEY_ROTATED: &str = "key_rotated";
    /// A user was disabled.
    pub const USER_DISABLED: &str = "user_disabled";
    /// A user was created.
    pub const USER_CREATED: &str = "user_created";
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When it happened.
    pub at: UnixTime,
    /// One of [`audit_kind`].
    pub kind: String,
    /// The user concerned.
    pub user_id: Option<String>,
    /// The session concerned.
    pub session_id: Option<String>,
    /// The client IP.
    pub ip: Option<String>,
    /// Free text; never a secret.
    pub detail: Option<String>,
}

impl AuditEvent {
    /// An event of `kind` at `at` with nothing else filled in.
    pub fn new(kind: &str, at: UnixTime) -> Self {
        Self {
            at,
            kind: kind.into(),
            user_id: None,
            session_id: None,
            ip: None,
            detail: None,
        }
    }
}
