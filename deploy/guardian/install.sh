#!/bin/sh
# Installs a Shellguard guardian on a gateway (docs/install.md):
#
#   sudo ./install.sh --app shellguard-guardian-app-<v>.tar.gz \
#                     --platform shellguard-guardian-platform-<v>-<platform>-<arch>.tar.gz \
#                     [--config guardian.yaml] [--user shellguard] [--node /usr/bin/node]
#                     [--prefix DIR] [--no-start]
#
# --prefix installs under DIR instead of / (tests, image building): nothing is started there and
# the systemd unit keeps the real paths. Not run as root, the user is not created and files stay
# owned by whoever runs it (only useful with --prefix).
set -eu

PREFIX=/
APP=
PLATFORM=
CONFIG=
SVC_USER=shellguard
NODE_BIN=
START=yes
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a folder}; shift 2 ;;
    --app) APP=${2:?--app needs a file}; shift 2 ;;
    --platform) PLATFORM=${2:?--platform needs a file}; shift 2 ;;
    --config) CONFIG=${2:?--config needs a file}; shift 2 ;;
    --user) SVC_USER=${2:?--user needs a name}; shift 2 ;;
    --node) NODE_BIN=${2:?--node needs a path}; shift 2 ;;
    --no-start) START=no; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -n "$APP" ] && [ -f "$APP" ] || die "--app <shellguard-guardian-app-*.tar.gz> is required"
[ -n "$PLATFORM" ] && [ -f "$PLATFORM" ] || die "--platform <shellguard-guardian-platform-*.tar.gz> is required"
[ -z "$CONFIG" ] || [ -f "$CONFIG" ] || die "--config $CONFIG does not exist"
case "$SVC_USER" in *[!a-z0-9_-]*|'') die "--user must be a plain user name" ;; esac
[ -n "$NODE_BIN" ] || NODE_BIN=$(command -v node) || die "node is not on PATH; give --node"
[ -x "$NODE_BIN" ] || die "$NODE_BIN is not executable"
PREFIX=${PREFIX%/}
[ "$PREFIX" = "" ] || [ -d "$PREFIX" ] || die "--prefix $PREFIX does not exist"
[ "$PREFIX" = "" ] || START=no

OPT=$PREFIX/opt/shellguard/guardian
DATA=$PREFIX/var/lib/shellguard/guardian
ETC=$PREFIX/etc/shellguard
UNIT_DIR=$PREFIX/etc/systemd/system
STATE=$DATA/slots.json

if [ "$(id -u)" -eq 0 ]; then
  ROOT=yes
else
  ROOT=no
  [ "$PREFIX" != "" ] || die "installing into / needs root"
  say "not root: user $SVC_USER is not created and files stay owned by $(id -un)"
fi
[ ! -e "$STATE" ] || die "$STATE exists: a guardian is installed here already; updates go through the updater (uninstall.sh first to reinstall; it keeps keys and data)"

# 1. Bundles: checksums (when the .sha256 is beside them), entry types, manifest and platform.
for f in "$APP" "$PLATFORM"; do
  if [ -f "$f.sha256" ]; then
    (cd "$(dirname "$f")" && sha256sum -c --status "$(basename "$f").sha256") || die "$f does not match $f.sha256"
  fi
  # Only files and folders with relative names (the updater's extractor refuses the same).
  bad=$(tar -tvzf "$f" | awk 'substr($1,1,1) != "-" && substr($1,1,1) != "d"' | head -n 1)
  [ -z "$bad" ] || die "$f holds a link or special file: $bad"
  bad=$(tar -tzf "$f" | grep -E '^/|(^|/)\.\.(/|$)' | head -n 1 || true)
  [ -z "$bad" ] || die "$f holds an unsafe name: $bad"
done

check_manifest() { # file stream
  tar -xzOf "$1" manifest.json | "$NODE_BIN" -e '
    let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => {
      const m = JSON.parse(s), want = process.argv[1];
      const fail = (why) => { console.error(why); process.exit(1); };
      if (m.product !== "shellguard-guardian" || m.stream !== want) fail(`not a shellguard-guardian ${want} bundle (${m.product} ${m.stream})`);
      if (want === "platform" && (m.platform !== `${process.platform}-${process.arch}` || m.nodeAbi !== process.versions.modules)) {
        fail(`built for ${m.platform}, Node ABI ${m.nodeAbi}; this node is ${process.platform}-${process.arch}, ABI ${process.versions.modules}`);
      }
      console.log(m.version);
    });' "$2"
}
APP_VERSION=$(check_manifest "$APP" application) || die "$APP: wrong bundle"
PLATFORM_VERSION=$(check_manifest "$PLATFORM" platform) || die "$PLATFORM: wrong bundle for this gateway"

# 2. The service user: a system account, no login shell, no home.
if [ "$ROOT" = yes ] && ! id -u "$SVC_USER" >/dev/null 2>&1; then
  NOLOGIN=$(command -v nologin || echo /usr/sbin/nologin)
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell "$NOLOGIN" \
    --comment "Shellguard guardian" "$SVC_USER"
  say "created system user $SVC_USER"
fi
own() { [ "$ROOT" = no ] || chown "$@"; }

# 3. Layout. Code root-owned and read-only, except slots/ (the updater writes the inactive slot).
umask 022
install -d -m 0755 "$OPT" "$ETC" "$PREFIX/var/lib/shellguard"
install -d -m 0755 "$OPT/slots"
for s in app-a app-b platform-a platform-b; do install -d -m 0755 "$OPT/slots/$s"; done
install -d -m 0700 "$DATA"
tar -xzf "$APP" -C "$OPT/slots/app-a" --no-same-owner --no-same-permissions
tar -xzf "$PLATFORM" -C "$OPT/slots/platform-a" --no-same-owner --no-same-permissions
own -R "$SVC_USER:$SVC_USER" "$OPT/slots" "$DATA"
install -m 0755 "$HERE/boot.mjs" "$OPT/boot.mjs"

# 4. Config (kept if there is one) and the initial slot state (format: packages/guardian/src/updates/slots.ts).
if [ -n "$CONFIG" ]; then
  install -m 0640 "$CONFIG" "$ETC/guardian.yaml"
elif [ ! -e "$ETC/guardian.yaml" ]; then
  install -m 0640 "$HERE/guardian.example.yaml" "$ETC/guardian.yaml"
  say "wrote an example $ETC/guardian.yaml: edit it before starting"
  START=no
fi
own "root:$SVC_USER" "$ETC/guardian.yaml"
( umask 077
  printf '%s\n' '{"v":1,"streams":{"application":{"active":"a","committed":"a","trial":null,"bootAttempts":0},"platform":{"active":"a","committed":"a","trial":null,"bootAttempts":0}}}' > "$STATE.tmp"
  mv "$STATE.tmp" "$STATE" )
own "$SVC_USER:$SVC_USER" "$STATE"

# 5. The systemd unit.
install -d -m 0755 "$UNIT_DIR"
sed -e "s|^User=shellguard\$|User=$SVC_USER|" -e "s|^Group=shellguard\$|Group=$SVC_USER|" \
    -e "s|^ExecStart=/usr/bin/node |ExecStart=$NODE_BIN |" \
    "$HERE/shellguard-guardian.service" > "$UNIT_DIR/shellguard-guardian.service"
chmod 0644 "$UNIT_DIR/shellguard-guardian.service"

say "installed guardian application $APP_VERSION (slot app-a) and platform $PLATFORM_VERSION (slot platform-a) under ${PREFIX:-/}"
if [ "$START" = yes ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload
  systemctl enable --now shellguard-guardian.service
  say "started shellguard-guardian.service (journalctl -u shellguard-guardian)"
else
  say "not started; when the config is ready: systemctl daemon-reload && systemctl enable --now shellguard-guardian"
fi
