//! What the server does with hostile connections: oversized bodies still get their 413,
//! clients that never finish their headers are closed, and the connection count is
//! capped. Raw sockets, because an HTTP client hides exactly these things.

use crate::helpers::{secs, spawn_with};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Reads until the peer closes or `deadline` passes; returns what arrived and whether
/// the peer closed.
async fn read_until_closed(stream: &mut TcpStream, deadline: Duration) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = Instant::now() + deadline;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            // A reset is a close too (the answer, if any, is what arrived before it).
            Ok(Err(_)) => return (got, true),
            Err(_) => return (got, false),
        }
    }
}

/// A client that sends its whole request before reading, and gives up when a write fails
/// (as Python's `http.client` does), gets the 413 for a body within the drain's 1 MiB:
/// the server reads the body before it answers and closes. Without the drain the server
/// closes with the body half sent and the client's write fails (broken pipe), every time.
/// The client's send buffer is small so that its kernel cannot take the whole body before
/// the server answers: on loopback it grows to megabytes, over a real network the bytes
/// in flight are as few.
#[tokio::test]
async fn an_oversized_body_written_whole_still_gets_its_413() {
    let app = spawn_with(|_| {}).await;
    // Well within the drain limit, and several times what a 16 KiB send buffer and the
    // server's unread receive buffer hold.
    let body = vec![b'a'; 768 * 1024];
    let mut request = format!(
        "POST /login HTTP/1.1\r\nHost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    for attempt in 0..10 {
        let socket = if app.addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .expect("a socket");
        socket
            .set_send_buffer_size(16 * 1024)
            .expect("a small send buffer");
        let mut stream = socket.connect(app.addr).await.expect("connect");
        if let Err(e) = stream.write_all(&request).await {
            panic!(
                "attempt {attempt}: writing the request failed ({e}): a client that reads \
                 only after writing never sees the answer"
            );
        }
        let (answer, _) = read_until_closed(&mut stream, Duration::from_millis(1500)).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.starts_with("HTTP/1.1 413"),
            "attempt {attempt}: {text:?}"
        );
        assert!(
            text.contains("invalid_request"),
            "attempt {attempt}: {text}"
        );
    }
    // Without a content-length (chunked), the same.
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let mut request = b"POST /login HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec();
    for _ in 0..10 {
        request.extend_from_slice(format!("{:x}\r\n", 10 * 1024).as_bytes());
        request.extend_from_slice(&[b'a'; 10 * 1024]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&request).await.unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_millis(1500)).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 413"));
}

/// A client that sends a header line now and then and never ends its headers is closed
/// after `header_read_timeout` (it used to be held open indefinitely).
#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_closed() {
    let app = spawn_with(|c| c.header_read_timeout = secs(1)).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    // One more header line every 300 ms, for up to 10 s, until the server hangs up.
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(10) {
        if stream.write_all(b"x-slow: 1\r\n").await.is_err() {
            closed = true;
            break;
        }
        let (_, hung_up) = read_until_closed(&mut stream, Duration::from_millis(300)).await;
        if hung_up {
            closed = true;
            break;
        }
    }
    assert!(closed, "still open after {:?}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed only after {:?}",
        started.elapsed()
    );
}

/// At most `max_connections` are served at once; one more is closed when accepted, and
/// a slot that frees up serves again.
#[tokio::test]
async fn connections_beyond_the_cap_are_closed() {
    let app = spawn_with(|c| c.max_connections = 2).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        // A complete request on each, so both are surely being served.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut third = TcpStream::connect(app.addr).await.unwrap();
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let (answer, closed) = read_until_closed(&mut third, Duration::from_secs(5)).await;
    assert!(
        closed && answer.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    drop(held.pop());
    // The freed slot serves again (the server notices the close asynchronously).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        let _ = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(2)).await;
        if String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot never served");
    }
}
