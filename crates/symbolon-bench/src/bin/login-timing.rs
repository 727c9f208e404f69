//! `login-timing`: do failed logins take the same time whether the user is unknown, the
//! password is wrong, or the user is disabled? Measures each kind from the outside
//! against a running server, interleaved in random order (so drift in the machine's load
//! falls on every kind alike), and compares the distributions with the two-sample
//! Kolmogorov–Smirnov test. Prints one JSON line; exits 1 if any pair differs at the
//! chosen significance.
//!
//! The server must not throttle the run: give it large `account_failures_allowed` and
//! `ip_failures_allowed` (scripts/login-timing.sh does). It needs a user with the right
//! password `--password` (the "wrong password" kind) and a disabled user.
//!
//! ```text
//! login-timing --url http://127.0.0.1:8080 --user bench --disabled-user gone --samples 2000
//! ```

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::json;
use std::time::Instant;

/// Compares the time of failed logins of three kinds.
#[derive(Debug, Parser)]
struct Args {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An existing, enabled user (sent a wrong password).
    #[arg(long, default_value = "bench")]
    user: String,
    /// An existing, disabled user (sent its right password).
    #[arg(long, default_value = "gone")]
    disabled_user: String,
    /// The disabled user's password.
    #[arg(long, default_value = "gone password")]
    disabled_password: String,
    /// Samples of each kind.
    #[arg(long, default_value_t = 2000)]
    samples: usize,
    /// Significance level of each test (the pairs are Bonferroni-corrected).
    #[arg(long, default_value_t = 0.01)]
    alpha: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    UnknownUser,
    WrongPassword,
    DisabledUser,
}

const KINDS: [Kind; 3] = [Kind::UnknownUser, Kind::WrongPassword, Kind::DisabledUser];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::UnknownUser => "unknown_user",
            Kind::WrongPassword => "wrong_password",
            Kind::DisabledUser => "disabled_user",
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let mut order: Vec<Kind> = KINDS
        .iter()
        .flat_map(|k| std::iter::repeat_n(*k, args.samples))
        .collect();
    shuffle(&mut order);
    // Warm up connections and caches; not recorded.
    for kind in KINDS.iter().cycle().take(30) {
        attempt(&http, &args, *kind).await?;
    }
    let mut times: [Vec<f64>; 3] = Default::default();
    for kind in order {
        let micros = attempt(&http, &args, kind).await?;
        times[kind as usize].push(micros);
    }
    let mut results = Vec::new();
    let mut differ = false;
    let pairs = [(0, 1), (0, 2), (1, 2)];
    for (a, b) in pairs {
        let (d, p) = kolmogorov_smirnov(&times[a], &times[b]);
        let distinguishable = p < args.alpha / pairs.len() as f64;
        differ |= distinguishable;
        results.push(json!({
            "pair": [KINDS[a].name(), KINDS[b].name()],
            "ks_d": d,
            "p_value": p,
            "distinguishable": distinguishable,
        }));
    }
    let summary: Vec<_> = KINDS
        .iter()
        .map(|k| {
            let t = &mut times[*k as usize];
            t.sort_by(f64::total_cmp);
            json!({
                "kind": k.name(),
                "samples": t.len(),
                "p10_us": quantile(t, 0.10),
                "median_us": quantile(t, 0.50),
                "p90_us": quantile(t, 0.90),
            })
        })
        .collect();
    println!(
        "{}",
        json!({"alpha": args.alpha, "kinds": summary, "tests": results})
    );
    if differ {
        bail!("the failed-login times tell the kinds apart");
    }
    Ok(())
}

/// One failed login of `kind`; its time in microseconds, from sending to the last byte.
async fn attempt(http: &reqwest::Client, args: &Args, kind: Kind) -> Result<f64> {
    let (username, password) = match kind {
        Kind::UnknownUser => ("nobody-by-this-name", "some password"),
        Kind::WrongPassword => (args.user.as_str(), "not the password"),
        Kind::DisabledUser => (args.disabled_user.as_str(), args.disabled_password.as_str()),
    };
    let start = Instant::now();
    let response = http
        .post(format!("{}/login", args.url))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .context("login request")?;
    let status = response.status();
    let _ = response.bytes().await?;
    let micros = start.elapsed().as_secs_f64() * 1e6;
    if status != reqwest::StatusCode::UNAUTHORIZED {
        bail!(
            "{} answered {status}, expected 401 (is the server throttling?)",
            kind.name()
        );
    }
    Ok(micros)
}

/// Fisher–Yates with the OS's randomness.
fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = (random_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn random_u64() -> u64 {
    // std's RandomState is seeded from the OS per instance.
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// The two-sample Kolmogorov–Smirnov statistic D and its asymptotic p-value.
fn kolmogorov_smirnov(a: &[f64], b: &[f64]) -> (f64, f64) {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0, 0, 0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    let en = (n * m / (n + m)).sqrt();
    let lambda = (en + 0.12 + 0.11 / en) * d;
    (d, kolmogorov_q(lambda))
}

/// Q_KS(λ) = 2 Σ (-1)^(k-1) exp(-2 k² λ²), the tail of the Kolmogorov distribution.
fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let k = k as f64;
        let term = (-2.0 * k * k * lambda * lambda).exp();
        sum += if k as u64 % 2 == 1 { term } else { -term };
        if term < 1e-12 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_are_indistinguishable_and_shifted_ones_are_not() {
        let a: Vec<f64> = (0..1000).map(|i| 30_000.0 + (i % 97) as f64).collect();
        let (d, p) = kolmogorov_smirnov(&a, &a);
        assert_eq!(d, 0.0);
        assert!(p > 0.99, "{p}");
        let shifted: Vec<f64> = a.iter().map(|x| x + 20.0).collect();
        let (d, p) = kolmogorov_smirnov(&a, &shifted);
        assert!(d > 0.1 && p < 1e-6, "d {d} p {p}");
    }
}
