#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Who sees what of a process that changed owner: the command line root gave a process before it dropped
# to a user stays root's (varlink, D-Bus, lineagectl, Watch), while that user sees what came after.
. "$(dirname "$0")/lib.sh"

for tool in useradd userdel runuser setpriv dbus-daemon busctl; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool is missing"; exit 77; }
done
VIS=lineage-vis
if ! id "$VIS" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$VIS" || { echo "SKIP: useradd failed"; exit 77; }
        trap 'cleanup; userdel -f "$VIS" 2>/dev/null || true' EXIT
fi
VIS_UID=$(id -u "$VIS")
chmod 755 "$T"
# The user runs the clients from $T: the checkout may sit where they cannot read.
install -m 755 "$SOURCE_DIR/tests/integration/vlcall.py" "$T/vlcall.py"
install -m 755 "$LINEAGECTL" "$T/lineagectl"
NAME=org.lineaged.Lineage1 OBJ=/org/lineaged/Lineage1
SECRET=ROOT-ONLY-SECRET-$$-$RANDOM
start_bus
start_daemon --dbus="$BUS"
name_on_bus() { busctl --address="$BUS" status "$NAME" >/dev/null 2>&1; }
wait_for "$NAME on the bus" name_on_bus

as_vis() { runuser -u "$VIS" -- "$@"; }
# vis_vl METHOD JSON: the varlink call made by the user; prints the reply line.
vis_vl() { as_vis python3 "$T/vlcall.py" "$SOCK" "org.lineaged.Lineage.$1" "$2" || true; }
# vis_bus METHOD SIGNATURE ARGS...: the D-Bus call made by the user.
vis_bus() { as_vis busctl --address="$BUS" --json=short call "$NAME" "$OBJ" "$NAME" "$@" 2>&1 || true; }
# history_has PID PYTHON-CONDITION: root's GetHistory of PID has an exec event e matching the condition.
history_has() {
        vl GetHistory "{\"pid\": $1}" 2>/dev/null | python3 -c 'import json, sys
ev = json.load(sys.stdin).get("parameters", {}).get("events", [])
sys.exit(0 if any(e["type"] == "exec" and (eval(sys.argv[1])) for e in ev) else 1)' "$2"
}
# no_secret WHAT TEXT: TEXT must not hold the secret, and must not be empty.
no_secret() {
        [ -n "$2" ] || fail "$1: no answer"
        case $2 in
        *"$SECRET"*) fail "$1 shows root's secret: $2" ;;
        esac
        echo "ok: $1 without the secret"
}
# release_to_uid PID FIFO UID [SQL-CONDITION]: lets PID past its read of FIFO, then waits until it runs
# as UID and a uid event of it (matching the condition on events) is on record.
release_to_uid() {
        echo go >"$2"
        wait_for "process $1 to run as uid $3" uid_is "$1" "$3"
        wait_for "the uid event of process $1 on record" uid_event_recorded "$1" "${4:-}"
}
uid_is() {
        [ "$(stat -c %u "/proc/$1")" = "$2" ]
}
uid_event_recorded() {
        [ "$(q "SELECT count(*) FROM events WHERE type = 3 $2
                AND instance = (SELECT id FROM instances WHERE pid = $1 ORDER BY id DESC LIMIT 1)")" -gt 0 ]
}

echo "# the user watches everything it may see, before the attack"
as_vis python3 "$T/vlcall.py" "$SOCK" org.lineaged.Lineage.Watch '{}' --more 100000 >"$T/watch.out" 2>/dev/null &
WATCH=$!
cleanup_pids "$WATCH"

echo "# root runs a command line with a secret, then drops to $VIS and execs sleep"
mkfifo "$T/go"
setsid bash -c 'read -r _ <"$1"; exec setpriv --reuid="$2" --regid="$2" --clear-groups sleep 120' \
        "$SECRET" "$T/go" "$VIS" >/dev/null 2>&1 &
P=$!
cleanup_pids "$P"
# The secret is on record before the drop (else the test would prove nothing) ...
wait_for "root's exec line on record" history_has "$P" "'$SECRET' in e.get('argv', [])"
echo go >"$T/go"
# ... and so is the exec after it.
wait_for "the exec of sleep as $VIS" history_has "$P" "e.get('argv', [])[:2] == ['sleep', '120']"
check "the process is $VIS's now" "$(stat -c %u /proc/$P)" "$VIS_UID"

echo "# root still sees everything"
r=$(vl GetHistory "{\"pid\": $P}")
case $r in *"$SECRET"*) echo "ok: root's history shows the secret" ;; *) fail "root lost the secret: $r" ;; esac

echo "# varlink, as $VIS"
r=$(vis_vl GetHistory "{\"pid\": $P}")
no_secret "GetHistory" "$r"
python3 - "$r" <<'PY' || fail "GetHistory as the user is not what it should be"
import json, sys
p = json.loads(sys.argv[1])["parameters"]
ev = p["events"]
execs = [e for e in ev if e["type"] == "exec"]
shown = [e for e in execs if not e.get("redacted")]
hidden = [e for e in execs if e.get("redacted")]
# bash and setpriv ran as root: listed, redacted; sleep ran as the user: shown.
assert hidden and all(not {"argv", "exe"} & set(e) for e in hidden), hidden
assert shown and shown[-1]["argv"][:2] == ["sleep", "120"], shown
uids = [e for e in ev if e["type"] == "uid" and not e.get("redacted")]
assert uids, ev
assert p["process"]["redacted"] is False and p["process"]["argv"][:1] == ["sleep"], p["process"]
print(f"ok: {len(hidden)} root exec(s) redacted, the exec of sleep shown")
PY
for m in GetOrigin GetAncestors GetDescendants GetCaba; do
        r=$(vis_vl $m "{\"pid\": $P}")
        check "$m answered" "$(jget "$r" parameters.process.pid)" "$P"
        no_secret "$m" "$r"
done
r=$(vis_vl Resolve "{\"pid\": $P, \"at\": $(date +%s%6N)}")
check "Resolve answered" "$(jget "$r" parameters.process.pid)" "$P"
no_secret Resolve "$r"
r=$(vis_vl ResolveBatch "{\"queries\": [{\"pid\": $P, \"realtime\": $(date +%s%6N)}]}")
check "ResolveBatch answered" "$(jget "$r" parameters.answers.0.resolved)" true
no_secret ResolveBatch "$r"
r=$(as_vis "$T/lineagectl" --varlink="$SOCK" history "$P" 2>&1 || true)
no_secret "lineagectl history" "$r"
case $r in *"sleep 120"*) echo "ok: lineagectl history shows the exec of sleep" ;; *) fail "lineagectl history: $r" ;; esac
r=$(as_vis "$T/lineagectl" --varlink="$SOCK" --json origin "$P" 2>&1 || true)
no_secret "lineagectl origin" "$r"

echo "# D-Bus, as $VIS"
r=$(vis_bus GetHistory utxu "$P" 0 0 0)
no_secret "D-Bus GetHistory" "$r"
case $r in *'"sleep"'*) echo "ok: D-Bus GetHistory shows the exec of sleep" ;; *) fail "D-Bus GetHistory: $r" ;; esac
no_secret "D-Bus GetOrigin" "$(vis_bus GetOrigin utx "$P" 0 0)"
no_secret "D-Bus GetAncestors" "$(vis_bus GetAncestors utx "$P" 0 0)"
no_secret "D-Bus GetDescendants" "$(vis_bus GetDescendants utxub "$P" 0 0 0 false)"
no_secret "D-Bus Resolve" "$(vis_bus Resolve uxs "$P" "$(date +%s%6N)" "")"
no_secret "D-Bus ResolveBatch" "$(vis_bus ResolveBatch 'a(suxx)' 1 "" "$P" "$(date +%s%6N)" -1)"
r=$(busctl --address="$BUS" --json=short call "$NAME" "$OBJ" "$NAME" GetHistory utxu "$P" 0 0 0)
case $r in *"$SECRET"*) echo "ok: root's D-Bus GetHistory shows the secret" ;; *) fail "root lost the secret on D-Bus" ;; esac

echo "# a drop without exec: the process is the user's, its command line is not"
mkfifo "$T/go2"
python3 -c 'import os, sys, time
open(sys.argv[1]).read()
os.setgroups([]); os.setgid(int(sys.argv[2])); os.setuid(int(sys.argv[2]))
time.sleep(120)' "$T/go2" "$VIS_UID" "$SECRET" >/dev/null 2>&1 &
D=$!
cleanup_pids "$D"
wait_for "python's exec line on record" history_has "$D" "'$SECRET' in e.get('argv', [])"
release_to_uid "$D" "$T/go2" "$VIS_UID"
r=$(vis_vl GetOrigin "{\"pid\": $D}")
no_secret "GetOrigin of a process dropped without exec" "$r"
check "its command line is redacted" "$(jget "$r" parameters.process.redacted)" true
check "but it is the user's process" "$(jget "$r" parameters.process.uid)" "$VIS_UID"
r=$(vis_vl GetHistory "{\"pid\": $D}")
no_secret "GetHistory of a process dropped without exec" "$r"
no_secret "D-Bus GetHistory of a process dropped without exec" "$(vis_bus GetHistory utxu "$D" 0 0 0)"
no_secret "D-Bus GetOrigin of a process dropped without exec" "$(vis_bus GetOrigin utx "$D" 0 0)"

echo "# the other way: the user's process that became root's shows only what it did as the user's"
mkfifo "$T/go3"
# As a setuid-root program run by the user would: real uid the user's, effective uid root's, at the exec.
PY3=/usr/bin/python3 # not a wrapper script: bash would drop the effective uid
"$PY3" -c 'import os, sys
os.setresuid(int(sys.argv[1]), 0, 0)
os.execv(sys.argv[2], [sys.argv[2], "-c", "import os, sys, time\nopen(sys.argv[1]).read()\nos.setresuid(0, 0, 0)\ntime.sleep(120)",
                       sys.argv[3], "users-own-args"])' "$VIS_UID" "$PY3" "$T/go3" >/dev/null 2>&1 &
U=$!
cleanup_pids "$U"
wait_for "the user's exec line on record" history_has "$U" "'users-own-args' in e.get('argv', [])"
release_to_uid "$U" "$T/go3" 0 "AND a = 0"
r=$(vis_vl GetHistory "{\"pid\": $U}")
python3 - "$r" <<'PY' || fail "the user's history of a process that became root's"
import json, sys
p = json.loads(sys.argv[1])["parameters"]
ev = p["events"]
assert any(e["type"] == "exec" and "users-own-args" in e.get("argv", []) for e in ev), ev
to_root = [e for e in ev if e["type"] == "uid" and e.get("redacted")]
assert to_root and all("realId" not in e for e in to_root), ev
assert not [e for e in ev if e["type"] == "uid" and e.get("realId") == 0], ev
print("ok: the user's exec shown, the change to root redacted")
PY

echo "# Watch carried the user's events only"
wait_for "the exec of sleep on the user's Watch" grep -q '"sleep"' "$T/watch.out"
kill "$WATCH" 2>/dev/null || true
no_secret "Watch as the user" "$(cat "$T/watch.out")"
echo "ok: Watch carried the exec of sleep"
stop_daemon
