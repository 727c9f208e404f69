//! The [`Client`]: login, logout, and requests with a token that is always fresh.

use crate::error::{Error, Result};
use crate::expiry::{BootStamp, Expiry};
use crate::secret::Secret;
use crate::store::{MemoryStore, TokenStore};
use crate::tokens::{InDoubt, StoredTokens, TokenResponse};
use reqwest::header::{HeaderValue, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Request, RequestBuilder, Response, StatusCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use symbolon_proto::{Credentials, ErrorBody, LogoutRequest, RefreshRequest};
use tokio::sync::watch;

/// The state of the client's tokens, as published on [`Client::events`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenEvent {
    /// No tokens (the start, or after [`Client::logout`]).
    LoggedOut,
    /// Tokens were obtained by a login or found in the store.
    LoggedIn {
        /// The session.
        session_id: String,
    },
    /// The tokens were refreshed (by this client, or by another process sharing the store).
    Refreshed {
        /// The session.
        session_id: String,
    },
    /// The user must log in again: the server refused the refresh token for good (the
    /// tokens were cleared, [`Error::LoginRequired`]), or the last refresh's answer was
    /// lost and the reuse grace has passed ([`Error::InDoubt`]: the tokens are kept but
    /// never presented again).
    LoginRequired,
}

/// Which sessions [`Client::logout_scope`] ends (`docs/API.md` §2, `POST /logout`).
pub use symbolon_proto::LogoutScope;

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    base_url: String,
    http: Option<reqwest::Client>,
    auth_http: Option<reqwest::Client>,
    store: Option<Arc<dyn TokenStore>>,
    refresh_margin: Duration,
    refresh_attempts: u32,
    retry_backoff: Duration,
    timeout: Duration,
    refresh_timeout: Duration,
    reuse_grace: Duration,
    allowed: Vec<String>,
}

impl ClientBuilder {
    /// Where to keep tokens (default: [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Refresh this long before the access token expires (default 60 s). A margin at
    /// least as long as the server's `access_ttl` refreshes before every request.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// How many times one refresh is tried on transient failures (default 3, at least 1).
    /// A refresh whose token may have reached the server already (see
    /// [`reuse_grace`](Self::reuse_grace)) is tried until its deadline instead, however
    /// many tries that takes: it is the last chance to get the server's answer without
    /// presenting the token outside the grace.
    pub fn refresh_attempts(mut self, attempts: u32) -> Self {
        self.refresh_attempts = attempts.max(1);
        self
    }

    /// The first pause between refresh attempts, doubled after each (default 250 ms).
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff = backoff;
        self
    }

    /// The server's `reuse_grace` (default 10 s, the server's default): how long after a
    /// rotation the server still answers the spent refresh token with the same successor
    /// (`docs/API.md` §1.3). Once a refresh try may have reached the server without its
    /// answer coming back, its token is in doubt: it is tried again only until half this
    /// grace has passed since the first such try was sent (the refresh deadline), and
    /// never presented after it ([`Error::InDoubt`]), because a presentation outside the
    /// grace is reuse and revokes the session. Set it to the server's value, or lower.
    pub fn reuse_grace(mut self, grace: Duration) -> Self {
        self.reuse_grace = grace;
        self
    }

    /// How long one `POST /token/refresh` try may take, the answer's body included
    /// (default 3 s; at most half the [`reuse_grace`](Self::reuse_grace), so that every
    /// try has ended by the time the grace has). A connect that takes longer than half
    /// of it fails as "never sent" when the SDK builds the token endpoints' client. Short,
    /// so that a lost answer leaves time for another try within the deadline.
    pub fn refresh_timeout(mut self, timeout: Duration) -> Self {
        self.refresh_timeout = timeout;
        self
    }

    /// The timeout of each HTTP request the client makes itself (default 30 s; a
    /// refresh try has [`refresh_timeout`](Self::refresh_timeout) instead); ignored
    /// by [`send`](Client::send) when [`http_client`](Self::http_client) is given, and by
    /// the token endpoints when [`auth_http_client`](Self::auth_http_client) is.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The `reqwest::Client` that [`send`](Client::send) uses (for proxies, TLS roots,
    /// ...). Its redirect policy applies: build it with [`crate::redirect_policy`] so that
    /// a redirect to another origin, or from `https` to `http`, is not followed with the
    /// token. The token endpoints do not use it (see
    /// [`auth_http_client`](Self::auth_http_client)).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The `reqwest::Client` for `POST /login`, `/token/refresh` and `/logout`, which
    /// carry the password and the refresh token. By default the SDK builds its own, which
    /// follows no redirect; give one here for proxies or TLS roots, and build it with
    /// `redirect(reqwest::redirect::Policy::none())`: a response that comes from another
    /// URL than the one asked (a redirect was followed) is refused with
    /// [`Error::Protocol`], but only after the body was sent there.
    pub fn auth_http_client(mut self, http: reqwest::Client) -> Self {
        self.auth_http = Some(http);
        self
    }

    /// Another origin (`scheme://host[:port]`, e.g. `https://api.example.com`) that may
    /// receive the access token through [`Client::send`] and the middleware, besides the
    /// server's own (repeatable). The scheme counts: allowing `https://api.example.com`
    /// does not allow `http://api.example.com`. A path in `url` is ignored.
    pub fn allow_origin(mut self, url: impl Into<String>) -> Self {
        self.allowed.push(url.into());
        self
    }

    /// The client.
    pub fn build(self) -> Result<Client> {
        let base = reqwest::Url::parse(&self.base_url)
            .map_err(|e| Error::Protocol(format!("server URL {:?}: {e}", self.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Protocol(format!(
                "server URL {:?} is not http(s)",
                self.base_url
            )));
        }
        let mut origins = vec![Origin::of(&base).ok_or_else(|| {
            Error::Protocol(format!("server URL {:?} has no host", self.base_url))
        })?];
        for allowed in &self.allowed {
            let origin = reqwest::Url::parse(allowed)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .and_then(|u| Origin::of(&u))
                .ok_or_else(|| {
                    Error::Protocol(format!("allowed origin {allowed:?} is not an http(s) URL"))
                })?;
            origins.push(origin);
        }
        // The base as a directory, for joining paths under it.
        let mut join_base = base.clone();
        if !join_base.path().ends_with('/') {
            join_base.set_path(&format!("{}/", join_base.path()));
        }
        let http_builder = || {
            reqwest::Client::builder()
                .timeout(self.timeout)
                .user_agent(concat!("symbolon-client/", env!("CARGO_PKG_VERSION")))
        };
        let window = self.reuse_grace / 2;
        // Every try must have ended (and its connection closed) before the grace does. A
        // grace of zero leaves no time for that: the timeout is then as given, and a token
        // in doubt is never tried again.
        let refresh_timeout = if window.is_zero() {
            self.refresh_timeout
        } else {
            self.refresh_timeout.min(window)
        };
        let http = match self.http {
            Some(http) => http,
            None => http_builder()
                .redirect(redirect_policy())
                .build()
                .map_err(Error::Request)?,
        };
        let auth_http = match self.auth_http {
            Some(http) => http,
            None => http_builder()
                .redirect(reqwest::redirect::Policy::none())
                // A connect that does not finish in time fails as a connect error, which
                // says the request was never sent (safe to retry at any time); a refresh
                // try that times out later may have reached the server.
                .connect_timeout(refresh_timeout / 2)
                .build()
                .map_err(Error::Request)?,
        };
        let (events, _) = watch::channel(TokenEvent::LoggedOut);
        Ok(Client {
            inner: Arc::new(Inner {
                base: self.base_url.trim_end_matches('/').to_owned(),
                join_base,
                origins,
                http,
                auth_http,
                store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
                margin: self.refresh_margin,
                attempts: self.refresh_attempts,
                backoff: self.retry_backoff,
                refresh_timeout,
                window,
                flights: Mutex::new(Flights::default()),
                current: Mutex::new(Current::default()),
                loaded: tokio::sync::OnceCell::new(),
                refresh_lock: tokio::sync::Mutex::new(()),
                events,
                refreshes: AtomicU64::new(0),
                unsaved: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }
}

/// A symbolon client: logs in, keeps the tokens in a [`TokenStore`], and sends requests
/// with a fresh access token. Cheap to clone; clones share tokens and single flight.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    base: String,
    /// The base URL with a trailing `/`, which [`Client::try_request`] joins paths to.
    join_base: reqwest::Url,
    /// Where the access token may go: the server's origin first, then the allowed ones.
    origins: Vec<Origin>,
    http: reqwest::Client,
    /// For the token endpoints: follows no redirect (unless the caller gave their own).
    auth_http: reqwest::Client,
    store: Arc<dyn TokenStore>,
    margin: Duration,
    attempts: u32,
    backoff: Duration,
    /// The timeout of one refresh try.
    refresh_timeout: Duration,
    /// How long after the first possibly-delivered send a token in doubt may still be
    /// presented: half the reuse grace.
    window: Duration,
    /// The outcome of the last refresh, for the callers that waited behind it.
    flights: Mutex<Flights>,
    current: Mutex<Current>,
    loaded: tokio::sync::OnceCell<()>,
    /// Held for the whole of a refresh: the single flight.
    refresh_lock: tokio::sync::Mutex<()>,
    events: watch::Sender<TokenEvent>,
    refreshes: AtomicU64,
    /// Set when the tokens in memory could not be written to the store: the store then
    /// holds spent tokens, which must not be adopted (presenting them again would look
    /// like reuse to the server). Cleared by the next successful write.
    unsaved: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.base)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// Finished refreshes, so that callers queued behind one that failed take its failure
/// instead of presenting the same token again later, each on its own.
#[derive(Default)]
struct Flights {
    /// Refreshes finished so far (under the refresh lock).
    done: u64,
    /// The failure of the last one (`None` when it succeeded).
    failure: Option<Error>,
}

/// Whether the refresh token may have been spent at the server without the client
/// hearing of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Doubt {
    /// No try of it may have reached the server unanswered.
    Clear,
    /// A try that may have reached the server was sent at this instant, and at this
    /// point of the boot-time clock (milliseconds since boot, where there is one): an
    /// `Instant` stops while the machine is suspended, the boot clock does not, and the
    /// server's grace runs on through a suspend.
    Since(Instant, Option<u64>),
    /// In doubt since a time this process cannot tell (a mark from another boot, or
    /// without a boot clock): as if the deadline had passed.
    Unknown,
}

/// The tokens in use and a generation number that changes whenever they do, so that a
/// request can tell whether someone refreshed since it read them.
#[derive(Default)]
struct Current {
    generation: u64,
    /// Shared, so that a request's look at the tokens is one reference count.
    live: Option<Arc<Live>>,
}

struct Live {
    stored: StoredTokens,
    expiry: Expiry,
    /// `Bearer ACCESS`, built once per token (marked sensitive): a request clones it
    /// instead of formatting and validating the token again. `None` when the token is
    /// not a valid header value (reported when a request needs it).
    bearer: Option<HeaderValue>,
    /// A server answered 401 `invalid_token` to this access token: refresh before using
    /// it again, whatever its expiry says.
    rejected: std::sync::atomic::AtomicBool,
    /// Whether the refresh token is in doubt (changed only under the refresh lock).
    doubt: Mutex<Doubt>,
}

impl Live {
    fn new(stored: StoredTokens, expiry: Expiry) -> Live {
        let mut text = format!("Bearer {}", stored.access_token.expose());
        let bearer = HeaderValue::from_str(&text).ok();
        zeroize::Zeroize::zeroize(&mut text);
        let bearer = bearer.map(|mut value| {
            value.set_sensitive(true);
            value
        });
        Live {
            stored,
            expiry,
            bearer,
            rejected: std::sync::atomic::AtomicBool::new(false),
            doubt: Mutex::new(Doubt::Clear),
        }
    }

    fn doubt(&self) -> Doubt {
        *self.doubt.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that a try sent at `sent` (`sent_boot` on the boot clock) may have
    /// reached the server (the first such try counts: the grace runs from the rotation
    /// it may have caused).
    fn doubt_since(&self, sent: Instant, sent_boot: Option<u64>) {
        let mut doubt = self.doubt.lock().unwrap_or_else(|p| p.into_inner());
        if *doubt == Doubt::Clear {
            *doubt = Doubt::Since(sent, sent_boot);
        }
    }

    /// Until when the refresh token may still be presented: `None` for "any time" (not
    /// in doubt), otherwise the refresh deadline (`Err` when it cannot be told, which
    /// counts as passed).
    fn deadline(&self, window: Duration) -> Option<std::result::Result<Instant, ()>> {
        match self.doubt() {
            Doubt::Clear => None,
            Doubt::Since(sent, _) => Some(sent.checked_add(window).ok_or(())),
            Doubt::Unknown => Some(Err(())),
        }
    }

    /// Whether the refresh token may be presented at `now`: not in doubt, or in doubt and
    /// before the refresh deadline (within the server's grace of any rotation it caused)
    /// on both this process's clock and the boot clock (which counts a suspend).
    fn may_present(&self, now: Instant, window: Duration) -> bool {
        self.may_present_at(now, boot_ms(), window)
    }

    fn may_present_at(&self, now: Instant, now_boot: Option<u64>, window: Duration) -> bool {
        let suspended_past = match (self.doubt(), now_boot) {
            (Doubt::Since(_, Some(sent_boot)), Some(now_boot)) => {
                Duration::from_millis(now_boot.saturating_sub(sent_boot)) >= window
            }
            _ => false,
        };
        !suspended_past
            && match self.deadline(window) {
                None => true,
                Some(Ok(deadline)) => now < deadline,
                Some(Err(())) => false,
            }
    }

    fn from_stored(stored: StoredTokens, now: Instant) -> Live {
        let now_stamp = BootStamp::now();
        let expiry = Expiry::from_stamps(
            Duration::from_secs(stored.expires_in),
            stored.obtained.as_ref(),
            now,
            now_stamp.as_ref(),
        );
        let doubt = match &stored.in_doubt {
            None => Doubt::Clear,
            Some(mark) => doubt_of(mark, now, now_stamp.as_ref()),
        };
        let live = Live::new(stored, expiry);
        *live.doubt.lock().unwrap_or_else(|p| p.into_inner()) = doubt;
        live
    }
}

/// Milliseconds since boot, suspend included, where the system has that clock.
fn boot_ms() -> Option<u64> {
    BootStamp::now().map(|stamp| stamp.since_boot_ms)
}

/// The doubt a stored mark stands for, seen at `now` / `now_stamp`: its age on the boot
/// clock when the mark and now are of the same boot, otherwise unknown (the wall clock is
/// not trusted for it: a clock set back would make an old mark look young, and the
/// presentation that followed would revoke the session).
fn doubt_of(mark: &InDoubt, now: Instant, now_stamp: Option<&BootStamp>) -> Doubt {
    match (&mark.since, now_stamp) {
        (Some(then), Some(current))
            if then.boot_id == current.boot_id && current.since_boot_ms >= then.since_boot_ms =>
        {
            let age = Duration::from_millis(current.since_boot_ms - then.since_boot_ms);
            now.checked_sub(age).map_or(Doubt::Unknown, |sent| {
                Doubt::Since(sent, Some(then.since_boot_ms))
            })
        }
        _ => Doubt::Unknown,
    }
}

/// A valid access token and the generation it belongs to.
#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) generation: u64,
    live: Arc<Live>,
}

impl Token {
    fn new(generation: u64, live: Arc<Live>) -> Token {
        Token { generation, live }
    }

    /// The access token.
    pub(crate) fn access(&self) -> &Secret {
        &self.live.stored.access_token
    }
}

impl Client {
    /// A builder for the server at `base_url` (e.g. `https://auth.example.com`).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            http: None,
            auth_http: None,
            store: None,
            refresh_margin: Duration::from_secs(60),
            refresh_attempts: 3,
            retry_backoff: Duration::from_millis(250),
            timeout: Duration::from_secs(30),
            refresh_timeout: Duration::from_secs(3),
            reuse_grace: Duration::from_secs(10),
            allowed: Vec::new(),
        }
    }

    /// A client with the defaults and tokens in memory.
    pub fn new(base_url: impl Into<String>) -> Result<Client> {
        Self::builder(base_url).build()
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        &self.inner.base
    }

    /// The `reqwest::Client` underneath (without authentication).
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// A request builder for `path` on the server (e.g. `"/me"`, appended to the base
    /// URL's path); send it with [`send`](Self::send).
    ///
    /// `path` must be an absolute path: it starts with one `/` (not `//` or `/\`), and the
    /// URL made from it stays on the server's origin. Any other `path` (`.evil.com/x`,
    /// `@evil.com/x`, `//evil.com`) gives a builder that fails to build, so that
    /// [`send`](Self::send) returns [`Error::Request`] and nothing is sent;
    /// [`try_request`](Self::try_request) says why.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        match self.url_of(path) {
            Ok(url) => self.inner.http.request(method, url),
            // A URL that cannot be parsed: reqwest reports it when the request is built.
            Err(_) => self.inner.http.request(method, "not an absolute path"),
        }
    }

    /// Like [`request`](Self::request), but a `path` that is not an absolute path on the
    /// server is [`Error::Refused`] here.
    pub fn try_request(&self, method: Method, path: &str) -> Result<RequestBuilder> {
        Ok(self.inner.http.request(method, self.url_of(path)?))
    }

    /// The URL of `path` under the base URL, on the server's origin.
    fn url_of(&self, path: &str) -> Result<reqwest::Url> {
        let refused = || {
            Error::Refused(format!(
                "{path:?} is not an absolute path on {} (it must start with one /)",
                self.inner.base
            ))
        };
        let rest = path.strip_prefix('/').ok_or_else(refused)?;
        if rest.starts_with(['/', '\\']) {
            return Err(refused());
        }
        // `./` keeps a first segment with a colon (`/a:b`) from reading as a scheme.
        let url = self
            .inner
            .join_base
            .join(&format!("./{rest}"))
            .map_err(|_| refused())?;
        if !self.inner.origins[0].is_of(&url) {
            return Err(refused());
        }
        Ok(url)
    }

    /// `Ok` when the access token may be sent to `url`: its origin is the server's or
    /// one allowed with [`ClientBuilder::allow_origin`].
    pub(crate) fn check_origin(&self, url: &reqwest::Url) -> Result<()> {
        // Compared in place: this runs for every request.
        if self.inner.origins.iter().any(|o| o.is_of(url)) {
            return Ok(());
        }
        Err(Error::Refused(format!(
            "the access token goes only to {}, not to {}",
            self.inner
                .origins
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            Origin::of(url).map_or_else(|| url.scheme().to_owned(), |o| o.to_string())
        )))
    }

    /// The token state now and its changes.
    pub fn events(&self) -> watch::Receiver<TokenEvent> {
        self.inner.events.subscribe()
    }

    /// How many `POST /token/refresh` this client has sent (attempts included).
    pub fn refresh_requests(&self) -> u64 {
        self.inner.refreshes.load(Ordering::Relaxed)
    }

    /// The current session id, if logged in (reads the store on first use).
    pub async fn session_id(&self) -> Result<Option<String>> {
        self.ensure_loaded().await?;
        Ok(self.snapshot().1.map(|l| l.stored.session_id.clone()))
    }

    /// Logs in with `POST /login` and stores the tokens.
    pub async fn login(&self, username: &str, password: &str) -> Result<String> {
        let body = Credentials {
            username: username.to_owned(),
            password: Secret::new(password),
        };
        let response = self.post_auth("/login", &body).await?;
        let received = Instant::now();
        let stamp = BootStamp::now();
        if response.status() != StatusCode::OK {
            return Err(match error_of(response).await {
                Error::Server { code, .. } if code == "invalid_grant" => Error::InvalidCredentials,
                other => other,
            });
        }
        let tokens = parse_tokens(response).await?;
        let session_id = tokens.session_id.clone();
        // A first load still running could put the old tokens back over the new ones:
        // let it finish (an unreadable store does not stop a login, which replaces it).
        let _ = self.ensure_loaded().await;
        // The refresh lock and the store's lock keep a refresh of the old session, here
        // or in another process, from overwriting the new tokens.
        let _flight = self.inner.refresh_lock.lock().await;
        let _shared = self.inner.store.lock().await?;
        let _ = self.inner.loaded.set(());
        self.adopt_response(tokens, received, stamp).await?;
        self.inner.events.send_replace(TokenEvent::LoggedIn {
            session_id: session_id.clone(),
        });
        Ok(session_id)
    }

    /// Ends this session on the server and forgets the tokens.
    pub async fn logout(&self) -> Result<()> {
        self.logout_scope(LogoutScope::Local).await
    }

    /// Ends this session, the user's other sessions, or all of them (`POST /logout`).
    /// Local tokens are forgotten unless the scope is [`LogoutScope::Others`]. When the
    /// server cannot be reached the tokens are kept and [`Error::Transient`] returned, so
    /// the logout can be tried again.
    ///
    /// When the server refuses the refresh token (the session had ended already), a
    /// local logout succeeds, but [`LogoutScope::Others`] and [`LogoutScope::Global`]
    /// give [`Error::LoginRequired`]: nothing was revoked, so the other sessions are
    /// still alive, and the caller must not be told otherwise. The tokens are forgotten.
    pub async fn logout_scope(&self, scope: LogoutScope) -> Result<()> {
        self.ensure_loaded().await?;
        // Like a refresh: one at a time, under the store's lock, with the newest tokens
        // (another process may have rotated the ones in memory).
        let _flight = self.inner.refresh_lock.lock().await;
        let _shared = self.inner.store.lock().await?;
        let Some((_, live, _)) = self.reconcile(self.snapshot().1).await? else {
            return Ok(());
        };
        if !live.may_present(Instant::now(), self.inner.window) {
            // The refresh token may have been spent at the server and the grace has
            // passed: presenting it to /logout would be reuse and revoke the session
            // (which a local logout may leave to expire). Nothing is sent.
            if scope == LogoutScope::Local {
                self.forget().await?;
                self.inner.events.send_replace(TokenEvent::LoggedOut);
                return Ok(());
            }
            return Err(Error::InDoubt);
        }
        let body = LogoutRequest {
            refresh_token: Some(live.stored.refresh_token.clone()),
            scope: Some(scope),
        };
        let response = self.post_auth("/logout", &body).await?;
        match response.status() {
            StatusCode::NO_CONTENT => {
                if scope != LogoutScope::Others {
                    self.forget().await?;
                    self.inner.events.send_replace(TokenEvent::LoggedOut);
                }
                Ok(())
            }
            _ => match error_of(response).await {
                // The refresh token was refused: this session was over already. Only
                // `invalid_grant` says so; any other 401 (a proxy's, `invalid_client`)
                // says nothing about the tokens, which are kept.
                Error::Server { code, .. } if code == "invalid_grant" => {
                    self.forget().await?;
                    if scope == LogoutScope::Local {
                        self.inner.events.send_replace(TokenEvent::LoggedOut);
                        Ok(())
                    } else {
                        self.inner.events.send_replace(TokenEvent::LoginRequired);
                        Err(Error::LoginRequired)
                    }
                }
                other => Err(other),
            },
        }
    }

    /// A valid access token, refreshed first when it expires within the margin.
    pub async fn access_token(&self) -> Result<String> {
        Ok(self.token().await?.access().expose().to_owned())
    }

    /// Refreshes now, whatever the expiry (still one refresh for concurrent callers).
    pub async fn refresh(&self) -> Result<()> {
        self.ensure_loaded().await?;
        let generation = self.snapshot().0;
        self.refresh_from(generation).await.map(|_| ())
    }

    /// Sends a request with `Authorization: Bearer`, refreshing before expiry. On a 401
    /// whose `WWW-Authenticate` says `invalid_token` it refreshes once and replays once;
    /// a request whose body cannot be cloned is not replayed (its 401 is returned). Any
    /// other response, a second 401 included, is returned as it is.
    ///
    /// The token goes only to the server's origin (scheme, host and port of the base
    /// URL) and those allowed with [`ClientBuilder::allow_origin`]: a request for any
    /// other origin is [`Error::Refused`], not sent (no token, no refresh).
    pub async fn send(&self, request: RequestBuilder) -> Result<Response> {
        self.execute(request.build().map_err(Error::Request)?).await
    }

    /// Like [`send`](Self::send), for a built request.
    pub async fn execute(&self, request: Request) -> Result<Response> {
        self.check_origin(request.url())?;
        let token = self.token().await?;
        let replay = request.try_clone();
        let response = self
            .inner
            .http
            .execute(with_bearer(request, &token)?)
            .await
            .map_err(Error::transport)?;
        if !is_invalid_token(&response) {
            return Ok(response);
        }
        // Even when this request cannot be replayed, the next one must not present the
        // rejected token again.
        token.live.rejected.store(true, Ordering::SeqCst);
        let Some(replay) = replay else {
            return Ok(response);
        };
        let fresh = self.refresh_from(token.generation).await?;
        if fresh.live.stored.session_id != token.live.stored.session_id {
            // A logout and a login (perhaps as someone else) happened meanwhile: the
            // request was meant for the old session and is not sent as the new one.
            return Ok(response);
        }
        self.inner
            .http
            .execute(with_bearer(replay, &fresh)?)
            .await
            .map_err(Error::transport)
    }

    /// A `reqwest_middleware` middleware that authenticates through this client.
    pub fn middleware(&self) -> crate::AuthMiddleware {
        crate::AuthMiddleware::new(self.clone())
    }

    // ---- the refresh dance ----

    fn snapshot(&self) -> (u64, Option<Arc<Live>>) {
        let current = self.inner.current.lock().unwrap_or_else(|p| p.into_inner());
        (current.generation, current.live.clone())
    }

    /// Installs new tokens (or none) and returns their generation.
    fn replace(&self, live: Option<Arc<Live>>) -> u64 {
        let mut current = self.inner.current.lock().unwrap_or_else(|p| p.into_inner());
        current.generation += 1;
        current.live = live;
        current.generation
    }

    async fn ensure_loaded(&self) -> Result<()> {
        self.inner
            .loaded
            .get_or_try_init(|| async {
                if let Some(stored) = self.inner.store.load().await? {
                    let session_id = stored.session_id.clone();
                    self.replace(Some(Arc::new(Live::from_stored(stored, Instant::now()))));
                    self.inner
                        .events
                        .send_replace(TokenEvent::LoggedIn { session_id });
                }
                Ok::<(), Error>(())
            })
            .await
            .map(|_| ())
    }

    /// A token that is valid now (refreshing first if it is due).
    pub(crate) async fn token(&self) -> Result<Token> {
        self.ensure_loaded().await?;
        let (generation, live) = self.snapshot();
        match live {
            Some(live)
                if !live.rejected.load(Ordering::SeqCst)
                    && !live.expiry.needs_refresh(Instant::now(), self.inner.margin) =>
            {
                Ok(Token::new(generation, live))
            }
            // Due, rejected, or none at all: without tokens, another process sharing the store may
            // have logged in since they were read, and `refresh_from` looks at the store
            // (under its lock) before refreshing or answering `LoginRequired`.
            _ => self.refresh_from(generation).await,
        }
    }

    /// Refreshes unless the tokens changed since `seen` (then whoever changed them did
    /// the work, and their result is used). One refresh at a time in this process, and
    /// under the store's lock, one at a time across processes sharing the store.
    ///
    /// The refresh runs in a task of its own that the caller awaits: a caller that gives
    /// up (a timeout around `send`, a `select!`, a dropped handler) does not cancel it
    /// between the server's rotation and the save of the successor.
    ///
    /// A caller that queued behind a refresh that failed gets that refresh's failure: it
    /// does not present the same token again later on its own.
    pub(crate) async fn refresh_from(&self, seen: u64) -> Result<Token> {
        // Taken before queueing: a refresh that finishes from now on answers this caller.
        let ticket = self.flights().done;
        let this = self.clone();
        match tokio::spawn(async move { this.refresh_in_task(seen, ticket).await }).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(Error::Transient {
                reason: "the refresh was stopped with the runtime".into(),
                retry_after: None,
                source: None,
            }),
        }
    }

    fn flights(&self) -> std::sync::MutexGuard<'_, Flights> {
        self.inner.flights.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn refresh_in_task(&self, seen: u64, ticket: u64) -> Result<Token> {
        let _flight = self.inner.refresh_lock.lock().await;
        let (generation, live) = self.snapshot();
        if generation != seen {
            return match live {
                Some(live) => Ok(Token::new(generation, live)),
                None => Err(Error::LoginRequired),
            };
        }
        {
            let flights = self.flights();
            if flights.done != ticket {
                if let Some(failure) = &flights.failure {
                    return Err(failure.for_waiters());
                }
            }
        }
        let result = self.refresh_locked(live).await;
        let mut flights = self.flights();
        flights.done += 1;
        flights.failure = result.as_ref().err().map(Error::for_waiters);
        result
    }

    /// The refresh proper, under the refresh lock.
    async fn refresh_locked(&self, live: Option<Arc<Live>>) -> Result<Token> {
        let _shared = self.inner.store.lock().await?;
        let Some((generation, live, adopted)) = self.reconcile(live).await? else {
            return Err(Error::LoginRequired);
        };
        // Tokens another process obtained, fresh enough to use as they are: no refresh of
        // our own. A token that expires within the margin is refreshed again, as any
        // other would be.
        if adopted && !live.expiry.needs_refresh(Instant::now(), Duration::ZERO) {
            self.inner.events.send_replace(TokenEvent::Refreshed {
                session_id: live.stored.session_id.clone(),
            });
            return Ok(Token::new(generation, live));
        }
        match self.post_refresh(&live).await {
            Ok((tokens, received, stamp)) => {
                let session_id = tokens.session_id.clone();
                let token = self.adopt_response(tokens, received, stamp).await?;
                self.inner
                    .events
                    .send_replace(TokenEvent::Refreshed { session_id });
                Ok(token)
            }
            Err(Error::LoginRequired) => {
                self.forget().await?;
                self.inner.events.send_replace(TokenEvent::LoginRequired);
                Err(Error::LoginRequired)
            }
            Err(Error::InDoubt) => {
                // Kept (with the mark) rather than cleared: a process sharing the store
                // must not take "no tokens" for a reason to present nothing either, and
                // a login replaces them.
                self.inner.events.send_replace(TokenEvent::LoginRequired);
                Err(Error::InDoubt)
            }
            Err(other) => Err(other),
        }
    }

    /// Under the store's lock: brings memory and the store into agreement, and returns
    /// the tokens to go on with (with their generation, and whether they came from the
    /// store), or `None` when there are none.
    ///
    /// Tokens this process could not save win: the store holds their spent
    /// predecessors, so the write is tried again. Otherwise the store wins: another
    /// process sharing it refreshed, logged in or logged out since.
    async fn reconcile(&self, live: Option<Arc<Live>>) -> Result<Option<(u64, Arc<Live>, bool)>> {
        if let Some(live) = live
            .as_ref()
            .filter(|_| self.inner.unsaved.load(Ordering::SeqCst))
        {
            self.inner.store.save(&live.stored).await?;
            self.inner.unsaved.store(false, Ordering::SeqCst);
            return Ok(Some((self.snapshot().0, live.clone(), false)));
        }
        match (live, self.inner.store.load().await?) {
            (None, None) => Ok(None),
            (Some(_), None) => {
                self.replace(None);
                self.inner.events.send_replace(TokenEvent::LoggedOut);
                Ok(None)
            }
            (Some(live), Some(stored)) if live.stored.refresh_token == stored.refresh_token => {
                // Another process sharing the store may have sent this token since (and
                // died, or given up): its mark counts here too.
                if let Some(mark) = stored.in_doubt.as_ref() {
                    if live.doubt() == Doubt::Clear {
                        let doubt = doubt_of(mark, Instant::now(), BootStamp::now().as_ref());
                        *live.doubt.lock().unwrap_or_else(|p| p.into_inner()) = doubt;
                    }
                }
                Ok(Some((self.snapshot().0, live, false)))
            }
            (_, Some(stored)) => {
                let adopted = Arc::new(Live::from_stored(stored, Instant::now()));
                let generation = self.replace(Some(adopted.clone()));
                Ok(Some((generation, adopted, true)))
            }
        }
    }

    async fn forget(&self) -> Result<()> {
        self.replace(None);
        self.inner.store.clear().await?;
        self.inner.unsaved.store(false, Ordering::SeqCst);
        Ok(())
    }

    async fn adopt_response(
        &self,
        tokens: TokenResponse,
        received: Instant,
        stamp: Option<BootStamp>,
    ) -> Result<Token> {
        let stored = StoredTokens {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            session_id: tokens.session_id,
            expires_in: tokens.expires_in,
            obtained: stamp,
            in_doubt: None,
        };
        let expiry = Expiry::new(received, Duration::from_secs(stored.expires_in));
        let live = Arc::new(Live::new(stored, expiry));
        // Memory first: the server has rotated already, so even if the store cannot be
        // written this process must go on with the successor, not the spent token.
        let generation = self.replace(Some(live.clone()));
        // Unsaved until the save returns: if it fails, or this future is dropped while it
        // runs, the next refresh writes memory to the store instead of adopting the spent
        // token the store still holds.
        self.inner.unsaved.store(true, Ordering::SeqCst);
        self.inner.store.save(&live.stored).await?;
        self.inner.unsaved.store(false, Ordering::SeqCst);
        Ok(Token::new(generation, live))
    }

    /// `POST path` on a token endpoint with `body`, through the client that follows no
    /// redirect. A redirect is an [`Error::Protocol`]: the password or refresh token is
    /// not sent again anywhere, and the tokens are left as they are.
    async fn post_auth(&self, path: &str, body: &impl serde::Serialize) -> Result<Response> {
        self.post_auth_within(path, body, None).await
    }

    /// [`post_auth`](Self::post_auth), with a timeout of its own when `timeout` is given.
    async fn post_auth_within(
        &self,
        path: &str,
        body: &impl serde::Serialize,
        timeout: Option<Duration>,
    ) -> Result<Response> {
        let url = self.url_of(path)?;
        let mut request = self.inner.auth_http.post(url.clone()).json(body);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request.send().await.map_err(Error::transport)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(Error::Protocol(format!(
                "POST {path} answered {status}: redirects are not followed on the token endpoints"
            )));
        }
        if *response.url() != url {
            return Err(Error::Protocol(format!(
                "POST {path} was redirected (by the auth_http_client, which must not follow redirects)"
            )));
        }
        Ok(response)
    }

    /// `POST /token/refresh` with `live`'s refresh token, retried with back-off on
    /// transient failures, by the rule of `docs/API.md` §5.7: a try that may have reached
    /// the server puts the token in doubt from the moment it was sent; a token in doubt
    /// is tried again only before the refresh deadline (half the reuse grace after that
    /// moment), and after it is never presented again ([`Error::InDoubt`]). Tries that
    /// never left (connect errors) are retried as usual and leave no doubt.
    async fn post_refresh(
        &self,
        live: &Live,
    ) -> Result<(TokenResponse, Instant, Option<BootStamp>)> {
        if !live.may_present(Instant::now(), self.inner.window) {
            return Err(Error::InDoubt);
        }
        // The mark goes to the store before the first send: a process that dies while the
        // try is out leaves it for the next one, which then knows not to present the
        // token outside the grace. A token in doubt already has it. A store that refuses
        // the mark stops the refresh before anything is sent ("try again"): sent
        // unmarked, a crash or a failed save afterwards would leave the spent token in
        // the store looking fresh, and the next process would present it as reuse.
        let marked = live.doubt() == Doubt::Clear;
        if marked {
            self.save_mark(live).await?;
        }
        let mut pause = self.inner.backoff;
        let mut attempt = 1;
        let outcome = loop {
            let (sent, sent_boot) = (Instant::now(), boot_ms());
            let error = match self.post_refresh_once(&live.stored.refresh_token).await {
                Ok(answer) => break Ok(answer),
                Err(error) => error,
            };
            if !error.never_sent() {
                live.doubt_since(sent, sent_boot);
            }
            let Error::Transient {
                reason,
                retry_after,
                source,
            } = error
            else {
                break Err(error);
            };
            let wait = match live.deadline(self.inner.window) {
                // Nothing may have reached the server: the usual retries.
                None => {
                    let wait = retry_after.unwrap_or(pause);
                    if attempt >= self.inner.attempts || wait > MAX_RETRY_WAIT {
                        break Err(Error::Transient {
                            reason,
                            retry_after,
                            source,
                        });
                    }
                    wait
                }
                // In doubt: only the deadline stops the tries (a later presentation
                // could be reuse). A longer Retry-After is not waited for: after it the
                // token could not be presented at all.
                Some(Ok(deadline)) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        tracing::warn!(%reason, "refresh in doubt past its deadline; the token is not presented again");
                        break Err(Error::InDoubt);
                    }
                    retry_after.unwrap_or(pause).min(MAX_RETRY_WAIT).min(left)
                }
                Some(Err(())) => break Err(Error::InDoubt),
            };
            tracing::debug!(attempt, %reason, "refresh failed; trying again");
            tokio::time::sleep(wait).await;
            if !live.may_present(Instant::now(), self.inner.window) {
                tracing::warn!(%reason, "refresh in doubt past its deadline; the token is not presented again");
                break Err(Error::InDoubt);
            }
            pause = pause.saturating_mul(2);
            attempt += 1;
        };
        // Marked before the send, but no try left: the token is as good as before.
        if marked && outcome.is_err() && live.doubt() == Doubt::Clear {
            if let Err(e) = self.inner.store.save(&live.stored).await {
                tracing::warn!(error = %e, "could not clear the in-doubt mark of a refresh that was never sent");
            }
        }
        outcome
    }

    /// Writes `live`'s tokens with an "in doubt since now" mark.
    async fn save_mark(&self, live: &Live) -> Result<()> {
        let marked = StoredTokens {
            in_doubt: Some(InDoubt {
                since: BootStamp::now(),
            }),
            ..live.stored.clone()
        };
        self.inner.store.save(&marked).await
    }

    async fn post_refresh_once(
        &self,
        refresh: &Secret,
    ) -> Result<(TokenResponse, Instant, Option<BootStamp>)> {
        self.inner.refreshes.fetch_add(1, Ordering::Relaxed);
        let body = RefreshRequest {
            refresh_token: refresh.clone(),
        };
        let response = self
            .post_auth_within("/token/refresh", &body, Some(self.inner.refresh_timeout))
            .await?;
        let received = Instant::now();
        let stamp = BootStamp::now();
        if response.status() == StatusCode::OK {
            return Ok((parse_tokens(response).await?, received, stamp));
        }
        match error_of(response).await {
            Error::Server { code, .. } if code == "invalid_grant" => Err(Error::LoginRequired),
            other => Err(other),
        }
    }
}

async fn parse_tokens(response: Response) -> Result<TokenResponse> {
    let tokens: TokenResponse = response.json().await.map_err(|e| {
        if e.is_decode() {
            Error::Protocol("the token response is not valid".into())
        } else {
            Error::transport(e)
        }
    })?;
    if !tokens.token_type.eq_ignore_ascii_case("bearer") {
        return Err(Error::Protocol(format!(
            "token_type {:?} is not Bearer",
            tokens.token_type
        )));
    }
    Ok(tokens)
}

/// The contract's error for a non-success response; 5xx and 429 are transient.
async fn error_of(response: Response) -> Error {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.json::<ErrorBody>().await.ok();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        let reason = match &body {
            Some(b) => format!("{status}: {}", b.error),
            None => status.to_string(),
        };
        return Error::Transient {
            reason,
            retry_after,
            source: None,
        };
    }
    match body {
        Some(b) => Error::Server {
            status: status.as_u16(),
            code: b.error.as_str().to_owned(),
            description: b.error_description,
        },
        None => Error::Server {
            status: status.as_u16(),
            code: String::new(),
            description: "no error body".into(),
        },
    }
}

/// The longest pause between two tries of a refresh (see `post_refresh`).
const MAX_RETRY_WAIT: Duration = Duration::from_secs(2);

/// True for a 401 whose `WWW-Authenticate` Bearer challenge has `error="invalid_token"`
/// (RFC 6750 §3): the token was refused, so a fresh one may succeed. A bare challenge (no
/// token sent), another error, or the words only in `error_description` are not.
pub(crate) fn is_invalid_token(response: &Response) -> bool {
    response.status() == StatusCode::UNAUTHORIZED
        && response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| bearer_error(v) == Some("invalid_token"))
}

/// The `error` parameter of a `Bearer` challenge (RFC 6750 §3, RFC 9110 §11.2).
fn bearer_error(challenge: &str) -> Option<&str> {
    let (scheme, mut rest) = challenge.trim_start().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let (name, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            // A quoted string ends at the first quote not escaped by a backslash.
            Some(quoted) => {
                let mut end = None;
                let mut escaped = false;
                for (i, c) in quoted.char_indices() {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let end = end?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_at(after.find(',').unwrap_or(after.len())),
        };
        if name.trim().eq_ignore_ascii_case("error") {
            return Some(value.trim());
        }
        rest = next;
    }
}

/// The redirect policy of the `reqwest::Client` that [`Client::send`] uses when the
/// SDK builds it: a redirect is followed (at most 10) only to the origin of the request
/// (same scheme, host and port), so that the access token never follows one to another
/// host or from `https` down to `http`. Any other redirect is not followed: its 3xx
/// response is returned as it is. Use it for a client given to
/// [`ClientBuilder::http_client`].
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > 10 {
            return attempt.error("too many redirects");
        }
        if follows(attempt.url(), attempt.previous()) {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Whether a redirect to `next` after `previous` (the first is the request's URL) stays
/// on the request's origin.
fn follows(next: &reqwest::Url, previous: &[reqwest::Url]) -> bool {
    match previous.first().and_then(Origin::of) {
        Some(first) => Origin::of(next).as_ref() == Some(&first),
        None => false,
    }
}

/// The origin of a URL (RFC 6454): scheme, host and port (the scheme's default when the
/// URL names none). `None` for URLs without a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    pub(crate) fn of(url: &reqwest::Url) -> Option<Origin> {
        Some(Origin {
            scheme: url.scheme().to_owned(),
            host: url.host_str()?.to_owned(),
            port: url.port_or_known_default(),
        })
    }

    /// Whether `url` is on this origin.
    fn is_of(&self, url: &reqwest::Url) -> bool {
        url.scheme() == self.scheme
            && url.host_str() == Some(self.host.as_str())
            && url.port_or_known_default() == self.port
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// `request` with `Authorization: Bearer` and `token`'s access token.
pub(crate) fn with_bearer(mut request: Request, token: &Token) -> Result<Request> {
    let value =
        token.live.bearer.clone().ok_or_else(|| {
            Error::Protocol("the access token is not a valid header value".into())
        })?;
    request.headers_mut().insert(AUTHORIZATION, value);
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::{bearer_error, follows, Doubt, Live};
    use crate::expiry::Expiry;
    use crate::StoredTokens;
    use std::time::{Duration, Instant};

    /// A token in doubt stops being presentable once the grace window has passed on the
    /// boot clock, even when this process's clock (an `Instant`, which stops in suspend)
    /// says the window is still open: a laptop that slept through the grace must not
    /// present the token (the model's `MONOTONIC_CLOCK` trail).
    #[test]
    fn a_suspend_counts_against_the_in_doubt_deadline() {
        let now = Instant::now();
        let stored = StoredTokens {
            access_token: crate::Secret::new("a".to_owned()),
            refresh_token: crate::Secret::new("r".to_owned()),
            session_id: "s".into(),
            expires_in: 60,
            obtained: None,
            in_doubt: None,
        };
        let live = Live::new(stored, Expiry::new(now, Duration::from_secs(60)));
        let window = Duration::from_secs(5);
        let sent_boot = 1_000_000;
        live.doubt_since(now, Some(sent_boot));
        assert_eq!(live.doubt(), Doubt::Since(now, Some(sent_boot)));
        // One second later on both clocks: still within the window.
        assert!(live.may_present_at(
            now + Duration::from_secs(1),
            Some(sent_boot + 1_000),
            window
        ));
        // The process's clock says one second; the boot clock says an hour (a suspend).
        assert!(!live.may_present_at(
            now + Duration::from_secs(1),
            Some(sent_boot + 3_600_000),
            window
        ));
        // Without a boot clock, the process's clock decides.
        assert!(live.may_present_at(now + Duration::from_secs(1), None, window));
        assert!(!live.may_present_at(now + window, None, window));
    }

    #[test]
    fn redirects_stay_on_the_origin() {
        let url = |s: &str| reqwest::Url::parse(s).expect("url");
        let from = [url("https://auth.example.com/me")];
        for (next, ok) in [
            ("https://auth.example.com/other", true),
            ("https://auth.example.com:443/other", true),
            ("http://auth.example.com/me", false),
            ("http://auth.example.com:443/me", false),
            ("https://auth.example.com:8443/me", false),
            ("https://evil.example.com/me", false),
            ("https://auth.example.com.evil.com/me", false),
        ] {
            assert_eq!(follows(&url(next), &from), ok, "{next}");
        }
    }

    #[test]
    fn the_error_of_a_bearer_challenge() {
        for (challenge, error) in [
            (
                r#"Bearer realm="symbolon", error="invalid_token", error_description="expired""#,
                Some("invalid_token"),
            ),
            (r#"bearer error=invalid_token"#, Some("invalid_token")),
            (
                r#"Bearer error_description="not an invalid_token, really", error="insufficient_scope""#,
                Some("insufficient_scope"),
            ),
            (
                r#"Bearer realm="a \"quoted, error=invalid_token\" realm", error="invalid_request""#,
                Some("invalid_request"),
            ),
            (r#"Bearer realm="symbolon""#, None),
            (r#"Basic realm="invalid_token""#, None),
            (r#"Bearer realm="unterminated"#, None),
            ("", None),
        ] {
            assert_eq!(bearer_error(challenge), error, "{challenge}");
        }
    }
}
