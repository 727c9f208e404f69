//! A real Secret Service for tests: GNOME Keyring on a D-Bus session bus of the test's
//! own, with its files in a temporary directory, unlocked, and gone with the value.
//!
//! Needs `dbus-daemon` and `gnome-keyring-daemon` (Debian: `dbus-daemon`,
//! `gnome-keyring`). Without them [`SecretService::start`] returns `None` after saying
//! how to get them, unless `SYMBOLON_TEST_KEYRING=required` (set by `.ci/run`), where it
//! panics: CI must not skip the keyring tests silently.
//!
//! Shared by the client's and the CLI's tests (`#[path]`).

#![allow(dead_code)] // Each test crate uses its own part.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

/// A running private Secret Service.
pub struct SecretService {
    /// The bus address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub bus: String,
    bus_daemon: Child,
    /// The daemons' home (runtime, data and cache directories).
    pub dir: tempfile::TempDir,
}

/// True when `SYMBOLON_TEST_KEYRING=required`: a missing keyring fails the test.
pub fn keyring_required() -> bool {
    std::env::var("SYMBOLON_TEST_KEYRING").is_ok_and(|v| v == "required")
}

/// Skips (returns) or, when keyrings are required, panics with `why`.
pub fn unavailable(why: &str) {
    assert!(
        !keyring_required(),
        "SYMBOLON_TEST_KEYRING=required, but {why}"
    );
    eprintln!(
        "skipped: {why}. Install Debian's dbus-daemon, gnome-keyring and keyutils (or your \
         system's equivalents) to run the keyring tests; .ci/run requires them."
    );
}

impl SecretService {
    /// Starts the bus and GNOME Keyring (unlocked, secrets component only) and returns
    /// when the keyring owns `org.freedesktop.secrets`.
    pub fn start() -> Option<SecretService> {
        for program in ["dbus-daemon", "gnome-keyring-daemon"] {
            if !on_path(program) {
                unavailable(&format!("{program} is not installed"));
                return None;
            }
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let run = dir.path().join("run");
        let mut builder = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&run).expect("runtime dir");

        let home = dir.path().to_owned();
        let env = move |command: &mut Command| {
            command
                .env("XDG_RUNTIME_DIR", home.join("run"))
                .env("XDG_DATA_HOME", home.join("data"))
                .env("XDG_CACHE_HOME", home.join("cache"))
                .env("XDG_CONFIG_HOME", home.join("config"))
                .env_remove("DISPLAY");
        };
        let mut command = Command::new("dbus-daemon");
        command
            .args(["--session", "--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        env(&mut command);
        let mut bus_daemon = command.spawn().expect("dbus-daemon starts");
        // The daemon prints its address once it listens.
        let mut bus = String::new();
        BufReader::new(bus_daemon.stdout.take().expect("stdout"))
            .read_line(&mut bus)
            .expect("bus address");
        let bus = bus.trim().to_owned();
        assert!(bus.starts_with("unix:"), "bus address {bus:?}");
        let service = SecretService {
            bus,
            bus_daemon,
            dir,
        };

        // `--daemonize` returns once the daemon has taken its bus names; it exits when
        // the bus goes away (see Drop). `--unlock` reads the login keyring's new password
        // from stdin.
        let mut command = Command::new("gnome-keyring-daemon");
        command
            .args(["--daemonize", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &service.bus)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        env(&mut command);
        let mut keyring = command.spawn().expect("gnome-keyring-daemon starts");
        keyring
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"test keyring password")
            .expect("password");
        let output = keyring.wait_with_output().expect("gnome-keyring-daemon");
        assert!(
            output.status.success(),
            "gnome-keyring-daemon: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(service)
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        // GNOME Keyring quits when its bus disconnects.
        let _ = self.bus_daemon.kill();
        let _ = self.bus_daemon.wait();
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}
