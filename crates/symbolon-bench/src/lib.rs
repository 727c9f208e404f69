//! Shared pieces of symbolon's benchmarks: an in-process server with a logged-in client,
//! and the three ways of sending one request that the SDK-overhead benchmarks compare.

use anyhow::Result;
use std::sync::Arc;
use symbolon_client::{Client, MemoryStore};
use symbolon_testkit::TestServer;

const USER: &str = "bench";
const PASSWORD: &str = "bench password";

/// A symbolon server serving on 127.0.0.1 from the current Tokio runtime (the test kit's
/// in-process server: its own SQLite file and master key, cheap Argon2id, a clock stopped
/// at the real time, so tokens stay fresh), and a client logged in to it.
pub struct InProcess {
    /// The logged-in SDK client (memory store).
    pub client: Client,
    /// Its access token, for requests that set the header by hand.
    pub access: String,
    /// `http://127.0.0.1:PORT/healthz`: the cheapest endpoint, so the SDK's share of a
    /// request is as large as it can get.
    pub healthz: String,
    _server: TestServer,
}

impl InProcess {
    /// Starts the server on the current runtime and logs in.
    pub async fn start() -> Result<Self> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let server = TestServer::spawn_with(i64::try_from(now)?, |_| {}).await;
        server.add_user(USER, PASSWORD).await;
        let client = Client::builder(&server.url)
            .store(Arc::new(MemoryStore::new()))
            .build()?;
        client.login(USER, PASSWORD).await?;
        let access = client.access_token().await?;
        Ok(InProcess {
            client,
            access,
            healthz: format!("{}/healthz", server.url),
            _server: server,
        })
    }

    /// The three ways of sending `GET /healthz` with the access token.
    pub fn arms(&self) -> Arms {
        Arms {
            client: self.client.clone(),
            // The SDK's own reqwest client: both arms share one connection pool setup.
            plain: self.client.http().clone(),
            middleware: reqwest_middleware::ClientBuilder::new(self.client.http().clone())
                .with(self.client.middleware())
                .build(),
            bare: reqwest_middleware::ClientBuilder::new(self.client.http().clone()).build(),
            access: self.access.clone(),
            url: self.healthz.clone(),
        }
    }
}

/// How a request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arm {
    /// reqwest, `Authorization: Bearer` set by hand.
    Plain,
    /// `Client::send`.
    Send,
    /// reqwest-middleware with the SDK's `AuthMiddleware`.
    Middleware,
    /// reqwest-middleware with no middleware, the header set by hand: what the framework
    /// itself costs.
    BareMiddleware,
}

/// Everything needed to send the benchmark's request each way.
pub struct Arms {
    client: Client,
    plain: reqwest::Client,
    middleware: reqwest_middleware::ClientWithMiddleware,
    bare: reqwest_middleware::ClientWithMiddleware,
    access: String,
    url: String,
}

impl Arms {
    /// Sends one `GET /healthz` the way `arm` says and reads the whole answer.
    pub async fn request(&self, arm: Arm) -> Result<()> {
        let response = match arm {
            Arm::Plain => {
                self.plain
                    .get(&self.url)
                    .bearer_auth(&self.access)
                    .send()
                    .await?
            }
            Arm::Send => self.client.send(self.client.http().get(&self.url)).await?,
            Arm::Middleware => self.middleware.get(&self.url).send().await?,
            Arm::BareMiddleware => {
                self.bare
                    .get(&self.url)
                    .bearer_auth(&self.access)
                    .send()
                    .await?
            }
        };
        anyhow::ensure!(response.status().is_success(), "{}", response.status());
        response.bytes().await?;
        Ok(())
    }
}
