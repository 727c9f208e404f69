#!/usr/bin/env bash
# Runs the benchmarks of BENCHMARKS.md against a release server in a temporary
# directory: healthz beside each scenario in the same run, on this machine.
# Usage: scripts/bench.sh [duration] [concurrency]   (defaults: 10s 64)
# BENCH_SQLITE_OPTION="?synchronous=full" (or =normal) measures another durability setting.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
concurrency=${2:-64}
cargo build --release -q -p symbolon-cli -p symbolon-bench
target=${CARGO_TARGET_DIR:-target}
bin=$target/release/symbolon
bench=$target/release/symbolon-bench
work=$(mktemp -d)
port=${BENCH_PORT:-18080}
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start() { # $1 = signing_alg
  cat > "$work/symbolon.toml" <<TOML
listen = "127.0.0.1:$port"
database_url = "sqlite://$work/symbolon-$1.db${BENCH_SQLITE_OPTION:-}"
master_key_file = "$work/symbolon.key"
signing_alg = "$1"
ip_failures_allowed = 1000000
# The load tool logs in as one user from every worker at once; each password check in
# flight counts against the account until it succeeds (docs/API.md §2.7).
account_failures_allowed = 1000000
TOML
  echo 'bench password' | "$bin" --config "$work/symbolon.toml" user add bench --password-stdin >/dev/null 2>&1 || true
  RUST_LOG=warn "$bin" --config "$work/symbolon.toml" serve 2>"$work/serve.log" &
  server=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=; }
run() { "$bench" "$1" --url "http://127.0.0.1:$port" --concurrency "${2:-$concurrency}" --duration "$duration" --quiet; }
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$server/status"; }

start EdDSA
echo "# idle RSS: $(rss)"
run healthz
run refresh
echo "# RSS after 64 refresh chains: $(rss)"
run healthz
run verify
run login
echo "# RSS after the login flood: $(rss)"
echo "# refresh while a login flood (16 workers) saturates hashing:"
"$bench" login --url "http://127.0.0.1:$port" --concurrency 16 --duration "$duration" --quiet > "$work/flood.json" &
flood=$!
run refresh
wait "$flood"; cat "$work/flood.json"
echo "# peak RSS (VmHWM): $(awk '/VmHWM/ {print $2 " kB"}' "/proc/$server/status")"
stop

start HS256
run healthz
run verify
stop
