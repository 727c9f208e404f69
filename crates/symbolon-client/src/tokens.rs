//! The token response (`docs/API.md` §2, from the shared wire types) and the form
//! tokens are stored in.

use crate::expiry::BootStamp;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

pub(crate) use symbolon_proto::TokenResponse;

/// Tokens as a [`TokenStore`](crate::TokenStore) keeps them. Its `Debug` redacts both
/// tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTokens {
    /// The access token (a JWT).
    pub access_token: Secret,
    /// The refresh token (opaque, single use).
    pub refresh_token: Secret,
    /// The session these tokens belong to.
    pub session_id: String,
    /// The access token's lifetime in seconds, as the server said (`expires_in`).
    pub expires_in: u64,
    /// When the token response arrived, on the boot clock (see
    /// [`expiry`](crate::expiry)); `None` where there is no such clock.
    pub obtained: Option<BootStamp>,
    /// Set while a `POST /token/refresh` with this refresh token may have reached the
    /// server without its answer reaching the client: the server may have rotated it
    /// already, and presenting it after the server's reuse grace would be taken for reuse
    /// and end the session. Written before the first try is sent, so that a process that
    /// dies mid-refresh leaves the mark for the next one. Absent in records written
    /// before the mark existed (and in every record without doubt), which read as
    /// "not in doubt".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_doubt: Option<InDoubt>,
}

/// The "in doubt since" mark of [`StoredTokens::in_doubt`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InDoubt {
    /// When the first refresh try that may have reached the server was sent, on the
    /// boot clock; `None` where there is no such clock (then another process cannot tell
    /// the mark's age and never presents the token).
    pub since: Option<BootStamp>,
}
