//! Three `symbolon serve` processes on one PostgreSQL database behave as one server.
//! Skipped (with a message) without `SYMBOLON_TEST_POSTGRES_URL`; CI sets it.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;
use symbolon_testkit::PgDatabase;

struct Fleet {
    servers: Vec<Server>,
    config: std::path::PathBuf,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    _db: PgDatabase,
}

/// Starts three instances (A first, so it alone creates the master key and the first
/// signing key) and adds the user `carol`.
async fn fleet(extra: &str) -> Option<Fleet> {
    let db = PgDatabase::create().await?;
    let dir = tempfile::tempdir().expect("temp dir");
    let configs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|name| write_config(dir.path(), name, &db.url, extra))
        .collect();
    let mut servers = vec![start_server(&configs[0]).await];
    for config in &configs[1..] {
        servers.push(start_server(config).await);
    }
    add_user(&configs[0], "carol");
    Some(Fleet {
        servers,
        config: configs[0].clone(),
        http: reqwest::Client::new(),
        _dir: dir,
        _db: db,
    })
}

impl Fleet {
    fn url(&self, i: usize) -> &str {
        &self.servers[i].url
    }

    async fn login(&self, i: usize) -> Value {
        let response = self
            .http
            .post(format!("{}/login", self.url(i)))
            .json(&json!({"username": "carol", "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("body")
    }

    async fn refresh(&self, i: usize, token: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/token/refresh", self.url(i)))
            .json(&json!({"refresh_token": token}))
            .send()
            .await
            .expect("refresh")
    }

    async fn me(&self, i: usize, access: &str) -> StatusCode {
        self.http
            .get(format!("{}/me", self.url(i)))
            .bearer_auth(access)
            .send()
            .await
            .expect("me")
            .status()
    }
}

fn token(body: &Value, field: &str) -> String {
    body[field].as_str().expect("token field").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_on_one_instance_after_rotation_on_another_revokes_everywhere() {
    let Some(fleet) = fleet("").await else { return };
    let first = fleet.login(0).await;
    let second: Value = fleet
        .refresh(1, &token(&first, "refresh_token"))
        .await
        .json()
        .await
        .expect("body");
    let third: Value = fleet
        .refresh(1, &token(&second, "refresh_token"))
        .await
        .json()
        .await
        .expect("body");
    // The login's token is two generations old: reuse, whatever the grace.
    let replay = fleet.refresh(2, &token(&first, "refresh_token")).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        replay.json::<Value>().await.expect("body")["error_description"],
        "refresh token reuse detected"
    );
    for i in 0..3 {
        assert_eq!(
            fleet
                .refresh(i, &token(&third, "refresh_token"))
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            fleet.me(i, &token(&third, "access_token")).await,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_concurrent_refreshes_over_three_instances_get_one_successor() {
    let Some(fleet) = fleet("").await else { return };
    let first = token(&fleet.login(0).await, "refresh_token");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..30 {
        let request = fleet
            .http
            .post(format!("{}/token/refresh", fleet.url(i % 3)))
            .json(&json!({"refresh_token": first}));
        tasks.spawn(async move { request.send().await.expect("refresh") });
    }
    let mut successors = HashSet::new();
    while let Some(response) = tasks.join_next().await {
        let response = response.expect("task");
        assert_eq!(response.status(), StatusCode::OK, "every answer is 200");
        successors.insert(token(
            &response.json().await.expect("body"),
            "refresh_token",
        ));
    }
    assert_eq!(successors.len(), 1, "one successor across the fleet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_through_one_instance_is_accepted_by_all() {
    let Some(fleet) = fleet("key_refresh = 1").await else {
        return;
    };
    let before = fleet.login(0).await;
    let out = run(&fleet.config, &["keys", "rotate"], "");
    let kid = out
        .split_whitespace()
        .nth(4)
        .expect("kid in output")
        .to_owned();
    // Every instance publishes the new key within key_refresh (1 s here); wait for each.
    for i in 0..3 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let jwks: Value = fleet
                .http
                .get(format!("{}/.well-known/jwks.json", fleet.url(i)))
                .send()
                .await
                .expect("jwks")
                .json()
                .await
                .expect("jwks body");
            if jwks["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .any(|k| k["kid"] == kid.as_str())
            {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "instance {i} did not publish {kid}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let after = fleet.login(1).await;
    for i in 0..3 {
        assert_eq!(
            fleet.me(i, &token(&after, "access_token")).await,
            StatusCode::OK,
            "new key on {i}"
        );
        assert_eq!(
            fleet.me(i, &token(&before, "access_token")).await,
            StatusCode::OK,
            "old key on {i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_database_connections_cause_no_error_storm_and_lose_no_token() {
    let Some(fleet) = fleet("").await else { return };
    let mut chains = Vec::new();
    for i in 0..6 {
        chains.push(token(&fleet.login(i % 3).await, "refresh_token"));
    }
    let mut failures = 0;
    let mut successes = 0;
    for round in 0..30 {
        if round == 10 || round == 20 {
            fleet._db.terminate_connections().await;
        }
        for (c, chain) in chains.iter_mut().enumerate() {
            let response = fleet.refresh((c + round) % 3, chain).await;
            if response.status() == StatusCode::OK {
                *chain = token(&response.json().await.expect("body"), "refresh_token");
                successes += 1;
            } else {
                assert!(
                    response.status().is_server_error(),
                    "only the outage may fail: {}",
                    response.status()
                );
                failures += 1;
            }
        }
    }
    eprintln!("{successes} refreshes answered 200, {failures} failed around two terminations");
    // Each termination may fail the requests that held a killed connection, no more.
    assert!(
        failures <= 12,
        "{failures} failures around two terminations"
    );
    assert!(successes >= 168);
    for (c, chain) in chains.iter().enumerate() {
        assert_eq!(
            fleet.refresh(c % 3, chain).await.status(),
            StatusCode::OK,
            "chain {c} still works"
        );
    }
}

#[tokio::test]
async fn an_unreachable_database_stops_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let config = write_config(
        dir.path(),
        "down",
        "postgres://symbolon:secret@127.0.0.1:1/symbolon",
        "",
    );
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::process::Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .output(),
    )
    .await
    .expect("no hang")
    .expect("ran");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error: database"), "{stderr}");
    assert!(
        !stderr.contains("secret"),
        "the password must not be printed: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
