//! The failure taxonomy: transient failures keep the tokens, a refused refresh token
//! ends the session on the client too.

use crate::helpers::*;
use reqwest::StatusCode;
use std::sync::Arc;
use symbolon_client::{Error, MemoryStore, TokenEvent, TokenStore};

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
    let client = server.client_with(store.clone(), ALWAYS_DUE);
    client.login(ALICE, PASSWORD).await.expect("login");
    let mut events = client.events();
    events.borrow_and_update();

    // Another device of alice's logs every session out.
    let other = server.client();
    other.login(ALICE, PASSWORD).await.expect("login");
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

#[tokio::test]
async fn logout_revokes_and_forgets() {
    let server = spawn_server().await;
    let store = Arc::new(MemoryStore::new());
    let client = server.client_with(store.clone(), std::time::Duration::from_secs(60));
    client.login(ALICE, PASSWORD).await.expect("login");
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
