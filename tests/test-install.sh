#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# meson install into a DESTDIR: every installed path is where it belongs for the build's prefix, the
# D-Bus policy goes where dbus-daemon reads it for --prefix=/usr, the unit's ExecStart is the
# installed binary, and systemd-analyze verify passes on the installed units (with the installed tree
# overlaid on the prefix in a private mount namespace, so that the binary and man pages exist).
set -euo pipefail
: "${BUILD_DIR:?BUILD_DIR must point at the meson build directory}"
: "${SOURCE_DIR:?SOURCE_DIR must point at the source tree}"

command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed (package systemd)"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the mount namespace for systemd-analyze verify needs root"; exit 77; }

T=$(mktemp -d /tmp/lineage-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
D="$T/dest"
fail() { echo "FAIL: $*" >&2; exit 1; }
check() { [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"; echo "ok: $1 = $3"; }

meson install -C "$BUILD_DIR" --no-rebuild --quiet --destdir "$D" >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "meson install failed"; }

# The build's directories, as meson resolves them.
opt() {
        meson introspect "$BUILD_DIR" --buildoptions | python3 -c '
import json, os, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
v = o[sys.argv[1]]
print(v if sys.argv[1] == "prefix" or os.path.isabs(v) else os.path.join(o["prefix"], v))' "$1"
}
PREFIX=$(opt prefix) BINDIR=$(opt bindir) SBINDIR=$(opt sbindir) DATADIR=$(opt datadir) MANDIR=$(opt mandir)
UNITDIR=$(dirname "$(meson introspect "$BUILD_DIR" --installed | python3 -c '
import json, sys
print(next(d for d in json.load(sys.stdin).values() if d.endswith("/lineaged.service")))')")
echo "prefix $PREFIX, units in $UNITDIR"

echo "# every path meson says it installs is there"
meson introspect "$BUILD_DIR" --installed | python3 -c '
import json, sys
for dest in json.load(sys.stdin).values():
    print(dest)' >"$T/installed"
n=0
while IFS= read -r p; do
        [ -s "$D$p" ] || fail "$p was not installed (or is empty)"
        n=$((n + 1))
done <"$T/installed"
echo "ok: $n paths installed"
# And nothing else.
check "files in DESTDIR" "$(cd "$D" && find . -type f | sed 's|^\.||' | sort)" "$(sort "$T/installed")"

echo "# each where it belongs"
for p in "$SBINDIR/lineaged" "$BINDIR/lineagectl" \
        "$DATADIR/dbus-1/system.d/org.lineaged.Lineage1.conf" \
        "$DATADIR/dbus-1/system-services/org.lineaged.Lineage1.service" \
        "$DATADIR/dbus-1/interfaces/org.lineaged.Lineage1.xml" \
        "$DATADIR/bash-completion/completions/lineagectl" \
        "$MANDIR/man8/lineaged.8" "$MANDIR/man1/lineagectl.1" \
        "$UNITDIR/lineaged.service" "$UNITDIR/lineaged.socket"; do
        grep -qxF "$p" "$T/installed" || fail "$p is not among the installed paths"
        echo "ok: $p"
done
[ -x "$D$SBINDIR/lineaged" ] && [ -x "$D$BINDIR/lineagectl" ] || fail "the binaries are not executable"
check "the installed lineagectl runs" "$("$D$BINDIR/lineagectl" --version | cut -d' ' -f1)" lineagectl

echo "# the unit starts the installed binary; D-Bus activation names the unit"
check "ExecStart" "$(grep '^ExecStart=' "$D$UNITDIR/lineaged.service")" "ExecStart=$SBINDIR/lineaged"
check "BusName" "$(grep '^BusName=' "$D$UNITDIR/lineaged.service")" "BusName=org.lineaged.Lineage1"
SVC="$D$DATADIR/dbus-1/system-services/org.lineaged.Lineage1.service"
check "activation Name" "$(grep '^Name=' "$SVC")" "Name=org.lineaged.Lineage1"
check "activation SystemdService" "$(grep '^SystemdService=' "$SVC")" "SystemdService=lineaged.service"
. "$D$DATADIR/bash-completion/completions/lineagectl"
check "the installed completion registers" "$(complete -p lineagectl)" "complete -F _lineagectl lineagectl"

echo "# with --prefix=/usr the policy goes where dbus-daemon reads it (configured, not built)"
meson setup --prefix=/usr "$T/usr-build" "$SOURCE_DIR" >"$T/setup.log" 2>&1 || { cat "$T/setup.log"; fail "meson setup --prefix=/usr failed"; }
meson introspect "$T/usr-build" --installed | python3 -c '
import json, sys
for dest in json.load(sys.stdin).values():
    print(dest)' >"$T/usr-installed"
grep -qxF /usr/share/dbus-1/system.d/org.lineaged.Lineage1.conf "$T/usr-installed" || { cat "$T/usr-installed"; fail "the policy is not in /usr/share/dbus-1/system.d"; }
grep -qxF /usr/share/dbus-1/system-services/org.lineaged.Lineage1.service "$T/usr-installed" || fail "the activation file is not in /usr/share/dbus-1/system-services"
grep -qxF /usr/sbin/lineaged "$T/usr-installed" || fail "lineaged is not in /usr/sbin"
grep -qxF /usr/share/bash-completion/completions/lineagectl "$T/usr-installed" || fail "the completion is not in /usr/share/bash-completion/completions"
check "its ExecStart" "$(grep '^ExecStart=' "$T/usr-build/units/lineaged.service")" "ExecStart=/usr/sbin/lineaged"
if [ -f /usr/share/dbus-1/system.conf ]; then
        grep -q '<includedir>system.d</includedir>' /usr/share/dbus-1/system.conf ||
                fail "this dbus-daemon does not read /usr/share/dbus-1/system.d"
        echo "ok: this system's dbus-daemon reads /usr/share/dbus-1/system.d"
fi

echo "# systemd-analyze verify on the installed units"
[ -d "$PREFIX" ] || { echo "SKIP: $PREFIX does not exist here, nothing to overlay the installed tree on"; exit 77; }
unshare --mount --propagation private sh -c '
        mount -t overlay overlay -o "lowerdir=$1$2:$2" "$2" || exit 90
        MANPATH="$3:$(manpath 2>/dev/null || echo /usr/share/man)" systemd-analyze verify "$1$4/lineaged.service" "$1$4/lineaged.socket"
' sh "$D" "$PREFIX" "$MANDIR" "$UNITDIR" >"$T/verify.log" 2>&1 || { cat "$T/verify.log"; fail "systemd-analyze verify failed on the installed units"; }
[ ! -s "$T/verify.log" ] || { cat "$T/verify.log"; fail "systemd-analyze verify had something to say"; }
echo "ok: systemd-analyze verify passes on the installed lineaged.service and lineaged.socket"
echo "install: all checks passed"
