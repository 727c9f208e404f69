//! Sends N serial `GET /healthz` one way (plain reqwest, `Client::send`, or the
//! middleware) to a symbolon server in the same process, on one thread. Run under
//! `valgrind --tool=callgrind` by `scripts/sdk-overhead.sh`, which subtracts a run with
//! N = 0 and compares instructions per request: a count that does not drift with the
//! machine's load, unlike time (see `benches/sdk_overhead.rs`).
//!
//! ```text
//! cargo run --release -p symbolon-bench --bin sdk-overhead -- --arm send --requests 2000
//! ```

use anyhow::Result;
use clap::Parser;
use symbolon_bench::{Arm, InProcess};

/// One arm of the SDK-overhead comparison.
#[derive(Debug, Parser)]
struct Args {
    /// How to send the requests.
    #[arg(long, value_enum)]
    arm: Arm,
    /// How many requests (0: only start the server and log in).
    #[arg(long, default_value_t = 2000)]
    requests: u32,
}

fn main() -> Result<()> {
    let args = Args::parse();
    // One thread: server and client interleave the same way on every run.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let server = InProcess::start().await?;
        let arms = server.arms();
        // Open the connection outside the measured requests for every arm alike.
        arms.request(Arm::Plain).await?;
        for _ in 0..args.requests {
            arms.request(args.arm).await?;
        }
        println!("{:?} {}", args.arm, args.requests);
        Ok(())
    })
}
