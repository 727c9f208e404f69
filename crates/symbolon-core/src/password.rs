//! Password hashing with Argon2id (RFC 9106), OWASP parameters by default.
//!
//! These calls are slow by design and block: the server runs them off the async
//! runtime with a bound on how many run at once.

use crate::ids::Password;
use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

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
#[error("invalid Argon2id parameters")]
pub struct BadParams(#[source] argon2::Error);

/// Argon2id refused to hash (never for a [`Hasher`]'s checked parameters and its fixed
/// salt and output lengths; reported rather than hidden all the same).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashFailed(#[source] argon2::Error);

/// Length in bytes of the random salt of a new hash (the PHC recommendation).
const SALT_LEN: usize = 16;

/// Working memory for Argon2id, kept by one thread and reused by every hash it computes.
///
/// Without it each computation allocates (and frees) `memory_kib` KiB; the allocator keeps
/// such blocks in per-thread arenas, and resident memory grew to 230 MB after a login
/// flood. With it, each hashing thread holds exactly one buffer.
#[derive(Default)]
pub struct Scratch(Vec<Block>);

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scratch({} blocks)", self.0.len())
    }
}

impl Scratch {
    /// Argon2id of `password` and `salt` into `out`, in this buffer. Fails on a parameter
    /// or length error.
    fn argon2id(
        &mut self,
        params: &Params,
        password: &Password,
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let count = params.block_count();
        if self.0.len() < count {
            self.0.resize(count, Block::default());
        }
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(
                password.expose().as_bytes(),
                salt,
                out,
                &mut self.0[..count],
            )
    }
}

/// Hashes and verifies passwords; an unknown user is checked against a dummy hash so it
/// costs the same time as a wrong password.
pub struct Hasher {
    params: Params,
    dummy: String,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// A hasher with these parameters. Computes the dummy hash once (one hash's time).
    pub fn new(params: HashParams) -> Result<Self, BadParams> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(BadParams)?;
        let mut this = Self {
            params,
            dummy: String::new(),
        };
        let mut scratch = Scratch::default();
        // With the salt and output lengths fixed, only the parameters can make this fail.
        this.dummy = this
            .hash(
                &mut scratch,
                &Password::new("symbolon-dummy-password".into()),
            )
            .map_err(|HashFailed(e)| BadParams(e))?;
        Ok(this)
    }

    /// A PHC string (`$argon2id$v=19$m=...`) with a fresh random salt.
    pub fn hash(&self, scratch: &mut Scratch, password: &Password) -> Result<String, HashFailed> {
        let mut salt = [0u8; SALT_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
        let mut out = [0u8; 32];
        scratch
            .argon2id(&self.params, password, &salt, &mut out)
            .map_err(HashFailed)?;
        // PHC strings encode salt and hash in unpadded standard base64.
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost(),
            STANDARD_NO_PAD.encode(salt),
            STANDARD_NO_PAD.encode(out)
        ))
    }

    /// Whether `password` matches `stored`. With `None` (no such user) it does the same
    /// work against a dummy hash and answers false.
    pub fn verify(&self, scratch: &mut Scratch, password: &Password, stored: Option<&str>) -> bool {
        let (phc, real) = match stored {
            Some(phc) => (phc, true),
            None => (self.dummy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        // The stored hash names its own parameters, so old hashes keep verifying after
        // the configured cost changes.
        let (Ok(params), Some(salt), Some(expected)) =
            (Params::try_from(&parsed), parsed.salt, parsed.hash)
        else {
            return false;
        };
        if parsed.algorithm != argon2::ARGON2ID_IDENT {
            return false;
        }
        let mut salt_bytes = [0u8; 64];
        let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        if scratch
            .argon2id(&params, password, salt_raw, &mut out)
            .is_err()
        {
            return false;
        }
        let matches: bool = out.as_slice().ct_eq(expected.as_bytes()).into();
        matches && real
    }

    /// Whether `stored` was made with other parameters than this hasher's: after a
    /// successful check it should be replaced. Until then it verifies in another time
    /// than the dummy hash of unknown users, which would tell them apart.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        parsed.algorithm != argon2::ARGON2ID_IDENT
            || parsed.version != Some(0x13)
            || params.m_cost() != self.params.m_cost()
            || params.t_cost() != self.params.t_cost()
            || params.p_cost() != self.params.p_cost()
            || parsed.hash.map(|h| h.len()) != Some(32)
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
    fn a_hash_with_other_parameters_needs_a_rehash() {
        let h = fast();
        let s = &mut Scratch::default();
        let phc = h.hash(s, &Password::new("correct horse".into())).unwrap();
        assert!(!h.needs_rehash(&phc));
        let stronger = Hasher::new(HashParams {
            memory_kib: 128,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        assert!(stronger.needs_rehash(&phc));
        assert!(h.needs_rehash("not a hash"));
    }

    #[test]
    fn hashes_verify_only_the_right_password() {
        let h = fast();
        let s = &mut Scratch::default();
        let phc = h.hash(s, &Password::new("correct horse".into())).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(h.verify(s, &Password::new("correct horse".into()), Some(&phc)));
        assert!(!h.verify(s, &Password::new("wrong horse".into()), Some(&phc)));
        assert!(!h.verify(s, &Password::new("symbolon-dummy-password".into()), None));
        assert!(!h.verify(s, &Password::new("x".into()), Some("not a phc string")));
    }

    #[test]
    fn hashes_interoperate_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
        let h = fast();
        let s = &mut Scratch::default();
        // Ours verify with the reference verifier...
        let ours = h.hash(s, &Password::new("correct horse".into())).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        // ...and theirs, with other parameters, verify with ours (old hashes after a cost change).
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let params = Params::new(128, 2, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(h.verify(s, &Password::new("battery staple".into()), Some(&theirs)));
        assert!(!h.verify(s, &Password::new("battery stapler".into()), Some(&theirs)));
    }

    #[test]
    fn new_hashes_have_a_16_byte_salt_and_a_32_byte_hash() {
        let h = fast();
        let phc = h
            .hash(&mut Scratch::default(), &Password::new("pw".into()))
            .unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        assert_eq!(parsed.salt.unwrap().as_str().len(), 22);
        assert_eq!(parsed.hash.unwrap().len(), 32);
    }

    #[test]
    fn bad_parameters_keep_argon2s_reason_as_the_source() {
        use std::error::Error;
        let e = Hasher::new(HashParams {
            memory_kib: 1,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "invalid Argon2id parameters");
        let source = e.source().expect("a source").to_string();
        assert!(!source.is_empty() && !e.to_string().contains(&source));
    }

    #[test]
    fn an_argon2_failure_is_an_error_not_an_empty_hash() {
        // A salt shorter than Argon2's minimum of 8 bytes: the run fails, and says so.
        let h = fast();
        let mut out = [0u8; 32];
        let e = Scratch::default()
            .argon2id(&h.params, &Password::new("pw".into()), b"short", &mut out)
            .map_err(HashFailed)
            .unwrap_err();
        assert_eq!(e.to_string(), "password hashing failed");
        assert!(std::error::Error::source(&e).is_some());
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
