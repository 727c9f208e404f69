//! The CLI keeps its token file's key in a real OS keyring: the kernel keyring, and a
//! private Secret Service (GNOME Keyring on a D-Bus session of the test's own). Skipped
//! with a message where they cannot run, unless `SYMBOLON_TEST_KEYRING=required`.

mod common;

#[path = "../../symbolon-client/tests/support/secret_service.rs"]
mod secret_service;

use common::*;
use std::path::Path;
use std::process::{Command, Output};
use symbolon_client::keyring::forget_key;
use symbolon_client::{Keyring, KeyringTokenStore};

/// `symbolon ARGS...` with `SYMBOLON_KEYRING=keyring`, the client directory `home` and
/// the private bus `bus` (if any).
fn client(home: &Path, keyring: &str, bus: Option<&str>, args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("SYMBOLON_CLIENT_DIR", home)
        .env("SYMBOLON_KEYRING", keyring)
        .env_remove("SYMBOLON_PASSPHRASE")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    if let Some(bus) = bus {
        command.env("DBUS_SESSION_BUS_ADDRESS", bus);
    }
    output(command, stdin)
}

fn check(output: &Output) -> (String, String) {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "exit {:?}: {stderr}",
        output.status.code()
    );
    (String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
}

/// Logs in with `keyring`, then `whoami` in another process finds the key there; no key
/// file, no salt, no warning about weaker protection.
async fn login_keeps_its_key_in(keyring: &str, bus: Option<&str>, profile: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("symbolon.db").display());
    let config = write_config(dir.path(), "keyring", &db, "");
    add_user(&config, "alice");
    let server = start_server(&config).await;
    let home = dir.path().join("client-home");

    let (stdout, stderr) = check(&client(
        &home,
        keyring,
        bus,
        &[
            "login",
            "--profile",
            profile,
            "--server",
            &server.url,
            "--username",
            "alice",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    ));
    assert!(stdout.contains("logged in as alice"), "{stdout}");
    assert!(!stderr.contains("warning"), "no fallback: {stderr}");
    for leftover in [format!("{profile}.key"), format!("{profile}.salt")] {
        assert!(!home.join(leftover).exists(), "no key material on disk");
    }
    assert!(home.join(format!("{profile}.tokens")).exists());

    let (stdout, stderr) = check(&client(
        &home,
        keyring,
        bus,
        &["whoami", "--profile", profile],
        "",
    ));
    assert!(stdout.starts_with("alice at "), "{stdout}");
    assert!(
        stderr.is_empty(),
        "nothing to announce the second time: {stderr}"
    );
    check(&client(
        &home,
        keyring,
        bus,
        &["logout", "--profile", profile],
        "",
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_keeps_its_key_in_the_kernel_keyring() {
    if let Err(e) = KeyringTokenStore::probe(&[Keyring::Kernel], "it-probe").await {
        secret_service::unavailable(&format!("the kernel keyring cannot be used here ({e})"));
        return;
    }
    let profile = format!("it-cli-{}", std::process::id());
    login_keeps_its_key_in("kernel", None, &profile).await;
    forget_key(Keyring::Kernel, &profile).expect("clean up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_keeps_its_key_in_the_secret_service() {
    let Some(service) = secret_service::SecretService::start() else {
        return;
    };
    // The bus is handed to the child processes only; this process's environment is
    // left alone. The keys die with the private keyring.
    login_keeps_its_key_in("platform", Some(&service.bus), "default").await;
}

/// `SYMBOLON_KEYRING` with a value it does not know stops the command and says which
/// values it takes.
#[test]
fn an_unknown_keyring_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = client(
        dir.path(),
        "vault",
        None,
        &[
            "login",
            "--server",
            "http://127.0.0.1:9",
            "--username",
            "alice",
            "--password-stdin",
        ],
        "password\n",
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("SYMBOLON_KEYRING") && stderr.contains("auto, platform, kernel, off"),
        "{stderr}"
    );
}
