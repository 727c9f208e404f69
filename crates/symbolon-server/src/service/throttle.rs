//! The brute-force back-off around every secret check (passwords and client secrets).

use super::{Core, Result, ServiceError};
use std::future::Future;
use std::net::IpAddr;
use symbolon_core::throttle::backoff;
use symbolon_core::UnixTime;
use symbolon_store::{BackoffSchedule, Reservation};

/// The throttle keys of a secret check: the account (or client) first, then the client
/// address.
pub(super) fn throttle_keys(account: &str, ip: Option<IpAddr>) -> Vec<String> {
    let mut keys = vec![account.to_owned()];
    if let Some(ip) = ip {
        keys.push(format!("ip:{}", ip_key(ip)));
    }
    keys
}

/// The throttle keys of a client-secret check: the client *at this address* first, so
/// that guesses from elsewhere cannot lock a client out, then the address.
pub(super) fn client_throttle_keys(client: &str, ip: Option<IpAddr>) -> Vec<String> {
    match ip {
        Some(ip) => vec![
            format!("client:{client}@{}", ip_key(ip)),
            format!("ip:{}", ip_key(ip)),
        ],
        None => vec![format!("client:{client}")],
    }
}

/// An IPv6 client is counted by its /64, the smallest block one subscriber gets, so one
/// attacker cannot spread guesses over 2^64 addresses.
fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Fails with [`ServiceError::Throttled`] while any of `keys` is blocked.
async fn check(core: &Core, keys: &[String]) -> Result<()> {
    let now = core.now();
    let until = core.store().blocked_until(keys).await?;
    if until > now {
        return Err(throttled(until, now));
    }
    Ok(())
}

/// The refusal while a key is blocked until `until`.
fn throttled(until: UnixTime, now: UnixTime) -> ServiceError {
    ServiceError::Throttled {
        retry_after: (until - now).max(1) as u64,
    }
}

/// Counts a failure against each key and extends its back-off.
async fn record_failure(core: &Core, keys: &[String]) -> Result<()> {
    let now = core.now();
    let t = &core.settings.throttle;
    for key in keys {
        let allowed = if key.starts_with("ip:") {
            t.ip_failures_allowed
        } else {
            t.account_failures_allowed
        };
        let failures = core
            .store()
            .record_failure(key, now, t.failure_window)
            .await?;
        let wait = backoff(failures, allowed, t.max_backoff);
        if wait > 0 {
            core.store().block(key, now + wait).await?;
        }
    }
    Ok(())
}

/// How a secret check counts its guess against the first (account) key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counting {
    /// Reserved before the check (passwords): a check takes tens of milliseconds, long
    /// enough for a wave of parallel guesses to pass a read-only block check together.
    /// Beyond the free guesses one check runs per back-off period, on every instance.
    Reserve,
    /// Counted after a failed check (client secrets: a MAC, microseconds, and concurrent
    /// calls by a busy confidential client must not count against it).
    After,
}

/// Runs a secret check under the back-off for `keys` (the first is the account's):
/// refused while any key is blocked, before the check and again after it, so guesses
/// that were already queued when the block began learn nothing. With
/// [`Counting::Reserve`] the account's guess is counted before the check, atomically
/// with the block test (see `Store::reserve_guess`). `Ok(None)` from the check is a
/// failure: it counts against every key (once) and answers
/// [`ServiceError::BadCredentials`]; a success clears the account's count.
pub(super) async fn guarded<T>(
    core: &Core,
    keys: &[String],
    counting: Counting,
    check_secret: impl Future<Output = Result<Option<T>>>,
) -> Result<T> {
    check(core, keys).await?;
    let (reserved, rest) = match (counting, keys.split_first()) {
        (Counting::Reserve, Some((account, rest))) => {
            reserve(core, account).await?;
            (Some(account), rest)
        }
        _ => (None, keys),
    };
    // The reserved key was settled before the check; the others are checked again.
    let outcome = async {
        let outcome = check_secret.await?;
        check(core, rest).await?;
        Ok(outcome)
    }
    .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            // Not checked (the hashing queue is full, the store failed) or not answered
            // (an address block began meanwhile): give the guess back, so that an
            // overloaded server does not lock its users out.
            if let Some(account) = reserved {
                core.store().release_guess(account).await?;
            }
            return Err(e);
        }
    };
    match outcome {
        Some(value) => {
            if let Some(account) = keys.first() {
                core.store().clear_failures(account).await?;
            }
            Ok(value)
        }
        None => {
            record_failure(core, rest).await?;
            Err(ServiceError::BadCredentials)
        }
    }
}

/// Reserves a guess at an account key, or refuses while it is blocked.
async fn reserve(core: &Core, account: &str) -> Result<()> {
    let t = &core.settings.throttle;
    let schedule = BackoffSchedule {
        allowed: t.account_failures_allowed,
        max_backoff: t.max_backoff,
        failure_window: t.failure_window,
    };
    let now = core.now();
    match core.store().reserve_guess(account, now, &schedule).await? {
        Reservation::Reserved(_) => Ok(()),
        Reservation::Blocked(until) => Err(throttled(until, now)),
    }
}
