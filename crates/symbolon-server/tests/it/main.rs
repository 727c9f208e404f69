//! Integration tests: a real server on loopback over a real SQLite file per test.

mod helpers;

mod bad_input;
mod jwt;
mod oauth;
mod ops;
mod properties;
mod rotation;
mod simple;
