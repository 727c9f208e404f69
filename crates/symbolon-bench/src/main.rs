//! `symbolon-bench`: drives a running symbolon server with N concurrent workers for a
//! fixed time, shows a progress bar, and prints one JSON line of results.
//!
//! ```text
//! cargo run --release -p symbolon-bench -- refresh --url http://127.0.0.1:8080 \
//!     --username bench --password 'bench password' --concurrency 64 --duration 10s
//! ```

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Refresh chains: each worker logs in once, then always refreshes with the token it just received.
    Refresh,
    /// POST /login (each worker logs in again and again).
    Login,
    /// GET /me with one access token (signature check plus a session read).
    Verify,
    /// GET /healthz: the baseline of the HTTP stack.
    Healthz,
}

/// Load tool for symbolon.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Example:\n  symbolon-bench refresh --url http://127.0.0.1:8080 --username bench --password 'bench password'"
)]
struct Args {
    /// The scenario.
    scenario: Scenario,
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Concurrent workers.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long to run (e.g. 10s).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Username for login, refresh and verify.
    #[arg(long, default_value = "bench")]
    username: String,
    /// Password for that user.
    #[arg(long, default_value = "bench password")]
    password: String,
    /// No progress bar (for scripts).
    #[arg(long)]
    quiet: bool,
    /// Open loop: requests are due at this total rate (per second), whenever the earlier
    /// ones finish; each latency counts from when its request was due, so waiting for a
    /// free worker is included. Without it, each worker sends as soon as its last answer
    /// came (closed loop).
    #[arg(long)]
    rate: Option<f64>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let verify_token = if args.scenario == Scenario::Verify {
        Some(
            login(&http, &args).await?["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    } else {
        None
    };
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + args.duration;
    if args.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        bail!("--rate must be a positive number of requests per second");
    }
    let schedule = Arc::new(Schedule {
        ready: tokio::sync::Barrier::new(args.concurrency),
        start: std::sync::OnceLock::new(),
        next: AtomicU64::new(0),
    });
    let args = Arc::new(args);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (http, args, ok, errors, token, schedule) = (
            http.clone(),
            args.clone(),
            ok.clone(),
            errors.clone(),
            verify_token.clone(),
            schedule.clone(),
        );
        workers
            .spawn(async move { worker(http, args, token, deadline, ok, errors, schedule).await });
    }
    let bar = progress(&args, deadline, ok.clone()).await;
    let mut latencies = Vec::new();
    while let Some(result) = workers.join_next().await {
        latencies.extend(result??);
    }
    bar.finish_and_clear();
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i] as f64 / 1000.0
    };
    let seconds = args.duration.as_secs_f64();
    let line = json!({
        "scenario": format!("{:?}", args.scenario).to_lowercase(),
        "offered_rate_per_s": args.rate,
        "concurrency": args.concurrency,
        "duration_s": seconds,
        "requests": ok.load(Ordering::Relaxed),
        "requests_per_s": (ok.load(Ordering::Relaxed) as f64 / seconds).round(),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": errors.load(Ordering::Relaxed),
    });
    println!("{line}");
    Ok(())
}

async fn progress(args: &Args, deadline: Instant, ok: Arc<AtomicU64>) -> indicatif::ProgressBar {
    let total = args.duration.as_millis() as u64;
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {bar:40} {elapsed}/{duration} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let start = Instant::now();
    let ticker = bar.clone();
    tokio::spawn(async move {
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let elapsed = start.elapsed();
            ticker.set_position((elapsed.as_millis() as u64).min(total));
            let rate = ok.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64().max(0.001);
            ticker.set_message(format!("{rate:.0} req/s"));
        }
    });
    bar
}

/// Logs in, waiting out a 429 (logins to one account in flight at once beyond its free
/// guesses are asked to retry, docs/API.md §2.7) a few times.
async fn login(http: &reqwest::Client, args: &Args) -> Result<Value> {
    for _ in 0..10 {
        let response = http
            .post(format!("{}/login", args.url))
            .json(&json!({"username": args.username, "password": args.password}))
            .send()
            .await
            .context("login request")?;
        if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        if !response.status().is_success() {
            bail!("login as {} failed: {}", args.username, response.status());
        }
        return Ok(response.json().await?);
    }
    bail!("login as {} still throttled after 10 tries", args.username)
}

/// The open loop's arrivals: request `i` is due at `start + i / rate`, `start` being
/// when every worker is ready (logged in), so the warm-up is not measured.
struct Schedule {
    ready: tokio::sync::Barrier,
    start: std::sync::OnceLock<Instant>,
    next: AtomicU64,
}

/// One worker: requests back to back (or, with `--rate`, each when it is due) until the
/// deadline; returns latencies in µs.
async fn worker(
    http: reqwest::Client,
    args: Arc<Args>,
    access: Option<String>,
    deadline: Instant,
    ok: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    schedule: Arc<Schedule>,
) -> Result<Vec<u32>> {
    let mut latencies = Vec::with_capacity(4096);
    let mut refresh = match args.scenario {
        Scenario::Refresh => Some(
            login(&http, &args).await?["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ),
        _ => None,
    };
    let login_body = json!({"username": args.username, "password": args.password});
    let deadline = match args.rate {
        Some(_) => {
            schedule.ready.wait().await;
            let start = *schedule.start.get_or_init(Instant::now);
            start + args.duration
        }
        None => deadline,
    };
    while Instant::now() < deadline {
        let start = match args.rate {
            Some(rate) => {
                let i = schedule.next.fetch_add(1, Ordering::Relaxed);
                let start = *schedule.start.get_or_init(Instant::now);
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                if due >= deadline {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                due
            }
            None => Instant::now(),
        };
        let request = match args.scenario {
            Scenario::Healthz => http.get(format!("{}/healthz", args.url)),
            Scenario::Verify => http
                .get(format!("{}/me", args.url))
                .bearer_auth(access.as_deref().unwrap_or_default()),
            Scenario::Login => http.post(format!("{}/login", args.url)).json(&login_body),
            Scenario::Refresh => http
                .post(format!("{}/token/refresh", args.url))
                .json(&json!({"refresh_token": refresh.as_deref().unwrap_or_default()})),
        };
        let success = match request.send().await {
            Ok(response) if response.status().is_success() => {
                if args.scenario == Scenario::Refresh {
                    let body: Value = response.json().await?;
                    refresh = body["refresh_token"].as_str().map(str::to_owned);
                } else {
                    let _ = response.bytes().await;
                }
                true
            }
            Ok(response) => {
                let _ = response.bytes().await;
                false
            }
            Err(_) => false,
        };
        if success {
            latencies.push(start.elapsed().as_micros().min(u32::MAX as u128) as u32);
            ok.fetch_add(1, Ordering::Relaxed);
        } else {
            errors.fetch_add(1, Ordering::Relaxed);
            if args.scenario == Scenario::Refresh {
                // A broken chain starts again with a fresh login.
                refresh = Some(
                    login(&http, &args).await?["refresh_token"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    }
    Ok(latencies)
}
