//! How long a logout on one instance of a two-instance PostgreSQL fleet takes to reach a
//! resource server that follows the revocation feed through the other instance: the time
//! from the logout's answer until `Verifier::verify` refuses the old access token, over
//! many logouts; and what the feed costs per revocation on the wire.
//!
//! ```sh
//! SYMBOLON_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo run --release -p symbolon-verify --example revocation_latency -- 300
//! ```
//! The figures are in BENCHMARKS.md.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use symbolon_core::ids::{Capability, Password};
use symbolon_testkit::{PgDatabase, TestServer};
use symbolon_verify::{Config, Verifier, VerifyError};

const PASSWORD: &str = "correct horse battery";
const FEED: (&str, &str) = ("bench-api", "the bench API's secret");

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let Some(db) = PgDatabase::create().await else {
        eprintln!("set SYMBOLON_TEST_POSTGRES_URL to a PostgreSQL database to run this");
        std::process::exit(2);
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let url = db.url.clone();
    let a =
        TestServer::spawn_with(i64::try_from(now).expect("now"), |c| c.database_url = url).await;
    let b = a.another_instance().await;
    // One issuer for the fleet, the address the resource server reaches (instance B).
    let issuer = symbolon_server::config::Issuer::parse(&b.url).expect("issuer");
    let mut config = a.config.clone();
    config.issuer = Some(issuer);
    let b_url = b.url.clone();
    let b = b.restart_with(config.clone()).await;
    let a = a.restart_with(config).await;
    assert_eq!(b.url, b_url);
    a.add_user("alice", PASSWORD).await;
    a.service()
        .clients()
        .create(
            FEED.0,
            Some(Password::new(FEED.1.into())),
            &[Capability::RevocationFeed],
        )
        .await
        .expect("client");
    let verifier = Verifier::new(Config::new(&b.url, "symbolon").with_revocations(FEED.0, FEED.1));
    assert!(
        verifier.ready(Duration::from_secs(10)).await,
        "verifier ready"
    );

    let http = reqwest::Client::new();
    let mut took = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let tokens: serde_json::Value = http
            .post(format!("{}/login", a.url))
            .json(&serde_json::json!({"username": "alice", "password": PASSWORD}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        let access = tokens["access_token"].as_str().expect("access token");
        assert!(verifier.verify(access).is_ok());
        let logout = http
            .post(format!("{}/logout", a.url))
            .bearer_auth(access)
            .send()
            .await
            .expect("logout");
        assert_eq!(logout.status(), reqwest::StatusCode::NO_CONTENT);
        let start = Instant::now();
        while verifier.verify(access) != Err(VerifyError::Revoked) {
            assert!(start.elapsed() < Duration::from_secs(30), "never revoked");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        took.push(start.elapsed());
    }
    let slowest = (0..took.len()).max_by_key(|&i| took[i]).unwrap_or(0);
    println!(
        "slowest: logout {} of {} ({:.1} ms)",
        slowest + 1,
        took.len(),
        took[slowest].as_secs_f64() * 1e3
    );
    took.sort();
    let at = |q: f64| took[((took.len() as f64 * q).ceil() as usize).clamp(1, took.len()) - 1];
    println!(
        "logout on A -> refused by a verifier following B, {} logouts: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        took.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.90).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        took[took.len() - 1].as_secs_f64() * 1e3,
    );

    let page = http
        .get(format!("{}/revocations?after=0&limit=1000", b.url))
        .basic_auth(FEED.0, Some(FEED.1))
        .send()
        .await
        .expect("feed")
        .bytes()
        .await
        .expect("body");
    let entries = serde_json::from_slice::<symbolon_proto::RevocationFeed>(&page)
        .expect("json")
        .revoked
        .len();
    println!(
        "feed: {} bytes of JSON for {entries} entries, {:.0} bytes per revocation; the verifier holds {} sessions",
        page.len(),
        page.len() as f64 / entries.max(1) as f64,
        verifier.status().revoked_sessions
    );
}
