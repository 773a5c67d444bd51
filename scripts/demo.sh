#!/usr/bin/env bash
# Installs the npm packages and runs the whole system on this machine: `shellguard demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
exec npm run --silent demo -- "$@"
