//! Durability, on a disk that forgets every write not yet synced when its power is cut
//! (`symbolon_testkit::LossyDisk`, a FUSE file system): everything the server
//! acknowledged survives the cut, and a commit that fails is never acknowledged.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use symbolon_testkit::LossyDisk;
use tokio::sync::Notify;

/// What one client saw before the cut.
#[derive(Debug, Default)]
struct Chain {
    /// The newest refresh token it got in a 200, if its session was not logged out since.
    live: Option<String>,
    /// Refresh tokens of sessions whose logout was answered 204.
    ended: Vec<String>,
    /// A logout was sent and not answered (the cut came first): it may have happened.
    logout_in_doubt: bool,
}

/// Logs in, then refreshes; every tenth step logs out and logs in again. Stops at the
/// first answer that is not a success (the cut) and returns what was acknowledged.
async fn run_chain(
    http: reqwest::Client,
    url: String,
    user: String,
    acked: Arc<AtomicUsize>,
    enough: Arc<Notify>,
) -> Chain {
    const TARGET: usize = 400;
    let mut chain = Chain::default();
    let post = |path: &str, body: Value| http.post(format!("{url}{path}")).json(&body).send();
    // A login or a refresh: the refresh token of its 200, or `None` (the cut came).
    let new_token = |path: &str, body: Value| {
        let sent = post(path, body);
        async move {
            let response = sent.await.ok().filter(|r| r.status() == StatusCode::OK)?;
            let body = response.json::<Value>().await.ok()?;
            Some(body["refresh_token"].as_str().expect("token").to_owned())
        }
    };
    let count = || {
        if acked.fetch_add(1, Ordering::SeqCst) + 1 == TARGET {
            enough.notify_one();
        }
    };
    for step in 0.. {
        match chain.live.clone() {
            None => {
                let login = json!({"username": user, "password": ALICE_PASSWORD});
                let Some(token) = new_token("/login", login).await else {
                    return chain;
                };
                chain.live = Some(token);
            }
            Some(token) if step % 10 == 9 => {
                chain.logout_in_doubt = true;
                let Ok(r) = post("/logout", json!({"refresh_token": token})).await else {
                    return chain;
                };
                if r.status() != StatusCode::NO_CONTENT {
                    return chain;
                }
                chain.logout_in_doubt = false;
                chain.ended.push(token);
                chain.live = None;
            }
            Some(token) => {
                let refresh = json!({"refresh_token": token});
                let Some(token) = new_token("/token/refresh", refresh).await else {
                    return chain;
                };
                chain.live = Some(token);
            }
        }
        count();
    }
    chain
}

/// Cuts the power under a load of refreshes, logouts and logins, brings the server back
/// on what the disk kept, and checks every acknowledged rotation and logout: the newest
/// token each client got in a 200 still refreshes (as a grace replay if a rotation in
/// flight at the cut was kept), and every session whose logout got a 204 stays ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_power_cut_loses_nothing_that_was_acknowledged() {
    let Some(disk) = LossyDisk::mount() else {
        return;
    };
    let db = disk.path().join("symbolon.db");
    let app = spawn_with(|c| {
        c.database_url = format!("sqlite://{}", db.display());
        // A kept rotation whose answer the cut swallowed must not read as reuse.
        c.reuse_grace = secs(600);
    })
    .await;
    const CHAINS: usize = 16;
    let acked = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..CHAINS {
        let user = format!("user{i}");
        app.add_user(&user, ALICE_PASSWORD).await;
        tasks.spawn(run_chain(
            app.http.clone(),
            app.url.clone(),
            user,
            acked.clone(),
            enough.clone(),
        ));
    }
    enough.notified().await;
    disk.cut_power();
    let mut chains = Vec::new();
    while let Some(chain) = tasks.join_next().await {
        chains.push(chain.expect("chain task"));
    }
    let acknowledged = acked.load(Ordering::SeqCst);

    // The machine is off: stop the server and close its database before power returns
    // (a connection of the dead server must not write to the revived disk).
    let mut app = app;
    app.shutdown().await;
    app.service().store().close().await;
    disk.power_on();
    let app = app.restart().await;

    let (mut live, mut ended) = (0, 0);
    for (i, chain) in chains.iter().enumerate() {
        if let Some(token) = &chain.live {
            let status = app.refresh_response(token).await.status();
            let lost_logout = chain.logout_in_doubt && status == StatusCode::UNAUTHORIZED;
            assert!(
                status == StatusCode::OK || lost_logout,
                "chain {i}: the newest token it got in a 200 answers {status} after the cut"
            );
            live += 1;
        }
        for token in &chain.ended {
            let status = app.refresh_response(token).await.status();
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "chain {i}: a session whose logout was acknowledged is alive after the cut"
            );
            ended += 1;
        }
    }
    eprintln!(
        "{acknowledged} operations acknowledged before the cut; checked {live} live and \
         {ended} logged-out sessions; the disk served {} syncs",
        disk.syncs()
    );
    assert!(ended > 0 && live > 0, "the run checked too little");
}

/// A rotation whose commit fails (the disk refuses the write) is answered 503, never
/// 200: the refresh token presented stays the current one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_whose_commit_fails_is_not_acknowledged() {
    let Some(disk) = LossyDisk::mount() else {
        return;
    };
    let db = disk.path().join("symbolon.db");
    let app = spawn_with(|c| c.database_url = format!("sqlite://{}", db.display())).await;
    let tokens = app.alice().await;

    disk.fail_writes(true);
    let refused = app.refresh_response(&tokens.refresh).await;
    assert_error(refused, StatusCode::SERVICE_UNAVAILABLE, "server_error").await;
    disk.fail_writes(false);

    // Nothing rotated: the token is still current (no reuse detected), and rotates now.
    let rotated = app.refresh(&tokens.refresh).await;
    assert_eq!(app.refreshes("reuse_detected"), 0);
    app.refresh(&rotated.refresh).await;
}
