//! The keys: fetched from the JWKS the issuer's metadata names, kept in memory, fetched
//! again every `key_refresh` and when a token names an unknown `kid` (at most once per
//! `min_refetch`). A failed fetch keeps the keys held.

use crate::{Inner, VerifyError};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};
use symbolon_core::access::{AccessClaims, Expectations, PublicKeys, TokenError};
use symbolon_core::keys::Jwk;
use tokio::sync::{watch, Notify};

/// The longest wait between two tries while no key has been fetched yet.
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How long one fetch may take (the metadata and the JWKS together).
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub(crate) struct KeyCache {
    keys: RwLock<Arc<PublicKeys>>,
    times: Mutex<Times>,
    /// One fetch at a time.
    fetching: tokio::sync::Mutex<()>,
    /// Asks the background task for a fetch (a token named an unknown `kid`).
    pub(crate) wanted: Arc<Notify>,
    /// Counts successful fetches (and feed answers), for [`crate::Verifier::ready`].
    changed: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct Times {
    attempted: Option<Instant>,
    fetched: Option<Instant>,
    jwks_uri: Option<String>,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self {
            keys: RwLock::default(),
            times: Mutex::default(),
            fetching: tokio::sync::Mutex::new(()),
            wanted: Arc::new(Notify::new()),
            changed: watch::Sender::new(0),
        }
    }
}

impl KeyCache {
    /// Verifies with the keys held; nothing leaves the process.
    pub(crate) fn verify(
        &self,
        token: &str,
        expect: &Expectations,
        now: i64,
    ) -> Result<AccessClaims, VerifyError> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        if keys.is_empty() {
            self.wanted.notify_one();
            return Err(VerifyError::KeysUnavailable);
        }
        keys.verify(token, expect, now).map_err(|e| {
            if e == TokenError::UnknownKey {
                self.wanted.notify_one();
            }
            VerifyError::Token(e)
        })
    }

    pub(crate) fn status(&self) -> (usize, Option<Duration>) {
        let count = self.keys.read().unwrap_or_else(|p| p.into_inner()).len();
        let times = self.times.lock().unwrap_or_else(|p| p.into_inner());
        (count, times.fetched.map(|t| t.elapsed()))
    }

    /// Installs keys given by the caller (counts as a fetch for [`Status`]).
    ///
    /// [`Status`]: crate::Status
    pub(crate) fn install(&self, jwks: &[Jwk]) {
        let (keys, _) = PublicKeys::from_jwks(jwks);
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
        self.times.lock().unwrap_or_else(|p| p.into_inner()).fetched = Some(Instant::now());
        self.changed.send_modify(|n| *n += 1);
    }

    /// When the rate limit allows the next fetch.
    fn next_try(&self, min_refetch: Duration) -> Instant {
        let times = self.times.lock().unwrap_or_else(|p| p.into_inner());
        times
            .attempted
            .map_or_else(Instant::now, |t| t + min_refetch)
    }

    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Wakes [`crate::Verifier::ready`] (the feed answered).
    pub(crate) fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// Fetches the keys unless a fetch started less than `min_refetch` ago (then waits
    /// for one in flight, if any). True if this call fetched them.
    pub(crate) async fn refetch(&self, inner: &Inner) -> bool {
        let _one = self.fetching.lock().await;
        let recent = {
            let times = self.times.lock().unwrap_or_else(|p| p.into_inner());
            times
                .attempted
                .is_some_and(|t| t.elapsed() < inner.config.min_refetch)
        };
        if recent {
            return false;
        }
        self.fetch(inner).await
    }

    /// One fetch of the metadata (once) and the JWKS; keeps the old keys on failure.
    async fn fetch(&self, inner: &Inner) -> bool {
        let jwks_uri = {
            let mut times = self.times.lock().unwrap_or_else(|p| p.into_inner());
            times.attempted = Some(Instant::now());
            times.jwks_uri.clone()
        };
        let result = tokio::time::timeout(FETCH_TIMEOUT, fetch_keys(inner, jwks_uri)).await;
        match result {
            Ok(Ok((uri, keys, skipped))) => {
                if skipped > 0 {
                    tracing::debug!(skipped, "JWKS keys this verifier cannot use were skipped");
                }
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
                let mut times = self.times.lock().unwrap_or_else(|p| p.into_inner());
                times.fetched = Some(Instant::now());
                times.jwks_uri = Some(uri);
                drop(times);
                self.changed.send_modify(|n| *n += 1);
                true
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, issuer = %inner.config.issuer, "cannot fetch the token server's keys; keeping those held");
                false
            }
            Err(_) => {
                tracing::warn!(issuer = %inner.config.issuer, "fetching the token server's keys timed out; keeping those held");
                false
            }
        }
    }
}

/// Why the keys could not be fetched (no secrets in it).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the metadata names issuer {0:?}, not the one configured")]
    WrongIssuer(String),
}

/// The issuer's RFC 8414 metadata (where the JWKS and the revocation feed are).
pub(crate) async fn fetch_metadata(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<symbolon_proto::ServerMetadata, FetchError> {
    let metadata: symbolon_proto::ServerMetadata = http
        .get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    // RFC 8414 §3.3: the metadata must be the issuer's own.
    if metadata.issuer != issuer {
        return Err(FetchError::WrongIssuer(metadata.issuer));
    }
    Ok(metadata)
}

#[derive(serde::Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

async fn fetch_keys(
    inner: &Inner,
    jwks_uri: Option<String>,
) -> Result<(String, PublicKeys, usize), FetchError> {
    let http = &inner.config.http;
    let uri = match jwks_uri {
        Some(uri) => uri,
        None => fetch_metadata(http, &inner.config.issuer).await?.jwks_uri,
    };
    let jwks: Jwks = http
        .get(&uri)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    // Each key on its own: one this version cannot read does not hide the others.
    let parsed: Vec<Jwk> = jwks
        .keys
        .into_iter()
        .filter_map(|k| serde_json::from_value(k).ok())
        .collect();
    let (keys, skipped) = PublicKeys::from_jwks(&parsed);
    Ok((uri, keys, skipped))
}

/// Keeps the keys fresh: at the start (retrying with back-off until it has some), every
/// `key_refresh`, and when a token names an unknown `kid` (no sooner than `min_refetch`
/// after the last try). Holds only the wake-up between fetches, so it ends soon after
/// the verifier is dropped.
pub(crate) async fn refresh_task(inner: Weak<Inner>, wanted: Arc<Notify>) {
    let mut retry = Duration::from_millis(250);
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        strong.keys.refetch(&strong).await;
        let wait = if strong.keys.status().0 > 0 {
            retry = Duration::from_millis(250);
            strong.config.key_refresh
        } else {
            retry = (retry * 2).min(MAX_RETRY);
            retry
        };
        let next_try = strong.keys.next_try(strong.config.min_refetch);
        drop(strong);
        if tokio::time::timeout(wait, wanted.notified()).await.is_ok() {
            tokio::time::sleep_until(next_try.into()).await;
        }
    }
}
