//! The SDK's overhead on a request that needs no refresh (issue 3, BENCHMARKS.md).
//!
//! One symbolon server runs in this process on 127.0.0.1; every request is
//! `GET /healthz`, the cheapest endpoint there is, so the SDK's share is as large as it
//! can get. Serial requests over one keep-alive connection:
//!
//! - `plain_reqwest`: reqwest with `Authorization: Bearer` set by hand;
//! - `client_send`: the same request through [`Client::send`];
//! - `middleware`: the same request through `reqwest_middleware` with
//!   [`AuthMiddleware`](symbolon_client::AuthMiddleware);
//! - `bookkeeping`: what the SDK adds, without the network: taking the current token
//!   (freshness check on the monotonic clock, no refresh).
//!
//! ```text
//! cargo bench -p symbolon-client --bench overhead
//! ```

// criterion_group! makes a public function without a doc comment.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use std::time::Duration;
use symbolon_client::{Client, MemoryStore};
use symbolon_core::ids::Password;
use symbolon_core::SystemClock;
use symbolon_server::Config;

const USER: &str = "bench";
const PASSWORD: &str = "bench password";

struct Setup {
    rt: tokio::runtime::Runtime,
    client: Client,
    url: String,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.path().join("symbolon.db").display()),
        master_key_file: dir.path().join("symbolon.key"),
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        ..Config::default()
    };
    let (client, url) = rt.block_on(async {
        let state = symbolon_server::build(config, Arc::new(SystemClock))
            .await
            .expect("server builds");
        symbolon_server::api::simple::create_user(&state, USER, Password::new(PASSWORD.into()))
            .await
            .expect("user");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(symbolon_server::serve(
            state,
            listener,
            std::future::pending::<()>(),
        ));
        let client = Client::builder(&base)
            .store(Arc::new(MemoryStore::new()))
            .build()
            .expect("client");
        client.login(USER, PASSWORD).await.expect("login");
        (client, format!("{base}/healthz"))
    });
    Setup {
        rt,
        client,
        url,
        _dir: dir,
    }
}

fn overhead(c: &mut Criterion) {
    let Setup {
        rt,
        client,
        url,
        _dir,
    } = setup();
    let access = rt.block_on(client.access_token()).expect("token");
    // The SDK's own reqwest client, so both arms share one connection pool setup.
    let plain = client.http().clone();
    let with_middleware = reqwest_middleware::ClientBuilder::new(client.http().clone())
        .with(client.middleware())
        .build();

    let mut group = c.benchmark_group("get_healthz");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("plain_reqwest", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = plain
                    .get(&url)
                    .bearer_auth(&access)
                    .send()
                    .await
                    .expect("send");
                response.bytes().await.expect("body")
            })
        })
    });
    group.bench_function("client_send", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = client.send(client.http().get(&url)).await.expect("send");
                response.bytes().await.expect("body")
            })
        })
    });
    group.bench_function("middleware", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = with_middleware.get(&url).send().await.expect("send");
                response.bytes().await.expect("body")
            })
        })
    });
    group.finish();

    c.bench_function("bookkeeping", |b| {
        b.iter(|| rt.block_on(client.access_token()).expect("token"))
    });
    drop(rt);
}

criterion_group!(benches, overhead);
criterion_main!(benches);
