//! A private PostgreSQL server for one test: for tests that restart or stop PostgreSQL,
//! which they must not do to the server other tests share.

use std::path::{Path, PathBuf};
use std::process::Output;
use tokio::process::Command;

/// How [`PgCluster::restart`] stops the server (`pg_ctl -m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Disconnects every client, rolls back their transactions and shuts down cleanly
    /// (what an operator's restart does).
    Fast,
    /// Kills the server without a shutdown checkpoint; the start recovers from the WAL
    /// (what a crash does).
    Immediate,
}

impl StopMode {
    fn arg(self) -> &'static str {
        match self {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        }
    }
}

/// A PostgreSQL server of one test's own, made with `initdb` in a temporary directory and
/// listening on `127.0.0.1` on a free port, trust authentication for `postgres`. Stopped
/// (immediately) and deleted when dropped.
///
/// Runs where the PostgreSQL tests run (`SYMBOLON_TEST_POSTGRES_URL` set): its programs
/// are found through `PATH` (`initdb`) or under `/usr/lib/postgresql/*/bin`. As root, they
/// run as the `postgres` user (`runuser`), since PostgreSQL refuses to run as root.
pub struct PgCluster {
    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub url: String,
    /// The port it listens on (kept across restarts).
    pub port: u16,
    bin: PathBuf,
    as_postgres: bool,
    dir: tempfile::TempDir,
}

impl PgCluster {
    /// A new server, started; `None`, with a note on stderr, when
    /// `SYMBOLON_TEST_POSTGRES_URL` is not set. Panics when it is set but the server
    /// cannot be made: CI must not skip silently.
    pub async fn start() -> Option<PgCluster> {
        if std::env::var_os("SYMBOLON_TEST_POSTGRES_URL").is_none() {
            eprintln!(
                "skipping: set SYMBOLON_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test to run the PostgreSQL tests (this one starts a PostgreSQL of its own with initdb and pg_ctl)"
            );
            return None;
        }
        let bin = postgres_bin().expect(
            "PostgreSQL's programs (initdb, pg_ctl) in PATH or under /usr/lib/postgresql/*/bin",
        );
        let as_postgres = rustix::process::geteuid().is_root();
        let dir = tempfile::tempdir().expect("temp dir");
        if as_postgres {
            run(Command::new("chown").arg("postgres:").arg(dir.path())).await;
        }
        let mut cluster = PgCluster {
            url: String::new(),
            port: 0,
            bin,
            as_postgres,
            dir,
        };
        let data = cluster.data();
        run(cluster
            .pg("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"]))
        .await;
        // A free port: the system's choice for a socket we close again. Another process
        // may take it in between; then try another.
        for attempt in 0.. {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1",
                cluster.dir.path().display()
            );
            let output = cluster
                .pg("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(cluster.log_file())
                .args(["-w", "-t", "60", "-o", &options, "start"])
                .output()
                .await
                .expect("pg_ctl runs");
            if output.status.success() {
                cluster.port = port;
                cluster.url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
                return Some(cluster);
            }
            assert!(
                attempt < 3,
                "pg_ctl start: {}\n{}",
                describe(&output),
                cluster.log()
            );
        }
        unreachable!("the loop returns or panics")
    }

    /// Stops the server (`pg_ctl -m MODE stop`) and starts it again on the same port,
    /// returning once it accepts connections.
    pub async fn restart(&self, mode: StopMode) {
        let output = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60", "-m", mode.arg(), "restart"])
            .output()
            .await
            .expect("pg_ctl runs");
        assert!(
            output.status.success(),
            "pg_ctl restart: {}\n{}",
            describe(&output),
            self.log()
        );
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// A command for one of PostgreSQL's programs, as `postgres` when we are root.
    fn pg(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let path = self.bin.join("pg_ctl");
        let mut command = if self.as_postgres {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            std::process::Command::new(path)
        };
        let _ = command
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-m", "immediate", "stop"])
            .output();
    }
}

/// The directory of `initdb` and `pg_ctl`.
fn postgres_bin() -> Option<PathBuf> {
    let in_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("initdb"))
            .find(|initdb| initdb.is_file())
    });
    if let Some(initdb) = in_path {
        // Debian links them from /usr/bin or /usr/local/bin; the directory that matters
        // is the one with `postgres` next to `initdb`.
        let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        return real.parent().map(Path::to_path_buf);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

async fn run(command: &mut Command) {
    let output = command.output().await.expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        describe(&output)
    );
}

fn describe(output: &Output) -> String {
    format!(
        "{}; stdout: {}; stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    )
}
