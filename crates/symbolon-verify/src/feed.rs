//! Following the revocation feed (docs/API.md §2.8): a long poll at a time, the cursor
//! kept, each revoked session held until its last access token has expired.

use crate::Inner;
use std::collections::HashMap;
use std::sync::Weak;
use std::time::{Duration, Instant};
use symbolon_core::ids::SessionId;
use symbolon_proto::RevocationFeed;

/// How long one poll waits at the server for news, unless failing closed asks for less.
const WAIT_SECS: u64 = 25;
/// The least `fail_closed_after` honoured (a shorter one is raised to it): the feed must
/// be able to answer a few times within it.
pub(crate) const MIN_FAIL_CLOSED: Duration = Duration::from_secs(3);

/// How long a poll waits at the server, and how long it may take in all. A healthy feed
/// answers at least every `wait`, so the age of its last answer stays under the
/// `fail_closed_after` limit; a stalled link is given up within it.
fn poll_timing(fail_closed_after: Option<Duration>) -> (u64, Duration) {
    match fail_closed_after {
        Some(limit) => {
            let third = limit.max(MIN_FAIL_CLOSED) / 3;
            let wait = third.as_secs().clamp(1, WAIT_SECS);
            (wait, Duration::from_secs(wait) + third)
        }
        None => (WAIT_SECS, Duration::from_secs(WAIT_SECS + 10)),
    }
}
/// The longest pause between tries while the feed cannot be read.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The revoked sessions, by the 16 bytes of their id (compact: 10^5 entries are a few
/// megabytes), each with the Unix time after which it can be forgotten.
#[derive(Debug, Default)]
pub(crate) struct Revoked {
    by_sid: HashMap<[u8; 16], i64>,
    /// When expired entries are next dropped (Unix seconds): a sweep of the whole map
    /// under the write lock, which verifications wait for, so not on every answer.
    next_sweep: i64,
}

/// Seconds between two sweeps of expired entries. An entry kept longer refuses only
/// tokens that have expired anyway (`exp` is checked first).
const SWEEP_EVERY: i64 = 10;

impl Revoked {
    /// Whether the session named by a token's `sid` is revoked. A `sid` that is not a
    /// symbolon session id is not in the feed.
    pub(crate) fn contains(&self, sid: &str) -> bool {
        SessionId::parse(sid).is_some_and(|id| self.by_sid.contains_key(id.as_bytes()))
    }

    pub(crate) fn len(&self) -> usize {
        self.by_sid.len()
    }

    /// Applies one answer: a reset first forgets everything; entries whose tokens have
    /// all expired (`until` plus this verifier's leeway, in the past) are dropped, at
    /// most every [`SWEEP_EVERY`] seconds.
    pub(crate) fn apply(&mut self, page: &RevocationFeed, leeway: i64, now: i64) {
        if page.reset {
            self.by_sid.clear();
        }
        for entry in &page.revoked {
            match SessionId::parse(&entry.sid) {
                Some(id) => {
                    self.by_sid
                        .insert(*id.as_bytes(), entry.until.saturating_add(leeway));
                }
                None => tracing::warn!(
                    seq = entry.seq,
                    "the feed named a session id this verifier cannot read; skipped"
                ),
            }
        }
        if now >= self.next_sweep {
            self.by_sid.retain(|_, until| *until >= now);
            self.next_sweep = now + SWEEP_EVERY;
        }
    }
}

/// Where the feed stands.
#[derive(Debug, Default)]
pub(crate) struct FeedState {
    /// The cursor to send next.
    pub(crate) cursor: u64,
    /// When the feed last answered.
    pub(crate) last_answer: Option<Instant>,
}

/// Why a poll failed (no secrets in it).
#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error(
        "the feed refused this client ({0}): check its id, secret and `revocations` capability"
    )]
    Refused(reqwest::StatusCode),
}

/// Polls the feed for as long as the verifier lives.
pub(crate) async fn follow_task(inner: Weak<Inner>) {
    let mut backoff = Duration::from_millis(250);
    let mut endpoint: Option<String> = None;
    loop {
        // Hold the verifier only to start and to apply a poll, never across the wait.
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let (http, client, issuer, cursor) = {
            let feed = strong.feed.lock().unwrap_or_else(|p| p.into_inner());
            (
                strong.config.http.clone(),
                strong.config.revocations.clone(),
                strong.config.issuer.clone(),
                feed.cursor,
            )
        };
        let leeway = strong.config.leeway;
        let (long_wait, timeout) = poll_timing(strong.config.fail_closed_after);
        drop(strong);
        let Some(client) = client else {
            return;
        };
        let url = match &endpoint {
            Some(url) => url.clone(),
            None => feed_endpoint(&http, &issuer).await,
        };
        // The first poll answers at once (nothing to wait for: the reader has nothing).
        let first = inner.upgrade().is_some_and(|s| {
            s.feed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .last_answer
                .is_none()
        });
        let wait = if first { 0 } else { long_wait };
        match poll(&http, &url, &client, cursor, wait, timeout).await {
            Ok(page) => {
                endpoint = Some(url);
                backoff = Duration::from_millis(250);
                let Some(strong) = inner.upgrade() else {
                    return;
                };
                strong
                    .revoked
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .apply(&page, leeway, crate::unix_now());
                let mut feed = strong.feed.lock().unwrap_or_else(|p| p.into_inner());
                feed.cursor = page.cursor;
                feed.last_answer = Some(Instant::now());
                drop(feed);
                strong.keys.bump();
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the revocation feed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The feed's address: the metadata's `revocation_feed_endpoint`, else
/// `{issuer}/revocations`.
async fn feed_endpoint(http: &reqwest::Client, issuer: &str) -> String {
    let metadata = tokio::time::timeout(
        Duration::from_secs(10),
        crate::keys::fetch_metadata(http, issuer),
    )
    .await;
    match metadata {
        Ok(Ok(m)) => m
            .revocation_feed_endpoint
            .unwrap_or_else(|| format!("{issuer}/revocations")),
        _ => format!("{issuer}/revocations"),
    }
}

async fn poll(
    http: &reqwest::Client,
    url: &str,
    client: &crate::FeedClient,
    cursor: u64,
    wait: u64,
    timeout: Duration,
) -> Result<RevocationFeed, PollError> {
    let response = http
        .get(url)
        .query(&[("after", cursor), ("wait", wait)])
        .basic_auth(&client.client_id, Some(&client.secret))
        .timeout(timeout)
        .send()
        .await?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(PollError::Refused(status));
    }
    Ok(response.error_for_status()?.json().await?)
}
