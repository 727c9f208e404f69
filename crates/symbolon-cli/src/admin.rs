//! The server-side commands: serve, migrate, and the admin commands, all through the
//! same configuration and store as the server.

use crate::cli::{Cli, ClientCommand, Command, KeysCommand, ServeFlags, UserCommand};
use anyhow::{bail, Context, Result};
use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;
use symbolon_core::ids::{ClientId, Password, Username};
use symbolon_core::{Clock, SystemClock};
use symbolon_server::config::{redact_url, Provenance};
use symbolon_server::{AppState, Config};
use symbolon_store::ClientRecord;

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
    let _ = if config.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn state(file: Option<std::path::PathBuf>) -> Result<AppState> {
    let (config, _) = load(file.as_deref(), ServeFlags::default(), false)?;
    Ok(symbolon_server::build_admin(config, Arc::new(SystemClock)).await?)
}

async fn serve(file: Option<std::path::PathBuf>, flags: ServeFlags) -> Result<ExitCode> {
    let (config, provenance) = load(file.as_deref(), flags, true)?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "symbolon starting");
    match &provenance.file {
        Some(path) => tracing::info!(file = %path.display(), "configuration read"),
        None => tracing::info!(
            "no configuration file: using defaults (SYMBOLON_* variables and flags apply)"
        ),
    }
    tracing::info!(
        database = %redact_url(&config.database_url),
        master_key_file = %config.master_key_file.display(),
        signing_alg = %config.signing_alg,
        issuer = %config.issuer(),
        "settings"
    );
    let listen = config.listen.clone();
    let state = symbolon_server::build(config, Arc::new(SystemClock)).await?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
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
    let state = state(file).await?;
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
            let user =
                symbolon_server::api::simple::create_user(&state, &name, Password::new(password))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("added user {} (id {})", user.username, user.id);
        }
        UserCommand::List => {
            println!("{:<24} {:<24} {:<22} STATUS", "USERNAME", "ID", "CREATED");
            for u in state.store().list_users().await? {
                let status = if u.disabled_at.is_some() {
                    "disabled"
                } else {
                    "active"
                };
                println!(
                    "{:<24} {:<24} {:<22} {status}",
                    u.username,
                    u.id.to_string(),
                    symbolon_server::api::rfc3339(u.created_at)
                );
            }
        }
        UserCommand::Disable { name } => {
            let key = Username::parse(&name)?.normalized();
            let Some(user) = state.store().user_by_name(&key).await? else {
                bail!("no user named {name}");
            };
            if state.store().disable_user(&user.id, state.now()).await? {
                println!("disabled {name}: every session ended");
            } else {
                println!("{name} was already disabled");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn client(file: Option<std::path::PathBuf>, cmd: ClientCommand) -> Result<ExitCode> {
    let state = state(file).await?;
    let ClientCommand::Add { name, secret_stdin } = cmd;
    let id = ClientId::parse(&name)?;
    if id.as_str() == state.config.default_client_id {
        bail!("{id} is the built-in default client");
    }
    let secret_hash = if secret_stdin {
        let secret = read_stdin_line()?;
        if secret.len() < 16 {
            bail!("a client secret must be at least 16 characters");
        }
        Some(
            state
                .hasher
                .hash(&state.metrics, Password::new(secret))
                .await?,
        )
    } else {
        None
    };
    let confidential = secret_hash.is_some();
    let record = ClientRecord {
        client_id: id.to_string(),
        secret_hash,
        created_at: state.now(),
    };
    match state.store().create_client(&record).await {
        Ok(()) => {}
        Err(symbolon_store::StoreError::Conflict) => bail!("a client named {id} exists already"),
        Err(e) => return Err(e.into()),
    }
    println!(
        "added {} client {id}",
        if confidential {
            "confidential"
        } else {
            "public"
        }
    );
    Ok(ExitCode::SUCCESS)
}

async fn keys(file: Option<std::path::PathBuf>, cmd: KeysCommand) -> Result<ExitCode> {
    let (config, _) = load(file.as_deref(), ServeFlags::default(), false)?;
    let master = symbolon_server::load_master_key(&config.master_key_file)?;
    let store = symbolon_server::open_store(&config).await?;
    let now = SystemClock.now();
    match cmd {
        KeysCommand::List => {
            println!("{:<24} {:<6} {:<22} STATUS", "KID", "ALG", "CREATED");
            for k in store.signing_keys().await? {
                let status = match k.retired_at {
                    None => "current".to_owned(),
                    Some(at) => format!("retired {}", symbolon_server::api::rfc3339(at)),
                };
                println!(
                    "{:<24} {:<6} {:<22} {status}",
                    k.kid,
                    k.alg,
                    symbolon_server::api::rfc3339(k.created_at)
                );
            }
        }
        KeysCommand::Rotate => {
            let wrap = symbolon_core::keys::KeyWrap::new(&master);
            let kid = symbolon_server::keys::create_key(
                store.as_ref(),
                &wrap,
                config.alg(),
                now,
                Some(now),
            )
            .await?;
            println!(
                "new {} signing key {kid} is current; running servers pick it up within {} s",
                config.alg(),
                config.key_refresh.0
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
