#!/usr/bin/env bash
# Refresh throughput and latency per SQLite durability setting, beside /healthz of the
# same server in the same run: the default (group commit), ?synchronous=full (SQLite
# syncs each commit) and ?synchronous=normal (not power-loss durable).
# Usage: scripts/bench-durability.sh [duration] [concurrency]   (defaults: 10s 64)
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

for option in "" "?synchronous=full" "?synchronous=normal"; do
  rm -f "$work"/symbolon.db*
  cat > "$work/symbolon.toml" <<TOML
listen = "127.0.0.1:$port"
database_url = "sqlite://$work/symbolon.db$option"
master_key_file = "$work/symbolon.key"
ip_failures_allowed = 1000000
account_failures_allowed = 1000000
TOML
  echo 'bench password' | "$bin" --config "$work/symbolon.toml" user add bench --password-stdin >/dev/null 2>&1
  RUST_LOG=warn "$bin" --config "$work/symbolon.toml" serve 2>"$work/serve.log" &
  server=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  echo "# database_url = sqlite://PATH$option"
  for scenario in healthz refresh; do
    "$bench" "$scenario" --url "http://127.0.0.1:$port" --concurrency "$concurrency" --duration "$duration" --quiet
  done
  kill "$server"; wait "$server" 2>/dev/null || true; server=
done
