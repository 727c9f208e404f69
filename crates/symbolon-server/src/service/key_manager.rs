//! The server's view of the signing keys: loaded from the store, unwrapped with the
//! master key, re-read every `key_refresh` (and at once when a token names an unknown
//! `kid`, at most once a second), so keys rotated by any instance or by
//! `symbolon keys rotate` reach every instance. A rotated-in key is published at once
//! and signs only after `Retention::activation_delay`, when every instance publishes
//! it; an instance whose view of the keys is older than the age limit neither signs
//! nor publishes until it has read them again.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use symbolon_core::access::KeySet;
use symbolon_core::keys::{Jwk, KeyError, KeyWrap, SigningAlg, SigningKey};
use symbolon_core::UnixTime;
use symbolon_store::{SigningKeyRecord, Store, StoreError};

/// Why the keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key does not decrypt or parse.
    #[error("signing key {kid}")]
    Key {
        /// The key's id.
        kid: String,
        /// What is wrong.
        #[source]
        source: KeyError,
    },
}

/// The timing of key changes, from the settings.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Access-token lifetime.
    pub access_ttl: i64,
    /// Verification leeway (also the clock skew allowed between instances).
    pub leeway: i64,
    /// Reload period of the slowest instance.
    pub key_refresh: i64,
}

impl Retention {
    /// How long a key is published before it signs: every instance reloads within
    /// `key_refresh`, and the age limit below stops one that has not; `leeway` covers
    /// the skew between the instances' clocks.
    pub fn activation_delay(&self) -> i64 {
        2 * self.key_refresh.max(1) + self.leeway.max(0)
    }

    /// The oldest view of the keys an instance signs or publishes with. No larger than
    /// the activation delay, so an instance that missed a rotation stops signing before
    /// the key it holds is retired.
    fn max_view_age(&self) -> i64 {
        2 * self.key_refresh.max(1)
    }

    /// Whether a key is still published and accepted: every token it signed must have
    /// expired, including tokens signed by instances that had not yet reloaded.
    fn keeps(&self, record: &SigningKeyRecord, now: UnixTime) -> bool {
        match record.retired_at {
            None => true,
            Some(at) => now < at + self.access_ttl + self.leeway + self.key_refresh,
        }
    }
}

/// A key that may sign at some time, with its window.
#[derive(Debug, Clone)]
struct Signer {
    key: Arc<SigningKey>,
    active_at: UnixTime,
    retired_at: Option<UnixTime>,
}

impl Signer {
    fn signs_at(&self, t: UnixTime) -> bool {
        self.active_at <= t && self.retired_at.is_none_or(|r| t < r)
    }
}

/// One reading of the keys.
#[derive(Debug)]
struct View {
    set: Arc<KeySet>,
    jwks: Arc<Vec<Jwk>>,
    /// Keys that may sign, newest first.
    signers: Vec<Signer>,
    /// Every accepted key.
    all: Vec<Arc<SigningKey>>,
    /// When the keys were read (the service's clock).
    read_at: UnixTime,
    /// When the signing key changes next (a key activates or retires).
    next_change: Option<UnixTime>,
}

/// The loaded keys and the published JWKS.
#[derive(Debug)]
pub struct KeyManager {
    wrap: KeyWrap,
    alg: SigningAlg,
    retention: Retention,
    view: RwLock<Arc<View>>,
    /// When the keys were last read; held while a reload runs, so concurrent requests
    /// wait for one reload instead of each starting or skipping one.
    last_reload: tokio::sync::Mutex<Instant>,
}

/// Whether starting may change the stored keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// A server: creates the first key, and a new one when `signing_alg` changed.
    Serve,
    /// An admin command: creates a key only in an empty database, never retires one.
    Admin,
}

impl KeyManager {
    /// Loads the keys, creating keys as `mode` allows.
    pub async fn start(
        store: &dyn Store,
        wrap: KeyWrap,
        alg: SigningAlg,
        retention: Retention,
        now: UnixTime,
        mode: KeyMode,
    ) -> Result<Self, KeysError> {
        let records = store.signing_keys().await?;
        let has_current = records
            .iter()
            .any(|r| r.retired_at.is_none() && r.alg == alg.as_str());
        if !has_current && (mode == KeyMode::Serve || records.is_empty()) {
            // The first key signs at once (nobody else publishes); a key for a changed
            // `signing_alg` is published first, like a rotation.
            let active_at = if records.is_empty() {
                now
            } else {
                now + retention.activation_delay()
            };
            create_key(store, &wrap, alg, now, active_at).await?;
        }
        let view = load(store, &wrap, alg, &retention, now).await?;
        Ok(Self {
            wrap,
            alg,
            retention,
            view: RwLock::new(Arc::new(view)),
            last_reload: tokio::sync::Mutex::new(Instant::now()),
        })
    }

    /// The key that wraps private keys in the store.
    pub fn wrap(&self) -> &KeyWrap {
        &self.wrap
    }

    /// See [`Retention::activation_delay`].
    pub fn activation_delay(&self) -> i64 {
        self.retention.activation_delay()
    }

    fn view(&self) -> Arc<View> {
        self.view
            .read()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn replace(&self, view: View) {
        let view = Arc::new(view);
        match self.view.write() {
            Ok(mut guard) => *guard = view,
            Err(poisoned) => *poisoned.into_inner() = view,
        }
    }

    /// The keys to verify with now (every published key).
    pub fn key_set(&self) -> Arc<KeySet> {
        self.view().set.clone()
    }

    /// The key set whose current key signs at `now`, from a view of the keys no older
    /// than the age limit: a stale view is read again first, and if that fails the
    /// instance does not sign (the error; a database outage is
    /// `StoreError::Unavailable`).
    pub async fn signing_set(
        &self,
        store: &dyn Store,
        now: UnixTime,
    ) -> Result<Arc<KeySet>, KeysError> {
        self.fresh_view(store, now).await.map(|v| v.set.clone())
    }

    /// The public keys for `/.well-known/jwks.json`, from a view no older than the age
    /// limit (like [`KeyManager::signing_set`]): an instance that cannot read the keys
    /// must not publish a set that may lack the next key.
    pub async fn jwks(&self, store: &dyn Store, now: UnixTime) -> Result<Arc<Vec<Jwk>>, KeysError> {
        self.fresh_view(store, now).await.map(|v| v.jwks.clone())
    }

    async fn fresh_view(&self, store: &dyn Store, now: UnixTime) -> Result<Arc<View>, KeysError> {
        let view = self.view();
        if now - view.read_at > self.retention.max_view_age() {
            let mut last = self.last_reload.lock().await;
            let view = self.view();
            if now - view.read_at <= self.retention.max_view_age() {
                return Ok(view); // Another request reloaded meanwhile.
            }
            *last = Instant::now();
            self.reload(store, now).await?;
            return Ok(self.view());
        }
        if view.next_change.is_some_and(|t| t <= now) {
            // A key activates or retires: choose again from the keys in memory.
            let next = choose(
                view.signers.clone(),
                view.all.clone(),
                view.jwks.clone(),
                self.alg,
                view.read_at,
                now,
            )?;
            self.replace(next);
            return Ok(self.view());
        }
        Ok(view)
    }

    /// Re-reads the keys from the store.
    pub async fn reload(&self, store: &dyn Store, now: UnixTime) -> Result<(), KeysError> {
        let view = load(store, &self.wrap, self.alg, &self.retention, now).await?;
        self.replace(view);
        Ok(())
    }

    /// Reloads because a token named `kid`, which this instance does not know: at most
    /// one reload a second (so garbage `kid`s cannot flood the database), and requests
    /// that arrive during a reload wait for it. The caller verifies again afterwards.
    pub async fn reload_for_unknown_kid(&self, store: &dyn Store, kid: &str, now: UnixTime) {
        let mut last = self.last_reload.lock().await;
        if self.key_set().contains(kid) || last.elapsed() < Duration::from_secs(1) {
            return;
        }
        *last = Instant::now();
        if let Err(e) = self.reload(store, now).await {
            tracing::warn!(error = %e, "signing-key reload failed");
        }
    }
}

/// Generates a key, wraps it, and stores it, published at once and signing from
/// `active_at`; every key not yet retired retires then.
pub async fn create_key(
    store: &dyn Store,
    wrap: &KeyWrap,
    alg: SigningAlg,
    now: UnixTime,
    active_at: UnixTime,
) -> Result<String, KeysError> {
    let (key, material) = SigningKey::generate(alg).map_err(|source| KeysError::Key {
        kid: "(new)".into(),
        source,
    })?;
    let wrapped = wrap
        .wrap(key.kid(), &material)
        .map_err(|source| KeysError::Key {
            kid: key.kid().into(),
            source,
        })?;
    let record = SigningKeyRecord {
        kid: key.kid().into(),
        alg: alg.as_str().into(),
        wrapped_private: wrapped,
        created_at: now,
        active_at,
        retired_at: None,
    };
    store.insert_signing_key(&record, Some(active_at)).await?;
    Ok(record.kid)
}

async fn load(
    store: &dyn Store,
    wrap: &KeyWrap,
    alg: SigningAlg,
    retention: &Retention,
    now: UnixTime,
) -> Result<View, KeysError> {
    let records = store.signing_keys().await?;
    let mut all = Vec::new();
    let mut signers = Vec::new();
    for record in records.iter().filter(|r| retention.keeps(r, now)) {
        let parsed = SigningAlg::parse(&record.alg)
            .ok_or(KeyError::BadMaterial(alg))
            .and_then(|key_alg| {
                let material = wrap.unwrap(&record.kid, &record.wrapped_private)?;
                let key = SigningKey::from_material(record.kid.clone(), key_alg, &material)?;
                Ok(Arc::new(key))
            });
        let key = match parsed {
            Ok(key) => key,
            // A retired key that cannot be read only costs the tokens it signed; a
            // current one means the wrong master key, and must stop start-up.
            Err(source) if record.retired_at.is_some_and(|at| at <= now) => {
                tracing::warn!(kid = %record.kid, error = %source, "skipping a retired signing key");
                continue;
            }
            Err(source) => {
                return Err(KeysError::Key {
                    kid: record.kid.clone(),
                    source,
                })
            }
        };
        if record.retired_at.is_none_or(|at| now < at) {
            signers.push(Signer {
                key: key.clone(),
                active_at: record.active_at,
                retired_at: record.retired_at,
            });
        }
        all.push(key);
    }
    let mut jwks: Vec<Jwk> = all.iter().filter_map(|k| k.jwk().cloned()).collect();
    jwks.sort_by(|a, b| a.kid.cmp(&b.kid));
    choose(signers, all, Arc::new(jwks), alg, now, now)
}

/// The view of keys read at `read_at`, with the key that signs at `now`: the newest key
/// of the configured algorithm whose window holds `now`, else the newest of any
/// algorithm (admin commands, or a changed `signing_alg` whose key is not active yet).
fn choose(
    signers: Vec<Signer>,
    all: Vec<Arc<SigningKey>>,
    jwks: Arc<Vec<Jwk>>,
    alg: SigningAlg,
    read_at: UnixTime,
    now: UnixTime,
) -> Result<View, KeysError> {
    let current = signers
        .iter()
        .find(|s| s.key.alg() == alg && s.signs_at(now))
        .or_else(|| signers.iter().find(|s| s.signs_at(now)))
        .map(|s| s.key.clone())
        .ok_or_else(|| KeysError::Key {
            kid: "(none)".into(),
            source: KeyError::BadMaterial(alg),
        })?;
    let next_change = signers
        .iter()
        .flat_map(|s| [Some(s.active_at), s.retired_at])
        .flatten()
        .filter(|t| *t > now)
        .min();
    Ok(View {
        set: Arc::new(KeySet::new(current, all.iter().cloned())),
        jwks,
        signers,
        all,
        read_at,
        next_change,
    })
}
