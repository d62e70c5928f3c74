#!/usr/bin/env bash
# Regenerate (default) or check (--check) the route table in README.md from
# `dbpecker --dump-routes`, between the routes:begin / routes:end markers.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${DBP_BINARY:-$here/build/dbpecker}
readme=$here/README.md
new=$(mktemp)
trap 'rm -f "$new"' EXIT
awk -v table="$("$bin" --dump-routes)" '
  /<!-- routes:begin -->/ { print; print table; skip = 1; next }
  /<!-- routes:end -->/ { skip = 0 }
  !skip { print }' "$readme" > "$new"
if [ "${1:-}" = "--check" ]; then
  if ! diff -u "$readme" "$new"; then
    echo "README.md route table is out of date: run scripts/readme-routes.sh" >&2
    exit 1
  fi
  echo "ok: README.md route table matches the route table"
else
  cp "$new" "$readme"
fi
