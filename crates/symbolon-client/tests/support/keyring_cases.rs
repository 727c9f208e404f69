//! What every OS keyring must do for symbolon, run against each real keyring the machine
//! has: the kernel keyring (`tests/it/keyrings.rs`) and a private Secret Service
//! (`tests/secret_service.rs`).

#![allow(dead_code)] // Each test crate uses its own part.

use symbolon_client::keyring::{forget_key, MAX_SECRET_BYTES};
use symbolon_client::{
    choose_key_from, EncryptedFileStore, Error, Keyring, KeyringTokenStore, Protection, Secret,
    StoredTokens, TokenStore,
};

/// A unique name, so runs and machines sharing a keyring do not meet.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{:x}", std::process::id(), rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

pub fn tokens(n: u32, access_len: usize) -> StoredTokens {
    let mut access = format!("eyJhbGciOiJFZERTQSJ9.access-token-number-{n}.");
    while access.len() < access_len {
        access.push('s');
    }
    StoredTokens {
        access_token: Secret::new(access),
        refresh_token: Secret::new(format!("refresh-token-secret-value-{n}")),
        session_id: format!("session-{n}"),
        expires_in: 900,
        obtained: None,
        in_doubt: None,
    }
}

/// The token file's key: created in `keyring` on first use (no key file, no fallback
/// warning; a note only for a keyring that forgets at restart), found again afterwards,
/// and gone once forgotten.
pub async fn key_lives_in(keyring: Keyring) {
    let dir = tempfile::tempdir().expect("dir");
    let name = unique("it-key");
    let first = choose_key_from(&[keyring], dir.path(), &name, None).expect("key");
    assert_eq!(first.keyring, Some(keyring));
    assert_eq!(first.protection, Protection::Keystore);
    assert_eq!(
        first.warning.is_some(),
        !keyring.survives_restart(),
        "{:?}",
        first.warning
    );
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").next().is_none(),
        "no key file, no salt"
    );
    let file = dir.path().join("tokens");
    EncryptedFileStore::new(&file, first.key)
        .save(&tokens(1, 0))
        .await
        .expect("save");

    let again = choose_key_from(&[keyring], dir.path(), &name, None).expect("key");
    assert_eq!(
        again.warning, None,
        "nothing to say about a key that was there"
    );
    assert_eq!(
        EncryptedFileStore::new(&file, again.key)
            .load()
            .await
            .expect("the same key"),
        Some(tokens(1, 0))
    );
    forget_key(keyring, &name).expect("forget");
    forget_key(keyring, &name).expect("forgetting twice is fine");
}

/// Tokens directly in the keyring: round trip, replace, clear, a record too large for
/// every platform refused with the old tokens kept.
pub async fn tokens_live_in(keyring: Keyring) {
    let profile = unique("it-tokens");
    let store = KeyringTokenStore::probe(&[keyring], &profile)
        .await
        .expect("the keyring answers");
    assert_eq!(store.keyring(), keyring);
    assert_eq!(store.load().await.expect("load"), None);
    store.save(&tokens(1, 0)).await.expect("save");
    assert_eq!(store.load().await.expect("load"), Some(tokens(1, 0)));
    store.save(&tokens(2, 900)).await.expect("replace");
    let other = KeyringTokenStore::new(keyring, &profile);
    assert_eq!(
        other.load().await.expect("load"),
        Some(tokens(2, 900)),
        "another handle on the same profile sees the tokens"
    );

    let err = store
        .save(&tokens(3, MAX_SECRET_BYTES))
        .await
        .expect_err("too large");
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
    assert!(err.to_string().contains("2560"), "{err}");
    assert_eq!(
        store.load().await.expect("load"),
        Some(tokens(2, 900)),
        "kept"
    );

    store.clear().await.expect("clear");
    store.clear().await.expect("clear twice");
    assert_eq!(store.load().await.expect("load"), None);
}
