//! The token response (contract §2) and the form tokens are stored in.

use crate::expiry::BootStamp;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// The token response of `POST /login` and `POST /token/refresh` (contract §2).
#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: Secret,
    pub token_type: String,
    pub expires_in: u64,
    pub refresh_token: Secret,
    pub session_id: String,
}

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
