//! The refresh-token format.
//!
//! A refresh token is `base64url(version ‖ session id ‖ generation ‖ tag)`, where the tag
//! is HMAC-SHA256 under a per-session key derived from the master key. Nothing about the
//! token is stored: the server keeps only the session's current generation, and can
//! re-derive the token of any generation. So a forged or garbled token is rejected before
//! any database read, and a copy of the database alone cannot mint or recover a token.

use crate::ids::SessionId;
use crate::master::MasterKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const TAG_LEN: usize = 32;
const RAW_LEN: usize = 1 + 16 + 8 + TAG_LEN;
/// The length of a refresh token's text form.
pub const TEXT_LEN: usize = (RAW_LEN * 4).div_ceil(3);

/// What a valid refresh token says: which session, which generation of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshClaims {
    /// The session this token belongs to.
    pub session: SessionId,
    /// The rotation count at which this token was issued (0 at login).
    pub generation: u64,
}

/// A refresh token's text, as handed to a client. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshTokenText(Zeroizing<String>);

impl RefreshTokenText {
    /// The token text, to put in a response body.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RefreshTokenText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshTokenText(<redacted>)")
    }
}

/// The token was not made by this server (or was altered): reject without a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed or tampered refresh token")]
pub struct Malformed;

/// Mints and checks refresh tokens.
pub struct RefreshCodec {
    root: hmac::Key,
}

impl std::fmt::Debug for RefreshCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshCodec(<redacted>)")
    }
}

impl RefreshCodec {
    /// A codec keyed from the master key.
    pub fn new(master: &MasterKey) -> Self {
        let root = master.derive(b"", b"symbolon/refresh/v1");
        Self {
            root: hmac::Key::new(hmac::HMAC_SHA256, root.as_ref()),
        }
    }

    /// The per-session key: the session id, 128 random bits, acts as its salt.
    fn session_key(&self, session: &SessionId) -> hmac::Key {
        let derived = hmac::sign(&self.root, session.as_bytes());
        hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref())
    }

    /// The token for one generation of a session. Deterministic: the same claims always
    /// give the same text, which is what lets a grace replay return the same successor.
    pub fn encode(&self, claims: RefreshClaims) -> RefreshTokenText {
        let mut raw = Zeroizing::new([0u8; RAW_LEN]);
        raw[0] = VERSION;
        raw[1..17].copy_from_slice(claims.session.as_bytes());
        raw[17..25].copy_from_slice(&claims.generation.to_be_bytes());
        let tag = hmac::sign(&self.session_key(&claims.session), &raw[..25]);
        raw[25..].copy_from_slice(tag.as_ref());
        RefreshTokenText(Zeroizing::new(URL_SAFE_NO_PAD.encode(raw.as_ref())))
    }

    /// Checks a presented token's format and tag (in constant time) and returns its claims.
    pub fn decode(&self, text: &str) -> Result<RefreshClaims, Malformed> {
        if text.len() != TEXT_LEN {
            return Err(Malformed);
        }
        let raw = Zeroizing::new(URL_SAFE_NO_PAD.decode(text).map_err(|_| Malformed)?);
        if raw.len() != RAW_LEN || raw[0] != VERSION {
            return Err(Malformed);
        }
        let session = SessionId::from_bytes(raw[1..17].try_into().map_err(|_| Malformed)?);
        hmac::verify(&self.session_key(&session), &raw[..25], &raw[25..]).map_err(|_| Malformed)?;
        let generation = u64::from_be_bytes(raw[17..25].try_into().map_err(|_| Malformed)?);
        Ok(RefreshClaims {
            session,
            generation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> RefreshCodec {
        RefreshCodec::new(&MasterKey::generate())
    }

    #[test]
    fn tokens_round_trip_and_are_deterministic() {
        let codec = codec();
        let claims = RefreshClaims {
            session: SessionId::generate(),
            generation: 7,
        };
        let token = codec.encode(claims);
        assert_eq!(token.expose().len(), TEXT_LEN);
        assert_eq!(codec.decode(token.expose()), Ok(claims));
        assert_eq!(codec.encode(claims), token);
    }

    #[test]
    fn any_flipped_character_is_rejected() {
        let codec = codec();
        let token = codec.encode(RefreshClaims {
            session: SessionId::generate(),
            generation: 0,
        });
        let text = token.expose();
        for i in 0..text.len() {
            let mut bytes = text.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let edited = String::from_utf8(bytes).unwrap_or_default();
            if edited != text {
                assert_eq!(codec.decode(&edited), Err(Malformed), "position {i}");
            }
        }
    }

    #[test]
    fn another_master_key_cannot_verify() {
        let token = codec().encode(RefreshClaims {
            session: SessionId::generate(),
            generation: 1,
        });
        assert_eq!(codec().decode(token.expose()), Err(Malformed));
        assert_eq!(codec().decode(""), Err(Malformed));
        assert_eq!(codec().decode(&"A".repeat(TEXT_LEN)), Err(Malformed));
    }
}
