//! Secrets never reach the logs: the real server at `RUST_LOG=trace` runs every flow
//! (logins right and wrong, refresh, reuse, logout, password change, client
//! authentication right and wrong, introspection, revocation, bad bodies), and its whole
//! log is searched for every password, secret and token the test used.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const NEW_PASSWORD: &str = "a fresh password nobody logs";
const WRONG_PASSWORD: &str = "wrong-password-9f3a";
const CLIENT_SECRET: &str = "client-secret-0123456789abcdef";
const WRONG_SECRET: &str = "wrong-secret-0123456789abcdef";
const ARRAY_SECRET: &str = "secret-in-a-json-array";

/// The access and refresh tokens of a token response, which must be a 200.
async fn pair(
    response: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
) -> (String, String) {
    let response = response.await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    (
        body["access_token"].as_str().expect("access").to_owned(),
        body["refresh_token"].as_str().expect("refresh").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_secret_or_token_is_logged_even_at_trace() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("symbolon.db").display());
    let config = write_config(dir.path(), "logs", &db, "");
    add_user(&config, "alice");
    run(
        &config,
        &["client", "add", "backend", "--secret-stdin", "--introspect"],
        &format!("{CLIENT_SECRET}\n"),
    );

    let mut child = Command::new(BIN)
        .args(["--config", config.to_str().expect("utf-8"), "serve"])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn symbolon serve");
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let (ready, listening) = tokio::sync::oneshot::channel::<String>();
    let reader = {
        let log = log.clone();
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        tokio::spawn(async move {
            let mut ready = Some(ready);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(at) = line.find("listening on http://") {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(line[at + "listening on ".len()..].trim().to_owned());
                    }
                }
                log.lock().expect("log").push(line);
            }
        })
    };
    let url = tokio::time::timeout(START_DEADLINE, listening)
        .await
        .expect("the server listens in time")
        .expect("the server listens");

    let http = reqwest::Client::new();
    let mut tokens: Vec<String> = Vec::new();
    let post_json = |path: &str, body: Value, bearer: Option<&str>| {
        let mut request = http.post(format!("{url}{path}")).json(&body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    // Logins: wrong, right.
    let wrong = post_json(
        "/login",
        json!({"username": "alice", "password": WRONG_PASSWORD}),
        None,
    )
    .await
    .expect("login");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let login = |password: &'static str| {
        post_json(
            "/login",
            json!({"username": "alice", "password": password}),
            None,
        )
    };
    let (access, refresh1) = pair(login(PASSWORD)).await;
    tokens.extend([access.clone(), refresh1.clone()]);
    let me = http
        .get(format!("{url}/me"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::OK);

    // Refresh, then a replay of the first token: reuse, the session is revoked.
    let (access2, refresh2) = pair(post_json(
        "/token/refresh",
        json!({"refresh_token": refresh1}),
        None,
    ))
    .await;
    tokens.extend([access2.clone(), refresh2.clone()]);
    // One more rotation: the first token is then two generations old, which is reuse
    // whatever the grace.
    let (_, refresh3) = pair(post_json(
        "/token/refresh",
        json!({"refresh_token": refresh2}),
        None,
    ))
    .await;
    tokens.push(refresh3.clone());
    let reuse = post_json("/token/refresh", json!({"refresh_token": refresh1}), None)
        .await
        .expect("replay");
    assert_eq!(reuse.status(), StatusCode::UNAUTHORIZED, "reuse is refused");

    // A new session: password change, then logout with the new password's session.
    let (access, refresh) = pair(login(PASSWORD)).await;
    tokens.extend([access.clone(), refresh.clone()]);
    let change = post_json(
        "/password",
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        Some(&access),
    )
    .await
    .expect("password");
    assert_eq!(change.status(), StatusCode::NO_CONTENT);
    let (access, refresh) = pair(login(NEW_PASSWORD)).await;
    tokens.extend([access.clone(), refresh.clone()]);

    // Client authentication, right and wrong; introspection; revocation.
    let form = |secret: &str| {
        http.post(format!("{url}/oauth/token"))
            .basic_auth("backend", Some(secret))
            .form(&[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", NEW_PASSWORD),
            ])
            .send()
    };
    assert_eq!(
        form(WRONG_SECRET).await.expect("token").status(),
        StatusCode::UNAUTHORIZED
    );
    let (client_access, client_refresh) = pair(form(CLIENT_SECRET)).await;
    tokens.extend([client_access.clone(), client_refresh.clone()]);
    for token in [&access, &client_refresh] {
        let introspected = http
            .post(format!("{url}/oauth/introspect"))
            .basic_auth("backend", Some(CLIENT_SECRET))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .expect("introspect");
        assert_eq!(introspected.status(), StatusCode::OK);
    }
    let revoked = http
        .post(format!("{url}/oauth/revoke"))
        .basic_auth("backend", Some(CLIENT_SECRET))
        .form(&[("token", client_refresh.as_str())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), StatusCode::OK);

    // Bad bodies that carry secret-looking values.
    let bad = post_json(
        "/login",
        json!({"username": "alice", "password": [ARRAY_SECRET]}),
        None,
    )
    .await
    .expect("bad body");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad = http
        .post(format!("{url}/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=password&username=alice&password={ARRAY_SECRET}&password={ARRAY_SECRET}"
        ))
        .send()
        .await
        .expect("bad form");
    assert!(bad.status().is_client_error());

    // Logout.
    let logout = post_json("/logout", json!({"scope": "global"}), Some(&access))
        .await
        .expect("logout");
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);

    // Stop the server and read the rest of its log.
    child.start_kill().expect("stop the server");
    let _ = child.wait().await;
    tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the log ends")
        .expect("reader");

    let log = log.lock().expect("log").join("\n");
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the server logged at trace level: {}",
        &log[..log.len().min(2000)]
    );
    let master_key = std::fs::read_to_string(dir.path().join("symbolon.key")).expect("key");
    let mut secrets: Vec<(&str, String)> = vec![
        ("password", PASSWORD.into()),
        ("new password", NEW_PASSWORD.into()),
        ("wrong password", WRONG_PASSWORD.into()),
        ("client secret", CLIENT_SECRET.into()),
        ("wrong client secret", WRONG_SECRET.into()),
        ("secret in a bad body", ARRAY_SECRET.into()),
        ("master key", master_key.trim().to_owned()),
    ];
    secrets.extend(tokens.into_iter().map(|t| ("token", t)));
    for (what, secret) in &secrets {
        assert!(!secret.is_empty());
        assert!(
            !log.contains(secret.as_str()),
            "the {what} appears in the server's log"
        );
        // An access token's signature alone would be a leak too.
        if let Some((_, signature)) = secret.rsplit_once('.') {
            assert!(
                !log.contains(signature),
                "a {what}'s signature appears in the log"
            );
        }
    }
}
