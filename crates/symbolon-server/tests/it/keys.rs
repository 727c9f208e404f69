//! Signing-key rotation across a fleet: a new key is published by every instance before
//! any instance signs with it, and an instance that cannot read the keys stops signing
//! instead of signing with a key that may have been retired.

use crate::helpers::{spawn_app, TestApp, ALICE_PASSWORD};
use reqwest::StatusCode;
use serde_json::Value;
use symbolon_store::SigningKeyRecord;

fn kid(access_token: &str) -> String {
    jsonwebtoken::decode_header(access_token)
        .expect("header")
        .kid
        .expect("kid")
}

async fn published(app: &TestApp) -> Vec<String> {
    let response = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let jwks: Value = response.json().await.expect("json");
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

/// Logs in at each instance and checks that every instance publishes the `kid` of
/// every token issued; returns the kids that signed.
async fn sign_everywhere(fleet: &[&TestApp]) -> Vec<String> {
    let mut kids = Vec::new();
    for app in fleet {
        kids.push(kid(&app.login("alice", ALICE_PASSWORD).await.access));
    }
    for (i, app) in fleet.iter().enumerate() {
        let jwks = published(app).await;
        for kid in &kids {
            assert!(
                jwks.contains(kid),
                "instance {i} does not publish {kid}, which signs already"
            );
        }
    }
    kids
}

#[tokio::test]
async fn a_rotated_key_is_published_everywhere_before_it_signs() {
    let a = spawn_app().await;
    let b = a.another_instance().await;
    a.add_user("alice", ALICE_PASSWORD).await;
    let old = sign_everywhere(&[&a, &b]).await;
    assert_eq!(old[0], old[1]);

    // `keys rotate` through a: b has not reloaded (its reload period is a minute).
    let rotated = a.service().keys().rotate().await.expect("rotate");
    let delay = rotated.active_at - a.service().now();
    assert!(
        delay > 2 * a.config.key_refresh.0,
        "activation delay {delay} s"
    );
    assert_eq!(
        sign_everywhere(&[&a, &b]).await,
        old,
        "nobody signs with it yet"
    );
    assert!(published(&a).await.contains(&rotated.kid));

    // Just before activation: still the old key, and b (its view now older than the age
    // limit) has read the keys again and publishes the new one.
    a.clock.advance(delay - 1);
    assert_eq!(sign_everywhere(&[&a, &b]).await, old);
    assert!(published(&b).await.contains(&rotated.kid));

    // From the activation time on, every instance signs with it; the old key's tokens
    // are still accepted.
    let old_token = a.login("alice", ALICE_PASSWORD).await.access;
    a.clock.advance(1);
    let new = sign_everywhere(&[&a, &b]).await;
    assert_eq!(new, [rotated.kid.clone(), rotated.kid.clone()]);
    for app in [&a, &b] {
        let me = app.get("/me", Some(&old_token)).await;
        assert_eq!(me.status(), StatusCode::OK);
    }
}

/// An instance whose key reload keeps failing (here: a key it cannot open, as after a
/// rotation by an instance with another master key) must not go on signing with the key
/// it has once that key may be retired: past the age limit it reads the keys before
/// signing, and refuses when it cannot.
#[tokio::test]
async fn an_instance_that_cannot_read_the_keys_stops_signing() {
    let a = spawn_app().await;
    a.add_user("alice", ALICE_PASSWORD).await;
    let old = kid(&a.login("alice", ALICE_PASSWORD).await.access);
    let now = a.service().now();
    let delay = 2 * a.config.key_refresh.0 + a.config.leeway.0;
    let unreadable = SigningKeyRecord {
        kid: "unreadable".into(),
        alg: "EdDSA".into(),
        wrapped_private: vec![0; 64],
        created_at: now,
        active_at: now + delay,
        retired_at: None,
    };
    a.service()
        .store()
        .insert_signing_key(&unreadable, Some(now + delay))
        .await
        .expect("insert");

    a.clock.advance(delay);
    let login = a.login_response("alice", ALICE_PASSWORD).await;
    assert_eq!(
        login.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "signed with {old} after it retired"
    );
    let jwks = a.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
