//! Signing keys as an operation: the published JWKS, the list, rotation, reload.

use super::key_manager::create_key;
use super::{Core, Result};
use std::sync::Arc;
use symbolon_core::access::KeySet;
use symbolon_core::keys::Jwk;
use symbolon_store::SigningKeyRecord;

/// Signing-key operations; see [`super::Service::keys`].
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    core: &'a Core,
}

impl<'a> Keys<'a> {
    pub(super) fn new(core: &'a Core) -> Self {
        Self { core }
    }

    /// The public keys whose tokens may still be valid (for the JWKS).
    pub fn jwks(&self) -> Arc<Vec<Jwk>> {
        self.core.keys.jwks()
    }

    /// The keys to sign and verify with now.
    pub fn key_set(&self) -> Arc<KeySet> {
        self.core.keys.key_set()
    }

    /// Every stored key, newest first.
    pub async fn list(&self) -> Result<Vec<SigningKeyRecord>> {
        Ok(self.core.store().signing_keys().await?)
    }

    /// Makes a new key of the configured algorithm current and retires the others;
    /// every instance picks it up within `key_refresh`. Returns its `kid`.
    pub async fn rotate(&self) -> Result<String> {
        let core = self.core;
        let now = core.now();
        let kid = create_key(
            core.store(),
            core.keys.wrap(),
            core.settings.signing_alg,
            now,
            Some(now),
        )
        .await?;
        core.keys.reload(core.store(), now).await?;
        Ok(kid)
    }

    /// Re-reads the keys from the store (the periodic reload).
    pub async fn reload(&self) -> Result<()> {
        Ok(self
            .core
            .keys
            .reload(self.core.store(), self.core.now())
            .await?)
    }
}
