#!/usr/bin/env bash
# Runs a command after making sure the npm test tools (tests/tools/package.json: yaml-language-server,
# the SARIF multitool) are installed with `npm ci`; .ci/run installs them up front.
set -euo pipefail
tools="$(cd "$(dirname "$0")/../tools" && pwd)"
if [ ! -d "$tools/node_modules/yaml-language-server" ] || [ ! -d "$tools/node_modules/@microsoft/sarif-multitool" ]; then
  echo "installing the npm test tools (npm ci in tests/tools)..." >&2
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
chmod u+x "$tools"/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool 2>/dev/null || true
exec "$@"
