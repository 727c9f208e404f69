#![allow(dead_code)] // Shared by every test module; not each uses all of it.

//! `spawn_app()`: a server on 127.0.0.1:0 with its own SQLite file, master key and a
//! manual clock; and small helpers to talk to it.

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use symbolon_core::ids::Password;
use symbolon_core::ManualClock;
use symbolon_server::config::Secs;
use symbolon_server::{AppState, Config};
use tokio::sync::oneshot;

/// The start of every test clock: a fixed, realistic time.
pub const T0: i64 = 1_800_000_000;

pub struct TestApp {
    pub url: String,
    pub http: reqwest::Client,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub dir: Arc<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// The configuration tests start from: fast Argon2, files in `dir`.
pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.join("symbolon.db").display()),
        issuer: Some("http://symbolon.test".into()),
        master_key_file: dir.join("symbolon.key"),
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        ..Config::default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(edit: impl FnOnce(&mut Config)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut config = test_config(dir.path());
    edit(&mut config);
    start(dir, config, Arc::new(ManualClock::new(T0))).await
}

async fn start(dir: Arc<tempfile::TempDir>, config: Config, clock: Arc<ManualClock>) -> TestApp {
    let state = symbolon_server::build(config, clock.clone())
        .await
        .expect("server builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(symbolon_server::serve(state.clone(), listener, async {
        let _ = stopped.await;
    }));
    TestApp {
        url,
        http: reqwest::Client::new(),
        state,
        clock,
        dir,
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestApp {
    /// Stops the server and starts a new one on the same files and clock.
    pub async fn restart(mut self) -> TestApp {
        self.shutdown().await;
        let config = self.state.config.clone();
        let (dir, clock) = (self.dir.clone(), self.clock.clone());
        drop(self);
        start(dir, config, clock).await
    }

    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub async fn add_user(&self, name: &str, password: &str) -> String {
        symbolon_server::api::simple::create_user(&self.state, name, Password::new(password.into()))
            .await
            .expect("user created")
            .id
            .to_string()
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

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
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
