//! Argon2id off the async runtime, with a bound on hashes in flight and on logins
//! waiting for one: a login flood can neither exhaust memory nor starve the runtime
//! threads that serve refresh and verification.

use crate::metrics::Metrics;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use symbolon_core::ids::Password;
use symbolon_core::password::Hasher;
use tokio::sync::Semaphore;

/// Too many logins are waiting for a hash: answer 429 now instead of queueing.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("too many password checks in progress")]
pub struct Busy;

/// The bounded pool of password hashing.
#[derive(Debug)]
pub struct HashPool {
    hasher: Arc<Hasher>,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl HashPool {
    /// `concurrent` hashes at once, at most `max_waiting` callers queued.
    pub fn new(hasher: Hasher, concurrent: usize, max_waiting: usize) -> Self {
        Self {
            hasher: Arc::new(hasher),
            permits: Arc::new(Semaphore::new(concurrent)),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        metrics: &Metrics,
        job: impl FnOnce(&Hasher) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy);
        }
        let permit = self.permits.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let permit = permit.map_err(|_| Busy)?;
        let hasher = self.hasher.clone();
        let gauge = metrics.hashes_in_flight().clone();
        gauge.inc();
        let result = tokio::task::spawn_blocking(move || {
            let out = job(&hasher);
            drop(permit);
            out
        })
        .await;
        gauge.dec();
        result.map_err(|_| Busy)
    }

    /// Whether `password` matches `stored` (`None`: an unknown user, same cost).
    pub async fn verify(
        &self,
        metrics: &Metrics,
        password: Password,
        stored: Option<String>,
    ) -> Result<bool, Busy> {
        self.run(metrics, move |h| h.verify(&password, stored.as_deref()))
            .await
    }

    /// A new PHC hash of `password`.
    pub async fn hash(&self, metrics: &Metrics, password: Password) -> Result<String, Busy> {
        self.run(metrics, move |h| h.hash(&password)).await
    }
}
