//! The command line (`docs/API.md` §4), declared with clap.

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::path::PathBuf;

/// symbolon: a self-hosted token service with short-lived access tokens and rotating
/// refresh tokens.
#[derive(Debug, Parser)]
#[command(
    name = "symbolon",
    version,
    after_help = "Examples:\n  symbolon serve\n  echo 'correct horse battery' | symbolon user add alice --password-stdin\n  symbolon --config symbolon.toml keys rotate\n  symbolon login --server http://127.0.0.1:8080 --username alice\n  symbolon request GET http://127.0.0.1:8080/me"
)]
pub struct Cli {
    /// TOML configuration file (keys as in docs/API.md §3; SYMBOLON_* variables and flags override it).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server (with no configuration: 127.0.0.1:8080, ./symbolon.db, ./symbolon.key).
    Serve(Box<ServeFlags>),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Client side: login, whoami, sessions, logout, token, request.
    #[command(flatten)]
    Session(crate::client_cmd::SessionCommand),
}

/// Flags of `serve`; each overrides the same key of the file and the environment.
#[derive(Debug, Default, Args, Serialize)]
pub struct ServeFlags {
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// sqlite://PATH or postgres://...
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Issuer URL (the `iss` claim).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Audience (the `aud` claim).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// EdDSA, ES256, RS256 or HS256.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_alg: Option<String>,
    /// Access-token lifetime (900, 15m, ...).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_ttl: Option<String>,
    /// Refresh-token idle lifetime (7d, ...).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_ttl: Option<String>,
    /// Session absolute lifetime (30d, ...).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_ttl: Option<String>,
    /// Grace for replaying a just-rotated refresh token (10s, ...).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuse_grace: Option<String>,
    /// Clock-skew leeway for access tokens (30s, ...).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leeway: Option<String>,
    /// How often running servers re-read signing keys (60s, ...).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_refresh: Option<String>,
    /// Open POST /register.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_registration: Option<bool>,
    /// The built-in public client id.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_client_id: Option<String>,
    /// Master key file (created with mode 0600 if missing).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key_file: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
}

/// `symbolon user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (password prompted, or read from stdin).
    Add {
        /// The username: 1-64 ASCII letters, digits and . _ - @.
        name: String,
        /// Read the password from one line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Disable a user: ends every session at once and refuses login and refresh.
    Disable {
        /// The username.
        name: String,
    },
}

/// `symbolon client ...`
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an OAuth client; without a secret it is public.
    Add {
        /// The client_id.
        name: String,
        /// Read the client secret from one line of standard input (a confidential client).
        #[arg(long)]
        secret_stdin: bool,
        /// Allow the (confidential) client to call token introspection (RFC 7662).
        #[arg(long, requires = "secret_stdin")]
        introspect: bool,
        /// Allow the (confidential) client to read the revocation feed (`GET /revocations`):
        /// for resource servers that drop the tokens of revoked sessions.
        #[arg(long, requires = "secret_stdin")]
        revocations: bool,
    },
}

/// `symbolon keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys.
    List,
    /// Make a new signing key current; old public keys stay published until their tokens expire.
    Rotate,
}
