#![allow(dead_code)] // Shared by every test module; not each uses all of it.

//! A real server on 127.0.0.1 (`symbolon_testkit::TestServer`: in process, its own
//! SQLite file, master key and manual clock) with user `alice`, and SDK clients for it.

use std::sync::Arc;
use std::time::Duration;
use symbolon_client::{Client, MemoryStore, TokenStore};

pub use symbolon_testkit::{TestServer, T0};

pub const ALICE: &str = "alice";
pub const PASSWORD: &str = "correct horse battery";

/// A margin longer than the default `access_ttl` (900 s): every token is due at once.
pub const ALWAYS_DUE: Duration = Duration::from_secs(1000);

/// A server with user `alice`, its clock stopped at [`T0`] (advance it to expire tokens
/// on the server's side).
pub async fn spawn_server() -> TestServer {
    spawn_server_at(T0).await
}

/// Like [`spawn_server`], with the server's clock stopped at `now` (Unix seconds).
pub async fn spawn_server_at(now: i64) -> TestServer {
    let server = TestServer::spawn_with(now, |_| {}).await;
    server.add_user(ALICE, PASSWORD).await;
    server
}

/// SDK clients for a [`TestServer`].
pub(crate) trait Clients {
    /// A client with a memory store and the default 60 s margin.
    fn client(&self) -> Client;
    /// [`client`](Clients::client), logged in as `alice`.
    async fn logged_in(&self) -> Client;
    /// [`client_with`](Clients::client_with), logged in as `alice`.
    async fn logged_in_with(&self, store: Arc<dyn TokenStore>, margin: Duration) -> Client;
    /// A client with `store` and `margin`, quick retries and a 5 s timeout.
    fn client_with(&self, store: Arc<dyn TokenStore>, margin: Duration) -> Client;
    /// [`client`](Clients::client) that may also send the token to `origin`, logged in
    /// as `alice`.
    async fn logged_in_allowing(&self, origin: &str) -> Client;
    /// `GET /me` through `client`.
    fn me(&self, client: &Client) -> reqwest::RequestBuilder;
    /// The status of `GET /me` sent through `client` (which must not fail).
    async fn me_status_via(&self, client: &Client) -> reqwest::StatusCode;
    /// `n` concurrent `GET /me` through `client`; asserts that every one answered 200.
    async fn all_ok_at_once(&self, client: &Client, n: usize);
    /// `GET /me` with a raw bearer token, without the SDK.
    async fn get_me_status(&self, access: &str) -> reqwest::StatusCode;
}

impl Clients for TestServer {
    fn client(&self) -> Client {
        self.client_with(Arc::new(MemoryStore::new()), Duration::from_secs(60))
    }

    async fn logged_in(&self) -> Client {
        self.logged_in_with(Arc::new(MemoryStore::new()), Duration::from_secs(60))
            .await
    }

    async fn logged_in_with(&self, store: Arc<dyn TokenStore>, margin: Duration) -> Client {
        let client = self.client_with(store, margin);
        client.login(ALICE, PASSWORD).await.expect("login");
        client
    }

    fn client_with(&self, store: Arc<dyn TokenStore>, margin: Duration) -> Client {
        Client::builder(&self.url)
            .store(store)
            .refresh_margin(margin)
            .retry_backoff(Duration::from_millis(20))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client")
    }

    async fn logged_in_allowing(&self, origin: &str) -> Client {
        let client = Client::builder(&self.url)
            .allow_origin(origin)
            .build()
            .expect("client");
        client.login(ALICE, PASSWORD).await.expect("login");
        client
    }

    fn me(&self, client: &Client) -> reqwest::RequestBuilder {
        client.request(reqwest::Method::GET, "/me")
    }

    async fn me_status_via(&self, client: &Client) -> reqwest::StatusCode {
        client.send(self.me(client)).await.expect("send").status()
    }

    async fn all_ok_at_once(&self, client: &Client, n: usize) {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (client, request) = (client.clone(), self.me(client));
                tokio::spawn(async move { client.send(request).await.map(|r| r.status()) })
            })
            .collect();
        for task in tasks {
            assert_eq!(
                task.await.expect("task").expect("request"),
                reqwest::StatusCode::OK
            );
        }
    }

    async fn get_me_status(&self, access: &str) -> reqwest::StatusCode {
        self.http
            .get(format!("{}/me", self.url))
            .bearer_auth(access)
            .send()
            .await
            .expect("request")
            .status()
    }
}
