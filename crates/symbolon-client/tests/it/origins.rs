//! The access token goes only to the server's origin and those allowed explicitly
//! (docs/API.md §5.7): a request for another host, or a path that would move the host,
//! is refused before anything is sent.

use crate::helpers::*;
use crate::listener::Recorder;
use reqwest::{Method, StatusCode};
use symbolon_client::{Client, Error};

/// Another origin on 127.0.0.2 that would accept anything and says `invalid_token`.
async fn foreign() -> Recorder {
    Recorder::spawn("127.0.0.2", |_| {
        (
            "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer error=\"invalid_token\"".into(),
            String::new(),
        )
    })
    .await
}

#[tokio::test]
async fn send_refuses_another_origin() {
    let server = spawn_server().await;
    let other = foreign().await;
    let client = server.logged_in().await;

    let err = client
        .send(client.http().get(format!("{}/x", other.url())))
        .await
        .expect_err("another origin");
    assert!(matches!(err, Error::Refused(_)), "{err:?}");
    // The same host and port with another scheme is another origin too.
    let https = format!("{}/me", server.url.replacen("http://", "https://", 1));
    let err = client
        .send(client.http().get(https))
        .await
        .expect_err("https is another origin");
    assert!(matches!(err, Error::Refused(_)), "{err:?}");
    // Through the middleware as well.
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(client.middleware())
        .build();
    assert!(http.get(format!("{}/x", other.url())).send().await.is_err());

    assert!(other.requests().is_empty(), "nothing was sent there");
    assert_eq!(client.refresh_requests(), 0, "and nothing refreshed");
    assert_eq!(server.me_status_via(&client).await, StatusCode::OK);
}

/// `request(method, path)` used to paste the path after the base URL, so that
/// `@127.0.0.2:PORT/x` made `http://127.0.0.1:P@127.0.0.2:PORT/x`: another host.
#[tokio::test]
async fn a_path_cannot_move_the_host() {
    let server = spawn_server().await;
    let other = foreign().await;
    let client = server.logged_in().await;

    for path in [
        format!("@{}/x", other.addr),
        format!(".{}/x", other.addr),
        format!("//{}/x", other.addr),
        format!("/\\{}/x", other.addr),
        "me".to_owned(),
    ] {
        let sent = client.send(client.request(Method::GET, &path)).await;
        assert!(sent.is_err(), "{path}: {:?}", sent.map(|r| r.url().clone()));
        let err = client
            .try_request(Method::GET, &path)
            .expect_err("not an absolute path");
        assert!(matches!(err, Error::Refused(_)), "{path}: {err:?}");
    }
    assert!(other.requests().is_empty(), "nothing was sent there");
    assert_eq!(client.refresh_requests(), 0);

    // Absolute paths stay on the server, a colon in the first segment included.
    let url = client
        .try_request(Method::GET, "/a:b/c?d=e")
        .expect("a path")
        .build()
        .expect("built")
        .url()
        .clone();
    assert_eq!(url.as_str(), format!("{}/a:b/c?d=e", server.url));
}

/// The base URL's path is kept: `request("/me")` on `http://host/auth` is
/// `http://host/auth/me`.
#[tokio::test]
async fn paths_go_under_the_base_path() {
    let client = Client::new("http://127.0.0.1:9/auth/").expect("client");
    let request = client
        .request(Method::GET, "/me")
        .build()
        .expect("a request");
    assert_eq!(request.url().as_str(), "http://127.0.0.1:9/auth/me");
}

/// An origin allowed with `allow_origin` gets the token.
#[tokio::test]
async fn an_allowed_origin_gets_the_token() {
    let server = spawn_server().await;
    let other = Recorder::ok("127.0.0.2").await;
    let client = Client::builder(&server.url)
        .allow_origin(other.url())
        .build()
        .expect("client");
    client.login(ALICE, PASSWORD).await.expect("login");
    let response = client
        .send(client.http().get(format!("{}/x", other.url())))
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(other.saw_authorization());
}
