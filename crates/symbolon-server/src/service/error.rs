//! The one error type of the service layer. Transports map it to their own answers
//! (the HTTP layer in one place, `api::error`); each variant says what happened, in
//! domain terms, and keeps its cause as a `source`.

use symbolon_core::access::TokenError;
use symbolon_core::ids::InputError;
use symbolon_store::StoreError;

/// Why a refresh token was refused. Every one means "log in again" to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefreshFailure {
    /// Garbage, a forgery, or a session that does not exist.
    #[error("invalid refresh token")]
    Invalid,
    /// The token or its session expired.
    #[error("refresh token expired")]
    Expired,
    /// The session was revoked.
    #[error("refresh token revoked")]
    Revoked,
    /// A rotated token was presented outside the grace: the session is now revoked.
    #[error("refresh token reuse detected")]
    Reused,
    /// The token belongs to another client.
    #[error("refresh token was issued to another client")]
    WrongClient,
}

/// Why an access token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessTokenProblem {
    /// None was presented.
    #[error("an access token is required")]
    Missing,
    /// It does not verify (signature, expiry, issuer, audience, type, ...).
    #[error("{0}")]
    Invalid(TokenError),
    /// It verifies, but its session has ended (logout, revocation, expiry).
    #[error("the session has ended")]
    SessionEnded,
}

/// Everything a service call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Wrong username or password, or a disabled account (one answer for all three).
    #[error("invalid username or password")]
    BadCredentials,
    /// The current password given to a password change is wrong.
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    /// Too many failures for this account, client or address.
    #[error("too many attempts; retry later")]
    Throttled {
        /// Seconds until the next try may be evaluated (at least 1).
        retry_after: u64,
    },
    /// Too many password checks are queued already.
    #[error("too many password checks in progress; retry later")]
    Busy,
    /// A refresh token was refused.
    #[error(transparent)]
    Refresh(#[from] RefreshFailure),
    /// An access token was refused.
    #[error(transparent)]
    AccessToken(#[from] AccessTokenProblem),
    /// Input that breaks a rule (username or password shape, client id).
    #[error(transparent)]
    Invalid(#[from] InputError),
    /// A client secret too short to be one.
    #[error("a client secret must be at least 16 characters")]
    WeakClientSecret,
    /// Capabilities are for confidential clients: a public client cannot prove who
    /// it is.
    #[error("only a client with a secret can be given capabilities")]
    CapabilityNeedsSecret,
    /// The client authenticated but was not granted this.
    #[error("this client may not {0} (a capability it was not registered with)")]
    NotPermitted(symbolon_core::ids::Capability),
    /// The username belongs to another account.
    #[error("the username is taken")]
    UsernameTaken,
    /// The client id is registered already (or is the built-in default client).
    #[error("a client named {0} exists already")]
    ClientExists(String),
    /// Registration is closed.
    #[error("registration is disabled")]
    RegistrationClosed,
    /// No such session among the caller's own.
    #[error("no such session")]
    NoSuchSession,
    /// No user by that name.
    #[error("no user named {0}")]
    NoSuchUser(String),
    /// Client authentication failed (unknown client, wrong or missing secret).
    #[error("client authentication failed")]
    ClientRejected,
    /// The token belongs to a client that the caller may not act for.
    #[error("the token was issued to another client")]
    ForeignClient,
    /// The database failed.
    #[error("the database failed")]
    Store(#[from] StoreError),
    /// Signing an access token failed.
    #[error("cannot sign the access token")]
    Signing(#[source] symbolon_core::keys::KeyError),
    /// A signing-key operation failed.
    #[error("signing-key operation failed")]
    Keys(#[from] super::KeysError),
    /// Password hashing failed.
    #[error("password hashing failed")]
    Hashing(#[source] symbolon_core::password::HashFailed),
    /// A refresh kept losing the compare-and-swap to concurrent ones.
    #[error("the refresh lost the rotation race three times")]
    RotationContention,
}

impl From<super::hashing::Busy> for ServiceError {
    fn from(_: super::hashing::Busy) -> Self {
        Self::Busy
    }
}
