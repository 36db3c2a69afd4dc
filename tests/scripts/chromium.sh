#!/usr/bin/env bash
# Runs Debian's headless Chromium with the given arguments, installing the package if missing.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "chromium is not installed and this is not root: apt-get install chromium" >&2
    exit 1
  fi
  echo "installing chromium (Debian package)..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) >&2
fi
exec /usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
  --user-data-dir="$(mktemp -d /tmp/playbook-chromium.XXXXXX)" "$@"
