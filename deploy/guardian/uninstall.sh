#!/bin/sh
# Removes a Shellguard guardian (docs/install.md):
#
#   sudo ./uninstall.sh [--purge] [--user shellguard] [--prefix DIR]
#
# Removes the service, the launcher and both slots of each stream, and the slot state. Keeps the
# guardian's data — its identity key (the device id the server claimed), certificates and
# unsent telemetry queue — its config and its user, so a reinstall is the same device.
# --purge removes those too: the device id is gone for good (claim the new one).
set -eu

PREFIX=/
PURGE=no
SVC_USER=shellguard
die() { echo "uninstall.sh: $*" >&2; exit 1; }
say() { echo "uninstall.sh: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a folder}; shift 2 ;;
    --purge) PURGE=yes; shift ;;
    --user) SVC_USER=${2:?--user needs a name}; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
case "$SVC_USER" in *[!a-z0-9_-]*|'') die "--user must be a plain user name" ;; esac
PREFIX=${PREFIX%/}
[ "$PREFIX" != "" ] || [ "$(id -u)" -eq 0 ] || die "uninstalling from / needs root"

OPT=$PREFIX/opt/shellguard/guardian
DATA=$PREFIX/var/lib/shellguard/guardian
ETC=$PREFIX/etc/shellguard
UNIT=$PREFIX/etc/systemd/system/shellguard-guardian.service

if [ "$PREFIX" = "" ] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now shellguard-guardian.service 2>/dev/null || true
fi
rm -f "$UNIT"
if [ "$PREFIX" = "" ] && command -v systemctl >/dev/null 2>&1; then systemctl daemon-reload || true; fi
rm -rf "$OPT"
rmdir "$PREFIX/opt/shellguard" 2>/dev/null || true
# The slot state describes installed software, not data.
rm -f "$DATA/slots.json" "$DATA/slots.json.tmp"

if [ "$PURGE" = yes ]; then
  rm -rf "$DATA"
  rm -f "$ETC/guardian.yaml"
  rmdir "$ETC" "$PREFIX/var/lib/shellguard" 2>/dev/null || true
  if [ "$(id -u)" -eq 0 ] && id -u "$SVC_USER" >/dev/null 2>&1; then
    userdel "$SVC_USER" && say "removed user $SVC_USER"
  fi
  say "removed the guardian, its data and keys, config and user"
else
  say "removed the guardian; kept $DATA (identity key, certificates, queue), $ETC/guardian.yaml and user $SVC_USER (--purge removes them)"
fi
