//! Benchmarks of the client SDK against a running server (BENCHMARKS.md, issue 3):
//!
//! - `overhead`: `GET /me` with a fresh token, N workers for a fixed time, once through
//!   plain reqwest with the header set by hand and once through `symbolon_client`;
//!   prints both rates and the SDK's overhead.
//! - `burst`: 10,000 concurrent `GET /me` through one client whose access token has
//!   expired, and the same 10,000 with a fresh token; prints both times, their ratio and
//!   how many refreshes the expired burst caused. Needs a server with a short
//!   `access_ttl` (e.g. `20s`) and `leeway = 0`.
//!
//! ```text
//! cargo run --release -p symbolon-bench --bin sdk-bench -- overhead --url http://127.0.0.1:8080
//! ```

use anyhow::{ensure, Result};
use clap::{Parser, ValueEnum};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use symbolon_client::reqwest::Method;
use symbolon_client::{Client, MemoryStore};

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// The SDK's cost on a request that needs no refresh.
    Overhead,
    /// 10,000 concurrent requests with a due token against the same with a fresh one.
    Burst,
}

/// Client SDK benchmarks.
#[derive(Debug, Parser)]
struct Args {
    /// The benchmark.
    mode: Mode,
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Username.
    #[arg(long, default_value = "bench")]
    username: String,
    /// Password.
    #[arg(long, default_value = "bench password")]
    password: String,
    /// Workers (overhead) or concurrent requests (burst).
    #[arg(long)]
    concurrency: Option<usize>,
    /// `burst`: how long to let the due client's access token age before the burst; run
    /// the server with an `access_ttl` shorter than this and `leeway = 0`.
    #[arg(long, default_value = "21s", value_parser = humantime::parse_duration)]
    expire_after: Duration,
    /// How long each half of `overhead` runs.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    match args.mode {
        Mode::Overhead => overhead(&args).await,
        Mode::Burst => burst(&args).await,
    }
}

async fn client(args: &Args, margin: Duration) -> Result<Client> {
    let client = Client::builder(args.url.clone())
        .store(Arc::new(MemoryStore::default()))
        .refresh_margin(margin)
        .build()?;
    client.login(&args.username, &args.password).await?;
    Ok(client)
}

async fn overhead(args: &Args) -> Result<()> {
    let workers = args.concurrency.unwrap_or(64);
    let sdk = client(args, Duration::from_secs(60)).await?;
    let token = sdk.access_token().await?;
    let plain = symbolon_client::reqwest::Client::new();
    let run = |through_sdk: bool| {
        let (sdk, plain, token, url) =
            (sdk.clone(), plain.clone(), token.clone(), args.url.clone());
        async move {
            let done = Arc::new(AtomicU64::new(0));
            let deadline = Instant::now() + args.duration;
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..workers {
                let (sdk, plain, token, url, done) = (
                    sdk.clone(),
                    plain.clone(),
                    token.clone(),
                    url.clone(),
                    done.clone(),
                );
                tasks.spawn(async move {
                    while Instant::now() < deadline {
                        let ok = if through_sdk {
                            sdk.send(sdk.request(Method::GET, "/me"))
                                .await
                                .map(|r| r.status().is_success())
                        } else {
                            plain
                                .get(format!("{url}/me"))
                                .bearer_auth(&token)
                                .send()
                                .await
                                .map(|r| r.status().is_success())
                                .map_err(symbolon_client::Error::Request)
                        };
                        if matches!(ok, Ok(true)) {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            while tasks.join_next().await.is_some() {}
            done.load(Ordering::Relaxed) as f64 / args.duration.as_secs_f64()
        }
    };
    let plain_rate = run(false).await;
    let sdk_rate = run(true).await;
    println!(
        "{}",
        json!({"bench": "sdk_overhead", "workers": workers, "plain_requests_per_s": plain_rate.round(),
               "sdk_requests_per_s": sdk_rate.round(),
               "overhead_percent": ((plain_rate / sdk_rate - 1.0) * 1000.0).round() / 10.0})
    );
    Ok(())
}

async fn burst(args: &Args) -> Result<()> {
    let n = args.concurrency.unwrap_or(10_000);
    // The due client logs in, then its access token really expires (a benchmark waiting
    // for time to pass): every request of its burst needs the refresh, and the single
    // flight must make it one. A zero margin keeps the fresh token from being due again.
    let due = client(args, Duration::ZERO).await?;
    tokio::time::sleep(args.expire_after).await;
    let fresh = client(args, Duration::ZERO).await?;
    let time = |client: Client| async move {
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            let client = client.clone();
            tasks.spawn(async move {
                client
                    .send(client.request(Method::GET, "/me"))
                    .await
                    .map(|r| r.status().as_u16())
            });
        }
        let mut ok = 0;
        while let Some(r) = tasks.join_next().await {
            if matches!(r, Ok(Ok(200))) {
                ok += 1;
            }
        }
        (start.elapsed(), ok)
    };
    let (fresh_time, fresh_ok) = time(fresh.clone()).await;
    // Close the first burst's connections before the second opens its own.
    drop(fresh);
    let before = due.refresh_requests();
    let (due_time, due_ok) = time(due.clone()).await;
    let refreshes = due.refresh_requests() - before;
    ensure!(
        fresh_ok == n && due_ok == n,
        "not every request succeeded: {fresh_ok}, {due_ok} of {n}"
    );
    println!(
        "{}",
        json!({"bench": "sdk_burst", "requests": n, "fresh_token_s": fresh_time.as_secs_f64(),
               "due_token_s": due_time.as_secs_f64(), "ratio": due_time.as_secs_f64() / fresh_time.as_secs_f64(),
               "refreshes": refreshes})
    );
    Ok(())
}
