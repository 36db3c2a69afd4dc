#!/usr/bin/env bash
# The suite-wide secrets sweep (.ci/run calls it after the tests): every secret the tests pass through
# ${env:...} is a canary starting with PBCANARY (tests/Shared/TestCanary.cs). None may appear in the
# test log, the output tests captured, the workspaces, plans and SQLite stores they left, or the
# PostgreSQL cluster's files (its rows and its server log).
# usage: canary-sweep.sh FILE-OR-FOLDER...   exit 1 when a canary is found, listing where.
# CANARY_PREFIX changes the prefix (the script's own test uses another, so that the real sweep stays clean).
set -uo pipefail
prefix=${CANARY_PREFIX:-PBCANARY}
found=$(grep -r -a -l -F "$prefix" -- "$@" 2>/dev/null)
files=$(find "$@" -type f 2>/dev/null | wc -l)
if [ -n "$found" ]; then
  echo "error: canary secrets found in $(echo "$found" | wc -l) file(s):" >&2
  while IFS= read -r file; do
    echo "  $file" >&2
    grep -a -o -E ".{0,80}$prefix.{0,60}" "$file" | head -3 | sed 's/^/      /' >&2
  done <<< "$found"
  exit 1
fi
echo "Canary sweep: no secret in $files file(s)"
