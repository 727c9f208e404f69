//! The crate's one error type.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong in the SDK.
///
/// The variants that matter for control flow are [`Error::LoginRequired`] (the session is
/// over for good: ask the user to log in again) and [`Error::Transient`] (try again later:
/// the tokens were kept). No variant ever carries a password or a refresh token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// There are no tokens, or the server refused the refresh token (`invalid_grant`,
    /// RFC 6749 §5.2): the tokens were cleared and the user must log in again.
    #[error("login required: no session, or the session has ended")]
    LoginRequired,
    /// The last refresh may have reached the server, but no answer came back before the
    /// refresh deadline (half the server's reuse grace, from the first send): the server
    /// may have rotated the refresh token already, and presenting it again now would be
    /// taken for reuse and revoke the session. It is not presented again; the tokens are
    /// kept (marked in doubt) until a login replaces them. Log in again.
    #[error("the last token refresh may have reached the server but its answer was lost, and the reuse grace has passed; the refresh token is not presented again (that could revoke the session): log in again")]
    InDoubt,
    /// `POST /login` answered `invalid_grant`: wrong username or password.
    #[error("wrong username or password")]
    InvalidCredentials,
    /// The server could not be reached, timed out, answered 5xx or 429. Tokens are kept;
    /// the same call may succeed later.
    #[error("the server is temporarily unavailable: {reason}")]
    Transient {
        /// What happened, for people.
        reason: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        /// The underlying transport error, if any.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// The server answered with an error of `docs/API.md` §2 that the SDK does not
    /// handle itself.
    #[error("the server answered {status}: {code}: {description}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The contract's `error` code, e.g. `invalid_request`.
        code: String,
        /// The contract's `error_description`.
        description: String,
    },
    /// A request could not be built (bad URL, header or body).
    #[error("invalid request: {0}")]
    Request(#[source] reqwest::Error),
    /// The request was not sent: its URL is not on the server's origin (or one allowed
    /// with [`ClientBuilder::allow_origin`](crate::ClientBuilder::allow_origin)), or the
    /// path given to [`Client::try_request`](crate::Client::try_request) is not an
    /// absolute path. No token was attached and nothing was refreshed.
    #[error("not sent: {0}")]
    Refused(String),
    /// The server's answer is not what the contract promises.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The token store cannot be read or written.
    #[error("token store: {reason}")]
    Store {
        /// What failed, naming the file where there is one.
        reason: String,
        /// The I/O error, if any.
        #[source]
        source: Option<std::io::Error>,
    },
    /// The token file cannot be decrypted (wrong key, or damaged). It was moved aside to
    /// `moved_to` and nothing was deleted; log in again to start a new file.
    #[error("token file {path} cannot be decrypted (wrong key or damaged); it was moved to {moved_to}", path = .path.display(), moved_to = .moved_to.display())]
    Corrupt {
        /// The store's file.
        path: PathBuf,
        /// Where the unreadable file now is.
        moved_to: PathBuf,
    },
    /// A token record in a database store cannot be decrypted (wrong key, or damaged).
    /// The record is kept as it is; logging in again replaces it.
    #[error("the tokens of profile {profile} in {path} cannot be decrypted (wrong key or damaged); the record was kept", path = .path.display())]
    CorruptRecord {
        /// The database file.
        path: PathBuf,
        /// The profile whose record is unreadable.
        profile: String,
    },
    /// No key could be obtained from the key provider.
    #[error("token-store key unavailable: {0}")]
    KeyUnavailable(String),
}

impl Error {
    /// True for [`Error::LoginRequired`] and [`Error::InDoubt`]: the user must log in
    /// again.
    pub fn is_login_required(&self) -> bool {
        matches!(self, Error::LoginRequired | Error::InDoubt)
    }

    /// True when a refresh try that failed with this error cannot have reached the
    /// server: the request was never built, refused before sending, or its connection
    /// could not be made (DNS, refused, TLS: reqwest's `is_connect`). Anything else,
    /// a timeout or a reset included, may have been read and acted on by the server.
    pub(crate) fn never_sent(&self) -> bool {
        match self {
            Error::Request(_) | Error::Refused(_) => true,
            Error::Transient {
                source: Some(source),
                ..
            } => source.is_connect(),
            _ => false,
        }
    }

    /// This error again, for the callers that waited behind the refresh that failed
    /// with it (the transport error underneath is not cloneable and is left out).
    pub(crate) fn for_waiters(&self) -> Error {
        match self {
            Error::LoginRequired => Error::LoginRequired,
            Error::InDoubt => Error::InDoubt,
            Error::InvalidCredentials => Error::InvalidCredentials,
            Error::Transient {
                reason,
                retry_after,
                ..
            } => Error::Transient {
                reason: reason.clone(),
                retry_after: *retry_after,
                source: None,
            },
            Error::Server {
                status,
                code,
                description,
            } => Error::Server {
                status: *status,
                code: code.clone(),
                description: description.clone(),
            },
            Error::Request(e) => Error::Protocol(format!("invalid request: {e}")),
            Error::Refused(why) => Error::Refused(why.clone()),
            Error::Protocol(why) => Error::Protocol(why.clone()),
            Error::Store { reason, .. } => Error::Store {
                reason: reason.clone(),
                source: None,
            },
            Error::Corrupt { path, moved_to } => Error::Corrupt {
                path: path.clone(),
                moved_to: moved_to.clone(),
            },
            Error::CorruptRecord { path, profile } => Error::CorruptRecord {
                path: path.clone(),
                profile: profile.clone(),
            },
            Error::KeyUnavailable(why) => Error::KeyUnavailable(why.clone()),
        }
    }

    /// True for [`Error::Transient`]: the tokens were kept; try again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transient { .. })
    }

    pub(crate) fn store(reason: impl Into<String>, source: std::io::Error) -> Self {
        Error::Store {
            reason: reason.into(),
            source: Some(source),
        }
    }

    pub(crate) fn transport(source: reqwest::Error) -> Self {
        if source.is_builder() {
            return Error::Request(source);
        }
        let reason = if source.is_timeout() {
            "timed out".to_owned()
        } else if source.is_connect() {
            "cannot connect".to_owned()
        } else {
            "connection failed".to_owned()
        };
        Error::Transient {
            reason,
            retry_after: None,
            source: Some(source),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
