#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Search: processes by executable, name, command line, user, login and time, over varlink, D-Bus and
# lineagectl; an unprivileged caller finds only their own; which filters use an index.
. "$(dirname "$0")/lib.sh"

for tool in busctl dbus-daemon setpriv useradd; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
USER_NAME=lineage-srch
id "$USER_NAME" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
USER_UID=$(id -u "$USER_NAME")
AS_USER=(setpriv --reuid="$USER_UID" --regid="$(id -g "$USER_NAME")" --clear-groups)
chmod 0711 "$T"
install -m 644 "$SOURCE_DIR/tests/integration/vlcall.py" "$T/vlcall.py"
TAG="srch$$x$RANDOM"
# The tag as it is written in the JSON of a request: a process whose command line holds the tag matches
# an argv search, and the clients asking must not be among them.
JTAG="\\u0073${TAG#s}"

start_bus
start_daemon --dbus="$BUS"

# search JSON: the parameters of a Search reply (as root).
search() { vl Search "$1" || true; }
# Replies go to python on stdin, never in its command line (where an argv search would find them).
count() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(len(r["parameters"]["processes"]) if "parameters" in r else r.get("error"))' <<< "$1"; }
pids() { python3 -c 'import json,sys; print(" ".join(str(p["pid"]) for p in json.load(sys.stdin)["parameters"]["processes"]))' <<< "$1"; }
field() { python3 -c 'import json,sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v.get(k)
print("" if v is None else json.dumps(v) if isinstance(v, (dict, list, bool)) else v)' "$2" <<< "$1"; }
# wait_count JSON N: polls Search until it finds N processes (the events may still be on their way).
wait_count() {
        local r
        for _ in $(seq 600); do
                r=$(search "$1")
                [ "$(count "$r")" = "$2" ] && { echo "$r"; return 0; }
                grep -q '"error"' <<< "$r" && break
                sleep 0.1
        done
        echo "$r" >&2
        fail "Search $1 did not find $2 process(es)"
}

mkdir -m 0755 "$T/bin"
cp /bin/sleep "$T/bin/$TAG-sleeper"
before=$(date +%s%6N)
"$T/bin/$TAG-sleeper" 300 &
SLEEPER=$!
cleanup_pids "$SLEEPER"
# An earlier exec that matches: sh with the tag in its command line, then (when told) sleep.
mkfifo "$T/go"
sh -c 'read -r _ < "$1"; exec sleep 301' sh "$T/go" "arg-$TAG two" &
EARLIER=$!
cleanup_pids "$EARLIER"
# The user's own process, with the tag in its command line; it waits on a pipe nobody writes.
mkfifo -m 0666 "$T/hold"
"${AS_USER[@]}" bash -c 'read -r -t 300 _ <> "$1"' bash "$T/hold" "user-$TAG" &
MINE=$!
cleanup_pids "$MINE"

echo "# by executable: a path pattern, and a file name in any directory"
r=$(wait_count "{\"exe\": \"$T/bin/$TAG-*\"}" 1)
check "exe pattern finds the sleeper" "$(pids "$r")" "$SLEEPER"
check "its exe" "$(field "$r" parameters.processes.0.exe)" "$T/bin/$TAG-sleeper"
check "not truncated" "$(field "$r" parameters.truncated)" false
r=$(search "{\"exe\": \"$TAG-sleep?r\"}")
check "exe without / matches the file name" "$(pids "$r")" "$SLEEPER"
r=$(search "{\"exe\": \"$TAG-sleeper\", \"since\": $before, \"aliveOnly\": true}")
check "with since and aliveOnly" "$(pids "$r")" "$SLEEPER"
r=$(search "{\"exe\": \"$TAG-sleeper\", \"until\": $before}")
check "until before it started" "$(count "$r")" 0

echo "# by name"
c=$TAG-sleeper
r=$(search "{\"comm\": \"${c:0:10}*\"}")
check "comm pattern (the kernel keeps 15 bytes of the name)" "$(pids "$r")" "$SLEEPER"
check "its comm" "$(field "$r" parameters.processes.0.comm)" "${c:0:15}"

echo "# by command line: a substring across arguments, and an earlier exec"
r=$(wait_count "{\"argv\": \"arg-$JTAG two\"}" 1)
check "argv substring finds sh" "$(pids "$r")" "$EARLIER"
echo x > "$T/go"
for _ in $(seq 600); do
        [ "$(jget "$(vl GetOrigin "{\"pid\": $EARLIER}")" parameters.process.argv.0)" = sleep ] && break
        sleep 0.1
done
r=$(search "{\"argv\": \"arg-$JTAG\"}")
check "after the second exec, the earlier one still matches" "$(pids "$r")" "$EARLIER"
check "the answer shows the last exec" "$(field "$r" parameters.processes.0.argv.0)" sleep
r=$(search "{\"argv\": \"arg-$JTAG\", \"exe\": \"/usr/bin/sleep\"}")
check "exe and argv must match the same exec" "$(count "$r")" 0

echo "# by user, and limit"
r=$(wait_count "{\"argv\": \"user-$JTAG\"}" 1)
check "the user's process" "$(pids "$r")" "$MINE"
r=$(search "{\"uid\": $USER_UID, \"argv\": \"$JTAG\"}")
check "uid filter" "$(pids "$r")" "$MINE"
r=$(search "{\"argv\": \"$JTAG\", \"limit\": 1}")
check "limit 1 gives one" "$(count "$r")" 1
check "limit says more matched" "$(field "$r" parameters.truncated)" true
r=$(search '{"exe": ""}')
check "an empty pattern is refused" "$(field "$r" error)" org.varlink.service.InvalidParameter
r=$(search '{"limit": 0}')
check "limit 0 is refused" "$(field "$r" error)" org.varlink.service.InvalidParameter

echo "# by login: the session that began at a login instance, or its sessionid"
if [ -w /proc/self/loginuid ] && [ "$(cat /proc/self/loginuid)" = 4294967295 ]; then
        fake_login 4747
        S=${L[sleeper]}
        for _ in $(seq 600); do
                li=$(jget "$(vl GetOrigin "{\"pid\": $S}")" parameters.login.instance)
                [ -n "$li" ] && break
                sleep 0.1
        done
        [ -n "$li" ] || fail "the login was not recorded"
        check "the login began at the loginuid writer" "$li" "$(inst "${L[login]}")"
        r=$(wait_count "{\"loginInstance\": $li, \"aliveOnly\": true, \"comm\": \"sleep\"}" 1)
        check "the login's sleeper" "$(pids "$r")" "$S"
        sess=$(field "$r" parameters.processes.0.auditSession)
        # Everything born under the login is its, also a process that exited before its session was read.
        python3 - "$li" "$sess" "$(vl GetDescendants "{\"instance\": $li}")" "$(search "{\"loginInstance\": $li}")" <<'PY' ||
import json, sys
li, sess = int(sys.argv[1]), int(sys.argv[2])
tree = {li} | {p["instance"] for p in json.loads(sys.argv[3])["parameters"]["descendants"]}
found = {p["instance"]: p for p in json.loads(sys.argv[4])["parameters"]["processes"]}
assert tree <= set(found), ("not found", tree - set(found))
for i, p in found.items():
    assert i in tree or p.get("auditSession") == sess, p
print(f"ok: the login's {len(tree)} born processes found, {len(found)} in all")
PY
                fail "Search by login misses what was born under it"
        # Its own audit session is read at a batch's end, after its exec: wait for the row to have it.
        r=$(wait_count "{\"auditSession\": $sess, \"aliveOnly\": true, \"comm\": \"sleep\"}" 1)
        check "by audit session" "$(pids "$r")" "$S"
        check "lineagectl --login=SESSION" \
                "$("$LINEAGECTL" --varlink="$SOCK" --json=short search --login="$sess" --alive --comm=sleep | python3 -c 'import json,sys; print(json.load(sys.stdin)["processes"][0]["pid"])')" "$S"
        fake_logout
else
        echo "skip: this test's loginuid is set, so no login can be made (the login filter is not checked)"
fi

echo "# lineagectl: the same answer as JSON, and a ps-like table"
"$LINEAGECTL" --varlink="$SOCK" --json=short search --exe="$TAG-sleeper" > "$T/ctl.json"
python3 - "$T/ctl.json" "$(search "{\"exe\": \"$TAG-sleeper\"}")" <<'PY' || fail "lineagectl --json differs from varlink"
import json, sys
a = json.load(open(sys.argv[1]))
b = json.loads(sys.argv[2])["parameters"]
for p in a["processes"] + b["processes"]:
    p.pop("parentPid", None)     # read from /proc at each answer
assert a == b, (a, b)
PY
out=$("$LINEAGECTL" --varlink="$SOCK" search --exe="$TAG-sleeper")
echo "$out"
check "table header" "$(head -n 1 <<< "$out" | tr -s ' ')" "PID INSTANCE USER STARTED ENDED COMMAND"
check "table row" "$(sed -n 2p <<< "$out" | awk '{print $1, $3, $(NF-1)}')" "$SLEEPER root $T/bin/$TAG-sleeper"
out=$("$LINEAGECTL" --varlink="$SOCK" search --argv="$TAG" --limit=1)
grep -q "older matches were left out" <<< "$out" || fail "a limited search does not say so: $out"
check "--user=NAME" "$("$LINEAGECTL" --varlink="$SOCK" search --user="$USER_NAME" --argv="$TAG" | sed -n 2p | awk '{print $1, $3}')" \
        "$MINE $USER_NAME"

echo "# D-Bus: the same processes"
for _ in $(seq 100); do
        busctl --address="$BUS" status org.lineaged.Lineage1 >/dev/null 2>&1 && break
        sleep 0.05
done
dbus=$(busctl --address="$BUS" --json=short call org.lineaged.Lineage1 /org/lineaged/Lineage1 org.lineaged.Lineage1 \
        Search sssxtusxxbu -- "$TAG-sleeper" "" "" -1 0 0 "" 0 0 false 0)
python3 - "$dbus" "$(search "{\"exe\": \"$TAG-sleeper\"}")" <<'PY' || fail "D-Bus Search differs from varlink"
import json, sys
def plain(sig, data):
    if sig == "a{sv}":
        return {k: plain(v["type"], v["data"]) for k, v in data.items()}
    if sig == "aa{sv}":
        return [plain("a{sv}", e) for e in data]
    return data
a = plain("a{sv}", json.loads(sys.argv[1])["data"][0])
b = json.loads(sys.argv[2])["parameters"]
for p in a["processes"] + b["processes"]:
    p.pop("parentPid", None)
assert a == b, (a, b)
print("ok: D-Bus Search = varlink Search")
PY

echo "# an unprivileged caller finds only their own"
as_user() { "${AS_USER[@]}" /usr/bin/python3 "$T/vlcall.py" "$SOCK" org.lineaged.Lineage.Search "$1" || true; }
r=$(as_user "{\"argv\": \"$JTAG\"}")
check "the user finds only their process" "$(pids "$r")" "$MINE"
r=$(as_user "{\"exe\": \"$TAG-sleeper\"}")
check "root's process is not found" "$(count "$r")" 0
r=$(as_user '{"uid": 0}')
check "asking for root's processes is denied" "$(field "$r" error)" org.lineaged.Lineage.PermissionDenied
r=$("${AS_USER[@]}" busctl --address="$BUS" --json=short call org.lineaged.Lineage1 /org/lineaged/Lineage1 \
        org.lineaged.Lineage1 Search sssxtusxxbu -- "" "*" "" -1 0 0 "" 0 0 true 0 2>&1 || true)
python3 -c 'import json, sys
d = json.load(sys.stdin)["data"][0]["processes"]["data"]
uid, mine = int(sys.argv[1]), int(sys.argv[2])
assert all(p["uid"]["data"] == uid for p in d), d
assert mine in [p["pid"]["data"] for p in d], d
print("ok: over D-Bus the user finds", len(d), "process(es), all their own")' "$USER_UID" "$MINE" <<< "$r" ||
        fail "D-Bus Search as the user: $r"

echo "# a command line from before a drop to the user is not theirs to find"
mkfifo "$T/go2"
mkfifo -m 0666 "$T/hold2"
bash -c 'read -r _ < "$1"; exec setpriv --reuid="$3" --regid="$4" --clear-groups bash -c "read -r -t 300 _ <> \"\$0\"" "$2"' \
        bash "$T/go2" "$T/hold2" "$USER_UID" "$(id -g "$USER_NAME")" "drop-$TAG" &
DROP=$!
cleanup_pids "$DROP"
r=$(wait_count "{\"argv\": \"drop-$JTAG\"}" 1)
check "root finds the command line before the drop" "$(pids "$r")" "$DROP"
echo x > "$T/go2"
for _ in $(seq 600); do
        [ "$(jget "$(vl GetOrigin "{\"pid\": $DROP}")" parameters.process.uid)" = "$USER_UID" ] && break
        sleep 0.1
done
r=$(as_user "{\"argv\": \"drop-$JTAG\"}")
check "the user does not find root's command line of their process" "$(count "$r")" 0
r=$(as_user "{\"comm\": \"bash\", \"aliveOnly\": true}")
python3 -c 'import json, sys
d = json.load(sys.stdin)["parameters"]["processes"]
assert int(sys.argv[1]) in [p["pid"] for p in d], d' "$DROP" <<< "$r" || fail "the user does not find their process by its name now: $r"
echo "ok: the user finds their process by what it runs as theirs"
r=$(search "{\"argv\": \"drop-$JTAG\"}")
check "root still finds it" "$(pids "$r")" "$DROP"

echo "# which filters use an index"
plan() { sqlite3 "$DB" "EXPLAIN QUERY PLAN $1" | tr '\n' ' '; }
p=$(plan "SELECT id FROM instances WHERE exe GLOB '/usr/bin/cu*'")
grep -q "INDEX instances_exe" <<< "$p" || fail "an exe pattern with a literal prefix does not use instances_exe: $p"
p=$(plan "SELECT instance FROM events WHERE type = 2 AND text GLOB '/usr/bin/cu*'")
grep -q "INDEX events_exec" <<< "$p" || fail "earlier execs are not found by index: $p"
p=$(plan "SELECT id FROM instances WHERE boot = 1 AND audit_session = 3")
grep -q "INDEX instances_audit_session" <<< "$p" || fail "a login is not found by index: $p"
echo "ok: exe (literal prefix) and login use indexes"
stop_daemon
echo "search: all checks passed"
