//! Refresh before expiry, on `invalid_token`, and once for many concurrent requests.

use crate::helpers::*;
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use symbolon_client::{MemoryStore, TokenEvent};

#[tokio::test]
async fn login_then_authenticated_requests() {
    let server = spawn_server().await;
    let client = server.client();
    let mut events = client.events();
    assert_eq!(*events.borrow_and_update(), TokenEvent::LoggedOut);
    let session_id = client.login(ALICE, PASSWORD).await.expect("login");
    assert_eq!(
        *events.borrow_and_update(),
        TokenEvent::LoggedIn {
            session_id: session_id.clone()
        }
    );

    let me: serde_json::Value = client
        .send(server.me(&client))
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(me["username"], ALICE);
    assert_eq!(me["session_id"], session_id.as_str());
    assert_eq!(
        server.refreshes("rotated"),
        0,
        "a fresh token needs no refresh"
    );
}

#[tokio::test]
async fn wrong_password_is_invalid_credentials() {
    let server = spawn_server().await;
    let err = server
        .client()
        .login(ALICE, "not the password")
        .await
        .expect_err("refused");
    assert!(
        matches!(err, symbolon_client::Error::InvalidCredentials),
        "{err:?}"
    );
}

/// 200 requests at once with an access token the server considers expired: each gets
/// 401 invalid_token, exactly one refresh reaches the server, and all 200 succeed.
#[tokio::test]
async fn two_hundred_rejected_requests_share_one_refresh() {
    let server = spawn_server().await;
    let client = server.logged_in().await;
    server.expire_access_tokens();

    server.all_ok_at_once(&client, 200).await;
    assert_eq!(server.refreshes("rotated"), 1);
    assert_eq!(client.refresh_requests(), 1);
}

/// 200 requests at once when the client itself sees the token due (the margin): one
/// refresh, before any request is sent.
#[tokio::test]
async fn two_hundred_due_requests_share_one_refresh() {
    let server = spawn_server().await;
    let client = server
        .logged_in_with(Arc::new(MemoryStore::new()), ALWAYS_DUE)
        .await;
    let mut events = client.events();

    server.all_ok_at_once(&client, 200).await;
    assert_eq!(server.refreshes("rotated"), 1);
    assert!(matches!(
        *events.borrow_and_update(),
        TokenEvent::Refreshed { .. }
    ));
}

/// The middleware does what `send` does.
#[tokio::test]
async fn middleware_refreshes_and_replays() {
    let server = spawn_server().await;
    let client = server.logged_in().await;
    server.expire_access_tokens();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(client.middleware())
        .build();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (http, url) = (http.clone(), format!("{}/me", server.url));
            tokio::spawn(async move { http.get(url).send().await.map(|r| r.status()) })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("task").expect("request"), StatusCode::OK);
    }
    assert_eq!(server.refreshes("rotated"), 1);
}

/// A 401 that does not say `invalid_token` (here: a wrong current password on
/// `POST /password`, which is `invalid_grant`) is returned without a refresh.
#[tokio::test]
async fn a_401_that_is_not_invalid_token_does_not_refresh() {
    let server = spawn_server().await;
    let client = server.logged_in().await;
    let request = client
        .request(reqwest::Method::POST, "/password")
        .json(&serde_json::json!({"current_password": "wrong wrong wrong", "new_password": "another good one"}));
    let response = client.send(request).await.expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.refreshes("rotated"), 0);
    assert_eq!(client.refresh_requests(), 0);
}

/// A resource server that refuses even the fresh token (here a second symbolon server,
/// whose keys do not know the first one's tokens): one refresh, one replay, and the
/// second 401 comes back as it is.
#[tokio::test]
async fn a_second_401_after_a_fresh_token_is_returned_without_a_loop() {
    let server = spawn_server().await;
    let stranger = spawn_server().await;
    // Allowed to receive the token: only the server's origin is, by default.
    let client = server.logged_in_allowing(&stranger.url).await;

    let response = client
        .send(client.http().get(format!("{}/me", stranger.url)))
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    assert_eq!(server.refreshes("rotated"), 1, "exactly one refresh");
    assert_eq!(client.refresh_requests(), 1);
    // The tokens are still good at their own server.
    assert_eq!(server.me_status_via(&client).await, StatusCode::OK);
}

/// A streamed body cannot be sent twice: its `invalid_token` 401 goes back to the caller
/// and nothing is refreshed, through `send` and through the middleware alike.
#[tokio::test]
async fn an_unreplayable_body_is_not_retried() {
    let server = spawn_server().await;
    let stranger = spawn_server().await;
    // Allowed to receive the token: only the server's origin is, by default.
    let client = server.logged_in_allowing(&stranger.url).await;
    let streamed = || {
        let chunks: Vec<Result<&'static str, std::io::Error>> = vec![
            Ok(r#"{"current_password":"#),
            Ok(r#""x","new_password":"y"}"#),
        ];
        reqwest::Body::wrap_stream(futures::stream::iter(chunks))
    };
    let url = format!("{}/password", stranger.url);

    let request = client
        .http()
        .post(&url)
        .header("content-type", "application/json")
        .body(streamed());
    let response = client.send(request).await.expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(is_invalid_token(&response), "the server's own 401");

    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(client.middleware())
        .build();
    let response = http
        .post(&url)
        .header("content-type", "application/json")
        .body(streamed())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(is_invalid_token(&response), "the server's own 401");

    // Neither request was replayed; the second one refreshed first, because the first
    // one's 401 marked the token rejected.
    assert_eq!(client.refresh_requests(), 1);
    assert_eq!(server.refreshes("rotated"), 1);
}

fn is_invalid_token(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("invalid_token"))
}

/// The client judges expiry on its monotonic clock from `expires_in`, never its wall
/// clock against `exp`: with the server's clock 5 hours ahead of this machine's, or 5
/// hours behind, a fresh token is used without a refresh, and an expired one is refreshed
/// exactly once.
#[tokio::test]
async fn a_clock_hours_apart_does_not_break_refresh_timing() {
    let local = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    for skew in [5 * 3600, -5 * 3600] {
        let server = spawn_server_at(local + skew).await;
        let client = server.logged_in().await;
        for _ in 0..20 {
            assert_eq!(
                server.me_status_via(&client).await,
                StatusCode::OK,
                "skew {skew}"
            );
        }
        assert_eq!(
            client.refresh_requests(),
            0,
            "skew {skew}: a fresh token is fresh"
        );

        server.expire_access_tokens();
        assert_eq!(
            server.me_status_via(&client).await,
            StatusCode::OK,
            "skew {skew}"
        );
        assert_eq!(client.refresh_requests(), 1, "skew {skew}: one refresh");
        assert_eq!(server.refreshes("rotated"), 1, "skew {skew}");
    }
}

#[tokio::test]
async fn access_token_is_refreshed_first_when_due() {
    let server = spawn_server().await;
    let client = server
        .logged_in_with(Arc::new(MemoryStore::new()), ALWAYS_DUE)
        .await;
    let first = client.access_token().await.expect("token");
    assert_eq!(server.refreshes("rotated"), 1);
    let relaxed = server
        .logged_in_with(Arc::new(MemoryStore::new()), Duration::from_secs(60))
        .await;
    relaxed.access_token().await.expect("token");
    assert_eq!(
        server.refreshes("rotated"),
        1,
        "a fresh token is handed out as it is"
    );
    assert_eq!(server.get_me_status(&first).await, StatusCode::OK);
}

/// A 401 `invalid_token` to a request whose body cannot be replayed is returned, and the
/// token is marked rejected: the next request refreshes first instead of presenting it
/// again (the client's own expiry still thought it good).
#[tokio::test]
async fn a_401_to_an_unreplayable_request_makes_the_next_one_refresh() {
    let server = spawn_server().await;
    let client = server.logged_in().await;
    let before = client.access_token().await.expect("token");
    server.expire_access_tokens();
    let chunks: Vec<Result<&'static str, std::io::Error>> = vec![
        Ok(r#"{"current_password":"x","#),
        Ok(r#""new_password":"y"}"#),
    ];
    let request = client
        .http()
        .post(format!("{}/password", server.url))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
    let response = client.send(request).await.expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        client.refresh_requests(),
        0,
        "not replayed, so not refreshed yet"
    );
    let after = client.access_token().await.expect("token");
    assert!(after != before, "the rejected token was handed out again");
    assert_eq!(client.refresh_requests(), 1);
}

/// A 401 `invalid_token` that arrives after the user logged out and logged in as someone
/// else: the request was sent for the old session, and is not replayed as the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_is_replayed_only_under_the_session_it_was_sent_for() {
    let server = spawn_server().await;
    server.add_user("bob", PASSWORD).await;
    let (arrived_tx, arrived) = tokio::sync::oneshot::channel::<()>();
    let (answer, answer_rx) = std::sync::mpsc::channel::<()>();
    let arrived_tx = std::sync::Mutex::new(Some(arrived_tx));
    let answer_rx = std::sync::Mutex::new(answer_rx);
    // An API on another origin that the token may go to: holds its first answer until
    // the test says, then refuses the token.
    let api = crate::listener::Recorder::spawn("127.0.0.1", move |_| {
        if let Some(tx) = arrived_tx.lock().expect("lock").take() {
            let _ = tx.send(());
            let _ = answer_rx.lock().expect("lock").recv();
        }
        (
            "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer error=\"invalid_token\"".into(),
            String::new(),
        )
    })
    .await;
    let client = server.logged_in_allowing(&api.url()).await;
    let request = client.http().get(format!("{}/orders", api.url()));
    let sent = tokio::spawn({
        let client = client.clone();
        async move { client.send(request).await }
    });
    arrived.await.expect("the request arrived");
    client.logout().await.expect("logout");
    client.login("bob", PASSWORD).await.expect("login as bob");
    answer.send(()).expect("answer");
    let response = sent.await.expect("task").expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(api.requests().len(), 1, "replayed as bob");
}
