//! The real `symbolon` binary: `kill -9` in the middle of refresh chains loses no
//! refresh token that a client received in a 200.

use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::Mutex;

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_load_loses_no_refresh_token_that_was_answered_200() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("symbolon.db").display());
    let config = write_config(dir.path(), "crash", &db, "reuse_grace = 60");
    add_user(&config, "carol");
    let mut server = start_server(&config).await;
    let base = server.url.clone();
    let http = reqwest::Client::new();

    // Each chain logs in once, then always refreshes with the token it just received;
    // `latest` holds the newest refresh token each chain got in a 200.
    const CHAINS: usize = 8;
    const ROTATIONS_BEFORE_KILL: usize = 400;
    let latest = Arc::new(Mutex::new(vec![String::new(); CHAINS]));
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    // Logins one after another: logins to one account in flight at once beyond the free
    // guesses are asked to retry (docs/API.md §2.7).
    let mut first_tokens = Vec::new();
    for _ in 0..CHAINS {
        let login: Value = http
            .post(format!("{base}/login"))
            .json(&json!({"username": "carol", "password": PASSWORD}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("login body");
        first_tokens.push(login["refresh_token"].as_str().expect("token").to_owned());
    }
    for (chain, first) in first_tokens.into_iter().enumerate() {
        let (http, base, latest, done, enough) = (
            http.clone(),
            base.clone(),
            latest.clone(),
            done.clone(),
            enough.clone(),
        );
        tasks.spawn(async move {
            let mut token = first;
            latest.lock().await[chain] = token.clone();
            loop {
                let Ok(response) = http
                    .post(format!("{base}/token/refresh"))
                    .json(&json!({"refresh_token": token}))
                    .send()
                    .await
                else {
                    return; // The server is gone.
                };
                assert_eq!(response.status(), 200, "refresh before the crash");
                let Ok(body) = response.json::<Value>().await else {
                    return;
                };
                token = body["refresh_token"].as_str().expect("token").to_owned();
                latest.lock().await[chain] = token.clone();
                if done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
                    == ROTATIONS_BEFORE_KILL
                {
                    enough.notify_one();
                }
            }
        });
    }
    // Let the chains run until a few hundred rotations are committed, then SIGKILL.
    enough.notified().await;
    server.child.start_kill().expect("kill -9");
    server.child.wait().await.expect("reaped");
    while tasks.join_next().await.is_some() {}

    // The restarted server may listen on another port: same database, new address.
    let restarted = start_server(&config).await;
    let tokens = latest.lock().await.clone();
    for (chain, token) in tokens.iter().enumerate() {
        let response = http
            .post(format!("{}/token/refresh", restarted.url))
            .json(&json!({"refresh_token": token}))
            .send()
            .await
            .expect("refresh after restart");
        assert_eq!(
            response.status(),
            200,
            "chain {chain}: its last token from a 200 must still work"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_then_stops() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("symbolon.db").display());
    // A deliberately slow password hash, so a login is still running at SIGTERM.
    let config = write_config(dir.path(), "term", &db, "");
    let slow = std::fs::read_to_string(&config)
        .expect("config")
        .replace("argon2_iterations = 1", "argon2_iterations = 20")
        .replace("argon2_memory_kib = 64", "argon2_memory_kib = 8192");
    std::fs::write(&config, slow).expect("config");
    add_user(&config, "carol");
    let mut server = start_server(&config).await;
    let http = reqwest::Client::new();
    let login = tokio::spawn({
        let (http, url) = (http.clone(), server.url.clone());
        async move {
            http.post(format!("{url}/login"))
                .json(&json!({"username": "carol", "password": PASSWORD}))
                .send()
                .await
        }
    });
    // Wait until the login's hash is running: the gauge says so. A login that is never
    // seen hashing (it failed, or finished before the first look) fails the test here
    // instead of waiting for ever.
    let hashing = async {
        loop {
            let metrics = http
                .get(format!("{}/metrics", server.url))
                .send()
                .await
                .expect("metrics");
            if metrics
                .text()
                .await
                .expect("text")
                .contains("symbolon_password_hashes_in_flight 1")
            {
                break;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), hashing)
        .await
        .expect("within 30 s, /metrics never showed the login's password hash in flight");
    let pid = server.child.id().expect("pid").to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let response = login
        .await
        .expect("task")
        .expect("the request in flight is answered");
    assert_eq!(response.status(), 200);
    let status = server.child.wait().await.expect("exit");
    assert!(status.success(), "clean exit after SIGTERM: {status}");
    assert!(
        http.get(format!("{}/healthz", server.url))
            .send()
            .await
            .is_err(),
        "no longer listening"
    );
}
