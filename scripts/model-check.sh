#!/usr/bin/env bash
# Checks the refresh protocol's model (crates/symbolon-client/model/refresh.pml) with Spin:
#  1. exhaustively, for each set of small bounds below: any error (an assertion, an
#     invalid end state, a search cut short by the depth limit) fails the script;
#  2. once per known-bad variant (a #define in the model), which must FAIL on one of the
#     model's properties (P1, P2, P2c, P3, P3b, P3c): a model that cannot see a known bug
#     proves nothing, so a variant that passes fails the script too.
# Prints the state counts. Needs spin (Debian package `spin`) and a C compiler ($CC,
# default gcc). ARCHITECTURE.md, "The refresh protocol's model", says what it covers.
set -euo pipefail
cd "$(dirname "$0")/.."
model=crates/symbolon-client/model/refresh.pml
cc=${CC:-gcc}

command -v spin >/dev/null || {
  echo "model-check: spin is not installed (Debian/Ubuntu: apt-get install spin)" >&2
  exit 1
}
command -v "$cc" >/dev/null || {
  echo "model-check: no C compiler ($cc) to build Spin's verifier; install gcc or set CC" >&2
  exit 1
}
[ -f "$model" ] || { echo "model-check: $model is missing" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$model" "$work/refresh.pml"
cd "$work"

# Memory cap for each search, in MB (pan stops with an error beyond it).
memlim=${SYMBOLON_MODEL_MEMLIM:-2048}

# Builds the verifier for the given -D flags; $1 is the optimisation level.
build() {
  local opt=$1
  shift
  rm -f pan pan.c pan.* refresh.pml.trail
  spin -a "$@" refresh.pml >spin.out 2>&1 || { cat spin.out >&2; return 1; }
  "$cc" "$opt" -DSAFETY -DCOLLAPSE -DMEMLIM="$memlim" -w -o pan pan.c
}

# The numbers of a finished search, on one line.
summary() {
  local states transitions depth elapsed
  states=$(awk '/states, stored/ { print $1; exit }' pan.out)
  transitions=$(awk '/transitions \(= stored\+matched\)/ { print $1; exit }' pan.out)
  depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' pan.out | head -n 1)
  elapsed=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds/\1/p' pan.out | head -n 1)
  echo "${states:-?} states, ${transitions:-?} transitions, depth ${depth:-?}, ${elapsed:-?} s"
}

failed=0
start=$SECONDS

# Exhaustive runs: label | -D flags | hash table size (2^N slots).
configs=(
  "2 processes x 2 refreshes, 2 faults|-DNC=2 -DR=2 -DFAULTS=2 -DNO_LOGIN|-w23"
  "2 processes x 1 refresh + symbolon login, 2 faults|-DNC=2 -DR=1 -DFAULTS=2|-w23"
  "2 processes x 3 refreshes, 1 fault|-DNC=2 -DR=3 -DFAULTS=1 -DNO_LOGIN|-w22"
  "3 processes x 1 refresh, 1 fault|-DNC=3 -DR=1 -DFAULTS=1 -DNO_LOGIN|-w22"
)
echo "== the model, exhaustively (spin $(spin -V | sed -n 's/^Spin Version \([^ ]*\).*/\1/p'))"
for config in "${configs[@]}"; do
  IFS='|' read -r label flags hash <<<"$config"
  # shellcheck disable=SC2086 # flags are words
  build -O2 $flags
  ./pan -m1000000 "$hash" >pan.out 2>&1 || true
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out | head -n 1)
  if [ "${errors:-x}" != 0 ] || grep -qE "max search depth too small|out of memory|pan: reached -DMEMLIM" pan.out; then
    echo "FAIL  $label ($flags): errors: ${errors:-?}" >&2
    grep -E "^pan:|too small|MEMLIM" pan.out >&2 || true
    if [ -f refresh.pml.trail ]; then
      echo "the counterexample (spin -t -p $flags $model; the last 60 steps):" >&2
      # shellcheck disable=SC2086
      spin -t -p $flags refresh.pml 2>&1 | grep -E '^ *[0-9]+:[[:space:]]+proc|^spin: ' | tail -n 60 >&2
    fi
    failed=1
  else
    echo "ok    $label: $(summary)"
  fi
done

# Known-bad variants, in the configuration with the login: each must break a property.
variants=(
  "MARK_FAILURE_SENDS|the earlier client sent a refresh whose in-doubt mark could not be stored"
  "MONOTONIC_CLOCK|the earlier client judged the in-doubt deadline on a clock that stops in suspend"
  "CURRENT_SAVE|the current client drops the lock on a failed save and writes unconditionally later"
  "LOGIN_OLD_UNLOCKED|the current symbolon login reads the old tokens without the lock"
  "NO_SETTLE|the current client presents a successor at once"
  "CURRENT_CODE|the three left: the client as the code stands"
  "RETRY_PAST_WINDOW|the client before issue 10 retried a possibly-sent refresh after the grace"
  "NO_MARK|the in-doubt mark is not written to the store"
  "NO_LOCK|no cross-process lock"
  "NO_CAS|the server rotates without the compare-and-swap"
  "CANCEL|a cancelled caller drops the refresh (no spawned task)"
  "SLOW_SERVER|the server may decide a request after the grace (assumption A2 dropped)"
)
echo "== known-bad variants (each must fail)"
for variant in "${variants[@]}"; do
  IFS='|' read -r name what <<<"$variant"
  flags="-D$name -DNC=2 -DR=2 -DFAULTS=2"
  # shellcheck disable=SC2086
  build -O0 $flags
  ./pan -m1000000 -w22 >pan.out 2>&1 || true
  property=""
  if grep -q "assertion violated" pan.out && [ -f refresh.pml.trail ]; then
    # The line of the failed assertion names its property in a comment.
    # shellcheck disable=SC2086
    line=$(spin -t $flags refresh.pml 2>&1 | sed -n 's/^spin: refresh.pml:\([0-9]*\), Error: assertion violated.*/\1/p' | head -n 1)
    if [ -n "$line" ]; then
      property=$(sed -n "${line}p" refresh.pml | grep -oE '/\* P[0-9][a-z]?[: ]' | grep -oE 'P[0-9][a-z]?' || true)
    fi
  fi
  if [ -n "$property" ]; then
    states=$(awk '/states, stored/ { print $1; exit }' pan.out)
    echo "fails $name: $property broken after ${states:-?} states ($what)"
  else
    echo "FAIL  $name does not break a property: the model cannot see $what" >&2
    grep -E "^pan:|errors:" pan.out >&2 || true
    failed=1
  fi
done

echo "== model check: $((SECONDS - start)) s"
if [ "$failed" != 0 ]; then
  echo "model-check: FAILED" >&2
  exit 1
fi
