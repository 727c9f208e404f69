//! The real server, in process, on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use symbolon_core::ids::Password;
use symbolon_core::ManualClock;
use symbolon_server::{AppState, Config, Service};
use tokio::sync::oneshot;

/// The start of every test clock: a fixed, realistic time (2027-01-15).
pub const T0: i64 = 1_800_000_000;

/// The configuration tests start from: files in `dir`, Argon2id at its cheapest, a fixed
/// issuer, the injected clock only.
pub fn test_config(dir: &Path) -> Config {
    Config {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: format!("sqlite://{}", dir.join("symbolon.db").display()),
        issuer: Some(
            symbolon_server::config::Issuer::parse("http://symbolon.test").expect("issuer"),
        ),
        master_key_file: dir.join("symbolon.key"),
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        // The manual clock rules in tests (PostgreSQL's would replace it).
        clock_from_database: false,
        ..Config::default()
    }
}

/// A symbolon server serving on `127.0.0.1` from the test's runtime. Stops when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The address it listens on (kept across [`restart`](Self::restart)).
    pub addr: SocketAddr,
    /// The server's state (its service: store, keys, metrics).
    pub state: AppState,
    /// The configuration it was started with.
    pub config: Config,
    /// The server's clock; advance it to age tokens.
    pub clock: Arc<ManualClock>,
    /// The temporary directory with the database and the master key.
    pub dir: Arc<tempfile::TempDir>,
    /// A plain HTTP client for requests to it.
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// A server with [`test_config`], its clock stopped at [`T0`].
    pub async fn spawn() -> TestServer {
        Self::spawn_with(T0, |_| {}).await
    }

    /// A server with its clock stopped at `now` (Unix seconds) and [`test_config`] as
    /// `edit` leaves it.
    pub async fn spawn_with(now: i64, edit: impl FnOnce(&mut Config)) -> TestServer {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = test_config(dir.path());
        edit(&mut config);
        Self::start(dir, config, Arc::new(ManualClock::new(now)), "127.0.0.1:0").await
    }

    async fn start(
        dir: Arc<tempfile::TempDir>,
        config: Config,
        clock: Arc<ManualClock>,
        bind: &str,
    ) -> TestServer {
        let state = symbolon_server::build(config.clone(), clock.clone())
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
            config,
            clock,
            dir,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops answering: the listener is closed, new connections are refused, requests
    /// in flight finish.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// A new server on the same port, SQLite file, master key, configuration and clock.
    pub async fn restart(self) -> TestServer {
        let config = self.config.clone();
        self.restart_with(config).await
    }

    /// Like [`restart`](Self::restart), with another configuration (same files).
    pub async fn restart_with(mut self, config: symbolon_server::Config) -> TestServer {
        self.stop().await;
        let (dir, clock, addr) = (self.dir.clone(), self.clock.clone(), self.addr);
        drop(self);
        Self::start(dir, config, clock, &addr.to_string()).await
    }

    /// A second instance of the same server (same SQLite file, master key,
    /// configuration and clock) on another port: two members of a fleet. Its periodic
    /// key reload runs every `key_refresh` of real time, so with the default (60 s) it
    /// sees other instances' key changes only when a request makes it read them.
    pub async fn another_instance(&self) -> TestServer {
        Self::start(
            self.dir.clone(),
            self.config.clone(),
            self.clock.clone(),
            "127.0.0.1:0",
        )
        .await
    }

    /// Like [`another_instance`](Self::another_instance), with another configuration
    /// (for example the same database through another address).
    pub async fn another_instance_with(&self, config: Config) -> TestServer {
        Self::start(self.dir.clone(), config, self.clock.clone(), "127.0.0.1:0").await
    }

    /// The temporary directory's path.
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The server's service, as the admin commands call it.
    pub fn service(&self) -> &Service {
        self.state.service()
    }

    /// Creates a user (as `symbolon user add` does) and returns its id.
    pub async fn add_user(&self, name: &str, password: &str) -> String {
        self.service()
            .users()
            .create(name, Password::new(password.into()))
            .await
            .expect("user created")
            .id
            .to_string()
    }

    /// How many refreshes the server counted with this outcome (`rotated`,
    /// `grace_replay`, `reuse_detected`, `revoked`, …).
    pub fn refreshes(&self, outcome: &str) -> u64 {
        let text = self.service().metrics().encode();
        let needle = format!("symbolon_refresh_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&needle))
            .map(|n| n.trim().parse().expect("counter"))
            .unwrap_or(0)
    }

    /// Moves the server's clock past every access token issued so far.
    pub fn expire_access_tokens(&self) {
        let config = &self.config;
        self.clock
            .advance(config.access_ttl.0 + config.leeway.0 + 1);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
