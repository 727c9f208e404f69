//! Group commit for SQLite: commits do not sync, and no store call returns before an
//! `fdatasync` of the write-ahead log that started after everything the call wrote or
//! could have read. One sync serves every call waiting at the time, so concurrent
//! writes share it.
//!
//! Why this is as durable as SQLite's `synchronous = FULL`: in WAL mode a commit only
//! appends frames to the `-wal` file, and with `synchronous = NORMAL` SQLite itself
//! syncs the WAL before every checkpoint, the database file after it, and the WAL's
//! header before the WAL is reused. What NORMAL leaves unsynced is exactly the frames
//! appended since; an `fdatasync` of the `-wal` file (any descriptor of it: the call
//! flushes the file, not the descriptor) puts them on stable storage. The directory is
//! synced whenever a new `-wal` file appears, so that its name survives too.
//!
//! The numbers: every write call takes the next number before it starts and marks it
//! done when it has ended (or, if abandoned, once the writer connection has finished
//! it). `watermark` is the highest number below which every write is done; a sync that
//! starts at `watermark = w` covers writes `1..=w`. A write waits for a sync covering its
//! number, a read for one covering every write that had started when the read ended
//! (it may have seen any of them). A failed sync poisons the store: after `fsync`
//! fails, Linux may have dropped the unsynced pages, so nothing later can be trusted to
//! be on disk until the process restarts and SQLite recovers from what is.

use crate::{Result, StoreError};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{watch, Notify};

/// The group commit of one SQLite database. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct GroupSync {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// The highest write number known durable; `u64::MAX` once a sync failed.
    synced: watch::Sender<u64>,
    /// Wakes the sync task.
    wanted: Notify,
    /// The writer connection's pool, to wait out an abandoned write.
    writer: sqlx::SqlitePool,
}

#[derive(Debug, Default)]
struct State {
    /// The last write number handed out.
    started: u64,
    /// Writes done above the watermark (out of order).
    done: BTreeSet<u64>,
    /// Every write up to here is done.
    watermark: u64,
    /// The highest number some caller waits to see durable.
    wanted: u64,
    closed: bool,
}

/// Marks a failed sync in `synced`.
const POISONED: u64 = u64::MAX;

/// A write in progress; see [`GroupSync::begin_write`].
pub(crate) struct WriteTicket {
    sync: GroupSync,
    number: u64,
    ended: bool,
}

impl GroupSync {
    /// Starts the sync task for the database at `path` (its `-wal` file and directory).
    pub(crate) fn start(path: &str, writer: sqlx::SqlitePool) -> Self {
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            synced: watch::Sender::new(0),
            wanted: Notify::new(),
            writer,
        });
        let wal = PathBuf::from(format!("{path}-wal"));
        tokio::spawn(sync_task(inner.clone(), wal));
        Self { inner }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    /// Numbers a write about to start. End it with [`WriteTicket::finish`].
    pub(crate) fn begin_write(&self) -> WriteTicket {
        let mut state = self.state();
        state.started += 1;
        WriteTicket {
            sync: self.clone(),
            number: state.started,
            ended: false,
        }
    }

    /// Waits until what a read that just ended may have seen is durable.
    pub(crate) async fn after_read(&self) -> Result<()> {
        let started = self.state().started;
        self.wait_for(started).await
    }

    fn end(&self, number: u64) {
        let mut state = self.state();
        state.done.insert(number);
        loop {
            let next = state.watermark + 1;
            if !state.done.remove(&next) {
                break;
            }
            state.watermark = next;
        }
        drop(state);
        self.inner.wanted.notify_one();
    }

    async fn wait_for(&self, number: u64) -> Result<()> {
        let mut synced = self.inner.synced.subscribe();
        if *synced.borrow() >= number {
            return check(*synced.borrow());
        }
        {
            let mut state = self.state();
            state.wanted = state.wanted.max(number);
        }
        self.inner.wanted.notify_one();
        let reached = synced
            .wait_for(|&s| s >= number)
            .await
            .map(|s| *s)
            .unwrap_or(POISONED);
        check(reached)
    }

    /// Stops the sync task (after the pools are closed).
    pub(crate) fn close(&self) {
        self.state().closed = true;
        self.inner.wanted.notify_one();
    }
}

fn check(synced: u64) -> Result<()> {
    if synced == POISONED {
        Err(StoreError::Unavailable(Box::new(SyncFailed)))
    } else {
        Ok(())
    }
}

/// Why every call fails after a failed sync.
#[derive(Debug, thiserror::Error)]
#[error(
    "syncing the database's write-ahead log failed; writes since the last sync may be lost, \
     so the store refuses every call until the server restarts"
)]
struct SyncFailed;

impl WriteTicket {
    /// Ends the write (its statements returned) and waits until it is durable.
    pub(crate) async fn finish(mut self) -> Result<()> {
        self.ended = true;
        self.sync.end(self.number);
        self.sync.wait_for(self.number).await
    }

    /// Ends a write that failed: nothing to wait for.
    pub(crate) fn fail(mut self) {
        self.ended = true;
        self.sync.end(self.number);
    }
}

impl Drop for WriteTicket {
    /// A write abandoned mid-way (its request was dropped) may still be running on the
    /// writer connection: it counts as done only once that connection has run a
    /// statement queued after it.
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let (sync, number) = (self.sync.clone(), self.number);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Ok(mut conn) = sync.inner.writer.acquire().await {
                        let _ = sqlx::query("SELECT 1").execute(&mut *conn).await;
                    }
                    sync.end(number);
                });
            }
            Err(_) => sync.end(number),
        }
    }
}

/// The state; a panic while it was held leaves numbers that are still consistent.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn sync_task(inner: Arc<Inner>, wal: PathBuf) {
    let mut file: Option<(std::fs::File, u64)> = None;
    loop {
        let (covers, last) = loop {
            let notified = inner.wanted.notified();
            {
                let state = lock(&inner.state);
                let synced = *inner.synced.borrow();
                // Closing: one last sync for whatever finished, so that no caller still
                // waiting (a write that ended as the pools closed) waits for ever.
                if state.closed {
                    if state.watermark > synced {
                        break (state.watermark, true);
                    }
                    return;
                }
                if state.wanted > synced && state.watermark > synced {
                    break (state.watermark, false);
                }
            }
            notified.await;
        };
        let wal_path = wal.clone();
        let open = file.take();
        let outcome = tokio::task::spawn_blocking(move || sync_wal(&wal_path, open)).await;
        match outcome {
            Ok(Ok(kept)) => {
                file = kept;
                inner.synced.send_replace(covers);
                if last {
                    return;
                }
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "fdatasync of the SQLite write-ahead log failed; the store refuses every call until restart");
                inner.synced.send_replace(POISONED);
                return;
            }
            Err(_) => {
                inner.synced.send_replace(POISONED);
                return;
            }
        }
    }
}

/// Syncs the `-wal` file through `open` (reopened, and the directory synced, when the
/// file at `wal` is a new one). Returns the descriptor to keep.
fn sync_wal(
    wal: &std::path::Path,
    open: Option<(std::fs::File, u64)>,
) -> std::io::Result<Option<(std::fs::File, u64)>> {
    use std::os::unix::fs::MetadataExt;
    let current = match std::fs::metadata(wal) {
        Ok(m) => m.ino(),
        // No WAL file (SQLite removes it when its last connection closes, after a
        // checkpoint it synced itself): nothing unsynced.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let file = match open {
        Some((file, ino)) if ino == current => file,
        _ => {
            let file = std::fs::File::open(wal)?;
            let ino = file.metadata()?.ino();
            // A new WAL file: its name must survive a power cut too.
            if let Some(dir) = wal.parent() {
                let dir = if dir.as_os_str().is_empty() {
                    std::path::Path::new(".")
                } else {
                    dir
                };
                std::fs::File::open(dir)?.sync_all()?;
            }
            file.sync_data()?;
            return Ok(Some((file, ino)));
        }
    };
    file.sync_data()?;
    Ok(Some((file, current)))
}
