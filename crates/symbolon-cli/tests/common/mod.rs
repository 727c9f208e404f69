//! Running the real `symbolon` binary from tests: config files, `serve` processes that
//! are ready when their "listening" line appears, and admin commands.
#![allow(dead_code)] // Each test binary uses part of this.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_symbolon");
pub const PASSWORD: &str = "correct horse battery";

/// Writes `dir/<name>.toml` for a server listening on `127.0.0.1:0` (the system gives it
/// a free port when it binds, and [`start_server`] reads which from its log), cheap
/// Argon2, the shared master key of `dir`, a fixed issuer, and `extra` lines.
pub fn write_config(dir: &Path, name: &str, database_url: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let mut file = std::fs::File::create(&path).expect("config");
    write!(
        file,
        "listen = \"127.0.0.1:0\"\ndatabase_url = \"{database_url}\"\nmaster_key_file = \"{key}\"\n\
         issuer = \"http://symbolon.test\"\nargon2_memory_kib = 64\nargon2_iterations = 1\n{extra}\n",
        key = dir.join("symbolon.key").display(),
    )
    .expect("write config");
    path
}

/// How long a `symbolon serve` may take to say it is listening.
pub const START_DEADLINE: Duration = Duration::from_secs(60);

/// Waits (at most [`START_DEADLINE`]) for a `symbolon serve` child started with
/// `RUST_LOG=info` and a piped stderr to log `listening on http://ADDR`, and returns
/// `http://ADDR`. The rest of its log is drained in the background so the server never
/// blocks on a full pipe.
pub async fn listening(child: &mut Child) -> String {
    const MARK: &str = "listening on http://";
    let stderr = child.stderr.take().expect("stderr piped");
    let mut lines = BufReader::new(stderr).lines();
    let mut log = Vec::new();
    let found = tokio::time::timeout(START_DEADLINE, async {
        while let Some(line) = lines.next_line().await.expect("read log") {
            if let Some(at) = line.find(MARK) {
                return Some(line[at + MARK.len()..].trim().to_owned());
            }
            log.push(line);
        }
        None
    })
    .await;
    let addr = match found {
        Ok(Some(addr)) => addr,
        Ok(None) => panic!(
            "symbolon serve exited before listening; its log:\n{}",
            log.join("\n")
        ),
        Err(_) => panic!(
            "symbolon serve did not log {MARK:?} within {START_DEADLINE:?}; its log:\n{}",
            log.join("\n")
        ),
    };
    let addr: SocketAddr = addr
        .parse()
        .unwrap_or_else(|e| panic!("listening address {addr:?}: {e}"));
    assert_ne!(addr.port(), 0, "the bound port, not the configured 0");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    format!("http://{addr}")
}

/// A `symbolon serve` process.
pub struct Server {
    pub child: Child,
    pub url: String,
}

/// Starts `symbolon serve` and returns once it logs the address it listens on.
pub async fn start_server(config: &Path) -> Server {
    let mut child = Command::new(BIN)
        .args(["--config", config.to_str().expect("utf-8 path"), "serve"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn symbolon serve");
    let url = listening(&mut child).await;
    Server { child, url }
}

/// Runs a prepared `symbolon` command with `stdin` piped in and its output captured.
pub fn output(mut command: std::process::Command, stdin: &str) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn symbolon");
    // A command that stops before reading its input (a usage error) closes the pipe:
    // not a failure of the test, whose assertions are about the exit and the output.
    match child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("stdin: {e}"),
        _ => {}
    }
    child.wait_with_output().expect("symbolon ran")
}

/// Runs `symbolon --config CONFIG ARGS...` with `stdin`, asserts success, returns stdout.
pub fn run(config: &Path, args: &[&str], stdin: &str) -> String {
    let mut command = std::process::Command::new(BIN);
    command.arg("--config").arg(config).args(args);
    let output = output(command, stdin);
    assert!(
        output.status.success(),
        "symbolon {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

pub fn add_user(config: &Path, name: &str) {
    run(
        config,
        &["user", "add", name, "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
}

/// A bare HTTP/1.1 listener on its own thread that records the head (request line and
/// headers) and body of each request and answers every one with `response` (a status
/// line and headers; `content-length: 0` and `connection: close` are added): the
/// "other host" of the tests about where tokens and passwords go.
pub struct Recorder {
    pub addr: std::net::SocketAddr,
    seen: Seen,
}

/// The head and body of each request a [`Recorder`] received.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

impl Recorder {
    pub fn spawn(ip: &str, response: &str) -> Recorder {
        use std::io::Read;
        let listener = std::net::TcpListener::bind((ip, 0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen: Seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (record, response) = (seen.clone(), response.to_owned());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                let head_end = loop {
                    if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(i);
                    }
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break None,
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                    }
                };
                let Some(head_end) = head_end else { continue };
                let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
                let mut body = data[head_end + 4..].to_vec();
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (n, v) = l.split_once(':')?;
                        n.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                while body.len() < length {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => body.extend_from_slice(&buf[..n]),
                    }
                }
                record.lock().expect("lock").push((head, body));
                let _ = stream.write_all(
                    format!("{response}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        Recorder { addr, seen }
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests arrived.
    pub fn count(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }

    /// Whether any request arrived with an `Authorization` header.
    pub fn saw_authorization(&self) -> bool {
        self.seen.lock().expect("lock").iter().any(|(head, _)| {
            head.lines()
                .any(|l| l.to_ascii_lowercase().starts_with("authorization:"))
        })
    }

    /// Whether any request's body contained `needle`.
    pub fn saw_in_body(&self, needle: &str) -> bool {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .any(|(_, body)| body.windows(needle.len()).any(|w| w == needle.as_bytes()))
    }
}
