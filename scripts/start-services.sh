#!/usr/bin/env bash
# Starts the machine's services the tests use when they are not running (issue 12):
#   PostgreSQL on 127.0.0.1:5432 (trust auth; the tests create and drop their own databases).
# Broker and NATS tests start their own mosquitto and nats-server processes on their own ports, so
# only the binaries are needed (scripts/install-test-deps.sh installs them).
# Safe to run again; fails loudly when a service still does not answer.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }

if ! pg_up; then
  echo "services: starting PostgreSQL"
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
fi
if ! pg_up; then
  echo "services: PostgreSQL does not answer on 127.0.0.1:5432 (see /var/log/postgresql)" >&2
  exit 1
fi
# The tests connect as postgres without a password over TCP.
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
  echo "services: PostgreSQL refuses postgres@127.0.0.1 without a password; the tests need trust auth for local TCP (pg_hba.conf), or SHELLGUARD_TEST_POSTGRES_URL with credentials" >&2
  [ -n "${SHELLGUARD_TEST_POSTGRES_URL:-}" ] || exit 1
fi
echo "services: PostgreSQL ready"
