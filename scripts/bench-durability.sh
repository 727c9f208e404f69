#!/usr/bin/env bash
# Refresh throughput and latency per SQLite durability setting, beside /healthz of the
# same server in the same run: the default (group commit), ?synchronous=full (SQLite
# syncs each commit) and ?synchronous=normal (not power-loss durable).
# Usage: scripts/bench-durability.sh [duration] [concurrency]   (defaults: 10s 64)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
concurrency=${2:-64}
. scripts/bench-lib.sh

for option in "" "?synchronous=full" "?synchronous=normal"; do
  rm -f "$work"/symbolon.db*
  bench_start "sqlite://$work/symbolon.db$option"
  echo "# database_url = sqlite://PATH$option"
  for scenario in healthz refresh; do
    bench_run "$scenario" "$concurrency" "$duration"
  done
  bench_stop
done
