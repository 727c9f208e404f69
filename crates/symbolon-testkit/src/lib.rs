//! Test fixtures shared by symbolon's test suites (a dev-dependency, and the in-process
//! server of the SDK benchmarks in `symbolon-bench`):
//!
//! - [`TestServer`]: the real server on `127.0.0.1`, in the test's process, with its own
//!   SQLite file and master key in a temporary directory and a [`ManualClock`] that tests
//!   move instead of sleeping;
//! - [`PgDatabase`]: a PostgreSQL database of one test's own (from
//!   `SYMBOLON_TEST_POSTGRES_URL`), dropped at the end; `None`, with a note saying how to
//!   run it, where no PostgreSQL is configured;
//! - [`PgCluster`]: a PostgreSQL server of one test's own (`initdb`, `pg_ctl`), for tests
//!   that restart it;
//! - [`FaultProxy`]: a TCP proxy in front of any server (PostgreSQL, symbolon) whose link
//!   can be given latency, stalled, reset or cut while it runs;
//! - [`LossyDisk`]: a FUSE file system that forgets every write not yet synced when its
//!   power is cut, or fails writes on command (durability tests).

pub mod fault_proxy;
mod lossy_disk;
mod pg;
mod pg_cluster;
mod server;

pub use fault_proxy::{Fault, FaultProxy};
pub use lossy_disk::LossyDisk;
pub use pg::PgDatabase;
pub use pg_cluster::{PgCluster, StopMode};
pub use server::{test_config, TestServer, T0};
pub use symbolon_core::ManualClock;
