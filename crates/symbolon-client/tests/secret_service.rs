//! The Secret Service for real: GNOME Keyring on a private D-Bus session, started by the
//! test (see `support/secret_service.rs`); skipped with a message where it cannot run,
//! unless `SYMBOLON_TEST_KEYRING=required`.
//!
//! One test in its own binary: it points `DBUS_SESSION_BUS_ADDRESS` at the private bus
//! before any other thread exists.

#![cfg(feature = "keyring")]

#[path = "support/keyring_cases.rs"]
mod keyring_cases;
#[path = "support/secret_service.rs"]
mod secret_service;

use symbolon_client::Keyring;

#[test]
fn the_secret_service_keeps_keys_and_tokens() {
    let Some(service) = secret_service::SecretService::start() else {
        return;
    };
    // Before the runtime starts: no other thread reads the environment.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &service.bus);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        keyring_cases::key_lives_in(Keyring::Platform).await;
        keyring_cases::tokens_live_in(Keyring::Platform).await;
    });
}
