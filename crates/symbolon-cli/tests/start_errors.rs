//! Start-up errors as the binary prints them: exit code 1 and one `error:` line in which
//! each part of the cause appears once (a message never repeats its source).

mod common;

use common::*;
use std::process::Stdio;

fn serve_output(config: &std::path::Path) -> std::process::Output {
    std::process::Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .stdin(Stdio::null())
        .output()
        .expect("symbolon ran")
}

/// The `error:` line of a failed start-up, after checking the exit code.
fn start_up_error(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let lines: Vec<_> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    lines[0].to_owned()
}

#[test]
fn a_missing_postgres_database_is_named_once() {
    let Ok(admin_url) = std::env::var("SYMBOLON_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipping: set SYMBOLON_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test to run the PostgreSQL tests"
        );
        return;
    };
    let server = admin_url
        .split('?')
        .next()
        .and_then(|u| u.rsplit_once('/'))
        .map(|(server, _)| server)
        .expect("SYMBOLON_TEST_POSTGRES_URL names a database");
    let url = format!("{server}/symbolon_no_such_db");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), "c", &url, "");
    let line = start_up_error(&serve_output(&config));
    assert!(
        line.contains("database \"symbolon_no_such_db\" does not exist"),
        "{line}"
    );
    assert_eq!(line.matches("symbolon_no_such_db").count(), 1, "{line}");
    assert_eq!(line.matches("unavailable").count(), 1, "{line}");
}

#[tokio::test]
async fn a_wrong_master_key_stops_start_up_saying_so_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("symbolon.db").display());
    let config = write_config(dir.path(), "c", &db, "");
    // The first start creates the master key and wraps the first signing key with it.
    let mut server = start_server(&config).await;
    server.child.kill().await.expect("stop the server");
    // Another valid key, made the same way in another directory, replaces it.
    let other = tempfile::tempdir().expect("temp dir");
    let other_db = format!("sqlite://{}", other.path().join("symbolon.db").display());
    let other_config = write_config(other.path(), "c", &other_db, "");
    let mut other_server = start_server(&other_config).await;
    other_server.child.kill().await.expect("stop the server");
    let key = dir.path().join("symbolon.key");
    let other_key = other.path().join("symbolon.key");
    assert_ne!(
        std::fs::read(&key).expect("key"),
        std::fs::read(&other_key).expect("other key")
    );
    let original = std::fs::read(&key).expect("key");
    std::fs::copy(&other_key, &key).expect("replace the key file");

    let line = start_up_error(&serve_output(&config));
    let says = "does not decrypt under this master key";
    assert!(line.contains(says), "{line}");
    assert_eq!(line.matches(says).count(), 1, "{line}");
    // "cannot load the signing keys: signing key KID: a signing key does not decrypt …"
    assert_eq!(line.matches("signing key").count(), 3, "{line}");
    assert_eq!(
        line.matches("cannot load the signing keys").count(),
        1,
        "{line}"
    );

    // `keys rotate` with the wrong master key retires nothing: it must open the existing
    // keys first.
    let admin = |args: &[&str]| {
        std::process::Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("symbolon ran")
    };
    let rotate = start_up_error(&admin(&["keys", "rotate"]));
    assert!(rotate.contains(says), "{rotate}");
    std::fs::write(&key, original).expect("restore the key file");
    let list = admin(&["keys", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{listed}");
    assert_eq!(listed.matches("current").count(), 1, "{listed}");
    assert!(!listed.contains("retired"), "{listed}");
}

/// A master key file that others may read stops start-up (it used to be a warning): the
/// message names the file and says what to do.
#[cfg(unix)]
#[test]
fn a_master_key_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("symbolon.db").display());
    let config = write_config(dir.path(), "c", &db, "");
    let key = dir.path().join("symbolon.key");
    // A valid key (32 zero bytes, base64url) in a file of mode 0644.
    std::fs::write(&key, format!("{}\n", "A".repeat(43))).expect("key file");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let line = start_up_error(&serve_output(&config));
    assert!(line.contains("symbolon.key"), "{line}");
    assert!(
        line.contains("mode 0644") && line.contains("chmod 600"),
        "{line}"
    );
    assert!(
        !dir.path().join("symbolon.db").exists(),
        "nothing is opened before the key is accepted"
    );
}
