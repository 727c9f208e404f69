//! Signing keys for access tokens: generation, the parsed in-memory signer, the public
//! JWK (RFC 7517), and the wrapping of private halves under the master key.

use crate::master::MasterKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use ring::{aead, hmac};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The JWS algorithms symbolon signs access tokens with (RFC 7518 §3, RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlg {
    /// Ed25519 (the default).
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    RS256,
    /// HMAC-SHA256; the key is never published.
    HS256,
}

impl SigningAlg {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::HS256 => "HS256",
        }
    }

    /// Parses an `alg` name as written in the configuration.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::EdDSA, Self::ES256, Self::RS256, Self::HS256]
            .into_iter()
            .find(|alg| alg.as_str() == text)
    }

    pub(crate) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
            Self::HS256 => jsonwebtoken::Algorithm::HS256,
        }
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a key could not be made, read, unwrapped or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key material does not parse for its algorithm.
    #[error("the {0} key material is invalid")]
    BadMaterial(SigningAlg),
    /// The wrapped key does not decrypt: a different master key, or a damaged row.
    #[error("a signing key does not decrypt under this master key (wrong master key file?)")]
    Unwrap,
    /// The system's random generator failed.
    #[error("the random generator failed")]
    Random,
    /// A new RSA key could not be generated.
    #[error("cannot generate an RSA key")]
    RsaGeneration(#[source] rsa::Error),
    /// A new key could not be encoded as PKCS#8.
    #[error("cannot encode the new key as PKCS#8")]
    Pkcs8(#[source] rsa::pkcs8::Error),
    /// Key material could not be encrypted under the wrapping key.
    #[error("cannot encrypt the key material")]
    Seal,
    /// The header or claims of a token could not be serialised.
    #[error("cannot serialise the token")]
    Json(#[source] serde_json::Error),
}

/// A public key as published in the JWKS (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `OKP`, `EC` or `RSA`.
    pub kty: String,
    /// The key id, as in the tokens' `kid` header.
    pub kid: String,
    /// The algorithm the key is used with.
    pub alg: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// Curve, for `OKP` and `EC`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crv: Option<String>,
    /// Public point x (or the Ed25519 public key).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x: Option<String>,
    /// Public point y, for `EC`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub e: Option<String>,
}

enum Signer {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Hmac(hmac::Key),
}

/// A signing key, parsed once and kept in memory: signing never re-parses it.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    signer: Signer,
    rng: SystemRandom,
    jwk: Option<Jwk>,
    decoding: jsonwebtoken::DecodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Private key material: PKCS#8 DER for the asymmetric algorithms, the raw secret for HS256.
pub type PrivateMaterial = Zeroizing<Vec<u8>>;

impl SigningKey {
    /// Generates a new key with a fresh random `kid`.
    pub fn generate(alg: SigningAlg) -> Result<(Self, PrivateMaterial), KeyError> {
        let rng = SystemRandom::new();
        let material: PrivateMaterial = Zeroizing::new(match alg {
            SigningAlg::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| KeyError::Random)?
                .as_ref()
                .to_vec(),
            SigningAlg::ES256 => {
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| KeyError::Random)?
                    .as_ref()
                    .to_vec()
            }
            SigningAlg::RS256 => {
                use rsa::pkcs8::EncodePrivateKey;
                // ring cannot generate RSA keys; the rsa crate does, once per rotation.
                let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
                    .map_err(KeyError::RsaGeneration)?;
                key.to_pkcs8_der()
                    .map_err(KeyError::Pkcs8)?
                    .as_bytes()
                    .to_vec()
            }
            SigningAlg::HS256 => {
                let mut secret = vec![0u8; 32];
                ring::rand::SecureRandom::fill(&rng, &mut secret).map_err(|_| KeyError::Random)?;
                secret
            }
        });
        let kid = crate::ids::new_jti();
        let key = Self::from_material(kid, alg, &material)?;
        Ok((key, material))
    }

    /// Rebuilds a key from its stored material.
    pub fn from_material(kid: String, alg: SigningAlg, material: &[u8]) -> Result<Self, KeyError> {
        let bad = || KeyError::BadMaterial(alg);
        let rng = SystemRandom::new();
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let jwk = |kty: &str| Jwk {
            kty: kty.into(),
            kid: kid.clone(),
            alg: alg.as_str().into(),
            use_: "sig".into(),
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
        };
        let (signer, jwk) = match alg {
            SigningAlg::EdDSA => {
                let pair =
                    Ed25519KeyPair::from_pkcs8_maybe_unchecked(material).map_err(|_| bad())?;
                let jwk = Jwk {
                    crv: Some("Ed25519".into()),
                    x: Some(b64(pair.public_key().as_ref())),
                    ..jwk("OKP")
                };
                (Signer::Ed(pair), Some(jwk))
            }
            SigningAlg::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    material,
                    &rng,
                )
                .map_err(|_| bad())?;
                // An uncompressed point: 0x04 ‖ x ‖ y.
                let point = pair.public_key().as_ref();
                if point.len() != 65 {
                    return Err(bad());
                }
                let jwk = Jwk {
                    crv: Some("P-256".into()),
                    x: Some(b64(&point[1..33])),
                    y: Some(b64(&point[33..65])),
                    ..jwk("EC")
                };
                (Signer::Ec(pair), Some(jwk))
            }
            SigningAlg::RS256 => {
                use rsa::pkcs8::DecodePrivateKey;
                use rsa::traits::PublicKeyParts;
                let pair = RsaKeyPair::from_pkcs8(material).map_err(|_| bad())?;
                let parsed = rsa::RsaPrivateKey::from_pkcs8_der(material).map_err(|_| bad())?;
                let jwk = Jwk {
                    n: Some(b64(&parsed.n().to_bytes_be())),
                    e: Some(b64(&parsed.e().to_bytes_be())),
                    ..jwk("RSA")
                };
                (Signer::Rsa(pair), Some(jwk))
            }
            SigningAlg::HS256 => {
                if material.len() < 32 {
                    return Err(bad());
                }
                (
                    Signer::Hmac(hmac::Key::new(hmac::HMAC_SHA256, material)),
                    None,
                )
            }
        };
        let decoding = match (&jwk, alg) {
            (_, SigningAlg::HS256) => jsonwebtoken::DecodingKey::from_secret(material),
            (Some(jwk), _) => decoding_key(jwk).ok_or_else(bad)?,
            (None, _) => return Err(bad()),
        };
        Ok(Self {
            kid,
            alg,
            signer,
            rng,
            jwk,
            decoding,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public JWK; `None` for HS256, whose key is never published.
    pub fn jwk(&self) -> Option<&Jwk> {
        self.jwk.as_ref()
    }

    /// The verification key, with the algorithm pinned to this key's (RFC 8725 §3.1).
    pub(crate) fn decoding_key(&self) -> &jsonwebtoken::DecodingKey {
        &self.decoding
    }

    /// Signs a JWS signing input.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        Ok(match &self.signer {
            Signer::Ed(pair) => pair.sign(message).as_ref().to_vec(),
            Signer::Ec(pair) => pair
                .sign(&self.rng, message)
                .map_err(|_| KeyError::Random)?
                .as_ref()
                .to_vec(),
            Signer::Rsa(pair) => {
                let mut out = vec![0u8; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut out)
                    .map_err(|_| KeyError::Random)?;
                out
            }
            Signer::Hmac(key) => hmac::sign(key, message).as_ref().to_vec(),
        })
    }
}

/// A verification key built from a published JWK, as a resource server would.
pub fn decoding_key(jwk: &Jwk) -> Option<jsonwebtoken::DecodingKey> {
    match jwk.kty.as_str() {
        "OKP" => jsonwebtoken::DecodingKey::from_ed_components(jwk.x.as_deref()?).ok(),
        "EC" => {
            jsonwebtoken::DecodingKey::from_ec_components(jwk.x.as_deref()?, jwk.y.as_deref()?).ok()
        }
        "RSA" => {
            jsonwebtoken::DecodingKey::from_rsa_components(jwk.n.as_deref()?, jwk.e.as_deref()?)
                .ok()
        }
        _ => None,
    }
}

/// Encrypts and decrypts private key material under a key derived from the master key
/// (AES-256-GCM, a random 96-bit nonce per wrap, the `kid` as associated data so a
/// wrapped key cannot be moved to another row).
pub struct KeyWrap {
    key: aead::LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for KeyWrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyWrap(<redacted>)")
    }
}

impl KeyWrap {
    /// The wrapping key for this master key.
    pub fn new(master: &MasterKey) -> Self {
        let bytes = master.derive(b"", b"symbolon/signing-key-wrap/v1");
        #[allow(clippy::expect_used)] // 32 bytes is AES-256's key length.
        let unbound =
            aead::UnboundKey::new(&aead::AES_256_GCM, bytes.as_ref()).expect("32-byte AES key");
        Self {
            key: aead::LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        }
    }

    /// `nonce ‖ ciphertext ‖ tag`.
    pub fn wrap(&self, kid: &str, material: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; aead::NONCE_LEN];
        ring::rand::SecureRandom::fill(&self.rng, &mut nonce).map_err(|_| KeyError::Random)?;
        let mut sealed = material.to_vec();
        self.key
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(kid.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| KeyError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Reverses [`KeyWrap::wrap`].
    pub fn unwrap(&self, kid: &str, wrapped: &[u8]) -> Result<PrivateMaterial, KeyError> {
        if wrapped.len() < aead::NONCE_LEN + aead::AES_256_GCM.tag_len() {
            return Err(KeyError::Unwrap);
        }
        let (nonce, sealed) = wrapped.split_at(aead::NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyError::Unwrap)?;
        let mut buf = Zeroizing::new(sealed.to_vec());
        let plain_len = self
            .key
            .open_in_place(nonce, aead::Aad::from(kid.as_bytes()), buf.as_mut())
            .map_err(|_| KeyError::Unwrap)?
            .len();
        buf.truncate(plain_len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_generates_signs_and_reloads() {
        for alg in [
            SigningAlg::EdDSA,
            SigningAlg::ES256,
            SigningAlg::RS256,
            SigningAlg::HS256,
        ] {
            let (key, material) = SigningKey::generate(alg).unwrap();
            assert!(!key.sign(b"message").unwrap().is_empty());
            let again = SigningKey::from_material(key.kid().into(), alg, &material).unwrap();
            assert_eq!(again.jwk(), key.jwk());
            assert_eq!(key.jwk().is_none(), alg == SigningAlg::HS256);
        }
    }

    #[test]
    fn wrapped_keys_open_only_under_the_same_master_key_and_kid() {
        let master = MasterKey::generate();
        let wrap = KeyWrap::new(&master);
        let sealed = wrap.wrap("kid-1", b"secret material").unwrap();
        assert_eq!(
            wrap.unwrap("kid-1", &sealed).unwrap().as_slice(),
            b"secret material"
        );
        assert!(wrap.unwrap("kid-2", &sealed).is_err());
        assert!(KeyWrap::new(&MasterKey::generate())
            .unwrap("kid-1", &sealed)
            .is_err());
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
    }
}
