//! The client commands of the real `symbolon` binary against a real `symbolon serve`:
//! login, whoami, token, request (with a refresh after the access token expired),
//! sessions, logout, and the exit codes.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};
use symbolon_testkit::TestServer;

/// Runs `symbolon ARGS...` as a client with its own directory and `stdin`.
fn client(dir: &Path, args: &[&str], stdin: &str, passphrase: Option<&str>) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("SYMBOLON_CLIENT_DIR", dir)
        // These tests are about the fallbacks (and must not leave keys in the keyrings of
        // the machine that runs them); tests/keyring.rs tests the keyrings.
        .env("SYMBOLON_KEYRING", "off")
        .env_remove("SYMBOLON_PASSPHRASE");
    if let Some(p) = passphrase {
        command.env("SYMBOLON_PASSPHRASE", p);
    }
    output(command, stdin)
}

/// `symbolon login --profile PROFILE --server URL --username USER --password-stdin`,
/// with `password` on stdin.
fn login(
    dir: &Path,
    profile: &str,
    url: &str,
    user: &str,
    password: &str,
    passphrase: Option<&str>,
) -> Output {
    client(
        dir,
        &[
            "login",
            "--profile",
            profile,
            "--server",
            url,
            "--username",
            user,
            "--password-stdin",
        ],
        &format!("{password}\n"),
        passphrase,
    )
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// How many refreshes the server at `url` counted as rotations.
async fn rotated(url: &str) -> u64 {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix("symbolon_refresh_total{outcome=\"rotated\"} "))
        .map(|n| n.trim().parse().expect("counter"))
        .unwrap_or(0)
}

/// A port nothing listens on (only ever refused before anything is sent to it).
fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

async fn me_status(url: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{url}/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("me")
        .status()
        .as_u16()
}

/// Runs a blocking client command from a test whose server runs on the test's own
/// runtime: the worker is handed over while the command runs, so the server keeps
/// answering.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_request_refresh_logout() {
    // The real client binary against the test kit's server, in this process: its clock
    // is a manual one, so the access token expires when the test moves the clock, with
    // no wall-clock wait (a `symbolon serve` process would need real seconds to pass).
    let app = TestServer::spawn().await;
    app.add_user("alice", PASSWORD).await;
    let url = app.url.clone();
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("client-home");

    let logged_in = blocking(|| login(&home, "default", &url, "alice", PASSWORD, None));
    assert!(ok(&logged_in).contains("logged in as alice"));
    assert!(
        stderr(&logged_in).contains("weaker protection"),
        "the key-file fallback is announced: {}",
        stderr(&logged_in)
    );

    assert!(ok(&blocking(|| client(&home, &["whoami"], "", None))).starts_with("alice at "));

    let token = ok(&blocking(|| client(&home, &["token"], "", None)))
        .trim()
        .to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let tokens_file = home.join("default.tokens");
    let raw = std::fs::read(&tokens_file).expect("token file");
    assert!(
        !raw.windows(token.len()).any(|w| w == token.as_bytes()),
        "token in clear"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&tokens_file)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    let me = format!("{url}/me");
    let body = ok(&blocking(|| {
        client(&home, &["request", "GET", &me], "", None)
    }));
    assert!(body.contains("\"alice\""), "{body}");
    assert_eq!(
        app.refreshes("rotated"),
        0,
        "no refresh while the token is good"
    );

    // The access token expires on the server; the client's request gets a 401, refreshes
    // once and retries.
    app.expire_access_tokens();
    assert_eq!(
        me_status(&url, &token).await,
        401,
        "the old access token has expired"
    );
    let body = ok(&blocking(|| client(&home, &["request", &me], "", None)));
    assert!(body.contains("\"alice\""), "{body}");
    assert_eq!(app.refreshes("rotated"), 1, "refreshed once");

    let sessions = ok(&blocking(|| client(&home, &["sessions"], "", None)));
    assert!(sessions.contains("(this one)"), "{sessions}");

    assert!(ok(&blocking(|| client(&home, &["logout"], "", None))).contains("logged out"));
    let whoami = blocking(|| client(&home, &["whoami"], "", None));
    assert_eq!(whoami.status.code(), Some(3), "{}", stderr(&whoami));
    assert_eq!(
        blocking(|| client(&home, &["token"], "", None))
            .status
            .code(),
        Some(3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_profiles_and_passphrase() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("symbolon.db").display());
    let config = write_config(dir.path(), "client", &db, "");
    add_user(&config, "bob");
    let server = start_server(&config).await;
    let home = dir.path().join("client-home");

    // Usage errors exit 2; a profile that never logged in exits 3.
    assert_eq!(client(&home, &["request"], "", None).status.code(), Some(2));
    assert_eq!(
        client(&home, &["login", "--password-stdin"], "x\n", None)
            .status
            .code(),
        Some(2),
        "--password-stdin needs --username"
    );
    assert_eq!(
        client(&home, &["whoami", "--profile", "nobody"], "", None)
            .status
            .code(),
        Some(3)
    );
    // A wrong password is a plain failure.
    let wrong = login(&home, "default", &server.url, "bob", "nope nope nope", None);
    assert_eq!(wrong.status.code(), Some(1), "{}", stderr(&wrong));

    // A passphrase-protected profile, kept apart from the default one.
    let logged_in = login(
        &home,
        "work",
        &server.url,
        "bob",
        PASSWORD,
        Some("a long passphrase"),
    );
    ok(&logged_in);
    assert!(
        stderr(&logged_in).contains("SYMBOLON_PASSPHRASE"),
        "{}",
        stderr(&logged_in)
    );
    assert!(home.join("work.salt").exists() && !home.join("work.key").exists());
    assert!(ok(&client(
        &home,
        &["whoami", "--profile", "work"],
        "",
        Some("a long passphrase")
    ))
    .starts_with("bob at "));
    // Profile names are case-insensitive on every platform.
    assert!(ok(&client(
        &home,
        &["whoami", "--profile", "WORK"],
        "",
        Some("a long passphrase")
    ))
    .starts_with("bob at "));
    assert!(!home.join("WORK.json").exists());
    assert_eq!(
        client(&home, &["whoami"], "", None).status.code(),
        Some(3),
        "the default profile is not logged in"
    );
    // The profile remembers where its key is, and a run without the passphrase asks for
    // it instead of making a key file that cannot open the tokens.
    let profile = std::fs::read_to_string(home.join("work.json")).expect("profile");
    assert!(profile.contains(r#""key": "passphrase""#), "{profile}");
    let without = client(&home, &["whoami", "--profile", "work"], "", None);
    assert_eq!(without.status.code(), Some(1), "{}", stderr(&without));
    assert!(
        stderr(&without).contains("set SYMBOLON_PASSPHRASE"),
        "{}",
        stderr(&without)
    );
    assert!(!home.join("work.key").exists(), "no new key");
    assert!(
        home.join("work.tokens").exists(),
        "the tokens are left alone"
    );

    // The wrong passphrase cannot decrypt: the file is moved aside, and it says so.
    let wrong = client(
        &home,
        &["whoami", "--profile", "work"],
        "",
        Some("another passphrase"),
    );
    assert_eq!(wrong.status.code(), Some(3));
    assert!(stderr(&wrong).contains("moved to"), "{}", stderr(&wrong));
    let aside = std::fs::read_dir(&home)
        .expect("ls")
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("work.tokens.corrupt-")
        });
    assert!(aside, "the unreadable file is kept");

    // A key file that is gone means logging in again (exit 3), and the tokens are left
    // where they are for the next login to replace.
    ok(&login(&home, "lab", &server.url, "bob", PASSWORD, None));
    std::fs::remove_file(home.join("lab.key")).expect("key file");
    let lost = client(&home, &["whoami", "--profile", "lab"], "", None);
    assert_eq!(lost.status.code(), Some(3), "{}", stderr(&lost));
    assert!(
        stderr(&lost).contains("lab.key is missing"),
        "{}",
        stderr(&lost)
    );
    assert!(home.join("lab.tokens").exists() && !home.join("lab.key").exists());

    // A damaged profile file is a failure that says so, not "never logged in".
    std::fs::write(home.join("junk.json"), "{not json").expect("write");
    let junk = client(&home, &["whoami", "--profile", "junk"], "", None);
    assert_eq!(junk.status.code(), Some(1), "{}", stderr(&junk));
    assert!(
        stderr(&junk).contains("cannot read profile junk"),
        "{}",
        stderr(&junk)
    );

    // A profile name is checked before anything is sent or written.
    let bad = login(&home, "../escape", &server.url, "bob", PASSWORD, None);
    assert_eq!(bad.status.code(), Some(2), "a usage error");
    assert!(!dir.path().join("escape.tokens").exists() && !dir.path().join("escape.key").exists());
}

/// `request` sends the token to the profile's server only, and to hosts given with
/// `--allow-host`: a URL on another origin is refused (exit 2) with nothing sent, and
/// nothing refreshed. Cleartext `http://` off this machine needs `--allow-http`, at login
/// too (docs/API.md §4.2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_goes_only_to_allowed_origins() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("symbolon.db").display());
    let config = write_config(dir.path(), "client", &db, "");
    add_user(&config, "alice");
    let server = start_server(&config).await;
    let url = server.url.clone();
    let home = dir.path().join("client-home");
    ok(&login(&home, "default", &url, "alice", PASSWORD, None));

    // Another origin on 127.0.0.2 that says the token is invalid, as a thief would.
    let other = Recorder::spawn(
        "127.0.0.2",
        "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer error=\"invalid_token\"",
    );
    let foreign = format!("{}/x", other.url());
    let before = rotated(&url).await;
    let refused = client(&home, &["request", "GET", &foreign], "", None);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains(&format!("--allow-host {}", other.addr)),
        "{}",
        stderr(&refused)
    );
    // Another port of the server's own host is another origin as well.
    let port = client(
        &home,
        &["request", &format!("http://127.0.0.1:{}/x", unused_port())],
        "",
        None,
    );
    assert_eq!(port.status.code(), Some(2), "{}", stderr(&port));
    // A host without its port allows the scheme's default port only.
    let portless = client(
        &home,
        &["request", &foreign, "--allow-host", "127.0.0.2"],
        "",
        None,
    );
    assert_eq!(portless.status.code(), Some(2), "{}", stderr(&portless));
    assert_eq!(other.count(), 0, "nothing was sent to the other origin");
    assert_eq!(rotated(&url).await, before, "nothing was refreshed");

    // Allowed explicitly, it gets the token.
    let allowed = client(
        &home,
        &["request", &foreign, "--allow-host", &other.addr.to_string()],
        "",
        None,
    );
    assert_eq!(
        allowed.status.code(),
        Some(1),
        "a 401: {}",
        stderr(&allowed)
    );
    assert!(other.saw_authorization());

    // Paths and the server's own URLs still work.
    assert!(ok(&client(&home, &["request", "/me"], "", None)).contains("\"alice\""));
    assert!(ok(&client(&home, &["request", &format!("{url}/me")], "", None)).contains("\"alice\""));

    // Cleartext to a host that is not this machine is refused before any prompt or
    // connection, unless allowed.
    let cleartext = login(
        &home,
        "remote",
        "http://symbolon.invalid:8080",
        "alice",
        PASSWORD,
        None,
    );
    assert_eq!(cleartext.status.code(), Some(2), "{}", stderr(&cleartext));
    assert!(
        stderr(&cleartext).contains("--allow-http"),
        "{}",
        stderr(&cleartext)
    );
    assert!(!home.join("remote.json").exists());
    let request = client(
        &home,
        &[
            "request",
            "http://symbolon.invalid/x",
            "--allow-host",
            "symbolon.invalid",
        ],
        "",
        None,
    );
    assert_eq!(request.status.code(), Some(2), "{}", stderr(&request));
    assert!(
        stderr(&request).contains("--allow-http"),
        "{}",
        stderr(&request)
    );
}

/// `login --server` against a server that answers 307 to another host: the password is
/// not sent there, and the login fails (exit 1).
#[test]
fn login_does_not_follow_a_redirect() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sink = Recorder::spawn("127.0.0.2", "HTTP/1.1 200 OK");
    let redirect = Recorder::spawn(
        "127.0.0.1",
        &format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: {}/stolen",
            sink.url()
        ),
    );
    let home = dir.path().join("client-home");
    let out = login(&home, "default", &redirect.url(), "alice", PASSWORD, None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("redirect"), "{}", stderr(&out));
    assert_eq!(redirect.count(), 1, "the login was sent to the server");
    assert!(
        sink.count() == 0 && !sink.saw_in_body(PASSWORD),
        "the password went to the other host"
    );
}

/// A client directory that group or others can write to is refused before anything is
/// read, asked or sent (docs/API.md §4.2).
#[test]
fn a_client_directory_others_can_write_to_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("client-home");
    std::fs::create_dir(&home).expect("dir");
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let server = Recorder::spawn("127.0.0.1", "HTTP/1.1 500 Internal Server Error");
    let out = login(&home, "default", &server.url(), "alice", PASSWORD, None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("group or others can write to it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.count(), 0, "nothing was sent");
    let whoami = client(&home, &["whoami"], "", None);
    assert_eq!(whoami.status.code(), Some(1), "{}", stderr(&whoami));
}

/// A login over a working profile: a mistyped password leaves the profile working (the
/// old session used to be ended before the new login was tried), and a successful login
/// ends the old session only after the new one is saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_over_a_profile_ends_the_old_session_only_once_the_new_one_is_saved() {
    let app = TestServer::spawn().await;
    app.add_user("alice", PASSWORD).await;
    let url = app.url.clone();
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("client-home");
    ok(&blocking(|| {
        login(&home, "default", &url, "alice", PASSWORD, None)
    }));
    let old_token = ok(&blocking(|| client(&home, &["token"], "", None)))
        .trim()
        .to_owned();

    let mistyped = blocking(|| login(&home, "default", &url, "alice", "not the password", None));
    assert_eq!(mistyped.status.code(), Some(1), "{}", stderr(&mistyped));
    assert!(stderr(&mistyped).contains("wrong username or password"));
    assert!(
        ok(&blocking(|| client(&home, &["whoami"], "", None))).starts_with("alice at "),
        "the profile still works after a failed login"
    );
    assert_eq!(
        me_status(&url, &old_token).await,
        200,
        "the old session lives"
    );

    ok(&blocking(|| {
        login(&home, "default", &url, "alice", PASSWORD, None)
    }));
    assert!(ok(&blocking(|| client(&home, &["whoami"], "", None))).starts_with("alice at "));
    assert_eq!(
        me_status(&url, &old_token).await,
        401,
        "the replaced session was ended"
    );
    assert_eq!(app.refreshes("reuse_detected"), 0);
}
