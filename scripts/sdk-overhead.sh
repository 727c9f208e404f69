#!/usr/bin/env bash
# The SDK's overhead on a request that needs no refresh, in instructions (issue 3).
#
# Runs `sdk-overhead` under callgrind for each arm (plain reqwest, Client::send, the
# middleware, and reqwest-middleware with no middleware for what the framework itself
# costs) with 0 and N requests; (count(N) - count(0)) / N is what one request costs,
# server included (it runs in the same process, on the same thread). Instruction counts do
# not drift with the machine's load the way time does. Needs valgrind.
#
#   scripts/sdk-overhead.sh [N]        (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
cargo build --release -q -p symbolon-bench --bin sdk-overhead
bin=${CARGO_TARGET_DIR:-target}/release/sdk-overhead

count() { # arm requests -> instructions
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --arm "$1" --requests "$2" 2>&1 >/dev/null \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

declare -A per_request
for arm in plain send middleware bare-middleware; do
  base=$(count "$arm" 0)
  full=$(count "$arm" "$n")
  per_request[$arm]=$(( (full - base) / n ))
  echo "$arm: ${per_request[$arm]} instructions per request (runs: $base at 0, $full at $n)"
done
for arm in send middleware bare-middleware; do
  awk -v a="${per_request[$arm]}" -v p="${per_request[plain]}" -v arm="$arm" \
    'BEGIN { printf "%s overhead: %+.2f %% of a plain reqwest request (%+d instructions)\n", arm, (a - p) * 100 / p, a - p }'
done
