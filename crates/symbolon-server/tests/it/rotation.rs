//! The rotation rules of `docs/API.md` §1, over HTTP: successors, grace, reuse, expiry, races.

use crate::helpers::*;
use reqwest::StatusCode;
use std::collections::HashSet;

#[tokio::test]
async fn a_refresh_returns_a_working_successor_and_new_access_token() {
    let app = spawn_app().await;
    let first = app.alice().await;
    let second = app.refresh(&first.refresh).await;
    assert_ne!(second.refresh, first.refresh);
    assert_ne!(second.access, first.access);
    assert_eq!(second.session_id, first.session_id);
    assert_eq!(
        app.get("/me", Some(&second.access)).await.status(),
        StatusCode::OK
    );
    let third = app.refresh(&second.refresh).await;
    assert_ne!(third.refresh, second.refresh);
}

#[tokio::test]
async fn a_replay_within_the_grace_returns_the_same_successor() {
    let app = spawn_app().await;
    let first = app.alice().await;
    let second = app.refresh(&first.refresh).await;
    app.clock.advance(10); // reuse_grace is 10 s: still inside.
    let again = app.refresh(&first.refresh).await;
    assert_eq!(again.refresh, second.refresh);
    assert_ne!(
        again.access, second.access,
        "a fresh access token each time"
    );
    // The successor still works: the session did not fork or die.
    app.refresh(&second.refresh).await;
}

#[tokio::test]
async fn a_replay_after_the_grace_revokes_the_session() {
    let app = spawn_app().await;
    let first = app.alice().await;
    let second = app.refresh(&first.refresh).await;
    app.clock.advance(11);
    let body = assert_error(
        app.refresh_response(&first.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_eq!(body["error_description"], "refresh token reuse detected");
    // Every token of the session stops working, the newest included.
    assert_error(
        app.refresh_response(&second.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    let me = app.get("/me", Some(&second.access)).await;
    assert_error(me, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // And the audit table says so, with the session id.
    let events = app.service().store().recent_audit(10).await.unwrap();
    let reuse = events
        .iter()
        .find(|e| e.kind == "reuse_detected")
        .expect("reuse audited");
    assert_eq!(reuse.session_id.as_deref(), Some(first.session_id.as_str()));
}

#[tokio::test]
async fn a_replay_once_the_successor_was_used_is_reuse_even_within_the_grace() {
    let app = spawn_app().await;
    let first = app.alice().await;
    let second = app.refresh(&first.refresh).await;
    let third = app.refresh(&second.refresh).await;
    let body = assert_error(
        app.refresh_response(&first.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_eq!(body["error_description"], "refresh token reuse detected");
    assert_error(
        app.refresh_response(&third.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn sixteen_concurrent_refreshes_of_one_token_all_get_the_same_successor() {
    let app = spawn_app().await;
    let first = app.alice().await;
    let calls = (0..16).map(|_| {
        let request = app
            .http
            .post(format!("{}/token/refresh", app.url))
            .json(&serde_json::json!({"refresh_token": first.refresh}));
        async move { request.send().await.expect("request") }
    });
    let responses = join_all(calls).await;
    let mut successors = HashSet::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        let tokens = Tokens::from_value(response.json().await.unwrap());
        successors.insert(tokens.refresh);
    }
    assert_eq!(successors.len(), 1, "one successor, no fork");
    let successor = successors.into_iter().next().unwrap();
    app.refresh(&successor).await;
    let rotated = app.service().metrics().encode();
    assert!(
        rotated.contains("symbolon_refresh_total{outcome=\"rotated\"} 2"),
        "{rotated}"
    );
    assert!(
        rotated.contains("symbolon_refresh_total{outcome=\"grace_replay\"} 15"),
        "{rotated}"
    );
}

#[tokio::test]
async fn an_idle_refresh_token_expires_after_refresh_ttl() {
    let app = spawn_with(|c| c.refresh_ttl = secs(3600)).await;
    let first = app.alice().await;
    assert_eq!(first.body["refresh_token_expires_in"], 3600);
    app.clock.advance(3599);
    let second = app.refresh(&first.refresh).await;
    app.clock.advance(3600);
    let body = assert_error(
        app.refresh_response(&second.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_eq!(body["error_description"], "refresh token expired");
}

#[tokio::test]
async fn the_session_absolute_end_caps_every_refresh_token() {
    let app = spawn_with(|c| {
        c.refresh_ttl = secs(1000);
        c.session_ttl = secs(2500);
    })
    .await;
    let mut tokens = app.alice().await;
    assert_eq!(tokens.body["refresh_token_expires_in"], 1000);
    // (seconds to wait, then the refresh token's lifetime): capped by the end at 2500 s.
    for (wait, expected) in [(900, 1000), (900, 700), (600, 100)] {
        app.clock.advance(wait);
        tokens = app.refresh(&tokens.refresh).await;
        assert_eq!(tokens.body["refresh_token_expires_in"], expected);
    }
    app.clock.advance(100); // 2500 s after login.
    let body = assert_error(
        app.refresh_response(&tokens.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_eq!(body["error_description"], "refresh token expired");
}

#[tokio::test]
async fn tampered_garbage_and_foreign_tokens_are_invalid_grant() {
    let app = spawn_app().await;
    let other = spawn_app().await;
    let tokens = app.alice().await;
    other.add_user("alice", ALICE_PASSWORD).await;
    let foreign = other.login("alice", ALICE_PASSWORD).await;
    let mut tampered = tokens.refresh.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [
        tampered.as_str(),
        "",
        "garbage",
        foreign.refresh.as_str(),
        tokens.access.as_str(),
    ] {
        let body = assert_error(
            app.refresh_response(bad).await,
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
        )
        .await;
        assert_eq!(body["error_description"], "invalid refresh token", "{bad}");
    }
    // The real token still works: failed attempts did not harm the session.
    app.refresh(&tokens.refresh).await;
}

#[tokio::test]
async fn restart_keeps_users_sessions_and_the_signing_key() {
    let app = spawn_app().await;
    let tokens = app.alice().await;
    let jwks_before: serde_json::Value = app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    let app = app.restart().await;
    let jwks_after: serde_json::Value = app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwks_before, jwks_after);
    assert_eq!(
        app.get("/me", Some(&tokens.access)).await.status(),
        StatusCode::OK
    );
    let next = app.refresh(&tokens.refresh).await;
    assert_eq!(next.session_id, tokens.session_id);
    app.login("alice", ALICE_PASSWORD).await;
}

/// Runs futures concurrently on the runtime (so they really race) and keeps their order.
async fn join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    let mut indexed = Vec::new();
    for (i, f) in futures.into_iter().enumerate() {
        set.spawn(async move { (i, f.await) });
    }
    while let Some(result) = set.join_next().await {
        indexed.push(result.expect("task"));
    }
    indexed.sort_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, r)| r).collect()
}

#[tokio::test]
async fn logging_out_with_a_rotated_token_is_reuse_and_ends_the_session() {
    let app = spawn_app().await;
    let first = app.alice().await;
    let second = app.refresh(&first.refresh).await;
    app.clock.advance(11);
    let logout = app
        .post_json(
            "/logout",
            serde_json::json!({"refresh_token": first.refresh}),
        )
        .await;
    let body = assert_error(logout, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    assert_eq!(body["error_description"], "refresh token reuse detected");
    // The user meant to end the session: it has ended, newest tokens included.
    assert_error(
        app.refresh_response(&second.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_eq!(
        app.get("/me", Some(&second.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
