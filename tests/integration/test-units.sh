#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What ships: `meson install` puts units, D-Bus files, man pages and binaries in place; the units verify
# cleanly, stay hardened, and their socket and capability set are enough for the daemon to record.
. "$(dirname "$0")/lib.sh"

command -v meson >/dev/null || { echo "SKIP: meson is not installed"; exit 77; }
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed"; exit 77; }

# exists DESCRIPTION FILE [-x]
exists() {
        [ -f "$2" ] || fail "$1: $2 was not installed"
        if [ "${3:-}" = -x ] && [ ! -x "$2" ]; then
                fail "$1: $2 is not executable"
        fi
        echo "ok: $1 at ${2#"$DEST"}"
}

# unit_value FILE KEY: the last value of KEY= in a unit file.
unit_value() {
        sed -n "s/^$2=//p" "$1" | tail -n 1
}

echo "# meson install into a staging directory"
DEST="$T/dest"
meson install -C "$BUILD_DIR" --no-rebuild --destdir "$DEST" >"$T/install.log" 2>&1 ||
        { cat "$T/install.log"; fail "meson install failed"; }
eval "$(meson introspect --buildoptions "$BUILD_DIR" | python3 -c '
import json, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
for k in ("prefix", "bindir", "sbindir", "datadir", "mandir"):
    v = opts[k] if opts[k].startswith("/") else opts["prefix"] + "/" + opts[k]
    print(k.upper() + "=" + v)
')"
UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || true)
[ -n "$UNITDIR" ] || UNITDIR="$PREFIX/lib/systemd/system"

SERVICE="$DEST$UNITDIR/lineaged.service"
SOCKET="$DEST$UNITDIR/lineaged.socket"
exists "daemon" "$DEST$SBINDIR/lineaged" -x
exists "client" "$DEST$BINDIR/lineagectl" -x
exists "service unit" "$SERVICE"
exists "socket unit" "$SOCKET"
exists "bus policy" "$DEST$DATADIR/dbus-1/system.d/org.lineaged.Lineage1.conf"
exists "bus activation" "$DEST$DATADIR/dbus-1/system-services/org.lineaged.Lineage1.service"
exists "bus interface" "$DEST$DATADIR/dbus-1/interfaces/org.lineaged.Lineage1.xml"
exists "lineaged(8)" "$DEST$MANDIR/man8/lineaged.8"
exists "lineagectl(1)" "$DEST$MANDIR/man1/lineagectl.1"

echo "# the installed pieces agree with each other"
! grep -n '@[a-z_]*@' "$SERVICE" || fail "unsubstituted @…@ left in lineaged.service"
check "ExecStart" "$(unit_value "$SERVICE" ExecStart)" "$SBINDIR/lineaged"
ACTIVATION="$DEST$DATADIR/dbus-1/system-services/org.lineaged.Lineage1.service"
check "bus activation starts" "$(unit_value "$ACTIVATION" SystemdService)" lineaged.service
check "BusName" "$(unit_value "$SERVICE" BusName)" "$(unit_value "$ACTIVATION" Name)"
check "Sockets" "$(unit_value "$SERVICE" Sockets)" lineaged.socket
DEFAULT_VARLINK=$(sed -n 's/^#define LINEAGE_DEFAULT_VARLINK "\(.*\)"$/\1/p' "$SOURCE_DIR/include/lineage/names.h")
check "ListenStream is the daemon's default" "$(unit_value "$SOCKET" ListenStream)" "$DEFAULT_VARLINK"
check "FileDescriptorName" "$(unit_value "$SOCKET" FileDescriptorName)" varlink
"$DEST$SBINDIR/lineaged" --version | grep '^lineaged ' >/dev/null || fail "the installed lineaged does not run"
if grep -q '^WatchdogSec=' "$SERVICE"; then
        grep -qE 'sd_event_set_watchdog|WATCHDOG=1' "$SOURCE_DIR"/daemon/*.c ||
                fail "lineaged.service sets WatchdogSec= but the daemon never pings the watchdog"
        echo "ok: WatchdogSec= and the daemon pings"
fi

echo "# the man pages render (and lint clean, where mandoc is installed)"
for page in "$DEST$MANDIR/man8/lineaged.8" "$DEST$MANDIR/man1/lineagectl.1"; do
        if command -v man >/dev/null; then
                MANWIDTH=80 man --warnings -l "$page" >"$T/man.out" 2>"$T/man.err" || true
                grep -q '^SYNOPSIS' "$T/man.out" || { cat "$T/man.err"; fail "$page does not render"; }
                [ ! -s "$T/man.err" ] || { cat "$T/man.err"; fail "$page renders with warnings"; }
        fi
        if command -v mandoc >/dev/null; then
                mandoc -T lint -W warning "$page" || fail "mandoc finds problems in $page"
        fi
        echo "ok: ${page##*/}"
done

echo "# systemd-analyze verify: no warning about our units"
V="$T/verify"
mkdir "$V"
sed "s|^ExecStart=$SBINDIR/|ExecStart=$DEST$SBINDIR/|" "$SERVICE" >"$V/lineaged.service"
cp "$SOCKET" "$V/lineaged.socket"
# verify runs man(1) for each Documentation= page: point it at the installed pages when man is here.
verify() {
        if command -v man >/dev/null; then
                (cd "$V" && MANPATH="$DEST$MANDIR" systemd-analyze verify --man=yes "$@")
        else
                (cd "$V" && systemd-analyze verify --man=no "$@")
        fi
}
verify ./lineaged.service ./lineaged.socket >"$T/verify.log" 2>&1 || { cat "$T/verify.log"; fail "systemd-analyze verify failed"; }
if grep -E 'lineaged|org\.lineaged' "$T/verify.log"; then
        fail "systemd-analyze verify warns about our units"
fi
echo "ok: verify is clean"
# The check above must be able to fail: a unit with a typo is reported.
sed 's/^ProtectSystem=/ProtectSistem=/' "$V/lineaged.service" >"$V/lineaged-typo.service"
sed -i '/^BusName=/d' "$V/lineaged-typo.service"
verify ./lineaged-typo.service >"$T/verify-typo.log" 2>&1 || true
grep -q 'lineaged-typo.service.*ProtectSistem' "$T/verify-typo.log" ||
        { cat "$T/verify-typo.log"; fail "systemd-analyze verify did not report a typo"; }
echo "ok: verify reports a typo"
rm "$V/lineaged-typo.service"

if systemd-analyze security --help 2>/dev/null | grep -- --offline >/dev/null; then
        echo "# hardening: exposure stays at most 2.5 (of 10)"
        (cd "$V" && systemd-analyze security --offline=true --threshold=25 --no-pager ./lineaged.service) \
                >"$T/security.log" 2>&1 || { cat "$T/security.log"; fail "lineaged.service is exposed more than 2.5"; }
        grep 'Overall exposure' "$T/security.log" | sed 's/^→ /ok: /'
fi

echo "# the unit's capabilities and socket are enough: exe and argv of other users' processes"
CAPS=$(unit_value "$SERVICE" CapabilityBoundingSet)
check "capability bounding set" "$CAPS" "CAP_NET_ADMIN CAP_SYS_PTRACE CAP_DAC_READ_SEARCH"
SETPRIV_CAPS=$(echo "$CAPS" | tr 'A-Z ' 'a-z\n' | sed 's/^cap_/+/' | paste -sd, -)
ACT_SOCK="$T/activated.sock"
DB="$T/activated.db"
# As systemd would start it: root, only those capabilities, no new privileges, the socket passed in.
setpriv --bounding-set=-all,"$SETPRIV_CAPS" --inh-caps=-all --no-new-privs -- \
        systemd-socket-activate --listen="$ACT_SOCK" --fdname="$(unit_value "$SOCKET" FileDescriptorName)" -- \
        "$DEST$SBINDIR/lineaged" --database="$DB" --varlink="$T/not-this.sock" --dbus=none --commit-interval=50 \
        >"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 1 100); do
        [ -S "$ACT_SOCK" ] && break
        sleep 0.05
done
# The first connection starts lineaged, which answers once it is recording.
timeout 30 "$LINEAGECTL" --varlink="$ACT_SOCK" status >"$T/status.out" || fail "no answer on the passed socket"
check "daemon status answered" "$(grep -c '^ *Version:' "$T/status.out")" 1
[ ! -e "$T/not-this.sock" ] || fail "lineaged bound --varlink although systemd passed a socket"
check "effective capabilities of the daemon" \
        "$(grep CapEff "/proc/$DAEMON_PID/status" | cut -f2)" \
        "$(printf '%016x' $(( (1 << 12) | (1 << 19) | (1 << 2) )))"
setpriv --reuid=65534 --regid=65534 --clear-groups -- sleep 300 &
OTHER=$!
cleanup_pids "$OTHER"
sleep 300 &
MINE=$!
cleanup_pids "$MINE"
settle
SLEEP_EXE=$(readlink -f "$(command -v sleep)")
check "another user's process: uid" "$(q "SELECT uid FROM processes WHERE pid = $OTHER AND alive")" 65534
check "another user's process: exe" "$(q "SELECT exe FROM processes WHERE pid = $OTHER AND alive")" "$SLEEP_EXE"
check "another user's process: argv" "$(q "SELECT cmdline FROM processes WHERE pid = $OTHER AND alive")" "sleep 300"
check "a full-capability root process: exe" "$(q "SELECT exe FROM processes WHERE pid = $MINE AND alive")" "$SLEEP_EXE"
stop_daemon

echo "units: all checks passed"
