#!/usr/bin/env bash
# The scale-out layout on one machine (issue 12, "Running it"), for tests and for trying it out:
#   PostgreSQL  the machine's, 127.0.0.1:5432 (started by scripts/start-services.sh if needed),
#               database shellguard_scaleout holding everything the server stores;
#   Mosquitto   Debian's /usr/sbin/mosquitto, started by the demo on its own free loopback port
#               with a generated configuration (dynamic security, site CA, CRL) in the demo folder;
#   NATS        Debian's nats-server with JetStream, started by the demo on its own free loopback
#               port, its store in the demo folder: the bus between the replicas;
#   the demo    site CA, simulated equipment and guardians, and two server replicas (API ports
#               8443 and 8444) sharing the devices; one of them evaluates (docs/scale-out.md).
#
# The embedded default (SQLite, embedded broker, one server) stays the two-command demo:
# scripts/demo.sh. `--replicas 1` here runs one replica on PostgreSQL + Mosquitto.
#
# Usage: scripts/scale-out.sh [--fresh] [demo options...]
#   --fresh   drop and recreate the database shellguard_scaleout first (the demo needs it empty,
#             so use it on every run after the first)
#   anything else is passed to `shellguard demo` (e.g. --assets 8 --guardians 2 --duration 60,
#   or --replicas 3).
# Needs: PostgreSQL with trust auth for postgres@127.0.0.1, mosquitto and nats-server
# (scripts/install-test-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

DB=shellguard_scaleout
URL="postgres://postgres@127.0.0.1:5432/$DB"
fresh=0
args=()
for a in "$@"; do
  if [ "$a" = "--fresh" ]; then fresh=1; else args+=("$a"); fi
done

scripts/start-services.sh
psql_admin() { psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -Atq "$@"; }
if [ "$fresh" = 1 ]; then
  echo "scale-out: dropping database $DB"
  psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
  echo "scale-out: creating database $DB"
  psql_admin -c "CREATE DATABASE $DB"
fi
[ -x /usr/sbin/mosquitto ] || { echo "scale-out: /usr/sbin/mosquitto is missing: sudo apt-get install mosquitto (or scripts/install-test-deps.sh)" >&2; exit 1; }
command -v nats-server >/dev/null || { echo "scale-out: nats-server is missing: sudo apt-get install nats-server (or scripts/install-test-deps.sh)" >&2; exit 1; }
[ -d node_modules ] || npm ci --no-audit --no-fund

replicas=(--replicas 2)
for a in ${args[@]+"${args[@]}"}; do [ "$a" = "--replicas" ] && replicas=(); done
exec npm run --silent shellguard -- demo --database "$URL" --broker mosquitto "${replicas[@]}" ${args[@]+"${args[@]}"}
