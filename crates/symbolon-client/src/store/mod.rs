//! Where tokens are kept between requests and between runs.
//!
//! One trait, [`TokenStore`], with [`MemoryStore`] (one process, nothing on disk) and
//! [`EncryptedFileStore`] (XChaCha20-Poly1305, written atomically, mode 0600, with a
//! cross-process lock so that several processes sharing the file refresh once), and with
//! the `sqlite` feature [`SqliteTokenStore`] (several profiles in one SQLite database,
//! each row sealed like the file store's file). [`KeyringTokenStore`](crate::KeyringTokenStore)
//! keeps them in an OS keyring entry.

mod file;
mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

#[doc(hidden)]
pub use file::open_sealed_record;
pub use file::EncryptedFileStore;
pub(crate) use file::{blocking, lock_file};
pub use memory::MemoryStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteTokenStore;

use crate::error::Result;
use crate::tokens::StoredTokens;

/// A place for one session's tokens.
///
/// The client calls [`load`](TokenStore::load) once at start and again after taking
/// [`lock`](TokenStore::lock) before every refresh, so a store shared between processes
/// hands each of them the tokens another already obtained.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    /// The stored tokens, or `None` when there are none.
    async fn load(&self) -> Result<Option<StoredTokens>>;
    /// Replaces the stored tokens.
    async fn save(&self, tokens: &StoredTokens) -> Result<()>;
    /// Forgets the tokens.
    async fn clear(&self) -> Result<()>;
    /// Takes a lock that excludes other processes sharing this store until the returned
    /// guard is dropped. Stores that only one process can see return `None` (the default).
    async fn lock(&self) -> Result<Option<StoreLock>> {
        Ok(None)
    }
}

/// A held cross-process lock; dropping it releases the lock.
pub struct StoreLock {
    _held: Box<dyn Send + Sync>,
}

impl StoreLock {
    /// Wraps whatever holds the lock (released when it is dropped).
    pub fn new(held: impl Send + Sync + 'static) -> Self {
        StoreLock {
            _held: Box::new(held),
        }
    }
}

impl std::fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreLock")
    }
}
