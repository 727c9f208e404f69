//! Integration tests: a real server on loopback over a real SQLite file per test.
// Tests may panic on anything unexpected: that is how they fail.
#![allow(clippy::unwrap_used)]

mod helpers;

mod bad_input;
mod connections;
mod cookies;
mod durability;
mod faults;
mod feed;
mod interop;
mod jwt;
mod keys;
mod oauth;
mod ops;
mod properties;
mod rotation;
mod simple;
