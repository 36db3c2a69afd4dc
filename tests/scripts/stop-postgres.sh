#!/usr/bin/env bash
# Stops a cluster started by start-postgres.sh and removes its folder (with --keep: leaves the folder,
# checkpointed, for the canary sweep to read).
set -uo pipefail
dir=${1:?usage: stop-postgres.sh DIR [--keep]}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$dir/data' -m fast -w stop" >/dev/null 2>&1
  else
    "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1
  fi
fi
if [ "${2:-}" != "--keep" ]; then
  rm -rf "$dir"
fi
