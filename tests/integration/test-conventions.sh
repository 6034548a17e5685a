#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# lineagectl behaves as systemd's tools do: systemd.time(7) times, zones in output, --json errors,
# the pager, --no-legend/--quiet, ASCII outside UTF-8, help, and enrich refusing the wrong journal format.
. "$(dirname "$0")/lib.sh"

ctl() { "$LINEAGECTL" --varlink="$SOCK" "$@"; }
# poll SECONDS COMMAND...: runs COMMAND until it succeeds, for at most SECONDS (the machine may be loaded).
poll() {
        local deadline=$((SECONDS + $1))
        shift
        until "$@"; do
                [ "$SECONDS" -lt "$deadline" ] || return 1
                sleep 0.1
        done
}
n_logins() { ctl --json=short logins --user=42815 "$@" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["logins"]))'; }
one_login() { [ "$(n_logins)" = 1 ]; }

start_bus
start_daemon --dbus="$BUS"
poll 30 busctl --address="$BUS" status org.lineaged.Lineage1 >/dev/null 2>&1 || fail "lineaged is not on the bus"
fake_login 42815
poll 60 one_login || fail "the fake login was not recorded"
S=${L[sleeper]}
I=$(ctl --json=short origin "$S" | python3 -c 'import json,sys; print(json.load(sys.stdin)["process"]["instance"])')
START=$(ctl --json=short logins --user=42815 | python3 -c 'import json,sys; print(json.load(sys.stdin)["logins"][0]["startTime"])')
START_S=$((START / 1000000))
# at SECONDS [ZONE]: that second as "YYYY-MM-DD HH:MM:SS" in ZONE (default UTC), by date(1), not by us.
at() { TZ=${2:-UTC} date -d "@$1" '+%Y-%m-%d %H:%M:%S'; }

echo "# item 2: systemd.time(7) input wherever a time is taken"
# ListLogins answers the logins overlapping [since, until]; this one is alive, so it reaches into the future.
check "--since=yesterday" "$(n_logins --since=yesterday)" 1
check "--since=tomorrow (alive: still overlaps)" "$(n_logins --since=tomorrow)" 1
check "--until=today" "$(n_logins --until=today)" 0
check "--until=tomorrow" "$(n_logins --until=tomorrow)" 1
check "--until='1h ago'" "$(n_logins --until='1h ago')" 0
check "--until='-1 hour'" "$(n_logins --until='-1 hour')" 0
check "--until=-1h" "$(n_logins --until=-1h)" 0
check "--until=+5min" "$(n_logins --until=+5min)" 1
check "--until='5min left'" "$(n_logins --until='5min left')" 1
check "--until='$(at $((START_S + 1))) UTC'" "$(n_logins --until="$(at $((START_S + 1))) UTC")" 1
check "--until='$(at $((START_S - 1))) UTC' (1 s before the start)" "$(n_logins --until="$(at $((START_S - 1))) UTC")" 0
check "--until=@EPOCH" "$(n_logins --until="@$((START_S + 1))")" 1
check "--until=@EPOCH before" "$(n_logins --until="@$((START_S - 1))")" 0
check "--until in Asia/Tokyo" "$(n_logins --until="$(at $((START_S + 1)) Asia/Tokyo) Asia/Tokyo")" 1
check "--until in Asia/Tokyo, 1 s before" "$(n_logins --until="$(at $((START_S - 1)) Asia/Tokyo) Asia/Tokyo")" 0
check "--until in local time (TZ=Asia/Tokyo)" "$(TZ=Asia/Tokyo n_logins --until="$(at $((START_S + 1)) Asia/Tokyo)")" 1
check "--until in local time (TZ=Asia/Tokyo), 1 s before" "$(TZ=Asia/Tokyo n_logins --until="$(at $((START_S - 1)) Asia/Tokyo)")" 0
check "--until with an ISO offset" "$(n_logins --until="$(TZ=UTC date -d "@$((START_S - 1))" '+%Y-%m-%dT%H:%M:%S')+00:00")" 0
check "origin --at='1s ago' names the same instance" \
        "$(ctl --json=short origin --at='1s ago' "$S" | python3 -c 'import json,sys; print(json.load(sys.stdin)["process"]["instance"])')" "$I"
check "resolve PID now" \
        "$(ctl --json=short resolve "$S" now | python3 -c 'import json,sys; print(json.load(sys.stdin)["process"]["instance"])')" "$I"
check "resolve PID '2000-01-01 UTC' finds nobody then" "$(set +e; ctl resolve "$S" '2000-01-01 UTC' >/dev/null 2>&1; echo $?)" 3
set +e
ctl logins --since=soon >/dev/null 2>"$T/err"; check "an invalid time is bad usage" $? 2
set -e
grep -q "systemd.time(7)" "$T/err" || fail "the error does not point at systemd.time(7): $(cat "$T/err")"

echo "# item 2: output times carry their zone, --utc, relative ages in logins"
TZ=Asia/Tokyo ctl logins --user=42815 >"$T/logins.txt"
grep -q "$(at "$START_S" Asia/Tokyo)\.[0-9]* JST" "$T/logins.txt" || { cat "$T/logins.txt"; fail "logins does not print the start in local time with its zone"; }
grep -Eq "\((([0-9]+(ms|s|min)) )+ago\)|\([0-9]+min [0-9]+s ago\)|\([0-9]+s ago\)" "$T/logins.txt" || { cat "$T/logins.txt"; fail "logins does not show the login's age"; }
TZ=Asia/Tokyo ctl --utc logins --user=42815 >"$T/logins-utc.txt"
grep -q "$(at "$START_S")\.[0-9]* UTC" "$T/logins-utc.txt" || { cat "$T/logins-utc.txt"; fail "--utc does not print UTC"; }
echo "ok: local and UTC times with their zone, and the age"

echo "# item 4: under --json an error is a JSON object on stdout, the same over varlink and D-Bus"
# json_error TRANSPORT-OPTION ARGS...: stdout, then the exit code, then whether stderr had the message.
json_error() {
        local out rc
        set +e
        out=$("$LINEAGECTL" "$1" --json=short "${@:2}" 2>"$T/stderr")
        rc=$?
        set -e
        echo "$out"
        echo "$rc"
        [ -s "$T/stderr" ] && echo "message on stderr" || echo "stderr empty"
}
NOPID='{"error":"org.lineaged.Lineage.NoSuchProcess","parameters":{"pid":999999999}}'
NOINST='{"error":"org.lineaged.Lineage.NoSuchProcess","parameters":{"instance":999999999999}}'
check "varlink, unknown pid" "$(json_error --varlink="$SOCK" origin 999999999)" "$NOPID"$'\n3\nmessage on stderr'
check "D-Bus, unknown pid" "$(json_error --dbus="$BUS" origin 999999999)" "$NOPID"$'\n3\nmessage on stderr'
check "varlink, unknown instance" "$(json_error --varlink="$SOCK" history @999999999999)" "$NOINST"$'\n3\nmessage on stderr'
check "D-Bus, unknown instance" "$(json_error --dbus="$BUS" history @999999999999)" "$NOINST"$'\n3\nmessage on stderr'
check "pretty, varlink" "$("$LINEAGECTL" --varlink="$SOCK" --json=pretty origin 999999999 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["error"])')" \
        org.lineaged.Lineage.NoSuchProcess
# Unprivileged: another user's process is PermissionDenied, exit 4, on both transports.
chmod 755 "$T"
PERM='{"error":"org.lineaged.Lineage.PermissionDenied","parameters":{}}'
check "varlink, another user's process" \
        "$(setpriv --reuid=65534 --regid=65534 --clear-groups "$LINEAGECTL" --varlink="$SOCK" --json=short origin "$S" 2>/dev/null; echo "$?")" "$PERM"$'\n4'
check "D-Bus, another user's process" \
        "$(setpriv --reuid=65534 --regid=65534 --clear-groups "$LINEAGECTL" --dbus="$BUS" --json=short origin "$S" 2>/dev/null; echo "$?")" "$PERM"$'\n4'
check "without --json, stdout stays empty" "$("$LINEAGECTL" --varlink="$SOCK" origin 999999999 2>/dev/null; echo "$?")" 3

echo "# item 1: a pager on a terminal, --no-pager, --no-legend, -q, -j"
# tty COMMAND: runs the shell command on a pseudo-terminal (script(1)), printing what it shows.
tty() { script -qec "$1" /dev/null </dev/null; }
C="$LINEAGECTL --varlink=$SOCK"
tty "env -u PAGER SYSTEMD_PAGER='tee $T/paged' $C logins --user=42815" >/dev/null
grep -q "1 login(s) listed." "$T/paged" || fail "\$SYSTEMD_PAGER was not given the output on a terminal"
rm -f "$T/paged"
tty "env -u SYSTEMD_PAGER PAGER='tee $T/paged' $C status" >/dev/null
[ -s "$T/paged" ] || fail "\$PAGER was not used when \$SYSTEMD_PAGER is unset"
rm -f "$T/paged"
tty "env SYSTEMD_PAGER='tee $T/paged' $C --no-pager logins --user=42815" >"$T/shown"
[ ! -e "$T/paged" ] || fail "--no-pager still started the pager"
grep -q "1 login(s) listed." "$T/shown" || fail "--no-pager lost the output"
SYSTEMD_PAGER="tee $T/paged" $C logins --user=42815 >/dev/null
[ ! -e "$T/paged" ] || fail "a pager was started although stdout is not a terminal"
tty "env SYSTEMD_PAGER=cat $C logins --user=42815" >"$T/shown"
grep -q "1 login(s) listed." "$T/shown" || fail "SYSTEMD_PAGER=cat lost the output"
# The default pager is less, with systemd's LESS when it is unset: a "less" that is env(1) shows both
# (env reads nothing, so lineagectl may die of SIGPIPE, as it does when one quits less early).
mkdir -p "$T/bin"
ln -s "$(command -v env)" "$T/bin/less"
tty "env -u SYSTEMD_PAGER -u PAGER -u LESS PATH=$T/bin:/usr/bin:/bin $C status" >"$T/env" || true
grep -q "^LESS=FRSXMK" "$T/env" || { cat "$T/env"; fail "less was not run with LESS=FRSXMK"; }
tty "env -u SYSTEMD_PAGER -u PAGER LESS=R PATH=$T/bin:/usr/bin:/bin $C status" >"$T/env" || true
grep -q "^LESS=R" "$T/env" || { cat "$T/env"; fail "a LESS of the user's was overridden"; }
echo "ok: the pager is \$SYSTEMD_PAGER, \$PAGER or less with LESS=FRSXMK, only on a terminal and not with --no-pager"
ctl --no-legend logins --user=42815 >"$T/nolegend"
check "--no-legend: one line, the login" "$(wc -l <"$T/nolegend")" 1
grep -q "SESSION\|listed" "$T/nolegend" && fail "--no-legend printed the legend"
ctl logins --user=42815 >"$T/legend"
grep -q "^SESSION" "$T/legend" || fail "the table header is gone without --no-legend"
check "-q: only the login" "$(ctl -q logins --user=42815 | wc -l)" 1
check "--quiet as well" "$(ctl --quiet logins --user=42815 | wc -l)" 1
check "-j is --json" "$(ctl -j logins --user=42815 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["logins"]))')" 1

echo "# item 3: outside a UTF-8 locale, ASCII only for the tree and the ellipsis (as pstree)"
LONG=$(printf 'x%.0s' $(seq 200))
sh -c "sleep 300 & sleep 300 & wait # $LONG" &
SH=$!
cleanup_pids "$SH"
two_children() { [ "$(ctl --json=short descendants "$SH" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["descendants"]))')" = 2 ]; }
poll 60 two_children || fail "the two sleepers were not recorded"
cleanup_pids $(ctl --json=short descendants "$SH" | python3 -c 'import json,sys; print(" ".join(str(p["pid"]) for p in json.load(sys.stdin)["descendants"]))')
LC_ALL=C ctl tree "$SH" >"$T/tree-c"
LC_ALL=C.UTF-8 ctl tree "$SH" >"$T/tree-utf8"
LC_ALL=C ctl --no-legend ancestors "$SH" >"$T/anc-c"
LC_ALL=C.UTF-8 ctl --no-legend ancestors "$SH" >"$T/anc-utf8"
LC_ALL=C grep -qP '[^\x00-\x7f]' "$T/tree-c" "$T/anc-c" && { cat "$T/tree-c" "$T/anc-c"; fail "non-ASCII output in the C locale"; }
grep -q '^|-' "$T/tree-c" && grep -q '^`-' "$T/tree-c" || { cat "$T/tree-c"; fail "the tree is not drawn with |- and \`- in the C locale"; }
grep -q "$(printf 'x%.0s' $(seq 20))\.\.\.$" "$T/tree-c" || { cat "$T/tree-c"; fail "no ASCII ellipsis in the C locale"; }
grep -q '^├─' "$T/tree-utf8" && grep -q '^└─' "$T/tree-utf8" || { cat "$T/tree-utf8"; fail "no box drawing in a UTF-8 locale"; }
grep -q 'x…$' "$T/tree-utf8" || { cat "$T/tree-utf8"; fail "no … in a UTF-8 locale"; }
grep -q 'x\.\.\. ' "$T/anc-c" || { cat "$T/anc-c"; fail "no ASCII ellipsis in a table in the C locale"; }
grep -q 'x… ' "$T/anc-utf8" || { cat "$T/anc-utf8"; fail "no … in a table in a UTF-8 locale"; }
echo "ok: |- \`- ... in the C locale, ├─ └─ … in C.UTF-8"

fake_logout
stop_daemon
echo "conventions: all checks passed"
