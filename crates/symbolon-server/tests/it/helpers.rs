#![allow(dead_code)] // Shared by every test module; not each uses all of it.

//! `spawn_app()`: the real server in process (`symbolon_testkit::TestServer`: its own
//! SQLite file, master key and manual clock), and small helpers to talk to it.

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use symbolon_server::config::Secs;
use symbolon_server::Config;
use symbolon_testkit::TestServer;

pub use symbolon_testkit::T0;

/// The server under test, with the request helpers of these suites. Derefs to the
/// testkit's [`TestServer`] (`url`, `state`, `clock`, `http`, `add_user`, …).
pub struct TestApp(TestServer);

impl std::ops::Deref for TestApp {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.0
    }
}

impl std::ops::DerefMut for TestApp {
    fn deref_mut(&mut self) -> &mut TestServer {
        &mut self.0
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(edit: impl FnOnce(&mut Config)) -> TestApp {
    TestApp(TestServer::spawn_with(T0, edit).await)
}

impl TestApp {
    /// Stops the server and starts a new one on the same files and clock.
    pub async fn restart(self) -> TestApp {
        TestApp(self.0.restart().await)
    }

    /// Restarts with another configuration (same files and clock).
    pub async fn restart_with(self, config: Config) -> TestApp {
        TestApp(self.0.restart_with(config).await)
    }

    /// A second instance on the same database, keys and clock.
    pub async fn another_instance(&self) -> TestApp {
        TestApp(self.0.another_instance().await)
    }

    /// A second instance with another configuration (same files and clock).
    pub async fn another_instance_with(&self, config: Config) -> TestApp {
        TestApp(self.0.another_instance_with(config).await)
    }

    /// Stops the server (see [`TestServer::stop`]).
    pub async fn shutdown(&mut self) {
        self.0.stop().await;
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(format!("{}{path}", self.url))
            .form(form)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Response {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request")
    }

    pub async fn login_response(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/login",
            json!({"username": username, "password": password}),
        )
        .await
    }

    /// Logs in and returns the token response, asserting 200.
    pub async fn login(&self, username: &str, password: &str) -> Tokens {
        let response = self.login_response(username, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login failed");
        Tokens::from_value(response.json().await.expect("json"))
    }

    pub async fn refresh_response(&self, refresh_token: &str) -> Response {
        self.post_json("/token/refresh", json!({"refresh_token": refresh_token}))
            .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Tokens {
        let response = self.refresh_response(refresh_token).await;
        assert_eq!(response.status(), StatusCode::OK, "refresh failed");
        Tokens::from_value(response.json().await.expect("json"))
    }

    /// A user `alice` with password `correct horse battery`, logged in.
    pub async fn alice(&self) -> Tokens {
        self.add_user("alice", ALICE_PASSWORD).await;
        self.login("alice", ALICE_PASSWORD).await
    }
}

pub const ALICE_PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub session_id: String,
    pub body: Value,
}

impl Tokens {
    pub fn from_value(body: Value) -> Self {
        Self {
            access: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
            session_id: body["session_id"].as_str().expect("session_id").to_owned(),
            body,
        }
    }
}

/// Asserts the status and the contract's error body, and returns the body.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type}"
    );
    let body: Value = response.json().await.expect("json error body");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    body
}

pub fn secs(s: i64) -> Secs {
    Secs(s)
}

// ---- Helpers for the endpoint suites (simple, bad_input, ops, oauth, jwt). ----

impl TestApp {
    /// A request to `path` with an optional bearer token, for methods and bodies the
    /// helpers above do not cover.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.url));
        match bearer {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    /// `POST path` with a JSON body and a bearer token.
    pub async fn post_json_as(&self, path: &str, bearer: &str, body: Value) -> Response {
        self.request(reqwest::Method::POST, path, Some(bearer))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// The status `GET /me` answers with this access token.
    pub async fn me_status(&self, access: &str) -> StatusCode {
        self.get("/me", Some(access)).await.status()
    }
}

/// Asserts a 401 `invalid_token` for a token that was sent but refused (RFC 6750 §3).
pub async fn assert_invalid_token(response: Response) -> Value {
    let challenge = header(&response, "www-authenticate");
    assert!(challenge.starts_with("Bearer "), "challenge {challenge:?}");
    assert!(
        challenge.contains("error=\"invalid_token\""),
        "challenge {challenge:?}"
    );
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await
}

/// The payload of a JWT, decoded without any verification (for reading claims only).
pub fn jwt_payload(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON payload")
}

/// A header value as text ("" when absent).
pub fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// The header of a JWT, decoded without any verification.
pub fn jwt_header(token: &str) -> Value {
    use base64::Engine;
    let header = token.split('.').next().expect("a JWT has a header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url header");
    serde_json::from_slice(&bytes).expect("JSON header")
}
