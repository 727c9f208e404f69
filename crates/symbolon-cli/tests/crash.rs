//! The real `symbolon` binary: `kill -9` in the middle of refresh chains loses no
//! refresh token that a client received in a 200.

use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

const BIN: &str = env!("CARGO_BIN_EXE_symbolon");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

fn write_config(dir: &Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("symbolon.toml");
    let mut file = std::fs::File::create(&path).expect("config");
    write!(
        file,
        "listen = \"127.0.0.1:{port}\"\ndatabase_url = \"sqlite://{db}\"\nmaster_key_file = \"{key}\"\n\
         argon2_memory_kib = 64\nargon2_iterations = 1\nreuse_grace = 60\n",
        db = dir.join("symbolon.db").display(),
        key = dir.join("symbolon.key").display(),
    )
    .expect("write config");
    path
}

/// Starts `symbolon serve` and waits for its "listening" log line.
async fn start_server(config: &Path) -> Child {
    let mut child = Command::new(BIN)
        .args(["--config", config.to_str().expect("utf-8 path"), "serve"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn symbolon serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    while let Some(line) = lines.next_line().await.expect("read log") {
        if line.contains("listening on") {
            // Keep draining the log so the server never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return child;
        }
    }
    panic!("symbolon serve exited before listening");
}

fn add_user(config: &Path) {
    let mut child = std::process::Command::new(BIN)
        .args(["--config", config.to_str().expect("utf-8"), "user", "add", "carol", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn user add");
    child.stdin.take().expect("stdin").write_all(b"correct horse battery\n").expect("password");
    assert!(child.wait().expect("user add").success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_load_loses_no_refresh_token_that_was_answered_200() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let config = write_config(dir.path(), port);
    add_user(&config);
    let mut server = start_server(&config).await;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    // Each chain logs in once, then always refreshes with the token it just received;
    // `latest` holds the newest refresh token each chain got in a 200.
    const CHAINS: usize = 8;
    const ROTATIONS_BEFORE_KILL: usize = 400;
    let latest = Arc::new(Mutex::new(vec![String::new(); CHAINS]));
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    for chain in 0..CHAINS {
        let (http, base, latest, done, enough) =
            (http.clone(), base.clone(), latest.clone(), done.clone(), enough.clone());
        tasks.spawn(async move {
            let login: Value = http
                .post(format!("{base}/login"))
                .json(&json!({"username": "carol", "password": "correct horse battery"}))
                .send()
                .await
                .expect("login")
                .json()
                .await
                .expect("login body");
            let mut token = login["refresh_token"].as_str().expect("token").to_owned();
            latest.lock().await[chain] = token.clone();
            loop {
                let Ok(response) = http.post(format!("{base}/token/refresh")).json(&json!({"refresh_token": token})).send().await
                else {
                    return; // The server is gone.
                };
                assert_eq!(response.status(), 200, "refresh before the crash");
                let Ok(body) = response.json::<Value>().await else {
                    return;
                };
                token = body["refresh_token"].as_str().expect("token").to_owned();
                latest.lock().await[chain] = token.clone();
                if done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == ROTATIONS_BEFORE_KILL {
                    enough.notify_one();
                }
            }
        });
    }
    // Let the chains run until a few hundred rotations are committed, then SIGKILL.
    enough.notified().await;
    server.start_kill().expect("kill -9");
    server.wait().await.expect("reaped");
    while tasks.join_next().await.is_some() {}

    let _server = start_server(&config).await;
    let tokens = latest.lock().await.clone();
    for (chain, token) in tokens.iter().enumerate() {
        let response = http
            .post(format!("{base}/token/refresh"))
            .json(&json!({"refresh_token": token}))
            .send()
            .await
            .expect("refresh after restart");
        assert_eq!(response.status(), 200, "chain {chain}: its last token from a 200 must still work");
    }
}
