//! Redirects: the token endpoints follow none (the password and the refresh token are
//! not sent again anywhere), and `send` follows one only on the request's origin.

use crate::helpers::*;
use crate::listener::Recorder;
use reqwest::{Method, StatusCode};
use std::sync::Arc;
use symbolon_client::{Client, Error, MemoryStore, TokenStore};

/// A listener on 127.0.0.1 that answers 307 to `target` (except for `GET /here`,
/// answered 200, and `GET /hop`, redirected to `/here` on itself).
async fn redirector(target: String) -> Recorder {
    Recorder::spawn("127.0.0.1", move |request| {
        if request.head.starts_with("GET /here ") {
            ("HTTP/1.1 200 OK".into(), "here".into())
        } else if request.head.starts_with("GET /hop ") {
            (
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: /here".into(),
                String::new(),
            )
        } else {
            (
                format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: {target}/stolen"),
                String::new(),
            )
        }
    })
    .await
}

/// `POST /login` answered 307 to another host: the password does not go there.
#[tokio::test]
async fn login_does_not_follow_a_redirect() {
    let sink = Recorder::ok("127.0.0.2").await;
    let redirect = redirector(sink.url()).await;
    let client = Client::new(redirect.url()).expect("client");
    let err = client
        .login(ALICE, PASSWORD)
        .await
        .expect_err("a redirect is not a login");
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    assert_eq!(redirect.requests().len(), 1);
    assert!(sink.requests().is_empty(), "the password was not re-sent");
}

/// `POST /token/refresh` and `POST /logout` answered 307: the refresh token does not go
/// there, and the tokens are kept.
#[tokio::test]
async fn refresh_and_logout_do_not_follow_a_redirect() {
    let server = spawn_server().await;
    let store = Arc::new(MemoryStore::new());
    server.logged_in_with(store.clone(), ALWAYS_DUE).await;
    let saved = store.load().await.expect("load").expect("tokens");

    let sink = Recorder::ok("127.0.0.2").await;
    let redirect = redirector(sink.url()).await;
    let client = Client::builder(redirect.url())
        .store(store.clone())
        .retry_backoff(std::time::Duration::from_millis(10))
        .build()
        .expect("client");
    let err = client.refresh().await.expect_err("redirected");
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    let err = client.logout().await.expect_err("redirected");
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");

    assert!(
        sink.requests().is_empty(),
        "the refresh token was not re-sent"
    );
    let kept = store.load().await.expect("load").expect("tokens kept");
    assert_eq!(kept.refresh_token, saved.refresh_token);
    assert!(client.session_id().await.expect("id").is_some());
}

/// `send`: a redirect to another origin is returned, not followed with the token; one on
/// the same origin is followed.
#[tokio::test]
async fn send_follows_redirects_on_its_origin_only() {
    let server = spawn_server().await;
    let store = Arc::new(MemoryStore::new());
    server
        .logged_in_with(store.clone(), std::time::Duration::from_secs(60))
        .await;

    let sink = Recorder::ok("127.0.0.2").await;
    let redirect = redirector(sink.url()).await;
    let client = Client::builder(redirect.url())
        .store(store)
        .build()
        .expect("client");
    let response = client
        .send(client.request(Method::GET, "/me"))
        .await
        .expect("a response");
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert!(sink.requests().is_empty(), "not followed to another host");

    let response = client
        .send(client.request(Method::GET, "/hop"))
        .await
        .expect("a response");
    assert_eq!(response.status(), StatusCode::OK);
    let here = redirect
        .requests()
        .into_iter()
        .find(|r| r.head.starts_with("GET /here "))
        .expect("followed on the same origin");
    assert!(here.header("authorization").is_some());
}
