//! The client-side commands (`docs/API.md` §4): log in, look at the session, print a token,
//! and make authenticated requests. Tokens live in an encrypted file per profile, through
//! the `symbolon-client` SDK.
//!
//! Layout of the client directory (`$SYMBOLON_CLIENT_DIR`, else
//! `$XDG_CONFIG_HOME/symbolon`, else `~/.config/symbolon`; mode 0700):
//! `PROFILE.json` (server URL and username, not secret), `PROFILE.tokens` (encrypted
//! tokens), `PROFILE.tokens.lock`, and `PROFILE.key` or `PROFILE.salt` (the fallback key
//! material when no OS keyring works).

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use symbolon_client::reqwest::{self, Method};
use symbolon_client::{
    choose_key_from, reopen_key, Client, EncryptedFileStore, Error, KeySource, Keyring,
    LogoutScope, MemoryStore, Secret, StoredTokens, TokenStore,
};
use symbolon_proto::{MeView, SessionView};

/// Exit code: the session is over for good; log in again (`docs/API.md` §4).
const LOGIN_REQUIRED: u8 = 3;

/// Exit code: a usage error (`docs/API.md` §4.3), as clap's.
const USAGE: u8 = 2;

/// A refusal that is the command line's fault (exit 2): a URL the token may not go to,
/// or cleartext HTTP to a host that is not this machine.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// The client commands, flattened into the top-level command list.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Log in to a symbolon server and keep the tokens (encrypted) for the other commands.
    #[command(
        after_help = "Examples:\n  symbolon login --server https://auth.example.com --username alice\n  printf '%s\\n' \"$PW\" | symbolon login --server http://127.0.0.1:8080 --username alice --password-stdin"
    )]
    Login {
        /// The server's base URL (remembered in the profile; needed the first time).
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// The username (prompted when missing).
        #[arg(long, value_name = "NAME")]
        username: Option<String>,
        /// Read the password from one line of standard input.
        #[arg(long, requires = "username")]
        password_stdin: bool,
        /// Allow a cleartext `http://` server that is not on this machine (the password
        /// and tokens then cross the network unencrypted; remembered in the profile).
        #[arg(long)]
        allow_http: bool,
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// Show who is logged in (GET /me).
    Whoami {
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// List your sessions (GET /sessions).
    Sessions {
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// End this session (or, with --all, every session of the user) and forget the tokens.
    Logout {
        /// End every session of the user, on every device.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// Print a valid access token, refreshing it first if needed.
    #[command(
        after_help = "Example:\n  curl -H \"Authorization: Bearer $(symbolon token)\" https://api.example.com/things"
    )]
    Token {
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// Send a request with the access token; refreshed and retried once on 401.
    #[command(
        after_help = "Examples:\n  symbolon request /me\n  symbolon request POST https://api.example.com/things --allow-host api.example.com -d '{\"name\":\"x\"}' -H 'X-Trace: 1'\n\nThe token goes only to the profile's server and the hosts given with --allow-host; any other URL is refused (exit 2). The body goes to stdout; a status other than 2xx is reported on stderr and exits 1."
    )]
    Request {
        /// `[METHOD] URL`: the method (default GET, or POST with -d) and the URL, absolute
        /// or a path on the profile's server.
        #[arg(value_name = "[METHOD] URL", num_args = 1..=2, required = true)]
        target: Vec<String>,
        /// The request body (`@FILE` reads a file, `@-` standard input). Sent as JSON
        /// unless a Content-Type header is given.
        #[arg(short = 'd', long = "data", value_name = "BODY")]
        data: Option<String>,
        /// An extra header, `Name: value` (repeatable).
        #[arg(short = 'H', long = "header", value_name = "HEADER")]
        headers: Vec<String>,
        /// Also send the token to this host (and port; without one, the URL scheme's
        /// default port), besides the profile's server (repeatable).
        #[arg(long = "allow-host", value_name = "HOST[:PORT]", value_parser = allowed_host)]
        allow_hosts: Vec<AllowedHost>,
        /// Allow a cleartext `http://` URL on a host that is not this machine.
        #[arg(long)]
        allow_http: bool,
        #[command(flatten)]
        profile: ProfileArg,
    },
}

/// `--profile NAME`.
#[derive(Debug, Args)]
pub struct ProfileArg {
    /// Keeps several servers or accounts apart.
    #[arg(long, value_name = "NAME", default_value = "default", value_parser = profile_name)]
    profile: String,
}

/// What a profile remembers besides its tokens.
#[derive(Debug, Serialize, Deserialize)]
struct ProfileInfo {
    server: String,
    username: String,
    /// Where the token file's key lives; later commands use that source only (absent in
    /// profiles written before it was recorded: the key is chosen afresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<KeySource>,
    /// Logged in with `--allow-http`: the server may be cleartext HTTP off this machine.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    allow_http: bool,
}

/// A `--allow-host HOST[:PORT]`.
#[derive(Debug, Clone)]
pub struct AllowedHost {
    /// As `Url::host_str` gives it (lowercase; IPv6 in brackets).
    host: String,
    port: Option<u16>,
}

impl AllowedHost {
    fn matches(&self, url: &reqwest::Url) -> bool {
        url.host_str() == Some(self.host.as_str())
            && match self.port {
                Some(port) => url.port_or_known_default() == Some(port),
                None => url.port().is_none(),
            }
    }
}

/// `--allow-host`'s parser.
fn allowed_host(value: &str) -> Result<AllowedHost, String> {
    let bad = || format!("{value:?} is not HOST or HOST:PORT");
    let url = reqwest::Url::parse(&format!("http://{value}")).map_err(|_| bad())?;
    if value.is_empty()
        || value.contains(['/', '@', '?', '#'])
        || !url.username().is_empty()
        || url.path() != "/"
    {
        return Err(bad());
    }
    Ok(AllowedHost {
        host: url.host_str().ok_or_else(bad)?.to_owned(),
        port: url.port_or_known_default().filter(|_| {
            // `host:80` is explicit even though it is http's default.
            value
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        }),
    })
}

/// True for a host that is this machine: a loopback address or `localhost`.
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host == "localhost" || host.ends_with(".localhost"),
    }
}

/// Refuses cleartext HTTP to a host that is not this machine unless `allow_http`.
fn check_cleartext(url: &reqwest::Url, allow_http: bool, flag_hint: &str) -> anyhow::Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(Usage(format!(
            "refusing cleartext http:// to {} (not this machine): use https, or {flag_hint}",
            url.origin().ascii_serialization()
        ))
        .into()),
        other => Err(Usage(format!("{url}: the scheme {other:?} is not http or https")).into()),
    }
}

/// The server URL of `--server`, checked.
fn server_url(server: &str, allow_http: bool) -> anyhow::Result<reqwest::Url> {
    let url = reqwest::Url::parse(server)
        .map_err(|e| Usage(format!("--server {server:?} is not a URL: {e}")))?;
    if url.host_str().is_none() {
        return Err(Usage(format!("--server {server:?} has no host")).into());
    }
    check_cleartext(&url, allow_http, "pass --allow-http")?;
    Ok(url)
}

/// Runs one client command; prints its own errors and picks the exit code.
pub async fn run(cmd: SessionCommand) -> ExitCode {
    match dispatch(cmd).await {
        Ok(code) => code,
        Err(e) => {
            if e.chain().any(|c| {
                c.is::<Usage>() || matches!(c.downcast_ref::<Error>(), Some(Error::Refused(_)))
            }) {
                eprintln!("error: {e:#}");
                return ExitCode::from(USAGE);
            }
            let login_required = e
                .chain()
                .filter_map(|c| c.downcast_ref::<Error>())
                .any(|e| {
                    matches!(
                        e,
                        Error::LoginRequired
                            | Error::InDoubt
                            | Error::Corrupt { .. }
                            | Error::CorruptRecord { .. }
                    )
                });
            eprintln!("error: {e:#}");
            if login_required {
                eprintln!("log in again with `symbolon login`");
                ExitCode::from(LOGIN_REQUIRED)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

async fn dispatch(cmd: SessionCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SessionCommand::Login {
            server,
            username,
            password_stdin,
            allow_http,
            profile,
        } => {
            login(
                &profile.profile,
                server,
                username,
                password_stdin,
                allow_http,
            )
            .await
        }
        SessionCommand::Whoami { profile } => {
            let (client, info) = open(&profile.profile, None).await?;
            let me: MeView =
                json_of(client.send(client.request(Method::GET, "/me")).await?).await?;
            println!(
                "{} at {} (user id {}, session {})",
                me.username, info.server, me.sub, me.session_id
            );
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Sessions { profile } => {
            let (client, _) = open(&profile.profile, None).await?;
            let list: Vec<SessionView> = json_of(
                client
                    .send(client.request(Method::GET, "/sessions"))
                    .await?,
            )
            .await?;
            println!(
                "{:<28} {:<22} {:<22} {:<16} USER AGENT",
                "ID", "CREATED", "LAST USED", "IP"
            );
            for s in list {
                let current = if s.current { "  (this one)" } else { "" };
                println!(
                    "{:<28} {:<22} {:<22} {:<16} {}{current}",
                    s.id,
                    s.created_at,
                    s.last_used_at,
                    s.ip.as_deref().unwrap_or("-"),
                    s.user_agent.as_deref().unwrap_or("-")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Logout { all, profile } => {
            let (client, info) = open(&profile.profile, None).await?;
            if client.session_id().await?.is_none() {
                println!("not logged in (profile {})", profile.profile);
                return Ok(ExitCode::SUCCESS);
            }
            client
                .logout_scope(if all {
                    LogoutScope::Global
                } else {
                    LogoutScope::Local
                })
                .await?;
            let what = if all {
                "every session of"
            } else {
                "this session of"
            };
            println!("logged out {what} {} at {}", info.username, info.server);
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Token { profile } => {
            let (client, _) = open(&profile.profile, None).await?;
            println!("{}", client.access_token().await?);
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Request {
            target,
            data,
            headers,
            allow_hosts,
            allow_http,
            profile,
        } => {
            let allowed = Allowed {
                hosts: allow_hosts,
                http: allow_http,
            };
            request(&profile.profile, target, data, headers, allowed).await
        }
    }
}

async fn login(
    profile: &str,
    server: Option<String>,
    username: Option<String>,
    password_stdin: bool,
    allow_http: bool,
) -> anyhow::Result<ExitCode> {
    check_profile_name(profile)?;
    let dir = client_dir()?;
    let previous = read_profile(&dir, profile).ok();
    let server = match (server, &previous) {
        (Some(s), _) => s.trim_end_matches('/').to_owned(),
        (None, Some(p)) => p.server.clone(),
        (None, None) => bail!("no server for profile {profile}: pass --server URL"),
    };
    // Before the password is asked for, let alone sent.
    server_url(&server, allow_http)?;
    let username = match username {
        Some(u) => u,
        None if password_stdin => bail!("--password-stdin needs --username"),
        None => prompt_line("Username: ")?,
    };
    let password = Secret::new(if password_stdin {
        read_stdin_line()?
    } else {
        rpassword::prompt_password(format!("Password for {username} at {server}: "))?
    });
    // A login replaces the profile's session. The old one ends only after the new one is
    // saved, so a failed login (a mistyped password, the server away) leaves the profile
    // working. Its tokens are read now (not adopted by anything) and ended afterwards by
    // their refresh token.
    let old_tokens = match previous.as_ref().filter(|p| p.server == server) {
        Some(previous) => match store_of(&dir, profile, previous) {
            Ok(old) => old.load().await.ok().flatten(),
            Err(_) => None,
        },
        None => None,
    };
    let (store, key) = new_store(&dir, profile)?;
    let client = build_client(&server, Arc::new(store))?;
    let session = client.login(&username, password.expose()).await?;
    write_profile(
        &dir,
        profile,
        &ProfileInfo {
            server: server.clone(),
            username: username.clone(),
            key: Some(key),
            allow_http,
        },
    )?;
    println!("logged in as {username} at {server} (session {session}, profile {profile})");
    if let Some(old) = old_tokens.filter(|old| old.session_id != session) {
        end_old_session(&server, old).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Ends a replaced session by its refresh token, through a client that holds only that
/// token in memory (the profile's store is never touched). Best effort: a failure is a
/// note, the new login stands.
async fn end_old_session(server: &str, old: StoredTokens) {
    let memory = MemoryStore::new();
    let ended = async {
        memory.save(&old).await?;
        Client::builder(server)
            .store(Arc::new(memory))
            .build()?
            .logout()
            .await
    };
    if let Err(e) = ended.await {
        eprintln!("note: could not end the previous session: {e}");
    }
}

/// What `request` may send the token to besides the profile's server.
struct Allowed {
    hosts: Vec<AllowedHost>,
    http: bool,
}

async fn request(
    profile: &str,
    target: Vec<String>,
    data: Option<String>,
    headers: Vec<String>,
    allowed: Allowed,
) -> anyhow::Result<ExitCode> {
    let (method, url) = match target.as_slice() {
        [url] => (
            if data.is_some() {
                Method::POST
            } else {
                Method::GET
            },
            url.clone(),
        ),
        [method, url] => (
            Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                .map_err(|_| anyhow!("{method} is not an HTTP method"))?,
            url.clone(),
        ),
        _ => bail!("usage: symbolon request [METHOD] URL"),
    };
    // The token goes to the profile's server, or to a host allowed by --allow-host;
    // anything else is refused rather than sent (with or without the token).
    let (client, mut builder) = if url.starts_with('/') {
        let (client, _) = open(profile, None).await?;
        let builder = client.try_request(method, &url)?;
        (client, builder)
    } else {
        let target = reqwest::Url::parse(&url)
            .map_err(|e| Usage(format!("{url:?} is not a URL or a /path: {e}")))?;
        let info = read_info(profile)?;
        let server = reqwest::Url::parse(&info.server)?;
        let extra = if target.origin() == server.origin() {
            None
        } else if allowed.hosts.iter().any(|h| h.matches(&target)) {
            check_cleartext(&target, allowed.http, "pass --allow-http")?;
            Some(target.origin().ascii_serialization())
        } else {
            return Err(Usage(format!(
                "refusing to send the access token to {}: it is not the profile's server ({}); \
                 pass --allow-host {} to allow it",
                target.origin().ascii_serialization(),
                server.origin().ascii_serialization(),
                match (target.host_str(), target.port()) {
                    (Some(host), Some(port)) => format!("{host}:{port}"),
                    (host, _) => host.unwrap_or_default().to_owned(),
                }
            ))
            .into());
        };
        let (client, _) = open(profile, extra).await?;
        let builder = client.http().request(method, target);
        (client, builder)
    };
    let mut has_content_type = false;
    for header in &headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| anyhow!("header {header:?} is not `Name: value`"))?;
        has_content_type |= name.trim().eq_ignore_ascii_case("content-type");
        builder = builder.header(name.trim(), value.trim());
    }
    if let Some(data) = data {
        let body = match data.strip_prefix('@') {
            Some("-") => {
                let mut body = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut body)?;
                body
            }
            Some(file) => std::fs::read(file).with_context(|| format!("cannot read {file}"))?,
            None => data.into_bytes(),
        };
        if !has_content_type {
            builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        builder = builder.body(body);
    }
    let response = client.send(builder).await?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| anyhow!("reading the response: {e}"))?;
    let mut out = std::io::stdout().lock();
    out.write_all(&body)?;
    if !body.ends_with(b"\n") && !body.is_empty() {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    if status.is_success() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{url}: {status}");
        Ok(ExitCode::from(1))
    }
}

/// The profile's client over its encrypted token file (allowed to send the token to
/// `extra` as well as to the profile's server).
async fn open(profile: &str, extra: Option<String>) -> anyhow::Result<(Client, ProfileInfo)> {
    let dir = client_dir()?;
    let info = read_info(profile)?;
    // A profile written before cleartext was checked, or edited since.
    let server = reqwest::Url::parse(&info.server)
        .with_context(|| format!("profile {profile}: server {:?}", info.server))?;
    check_cleartext(&server, info.allow_http, "log in again with --allow-http")?;
    let store = Arc::new(store_of(&dir, profile, &info)?);
    let mut builder = Client::builder(&info.server).store(store);
    if let Some(origin) = extra {
        builder = builder.allow_origin(origin);
    }
    Ok((builder.build()?, info))
}

/// The profile's information, or "log in" when it has none.
fn read_info(profile: &str) -> anyhow::Result<ProfileInfo> {
    let dir = client_dir()?;
    let info = match read_profile(&dir, profile) {
        Ok(info) => info,
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) =>
        {
            return Err(anyhow::Error::new(Error::LoginRequired)
                .context(format!("profile {profile} has never logged in")))
        }
        Err(e) => {
            return Err(e.context(format!(
                "cannot read profile {profile} ({})",
                dir.join(format!("{profile}.json")).display()
            )))
        }
    };
    Ok(info)
}

fn build_client(server: &str, store: Arc<EncryptedFileStore>) -> anyhow::Result<Client> {
    Ok(Client::builder(server).store(store).build()?)
}

fn passphrase() -> Option<Secret> {
    std::env::var("SYMBOLON_PASSPHRASE")
        .ok()
        .filter(|p| !p.is_empty())
        .map(Secret::new)
}

fn token_file(dir: &Path, profile: &str) -> PathBuf {
    dir.join(format!("{profile}.tokens"))
}

/// A token file for a new login of `profile`, with a key from the first source that
/// works (said on stderr when it is weakly kept), and that source.
fn new_store(dir: &Path, profile: &str) -> anyhow::Result<(EncryptedFileStore, KeySource)> {
    let choice = choose_key_from(&keyrings_from_env()?, dir, profile, passphrase())?;
    if let Some(warning) = &choice.warning {
        eprintln!("{warning}");
    }
    Ok((
        EncryptedFileStore::new(token_file(dir, profile), choice.key),
        choice.source,
    ))
}

/// The token file of a logged-in `profile`, with its key from the source recorded at
/// login and nowhere else: a run where that source is missing (no keyring in an SSH
/// session, a kernel keyring emptied by a restart) says so instead of making a new key
/// that cannot open the file.
fn store_of(dir: &Path, profile: &str, info: &ProfileInfo) -> anyhow::Result<EncryptedFileStore> {
    let Some(source) = info.key else {
        return Ok(new_store(dir, profile)?.0);
    };
    let passphrase = passphrase();
    let missing_passphrase = source == KeySource::Passphrase && passphrase.is_none();
    match reopen_key(source, dir, profile, passphrase) {
        Ok(key) => Ok(EncryptedFileStore::new(token_file(dir, profile), key)),
        // The passphrase can be given; anything else lost means logging in again.
        Err(e) if missing_passphrase => Err(e.into()),
        Err(e) => Err(anyhow::Error::new(Error::LoginRequired).context(format!(
            "profile {profile}: the tokens cannot be opened ({e})"
        ))),
    }
}

/// The keyrings `SYMBOLON_KEYRING` allows: `auto` (the default: the platform's keyring,
/// then on Linux the kernel keyring), `platform`, `kernel`, or `off` (straight to the
/// passphrase or key-file fallback, which says so on stderr).
fn keyrings_from_env() -> anyhow::Result<Vec<Keyring>> {
    let value = std::env::var("SYMBOLON_KEYRING").unwrap_or_default();
    Ok(match value.trim() {
        "" | "auto" => Keyring::preferred().to_vec(),
        "platform" => vec![Keyring::Platform],
        "kernel" => vec![Keyring::Kernel],
        "off" => Vec::new(),
        other => bail!("SYMBOLON_KEYRING: {other:?} is not one of auto, platform, kernel, off"),
    })
}

fn client_dir() -> anyhow::Result<PathBuf> {
    let dir = if let Some(dir) = std::env::var_os("SYMBOLON_CLIENT_DIR").filter(|d| !d.is_empty()) {
        PathBuf::from(dir)
    } else if let Some(config) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        PathBuf::from(config).join("symbolon")
    } else if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        PathBuf::from(home).join(".config").join("symbolon")
    } else {
        bail!("cannot find a configuration directory: set SYMBOLON_CLIENT_DIR or HOME");
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    check_private_dir(&dir)?;
    Ok(dir)
}

/// Refuses a client directory (after symbolic links) that another user owns or that
/// group or others may write to: they could replace the profile or plant links in it.
#[cfg(unix)]
fn check_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        bail!(
            "refusing the client directory {}: it belongs to uid {}, not to you (uid {me})",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "refusing the client directory {}: group or others can write to it (mode {:o}; `chmod go-w` it)",
            dir.display(),
            meta.mode() & 0o7777
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_dir(_dir: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// `--profile`'s parser: a bad name is a usage error (exit 2) before anything happens.
/// A profile name as given, in lower case: names are compared case-insensitively on
/// every platform, so that `Work` and `work` are one profile on Linux as they are one
/// file on macOS and Windows (and their keyring entries are one too).
fn profile_name(profile: &str) -> Result<String, String> {
    check_profile_name(profile)
        .map(|()| profile.to_ascii_lowercase())
        .map_err(|e| e.to_string())
}

fn check_profile_name(profile: &str) -> anyhow::Result<()> {
    let ok = !profile.is_empty()
        && profile.len() <= 64
        && !profile.starts_with('.')
        && profile
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        bail!("profile name {profile:?}: use 1-64 ASCII letters, digits and . _ - (not starting with .)");
    }
    Ok(())
}

fn read_profile(dir: &Path, profile: &str) -> anyhow::Result<ProfileInfo> {
    check_profile_name(profile)?;
    let text = std::fs::read_to_string(dir.join(format!("{profile}.json")))?;
    Ok(serde_json::from_str(&text)?)
}

fn write_profile(dir: &Path, profile: &str, info: &ProfileInfo) -> anyhow::Result<()> {
    check_profile_name(profile)?;
    let path = dir.join(format!("{profile}.json"));
    // A name nobody can guess, created only where nothing exists (no link followed, no
    // file of someone else's truncated).
    let tag = std::hash::BuildHasher::hash_one(
        &std::collections::hash_map::RandomState::new(),
        std::time::SystemTime::now(),
    );
    let tmp = dir.join(format!(
        ".{profile}.json.tmp-{}-{tag:016x}",
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    let written = (|| -> anyhow::Result<()> {
        file.write_all(serde_json::to_string_pretty(info)?.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

async fn json_of<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> anyhow::Result<T> {
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        bail!("the server answered {status}: {body}");
    }
    Ok(response.json().await?)
}

fn prompt_line(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    read_stdin_line()
}

/// Reads one line from standard input and drops its line end.
fn read_stdin_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    Ok(trimmed.to_owned())
}
