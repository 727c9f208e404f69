#!/usr/bin/env bash
# Refresh throughput and p99 as the sessions table grows: 10^3, 10^5, 10^7 filler
# sessions (random ids, like real ones) in a SQLite database, and in a PostgreSQL one
# when SYMBOLON_TEST_POSTGRES_URL is set; /healthz of the same server beside each, and
# the database's size per session.
# Usage: scripts/bench-growth.sh [duration] [sizes...]   (defaults: 8s 1000 100000 10000000)
# GROWTH_STORES="sqlite" or "pg" measures one store only (default both).
# Needs the sqlite3 command-line shell (Debian: sqlite3) and, for PostgreSQL, psql.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-8s}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 100000 10000000)
command -v sqlite3 >/dev/null || { echo "bench-growth: needs the sqlite3 shell (apt-get install sqlite3)" >&2; exit 1; }
. scripts/bench-lib.sh
admin=${SYMBOLON_TEST_POSTGRES_URL:-}
pgdb=symbolon_growth_$$
cleanup() {
  [ -n "$admin" ] && psql "$admin" -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" 2>/dev/null
  bench_cleanup
}
trap cleanup EXIT

# One filler user; N sessions of it, live for a year, random 22-character ids.
FILLER_USER="INSERT INTO users (id, username, username_key, password_hash, created_at) VALUES ('filler', 'filler', 'filler', 'x', 0);"
sqlite_fill() { # $1 = db, $2 = n
  sqlite3 "$1" "$FILLER_USER
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
    INSERT INTO sessions (id, user_id, username, client_id, generation, created_at, rotated_at, last_used_at, absolute_end, user_agent, ip)
    SELECT substr(hex(randomblob(11)), 1, 22), 'filler', 'filler', 'symbolon', 0, unixepoch(), unixepoch(), unixepoch(), unixepoch() + 31536000, 'bench/1.0', '127.0.0.1' FROM n;"
}
pg_fill() { # $1 = url, $2 = n
  psql "$1" -qc "$FILLER_USER
    INSERT INTO sessions (id, user_id, username, client_id, generation, created_at, rotated_at, last_used_at, absolute_end, user_agent, ip)
    SELECT substr(md5(random()::text), 1, 22), 'filler', 'filler', 'symbolon', 0, extract(epoch from now())::bigint, extract(epoch from now())::bigint, extract(epoch from now())::bigint, extract(epoch from now())::bigint + 31536000, 'bench/1.0', '127.0.0.1' FROM generate_series(1, $2);" -c "VACUUM ANALYZE sessions;"
}
migrate() { # $1 = database_url
  printf 'database_url = "%s"\nmaster_key_file = "%s"\n' "$1" "$work/symbolon.key" > "$work/m.toml"
  "$bin" --config "$work/m.toml" migrate >/dev/null
}
measure() { # $1 = database_url, $2 = label
  bench_start "$1"
  echo "# $2"
  bench_run healthz 64 "$duration"
  bench_run refresh 64 "$duration"
  bench_stop
}

stores=${GROWTH_STORES:-sqlite pg}
for n in "${sizes[@]}"; do
  if [[ " $stores " == *" sqlite "* ]]; then
    db=$work/growth.db
    rm -f "$db"*
    migrate "sqlite://$db"
    sqlite_fill "$db" "$n"
    sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
    bytes=$(stat -c %s "$db")
    measure "sqlite://$db" "SQLite, $n filler sessions, $bytes bytes ($((bytes / n)) per session)"
  fi
  if [ -n "$admin" ] && [[ " $stores " == *" pg "* ]]; then
    psql "$admin" -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)"
    psql "$admin" -qc "CREATE DATABASE $pgdb"
    url="${admin%/*}/$pgdb"
    migrate "$url"
    pg_fill "$url" "$n"
    size=$(psql "$url" -Atc "SELECT pg_total_relation_size('sessions')")
    measure "$url" "PostgreSQL, $n filler sessions, sessions table $size bytes ($((size / n)) per session)"
  fi
done
