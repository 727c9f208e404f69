//! The server's view of the signing keys: loaded from the store, unwrapped with the
//! master key, re-read every `key_refresh` (and at once when a token names an unknown
//! `kid`, at most once a second), so keys rotated by any instance or by
//! `symbolon keys rotate` reach every instance.

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

/// How long a retired key stays accepted and published: every token it signed must
/// have expired, including tokens signed by instances that had not yet reloaded.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Access-token lifetime.
    pub access_ttl: i64,
    /// Verification leeway.
    pub leeway: i64,
    /// Reload period of the slowest instance.
    pub key_refresh: i64,
}

impl Retention {
    fn keeps(&self, record: &SigningKeyRecord, now: UnixTime) -> bool {
        match record.retired_at {
            None => true,
            Some(at) => now < at + self.access_ttl + self.leeway + self.key_refresh,
        }
    }
}

/// The loaded keys and the published JWKS.
#[derive(Debug)]
pub struct KeyManager {
    wrap: KeyWrap,
    alg: SigningAlg,
    retention: Retention,
    current: RwLock<(Arc<KeySet>, Arc<Vec<Jwk>>)>,
    /// When the keys were last read; held while an unknown-`kid` reload runs, so
    /// concurrent requests wait for one reload instead of each starting or skipping one.
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
            let retire = if records.is_empty() { None } else { Some(now) };
            create_key(store, &wrap, alg, now, retire).await?;
        }
        let loaded = load(store, &wrap, alg, &retention, now).await?;
        Ok(Self {
            wrap,
            alg,
            retention,
            current: RwLock::new(loaded),
            last_reload: tokio::sync::Mutex::new(Instant::now()),
        })
    }

    /// The key that wraps private keys in the store.
    pub fn wrap(&self) -> &KeyWrap {
        &self.wrap
    }

    /// The keys to sign and verify with now.
    pub fn key_set(&self) -> Arc<KeySet> {
        self.current
            .read()
            .map(|g| g.0.clone())
            .unwrap_or_else(|p| p.into_inner().0.clone())
    }

    /// The public keys for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Arc<Vec<Jwk>> {
        self.current
            .read()
            .map(|g| g.1.clone())
            .unwrap_or_else(|p| p.into_inner().1.clone())
    }

    /// Re-reads the keys from the store.
    pub async fn reload(&self, store: &dyn Store, now: UnixTime) -> Result<(), KeysError> {
        let loaded = load(store, &self.wrap, self.alg, &self.retention, now).await?;
        if let Ok(mut guard) = self.current.write() {
            *guard = loaded;
        }
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

/// Generates a key, wraps it, stores it; with `retire_others`, the old keys stop signing.
pub async fn create_key(
    store: &dyn Store,
    wrap: &KeyWrap,
    alg: SigningAlg,
    now: UnixTime,
    retire_others: Option<UnixTime>,
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
        retired_at: None,
    };
    store.insert_signing_key(&record, retire_others).await?;
    Ok(record.kid)
}

async fn load(
    store: &dyn Store,
    wrap: &KeyWrap,
    alg: SigningAlg,
    retention: &Retention,
    now: UnixTime,
) -> Result<(Arc<KeySet>, Arc<Vec<Jwk>>), KeysError> {
    let records = store.signing_keys().await?;
    let mut current = None;
    let mut others = Vec::new();
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
            Err(source) if record.retired_at.is_some() => {
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
        // Records come newest first: the newest current key of the configured algorithm
        // signs (or, for admin commands, the newest current key of any algorithm).
        if current.is_none() && record.retired_at.is_none() && key.alg() == alg {
            current = Some(key);
        } else {
            others.push(key);
        }
    }
    if current.is_none() {
        if let Some(i) = others.iter().position(|k| {
            records
                .iter()
                .any(|r| r.kid == k.kid() && r.retired_at.is_none())
        }) {
            current = Some(others.remove(i));
        }
    }
    let current = current.ok_or_else(|| KeysError::Key {
        kid: "(none)".into(),
        source: KeyError::BadMaterial(alg),
    })?;
    let set = KeySet::new(current, others);
    let mut jwks: Vec<Jwk> = set.keys().filter_map(|k| k.jwk().cloned()).collect();
    jwks.sort_by(|a, b| a.kid.cmp(&b.kid));
    Ok((Arc::new(set), Arc::new(jwks)))
}
