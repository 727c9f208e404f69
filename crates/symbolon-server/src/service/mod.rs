//! The service layer: what symbolon does, with no transport in sight.
//!
//! Sessions (login, refresh, logout, list, revoke), users, clients and signing keys, as
//! domain calls that take typed [`Settings`] and return domain results or one
//! [`ServiceError`]. Nothing here knows status codes, headers, JSON or cookies: the HTTP
//! layer ([`crate::api`]) renders these results, the CLI's admin commands call them
//! directly, and other transports (a cookie mode) render the same results their way.
//! Metrics and audit rows are recorded here, once, from each call's outcome.

mod clients;
mod error;
pub mod feed;
pub mod hashing;
pub mod key_manager;
mod keys;
pub mod metrics;
mod sessions;
mod settings;
mod throttle;
mod users;

pub use clients::{ClientCredentials, ClientIdentity, Clients};
pub use error::{AccessTokenProblem, RefreshFailure, ServiceError};
pub use feed::{Feed, FeedPage, FeedRequest};
pub use key_manager::{KeyManager, KeyMode, KeysError};
pub use keys::{Keys, Rotated};
pub use sessions::{Authenticated, Credential, FoundToken, Issued, SessionSummary, Sessions};
pub use settings::{Settings, ThrottleSettings};
pub use users::Users;

use hashing::HashPool;
use metrics::Metrics;
use std::net::IpAddr;
use std::sync::Arc;
use symbolon_core::access::Expectations;
use symbolon_core::client_secret::ClientSecrets;
use symbolon_core::keys::KeyWrap;
use symbolon_core::master::MasterKey;
use symbolon_core::password::Hasher;
use symbolon_core::refresh::RefreshCodec;
use symbolon_core::{Clock, OffsetClock, UnixTime};
use symbolon_store::{Store, StoreError};

/// The result of a service call.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Who is asking, as far as the transport can tell: for the throttle, the audit log and
/// the session list.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// Its `User-Agent`, truncated.
    pub user_agent: Option<String>,
}

/// What the service holds: one per server process, shared by every facade.
#[derive(Debug)]
struct Core {
    settings: Settings,
    store: Arc<dyn Store>,
    clock: OffsetClock,
    codec: RefreshCodec,
    client_secrets: ClientSecrets,
    keys: KeyManager,
    hasher: HashPool,
    metrics: Metrics,
    expect: Expectations,
    feed: feed::FeedState,
}

impl Core {
    fn now(&self) -> UnixTime {
        self.clock.now()
    }

    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }
}

/// The parts a [`Service`] is built from, opened by the caller.
#[derive(Debug)]
pub struct Parts {
    /// The store chosen at start-up.
    pub store: Arc<dyn Store>,
    /// The clock (a manual one in tests).
    pub clock: Arc<dyn Clock>,
    /// Argon2id with its parameters.
    pub hasher: Hasher,
    /// Hashing threads.
    pub hash_threads: usize,
    /// Logins that may wait for a hashing thread.
    pub max_queued_hashes: usize,
}

/// symbolon's domain operations; cheap to clone.
#[derive(Debug, Clone)]
pub struct Service(Arc<Core>);

impl Service {
    /// Starts the service: loads the signing keys (creating them as `mode` allows) and
    /// starts the hashing threads.
    pub async fn start(
        settings: Settings,
        parts: Parts,
        master: &MasterKey,
        mode: KeyMode,
    ) -> Result<Self, StartFailure> {
        let clock = OffsetClock::new(parts.clock);
        if settings.clock_from_database {
            sync_clock(&clock, parts.store.as_ref())
                .await
                .map_err(StartFailure::Clock)?;
        }
        let retention = key_manager::Retention {
            access_ttl: settings.access_ttl,
            leeway: settings.leeway,
            key_refresh: settings.key_refresh,
        };
        let keys = KeyManager::start(
            parts.store.as_ref(),
            KeyWrap::new(master),
            settings.signing_alg,
            retention,
            clock.now(),
            mode,
        )
        .await
        .map_err(StartFailure::Keys)?;
        let hasher = HashPool::new(parts.hasher, parts.hash_threads, parts.max_queued_hashes)
            .map_err(StartFailure::Threads)?;
        let expect = Expectations {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway: settings.leeway,
        };
        Ok(Self(Arc::new(Core {
            codec: RefreshCodec::new(master),
            client_secrets: ClientSecrets::new(master),
            store: parts.store,
            clock,
            metrics: Metrics::default(),
            keys,
            hasher,
            expect,
            feed: feed::FeedState::default(),
            settings,
        })))
    }

    /// Login, refresh, logout, the session list, revocation, introspection.
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions::new(&self.0)
    }

    /// Accounts: create, register, change password, disable, list.
    pub fn users(&self) -> Users<'_> {
        Users::new(&self.0)
    }

    /// OAuth clients: identify, authenticate, create.
    pub fn clients(&self) -> Clients<'_> {
        Clients::new(&self.0)
    }

    /// Signing keys: the JWKS, list, rotate, reload.
    pub fn keys(&self) -> Keys<'_> {
        Keys::new(&self.0)
    }

    /// The revocation feed, for resource servers.
    pub fn feed(&self) -> Feed<'_> {
        Feed::new(&self.0)
    }

    /// The settings the service runs with.
    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// The metrics it records.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The current time from the injected clock.
    pub fn now(&self) -> UnixTime {
        self.0.now()
    }

    /// The store, for read-only checks by tests and tools.
    pub fn store(&self) -> &dyn Store {
        self.0.store()
    }

    /// Sets the clock's offset to the database server's clock, when the settings say
    /// so (the background job calls this every `key_refresh`). Returns the offset in
    /// milliseconds, `None` when the clock is not taken from the database.
    pub async fn sync_clock(&self) -> Result<Option<i64>> {
        let core = &self.0;
        if !core.settings.clock_from_database {
            return Ok(None);
        }
        Ok(sync_clock(&core.clock, core.store()).await?)
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> Result<()> {
        Ok(self.0.store().ping().await?)
    }

    /// Deletes expired sessions, old audit rows and stale throttle rows in bounded
    /// batches; returns how many rows went.
    pub async fn purge(&self) -> Result<u64> {
        let core = &self.0;
        let now = core.now();
        let keep = core.settings.retention;
        let cutoffs = symbolon_store::PurgeCutoffs {
            sessions_ended_before: now,
            sessions_revoked_before: now - keep,
            audit_before: now - keep,
            // A minute past the window, for readers whose clock runs behind.
            revocations_before: now - self.feed().window() - 60,
            throttle_quiet_before: now - core.settings.throttle.failure_window,
            failure_window: core.settings.throttle.failure_window,
        };
        let mut total = 0;
        for _ in 0..100 {
            match core.store().purge(&cutoffs, 1000).await? {
                0 => break,
                n => total += n,
            }
        }
        Ok(total)
    }
}

/// Reads the database server's clock and sets `clock`'s offset to it, measured from the
/// middle of the round trip. `None` (offset 0) for an embedded database.
async fn sync_clock(
    clock: &OffsetClock,
    store: &dyn Store,
) -> std::result::Result<Option<i64>, StoreError> {
    let before = clock.base_millis();
    let Some(database) = store.database_time_millis().await? else {
        clock.set_offset_millis(0);
        return Ok(None);
    };
    let after = clock.base_millis();
    let offset = database - (before + (after - before) / 2);
    if (offset - clock.offset_millis()).abs() > 1_000 {
        tracing::info!(
            offset_ms = offset,
            "this machine's clock differs from the database's; using the database's"
        );
    }
    clock.set_offset_millis(offset);
    Ok(Some(offset))
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartFailure {
    /// The signing keys cannot be loaded or created.
    #[error("cannot load the signing keys")]
    Keys(#[source] KeysError),
    /// The hashing threads cannot be started.
    #[error("cannot start the password-hashing threads")]
    Threads(#[source] std::io::Error),
    /// The database's clock cannot be read.
    #[error("cannot read the database's clock")]
    Clock(#[source] StoreError),
}
