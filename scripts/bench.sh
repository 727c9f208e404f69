#!/usr/bin/env bash
# Runs the benchmarks of BENCHMARKS.md against a release server in a temporary
# directory: healthz beside each scenario in the same run, on this machine.
# Usage: scripts/bench.sh [duration] [concurrency]   (defaults: 10s 64)
# BENCH_SQLITE_OPTION="?synchronous=full" (or =normal) measures another durability setting.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
concurrency=${2:-64}
. scripts/bench-lib.sh

start() { # $1 = signing_alg
  bench_start "sqlite://$work/symbolon-$1.db${BENCH_SQLITE_OPTION:-}" "signing_alg = \"$1\""
}
run() { bench_run "$1" "${2:-$concurrency}" "$duration"; }

start EdDSA
echo "# idle RSS: $(bench_rss)"
run healthz
run refresh
echo "# RSS after 64 refresh chains: $(bench_rss)"
run healthz
run verify
run login
echo "# RSS after the login flood: $(bench_rss)"
echo "# refresh while a login flood (16 workers) saturates hashing:"
run login 16 > "$work/flood.json" &
flood=$!
run refresh
wait "$flood"; cat "$work/flood.json"
echo "# peak RSS (VmHWM): $(bench_rss VmHWM)"
bench_stop

start HS256
run healthz
run verify
bench_stop
