//! The master key: 32 random bytes kept outside the database, from which every other
//! server secret is derived (refresh-token MAC keys, the key that wraps signing keys).
//!
//! Because it never enters the database, a copy of the database alone can neither mint
//! nor recover a refresh token, nor use a signing key.

use ring::hkdf;
use zeroize::Zeroizing;

/// Length of the master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;

/// The server's master secret. `Debug` never shows it.
pub struct MasterKey(Zeroizing<[u8; MASTER_KEY_LEN]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Why a master key could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the master key must be {MASTER_KEY_LEN} bytes, base64url-encoded on one line")]
pub struct BadMasterKey;

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, bytes.as_mut());
        Self(bytes)
    }

    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; MASTER_KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Parses the key file's text form (base64url, surrounding white space ignored).
    pub fn from_text(text: &str) -> Result<Self, BadMasterKey> {
        use base64::Engine;
        let raw = Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text.trim())
                .map_err(|_| BadMasterKey)?,
        );
        let bytes: [u8; MASTER_KEY_LEN] = raw.as_slice().try_into().map_err(|_| BadMasterKey)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key file's text form. The caller must write it to a 0600 file.
    pub fn to_text(&self) -> Zeroizing<String> {
        use base64::Engine;
        Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0.as_ref()) + "\n",
        )
    }

    /// Derives 32 bytes of key material for one purpose (HKDF-SHA256, RFC 5869).
    /// `salt` separates instances of a purpose, `info` names the purpose.
    pub(crate) fn derive(&self, salt: &[u8], info: &'static [u8]) -> Zeroizing<[u8; 32]> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(self.0.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        let infos = [info];
        // Both calls can only fail for an output longer than 255 blocks; 32 bytes is one.
        if let Ok(okm) = prk.expand(&infos, Len32) {
            let _ = okm.fill(out.as_mut());
        }
        out
    }
}

struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}
