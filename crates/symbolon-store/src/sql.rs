//! The SQLite and PostgreSQL implementations. One macro holds every statement, so both
//! backends run the same SQL text; only connection set-up differs.

use crate::group_sync::GroupSync;
use crate::{
    AuditEvent, BackoffSchedule, Cause, ClientRecord, PurgeCutoffs, Reservation, Result,
    RevocationListener, RevocationRecord, RotateCurrent, SessionRecord, SigningKeyRecord, Store,
    StoreError, UserRecord,
};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;
use symbolon_core::ids::{Capability, SessionId, UserId};
use symbolon_core::UnixTime;

fn db_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        // PostgreSQL: serialization failure, deadlock, lock timeout; SQLite: busy. The
        // transaction was rolled back, so running it again is safe.
        sqlx::Error::Database(d)
            if matches!(
                d.code().as_deref(),
                Some("40001" | "40P01" | "55P03" | "5" | "517")
            ) =>
        {
            StoreError::Contention(cause(e))
        }
        sqlx::Error::Database(d) if d.code().as_deref().is_some_and(unavailable_code) => {
            StoreError::Unavailable(cause(e))
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(cause(e)),
        _ => StoreError::Failed(cause(e)),
    }
}

/// Database error codes that mean "not now" rather than "not this": PostgreSQL's
/// connection exceptions (class 08), insufficient resources (53), operator intervention
/// such as a shutdown (57P), an unknown database (3D000), one not accepting connections
/// (55000) and failed authentication (28); SQLite's I/O error, full disk and cannot-open
/// (primary codes 10, 13, 14, whatever the extended code).
fn unavailable_code(code: &str) -> bool {
    // PostgreSQL's SQLSTATEs are five characters; SQLite's (extended) codes are numbers
    // below 10,000.
    if code.len() == 5 {
        return ["08", "53", "57P", "28"]
            .iter()
            .any(|class| code.starts_with(class))
            || matches!(code, "3D000" | "55000");
    }
    code.parse::<u32>()
        .is_ok_and(|sqlite| matches!(sqlite & 0xff, 10 | 13 | 14))
}

fn migrate_error(e: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Unavailable(migrate_cause(e))
}

/// A sqlx error restated one part at a time. sqlx's messages embed their source and
/// return it again from `source()` (`error returned from database: X` with source `X`),
/// so a printed chain would say everything twice; these say only their own part.
#[derive(Debug, thiserror::Error)]
enum SqlCause {
    #[error("error with configuration")]
    Configuration(#[source] Cause),
    #[error("error communicating with database")]
    Io(#[source] std::io::Error),
    #[error("error occurred while attempting to establish a TLS connection")]
    Tls(#[source] Cause),
    #[error("error occurred while decoding column {index}")]
    ColumnDecode {
        index: String,
        #[source]
        source: Cause,
    },
    #[error("error occurred while encoding a value")]
    Encode(#[source] Cause),
    #[error("error occurred while decoding")]
    Decode(#[source] Cause),
    #[error("error in Any driver mapping")]
    AnyDriver(#[source] Cause),
    #[error("while executing migrations")]
    Migrations(#[source] Cause),
    #[error("while executing migration {version}")]
    Migration {
        version: i64,
        #[source]
        source: Cause,
    },
    #[error("while resolving migrations")]
    ResolveMigrations(#[source] Cause),
}

/// The cause to keep for a sqlx error; see [`SqlCause`].
fn cause(e: sqlx::Error) -> Cause {
    use sqlx::Error as E;
    match e {
        // The database's own error (e.g. `database "x" does not exist`).
        E::Database(d) => d.into_error(),
        E::Configuration(source) => Box::new(SqlCause::Configuration(source)),
        E::Io(source) => Box::new(SqlCause::Io(source)),
        E::Tls(source) => Box::new(SqlCause::Tls(source)),
        E::ColumnDecode { index, source } => Box::new(SqlCause::ColumnDecode { index, source }),
        E::Encode(source) => Box::new(SqlCause::Encode(source)),
        E::Decode(source) => Box::new(SqlCause::Decode(source)),
        E::AnyDriverError(source) => Box::new(SqlCause::AnyDriver(source)),
        E::Migrate(m) => migrate_cause(*m),
        // The other variants have no source: their message is the whole story.
        other => Box::new(other),
    }
}

/// The cause to keep for a migration error; see [`SqlCause`].
fn migrate_cause(e: sqlx::migrate::MigrateError) -> Cause {
    use sqlx::migrate::MigrateError as M;
    match e {
        M::Execute(e) => Box::new(SqlCause::Migrations(cause(e))),
        M::ExecuteMigration(e, version) => Box::new(SqlCause::Migration {
            version,
            source: cause(e),
        }),
        M::Source(source) => Box::new(SqlCause::ResolveMigrations(source)),
        other => Box::new(other),
    }
}

/// Runs `op` again (at most five times in all, with a short growing pause) while it fails
/// with contention; any other outcome is returned at once. With a `limit`, an attempt
/// that has not finished within it (the wait for a connection included) is abandoned as
/// [`StoreError::Unavailable`]: a database that does not answer (a stalled or cut link,
/// a server that stopped reading) must not hold the request for as long as it lasts.
async fn retry<T, F, Fut>(limit: Option<Duration>, op: F) -> Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let attempt = || async {
        match limit {
            Some(limit) => tokio::time::timeout(limit, op())
                .await
                .unwrap_or_else(|_| Err(StoreError::Unavailable(Box::new(NoAnswer(limit))))),
            None => op().await,
        }
    };
    let mut pause = Duration::from_millis(2);
    for _ in 0..4 {
        match attempt().await {
            Err(StoreError::Contention(_)) => {
                tokio::time::sleep(pause).await;
                pause *= 3;
            }
            other => return other,
        }
    }
    attempt().await.map_err(|e| match e {
        StoreError::Contention(c) => StoreError::Unavailable(c),
        other => other,
    })
}

/// A store call abandoned after its limit. Whether a write in it was committed is
/// unknown: the statement may have run, and its answer not come back.
#[derive(Debug, thiserror::Error)]
#[error("no answer from the database within {} s", .0.as_secs_f64())]
struct NoAnswer(Duration);

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

#[derive(FromRow)]
struct UserRow {
    id: String,
    username: String,
    password_hash: String,
    created_at: i64,
    disabled_at: Option<i64>,
    credential_epoch: i64,
}

impl TryFrom<UserRow> for UserRecord {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self> {
        Ok(Self {
            id: UserId::parse(&r.id).ok_or_else(|| corrupt("user id"))?,
            username: r.username,
            password_hash: r.password_hash,
            created_at: r.created_at,
            disabled_at: r.disabled_at,
            credential_epoch: u64::try_from(r.credential_epoch)
                .map_err(|_| corrupt("credential epoch"))?,
        })
    }
}

#[derive(FromRow)]
struct ClientRow {
    client_id: String,
    secret_hash: Option<String>,
    created_at: i64,
    capabilities: String,
}

impl TryFrom<ClientRow> for ClientRecord {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> Result<Self> {
        let mut capabilities = r
            .capabilities
            .split_whitespace()
            .map(|name| Capability::parse(name).ok_or_else(|| corrupt("client capability")))
            .collect::<Result<Vec<_>>>()?;
        capabilities.sort();
        capabilities.dedup();
        Ok(Self {
            client_id: r.client_id,
            secret_hash: r.secret_hash,
            created_at: r.created_at,
            capabilities,
        })
    }
}

#[derive(FromRow)]
struct SessionRow {
    id: String,
    user_id: String,
    username: String,
    client_id: String,
    generation: i64,
    created_at: i64,
    rotated_at: i64,
    last_used_at: i64,
    absolute_end: i64,
    revoked_at: Option<i64>,
    user_agent: Option<String>,
    ip: Option<String>,
}

impl TryFrom<SessionRow> for SessionRecord {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self> {
        Ok(Self {
            id: SessionId::parse(&r.id).ok_or_else(|| corrupt("session id"))?,
            user_id: UserId::parse(&r.user_id).ok_or_else(|| corrupt("session user id"))?,
            username: r.username,
            client_id: r.client_id,
            generation: u64::try_from(r.generation).map_err(|_| corrupt("session generation"))?,
            created_at: r.created_at,
            rotated_at: r.rotated_at,
            last_used_at: r.last_used_at,
            absolute_end: r.absolute_end,
            revoked_at: r.revoked_at,
            user_agent: r.user_agent,
            ip: r.ip,
        })
    }
}

#[derive(FromRow)]
struct RevocationRow {
    seq: i64,
    session_id: String,
    revoked_at: i64,
}

impl TryFrom<RevocationRow> for RevocationRecord {
    type Error = StoreError;
    fn try_from(r: RevocationRow) -> Result<Self> {
        Ok(Self {
            seq: u64::try_from(r.seq).map_err(|_| corrupt("revocation seq"))?,
            session_id: SessionId::parse(&r.session_id)
                .ok_or_else(|| corrupt("revoked session id"))?,
            revoked_at: r.revoked_at,
        })
    }
}

/// A LISTEN connection for [`RevocationListener`]; PostgreSQL only.
#[derive(Debug)]
pub(crate) struct Listener(sqlx::postgres::PgListener);

impl Listener {
    /// The channel the feed's trigger notifies (migration `revocation_feed`).
    const CHANNEL: &'static str = "symbolon_revocations";

    pub(crate) async fn next(&mut self) -> Result<()> {
        self.0.recv().await.map_err(db_error)?;
        Ok(())
    }
}

#[derive(FromRow)]
struct KeyRow {
    kid: String,
    alg: String,
    wrapped_private: Vec<u8>,
    created_at: i64,
    active_at: i64,
    retired_at: Option<i64>,
}

impl From<KeyRow> for SigningKeyRecord {
    fn from(r: KeyRow) -> Self {
        Self {
            kid: r.kid,
            alg: r.alg,
            wrapped_private: r.wrapped_private,
            created_at: r.created_at,
            active_at: r.active_at,
            retired_at: r.retired_at,
        }
    }
}

#[derive(FromRow)]
struct AuditRow {
    at: i64,
    kind: String,
    user_id: Option<String>,
    session_id: Option<String>,
    ip: Option<String>,
    detail: Option<String>,
}

impl From<AuditRow> for AuditEvent {
    fn from(r: AuditRow) -> Self {
        Self {
            at: r.at,
            kind: r.kind,
            user_id: r.user_id,
            session_id: r.session_id,
            ip: r.ip,
            detail: r.detail,
        }
    }
}

/// A throttle row's count after one more failure at `$2`, the count decaying by one per
/// whole window (`$3`) of quiet, counted from the last failure or the end of the last
/// block, whichever is later: waiting out a window buys back one guess, not all the free
/// ones. For the `DO UPDATE` of an upsert on `throttle`.
const COUNT_ONE_MORE: &str = "1 + CASE \
       WHEN $2 <= throttle.last_failure OR $2 <= throttle.blocked_until THEN throttle.failures \
       WHEN ($2 - CASE WHEN throttle.last_failure > throttle.blocked_until \
                  THEN throttle.last_failure ELSE throttle.blocked_until END) / $3 \
            >= throttle.failures THEN 0 \
       ELSE throttle.failures - ($2 - CASE WHEN throttle.last_failure > throttle.blocked_until \
                  THEN throttle.last_failure ELSE throttle.blocked_until END) / $3 \
     END";

const SESSION_COLUMNS: &str =
    "id, user_id, username, client_id, generation, created_at, rotated_at, \
     last_used_at, absolute_end, revoked_at, user_agent, ip";

fn generation(g: u64) -> Result<i64> {
    i64::try_from(g).map_err(|_| corrupt("generation overflow"))
}

/// SQLite: one writer connection (SQLite allows one writer at a time; queueing in the
/// pool beats sleeping in the busy handler) and a pool of readers, in WAL mode, with
/// group commit (see [`GroupSync`]) by default.
#[derive(Debug)]
pub(crate) struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    /// The group commit; `None` when SQLite syncs (or does not) on its own.
    sync: Option<GroupSync>,
}

impl SqliteStore {
    /// No row locks in SQLite: its one writer runs each statement against the latest
    /// commit, which is what `FOR SHARE` buys on PostgreSQL.
    const LOCK_USER_ROW: &'static str = "";
    /// No limit: a file in this process cannot stall like a network link, SQLite's busy
    /// timeout bounds the wait for the write lock, and a write must run to completion to
    /// report a failed commit (see `rotate_current`).
    const CALL_LIMIT: Option<Duration> = None;
    /// In-process: the database's clock is this machine's.
    const CLOCK_QUERY: Option<&'static str> = None;
    /// Nothing to number: the feed's trigger numbers each entry as it writes it.
    const SEQUENCE_FEED: Option<&'static str> = None;
    /// Unused (no sequencer): SQLite's writes are serial already.
    const FEED_LOCK: &'static str = "";

    /// `location` is `PATH`, `PATH?synchronous=full` or `PATH?synchronous=normal`.
    pub(crate) async fn open(location: &str, pool_size: u32) -> Result<Self> {
        let (path, query) = location.split_once('?').unwrap_or((location, ""));
        // The default: SQLite's NORMAL (commits do not sync) under our group commit (no
        // call returns before a WAL sync covering it): power-loss durable, one fsync
        // for many concurrent writes. `full`: SQLite syncs every commit itself, equally
        // durable, one fsync per write. `normal` alone: survives a crash of the process
        // but a power loss may undo the last acknowledged commits (an explicit choice).
        let (synchronous, group) = match query {
            "" => (SqliteSynchronous::Normal, true),
            "synchronous=full" => (SqliteSynchronous::Full, false),
            "synchronous=normal" => (SqliteSynchronous::Normal, false),
            _ => {
                return Err(StoreError::Unavailable(
                    format!(
                        "unsupported SQLite URL option {query:?} (use synchronous=full or synchronous=normal, or none)"
                    )
                    .into(),
                ))
            }
        };
        create_private_file(path)?;
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
            .map_err(db_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // Checkpoints run in the background (below), not in the commit of whichever
            // write crosses SQLite's default 1,000 pages: in a large database every
            // checkpoint writes scattered pages and syncs, and the single writer would
            // wait for it. This limit is the fallback if the background falls behind.
            .pragma("wal_autocheckpoint", "20000");
        // A SQLite connection is a file handle in this process: it cannot be dropped by a
        // server, so the pool's ping before each use (a round trip to the connection's
        // thread) is pure cost here.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(db_error)?;
        let read = SqlitePoolOptions::new()
            .max_connections(pool_size.max(1))
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(db_error)?;
        let in_memory = path.is_empty() || path.starts_with(':');
        let sync = if group && !in_memory {
            // The group commit's argument holds in WAL mode only (a file system without
            // shared memory would leave SQLite in its rollback journal).
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&write)
                .await
                .map_err(db_error)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Unavailable(
                    format!("SQLite could not switch {path} to WAL mode (it is in {mode:?} mode)")
                        .into(),
                ));
            }
            Some(GroupSync::start(path, write.clone()))
        } else {
            None
        };
        if !in_memory {
            tokio::spawn(checkpoints(read.clone()));
        }
        Ok(Self { read, write, sync })
    }

    async fn run_migrations(&self) -> Result<()> {
        self.write_call(|| async {
            sqlx::migrate!("./migrations/sqlite")
                .run(&self.write)
                .await
                .map_err(migrate_error)
        })
        .await
    }

    /// A call that writes: see [`GroupSync`]. Returns once the write is durable.
    async fn write_call<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let Some(sync) = &self.sync else {
            return retry(Self::CALL_LIMIT, op).await;
        };
        let ticket = sync.begin_write();
        match retry(Self::CALL_LIMIT, op).await {
            Ok(value) => {
                ticket.finish().await?;
                Ok(value)
            }
            Err(e) => {
                ticket.fail();
                Err(e)
            }
        }
    }

    /// A call that only reads: returns once everything it may have seen is durable.
    async fn read_call<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let value = retry(Self::CALL_LIMIT, op).await?;
        if let Some(sync) = &self.sync {
            sync.after_read().await?;
        }
        Ok(value)
    }

    /// No LISTEN in SQLite: the feed polls.
    async fn listener(&self) -> Result<Option<RevocationListener>> {
        Ok(None)
    }

    async fn close_pools(&self) {
        self.write.close().await;
        self.read.close().await;
        if let Some(sync) = &self.sync {
            sync.close();
        }
    }
}

/// How often the background checkpoint runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Copies the WAL into the database file now and then, on a reader connection, in
/// PASSIVE mode: it never waits for (or blocks) the writer or readers, and does what it
/// can. With `synchronous = NORMAL`, SQLite syncs the WAL before and the database after
/// each checkpoint itself. Ends when the pool is closed.
async fn checkpoints(read: SqlitePool) {
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if read.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_all(&read)
            .await
        {
            if read.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "background WAL checkpoint failed");
        }
    }
}

/// Creates the database file with mode 0600 before SQLite does, since it holds password
/// hashes and wrapped keys. SQLite gives the `-wal` and `-shm` files the database
/// file's mode.
fn create_private_file(path: &str) -> Result<()> {
    if path.is_empty() || path.starts_with(':') || std::path::Path::new(path).exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Unavailable(Box::new(CreateFile {
            path: path.to_owned(),
            source,
        }))),
    }
}

/// The database file could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the database file {path}")]
struct CreateFile {
    path: String,
    #[source]
    source: std::io::Error,
}

/// PostgreSQL: one pool serves reads and writes.
#[derive(Debug)]
pub(crate) struct PgStore {
    read: PgPool,
    write: PgPool,
    /// For the revocation feed's LISTEN connection, which lives outside the pool.
    options: PgConnectOptions,
}

impl PgStore {
    /// Makes a session insert wait for (and re-check) a concurrent change of its user.
    const LOCK_USER_ROW: &'static str = " FOR SHARE";
    /// How long one attempt of a store call may take, the wait for a connection (at most
    /// `ACQUIRE_TIMEOUT`) included. sqlx has no read timeout: without this, a statement
    /// sent just before the link to the server stalls or is cut waits for as long as
    /// that lasts (measured: 15 s for a 15 s stall), since the server closes nothing and
    /// TCP does not give up for many minutes. Past it the call is
    /// [`StoreError::Unavailable`] (a 503), its outcome unknown.
    const CALL_LIMIT: Option<Duration> = Some(Duration::from_secs(5));
    /// How long a call waits for a pooled connection (including opening a new one and
    /// the ping of an idle one before use).
    const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
    /// The server's clock now (not the transaction's start).
    const CLOCK_QUERY: Option<&'static str> =
        Some("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)");
    /// Numbers the committed entries of the feed; one sequencer at a time (the advisory
    /// lock, held to the commit), so numbers become visible in order. See the migration
    /// `revocation_feed`. The lock's key is "symbolon" in ASCII.
    const SEQUENCE_FEED: Option<&'static str> =
        Some("UPDATE revocations SET seq = nextval('revocation_seq') WHERE seq IS NULL");
    const FEED_LOCK: &'static str = "SELECT pg_advisory_xact_lock(8320802056087301998)";

    pub(crate) async fn open(url: &str, pool_size: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url).map_err(db_error)?;
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(Self::ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(db_error)?;
        Ok(Self {
            read: pool.clone(),
            write: pool,
            options,
        })
    }

    async fn run_migrations(&self) -> Result<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.write)
            .await
            .map_err(migrate_error)
    }

    /// A call that writes (PostgreSQL's commit is durable before it returns, with
    /// `synchronous_commit = on`).
    async fn write_call<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        retry(Self::CALL_LIMIT, op).await
    }

    /// A call that only reads (PostgreSQL shows no commit before it is flushed).
    async fn read_call<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        retry(Self::CALL_LIMIT, op).await
    }

    /// A LISTEN connection on the feed's channel. It has a pool of its own (one
    /// connection, which it keeps and re-opens when lost): taken from the store's pool it
    /// would hold one of `db_pool_size` connections for good, and all of them with 1.
    async fn listener(&self) -> Result<Option<RevocationListener>> {
        let own = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Self::ACQUIRE_TIMEOUT)
            .connect_lazy_with(self.options.clone());
        let mut listener = sqlx::postgres::PgListener::connect_with(&own)
            .await
            .map_err(db_error)?;
        listener.listen(Listener::CHANNEL).await.map_err(db_error)?;
        Ok(Some(RevocationListener(Listener(listener))))
    }

    async fn close_pools(&self) {
        self.write.close().await;
    }
}

macro_rules! impl_store {
    ($store:ty) => {
        #[async_trait]
        impl Store for $store {
            async fn migrate(&self) -> Result<()> {
                self.run_migrations().await
            }

            async fn close(&self) {
                self.close_pools().await
            }

            async fn database_time_millis(&self) -> Result<Option<i64>> {
                let Some(query) = Self::CLOCK_QUERY else {
                    return Ok(None);
                };
                self.read_call(|| async move {
                    let millis: i64 = sqlx::query_scalar(query)
                        .fetch_one(&self.read)
                        .await
                        .map_err(db_error)?;
                    Ok(Some(millis))
                })
                .await
            }

            async fn ping(&self) -> Result<()> {
                self.read_call(|| async move {
                    sqlx::query("SELECT 1").execute(&self.read).await.map_err(db_error)?;
                    Ok(())
                })
                .await
            }

            async fn create_user(&self, u: &UserRecord) -> Result<()> {
                self.write_call(|| async move {
                    sqlx::query(
                        "INSERT INTO users (id, username, username_key, password_hash, created_at, disabled_at, credential_epoch) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(u.id.to_string())
                    .bind(&u.username)
                    .bind(u.username_key())
                    .bind(&u.password_hash)
                    .bind(u.created_at)
                    .bind(u.disabled_at)
                    .bind(generation(u.credential_epoch)?)
                    .execute(&self.write)
                    .await
                    .map_err(db_error)?;
                    Ok(())
                })
                .await
            }

            async fn user_by_name(&self, key: &str) -> Result<Option<UserRecord>> {
                self.read_call(|| async move {
                    sqlx::query_as::<_, UserRow>(
                        "SELECT id, username, password_hash, created_at, disabled_at, credential_epoch FROM users WHERE username_key = $1",
                    )
                    .bind(key)
                    .fetch_optional(&self.read)
                    .await
                    .map_err(db_error)?
                    .map(UserRecord::try_from)
                    .transpose()
                })
                .await
            }

            async fn user_by_id(&self, id: &UserId) -> Result<Option<UserRecord>> {
                self.read_call(|| async move {
                    sqlx::query_as::<_, UserRow>(
                        "SELECT id, username, password_hash, created_at, disabled_at, credential_epoch FROM users WHERE id = $1",
                    )
                    .bind(id.to_string())
                    .fetch_optional(&self.read)
                    .await
                    .map_err(db_error)?
                    .map(UserRecord::try_from)
                    .transpose()
                })
                .await
            }

            async fn list_users(&self) -> Result<Vec<UserRecord>> {
                self.read_call(|| async move {
                    sqlx::query_as::<_, UserRow>(
                        "SELECT id, username, password_hash, created_at, disabled_at, credential_epoch FROM users ORDER BY created_at, username_key",
                    )
                    .fetch_all(&self.read)
                    .await
                    .map_err(db_error)?
                    .into_iter()
                    .map(UserRecord::try_from)
                    .collect()
                })
                .await
            }

            async fn change_password(
                &self,
                user: &UserId,
                hash: &str,
                keep: Option<&SessionId>,
                now: UnixTime,
            ) -> Result<()> {
                self.write_call(|| async move {
                    let mut tx = self.write.begin().await.map_err(db_error)?;
                    sqlx::query("UPDATE users SET password_hash = $1, credential_epoch = credential_epoch + 1 WHERE id = $2")
                        .bind(hash)
                        .bind(user.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    sqlx::query(
                        "UPDATE sessions SET revoked_at = $1, revoke_reason = 'password_changed' \
                         WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3",
                    )
                    .bind(now)
                    .bind(user.to_string())
                    .bind(keep.map(|k| k.to_string()).unwrap_or_default())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    insert_audit(&mut *tx, &AuditEvent {
                        user_id: Some(user.to_string()),
                        session_id: keep.map(|k| k.to_string()),
                        ..AuditEvent::new(crate::audit_kind::PASSWORD_CHANGED, now)
                    })
                    .await?;
                    tx.commit().await.map_err(db_error)
                })
                .await
            }

            async fn rehash_password(&self, user: &UserId, old: &str, new: &str) -> Result<bool> {
                self.write_call(|| async move {
                    let changed = sqlx::query("UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2")
                        .bind(user.to_string())
                        .bind(old)
                        .bind(new)
                        .execute(&self.write)
                        .await
                        .map_err(db_error)?
                        .rows_affected();
                    Ok(changed == 1)
                })
                .await
            }

            async fn disable_user(&self, user: &UserId, now: UnixTime) -> Result<bool> {
                self.write_call(|| async move {
                    let mut tx = self.write.begin().await.map_err(db_error)?;
                    let changed = sqlx::query("UPDATE users SET disabled_at = $1, credential_epoch = credential_epoch + 1 \
                                                  WHERE id = $2 AND disabled_at IS NULL")
                        .bind(now)
                        .bind(user.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?
                        .rows_affected();
                    sqlx::query(
                        "UPDATE sessions SET revoked_at = $1, revoke_reason = 'user_disabled' \
                         WHERE user_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(user.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    if changed > 0 {
                        insert_audit(&mut *tx, &AuditEvent {
                            user_id: Some(user.to_string()),
                            ..AuditEvent::new(crate::audit_kind::USER_DISABLED, now)
                        })
                        .await?;
                    }
                    tx.commit().await.map_err(db_error)?;
                    Ok(changed > 0)
                })
                .await
            }

            async fn create_client(&self, c: &ClientRecord) -> Result<()> {
                self.write_call(|| async move {
                    let capabilities: Vec<&str> = c.capabilities.iter().map(|c| c.as_str()).collect();
                    sqlx::query("INSERT INTO clients (client_id, secret_hash, created_at, capabilities) VALUES ($1, $2, $3, $4)")
                        .bind(&c.client_id)
                        .bind(&c.secret_hash)
                        .bind(c.created_at)
                        .bind(capabilities.join(" "))
                        .execute(&self.write)
                        .await
                        .map_err(db_error)?;
                    Ok(())
                })
                .await
            }

            async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>> {
                self.read_call(|| async move {
                    sqlx::query_as::<_, ClientRow>(
                        "SELECT client_id, secret_hash, created_at, capabilities FROM clients WHERE client_id = $1",
                    )
                    .bind(client_id)
                    .fetch_optional(&self.read)
                    .await
                    .map_err(db_error)?
                    .map(ClientRecord::try_from)
                    .transpose()
                })
                .await
            }

            async fn create_session(&self, s: &SessionRecord, epoch: u64) -> Result<bool> {
                self.write_call(|| async move {
                    // Conditional on the user in the same statement: enabled, and with the
                    // credentials the login checked. On PostgreSQL the user row is read
                    // `FOR SHARE`: a password change or disable in flight holds it, so the
                    // insert waits and re-checks the committed row, and one that starts
                    // after the insert waits for it and then revokes the new session too.
                    let inserted = sqlx::query(&format!(
                        "INSERT INTO sessions (id, user_id, username, client_id, generation, created_at, rotated_at, \
                         last_used_at, absolute_end, revoked_at, user_agent, ip) \
                         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM users \
                         WHERE id = $2 AND disabled_at IS NULL AND credential_epoch = $13{}",
                        Self::LOCK_USER_ROW
                    ))
                    .bind(s.id.to_string())
                    .bind(s.user_id.to_string())
                    .bind(&s.username)
                    .bind(&s.client_id)
                    .bind(generation(s.generation)?)
                    .bind(s.created_at)
                    .bind(s.rotated_at)
                    .bind(s.last_used_at)
                    .bind(s.absolute_end)
                    .bind(s.revoked_at)
                    .bind(&s.user_agent)
                    .bind(&s.ip)
                    .bind(generation(epoch)?)
                    .execute(&self.write)
                    .await
                    .map_err(db_error)?
                    .rows_affected();
                    Ok(inserted == 1)
                })
                .await
            }

            async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
                self.read_call(|| async move {
                    sqlx::query_as::<_, SessionRow>(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"))
                        .bind(id.to_string())
                        .fetch_optional(&self.read)
                        .await
                        .map_err(db_error)?
                        .map(SessionRecord::try_from)
                        .transpose()
                })
                .await
            }

            async fn rotate(&self, id: &SessionId, from: u64, now: UnixTime) -> Result<bool> {
                self.write_call(|| async move {
                    let moved = sqlx::query(
                        "UPDATE sessions SET generation = generation + 1, rotated_at = $1, last_used_at = $1 \
                         WHERE id = $2 AND generation = $3 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(id.to_string())
                    .bind(generation(from)?)
                    .execute(&self.write)
                    .await
                    .map_err(db_error)?
                    .rows_affected();
                    Ok(moved == 1)
                })
                .await
            }

            async fn rotate_current(&self, request: &RotateCurrent<'_>) -> Result<Option<SessionRecord>> {
                self.write_call(|| async move {
                    sqlx::query_as::<_, SessionRow>(&format!(
                        "UPDATE sessions SET generation = generation + 1, rotated_at = $1, last_used_at = $1 \
                         WHERE id = $2 AND generation = $3 AND client_id = $4 AND revoked_at IS NULL \
                           AND absolute_end > $1 AND rotated_at + $5 > $1 \
                         RETURNING {SESSION_COLUMNS}"
                    ))
                    .bind(request.now)
                    .bind(request.id.to_string())
                    .bind(generation(request.generation)?)
                    .bind(request.client_id)
                    .bind(request.refresh_ttl)
                    // All rows, not the first: SQLite commits an autocommit statement when
                    // it runs to completion, and only then reports a failed commit; a
                    // statement stopped after its first row would hand out a successor
                    // whose rotation was never committed.
                    .fetch_all(&self.write)
                    .await
                    .map_err(db_error)?
                    .into_iter()
                    .next()
                    .map(SessionRecord::try_from)
                    .transpose()
                })
                .await
            }

            async fn revoke_session(&self, id: &SessionId, reason: &str, event: &AuditEvent) -> Result<bool> {
                self.write_call(|| async move {
                    let mut tx = self.write.begin().await.map_err(db_error)?;
                    let changed = sqlx::query(
                        "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
                    )
                    .bind(event.at)
                    .bind(reason)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?
                    .rows_affected();
                    if changed > 0 {
                        insert_audit(&mut *tx, event).await?;
                    }
                    tx.commit().await.map_err(db_error)?;
                    Ok(changed > 0)
                })
                .await
            }

            async fn revoke_user_sessions(
                &self,
                user: &UserId,
                except: Option<&SessionId>,
                reason: &str,
                event: &AuditEvent,
            ) -> Result<u64> {
                self.write_call(|| async move {
                    let mut tx = self.write.begin().await.map_err(db_error)?;
                    let changed = sqlx::query(
                        "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 \
                         WHERE user_id = $3 AND revoked_at IS NULL AND id <> $4",
                    )
                    .bind(event.at)
                    .bind(reason)
                    .bind(user.to_string())
                    .bind(except.map(|k| k.to_string()).unwrap_or_default())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?
                    .rows_affected();
                    insert_audit(&mut *tx, event).await?;
                    tx.commit().await.map_err(db_error)?;
                    Ok(changed)
                })
                .await
            }

            async fn live_sessions(&self, user: &UserId, now: UnixTime) -> Result<Vec<SessionRecord>> {
                self.read_call(|| async move {
                    sqlx::query_as::<_, SessionRow>(&format!(
                        "SELECT {SESSION_COLUMNS} FROM sessions \
                         WHERE user_id = $1 AND revoked_at IS NULL AND absolute_end > $2 ORDER BY created_at, id"
                    ))
                    .bind(user.to_string())
                    .bind(now)
                    .fetch_all(&self.read)
                    .await
                    .map_err(db_error)?
                    .into_iter()
                    .map(SessionRecord::try_from)
                    .collect()
                })
                .await
            }

            async fn blocked_until(&self, keys: &[String]) -> Result<UnixTime> {
                self.read_call(|| async move {
                    // Two keys per statement: a login's account and address are one
                    // round trip, with SQL that needs no list binding.
                    let mut latest = 0;
                    for pair in keys.chunks(2) {
                        let until: Option<i64> = sqlx::query_scalar(
                            "SELECT MAX(blocked_until) FROM throttle WHERE key = $1 OR key = $2",
                        )
                        .bind(&pair[0])
                        .bind(pair.last().unwrap_or(&pair[0]))
                        .fetch_one(&self.read)
                        .await
                        .map_err(db_error)?;
                        latest = latest.max(until.unwrap_or(0));
                    }
                    Ok(latest)
                })
                .await
            }

            async fn record_failure(&self, key: &str, now: UnixTime, window: i64) -> Result<u64> {
                self.write_call(|| async move {
                    let count: i64 = sqlx::query_scalar::<_, i64>(&format!(
                        "INSERT INTO throttle (key, failures, last_failure, blocked_until) VALUES ($1, 1, $2, 0) \
                         ON CONFLICT (key) DO UPDATE SET failures = {COUNT_ONE_MORE}, last_failure = $2 \
                         RETURNING failures"
                    ))
                    .bind(key)
                    .bind(now)
                    .bind(window.max(1))
                    // To completion, so that a failed commit is reported (see rotate_current).
                    .fetch_all(&self.write)
                    .await
                    .map_err(db_error)?
                    .into_iter()
                    .next()
                    .ok_or_else(|| corrupt("throttle count"))?;
                    Ok(u64::try_from(count).unwrap_or(0))
                })
                .await
            }

            async fn reserve_guess(
                &self,
                key: &str,
                now: UnixTime,
                schedule: &BackoffSchedule,
            ) -> Result<Reservation> {
                self.write_call(|| async move {
                    let mut tx = self.write.begin().await.map_err(db_error)?;
                    // Counts only if the key is not blocked. On PostgreSQL the upsert
                    // locks the row until commit, so a concurrent reservation waits for
                    // the block set below and then sees it; SQLite's one writer runs
                    // the whole transaction alone.
                    let count: Option<i64> = sqlx::query_scalar(&format!(
                        "INSERT INTO throttle (key, failures, last_failure, blocked_until) VALUES ($1, 1, $2, 0) \
                         ON CONFLICT (key) DO UPDATE SET failures = {COUNT_ONE_MORE}, last_failure = $2 \
                         WHERE throttle.blocked_until <= $2 \
                         RETURNING failures"
                    ))
                    .bind(key)
                    .bind(now)
                    .bind(schedule.failure_window.max(1))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    let outcome = match count {
                        Some(count) => {
                            let count = u64::try_from(count).unwrap_or(0);
                            let wait = symbolon_core::throttle::backoff(
                                count,
                                schedule.allowed,
                                schedule.max_backoff,
                            );
                            if wait > 0 {
                                sqlx::query("UPDATE throttle SET blocked_until = $2 WHERE key = $1 AND blocked_until < $2")
                                    .bind(key)
                                    .bind(now + wait)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(db_error)?;
                            }
                            Reservation::Reserved(count)
                        }
                        None => {
                            let until: i64 = sqlx::query_scalar("SELECT blocked_until FROM throttle WHERE key = $1")
                                .bind(key)
                                .fetch_one(&mut *tx)
                                .await
                                .map_err(db_error)?;
                            Reservation::Blocked(until)
                        }
                    };
                    tx.commit().await.map_err(db_error)?;
                    Ok(outcome)
                })
                .await
            }

            async fn release_guess(&self, key: &str) -> Result<()> {
                self.write_call(|| async move {
                    sqlx::query("UPDATE throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0")
                        .bind(key)
                        .execute(&self.write)
                        .await
                        .map_err(db_error)?;
                    Ok(())
                })
                .await
            }

            async fn block(&self, key: &str, until: UnixTime) -> Result<()> {
                self.write_call(|| async move {
                    sqlx::query("UPDATE throttle SET blocked_until = $2 WHERE key = $1 AND blocked_until < $2")
                        .bind(key)
                        .bind(until)
                        .execute(&self.write)
                        .await
                        .map_err(db_error)?;
                    Ok(())
                })
                .await
            }

            async fn clear_failures(&self, key: &str) -> Result<()> {
                self.write_call(|| async move {
                    sqlx::query("DELETE FROM throttle WHERE key = $1")
                        .bind(key)
                        .execute(&self.write)
                        .await
                        .map_err(db_error)?;
                    Ok(())
                })
                .await
            }

            async fn insert_signing_key(&self, k: &SigningKeyRecord, retire_others: Option<UnixTime>) -> Result<()> {
                self.write_call(|| async move {
                    let mut tx = self.write.begin().await.map_err(db_error)?;
                    if let Some(at) = retire_others {
                        sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
                            .bind(at)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error)?;
                    }
                    sqlx::query(
                        "INSERT INTO signing_keys (kid, alg, wrapped_private, created_at, active_at, retired_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&k.kid)
                    .bind(&k.alg)
                    .bind(&k.wrapped_private)
                    .bind(k.created_at)
                    .bind(k.active_at)
                    .bind(k.retired_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    if retire_others.is_some() {
                        insert_audit(&mut *tx, &AuditEvent {
                            detail: Some(format!("kid={} alg={}", k.kid, k.alg)),
                            ..AuditEvent::new(crate::audit_kind::KEY_ROTATED, k.created_at)
                        })
                        .await?;
                    }
                    tx.commit().await.map_err(db_error)
                })
                .await
            }

            async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
                self.read_call(|| async move {
                    Ok(sqlx::query_as::<_, KeyRow>(
                        "SELECT kid, alg, wrapped_private, created_at, active_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid",
                    )
                    .fetch_all(&self.read)
                    .await
                    .map_err(db_error)?
                    .into_iter()
                    .map(SigningKeyRecord::from)
                    .collect())
                })
                .await
            }

            async fn audit(&self, event: &AuditEvent) -> Result<()> {
                self.write_call(|| async move {
                    insert_audit(&self.write, event).await
                })
                .await
            }

            async fn recent_audit(&self, limit: u32) -> Result<Vec<AuditEvent>> {
                self.read_call(|| async move {
                    Ok(sqlx::query_as::<_, AuditRow>(
                        "SELECT at, kind, user_id, session_id, ip, detail FROM audit ORDER BY id DESC LIMIT $1",
                    )
                    .bind(i64::from(limit))
                    .fetch_all(&self.read)
                    .await
                    .map_err(db_error)?
                    .into_iter()
                    .map(AuditEvent::from)
                    .collect())
                })
                .await
            }

            async fn feed_head(&self) -> Result<u64> {
                if let Some(sequence) = Self::SEQUENCE_FEED {
                    let pending: bool = self.read_call(|| async move {
                        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM revocations WHERE seq IS NULL)")
                            .fetch_one(&self.read)
                            .await
                            .map_err(db_error)
                    })
                    .await?;
                    if pending {
                        self.write_call(|| async move {
                            let mut tx = self.write.begin().await.map_err(db_error)?;
                            sqlx::query(Self::FEED_LOCK).execute(&mut *tx).await.map_err(db_error)?;
                            sqlx::query(sequence).execute(&mut *tx).await.map_err(db_error)?;
                            tx.commit().await.map_err(db_error)
                        })
                        .await?;
                    }
                }
                let head: Option<i64> = self.read_call(|| async move {
                    sqlx::query_scalar("SELECT MAX(seq) FROM revocations")
                        .fetch_one(&self.read)
                        .await
                        .map_err(db_error)
                })
                .await?;
                u64::try_from(head.unwrap_or(0)).map_err(|_| corrupt("revocation seq"))
            }

            async fn revocations(
                &self,
                after: u64,
                upto: u64,
                since: UnixTime,
                limit: u32,
            ) -> Result<Vec<RevocationRecord>> {
                let after = generation(after)?;
                let upto = generation(upto)?;
                self.read_call(|| async move {
                    sqlx::query_as::<_, RevocationRow>(
                        "SELECT seq, session_id, revoked_at FROM revocations \
                         WHERE seq > $1 AND seq <= $2 AND revoked_at >= $3 ORDER BY seq LIMIT $4",
                    )
                    .bind(after)
                    .bind(upto)
                    .bind(since)
                    .bind(i64::from(limit))
                    .fetch_all(&self.read)
                    .await
                    .map_err(db_error)?
                    .into_iter()
                    .map(RevocationRecord::try_from)
                    .collect()
                })
                .await
            }

            async fn listen_revocations(&self) -> Result<Option<RevocationListener>> {
                self.listener().await
            }

            async fn purge(&self, cutoffs: &PurgeCutoffs, batch: u32) -> Result<u64> {
                self.write_call(|| async move {
                    // Each statement deletes at most `batch` rows chosen by a subquery, so a
                    // purge never holds locks for long; concurrent purges simply find less.
                    let batch = i64::from(batch);
                    let sessions = sqlx::query(
                        "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
                         WHERE absolute_end < $1 OR revoked_at < $2 LIMIT $3)",
                    )
                    .bind(cutoffs.sessions_ended_before)
                    .bind(cutoffs.sessions_revoked_before)
                    .bind(batch)
                    .execute(&self.write)
                    .await
                    .map_err(db_error)?;
                    let audit = sqlx::query("DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < $1 LIMIT $2)")
                        .bind(cutoffs.audit_before)
                        .bind(batch)
                        .execute(&self.write)
                        .await
                        .map_err(db_error)?;
                    let throttle = sqlx::query(
                        // The filters again outside: PostgreSQL re-checks only the outer
                        // statement's conditions on a row a concurrent failure just updated.
                        "DELETE FROM throttle WHERE key IN (SELECT key FROM throttle \
                         WHERE blocked_until + (failures - 1) * $2 <= $1 \
                           AND last_failure + (failures - 1) * $2 <= $1 LIMIT $3) \
                         AND blocked_until + (failures - 1) * $2 <= $1 \
                         AND last_failure + (failures - 1) * $2 <= $1",
                    )
                    .bind(cutoffs.throttle_quiet_before)
                    .bind(cutoffs.failure_window.max(1))
                    .bind(batch)
                    .execute(&self.write)
                    .await
                    .map_err(db_error)?;
                    let revocations = sqlx::query(
                        "DELETE FROM revocations WHERE id IN (SELECT id FROM revocations WHERE revoked_at < $1 LIMIT $2)",
                    )
                    .bind(cutoffs.revocations_before)
                    .bind(batch)
                    .execute(&self.write)
                    .await
                    .map_err(db_error)?;
                    Ok(sessions.rows_affected()
                        + audit.rows_affected()
                        + throttle.rows_affected()
                        + revocations.rows_affected())
                })
                .await
            }
        }
    };
}

async fn insert_audit<'e, E, DB>(executor: E, e: &AuditEvent) -> Result<()>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'e, DB> + sqlx::Type<DB>,
{
    sqlx::query::<DB>(
        "INSERT INTO audit (at, kind, user_id, session_id, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(e.at)
    .bind(e.kind.clone())
    .bind(e.user_id.clone())
    .bind(e.session_id.clone())
    .bind(e.ip.clone())
    .bind(e.detail.clone())
    .execute(executor)
    .await
    .map_err(db_error)?;
    Ok(())
}

impl_store!(SqliteStore);
impl_store!(PgStore);
