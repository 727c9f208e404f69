//! One conformance suite, run against every backend: SQLite always, PostgreSQL when
//! `SYMBOLON_TEST_POSTGRES_URL` is set (CI sets it). Each PostgreSQL test gets a
//! database of its own, dropped afterwards, so tests run in parallel.
// Tests may panic on anything unexpected: that is how they fail.
#![allow(clippy::unwrap_used)]

mod backends;
mod suite;

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
