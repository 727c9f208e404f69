//! One conformance suite, run against every backend: SQLite always, PostgreSQL when
//! `SYMBOLON_TEST_POSTGRES_URL` is set (CI sets it). Each PostgreSQL test gets a
//! database of its own, dropped afterwards, so tests run in parallel.

mod backends;
mod suite;
