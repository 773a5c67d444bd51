#!/usr/bin/env bash
# Installs the Debian packages the tests use as independent peers, and then checks that each one
# really works the way the tests use it (the import or the command line, not just the package):
#   python3-pymodbus    an independent Modbus TCP server (test/fixtures/pymodbus). pymodbus.server
#                       imports `serial` and `serial_asyncio`, which Debian ships only as Recommends
#                       of it (and we install without Recommends): python3-serial and
#                       python3-serial-asyncio are therefore named explicitly
#   tshark              packet capture, to prove what went over the wire
#   snmp                Net-SNMP's snmptrap / snmpinform: traps and v3 informs from an independent sender
#   snmpd               Net-SNMP's agent: the SNMP driver's interop tests start their own on loopback
#   snmpsim             snmpsim's snmpsimd (pysnmp): an independent agent serving test/fixtures/snmpsim
#   mosquitto-clients   mosquitto_pub / mosquitto_sub, an MQTT client that is not ours
#   openssl             an independent X.509 / CSR / CRL implementation
#   redfishtool         DMTF's Redfish client, an independent peer of the simulated BMC
#   chromium            the browser the web dashboard's tests drive (playwright-core, no download)
#   mosquitto           Mosquitto 2 with its dynamic-security plugin: the external broker of the
#                       scale-out tests (each test starts its own on its own port)
#   nats-server         NATS with JetStream: the bus between ingest and its consumers, and the
#                       site-to-centre links (tests start their own servers)
#   postgresql          the scale-out store (the machine's server on 127.0.0.1:5432 normally runs
#                       already; scripts/start-services.sh starts it when it does not)
# Safe to run again: it installs only what does not work yet, and fails loudly if a peer still
# does not work afterwards.
set -euo pipefail

SYSTEM_PYTHON=/usr/bin/python3
# Exactly the imports test/fixtures/pymodbus/server.py makes.
PYMODBUS_IMPORTS='from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.device import ModbusDeviceIdentification
from pymodbus.server import StartAsyncTcpServer'

# A free-enough loopback UDP port for a check's own agent.
check_port() { echo $((20000 + RANDOM % 20000)); }
snmpd_check() {
  local d port pid ok=1
  d=$(mktemp -d); port=$(check_port)
  printf '[snmp] persistentDir %s\nrocommunity sg-check 127.0.0.1\n' "$d" > "$d/snmpd.conf"
  SNMP_PERSISTENT_DIR="$d" MIBS='' /usr/sbin/snmpd -f -Lo -C -r -c "$d/snmpd.conf" "udp:127.0.0.1:$port" >"$d/log" 2>&1 & pid=$!
  for _ in $(seq 50); do
    if MIBS='' snmpget -v2c -c sg-check -r 0 -t 1 "127.0.0.1:$port" 1.3.6.1.2.1.1.3.0 2>/dev/null | grep -q Timeticks; then ok=0; break; fi
    sleep 0.2
  done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$d"
  return $ok
}
snmpsim_check() {
  local d port pid ok=1
  d=$(mktemp -d); port=$(check_port); chmod 755 "$d"; mkdir -m 777 "$d/cache"
  printf '1.3.6.1.2.1.1.3.0|67|42\n' > "$d/1.3.6.1.6.1.1.0.snmprec"; chmod 644 "$d/1.3.6.1.6.1.1.0.snmprec"
  local as_root=(); [ "$(id -u)" -eq 0 ] && as_root=(--process-user=nobody --process-group=nogroup)
  /usr/bin/snmpsimd --data-dir="$d" --cache-dir="$d/cache" --agent-udpv4-endpoint="127.0.0.1:$port" "${as_root[@]}" \
    --v3-user=check --v3-auth-key=check-auth-key --v3-auth-proto=SHA512 --v3-priv-key=check-priv-key --v3-priv-proto=AES256BLMT \
    --logging-method=null >/dev/null 2>&1 & pid=$!
  for _ in $(seq 50); do
    if MIBS='' snmpget -v3 -l authPriv -u check -a SHA-512 -A check-auth-key -x AES-256 -X check-priv-key -r 0 -t 1 "127.0.0.1:$port" 1.3.6.1.2.1.1.3.0 2>/dev/null | grep -q '(42)'; then ok=0; break; fi
    sleep 0.2
  done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$d"
  return $ok
}

# name of the check -> packages that provide it
check() {
  # Never `grep -q` behind a pipe: it exits at the first match, the writer then dies of SIGPIPE, and
  # pipefail fails a tool that works (seen with redfishtool right after its install).
  case "$1" in
    pymodbus) "$SYSTEM_PYTHON" -c "$PYMODBUS_IMPORTS" ;;
    tshark) tshark --version ;;
    # snmptrap -V prints the version and exits 0; the trap tests run snmptrap and snmpinform (v3 SHA-256/AES).
    snmp) snmptrap -V 2>&1 | grep 'NET-SNMP' >/dev/null && snmpinform -H 2>&1 | grep 'SHA-256' >/dev/null ;;
    # Starts snmpd as the interop test does (own config, own persistent dir, loopback) and reads sysUpTime from it.
    snmpd) snmpd_check ;;
    # Starts snmpsimd as the interop test does (SHA-512 / AES-256 Blumenthal user, loopback) and reads a fixture value over v3.
    snmpsim) snmpsim_check ;;
    # mosquitto_pub has no --version that exits 0: being on PATH and linking is the check.
    mosquitto-clients) command -v mosquitto_pub && command -v mosquitto_sub && ldd "$(command -v mosquitto_pub)" | { ! grep 'not found' >/dev/null; } ;;
    openssl) openssl version ;;
    # -V prints the version and exits 0; the interop test runs its Chassis Thermal/Power commands.
    redfishtool) redfishtool -V | grep 'redfishtool Version' >/dev/null && redfishtool Chassis -h | grep 'Thermal' >/dev/null ;;
    chromium) /usr/bin/chromium --headless --no-sandbox --disable-gpu --version ;;
    # mosquitto -h exits non-zero; its first line names the version.
    mosquitto) { /usr/sbin/mosquitto -h 2>&1 || true; } | grep 'mosquitto version 2' && ls /usr/lib/*/mosquitto_dynamic_security.so ;;
    nats-server) nats-server --version | grep 'v2' >/dev/null ;;
    postgresql) command -v psql && ls /etc/postgresql/*/main ;;
  esac
}
packages_for() {
  case "$1" in
    pymodbus) echo "python3-pymodbus python3-serial python3-serial-asyncio" ;;
    tshark) echo "tshark" ;;
    snmp) echo "snmp" ;;
    snmpd) echo "snmpd snmp" ;;
    snmpsim) echo "snmpsim snmp" ;;
    mosquitto-clients) echo "mosquitto-clients" ;;
    openssl) echo "openssl" ;;
    redfishtool) echo "redfishtool" ;;
    chromium) echo "chromium fonts-dejavu-core" ;;
    mosquitto) echo "mosquitto" ;;
    nats-server) echo "nats-server" ;;
    postgresql) echo "postgresql postgresql-client" ;;
  esac
}
CHECKS=(pymodbus tshark snmp snmpd snmpsim mosquitto-clients openssl redfishtool chromium mosquitto nats-server postgresql)

need=()
for c in "${CHECKS[@]}"; do
  check "$c" >/dev/null 2>&1 && continue
  # shellcheck disable=SC2207
  need+=($(packages_for "$c"))
done

if [ ${#need[@]} -gt 0 ]; then
  echo "test dependencies: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no (tests run as root).
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections || true
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

failed=()
for c in "${CHECKS[@]}"; do
  check "$c" >/dev/null 2>&1 || failed+=("$c")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test dependencies: still not working after install: ${failed[*]}" >&2
  for c in "${failed[@]}"; do
    echo "--- $c:" >&2
    check "$c" >&2 || true
  done
  exit 1
fi
echo "test dependencies: all present (${CHECKS[*]})"
