#!/usr/bin/env bash
# Refresh throughput on PostgreSQL: one instance, then two instances on the same
# database (two load processes, one per instance), each beside /healthz.
# Usage: SYMBOLON_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test scripts/bench-pg.sh [duration]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
admin=${SYMBOLON_TEST_POSTGRES_URL:?set SYMBOLON_TEST_POSTGRES_URL to a PostgreSQL database URL}
cargo build --release -q -p symbolon-cli -p symbolon-bench
target=${CARGO_TARGET_DIR:-target}
bin=$target/release/symbolon
bench=$target/release/symbolon-bench
work=$(mktemp -d)
db=symbolon_bench_$$
url="${admin%/*}/$db"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; rm -rf "$work"; }
trap cleanup EXIT
psql "$admin" -qc "CREATE DATABASE $db"
echo "# synchronous_commit = $(psql "$url" -Atc 'show synchronous_commit')"

config() { # $1 = port
  cat > "$work/$1.toml" <<TOML
listen = "127.0.0.1:$1"
database_url = "$url"
master_key_file = "$work/symbolon.key"
ip_failures_allowed = 1000000
# The load tool logs in as one user from every worker at once; each password check in
# flight counts against the account until it succeeds (docs/API.md §2.7).
account_failures_allowed = 1000000
TOML
  echo "$work/$1.toml"
}
serve() { # $1 = port
  RUST_LOG=warn "$bin" --config "$(config "$1")" serve 2>"$work/$1.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
}
load() { "$bench" "$1" --url "http://127.0.0.1:$2" --concurrency "$3" --duration "$duration" --quiet; }

serve 18081
echo 'bench password' | "$bin" --config "$work/18081.toml" user add bench --password-stdin >/dev/null
echo "# one instance"
load healthz 18081 64
load refresh 18081 64
serve 18082
echo "# two instances, 32 chains each"
for scenario in healthz refresh; do
  load "$scenario" 18081 32 > "$work/a" & first=$!
  load "$scenario" 18082 32 > "$work/b"
  wait "$first"
  cat "$work/a" "$work/b"
done
