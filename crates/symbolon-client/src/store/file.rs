use super::{StoreLock, TokenStore};
use crate::error::{Error, Result};
use crate::keys::{
    create_private_dir, private_options, sync_dir, temp_path, KeyProvider, StoreKey,
};
use crate::tokens::StoredTokens;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroize;

/// A record's first bytes: format name and version. Also part of the AEAD's associated
/// data, so a record of one version cannot be passed off as another.
///
/// Version 1 (the token file) binds nothing else; version 2 (a row of
/// `SqliteTokenStore`) also binds the row's profile name, so
/// whoever can write the database cannot swap two profiles' tokens unnoticed.
const MAGIC_V1: &[u8; 8] = b"SYMBTOK1";
const MAGIC_V2: &[u8; 8] = b"SYMBTOK2";
const MAGIC_LEN: usize = 8;
const NONCE_LEN: usize = 24;

/// What a sealed record is bound to, besides its key.
#[derive(Clone, Copy)]
pub(crate) enum Binding<'a> {
    /// A token file (format 1): bound to nothing else; a file may be moved or renamed.
    File,
    /// A profile's row in a shared database (format 2): bound to the profile name.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Profile(&'a str),
}

impl Binding<'_> {
    fn magic(&self) -> &'static [u8; MAGIC_LEN] {
        match self {
            Binding::File => MAGIC_V1,
            Binding::Profile(_) => MAGIC_V2,
        }
    }

    /// The associated data: the magic, then (format 2) the profile name. Profile names
    /// cannot contain a NUL, so the NUL separator keeps the encoding unambiguous.
    fn aad(&self) -> Vec<u8> {
        let mut aad = self.magic().to_vec();
        if let Binding::Profile(profile) = self {
            aad.push(0);
            aad.extend_from_slice(profile.as_bytes());
        }
        aad
    }
}

/// Tokens in a file encrypted with XChaCha20-Poly1305.
///
/// - The file is `MAGIC || nonce (24 bytes, random per write) || ciphertext`.
/// - Writes go to a temporary file in the same directory, are fsynced and renamed over
///   the old file: a crash leaves the old or the new tokens, never half a file.
/// - The file and its lock file have mode 0600; a missing directory is created 0700.
/// - A file that does not decrypt is renamed to `NAME.corrupt-<unix seconds>` and
///   reported as [`Error::Corrupt`]; nothing is deleted.
/// - [`lock`](TokenStore::lock) takes an OS file lock on `NAME.lock`, so processes that
///   share the file refresh one at a time.
#[derive(Clone)]
pub struct EncryptedFileStore {
    path: PathBuf,
    key: Arc<StoreKey>,
}

impl std::fmt::Debug for EncryptedFileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedFileStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl EncryptedFileStore {
    /// A store in `path` with `key`.
    pub fn new(path: impl Into<PathBuf>, key: StoreKey) -> Self {
        EncryptedFileStore {
            path: path.into(),
            key: Arc::new(key),
        }
    }

    /// A store in `path` with the key from `provider` (which may block: call it from
    /// `spawn_blocking` in async code if the provider derives keys).
    pub fn open(path: impl Into<PathBuf>, provider: &dyn KeyProvider) -> Result<Self> {
        Ok(Self::new(path, provider.key()?))
    }

    /// The token file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        sibling(&self.path, ".lock")
    }

    fn load_blocking(&self) -> Result<Option<StoredTokens>> {
        let raw = match std::fs::read(&self.path) {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::store(
                    format!("cannot read {}", self.path.display()),
                    e,
                ))
            }
        };
        match open_record(&self.key, Binding::File, &raw) {
            Some(tokens) => Ok(Some(tokens)),
            None => Err(self.move_aside()),
        }
    }

    fn move_aside(&self) -> Error {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut name = self
            .path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(format!(".corrupt-{secs}"));
        let moved_to = self.path.with_file_name(name);
        match std::fs::rename(&self.path, &moved_to) {
            Ok(()) => {
                tracing::warn!(path = %self.path.display(), moved_to = %moved_to.display(), "token file cannot be decrypted; moved aside");
                Error::Corrupt {
                    path: self.path.clone(),
                    moved_to,
                }
            }
            Err(e) => Error::store(
                format!(
                    "{} cannot be decrypted, and moving it aside failed",
                    self.path.display()
                ),
                e,
            ),
        }
    }

    fn save_blocking(&self, tokens: &StoredTokens) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        create_private_dir(dir)?;
        let record = seal_record(&self.key, Binding::File, tokens)?;
        let tmp = temp_path(&self.path);
        let write = || -> std::io::Result<()> {
            let mut file = private_options().open(&tmp)?;
            file.write_all(&record)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::store(
                format!("cannot write {}", self.path.display()),
                e,
            ));
        }
        sync_dir(dir);
        Ok(())
    }

    fn clear_blocking(&self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {
                sync_dir(self.path.parent().unwrap_or(Path::new(".")));
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::store(
                format!("cannot remove {}", self.path.display()),
                e,
            )),
        }
    }

    fn lock_blocking(&self) -> Result<StoreLock> {
        lock_file(&self.lock_path())
    }
}

/// Seals `tokens` into a record: `MAGIC || nonce (24 bytes, random) || ciphertext`, the
/// JSON of the tokens under XChaCha20-Poly1305 with `binding`'s associated data.
pub(crate) fn seal_record(
    key: &StoreKey,
    binding: Binding<'_>,
    tokens: &StoredTokens,
) -> Result<Vec<u8>> {
    let mut plain = serde_json::to_vec(tokens)
        .map_err(|e| Error::Protocol(format!("cannot encode tokens: {e}")))?;
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = cipher(key).encrypt(
        &nonce,
        Payload {
            msg: &plain,
            aad: &binding.aad(),
        },
    );
    plain.zeroize();
    let ciphertext = sealed.map_err(|_| Error::Protocol("encryption failed".into()))?;
    let mut record = Vec::with_capacity(MAGIC_LEN + NONCE_LEN + ciphertext.len());
    record.extend_from_slice(binding.magic());
    record.extend_from_slice(&nonce);
    record.extend_from_slice(&ciphertext);
    Ok(record)
}

/// Opens a record made by [`seal_record`] with the same `binding`; `None` when it does
/// not decrypt (wrong key, damage, another format, another profile's record).
pub(crate) fn open_record(
    key: &StoreKey,
    binding: Binding<'_>,
    raw: &[u8],
) -> Option<StoredTokens> {
    let (magic, rest) = raw.split_at_checked(MAGIC_LEN)?;
    if magic != binding.magic() || rest.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let mut plain = cipher(key)
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &binding.aad(),
            },
        )
        .ok()?;
    let tokens = serde_json::from_slice(&plain).ok();
    plain.zeroize();
    tokens
}

/// Opens a sealed record as the stores read one: a token file's (format 1) when
/// `profile` is `None`, a `SqliteTokenStore` row's (format 2) bound to `profile`
/// otherwise. The entry point of the `client_records` fuzz target; not an API.
#[doc(hidden)]
pub fn open_sealed_record(
    key: &StoreKey,
    profile: Option<&str>,
    raw: &[u8],
) -> Option<StoredTokens> {
    let binding = match profile {
        None => Binding::File,
        Some(profile) => Binding::Profile(profile),
    };
    open_record(key, binding, raw)
}

fn cipher(key: &StoreKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.bytes().into())
}

/// How long to wait for another process's lock. With the SDK's defaults a refresh holds
/// it for about 10 s at most (3 tries of 3 s and their pauses; tries of a token in doubt
/// end by half the reuse grace plus one try); a stopped process (Ctrl-Z) holds it until
/// it goes on, and waiting for that must end.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Takes an OS lock on `path` (created 0600, its directory 0700, when missing), waiting
/// at most [`LOCK_WAIT`] for other holders; released when the returned guard is dropped.
pub(crate) fn lock_file(path: &Path) -> Result<StoreLock> {
    create_private_dir(path.parent().unwrap_or(Path::new(".")))?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A link planted in place of the lock file is not followed (ELOOP).
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = options
        .open(path)
        .map_err(|e| Error::store(format!("cannot open {}", path.display()), e))?;
    // The blocking lock runs on a thread of its own so the wait can end. If it is
    // granted after we gave up, the guard is dropped with the closed channel and the
    // lock released at once.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("symbolon-lock".into())
        .spawn(move || {
            let _ = tx.send(file.lock().map(|()| FileLock(file)));
        })
        .map_err(|e| Error::store("cannot start the lock thread", e))?;
    match rx.recv_timeout(LOCK_WAIT) {
        Ok(Ok(lock)) => Ok(StoreLock::new(lock)),
        Ok(Err(e)) => Err(Error::store(format!("cannot lock {}", path.display()), e)),
        Err(_) => Err(Error::Store {
            reason: format!(
                "another process has held {} for {} s (a stopped program?)",
                path.display(),
                LOCK_WAIT.as_secs()
            ),
            source: None,
        }),
    }
}

/// An OS lock on an open file, released on drop (closing the file would release it too).
struct FileLock(std::fs::File);

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Store {
            reason: format!("store task failed: {e}"),
            source: None,
        })?
}

#[async_trait::async_trait]
impl TokenStore for EncryptedFileStore {
    async fn load(&self) -> Result<Option<StoredTokens>> {
        let this = self.clone();
        blocking(move || this.load_blocking()).await
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<()> {
        let (this, tokens) = (self.clone(), tokens.clone());
        blocking(move || this.save_blocking(&tokens)).await
    }

    async fn clear(&self) -> Result<()> {
        let this = self.clone();
        blocking(move || this.clear_blocking()).await
    }

    async fn lock(&self) -> Result<Option<StoreLock>> {
        let this = self.clone();
        blocking(move || this.lock_blocking()).await.map(Some)
    }
}

/// `path` with `suffix` appended to its file name (`tokens` → `tokens.lock`), in the same
/// directory: lock files sit beside what they guard.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}
