//! Integration tests: the SDK against a real symbolon server on loopback, over real
//! SQLite and token files.

mod helpers;

#[path = "../support/keyring_cases.rs"]
mod keyring_cases;
#[path = "../support/secret_service.rs"]
mod secret_service;

mod failures;
mod keyrings;
mod listener;
mod lost_answers;
mod origins;
mod processes;
mod redirects;
mod refresh;
mod stores;
