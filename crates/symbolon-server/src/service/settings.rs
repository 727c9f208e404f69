//! The typed settings the service runs with (the configuration file's keys, parsed and
//! checked once by [`crate::config`]).

use symbolon_core::ids::ClientId;
use symbolon_core::keys::SigningAlg;
use symbolon_core::rotation::RefreshPolicy;

/// What the service needs to know; durations in seconds.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The `iss` of access tokens, without a trailing slash.
    pub issuer: String,
    /// The `aud` of access tokens.
    pub audience: String,
    /// The algorithm new signing keys use.
    pub signing_alg: SigningAlg,
    /// Access-token lifetime.
    pub access_ttl: i64,
    /// Refresh-token idle lifetime and the reuse grace.
    pub policy: RefreshPolicy,
    /// A session's absolute lifetime.
    pub session_ttl: i64,
    /// Clock skew allowed when checking access tokens.
    pub leeway: i64,
    /// How often every instance re-reads the signing keys.
    pub key_refresh: i64,
    /// Whether anyone may create an account.
    pub allow_registration: bool,
    /// The built-in public client, used when a request names none.
    pub default_client: ClientId,
    /// The brute-force back-off.
    pub throttle: ThrottleSettings,
    /// How long revoked sessions and audit rows are kept.
    pub retention: i64,
    /// Whether the service keeps its clock in step with the database server's (a
    /// PostgreSQL fleet then reads one time); otherwise the injected clock alone.
    pub clock_from_database: bool,
}

/// The brute-force back-off for passwords and client secrets.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleSettings {
    /// Failures per account (or client) before the back-off starts.
    pub account_failures_allowed: u64,
    /// Failures per client address before the back-off starts.
    pub ip_failures_allowed: u64,
    /// Quiet time after which failure counts restart.
    pub failure_window: i64,
    /// The longest back-off.
    pub max_backoff: i64,
}
