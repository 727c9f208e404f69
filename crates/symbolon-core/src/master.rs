//! The master key: 32 random bytes kept outside the database, from which every other
//! server secret is derived (refresh-token MAC keys, the key that wraps signing keys).
//!
//! Because it never enters the database, a copy of the database alone can neither mint
//! nor recover a refresh token, nor use a signing key.

use ring::hmac;
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
        hkdf_sha256_32(self.0.as_ref(), salt, info)
    }
}

/// HKDF-SHA256 (RFC 5869 §2) with an output of exactly one hash length, written out with
/// HMAC so that it cannot fail: PRK = HMAC(salt, IKM); OKM = T(1) = HMAC(PRK, info ‖ 0x01).
/// (An HKDF library's expand step returns an error for outputs over 255 blocks, which a
/// fixed 32-byte output never reaches, but which would otherwise have to be handled.)
fn hkdf_sha256_32(ikm: &[u8], salt: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let prk = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, salt), ikm);
    let mut t1 = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref()));
    t1.update(info);
    t1.update(&[1]);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(t1.sign().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn derivation_is_rfc_5869_hkdf_sha256() {
        // RFC 5869 A.1 (test case 1): the first 32 bytes of its 42-byte OKM are T(1).
        let okm = hkdf_sha256_32(
            &hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
            &hex("000102030405060708090a0b0c"),
            &hex("f0f1f2f3f4f5f6f7f8f9"),
        );
        assert_eq!(
            okm.as_slice(),
            hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf")
        );
    }

    #[test]
    fn derivation_matches_ring_hkdf_so_existing_secrets_are_unchanged() {
        struct Len32;
        impl ring::hkdf::KeyType for Len32 {
            fn len(&self) -> usize {
                32
            }
        }
        let master = MasterKey::generate();
        for (salt, info) in [
            (&b""[..], &b"symbolon/refresh/v1"[..]),
            (b"", b"symbolon/signing-key-wrap/v1"),
            (b"some salt", b"x"),
        ] {
            let prk =
                ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, salt).extract(master.0.as_ref());
            let mut expected = [0u8; 32];
            prk.expand(&[info], Len32)
                .unwrap()
                .fill(&mut expected)
                .unwrap();
            assert_eq!(
                hkdf_sha256_32(master.0.as_ref(), salt, info).as_slice(),
                expected
            );
        }
    }
}
