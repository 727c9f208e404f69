//! Faults on the link between the servers and PostgreSQL (issue 9): two instances on one
//! database, each reaching it through one `FaultProxy`, with refresh chains running on
//! both while a fault is applied and removed. What must hold (docs/API.md §5.1):
//!
//! - every answer is 200, or 503 with `Retry-After`: no 500, no other 5xx, and no 401
//!   (each chain only ever presents its newest acknowledged token);
//! - no answer takes longer than [`ANSWER_BOUND`], however long the fault lasts;
//! - once the link heals, every chain refreshes again within [`RECOVERY_BOUND`], and its
//!   newest acknowledged token still works at the end: no acknowledged rotation is lost;
//!   every 200 gave the chain a token it had not had before.
//!
//! A refresh whose answer is lost to the fault may have rotated all the same (the commit
//! reached PostgreSQL, its acknowledgement did not come back), so its 503 does not mean
//! "nothing happened": the chain then presents a token that is one generation old, which
//! only the reuse grace covers, and only within `reuse_grace` of that rotation. These
//! tests therefore run with a grace longer than the fault plus the recovery
//! ([`grace_for`]); with the default 10 s, a chain caught that way by a 30 s partition is
//! (correctly) refused as reuse. How many such answers there were shows in the
//! `grace_replay` counts printed with each run.
//!
//! The servers' clock is the testkit's manual clock, moved on by one second every real
//! second, so that the grace and the rotation times count real time.
//!
//! `SYMBOLON_TEST_PARTITION_SECS` sets the partition's length (default 30).

use crate::helpers::{spawn_with, TestApp, ALICE_PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use symbolon_server::config::Secs;
use symbolon_testkit::{Fault, FaultProxy, ManualClock, PgCluster, PgDatabase, StopMode};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Refresh chains per instance.
const CHAINS_PER_INSTANCE: usize = 3;
/// The pause between two refreshes of a chain after a 200.
const PAUSE: Duration = Duration::from_millis(25);
/// How long the test's client waits for an answer: longer than any fault, so that an
/// answer the server holds for as long as the fault lasts shows as that.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest an answer may take while the database does not answer: the 5 s limit of
/// the store call that hangs (docs/API.md §5.1), what ran before it, and a margin for a
/// loaded machine.
const ANSWER_BOUND: Duration = Duration::from_secs(12);
/// How soon after the link heals every chain must have refreshed again (a chain may be
/// waiting out a `Retry-After` or an answer bounded by the store's limit).
const RECOVERY_BOUND: Duration = Duration::from_secs(20);

/// The reuse grace for a fault held `hold`: a rotation whose answer was lost at its
/// start is retried at the latest `RECOVERY_BOUND` after its end.
fn grace_for(hold: Duration) -> i64 {
    (hold + RECOVERY_BOUND).as_secs() as i64 + 10
}

fn partition_length() -> Duration {
    let secs = std::env::var("SYMBOLON_TEST_PARTITION_SECS")
        .ok()
        .map(|s| {
            s.parse()
                .expect("SYMBOLON_TEST_PARTITION_SECS is whole seconds")
        })
        .unwrap_or(30);
    Duration::from_secs(secs)
}

/// 200 ms each way: slower answers, nothing refused.
#[tokio::test]
async fn latency_of_200_ms_slows_refreshes_and_refuses_none() {
    let hold = Duration::from_secs(5);
    let Some(fleet) = Fleet::start(grace_for(hold)).await else {
        return;
    };
    let load = Load::start(&fleet).await;
    let latency = Fault::Latency(Duration::from_millis(200));
    let report = phase(&load, "latency 200 ms", fleet.hold(latency, hold)).await;
    assert_eq!(report.unavailable, 0, "{report}");
    // Each refresh is at least one round trip to PostgreSQL: 400 ms.
    assert!(report.slowest >= Duration::from_millis(400), "{report}");
    load.finish(&fleet, &[report]).await;
}

/// Stalled connections (open, nothing forwarded, new ones accepted and held): 503 within
/// the bound instead of an answer held for the whole stall.
#[tokio::test]
async fn stalled_connections_answer_503_in_bounded_time_and_recover() {
    let hold = Duration::from_secs(15);
    let Some(fleet) = Fleet::start(grace_for(hold)).await else {
        return;
    };
    let load = Load::start(&fleet).await;
    let report = phase(&load, "stall", fleet.hold_mid_statement(Fault::Stall, hold)).await;
    assert!(report.unavailable > 0, "the stall was not seen: {report}");
    load.finish(&fleet, &[report]).await;
}

/// Reset connections: every connection reset five times under load, then every
/// connection, new ones included, reset for a while.
#[tokio::test]
async fn reset_connections_answer_503_and_recover() {
    let hold = Duration::from_secs(3);
    let Some(fleet) = Fleet::start(grace_for(hold)).await else {
        return;
    };
    let load = Load::start(&fleet).await;
    let resets = phase(&load, "reset x5, 1 s apart", async {
        for _ in 0..5 {
            fleet.reset().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await;
    let refused = phase(&load, "reset held", fleet.hold(Fault::Reset, hold)).await;
    assert!(
        refused.unavailable > 0,
        "the resets were not seen: {refused}"
    );
    load.finish(&fleet, &[resets, refused]).await;
}

/// A partition (a cut cable: open connections stall, new ones get no answer), 30 s by
/// default: 503 within the bound throughout, recovery once it heals.
#[tokio::test]
async fn a_partition_answers_503_in_bounded_time_and_recovers() {
    let hold = partition_length();
    let Some(fleet) = Fleet::start(grace_for(hold)).await else {
        return;
    };
    let load = Load::start(&fleet).await;
    let report = phase(
        &load,
        "partition",
        fleet.hold_mid_statement(Fault::Partition, hold),
    )
    .await;
    assert!(
        report.unavailable > 0,
        "the partition was not seen: {report}"
    );
    load.finish(&fleet, &[report]).await;
}

/// PostgreSQL restarted under a refresh load on one instance, twice as an operator
/// restarts it (`pg_ctl -m fast`: connections closed, transactions rolled back, a clean
/// shutdown) and twice as after a crash (`-m immediate`: killed, recovery from the WAL at
/// start). On a PostgreSQL of the test's own (`PgCluster`), so that the restarts disturb
/// no other test.
#[tokio::test]
async fn a_postgresql_restart_under_refresh_load_loses_no_acknowledged_rotation() {
    let Some(cluster) = PgCluster::start().await else {
        return;
    };
    let fleet = Fleet::single(cluster.url.clone(), grace_for(Duration::from_secs(10))).await;
    let load = Load::start_with(&fleet, 2 * CHAINS_PER_INSTANCE).await;
    let mut reports = Vec::new();
    for (name, mode) in [
        ("restart (fast)", StopMode::Fast),
        ("restart (immediate)", StopMode::Immediate),
        ("restart (fast)", StopMode::Fast),
        ("restart (immediate)", StopMode::Immediate),
    ] {
        reports.push(phase(&load, name, cluster.restart(mode)).await);
    }
    load.finish(&fleet, &reports).await;
}

// ---- The fleet ----

/// Two instances on one PostgreSQL database, each through its own proxy.
struct Fleet {
    apps: Vec<TestApp>,
    proxies: Vec<FaultProxy>,
    _ticker: Ticker,
    _db: Option<PgDatabase>,
}

impl Fleet {
    async fn start(grace: i64) -> Option<Fleet> {
        let db = PgDatabase::create().await?;
        let upstream = db.server_addr().await;
        let proxies = vec![
            FaultProxy::start(upstream).await.expect("proxy"),
            FaultProxy::start(upstream).await.expect("proxy"),
        ];
        let url = db.url_via(proxies[0].addr());
        let first = spawn_with(move |c| {
            c.database_url = url;
            c.reuse_grace = Secs(grace);
        })
        .await;
        let mut config = first.config.clone();
        config.database_url = db.url_via(proxies[1].addr());
        let second = first.another_instance_with(config).await;
        Some(Fleet {
            _ticker: tick_in_real_time(first.clock.clone()),
            apps: vec![first, second],
            proxies,
            _db: Some(db),
        })
    }

    /// One instance on `url` (no proxy), with `grace`.
    async fn single(url: String, grace: i64) -> Fleet {
        let app = spawn_with(move |c| {
            c.database_url = url;
            c.reuse_grace = Secs(grace);
        })
        .await;
        Fleet {
            _ticker: tick_in_real_time(app.clock.clone()),
            apps: vec![app],
            proxies: Vec::new(),
            _db: None,
        }
    }

    /// Sets `fault` on every instance's link.
    async fn set(&self, fault: Fault) {
        for proxy in &self.proxies {
            proxy.set(fault).await;
        }
    }

    /// Sets `fault` on every instance's link, holds it, and heals.
    async fn hold(&self, fault: Fault, hold: Duration) {
        self.set(fault).await;
        tokio::time::sleep(hold).await;
        self.set(Fault::Pass).await;
    }

    /// Like [`hold`](Self::hold), but from a 50 ms latency, so that statements are in
    /// flight when the fault strikes (as on a busy server): without it, most requests
    /// are between statements at that moment, and a stall then shows only to the
    /// pool's checks of idle connections.
    async fn hold_mid_statement(&self, fault: Fault, hold: Duration) {
        self.set(Fault::Latency(Duration::from_millis(50))).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.hold(fault, hold).await;
    }

    async fn reset(&self) {
        for proxy in &self.proxies {
            proxy.reset().await;
        }
    }

    fn grace_replays(&self) -> u64 {
        self.apps.iter().map(|a| a.refreshes("grace_replay")).sum()
    }
}

/// Moves the manual clock on by a second every second, until dropped.
struct Ticker(tokio::task::JoinHandle<()>);

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn tick_in_real_time(clock: Arc<ManualClock>) -> Ticker {
    Ticker(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.tick().await;
        loop {
            every.tick().await;
            clock.advance(1);
        }
    }))
}

// ---- The load: refresh chains ----

#[derive(Debug, Clone)]
struct Answer {
    chain: usize,
    sent: Instant,
    took: Duration,
    outcome: Outcome,
}

impl Answer {
    fn done(&self) -> Instant {
        self.sent + self.took
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Ok,
    /// 503 with `Retry-After`.
    Unavailable,
    /// Anything else: a status with its body, a 503 without `Retry-After`, no answer.
    Other(String),
}

#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    last_ack: Option<Instant>,
}

/// Refresh chains running against the fleet: each logs in on one instance and refreshes
/// there, always presenting its newest acknowledged token.
struct Load {
    stop: watch::Sender<bool>,
    progress: watch::Sender<Vec<Progress>>,
    answers: Arc<Mutex<Vec<Answer>>>,
    /// Each chain's number, instance, and every token it was given (login first).
    chains: JoinSet<(usize, usize, Vec<String>)>,
}

impl Load {
    async fn start(fleet: &Fleet) -> Load {
        Self::start_with(fleet, CHAINS_PER_INSTANCE).await
    }

    async fn start_with(fleet: &Fleet, per_instance: usize) -> Load {
        let count = fleet.apps.len() * per_instance;
        let load = Load {
            stop: watch::Sender::new(false),
            progress: watch::Sender::new(vec![Progress::default(); count]),
            answers: Arc::new(Mutex::new(Vec::new())),
            chains: JoinSet::new(),
        };
        let http = reqwest::Client::builder()
            .timeout(CLIENT_TIMEOUT)
            .build()
            .expect("client");
        let mut load = load;
        for (instance, app) in fleet.apps.iter().enumerate() {
            for n in 0..per_instance {
                let chain = instance * per_instance + n;
                let name = format!("chain{chain}");
                app.add_user(&name, ALICE_PASSWORD).await;
                let token = app.login(&name, ALICE_PASSWORD).await.refresh;
                let run = Chain {
                    chain,
                    url: format!("{}/token/refresh", app.url),
                    http: http.clone(),
                    stop: load.stop.subscribe(),
                    progress: load.progress.clone(),
                    answers: load.answers.clone(),
                };
                load.chains
                    .spawn(async move { (chain, instance, run.run(token).await) });
            }
        }
        load
    }

    /// Waits until every chain has had a 200 that arrived after `since`; panics after
    /// `bound`.
    async fn all_acknowledged_after(&self, since: Instant, bound: Duration, what: &str) {
        let mut progress = self.progress.subscribe();
        let waited = tokio::time::timeout(
            bound,
            progress.wait_for(|p| p.iter().all(|c| c.last_ack.is_some_and(|t| t > since))),
        )
        .await;
        if waited.is_err() {
            let answers = self.answers.lock().expect("answers").clone();
            let recent: Vec<_> = answers.iter().filter(|a| a.done() > since).collect();
            panic!("{what}: not every chain refreshed within {bound:?}: {recent:#?}");
        }
    }

    fn answers(&self) -> Vec<Answer> {
        self.answers.lock().expect("answers").clone()
    }

    /// Stops the chains, checks every answer, checks that each chain was given a new
    /// token by every 200 and that its newest acknowledged token still refreshes (on
    /// the other instance, if there is one), and prints the reports.
    async fn finish(mut self, fleet: &Fleet, reports: &[PhaseReport]) {
        self.stop.send_replace(true);
        let mut chains = Vec::new();
        while let Some(joined) = self.chains.join_next().await {
            chains.push(joined.expect("chain task"));
        }
        for report in reports {
            eprintln!("{report}");
        }
        let answers = self.answers();
        eprintln!(
            "faults: {} answers in all: {}; {} grace replays",
            answers.len(),
            by_status(&answers),
            fleet.grace_replays()
        );
        let wrong: Vec<_> = answers
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Other(_)))
            .collect();
        assert!(
            wrong.is_empty(),
            "answers other than 200 and 503 with Retry-After: {wrong:#?}"
        );
        let slowest = answers.iter().max_by_key(|a| a.took).expect("some answers");
        assert!(
            slowest.took <= ANSWER_BOUND,
            "an answer took {:?} (bound {ANSWER_BOUND:?}): {slowest:?}",
            slowest.took
        );
        for (chain, instance, tokens) in chains {
            // A 200 never hands out a token the chain already had (a grace replay gives
            // the successor whose answer was lost, which the chain never saw).
            let distinct: std::collections::HashSet<_> = tokens.iter().collect();
            assert_eq!(
                distinct.len(),
                tokens.len(),
                "chain {chain} got a token twice"
            );
            let other = &fleet.apps[(instance + 1) % fleet.apps.len()];
            let newest = tokens.last().expect("the login's token");
            let response = other.refresh_response(newest).await;
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "chain {chain}'s newest acknowledged token: {}",
                response.text().await.unwrap_or_default()
            );
        }
    }
}

struct Chain {
    chain: usize,
    url: String,
    http: reqwest::Client,
    stop: watch::Receiver<bool>,
    progress: watch::Sender<Vec<Progress>>,
    answers: Arc<Mutex<Vec<Answer>>>,
}

impl Chain {
    /// Refreshes until told to stop, or until an answer that ends the chain (anything
    /// but 200 and 503); returns every token it was given, `token` first.
    async fn run(mut self, mut token: String) -> Vec<String> {
        let mut given = vec![token.clone()];
        while !*self.stop.borrow() {
            let sent = Instant::now();
            let response = self
                .http
                .post(&self.url)
                .json(&json!({"refresh_token": token}))
                .send()
                .await;
            let (outcome, pause, go_on) = match response {
                Ok(r) if r.status() == StatusCode::OK => match r.json::<Value>().await {
                    Ok(body) => {
                        token = body["refresh_token"]
                            .as_str()
                            .expect("a refresh token")
                            .to_owned();
                        given.push(token.clone());
                        let now = Instant::now();
                        self.progress
                            .send_modify(|p| p[self.chain].last_ack = Some(now));
                        (Outcome::Ok, PAUSE, true)
                    }
                    Err(e) => (Outcome::Other(format!("200, body: {e}")), PAUSE, true),
                },
                Ok(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE => {
                    let retry_after = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    match retry_after {
                        Some(secs) => (Outcome::Unavailable, Duration::from_secs(secs), true),
                        None => (
                            Outcome::Other("503 without Retry-After".into()),
                            Duration::from_secs(1),
                            true,
                        ),
                    }
                }
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    (Outcome::Other(format!("{status} {body}")), PAUSE, false)
                }
                Err(e) => (
                    Outcome::Other(format!("no answer: {e}")),
                    Duration::from_secs(1),
                    true,
                ),
            };
            self.answers.lock().expect("answers").push(Answer {
                chain: self.chain,
                sent,
                took: sent.elapsed(),
                outcome,
            });
            if !go_on {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = self.stop.changed() => {}
            }
        }
        given
    }
}

// ---- Phases ----

/// What one fault did.
struct PhaseReport {
    name: String,
    held: Duration,
    /// Answers that arrived from the fault's start until every chain recovered.
    statuses: String,
    unavailable: usize,
    slowest: Duration,
    /// From the heal to each chain's first 200, the longest; and the first chain's.
    recovery: Duration,
    first_recovery: Duration,
}

impl std::fmt::Display for PhaseReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "faults: {}: held {:.1} s; answers {}; slowest {:.2} s; recovered after {:.2} s (first chain {:.2} s)",
            self.name,
            self.held.as_secs_f64(),
            self.statuses,
            self.slowest.as_secs_f64(),
            self.recovery.as_secs_f64(),
            self.first_recovery.as_secs_f64()
        )
    }
}

/// Waits for every chain to be refreshing, runs `fault` (which applies a fault and
/// removes it), waits for every chain to refresh again, and reports.
async fn phase(
    load: &Load,
    name: &str,
    fault: impl std::future::Future<Output = ()>,
) -> PhaseReport {
    load.all_acknowledged_after(Instant::now(), RECOVERY_BOUND, "before the fault")
        .await;
    let start = Instant::now();
    fault.await;
    let healed = Instant::now();
    load.all_acknowledged_after(healed, RECOVERY_BOUND, name)
        .await;
    let recovered = Instant::now();
    let answers: Vec<Answer> = load
        .answers()
        .into_iter()
        .filter(|a| a.done() >= start && a.done() <= recovered)
        .collect();
    let chains = load.progress.borrow().len();
    let first_ok_after_heal: Vec<Duration> = (0..chains)
        .map(|chain| {
            answers
                .iter()
                .filter(|a| a.chain == chain && a.outcome == Outcome::Ok && a.done() > healed)
                .map(|a| a.done() - healed)
                .min()
                .expect("every chain refreshed after the heal")
        })
        .collect();
    PhaseReport {
        name: name.to_owned(),
        held: healed - start,
        statuses: by_status(&answers),
        unavailable: answers
            .iter()
            .filter(|a| a.outcome == Outcome::Unavailable)
            .count(),
        slowest: answers.iter().map(|a| a.took).max().unwrap_or_default(),
        recovery: first_ok_after_heal
            .iter()
            .copied()
            .max()
            .unwrap_or_default(),
        first_recovery: first_ok_after_heal
            .iter()
            .copied()
            .min()
            .unwrap_or_default(),
    }
}

fn by_status(answers: &[Answer]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for answer in answers {
        let key = match &answer.outcome {
            Outcome::Ok => "200".to_owned(),
            Outcome::Unavailable => "503".to_owned(),
            Outcome::Other(what) => what.chars().take(60).collect(),
        };
        *counts.entry(key).or_default() += 1;
    }
    counts
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
