//! The revocation feed (docs/API.md §2.8): which sessions were revoked lately, for
//! resource servers that verify access tokens themselves and must drop those of ended
//! sessions within seconds.
//!
//! The database writes the entries (a trigger on `sessions.revoked_at`, so every cause
//! of revocation feeds it) and numbers them in commit order ([`symbolon_store::Store::feed_head`]). A
//! reader keeps a cursor, the last `seq` it has; a poll answers what lies beyond it,
//! waiting up to a bound for something new. Waiting is watched, not polled per request:
//! one task per instance ([`Feed::run`]) follows the head (PostgreSQL's LISTEN wakes it
//! at each commit anywhere in the fleet; it also polls) and wakes every waiting poll.

use super::clients::ClientIdentity;
use super::{Core, Result, ServiceError};
use std::time::Duration;
use symbolon_core::ids::Capability;
use symbolon_core::UnixTime;
use symbolon_store::RevocationRecord;
use tokio::sync::watch;

/// The longest a poll may wait for news.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// The most entries one answer carries.
pub const MAX_LIMIT: u32 = 1000;
/// How often the head is read while somebody waits, besides the wake-ups of LISTEN (on
/// PostgreSQL, where notifications sent while the listener reconnects are lost) or
/// without them (SQLite, where another process — the CLI's `user disable` — may write).
const POLL_EVERY: Duration = Duration::from_millis(250);

/// What the feed task publishes to waiting polls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Head {
    /// The highest `seq` readers see.
    seq: u64,
    /// The server is shutting down: waiting polls answer now.
    closing: bool,
}

/// The feed's shared state, one per service.
#[derive(Debug)]
pub(super) struct FeedState {
    head: watch::Sender<Head>,
}

impl Default for FeedState {
    fn default() -> Self {
        Self {
            head: watch::Sender::new(Head::default()),
        }
    }
}

/// One poll: what the reader has, and how long it will wait for more.
#[derive(Debug, Clone, Copy)]
pub struct FeedRequest {
    /// The last `seq` the reader has (0: none, send the whole window).
    pub after: u64,
    /// How long to wait when there is nothing new (bounded by [`MAX_WAIT`]).
    pub wait: Duration,
    /// The most entries to answer (bounded by [`MAX_LIMIT`]).
    pub limit: u32,
}

/// One answer of the feed.
#[derive(Debug, Clone)]
pub struct FeedPage {
    /// The entries beyond the cursor, oldest first.
    pub entries: Vec<RevocationRecord>,
    /// The cursor to send next time: every entry up to it has been answered.
    pub cursor: u64,
    /// More entries are ready (the answer was cut at the limit): poll again at once.
    pub more: bool,
    /// The reader's cursor is beyond the feed (a restored or another database): it must
    /// forget what it holds; `entries` is the whole window from the start.
    pub reset: bool,
    /// How long after its revocation an access token of a revoked session may still
    /// verify (`access_ttl + leeway`): how long a reader must keep an entry.
    pub window: i64,
}

/// The revocation feed; see [`super::Service::feed`].
#[derive(Debug, Clone, Copy)]
pub struct Feed<'a> {
    core: &'a Core,
}

impl<'a> Feed<'a> {
    pub(super) fn new(core: &'a Core) -> Self {
        Self { core }
    }

    /// How long an entry matters: an access token issued just before the revocation
    /// verifies until `access_ttl + leeway` after it.
    pub fn window(&self) -> i64 {
        self.core.settings.access_ttl + self.core.settings.leeway
    }

    /// The entries beyond `request.after`, waiting up to `request.wait` when there are
    /// none. Only an authenticated client with the `revocations` capability may read.
    pub async fn poll(&self, client: &ClientIdentity, request: FeedRequest) -> Result<FeedPage> {
        if !client.may(Capability::RevocationFeed) {
            return Err(ServiceError::NotPermitted(Capability::RevocationFeed));
        }
        let store = self.core.store();
        let mut head = store.feed_head().await?;
        self.publish(head);
        if head == request.after && !request.wait.is_zero() {
            head = self
                .wait_beyond(request.after, request.wait.min(MAX_WAIT))
                .await?;
        }
        let reset = request.after > head;
        let after = if reset { 0 } else { request.after };
        let limit = request.limit.clamp(1, MAX_LIMIT);
        let since: UnixTime = self.core.now() - self.window();
        let entries = store.revocations(after, head, since, limit).await?;
        let more = entries.len() == limit as usize;
        let cursor = match entries.last() {
            Some(last) if more => last.seq,
            _ => head,
        };
        Ok(FeedPage {
            entries,
            cursor,
            more,
            reset,
            window: self.window(),
        })
    }

    /// Waits until the head passes `after`, the server closes, or `wait` runs out. A
    /// head published by the feed task is used as it is (`feed_head` made every entry up
    /// to it visible before it was published), so the waiting polls of many readers do
    /// not each read it again; otherwise it is read once more.
    async fn wait_beyond(&self, after: u64, wait: Duration) -> Result<u64> {
        let mut changes = self.core.feed.head.subscribe();
        let woken = tokio::time::timeout(
            wait,
            changes.wait_for(|head| head.seq > after || head.closing),
        )
        .await
        // The value, not the guard: it must not be held across the read below.
        .map(|seen| seen.map(|head| *head));
        match woken {
            Ok(Ok(head)) if head.seq > after => Ok(head.seq),
            _ => Ok(self.core.store().feed_head().await?),
        }
    }

    fn publish(&self, seq: u64) {
        self.core.feed.head.send_if_modified(|head| {
            let newer = seq > head.seq;
            if newer {
                head.seq = seq;
            }
            newer
        });
    }

    /// How many polls are waiting for news now.
    pub fn waiting(&self) -> usize {
        self.core.feed.head.receiver_count()
    }

    /// Answers every waiting poll now (the server is shutting down), and every later one
    /// without waiting.
    pub fn close(&self) {
        self.core.feed.head.send_modify(|head| head.closing = true);
    }

    /// Follows the head while polls wait, so that they wake when a revocation commits:
    /// at once on PostgreSQL (LISTEN), within 250 ms otherwise. Runs until the
    /// server stops; failures are logged and retried.
    pub async fn run(&self) {
        let store = self.core.store();
        let mut listener = None;
        loop {
            // Idle while nobody waits: no query. The listener stays: a notification that
            // arrives between two polls of a reader is buffered, not lost, so the next
            // wait wakes at once instead of at the fallback poll.
            if self.core.feed.head.receiver_count() == 0 {
                tokio::time::sleep(POLL_EVERY).await;
                continue;
            }
            // A listener that was just made has missed what committed before it
            // listened: read the head at once instead of waiting for a notification.
            let fresh = listener.is_none();
            if fresh {
                listener = match store.listen_revocations().await {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %crate::api::error::chain(&e), "cannot LISTEN for revocations; polling");
                        None
                    }
                };
            }
            match listener.as_mut() {
                Some(_) if fresh => {}
                Some(l) => {
                    if let Ok(Err(e)) = tokio::time::timeout(POLL_EVERY * 4, l.next()).await {
                        tracing::warn!(error = %crate::api::error::chain(&e), "revocation listener failed; reconnecting");
                        listener = None;
                    }
                }
                None => tokio::time::sleep(POLL_EVERY).await,
            }
            match store.feed_head().await {
                Ok(seq) => self.publish(seq),
                Err(e) => {
                    tracing::warn!(error = %crate::api::error::chain(&e), "cannot read the revocation feed's head")
                }
            }
        }
    }
}
