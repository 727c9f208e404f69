//! Configuration precedence as the binary sees it: file ← `SYMBOLON_*` ← flags, and
//! invalid values stop start-up naming the key.

mod common;

use common::*;
use std::process::Stdio;

fn serve_output(
    config: &std::path::Path,
    env: &[(&str, &str)],
    flags: &[&str],
) -> std::process::Output {
    std::process::Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .args(flags)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("symbolon ran")
}

#[test]
fn invalid_values_from_the_environment_or_flags_stop_start_up_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("symbolon.db").display());
    let config = write_config(dir.path(), "c", &db, "");
    let from_env = serve_output(&config, &[("SYMBOLON_ACCESS_TTL", "soon")], &[]);
    assert_eq!(from_env.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&from_env.stderr);
    assert!(
        stderr.contains("access_ttl") && stderr.contains("SYMBOLON_ACCESS_TTL"),
        "{stderr}"
    );
    let from_flag = serve_output(&config, &[], &["--signing-alg", "none"]);
    assert_eq!(from_flag.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&from_flag.stderr).contains("signing_alg"));
    let unknown = write_config(dir.path(), "u", &db, "acces_ttl = 60");
    let from_file = serve_output(&unknown, &[], &[]);
    assert_eq!(from_file.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&from_file.stderr).contains("acces_ttl"));
}

#[tokio::test]
async fn the_environment_overrides_the_file_and_flags_override_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("symbolon.db").display());
    // The file says 900 s; the environment 600 s; a flag 300 s. The flag wins.
    let config = write_config(dir.path(), "c", &db, "access_ttl = 900");
    add_user(&config, "carol");
    for (env, flags, expected) in [
        (vec![], vec![], 900),
        (vec![("SYMBOLON_ACCESS_TTL", "10m")], vec![], 600),
        (
            vec![("SYMBOLON_ACCESS_TTL", "10m")],
            vec!["--access-ttl", "5m"],
            300,
        ),
    ] {
        let mut child = tokio::process::Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .args(&flags)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("serve");
        let url = listening(&mut child).await;
        let body: serde_json::Value = reqwest::Client::new()
            .post(format!("{url}/login"))
            .json(&serde_json::json!({"username": "carol", "password": PASSWORD}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("body");
        assert_eq!(body["expires_in"], expected, "env {env:?} flags {flags:?}");
        child.kill().await.expect("stop");
    }
}

/// `listen = "127.0.0.1:0"` without an `issuer`: the default issuer is the address the
/// system chose, not `http://127.0.0.1:0`.
#[tokio::test]
async fn port_zero_makes_the_chosen_address_the_default_issuer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("p0.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndatabase_url = \"sqlite://{}\"\nmaster_key_file = \"{}\"\n",
            dir.path().join("s.db").display(),
            dir.path().join("s.key").display()
        ),
    )
    .expect("config");
    let server = start_server(&config).await;
    let metadata: serde_json::Value = reqwest::get(format!(
        "{}/.well-known/oauth-authorization-server",
        server.url
    ))
    .await
    .expect("metadata")
    .json()
    .await
    .expect("json");
    assert_eq!(metadata["issuer"], server.url.as_str());
}
