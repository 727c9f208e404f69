//! Signing keys as an operation: the published JWKS, the list, rotation, reload.

use super::key_manager::create_key;
use super::{Core, Result};
use std::sync::Arc;
use symbolon_core::access::KeySet;
use symbolon_core::keys::Jwk;
use symbolon_core::UnixTime;
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

    /// The public keys whose tokens may still be valid, and the next key (for the
    /// JWKS). Fails (database unavailable) when this instance cannot read the keys.
    pub async fn jwks(&self) -> Result<Arc<Vec<Jwk>>> {
        let core = self.core;
        Ok(core.keys.jwks(core.store(), core.now()).await?)
    }

    /// The keys to verify with now.
    pub fn key_set(&self) -> Arc<KeySet> {
        self.core.keys.key_set()
    }

    /// Every stored key, newest first.
    pub async fn list(&self) -> Result<Vec<SigningKeyRecord>> {
        Ok(self.core.store().signing_keys().await?)
    }

    /// Adds a key of the configured algorithm, published at once, that signs from
    /// `now + activation delay` (when every instance publishes it), and schedules the
    /// other keys to retire then.
    pub async fn rotate(&self) -> Result<Rotated> {
        let core = self.core;
        let now = core.now();
        let active_at = now + core.keys.activation_delay();
        let kid = create_key(
            core.store(),
            core.keys.wrap(),
            core.settings.signing_alg,
            now,
            active_at,
        )
        .await?;
        core.keys.reload(core.store(), now).await?;
        Ok(Rotated { kid, active_at })
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

/// A key added by [`Keys::rotate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// Its id.
    pub kid: String,
    /// When it starts signing (it is published already).
    pub active_at: UnixTime,
}
