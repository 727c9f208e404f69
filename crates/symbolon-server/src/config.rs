//! Configuration (`docs/API.md` §3): defaults, then a TOML file, then `SYMBOLON_<KEY>`
//! environment variables, then command-line flags, parsed once into typed fields. An
//! unknown key in the file or an invalid value anywhere stops start-up with a message
//! naming it.

use crate::api::{BrowserSettings, HttpSettings};
use crate::service::{Settings, ThrottleSettings};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use symbolon_core::ids::ClientId;
use symbolon_core::keys::SigningAlg;
use symbolon_core::password::HashParams;
use symbolon_core::rotation::RefreshPolicy;

pub use ipnet::IpNet;

/// The longest duration accepted anywhere: 100 years.
const MAX_DURATION: i64 = 100 * 365 * 86400;

/// A duration in whole seconds, written as an integer (`900`) or a string with a unit
/// (`"15m"`, `"7d"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Secs(pub i64);

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        let secs = match Raw::deserialize(d)? {
            Raw::Int(n) => n,
            Raw::Text(text) => match text.trim().parse::<i64>() {
                Ok(n) => n,
                Err(_) => humantime::parse_duration(text.trim())
                    .map_err(|e| {
                        serde::de::Error::custom(format!("invalid duration {text:?}: {e}"))
                    })?
                    .as_secs() as i64,
            },
        };
        if secs < 0 {
            return Err(serde::de::Error::custom("a duration cannot be negative"));
        }
        // Far beyond any sensible lifetime, and far from overflowing `now + duration`.
        if secs > MAX_DURATION {
            return Err(serde::de::Error::custom(
                "a duration cannot exceed 100 years",
            ));
        }
        Ok(Secs(secs))
    }
}

/// Every setting of the server, typed: a value that loaded is valid. Field names are
/// the configuration keys (`docs/API.md` §3). `Debug` hides the database password.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    #[serde(deserialize_with = "socket_addr")]
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://...`.
    pub database_url: String,
    /// The `iss` of access tokens and the base of the metadata URLs; default `http://LISTEN`.
    pub issuer: Option<Issuer>,
    /// The `aud` of access tokens.
    pub audience: String,
    /// `EdDSA`, `ES256`, `RS256` or `HS256`.
    #[serde(with = "signing_alg")]
    pub signing_alg: SigningAlg,
    /// Access-token lifetime.
    pub access_ttl: Secs,
    /// Refresh-token idle lifetime.
    pub refresh_ttl: Secs,
    /// Session absolute lifetime.
    pub session_ttl: Secs,
    /// How long a rotated refresh token may be replayed for the same successor.
    pub reuse_grace: Secs,
    /// Allowed clock skew when checking access tokens.
    pub leeway: Secs,
    /// How often a server re-reads the signing keys from the database.
    pub key_refresh: Secs,
    /// Take the time from the database server (PostgreSQL), measured at start and every
    /// `key_refresh`, instead of this machine's clock, so that every instance of a fleet
    /// agrees on rotation times, the reuse grace and expiry. No effect with SQLite.
    pub clock_from_database: bool,
    /// Whether `POST /register` is open.
    pub allow_registration: bool,
    /// The built-in public client used when a request names none.
    #[serde(with = "client_id")]
    pub default_client_id: ClientId,
    /// The 32-byte master key (generated with mode 0600 if missing).
    pub master_key_file: PathBuf,
    /// Log format: `text` or `json`.
    pub log_format: LogFormat,
    /// Argon2id memory in KiB.
    pub argon2_memory_kib: u32,
    /// Argon2id passes.
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    /// Password hashes computed at once; more wait (bounded memory: this × memory).
    pub max_concurrent_hashes: usize,
    /// Logins waiting for a hash slot beyond which new ones get 429 at once.
    pub max_queued_logins: usize,
    /// Failed logins per account before the back-off starts.
    pub account_failures_allowed: u64,
    /// Failed logins per client IP before the back-off starts.
    pub ip_failures_allowed: u64,
    /// Quiet time after which failure counts restart.
    pub failure_window: Secs,
    /// Longest back-off.
    pub max_backoff: Secs,
    /// Database connections.
    pub db_pool_size: u32,
    /// Apply migrations at start-up.
    pub migrate_on_start: bool,
    /// How long revoked sessions and audit rows are kept before the purge.
    pub retention: Secs,
    /// Reverse proxies or load balancers (addresses, or networks such as `10.0.0.0/8`)
    /// whose `X-Forwarded-For` is believed; the client IP (for the per-IP throttle and
    /// the session list) is then the right-most address in it that is not one of these.
    #[serde(with = "networks")]
    pub trusted_proxies: Vec<IpNet>,
    /// How long a client may take to send a request's headers (and may keep an idle
    /// connection open between requests) before the server closes the connection.
    pub header_read_timeout: Secs,
    /// Connections served at once; more are closed as soon as they are accepted (keep
    /// it under the process's open-file limit).
    pub max_connections: usize,
    /// The `SameSite` attribute of the refresh-token cookie of the browser cookie mode
    /// (`docs/API.md` §2.9): `strict`, `lax` or `none`.
    pub cookie_samesite: SameSite,
    /// Development only: drop `Secure` (and so the `__Host-` prefix) from the cookie of
    /// requests that came to a loopback listener. Refused unless `listen` is loopback.
    pub cookie_insecure_loopback: bool,
    /// Origins (`https://app.example`) whose pages may call the server with credentials
    /// (CORS) and use the cookie mode; never `*`.
    #[serde(with = "origins")]
    pub cors_allowed_origins: Vec<Origin>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://symbolon.db".into(),
            issuer: None,
            audience: "symbolon".into(),
            signing_alg: SigningAlg::EdDSA,
            access_ttl: Secs(900),
            refresh_ttl: Secs(7 * 86400),
            session_ttl: Secs(30 * 86400),
            reuse_grace: Secs(10),
            leeway: Secs(30),
            key_refresh: Secs(60),
            clock_from_database: true,
            allow_registration: false,
            default_client_id: ClientId::parse("symbolon").expect("a valid client id"),
            master_key_file: PathBuf::from("symbolon.key"),
            log_format: LogFormat::Text,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_concurrent_hashes: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            max_queued_logins: 256,
            account_failures_allowed: 5,
            ip_failures_allowed: 50,
            failure_window: Secs(900),
            max_backoff: Secs(900),
            db_pool_size: 16,
            migrate_on_start: true,
            retention: Secs(30 * 86400),
            trusted_proxies: Vec::new(),
            header_read_timeout: Secs(30),
            max_connections: 4096,
            cookie_samesite: SameSite::Strict,
            cookie_insecure_loopback: false,
            cors_allowed_origins: Vec::new(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = serde_json::to_value(self).map_err(|_| std::fmt::Error)?;
        shown["database_url"] = redact_url(&self.database_url).into();
        write!(f, "Config {shown}")
    }
}

/// A database URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = url[scheme + 3..at].split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The keys a file or the environment may set: the fields of [`Config`], read off its
/// serialised default so the list cannot drift from the struct.
pub fn keys() -> Vec<String> {
    match serde_json::to_value(Config::default()) {
        Ok(serde_json::Value::Object(map)) => map.into_iter().map(|(key, _)| key).collect(),
        _ => Vec::new(),
    }
}

/// The log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The `SameSite` attribute of the cookie mode's cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    /// Sent only on requests from the same site (the default).
    Strict,
    /// Also sent on top-level navigations from other sites.
    Lax,
    /// Sent on cross-site requests too (a page on another site): the CSRF checks of
    /// `docs/API.md` §2.9 are then the only defence.
    None,
}

impl SameSite {
    /// The attribute's value as written in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

/// A web origin, `scheme://host[:port]` (RFC 6454), normalised as browsers send it in
/// `Origin`: scheme and host in lower case, no default port, no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Origin(String);

impl Origin {
    /// Checks and normalises an origin: `http://` or `https://`, a host, an optional
    /// port, nothing else (a single trailing `/` is dropped). `*` is refused.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let text = text.trim();
        if text == "*" {
            return Err(
                "must not be `*`: the server allows credentials (the cookie), and \
                 a wildcard would let every site use them; list each origin",
            );
        }
        let lower = text.to_ascii_lowercase();
        let (scheme, rest) = if let Some(rest) = lower.strip_prefix("https://") {
            ("https", rest)
        } else if let Some(rest) = lower.strip_prefix("http://") {
            ("http", rest)
        } else {
            return Err("must be origins such as https://app.example (http or https)");
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let malformed = "must be origins such as https://app.example:8443: a scheme, a host \
             and an optional port, without a path, query, user or wildcard";
        if rest.is_empty()
            || rest
                .chars()
                .any(|c| matches!(c, '/' | '?' | '#' | '@' | '*' | '\\') || c.is_whitespace())
        {
            return Err(malformed);
        }
        // A port, if any: after the last ':' that is not inside an IPv6 literal.
        let (host, port) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains(']') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        let host_ok = if let Some(v6) = host.strip_prefix('[') {
            v6.strip_suffix(']')
                .is_some_and(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok())
        } else {
            host.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        };
        if host.is_empty() || !host_ok {
            return Err(malformed);
        }
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => Some(n),
                _ => return Err(malformed),
            },
        };
        let default = if scheme == "https" { 443 } else { 80 };
        Ok(Self(match port {
            Some(n) if n != default => format!("{scheme}://{host}:{n}"),
            _ => format!("{scheme}://{host}"),
        }))
    }

    /// The origin as browsers write it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An issuer URL: `http://` or `https://`, kept without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Issuer(String);

impl Issuer {
    /// Checks and normalises an issuer URL: `http://` or `https://`, a host, and no
    /// trailing slash (so a normalised issuer parses again to itself).
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let Some(rest) = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
        else {
            return Err("must be an http(s) URL");
        };
        if rest.is_empty() || rest.starts_with('/') {
            return Err("must be an http(s) URL with a host");
        }
        Ok(Self(text.trim_end_matches('/').to_owned()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Issuer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Issuer::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `listen`: an address with a port, said so when it is not.
fn socket_addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    text.trim().parse().map_err(|_| {
        serde::de::Error::custom("must be an address with a port, such as 127.0.0.1:8080")
    })
}

mod signing_alg {
    use serde::{Deserialize, Deserializer, Serializer};
    use symbolon_core::keys::SigningAlg;

    pub fn serialize<S: Serializer>(alg: &SigningAlg, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(alg.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SigningAlg, D::Error> {
        let text = String::deserialize(d)?;
        SigningAlg::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("must be one of EdDSA, ES256, RS256, HS256"))
    }
}

mod client_id {
    use serde::{Deserialize, Deserializer, Serializer};
    use symbolon_core::ids::ClientId;

    pub fn serialize<S: Serializer>(id: &ClientId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(id.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ClientId, D::Error> {
        let text = String::deserialize(d)?;
        ClientId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `trusted_proxies`: each entry an address (`10.0.0.1`, a network of one) or a network
/// (`10.0.0.0/8`, `fd00::/8`).
mod networks {
    use super::IpNet;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::net::IpAddr;

    pub fn serialize<S: Serializer>(nets: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(nets.iter().map(ToString::to_string))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| {
                let text = text.trim();
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        serde::de::Error::custom(
                            "must be a list of IP addresses or networks (10.0.0.1, 10.0.0.0/8)",
                        )
                    })
            })
            .collect()
    }
}

/// `cors_allowed_origins`: each entry an [`Origin`].
mod origins {
    use super::Origin;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(origins: &[Origin], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(origins.iter().map(Origin::as_str))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Origin>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| Origin::parse(text).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// Where the configuration came from, for the first log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The file read, if any.
    pub file: Option<PathBuf>,
}

impl Config {
    /// Loads defaults ← `file` ← `SYMBOLON_*` ← `flags` (a serializable map of overrides;
    /// `None` fields are skipped).
    pub fn load(
        file: Option<&Path>,
        flags: impl Serialize,
    ) -> Result<(Self, Provenance), ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        Ok((
            Self::finish(figment, flags)?,
            Provenance {
                file: file.map(Path::to_path_buf),
            },
        ))
    }

    /// Loads TOML text as [`load`](Self::load) loads a file's (defaults ← the text ←
    /// `SYMBOLON_*`), without flags. The entry point of the `config` fuzz target.
    #[doc(hidden)]
    pub fn from_toml_text(text: &str) -> Result<Self, ConfigError> {
        let figment =
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text));
        Self::finish(figment, std::collections::BTreeMap::<String, String>::new())
    }

    /// The rest of a load, after the file: `SYMBOLON_*`, the flags, extraction, the checks.
    fn finish(figment: Figment, flags: impl Serialize) -> Result<Self, ConfigError> {
        let keys = keys();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let figment = figment
            .merge(Env::prefixed("SYMBOLON_").only(&keys))
            .merge(Serialized::defaults(flags));
        let config: Config = figment.extract().map_err(|e| ConfigError(describe(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// The rules that tie several keys together (each key's own rules are its type's).
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("`{key}` {why}")));
        for (key, value) in [
            ("access_ttl", self.access_ttl),
            ("refresh_ttl", self.refresh_ttl),
            ("session_ttl", self.session_ttl),
            ("key_refresh", self.key_refresh),
        ] {
            if value.0 == 0 {
                return bad(key, "must be longer than zero");
            }
        }
        if self.reuse_grace.0 >= self.refresh_ttl.0 {
            return bad("reuse_grace", "must be shorter than refresh_ttl");
        }
        if self.max_concurrent_hashes == 0 {
            return bad("max_concurrent_hashes", "must be at least 1");
        }
        if self.db_pool_size == 0 {
            return bad("db_pool_size", "must be at least 1");
        }
        if self.max_connections == 0 {
            return bad("max_connections", "must be at least 1");
        }
        if self.header_read_timeout.0 == 0 {
            return bad("header_read_timeout", "must be longer than zero");
        }
        if self.cookie_insecure_loopback && !self.listen.ip().is_loopback() {
            return bad(
                "cookie_insecure_loopback",
                "is for development on a loopback `listen` address (127.0.0.1, ::1) only",
            );
        }
        if self.cookie_insecure_loopback && self.cookie_samesite == SameSite::None {
            return bad(
                "cookie_insecure_loopback",
                "cannot be used with `cookie_samesite = \"none\"`: browsers refuse a \
                 SameSite=None cookie without Secure",
            );
        }
        Ok(())
    }

    /// The issuer: configured, or `http://LISTEN`.
    pub fn issuer(&self) -> String {
        match &self.issuer {
            Some(issuer) => issuer.as_str().to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The settings the service runs with.
    pub fn settings(&self) -> Settings {
        Settings {
            issuer: self.issuer(),
            audience: self.audience.clone(),
            signing_alg: self.signing_alg,
            access_ttl: self.access_ttl.0,
            policy: RefreshPolicy {
                refresh_ttl: self.refresh_ttl.0,
                reuse_grace: self.reuse_grace.0,
            },
            session_ttl: self.session_ttl.0,
            leeway: self.leeway.0,
            key_refresh: self.key_refresh.0,
            allow_registration: self.allow_registration,
            default_client: self.default_client_id.clone(),
            throttle: ThrottleSettings {
                account_failures_allowed: self.account_failures_allowed,
                ip_failures_allowed: self.ip_failures_allowed,
                failure_window: self.failure_window.0,
                max_backoff: self.max_backoff.0,
            },
            retention: self.retention.0,
            clock_from_database: self.clock_from_database,
        }
    }

    /// What only the HTTP layer needs.
    pub fn http_settings(&self) -> HttpSettings {
        HttpSettings {
            trusted_proxies: self.trusted_proxies.clone(),
            header_read_timeout: std::time::Duration::from_secs(
                self.header_read_timeout.0.max(1) as u64
            ),
            max_connections: self.max_connections,
            browser: BrowserSettings {
                same_site: self.cookie_samesite,
                insecure_loopback: self.cookie_insecure_loopback,
                allowed_origins: self.cors_allowed_origins.clone(),
                own_origin: issuer_origin(&self.issuer()),
            },
        }
    }

    /// The Argon2id parameters.
    pub fn hash_params(&self) -> HashParams {
        HashParams {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: self.argon2_parallelism,
        }
    }
}

/// The origin of an issuer URL (`https://auth.example/base` → `https://auth.example`),
/// normalised like [`Origin`]; the issuer itself when it does not parse as one.
fn issuer_origin(issuer: &str) -> Origin {
    let authority_end = issuer
        .find("://")
        .and_then(|scheme| issuer[scheme + 3..].find('/').map(|i| scheme + 3 + i))
        .unwrap_or(issuer.len());
    Origin::parse(&issuer[..authority_end])
        .unwrap_or_else(|_| Origin(issuer[..authority_end].to_ascii_lowercase()))
}

fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let key = e.path.join(".");
            // Name the exact variable rather than figment's "`SYMBOLON_` environment
            // variable(s)", and the file with its path.
            let source = match e.metadata.as_ref() {
                Some(m) if m.name.contains("environment") => {
                    format!(
                        "from the environment variable SYMBOLON_{}",
                        key.to_uppercase()
                    )
                }
                Some(m) => match &m.source {
                    Some(figment::Source::File(path)) => format!("in {}", path.display()),
                    _ => format!("from {}", m.name),
                },
                None => String::new(),
            };
            if key.is_empty() {
                format!("{} ({source})", e.kind)
            } else {
                format!("`{key}`: {} ({source})", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Found with the `config` fuzz target's round trip: `https:///` loaded as the issuer
    /// `https:`, which no longer parses as one (and names no host).
    #[test]
    fn an_issuer_names_a_host() {
        for text in ["http://", "https:///", "https:///auth", "https://"] {
            assert!(Issuer::parse(text).is_err(), "{text}");
        }
        let issuer = Issuer::parse("https://auth.example.com/").unwrap();
        assert_eq!(issuer.as_str(), "https://auth.example.com");
        assert_eq!(Issuer::parse(issuer.as_str()).unwrap(), issuer);
    }

    fn none() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    #[test]
    fn durations_accept_seconds_and_units() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "access_ttl = \"15m\"\nrefresh_ttl = \"7d\"\nsession_ttl = 900000\n",
        )
        .unwrap();
        let (c, _) = Config::load(Some(&path), none()).unwrap();
        assert_eq!(
            (c.access_ttl, c.refresh_ttl, c.session_ttl),
            (Secs(900), Secs(604800), Secs(900000))
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "acess_ttl = 5\n").unwrap();
        let err = Config::load(Some(&path), none()).unwrap_err().to_string();
        assert!(err.contains("acess_ttl"), "{err}");
        std::fs::write(&path, "access_ttl = \"soon\"\n").unwrap();
        let err = Config::load(Some(&path), none()).unwrap_err().to_string();
        assert!(err.contains("access_ttl"), "{err}");
        std::fs::write(&path, "signing_alg = \"none\"\n").unwrap();
        let err = Config::load(Some(&path), none()).unwrap_err().to_string();
        assert!(err.contains("signing_alg"), "{err}");
    }

    #[test]
    fn debug_output_hides_the_database_password() {
        let config = Config {
            database_url: "postgres://app:s3cret@db/symbolon".into(),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://app:***@db/symbolon"), "{shown}");
    }

    #[test]
    fn durations_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "session_ttl = 9223372036854775807\n").unwrap();
        let err = Config::load(Some(&path), none()).unwrap_err().to_string();
        assert!(err.contains("session_ttl"), "{err}");
    }

    #[test]
    fn the_keys_are_the_fields() {
        let keys = keys();
        assert_eq!(keys.len(), 34, "{keys:?}");
        for key in [
            "listen",
            "issuer",
            "signing_alg",
            "trusted_proxies",
            "retention",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
        }
    }

    #[test]
    fn typed_values_are_parsed_once_and_bad_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "trusted_proxies = [\"10.0.0.1\", \"fd00::/8\"]\nsigning_alg = \"ES256\"\nlog_format = \"json\"\nissuer = \"https://auth.example/\"\n",
        )
        .unwrap();
        let (c, _) = Config::load(Some(&path), none()).unwrap();
        assert_eq!(c.signing_alg, SigningAlg::ES256);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.issuer(), "https://auth.example");
        let v6: std::net::IpAddr = "fd00::1".parse().unwrap();
        assert!(c.trusted_proxies[1].contains(&v6));
        assert!(c.trusted_proxies[0].contains(&"10.0.0.1".parse::<std::net::IpAddr>().unwrap()));
        for (line, key) in [
            ("trusted_proxies = [\"10.0.0.300\"]", "trusted_proxies"),
            ("log_format = \"yaml\"", "log_format"),
            ("listen = \"localhost\"", "such as 127.0.0.1:8080"),
            ("default_client_id = \"a b\"", "default_client_id"),
            ("issuer = \"ftp://x\"", "issuer"),
        ] {
            std::fs::write(&path, format!("{line}\n")).unwrap();
            let err = Config::load(Some(&path), none()).unwrap_err().to_string();
            assert!(err.contains(key), "{line}: {err}");
        }
    }

    #[test]
    fn origins_are_checked_and_normalised() {
        for (text, origin) in [
            ("https://app.example", "https://app.example"),
            ("HTTPS://App.Example/", "https://app.example"),
            ("https://app.example:443", "https://app.example"),
            ("http://localhost:3000", "http://localhost:3000"),
            ("http://[::1]:8080", "http://[::1]:8080"),
        ] {
            assert_eq!(Origin::parse(text).unwrap().as_str(), origin, "{text}");
        }
        for text in [
            "*",
            "https://*.example",
            "app.example",
            "https://app.example/path",
            "https://app.example?x",
            "https://user@app.example",
            "https://",
            "https://app.example:",
            "https://app.example:99999",
            "ftp://app.example",
            "null",
        ] {
            assert!(Origin::parse(text).is_err(), "{text}");
        }
        assert_eq!(
            issuer_origin("https://Auth.example:443/base").as_str(),
            "https://auth.example"
        );
        assert_eq!(
            issuer_origin("http://127.0.0.1:8080").as_str(),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn browser_settings_are_checked_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Config::load(Some(&path), none()).map(|(c, _)| c)
        };
        let c =
            load("cors_allowed_origins = [\"https://app.example/\"]\ncookie_samesite = \"none\"\n")
                .unwrap();
        assert_eq!(c.cors_allowed_origins[0].as_str(), "https://app.example");
        assert_eq!(c.cookie_samesite, SameSite::None);
        let err = load("cors_allowed_origins = [\"*\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cors_allowed_origins") && err.contains("`*`"),
            "{err}"
        );
        let err = load("cors_allowed_origins = [\"https://a.example/x\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cors_allowed_origins"), "{err}");
        let err = load("cookie_samesite = \"sometimes\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cookie_samesite"), "{err}");
        let err = load("listen = \"0.0.0.0:8080\"\ncookie_insecure_loopback = true\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cookie_insecure_loopback"), "{err}");
        let err = load("cookie_insecure_loopback = true\ncookie_samesite = \"none\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cookie_insecure_loopback"), "{err}");
        let c = load("listen = \"[::1]:8080\"\ncookie_insecure_loopback = true\n").unwrap();
        assert!(c.cookie_insecure_loopback);
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\naudience = \"a\"\n").unwrap();
        let flags = BTreeMap::from([("listen".to_string(), "127.0.0.1:9001".to_string())]);
        let (c, _) = Config::load(Some(&path), flags).unwrap();
        assert_eq!(
            (c.listen.to_string().as_str(), c.audience.as_str()),
            ("127.0.0.1:9001", "a")
        );
    }
}
