//! Tokens in a SQLite database (cargo feature `sqlite`).
//!
//! One database file holds the tokens of several profiles side by side, in a table
//! `tokens(profile TEXT PRIMARY KEY, sealed BLOB NOT NULL, updated_at INTEGER NOT NULL)`.
//!
//! Each row's `sealed` value is a record like the one [`EncryptedFileStore`] writes to its
//! file: `MAGIC || nonce || ciphertext`, the tokens under XChaCha20-Poly1305 with a key from
//! a [`KeyProvider`]; a row's record (format 2) also binds the profile name as associated
//! data, so a row copied to another profile does not decrypt. No token bytes are in clear in the database, its WAL or its journal:
//! the protection SQLCipher would give to the values, without linking a second SQLite
//! build (`libsqlite3-sys` is linked once, by `sqlx`). The profile names and the times of
//! the last writes are in clear, unless the database is opened with
//! [`SqliteTokenStore::new_sqlcipher`] (cargo feature `sqlcipher`), which encrypts every
//! page with SQLCipher as well: the feature switches the build's one `libsqlite3-sys` to its
//! bundled SQLCipher, which reads and writes plain SQLite databases as before.
//!
//! [`EncryptedFileStore`]: crate::EncryptedFileStore

use super::file::{blocking, lock_file, open_record, seal_record, Binding};
use super::{StoreLock, TokenStore};
use crate::error::{Error, Result};
use crate::keys::{create_private_dir, KeyProvider, StoreKey};
use crate::tokens::StoredTokens;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The tokens of one profile in a SQLite database shared by several profiles.
///
/// - The database file is created with mode 0600 (its directory 0700) before SQLite opens
///   it; SQLite gives its `-wal` and `-shm` files the same mode. It runs in WAL mode.
/// - [`save`](TokenStore::save) is one `INSERT … ON CONFLICT(profile) DO UPDATE`;
///   [`clear`](TokenStore::clear) deletes the profile's row.
/// - Values are sealed as [`EncryptedFileStore`](crate::EncryptedFileStore) seals its
///   file, bound to the profile name (see the module documentation).
/// - A row that does not decrypt (wrong key, damage, another profile's row) is reported as
///   [`Error::CorruptRecord`]: the row is left where it is and never deleted by the
///   store; it stays until the next `save` or `clear` replaces it.
/// - [`lock`](TokenStore::lock) takes an OS file lock on `DB.PROFILE.lock`, so processes
///   that share a profile refresh one at a time, and other profiles are not held up.
#[derive(Clone)]
pub struct SqliteTokenStore {
    path: PathBuf,
    profile: String,
    key: Arc<StoreKey>,
    pool: SqlitePool,
}

impl std::fmt::Debug for SqliteTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTokenStore")
            .field("path", &self.path)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl SqliteTokenStore {
    /// The store of `profile` in the database `path` (created when missing), sealed with
    /// `key`.
    ///
    /// A profile name is 1 to 128 ASCII letters, digits, `-`, `_` or `.`, not starting
    /// with `.` (it names the lock file).
    pub async fn new(path: impl Into<PathBuf>, profile: &str, key: StoreKey) -> Result<Self> {
        Self::connect(path.into(), profile, key, false).await
    }

    /// Like [`new`](Self::new), with the whole database (table, profile names, times,
    /// WAL) encrypted by SQLCipher under a key derived from `key` (HKDF-SHA256), and each
    /// row still sealed. Cargo feature `sqlcipher`.
    ///
    /// Fails with [`Error::Store`] when this build's SQLite is not SQLCipher, and when the
    /// database was made with another key or without SQLCipher; the file is left as it is.
    #[cfg(feature = "sqlcipher")]
    pub async fn new_sqlcipher(
        path: impl Into<PathBuf>,
        profile: &str,
        key: StoreKey,
    ) -> Result<Self> {
        Self::connect(path.into(), profile, key, true).await
    }

    async fn connect(path: PathBuf, profile: &str, key: StoreKey, sqlcipher: bool) -> Result<Self> {
        check_profile(profile)?;
        let create = path.clone();
        blocking(move || create_private_file(&create)).await?;
        let mut options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        if sqlcipher {
            options = with_sqlcipher_key(options, &key)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(|e| db_error(&path, opening(sqlcipher), e))?;
        if sqlcipher {
            check_sqlcipher(&pool, &path).await?;
        }
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS tokens (\
                profile TEXT PRIMARY KEY, \
                sealed BLOB NOT NULL, \
                updated_at INTEGER NOT NULL)",
        )
        .execute(&pool)
        .await
        .map_err(|e| db_error(&path, opening(sqlcipher), e))?;
        Ok(SqliteTokenStore {
            path,
            profile: profile.to_owned(),
            key: Arc::new(key),
            pool,
        })
    }

    /// The store of `profile` in `path` with the key from `provider` (which may block:
    /// a passphrase provider derives its key with Argon2id).
    pub async fn open(
        path: impl Into<PathBuf>,
        profile: &str,
        provider: &dyn KeyProvider,
    ) -> Result<Self> {
        Self::new(path, profile, provider.key()?).await
    }

    /// Another profile in the same database, sharing this store's connections and key.
    pub fn with_profile(&self, profile: &str) -> Result<Self> {
        check_profile(profile)?;
        Ok(SqliteTokenStore {
            profile: profile.to_owned(),
            ..self.clone()
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This store's profile.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    fn lock_path(&self) -> PathBuf {
        super::file::sibling(&self.path, &format!(".{}.lock", self.profile))
    }
}

/// What a failure to open or first use the database means.
fn opening(sqlcipher: bool) -> &'static str {
    if sqlcipher {
        "cannot open (wrong key, or not a SQLCipher database)"
    } else {
        "cannot open"
    }
}

/// Sets SQLCipher's raw key: HKDF-SHA256 of the store key, so the row seal and the page
/// cipher never share a key. A raw key (`x'…'`) skips SQLCipher's PBKDF2, which a random
/// key does not need. Statement logging is off so the `PRAGMA key` is never logged.
#[cfg(feature = "sqlcipher")]
fn with_sqlcipher_key(
    options: SqliteConnectOptions,
    key: &StoreKey,
) -> Result<SqliteConnectOptions> {
    use sqlx::ConnectOptions;
    use std::fmt::Write;
    let mut derived = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(None, key.bytes())
        .expand(b"symbolon sqlcipher page key v1", &mut derived)
        .map_err(|_| Error::Protocol("HKDF-SHA256 refused a 32-byte output".into()))?;
    let mut pragma = String::with_capacity(69);
    pragma.push_str("\"x'");
    for byte in derived {
        let _ = write!(pragma, "{byte:02x}");
    }
    pragma.push_str("'\"");
    zeroize::Zeroize::zeroize(&mut derived);
    Ok(options.pragma("key", pragma).disable_statement_logging())
}

#[cfg(not(feature = "sqlcipher"))]
fn with_sqlcipher_key(options: SqliteConnectOptions, _: &StoreKey) -> Result<SqliteConnectOptions> {
    Ok(options)
}

/// SQLite without SQLCipher ignores `PRAGMA key` and would write the database in clear:
/// refuse instead.
async fn check_sqlcipher(pool: &SqlitePool, path: &Path) -> Result<()> {
    let version: Option<String> = sqlx::query_scalar("PRAGMA cipher_version")
        .fetch_optional(pool)
        .await
        .map_err(|e| db_error(path, opening(true), e))?;
    match version {
        Some(v) if !v.is_empty() => Ok(()),
        _ => Err(Error::Store {
            reason: format!(
                "{}: this build's SQLite is not SQLCipher (cargo feature `sqlcipher`)",
                path.display()
            ),
            source: None,
        }),
    }
}

fn check_profile(profile: &str) -> Result<()> {
    let ok = !profile.is_empty()
        && profile.len() <= 128
        && !profile.starts_with('.')
        && profile
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::Store {
            reason: format!(
                "invalid profile name {profile:?}: use ASCII letters, digits, '-', '_' or '.'"
            ),
            source: None,
        })
    }
}

/// Creates the database file with mode 0600 (and its directory 0700) when missing.
fn create_private_file(path: &Path) -> Result<()> {
    create_private_dir(path.parent().unwrap_or(Path::new(".")))?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .map_err(|e| Error::store(format!("cannot create {}", path.display()), e))
}

fn db_error(path: &Path, what: &str, e: sqlx::Error) -> Error {
    Error::store(
        format!("{what} {}", path.display()),
        std::io::Error::other(e),
    )
}

fn unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[async_trait::async_trait]
impl TokenStore for SqliteTokenStore {
    async fn load(&self) -> Result<Option<StoredTokens>> {
        let sealed: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT sealed FROM tokens WHERE profile = ?")
                .bind(&self.profile)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| db_error(&self.path, "cannot read", e))?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        match open_record(&self.key, Binding::Profile(&self.profile), &sealed) {
            Some(tokens) => Ok(Some(tokens)),
            None => {
                tracing::warn!(path = %self.path.display(), profile = %self.profile, "stored tokens cannot be decrypted; the row is kept");
                Err(Error::CorruptRecord {
                    path: self.path.clone(),
                    profile: self.profile.clone(),
                })
            }
        }
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<()> {
        let sealed = seal_record(&self.key, Binding::Profile(&self.profile), tokens)?;
        sqlx::query(
            "INSERT INTO tokens (profile, sealed, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT(profile) DO UPDATE SET \
             sealed = excluded.sealed, updated_at = excluded.updated_at",
        )
        .bind(&self.profile)
        .bind(sealed)
        .bind(unix_seconds())
        .execute(&self.pool)
        .await
        .map_err(|e| db_error(&self.path, "cannot write", e))?;
        Ok(())
    }

    async fn clear(&self) -> Result<()> {
        sqlx::query("DELETE FROM tokens WHERE profile = ?")
            .bind(&self.profile)
            .execute(&self.pool)
            .await
            .map_err(|e| db_error(&self.path, "cannot write", e))?;
        Ok(())
    }

    async fn lock(&self) -> Result<Option<StoreLock>> {
        let path = self.lock_path();
        blocking(move || lock_file(&path)).await.map(Some)
    }
}
