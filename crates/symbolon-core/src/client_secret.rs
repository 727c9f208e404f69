//! Client secrets: machine-generated and high-entropy, so unlike passwords they need no
//! slow hash. They are stored as HMAC-SHA-256 under a key derived from the master key
//! and checked in constant time in microseconds: a copy of the database alone cannot
//! test guesses against them, and checking one costs no Argon2id memory or thread.

use crate::master::MasterKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;

/// The prefix of a stored keyed hash; anything else (a PHC string `$argon2id$…` written
/// by earlier versions) is [`SecretCheck::Legacy`].
const PREFIX: &str = "hmac-sha256$";

/// Hashes and checks client secrets under the master key.
pub struct ClientSecrets {
    key: hmac::Key,
}

impl std::fmt::Debug for ClientSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecrets(<redacted>)")
    }
}

/// The outcome of checking a presented secret against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretCheck {
    /// The secret matches.
    Match,
    /// It does not, or there is no stored hash (an unknown or public client).
    NoMatch,
    /// The stored hash is an older format (Argon2id): check it with the password hasher.
    Legacy,
}

impl ClientSecrets {
    /// The checker for this master key.
    pub fn new(master: &MasterKey) -> Self {
        let derived = master.derive(b"", b"symbolon/client-secret/v1");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    /// The stored form of `secret`.
    pub fn hash(&self, secret: &str) -> String {
        let tag = hmac::sign(&self.key, secret.as_bytes());
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// Checks `secret` against `stored` in constant time. Without a stored hash the MAC
    /// is still computed, so an unknown client costs what a known one does.
    pub fn check(&self, secret: &str, stored: Option<&str>) -> SecretCheck {
        let tag = stored
            .and_then(|s| s.strip_prefix(PREFIX))
            .and_then(|t| URL_SAFE_NO_PAD.decode(t).ok());
        match (stored, tag) {
            (Some(_), Some(tag)) => match hmac::verify(&self.key, secret.as_bytes(), &tag) {
                Ok(()) => SecretCheck::Match,
                Err(_) => SecretCheck::NoMatch,
            },
            (Some(s), None) if s.starts_with('$') => SecretCheck::Legacy,
            _ => {
                // Same work as a real check, result ignored.
                let _ = hmac::verify(&self.key, secret.as_bytes(), &[0u8; 32]);
                SecretCheck::NoMatch
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_matches_its_hash_only_under_the_same_master_key() {
        let master = MasterKey::generate();
        let secrets = ClientSecrets::new(&master);
        let stored = secrets.hash("a long machine-made secret");
        assert!(stored.starts_with(PREFIX) && !stored.contains("machine"));
        assert_eq!(
            secrets.check("a long machine-made secret", Some(&stored)),
            SecretCheck::Match
        );
        assert_eq!(
            secrets.check("a long machine-made secreT", Some(&stored)),
            SecretCheck::NoMatch
        );
        assert_eq!(secrets.check("anything", None), SecretCheck::NoMatch);
        let other = ClientSecrets::new(&MasterKey::generate());
        assert_eq!(
            other.check("a long machine-made secret", Some(&stored)),
            SecretCheck::NoMatch
        );
        assert_eq!(
            secrets.check("x", Some("$argon2id$v=19$m=64,t=1,p=1$abc$def")),
            SecretCheck::Legacy
        );
        assert_eq!(
            secrets.check("x", Some("hmac-sha256$not base64!")),
            SecretCheck::NoMatch
        );
    }
}
