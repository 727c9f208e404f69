# Shared by the bench scripts (sourced, from the repository's root): builds the release
# binaries, makes a temporary directory that is removed on exit, and starts and stops a
# server in it. Sets bin, bench, work, port and server.
cargo build --release -q -p symbolon-cli -p symbolon-bench
target=${CARGO_TARGET_DIR:-target}
bin=$target/release/symbolon
bench=$target/release/symbolon-bench
work=$(mktemp -d)
port=${BENCH_PORT:-18080}
server=
bench_cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap bench_cleanup EXIT

# bench_start DATABASE_URL [MORE TOML]: writes $work/symbolon.toml, adds the user `bench`
# (password `bench password`), starts the server on $port and waits for /healthz.
bench_start() {
  cat > "$work/symbolon.toml" <<TOML
listen = "127.0.0.1:$port"
database_url = "$1"
master_key_file = "$work/symbolon.key"
ip_failures_allowed = 1000000
# The load tool logs in as one user from every worker at once; each password check in
# flight counts against the account until it succeeds (docs/API.md §2.7).
account_failures_allowed = 1000000
${2:-}
TOML
  echo 'bench password' | "$bin" --config "$work/symbolon.toml" user add bench --password-stdin >/dev/null 2>&1 || true
  RUST_LOG=warn "$bin" --config "$work/symbolon.toml" serve 2>"$work/serve.log" &
  server=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
}

bench_stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=; }

# bench_run SCENARIO CONCURRENCY DURATION [MORE symbolon-bench ARGUMENTS]: one JSON line.
bench_run() { "$bench" "$1" --url "http://127.0.0.1:$port" --concurrency "$2" --duration "$3" --quiet "${@:4}"; }

# bench_rss [VmRSS|VmHWM]: the server's memory.
bench_rss() { awk "/${1:-VmRSS}/ {print \$2 \" kB\"}" "/proc/$server/status"; }
