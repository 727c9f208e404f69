#![allow(dead_code)] // Shared by every test module; not each uses all of it.

//! A real server on 127.0.0.1 (in process, its own SQLite file and master key), and
//! clients for it.

use std::sync::Arc;
use std::time::Duration;
use symbolon_client::{Client, MemoryStore, TokenStore};
use symbolon_core::ids::Password;
use symbolon_core::ManualClock;
use symbolon_server::{AppState, Config};
use tokio::sync::oneshot;

pub const T0: i64 = 1_800_000_000;
pub const ALICE: &str = "alice";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestServer {
    pub url: String,
    pub addr: std::net::SocketAddr,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub dir: Arc<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

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

/// A server with user `alice`, its clock stopped at [`T0`] (advance it to expire tokens
/// on the server's side).
pub async fn spawn_server() -> TestServer {
    spawn_server_at(T0).await
}

/// Like [`spawn_server`], with the server's clock stopped at `now` (Unix seconds).
pub async fn spawn_server_at(now: i64) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let config = test_config(dir.path());
    let server = start(dir, config, Arc::new(ManualClock::new(now)), "127.0.0.1:0").await;
    symbolon_server::api::simple::create_user(&server.state, ALICE, Password::new(PASSWORD.into()))
        .await
        .expect("user created");
    server
}

async fn start(
    dir: Arc<tempfile::TempDir>,
    config: Config,
    clock: Arc<ManualClock>,
    bind: &str,
) -> TestServer {
    let state = symbolon_server::build(config, clock.clone())
        .await
        .expect("server builds");
    let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(symbolon_server::serve(state.clone(), listener, async {
        let _ = stopped.await;
    }));
    TestServer {
        url: format!("http://{addr}"),
        addr,
        state,
        clock,
        dir,
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestServer {
    /// Stops answering: the listener is closed and connections refused.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// A new server on the same port, SQLite file, master key and clock.
    pub async fn restart(mut self) -> TestServer {
        self.stop().await;
        let config = self.state.config.clone();
        let (dir, clock, addr) = (self.dir.clone(), self.clock.clone(), self.addr);
        drop(self);
        start(dir, config, clock, &addr.to_string()).await
    }

    /// How many refreshes the server counted with this outcome (`rotated`,
    /// `grace_replay`, `reuse_detected`, `revoked`, ...).
    pub fn refreshes(&self, outcome: &str) -> u64 {
        let text = self.state.metrics.encode();
        let needle = format!("symbolon_refresh_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&needle))
            .map(|n| n.trim().parse().expect("counter"))
            .unwrap_or(0)
    }

    /// Puts the server's clock past every access token issued so far.
    pub fn expire_access_tokens(&self) {
        let config = &self.state.config;
        self.clock
            .advance(config.access_ttl.0 + config.leeway.0 + 1);
    }

    pub fn client(&self) -> Client {
        self.client_with(Arc::new(MemoryStore::new()), Duration::from_secs(60))
    }

    pub fn client_with(&self, store: Arc<dyn TokenStore>, margin: Duration) -> Client {
        Client::builder(&self.url)
            .store(store)
            .refresh_margin(margin)
            .retry_backoff(Duration::from_millis(20))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client")
    }

    pub fn me(&self, client: &Client) -> reqwest::RequestBuilder {
        client.request(reqwest::Method::GET, "/me")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A margin longer than the default `access_ttl` (900 s): every token is due at once.
pub const ALWAYS_DUE: Duration = Duration::from_secs(1000);

impl TestServer {
    /// `GET /me` with a raw bearer token, without the SDK.
    pub async fn get_me_status(&self, access: &str) -> reqwest::StatusCode {
        reqwest::Client::new()
            .get(format!("{}/me", self.url))
            .bearer_auth(access)
            .send()
            .await
            .expect("request")
            .status()
    }
}
