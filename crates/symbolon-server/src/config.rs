//! Configuration (contract §3): defaults, then a TOML file, then `SYMBOLON_<KEY>`
//! environment variables, then command-line flags. An unknown key in the file or an
//! invalid value anywhere stops start-up with a message naming it.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use symbolon_core::keys::SigningAlg;

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

/// Every setting of the server. Field names are the configuration keys. `Debug` hides
/// the database password.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// `sqlite://PATH` or `postgres://...`.
    pub database_url: String,
    /// The `iss` of access tokens and the base of the metadata URLs; default `http://LISTEN`.
    pub issuer: Option<String>,
    /// The `aud` of access tokens.
    pub audience: String,
    /// `EdDSA`, `ES256`, `RS256` or `HS256`.
    pub signing_alg: String,
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
    /// Whether `POST /register` is open.
    pub allow_registration: bool,
    /// The built-in public client used when a request names none.
    pub default_client_id: String,
    /// The 32-byte master key (generated with mode 0600 if missing).
    pub master_key_file: PathBuf,
    /// Log format: `text` or `json`.
    pub log_format: String,
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
    /// Addresses of reverse proxies or load balancers whose `X-Forwarded-For` is
    /// believed; the client IP (for the per-IP throttle and the session list) is then
    /// the right-most address in it that is not one of these.
    pub trusted_proxies: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://symbolon.db".into(),
            issuer: None,
            audience: "symbolon".into(),
            signing_alg: "EdDSA".into(),
            access_ttl: Secs(900),
            refresh_ttl: Secs(7 * 86400),
            session_ttl: Secs(30 * 86400),
            reuse_grace: Secs(10),
            leeway: Secs(30),
            key_refresh: Secs(60),
            allow_registration: false,
            default_client_id: "symbolon".into(),
            master_key_file: PathBuf::from("symbolon.key"),
            log_format: "text".into(),
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

/// The keys a file or the environment may set.
pub const KEYS: &[&str] = &[
    "listen",
    "database_url",
    "issuer",
    "audience",
    "signing_alg",
    "access_ttl",
    "refresh_ttl",
    "session_ttl",
    "reuse_grace",
    "leeway",
    "key_refresh",
    "allow_registration",
    "default_client_id",
    "master_key_file",
    "log_format",
    "argon2_memory_kib",
    "argon2_iterations",
    "argon2_parallelism",
    "max_concurrent_hashes",
    "max_queued_logins",
    "account_failures_allowed",
    "ip_failures_allowed",
    "failure_window",
    "max_backoff",
    "db_pool_size",
    "migrate_on_start",
    "retention",
    "trusted_proxies",
];

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
        let figment = figment
            .merge(Env::prefixed("SYMBOLON_").only(KEYS))
            .merge(Serialized::defaults(flags));
        let config: Config = figment.extract().map_err(|e| ConfigError(describe(e)))?;
        config.validate()?;
        Ok((
            config,
            Provenance {
                file: file.map(Path::to_path_buf),
            },
        ))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("`{key}` {why}")));
        if self.listen.parse::<SocketAddr>().is_err() {
            return bad(
                "listen",
                "must be an address with a port, such as 127.0.0.1:8080",
            );
        }
        if SigningAlg::parse(&self.signing_alg).is_none() {
            return bad("signing_alg", "must be one of EdDSA, ES256, RS256, HS256");
        }
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
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return bad("log_format", "must be text or json");
        }
        if symbolon_core::ids::ClientId::parse(&self.default_client_id).is_err() {
            return bad(
                "default_client_id",
                "must be 1-64 characters of ASCII letters, digits and . _ -",
            );
        }
        if self.max_concurrent_hashes == 0 || self.db_pool_size == 0 {
            return bad("max_concurrent_hashes/db_pool_size", "must be at least 1");
        }
        if self
            .trusted_proxies
            .iter()
            .any(|p| p.parse::<std::net::IpAddr>().is_err())
        {
            return bad("trusted_proxies", "must be a list of IP addresses");
        }
        if let Some(issuer) = &self.issuer {
            if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
                return bad("issuer", "must be an http(s) URL");
            }
        }
        Ok(())
    }

    /// The issuer: configured, or `http://LISTEN`.
    pub fn issuer(&self) -> String {
        self.issuer
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_owned()
    }

    /// The trusted proxies' addresses (validated at load).
    pub fn trusted_proxies(&self) -> Vec<std::net::IpAddr> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// The signing algorithm (validated at load).
    pub fn alg(&self) -> SigningAlg {
        SigningAlg::parse(&self.signing_alg).unwrap_or(SigningAlg::EdDSA)
    }
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
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\naudience = \"a\"\n").unwrap();
        let flags = BTreeMap::from([("listen".to_string(), "127.0.0.1:9001".to_string())]);
        let (c, _) = Config::load(Some(&path), flags).unwrap();
        assert_eq!(
            (c.listen.as_str(), c.audience.as_str()),
            ("127.0.0.1:9001", "a")
        );
    }
}
