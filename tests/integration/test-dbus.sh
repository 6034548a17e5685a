#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The D-Bus front end on a private dbus-daemon with the shipped policy: introspection vs schema, answers, errors, Watch.
. "$(dirname "$0")/lib.sh"

for tool in dbus-daemon busctl dbus-send python3 setpriv; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
WATCHER="$BUILD_DIR/tests/helpers/lineage-dbus-watch"
VLCALL="$SOURCE_DIR/tests/integration/vlcall.py"
XML="$SOURCE_DIR/schema/org.lineaged.Lineage1.xml"
POLICY="$SOURCE_DIR/units/org.lineaged.Lineage1.conf"
NAME=org.lineaged.Lineage1
OBJ=/org/lineaged/Lineage1
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# The bus socket must be reachable for the unprivileged caller.
chmod 0711 "$T"

start_bus

# Helpers in python: the typed busctl JSON made plain, the introspection compared with the schema.
cat >"$T/dbusjson.py" <<'EOF'
import json, sys, xml.etree.ElementTree as ET

def plain(sig, data):
    if sig == "a{sv}":
        return {k: plain(v["type"], v["data"]) for k, v in data.items()}
    if sig == "aa{sv}":
        return [plain("a{sv}", e) for e in data]
    if sig == "av":
        return [plain(e["type"], e["data"]) for e in data]
    return data

def members(text):
    for iface in ET.fromstring(text).iter("interface"):
        if iface.get("name") != "org.lineaged.Lineage1":
            continue
        out = set()
        for m in iface:
            if m.tag in ("method", "signal"):
                args = tuple((a.get("name"), a.get("type"), a.get("direction", "in" if m.tag == "method" else "out"))
                             for a in m if a.tag == "arg")
                out.add((m.tag, m.get("name"), args))
            elif m.tag == "property":
                out.add((m.tag, m.get("name"), (m.get("type"), m.get("access"))))
        return out
    sys.exit("interface org.lineaged.Lineage1 not found")

cmd = sys.argv[1]
if cmd == "reply":          # busctl --json=short output on stdin -> the plain reply object
    print(json.dumps(plain("a{sv}", json.load(sys.stdin)["data"][0]), sort_keys=True))
elif cmd == "get":          # plain json on stdin, a path like process.pid or ancestors.0.pid
    v = json.load(sys.stdin)
    for p in sys.argv[2].split("."):
        v = v[int(p)] if isinstance(v, list) else v.get(p)
    print(json.dumps(v) if not isinstance(v, str) else v)
elif cmd == "varlink":      # a vlcall.py reply line on stdin -> its parameters
    print(json.dumps(json.load(sys.stdin)["parameters"], sort_keys=True))
elif cmd == "compare-xml":  # schema file, live introspection file
    want, got = members(open(sys.argv[2]).read()), members(open(sys.argv[3]).read())
    for x in sorted(want - got, key=str):
        print("only in the schema:", x)
    for x in sorted(got - want, key=str):
        print("only in the daemon:", x)
    print("same" if want == got else "different")
EOF
pj() { python3 "$T/dbusjson.py" "$@"; }

call() { busctl --address="$BUS" --json=short call "$NAME" "$OBJ" "$NAME" "$@"; }
# Prints the D-Bus error name of a failed call (dbus-send prints "Error NAME: message").
call_error() {
        local method=$1
        shift
        dbus-send --bus="$BUS" --print-reply --dest="$NAME" "$OBJ" "$NAME.$method" "$@" 2>&1 >/dev/null |
                sed -n 's/^Error \([^:]*\):.*/\1/p'
}
call_error_message() {
        local method=$1
        shift
        dbus-send --bus="$BUS" --print-reply --dest="$NAME" "$OBJ" "$NAME.$method" "$@" 2>&1 >/dev/null |
                sed -n 's/^Error [^:]*: //p'
}

name_on_bus() { busctl --address="$BUS" status "$NAME" >/dev/null 2>&1; }
start_daemon --dbus="$BUS"
wait_for "$NAME to appear on the bus" name_on_bus
grep -q "Serving $NAME on D-Bus" "$T/daemon.log" || fail "no D-Bus start-up message"

echo "# introspection matches schema/org.lineaged.Lineage1.xml"
busctl --address="$BUS" introspect --xml-interface "$NAME" "$OBJ" >"$T/live.xml" || fail "introspection failed"
check "introspection vs schema" "$(pj compare-xml "$XML" "$T/live.xml" | tee /dev/stderr | tail -n 1)" same

echo "# GetStatus"
call GetStatus | pj reply >"$T/status.json" || fail "GetStatus failed"
check "status.version" "$(pj get status.version <"$T/status.json")" "$("$LINEAGED" --version | grep -o '[0-9][0-9.]*' | head -n 1)"
check "status.bootId" "$(pj get status.bootId <"$T/status.json" | tr -d -)" "$(tr -d - </proc/sys/kernel/random/boot_id)"
check "status.events is a map" "$(pj get status.events.fork <"$T/status.json" | grep -c '^[0-9][0-9]*$')" 1

echo "# GetOrigin of this shell"
call GetOrigin utx $$ 0 0 | pj reply >"$T/origin.json" || fail "GetOrigin failed"
check "process.pid" "$(pj get process.pid <"$T/origin.json")" "$$"
check "process.alive" "$(pj get process.alive <"$T/origin.json")" true
check "nearest ancestor" "$(pj get ancestors.0.pid <"$T/origin.json")" "$PPID"
check "argv is a string array" "$(pj get process.argv.0 <"$T/origin.json" | grep -c .)" 1
check "null fields are left out" "$(pj get process.exitTime <"$T/origin.json")" null

echo "# the same answer over varlink"
python3 "$VLCALL" "$SOCK" org.lineaged.Lineage.GetOrigin "{\"pid\": $$}" | pj varlink >"$T/origin-varlink.json" ||
        fail "GetOrigin over varlink failed"
python3 - "$T/origin.json" "$T/origin-varlink.json" <<'EOF' || fail "GetOrigin differs between D-Bus and varlink"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
def drop_nulls(v):
    if isinstance(v, dict):
        return {k: drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [drop_nulls(x) for x in v]
    return v
b = drop_nulls(b)
if a != b:
    print("D-Bus:  ", json.dumps(a, sort_keys=True)[:2000])
    print("varlink:", json.dumps(b, sort_keys=True)[:2000])
    sys.exit(1)
EOF
echo "ok: GetOrigin over D-Bus = GetOrigin over varlink"

echo "# an argument that is not UTF-8 still gives a valid answer, the same as over varlink"
mkfifo "$T/hold"
bash -c 'read -r -t 60 _' _ $'\xffname' <>"$T/hold" &
odd=$!
cleanup_pids "$odd"
settle
call GetOrigin utx "$odd" 0 0 | pj reply >"$T/odd.json" || fail "GetOrigin of a process with a non-UTF-8 argument failed"
python3 "$VLCALL" "$SOCK" org.lineaged.Lineage.GetOrigin "{\"pid\": $odd}" | pj varlink >"$T/odd-varlink.json" ||
        fail "GetOrigin over varlink failed"
check "argv[4] over D-Bus" "$(pj get process.argv.4 <"$T/odd.json")" "$(pj get process.argv.4 <"$T/odd-varlink.json")"
check "argv[4] ends in" "$(pj get process.argv.4 <"$T/odd.json" | grep -o 'name$')" name
kill "$odd"

echo "# errors"
check "unknown pid" "$(call_error GetOrigin uint32:999999999 uint64:0 int64:0)" "$NAME.Error.NoSuchProcess"
check "neither pid nor instance" "$(call_error GetOrigin uint32:0 uint64:0 int64:0)" org.freedesktop.DBus.Error.InvalidArgs
# A pid is "u", as logind takes it: the old "x" is refused, and a u beyond what a pid can be is invalid.
check "a pid as int64 (the old signature)" "$(call_error GetOrigin int64:1 uint64:0 int64:0)" org.freedesktop.DBus.Error.InvalidArgs
check "a pid beyond INT32_MAX" "$(call_error_message GetOrigin uint32:4294967295 uint64:0 int64:0)" "Invalid parameter: pid"
check "Resolve's pid is u too" "$(call_error Resolve uint32:999999999 int64:1 string:)" "$NAME.Error.NoSuchProcess"
check "ResolveBatch's queries are a(suxx)" "$(call ResolveBatch -- 'a(suxx)' 1 "" 999999999 1 -1 | pj reply | pj get answers.0.resolved)" false
check "instance beyond int64" "$(call_error_message GetOrigin uint32:1 uint64:18446744073709551615 int64:0)" \
        "Invalid parameter: instance"
check "wrong argument types" "$(call_error GetOrigin string:x)" org.freedesktop.DBus.Error.InvalidArgs
check "unknown event type" "$(call_error_message Watch uint32:0 uint64:0 array:string:exec,nonsense)" \
        "Invalid parameter: types"
many=$(printf 'exec,%.0s' $(seq 40))
check "too many event types" "$(call_error_message Watch uint32:0 uint64:0 "array:string:${many%,}")" \
        "Invalid parameter: types"
check "Unwatch of an unknown subscription" "$(call_error Unwatch objpath:$OBJ/watch/424242)" \
        org.freedesktop.DBus.Error.InvalidArgs
check "GetDescendants of pid 1, limit 1" \
        "$(call GetDescendants utxub 1 0 0 1 false | pj reply | pj get truncated)" true
check "ListLogins (loginUid -1 = any)" "$(call ListLogins xxxbu -- -1 0 0 false 5 | pj reply | pj get logins | head -c 1)" "["

echo "# policy and caller identity (uid 65534)"
"${NOBODY[@]}" busctl --address="$BUS" call "$NAME" "$OBJ" "$NAME" GetStatus >/dev/null ||
        fail "an unprivileged user may not call GetStatus"
check "unprivileged GetOrigin of root's shell" \
        "$("${NOBODY[@]}" dbus-send --bus="$BUS" --print-reply --dest="$NAME" "$OBJ" "$NAME.GetOrigin" \
                uint32:$$ uint64:0 int64:0 2>&1 >/dev/null | sed -n 's/^Error \([^:]*\):.*/\1/p')" \
        "$NAME.Error.PermissionDenied"
"${NOBODY[@]}" busctl --address="$BUS" call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        RequestName su "$NAME" 4 >/dev/null 2>&1 && fail "an unprivileged user may take $NAME"
echo "ok: only root may own $NAME"

if [ -x "$WATCHER" ]; then
        echo "# Watch: events of a subtree, unicast to the subscriber"
        mkfifo "$T/go" "$T/listen-stop"
        bash -c 'echo ready; read -r _ <"$1"; /bin/true & echo $!; wait; /bin/true & echo $!; wait' _ "$T/go" >"$T/kids" &
        parent=$!
        cleanup_pids "$parent"
        # Bash's own exec happened before the watch, so the daemon must have recorded it before the watch
        # exists: once bash runs its script it has exec'd, and settle waits for the daemon.
        wait_for "bash to start" grep -q '^ready$' "$T/kids"
        settle
        # The listener counts until told to stop, so it sees everything the watcher did, however slow.
        "$WATCHER" listen "$BUS" <"$T/listen-stop" >"$T/listen.out" &
        listener=$!
        exec {listen_stop}>"$T/listen-stop"
        "$WATCHER" watch "$BUS" "$parent" exec 2 >"$T/watch.out" &
        watcher=$!
        wait_for "Watch to answer" grep -q '^subscription ' "$T/watch.out"
        wait_for "the listener to start" grep -q '^listening' "$T/listen.out"
        echo go >"$T/go"
        wait "$parent"
        wait "$watcher" || fail "the watcher failed: $(cat "$T/watch.out")"
        exec {listen_stop}>&-
        mapfile -t kids <"$T/kids"
        check "first exec event" "$(sed -n 2p "$T/watch.out")" "event exec ${kids[1]}"
        check "second exec event" "$(sed -n 3p "$T/watch.out")" "event exec ${kids[2]}"
        check "Unwatch" "$(sed -n 4p "$T/watch.out")" unwatched
        wait "$listener" || fail "the listener failed: $(cat "$T/listen.out")"
        check "signals seen by another connection" "$(cat "$T/listen.out" | tail -n 1)" "received 0"

        echo "# Watch limits; subscriptions end with their connection"
        # 17 connections x 16 subscriptions exceed the daemon's 256 in all: only works when each
        # connection's subscriptions are freed after it closes. They watch a sleeper that does nothing:
        # a watch of every process would flood each connection with the machine's events.
        sleep 600 &
        quiet=$!
        cleanup_pids "$quiet"
        wait_exec "$quiet" "$(command -v sleep)"   # its exec, too, is over before the watches begin
        settle
        for i in $(seq 17); do
                check "connection $i" "$("$WATCHER" limit "$BUS" "$quiet")" "ok 16 error $NAME.Error.TooManyWatchers"
        done
        kill "$quiet"
else
        echo "SKIP: Watch checks need $WATCHER (tests/helpers/lineage-dbus-watch.c is not built)"
fi

echo "# a second daemon on the same bus cannot take the name and keeps serving varlink"
"$LINEAGED" --database="$T/second.db" --varlink="$T/second.sock" --dbus="$BUS" --commit-interval=50 \
        >"$T/second.log" 2>&1 &
second=$!
cleanup_pids "$second"
wait_for "the second daemon to start" grep -q "Recording process lineage" "$T/second.log"
grep -q "owned by another process, continuing without D-Bus" "$T/second.log" ||
        { cat "$T/second.log"; fail "no warning about the taken name"; }
python3 "$VLCALL" "$T/second.sock" org.lineaged.Lineage.GetStatus >/dev/null || fail "second daemon: no varlink"
kill "$second"
wait "$second" || true
echo "ok: second daemon warned and served varlink"

echo "# the bus goes away: the daemon keeps serving varlink"
kill "$BUS_PID"
wait "$BUS_PID" 2>/dev/null || true
wait_for "the daemon to notice" grep -q "Lost the D-Bus connection" "$T/daemon.log"
grep -q "Lost the D-Bus connection; serving varlink meanwhile and reconnecting" "$T/daemon.log" ||
        fail "no warning on disconnect"
kill -0 "$DAEMON_PID" || fail "lineaged died with the bus"
python3 "$VLCALL" "$SOCK" org.lineaged.Lineage.GetStatus >/dev/null || fail "no varlink after the bus went away"
echo "ok: survived the bus"

echo "# the bus comes back (dbus-daemon restarted): the daemon reconnects and takes its name again"
sleep 1.5   # a failed try or two first: the retry goes on with a longer delay
start_bus
wait_for "$NAME to come back on the new bus" name_on_bus
grep -q "Reconnected to D-Bus" "$T/daemon.log" || fail "no reconnect logged"
call GetStatus | pj reply >"$T/status2.json" || fail "no answer on the new bus"
check "status on the new bus" "$(pj get status.bootId <"$T/status2.json" | tr -d -)" "$(tr -d - </proc/sys/kernel/random/boot_id)"
grep -q "Serving $NAME on D-Bus again" "$T/daemon.log" || fail "the name was not taken again"
stop_daemon
echo "ok: reconnected"

echo "# an unreachable bus: warn and serve varlink"
start_daemon --dbus=unix:path=/nonexistent/lineage-bus
grep -q "continuing without D-Bus" "$T/daemon.log" || fail "no warning for an unreachable bus"
python3 "$VLCALL" "$SOCK" org.lineaged.Lineage.GetStatus >/dev/null || fail "no varlink without a bus"
stop_daemon
echo "ok: unreachable bus"
