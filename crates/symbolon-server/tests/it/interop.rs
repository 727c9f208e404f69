//! Third-party JWT libraries verify symbolon's access tokens: jose (Node.js) runs
//! `interop/node/verify.mjs` and PyJWT (Python) runs `interop/python/verify.py`, the
//! snippets of docs/PROTECTING-YOUR-API.md, against a real server. Each finds the JWKS
//! through the RFC 8414 metadata, as a resource server would, and must accept a real
//! token and refuse a bad signature, a wrong audience and a `typ` other than `at+jwt`.
//!
//! Needs `node` with `npm ci --prefix interop/node` done, and `python3` with
//! `pip install -r interop/python/requirements.txt` done. Without them the test says so
//! and returns, unless `SYMBOLON_TEST_INTEROP=required` (set by `.ci/run`): then it fails.
//!
//! The libraries check `exp` and `iat` against the real clock, so the server's clock is
//! stopped at the real time rather than the test kit's `T0`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use symbolon_core::keys::SigningAlg;
use symbolon_testkit::TestServer;
use tokio::io::AsyncWriteExt;

const AUDIENCE: &str = "symbolon";
const PASSWORD: &str = "correct horse battery";

/// A third-party verifier: a program running one of the interop scripts.
struct Library {
    name: &'static str,
    program: &'static str,
    script: PathBuf,
    /// What it prints first on stderr for: a bad signature, a wrong audience, a bad `typ`.
    refusals: [&'static str; 3],
}

/// The repository root (this crate is `crates/symbolon-server`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the repository root")
        .to_path_buf()
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The two libraries, or `None` after saying what to install (a panic instead when
/// `SYMBOLON_TEST_INTEROP=required`).
fn libraries() -> Option<[Library; 2]> {
    let root = repo_root();
    let mut missing = Vec::new();
    if !runs("node", &["--version"]) {
        missing.push(
            "Node.js: `node` is not on PATH; install Node.js 20 or later with npm, \
             then run `npm ci --prefix interop/node`",
        );
    } else if !root.join("interop/node/node_modules/jose").is_dir() {
        missing.push(
            "jose: interop/node/node_modules/jose is missing; \
             run `npm ci --prefix interop/node`",
        );
    }
    if !runs("python3", &["-c", "import jwt"]) {
        missing.push(
            "PyJWT: `python3 -c 'import jwt'` fails; \
             run `pip install -r interop/python/requirements.txt` (with python3's pip)",
        );
    }
    if !missing.is_empty() {
        let why = format!("the interop test cannot run. {}", missing.join(". "));
        assert!(
            std::env::var("SYMBOLON_TEST_INTEROP").map_or(true, |v| v != "required"),
            "SYMBOLON_TEST_INTEROP=required, but {why}"
        );
        eprintln!(
            "skipped: {why} (from the repository root; .ci/run does this and requires the test)"
        );
        return None;
    }
    Some([
        Library {
            name: "jose (Node.js)",
            program: "node",
            script: root.join("interop/node/verify.mjs"),
            refusals: [
                "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
                "ERR_JWT_CLAIM_VALIDATION_FAILED",
                "ERR_JWT_CLAIM_VALIDATION_FAILED",
            ],
        },
        Library {
            name: "PyJWT (Python)",
            program: "python3",
            script: root.join("interop/python/verify.py"),
            refusals: [
                "InvalidSignatureError",
                "InvalidAudienceError",
                "InvalidTokenError",
            ],
        },
    ])
}

/// What a verifier printed, and its exit code.
struct Verdict {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}, stdout {:?}, stderr {:?}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `library`'s script: `PROGRAM SCRIPT ISSUER AUDIENCE < token`.
async fn verify(library: &Library, issuer: &str, audience: &str, token: &str) -> Verdict {
    let mut child = tokio::process::Command::new(library.program)
        .arg(&library.script)
        .args([issuer, audience])
        // The server is on loopback: no proxy in between (Python's urllib honours these).
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{}: cannot start {}: {e}", library.name, library.program));
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(token.as_bytes())
        .await
        .expect("write token");
    drop(stdin);
    // The server answers the script's requests from this runtime while this awaits.
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} did not finish within 60 s", library.name))
        .expect("verifier output");
    Verdict {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Asserts that `library` accepts `token` and returns the claims it printed.
async fn accepted(library: &Library, issuer: &str, token: &str, case: &str) -> Value {
    let verdict = verify(library, issuer, AUDIENCE, token).await;
    assert_eq!(verdict.code, Some(0), "{}: {case}: {verdict}", library.name);
    serde_json::from_str(verdict.stdout.trim())
        .unwrap_or_else(|e| panic!("{}: {case}: not JSON ({e}): {verdict}", library.name))
}

/// Asserts that `library` refuses `token` (exit 1) with the error `expected`.
async fn refused(
    library: &Library,
    issuer: &str,
    audience: &str,
    token: &str,
    expected: &str,
    case: &str,
) {
    let verdict = verify(library, issuer, audience, token).await;
    assert_eq!(
        verdict.code,
        Some(1),
        "{}: {case} was not refused: {verdict}",
        library.name
    );
    assert!(
        verdict.stderr.starts_with(expected),
        "{}: {case}: expected {expected}: {verdict}",
        library.name
    );
}

fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// The token with one character in the middle of its signature changed (the last
/// character may carry unused bits, so it is not the one changed).
fn flip_signature_character(token: &str) -> String {
    let start = token.rfind('.').expect("a signature") + 1;
    let at = start + (token.len() - start) / 2;
    let mut bytes = token.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ASCII")
}

/// The token's payload under `header`, signed with the server's current key.
fn resigned(server: &TestServer, token: &str, header: &Value) -> String {
    let payload = token.split('.').nth(1).expect("a payload");
    let input = format!(
        "{}.{payload}",
        URL_SAFE_NO_PAD.encode(header.to_string().as_bytes())
    );
    let keys = server.service().keys().key_set();
    let signature = keys.current().sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A server signing with `alg`, its clock at the real time, its issuer its own URL (the
/// scripts fetch `{issuer}/.well-known/oauth-authorization-server`).
async fn spawn_server(alg: SigningAlg) -> (TestServer, String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let server =
        TestServer::spawn_with(i64::try_from(now).expect("now"), |c| c.signing_alg = alg).await;
    // The port is known once it listens: restart on it with the issuer naming it.
    let issuer = server.url.clone();
    let mut config = server.config.clone();
    config.issuer = Some(symbolon_server::config::Issuer::parse(&issuer).expect("issuer"));
    let server = server.restart_with(config).await;
    (server, issuer)
}

async fn login(server: &TestServer) -> (String, Value) {
    let response = server
        .http
        .post(format!("{}/login", server.url))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .expect("login request");
    assert_eq!(response.status(), StatusCode::OK, "login");
    let body: Value = response.json().await.expect("token response");
    let access = body["access_token"].as_str().expect("access_token");
    (access.to_owned(), body)
}

async fn published_keys(server: &TestServer) -> Vec<Value> {
    let response = server
        .http
        .get(format!("{}/.well-known/jwks.json", server.url))
        .send()
        .await
        .expect("JWKS request");
    assert_eq!(response.status(), StatusCode::OK, "JWKS");
    let jwks: Value = response.json().await.expect("JWKS");
    jwks["keys"].as_array().expect("keys").clone()
}

#[tokio::test]
async fn jose_and_pyjwt_verify_access_tokens_for_every_published_algorithm() {
    let Some(libraries) = libraries() else {
        return;
    };
    for alg in [
        SigningAlg::EdDSA,
        SigningAlg::ES256,
        SigningAlg::RS256,
        SigningAlg::HS256,
    ] {
        let (server, issuer) = spawn_server(alg).await;
        let user_id = server.add_user("alice", PASSWORD).await;
        let (token, body) = login(&server).await;
        let alg = alg.as_str();
        assert_eq!(decode_part(&token, 0)["alg"], alg);
        if alg == "HS256" {
            // HS256 keys never leave the server: there is nothing a third party could
            // verify with, so only symbolon (and introspection) can check these tokens.
            assert_eq!(published_keys(&server).await, Vec::<Value>::new(), "HS256");
            continue;
        }
        let claims = decode_part(&token, 1);
        assert_eq!(claims["sub"], user_id.as_str(), "{alg}");
        assert_eq!(claims["sid"], body["session_id"], "{alg}");
        assert_eq!(claims["iss"], issuer.as_str(), "{alg}");
        assert_eq!(claims["aud"], AUDIENCE, "{alg}");

        let header = decode_part(&token, 0);
        let kid = header["kid"].clone();
        let with_typ = |typ: &str| json!({"alg": alg, "typ": typ, "kid": kid});
        let bad_signature = flip_signature_character(&token);
        let typ_jwt = resigned(&server, &token, &with_typ("JWT"));
        // Controls for the re-signing path: the real header, and the media-type spelling
        // RFC 9068 also allows, verify; so the `typ` refusal is for the `typ` alone.
        let controls = [
            (
                "the real header re-signed",
                resigned(&server, &token, &header),
            ),
            (
                "typ application/at+jwt",
                resigned(&server, &token, &with_typ("application/at+jwt")),
            ),
        ];

        for library in &libraries {
            let case = format!("{alg} token");
            let verified = accepted(library, &issuer, &token, &case).await;
            for claim in ["sub", "sid", "iss", "aud"] {
                assert_eq!(
                    verified[claim], claims[claim],
                    "{}: {case}: {claim} in {verified}",
                    library.name
                );
            }
            for (what, control) in &controls {
                accepted(library, &issuer, control, &format!("{alg}: {what}")).await;
            }
            let [signature, audience, typ] = library.refusals;
            #[rustfmt::skip]
            let cases = [
                ("a flipped signature character", AUDIENCE, bad_signature.as_str(), signature),
                ("another audience", "another-api", token.as_str(), audience),
                ("typ JWT, signed by the server's key", AUDIENCE, typ_jwt.as_str(), typ),
            ];
            for (what, audience, token, expected) in cases {
                let case = format!("{alg}: {what}");
                refused(library, &issuer, audience, token, expected, &case).await;
            }
        }
    }
}

/// docs/PROTECTING-YOUR-API.md shows the two scripts whole, as code blocks: what readers
/// copy is what the test above runs.
#[test]
fn the_docs_show_the_tested_verifiers_verbatim() {
    let root = repo_root();
    let read = |path: &str| {
        std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let page = read("docs/PROTECTING-YOUR-API.md");
    for (path, fence) in [
        ("interop/node/verify.mjs", "```js\n"),
        ("interop/python/verify.py", "```python\n"),
        ("examples/api/src/lib.rs", "```rust\n"),
    ] {
        let block = format!("{fence}{}```\n", read(path));
        assert!(
            page.contains(&block),
            "docs/PROTECTING-YOUR-API.md does not show {path} as it is; paste it again"
        );
    }
}
