//! The cases. Each takes a fresh, migrated store and must pass on every backend.

use futures::future::join_all;
use std::collections::HashSet;
use symbolon_core::ids::{Capability, SessionId, UserId};
use symbolon_store::{
    audit_kind, AuditEvent, ClientRecord, PurgeCutoffs, RotateCurrent, SessionRecord,
    SigningKeyRecord, Store, StoreError, UserRecord,
};

crate::conformance!(
    users_are_unique_case_insensitively,
    disabling_a_user_revokes_every_session,
    rotation_is_a_compare_and_swap,
    the_fast_path_rotates_only_a_current_live_token,
    concurrent_rotations_have_exactly_one_winner,
    revocation_happens_once_with_one_audit_row,
    password_change_keeps_only_the_current_session,
    a_session_starts_only_under_the_credentials_that_were_checked,
    throttle_counts_restart_after_the_window_and_blocks_never_shrink,
    the_quiet_window_starts_when_the_block_ends,
    key_rotation_retires_the_old_keys,
    clients_round_trip,
    purge_is_bounded_and_spares_live_rows,
    migrations_are_idempotent,
    every_revocation_enters_the_feed_once,
    a_reader_following_the_cursor_misses_no_concurrent_revocation,
    the_feed_is_purged_by_age,
);

const NOW: i64 = 1_800_000_000;

fn user(name: &str) -> UserRecord {
    UserRecord {
        id: UserId::generate(),
        username: name.into(),
        password_hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        created_at: NOW,
        disabled_at: None,
        credential_epoch: 0,
    }
}

fn session(user: &UserRecord, created_at: i64, ttl: i64) -> SessionRecord {
    SessionRecord {
        id: SessionId::generate(),
        user_id: user.id,
        username: user.username.clone(),
        client_id: "symbolon".into(),
        generation: 0,
        created_at,
        rotated_at: created_at,
        last_used_at: created_at,
        absolute_end: created_at + ttl,
        revoked_at: None,
        user_agent: Some("test/1.0".into()),
        ip: Some("127.0.0.1".into()),
    }
}

async fn with_session(store: &dyn Store, name: &str) -> (UserRecord, SessionRecord) {
    let u = user(name);
    store.create_user(&u).await.unwrap();
    let s = session(&u, NOW, 1000);
    assert!(store.create_session(&s, 0).await.unwrap());
    (u, s)
}

async fn users_are_unique_case_insensitively(store: &dyn Store) {
    let alice = user("Alice");
    store.create_user(&alice).await.unwrap();
    assert!(matches!(
        store.create_user(&user("alice")).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.user_by_name("alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.user_by_id(&alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_name("bob").await.unwrap(), None);
    store.create_user(&user("bob")).await.unwrap();
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["Alice", "bob"]);
}

async fn disabling_a_user_revokes_every_session(store: &dyn Store) {
    let (u, s) = with_session(store, "carol").await;
    let other = session(&u, NOW, 1000);
    assert!(store.create_session(&other, 0).await.unwrap());
    assert!(store.disable_user(&u.id, NOW + 1).await.unwrap());
    assert!(
        !store.disable_user(&u.id, NOW + 2).await.unwrap(),
        "second disable is a no-op"
    );
    assert_eq!(
        store.user_by_id(&u.id).await.unwrap().unwrap().disabled_at,
        Some(NOW + 1)
    );
    for id in [s.id, other.id] {
        assert_eq!(
            store.session(&id).await.unwrap().unwrap().revoked_at,
            Some(NOW + 1)
        );
    }
    assert!(store
        .live_sessions(&u.id, NOW + 1)
        .await
        .unwrap()
        .is_empty());
    let audit = store.recent_audit(10).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.kind == audit_kind::USER_DISABLED)
            .count(),
        1
    );
}

async fn rotation_is_a_compare_and_swap(store: &dyn Store) {
    let (_, s) = with_session(store, "dave").await;
    assert!(store.rotate(&s.id, 0, NOW + 5).await.unwrap());
    assert!(
        !store.rotate(&s.id, 0, NOW + 6).await.unwrap(),
        "stale generation loses"
    );
    let row = store.session(&s.id).await.unwrap().unwrap();
    assert_eq!(
        (row.generation, row.rotated_at, row.last_used_at),
        (1, NOW + 5, NOW + 5)
    );
    let event = AuditEvent::new(audit_kind::LOGOUT, NOW + 7);
    assert!(store.revoke_session(&s.id, "logout", &event).await.unwrap());
    assert!(
        !store.rotate(&s.id, 1, NOW + 8).await.unwrap(),
        "a revoked session never rotates"
    );
    assert!(!store.rotate(&SessionId::generate(), 0, NOW).await.unwrap());
}

async fn the_fast_path_rotates_only_a_current_live_token(store: &dyn Store) {
    let (_, s) = with_session(store, "dora").await; // created NOW, absolute end NOW + 1000
    let req = |generation, client_id, now| RotateCurrent {
        id: &s.id,
        generation,
        client_id,
        refresh_ttl: 100,
        now,
    };
    assert_eq!(
        store
            .rotate_current(&req(0, "other", NOW + 1))
            .await
            .unwrap(),
        None,
        "wrong client"
    );
    assert_eq!(
        store
            .rotate_current(&req(0, "symbolon", NOW + 100))
            .await
            .unwrap(),
        None,
        "idle-expired"
    );
    let row = store
        .rotate_current(&req(0, "symbolon", NOW + 99))
        .await
        .unwrap()
        .expect("rotated");
    assert_eq!(
        (row.generation, row.rotated_at, row.last_used_at),
        (1, NOW + 99, NOW + 99)
    );
    assert_eq!(
        store
            .rotate_current(&req(0, "symbolon", NOW + 99))
            .await
            .unwrap(),
        None,
        "stale"
    );
    // The token of generation 1 was issued at NOW + 99; the session ends at NOW + 1000.
    // Each token is presented 99 s after it was issued (idle lifetime 100 s), so only the
    // absolute end can stop the chain: generation t is issued at NOW + 99 t.
    for t in 1..=9u64 {
        let at = NOW + 99 * (t as i64 + 1);
        let row = store
            .rotate_current(&req(t, "symbolon", at))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("generation {t} rotates at NOW + {}", at - NOW));
        assert_eq!((row.generation, row.rotated_at), (t + 1, at));
    }
    // Generation 10 was issued at NOW + 990 and is fresh until NOW + 1090, but the
    // session ends at NOW + 1000: the chain stops exactly there.
    assert_eq!(
        store
            .rotate_current(&req(10, "symbolon", NOW + 1000))
            .await
            .unwrap(),
        None,
        "the absolute end stops the chain however fresh the token is"
    );
    assert_eq!(
        store
            .rotate_current(&req(10, "symbolon", NOW + 1089))
            .await
            .unwrap(),
        None,
        "still stopped after the absolute end"
    );
    let row = store
        .rotate_current(&req(10, "symbolon", NOW + 999))
        .await
        .unwrap()
        .expect("one second before the absolute end the chain still rotates");
    assert_eq!((row.generation, row.rotated_at), (11, NOW + 999));
    let (_, revoked) = with_session(store, "eve").await;
    let event = AuditEvent::new(audit_kind::LOGOUT, NOW);
    store
        .revoke_session(&revoked.id, "logout", &event)
        .await
        .unwrap();
    let req = RotateCurrent {
        id: &revoked.id,
        generation: 0,
        client_id: "symbolon",
        refresh_ttl: 100,
        now: NOW + 1,
    };
    assert_eq!(store.rotate_current(&req).await.unwrap(), None, "revoked");
}

async fn concurrent_rotations_have_exactly_one_winner(store: &dyn Store) {
    let (_, s) = with_session(store, "erin").await;
    let attempts = (0..16).map(|i| store.rotate(&s.id, 0, NOW + i));
    let results: Vec<bool> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(results.iter().filter(|won| **won).count(), 1, "{results:?}");
    assert_eq!(store.session(&s.id).await.unwrap().unwrap().generation, 1);
}

async fn revocation_happens_once_with_one_audit_row(store: &dyn Store) {
    let (u, s) = with_session(store, "frank").await;
    let event = AuditEvent {
        session_id: Some(s.id.to_string()),
        user_id: Some(u.id.to_string()),
        ..AuditEvent::new(audit_kind::REUSE_DETECTED, NOW + 3)
    };
    let results =
        join_all((0..4).map(|_| store.revoke_session(&s.id, "reuse_detected", &event))).await;
    assert_eq!(
        results.into_iter().filter(|r| *r.as_ref().unwrap()).count(),
        1
    );
    let audit = store.recent_audit(10).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.kind == audit_kind::REUSE_DETECTED)
            .count(),
        1
    );
    assert_eq!(audit[0], event);
}

async fn password_change_keeps_only_the_current_session(store: &dyn Store) {
    let (u, keep) = with_session(store, "grace").await;
    let other = session(&u, NOW, 1000);
    assert!(store.create_session(&other, 0).await.unwrap());
    store
        .change_password(&u.id, "$argon2id$new", Some(&keep.id), NOW + 1)
        .await
        .unwrap();
    assert_eq!(
        store
            .user_by_id(&u.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "$argon2id$new"
    );
    let live: Vec<SessionId> = store
        .live_sessions(&u.id, NOW + 1)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, [keep.id]);
    let event = AuditEvent {
        user_id: Some(u.id.to_string()),
        detail: Some("scope=global".into()),
        ..AuditEvent::new(audit_kind::LOGOUT, NOW + 2)
    };
    assert_eq!(
        store
            .revoke_user_sessions(&u.id, None, "logout", &event)
            .await
            .unwrap(),
        1
    );
    assert!(store
        .live_sessions(&u.id, NOW + 2)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.recent_audit(1).await.unwrap(),
        [event],
        "the revocation and its audit row are one write"
    );
}

/// A login reads the user (hash and epoch), checks the password for tens of
/// milliseconds, then inserts its session: a password change or a disable in between
/// must make the insert fail, or the session would outlive them.
async fn a_session_starts_only_under_the_credentials_that_were_checked(store: &dyn Store) {
    let u = user("hedy");
    store.create_user(&u).await.unwrap();
    let checked = store.user_by_name("hedy").await.unwrap().unwrap();
    assert_eq!(checked.credential_epoch, 0);
    store
        .change_password(&u.id, "$argon2id$new", None, NOW + 1)
        .await
        .unwrap();
    let late = session(&u, NOW + 1, 1000);
    assert!(
        !store
            .create_session(&late, checked.credential_epoch)
            .await
            .unwrap(),
        "a login checked against the old password started a session after the change"
    );
    assert!(store.session(&late.id).await.unwrap().is_none());

    let rechecked = store.user_by_name("hedy").await.unwrap().unwrap();
    assert_eq!(rechecked.credential_epoch, 1);
    // A rehash (same password, new parameters) replaces only the hash it was given and
    // keeps the epoch.
    assert!(!store
        .rehash_password(&u.id, "$argon2id$stale", "$argon2id$rehashed")
        .await
        .unwrap());
    assert!(store
        .rehash_password(&u.id, "$argon2id$new", "$argon2id$rehashed")
        .await
        .unwrap());
    let rehashed = store.user_by_name("hedy").await.unwrap().unwrap();
    assert_eq!(
        (rehashed.password_hash.as_str(), rehashed.credential_epoch),
        ("$argon2id$rehashed", 1)
    );
    let current = session(&u, NOW + 2, 1000);
    assert!(store
        .create_session(&current, rechecked.credential_epoch)
        .await
        .unwrap());

    assert!(store.disable_user(&u.id, NOW + 3).await.unwrap());
    let after_disable = store.user_by_id(&u.id).await.unwrap().unwrap();
    assert_eq!(after_disable.credential_epoch, 2);
    for epoch in [rechecked.credential_epoch, after_disable.credential_epoch] {
        let s = session(&u, NOW + 3, 1000);
        assert!(
            !store.create_session(&s, epoch).await.unwrap(),
            "a disabled user got a session (epoch {epoch})"
        );
    }
    assert!(store
        .live_sessions(&u.id, NOW + 3)
        .await
        .unwrap()
        .is_empty());
}

async fn throttle_counts_restart_after_the_window_and_blocks_never_shrink(store: &dyn Store) {
    let key = "acct:henry";
    for expected in 1..=3 {
        assert_eq!(store.record_failure(key, NOW, 60).await.unwrap(), expected);
    }
    assert_eq!(
        store.record_failure(key, NOW + 61, 60).await.unwrap(),
        3,
        "one quiet window takes one failure off the count"
    );
    assert_eq!(
        store.record_failure(key, NOW + 61 + 180, 60).await.unwrap(),
        1,
        "restarts after as many quiet windows as failures"
    );
    assert_eq!(store.blocked_until(&[key.into()]).await.unwrap(), 0);
    store.block(key, NOW + 100).await.unwrap();
    store.block(key, NOW + 50).await.unwrap();
    assert_eq!(
        store
            .blocked_until(&[key.into(), "ip:nobody".into()])
            .await
            .unwrap(),
        NOW + 100
    );
    // The latest of several keys, wherever it is in the list.
    store.record_failure("ip:192.0.2.7", NOW, 60).await.unwrap();
    store.block("ip:192.0.2.7", NOW + 300).await.unwrap();
    let keys = |list: &[&str]| list.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    for list in [
        keys(&["ip:192.0.2.7", key]),
        keys(&[key, "ip:nobody", "ip:192.0.2.7"]),
        keys(&["ip:nobody", "ip:192.0.2.7", key]),
    ] {
        assert_eq!(
            store.blocked_until(&list).await.unwrap(),
            NOW + 300,
            "{list:?}"
        );
    }
    assert_eq!(store.blocked_until(&[]).await.unwrap(), 0);
    store.clear_failures(key).await.unwrap();
    assert_eq!(store.blocked_until(&[key.into()]).await.unwrap(), 0);
}

/// Waiting out `failure_window` after the last failure must not restore the free
/// guesses: the quiet period counts from the end of the block, and each window of it
/// takes one failure off the count (else, with `max_backoff` = `failure_window`, an
/// attacker gets five fresh guesses every window or two instead of one per back-off).
async fn the_quiet_window_starts_when_the_block_ends(store: &dyn Store) {
    let key = "acct:ines";
    for expected in 1..=6 {
        assert_eq!(store.record_failure(key, NOW, 900).await.unwrap(), expected);
    }
    store.block(key, NOW + 900).await.unwrap();
    // 901 s after the last failure, but only 1 s after the block ended: still counting.
    assert_eq!(
        store.record_failure(key, NOW + 901, 900).await.unwrap(),
        7,
        "the count goes on after a block"
    );
    let block_end = NOW + 901 + 900;
    store.block(key, block_end).await.unwrap();
    // A whole window of quiet after that block buys back one guess, not all five.
    assert_eq!(
        store
            .record_failure(key, block_end + 901, 900)
            .await
            .unwrap(),
        7
    );
    // The purge keeps the row while its count has not decayed to nothing...
    let last = block_end + 901;
    let purge_at = |now: i64| PurgeCutoffs {
        sessions_ended_before: 0,
        sessions_revoked_before: 0,
        audit_before: 0,
        revocations_before: 0,
        throttle_quiet_before: now - 900,
        failure_window: 900,
    };
    store.purge(&purge_at(last + 2 * 900), 10).await.unwrap();
    assert_eq!(
        store
            .record_failure(key, last + 2 * 900, 900)
            .await
            .unwrap(),
        6,
        "two quiet windows took two failures off, and the purge left the row"
    );
    // ...and deletes it once it has: seven windows of quiet are a fresh start.
    let last = last + 2 * 900;
    assert_eq!(store.purge(&purge_at(last + 6 * 900), 10).await.unwrap(), 1);
    assert_eq!(
        store
            .record_failure(key, last + 6 * 900, 900)
            .await
            .unwrap(),
        1
    );
}

async fn key_rotation_retires_the_old_keys(store: &dyn Store) {
    let key = |kid: &str, at: i64, active_at: i64| SigningKeyRecord {
        kid: kid.into(),
        alg: "EdDSA".into(),
        wrapped_private: vec![1, 2, 3, 0, 255],
        created_at: at,
        active_at,
        retired_at: None,
    };
    store
        .insert_signing_key(&key("k1", NOW, NOW), None)
        .await
        .unwrap();
    // Published now, signing from NOW + 130; the old key signs until then.
    store
        .insert_signing_key(&key("k2", NOW + 10, NOW + 130), Some(NOW + 130))
        .await
        .unwrap();
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        ["k2", "k1"]
    );
    assert_eq!(
        (keys[0].retired_at, keys[1].retired_at),
        (None, Some(NOW + 130))
    );
    assert_eq!((keys[0].active_at, keys[1].active_at), (NOW + 130, NOW));
    assert_eq!(keys[1].wrapped_private, vec![1, 2, 3, 0, 255]);
    assert!(store
        .recent_audit(5)
        .await
        .unwrap()
        .iter()
        .any(|e| e.kind == audit_kind::KEY_ROTATED));
}

async fn clients_round_trip(store: &dyn Store) {
    let client = ClientRecord {
        client_id: "api".into(),
        secret_hash: Some("$argon2id$x".into()),
        created_at: NOW,
        capabilities: vec![Capability::Introspect],
    };
    store.create_client(&client).await.unwrap();
    assert!(matches!(
        store.create_client(&client).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.client("api").await.unwrap(), Some(client));
    let plain = ClientRecord {
        client_id: "app".into(),
        secret_hash: Some("$argon2id$y".into()),
        created_at: NOW,
        capabilities: vec![],
    };
    store.create_client(&plain).await.unwrap();
    assert_eq!(store.client("app").await.unwrap(), Some(plain));
    assert_eq!(store.client("nope").await.unwrap(), None);
}

async fn purge_is_bounded_and_spares_live_rows(store: &dyn Store) {
    let cutoffs = PurgeCutoffs {
        sessions_ended_before: NOW,
        sessions_revoked_before: NOW - 100,
        audit_before: NOW - 100,
        revocations_before: NOW - 100,
        throttle_quiet_before: NOW - 100,
        failure_window: 60,
    };
    store
        .record_failure("acct:stale", NOW - 200, 60)
        .await
        .unwrap();
    store
        .record_failure("acct:fresh", NOW - 50, 60)
        .await
        .unwrap();
    let u = user("ivan");
    store.create_user(&u).await.unwrap();
    let mut expired = HashSet::new();
    for _ in 0..5 {
        let s = session(&u, NOW - 2000, 1000);
        assert!(store.create_session(&s, 0).await.unwrap());
        expired.insert(s.id);
    }
    let live = session(&u, NOW, 1000);
    assert!(store.create_session(&live, 0).await.unwrap());
    // One batch: two of the five ended sessions, and the one stale throttle row.
    assert_eq!(store.purge(&cutoffs, 2).await.unwrap(), 3);
    // The rest, two rows a batch: three ended sessions are two more batches. A purge that
    // keeps reporting deleted rows (no progress, or live rows going) stops the test here.
    let mut batches = 0;
    while store.purge(&cutoffs, 2).await.unwrap() > 0 {
        batches += 1;
        assert!(
            batches <= 5,
            "purge still deleting rows after {batches} more batches of 2; 3 were left"
        );
    }
    for id in expired {
        assert_eq!(store.session(&id).await.unwrap(), None);
    }
    assert!(store.session(&live.id).await.unwrap().is_some());
    // The stale counter is gone (a new failure counts from 1), the fresh one is kept.
    assert_eq!(
        store.record_failure("acct:stale", NOW, 1000).await.unwrap(),
        1
    );
    assert_eq!(
        store.record_failure("acct:fresh", NOW, 1000).await.unwrap(),
        2
    );
}

async fn migrations_are_idempotent(store: &dyn Store) {
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

/// Everything in the feed now, in order: (seq, session).
async fn whole_feed(store: &dyn Store) -> Vec<(u64, SessionId)> {
    let head = store.feed_head().await.unwrap();
    store
        .revocations(0, head, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.seq, r.session_id))
        .collect()
}

/// Each way a session is revoked writes one entry (the trigger), a second revocation of
/// the same session none; a rotation writes none.
async fn every_revocation_enters_the_feed_once(store: &dyn Store) {
    let (u, one) = with_session(store, "feed-one").await;
    assert_eq!(store.feed_head().await.unwrap(), 0);
    assert!(store.rotate(&one.id, 0, NOW + 1).await.unwrap());
    assert!(
        whole_feed(store).await.is_empty(),
        "a rotation is no revocation"
    );
    let event = AuditEvent::new(audit_kind::LOGOUT, NOW + 2);
    assert!(store
        .revoke_session(&one.id, "logout", &event)
        .await
        .unwrap());
    assert!(!store
        .revoke_session(&one.id, "logout", &event)
        .await
        .unwrap());
    let (keep, other) = (session(&u, NOW, 1000), session(&u, NOW, 1000));
    for s in [&keep, &other] {
        assert!(store.create_session(s, 0).await.unwrap());
    }
    store
        .revoke_user_sessions(&u.id, Some(&keep.id), "logout_others", &event)
        .await
        .unwrap();
    let changed = session(&u, NOW, 1000);
    assert!(store.create_session(&changed, 0).await.unwrap());
    store
        .change_password(&u.id, "$argon2id$new", Some(&keep.id), NOW + 3)
        .await
        .unwrap();
    assert!(store.disable_user(&u.id, NOW + 4).await.unwrap());
    let feed = whole_feed(store).await;
    let sessions: Vec<SessionId> = feed.iter().map(|(_, s)| *s).collect();
    assert_eq!(sessions, vec![one.id, other.id, changed.id, keep.id]);
    let seqs: Vec<u64> = feed.iter().map(|(seq, _)| *seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(store.feed_head().await.unwrap(), *seqs.last().unwrap());
    let revoked_at: Vec<i64> = store
        .revocations(0, u64::MAX >> 1, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.revoked_at)
        .collect();
    assert_eq!(revoked_at, vec![NOW + 2, NOW + 2, NOW + 3, NOW + 4]);
}

/// The feed's promise to a reader that keeps only a cursor: once it has read up to the
/// head, no entry at or below it can appear later. Revocations commit concurrently
/// (on PostgreSQL from many connections, so ids are taken and committed out of order)
/// while a reader follows the head; it must end with every revoked session.
async fn a_reader_following_the_cursor_misses_no_concurrent_revocation(store: &dyn Store) {
    let u = user("feed-many");
    store.create_user(&u).await.unwrap();
    let sessions: Vec<SessionRecord> = (0..120).map(|_| session(&u, NOW, 1000)).collect();
    for s in &sessions {
        assert!(store.create_session(s, 0).await.unwrap());
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let writers = async {
        let event = AuditEvent::new(audit_kind::LOGOUT, NOW + 1);
        let event = &event;
        join_all(sessions.chunks(8).map(|chunk| async move {
            for s in chunk {
                store.revoke_session(&s.id, "logout", event).await.unwrap();
            }
        }))
        .await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let reader = async {
        let mut cursor = 0;
        let mut seen = HashSet::new();
        loop {
            let finished = done.load(std::sync::atomic::Ordering::SeqCst);
            let head = store.feed_head().await.unwrap();
            for r in store.revocations(cursor, head, 0, 1000).await.unwrap() {
                assert!(seen.insert(r.session_id), "{} answered twice", r.seq);
            }
            cursor = head;
            if finished {
                return seen;
            }
            tokio::task::yield_now().await;
        }
    };
    let ((), seen) = tokio::join!(writers, reader);
    let all: HashSet<SessionId> = sessions.iter().map(|s| s.id).collect();
    let missed = all.difference(&seen).count();
    assert_eq!(
        missed,
        0,
        "the reader missed {missed} of {} revocations",
        all.len()
    );
}

/// Entries older than the cutoff go with the purge; younger ones stay, and a new entry
/// never reuses the number of a purged one.
async fn the_feed_is_purged_by_age(store: &dyn Store) {
    let u = user("feed-old");
    store.create_user(&u).await.unwrap();
    let (old, young) = (session(&u, NOW, 1000), session(&u, NOW, 1000));
    for (s, at) in [(&old, NOW - 500), (&young, NOW - 10)] {
        assert!(store.create_session(s, 0).await.unwrap());
        let event = AuditEvent::new(audit_kind::LOGOUT, at);
        assert!(store.revoke_session(&s.id, "logout", &event).await.unwrap());
    }
    let before = whole_feed(store).await;
    let cutoffs = PurgeCutoffs {
        sessions_ended_before: 0,
        sessions_revoked_before: 0,
        audit_before: 0,
        revocations_before: NOW - 100,
        throttle_quiet_before: 0,
        failure_window: 60,
    };
    assert_eq!(store.purge(&cutoffs, 100).await.unwrap(), 1);
    let after = whole_feed(store).await;
    assert_eq!(after, vec![before[1]]);
    // The newest entry purged too: the next one is still numbered above it.
    let cutoffs = PurgeCutoffs {
        revocations_before: NOW,
        ..cutoffs
    };
    assert_eq!(store.purge(&cutoffs, 100).await.unwrap(), 1);
    let next = session(&u, NOW, 1000);
    assert!(store.create_session(&next, 0).await.unwrap());
    let event = AuditEvent::new(audit_kind::LOGOUT, NOW);
    assert!(store
        .revoke_session(&next.id, "logout", &event)
        .await
        .unwrap());
    let feed = whole_feed(store).await;
    assert_eq!(feed.len(), 1);
    assert!(feed[0].0 > before[1].0, "{feed:?} after {before:?}");
}
