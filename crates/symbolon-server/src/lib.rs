//! The symbolon HTTP server.
//!
//! [`build`] turns a [`Config`] into an [`AppState`] (opening the store, reading or
//! creating the master key, loading the signing keys); [`api::router`] is the axum
//! router; [`serve`] runs it with the background jobs until a shutdown signal.
//! Only this crate knows HTTP status codes: see [`error::ApiError`].

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod hashing;
pub mod keys;
pub mod metrics;
pub mod state;

pub use config::Config;
pub use state::AppState;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use symbolon_core::access::Expectations;
use symbolon_core::keys::KeyWrap;
use symbolon_core::master::MasterKey;
use symbolon_core::password::{HashParams, Hasher};
use symbolon_core::refresh::RefreshCodec;
use symbolon_core::rotation::RefreshPolicy;
use symbolon_core::Clock;
use symbolon_store::{Store, StoreError};

/// Why the server could not start. Each message says what to fix; a message never
/// repeats its cause, which is the error's `source()` (print the chain with `{:#}`).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The master key file cannot be read or written.
    #[error("master key file {path}")]
    MasterKey {
        /// The file.
        path: String,
        /// What went wrong.
        #[source]
        source: MasterKeyError,
    },
    /// The database cannot be opened or migrated.
    #[error("database")]
    Store(#[from] StoreError),
    /// The signing keys cannot be loaded.
    #[error(transparent)]
    Keys(#[from] keys::KeysError),
    /// The password-hashing threads could not be started.
    #[error("cannot start the password-hashing threads")]
    Threads(#[source] std::io::Error),
    /// The Argon2id parameters are invalid.
    #[error(transparent)]
    Hash(#[from] symbolon_core::password::BadParams),
}

/// What is wrong with the master key file (the path is in [`StartError::MasterKey`]).
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// An admin command found no key file to use.
    #[error("not found: use the servers' master key file (`symbolon serve` creates one on its first start)")]
    NotFound,
    /// The file exists but cannot be read.
    #[error("cannot read it")]
    Read(#[source] std::io::Error),
    /// A new key file cannot be written.
    #[error("cannot create it")]
    Create(#[source] std::io::Error),
    /// The file does not hold a key.
    #[error(transparent)]
    Invalid(#[from] symbolon_core::master::BadMasterKey),
}

/// An error and its causes on one line, `outer: inner: innermost`, for logs that take
/// a string.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// Reads the master key, or creates it (mode 0600) when the file does not exist.
/// Returns the key and whether it was just created.
pub fn load_or_create_master_key(path: &Path) -> Result<(MasterKey, bool), StartError> {
    let err = |source: MasterKeyError| StartError::MasterKey {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if let Ok(meta) = std::fs::metadata(path) {
                    if meta.permissions().mode() & 0o077 != 0 {
                        tracing::warn!(path = %path.display(), "the master key file is readable by others; chmod 600 it");
                    }
                }
            }
            Ok((
                MasterKey::from_text(&text).map_err(|e| err(e.into()))?,
                false,
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let create = |e| err(MasterKeyError::Create(e));
            let mut file = options.open(path).map_err(create)?;
            std::io::Write::write_all(&mut file, key.to_text().as_bytes()).map_err(create)?;
            file.sync_all().map_err(create)?;
            Ok((key, true))
        }
        Err(e) => Err(err(MasterKeyError::Read(e))),
    }
}

/// Opens the store named by the configuration, migrating it when configured to.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    let store = symbolon_store::connect(&config.database_url, config.db_pool_size).await?;
    if config.migrate_on_start {
        store.migrate().await?;
    }
    Ok(store)
}

/// Builds the application state from a configuration: store, master key, keys, hasher.
pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StartError> {
    let (master, created) = load_or_create_master_key(&config.master_key_file)?;
    if created {
        tracing::info!(path = %config.master_key_file.display(), "generated a new master key (mode 0600); keep it safe and back it up");
    }
    let store = open_store(&config).await?;
    build_with(config, clock, store, &master, keys::KeyMode::Serve).await
}

/// The state for an admin command (`user`, `client`): it never rotates signing keys,
/// and creates a master key only for an empty database (a first `symbolon user add`
/// before the first `serve`), so a command run with the wrong configuration cannot
/// strand the servers' keys.
pub async fn build_admin(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StartError> {
    let store = open_store(&config).await?;
    let master = if store.signing_keys().await?.is_empty() {
        load_or_create_master_key(&config.master_key_file)?.0
    } else {
        load_master_key(&config.master_key_file)?
    };
    build_with(config, clock, store, &master, keys::KeyMode::Admin).await
}

/// Reads an existing master key; a missing file is an error naming it.
pub fn load_master_key(path: &Path) -> Result<MasterKey, StartError> {
    if !path.exists() {
        return Err(StartError::MasterKey {
            path: path.display().to_string(),
            source: MasterKeyError::NotFound,
        });
    }
    Ok(load_or_create_master_key(path)?.0)
}

/// Builds the state from parts already opened (tests share a store this way).
pub async fn build_with(
    config: Config,
    clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
    master: &MasterKey,
    mode: keys::KeyMode,
) -> Result<AppState, StartError> {
    let hasher = Hasher::new(HashParams {
        memory_kib: config.argon2_memory_kib,
        iterations: config.argon2_iterations,
        parallelism: config.argon2_parallelism,
    })?;
    let retention = keys::Retention {
        access_ttl: config.access_ttl.0,
        leeway: config.leeway.0,
        key_refresh: config.key_refresh.0,
    };
    let keys = keys::KeyManager::start(
        store.as_ref(),
        KeyWrap::new(master),
        config.alg(),
        retention,
        clock.now(),
        mode,
    )
    .await?;
    let issuer = config.issuer();
    let trusted_proxies = config.trusted_proxies();
    let inner = state::Inner {
        expect: Expectations {
            issuer: issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway.0,
        },
        policy: RefreshPolicy {
            refresh_ttl: config.refresh_ttl.0,
            reuse_grace: config.reuse_grace.0,
        },
        codec: RefreshCodec::new(master),
        hasher: hashing::HashPool::new(
            hasher,
            config.max_concurrent_hashes,
            config.max_queued_logins,
        )
        .map_err(StartError::Threads)?,
        metrics: metrics::Metrics::default(),
        keys,
        issuer,
        trusted_proxies,
        store,
        clock,
        config,
    };
    Ok(AppState(Arc::new(inner)))
}

/// Runs the server on `listener` until `shutdown` completes, then finishes the requests
/// in flight. Also runs the key reload and the purge of expired rows.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let background = tokio::spawn(background_jobs(state.clone()));
    let app = api::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    background.abort();
    result
}

async fn background_jobs(state: AppState) {
    let key_period = Duration::from_secs(state.config.key_refresh.0.max(1) as u64);
    let mut key_tick = tokio::time::interval(key_period);
    let mut purge_tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = key_tick.tick() => {
                if let Err(e) = state.keys.reload(state.store(), state.now()).await {
                    tracing::warn!(error = %e, "signing-key reload failed; keeping the keys in memory");
                }
            }
            _ = purge_tick.tick() => purge(&state).await,
        }
    }
}

/// Deletes expired sessions, old audit rows and stale throttle rows in bounded batches.
pub async fn purge(state: &AppState) {
    let now = state.now();
    let keep = state.config.retention.0;
    let cutoffs = symbolon_store::PurgeCutoffs {
        sessions_ended_before: now,
        sessions_revoked_before: now - keep,
        audit_before: now - keep,
        throttle_quiet_before: now - state.config.failure_window.0,
    };
    for _ in 0..100 {
        match state.store().purge(&cutoffs, 1000).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(error = %e, "purge failed");
                break;
            }
        }
    }
}
