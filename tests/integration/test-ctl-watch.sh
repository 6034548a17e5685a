#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# lineagectl watch over varlink and over D-Bus: a subtree's events as text and as JSON, SIGINT ends it with exit 0, and over D-Bus the subscription is ended by an Unwatch that lineaged accepts.
. "$(dirname "$0")/lib.sh"

for tool in dbus-daemon busctl dbus-monitor; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
NAME=org.lineaged.Lineage1
TRUE=$(readlink -f "$(type -P true)")

# The shipped policy, and root may become a monitor (dbus-monitor) of the test's bus.
cat >"$T/policy.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <include>$SOURCE_DIR/units/org.lineaged.Lineage1.conf</include>
</busconfig>
EOF
POLICY="$T/policy.conf"
start_bus
start_daemon --dbus="$BUS"
name_on_bus() { busctl --address="$BUS" status "$NAME" >/dev/null 2>&1; }
wait_for "lineaged to own $NAME" name_on_bus

# The watched process: a shell that starts `true` for every line it reads, so that its subtree has new
# events whenever the test asks for them.
coproc KID { while read -r _; do "$TRUE"; done; }
cleanup_pids "$KID_PID"

# poke_until FILE PATTERN: the watched shell starts children until FILE has a line matching PATTERN. A
# watch prints nothing before its first event, so its subscription is known to be in place only then.
poke_until() {
        local deadline=$((SECONDS + WAIT_TIMEOUT))

        until grep -E "$2" "$1" >/dev/null; do
                [ "$SECONDS" -lt "$deadline" ] || fail "timed out after $WAIT_TIMEOUT s waiting for '$2' in $1: $(cat "$1")"
                kill -0 "$WATCH_PID" 2>/dev/null || fail "lineagectl watch died: $(cat "$1" "$T/watch.err")"
                echo >&"${KID[1]}"
                sleep 0.2
        done
}

# watch_run NAME OPTIONS...: lineagectl watch of the shell with OPTIONS, until an exec of true is printed
# and then SIGINT; it must exit 0.
watch_run() {
        local name=$1 rc=0

        shift
        "$LINEAGECTL" "$@" watch --type=exec "$KID_PID" >"$T/$name.out" 2>"$T/watch.err" &
        WATCH_PID=$!
        cleanup_pids "$WATCH_PID"
        poke_until "$T/$name.out" "${PATTERN[$name]}"
        kill -INT "$WATCH_PID"
        wait "$WATCH_PID" || rc=$?
        check "$name: exit status after SIGINT" "$rc" 0
        check "$name: nothing on stderr" "$(cat "$T/watch.err")" ""
}

# Text: "TIME  exec     PID @INSTANCE (true)  COMMAND"; JSON: one object per line. (The command of an exec
# that ended at once may be "(command not recorded)", depending on the exec source.)
declare -A PATTERN=(
        [varlink]=" exec +[0-9]+ @[0-9]+ "
        [varlink-json]='^\{"event":\{.*"type":"exec"'
        [dbus]=" exec +[0-9]+ @[0-9]+ "
        [dbus-json]='^\{"event":\{.*"type":"exec"'
)
watch_run varlink --varlink="$SOCK"
check "varlink: only exec events" "$(grep -cv ' exec ' "$T/varlink.out")" 0
watch_run varlink-json --varlink="$SOCK" --json=short
check "varlink-json: a JSON object per line" "$(grep -cv '^{' "$T/varlink-json.out")" 0

# Over D-Bus, with a monitor on the bus to see how the subscription ends.
dbus-monitor --address "$BUS" --monitor >"$T/monitor.out" 2>&1 &
MONITOR_PID=$!
cleanup_pids "$MONITOR_PID"
wait_for "dbus-monitor to start" grep -q "NameAcquired" "$T/monitor.out"
watch_run dbus --dbus="$BUS"
watch_run dbus-json --dbus="$BUS" --json=short
check "dbus: only exec events" "$(grep -cv ' exec ' "$T/dbus.out")" 0
check "dbus-json: a JSON object per line" "$(grep -cv '^{' "$T/dbus-json.out")" 0

# Each D-Bus watch ended with an Unwatch call that lineaged answered with a method return (not an
# error, nor only the drop at disconnect).
unwatch_answered() {
        python3 - "$T/monitor.out" <<'EOF'
import re, sys
calls, returns = {}, set()
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"method call .* sender=(\S+) .* serial=(\d+) .*member=Unwatch$", line.strip())
    if m:
        calls[(m.group(1), m.group(2))] = True
    m = re.match(r"method return .* destination=(\S+) serial=\d+ reply_serial=(\d+)", line.strip())
    if m:
        returns.add((m.group(1), m.group(2)))
answered = [c for c in calls if c in returns]
print(f"{len(calls)} {len(answered)}")
sys.exit(0 if len(calls) == 2 and len(answered) == 2 else 1)
EOF
}
wait_for "two Unwatch calls answered by lineaged" unwatch_answered >/dev/null
check "Unwatch calls, answered" "$(unwatch_answered)" "2 2"
echo "lineagectl watch: varlink and D-Bus, text and JSON, ended by SIGINT and Unwatch"
