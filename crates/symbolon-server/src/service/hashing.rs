//! Argon2id off the async runtime, on a fixed pool of `max_concurrent_hashes` threads
//! with a bounded queue: a login flood can neither exhaust memory nor starve the runtime
//! threads that serve refresh and verification.
//!
//! Why dedicated threads rather than `spawn_blocking`: each Argon2id computation takes
//! 19 MiB. Tokio's blocking pool grows to hundreds of threads under a flood, and the
//! allocator kept freed blocks in per-thread arenas (measured: 640 MB resident after a
//! login flood). Here each of the fixed threads owns one reused [`Scratch`] buffer, so
//! hashing holds threads × memory, no more.

use super::metrics::Metrics;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use symbolon_core::ids::Password;
use symbolon_core::password::{HashFailed, Hasher, Scratch};

/// Too many logins are waiting for a hash: answer 429 now instead of queueing.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("too many password checks in progress")]
pub struct Busy;

/// Why a new hash was not made: too busy (answer 429), or hashing itself failed (an
/// internal error).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many callers waiting.
    #[error(transparent)]
    Busy(#[from] Busy),
    /// Argon2id failed.
    #[error(transparent)]
    Failed(#[from] HashFailed),
}

impl From<HashError> for super::ServiceError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy(_) => Self::Busy,
            HashError::Failed(e) => Self::Hashing(e),
        }
    }
}

/// The niceness of hashing threads (0 is normal, 19 the lowest priority).
#[cfg(target_os = "linux")]
const HASH_NICENESS: i32 = 10;

type Job = Box<dyn FnOnce(&Hasher, &mut Scratch) + Send>;

/// The bounded pool of password hashing.
#[derive(Debug)]
pub struct HashPool {
    jobs: SyncSender<Job>,
}

impl HashPool {
    /// `threads` hashes at once, at most `max_waiting` callers queued. The threads end
    /// when the pool is dropped.
    pub fn new(hasher: Hasher, threads: usize, max_waiting: usize) -> std::io::Result<Self> {
        let (jobs, queue) = sync_channel::<Job>(max_waiting);
        let queue = Arc::new(Mutex::new(queue));
        let hasher = Arc::new(hasher);
        for i in 0..threads.max(1) {
            let (queue, hasher) = (queue.clone(), hasher.clone());
            std::thread::Builder::new()
                .name(format!("symbolon-hash-{i}"))
                .spawn(move || work(&queue, &hasher))?;
        }
        Ok(Self { jobs })
    }

    async fn run<T: Send + 'static>(
        &self,
        metrics: &Metrics,
        job: impl FnOnce(&Hasher, &mut Scratch) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (done, result) = tokio::sync::oneshot::channel();
        let gauge = metrics.hashes_in_flight().clone();
        let job: Job = Box::new(move |hasher, scratch| {
            gauge.inc();
            let out = job(hasher, scratch);
            gauge.dec();
            let _ = done.send(out);
        });
        // Full (too many waiting) or disconnected (shutting down): either way, not now.
        self.jobs.try_send(job).map_err(|_| Busy)?;
        result.await.map_err(|_| Busy)
    }

    /// Whether `password` matches `stored` (`None`: an unknown user, same cost).
    pub async fn verify(
        &self,
        metrics: &Metrics,
        password: Password,
        stored: Option<String>,
    ) -> Result<bool, Busy> {
        self.run(metrics, move |h, s| {
            h.verify(s, &password, stored.as_deref())
        })
        .await
    }

    /// Whether `password` matches `stored`, and if it does and `stored` was made with
    /// other parameters, a new hash of it (one job: the password is hashed twice only
    /// on such a success).
    pub async fn verify_and_rehash(
        &self,
        metrics: &Metrics,
        password: Password,
        stored: Option<String>,
    ) -> Result<(bool, Option<String>), Busy> {
        self.run(metrics, move |h, s| {
            let ok = h.verify(s, &password, stored.as_deref());
            let rehash = match &stored {
                Some(stored) if ok && h.needs_rehash(stored) => h.hash(s, &password).ok(),
                _ => None,
            };
            (ok, rehash)
        })
        .await
    }

    /// A new PHC hash of `password`.
    pub async fn hash(&self, metrics: &Metrics, password: Password) -> Result<String, HashError> {
        Ok(self
            .run(metrics, move |h, s| h.hash(s, &password))
            .await??)
    }
}

/// One hashing thread: takes jobs until the pool's sender is gone.
fn work(queue: &Mutex<Receiver<Job>>, hasher: &Hasher) {
    // A lower priority (nice 10) for hashing: under a login flood the scheduler still
    // gives the runtime threads, which serve refresh and verification, the CPU first;
    // hashing takes what is left. Best effort: without the permission, run as is.
    #[cfg(target_os = "linux")]
    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), HASH_NICENESS);
    let mut scratch = Scratch::default();
    loop {
        let next = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match next {
            Ok(job) => job(hasher, &mut scratch),
            Err(_) => return,
        }
    }
}
