//! The revocation feed (`GET /revocations`, docs/API.md §2.8): every cause of
//! revocation reaches it, a long poll wakes when one happens (on another instance of a
//! PostgreSQL fleet too), cursors page and reset, entries leave with the window, and
//! only clients with the capability read it.

use crate::helpers::{assert_error, spawn_app, spawn_with, TestApp, Tokens, ALICE_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use symbolon_core::ids::{Capability, Password};

const READER: (&str, &str) = ("resource-server", "the resource server's secret");

async fn add_reader(app: &TestApp) {
    app.service()
        .clients()
        .create(
            READER.0,
            Some(Password::new(READER.1.into())),
            &[Capability::RevocationFeed],
        )
        .await
        .expect("client created");
}

async fn poll(app: &TestApp, query: &str) -> Value {
    let response = app
        .request(Method::GET, &format!("/revocations?{query}"), None)
        .basic_auth(READER.0, Some(READER.1))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        crate::helpers::header(&response, "cache-control"),
        "no-store"
    );
    response.json().await.expect("json")
}

fn sids(page: &Value) -> BTreeSet<String> {
    page["revoked"]
        .as_array()
        .expect("revoked")
        .iter()
        .map(|e| e["sid"].as_str().expect("sid").to_owned())
        .collect()
}

async fn logout(app: &TestApp, tokens: &Tokens, scope: &str) {
    let response = app
        .post_json_as("/logout", &tokens.access, json!({ "scope": scope }))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT, "logout {scope}");
}

/// The causes of docs/API.md §1.4, each on its own sessions; the feed names exactly the
/// sessions they ended, once each.
async fn every_cause_of_revocation_feeds_it(app: TestApp) {
    add_reader(&app).await;
    let alice = app.alice().await;
    let login = || app.login("alice", ALICE_PASSWORD);
    let mut expected = BTreeSet::new();

    logout(&app, &alice, "local").await;
    expected.insert(alice.session_id.clone());

    let (keep, other) = (login().await, login().await);
    logout(&app, &keep, "others").await;
    expected.insert(other.session_id.clone());
    logout(&app, &keep, "global").await;
    expected.insert(keep.session_id.clone());

    let (this, deleted) = (login().await, login().await);
    let response = app
        .request(
            Method::DELETE,
            &format!("/sessions/{}", deleted.session_id),
            Some(&this.access),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expected.insert(deleted.session_id.clone());

    let revoked = login().await;
    let response = app
        .post_form("/oauth/revoke", &[("token", &revoked.refresh)])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    expected.insert(revoked.session_id.clone());

    let reused = login().await;
    app.refresh(&reused.refresh).await;
    app.clock.advance(60);
    let response = app.refresh_response(&reused.refresh).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    expected.insert(reused.session_id.clone());

    let changed = login().await;
    let body = json!({"current_password": ALICE_PASSWORD, "new_password": "a brand new password"});
    let response = app.post_json_as("/password", &this.access, body).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expected.insert(changed.session_id.clone());

    assert!(app
        .service()
        .users()
        .disable("alice")
        .await
        .expect("disabled"));
    expected.insert(this.session_id.clone());

    let page = poll(&app, "after=0").await;
    assert_eq!(sids(&page), expected);
    assert_eq!(
        page["revoked"].as_array().expect("array").len(),
        expected.len()
    );
    assert_eq!(page["more"], false);
    assert_eq!(page["reset"], false);
    assert_eq!(page["window"], 900 + 30);
    let first = &page["revoked"][0];
    assert_eq!(
        first["until"].as_i64(),
        first["revoked_at"].as_i64().map(|t| t + 930)
    );
    // Nothing new beyond the cursor.
    let cursor = page["cursor"].as_u64().expect("cursor");
    let again = poll(&app, &format!("after={cursor}")).await;
    assert!(sids(&again).is_empty(), "{again}");
    assert_eq!(again["cursor"].as_u64(), Some(cursor));
}

#[tokio::test]
async fn every_cause_of_revocation_feeds_it_sqlite() {
    every_cause_of_revocation_feeds_it(spawn_app().await).await;
}

#[tokio::test]
async fn every_cause_of_revocation_feeds_it_postgres() {
    let Some(db) = symbolon_testkit::PgDatabase::create().await else {
        return;
    };
    let url = db.url.clone();
    every_cause_of_revocation_feeds_it(spawn_with(move |c| c.database_url = url).await).await;
}

/// Waits until `count` polls wait at `app` (a condition the server reports, not a sleep).
async fn until_waiting(app: &TestApp, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.service().feed().waiting() < count {
        assert!(Instant::now() < deadline, "no poll started waiting");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A poll at the head waits; a logout answers it at once with the session.
#[tokio::test]
async fn a_long_poll_answers_when_a_session_is_revoked() {
    let app = spawn_app().await;
    add_reader(&app).await;
    let tokens = app.alice().await;
    let head = poll(&app, "").await["cursor"].as_u64().expect("cursor");
    let started = Instant::now();
    let query = format!("after={head}&wait=20");
    let waiting = poll(&app, &query);
    let revoke = async {
        until_waiting(&app, 1).await;
        logout(&app, &tokens, "local").await;
    };
    let (page, ()) = tokio::join!(waiting, revoke);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sids(&page), BTreeSet::from([tokens.session_id.clone()]));
    assert_eq!(page["cursor"].as_u64(), Some(head + 1));
}

/// Two instances on one PostgreSQL database: a poll waiting at B answers when a session
/// is revoked through A (LISTEN/NOTIFY wakes B), well inside the 2 s target.
#[tokio::test]
async fn a_revocation_on_one_instance_answers_a_poll_on_another() {
    let Some(db) = symbolon_testkit::PgDatabase::create().await else {
        return;
    };
    let url = db.url.clone();
    let a = spawn_with(move |c| c.database_url = url).await;
    let b = a.another_instance().await;
    add_reader(&a).await;
    let tokens = a.alice().await;
    for round in 0..5 {
        let next = a.login("alice", ALICE_PASSWORD).await;
        let head = poll(&b, "").await["cursor"].as_u64().expect("cursor");
        let query = format!("after={head}&wait=20");
        let waiting = poll(&b, &query);
        let revoked = Instant::now();
        let revoke = async {
            until_waiting(&b, 1).await;
            logout(&a, &next, "local").await;
        };
        let (page, ()) = tokio::join!(waiting, revoke);
        let took = revoked.elapsed();
        assert!(took < Duration::from_secs(2), "round {round}: {took:?}");
        assert_eq!(sids(&page), BTreeSet::from([next.session_id.clone()]));
    }
    assert_eq!(a.me_status(&tokens.access).await, StatusCode::OK);
}

/// `limit` pages the feed with `more`; a cursor beyond the feed (a restored database)
/// is answered with `reset` and the whole window.
#[tokio::test]
async fn the_feed_pages_and_resets_a_cursor_beyond_it() {
    let app = spawn_app().await;
    add_reader(&app).await;
    app.alice().await;
    let mut expected = BTreeSet::new();
    for _ in 0..5 {
        let t = app.login("alice", ALICE_PASSWORD).await;
        logout(&app, &t, "local").await;
        expected.insert(t.session_id);
    }
    let mut cursor = 0;
    let mut seen = BTreeSet::new();
    let mut pages = Vec::new();
    loop {
        let page = poll(&app, &format!("after={cursor}&limit=2")).await;
        seen.extend(sids(&page));
        cursor = page["cursor"].as_u64().expect("cursor");
        pages.push(page["revoked"].as_array().expect("array").len());
        if page["more"] == false {
            break;
        }
    }
    assert_eq!(pages, [2, 2, 1]);
    assert_eq!(seen, expected);
    let reset = poll(&app, &format!("after={}", cursor + 100)).await;
    assert_eq!(reset["reset"], true);
    assert_eq!(sids(&reset), expected);
    assert_eq!(reset["cursor"].as_u64(), Some(cursor));
}

/// An entry is answered while an access token of its session can still verify
/// (`access_ttl + leeway`), then neither answered nor kept.
#[tokio::test]
async fn entries_leave_the_feed_after_the_window() {
    let app = spawn_app().await;
    add_reader(&app).await;
    let tokens = app.alice().await;
    logout(&app, &tokens, "local").await;
    app.clock.advance(930);
    assert_eq!(sids(&poll(&app, "").await).len(), 1);
    app.clock.advance(1);
    let page = poll(&app, "").await;
    assert!(sids(&page).is_empty(), "{page}");
    assert_eq!(
        page["cursor"].as_u64(),
        Some(1),
        "the cursor still moves on"
    );
    app.clock.advance(60);
    app.service().purge().await.expect("purge");
    let head = app.service().store().feed_head().await.expect("head");
    assert_eq!(head, 0, "the purge deleted the entry");
}

/// Only an authenticated client with the `revocations` capability reads the feed; bad
/// queries are 400.
#[tokio::test]
async fn only_clients_with_the_capability_read_the_feed() {
    let app = spawn_app().await;
    add_reader(&app).await;
    app.service()
        .clients()
        .create(
            "introspector",
            Some(Password::new("another secret, long".into())),
            &[Capability::Introspect],
        )
        .await
        .expect("client created");
    let get = |basic: Option<(&str, &str)>, query: &str| {
        let mut request = app.request(Method::GET, &format!("/revocations{query}"), None);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        request.send()
    };
    let response = get(None, "").await.expect("request");
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let response = get(Some((READER.0, "a wrong secret")), "")
        .await
        .expect("request");
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let response = get(Some(("introspector", "another secret, long")), "")
        .await
        .expect("request");
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    for query in [
        "?wait=31",
        "?limit=0",
        "?limit=1001",
        "?after=-1",
        "?after=x",
    ] {
        let response = get(Some(READER), query).await.expect("request");
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
}

/// A waiting poll holds no database connection, and neither does the instance's LISTEN
/// (it has its own): with `db_pool_size = 1` on PostgreSQL, a login still gets the one
/// connection while a poll waits, and the logout that follows answers the poll.
#[tokio::test]
async fn a_waiting_poll_holds_no_pooled_connection_postgres() {
    let Some(db) = symbolon_testkit::PgDatabase::create().await else {
        return;
    };
    let url = db.url.clone();
    let app = spawn_with(move |c| {
        c.database_url = url;
        c.db_pool_size = 1;
    })
    .await;
    add_reader(&app).await;
    app.add_user("alice", ALICE_PASSWORD).await;
    let head = poll(&app, "").await["cursor"].as_u64().expect("cursor");
    let query = format!("after={head}&wait=20");
    let waiting = poll(&app, &query);
    let work = async {
        until_waiting(&app, 1).await;
        let tokens = app.login("alice", ALICE_PASSWORD).await;
        logout(&app, &tokens, "local").await;
        tokens
    };
    let (page, tokens) = tokio::join!(waiting, work);
    assert_eq!(sids(&page), BTreeSet::from([tokens.session_id]));
}
