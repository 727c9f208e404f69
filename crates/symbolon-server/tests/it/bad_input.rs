//! Hostile and broken requests: every one gets a 4xx in the contract's error format,
//! never a 5xx, and the server keeps answering afterwards.

use crate::helpers::{header, spawn_with, TestApp, ALICE_PASSWORD};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// How a case's body is sent.
enum Body {
    /// Serialised JSON with `Content-Type: application/json`.
    Json(Value),
    /// Bytes with the given content type (none when `None`).
    Raw(Option<&'static str>, Vec<u8>),
}

/// The status and error code a case must get.
type Expect = (u16, &'static str);

const BAD: Expect = (400, "invalid_request");
const TOO_BIG: Expect = (413, "invalid_request");
const MEDIA: Expect = (415, "invalid_request");
/// `invalid_grant` on the simple API (RFC 6749's 400 is for `/oauth/token`).
const GRANT: Expect = (401, "invalid_grant");
const GRANT_400: Expect = (400, "invalid_grant");
const UNSUPPORTED: Expect = (400, "unsupported_grant_type");
const NO_TOKEN: Expect = (401, "invalid_token");
const CLIENT: Expect = (401, "invalid_client");

struct Case {
    /// Names the case in failure messages.
    name: String,
    method: Method,
    path: &'static str,
    /// Send alice's access token.
    bearer: bool,
    body: Body,
    expect: Expect,
}

const JSON: Option<&str> = Some("application/json");
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

/// The JSON endpoints, and whether each needs a bearer token to reach its body.
const JSON_ENDPOINTS: [(&str, bool); 5] = [
    ("/login", false),
    ("/token/refresh", false),
    ("/register", false),
    ("/password", true),
    ("/logout", true),
];

/// Turns a table of `(name, body, expectation)` rows for one endpoint into cases.
fn post_cases(path: &'static str, bearer: bool, rows: Vec<(&str, Body, Expect)>) -> Vec<Case> {
    rows.into_iter()
        .map(|(name, body, expect)| Case {
            name: format!("POST {path}: {name}"),
            method: Method::POST,
            path,
            bearer,
            body,
            expect,
        })
        .collect()
}

fn raw(content_type: Option<&'static str>, bytes: &[u8]) -> Body {
    Body::Raw(content_type, bytes.to_vec())
}

/// A JSON body with one string field of `len` bytes: valid JSON, only too big.
fn oversized(len: usize) -> Body {
    Body::Raw(
        JSON,
        serde_json::to_vec(&json!({ "username": "a".repeat(len) })).expect("json"),
    )
}

// The case tables below keep one case a line (rustfmt would split each row over five
// lines), so that a table reads as a table.

/// Broken bodies every JSON endpoint must refuse in the same way.
#[rustfmt::skip]
fn body_cases() -> Vec<Case> {
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes();
    let mut cases = Vec::new();
    for (path, bearer) in JSON_ENDPOINTS {
        let mut rows = vec![
            ("malformed JSON", raw(JSON, br#"{"username": "#), BAD),
            ("trailing garbage", raw(JSON, br#"{"username": "a"} x"#), BAD),
            // In a key, which every endpoint must read to match its fields.
            ("invalid UTF-8", raw(JSON, b"{\"\xff\xfe\": \"x\"}"), BAD),
            ("JSON null", raw(JSON, b"null"), BAD),
            ("JSON number", raw(JSON, b"42"), BAD),
            ("JSON string", raw(JSON, br#""alice""#), BAD),
            ("array of numbers", raw(JSON, b"[1, 2]"), BAD),
            ("10,000 levels of nesting", raw(JSON, &nested), BAD),
            ("text/plain", raw(Some("text/plain"), br#"{"username": "a"}"#), MEDIA),
            ("form content type", raw(FORM, b"username=alice&password=x"), MEDIA),
            ("no content type", raw(None, br#"{"username": "alice"}"#), MEDIA),
            ("100 KB body", oversized(100 * 1024), TOO_BIG),
            ("just over 64 KiB", oversized(64 * 1024), TOO_BIG),
        ];
        // serde's derived structs also read an array of their fields in order: each of
        // these would otherwise be a login, a refresh, a registration, a password change
        // (alice's own password) or a logout. The contract's bodies are objects.
        let fields_in_order = match path {
            "/login" => json!(["alice", ALICE_PASSWORD]),
            "/token/refresh" => json!(["not a token"]),
            "/register" => json!(["carol", "a fine password"]),
            "/password" => json!([ALICE_PASSWORD, "a brand new password"]),
            _ => json!([null, "global"]),
        };
        rows.push(("the fields as an array", Body::Json(fields_in_order), BAD));
        // An empty body is a missing body, which /logout allows (the bearer token suffices).
        if path != "/logout" {
            rows.push(("empty body", raw(JSON, b""), BAD));
        }
        cases.extend(post_cases(path, bearer, rows));
    }
    cases
}

/// Wrong types, NUL bytes, non-ASCII and huge values in the fields of each endpoint.
#[rustfmt::skip]
fn field_cases() -> Vec<Case> {
    let long = "a".repeat(10_000);
    let (nul, unicode, pw) = ("ali\0ce", "ünïcödé-用户", ALICE_PASSWORD);
    let j = Body::Json;
    let login = vec![
        ("unicode username", j(json!({"username": unicode, "password": pw})), GRANT),
        ("NUL in username", j(json!({"username": nul, "password": pw})), GRANT),
        ("NUL in password", j(json!({"username": "alice", "password": "a\0b"})), GRANT),
        ("10,000-char username", j(json!({"username": long, "password": pw})), GRANT),
        ("10,000-char password", j(json!({"username": "alice", "password": long})), GRANT),
        ("empty strings", j(json!({"username": "", "password": ""})), GRANT),
        ("number username", j(json!({"username": 5, "password": pw})), BAD),
        ("array username", j(json!({"username": ["alice"], "password": pw})), BAD),
        ("null password", j(json!({"username": "alice", "password": null})), BAD),
        ("object password", j(json!({"username": "alice", "password": {}})), BAD),
        ("boolean password", j(json!({"username": "alice", "password": true})), BAD),
    ];
    let refresh = vec![
        ("NUL token", j(json!({"refresh_token": "\0".repeat(43)})), GRANT),
        ("unicode token", j(json!({"refresh_token": unicode})), GRANT),
        ("10,000-char token", j(json!({"refresh_token": long})), GRANT),
        ("empty token", j(json!({"refresh_token": ""})), GRANT),
        ("a JWT as token", j(json!({"refresh_token": "a.b.c"})), GRANT),
        ("number token", j(json!({"refresh_token": 5})), BAD),
        ("array token", j(json!({"refresh_token": []})), BAD),
    ];
    let register = vec![
        ("unicode username", j(json!({"username": unicode, "password": pw})), BAD),
        ("NUL in username", j(json!({"username": nul, "password": pw})), BAD),
        ("10,000-char username", j(json!({"username": long, "password": pw})), BAD),
        ("10,000-char password", j(json!({"username": "carol", "password": long})), BAD),
        ("number username", j(json!({"username": 7, "password": pw})), BAD),
        ("null password", j(json!({"username": "carol", "password": null})), BAD),
        ("missing password", j(json!({"username": "carol"})), BAD),
    ];
    let new = "a brand new password";
    let password = vec![
        ("NUL in current", j(json!({"current_password": "a\0b", "new_password": new})), GRANT),
        ("10,000-char new", j(json!({"current_password": pw, "new_password": long})), BAD),
        ("number current", j(json!({"current_password": 1, "new_password": new})), BAD),
        ("null new", j(json!({"current_password": pw, "new_password": null})), BAD),
        ("array new", j(json!({"current_password": pw, "new_password": [new]})), BAD),
    ];
    let logout_as_alice = vec![
        ("number refresh_token", j(json!({"refresh_token": 5})), BAD),
        ("unknown scope", j(json!({"scope": "GLOBAL"})), BAD),
        ("number scope", j(json!({"scope": 1})), BAD),
    ];
    let logout_anonymous = vec![
        ("NUL refresh_token", j(json!({"refresh_token": "\0"})), GRANT),
        ("10,000-char refresh_token", j(json!({"refresh_token": long})), GRANT),
        ("empty body", raw(JSON, b""), NO_TOKEN),
        ("null refresh_token", j(json!({"refresh_token": null})), NO_TOKEN),
    ];
    [
        post_cases("/login", false, login),
        post_cases("/token/refresh", false, refresh),
        post_cases("/register", false, register),
        post_cases("/password", true, password),
        post_cases("/logout", true, logout_as_alice),
        post_cases("/logout", false, logout_anonymous),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// `/oauth/token` takes forms, so its broken inputs are form-shaped.
#[rustfmt::skip]
fn oauth_cases() -> Vec<Case> {
    let form = |text: &str| raw(FORM, text.as_bytes());
    let password = |username: &str| form(&format!("grant_type=password&password=x&username={username}"));
    let rows = vec![
        ("JSON body", Body::Json(json!({"grant_type": "password"})), MEDIA),
        ("no content type", raw(None, b"grant_type=password"), MEDIA),
        ("empty form", form(""), BAD),
        ("missing grant_type", form("username=alice&password=x"), BAD),
        ("empty grant_type", form("grant_type="), BAD),
        ("repeated grant_type", form("grant_type=password&grant_type=refresh_token"), BAD),
        ("unknown grant_type", form("grant_type=client_credentials"), UNSUPPORTED),
        ("bad percent escape", form("grant_type=%ZZ"), UNSUPPORTED),
        ("invalid UTF-8", form("grant_type=%FF%FE"), UNSUPPORTED),
        ("missing password", form("grant_type=password&username=alice"), BAD),
        ("missing refresh_token", form("grant_type=refresh_token"), BAD),
        ("NUL in username", password("al%00ice"), GRANT_400),
        ("NUL in password", form("grant_type=password&username=alice&password=%00"), GRANT_400),
        ("unicode username", password("%C3%BC"), GRANT_400),
        ("10,000-char username", password(&"a".repeat(10_000)), GRANT_400),
        ("NUL refresh token", form("grant_type=refresh_token&refresh_token=%00"), GRANT_400),
        ("100 KB body", password(&"a".repeat(100 * 1024)), TOO_BIG),
        ("NUL client_id", form("grant_type=password&username=a&password=b&client_id=%00"), CLIENT),
    ];
    post_cases("/oauth/token", false, rows)
}

/// Requests that miss the router: unknown paths and methods.
fn routing_cases() -> Vec<Case> {
    let table = [
        (Method::GET, "/nope", (404, "not_found")),
        (Method::POST, "/oauth", (404, "not_found")),
        (Method::GET, "/me/", (404, "not_found")),
        (Method::GET, "/login", (405, "invalid_request")),
        (Method::PUT, "/token/refresh", (405, "invalid_request")),
        (Method::POST, "/me", (405, "invalid_request")),
        (Method::DELETE, "/sessions", (405, "invalid_request")),
        (Method::GET, "/oauth/token", (405, "invalid_request")),
    ];
    let case = |(method, path, expect): (Method, &'static str, Expect)| Case {
        name: format!("{method} {path}"),
        method,
        path,
        bearer: false,
        body: raw(None, b""),
        expect,
    };
    table.into_iter().map(case).collect()
}

/// An app with alice, and limits high enough that the many failed logins of a table do
/// not turn into 429s half-way through.
async fn app() -> TestApp {
    let app = spawn_with(|c| {
        c.allow_registration = true;
        c.account_failures_allowed = 10_000;
        c.ip_failures_allowed = 10_000;
    })
    .await;
    app.add_user("alice", ALICE_PASSWORD).await;
    app
}

async fn run(app: &TestApp, case: Case) {
    let Case {
        name,
        method,
        path,
        bearer,
        body,
        expect: (status, code),
    } = case;
    // A fresh session per case: a case that wrongly succeeded must not spoil the next.
    let token = if bearer {
        Some(app.login("alice", ALICE_PASSWORD).await.access)
    } else {
        None
    };
    let mut request = app.request(method, path, token.as_deref());
    request = match body {
        Body::Json(value) => request.json(&value),
        Body::Raw(content_type, bytes) => {
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            request.body(bytes)
        }
    };
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let got = response.status();
    assert!(got.is_client_error(), "{name}: {got}");
    let content_type = header(&response, "content-type");
    let text = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(got.as_u16(), status, "{name}: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "{name}: content type {content_type:?}: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}"));
    assert_eq!(body["error"], code, "{name}: {body}");
    assert!(body["error_description"].is_string(), "{name}: {body}");
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(2),
        "{name}: exactly the contract's fields: {body}"
    );
    assert_eq!(
        app.get("/healthz", None).await.status(),
        StatusCode::OK,
        "{name}: the server stopped answering"
    );
}

async fn run_all(cases: Vec<Case>) {
    let app = app().await;
    for case in cases {
        run(&app, case).await;
    }
    // Nothing above changed alice: she still logs in.
    app.login("alice", ALICE_PASSWORD).await;
}

#[tokio::test]
async fn broken_json_bodies_get_contract_errors() {
    run_all(body_cases()).await;
}

#[tokio::test]
async fn hostile_field_values_get_contract_errors() {
    run_all(field_cases()).await;
}

#[tokio::test]
async fn broken_oauth_forms_get_contract_errors() {
    run_all(oauth_cases()).await;
}

#[tokio::test]
async fn unknown_paths_and_methods_get_contract_errors() {
    run_all(routing_cases()).await;
}

#[tokio::test]
async fn broken_authorization_headers_are_refused_without_5xx() {
    let app = app().await;
    // (endpoint, Authorization header, expectation)
    let long = format!("Bearer {}", "a".repeat(8 * 1024));
    let table: [(&str, &[u8], Expect); 10] = [
        ("/me", b"Bearer a.b.c", NO_TOKEN),
        ("/me", b"Bearer \xff\xfe", NO_TOKEN),
        ("/me", long.as_bytes(), NO_TOKEN),
        ("/me", b"Bearer eyJhbGciOiJub25lIn0.e30.", NO_TOKEN),
        ("/me", b"Digest username=alice", NO_TOKEN),
        ("/oauth/introspect", b"Basic !!!", CLIENT),
        ("/oauth/introspect", b"Basic \xff", CLIENT),
        // "alice" without a colon, a lone 0xff byte, and "a:%ZZ" (a broken escape).
        ("/oauth/introspect", b"Basic YWxpY2U=", CLIENT),
        ("/oauth/introspect", b"Basic /w==", CLIENT),
        ("/oauth/introspect", b"Basic YTolWlo=", CLIENT),
    ];
    for (path, authorization, (status, code)) in table {
        let method = if path == "/me" {
            Method::GET
        } else {
            Method::POST
        };
        let value = reqwest::header::HeaderValue::from_bytes(authorization).expect("header value");
        let response = app
            .request(method, path, None)
            .header("authorization", value)
            .form(&[("token", "x")])
            .send()
            .await
            .expect("request");
        let name = format!("{path} with {:.40}", String::from_utf8_lossy(authorization));
        assert_eq!(response.status().as_u16(), status, "{name}");
        let body: Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(body["error"], code, "{name}: {body}");
    }
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_user_may_register_a_password_with_a_nul_byte_and_log_in_with_it() {
    // NUL is an ordinary character in a password: it must round-trip, not truncate.
    let app = app().await;
    let body = json!({"username": "carol", "password": "pass\0word"});
    assert_eq!(
        app.post_json("/register", body).await.status(),
        StatusCode::CREATED
    );
    app.login("carol", "pass\0word").await;
    let truncated = app.login_response("carol", "pass").await;
    assert_eq!(truncated.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn random_bodies_never_get_a_5xx() {
    let app = app().await;
    let mut runner = TestRunner::deterministic();
    // Bytes of any kind, and text made of JSON's own punctuation, which gets further
    // into the parser than noise does.
    let bytes = proptest::collection::vec(proptest::num::u8::ANY, 0..200);
    let jsonish =
        proptest::string::string_regex(r#"[{}\[\]":,\\ a-z0-9.\-]{0,80}"#).expect("regex");
    for round in 0..64 {
        let noise = bytes.new_tree(&mut runner).expect("value").current();
        let text = jsonish
            .new_tree(&mut runner)
            .expect("value")
            .current()
            .into_bytes();
        for (path, content_type) in [
            ("/login", JSON),
            ("/token/refresh", JSON),
            ("/register", JSON),
            ("/oauth/token", FORM),
        ] {
            for body in [&noise, &text] {
                let mut request = app.request(Method::POST, path, None).body(body.clone());
                if let Some(content_type) = content_type {
                    request = request.header("content-type", content_type);
                }
                let response = request.send().await.expect("request");
                let status = response.status();
                let text = response.text().await.expect("body");
                assert!(
                    status.is_client_error() || status.is_success(),
                    "round {round}, {path}, {body:?}: {status} {text}"
                );
                if status.is_client_error() {
                    let error: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("{path} {body:?}: {e}: {text}"));
                    assert!(error["error"].is_string(), "{error}");
                }
            }
        }
    }
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
}
