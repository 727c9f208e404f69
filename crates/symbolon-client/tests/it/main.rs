//! Integration tests: the SDK against a real symbolon server on loopback, over real
//! SQLite and token files.

mod helpers;

mod failures;
mod processes;
mod refresh;
mod stores;
