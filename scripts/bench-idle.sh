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
. scripts/bench-lib.sh
idle=
cleanup() { [ -n "${idle:-}" ] && kill "$idle" 2>/dev/null; bench_cleanup; }
trap cleanup EXIT
bench_start "sqlite://$work/symbolon.db" "max_connections = $((conns + 1000))
# Idle connections are closed after this; longer than the run.
header_read_timeout = \"300s\""
echo "# idle server RSS: $(bench_rss)"
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
echo "# server RSS with $conns idle connections: $(bench_rss)"
bench_run refresh 64 "$duration"
echo "# server RSS after the refresh load beside them: $(bench_rss)"
echo go > "$work/go"
wait "$idle"; idle=
echo "# peak RSS (VmHWM): $(bench_rss VmHWM)"
