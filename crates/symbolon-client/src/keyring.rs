//! The OS keyring: the home of a token file's key ([`choose_key`](crate::choose_key)),
//! or of the tokens themselves ([`KeyringTokenStore`]).
//!
//! Built on the `keyring` crate with the cargo feature `keyring`; without it every
//! keyring reports itself unavailable and callers fall back (loudly, see
//! [`KeyChoice::warning`](crate::KeyChoice::warning)).
//!
//! Every call is given [`TIMEOUT`]: a missing D-Bus session, a Secret Service waiting for
//! an unlock prompt or a locked keychain must not hang the program. The calls to one
//! keyring run in order on one worker thread of its own, so a call that timed out and
//! completes later can never overtake (and undo) a later one: a stale write cannot land
//! over a newer record.

use crate::error::{Error, Result};
use crate::keys::StoreKey;
use crate::store::{StoreLock, TokenStore};
use crate::tokens::StoredTokens;
use std::path::PathBuf;
use std::time::Duration;

/// How long one keyring call may take before the keyring counts as unavailable.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The largest secret kept in a keyring entry, in bytes: Windows' Credential Manager
/// refuses more than 2,560 (`CRED_MAX_CREDENTIAL_BLOB_SIZE`). The limit is applied on
/// every platform, so that a program tested on Linux does not fail on Windows.
pub const MAX_SECRET_BYTES: usize = 2560;

/// The service name under which symbolon's entries are kept.
const SERVICE: &str = "symbolon";

/// An OS keyring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Keyring {
    /// The platform's keyring: the Secret Service over D-Bus (GNOME Keyring, KWallet) on
    /// Linux and the BSDs, the Keychain on macOS, the Credential Manager on Windows.
    /// Kept on disk, encrypted, across logouts and restarts.
    Platform,
    /// Linux's kernel keyring (keyutils), the user keyring: kept in kernel memory, never
    /// on disk, shared by all the user's sessions (a second SSH login sees it). Gone when
    /// the user's last process ends or the machine restarts. Works without D-Bus
    /// (servers, containers).
    ///
    /// Entries are not linked into the user's persistent keyring: where kernels refuse
    /// that keyring (containers do), merely asking for it breaks keyring searches for the
    /// rest of the process.
    Kernel,
}

impl Keyring {
    /// The keyrings worth trying on this platform, best first.
    pub fn preferred() -> &'static [Keyring] {
        if cfg!(target_os = "linux") {
            &[Keyring::Platform, Keyring::Kernel]
        } else {
            &[Keyring::Platform]
        }
    }

    /// A short name for messages: `Secret Service`, `kernel keyring`, …
    pub fn name(&self) -> &'static str {
        match self {
            Keyring::Platform if cfg!(target_os = "macos") => "Keychain",
            Keyring::Platform if cfg!(target_os = "windows") => "Credential Manager",
            Keyring::Platform => "Secret Service",
            Keyring::Kernel => "kernel keyring",
        }
    }

    /// Whether this keyring keeps entries across a restart.
    pub fn survives_restart(&self) -> bool {
        matches!(self, Keyring::Platform)
    }

    /// Reads the secret `user`; `Ok(None)` when there is no such entry.
    fn get(self, user: &str) -> Result<Option<Vec<u8>>, String> {
        let user = user.to_owned();
        self.call(move |entry| match entry(&user)?.get_secret() {
            Ok(secret) => Ok(Some(secret)),
            Err(backend::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        })
    }

    /// Writes the secret `user`, replacing any earlier one.
    fn set(self, user: &str, secret: Vec<u8>) -> Result<(), String> {
        let user = user.to_owned();
        self.call(move |entry| {
            let mut secret = secret;
            let outcome = entry(&user)?.set_secret(&secret);
            zeroize::Zeroize::zeroize(&mut secret);
            outcome
        })
    }

    /// Deletes the secret `user`; no entry is not an error.
    fn delete(self, user: &str) -> Result<(), String> {
        let user = user.to_owned();
        self.call(move |entry| match entry(&user)?.delete_credential() {
            Ok(()) | Err(backend::Error::NoEntry) => Ok(()),
            Err(e) => Err(e),
        })
    }

    /// Runs `f` with this keyring's entry constructor on the keyring's worker, waiting
    /// at most [`TIMEOUT`]. Errors are strings for people, naming the keyring.
    fn call<T: Send + 'static>(
        self,
        f: impl FnOnce(&dyn Fn(&str) -> backend::Result<backend::Entry>) -> backend::Result<T>
            + Send
            + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        in_order(
            self,
            Box::new(move || {
                let _ = tx.send(f(&|user| backend::entry(self, SERVICE, user)));
            }),
        )
        .map_err(|e| format!("{}: {e}", self.name()))?;
        match rx.recv_timeout(TIMEOUT) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(format!("{}: {e}", self.name())),
            Err(_) => Err(format!(
                "{}: no answer within {} s",
                self.name(),
                TIMEOUT.as_secs()
            )),
        }
    }
}

/// A call waiting for a keyring's worker.
type Job = Box<dyn FnOnce() + Send>;

/// Each keyring's worker: one thread per keyring for the life of the process, running
/// the calls in the order they were made.
static WORKERS: std::sync::Mutex<Vec<(Keyring, std::sync::mpsc::Sender<Job>)>> =
    std::sync::Mutex::new(Vec::new());

/// Queues `job` on `keyring`'s worker, starting the worker on first use.
fn in_order(keyring: Keyring, job: Job) -> Result<(), String> {
    let mut workers = WORKERS.lock().unwrap_or_else(|p| p.into_inner());
    let mut job = job;
    if let Some(i) = workers.iter().position(|(k, _)| *k == keyring) {
        match workers[i].1.send(job) {
            Ok(()) => return Ok(()),
            // The worker is gone (it panicked): start another.
            Err(std::sync::mpsc::SendError(back)) => {
                job = back;
                workers.swap_remove(i);
            }
        }
    }
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("symbolon-keyring".into())
        .spawn(move || {
            for job in rx {
                job();
            }
        })
        .map_err(|e| format!("cannot start the keyring thread: {e}"))?;
    tx.send(job)
        .map_err(|_| "the keyring thread stopped".to_owned())?;
    workers.push((keyring, tx));
    Ok(())
}

/// Where a key came from in [`get_or_create_key`].
pub(crate) struct FoundKey {
    pub key: StoreKey,
    pub keyring: Keyring,
    pub created: bool,
}

/// Gets the key named `name` from the first of `keyrings` that works, creating it there
/// when missing. `Err` says, for each keyring, why it cannot be used.
pub(crate) fn get_or_create_key(keyrings: &[Keyring], name: &str) -> Result<FoundKey, String> {
    let user = format!("key:{name}");
    let mut reasons = Vec::new();
    for &keyring in keyrings {
        match key_in(keyring, &user) {
            Ok((key, created)) => {
                return Ok(FoundKey {
                    key,
                    keyring,
                    created,
                })
            }
            Err(why) => reasons.push(why),
        }
    }
    if reasons.is_empty() {
        reasons.push("no keyring was allowed".to_owned());
    }
    Err(reasons.join("; "))
}

/// Deletes the key named `name` (as [`choose_key`](crate::choose_key) made it) from
/// `keyring`; no such key is not an error. Token files sealed with it can no longer be
/// read.
pub fn forget_key(keyring: Keyring, name: &str) -> Result<()> {
    keyring
        .delete(&format!("key:{name}"))
        .map_err(Error::KeyUnavailable)
}

/// The key named `name` in `keyring`, if it is there; never creates one. `Err` says why
/// the keyring cannot be read.
pub(crate) fn existing_key(keyring: Keyring, name: &str) -> Result<Option<StoreKey>, String> {
    let user = format!("key:{name}");
    keyring
        .get(&user)?
        .map(|bytes| decode_key(keyring, &user, bytes))
        .transpose()
}

fn decode_key(keyring: Keyring, user: &str, mut bytes: Vec<u8>) -> Result<StoreKey, String> {
    let key: Result<[u8; 32], _> = bytes.as_slice().try_into();
    zeroize::Zeroize::zeroize(&mut bytes);
    key.map(StoreKey::from_bytes)
        .map_err(|_| format!("{}: the entry {user} is not a 32-byte key", keyring.name()))
}

fn key_in(keyring: Keyring, user: &str) -> Result<(StoreKey, bool), String> {
    if let Some(bytes) = keyring.get(user)? {
        return decode_key(keyring, user, bytes).map(|key| (key, false));
    }
    keyring.set(user, StoreKey::generate().bytes().to_vec())?;
    // Read it back: some backends accept a write they cannot keep. (Two processes that
    // create the same key at the same moment may each keep their own: the last write
    // wins in the keyring, so the loser's token file will not open. Keys are created at
    // login, one process at a time in practice.)
    let bytes = keyring
        .get(user)?
        .ok_or_else(|| format!("{}: the new key was not kept", keyring.name()))?;
    decode_key(keyring, user, bytes).map(|key| (key, true))
}

/// Tokens kept directly in an OS keyring entry, one entry per profile.
///
/// - The entry holds the tokens as JSON; the keyring encrypts it. A record larger than
///   [`MAX_SECRET_BYTES`] is refused with [`Error::Store`] on every platform (a large
///   RS256 access token with many claims can get there): use an
///   [`EncryptedFileStore`](crate::EncryptedFileStore) with its key in the keyring
///   instead, which needs 32 bytes of keyring.
/// - An entry that is not a token record is reported as [`Error::Store`] and left as it
///   is; the next `save` or `clear` replaces it.
/// - A keyring has no locks, so processes that share a profile refresh one at a time
///   through a lock file: by default `keyring-PROFILE.lock` in a per-user directory
///   (`$XDG_RUNTIME_DIR/symbolon`, else `~/.cache/symbolon`, else
///   `%LOCALAPPDATA%\symbolon`; see [`lock_path`](Self::lock_path)); choose another with
///   [`with_lock_file`](Self::with_lock_file) (every process sharing the profile must use
///   the same one), or none with [`without_lock`](Self::without_lock).
#[derive(Debug, Clone)]
pub struct KeyringTokenStore {
    keyring: Keyring,
    profile: String,
    lock_file: Option<PathBuf>,
}

impl KeyringTokenStore {
    /// The tokens of `profile` in `keyring` (the entry `tokens:PROFILE` of service
    /// `symbolon`). Nothing is checked until first use: see [`probe`](Self::probe).
    pub fn new(keyring: Keyring, profile: &str) -> Self {
        KeyringTokenStore {
            keyring,
            profile: profile.to_owned(),
            lock_file: default_lock_file(profile),
        }
    }

    /// The store of `profile` in the first of `keyrings` that answers a read within
    /// [`TIMEOUT`]. `Err` ([`Error::KeyUnavailable`]) says why each one cannot be used.
    pub async fn probe(keyrings: &[Keyring], profile: &str) -> Result<Self> {
        let mut reasons = Vec::new();
        for &keyring in keyrings {
            let store = KeyringTokenStore::new(keyring, profile);
            let user = store.user();
            match tokio::task::spawn_blocking(move || keyring.get(&user)).await {
                Ok(Ok(_)) => return Ok(store),
                Ok(Err(why)) => reasons.push(why),
                Err(e) => reasons.push(format!("{}: {e}", keyring.name())),
            }
        }
        Err(Error::KeyUnavailable(if reasons.is_empty() {
            "no keyring was allowed".to_owned()
        } else {
            reasons.join("; ")
        }))
    }

    /// Serialises refreshes across processes with an OS lock on `path` (created 0600)
    /// instead of the default one.
    pub fn with_lock_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.lock_file = Some(path.into());
        self
    }

    /// No lock across processes: only for a profile that one process uses at a time
    /// (two processes refreshing one profile at once can present a spent token).
    pub fn without_lock(mut self) -> Self {
        self.lock_file = None;
        self
    }

    /// The lock file refreshes are serialised with, if any.
    pub fn lock_path(&self) -> Option<&std::path::Path> {
        self.lock_file.as_deref()
    }

    /// The keyring this store uses.
    pub fn keyring(&self) -> Keyring {
        self.keyring
    }

    fn user(&self) -> String {
        format!("tokens:{}", self.profile)
    }

    fn failed(&self, why: String) -> Error {
        Error::Store {
            reason: format!("profile {}: {why}", self.profile),
            source: None,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(Keyring, String) -> Result<T, String> + Send + 'static,
    ) -> Result<T> {
        let (keyring, user) = (self.keyring, self.user());
        tokio::task::spawn_blocking(move || f(keyring, user))
            .await
            .map_err(|e| self.failed(format!("keyring task failed: {e}")))?
            .map_err(|why| self.failed(why))
    }
}

#[async_trait::async_trait]
impl TokenStore for KeyringTokenStore {
    async fn load(&self) -> Result<Option<StoredTokens>> {
        let Some(mut json) = self.run(|keyring, user| keyring.get(&user)).await? else {
            return Ok(None);
        };
        let tokens = serde_json::from_slice(&json);
        zeroize::Zeroize::zeroize(&mut json);
        tokens.map(Some).map_err(|_| {
            self.failed(format!(
                "the {} entry {} is not a token record; it was kept",
                self.keyring.name(),
                self.user()
            ))
        })
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<()> {
        let mut json = serde_json::to_vec(tokens)
            .map_err(|e| Error::Protocol(format!("cannot encode tokens: {e}")))?;
        if json.len() > MAX_SECRET_BYTES {
            let len = json.len();
            zeroize::Zeroize::zeroize(&mut json);
            return Err(self.failed(format!(
                "the tokens take {len} bytes, more than the {MAX_SECRET_BYTES} an OS keyring entry can hold everywhere; keep them in an EncryptedFileStore with its key in the keyring"
            )));
        }
        self.run(move |keyring, user| keyring.set(&user, json))
            .await
    }

    async fn clear(&self) -> Result<()> {
        self.run(|keyring, user| keyring.delete(&user)).await
    }

    async fn lock(&self) -> Result<Option<StoreLock>> {
        let Some(path) = self.lock_file.clone() else {
            return Ok(None);
        };
        crate::store::blocking(move || crate::store::lock_file(&path))
            .await
            .map(Some)
    }
}

/// The default lock file of a keyring store's profile, in a directory of the user's own
/// (`None` where no such directory is known: then there is no lock unless one is given).
/// The profile's name is lower-cased and anything but `A-Za-z0-9_-` becomes `_`: two
/// names that map to one file merely share a lock.
fn default_lock_file(profile: &str) -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = var("XDG_RUNTIME_DIR")
        .or_else(|| var("HOME").map(|home| home.join(".cache")))
        .or_else(|| var("LOCALAPPDATA"))?
        .join("symbolon");
    let name: String = profile
        .chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect();
    Some(dir.join(format!("keyring-{name}.lock")))
}

/// The `keyring` crate, or a stand-in that reports every keyring unavailable.
#[cfg(feature = "keyring")]
mod backend {
    use super::Keyring;
    pub(super) use keyring::{Entry, Error, Result};

    pub(super) fn entry(keyring: Keyring, service: &str, user: &str) -> Result<Entry> {
        match keyring {
            Keyring::Platform => Entry::new(service, user),
            Keyring::Kernel => kernel(service, user),
        }
    }

    /// The user keyring only. Not `KeyutilsCredential::new_with_target`: it also asks
    /// for the persistent keyring, and where the kernel refuses that keyring (containers
    /// do) every later search in the process fails with EACCES.
    #[cfg(target_os = "linux")]
    fn kernel(service: &str, user: &str) -> Result<Entry> {
        use linux_keyutils::{KeyRing, KeyRingIdentifier};
        let ring = KeyRing::from_special_id(KeyRingIdentifier::User, false)
            .map_err(keyring::keyutils::decode_error)?;
        let credential = keyring::keyutils::KeyutilsCredential {
            // The crate's field is named for the session keyring; any keyring works.
            session: ring,
            persistent: None,
            // The description `new_with_target` would give.
            description: format!("keyring-rs:{user}@{service}"),
        };
        Ok(Entry::new_with_credential(Box::new(credential)))
    }

    #[cfg(not(target_os = "linux"))]
    fn kernel(_service: &str, _user: &str) -> Result<Entry> {
        Err(Error::NoStorageAccess(
            "the kernel keyring exists on Linux only".into(),
        ))
    }
}

#[cfg(not(feature = "keyring"))]
mod backend {
    use super::Keyring;

    pub(super) type Result<T> = std::result::Result<T, Error>;

    /// The one answer of a build without keyring support.
    #[derive(Debug)]
    pub(super) enum Error {
        // Matched by the callers, never made: there are no entries to miss.
        #[allow(dead_code)]
        NoEntry,
        Unsupported,
    }

    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("this build has no OS keyring support (cargo feature `keyring`)")
        }
    }

    pub(super) enum Entry {}

    impl Entry {
        pub(super) fn get_secret(&self) -> Result<Vec<u8>> {
            match *self {}
        }
        pub(super) fn set_secret(&self, _: &[u8]) -> Result<()> {
            match *self {}
        }
        pub(super) fn delete_credential(&self) -> Result<()> {
            match *self {}
        }
    }

    pub(super) fn entry(_: Keyring, _: &str, _: &str) -> Result<Entry> {
        Err(Error::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::{in_order, Keyring, KeyringTokenStore};
    use crate::store::TokenStore;
    use std::sync::{Arc, Mutex};

    /// Two stores of one profile, made without saying anything about locks (as two
    /// processes would make them), lock the same file: while one holds it, the other
    /// cannot take it.
    #[tokio::test]
    async fn keyring_stores_of_one_profile_lock_each_other_by_default() {
        let profile = format!("lock-test-{}", std::process::id());
        let first = KeyringTokenStore::new(Keyring::Kernel, &profile);
        let second = KeyringTokenStore::new(Keyring::Kernel, &profile.to_uppercase());
        let path = first.lock_path().expect("a default lock file").to_owned();
        assert_eq!(second.lock_path(), Some(path.as_path()));
        let held = first.lock().await.expect("lock").expect("a lock");
        let other = std::fs::File::open(&path).expect("lock file");
        assert!(
            matches!(other.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
            "the second process could take the lock the first holds"
        );
        drop(held);
        other.try_lock().expect("free once released");
        drop(other);
        let _ = std::fs::remove_file(&path);
        assert!(KeyringTokenStore::new(Keyring::Kernel, &profile)
            .without_lock()
            .lock()
            .await
            .expect("no lock")
            .is_none());
    }

    /// Calls to one keyring run one after the other, in the order they were queued,
    /// whatever their callers do meanwhile (a caller that gave up included).
    #[test]
    fn calls_to_a_keyring_run_in_order() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        for i in 0..200 {
            let (seen, done_tx) = (seen.clone(), done_tx.clone());
            in_order(
                Keyring::Kernel,
                Box::new(move || {
                    seen.lock().expect("lock").push(i);
                    if i == 199 {
                        let _ = done_tx.send(());
                    }
                }),
            )
            .expect("queued");
        }
        done_rx.recv().expect("the last call ran");
        assert_eq!(*seen.lock().expect("lock"), (0..200).collect::<Vec<_>>());
    }
}
