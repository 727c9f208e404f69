//! Keys for the encrypted token file: the [`KeyProvider`] trait and its implementations.
//!
//! A provider hands out one 32-byte [`StoreKey`]. Where the key comes from decides how
//! well the tokens are protected, and [`Protection`] says so, so that a program can warn
//! when it had to fall back to something weaker (see [`choose_key`]).

use crate::error::{Error, Result};
use crate::keyring::Keyring;
use crate::secret::Secret;
use base64::Engine;
use rand::RngCore;
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroize;

/// A 256-bit key for [`EncryptedFileStore`](crate::EncryptedFileStore). Its `Debug`
/// redacts it; it is wiped when dropped.
#[derive(Clone)]
pub struct StoreKey([u8; 32]);

impl StoreKey {
    /// Wraps key material (from a platform keystore, say).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        StoreKey(bytes)
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        StoreKey(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey([redacted])")
    }
}

/// How well a key is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protection {
    /// Held by the operating system (a keyring, a hardware-backed keystore).
    Keystore,
    /// Derived from a passphrase with Argon2id: as strong as the passphrase.
    Passphrase,
    /// In a file of its own (mode 0600): anyone who can read the user's files can
    /// decrypt the tokens.
    KeyFile,
}

impl Protection {
    /// True when the protection is weaker than an OS keystore.
    pub fn is_weaker(&self) -> bool {
        !matches!(self, Protection::Keystore)
    }
}

/// Hands out the key of an encrypted token store.
///
/// Implement it to put the key somewhere else. On Android, for instance, the key can be
/// kept by the Android Keystore: generate a non-exportable AES-256-GCM key there once,
/// use it (through JNI) to wrap a random 32-byte [`StoreKey`] that is kept next to the
/// token file, and return the unwrapped key from [`key`](KeyProvider::key); report
/// [`Protection::Keystore`].
pub trait KeyProvider: Send + Sync {
    /// The key. Called once when a store opens; may block (Argon2id, a keystore call).
    fn key(&self) -> Result<StoreKey>;
    /// How well the key is protected.
    fn protection(&self) -> Protection;
}

/// A key given directly (tests, or a key the application manages itself).
#[derive(Debug, Clone)]
pub struct StaticKey(pub StoreKey);

impl KeyProvider for StaticKey {
    fn key(&self) -> Result<StoreKey> {
        Ok(self.0.clone())
    }
    fn protection(&self) -> Protection {
        Protection::Keystore
    }
}

/// A random key kept in a file of its own, created with mode 0600 when missing. An
/// explicit choice: anyone who can read the file can decrypt the tokens.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    /// The key in `path` (created on first use).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        KeyFile { path: path.into() }
    }
}

impl KeyProvider for KeyFile {
    fn key(&self) -> Result<StoreKey> {
        let mut bytes =
            read_or_create_secret_file(&self.path, || StoreKey::generate().bytes().to_vec())?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            Error::KeyUnavailable(format!(
                "key file {} does not hold a 32-byte key",
                self.path.display()
            ))
        })?;
        bytes.zeroize();
        Ok(StoreKey(key))
    }
    fn protection(&self) -> Protection {
        Protection::KeyFile
    }
}

/// A key derived from a passphrase with Argon2id (RFC 9106) and a random salt kept in
/// `salt_file` (created when missing; the salt is not secret).
pub struct PassphraseKey {
    passphrase: Secret,
    salt_file: PathBuf,
    params: argon2::Params,
}

impl PassphraseKey {
    /// Argon2id with m = 19 MiB, t = 2, p = 1 (the OWASP recommendation).
    pub fn new(passphrase: Secret, salt_file: impl Into<PathBuf>) -> Self {
        Self::with_cost(passphrase, salt_file, 19 * 1024, 2)
    }

    /// Argon2id with the given memory (KiB) and iterations (tests use tiny values).
    pub fn with_cost(
        passphrase: Secret,
        salt_file: impl Into<PathBuf>,
        memory_kib: u32,
        iterations: u32,
    ) -> Self {
        let params = argon2::Params::new(
            memory_kib.max(argon2::Params::MIN_M_COST),
            iterations.max(1),
            1,
            Some(32),
        )
        .unwrap_or_default();
        PassphraseKey {
            passphrase,
            salt_file: salt_file.into(),
            params,
        }
    }
}

impl std::fmt::Debug for PassphraseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassphraseKey")
            .field("salt_file", &self.salt_file)
            .finish_non_exhaustive()
    }
}

impl KeyProvider for PassphraseKey {
    fn key(&self) -> Result<StoreKey> {
        if self.passphrase.expose().is_empty() {
            return Err(Error::KeyUnavailable("the passphrase is empty".into()));
        }
        let salt = read_or_create_secret_file(&self.salt_file, || {
            let mut salt = vec![0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut salt);
            salt
        })?;
        let argon = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            self.params.clone(),
        );
        let mut key = [0u8; 32];
        argon
            .hash_password_into(self.passphrase.expose().as_bytes(), &salt, &mut key)
            .map_err(|e| Error::KeyUnavailable(format!("Argon2id: {e}")))?;
        Ok(StoreKey(key))
    }
    fn protection(&self) -> Protection {
        Protection::Passphrase
    }
}

/// Where a token file's key lives. Record it beside the file (the CLI keeps it in the
/// profile) and open the file later with [`reopen_key`], so that a run in another
/// context (an SSH login without the desktop's keyring, say) does not make a new key
/// that cannot open the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum KeySource {
    /// [`Keyring::Platform`].
    PlatformKeyring,
    /// [`Keyring::Kernel`].
    KernelKeyring,
    /// [`PassphraseKey`] with the salt file `NAME.salt`.
    Passphrase,
    /// [`KeyFile`] `NAME.key`.
    KeyFile,
}

/// The key chosen by [`choose_key`], how it is protected, and what to tell the user.
#[derive(Debug)]
pub struct KeyChoice {
    /// The key.
    pub key: StoreKey,
    /// Where it came from.
    pub protection: Protection,
    /// Where it lives, for [`reopen_key`].
    pub source: KeySource,
    /// The keyring that holds the key, when one does.
    pub keyring: Option<Keyring>,
    /// Set when the choice is weaker than an OS keyring, or when the key was just put in
    /// a keyring that forgets it at restart: say it (a CLI prints it on stderr). Never
    /// silently dropped.
    pub warning: Option<String>,
}

/// The usual chain for a token file named `name` in `dir`: [`choose_key_from`] with the
/// platform's [`Keyring::preferred`] keyrings. Blocks (keyring calls of up to
/// [`TIMEOUT`](crate::keyring::TIMEOUT) each, Argon2id): in async code, call it from
/// `spawn_blocking`.
pub fn choose_key(dir: &Path, name: &str, passphrase: Option<Secret>) -> Result<KeyChoice> {
    choose_key_from(Keyring::preferred(), dir, name, passphrase)
}

/// The key for a token file named `name` in `dir`, from the first of `keyrings` that
/// works (each probed with a timeout; the key is created there when missing), else from
/// `passphrase` (Argon2id, salt in `dir/NAME.salt`), else from a key file `dir/NAME.key`
/// (0600). The two fallbacks come with a [`KeyChoice::warning`] that says why no keyring
/// was used; so does a key just created in a keyring that forgets it at restart. Blocks,
/// like [`choose_key`].
pub fn choose_key_from(
    keyrings: &[Keyring],
    dir: &Path,
    name: &str,
    passphrase: Option<Secret>,
) -> Result<KeyChoice> {
    let unavailable = match crate::keyring::get_or_create_key(keyrings, name) {
        Ok(found) => {
            let warning = (found.created && !found.keyring.survives_restart()).then(|| {
                format!(
                    "note: the token file's key was put in the {}: in memory only, never on disk, and gone when the machine restarts (log in again then)",
                    found.keyring.name()
                )
            });
            return Ok(KeyChoice {
                key: found.key,
                protection: Protection::Keystore,
                source: KeySource::from(found.keyring),
                keyring: Some(found.keyring),
                warning,
            });
        }
        Err(why) => why,
    };

    if let Some(passphrase) = passphrase {
        let provider = PassphraseKey::new(passphrase, salt_path(dir, name));
        return Ok(KeyChoice {
            key: provider.key()?,
            protection: Protection::Passphrase,
            source: KeySource::Passphrase,
            keyring: None,
            warning: Some(format!(
                "warning: no OS keyring ({unavailable}); the token file's key is derived from SYMBOLON_PASSPHRASE, so the tokens are only as safe as that passphrase"
            )),
        });
    }
    let path = key_path(dir, name);
    let provider = KeyFile::new(&path);
    Ok(KeyChoice {
        key: provider.key()?,
        protection: Protection::KeyFile,
        source: KeySource::KeyFile,
        keyring: None,
        warning: Some(format!(
            "warning: no OS keyring ({unavailable}); the token file's key is in {} (mode 0600): weaker protection, anyone who can read your files can use your tokens. Set SYMBOLON_PASSPHRASE to use a passphrase instead",
            path.display()
        )),
    })
}

/// The existing key of the token file `name` in `dir` from `source` only: nothing is
/// created and nothing else is tried. [`Error::KeyUnavailable`] when the key is gone (a
/// kernel keyring after a restart, a deleted key file), when the keyring cannot be
/// reached, or when a passphrase is needed and `passphrase` is `None`.
pub fn reopen_key(
    source: KeySource,
    dir: &Path,
    name: &str,
    passphrase: Option<Secret>,
) -> Result<StoreKey> {
    // Reopening never creates: the providers below would make a missing file anew.
    let existing = |path: PathBuf| {
        if path.exists() {
            Ok(path)
        } else {
            Err(Error::KeyUnavailable(format!(
                "{} is missing",
                path.display()
            )))
        }
    };
    match source {
        KeySource::PlatformKeyring => key_kept_in(Keyring::Platform, name),
        KeySource::KernelKeyring => key_kept_in(Keyring::Kernel, name),
        KeySource::Passphrase => {
            let salt = existing(salt_path(dir, name))?;
            let passphrase = passphrase.ok_or_else(|| {
                Error::KeyUnavailable(
                    "the token file's key is derived from a passphrase: set SYMBOLON_PASSPHRASE"
                        .into(),
                )
            })?;
            PassphraseKey::new(passphrase, salt).key()
        }
        KeySource::KeyFile => KeyFile::new(existing(key_path(dir, name))?).key(),
    }
}

/// The key `name` that `keyring` already holds.
fn key_kept_in(keyring: Keyring, name: &str) -> Result<StoreKey> {
    crate::keyring::existing_key(keyring, name)
        .map_err(Error::KeyUnavailable)?
        .ok_or_else(|| {
            Error::KeyUnavailable(format!(
                "the token file's key is no longer in the {}",
                keyring.name()
            ))
        })
}

/// The salt file of a passphrase-derived key for the token file `name` in `dir`.
fn salt_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.salt"))
}

/// The key file for the token file `name` in `dir`.
fn key_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.key"))
}

impl From<Keyring> for KeySource {
    fn from(keyring: Keyring) -> Self {
        match keyring {
            Keyring::Platform => KeySource::PlatformKeyring,
            Keyring::Kernel => KeySource::KernelKeyring,
        }
    }
}

/// Reads a small secret file, or creates it atomically (mode 0600) with `make()`.
/// A file readable by others is refused.
pub(crate) fn read_or_create_secret_file(
    path: &Path,
    make: impl FnOnce() -> Vec<u8>,
) -> Result<Vec<u8>> {
    if let Some(bytes) = read_secret_file(path)? {
        return Ok(bytes);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let mut bytes = make();
    let mut text = B64.encode(&bytes);
    text.push('\n');
    bytes.zeroize();
    // Written to a temporary file and linked into place, so that a concurrent reader
    // sees either no file or the whole key, and two creators cannot both win.
    let tmp = temp_path(path);
    let write = || -> std::io::Result<()> {
        let mut file = private_options().open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::hard_link(&tmp, path)
    };
    let outcome = write();
    let _ = std::fs::remove_file(&tmp);
    text.zeroize();
    match outcome {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::store(format!("cannot create {}", path.display()), e)),
    }
    read_secret_file(path)?.ok_or_else(|| {
        Error::KeyUnavailable(format!("{} vanished while it was created", path.display()))
    })
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn read_secret_file(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read_to_string(path) {
        Ok(mut text) => {
            check_private(path)?;
            let bytes = B64.decode(text.trim()).map_err(|_| {
                Error::KeyUnavailable(format!("{} is not a base64 key file", path.display()))
            });
            text.zeroize();
            bytes.map(Some)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::store(format!("cannot read {}", path.display()), e)),
    }
}

fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::store(format!("cannot read {}", path.display()), e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(Error::KeyUnavailable(format!(
                "{} is readable by other users; run `chmod 600 {}`",
                path.display(),
                path.display()
            )));
        }
    }
    Ok(())
}

/// Options that create a new file readable by its owner only.
pub(crate) fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Creates `dir` (and parents) with mode 0700 when missing, and refuses a directory
/// that is not private (see [`check_private_dir`]).
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if !dir.is_dir() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| Error::store(format!("cannot create {}", dir.display()), e))?;
    }
    check_private_dir(dir)
}

/// Refuses a directory (after symbolic links) that another user owns, or that group or
/// others may write to: they could replace, remove or plant files and links in it.
#[cfg(unix)]
pub(crate) fn check_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir)
        .map_err(|e| Error::store(format!("cannot read {}", dir.display()), e))?;
    let refuse = |why: String| {
        Err(Error::Store {
            reason: format!("refusing the directory {}: {why}", dir.display()),
            source: None,
        })
    };
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return refuse(format!(
            "it belongs to uid {}, not to you (uid {me})",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return refuse(format!(
            "group or others can write to it (mode {:o}; `chmod go-w` it)",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Refuses nothing where there are no Unix owners and modes.
#[cfg(not(unix))]
pub(crate) fn check_private_dir(_dir: &Path) -> Result<()> {
    Ok(())
}

/// A fresh temporary name next to `path` (same directory, so a rename is atomic).
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tag = rand::rngs::OsRng.next_u64();
    path.with_file_name(format!(".{name}.tmp-{}-{tag:016x}", std::process::id()))
}

/// Makes a rename or link in `dir` durable (best effort: not every system allows it).
pub(crate) fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }) {
        let _ = d.sync_all();
    }
}
