#!/usr/bin/env bash
# Builds and tests the TypeScript client (clients/js, @symbolon/client) with Node's test
# runner against the real server: each test file starts `symbolon serve` on a free
# loopback port in a temporary directory.
#
# Needs Node.js 20 (or later) and npm. Without them it prints "skipped" and exits 0,
# unless SYMBOLON_TEST_JS=required (then it fails). Runs `npm ci` when
# clients/js/node_modules is missing. The server binary is $SYMBOLON_BIN; when that is
# unset it is built here (`cargo build -p symbolon-cli`, debug, into $CARGO_TARGET_DIR or
# target/) and used from there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "${SYMBOLON_TEST_JS:-}" = required ]; then
    echo "js-test: node and npm are required (SYMBOLON_TEST_JS=required) but missing" >&2
    exit 1
  fi
  echo "skipped: install Node.js 20 and npm to run the TypeScript client's tests"
  exit 0
fi

if [ -z "${SYMBOLON_BIN:-}" ]; then
  cargo build -q -p symbolon-cli
  target=${CARGO_TARGET_DIR:-$root/target}
  case $target in /*) ;; *) target=$root/$target ;; esac
  export SYMBOLON_BIN=$target/debug/symbolon
fi
[ -x "$SYMBOLON_BIN" ] || { echo "js-test: SYMBOLON_BIN=$SYMBOLON_BIN is not an executable" >&2; exit 1; }

cd clients/js
if [ ! -d node_modules ] && ! npm ci --no-audit --no-fund; then
  # No registry (an offline machine): the tests cannot be built here.
  if [ "${SYMBOLON_TEST_JS:-}" = required ]; then
    echo "js-test: npm ci failed in clients/js (SYMBOLON_TEST_JS=required)" >&2
    exit 1
  fi
  rm -rf node_modules
  echo "skipped: npm ci failed in clients/js (no npm registry?); run it there to test the TypeScript client"
  exit 0
fi
npm test
