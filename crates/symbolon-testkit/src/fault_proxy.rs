//! A TCP proxy whose link can be made slow, stalled, reset or cut while it runs.
//!
//! [`FaultProxy`] listens on `127.0.0.1:0` and forwards every connection to one upstream
//! address, byte for byte: it knows no protocol, so it fits in front of PostgreSQL as well
//! as in front of an HTTP server. [`FaultProxy::set`] changes what the link does, at any
//! time, for the connections open then and the ones that come later:
//!
//! | [`Fault`] | open connections | new connections |
//! |---|---|---|
//! | [`Pass`](Fault::Pass) | bytes pass as they come | accepted, connected upstream |
//! | [`Latency(d)`](Fault::Latency) | each chunk read on either side is written to the other `d` later (chunks keep their order; `d` is added once, not per chunk queued) | as open ones |
//! | [`Stall`](Fault::Stall) | stay open; what they send is read and held, nothing is forwarded | accepted and held, not yet connected upstream |
//! | [`Reset`](Fault::Reset) | closed with a TCP RST (`SO_LINGER` 0) on both sides | accepted and reset at once |
//! | [`Partition`](Fault::Partition) | as for a stall: like a cut cable, nothing arrives and nothing is refused | not accepted (see below) |
//! | [`HoldAnswers`](Fault::HoldAnswers) | what the client sends passes; what the upstream sends back is read and held | as open ones |
//! | [`SlowAnswers(d)`](Fault::SlowAnswers) | what the client sends passes; each chunk the upstream sends back is written `d` later | as open ones |
//!
//! Going back to `Pass` (or `Latency`) heals the link: held bytes are forwarded in order,
//! held connections connect upstream, the listener accepts again. A connection that
//! survives a stall or a partition is the same TCP connection as before it, as after a
//! real cable is plugged back in.
//!
//! During a partition the proxy stops accepting; the kernel still completes the handshake
//! of up to [`BACKLOG`] connections that wait in the listener's queue (their bytes then go
//! unanswered until the link heals), and gives no answer to the SYN of any further one,
//! so those connects hang as they would across a cut cable.
//!
//! [`reset`](FaultProxy::reset) resets the connections open at that moment once, and
//! leaves the fault as it was. [`stats`](FaultProxy::stats) counts connections and bytes;
//! [`wait_until`](FaultProxy::wait_until) awaits a condition on them (for example, that a
//! request has reached the proxy and is held), so tests synchronise on events rather than
//! on sleeps. The only timers in the proxy are the latency it injects.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How many connections the kernel queues for the proxy while it does not accept (during
/// a [`Fault::Partition`]); further connects get no answer to their SYN.
pub const BACKLOG: u32 = 16;

/// Bytes read at once from either side.
const CHUNK: usize = 16 * 1024;
/// Chunks read ahead of the writer (held during a stall, delayed under latency), per
/// direction and connection: what exceeds them stays in the kernel's buffers.
const QUEUED_CHUNKS: usize = 64;

/// What the link does; see the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bytes pass as they come.
    Pass,
    /// Every chunk read on either side is written to the other this much later.
    Latency(Duration),
    /// Connections are accepted and stay open; nothing is forwarded.
    Stall,
    /// Every connection, open or new, is closed with a TCP RST on both sides.
    Reset,
    /// A cut cable: open connections stall, new ones are not accepted.
    Partition,
    /// Requests reach the upstream, answers do not come back (they are held until the
    /// link heals): the server acted, the client never hears of it.
    HoldAnswers,
    /// Requests pass at once; every chunk of an answer is written this much later.
    SlowAnswers(Duration),
}

impl Fault {
    fn forwards(self, direction: Direction) -> bool {
        match self {
            Fault::Pass | Fault::Latency(_) | Fault::SlowAnswers(_) => true,
            Fault::HoldAnswers => matches!(direction, Direction::Up),
            Fault::Stall | Fault::Reset | Fault::Partition => false,
        }
    }

    fn latency(self, direction: Direction) -> Duration {
        match (self, direction) {
            (Fault::Latency(d), _) | (Fault::SlowAnswers(d), Direction::Down) => d,
            _ => Duration::ZERO,
        }
    }
}

/// Bytes of one direction of the proxy's connections, since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flow {
    /// Read from the sending side.
    pub received: u64,
    /// Written to the receiving side. `received - forwarded` is held or delayed.
    pub forwarded: u64,
}

/// What the proxy has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted (including those reset at once).
    pub accepted: u64,
    /// Connections open now (accepted and not yet closed on both sides).
    pub open: u64,
    /// Connections that this proxy closed with a RST ([`Fault::Reset`],
    /// [`FaultProxy::reset`], or an error on the other side).
    pub reset: u64,
    /// Upstream connections that could not be made (the client was then reset).
    pub upstream_refused: u64,
    /// Client to upstream.
    pub up: Flow,
    /// Upstream to client.
    pub down: Flow,
}

/// A TCP proxy on `127.0.0.1` in front of one upstream address, with faults to inject;
/// see the [module documentation](self). Dropping it closes the listener and every
/// connection.
pub struct FaultProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

struct Shared {
    upstream: SocketAddr,
    fault: watch::Sender<Fault>,
    stats: watch::Sender<Stats>,
    conns: Mutex<HashMap<u64, Killer>>,
    next_id: AtomicU64,
}

/// The handle by which a connection is reset from outside its task.
struct Killer {
    kill: oneshot::Sender<()>,
    closed: oneshot::Receiver<()>,
}

impl FaultProxy {
    /// A proxy on `127.0.0.1:0` forwarding to `upstream`, passing bytes through.
    pub async fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let listener = socket.listen(BACKLOG)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            fault: watch::Sender::new(Fault::Pass),
            stats: watch::Sender::new(Stats::default()),
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FaultProxy {
            addr,
            upstream,
            shared,
            accept,
        })
    }

    /// The address to connect to instead of the upstream one.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The upstream address.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// `url` with its `host:port` replaced by the proxy's address, for URLs of the
    /// upstream (`postgres://user@127.0.0.1:5432/db`, `http://127.0.0.1:8080/x`). Panics
    /// if the upstream's `host:port` is not in `url`.
    pub fn proxied_url(&self, url: &str) -> String {
        let upstream = self.upstream.to_string();
        assert!(
            url.contains(&upstream),
            "{url} does not name the upstream {upstream}"
        );
        url.replacen(&upstream, &self.addr.to_string(), 1)
    }

    /// The fault in force.
    pub fn fault(&self) -> Fault {
        *self.shared.fault.borrow()
    }

    /// Changes what the link does from now on. With [`Fault::Reset`], returns once every
    /// connection open at the call has been reset.
    pub async fn set(&self, fault: Fault) {
        self.shared.fault.send_replace(fault);
        if fault == Fault::Reset {
            self.reset().await;
        }
    }

    /// Back to [`Fault::Pass`].
    pub async fn heal(&self) {
        self.set(Fault::Pass).await;
    }

    /// Resets (RST on both sides) every connection open now, and returns how many once
    /// they are closed. The fault in force does not change, and new connections are
    /// accepted as it says.
    pub async fn reset(&self) -> usize {
        let killers: Vec<Killer> = {
            let mut conns = self.shared.conns.lock().expect("connections");
            conns.drain().map(|(_, k)| k).collect()
        };
        let mut closing = Vec::with_capacity(killers.len());
        for killer in killers {
            // A connection whose task has already ended has nothing left to reset.
            if killer.kill.send(()).is_ok() {
                closing.push(killer.closed);
            }
        }
        let count = closing.len();
        for closed in closing {
            let _ = closed.await;
        }
        count
    }

    /// The counts so far.
    pub fn stats(&self) -> Stats {
        *self.shared.stats.borrow()
    }

    /// Waits until `condition` holds for the counts (at once if it holds now), and
    /// returns them. Bound it with a timeout in tests: it waits for as long as it takes.
    pub async fn wait_until(&self, mut condition: impl FnMut(&Stats) -> bool) -> Stats {
        let mut stats = self.shared.stats.subscribe();
        let seen = *stats
            .wait_for(|s| condition(s))
            .await
            .expect("the proxy keeps its counts while it exists");
        seen
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // The accept task owns the connection tasks: aborting it drops them all.
        self.accept.abort();
    }
}

impl Shared {
    fn count(&self, change: impl FnOnce(&mut Stats)) {
        self.stats.send_modify(change);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut tasks = JoinSet::new();
    let mut fault = shared.fault.subscribe();
    loop {
        // Not while partitioned: the kernel queues what it can, then drops SYNs.
        if fault.wait_for(|f| *f != Fault::Partition).await.is_err() {
            return;
        }
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            // Re-check the fault: a partition stops accepting at once.
            changed = fault.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
            // Reap finished connection tasks so that the set does not grow.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let Ok((client, _)) = accepted else {
            // EMFILE and the like: try again (the proxy is a test fixture; a busy loop
            // here would show in the test that caused it).
            tokio::task::yield_now().await;
            continue;
        };
        shared.count(|s| {
            s.accepted += 1;
            s.open += 1;
        });
        if *shared.fault.borrow() == Fault::Reset {
            rst(&client);
            drop(client);
            shared.count(|s| {
                s.reset += 1;
                s.open -= 1;
            });
            continue;
        }
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (kill_tx, kill_rx) = oneshot::channel();
        let (closed_tx, closed_rx) = oneshot::channel();
        shared.conns.lock().expect("connections").insert(
            id,
            Killer {
                kill: kill_tx,
                closed: closed_rx,
            },
        );
        let shared = shared.clone();
        tasks.spawn(async move {
            let reset = connection(client, &shared, kill_rx).await;
            shared.conns.lock().expect("connections").remove(&id);
            shared.count(|s| {
                s.open -= 1;
                if reset {
                    s.reset += 1;
                }
            });
            drop(closed_tx);
        });
    }
}

/// Sets `SO_LINGER` to 0, so that dropping the stream sends a RST.
fn rst(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

/// Serves one connection until both sides are done (`false`) or it is reset (`true`).
async fn connection(
    mut client: TcpStream,
    shared: &Shared,
    mut kill: oneshot::Receiver<()>,
) -> bool {
    let _ = client.set_nodelay(true);
    let connect = async {
        // Held (not connected upstream) while the link does not forward.
        let mut fault = shared.fault.subscribe();
        let _ = fault.wait_for(|f| f.forwards(Direction::Up)).await;
        TcpStream::connect(shared.upstream).await
    };
    let mut upstream = tokio::select! {
        biased;
        _ = killed(&mut kill, shared) => {
            rst(&client);
            return true;
        }
        connected = connect => match connected {
            Ok(upstream) => upstream,
            Err(_) => {
                shared.count(|s| s.upstream_refused += 1);
                rst(&client);
                return true;
            }
        },
    };
    let _ = upstream.set_nodelay(true);
    let outcome = {
        let (client_read, client_write) = client.split();
        let (upstream_read, upstream_write) = upstream.split();
        let both = async {
            tokio::try_join!(
                pump(client_read, upstream_write, shared, Direction::Up),
                pump(upstream_read, client_write, shared, Direction::Down),
            )
        };
        tokio::select! {
            biased;
            _ = killed(&mut kill, shared) => None,
            done = both => Some(done.is_ok()),
        }
    };
    match outcome {
        // Both sides closed their half: the connection ends as it would without us.
        Some(true) => false,
        // Reset from outside, or an error on one side: RST on both.
        _ => {
            rst(&client);
            rst(&upstream);
            true
        }
    }
}

/// Resolves when the connection is to be reset: by [`FaultProxy::reset`] (or its handle
/// dropped), or by [`Fault::Reset`] coming into force.
async fn killed(kill: &mut oneshot::Receiver<()>, shared: &Shared) {
    let mut fault = shared.fault.subscribe();
    tokio::select! {
        _ = kill => {}
        _ = fault.wait_for(|f| *f == Fault::Reset) => {}
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Up,
    Down,
}

/// Forwards one direction: a reader that stamps each chunk with the time it may be
/// written, and a writer that waits for that time and for the link to forward.
async fn pump(
    mut from: impl tokio::io::AsyncRead + Unpin,
    mut to: impl tokio::io::AsyncWrite + Unpin,
    shared: &Shared,
    direction: Direction,
) -> io::Result<()> {
    fn flow(s: &mut Stats, direction: Direction) -> &mut Flow {
        match direction {
            Direction::Up => &mut s.up,
            Direction::Down => &mut s.down,
        }
    }
    let (queue, mut queued) = mpsc::channel::<(Instant, Option<Vec<u8>>)>(QUEUED_CHUNKS);
    let read = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = from.read(&mut buf).await?;
            let due = Instant::now() + shared.fault.borrow().latency(direction);
            shared.count(|s| flow(s, direction).received += n as u64);
            let chunk = (n > 0).then(|| buf[..n].to_vec());
            if queue.send((due, chunk)).await.is_err() || n == 0 {
                return Ok::<_, io::Error>(());
            }
        }
    };
    let write = async move {
        let mut fault = shared.fault.subscribe();
        while let Some((due, chunk)) = queued.recv().await {
            tokio::time::sleep_until(due).await;
            let _ = fault.wait_for(|f| f.forwards(direction)).await;
            match chunk {
                Some(bytes) => {
                    to.write_all(&bytes).await?;
                    shared.count(|s| flow(s, direction).forwarded += bytes.len() as u64);
                }
                None => {
                    // The sender closed its half: close ours towards the receiver.
                    to.shutdown().await?;
                    return Ok(());
                }
            }
        }
        Ok::<_, io::Error>(())
    };
    tokio::try_join!(read, write).map(|_| ())
}

#[cfg(test)]
mod tests {
    //! Each fault, observed through a real TCP echo server behind the proxy.

    use super::*;
    use tokio::time::timeout;

    /// Generous bounds for things that must happen (a loaded CI machine is slow), and a
    /// short one for things that must not.
    const SOON: Duration = Duration::from_secs(10);
    const NOT_WITHIN: Duration = Duration::from_millis(300);

    /// What the echo server has seen.
    #[derive(Debug, Clone, Copy, Default)]
    struct Seen {
        accepted: u64,
        bytes: u64,
        resets: u64,
    }

    /// A TCP echo server on `127.0.0.1:0`.
    struct Echo {
        addr: SocketAddr,
        seen: watch::Sender<Seen>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Echo {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl Echo {
        async fn start() -> Echo {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let seen = watch::Sender::new(Seen::default());
            let counts = seen.clone();
            let task = tokio::spawn(async move {
                let mut conns = JoinSet::new();
                loop {
                    let Ok((mut stream, _)) = listener.accept().await else {
                        continue;
                    };
                    counts.send_modify(|s| s.accepted += 1);
                    let counts = counts.clone();
                    conns.spawn(async move {
                        let mut buf = vec![0u8; 4096];
                        loop {
                            match stream.read(&mut buf).await {
                                Ok(0) => return,
                                Ok(n) => {
                                    counts.send_modify(|s| s.bytes += n as u64);
                                    if stream.write_all(&buf[..n]).await.is_err() {
                                        return;
                                    }
                                }
                                Err(e) => {
                                    if e.kind() == io::ErrorKind::ConnectionReset {
                                        counts.send_modify(|s| s.resets += 1);
                                    }
                                    return;
                                }
                            }
                        }
                    });
                }
            });
            Echo { addr, seen, task }
        }

        fn seen(&self) -> Seen {
            *self.seen.borrow()
        }

        async fn wait_until(&self, condition: impl Fn(&Seen) -> bool) -> Seen {
            let mut seen = self.seen.subscribe();
            let result = timeout(SOON, seen.wait_for(|s| condition(s)))
                .await
                .expect("the echo server saw it in time")
                .map(|s| *s);
            result.expect("echo server running")
        }
    }

    async fn setup() -> (Echo, FaultProxy) {
        let echo = Echo::start().await;
        let proxy = FaultProxy::start(echo.addr).await.expect("proxy starts");
        (echo, proxy)
    }

    async fn connect(proxy: &FaultProxy) -> TcpStream {
        timeout(SOON, TcpStream::connect(proxy.addr()))
            .await
            .expect("connects in time")
            .expect("connects")
    }

    /// Reads exactly `expected.len()` bytes and checks them.
    async fn expect_echo(stream: &mut TcpStream, expected: &[u8]) {
        let mut buf = vec![0u8; expected.len()];
        timeout(SOON, stream.read_exact(&mut buf))
            .await
            .expect("the echo arrives in time")
            .expect("the echo arrives");
        assert_eq!(buf, expected);
    }

    /// Nothing comes back within a short while.
    async fn expect_silence(stream: &mut TcpStream) {
        let mut buf = [0u8; 1];
        assert!(
            timeout(NOT_WITHIN, stream.read(&mut buf)).await.is_err(),
            "nothing may arrive"
        );
    }

    async fn wait_proxy(proxy: &FaultProxy, condition: impl FnMut(&Stats) -> bool) -> Stats {
        timeout(SOON, proxy.wait_until(condition))
            .await
            .expect("the proxy got there in time")
    }

    #[tokio::test]
    async fn pass_forwards_both_ways_and_counts() {
        let (echo, proxy) = setup().await;
        assert_eq!(proxy.fault(), Fault::Pass);
        let mut stream = connect(&proxy).await;
        stream.write_all(b"hello").await.expect("write");
        expect_echo(&mut stream, b"hello").await;
        let stats = wait_proxy(&proxy, |s| s.down.forwarded == 5).await;
        assert_eq!(stats.accepted, 1);
        assert_eq!(stats.open, 1);
        assert_eq!(
            stats.up,
            Flow {
                received: 5,
                forwarded: 5
            }
        );
        assert_eq!(echo.seen().accepted, 1);

        // A half close passes too: the echo server sees EOF and closes, and so do we.
        stream.shutdown().await.expect("shutdown");
        let mut rest = Vec::new();
        timeout(SOON, stream.read_to_end(&mut rest))
            .await
            .expect("closed in time")
            .expect("clean close");
        assert!(rest.is_empty());
        let stats = wait_proxy(&proxy, |s| s.open == 0).await;
        assert_eq!(stats.reset, 0);
    }

    #[tokio::test]
    async fn latency_delays_each_chunk_each_way_without_serialising_them() {
        let (_echo, proxy) = setup().await;
        let latency = Duration::from_millis(200);
        proxy.set(Fault::Latency(latency)).await;
        let mut stream = connect(&proxy).await;

        let start = Instant::now();
        stream.write_all(b"a").await.expect("write");
        expect_echo(&mut stream, b"a").await;
        let round_trip = start.elapsed();
        assert!(round_trip >= 2 * latency, "round trip {round_trip:?}");

        // Five chunks sent back to back: each is delayed, but not behind the others.
        let start = Instant::now();
        for i in 0..5u8 {
            stream.write_all(&[b'0' + i]).await.expect("write");
            let received = 2 + u64::from(i);
            wait_proxy(&proxy, |s| s.up.received >= received).await;
        }
        expect_echo(&mut stream, b"01234").await;
        let elapsed = start.elapsed();
        assert!(elapsed >= 2 * latency, "{elapsed:?}");
        assert!(
            elapsed < 5 * 2 * latency,
            "five chunks took {elapsed:?}: they were delayed one after the other"
        );

        // Back to no latency for the same connection.
        proxy.heal().await;
        let start = Instant::now();
        stream.write_all(b"b").await.expect("write");
        expect_echo(&mut stream, b"b").await;
        assert!(start.elapsed() < 2 * latency, "{:?}", start.elapsed());
    }

    #[tokio::test]
    async fn stall_holds_bytes_and_connections_until_healed() {
        let (echo, proxy) = setup().await;
        let mut open = connect(&proxy).await;
        open.write_all(b"x").await.expect("write");
        expect_echo(&mut open, b"x").await;

        proxy.set(Fault::Stall).await;
        open.write_all(b"held").await.expect("write");
        wait_proxy(&proxy, |s| s.up.received == 5).await;
        // A new connection is accepted and held as well, not connected upstream.
        let mut new = connect(&proxy).await;
        new.write_all(b"new").await.expect("write");
        let stats = wait_proxy(&proxy, |s| s.accepted == 2).await;
        assert_eq!(stats.up.forwarded, 1, "{stats:?}");
        expect_silence(&mut open).await;
        let seen = echo.seen();
        assert_eq!((seen.accepted, seen.bytes), (1, 1), "{seen:?}");
        assert_eq!(proxy.stats().open, 2);

        proxy.heal().await;
        expect_echo(&mut open, b"held").await;
        expect_echo(&mut new, b"new").await;
        let seen = echo.seen();
        assert_eq!((seen.accepted, seen.bytes), (2, 8), "{seen:?}");
        assert_eq!(proxy.stats().reset, 0);
    }

    #[tokio::test]
    async fn reset_closes_every_open_connection_with_rst_and_keeps_accepting() {
        let (echo, proxy) = setup().await;
        let mut first = connect(&proxy).await;
        let mut second = connect(&proxy).await;
        for stream in [&mut first, &mut second] {
            stream.write_all(b"x").await.expect("write");
            expect_echo(stream, b"x").await;
        }

        assert_eq!(proxy.reset().await, 2);
        for stream in [&mut first, &mut second] {
            let mut buf = [0u8; 1];
            let read = timeout(SOON, stream.read(&mut buf))
                .await
                .expect("the reset arrives in time");
            assert_eq!(
                read.expect_err("reset, not a clean close").kind(),
                io::ErrorKind::ConnectionReset
            );
        }
        // The upstream side was reset too.
        echo.wait_until(|s| s.resets == 2).await;
        let stats = wait_proxy(&proxy, |s| s.open == 0).await;
        assert_eq!(stats.reset, 2);
        assert_eq!(proxy.fault(), Fault::Pass);

        // Still accepting and forwarding.
        let mut third = connect(&proxy).await;
        third.write_all(b"y").await.expect("write");
        expect_echo(&mut third, b"y").await;

        // While the fault is `Reset`, new connections are reset as soon as accepted.
        proxy.set(Fault::Reset).await;
        let mut buf = [0u8; 1];
        let read = timeout(SOON, third.read(&mut buf)).await.expect("in time");
        assert_eq!(
            read.expect_err("reset").kind(),
            io::ErrorKind::ConnectionReset
        );
        let mut fourth = connect(&proxy).await;
        let read = timeout(SOON, fourth.read(&mut buf)).await.expect("in time");
        assert_eq!(
            read.expect_err("reset").kind(),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(echo.seen().accepted, 3);

        proxy.heal().await;
        let mut fifth = connect(&proxy).await;
        fifth.write_all(b"z").await.expect("write");
        expect_echo(&mut fifth, b"z").await;
        assert_eq!(proxy.stats().reset, 4);
    }

    #[tokio::test]
    async fn partition_stalls_open_connections_and_answers_no_new_ones_until_healed() {
        let (echo, proxy) = setup().await;
        let mut open = connect(&proxy).await;
        open.write_all(b"x").await.expect("write");
        expect_echo(&mut open, b"x").await;

        proxy.set(Fault::Partition).await;
        open.write_all(b"cut").await.expect("write");
        wait_proxy(&proxy, |s| s.up.received == 4).await;
        expect_silence(&mut open).await;

        // New connections: the first few complete the handshake in the kernel's queue
        // and then hear nothing; once the queue is full, connects get no answer at all.
        let mut queued = Vec::new();
        let mut unanswered = 0;
        for _ in 0..BACKLOG + 4 {
            match timeout(NOT_WITHIN, TcpStream::connect(proxy.addr())).await {
                Ok(stream) => queued.push(stream.expect("queued by the kernel")),
                Err(_) => unanswered += 1,
            }
        }
        assert!(unanswered > 0, "every connect was answered");
        let mut waiting = queued.pop().expect("the kernel queued some");
        waiting.write_all(b"late").await.expect("write");
        expect_silence(&mut waiting).await;
        assert_eq!(proxy.stats().accepted, 1, "accepted during a partition");
        let seen = echo.seen();
        assert_eq!((seen.accepted, seen.bytes), (1, 1), "{seen:?}");

        proxy.heal().await;
        expect_echo(&mut open, b"cut").await;
        expect_echo(&mut waiting, b"late").await;
        // Connects that got no answer would succeed on their next SYN; a new one now
        // is answered.
        let mut after = connect(&proxy).await;
        after.write_all(b"ok").await.expect("write");
        expect_echo(&mut after, b"ok").await;
        assert_eq!(proxy.stats().reset, 0);
    }

    #[tokio::test]
    async fn an_unreachable_upstream_resets_the_client() {
        // A port with nothing listening: bind, note it, close.
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind")
            .local_addr()
            .expect("addr");
        let proxy = FaultProxy::start(port).await.expect("proxy");
        let mut stream = connect(&proxy).await;
        let mut buf = [0u8; 1];
        let read = timeout(SOON, stream.read(&mut buf)).await.expect("in time");
        assert_eq!(
            read.expect_err("reset").kind(),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(proxy.stats().upstream_refused, 1);
    }

    #[tokio::test]
    async fn proxied_url_replaces_the_upstream_address() {
        let upstream = SocketAddr::from(([127, 0, 0, 1], 5432));
        let proxy = FaultProxy::start(upstream).await.expect("proxy");
        let url = proxy.proxied_url("postgres://postgres@127.0.0.1:5432/test");
        assert_eq!(url, format!("postgres://postgres@{}/test", proxy.addr()));
    }
}
