#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An unprivileged caller sees its own processes, never another user's argv or exe, on every method.
. "$(dirname "$0")/lib.sh"

id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody"; exit 77; }
chmod 755 "$T"
# nobody runs the client from $T: the checkout may sit where nobody cannot read (a mktemp -d clone).
install -m 644 "$SOURCE_DIR/tests/integration/vlcall.py" "$T/vlcall.py"
start_daemon
NOBODY_UID=$(id -u nobody)

# as_nobody METHOD JSON: the call made by nobody; prints the reply line.
as_nobody() {
        runuser -u nobody -- python3 "$T/vlcall.py" "$SOCK" "org.lineaged.Lineage.$1" "${2:-{\}}" || true
}

# The pid file is opened by this shell (as root), written by nobody's shell once the sleeper is forked.
runuser -u nobody -- sh -c 'sleep 300 & echo $!; wait' >"$T/mine.pid" 2>/dev/null &
cleanup_pids $!
wait_for "nobody's sleeper to start" test -s "$T/mine.pid"
MINE=$(cat "$T/mine.pid")
cleanup_pids "$MINE"
wait_exec "$MINE" "$(command -v sleep)"
setsid sleep 300 >/dev/null 2>&1 &
ROOTS=$!
cleanup_pids "$ROOTS"
settle

echo "# own process: visible"
r=$(as_nobody GetOrigin "{\"pid\": $MINE}")
check "own process answered" "$(jget "$r" parameters.process.pid)" "$MINE"
check "own process not redacted" "$(jget "$r" parameters.process.redacted)" false
check "own argv visible" "$(jget "$r" parameters.process.argv.0)" sleep
# The chain passes through root's runuser: shown, but redacted.
python3 - "$r" "$NOBODY_UID" <<'PY' || fail "another user's argv, exe or name leaked in the chain"
import json, sys
r = json.loads(sys.argv[1])["parameters"]
uid = int(sys.argv[2])
foreign = [p for p in r["ancestors"] if p["uid"] != uid]
assert foreign, "expected root-owned ancestors"
for p in foreign:
    assert p["redacted"] is True, p
    assert not {"argv", "exe", "comm"} & set(p), p
print(f"ok: {len(foreign)} foreign ancestors redacted")
PY

echo "# root's process: denied on every method"
for m in GetOrigin GetAncestors GetDescendants GetCaba GetHistory; do
        r=$(as_nobody $m "{\"pid\": $ROOTS}")
        check "$m of root's process" "$(jget "$r" error)" org.lineaged.Lineage.PermissionDenied
done
r=$(as_nobody Resolve "{\"pid\": $ROOTS, \"at\": $(date +%s%6N)}")
check "Resolve of root's process" "$(jget "$r" error)" org.lineaged.Lineage.PermissionDenied
r=$(as_nobody GetDescendants '{"pid": 1}')
check "GetDescendants of pid 1" "$(jget "$r" error)" org.lineaged.Lineage.PermissionDenied

echo "# identity comes from the socket, not the request"
r=$(as_nobody GetOrigin "{\"pid\": $ROOTS, \"uid\": 0}")
check "a claimed uid is rejected" "$(jget "$r" error)" org.varlink.service.InvalidParameter

echo "# root sees everything"
r=$(vl GetOrigin "{\"pid\": $ROOTS}")
check "root reads root's argv" "$(jget "$r" parameters.process.argv.0)" sleep

echo "# Watch as nobody carries only nobody's events"
runuser -u nobody -- python3 "$T/vlcall.py" "$SOCK" org.lineaged.Lineage.Watch '{}' --more 1000 > "$T/watch.out" 2>/dev/null &
WATCH=$!
cleanup_pids "$WATCH"
# A Watch has no first reply: nobody's processes are started until the watcher reports one, so the watch
# is in place. Then root's processes and a last one of nobody's; once that one is reported, the daemon
# has handled root's before it, and they must not be in the stream.
nobody_marker() { runuser -u nobody -- sh -c 'echo $$; exec /bin/true'; }
watch_saw() { grep -q "\"pid\": $1[,}]" "$T/watch.out"; }
marker_seen() { watch_saw "$(nobody_marker)"; }
wait_for "Watch as nobody to report nobody's process" marker_seen
for _ in 1 2 3; do /bin/true; runuser -u nobody -- /bin/true; done
LAST=$(nobody_marker)
wait_for "Watch as nobody to report process $LAST" watch_saw "$LAST"
kill "$WATCH" 2>/dev/null || true
python3 - "$T/watch.out" "$NOBODY_UID" <<'PY' || fail "Watch leaked another user's events"
import json, sys
uid = int(sys.argv[2])
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
events = [e["parameters"] for e in events if "parameters" in e]
assert events, "no events seen at all"
for e in events:
    p = e["process"]
    assert p["uid"] == uid or p.get("loginUid") == uid, e
print(f"ok: {len(events)} events, all nobody's")
PY
stop_daemon
