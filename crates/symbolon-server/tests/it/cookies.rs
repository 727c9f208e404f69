//! The browser cookie mode, its CSRF check and CORS (`docs/API.md` §2.9), through a
//! real server: the cookie's attributes, refresh and logout from the cookie alone,
//! reuse, the 403s, preflights, the loopback development exception, and the
//! configuration's refusals.

use crate::helpers::{assert_error, header, spawn_app, spawn_with, TestApp, ALICE_PASSWORD};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

/// The server's own origin: the test issuer's (`http://symbolon.test`).
const OWN: &str = "http://symbolon.test";
/// An origin the configuration allows.
const APP: &str = "https://app.example";
const COOKIE: &str = "__Host-symbolon-refresh";
const WEEK: u64 = 7 * 86_400;

/// A server that allows [`APP`], with alice.
async fn browser_app() -> TestApp {
    let app = spawn_with(|c| {
        c.cors_allowed_origins = vec![symbolon_server::config::Origin::parse(APP).unwrap()]
    })
    .await;
    app.add_user("alice", ALICE_PASSWORD).await;
    app
}

/// A cookie-mode request from `origin` (none: no `Origin` header).
fn cookie_request(app: &TestApp, path: &str, origin: Option<&str>) -> RequestBuilder {
    let request = app
        .request(Method::POST, path, None)
        .header("x-symbolon-cookie", "1");
    match origin {
        Some(origin) => request.header("origin", origin),
        None => request,
    }
}

/// A `Set-Cookie` header, parsed: name, value and attributes (names in lower case).
#[derive(Debug)]
struct SetCookie {
    name: String,
    value: String,
    attributes: Vec<(String, String)>,
}

impl SetCookie {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn has(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }
}

/// The response's one `Set-Cookie`.
fn set_cookie(response: &Response) -> SetCookie {
    let all: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    assert_eq!(all.len(), 1, "one Set-Cookie: {all:?}");
    let text = all[0].to_str().unwrap();
    let mut parts = text.split(';').map(str::trim);
    let (name, value) = parts.next().unwrap().split_once('=').unwrap();
    let attributes = parts
        .map(|part| {
            let (n, v) = part.split_once('=').unwrap_or((part, ""));
            (n.to_ascii_lowercase(), v.to_owned())
        })
        .collect();
    SetCookie {
        name: name.to_owned(),
        value: value.to_owned(),
        attributes,
    }
}

/// Asserts every attribute of a live cookie (§2.9) and returns it.
fn assert_live_cookie(response: &Response, max_age: u64) -> SetCookie {
    let cookie = set_cookie(response);
    assert_eq!(cookie.name, COOKIE, "{cookie:?}");
    assert!(!cookie.value.is_empty(), "{cookie:?}");
    assert!(cookie.has("httponly"), "{cookie:?}");
    assert!(cookie.has("secure"), "{cookie:?}");
    assert_eq!(cookie.attribute("samesite"), Some("Strict"), "{cookie:?}");
    assert_eq!(cookie.attribute("path"), Some("/"), "{cookie:?}");
    assert!(!cookie.has("domain"), "{cookie:?}");
    assert_eq!(
        cookie.attribute("max-age"),
        Some(max_age.to_string().as_str()),
        "{cookie:?}"
    );
    cookie
}

/// Asserts that the answer deletes the cookie (same name, path and attributes, Max-Age=0).
fn assert_cleared(response: &Response) {
    let cookie = set_cookie(response);
    assert_eq!(cookie.name, COOKIE, "{cookie:?}");
    assert_eq!(cookie.value, "", "{cookie:?}");
    assert_eq!(cookie.attribute("max-age"), Some("0"), "{cookie:?}");
    assert_eq!(cookie.attribute("path"), Some("/"), "{cookie:?}");
    assert!(cookie.has("httponly") && cookie.has("secure"), "{cookie:?}");
}

/// Asserts the cookie-mode token response and returns its body.
async fn assert_cookie_tokens(response: Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "cache-control"), "no-store");
    let body: Value = response.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert_eq!(body["refresh_token_expires_in"], WEEK, "{body}");
    assert!(body["access_token"].as_str().is_some(), "{body}");
    assert!(body["session_id"].as_str().is_some(), "{body}");
    body
}

/// A cookie login from `origin`: the cookie's value and the body.
async fn cookie_login(app: &TestApp, origin: Option<&str>) -> (String, Value) {
    let response = cookie_request(app, "/login", origin)
        .json(&json!({"username": "alice", "password": ALICE_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = assert_live_cookie(&response, WEEK);
    (cookie.value, assert_cookie_tokens(response).await)
}

/// `POST /token/refresh` in cookie mode with only the cookie (an empty body).
async fn cookie_refresh(app: &TestApp, cookie: &str, origin: Option<&str>) -> Response {
    cookie_request(app, "/token/refresh", origin)
        .header("cookie", format!("{COOKIE}={cookie}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cookie_login_sets_a_host_only_httponly_cookie_and_no_refresh_token_in_the_body() {
    let app = browser_app().await;
    let (cookie, body) = cookie_login(&app, Some(OWN)).await;
    assert!(!body.to_string().contains(&cookie), "{body}");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(app.me_status(access).await, StatusCode::OK);
    // The JSON API is unchanged: the refresh token in the body, no cookie.
    let plain = app.login_response("alice", ALICE_PASSWORD).await;
    assert!(plain.headers().get("set-cookie").is_none());
    let plain: Value = plain.json().await.unwrap();
    assert!(plain["refresh_token"].is_string(), "{plain}");
}

#[tokio::test]
async fn refresh_with_only_the_cookie_rotates_and_sets_the_successor() {
    let app = browser_app().await;
    let (first, _) = cookie_login(&app, Some(OWN)).await;
    let rotated = app.refreshes("rotated");
    let response = cookie_refresh(&app, &first, Some(OWN)).await;
    let second = assert_live_cookie(&response, WEEK).value;
    assert_cookie_tokens(response).await;
    assert_ne!(first, second);
    assert_eq!(app.refreshes("rotated"), rotated + 1);
    // `{}` as the body is accepted too.
    let response = cookie_request(&app, "/token/refresh", Some(OWN))
        .header("cookie", format!("other=1; {COOKIE}={second}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let third = assert_live_cookie(&response, WEEK).value;
    assert_ne!(third, second);
    assert_eq!(app.refreshes("rotated"), rotated + 2);
    // The cookie's token is an ordinary refresh token of the session.
    app.refresh(&third).await;
}

#[tokio::test]
async fn the_old_cookie_replayed_after_the_grace_is_reuse_and_the_answer_clears_it() {
    let app = browser_app().await;
    let (first, _) = cookie_login(&app, Some(OWN)).await;
    let response = cookie_refresh(&app, &first, Some(OWN)).await;
    let second = assert_live_cookie(&response, WEEK).value;
    app.clock.advance(app.config.reuse_grace.0 + 1);
    let replay = cookie_refresh(&app, &first, Some(OWN)).await;
    assert_cleared(&replay);
    assert_error(replay, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    assert_eq!(app.refreshes("reuse_detected"), 1);
    // Reuse revoked the session: the successor is refused too, and cleared.
    let after = cookie_refresh(&app, &second, Some(OWN)).await;
    assert_cleared(&after);
    assert_error(after, StatusCode::UNAUTHORIZED, "invalid_grant").await;
}

#[tokio::test]
async fn logout_from_the_cookie_ends_the_session_and_clears_the_cookie() {
    let app = browser_app().await;
    let (cookie, body) = cookie_login(&app, Some(OWN)).await;
    let access = body["access_token"].as_str().unwrap();
    let response = cookie_request(&app, "/logout", Some(OWN))
        .header("cookie", format!("{COOKIE}={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_cleared(&response);
    assert_eq!(app.me_status(access).await, StatusCode::UNAUTHORIZED);
    let refused = cookie_refresh(&app, &cookie, Some(OWN)).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_grant").await;
}

#[tokio::test]
async fn logout_of_the_other_sessions_keeps_the_cookie() {
    let app = browser_app().await;
    let other = app.login("alice", ALICE_PASSWORD).await;
    let (cookie, _) = cookie_login(&app, Some(OWN)).await;
    let response = cookie_request(&app, "/logout", Some(OWN))
        .header("cookie", format!("{COOKIE}={cookie}"))
        .json(&json!({"scope": "others"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(app.me_status(&other.access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        cookie_refresh(&app, &cookie, Some(OWN)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_foreign_origin_is_forbidden_before_anything_happens() {
    let app = browser_app().await;
    let (cookie, _) = cookie_login(&app, Some(OWN)).await;
    let rotated = app.refreshes("rotated");
    for origin in [
        Some("https://evil.example"),
        Some("null"),
        Some("http://app.example"),
        None,
    ] {
        let response = cookie_refresh(&app, &cookie, origin).await;
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{origin:?}"
        );
        assert!(response.headers().get("set-cookie").is_none(), "{origin:?}");
        let body = assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("Origin"),
            "{body}"
        );
    }
    // A cross-site fetch without Origin, or the header with another value.
    let cross = cookie_request(&app, "/token/refresh", None)
        .header("sec-fetch-site", "cross-site")
        .header("cookie", format!("{COOKIE}={cookie}"))
        .send()
        .await
        .unwrap();
    assert_error(cross, StatusCode::FORBIDDEN, "forbidden").await;
    let zero = app
        .request(Method::POST, "/token/refresh", None)
        .header("x-symbolon-cookie", "0")
        .header("origin", OWN)
        .header("cookie", format!("{COOKIE}={cookie}"))
        .send()
        .await
        .unwrap();
    assert_error(zero, StatusCode::FORBIDDEN, "forbidden").await;
    // Logins and logouts too; and nothing was rotated or ended.
    let login = cookie_request(&app, "/login", Some("https://evil.example"))
        .json(&json!({"username": "alice", "password": ALICE_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_error(login, StatusCode::FORBIDDEN, "forbidden").await;
    let logout = cookie_request(&app, "/logout", Some("https://evil.example"))
        .header("cookie", format!("{COOKIE}={cookie}"))
        .send()
        .await
        .unwrap();
    assert_error(logout, StatusCode::FORBIDDEN, "forbidden").await;
    // A wrong method is still 405, whatever the headers.
    let trace = app
        .request(Method::TRACE, "/login", None)
        .header("x-symbolon-cookie", "")
        .send()
        .await
        .unwrap();
    assert_error(trace, StatusCode::METHOD_NOT_ALLOWED, "invalid_request").await;
    assert_eq!(app.refreshes("rotated"), rotated);
    assert_eq!(app.refreshes("grace_replay"), 0);
    let response = cookie_refresh(&app, &cookie, Some(OWN)).await;
    assert_cookie_tokens(response).await;
    assert_eq!(app.refreshes("rotated"), rotated + 1);
}

#[tokio::test]
async fn an_allowed_origin_gets_the_cors_headers() {
    let app = browser_app().await;
    let response = cookie_request(&app, "/login", Some(APP))
        .json(&json!({"username": "alice", "password": ALICE_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "access-control-allow-origin"), APP);
    assert_eq!(
        header(&response, "access-control-allow-credentials"),
        "true"
    );
    assert!(header(&response, "vary").contains("Origin"));
    assert!(header(&response, "access-control-expose-headers").contains("retry-after"));
    let cookie = assert_live_cookie(&response, WEEK).value;
    assert_cookie_tokens(response).await;
    let response = cookie_refresh(&app, &cookie, Some(APP)).await;
    assert_eq!(header(&response, "access-control-allow-origin"), APP);
    assert_cookie_tokens(response).await;
    // Errors carry them too, so that the page can read them.
    let wrong = cookie_request(&app, "/login", Some(APP))
        .json(&json!({"username": "alice", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&wrong, "access-control-allow-origin"), APP);
    assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    // The JSON API from a foreign origin works as before, without CORS headers: the
    // browser withholds the answer from the page.
    let foreign = app
        .request(Method::POST, "/login", None)
        .header("origin", "https://evil.example")
        .json(&json!({"username": "alice", "password": ALICE_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::OK);
    assert!(foreign
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    assert!(header(&foreign, "vary").contains("Origin"));
}

#[tokio::test]
async fn without_the_header_the_cookie_is_ignored() {
    let app = browser_app().await;
    let (cookie, _) = cookie_login(&app, Some(OWN)).await;
    let response = app
        .request(Method::POST, "/token/refresh", None)
        .header("origin", OWN)
        .header("cookie", format!("{COOKIE}={cookie}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("set-cookie").is_none());
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let logout = app
        .request(Method::POST, "/logout", None)
        .header("cookie", format!("{COOKIE}={cookie}"))
        .send()
        .await
        .unwrap();
    assert_error(logout, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(app.refreshes("rotated"), 0);
}

#[tokio::test]
async fn sec_fetch_site_same_origin_without_origin_is_accepted() {
    let app = browser_app().await;
    let response = cookie_request(&app, "/login", None)
        .header("sec-fetch-site", "same-origin")
        .json(&json!({"username": "alice", "password": ALICE_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = assert_live_cookie(&response, WEEK).value;
    assert_cookie_tokens(response).await;
    let response = cookie_request(&app, "/token/refresh", None)
        .header("sec-fetch-site", "same-origin")
        .header("cookie", format!("{COOKIE}={cookie}"))
        .send()
        .await
        .unwrap();
    assert_cookie_tokens(response).await;
}

#[tokio::test]
async fn cookie_mode_refuses_a_body_token_and_a_missing_cookie() {
    let app = browser_app().await;
    let (cookie, _) = cookie_login(&app, Some(OWN)).await;
    let body_token = cookie_request(&app, "/token/refresh", Some(OWN))
        .json(&json!({"refresh_token": cookie}))
        .send()
        .await
        .unwrap();
    let error = assert_error(body_token, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(!error.to_string().contains(&cookie), "{error}");
    let no_cookie = cookie_request(&app, "/token/refresh", Some(OWN))
        .send()
        .await
        .unwrap();
    assert_cleared(&no_cookie);
    assert_error(no_cookie, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    let no_credentials = cookie_request(&app, "/logout", Some(OWN))
        .send()
        .await
        .unwrap();
    assert_error(no_credentials, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(app.refreshes("rotated"), 0);
}

#[tokio::test]
async fn register_in_cookie_mode_is_csrf_checked() {
    let app = spawn_with(|c| c.allow_registration = true).await;
    let credentials = json!({"username": "bob", "password": ALICE_PASSWORD});
    let foreign = cookie_request(&app, "/register", Some("https://evil.example"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_error(foreign, StatusCode::FORBIDDEN, "forbidden").await;
    let own = cookie_request(&app, "/register", Some(OWN))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::CREATED);
    assert!(own.headers().get("set-cookie").is_none());
}

/// A CORS preflight of `POST /login` from `origin`.
async fn preflight(app: &TestApp, path: &str, origin: &str) -> Response {
    app.request(Method::OPTIONS, path, None)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, x-symbolon-cookie",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn preflights_answer_allowed_origins_and_refuse_the_others() {
    let app = browser_app().await;
    for path in ["/login", "/token/refresh", "/logout", "/no/such/path"] {
        let response = preflight(&app, path, APP).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{path}");
        for (name, value) in [
            ("access-control-allow-origin", APP),
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-methods", "GET, POST, DELETE"),
            (
                "access-control-allow-headers",
                "authorization, content-type, x-symbolon-cookie",
            ),
            ("access-control-max-age", "600"),
            ("vary", "Origin"),
        ] {
            assert_eq!(header(&response, name), value, "{path}: {name}");
        }
    }
    let foreign = preflight(&app, "/login", "https://evil.example").await;
    assert!(foreign
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    assert_error(foreign, StatusCode::FORBIDDEN, "forbidden").await;
    // Without any allowed origin, every preflight is refused.
    let closed = spawn_app().await;
    let refused = preflight(&closed, "/login", APP).await;
    assert_error(refused, StatusCode::FORBIDDEN, "forbidden").await;
    // An OPTIONS that is not a preflight is what it was.
    let plain = app
        .request(Method::OPTIONS, "/login", None)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn on_a_loopback_listener_the_development_cookie_drops_secure() {
    let app = spawn_with(|c| c.cookie_insecure_loopback = true).await;
    app.add_user("alice", ALICE_PASSWORD).await;
    let response = cookie_request(&app, "/login", Some(OWN))
        .json(&json!({"username": "alice", "password": ALICE_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = set_cookie(&response);
    assert_eq!(cookie.name, "symbolon-refresh", "{cookie:?}");
    assert!(!cookie.has("secure"), "{cookie:?}");
    assert!(cookie.has("httponly"), "{cookie:?}");
    assert_eq!(cookie.attribute("samesite"), Some("Strict"), "{cookie:?}");
    assert_eq!(cookie.attribute("path"), Some("/"), "{cookie:?}");
    assert_cookie_tokens(response).await;
    let response = cookie_request(&app, "/token/refresh", Some(OWN))
        .header("cookie", format!("symbolon-refresh={}", cookie.value))
        .send()
        .await
        .unwrap();
    assert_eq!(set_cookie(&response).name, "symbolon-refresh");
    assert_cookie_tokens(response).await;
}

#[tokio::test]
async fn samesite_follows_the_configuration() {
    let app = spawn_with(|c| {
        c.cookie_samesite = symbolon_server::config::SameSite::None;
    })
    .await;
    app.add_user("alice", ALICE_PASSWORD).await;
    let response = cookie_request(&app, "/login", Some(OWN))
        .json(&json!({"username": "alice", "password": ALICE_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = set_cookie(&response);
    assert_eq!(cookie.attribute("samesite"), Some("None"), "{cookie:?}");
    assert!(cookie.has("secure"), "{cookie:?}");
}

#[test]
fn the_configuration_refuses_a_wildcard_and_insecure_cookies_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("symbolon.toml");
    let load = |text: &str| {
        std::fs::write(&path, text).unwrap();
        symbolon_server::Config::load(
            Some(&path),
            std::collections::BTreeMap::<String, String>::new(),
        )
        .map(|(config, _)| config)
    };
    let err = load("cors_allowed_origins = [\"*\"]\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cors_allowed_origins") && err.contains("`*`"),
        "{err}"
    );
    let err = load("listen = \"0.0.0.0:8080\"\ncookie_insecure_loopback = true\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("cookie_insecure_loopback"), "{err}");
    let config = load("listen = \"127.0.0.1:8080\"\ncookie_insecure_loopback = true\ncors_allowed_origins = [\"http://localhost:3000\"]\n")
        .unwrap();
    assert!(config.cookie_insecure_loopback);
    assert_eq!(
        config.cors_allowed_origins[0].as_str(),
        "http://localhost:3000"
    );
}

#[tokio::test]
async fn the_openapi_document_names_the_header_and_the_403() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    for path in ["/login", "/token/refresh", "/logout", "/register"] {
        let operation = &doc["paths"][path]["post"];
        let parameters = operation["parameters"].as_array().expect(path);
        let header = parameters
            .iter()
            .find(|p| p["name"] == "X-Symbolon-Cookie")
            .unwrap_or_else(|| panic!("{path}: {parameters:?}"));
        assert_eq!(header["in"], "header", "{path}");
        assert_eq!(header["required"], false, "{path}");
        assert!(operation["responses"]["403"].is_object(), "{path}");
    }
    assert!(doc["components"]["schemas"]["CookieTokenResponse"].is_object());
}
