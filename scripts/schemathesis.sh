#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document (GET /openapi.json) with
# schemathesis: a server from an already-built binary in a temporary directory, a user
# and a confidential client, then two bounded runs, unauthenticated and authenticated
# (a bearer token from POST /login), every phase (coverage, fuzzing, and stateful along
# the document's links). Fails on any failure of the checks below.
#
# Usage: scripts/schemathesis.sh
#   SYMBOLON_BIN          the binary (default: $CARGO_TARGET_DIR/debug/symbolon, as
#                         `cargo test --workspace` builds it)
#   FUZZ_SEED             the seed of both runs (default 1; the same cases every time)
#   FUZZ_MAX_EXAMPLES     cases per operation and phase (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD/scripts/schemathesis

version=4.32.5
seed=${FUZZ_SEED:-1}
examples=${FUZZ_MAX_EXAMPLES:-100}
bin=${SYMBOLON_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/symbolon}
[ -x "$bin" ] || { echo "schemathesis.sh: no server binary at $bin (build it: cargo test --workspace, or cargo build -p symbolon-cli)" >&2; exit 1; }

# schemathesis, pinned, in a virtual environment of its own.
command -v python3 >/dev/null || { echo "schemathesis.sh: python3 is not installed" >&2; exit 1; }
python3 -m pip --version >/dev/null 2>&1 || { echo "schemathesis.sh: pip is not installed for python3 (python3 -m pip)" >&2; exit 1; }
venv=${XDG_CACHE_HOME:-$HOME/.cache}/symbolon/schemathesis-$version
st=$venv/bin/st
if ! "$st" --version 2>/dev/null | grep -qx "st, version $version"; then
  echo "schemathesis.sh: installing schemathesis $version into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || { echo "schemathesis.sh: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
  "$venv/bin/python" -m pip install --quiet "schemathesis==$version" \
    || { echo "schemathesis.sh: pip install schemathesis==$version failed" >&2; exit 1; }
fi

work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Cheap Argon2id (its cost is not under test here), and back-off limits the fuzzer's
# thousands of failed logins from one address never reach: a block would answer 429 to
# everything, the token fetch of the authenticated run included. Registration is open so
# that the stateful phase can follow POST /register to POST /login.
cat > "$work/symbolon.toml" <<TOML
listen = "127.0.0.1:$port"
database_url = "sqlite://$work/symbolon.db"
master_key_file = "$work/symbolon.key"
allow_registration = true
argon2_memory_kib = 64
argon2_iterations = 1
account_failures_allowed = 1000000
ip_failures_allowed = 1000000
TOML
export FUZZ_USERNAME=fuzz FUZZ_PASSWORD="fuzz-$RANDOM-$RANDOM-password"
export FUZZ_CLIENT_ID=fuzz-client FUZZ_CLIENT_SECRET="fuzz-client-$RANDOM-$RANDOM-secret"
symbolon() { "$bin" --config "$work/symbolon.toml" "$@"; }
printf '%s\n' "$FUZZ_PASSWORD" | symbolon user add "$FUZZ_USERNAME" --password-stdin >/dev/null
printf '%s\n' "$FUZZ_CLIENT_SECRET" | symbolon client add "$FUZZ_CLIENT_ID" --secret-stdin >/dev/null
# The binary itself in the background (not through the function), so that $! is the
# server's pid and the cleanup stops it.
RUST_LOG=warn "$bin" --config "$work/symbolon.toml" serve 2>"$work/serve.log" &
server=$!
url=http://127.0.0.1:$port
for _ in $(seq 100); do curl -fs "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$url/healthz" >/dev/null || { echo "schemathesis.sh: the server did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }

checks=not_a_server_error,status_code_conformance,content_type_conformance
checks+=,response_headers_conformance,response_schema_conformance
checks+=,positive_data_acceptance,negative_data_rejection,missing_required_header
checks+=,unsupported_method,allow_header_conformance,ignored_auth
checks+=,use_after_free,ensure_resource_availability,error_body_is_the_contract
failed=0
for run in unauthenticated authenticated; do
  echo "== schemathesis: $run (seed $seed, at most $examples cases per operation and phase)"
  # From the work directory: schemathesis keeps its example database and cache in the
  # current directory, and reads a schemathesis.toml from it or its parents.
  (cd "$work" && SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$here" timeout 300 "$st" \
    --config-file "$here/$run.toml" --no-color run "$url/openapi.json" \
    --checks "$checks" --phases examples,coverage,fuzzing,stateful \
    --max-examples "$examples" --seed "$seed" --workers 2 --request-timeout 10 \
    --generation-database none) || failed=1
done
if ! kill -0 "$server" 2>/dev/null; then
  echo "schemathesis.sh: the server died:" >&2; cat "$work/serve.log" >&2; exit 1
fi
if grep -q ERROR "$work/serve.log"; then
  echo "schemathesis.sh: the server logged errors:" >&2; grep ERROR "$work/serve.log" >&2; failed=1
fi
exit "$failed"
