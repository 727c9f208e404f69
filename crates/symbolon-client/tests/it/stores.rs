//! Token stores: round trips, encryption at rest, atomic writes, damaged files.

use std::path::Path;
use symbolon_client::{
    choose_key_from, EncryptedFileStore, Error, KeyFile, KeyProvider, MemoryStore, PassphraseKey,
    Protection, Secret, StoreKey, StoredTokens, TokenStore,
};

fn sample(n: u32) -> StoredTokens {
    StoredTokens {
        access_token: Secret::new(format!("eyJhbGciOiJFZERTQSJ9.access-token-number-{n}.sig")),
        refresh_token: Secret::new(format!("refresh-token-secret-value-{n}")),
        session_id: format!("session-{n}"),
        expires_in: 900,
        obtained: Some(symbolon_client::expiry::BootStamp {
            boot_id: "boot".into(),
            since_boot_ms: 1000,
        }),
        in_doubt: None,
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn memory_store_round_trips() {
    let store = MemoryStore::new();
    assert_eq!(store.load().await.expect("load"), None);
    store.save(&sample(1)).await.expect("save");
    assert_eq!(store.load().await.expect("load"), Some(sample(1)));
    store.clear().await.expect("clear");
    assert_eq!(store.load().await.expect("load"), None);
}

#[tokio::test]
async fn file_store_round_trips_encrypted_with_mode_0600() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("profiles").join("default.tokens");
    let store = EncryptedFileStore::new(&path, StoreKey::generate());
    assert_eq!(store.load().await.expect("load"), None);
    store.save(&sample(1)).await.expect("save");
    store.save(&sample(2)).await.expect("save again");
    assert_eq!(store.load().await.expect("load"), Some(sample(2)));

    let raw = std::fs::read(&path).expect("raw");
    for needle in [
        sample(2).access_token.expose(),
        sample(2).refresh_token.expose(),
        "refresh-token",
        "session-2",
    ] {
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} in clear"
        );
    }
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().expect("dir")), 0o700);
    assert_eq!(
        std::fs::read_dir(path.parent().expect("dir"))
            .expect("ls")
            .count(),
        1,
        "no temp files left"
    );

    store.clear().await.expect("clear");
    assert_eq!(store.load().await.expect("load"), None);
    assert!(!path.exists());
}

#[tokio::test]
async fn a_crash_before_the_rename_leaves_the_previous_tokens() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("default.tokens");
    let store = EncryptedFileStore::new(&path, StoreKey::generate());
    store.save(&sample(1)).await.expect("save");
    // What a crash between write and rename leaves: a half-written temporary file.
    std::fs::write(
        dir.path().join(".default.tokens.tmp-999-0000000000000001"),
        b"SYMBTOK1 half written",
    )
    .expect("stray");
    assert_eq!(store.load().await.expect("load"), Some(sample(1)));
    store
        .save(&sample(2))
        .await
        .expect("a later save still works");
    assert_eq!(store.load().await.expect("load"), Some(sample(2)));
}

#[tokio::test]
async fn a_damaged_file_is_moved_aside_and_reported() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("default.tokens");
    let store = EncryptedFileStore::new(&path, StoreKey::generate());
    store.save(&sample(1)).await.expect("save");
    let mut raw = std::fs::read(&path).expect("raw");
    let last = raw.len() - 1;
    raw[last] ^= 1;
    std::fs::write(&path, &raw).expect("damage");

    let err = store.load().await.expect_err("damaged");
    let Error::Corrupt { moved_to, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(err.to_string().contains("cannot be decrypted"), "{err}");
    assert!(!path.exists(), "moved away");
    assert_eq!(
        std::fs::read(moved_to).expect("kept"),
        raw,
        "nothing deleted"
    );
    assert!(moved_to
        .file_name()
        .expect("name")
        .to_string_lossy()
        .starts_with("default.tokens.corrupt-"));
    assert_eq!(store.load().await.expect("load"), None, "a fresh start");
}

#[tokio::test]
async fn a_wrong_key_is_reported_like_damage() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("default.tokens");
    EncryptedFileStore::new(&path, StoreKey::generate())
        .save(&sample(1))
        .await
        .expect("save");
    let err = EncryptedFileStore::new(&path, StoreKey::generate())
        .load()
        .await
        .expect_err("wrong key");
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
}

#[test]
fn key_file_is_created_0600_and_reused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("keys").join("default.key");
    let a = KeyFile::new(&path).key().expect("key");
    let b = KeyFile::new(&path).key().expect("key again");
    assert_eq!(format!("{a:?}"), "StoreKey([redacted])");
    assert_eq!(mode(&path), 0o600);
    // Same key: what one encrypts the other decrypts.
    let rt = tokio::runtime::Runtime::new().expect("rt");
    rt.block_on(async {
        let file = dir.path().join("t");
        EncryptedFileStore::new(&file, a)
            .save(&sample(1))
            .await
            .expect("save");
        assert_eq!(
            EncryptedFileStore::new(&file, b)
                .load()
                .await
                .expect("load"),
            Some(sample(1))
        );
    });
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = KeyFile::new(&path).key().expect_err("readable by others");
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

#[test]
fn passphrase_key_is_stable_per_salt_and_differs_by_passphrase() {
    let dir = tempfile::tempdir().expect("dir");
    let salt = dir.path().join("default.salt");
    let key = |p: &str| {
        format!(
            "{:?}",
            PassphraseKey::with_cost(Secret::new(p), &salt, 64, 1)
                .key()
                .expect("key")
                .clone()
        )
    };
    // Keys redact their Debug, so compare by what they decrypt.
    assert_eq!(key("one"), "StoreKey([redacted])");
    let rt = tokio::runtime::Runtime::new().expect("rt");
    rt.block_on(async {
        let file = dir.path().join("t");
        let open = |p: &str| {
            EncryptedFileStore::open(
                &file,
                &PassphraseKey::with_cost(Secret::new(p), &salt, 64, 1),
            )
            .expect("open")
        };
        open("a passphrase").save(&sample(3)).await.expect("save");
        assert_eq!(
            open("a passphrase").load().await.expect("load"),
            Some(sample(3))
        );
        assert!(matches!(
            open("another passphrase").load().await,
            Err(Error::Corrupt { .. })
        ));
    });
    assert_eq!(mode(&salt), 0o600);
}

#[test]
fn secrets_do_not_show_in_debug() {
    let text = format!("{:?}", sample(7));
    assert!(!text.contains("refresh-token-secret"), "{text}");
    assert!(!text.contains("access-token-number"), "{text}");
    assert!(text.contains("session-7"));
}

/// Without a keyring the choice falls back to a key file, and says so; with a
/// passphrase, to Argon2id, and says so.
#[test]
fn choose_key_falls_back_loudly() {
    let dir = tempfile::tempdir().expect("dir");
    let choice = choose_key_from(&[], dir.path(), "it-fallback", None).expect("a key");
    assert_eq!(choice.protection, Protection::KeyFile);
    assert_eq!(choice.keyring, None);
    let warning = choice.warning.expect("a fallback is announced");
    assert!(warning.contains("no OS keyring"), "{warning}");
    assert!(warning.contains("weaker protection"), "{warning}");
    assert_eq!(mode(&dir.path().join("it-fallback.key")), 0o600);

    let choice = choose_key_from(
        &[],
        dir.path(),
        "it-fallback",
        Some(Secret::new("pass phrase")),
    )
    .expect("key");
    assert_eq!(choice.protection, Protection::Passphrase);
    assert!(choice
        .warning
        .expect("announced")
        .contains("SYMBOLON_PASSPHRASE"));
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::{mode, sample};
    use symbolon_client::{Error, SqliteTokenStore, StaticKey, StoreKey, TokenStore};

    fn contains(haystack: &[u8], needle: &str) -> bool {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }

    #[tokio::test]
    async fn sqlite_store_round_trips() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("tokens.db");
        let store = SqliteTokenStore::new(&path, "default", StoreKey::generate())
            .await
            .expect("open");
        assert_eq!(store.load().await.expect("load"), None);
        store.save(&sample(1)).await.expect("save");
        assert_eq!(store.load().await.expect("load"), Some(sample(1)));
        store.save(&sample(2)).await.expect("save again");
        assert_eq!(store.load().await.expect("load"), Some(sample(2)));
        assert!(store.lock().await.expect("lock").is_some());
        assert!(dir.path().join("tokens.db.default.lock").exists());
    }

    #[tokio::test]
    async fn sqlite_store_keeps_two_profiles_in_one_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("tokens.db");
        let key = StoreKey::generate();
        let work = SqliteTokenStore::open(&path, "work", &StaticKey(key.clone()))
            .await
            .expect("open");
        let home = SqliteTokenStore::new(&path, "home", key)
            .await
            .expect("open");
        work.save(&sample(1)).await.expect("save");
        home.save(&sample(2)).await.expect("save");
        assert_eq!(work.load().await.expect("load"), Some(sample(1)));
        assert_eq!(home.load().await.expect("load"), Some(sample(2)));
        let other = work.with_profile("other").expect("profile");
        assert_eq!(other.load().await.expect("load"), None);
        assert!(SqliteTokenStore::new(&path, "../x", StoreKey::generate())
            .await
            .is_err());
        // The two profiles lock independently.
        let _w = work.lock().await.expect("lock");
        let _h = home.lock().await.expect("lock");
    }

    #[tokio::test]
    async fn sqlite_store_clear_removes_only_its_profile() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("tokens.db");
        let key = StoreKey::generate();
        let a = SqliteTokenStore::new(&path, "a", key.clone())
            .await
            .expect("open");
        let b = a.with_profile("b").expect("profile");
        a.save(&sample(1)).await.expect("save");
        b.save(&sample(2)).await.expect("save");
        a.clear().await.expect("clear");
        a.clear().await.expect("clear twice");
        assert_eq!(a.load().await.expect("load"), None);
        assert_eq!(b.load().await.expect("load"), Some(sample(2)));
    }

    #[tokio::test]
    async fn sqlite_store_has_no_token_bytes_in_clear_and_is_0600() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("private").join("tokens.db");
        let store = SqliteTokenStore::new(&path, "default", StoreKey::generate())
            .await
            .expect("open");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().expect("dir")), 0o700);
        store.save(&sample(5)).await.expect("save");

        let wal = dir.path().join("private").join("tokens.db-wal");
        assert!(wal.exists(), "WAL mode");
        let mut raw = std::fs::read(&path).expect("db");
        raw.extend(std::fs::read(&wal).expect("wal"));
        assert!(contains(&raw, "SYMBTOK2"), "the sealed record is there");
        for needle in [
            sample(5).refresh_token.expose(),
            sample(5).access_token.expose(),
            "refresh-token",
            "session-5",
        ] {
            assert!(!contains(&raw, needle), "{needle} in clear");
        }
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&wal), 0o600);
    }

    #[tokio::test]
    async fn sqlite_store_refuses_a_row_moved_to_another_profile() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("tokens.db");
        let work = SqliteTokenStore::new(&path, "work", StoreKey::generate())
            .await
            .expect("open");
        let home = work.with_profile("home").expect("profile");
        work.save(&sample(1)).await.expect("save");
        home.save(&sample(2)).await.expect("save");

        // Someone who can write the database swaps the two rows' sealed values.
        let pool = raw_pool(&path).await;
        let sealed = |profile: &'static str| {
            sqlx::query_scalar::<_, Vec<u8>>("SELECT sealed FROM tokens WHERE profile = ?")
                .bind(profile)
                .fetch_one(&pool)
        };
        let (of_work, of_home) = (
            sealed("work").await.expect("row"),
            sealed("home").await.expect("row"),
        );
        for (profile, value) in [("work", of_home), ("home", of_work)] {
            sqlx::query("UPDATE tokens SET sealed = ? WHERE profile = ?")
                .bind(value)
                .bind(profile)
                .execute(&pool)
                .await
                .expect("swap");
        }
        pool.close().await;

        for store in [&work, &home] {
            let err = store.load().await.expect_err("swapped row");
            assert!(matches!(err, Error::CorruptRecord { .. }), "{err:?}");
        }
    }

    async fn raw_pool(path: &std::path::Path) -> sqlx::SqlitePool {
        sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(path))
            .await
            .expect("connect")
    }

    #[tokio::test]
    async fn sqlite_store_reports_a_corrupt_row_and_keeps_it() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("tokens.db");
        let store = SqliteTokenStore::new(&path, "default", StoreKey::generate())
            .await
            .expect("open");
        store.save(&sample(1)).await.expect("save");

        // Flip the last byte of the sealed value (the Poly1305 tag).
        let pool = raw_pool(&path).await;
        let (sealed,): (Vec<u8>,) =
            sqlx::query_as("SELECT sealed FROM tokens WHERE profile = 'default'")
                .fetch_one(&pool)
                .await
                .expect("row");
        let mut damaged = sealed.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        sqlx::query("UPDATE tokens SET sealed = ? WHERE profile = 'default'")
            .bind(&damaged)
            .execute(&pool)
            .await
            .expect("damage");

        let err = store.load().await.expect_err("damaged");
        assert!(matches!(err, Error::CorruptRecord { .. }), "{err:?}");
        let err = store.load().await.expect_err("still damaged");
        assert!(matches!(err, Error::CorruptRecord { .. }), "{err:?}");
        let (kept,): (Vec<u8>,) =
            sqlx::query_as("SELECT sealed FROM tokens WHERE profile = 'default'")
                .fetch_one(&pool)
                .await
                .expect("the row is kept");
        assert_eq!(kept, damaged);

        // A wrong key is reported the same way.
        let err = SqliteTokenStore::new(&path, "default", StoreKey::generate())
            .await
            .expect("open")
            .load()
            .await
            .expect_err("wrong key");
        assert!(matches!(err, Error::CorruptRecord { .. }), "{err:?}");
        pool.close().await;
    }

    /// SQLCipher: no page of the database is in clear (no SQLite header, no table or
    /// profile names), the tokens round-trip, and a wrong key or a plain SQLite
    /// connection is refused with the file kept.
    #[cfg(feature = "sqlcipher")]
    #[tokio::test]
    async fn sqlcipher_store_encrypts_the_whole_database() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("tokens.db");
        let key = StoreKey::generate();
        let store = SqliteTokenStore::new_sqlcipher(&path, "work-profile", key.clone())
            .await
            .expect("open");
        store.save(&sample(7)).await.expect("save");
        assert_eq!(store.load().await.expect("load"), Some(sample(7)));
        assert_eq!(mode(&path), 0o600);

        let mut raw = std::fs::read(&path).expect("db");
        if let Ok(wal) = std::fs::read(dir.path().join("tokens.db-wal")) {
            raw.extend(wal);
        }
        for needle in [
            "SQLite format 3",
            "CREATE TABLE",
            "work-profile",
            "SYMBTOK",
            "session-7",
        ] {
            assert!(!contains(&raw, needle), "{needle} in clear");
        }

        let again = SqliteTokenStore::new_sqlcipher(&path, "work-profile", key)
            .await
            .expect("reopen");
        assert_eq!(again.load().await.expect("load"), Some(sample(7)));

        let err = SqliteTokenStore::new_sqlcipher(&path, "work-profile", StoreKey::generate())
            .await
            .expect_err("wrong key");
        assert!(err.to_string().contains("wrong key"), "{err}");
        let err = SqliteTokenStore::new(&path, "work-profile", StoreKey::generate())
            .await
            .expect_err("not plain SQLite");
        assert!(matches!(err, Error::Store { .. }), "{err:?}");
        assert!(path.exists(), "the file is kept");
    }
}

/// A link planted where the lock file goes is not followed: locking fails and nothing
/// is created or truncated at the link's target.
#[tokio::test]
async fn the_lock_file_is_never_a_link() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("victim");
    std::fs::write(&target, "keep me").expect("victim");
    std::os::unix::fs::symlink(&target, dir.path().join("tokens.lock")).expect("link");
    let store = EncryptedFileStore::new(dir.path().join("tokens"), StoreKey::generate());
    let err = store.lock().await.expect_err("a link is refused");
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
    assert_eq!(std::fs::read_to_string(&target).expect("victim"), "keep me");
}

/// A directory that group or others can write to is refused: they could swap the files
/// in it or plant links.
#[tokio::test]
async fn a_directory_others_can_write_to_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    for mode in [0o770, 0o707] {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).expect("chmod");
        let store = EncryptedFileStore::new(dir.path().join("tokens"), StoreKey::generate());
        let err = store.save(&sample(1)).await.expect_err("refused");
        assert!(
            err.to_string().contains("group or others"),
            "{mode:o}: {err}"
        );
        assert!(store.lock().await.is_err(), "{mode:o}");
        assert!(!dir.path().join("tokens").exists());
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let store = EncryptedFileStore::new(dir.path().join("tokens"), StoreKey::generate());
    store
        .save(&sample(1))
        .await
        .expect("a private directory is fine");
}
