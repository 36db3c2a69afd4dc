#!/usr/bin/env bash
# Runs tests/scripts/smtp-server.py with Debian's python3 and python3-aiosmtpd, installing the package if missing.
set -euo pipefail
if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "python3-aiosmtpd is not installed and this is not root: apt-get install python3-aiosmtpd" >&2
    exit 1
  fi
  echo "installing python3-aiosmtpd (Debian package)..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-aiosmtpd >/dev/null) >&2
fi
exec /usr/bin/python3 "$(dirname "$0")/smtp-server.py" "$@"
