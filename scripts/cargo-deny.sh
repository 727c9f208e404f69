#!/usr/bin/env bash
# Supply chain: `cargo deny check` (deny.toml: licenses, bans, sources, advisories)
# against the RustSec snapshot in .ci/advisory-db (.ci/README.md), with fetching
# disabled. Installs cargo-deny (pinned) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.20.2
if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $version"; then
  echo "cargo-deny.sh: installing cargo-deny $version (cargo install --locked; a few minutes)"
  # Its own target directory: not the workspace's CARGO_TARGET_DIR.
  env -u CARGO_TARGET_DIR cargo install cargo-deny --locked --version "$version" \
    || { echo "cargo-deny.sh: cannot install cargo-deny $version" >&2; exit 1; }
fi

# The snapshot's commit and date, from the one line that records them.
line=$(grep -E '^Snapshot: commit [0-9a-f]{40} of [0-9]{4}-[0-9]{2}-[0-9]{2}$' .ci/README.md) \
  || { echo "cargo-deny.sh: no 'Snapshot: commit … of YYYY-MM-DD' line in .ci/README.md" >&2; exit 1; }
commit=$(echo "$line" | cut -d' ' -f3)
date=$(echo "$line" | cut -d' ' -f5)
age=$(( ($(date -u +%s) - $(date -u -d "$date" +%s)) / 86400 ))
echo "cargo-deny.sh: RustSec advisories as of $date (upstream commit ${commit:0:7}, $age days ago); later ones are not checked"
if (( age > 90 )); then
  echo "cargo-deny.sh: warning: the advisory snapshot is over 90 days old; refresh it (.ci/README.md)" >&2
fi

# cargo deny opens the database of its default URL at <db-path>/advisory-db-<hash of the
# URL> (cargo-deny 0.20), as a git checkout: a copy of the snapshot, made a repository of
# one commit dated as the snapshot.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
db=$root/advisory-db-3157b0e258782691
cp -r .ci/advisory-db "$db"
chmod -R u+w "$db"
(
  cd "$db"
  export GIT_AUTHOR_DATE="${date}T00:00:00Z" GIT_COMMITTER_DATE="${date}T00:00:00Z"
  git init -q
  git add -A
  git -c user.name=snapshot -c user.email=snapshot@localhost commit -q \
    -m "RustSec advisory-db at upstream $commit ($date)"
)

# The packages of every platform (cargo deny reads them all) are in the local cache, so
# that cargo deny itself can run offline.
cargo fetch --locked --quiet
SYMBOLON_ADVISORY_DB_ROOT=$root cargo deny --offline --locked check
