#!/usr/bin/env bash
# Installs everything the tests need (npm packages from the lock file, Debian peers) and runs
# the whole suite: type-check, lint, unit, integration and interop tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
bash scripts/start-services.sh
npm ci --no-audit --no-fund
npm test
