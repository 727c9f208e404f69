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
}
