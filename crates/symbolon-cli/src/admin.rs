//! The server-side commands: serve, migrate, and the admin commands, all through the
//! same configuration and store as the server.

use crate::cli::{Cli, ClientCommand, Command, KeysCommand, ServeFlags, UserCommand};
use anyhow::{bail, Context, Result};
use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;
use symbolon_core::ids::{Capability, Password, Username};
use symbolon_core::SystemClock;
use symbolon_server::config::{redact_url, LogFormat, Provenance};
use symbolon_server::{rfc3339, Config, MasterKeyUse, Service};

/// Runs one command.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(flags) => serve(cli.config, *flags).await,
        Command::Migrate => {
            let (config, _) = load(cli.config.as_deref(), ServeFlags::default(), false)?;
            let store = symbolon_store::connect(&config.database_url, 1).await?;
            store.migrate().await?;
            println!("migrations applied to {}", redact_url(&config.database_url));
            Ok(ExitCode::SUCCESS)
        }
        Command::User(cmd) => user(cli.config, cmd).await,
        Command::Client(cmd) => client(cli.config, cmd).await,
        Command::Keys(cmd) => keys(cli.config, cmd).await,
        Command::Session(cmd) => Ok(crate::client_cmd::run(cmd).await),
    }
}

fn load(
    file: Option<&std::path::Path>,
    flags: ServeFlags,
    verbose: bool,
) -> Result<(Config, Provenance)> {
    let (config, provenance) = Config::load(file, flags)?;
    init_logging(&config, verbose);
    Ok((config, provenance))
}

fn init_logging(config: &Config, verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if verbose { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log_format == LogFormat::Json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The service for an admin command, from the same configuration as the server.
async fn service(file: Option<std::path::PathBuf>, master: MasterKeyUse) -> Result<Service> {
    let (config, _) = load(file.as_deref(), ServeFlags::default(), false)?;
    Ok(symbolon_server::build_admin(&config, Arc::new(SystemClock), master).await?)
}

async fn serve(file: Option<std::path::PathBuf>, flags: ServeFlags) -> Result<ExitCode> {
    let (mut config, provenance) = load(file.as_deref(), flags, true)?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "symbolon starting");
    match &provenance.file {
        Some(path) => tracing::info!(file = %path.display(), "configuration read"),
        None => tracing::info!(
            "no configuration file: using defaults (SYMBOLON_* variables and flags apply)"
        ),
    }
    let listen = config.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    // Port 0 lets the system choose: the default issuer is then the address it chose.
    if listen.port() == 0 && config.issuer.is_none() {
        config.issuer = Some(
            symbolon_server::config::Issuer::parse(&format!("http://{bound}"))
                .map_err(anyhow::Error::msg)?,
        );
    }
    tracing::info!(
        database = %redact_url(&config.database_url),
        master_key_file = %config.master_key_file.display(),
        signing_alg = %config.signing_alg.as_str(),
        issuer = %config.issuer(),
        "settings"
    );
    let state = symbolon_server::build(config, Arc::new(SystemClock)).await?;
    tracing::info!("listening on http://{bound}");
    symbolon_server::serve(state, listener, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Reads one line from standard input and drops its line end.
fn read_stdin_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    Ok(trimmed.to_owned())
}

fn prompt_new_password() -> Result<String> {
    let first = rpassword::prompt_password("New password: ")?;
    let second = rpassword::prompt_password("Repeat it: ")?;
    if first != second {
        bail!("the passwords differ");
    }
    Ok(first)
}

async fn user(file: Option<std::path::PathBuf>, cmd: UserCommand) -> Result<ExitCode> {
    let service = service(file, MasterKeyUse::CreateForEmptyDatabase).await?;
    let users = service.users();
    match cmd {
        UserCommand::Add {
            name,
            password_stdin,
        } => {
            Username::parse(&name)?;
            let password = if password_stdin {
                read_stdin_line()?
            } else {
                prompt_new_password()?
            };
            let user = users.create(&name, Password::new(password)).await?;
            println!("added user {} (id {})", user.username, user.id);
        }
        UserCommand::List => {
            println!("{:<24} {:<24} {:<22} STATUS", "USERNAME", "ID", "CREATED");
            for u in users.list().await? {
                let status = if u.disabled_at.is_some() {
                    "disabled"
                } else {
                    "active"
                };
                println!(
                    "{:<24} {:<24} {:<22} {status}",
                    u.username,
                    u.id.to_string(),
                    rfc3339(u.created_at)
                );
            }
        }
        UserCommand::Disable { name } => {
            if users.disable(&name).await? {
                println!("disabled {name}: every session ended");
            } else {
                println!("{name} was already disabled");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn client(file: Option<std::path::PathBuf>, cmd: ClientCommand) -> Result<ExitCode> {
    let service = service(file, MasterKeyUse::CreateForEmptyDatabase).await?;
    let ClientCommand::Add {
        name,
        secret_stdin,
        introspect,
        revocations,
    } = cmd;
    let capabilities: Vec<Capability> = [
        introspect.then_some(Capability::Introspect),
        revocations.then_some(Capability::RevocationFeed),
    ]
    .into_iter()
    .flatten()
    .collect();
    let secret = if secret_stdin {
        Some(Password::new(read_stdin_line()?))
    } else {
        None
    };
    let record = service
        .clients()
        .create(&name, secret, &capabilities)
        .await?;
    let kind = if record.secret_hash.is_some() {
        "confidential"
    } else {
        "public"
    };
    let may: Vec<&str> = record.capabilities.iter().map(|c| c.as_str()).collect();
    if may.is_empty() {
        println!("added {kind} client {}", record.client_id);
    } else {
        println!(
            "added {kind} client {} (may: {})",
            record.client_id,
            may.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn keys(file: Option<std::path::PathBuf>, cmd: KeysCommand) -> Result<ExitCode> {
    let service = service(file, MasterKeyUse::MustExist).await?;
    let keys = service.keys();
    match cmd {
        KeysCommand::List => {
            let now = service.now();
            println!("{:<24} {:<6} {:<22} STATUS", "KID", "ALG", "CREATED");
            for k in keys.list().await? {
                let status = match k.retired_at {
                    _ if k.active_at > now => {
                        format!("published, signs from {}", rfc3339(k.active_at))
                    }
                    None => "current".to_owned(),
                    Some(at) if at > now => format!("current until {}", rfc3339(at)),
                    Some(at) => format!("retired {}", rfc3339(at)),
                };
                println!(
                    "{:<24} {:<6} {:<22} {status}",
                    k.kid,
                    k.alg,
                    rfc3339(k.created_at)
                );
            }
        }
        KeysCommand::Rotate => {
            let rotated = keys.rotate().await?;
            let settings = service.settings();
            println!(
                "new {} signing key {} is published; every running server signs with it from {} \
                 (after each has reloaded the keys, every {} s)",
                settings.signing_alg.as_str(),
                rotated.kid,
                rfc3339(rotated.active_at),
                settings.key_refresh
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
