//! The symbolon server: the [`service`] layer (what symbolon does, free of transports)
//! and the HTTP layer on top of it ([`api`]).
//!
//! [`build`] turns a [`Config`] into an [`AppState`] (opening the store, reading or
//! creating the master key, starting the [`Service`]); [`api::router`] is the axum
//! router; [`serve`] runs it with the background jobs until a shutdown signal. The
//! admin commands use [`build_admin`] and call the service directly. Only [`api`]
//! knows HTTP: see [`api::ApiError`].

pub mod api;
pub mod config;
pub mod service;

pub use api::AppState;
pub use config::Config;
pub use service::Service;

use service::{KeyMode, Parts};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use symbolon_core::master::MasterKey;
use symbolon_core::password::Hasher;
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
    /// The service could not start (signing keys, hashing threads).
    #[error(transparent)]
    Service(#[from] service::StartFailure),
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
    /// Others may read or write the file: whoever can read it can mint refresh tokens.
    #[error("others may read or write it (mode {mode:04o}); chmod 600 it")]
    TooOpen {
        /// The file's permission bits.
        mode: u32,
    },
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
            // Refused, not just reported: the key is worth every session (as the client
            // refuses its own key files).
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let meta = std::fs::metadata(path).map_err(|e| err(MasterKeyError::Read(e)))?;
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(err(MasterKeyError::TooOpen { mode }));
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

/// Builds the server's state from a configuration: store, master key, service.
pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StartError> {
    let (master, created) = load_or_create_master_key(&config.master_key_file)?;
    if created {
        tracing::info!(path = %config.master_key_file.display(), "generated a new master key (mode 0600); keep it safe and back it up");
    }
    let store = open_store(&config).await?;
    build_with(&config, clock, store, &master).await
}

/// How an admin command may treat the master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterKeyUse {
    /// Create it when the database has no signing keys yet (a first `symbolon user add`
    /// before the first `serve`).
    CreateForEmptyDatabase,
    /// It must exist (`symbolon keys`).
    MustExist,
}

/// The service for an admin command (`user`, `client`, `keys`): it never rotates
/// signing keys on its own, and creates a master key only as `master` allows, so a
/// command run with the wrong configuration cannot strand the servers' keys.
pub async fn build_admin(
    config: &Config,
    clock: Arc<dyn Clock>,
    master: MasterKeyUse,
) -> Result<Service, StartError> {
    let store = open_store(config).await?;
    let master = if master == MasterKeyUse::CreateForEmptyDatabase
        && store.signing_keys().await?.is_empty()
    {
        load_or_create_master_key(&config.master_key_file)?.0
    } else {
        load_master_key(&config.master_key_file)?
    };
    start_service(config, clock, store, &master, KeyMode::Admin).await
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

/// Builds the server's state from parts already opened (tests share a store this way).
pub async fn build_with(
    config: &Config,
    clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
    master: &MasterKey,
) -> Result<AppState, StartError> {
    let service = start_service(config, clock, store, master, KeyMode::Serve).await?;
    Ok(AppState::new(service, config.http_settings()))
}

async fn start_service(
    config: &Config,
    clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
    master: &MasterKey,
    mode: KeyMode,
) -> Result<Service, StartError> {
    let parts = Parts {
        store,
        clock,
        hasher: Hasher::new(config.hash_params())?,
        hash_threads: config.max_concurrent_hashes,
        max_queued_hashes: config.max_queued_logins,
    };
    Ok(Service::start(config.settings(), parts, master, mode).await?)
}

/// Runs the server on `listener` until `shutdown` completes, then finishes the requests
/// in flight. Also runs the key reload and the purge of expired rows.
///
/// Connections are served by hyper with a header-read timeout (a client that never
/// finishes its headers, or idles between requests, is closed) and at most
/// `max_connections` at once (more are closed as soon as they are accepted).
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt;

    let background = tokio::spawn(background_jobs(state.clone()));
    let service = state.service().clone();
    let feed = {
        let service = service.clone();
        tokio::spawn(async move { service.feed().run().await })
    };
    let limits = state.http().clone();
    // The cookie mode may drop `Secure` only on a loopback listener (`docs/API.md` §2.9).
    let loopback = listener
        .local_addr()
        .is_ok_and(|addr| addr.ip().is_loopback());
    let app = api::body::DrainOversized(api::router(state));
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "connection limit reached; closing a new connection");
            continue;
        };
        let service =
            app.clone()
                .map_request(move |request: hyper::Request<hyper::body::Incoming>| {
                    let mut request = request.map(axum::body::Body::new);
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    if loopback {
                        request
                            .extensions_mut()
                            .insert(api::cookie::LoopbackListener);
                    }
                    request
                });
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    // Long polls of the revocation feed answer now instead of holding the shutdown.
    service.feed().close();
    graceful.shutdown().await;
    background.abort();
    feed.abort();
    Ok(())
}

async fn background_jobs(state: AppState) {
    let service = state.service();
    let key_period = Duration::from_secs(service.settings().key_refresh.max(1) as u64);
    let mut key_tick = tokio::time::interval(key_period);
    let mut purge_tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = key_tick.tick() => {
                if let Err(e) = service.sync_clock().await {
                    tracing::warn!(error = %api::error::chain(&e), "cannot read the database's clock; keeping the last offset");
                }
                if let Err(e) = service.keys().reload().await {
                    tracing::warn!(error = %api::error::chain(&e), "signing-key reload failed; keeping the keys in memory");
                }
            }
            _ = purge_tick.tick() => {
                if let Err(e) = service.purge().await {
                    tracing::warn!(error = %api::error::chain(&e), "purge failed");
                }
            }
        }
    }
}

/// An RFC 3339 UTC time, for people and for the JSON views.
pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
