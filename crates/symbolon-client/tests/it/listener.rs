//! A bare HTTP/1.1 listener that records what it receives and answers what the test
//! says: the "other host" of the origin and redirect tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The request line and headers.
    pub head: String,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The value of header `name`, if the request had it.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// A listener on `ip`, port chosen by the system.
pub struct Recorder {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    /// Starts answering every request with `respond(request)` (a whole response head and
    /// body; `Content-Length` and `Connection: close` are added).
    pub async fn spawn(
        ip: &str,
        respond: impl Fn(&Recorded) -> (String, String) + Send + Sync + 'static,
    ) -> Recorder {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond = Arc::new(respond);
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (seen, respond) = (seen.clone(), respond.clone());
                tokio::spawn(async move {
                    let mut data = Vec::new();
                    let mut buf = [0u8; 4096];
                    let head_end = loop {
                        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i;
                        }
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => data.extend_from_slice(&buf[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
                    let mut request = Recorded {
                        head,
                        body: data[head_end + 4..].to_vec(),
                    };
                    let length: usize = request
                        .header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    while request.body.len() < length {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => request.body.extend_from_slice(&buf[..n]),
                        }
                    }
                    let (head, body) = respond(&request);
                    seen.lock().expect("lock").push(request);
                    let response = format!(
                        "{head}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Recorder { addr, requests }
    }

    /// Answers 200 `{}` to everything.
    pub async fn ok(ip: &str) -> Recorder {
        Self::spawn(ip, |_| {
            (
                "HTTP/1.1 200 OK\r\ncontent-type: application/json".into(),
                "{}".into(),
            )
        })
        .await
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What arrived so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }

    /// Whether any request arrived with an `Authorization` header.
    pub fn saw_authorization(&self) -> bool {
        self.requests()
            .iter()
            .any(|r| r.header("authorization").is_some())
    }
}
