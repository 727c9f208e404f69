//! The kernel keyring for real (Linux; skipped with a message where the kernel refuses,
//! unless `SYMBOLON_TEST_KEYRING=required`). The Secret Service has its own test binary,
//! `tests/secret_service.rs`.

#![cfg(all(feature = "keyring", target_os = "linux"))]

use crate::keyring_cases;
use crate::secret_service::unavailable;
use symbolon_client::{Keyring, KeyringTokenStore};

async fn kernel_keyring_works() -> bool {
    match KeyringTokenStore::probe(&[Keyring::Kernel], "it-probe").await {
        Ok(_) => true,
        Err(e) => {
            unavailable(&format!("the kernel keyring cannot be used here ({e})"));
            false
        }
    }
}

#[tokio::test]
async fn the_kernel_keyring_keeps_the_file_key() {
    if kernel_keyring_works().await {
        keyring_cases::key_lives_in(Keyring::Kernel).await;
    }
}

#[tokio::test]
async fn the_kernel_keyring_keeps_tokens() {
    if kernel_keyring_works().await {
        keyring_cases::tokens_live_in(Keyring::Kernel).await;
    }
}

/// Without any keyring a store cannot be probed, and the error says why.
#[tokio::test]
async fn probing_no_keyring_says_so() {
    let err = KeyringTokenStore::probe(&[], "it-none")
        .await
        .expect_err("nothing to probe");
    assert!(err.to_string().contains("no keyring"), "{err}");
}
