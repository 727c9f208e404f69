#!/usr/bin/env bash
# Do failed logins take the same time for an unknown user, a wrong password and a
# disabled user? Starts a release server on SQLite (throttling off for the run), creates
# the users, and runs `login-timing` (two-sample Kolmogorov–Smirnov per pair).
#   scripts/login-timing.sh [samples-per-kind]   (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
samples=${1:-2000}
cargo build --release -q -p symbolon-cli -p symbolon-bench
target=${CARGO_TARGET_DIR:-target}
bin="$target/release/symbolon"
timing="$target/release/login-timing"
work=$(mktemp -d)
port=18089
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cat > "$work/symbolon.toml" <<TOML
listen = "127.0.0.1:$port"
database_url = "sqlite://$work/symbolon.db"
master_key_file = "$work/symbolon.key"
account_failures_allowed = 100000000
ip_failures_allowed = 100000000
TOML
echo 'bench password' | "$bin" --config "$work/symbolon.toml" user add bench --password-stdin >/dev/null
echo 'gone password' | "$bin" --config "$work/symbolon.toml" user add gone --password-stdin >/dev/null
"$bin" --config "$work/symbolon.toml" user disable gone >/dev/null
RUST_LOG=warn "$bin" --config "$work/symbolon.toml" serve 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
"$timing" --url "http://127.0.0.1:$port" --samples "$samples"
