//! One conformance suite, run against every backend: SQLite always, PostgreSQL when
//! `SYMBOLON_TEST_POSTGRES_URL` is set (CI sets it). Each PostgreSQL test gets a
//! database of its own, dropped afterwards, so tests run in parallel.
// Tests may panic on anything unexpected: that is how they fail.
#![allow(clippy::unwrap_used)]

mod backends;
mod suite;

use std::time::Duration;
use symbolon_store::StoreError;

/// SQLite's durability is chosen in the URL; anything else there is refused by name.
#[tokio::test]
async fn sqlite_url_options_are_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("s.db");
    let full =
        symbolon_store::connect(&format!("sqlite://{}?synchronous=full", db.display()), 1).await;
    full.expect("synchronous=full opens")
        .migrate()
        .await
        .expect("migrates");
    let err = symbolon_store::connect(&format!("sqlite://{}?cache=shared", db.display()), 1)
        .await
        .expect_err("unknown option refused");
    // The option is named once, in the cause, not in the store's own message.
    let cause = std::error::Error::source(&err).map(ToString::to_string);
    assert!(!err.to_string().contains("cache=shared"), "{err}");
    assert!(
        cause.as_deref().is_some_and(|c| c.contains("cache=shared")),
        "{err}: {cause:?}"
    );
}

/// The error and its causes, `a: b: c`, as the CLI prints them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text = format!("{text}: {cause}");
        next = cause.source();
    }
    text
}

/// A database that cannot be opened is `Unavailable`; the message does not embed the
/// cause, which the chain holds once.
#[tokio::test]
async fn an_unopenable_database_is_unavailable_with_its_cause_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("missing-dir").join("s.db");
    let err = symbolon_store::connect(&format!("sqlite://{}", path.display()), 1)
        .await
        .expect_err("no such directory");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert_eq!(err.to_string(), "the database is unavailable");
    let text = chain(&err);
    assert_eq!(text.matches("missing-dir").count(), 1, "{text}");
    assert_eq!(text.matches("os error").count(), 1, "{text}");

    let Ok(admin_url) = std::env::var("SYMBOLON_TEST_POSTGRES_URL") else {
        eprintln!("skipping the PostgreSQL half: set SYMBOLON_TEST_POSTGRES_URL");
        return;
    };
    let (server, _) = admin_url
        .split('?')
        .next()
        .and_then(|u| u.rsplit_once('/'))
        .expect("SYMBOLON_TEST_POSTGRES_URL names a database");
    let err = symbolon_store::connect(&format!("{server}/symbolon_no_such_db"), 1)
        .await
        .expect_err("no such database");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert_eq!(err.to_string(), "the database is unavailable");
    let text = chain(&err);
    assert!(
        text.ends_with(": database \"symbolon_no_such_db\" does not exist"),
        "{text}"
    );
    assert_eq!(text.matches("symbolon_no_such_db").count(), 1, "{text}");
}

/// Returns once `task` has finished or a statement in this database waits on a lock (the
/// task's, as the test holds the lock), polling `pg_stat_activity`; fails after 10 s.
async fn finished_or_waiting_on_a_lock<T>(
    raw: &sqlx::PgPool,
    task: &tokio::task::JoinHandle<T>,
    what: &str,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock'",
        )
        .fetch_one(raw)
        .await
        .unwrap();
        if waiting > 0 || task.is_finished() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} neither finished nor waited"
        );
        tokio::task::yield_now().await;
    }
}

/// PostgreSQL under READ COMMITTED: a `user disable` has updated the user row and revoked
/// the sessions it can see, and has not committed; a login's session insert that runs
/// now must wait for it and then find the user disabled. Without the row lock the
/// insert reads the old committed row, commits a session the disable never saw, and the
/// disabled user keeps it. The open transaction runs `Store::disable_user`'s statements.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_login_racing_a_disable_waits_for_it() {
    use symbolon_core::ids::{SessionId, UserId};
    use symbolon_store::{SessionRecord, UserRecord};

    let Some(database) = symbolon_testkit::PgDatabase::create().await else {
        return;
    };
    let store = symbolon_store::connect(&database.url, 4).await.unwrap();
    store.migrate().await.unwrap();
    let now = 1_800_000_000;
    let user = UserRecord {
        id: UserId::generate(),
        username: "ida".into(),
        password_hash: "$argon2id$x".into(),
        created_at: now,
        disabled_at: None,
        credential_epoch: 0,
    };
    store.create_user(&user).await.unwrap();
    let session = SessionRecord {
        id: SessionId::generate(),
        user_id: user.id,
        username: "ida".into(),
        client_id: "symbolon".into(),
        generation: 0,
        created_at: now,
        rotated_at: now,
        last_used_at: now,
        absolute_end: now + 1000,
        revoked_at: None,
        user_agent: None,
        ip: None,
    };

    let raw = sqlx::PgPool::connect(&database.url).await.unwrap();
    let mut disable = raw.begin().await.unwrap();
    sqlx::query(
        "UPDATE users SET disabled_at = $1, credential_epoch = credential_epoch + 1 \
         WHERE id = $2 AND disabled_at IS NULL",
    )
    .bind(now)
    .bind(user.id.to_string())
    .execute(&mut *disable)
    .await
    .unwrap();
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(user.id.to_string())
        .execute(&mut *disable)
        .await
        .unwrap();

    let login = tokio::spawn({
        let store = store.clone();
        let session = session.clone();
        async move { store.create_session(&session, 0).await.unwrap() }
    });
    // Commit only once the insert has either finished or is waiting on a lock, so that
    // the insert certainly ran inside the disable's window.
    finished_or_waiting_on_a_lock(&raw, &login, "the insert").await;
    disable.commit().await.unwrap();
    let inserted = login.await.unwrap();
    let live = store.live_sessions(&user.id, now).await.unwrap();
    assert!(
        !inserted && live.is_empty(),
        "a login racing the disable left a live session (inserted: {inserted})"
    );
    raw.close().await;
}

/// PostgreSQL under READ COMMITTED: a purge picks a quiet throttle row while a fresh
/// failure, not yet committed, makes it live again; the purge's DELETE waits for the
/// failure and must then leave the row. PostgreSQL re-checks only the outer WHERE on the
/// new row version, not the subquery that chose the row, so without the conditions
/// repeated outside the purge deletes the live row and a guesser's count starts over.
/// The open transaction runs the update `Store::record_failure`'s upsert makes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_purge_racing_a_failure_keeps_the_count() {
    use symbolon_store::PurgeCutoffs;

    let Some(database) = symbolon_testkit::PgDatabase::create().await else {
        return;
    };
    let store = symbolon_store::connect(&database.url, 4).await.unwrap();
    store.migrate().await.unwrap();
    let now = 1_800_000_000;
    let window = 900;
    let key = "acct:ida";
    // Three failures long ago: decayed to nothing, so the row is purgeable now.
    for expected in 1..=3 {
        assert_eq!(
            store.record_failure(key, now - 5000, window).await.unwrap(),
            expected
        );
    }
    let cutoffs = PurgeCutoffs {
        sessions_ended_before: 0,
        sessions_revoked_before: 0,
        audit_before: 0,
        revocations_before: 0,
        throttle_quiet_before: now - window,
        failure_window: window,
    };

    let raw = sqlx::PgPool::connect(&database.url).await.unwrap();
    let mut failure = raw.begin().await.unwrap();
    // A failure now: five quiet windows took the three off, so the count starts at 1.
    let count: i64 = sqlx::query_scalar(
        "UPDATE throttle SET failures = 1, last_failure = $2 WHERE key = $1 RETURNING failures",
    )
    .bind(key)
    .bind(now)
    .fetch_one(&mut *failure)
    .await
    .unwrap();
    assert_eq!(count, 1);

    let purge = tokio::spawn({
        let store = store.clone();
        async move { store.purge(&cutoffs, 10).await.unwrap() }
    });
    // Commit only once the purge has either finished or is waiting on the row lock, so
    // that its DELETE certainly ran while the failure was not yet committed.
    finished_or_waiting_on_a_lock(&raw, &purge, "the purge").await;
    failure.commit().await.unwrap();
    let purged = purge.await.unwrap();
    assert_eq!(
        purged, 0,
        "the purge deleted the row a failure had made live"
    );
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT failures, last_failure FROM throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(&raw)
            .await
            .unwrap();
    assert_eq!(row, Some((1, now)), "the row is not the failure's");
    // So the next failure in the same second counts on from it.
    assert_eq!(
        store.record_failure(key, now, window).await.unwrap(),
        2,
        "the failure racing the purge was lost"
    );
    raw.close().await;
}
