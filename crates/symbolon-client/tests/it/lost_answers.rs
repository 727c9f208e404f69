//! Refreshes whose answer is lost (issue 10, item 1), through a fault-injecting proxy
//! between the real SDK and a real server: a token that may have been spent at the server
//! is presented again only within the server's reuse grace, or not at all. No test may
//! see a reuse detection at the server.
//!
//! The server's grace is 3 s here, and its clock follows real time (a ticker advances the
//! manual clock by a second every second), so that a presentation after the grace is
//! reuse as it would be in production. The client is told the grace (deadline 1.5 s) and
//! tries for 400 ms at a time; its general timeout is the 5 s of the other tests, so code
//! that waits for it before trying again presents the token outside the grace.

use crate::helpers::*;
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use symbolon_client::{expiry::BootStamp, Client, Error, InDoubt, MemoryStore, TokenStore};
use symbolon_testkit::{Fault, FaultProxy};

const GRACE: Duration = Duration::from_secs(3);
/// A bound for things that must happen (a loaded machine is slow).
const SOON: Duration = Duration::from_secs(20);

struct Setup {
    server: TestServer,
    proxy: FaultProxy,
    store: Arc<MemoryStore>,
    client: Client,
    ticker: tokio::task::JoinHandle<()>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.ticker.abort();
    }
}

impl Setup {
    /// A server with a 3 s grace whose clock runs, a proxy in front of it, and `alice`
    /// logged in through the proxy.
    async fn new() -> Setup {
        let server = TestServer::spawn_with(T0, |config| {
            config.reuse_grace = symbolon_server::config::Secs(GRACE.as_secs() as i64);
        })
        .await;
        server.add_user(ALICE, PASSWORD).await;
        let proxy = FaultProxy::start(server.addr).await.expect("proxy");
        let store = Arc::new(MemoryStore::new());
        let client = client_for(&proxy.proxied_url(&server.url), store.clone());
        client.login(ALICE, PASSWORD).await.expect("login");
        let clock = server.clock.clone();
        // Models the passing of time on the server (not a synchronisation).
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.tick().await;
            loop {
                every.tick().await;
                clock.advance(1);
            }
        });
        Setup {
            server,
            proxy,
            store,
            client,
            ticker,
        }
    }

    fn assert_no_reuse(&self) {
        assert_eq!(
            self.server.refreshes("reuse_detected"),
            0,
            "the server saw reuse: the session was revoked"
        );
    }

    /// The session still works: a request, and a refresh of the token the client holds.
    async fn assert_session_works(&self) {
        assert_eq!(
            self.server.me_status_via(&self.client).await,
            StatusCode::OK
        );
        let rotated = self.server.refreshes("rotated");
        self.client.refresh().await.expect("a later refresh");
        assert_eq!(self.server.refreshes("rotated"), rotated + 1);
        self.assert_no_reuse();
    }
}

fn client_for(url: &str, store: Arc<dyn TokenStore>) -> Client {
    Client::builder(url)
        .store(store)
        .retry_backoff(Duration::from_millis(20))
        .timeout(Duration::from_secs(5))
        .reuse_grace(GRACE)
        .refresh_timeout(Duration::from_millis(400))
        .build()
        .expect("client")
}

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(SOON, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within {SOON:?}"))
}

/// Refreshes with `fault` on the link: waits until the first answer reached the proxy
/// (the server has rotated) and a request after it (the retry) went up, heals the link,
/// and asserts that the refresh succeeded without any reuse at the server.
async fn refreshed_after_a_retry(t: &Setup, fault: Fault) {
    t.proxy.set(fault).await;
    let before = t.proxy.stats();
    let client = t.client.clone();
    let refresh = tokio::spawn(async move { client.refresh().await });
    let first = within("the first answer at the proxy", {
        t.proxy
            .wait_until(|s| s.down.received > before.down.received)
    })
    .await;
    // A request after the first answer reached the proxy is the retry: let it through.
    within(
        "a retry",
        t.proxy.wait_until(|s| s.up.received > first.up.received),
    )
    .await;
    t.proxy.heal().await;
    let result = within("the refresh", refresh).await.expect("task");
    t.assert_no_reuse();
    result.expect("the refresh");
}

/// (a) The proxy forwards the refresh and holds its answer: the server has rotated, the
/// client never hears of it. The client tries again within the grace (and gets the grace
/// replay: the same successor) instead of waiting for its general timeout.
#[tokio::test]
async fn a_held_answer_is_retried_within_the_grace() {
    let t = Setup::new().await;
    refreshed_after_a_retry(&t, Fault::HoldAnswers).await;
    assert_eq!(t.server.refreshes("rotated"), 1);
    assert!(
        t.server.refreshes("grace_replay") >= 1,
        "the retry was a grace replay"
    );
    let stored = t.store.load().await.expect("load").expect("tokens");
    assert_eq!(stored.in_doubt, None, "the successor is not in doubt");
    t.assert_session_works().await;
}

/// (b) The answer comes, but later than a refresh try may take: the client does not
/// wait for it past the grace, and tries again.
#[tokio::test]
async fn an_answer_slower_than_a_try_is_retried_within_the_grace() {
    let t = Setup::new().await;
    refreshed_after_a_retry(&t, Fault::SlowAnswers(Duration::from_secs(6))).await;
    assert_eq!(t.server.refreshes("rotated"), 1);
    t.assert_session_works().await;
}

/// (c) Every connection is reset as it is accepted, before the proxy forwards anything:
/// reqwest reports a connect error, so the request was never written. The refresh fails
/// as transient, the token is not in doubt (no mark in the store), and it is presented
/// again later, after the deadline and the grace, without any reuse.
#[tokio::test]
async fn a_refresh_reset_before_it_was_sent_is_tried_again_later() {
    let t = Setup::new().await;
    t.proxy.set(Fault::Reset).await;
    let err = t
        .client
        .refresh()
        .await
        .expect_err("every connection reset");
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(t.client.refresh_requests(), 3, "the usual 3 tries");
    let stored = t.store.load().await.expect("load").expect("tokens");
    assert_eq!(stored.in_doubt, None, "nothing was sent: not in doubt");
    t.proxy.heal().await;
    // The property is about time: the deadline and the grace must have passed.
    t.server.clock.advance(2 * GRACE.as_secs() as i64);
    tokio::time::sleep(GRACE / 2).await;
    t.client
        .refresh()
        .await
        .expect("presented again: it was never sent");
    assert_eq!(t.server.refreshes("rotated"), 1);
    t.assert_no_reuse();
    t.assert_session_works().await;
}

/// (d) Several callers queue behind a refresh whose answers are all lost: they all get
/// its outcome, and none presents the token again later on its own (after the grace,
/// which would be reuse).
#[tokio::test]
async fn callers_queued_behind_a_failed_refresh_share_its_outcome() {
    let t = Setup::new().await;
    t.proxy.set(Fault::HoldAnswers).await;
    let callers: Vec<_> = (0..5)
        .map(|_| {
            let client = t.client.clone();
            tokio::spawn(async move { client.refresh().await })
        })
        .collect();
    let mut outcomes = Vec::new();
    let mut sent_when_first_ended = None;
    for caller in callers {
        outcomes.push(within("a caller", caller).await.expect("task"));
        sent_when_first_ended.get_or_insert(t.client.refresh_requests());
    }
    t.assert_no_reuse();
    assert_eq!(
        Some(t.client.refresh_requests()),
        sent_when_first_ended,
        "a queued caller presented the token again"
    );
    for outcome in &outcomes {
        assert!(matches!(outcome, Err(Error::InDoubt)), "{outcome:?}");
    }
    let stored = t.store.load().await.expect("load").expect("tokens");
    assert!(stored.in_doubt.is_some(), "the mark is in the store");
    // Later, with the link back: still not presented (the grace has passed).
    t.proxy.heal().await;
    let err = t.client.refresh().await.expect_err("in doubt");
    assert!(err.is_login_required(), "{err:?}");
    assert_eq!(Some(t.client.refresh_requests()), sent_when_first_ended);
    t.assert_no_reuse();
}

/// (d') The same with a failure that leaves no doubt (every connection reset before the
/// request was written): the callers queued behind the refresh take its failure; they do
/// not each run the refresh's tries again with the same token.
#[tokio::test]
async fn callers_queued_behind_a_refresh_that_never_left_share_its_failure() {
    let t = Setup::new().await;
    t.proxy.set(Fault::Reset).await;
    let callers: Vec<_> = (0..5)
        .map(|_| {
            let client = t.client.clone();
            tokio::spawn(async move { client.refresh().await })
        })
        .collect();
    for caller in callers {
        let outcome = within("a caller", caller).await.expect("task");
        assert!(
            matches!(outcome, Err(Error::Transient { .. })),
            "{outcome:?}"
        );
    }
    assert_eq!(t.client.refresh_requests(), 3, "one refresh: its 3 tries");
    t.proxy.heal().await;
    t.assert_session_works().await;
}

/// A token spent at the server whose answer was lost, then a new process finds it in the
/// store with its "in doubt since" mark: within the deadline it is presented (a grace
/// replay); past it, it is not presented at all.
#[tokio::test]
async fn a_later_process_presents_a_token_in_doubt_only_within_the_deadline() {
    for (age, presented) in [(Duration::ZERO, true), (Duration::from_secs(10), false)] {
        let t = Setup::new().await;
        let mut stored = t.store.load().await.expect("load").expect("tokens");
        // The refresh reached the server; its answer was lost with the process.
        let lost = t
            .server
            .http
            .post(format!("{}/token/refresh", t.server.url))
            .json(&serde_json::json!({ "refresh_token": stored.refresh_token.expose() }))
            .send()
            .await
            .expect("refresh");
        assert_eq!(lost.status(), StatusCode::OK);
        let mut since = BootStamp::now().expect("a boot clock (Linux)");
        since.since_boot_ms -= age.as_millis() as u64;
        stored.in_doubt = Some(InDoubt { since: Some(since) });
        if !presented {
            // As much time on the server as the mark says.
            t.server.clock.advance(age.as_secs() as i64);
        }
        let store = Arc::new(MemoryStore::new());
        store.save(&stored).await.expect("save");
        let later = client_for(&t.proxy.proxied_url(&t.server.url), store.clone());
        let result = later.refresh().await;
        t.assert_no_reuse();
        if presented {
            result.expect("a grace replay");
            assert_eq!(t.server.refreshes("grace_replay"), 1);
            assert_eq!(
                store.load().await.expect("load").expect("tokens").in_doubt,
                None
            );
        } else {
            assert!(matches!(result, Err(Error::InDoubt)), "{result:?}");
            assert_eq!(later.refresh_requests(), 0, "not presented");
            let ended = later.logout().await;
            t.assert_no_reuse();
            ended.expect("a local logout forgets the tokens without presenting them");
            assert!(store.load().await.expect("load").is_none());
        }
    }
}
