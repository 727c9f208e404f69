//! The example API next to a real symbolon server: a token from `/login` opens `/hello`;
//! after a logout the same token is refused within seconds (the revocation feed).
// Tests may panic on anything unexpected: that is how they fail.
#![allow(clippy::unwrap_used)]

use reqwest::StatusCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use symbolon_core::ids::{Capability, Password};
use symbolon_testkit::TestServer;
use symbolon_verify::{Config, Verifier};

#[tokio::test]
async fn the_example_api_accepts_tokens_and_drops_a_logged_out_session() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let server = TestServer::spawn_with(i64::try_from(now).unwrap(), |_| {}).await;
    let mut config = server.config.clone();
    config.issuer = Some(symbolon_server_issuer(&server.url));
    let server = server.restart_with(config).await;
    server.add_user("alice", "correct horse battery").await;
    server
        .service()
        .clients()
        .create(
            "example-api",
            Some(Password::new("the example API's secret".into())),
            &[Capability::RevocationFeed],
        )
        .await
        .unwrap();

    let verifier = Verifier::new(
        Config::new(&server.url, "symbolon")
            .with_revocations("example-api", "the example API's secret"),
    );
    assert!(verifier.ready(Duration::from_secs(10)).await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let app = symbolon_example_api::app(verifier);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let http = reqwest::Client::new();
    let tokens: serde_json::Value = http
        .post(format!("{}/login", server.url))
        .json(&serde_json::json!({"username": "alice", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let hello = http
        .get(format!("{api}/hello"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(hello.status(), StatusCode::OK);
    let body: serde_json::Value = hello.json().await.unwrap();
    assert_eq!(body["message"], "hello, alice");
    assert_eq!(body["sid"], tokens["session_id"]);
    let anonymous = http.get(format!("{api}/hello")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let logout = http
        .post(format!("{}/logout", server.url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let start = Instant::now();
    loop {
        let response = http
            .get(format!("{api}/hello"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::UNAUTHORIZED {
            let challenge = response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                challenge.contains(r#"error="invalid_token""#),
                "{challenge}"
            );
            break;
        }
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "still accepted after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let metrics = http
        .get(format!("{api}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("symbolon_verify_revoked_sessions 1"),
        "{metrics}"
    );
}

fn symbolon_server_issuer(url: &str) -> symbolon_server::config::Issuer {
    symbolon_server::config::Issuer::parse(url).unwrap()
}
