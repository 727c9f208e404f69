//! Password hashing with Argon2id (RFC 9106), OWASP parameters by default.
//!
//! These calls are slow by design and block: the server runs them off the async
//! runtime with a bound on how many run at once.

use crate::ids::Password;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB (OWASP: 19 MiB = 19456).
    pub memory_kib: u32,
    /// Passes over memory (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// The parameters are outside Argon2's bounds.
#[derive(Debug, thiserror::Error)]
#[error("invalid Argon2id parameters: {0}")]
pub struct BadParams(String);

/// Hashes and verifies passwords; an unknown user is checked against a dummy hash so it
/// costs the same time as a wrong password.
pub struct Hasher {
    argon2: Argon2<'static>,
    dummy: String,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", self.argon2.params())
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// A hasher with these parameters. Computes the dummy hash once (one hash's time).
    pub fn new(params: HashParams) -> Result<Self, BadParams> {
        let p = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| BadParams(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let mut this = Self {
            argon2,
            dummy: String::new(),
        };
        this.dummy = this.hash(&Password::new("symbolon-dummy-password".into()));
        Ok(this)
    }

    /// A PHC string (`$argon2id$v=19$m=...`) with a fresh random salt.
    pub fn hash(&self, password: &Password) -> String {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        // Hashing fails only for parameter errors, ruled out in `new`, or absurd inputs;
        // an empty string then never verifies.
        self.argon2
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    }

    /// Whether `password` matches `stored`. With `None` (no such user) it does the same
    /// work against a dummy hash and answers false.
    pub fn verify(&self, password: &Password, stored: Option<&str>) -> bool {
        let (phc, real) = match stored {
            Some(phc) => (phc, true),
            None => (self.dummy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        // The stored hash names its own parameters, so old hashes keep verifying after
        // the configured cost changes.
        let ok = self
            .argon2
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok();
        ok && real
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> Hasher {
        Hasher::new(HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn hashes_verify_only_the_right_password() {
        let h = fast();
        let phc = h.hash(&Password::new("correct horse".into()));
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(h.verify(&Password::new("correct horse".into()), Some(&phc)));
        assert!(!h.verify(&Password::new("wrong horse".into()), Some(&phc)));
        assert!(!h.verify(&Password::new("symbolon-dummy-password".into()), None));
        assert!(!h.verify(&Password::new("x".into()), Some("not a phc string")));
    }

    #[test]
    fn default_parameters_are_owasp() {
        assert_eq!(
            HashParams::default(),
            HashParams {
                memory_kib: 19456,
                iterations: 2,
                parallelism: 1
            }
        );
    }
}
