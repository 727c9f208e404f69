//! The application state every handler receives: store, clock, keys, hasher, metrics
//! and the settings derived from the configuration. Nothing global.

use crate::config::Config;
use crate::hashing::HashPool;
use crate::keys::KeyManager;
use crate::metrics::Metrics;
use std::sync::Arc;
use symbolon_core::access::Expectations;
use symbolon_core::refresh::RefreshCodec;
use symbolon_core::rotation::RefreshPolicy;
use symbolon_core::Clock;
use symbolon_store::Store;

/// Shared, cheaply cloned state.
#[derive(Debug, Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

/// What the state holds.
#[derive(Debug)]
pub struct Inner {
    /// The loaded configuration.
    pub config: Config,
    /// The store chosen at start-up.
    pub store: Arc<dyn Store>,
    /// The clock (a fake one in tests).
    pub clock: Arc<dyn Clock>,
    /// Mints and checks refresh tokens.
    pub codec: RefreshCodec,
    /// Signing and verification keys.
    pub keys: KeyManager,
    /// Password hashing.
    pub hasher: HashPool,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// What access tokens must say.
    pub expect: Expectations,
    /// Refresh-token lifetimes.
    pub policy: RefreshPolicy,
    /// The issuer URL.
    pub issuer: String,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// The current time from the injected clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }
}
