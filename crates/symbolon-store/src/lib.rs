//! symbolon's storage: one trait, [`Store`], with SQLite and PostgreSQL behind it.
//!
//! The backend is chosen once, from the database URL, by [`connect`]. Both backends run
//! the same SQL text (sqlx accepts `$1` placeholders on both), generated from one macro,
//! so they cannot drift; the conformance tests in `tests/` run against each.
//! SQL types never cross this crate's API: callers see records of domain types.

mod group_sync;
mod records;
mod sql;

pub use records::*;

use async_trait::async_trait;
use symbolon_core::ids::{SessionId, UserId};
use symbolon_core::UnixTime;

/// The cause of a [`StoreError`]: the driver's error, boxed so that no SQL type is part
/// of this crate's API. Print the whole chain (`{:#}` with anyhow) to see it.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong in the store. Nothing here carries SQL text or secrets. Each
/// message says its own part only; the cause is the error's `source()`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row already exists (a unique key is taken).
    #[error("already exists")]
    Conflict,
    /// The transaction lost to a concurrent one (serialization failure, deadlock, lock
    /// timeout, SQLite busy). The store retries these itself; callers see them only
    /// after the retries ran out, as [`StoreError::Unavailable`].
    #[error("contention in the database")]
    Contention(#[source] Cause),
    /// The database cannot be reached or cannot serve now (connection refused or lost,
    /// shutting down, not accepting connections, out of resources, disk full; or
    /// contention that outlasted the retries): worth trying again later.
    #[error("the database is unavailable")]
    Unavailable(#[source] Cause),
    /// The database answered, and the operation failed (an error that trying again
    /// would not fix).
    #[error("the database operation failed")]
    Failed(#[source] Cause),
    /// A row holds a value this version cannot read (the text names the value).
    #[error("a stored value is invalid: {0}")]
    Corrupt(String),
    /// The URL names no supported database.
    #[error("unsupported database URL (use sqlite://PATH or postgres://...)")]
    UnsupportedUrl,
}

/// Result alias for store calls.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything symbolon persists. Every method is one short transaction.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;
    /// Closes every connection and waits until they are closed (a clean shutdown).
    async fn close(&self);
    /// A trivial query, for `/readyz`.
    async fn ping(&self) -> Result<()>;
    /// The database server's clock, Unix milliseconds; `None` for an embedded database
    /// (its clock is this machine's).
    async fn database_time_millis(&self) -> Result<Option<i64>>;

    /// Adds a user; [`StoreError::Conflict`] when the username is taken.
    async fn create_user(&self, user: &UserRecord) -> Result<()>;
    /// A user by normalized (lower-case) username.
    async fn user_by_name(&self, username_key: &str) -> Result<Option<UserRecord>>;
    /// A user by id.
    async fn user_by_id(&self, id: &UserId) -> Result<Option<UserRecord>>;
    /// All users, oldest first.
    async fn list_users(&self) -> Result<Vec<UserRecord>>;
    /// Replaces a password hash, raises the user's `credential_epoch`, and revokes every
    /// session of the user but `keep`.
    async fn change_password(
        &self,
        user: &UserId,
        hash: &str,
        keep: Option<&SessionId>,
        now: UnixTime,
    ) -> Result<()>;
    /// Replaces a password hash by a new hash of the same password (made with new
    /// parameters), if it is still `old`; sessions and the credentials epoch stay. True
    /// if replaced.
    async fn rehash_password(&self, user: &UserId, old: &str, new: &str) -> Result<bool>;
    /// Disables a user (raising their `credential_epoch`) and revokes all of their
    /// sessions. False if there is no such user or it was disabled already.
    async fn disable_user(&self, user: &UserId, now: UnixTime) -> Result<bool>;

    /// Adds an OAuth client; [`StoreError::Conflict`] when the id is taken.
    async fn create_client(&self, client: &ClientRecord) -> Result<()>;
    /// A client by id.
    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>>;

    /// Starts a session, unless its user is disabled or gone or their `credential_epoch`
    /// is no longer `epoch` (the one read with the password hash that was checked): then
    /// false, nothing written. Atomic with [`Store::change_password`] and
    /// [`Store::disable_user`]: a session is either created before them (and revoked by
    /// them) or refused.
    async fn create_session(&self, session: &SessionRecord, epoch: u64) -> Result<bool>;
    /// A session by id.
    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>>;
    /// The compare-and-swap of rotation: moves the session from generation `from` to
    /// `from + 1` if it is still at `from` and not revoked. True if this call moved it.
    async fn rotate(&self, id: &SessionId, from: u64, now: UnixTime) -> Result<bool>;
    /// The fast path of a refresh, one statement: rotates the session if the presented
    /// generation is current, belongs to `client_id`, and neither the session nor the
    /// token has expired or been revoked — exactly the case in which
    /// `symbolon_core::rotation::decide` says `Rotate`. Returns the rotated row; `None`
    /// sends the caller to the slow path (read, decide).
    async fn rotate_current(&self, request: &RotateCurrent<'_>) -> Result<Option<SessionRecord>>;
    /// Revokes one session and writes `event` in the same transaction. False if it was
    /// already revoked (or does not exist); the event is written only when true.
    async fn revoke_session(
        &self,
        id: &SessionId,
        reason: &str,
        event: &AuditEvent,
    ) -> Result<bool>;
    /// Revokes the user's live sessions, all or all but `except`, at `event.at`, and
    /// records `event` in the same transaction. Returns how many were revoked.
    async fn revoke_user_sessions(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: &str,
        event: &AuditEvent,
    ) -> Result<u64>;
    /// The user's sessions that are neither revoked nor past their absolute end.
    async fn live_sessions(&self, user: &UserId, now: UnixTime) -> Result<Vec<SessionRecord>>;

    /// The latest `blocked_until` among these throttle keys (0 if none).
    async fn blocked_until(&self, keys: &[String]) -> Result<UnixTime>;
    /// Counts a failure for `key` and returns the new count. The count restarts only after
    /// `window` quiet seconds since both the last failure and the end of the key's block.
    async fn record_failure(&self, key: &str, now: UnixTime, window: i64) -> Result<u64>;
    /// Reserves one guess at `key`'s secret before it is checked: counts it as a failure
    /// now (the count decays as in [`Store::record_failure`]; a success clears it), unless
    /// the key is blocked. A reservation past the free guesses also blocks the key for the
    /// next back-off period in the same transaction, so while one guess is being checked
    /// every other is refused, on every instance: parallel guesses get one check per
    /// period. [`Store::release_guess`] gives back one that was never checked.
    async fn reserve_guess(
        &self,
        key: &str,
        now: UnixTime,
        schedule: &BackoffSchedule,
    ) -> Result<Reservation>;
    /// Gives back a reservation whose secret was not checked (the check could not run).
    async fn release_guess(&self, key: &str) -> Result<()>;
    /// Raises `blocked_until` for `key` to `until` (never lowers it).
    async fn block(&self, key: &str, until: UnixTime) -> Result<()>;
    /// Forgets the failures of `key` (after a successful login).
    async fn clear_failures(&self, key: &str) -> Result<()>;

    /// Stores a new signing key; when `retire_others` is set, every key not yet retired is
    /// retired at that time (normally the new key's `active_at`) in the same transaction.
    async fn insert_signing_key(
        &self,
        key: &SigningKeyRecord,
        retire_others: Option<UnixTime>,
    ) -> Result<()>;
    /// All signing keys, newest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;

    /// Appends an audit event.
    async fn audit(&self, event: &AuditEvent) -> Result<()>;
    /// The newest audit events, newest first.
    async fn recent_audit(&self, limit: u32) -> Result<Vec<AuditEvent>>;

    /// Numbers the revocations committed since the last call (in commit order, on
    /// PostgreSQL under an advisory lock; SQLite numbers them as they are written) and
    /// returns the feed's head: the highest `seq` a reader now sees, 0 if none. Every
    /// entry up to the head is visible once this returns.
    async fn feed_head(&self) -> Result<u64>;
    /// The feed's entries with `after < seq <= upto`, revoked at or after `since`, in
    /// `seq` order, at most `limit`.
    async fn revocations(
        &self,
        after: u64,
        upto: u64,
        since: UnixTime,
        limit: u32,
    ) -> Result<Vec<RevocationRecord>>;
    /// A connection that wakes when a revocation commits anywhere (PostgreSQL's
    /// LISTEN); `None` where the store has no such thing (SQLite: poll
    /// [`Store::feed_head`]).
    async fn listen_revocations(&self) -> Result<Option<RevocationListener>>;

    /// Deletes what `cutoffs` names, at most `batch` rows of each table. Safe to run on
    /// every instance at once. Returns rows deleted.
    async fn purge(&self, cutoffs: &PurgeCutoffs, batch: u32) -> Result<u64>;
}

/// The arguments of [`Store::rotate_current`].
#[derive(Debug, Clone, Copy)]
pub struct RotateCurrent<'a> {
    /// The session.
    pub id: &'a SessionId,
    /// The generation presented, which must be the current one.
    pub generation: u64,
    /// The client presenting it, which must be the session's.
    pub client_id: &'a str,
    /// The refresh tokens' idle lifetime.
    pub refresh_ttl: i64,
    /// Now.
    pub now: UnixTime,
}

/// The back-off a guess reservation applies (see [`Store::reserve_guess`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffSchedule {
    /// Guesses that are free (no block).
    pub allowed: u64,
    /// The longest block, seconds.
    pub max_backoff: i64,
    /// Seconds of quiet for the count to decay by one.
    pub failure_window: i64,
}

/// The outcome of [`Store::reserve_guess`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The guess may be checked; it is counted as this failure of the key.
    Reserved(u64),
    /// The key is blocked until then: refuse without checking.
    Blocked(UnixTime),
}

/// What a purge deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeCutoffs {
    /// Sessions whose absolute end is before this.
    pub sessions_ended_before: UnixTime,
    /// Sessions revoked before this.
    pub sessions_revoked_before: UnixTime,
    /// Revocation-feed entries revoked before this.
    pub revocations_before: UnixTime,
    /// Audit rows written before this.
    pub audit_before: UnixTime,
    /// Throttle rows quiet since before this (last failure and end of block), by one
    /// `failure_window` for each failure they count: rows whose count has decayed to
    /// nothing (see [`Store::record_failure`]).
    pub throttle_quiet_before: UnixTime,
    /// The failure window the counts decay by.
    pub failure_window: i64,
}

/// Wakes when a revocation commits on any instance (see [`Store::listen_revocations`]).
#[derive(Debug)]
pub struct RevocationListener(sql::Listener);

impl RevocationListener {
    /// Waits for the next notification. Notifications sent while the connection was
    /// being re-established are lost: callers also poll, less often.
    pub async fn next(&mut self) -> Result<()> {
        self.0.next().await
    }
}

/// Opens the store named by `url` (`sqlite://PATH` or `postgres://...`), without migrating.
pub async fn connect(url: &str, pool_size: u32) -> Result<std::sync::Arc<dyn Store>> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        Ok(std::sync::Arc::new(
            sql::SqliteStore::open(path, pool_size).await?,
        ))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(
            sql::PgStore::open(url, pool_size).await?,
        ))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}
