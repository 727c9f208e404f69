#!/usr/bin/env bash
# 10,000 idle keep-alive connections (each made one request and stays open), then the
# refresh load beside them: the server's RSS at each step, and whether every idle
# connection still answers a second request afterwards.
# Usage: scripts/bench-idle.sh [duration] [connections]   (defaults: 10s 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
conns=${2:-10000}
ulimit -n "$(ulimit -Hn)"
cargo build --release -q -p symbolon-cli -p symbolon-bench
target=${CARGO_TARGET_DIR:-target}
bin=$target/release/symbolon
bench=$target/release/symbolon-bench
work=$(mktemp -d)
port=${BENCH_PORT:-18080}
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; [ -n "${idle:-}" ] && kill "$idle" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cat > "$work/symbolon.toml" <<TOML
listen = "127.0.0.1:$port"
database_url = "sqlite://$work/symbolon.db"
master_key_file = "$work/symbolon.key"
ip_failures_allowed = 1000000
account_failures_allowed = 1000000
max_connections = $((conns + 1000))
# Idle connections are closed after this; longer than the run.
header_read_timeout = "300s"
TOML
echo 'bench password' | "$bin" --config "$work/symbolon.toml" user add bench --password-stdin >/dev/null 2>&1
RUST_LOG=warn "$bin" --config "$work/symbolon.toml" serve 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$server/status"; }
echo "# idle server RSS: $(rss)"
mkfifo "$work/go" "$work/ready"
python3 - "$port" "$conns" "$work/ready" "$work/go" <<'PY' &
import asyncio, sys
port, n, ready, go = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
REQ = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"
async def once(reader, writer):
    writer.write(REQ); await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    await reader.readexactly(length)
    return head.startswith(b"HTTP/1.1 200")
async def main():
    conns, sem = [], asyncio.Semaphore(500)
    async def open_one():
        async with sem:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            ok = await once(r, w)
            return (r, w, ok)
    conns = await asyncio.gather(*[open_one() for _ in range(n)], return_exceptions=True)
    opened = [c for c in conns if not isinstance(c, BaseException) and c[2]]
    print(f"# idle connections open, each answered once: {len(opened)} of {n}", flush=True)
    open(ready, "w").write("ready\n")
    await asyncio.get_running_loop().run_in_executor(None, lambda: open(go).read())
    again = await asyncio.gather(*[once(r, w) for r, w, _ in opened], return_exceptions=True)
    print(f"# after the load, idle connections answering a second request: {sum(1 for a in again if a is True)} of {len(opened)}", flush=True)
asyncio.run(main())
PY
idle=$!
cat "$work/ready" >/dev/null
echo "# server RSS with $conns idle connections: $(rss)"
"$bench" refresh --url "http://127.0.0.1:$port" --concurrency 64 --duration "$duration" --quiet
echo "# server RSS after the refresh load beside them: $(rss)"
echo go > "$work/go"
wait "$idle"; idle=
echo "# peak RSS (VmHWM): $(awk '/VmHWM/ {print $2 " kB"}' "/proc/$server/status")"
