//! The standard API: the RFC 6749 token endpoint, RFC 7009 revocation, RFC 7662
//! introspection, the RFC 7517 JWKS and RFC 8414 metadata.

use crate::helpers::{
    assert_error, header, jwt_header, jwt_payload, spawn_app, spawn_with, TestApp, Tokens,
    ALICE_PASSWORD,
};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use symbolon_core::ids::{Capability, Password};
use symbolon_core::keys::SigningAlg;

const BACKEND: (&str, &str) = ("backend", "the backend secret");
const WEBAPP: (&str, &str) = ("webapp", "the webapp's secret");

/// Registers a client: confidential with a secret, public without (as `symbolon client
/// add` does).
async fn add_client(app: &TestApp, client_id: &str, secret: Option<&str>) {
    add_client_with(app, client_id, secret, &[]).await;
}

async fn add_client_with(
    app: &TestApp,
    client_id: &str,
    secret: Option<&str>,
    capabilities: &[Capability],
) {
    app.service()
        .clients()
        .create(
            client_id,
            secret.map(|s| Password::new(s.into())),
            capabilities,
        )
        .await
        .expect("client created");
}

/// An app with alice, the confidential client `backend` (which may introspect), the
/// confidential client `webapp` (which may not) and the public client `mobile`.
async fn app() -> TestApp {
    let app = spawn_app().await;
    app.add_user("alice", ALICE_PASSWORD).await;
    add_client_with(&app, BACKEND.0, Some(BACKEND.1), &[Capability::Introspect]).await;
    add_client(&app, WEBAPP.0, Some(WEBAPP.1)).await;
    add_client(&app, "mobile", None).await;
    app
}

/// A form POST, authenticated with HTTP Basic when `basic` is given.
async fn post(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Response {
    let mut request = app.request(Method::POST, path, None).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.expect("request")
}

async fn password_grant(
    app: &TestApp,
    extra: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Response {
    let mut form = vec![
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", ALICE_PASSWORD),
    ];
    form.extend_from_slice(extra);
    post(app, "/oauth/token", &form, basic).await
}

async fn refresh_grant(
    app: &TestApp,
    token: &str,
    extra: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    form.extend_from_slice(extra);
    post(app, "/oauth/token", &form, basic).await
}

/// Asserts a token response (RFC 6749 §5.1) and returns it.
async fn tokens(response: Response) -> Tokens {
    let status = response.status();
    assert_eq!(header(&response, "cache-control"), "no-store", "{status}");
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert_eq!(body["expires_in"], 900, "{body}");
    assert_eq!(body["refresh_token_expires_in"], 7 * 86_400, "{body}");
    Tokens::from_value(body)
}

/// A successful refresh grant.
async fn tokens_of_refresh(
    app: &TestApp,
    token: &str,
    extra: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Tokens {
    tokens(refresh_grant(app, token, extra, basic).await).await
}

/// The `client_id` claim of an access token.
fn client_of(tokens: &Tokens) -> Value {
    jwt_payload(&tokens.access)["client_id"].clone()
}

// ---- POST /oauth/token ----

#[tokio::test]
async fn password_grant_issues_tokens_for_the_default_client() {
    let app = app().await;
    let tokens = tokens(password_grant(&app, &[("scope", "anything")], None).await).await;
    assert_eq!(client_of(&tokens), "symbolon");
    assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
    // The default client is the simple API's client: its tokens are interchangeable.
    app.refresh(&tokens.refresh).await;
}

#[tokio::test]
async fn refresh_grant_rotates_like_the_simple_api() {
    let app = app().await;
    let first = tokens(password_grant(&app, &[], None).await).await;
    let second = tokens(refresh_grant(&app, &first.refresh, &[], None).await).await;
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(second.session_id, first.session_id);
    // Within the grace, the rotated token yields the same successor.
    let replay = tokens(refresh_grant(&app, &first.refresh, &[], None).await).await;
    assert_eq!(replay.refresh, second.refresh);
    let third = tokens(refresh_grant(&app, &second.refresh, &[], None).await).await;
    // Past the grace, presenting a rotated token is reuse: the session ends.
    app.clock.advance(11);
    let reuse = refresh_grant(&app, &first.refresh, &[], None).await;
    assert_error(reuse, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(app.me_status(&third.access).await, StatusCode::UNAUTHORIZED);
    let dead = refresh_grant(&app, &third.refresh, &[], None).await;
    assert_error(dead, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn token_endpoint_errors_follow_rfc_6749_section_5_2() {
    let app = app().await;
    // (form, status, code); none tries HTTP Basic, so none gets a Basic challenge.
    #[rustfmt::skip]
    let cases = [
        ("grant_type=password&username=alice&password=wrong", 400, "invalid_grant"),
        ("grant_type=password&username=mallory&password=wrong", 400, "invalid_grant"),
        ("grant_type=refresh_token&refresh_token=garbage", 400, "invalid_grant"),
        ("grant_type=client_credentials", 400, "unsupported_grant_type"),
        ("grant_type=authorization_code&code=x", 400, "unsupported_grant_type"),
        ("username=alice&password=correct+horse+battery", 400, "invalid_request"),
        ("grant_type=password&password=correct+horse+battery", 400, "invalid_request"),
        ("grant_type=password&username=alice&password=correct+horse+battery&client_id=nobody", 401, "invalid_client"),
        // A confidential client must authenticate; naming it is not enough.
        ("grant_type=password&username=alice&password=correct+horse+battery&client_id=backend", 401, "invalid_client"),
    ];
    for (form, status, code) in cases {
        let request = app.request(Method::POST, "/oauth/token", None);
        let request = request.header("content-type", "application/x-www-form-urlencoded");
        let response = request.body(form).send().await.expect("request");
        assert_eq!(header(&response, "cache-control"), "no-store", "{form:?}");
        assert_eq!(
            header(&response, "www-authenticate"),
            "",
            "{form:?}: no Basic was tried"
        );
        let body = assert_error(
            response,
            StatusCode::from_u16(status).expect("status"),
            code,
        )
        .await;
        assert!(!body.to_string().contains(ALICE_PASSWORD), "{body}");
    }
}

#[tokio::test]
async fn confidential_clients_authenticate_with_http_basic() {
    let app = app().await;
    let tokens = tokens(password_grant(&app, &[], Some(BACKEND)).await).await;
    assert_eq!(client_of(&tokens), "backend");
    // Naming the authenticated client as well is allowed.
    let named = password_grant(&app, &[("client_id", "backend")], Some(BACKEND)).await;
    assert_eq!(named.status(), StatusCode::OK);

    let refused = [
        Some(("backend", "wrong secret")),
        Some(("nobody", "whatever")),
        // A public client has no secret to prove.
        Some(("mobile", "anything")),
        Some(("symbolon", "anything")),
    ];
    for basic in refused {
        let response = password_grant(&app, &[], basic).await;
        assert_eq!(
            header(&response, "www-authenticate"),
            "Basic realm=\"symbolon\"",
            "{basic:?}"
        );
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    let mismatch = password_grant(&app, &[("client_id", "mobile")], Some(BACKEND)).await;
    assert_error(mismatch, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn registered_public_clients_need_no_secret() {
    let app = app().await;
    let tokens = tokens(password_grant(&app, &[("client_id", "mobile")], None).await).await;
    assert_eq!(client_of(&tokens), "mobile");
    tokens_of_refresh(&app, &tokens.refresh, &[("client_id", "mobile")], None).await;
}

#[tokio::test]
async fn refresh_tokens_are_bound_to_the_client_they_were_issued_to() {
    let app = app().await;
    let default = tokens(password_grant(&app, &[], None).await).await;
    let backend = tokens(password_grant(&app, &[], Some(BACKEND)).await).await;
    let mobile = tokens(password_grant(&app, &[("client_id", "mobile")], None).await).await;

    let mobile_id: &[(&str, &str)] = &[("client_id", "mobile")];
    let none: &[(&str, &str)] = &[];
    let foreign = [
        (&default.refresh, none, Some(BACKEND)),
        (&default.refresh, mobile_id, None),
        (&backend.refresh, none, None),
        (&backend.refresh, mobile_id, None),
        (&mobile.refresh, none, None),
        (&mobile.refresh, none, Some(BACKEND)),
    ];
    for (token, extra, basic) in foreign {
        let response = refresh_grant(&app, token, extra, basic).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    }
    // The simple API acts for the default client only.
    assert_error(
        app.refresh_response(&backend.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;

    // A refused foreign use does not harm the owner's session.
    tokens_of_refresh(&app, &default.refresh, &[], None).await;
    tokens_of_refresh(&app, &backend.refresh, &[], Some(BACKEND)).await;
    tokens_of_refresh(&app, &mobile.refresh, mobile_id, None).await;
}

// ---- POST /oauth/revoke ----

#[tokio::test]
async fn revoking_either_token_ends_the_session() {
    let app = app().await;
    let unknown = post(&app, "/oauth/revoke", &[("token", "no-such-token")], None).await;
    assert_eq!(
        unknown.status(),
        StatusCode::OK,
        "RFC 7009 §2.2: unknown tokens are fine"
    );
    let missing = post(
        &app,
        "/oauth/revoke",
        &[("token_type_hint", "refresh_token")],
        None,
    )
    .await;
    assert_error(missing, StatusCode::BAD_REQUEST, "invalid_request").await;

    for kind in ["refresh_token", "access_token"] {
        let session = tokens(password_grant(&app, &[], None).await).await;
        let other = tokens(password_grant(&app, &[], None).await).await;
        let token = if kind == "refresh_token" {
            &session.refresh
        } else {
            &session.access
        };
        // The hint is only a hint: a wrong one must not stop the revocation.
        for hint in ["access_token", "refresh_token"] {
            let response = post(
                &app,
                "/oauth/revoke",
                &[("token", token), ("token_type_hint", hint)],
                None,
            )
            .await;
            assert_eq!(response.status(), StatusCode::OK, "{kind}, hint {hint}");
        }
        assert_eq!(
            app.me_status(&session.access).await,
            StatusCode::UNAUTHORIZED,
            "{kind}"
        );
        let refresh = refresh_grant(&app, &session.refresh, &[], None).await;
        assert_error(refresh, StatusCode::BAD_REQUEST, "invalid_grant").await;
        assert_eq!(
            app.me_status(&other.access).await,
            StatusCode::OK,
            "{kind}: only that session ends"
        );
    }
}

#[tokio::test]
async fn a_confidential_clients_tokens_are_revoked_only_by_that_client() {
    let app = app().await;
    let session = tokens(password_grant(&app, &[], Some(BACKEND)).await).await;
    for token in [&session.refresh, &session.access] {
        let public = post(&app, "/oauth/revoke", &[("token", token)], None).await;
        assert_error(public, StatusCode::UNAUTHORIZED, "invalid_client").await;
        let wrong = post(
            &app,
            "/oauth/revoke",
            &[("token", token)],
            Some(("backend", "wrong")),
        )
        .await;
        assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    assert_eq!(
        app.me_status(&session.access).await,
        StatusCode::OK,
        "refused revocations end nothing"
    );
    let owner = post(
        &app,
        "/oauth/revoke",
        &[("token", &session.refresh)],
        Some(BACKEND),
    )
    .await;
    assert_eq!(owner.status(), StatusCode::OK);
    assert_eq!(
        app.me_status(&session.access).await,
        StatusCode::UNAUTHORIZED
    );
}

// ---- POST /oauth/introspect ----

async fn introspect(app: &TestApp, token: &str) -> Value {
    let response = post(app, "/oauth/introspect", &[("token", token)], Some(BACKEND)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "cache-control"), "no-store");
    response.json().await.expect("json")
}

const INACTIVE: fn() -> Value = || json!({"active": false});

#[tokio::test]
async fn introspection_requires_an_authenticated_client() {
    let app = app().await;
    let session = app.login("alice", ALICE_PASSWORD).await;
    let anonymous = post(
        &app,
        "/oauth/introspect",
        &[("token", &session.access)],
        None,
    )
    .await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let public = post(
        &app,
        "/oauth/introspect",
        &[("token", &session.access), ("client_id", "mobile")],
        None,
    )
    .await;
    assert_error(public, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let wrong = post(
        &app,
        "/oauth/introspect",
        &[("token", &session.access)],
        Some(("backend", "nope")),
    )
    .await;
    assert_eq!(
        header(&wrong, "www-authenticate"),
        "Basic realm=\"symbolon\""
    );
    assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // Authenticated, but not registered to introspect: a confidential client of users
    // must not learn about every other client's tokens.
    let not_allowed = post(
        &app,
        "/oauth/introspect",
        &[("token", &session.access)],
        Some(WEBAPP),
    )
    .await;
    assert_error(not_allowed, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn introspection_describes_live_tokens() {
    let app = app().await;
    let sub = app
        .get(
            "/me",
            Some(&app.login("alice", ALICE_PASSWORD).await.access),
        )
        .await;
    let sub = sub.json::<Value>().await.expect("json")["sub"].clone();
    let session = app.login("alice", ALICE_PASSWORD).await;

    let access = introspect(&app, &session.access).await;
    let claims = jwt_payload(&session.access);
    assert_eq!(access["active"], true, "{access}");
    assert_eq!(access["token_type"], "access_token", "{access}");
    assert_eq!(access["username"], "alice", "{access}");
    assert_eq!(access["sub"], sub, "{access}");
    for claim in ["client_id", "sub", "aud", "iss", "exp", "iat", "jti", "sid"] {
        assert_eq!(access[claim], claims[claim], "{claim}: {access}");
    }

    let refresh = introspect(&app, &session.refresh).await;
    assert_eq!(refresh["active"], true, "{refresh}");
    assert_eq!(refresh["token_type"], "refresh_token", "{refresh}");
    assert_eq!(refresh["sub"], sub, "{refresh}");
    assert_eq!(refresh["sid"], session.session_id, "{refresh}");
    assert_eq!(refresh["client_id"], "symbolon", "{refresh}");
    assert_eq!(
        refresh["exp"],
        app.service().now() + 7 * 86_400,
        "{refresh}"
    );
    assert!(
        !refresh.to_string().contains(&session.refresh),
        "the token is not echoed"
    );
    // Asking about a token is not using it: it still rotates normally.
    app.refresh(&session.refresh).await;
}

#[tokio::test]
async fn introspection_reports_dead_tokens_as_inactive() {
    let app = app().await;
    assert_eq!(introspect(&app, "garbage").await, INACTIVE());
    // An empty `token` is a missing one (RFC 7662 §2.1: the parameter is required).
    let empty = post(&app, "/oauth/introspect", &[("token", "")], Some(BACKEND)).await;
    assert_error(empty, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Revoked.
    let revoked = app.login("alice", ALICE_PASSWORD).await;
    let logout = app
        .request(Method::POST, "/logout", Some(&revoked.access))
        .send()
        .await
        .expect("request");
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(introspect(&app, &revoked.access).await, INACTIVE());
    assert_eq!(introspect(&app, &revoked.refresh).await, INACTIVE());

    // Rotated, past the grace.
    let rotated = app.login("alice", ALICE_PASSWORD).await;
    let successor = app.refresh(&rotated.refresh).await;
    app.clock.advance(11);
    assert_eq!(introspect(&app, &rotated.refresh).await, INACTIVE());

    // Expired: the access token past its lifetime and leeway, then the refresh token.
    app.clock.advance(900 + 30 + 1 - 11);
    assert_eq!(introspect(&app, &successor.access).await, INACTIVE());
    assert_eq!(introspect(&app, &successor.refresh).await["active"], true);
    app.clock.advance(7 * 86_400);
    assert_eq!(introspect(&app, &successor.refresh).await, INACTIVE());
}

// ---- JWKS and metadata ----

#[tokio::test]
async fn jwks_publishes_the_signing_key() {
    let app = spawn_app().await;
    let tokens = app.alice().await;
    let response = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let jwks: Value = response.json().await.expect("json");
    let keys = jwks["keys"].as_array().expect("keys");
    assert!(!keys.is_empty(), "{jwks}");
    for key in keys {
        assert!(key["kid"].is_string(), "{key}");
        assert_eq!(key["alg"], "EdDSA", "{key}");
        assert_eq!(key["use"], "sig", "{key}");
        assert_eq!(key["kty"], "OKP", "{key}");
        assert_eq!(key["crv"], "Ed25519", "{key}");
        assert!(key["x"].is_string(), "{key}");
        // Only the public half is published (RFC 7517 §9.2).
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "{private} published: {key}");
        }
    }
    let kid = jwt_header(&tokens.access)["kid"].clone();
    assert!(
        keys.iter().any(|k| k["kid"] == kid),
        "the token's key {kid} is published"
    );
}

#[tokio::test]
async fn hs256_keys_are_never_published() {
    let app = spawn_with(|c| c.signing_alg = SigningAlg::HS256).await;
    let tokens = app.alice().await;
    assert_eq!(jwt_header(&tokens.access)["alg"], "HS256");
    assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
    let jwks: Value = app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(jwks, json!({"keys": []}));
}

#[tokio::test]
async fn metadata_follows_rfc_8414() {
    let app = spawn_app().await;
    let response = app
        .get("/.well-known/oauth-authorization-server", None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let meta: Value = response.json().await.expect("json");
    let issuer = "http://symbolon.test";
    assert_eq!(meta["issuer"], issuer);
    for (field, path) in [
        ("token_endpoint", "/oauth/token"),
        ("jwks_uri", "/.well-known/jwks.json"),
        ("revocation_endpoint", "/oauth/revoke"),
        ("introspection_endpoint", "/oauth/introspect"),
    ] {
        assert_eq!(meta[field], format!("{issuer}{path}"), "{field}");
        // The advertised endpoint exists on this server (same path, our address).
        let status = app
            .request(Method::OPTIONS, path, None)
            .send()
            .await
            .expect("request")
            .status();
        assert_ne!(status, StatusCode::NOT_FOUND, "{field}");
    }
    let list = |field: &str| -> Vec<String> {
        let values = meta[field]
            .as_array()
            .unwrap_or_else(|| panic!("{field}: {meta}"));
        values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let mut grants = list("grant_types_supported");
    grants.sort();
    assert_eq!(grants, ["password", "refresh_token"]);
    let auth_methods = list("token_endpoint_auth_methods_supported");
    assert!(
        auth_methods.contains(&"client_secret_basic".to_owned()),
        "{auth_methods:?}"
    );
    assert!(
        auth_methods.contains(&"none".to_owned()),
        "{auth_methods:?}"
    );
    // The issuer is the `iss` of the access tokens.
    let tokens = app.alice().await;
    assert_eq!(jwt_payload(&tokens.access)["iss"], issuer);
}

#[tokio::test]
async fn client_secret_guesses_are_throttled_like_passwords() {
    let app = app().await;
    // account_failures_allowed (5) wrong secrets are plain failures; then the back-off.
    for _ in 0..6 {
        let response = password_grant(&app, &[], Some(("backend", "wrong secret"))).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    let blocked = password_grant(&app, &[], Some(BACKEND)).await;
    assert!(header(&blocked, "retry-after").parse::<u64>().unwrap() >= 1);
    assert_error(blocked, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    app.clock.advance(2);
    let after = password_grant(&app, &[], Some(BACKEND)).await;
    assert_eq!(
        after.status(),
        StatusCode::OK,
        "the right secret works once the back-off ends"
    );
}

/// A `client_id` that cannot be a client id (a NUL byte, which PostgreSQL refuses in
/// text and once turned into a 500) is an unknown client on every OAuth endpoint, on
/// SQLite and, when it is available, on PostgreSQL.
#[tokio::test]
async fn a_malformed_client_id_is_an_unknown_client_on_every_backend() {
    let pg = symbolon_testkit::PgDatabase::create().await;
    let mut apps = vec![("sqlite", spawn_app().await)];
    if let Some(db) = &pg {
        let url = db.url.clone();
        apps.push(("postgres", spawn_with(move |c| c.database_url = url).await));
    }
    for (backend, app) in apps {
        let tokens = app.alice().await;
        for client_id in ["\0", "a\0b", "", "has space", &"x".repeat(65)] {
            let forms: [(&str, Vec<(&str, &str)>); 3] = [
                (
                    "/oauth/token",
                    vec![
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &tokens.refresh),
                    ],
                ),
                ("/oauth/revoke", vec![("token", &tokens.refresh)]),
                ("/oauth/introspect", vec![("token", &tokens.access)]),
            ];
            for (path, mut form) in forms {
                form.push(("client_id", client_id));
                let response = app.post_form(path, &form).await;
                let body = assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
                assert!(
                    body["error_description"].is_string(),
                    "{backend} {path}: {body}"
                );
            }
        }
        // Nothing was revoked along the way.
        assert_eq!(
            app.me_status(&tokens.access).await,
            StatusCode::OK,
            "{backend}"
        );
    }
}

/// A confidential client's refresh token, stolen: useless for refreshing without the
/// secret, and it must not end anything either. `/logout` (which acts as the built-in
/// public client) and `/oauth/revoke` by anyone but that client refuse it before any
/// side effect, even when the token is a rotated one, which would otherwise count as
/// reuse and revoke the session.
#[tokio::test]
async fn a_stolen_confidential_refresh_token_ends_nothing_without_the_secret() {
    let app = app().await;
    let session = tokens(password_grant(&app, &[], Some(BACKEND)).await).await;
    let current = tokens_of_refresh(&app, &session.refresh, &[], Some(BACKEND)).await;
    // Outside the grace, the first refresh token is a reuse if presented by its owner.
    app.clock.advance(60);
    for token in [&current.refresh, &session.refresh] {
        let logout = app
            .post_json(
                "/logout",
                json!({"refresh_token": token, "scope": "global"}),
            )
            .await;
        assert_error(logout, StatusCode::UNAUTHORIZED, "invalid_client").await;
        let revoke = post(&app, "/oauth/revoke", &[("token", token)], None).await;
        assert_error(revoke, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    assert_eq!(
        app.me_status(&current.access).await,
        StatusCode::OK,
        "refused requests end nothing"
    );
    let next = tokens_of_refresh(&app, &current.refresh, &[], Some(BACKEND)).await;
    assert_eq!(app.me_status(&next.access).await, StatusCode::OK);
    assert_eq!(app.refreshes("reuse_detected"), 0);
}

/// Guesses at a client's secret from one address throttle that client *at that address*
/// only: the client itself, calling from elsewhere, is not locked out.
#[tokio::test]
async fn secret_guesses_from_elsewhere_do_not_lock_the_client_out() {
    let app = app().await;
    let attacker = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("client");
    for _ in 0..12 {
        let response = attacker
            .post(format!("{}/oauth/token", app.url))
            .basic_auth("backend", Some("wrong secret"))
            .form(&[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", ALICE_PASSWORD),
            ])
            .send()
            .await
            .expect("request");
        assert!(
            matches!(response.status().as_u16(), 401 | 429),
            "{}",
            response.status()
        );
    }
    let blocked = attacker
        .post(format!("{}/oauth/token", app.url))
        .basic_auth(BACKEND.0, Some(BACKEND.1))
        .form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", ALICE_PASSWORD),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(
        blocked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the guessing address is blocked"
    );
    let owner = password_grant(&app, &[], Some(BACKEND)).await;
    assert_eq!(
        owner.status(),
        StatusCode::OK,
        "the client at its own address is not"
    );
}

/// Client secrets are stored as a keyed hash (not Argon2id, not the secret).
#[tokio::test]
async fn client_secrets_are_stored_as_a_keyed_hash() {
    let app = app().await;
    let record = app
        .service()
        .store()
        .client(BACKEND.0)
        .await
        .expect("read")
        .expect("the client");
    let stored = record.secret_hash.expect("a secret hash");
    assert!(stored.starts_with("hmac-sha256$"), "{stored}");
    assert!(!stored.contains(BACKEND.1));
}
