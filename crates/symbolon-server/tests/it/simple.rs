//! The simple API of `docs/API.md` §2, row by row: each success and each failure, with the
//! body shapes and headers a client relies on.

use crate::helpers::{
    assert_error, assert_invalid_token, header, spawn_app, spawn_with, TestApp, Tokens,
    ALICE_PASSWORD, T0,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use symbolon_core::ids::UserId;
use time::format_description::well_known::Rfc3339;

const DAY: i64 = 86_400;

/// An app where `/register` is open.
async fn open_registration() -> TestApp {
    spawn_with(|c| c.allow_registration = true).await
}

/// Seconds since the epoch of an RFC 3339 UTC time, asserting its form.
fn unix(value: &Value) -> i64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a time string, got {value}"));
    assert!(text.ends_with('Z'), "not UTC: {text}");
    time::OffsetDateTime::parse(text, &Rfc3339)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .unix_timestamp()
}

/// Asserts the token response of `docs/API.md` §2, including the no-store header.
async fn assert_token_response(response: reqwest::Response) -> Tokens {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "cache-control"), "no-store");
    assert!(header(&response, "content-type").starts_with("application/json"));
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert_eq!(body["expires_in"], 900, "{body}");
    assert_eq!(body["refresh_token_expires_in"], 7 * DAY, "{body}");
    assert_eq!(
        body["access_token"].as_str().map(|t| t.split('.').count()),
        Some(3),
        "{body}"
    );
    let tokens = Tokens::from_value(body);
    assert!(!tokens.refresh.is_empty() && !tokens.session_id.is_empty());
    tokens
}

// ---- POST /login ----

#[tokio::test]
async fn login_returns_an_uncached_token_response() {
    let app = spawn_app().await;
    app.add_user("alice", ALICE_PASSWORD).await;
    let response = app.login_response("alice", ALICE_PASSWORD).await;
    let tokens = assert_token_response(response).await;
    assert!(
        !tokens.body.to_string().contains(ALICE_PASSWORD),
        "the password is echoed"
    );
    assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
}

#[tokio::test]
async fn login_username_is_case_insensitive() {
    let app = spawn_app().await;
    app.add_user("alice", ALICE_PASSWORD).await;
    app.login("ALICE", ALICE_PASSWORD).await;
}

#[tokio::test]
async fn login_with_a_missing_field_is_invalid_request() {
    let app = spawn_app().await;
    app.add_user("alice", ALICE_PASSWORD).await;
    for body in [
        json!({"username": "alice"}),
        json!({"password": ALICE_PASSWORD}),
        json!({}),
    ] {
        let response = app.post_json("/login", body.clone()).await;
        let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(
            !error.to_string().contains(ALICE_PASSWORD),
            "{body}: {error}"
        );
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    app.add_user("alice", ALICE_PASSWORD).await;
    let wrong = app.login_response("alice", "not the password").await;
    let wrong = assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    let unknown = app.login_response("mallory", ALICE_PASSWORD).await;
    let unknown = assert_error(unknown, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    // One message for both, so the answer does not tell which usernames exist.
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn repeated_failures_throttle_the_account_even_for_the_right_password() {
    let app = spawn_app().await;
    app.add_user("alice", ALICE_PASSWORD).await;
    let allowed = app.config.account_failures_allowed;
    assert_eq!(allowed, 5, "the contract's default");
    // The allowed failures, and the one past the limit, are plain wrong passwords: the
    // password was checked before the back-off began.
    for attempt in 1..=allowed + 1 {
        let response = app.login_response("alice", "wrong password").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    // Past the limit every attempt waits, the right password included, and the
    // account key is case-insensitive like the username.
    for (name, password) in [
        ("alice", "wrong password"),
        ("alice", ALICE_PASSWORD),
        ("ALICE", ALICE_PASSWORD),
    ] {
        let response = app.login_response(name, password).await;
        let retry_after = header(&response, "retry-after");
        assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        let seconds: i64 = retry_after
            .parse()
            .unwrap_or_else(|_| panic!("Retry-After {retry_after:?}"));
        assert!(seconds >= 1, "Retry-After {seconds}");
    }
    // Other accounts are not affected by alice's back-off.
    app.add_user("bob", ALICE_PASSWORD).await;
    app.login("bob", ALICE_PASSWORD).await;

    let response = app.login_response("alice", ALICE_PASSWORD).await;
    let retry_after: i64 = header(&response, "retry-after")
        .parse()
        .expect("Retry-After");
    app.clock.advance(retry_after);
    app.login("alice", ALICE_PASSWORD).await;
}

/// Status codes of `n` logins to one account sent at once.
async fn parallel_logins(app: &TestApp, n: usize, password: &str) -> Vec<StatusCode> {
    let logins = (0..n).map(|_| app.login_response("alice", password));
    futures::future::join_all(logins)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect()
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// A wave of guesses sent together must not all be checked because each read "not
/// blocked" before any had failed: each guess is reserved (counted) before its check,
/// so a fresh account gets its free guesses plus the one of the first back-off period,
/// and an account whose block just ended gets one.
#[tokio::test]
async fn parallel_guesses_get_one_check_per_back_off_period() {
    let app = spawn_with(|c| c.max_queued_logins = 64).await;
    app.add_user("alice", ALICE_PASSWORD).await;
    let allowed = app.config.account_failures_allowed as usize;

    let statuses = parallel_logins(&app, 20, "wrong password").await;
    let checked = count(&statuses, StatusCode::UNAUTHORIZED);
    assert_eq!(
        checked + count(&statuses, StatusCode::TOO_MANY_REQUESTS),
        20,
        "{statuses:?}"
    );
    assert_eq!(checked, allowed + 1, "guesses checked on a fresh account");

    for wave in 0..3 {
        let response = app.login_response("alice", "wrong password").await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: i64 = header(&response, "retry-after").parse().expect("seconds");
        app.clock.advance(wait);
        let statuses = parallel_logins(&app, 20, "wrong password").await;
        assert_eq!(
            count(&statuses, StatusCode::UNAUTHORIZED),
            1,
            "wave {wave} after a block: {statuses:?}"
        );
    }
}

/// The price of reserving guesses: logins to one account beyond the free guesses that
/// are in flight at once may be refused with 429 and `Retry-After`, never with 401, and
/// the account is not locked by them: the successes clear its count.
#[tokio::test]
async fn parallel_right_passwords_are_answered_or_asked_to_retry() {
    let app = spawn_with(|c| c.max_queued_logins = 64).await;
    app.add_user("alice", ALICE_PASSWORD).await;
    let allowed = app.config.account_failures_allowed as usize;
    let statuses = parallel_logins(&app, 12, ALICE_PASSWORD).await;
    assert!(count(&statuses, StatusCode::OK) > allowed, "{statuses:?}");
    assert_eq!(
        count(&statuses, StatusCode::OK) + count(&statuses, StatusCode::TOO_MANY_REQUESTS),
        12,
        "{statuses:?}"
    );
    app.login("alice", ALICE_PASSWORD).await;
}

/// A hash made with other Argon2id parameters verifies in another time than the dummy
/// hash of unknown users; the first successful login after a parameter change stores a
/// hash with the new ones, without ending any session.
#[tokio::test]
async fn a_login_rehashes_a_password_made_with_old_parameters() {
    let mut app = spawn_app().await;
    app.add_user("alice", ALICE_PASSWORD).await;
    let before = app.login("alice", ALICE_PASSWORD).await;
    let stored = |app: &TestApp| {
        let service = app.service().clone();
        async move {
            service
                .store()
                .user_by_name("alice")
                .await
                .unwrap()
                .unwrap()
                .password_hash
        }
    };
    let old_hash = stored(&app).await;
    assert!(old_hash.contains("$m=64,t=1,p=1$"), "{old_hash}");

    app.shutdown().await;
    let mut config = app.config.clone();
    config.argon2_memory_kib = 128;
    let app = app.restart_with(config).await;
    app.login("alice", ALICE_PASSWORD).await;
    let new_hash = stored(&app).await;
    assert!(new_hash.contains("$m=128,t=1,p=1$"), "{new_hash}");
    // Same password, same sessions.
    app.refresh(&before.refresh).await;
    app.login("alice", ALICE_PASSWORD).await;
    assert_eq!(stored(&app).await, new_hash, "rehashed once");
}

// ---- POST /token/refresh ----

#[tokio::test]
async fn refresh_returns_a_rotated_pair() {
    let app = spawn_app().await;
    let tokens = app.alice().await;
    app.clock.advance(5);
    let response = app.refresh_response(&tokens.refresh).await;
    let next = assert_token_response(response).await;
    assert_ne!(next.refresh, tokens.refresh);
    assert_ne!(next.access, tokens.access);
    assert_eq!(next.session_id, tokens.session_id);
    assert_eq!(app.me_status(&next.access).await, StatusCode::OK);
    app.refresh(&next.refresh).await;
}

/// Flips one character in the middle of a token.
fn tampered(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let middle = chars.len() / 2;
    chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn refresh_refuses_every_unusable_token_with_invalid_grant() {
    // Each case gets a fresh session and turns its refresh token unusable in its own way.
    #[derive(Debug, Clone, Copy)]
    enum Spoil {
        Garbage,
        Tampered,
        Expired,
        Revoked,
        Reused,
    }
    for spoil in [
        Spoil::Garbage,
        Spoil::Tampered,
        Spoil::Expired,
        Spoil::Revoked,
        Spoil::Reused,
    ] {
        let app = spawn_app().await;
        let tokens = app.alice().await;
        let presented = match spoil {
            Spoil::Garbage => "not-a-refresh-token".to_owned(),
            Spoil::Tampered => tampered(&tokens.refresh),
            Spoil::Expired => {
                app.clock.advance(7 * DAY + 1);
                tokens.refresh.clone()
            }
            Spoil::Revoked => {
                let response = app
                    .request(Method::POST, "/logout", Some(&tokens.access))
                    .send()
                    .await;
                assert_eq!(response.expect("request").status(), StatusCode::NO_CONTENT);
                tokens.refresh.clone()
            }
            Spoil::Reused => {
                let next = app.refresh(&tokens.refresh).await;
                app.refresh(&next.refresh).await;
                tokens.refresh.clone()
            }
        };
        let response = app.refresh_response(&presented).await;
        let error = assert_error(response, StatusCode::UNAUTHORIZED, "invalid_grant").await;
        assert!(
            !error.to_string().contains(&presented),
            "{spoil:?}: the token is echoed: {error}"
        );
    }
}

#[tokio::test]
async fn refresh_without_a_token_is_invalid_request() {
    let app = spawn_app().await;
    for body in [
        json!({}),
        json!({"refresh_token": 5}),
        json!({"refresh_token": null}),
    ] {
        let response = app.post_json("/token/refresh", body.clone()).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
}

// ---- POST /logout ----

/// The `/me` status of each session's access token.
async fn me_statuses(app: &TestApp, sessions: &[Tokens]) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for tokens in sessions {
        statuses.push(app.me_status(&tokens.access).await);
    }
    statuses
}

#[tokio::test]
async fn logout_scopes_end_the_sessions_they_name() {
    const OK: StatusCode = StatusCode::OK;
    const GONE: StatusCode = StatusCode::UNAUTHORIZED;
    // (request body, which of [this, other, bob's] sessions survive)
    let cases = [
        (None, [GONE, OK, OK]),
        (Some(json!({"scope": "local"})), [GONE, OK, OK]),
        (Some(json!({"scope": "others"})), [OK, GONE, OK]),
        (Some(json!({"scope": "global"})), [GONE, GONE, OK]),
    ];
    for (body, expected) in cases {
        let app = spawn_app().await;
        let this = app.alice().await;
        let other = app.login("alice", ALICE_PASSWORD).await;
        app.add_user("bob", ALICE_PASSWORD).await;
        let bob = app.login("bob", ALICE_PASSWORD).await;
        let mut request = app.request(Method::POST, "/logout", Some(&this.access));
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{body:?}");
        let sessions = [this, other, bob];
        assert_eq!(me_statuses(&app, &sessions).await, expected, "{body:?}");
        // A session's refresh token dies with it.
        for (tokens, status) in sessions.iter().zip(expected) {
            let refreshed = app.refresh_response(&tokens.refresh).await.status();
            assert_eq!(refreshed == StatusCode::OK, status == OK, "{body:?}");
        }
    }
}

#[tokio::test]
async fn logout_with_a_refresh_token_ends_its_session() {
    let app = spawn_app().await;
    let tokens = app.alice().await;
    let other = app.login("alice", ALICE_PASSWORD).await;
    let response = app
        .post_json("/logout", json!({"refresh_token": tokens.refresh}))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        me_statuses(&app, &[tokens.clone(), other]).await,
        [StatusCode::UNAUTHORIZED, StatusCode::OK]
    );
    let again = app
        .post_json("/logout", json!({"refresh_token": tokens.refresh}))
        .await;
    assert_error(again, StatusCode::UNAUTHORIZED, "invalid_grant").await;
}

#[tokio::test]
async fn logout_with_a_refresh_token_and_global_scope_ends_every_session() {
    let app = spawn_app().await;
    let tokens = app.alice().await;
    let other = app.login("alice", ALICE_PASSWORD).await;
    let response = app
        .post_json(
            "/logout",
            json!({"refresh_token": tokens.refresh, "scope": "global"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        me_statuses(&app, &[tokens, other]).await,
        [StatusCode::UNAUTHORIZED; 2]
    );
}

#[tokio::test]
async fn logout_without_credentials_asks_for_a_bearer_token() {
    let app = spawn_app().await;
    app.alice().await;
    let without_body = app
        .request(Method::POST, "/logout", None)
        .send()
        .await
        .expect("request");
    let with_empty_object = app.post_json("/logout", json!({})).await;
    for response in [without_body, with_empty_object] {
        assert_eq!(
            header(&response, "www-authenticate"),
            "Bearer realm=\"symbolon\""
        );
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

#[tokio::test]
async fn logout_with_bad_credentials_is_refused() {
    let app = spawn_app().await;
    let tokens = app.alice().await;
    let response = app
        .request(Method::POST, "/logout", Some("not-a-jwt"))
        .send()
        .await
        .expect("request");
    assert_invalid_token(response).await;
    let response = app
        .post_json("/logout", json!({"refresh_token": "not-a-refresh-token"}))
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    let response = app
        .post_json_as("/logout", &tokens.access, json!({"scope": "everything"}))
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(
        app.me_status(&tokens.access).await,
        StatusCode::OK,
        "a refused logout ends nothing"
    );
}

// ---- POST /register ----

async fn register(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/register",
        json!({"username": username, "password": password}),
    )
    .await
}

#[tokio::test]
async fn register_is_forbidden_by_default() {
    let app = spawn_app().await;
    let response = register(&app, "alice", ALICE_PASSWORD).await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let login = app.login_response("alice", ALICE_PASSWORD).await;
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED, "no user was made");
}

#[tokio::test]
async fn register_creates_a_user_who_can_log_in() {
    let app = open_registration().await;
    let response = register(&app, "Alice.B-c_d@x", ALICE_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["username"], "Alice.B-c_d@x", "{body}");
    let sub = body["sub"].as_str().expect("sub");
    assert!(UserId::parse(sub).is_some(), "sub is a user id: {sub}");
    assert!(!body.to_string().contains(ALICE_PASSWORD));
    let tokens = app.login("alice.b-c_d@x", ALICE_PASSWORD).await;
    let me: Value = app
        .get("/me", Some(&tokens.access))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["sub"], sub);
}

#[tokio::test]
async fn register_enforces_the_username_and_password_rules() {
    let app = open_registration().await;
    let long_ok = "a".repeat(64);
    let accepted = [
        (long_ok.as_str(), "12345678".to_owned()),
        ("b", "é".repeat(1024)),
    ];
    for (username, password) in &accepted {
        let response = register(&app, username, password).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{username}");
    }
    let too_long = "a".repeat(65);
    let refused = [
        ("", ALICE_PASSWORD.to_owned()),
        (too_long.as_str(), ALICE_PASSWORD.to_owned()),
        ("with space", ALICE_PASSWORD.to_owned()),
        ("ünïcödé", ALICE_PASSWORD.to_owned()),
        ("slash/name", ALICE_PASSWORD.to_owned()),
        ("carol", "1234567".to_owned()),
        ("carol", "x".repeat(1025)),
        ("carol", String::new()),
    ];
    for (username, password) in &refused {
        let response = register(&app, username, password).await;
        let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(
            password.len() < 8 || !error.to_string().contains(password.as_str()),
            "{error}"
        );
    }
}

#[tokio::test]
async fn register_refuses_a_taken_username_in_any_case() {
    let app = open_registration().await;
    let first = register(&app, "Alice", ALICE_PASSWORD).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    for name in ["Alice", "alice", "ALICE"] {
        let response = register(&app, name, "another password").await;
        assert_error(response, StatusCode::CONFLICT, "conflict").await;
    }
    // The first registration's password still holds.
    app.login("alice", ALICE_PASSWORD).await;
}

// ---- POST /password ----

#[tokio::test]
async fn password_change_keeps_this_session_and_ends_the_others() {
    let app = spawn_app().await;
    let this = app.alice().await;
    let other = app.login("alice", ALICE_PASSWORD).await;
    app.add_user("bob", ALICE_PASSWORD).await;
    let bob = app.login("bob", ALICE_PASSWORD).await;
    let body = json!({"current_password": ALICE_PASSWORD, "new_password": "a brand new password"});
    let response = app.post_json_as("/password", &this.access, body).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert_eq!(
        me_statuses(&app, &[this.clone(), other.clone(), bob]).await,
        [StatusCode::OK, StatusCode::UNAUTHORIZED, StatusCode::OK]
    );
    assert_error(
        app.refresh_response(&other.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    app.refresh(&this.refresh).await;
    let old = app.login_response("alice", ALICE_PASSWORD).await;
    assert_error(old, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    app.login("alice", "a brand new password").await;
}

#[tokio::test]
async fn password_change_is_refused_for_bad_input() {
    let app = spawn_app().await;
    let tokens = app.alice().await;
    // (body, status, code)
    let cases = [
        (
            json!({"current_password": "wrong password", "new_password": "a brand new password"}),
            401,
            "invalid_grant",
        ),
        (
            json!({"current_password": ALICE_PASSWORD, "new_password": "short"}),
            400,
            "invalid_request",
        ),
        (
            json!({"current_password": ALICE_PASSWORD, "new_password": "x".repeat(1025)}),
            400,
            "invalid_request",
        ),
        (
            json!({"current_password": ALICE_PASSWORD}),
            400,
            "invalid_request",
        ),
        (
            json!({"new_password": "a brand new password"}),
            400,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let response = app.post_json_as("/password", &tokens.access, body).await;
        assert_error(
            response,
            StatusCode::from_u16(status).expect("status"),
            code,
        )
        .await;
    }
    // Nothing changed: the old password still logs in.
    app.login("alice", ALICE_PASSWORD).await;
    let body = json!({"current_password": ALICE_PASSWORD, "new_password": "a brand new password"});
    let anonymous = app.post_json("/password", body).await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

// ---- GET /me ----

#[tokio::test]
async fn me_names_the_user_and_session_of_the_token() {
    let app = spawn_app().await;
    let id = app.add_user("alice", ALICE_PASSWORD).await;
    let tokens = app.login("Alice", ALICE_PASSWORD).await;
    let response = app.get("/me", Some(&tokens.access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({"sub": id, "username": "alice", "session_id": tokens.session_id})
    );
}

#[tokio::test]
async fn me_without_a_token_asks_for_one() {
    let app = spawn_app().await;
    for authorization in [
        None,
        Some("Basic YWxpY2U6eA=="),
        Some("Bearer"),
        Some("Bearer "),
    ] {
        let mut request = app.request(Method::GET, "/me", None);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("request");
        assert_eq!(
            header(&response, "www-authenticate"),
            "Bearer realm=\"symbolon\"",
            "{authorization:?}"
        );
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    let response = app.get("/me", Some("garbage")).await;
    assert_invalid_token(response).await;
}

// ---- GET /sessions, DELETE /sessions/{id} ----

#[tokio::test]
async fn sessions_lists_the_users_live_sessions() {
    let app = spawn_app().await;
    let first = app.alice().await;
    app.clock.advance(60);
    let second = app
        .request(Method::POST, "/login", None)
        .header("user-agent", "symbolon-tests/1")
        .json(&json!({"username": "alice", "password": ALICE_PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_eq!(second.status(), StatusCode::OK);
    let second = Tokens::from_value(second.json().await.expect("json"));
    let ended = app.login("alice", ALICE_PASSWORD).await;
    let deleted = app.request(
        Method::DELETE,
        &format!("/sessions/{}", ended.session_id),
        Some(&first.access),
    );
    assert_eq!(
        deleted.send().await.expect("request").status(),
        StatusCode::NO_CONTENT
    );
    app.add_user("bob", ALICE_PASSWORD).await;
    app.login("bob", ALICE_PASSWORD).await;
    app.clock.advance(60);
    app.refresh(&first.refresh).await;

    let response = app.get("/sessions", Some(&second.access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let list: Vec<Value> = response.json().await.expect("json");
    let ids: Vec<&str> = list.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(list.len(), 2, "alice's two live sessions only: {list:?}");
    assert!(
        ids.contains(&first.session_id.as_str()) && ids.contains(&second.session_id.as_str()),
        "{ids:?}"
    );
    for session in &list {
        let is_second = session["id"] == second.session_id;
        assert_eq!(session["current"], is_second, "{session}");
        let created = if is_second { T0 + 60 } else { T0 };
        let last_used = T0 + 120 - if is_second { 60 } else { 0 };
        assert_eq!(unix(&session["created_at"]), created, "{session}");
        assert_eq!(unix(&session["last_used_at"]), last_used, "{session}");
        assert_eq!(
            unix(&session["expires_at"]),
            last_used + 7 * DAY,
            "{session}"
        );
        assert_eq!(session["ip"], "127.0.0.1", "{session}");
        if is_second {
            assert_eq!(session["user_agent"], "symbolon-tests/1", "{session}");
        }
    }
    assert_invalid_token(app.get("/sessions", Some("garbage")).await).await;
    assert_error(
        app.get("/sessions", None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn deleting_a_session_ends_it_and_only_its_owner_may() {
    let app = spawn_app().await;
    let this = app.alice().await;
    let other = app.login("alice", ALICE_PASSWORD).await;
    app.add_user("bob", ALICE_PASSWORD).await;
    let bob = app.login("bob", ALICE_PASSWORD).await;
    let delete = |id: String, token: String| {
        let request = app.request(Method::DELETE, &format!("/sessions/{id}"), Some(&token));
        async move { request.send().await.expect("request") }
    };

    // Another user's session, garbage and well-formed unknown ids are all "not found".
    let unknown = symbolon_core::ids::SessionId::generate().to_string();
    for id in [
        bob.session_id.clone(),
        "garbage".to_owned(),
        unknown,
        "%00".to_owned(),
    ] {
        let response = delete(id.clone(), this.access.clone()).await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_eq!(
        app.me_status(&bob.access).await,
        StatusCode::OK,
        "bob's session survives"
    );

    let response = delete(other.session_id.clone(), this.access.clone()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        me_statuses(&app, &[this.clone(), other.clone()]).await,
        [StatusCode::OK, StatusCode::UNAUTHORIZED]
    );
    assert_error(
        app.refresh_response(&other.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    let again = delete(other.session_id.clone(), this.access.clone()).await;
    assert_error(again, StatusCode::NOT_FOUND, "not_found").await;

    // A session may delete itself; its token stops working at once.
    let response = delete(this.session_id.clone(), this.access.clone()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_invalid_token(app.get("/me", Some(&this.access)).await).await;
    let anonymous = app
        .request(
            Method::DELETE,
            &format!("/sessions/{}", bob.session_id),
            None,
        )
        .send()
        .await;
    assert_error(
        anonymous.expect("request"),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

// ---- symbolon user disable ----

#[tokio::test]
async fn a_disabled_user_loses_every_session_and_cannot_log_in() {
    let app = spawn_app().await;
    let id = app.add_user("alice", ALICE_PASSWORD).await;
    let id = UserId::parse(&id).expect("a user id");
    let tokens = app.login("alice", ALICE_PASSWORD).await;
    let other = app.login("alice", ALICE_PASSWORD).await;
    assert!(app
        .service()
        .store()
        .disable_user(&id, app.service().now())
        .await
        .expect("disable"));

    for session in [&tokens, &other] {
        assert_invalid_token(app.get("/me", Some(&session.access)).await).await;
        assert_error(
            app.refresh_response(&session.refresh).await,
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
        )
        .await;
    }
    let login = app.login_response("alice", ALICE_PASSWORD).await;
    let refused = assert_error(login, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    // A disabled account looks like a wrong password: nothing tells it apart.
    let wrong = assert_error(
        app.login_response("alice", "wrong password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_eq!(refused, wrong);
}
