//! `symbolon-example-api`: a small API that accepts symbolon access tokens and drops
//! revoked sessions within seconds. Run it next to `symbolon serve`:
//!
//! ```sh
//! cargo run -p symbolon-example-api -- --issuer http://127.0.0.1:8080
//! ```

use clap::Parser;
use std::net::SocketAddr;
use symbolon_verify::{Config, Verifier};

/// A small API protected by symbolon-verify.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The symbolon server's issuer (its URL, as in the tokens' `iss`).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    issuer: String,
    /// The audience the tokens must carry.
    #[arg(long, default_value = "symbolon")]
    audience: String,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// Follow the revocation feed as this client (`symbolon client add NAME
    /// --secret-stdin --revocations`); its secret is read from SYMBOLON_FEED_SECRET.
    #[arg(long)]
    feed_client: Option<String>,
    /// With the feed: refuse every token (503) when the feed has not answered for this
    /// many seconds.
    #[arg(long, requires = "feed_client")]
    fail_closed_after: Option<u64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let mut config = Config::new(&args.issuer, &args.audience);
    if let Some(client) = &args.feed_client {
        let secret = std::env::var("SYMBOLON_FEED_SECRET").map_err(|_| {
            anyhow::anyhow!("--feed-client needs the client's secret in SYMBOLON_FEED_SECRET")
        })?;
        config = config.with_revocations(client, secret);
        config.fail_closed_after = args.fail_closed_after.map(std::time::Duration::from_secs);
    }
    let verifier = Verifier::new(config);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(listen = %args.listen, issuer = %args.issuer, "example API serving");
    axum::serve(listener, symbolon_example_api::app(verifier))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
