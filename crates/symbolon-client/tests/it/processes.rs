//! Several processes sharing one encrypted token file refresh once: the file lock makes
//! them take turns, and each re-reads the file after taking it.
//!
//! The children are this same test binary, run with a filter that selects
//! [`child_entry`] and an environment variable that tells it to act.

use crate::helpers::*;
use std::process::Stdio;
use std::sync::Arc;
use symbolon_client::{EncryptedFileStore, KeyFile, KeyProvider, TokenStore};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const CHILD_ENV: &str = "SYMBOLON_IT_CHILD";

fn file_store(dir: &std::path::Path) -> EncryptedFileStore {
    let key = KeyFile::new(dir.join("default.key")).key().expect("key");
    EncryptedFileStore::new(dir.join("default.tokens"), key)
}

/// In a child: loads the shared tokens, says `ready`, waits for `go` on stdin, then
/// sends one request (its token is due, so it needs a refresh first). In the normal
/// test run, without the variable, it does nothing.
#[tokio::test]
async fn child_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (url, dir) = spec.split_once('|').expect("url|dir");
    let store = Arc::new(file_store(std::path::Path::new(dir)));
    let client = symbolon_client::Client::builder(url)
        .store(store)
        .refresh_margin(ALWAYS_DUE)
        .build()
        .expect("client");
    let session = client.session_id().await.expect("load").expect("logged in");
    println!("CHILD:ready {session}");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).expect("go");
    let response = client
        .send(client.request(reqwest::Method::GET, "/me"))
        .await
        .expect("request");
    println!(
        "CHILD:status {} refreshes {}",
        response.status().as_u16(),
        client.refresh_requests()
    );
}

#[tokio::test]
async fn four_processes_share_one_refresh() {
    let server = spawn_server().await;
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(file_store(dir.path()));
    let first = server.logged_in_with(store.clone(), ALWAYS_DUE).await;

    let exe = std::env::current_exe().expect("test binary");
    let mut children = Vec::new();
    for _ in 0..4 {
        let mut child = tokio::process::Command::new(&exe)
            .args([
                "processes::child_entry",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(
                CHILD_ENV,
                format!("{}|{}", server.url, dir.path().display()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn child");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        children.push((child, stdout));
    }
    // Every child has read the same (now due) tokens before any of them refreshes.
    for (_, lines) in &mut children {
        loop {
            let line = lines
                .next_line()
                .await
                .expect("read")
                .expect("child said ready");
            // libtest may print "test NAME ... " on the same line first.
            if line.contains("CHILD:ready") {
                break;
            }
        }
    }
    for (child, _) in &mut children {
        child
            .stdin
            .as_mut()
            .expect("stdin")
            .write_all(b"go\n")
            .await
            .expect("go");
    }
    let mut refreshes_sent = 0;
    for (mut child, mut lines) in children {
        let mut status = None;
        while let Some(line) = lines.next_line().await.expect("read") {
            if let Some((_, rest)) = line.split_once("CHILD:status ") {
                let parts: Vec<&str> = rest.split_whitespace().collect();
                status = Some(parts[0].to_owned());
                refreshes_sent += parts[2].parse::<u64>().expect("count");
            }
        }
        assert!(child.wait().await.expect("exit").success(), "child failed");
        assert_eq!(status.as_deref(), Some("200"), "child request");
    }
    assert_eq!(
        server.refreshes("rotated"),
        1,
        "one refresh reached the server"
    );
    assert_eq!(
        refreshes_sent, 1,
        "the other three used the tokens the first one saved"
    );
    assert_eq!(server.refreshes("reuse_detected"), 0);
    assert_eq!(server.refreshes("grace_replay"), 0);
    // The session lives on: the parent, too, picks up the shared tokens.
    let stored = store.load().await.expect("load").expect("tokens");
    assert_eq!(
        server.get_me_status(stored.access_token.expose()).await,
        reqwest::StatusCode::OK
    );
    assert_eq!(
        first.send(server.me(&first)).await.expect("send").status(),
        reqwest::StatusCode::OK
    );
    assert_eq!(
        server.refreshes("rotated"),
        1,
        "the parent adopted the children's tokens"
    );
}
