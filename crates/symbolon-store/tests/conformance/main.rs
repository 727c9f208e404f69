//! One conformance suite, run against every backend: SQLite always, PostgreSQL when
//! `SYMBOLON_TEST_POSTGRES_URL` is set (CI sets it). Each PostgreSQL test gets a
//! database of its own, dropped afterwards, so tests run in parallel.
// Tests may panic on anything unexpected: that is how they fail.
#![allow(clippy::unwrap_used)]

mod backends;
mod suite;

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
    assert!(err.to_string().contains("cache=shared"), "{err}");
}
