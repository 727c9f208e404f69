//! A property test of the rotation rules against the real service over HTTP and a real
//! SQLite file, with `symbolon_core::rotation::decide()` as the oracle.
//!
//! The test keeps a model of the session (generation, rotation time, absolute end,
//! revocation, start) and, for every refresh or logout over random interleavings of
//! refreshes, replays, concurrent refreshes, logouts, new logins and clock moves, asks
//! `decide()` what the answer must be at the same clock time: the status, the error
//! description, and on success the successor token (the same one for a grace replay).
//! The lifetimes are small and the clock moves to the interesting instants (the end
//! of the reuse grace and one second after, the idle expiry, the absolute end), so the
//! generated cases reach every outcome; the test counts them and checks that they did.

use crate::helpers::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use symbolon_core::rotation::{decide, Decision, RefreshPolicy, SessionClock};
use symbolon_core::Clock;

/// Idle lifetime of a refresh token.
const REFRESH_TTL: i64 = 60;
/// How long a rotated token may be replayed for the same successor.
const REUSE_GRACE: i64 = 5;
/// Absolute lifetime of a session: under two idle lifetimes, so a token rotated in the
/// second half of a session is still fresh when the session ends.
const SESSION_TTL: i64 = 100;

const POLICY: RefreshPolicy = RefreshPolicy {
    refresh_ttl: REFRESH_TTL,
    reuse_grace: REUSE_GRACE,
};

/// Where the clock goes next.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Forward by this many seconds.
    By(i64),
    /// To the last rotation plus the reuse grace, plus this offset (0 or 1).
    Grace(i64),
    /// To the current token's idle expiry, plus this offset (-1 or 0).
    Idle(i64),
    /// To the session's absolute end, plus this offset (-1 or 0).
    AbsoluteEnd(i64),
}

#[derive(Debug, Clone)]
enum Op {
    /// Present the token issued `back` generations before the newest one.
    Refresh { back: usize },
    /// Present one token from `n` requests at once.
    Race { back: usize, n: usize },
    /// Move the clock (never backwards).
    Advance(Step),
    /// `POST /logout` with the token issued `back` generations before the newest one.
    Logout { back: usize },
    /// Log in again: the model follows the new session from now on.
    Login,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0i64..4).prop_map(Step::By),
        2 => (10i64..40).prop_map(Step::By),
        3 => (0i64..2).prop_map(Step::Grace),
        3 => (-1i64..1).prop_map(Step::Idle),
        2 => (-1i64..1).prop_map(Step::AbsoluteEnd),
    ]
}

/// Mostly the newest token or the one before it; sometimes an older one (reuse).
fn back() -> impl Strategy<Value = usize> {
    prop_oneof![4 => Just(0usize), 3 => Just(1usize), 1 => Just(2usize)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => back().prop_map(|back| Op::Refresh { back }),
        2 => ((0usize..2), (2usize..5)).prop_map(|(back, n)| Op::Race { back, n }),
        8 => step().prop_map(Op::Advance),
        1 => (0usize..2).prop_map(|back| Op::Logout { back }),
        2 => Just(Op::Login),
    ]
}

/// How often each interesting outcome was reached, over all cases.
#[derive(Default)]
struct Coverage {
    rotated: AtomicU64,
    grace_replay: AtomicU64,
    /// A grace replay exactly `reuse_grace` seconds after the rotation.
    grace_replay_at_the_boundary: AtomicU64,
    /// Reuse of the previous token one second after the grace.
    reuse_just_after_the_grace: AtomicU64,
    reuse: AtomicU64,
    /// Expired because the token was idle for `refresh_ttl` (the session still live).
    expired_idle: AtomicU64,
    /// Expired at the absolute end while the token itself was still fresh.
    expired_absolute_end_fresh_token: AtomicU64,
    /// Refused because the session was revoked (after reuse or logout).
    revoked: AtomicU64,
    logged_out: AtomicU64,
    races: AtomicU64,
}

impl Coverage {
    fn hit(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn report(&self) -> Vec<(&'static str, u64)> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            ("rotated", get(&self.rotated)),
            ("grace replay", get(&self.grace_replay)),
            (
                "grace replay at the boundary",
                get(&self.grace_replay_at_the_boundary),
            ),
            (
                "reuse one second after the grace",
                get(&self.reuse_just_after_the_grace),
            ),
            ("reuse", get(&self.reuse)),
            ("idle expiry", get(&self.expired_idle)),
            (
                "absolute end with a fresh token",
                get(&self.expired_absolute_end_fresh_token),
            ),
            ("revoked", get(&self.revoked)),
            ("logged out", get(&self.logged_out)),
            ("races", get(&self.races)),
        ]
    }
}

/// What the test knows of the session it follows.
struct Model {
    clock: SessionClock,
    /// `tokens[g]`: the refresh token of generation `g` (one per generation: the codec is
    /// deterministic, so a grace replay hands out the very same text).
    tokens: Vec<String>,
    session_id: String,
    access: String,
}

impl Model {
    fn new(tokens: Tokens, now: i64) -> Model {
        Model {
            clock: SessionClock {
                generation: 0,
                created_at: now,
                rotated_at: now,
                absolute_end: now + SESSION_TTL,
                revoked: false,
            },
            tokens: vec![tokens.refresh],
            session_id: tokens.session_id,
            access: tokens.access,
        }
    }

    /// The generation issued `back` generations before the newest one.
    fn presented(&self, back: usize) -> u64 {
        (self.tokens.len() - 1).saturating_sub(back) as u64
    }

    fn token(&self, generation: u64) -> &str {
        &self.tokens[generation as usize]
    }

    /// The instant a clock step leads to (never before `now`).
    fn target(&self, step: Step, now: i64) -> i64 {
        let to = match step {
            Step::By(s) => now + s,
            Step::Grace(offset) => self.clock.rotated_at + REUSE_GRACE + offset,
            Step::Idle(offset) => self.clock.rotated_at + REFRESH_TTL + offset,
            Step::AbsoluteEnd(offset) => self.clock.absolute_end + offset,
        };
        to.max(now)
    }
}

/// The error description the server gives for a refused refresh (auth.rs).
fn description(decision: Decision) -> Option<&'static str> {
    match decision {
        Decision::Rotate { .. } | Decision::GraceReplay { .. } => None,
        Decision::Reuse => Some("refresh token reuse detected"),
        Decision::Expired => Some("refresh token expired"),
        Decision::Revoked => Some("refresh token revoked"),
        Decision::Unknown => Some("invalid refresh token"),
    }
}

/// Counts what `decision` exercises, given the model's state before it is applied.
fn count(coverage: &Coverage, model: &Model, presented: u64, now: i64, decision: Decision) {
    let since_rotation = now - model.clock.rotated_at;
    match decision {
        Decision::Rotate { .. } => Coverage::hit(&coverage.rotated),
        Decision::GraceReplay { .. } => {
            Coverage::hit(&coverage.grace_replay);
            if since_rotation == REUSE_GRACE {
                Coverage::hit(&coverage.grace_replay_at_the_boundary);
            }
        }
        Decision::Reuse => {
            Coverage::hit(&coverage.reuse);
            if presented + 1 == model.clock.generation && since_rotation == REUSE_GRACE + 1 {
                Coverage::hit(&coverage.reuse_just_after_the_grace);
            }
        }
        Decision::Expired if now < model.clock.absolute_end => {
            Coverage::hit(&coverage.expired_idle)
        }
        Decision::Expired => {
            if now < model.clock.rotated_at + REFRESH_TTL {
                Coverage::hit(&coverage.expired_absolute_end_fresh_token);
            }
        }
        Decision::Revoked => Coverage::hit(&coverage.revoked),
        Decision::Unknown => {}
    }
}

/// Status and body of a response.
async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = if status == StatusCode::NO_CONTENT {
        Value::Null
    } else {
        response.json().await.expect("a JSON body")
    };
    (status, body)
}

/// Checks a refused request's answer against the oracle's description.
fn check_refusal(
    what: &str,
    (status, body): &(StatusCode, Value),
    expected: &str,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(*status, StatusCode::UNAUTHORIZED, "{}: {}", what, body);
    prop_assert_eq!(&body["error"], "invalid_grant", "{}: {}", what, body);
    prop_assert_eq!(
        body["error_description"].as_str(),
        Some(expected),
        "{}: {}",
        what,
        body
    );
    Ok(())
}

async fn run(ops: Vec<Op>, coverage: &Coverage) -> Result<(), TestCaseError> {
    let app = spawn_with(|c| {
        c.refresh_ttl = secs(REFRESH_TTL);
        c.reuse_grace = secs(REUSE_GRACE);
        c.session_ttl = secs(SESSION_TTL);
    })
    .await;
    prop_assert_eq!(app.service().settings().policy, POLICY);
    let mut model = Model::new(app.alice().await, app.clock.now());

    for op in ops {
        let now = app.clock.now();
        match op {
            Op::Advance(step) => {
                let to = model.target(step, now);
                app.clock.advance(to - now);
            }
            Op::Login => {
                model = Model::new(app.login("alice", ALICE_PASSWORD).await, now);
            }
            Op::Logout { back } => {
                let presented = model.presented(back);
                let decision = decide(&model.clock, presented, now, &POLICY);
                count(coverage, &model, presented, now, decision);
                let got = answer(
                    app.post_json("/logout", json!({"refresh_token": model.token(presented)}))
                        .await,
                )
                .await;
                let what = format!("logout with generation {presented} at +{}", now - T0);
                match decision {
                    Decision::Rotate { .. } | Decision::GraceReplay { .. } => {
                        prop_assert_eq!(got.0, StatusCode::NO_CONTENT, "{}: {}", what, got.1);
                        Coverage::hit(&coverage.logged_out);
                        model.clock.revoked = true;
                    }
                    refused => {
                        check_refusal(&what, &got, description(refused).unwrap_or_default())?;
                        if refused == Decision::Reuse {
                            model.clock.revoked = true;
                        }
                    }
                }
            }
            Op::Refresh { back } => refresh(&app, &mut model, back, 1, coverage).await?,
            Op::Race { back, n } => {
                Coverage::hit(&coverage.races);
                refresh(&app, &mut model, back, n, coverage).await?
            }
        }
        if model.clock.revoked {
            // Revocation takes effect at once for the access token too.
            prop_assert_eq!(
                app.me_status(&model.access).await,
                StatusCode::UNAUTHORIZED,
                "access token of a revoked session"
            );
        }
    }
    Ok(())
}

/// Presents the token `back` generations old from `copies` requests at once and checks
/// every answer against `decide()` for the model's state at the current time.
async fn refresh(
    app: &TestApp,
    model: &mut Model,
    back: usize,
    copies: usize,
    coverage: &Coverage,
) -> Result<(), TestCaseError> {
    let now = app.clock.now();
    let presented = model.presented(back);
    let decision = decide(&model.clock, presented, now, &POLICY);
    count(coverage, model, presented, now, decision);
    let what = format!(
        "refresh of generation {presented} (current {}, rotated at +{}, ends at +{}, revoked {}) \
         at +{}, expected {decision:?}",
        model.clock.generation,
        model.clock.rotated_at - T0,
        model.clock.absolute_end - T0,
        model.clock.revoked,
        now - T0,
    );
    let token = model.token(presented).to_owned();
    let answers = refresh_all(app, &token, copies).await;

    match decision {
        Decision::Rotate { from } => {
            // One request rotates; any concurrent copy is a grace replay of the same
            // successor (the rotation happened at this very second).
            model.clock.generation = from + 1;
            model.clock.rotated_at = now;
        }
        Decision::GraceReplay { successor } => {
            prop_assert_eq!(successor, model.clock.generation, "{}", what);
        }
        Decision::Reuse => model.clock.revoked = true,
        Decision::Expired | Decision::Revoked | Decision::Unknown => {}
    }
    let mut successor: Option<String> = None;
    let mut reuse_reported = false;
    for got in &answers {
        match decision {
            Decision::Rotate { .. } | Decision::GraceReplay { .. } => {
                let (status, body) = got;
                prop_assert_eq!(*status, StatusCode::OK, "{}: {}", what, body);
                let next = body["refresh_token"].as_str().expect("refresh_token");
                prop_assert_eq!(
                    body["session_id"].as_str(),
                    Some(model.session_id.as_str()),
                    "{}",
                    what
                );
                prop_assert_eq!(
                    body["refresh_token_expires_in"].as_i64(),
                    Some(model.clock.current_token_expiry(&POLICY) - now),
                    "{}: {}",
                    what,
                    body
                );
                if let Decision::GraceReplay { successor } = decision {
                    prop_assert_eq!(next, model.token(successor), "{}: another successor", what);
                } else {
                    prop_assert!(
                        !model.tokens.iter().any(|t| t == next),
                        "{}: a rotation handed out an old token",
                        what
                    );
                }
                if let Some(first) = &successor {
                    prop_assert_eq!(first.as_str(), next, "{}: two successors", what);
                }
                successor = Some(next.to_owned());
                model.access = body["access_token"]
                    .as_str()
                    .expect("access_token")
                    .to_owned();
            }
            Decision::Reuse => {
                // The first request to see the reuse revokes the session; a concurrent
                // copy may already find it revoked.
                let said = got.1["error_description"].as_str().unwrap_or_default();
                if said == "refresh token reuse detected" {
                    reuse_reported = true;
                    check_refusal(&what, got, "refresh token reuse detected")?;
                } else {
                    prop_assert!(copies > 1, "{}: {:?}", what, got);
                    check_refusal(&what, got, "refresh token revoked")?;
                }
            }
            refused => check_refusal(&what, got, description(refused).unwrap_or_default())?,
        }
    }
    if decision == Decision::Reuse {
        prop_assert!(reuse_reported, "{}: no request reported the reuse", what);
    }
    if let (Decision::Rotate { .. }, Some(next)) = (decision, successor) {
        model.tokens.push(next);
    }
    Ok(())
}

/// `copies` concurrent `POST /token/refresh` with one token.
async fn refresh_all(app: &TestApp, token: &str, copies: usize) -> Vec<(StatusCode, Value)> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..copies {
        let request = app
            .http
            .post(format!("{}/token/refresh", app.url))
            .json(&json!({"refresh_token": token}));
        tasks.spawn(async move { answer(request.send().await.expect("request")).await });
    }
    let mut answers = Vec::with_capacity(copies);
    while let Some(got) = tasks.join_next().await {
        answers.push(got.expect("task"));
    }
    answers
}

#[test]
fn every_refresh_answers_as_decide_says() {
    let coverage = Coverage::default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&proptest::collection::vec(op(), 1..48), |ops| {
        runtime.block_on(run(ops, &coverage))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generated cases must actually reach every outcome the rules distinguish.
    let report = coverage.report();
    eprintln!("outcomes reached: {report:?}");
    for (outcome, hits) in &report {
        assert!(*hits > 0, "no case reached: {outcome}; coverage {report:?}");
    }
}
