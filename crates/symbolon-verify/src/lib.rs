//! Verify symbolon access tokens where the APIs live.
//!
//! A [`Verifier`] is configured with the issuer and the audience. It discovers the JWKS
//! from the issuer's RFC 8414 metadata, keeps the keys in memory (refetching them
//! periodically and when a token names an unknown `kid`, at most once per
//! [`Config::min_refetch`]), and verifies RFC 9068 access tokens exactly as symbolon does
//! (docs/API.md §1.1: the algorithm is the key's, `typ` `at+jwt`, `iss`, `aud`, `exp` and
//! `nbf` with leeway), with no network call on the request path. While the token server
//! is away it keeps verifying with the keys it has.
//!
//! With [`Config::revocations`] it also follows symbolon's revocation feed (docs/API.md
//! §2.8) and refuses the tokens of sessions revoked in the last `access_ttl + leeway`,
//! within about a second of the revocation; [`Status`] says how fresh that view is, and
//! [`Config::fail_closed_after`] makes it refuse every token when the feed has been
//! unreachable for longer than a limit.
//!
//! For axum (feature `axum`, on by default): the [`VerifiedToken`] extractor and the
//! [`require_token`] middleware, which answer RFC 6750 errors (`401` with
//! `WWW-Authenticate: Bearer error="invalid_token"`), so that symbolon's SDKs refresh and
//! retry.
//!
//! ```no_run
//! # async fn example() {
//! use axum::{routing::get, Router};
//! use symbolon_verify::{Config, VerifiedToken, Verifier};
//!
//! let verifier = Verifier::new(Config::new("https://auth.example.com", "symbolon"));
//! let app: Router = Router::new()
//!     .route("/hello", get(|VerifiedToken(claims): VerifiedToken| async move {
//!         format!("hello, {}", claims.preferred_username)
//!     }))
//!     .with_state(verifier);
//! # }
//! ```

#[cfg(feature = "axum")]
mod axum_support;
mod feed;
mod keys;

#[cfg(feature = "axum")]
pub use axum_support::{require_token, Rejection, VerifiedToken};
pub use symbolon_core::access::{AccessClaims, TokenError};

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use symbolon_core::access::Expectations;

/// How a [`Verifier`] is set up.
#[derive(Clone)]
pub struct Config {
    /// The token server's issuer (the `iss` of its tokens; its metadata is at
    /// `{issuer}/.well-known/oauth-authorization-server`).
    pub issuer: String,
    /// The required `aud`.
    pub audience: String,
    /// Allowed clock skew for `exp` and `nbf`, seconds (default 30, as symbolon's).
    pub leeway: i64,
    /// How often the keys are fetched again when nothing asks for it (default 5 min).
    pub key_refresh: Duration,
    /// The least time between two fetches of the keys, however many tokens name an
    /// unknown `kid` (default 10 s): garbage `kid`s cannot make it hammer the server.
    pub min_refetch: Duration,
    /// Follow the revocation feed as this client (a confidential client with the
    /// `revocations` capability); `None`: revocation is seen only at expiry.
    pub revocations: Option<FeedClient>,
    /// Refuse every token (as unavailable, 503) when the feed has not answered for
    /// longer than this (or not yet since the start); `None` (default): keep verifying
    /// with the revocations last seen. At least 3 s (a shorter limit is raised): the
    /// feed is then polled so that a healthy one answers three times within the limit.
    pub fail_closed_after: Option<Duration>,
    /// The HTTP client for the metadata, the keys and the feed.
    pub http: reqwest::Client,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("revocations", &self.revocations)
            .field("fail_closed_after", &self.fail_closed_after)
            .finish_non_exhaustive()
    }
}

/// The credentials the feed is read with.
#[derive(Clone)]
pub struct FeedClient {
    /// The client id.
    pub client_id: String,
    /// Its secret; never logged.
    pub secret: String,
}

impl std::fmt::Debug for FeedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedClient")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The defaults for this issuer and audience (no revocation feed).
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            audience: audience.into(),
            leeway: 30,
            key_refresh: Duration::from_secs(300),
            min_refetch: Duration::from_secs(10),
            revocations: None,
            fail_closed_after: None,
            http: reqwest::Client::new(),
        }
    }

    /// Follows the revocation feed as `client_id` with `secret`.
    pub fn with_revocations(
        mut self,
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        self.revocations = Some(FeedClient {
            client_id: client_id.into(),
            secret: secret.into(),
        });
        self
    }
}

/// Why a token was refused, or could not be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No `Authorization: Bearer` token.
    #[error("no access token")]
    Missing,
    /// The token itself is not acceptable (malformed, wrong type, unknown key, bad
    /// signature, expired, wrong issuer or audience).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Its session was revoked (the revocation feed says so).
    #[error("the session has ended")]
    Revoked,
    /// No keys yet: the token server has not been reached since the start.
    #[error("the token server's keys are not available yet")]
    KeysUnavailable,
    /// The revocation feed has not answered for longer than `fail_closed_after`.
    #[error("the revocation feed is unreachable")]
    RevocationsUnavailable,
}

impl VerifyError {
    /// Whether the token is at fault (401 `invalid_token`), rather than this service's
    /// view of the token server (503: try again).
    pub fn is_invalid_token(&self) -> bool {
        !matches!(self, Self::KeysUnavailable | Self::RevocationsUnavailable)
    }
}

/// How fresh the verifier's view of the token server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// How many keys it verifies with.
    pub keys: usize,
    /// Since the keys were last fetched; `None`: never.
    pub keys_age: Option<Duration>,
    /// Whether the revocation feed is followed.
    pub feed: bool,
    /// Since the feed last answered; `None`: never (or not followed). A healthy feed
    /// answers at least every 25 s (a third of `fail_closed_after` when set), at once
    /// when a session is revoked.
    pub feed_age: Option<Duration>,
    /// Revoked sessions it refuses now.
    pub revoked_sessions: usize,
    /// The feed's cursor.
    pub feed_cursor: u64,
}

/// Verifies access tokens; cheap to clone (one shared state), and the state of an axum
/// router (`with_state(verifier)`, or a field of yours with `FromRef`).
#[derive(Clone, Debug)]
pub struct Verifier(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: Config,
    expect: Expectations,
    keys: keys::KeyCache,
    revoked: RwLock<feed::Revoked>,
    feed: Mutex<feed::FeedState>,
    started: Instant,
}

impl Verifier {
    /// A verifier for `config`. Starts its background tasks (the keys, and the feed
    /// when configured) on the current Tokio runtime, and returns at once: tokens are
    /// refused as [`VerifyError::KeysUnavailable`] until the keys have been fetched
    /// (see [`Verifier::ready`]). The tasks end when the last clone is dropped.
    pub fn new(config: Config) -> Self {
        let expect = Expectations {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway,
        };
        let inner = Arc::new(Inner {
            keys: keys::KeyCache::default(),
            revoked: RwLock::new(feed::Revoked::default()),
            feed: Mutex::new(feed::FeedState::default()),
            started: Instant::now(),
            expect,
            config,
        });
        tokio::spawn(keys::refresh_task(
            Arc::downgrade(&inner),
            inner.keys.wanted.clone(),
        ));
        if inner.config.revocations.is_some() {
            tokio::spawn(feed::follow_task(Arc::downgrade(&inner)));
        }
        Self(inner)
    }

    /// A verifier that starts with the keys of `jwks` (a JWKS document, as the token
    /// server publishes it), for a service that ships them to start while the token
    /// server is away; otherwise as [`Verifier::new`] (the keys are fetched and kept
    /// fresh as usual).
    pub fn with_jwks(config: Config, jwks: &str) -> Result<Self, serde_json::Error> {
        #[derive(serde::Deserialize)]
        struct Jwks {
            keys: Vec<symbolon_core::keys::Jwk>,
        }
        let jwks: Jwks = serde_json::from_str(jwks)?;
        let verifier = Self::new(config);
        verifier.0.keys.install(&jwks.keys);
        Ok(verifier)
    }

    /// Applies one answer of the revocation feed as the background task does. For
    /// tests and benchmarks; a service never needs it.
    #[doc(hidden)]
    pub fn absorb_feed_answer(&self, page: &symbolon_proto::RevocationFeed) {
        self.0
            .revoked
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .apply(page, self.0.config.leeway, unix_now());
    }

    /// Waits until the keys are there (and the feed has answered once, when followed),
    /// or `timeout` passes; true if ready.
    pub async fn ready(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let status = self.status();
            if status.keys > 0 && (!status.feed || status.feed_age.is_some()) {
                return true;
            }
            let mut changes = self.0.keys.changes();
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                return false;
            }
        }
    }

    /// Verifies `token` now, with what is in memory: no network, whatever happens. A
    /// token naming an unknown `kid` asks the background task to fetch the keys again
    /// (rate-limited) and is refused; [`Verifier::verify_async`] waits for that fetch.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        let inner = &self.0;
        let now = unix_now();
        let claims = inner.keys.verify(token, &inner.expect, now)?;
        self.check_session(&claims)?;
        Ok(claims)
    }

    /// As [`Verifier::verify`], but a token naming an unknown `kid` waits for one fetch
    /// of the keys (if the rate limit allows one now) and is tried again: a key rotated in
    /// at the token server is accepted from its first token.
    pub async fn verify_async(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        match self.verify(token) {
            Err(VerifyError::Token(TokenError::UnknownKey)) | Err(VerifyError::KeysUnavailable) => {
                // Whether this call fetched or another did meanwhile, try once more.
                self.0.keys.refetch(&self.0).await;
                self.verify(token)
            }
            other => other,
        }
    }

    fn check_session(&self, claims: &AccessClaims) -> Result<(), VerifyError> {
        let inner = &self.0;
        if inner.config.revocations.is_none() {
            return Ok(());
        }
        if let Some(limit) = inner.config.fail_closed_after {
            let limit = limit.max(feed::MIN_FAIL_CLOSED);
            let fresh = {
                let feed = inner.feed.lock().unwrap_or_else(|p| p.into_inner());
                feed.last_answer.is_some_and(|at| at.elapsed() <= limit)
            };
            if !fresh {
                return Err(VerifyError::RevocationsUnavailable);
            }
        }
        let revoked = inner.revoked.read().unwrap_or_else(|p| p.into_inner());
        if revoked.contains(&claims.sid) {
            return Err(VerifyError::Revoked);
        }
        Ok(())
    }

    /// How fresh the view of the token server is.
    pub fn status(&self) -> Status {
        let inner = &self.0;
        let (keys, keys_age) = inner.keys.status();
        let feed = inner.feed.lock().unwrap_or_else(|p| p.into_inner());
        Status {
            keys,
            keys_age,
            feed: inner.config.revocations.is_some(),
            feed_age: feed.last_answer.map(|at| at.elapsed()),
            revoked_sessions: inner
                .revoked
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .len(),
            feed_cursor: feed.cursor,
        }
    }

    /// [`Verifier::status`] in the Prometheus text format, for a service's `/metrics`.
    /// An age that is unknown (never fetched) is reported as the time since the start.
    pub fn metrics_text(&self) -> String {
        let status = self.status();
        let since_start = self.0.started.elapsed();
        let secs = |age: Option<Duration>| age.unwrap_or(since_start).as_secs_f64();
        let mut text = format!(
            "# HELP symbolon_verify_keys Keys the verifier holds.\n\
             # TYPE symbolon_verify_keys gauge\nsymbolon_verify_keys {}\n\
             # HELP symbolon_verify_keys_age_seconds Since the keys were last fetched.\n\
             # TYPE symbolon_verify_keys_age_seconds gauge\nsymbolon_verify_keys_age_seconds {:.3}\n",
            status.keys,
            secs(status.keys_age),
        );
        if status.feed {
            text.push_str(&format!(
                "# HELP symbolon_verify_feed_age_seconds Since the revocation feed last answered.\n\
                 # TYPE symbolon_verify_feed_age_seconds gauge\nsymbolon_verify_feed_age_seconds {:.3}\n\
                 # HELP symbolon_verify_revoked_sessions Revoked sessions whose tokens are refused.\n\
                 # TYPE symbolon_verify_revoked_sessions gauge\nsymbolon_verify_revoked_sessions {}\n",
                secs(status.feed_age),
                status.revoked_sessions,
            ));
        }
        text
    }
}

/// Now, Unix seconds, from this machine's clock (as the token's `exp` is judged).
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
