#!/usr/bin/env bash
# make audit: cargo deny check (advisories, bans, licenses, sources) with deny.toml.
# When ../shared/advisory-db exists (the offline RustSec snapshot on the team's machines), it is
# copied into target/advisory-dbs as the git repository cargo-deny expects, committed with the
# snapshot's own date so the staleness check measures its real age, and checked offline.
# Elsewhere cargo-deny fetches the current database into the same folder.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deny >/dev/null || { echo "cargo-deny is not installed: make tools-audit" >&2; exit 1; }

# cargo-deny reads the manifest of every crate in Cargo.lock, including the Windows, UEFI, Redox
# and Android ones a Linux build never downloads, and --offline cannot fetch them: a fresh cargo
# cache failed with "failed to download `r-efi`". So fetch them all first (a no-op when cached).
cargo fetch --locked --quiet || echo "audit: cargo fetch failed; checking with what the cargo cache holds" >&2

snapshot=../shared/advisory-db
if [ -d "$snapshot" ]; then
  # cargo-deny names the clone after a hash of the database URL; this is the default RustSec one.
  db=target/advisory-dbs/advisory-db-3157b0e258782691
  rm -rf "$db"
  mkdir -p "$db"
  cp -R "$snapshot"/. "$db"/
  chmod -R u+w "$db"
  date=$(awk '{ gsub(/[()]/, "", $3); print $3 }' "$snapshot/SNAPSHOT" 2>/dev/null || true)
  [ -n "$date" ] || date=$(date -u +%F)
  (
    cd "$db"
    export GIT_AUTHOR_DATE="${date}T00:00:00Z" GIT_COMMITTER_DATE="${date}T00:00:00Z"
    git init -q
    git add -A
    git -c user.name=audit -c user.email=audit@localhost commit -qm "RustSec snapshot $date"
  )
  echo "audit: offline, RustSec snapshot of $date"
  cargo deny --offline check
else
  echo "audit: online, current RustSec database"
  cargo deny check
fi
