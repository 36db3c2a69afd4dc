#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster on 127.0.0.1 for the tests, installing Debian's postgresql
# if it is missing. Prints one line: the Npgsql connection string. Stop it with stop-postgres.sh DIR.
# Usage: start-postgres.sh DIR [PORT]
set -euo pipefail
dir=${1:?usage: start-postgres.sh DIR [PORT]}
port=${2:-55432}

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
bin=$(find_bin || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "PostgreSQL is not installed and this is not root: apt-get install postgresql" >&2
    exit 1
  fi
  echo "installing postgresql (Debian package)..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2
  bin=$(find_bin)
fi

mkdir -p "$dir"
if [ "$(id -u)" -eq 0 ]; then
  # The server runs as the postgres user, which must be able to reach DIR (e.g. a mktemp -d parent).
  chmod o+x "$(dirname "$dir")"
fi
run() {
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres "$dir"
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}
if [ ! -f "$dir/data/PG_VERSION" ]; then
  run "'$bin/initdb' -D '$dir/data' -A trust -U postgres -E UTF8 --no-locale" >/dev/null
fi
run "'$bin/pg_ctl' -D '$dir/data' -l '$dir/log' -w -t 60 -o \"-h 127.0.0.1 -p $port -k '$dir' -c fsync=off -c full_page_writes=off\" start" >/dev/null
echo "Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres;Pooling=false"
