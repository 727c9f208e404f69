//! The failure taxonomy: transient failures keep the tokens, a refused refresh token
//! ends the session on the client too.

use crate::helpers::*;
use crate::listener::Recorder;
use reqwest::StatusCode;
use std::sync::Arc;
use symbolon_client::{
    Client, Error, LogoutScope, MemoryStore, StoredTokens, TokenEvent, TokenStore,
};

/// The server stops answering when a refresh is due: the error is transient, the tokens
/// stay, and once the server is back (same database, same port) the next request
/// succeeds without a login.
#[tokio::test]
async fn server_down_during_refresh_keeps_tokens() {
    let mut server = spawn_server().await;
    let store = Arc::new(MemoryStore::new());
    let client = server.client_with(store.clone(), ALWAYS_DUE);
    let session_id = client.login(ALICE, PASSWORD).await.expect("login");
    let mut events = client.events();
    events.borrow_and_update();

    server.stop().await;
    let err = client
        .send(server.me(&client))
        .await
        .expect_err("server is down");
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(client.refresh_requests(), 3, "tried 3 times");
    assert!(store.load().await.expect("load").is_some(), "tokens kept");
    assert!(
        !events.has_changed().expect("sender alive"),
        "no event: nothing changed"
    );

    let server = server.restart().await;
    let response = client
        .send(server.me(&client))
        .await
        .expect("send after restart");
    assert_eq!(response.status(), StatusCode::OK);
    let me: serde_json::Value = response.json().await.expect("json");
    assert_eq!(
        me["session_id"],
        session_id.as_str(),
        "the same session, no login"
    );
}

/// A session revoked on the server: the refresh is refused (`invalid_grant`), the
/// tokens are cleared, `LoginRequired` is returned and announced.
#[tokio::test]
async fn revoked_session_requires_login() {
    let server = spawn_server().await;
    let store = Arc::new(MemoryStore::new());
    let client = server.logged_in_with(store.clone(), ALWAYS_DUE).await;
    let mut events = client.events();
    events.borrow_and_update();

    // Another device of alice's logs every session out.
    let other = server.logged_in().await;
    other
        .logout_scope(symbolon_client::LogoutScope::Global)
        .await
        .expect("global logout");

    let err = client
        .send(server.me(&client))
        .await
        .expect_err("session is over");
    assert!(matches!(err, Error::LoginRequired), "{err:?}");
    assert!(
        store.load().await.expect("load").is_none(),
        "tokens cleared"
    );
    events.changed().await.expect("an event");
    assert_eq!(*events.borrow_and_update(), TokenEvent::LoginRequired);
    assert_eq!(client.refresh_requests(), 1, "invalid_grant is not retried");
    // And it stays that way without asking the server again.
    assert!(matches!(
        client.access_token().await,
        Err(Error::LoginRequired)
    ));
    assert_eq!(client.refresh_requests(), 1);
}

#[tokio::test]
async fn no_tokens_is_login_required() {
    let server = spawn_server().await;
    let client = server.client();
    assert!(matches!(
        client.send(server.me(&client)).await,
        Err(Error::LoginRequired)
    ));
}

/// A client that found no tokens looks at its store again (under the lock) before it
/// says "log in": a daemon sharing a token file with the CLI picks up a new login
/// without a restart.
#[tokio::test]
async fn a_client_without_tokens_picks_up_a_login_saved_by_another() {
    let server = spawn_server().await;
    let shared = Arc::new(MemoryStore::new());
    let daemon = server.client_with(shared.clone(), std::time::Duration::from_secs(60));
    assert!(matches!(
        daemon.access_token().await,
        Err(Error::LoginRequired)
    ));
    let mut events = daemon.events();
    events.borrow_and_update();
    // Another process logs in and saves to the same store.
    let cli = server.client_with(shared.clone(), std::time::Duration::from_secs(60));
    let session = cli.login(ALICE, PASSWORD).await.expect("login");
    let response = daemon.send(server.me(&daemon)).await.expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(daemon.session_id().await.expect("id"), Some(session));
    assert_eq!(daemon.refresh_requests(), 0, "adopted, not refreshed");
    // Still logged out: asking again changes nothing and announces nothing.
    let idle = server.client_with(
        Arc::new(MemoryStore::new()),
        std::time::Duration::from_secs(60),
    );
    let mut idle_events = idle.events();
    idle_events.borrow_and_update();
    for _ in 0..2 {
        assert!(matches!(
            idle.access_token().await,
            Err(Error::LoginRequired)
        ));
    }
    assert!(!idle_events.has_changed().expect("sender alive"));
}

#[tokio::test]
async fn logout_revokes_and_forgets() {
    let server = spawn_server().await;
    let store = Arc::new(MemoryStore::new());
    let client = server
        .logged_in_with(store.clone(), std::time::Duration::from_secs(60))
        .await;
    let access = client.access_token().await.expect("token");
    client.logout().await.expect("logout");
    assert!(store.load().await.expect("load").is_none());
    assert_eq!(*client.events().borrow(), TokenEvent::LoggedOut);
    assert_eq!(
        server.get_me_status(&access).await,
        StatusCode::UNAUTHORIZED,
        "revoked on the server"
    );
}

/// `logout --all` with a session that had already ended revokes nothing, so it must not
/// report success: `LoginRequired`, the tokens forgotten. A local logout of an ended
/// session is fine.
#[tokio::test]
async fn logging_out_everywhere_from_an_ended_session_is_not_a_success() {
    let server = spawn_server().await;
    let ended = server.logged_in().await;
    let other = server.logged_in().await;
    other
        .logout_scope(LogoutScope::Others)
        .await
        .expect("ends the first session");

    for scope in [LogoutScope::Global, LogoutScope::Others] {
        let client = server.logged_in().await;
        // End `client`'s session from elsewhere, then ask it to log out everywhere.
        let killer = server.logged_in().await;
        killer
            .logout_scope(LogoutScope::Others)
            .await
            .expect("others");
        let err = client
            .logout_scope(scope)
            .await
            .expect_err("nothing revoked");
        assert!(err.is_login_required(), "{scope:?}: {err:?}");
        assert_eq!(client.session_id().await.expect("id"), None, "forgotten");
        assert_eq!(*client.events().borrow(), TokenEvent::LoginRequired);
    }
    ended
        .logout()
        .await
        .expect("a local logout of an ended session is fine");
    assert_eq!(ended.session_id().await.expect("id"), None);
}

/// A store that refuses writes while `fail` is set (the disk is full, say), or with
/// `fail_unmarked` only writes of tokens without an in-doubt mark (the mark written
/// before a refresh goes through, the successor's save after it does not).
#[derive(Debug, Default)]
struct FailingStore {
    inner: MemoryStore,
    fail: std::sync::atomic::AtomicBool,
    fail_unmarked: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl TokenStore for FailingStore {
    async fn load(&self) -> symbolon_client::Result<Option<StoredTokens>> {
        self.inner.load().await
    }
    async fn save(&self, tokens: &StoredTokens) -> symbolon_client::Result<()> {
        let unmarked = tokens.in_doubt.is_none()
            && self.fail_unmarked.load(std::sync::atomic::Ordering::SeqCst);
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) || unmarked {
            return Err(Error::Store {
                reason: "disk full (test)".into(),
                source: None,
            });
        }
        self.inner.save(tokens).await
    }
    async fn clear(&self) -> symbolon_client::Result<()> {
        self.inner.clear().await
    }
}

/// A refresh whose tokens cannot be saved leaves the spent token in the store. The
/// client goes on with the new tokens from memory, saves them at the next refresh, and
/// never presents the spent one (which the server would take for reuse and revoke the
/// session).
#[tokio::test]
async fn a_failed_save_after_a_rotation_does_not_replay_the_spent_token() {
    let server = spawn_server().await;
    let store = Arc::new(FailingStore::default());
    let client = server
        .logged_in_with(store.clone(), std::time::Duration::from_secs(60))
        .await;
    let spent = store.load().await.expect("load").expect("tokens");

    store
        .fail_unmarked
        .store(true, std::sync::atomic::Ordering::SeqCst);
    server.expire_access_tokens();
    let err = client
        .send(server.me(&client))
        .await
        .expect_err("not saved");
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
    assert_eq!(server.refreshes("rotated"), 1);
    assert_eq!(
        server.me_status_via(&client).await,
        StatusCode::OK,
        "the new tokens are used from memory"
    );

    store
        .fail_unmarked
        .store(false, std::sync::atomic::Ordering::SeqCst);
    server.clock.advance(200); // past the reuse grace
    server.expire_access_tokens();
    assert_eq!(server.me_status_via(&client).await, StatusCode::OK);
    assert_eq!(server.refreshes("rotated"), 2);
    assert_eq!(
        server.refreshes("reuse_detected"),
        0,
        "the spent token was not sent"
    );
    let saved = store.load().await.expect("load").expect("tokens");
    assert_ne!(saved.refresh_token, spent.refresh_token, "saved at last");
}

/// A store that refuses the in-doubt mark stops the refresh before it is sent (a "try
/// again" error): sent unmarked, a crash or a failed save after it would leave the spent
/// token in the store looking fresh for the next process to present as reuse. Once the
/// store works again, the same tokens refresh normally.
#[tokio::test]
async fn a_refresh_whose_mark_cannot_be_stored_is_not_sent() {
    let server = spawn_server().await;
    let store = Arc::new(FailingStore::default());
    let client = server
        .logged_in_with(store.clone(), std::time::Duration::from_secs(60))
        .await;

    store.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    server.expire_access_tokens();
    let err = client
        .send(server.me(&client))
        .await
        .expect_err("the mark was refused");
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
    assert!(!err.is_login_required(), "a store failure is not a logout");
    assert_eq!(server.refreshes("rotated"), 0, "nothing was sent");

    store.fail.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(server.me_status_via(&client).await, StatusCode::OK);
    assert_eq!(server.refreshes("rotated"), 1);
    assert_eq!(server.refreshes("reuse_detected"), 0);
}

/// A 401 from `POST /logout` that is not `invalid_grant` (here a proxy in front of the
/// server that wants its own authentication) is an error, and the tokens are kept: only
/// a refused refresh token means the session is over.
#[tokio::test]
async fn a_logout_refused_by_a_proxy_keeps_the_tokens() {
    let server = spawn_server().await;
    let proxy = Recorder::spawn("127.0.0.1", |_| {
        (
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nwww-authenticate: Basic realm=\"proxy\"".into(),
            r#"{"error":"invalid_client","error_description":"proxy authentication required"}"#.into(),
        )
    })
    .await;
    let store = Arc::new(MemoryStore::new());
    let logged_in = server.logged_in_with(store.clone(), ALWAYS_DUE).await;
    let saved = store.load().await.expect("load").expect("tokens");
    drop(logged_in);
    let behind_proxy = Client::builder(proxy.url())
        .store(store.clone())
        .build()
        .expect("client");
    let err = behind_proxy.logout().await.expect_err("the proxy refused");
    assert!(
        matches!(&err, Error::Server { status: 401, code, .. } if code == "invalid_client"),
        "{err:?}"
    );
    assert_eq!(
        store.load().await.expect("load"),
        Some(saved),
        "tokens kept"
    );
}

/// A store whose saves wait at a gate while it is closed, to stop a refresh between the
/// server's rotation and the save of the successor.
#[derive(Debug, Default)]
struct GatedStore {
    inner: MemoryStore,
    closed: std::sync::atomic::AtomicBool,
    waiting: tokio::sync::Notify,
    open: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl TokenStore for GatedStore {
    async fn load(&self) -> symbolon_client::Result<Option<StoredTokens>> {
        self.inner.load().await
    }
    async fn save(&self, tokens: &StoredTokens) -> symbolon_client::Result<()> {
        // The "in doubt" mark written before the refresh is sent passes: the gate is for
        // the save of the successor, after the server's rotation.
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) && tokens.in_doubt.is_none() {
            let opened = self.open.notified();
            self.waiting.notify_one();
            opened.await;
        }
        self.inner.save(tokens).await
    }
    async fn clear(&self) -> symbolon_client::Result<()> {
        self.inner.clear().await
    }
}

/// A caller that gives up while its refresh is saving the successor (a timeout around
/// `send`) does not cancel the refresh: the successor is saved when the save can go on,
/// and no spent token is ever presented (the server would call it reuse and end the
/// session).
#[tokio::test]
async fn a_caller_giving_up_mid_refresh_does_not_lose_the_successor() {
    let server = spawn_server().await;
    let store = Arc::new(GatedStore::default());
    let client = server
        .logged_in_with(store.clone(), std::time::Duration::from_secs(60))
        .await;
    let spent = store.load().await.expect("load").expect("tokens");

    store
        .closed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    server.expire_access_tokens();
    let waiting = store.waiting.notified();
    let caller = tokio::spawn({
        let client = client.clone();
        async move { client.refresh().await }
    });
    waiting.await; // the server rotated; the successor is being saved
    caller.abort();
    assert!(caller.await.expect_err("aborted").is_cancelled());
    assert_eq!(server.refreshes("rotated"), 1);

    store
        .closed
        .store(false, std::sync::atomic::Ordering::SeqCst);
    store.open.notify_one();
    server.clock.advance(200); // past the reuse grace
    server.expire_access_tokens();
    assert_eq!(server.me_status_via(&client).await, StatusCode::OK);
    assert_eq!(
        server.refreshes("reuse_detected"),
        0,
        "the spent token was not sent"
    );
    assert_eq!(server.refreshes("rotated"), 2);
    let saved = store.load().await.expect("load").expect("tokens");
    assert_ne!(saved.refresh_token, spent.refresh_token);
}
