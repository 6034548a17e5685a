#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Which login spawned it, from the journal: a real systemd-journald, lineagectl enrich, lineaged --journal-export.
#
# The test runs in a mount namespace of its own, with a tmpfs on /run (and on /var/log/journal): its
# journald's sockets, /run/systemd/journal/{socket,stdout,dev-log}, and its volatile journal,
# /run/log/journal, are seen by the processes of this test only, and vanish with it.
if [ "$(id -u)" -eq 0 ] && [ -z "${LINEAGE_JOURNAL_NAMESPACE:-}" ]; then
        command -v unshare >/dev/null || { echo "SKIP: unshare (util-linux) is not installed"; exit 77; }
        LINEAGE_JOURNAL_NAMESPACE=1 exec unshare --mount --propagation private "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

JOURNALD=/lib/systemd/systemd-journald
[ -x "$JOURNALD" ] || JOURNALD=/usr/lib/systemd/systemd-journald
for tool in "$JOURNALD" journalctl systemd-cat logger setpriv dbus-daemon python3; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (./dev test installs systemd, dbus-daemon, util-linux)"; exit 77; }
done
[ -w /proc/self/loginuid ] || { echo "SKIP: no audit loginuid in this kernel"; exit 77; }
if [ "$(cat /proc/self/loginuid)" != 4294967295 ]; then
        echo "SKIP: this test runs inside a login already (loginuid $(cat /proc/self/loginuid)); it needs an unset loginuid"
        exit 77
fi
[ -s /etc/machine-id ] || { echo "SKIP: journald needs /etc/machine-id"; exit 77; }
LOGIN_UID=65534   # nobody: a user name to find in LINEAGE_LOGIN_USER
STRANGER=4321     # an unprivileged caller who owns none of the test's processes
WRITERS="$SOURCE_DIR/tests/integration/journal-writers.py"
JDIR=/run/log/journal/$(cat /etc/machine-id)
ctl() { "$LINEAGECTL" --varlink="$SOCK" "$@"; }
# by_message FILE MESSAGE: the last line of journal JSON in FILE whose MESSAGE is exactly MESSAGE.
by_message() {
        python3 -c 'import json, sys
found = ""
for l in open(sys.argv[1]):
    try:
        if json.loads(l).get("MESSAGE") == sys.argv[2]:
            found = l.strip()
    except ValueError:
        pass
print(found)' "$1" "$2"
}

echo "# a private journald"
mount -t tmpfs -o mode=0755 tmpfs /run || fail "cannot mount a tmpfs on /run in the test's mount namespace"
if [ -d /var/log/journal ]; then
        mount -t tmpfs tmpfs /var/log/journal || fail "cannot hide /var/log/journal"
fi
mkdir -p /run/systemd/journal /run/systemd/journald.conf.d /run/log
cat >/run/systemd/journald.conf.d/lineage-test.conf <<EOF
[Journal]
Storage=volatile
RateLimitBurst=0
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
ReadKMsg=no
EOF
# Dies with this shell even if the test is killed: nothing it serves outlives the namespace anyway.
JOURNALD_START=$(date +%s%6N)
SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL=info setpriv --pdeathsig=TERM "$JOURNALD" >"$T/journald.log" 2>&1 &
JOURNALD_PID=$!
cleanup_pids "$JOURNALD_PID"
journald_ready() {
        [ -S /run/systemd/journal/socket ] && [ -S /run/systemd/journal/stdout ] && [ -S /run/systemd/journal/dev-log ] && return 0
        kill -0 "$JOURNALD_PID" 2>/dev/null || { cat "$T/journald.log"; fail "systemd-journald exited at start"; }
        return 1
}
wait_for "systemd-journald to create its sockets" journald_ready
J() { journalctl --directory="$JDIR" --no-pager "$@"; }
NONCE="lineage-journal-test nonce $RANDOM$RANDOM"
logger -u /run/systemd/journal/dev-log -t lineage-test "$NONCE"
nonce_in_journal() { J -o cat 2>/dev/null | grep -xF "$NONCE" >/dev/null; }
wait_for "the nonce to reach $JDIR" nonce_in_journal
check "the journal read is on the test's tmpfs" "$(findmnt -n -o TARGET --target "$JDIR")" /run
check "it holds nothing older than this journald" "$(J -o json | python3 -c '
import json, sys
print(min(int(json.loads(l)["__REALTIME_TIMESTAMP"]) for l in sys.stdin) >= int(sys.argv[1]))' "$JOURNALD_START")" True

echo "# lineaged on a private bus, exporting to the journal"
start_bus
start_daemon --dbus="$BUS" --journal-export
wait_for "lineaged on the bus" grep -q "Serving org.lineaged.Lineage1" "$T/daemon.log"

echo "# writers: logger and systemd-cat, in and out of a login, daemonized, in a pid namespace, a reused pid"
python3 "$WRITERS" "$SOCK" "$LOGIN_UID" >"$T/writers.json" || fail "journal-writers.py failed"
[ "$(tail -n 1 "$T/writers.json")" = DONE ] || fail "journal-writers.py did not finish"
sed -i '$d' "$T/writers.json"
check "writers" "$(wc -l <"$T/writers.json")" 8
writer_lines() { [ "$(J -o cat | grep -c -E '^lineage-journal-test (plain|login|reuse)-')" -ge 8 ]; }
wait_for "the writers' lines in the journal" writer_lines
settle

echo "# journalctl -o json | lineagectl enrich: every line of every writer, all exited by now"
J -o json >"$T/journal.json"
ctl enrich <"$T/journal.json" >"$T/enriched.json" 2>"$T/enrich.err" || { cat "$T/enrich.err"; fail "enrich failed"; }
[ ! -s "$T/enrich.err" ] || { cat "$T/enrich.err"; fail "enrich warned about a real journal"; }
cat >"$T/check.py" <<'EOF'
import json, sys

mode, writers_path, before_path, after_path = sys.argv[1:5]
writers = [json.loads(l) for l in open(writers_path)]
before = open(before_path, "rb").read().split(b"\n")
after = open(after_path, "rb").read().split(b"\n")
errors = []
if len(before) != len(after):
    sys.exit(f"{len(before)} lines in, {len(after)} out")
by_message = {}
added_total = 0
for b, a in zip(before, after):
    if a == b:
        continue
    # The same line with fields added before the closing brace: byte for byte otherwise.
    cut = b.rstrip().rstrip(b"}").rstrip()
    if not a.startswith(cut) or not a.endswith(b[len(cut):]):
        errors.append(f"line changed beyond the added fields: {a[:200]!r}")
        continue
    jb, ja = json.loads(b), json.loads(a)
    extra = {k: v for k, v in ja.items() if k not in jb}
    if any(ja[k] != jb[k] for k in jb) or not all(k.startswith("LINEAGE_") for k in extra):
        errors.append(f"fields changed: {extra}")
    if not all(isinstance(v, str) for v in extra.values()):
        errors.append(f"not string values: {extra}")
    added_total += 1
    if isinstance(jb.get("MESSAGE"), str):
        by_message[jb["MESSAGE"]] = (jb, ja, extra)
for w in writers:
    msg = "lineage-journal-test " + w["tag"]
    if msg not in by_message:
        errors.append(f"{w['tag']}: not enriched")
        continue
    jb, ja, extra = by_message[msg]
    tag = w["tag"]
    if jb["_PID"] != str(w["pid"]):
        errors.append(f"{tag}: the journal has _PID {jb['_PID']}, the writer was {w['pid']}")
    if extra.get("LINEAGE_INSTANCE") != str(w["instance"]):
        errors.append(f"{tag}: instance {extra.get('LINEAGE_INSTANCE')}, expected {w['instance']}")
    anc = extra.get("LINEAGE_ANCESTRY", "")
    if not anc.endswith(f"{w['comm']}[{w['pid']}]"):
        errors.append(f"{tag}: ancestry {anc!r} does not end with {w['comm']}[{w['pid']}]")
    login = w["login"]
    if login is None:
        if any(k.startswith("LINEAGE_LOGIN_") for k in extra):
            errors.append(f"{tag}: login fields for a process outside the login: {extra}")
    else:
        want = {"LINEAGE_LOGIN_USER": "nobody", "LINEAGE_LOGIN_SERVICE": login["service"],
                "LINEAGE_LOGIN_SESSION": str(login["kernelSession"])}
        got = {k: extra.get(k) for k in want}
        if got != want or "LINEAGE_LOGIN_REMOTE" in extra:
            errors.append(f"{tag}: login fields {got}, expected {want} and no remote")
        if not anc.startswith(f"{login['comm']}[{login['pid']}] > "):
            errors.append(f"{tag}: ancestry {anc!r} does not start at the login {login['comm']}[{login['pid']}]")
    if mode == "sources":  # which time each line was resolved by
        print(tag, "_SOURCE_REALTIME_TIMESTAMP" if "_SOURCE_REALTIME_TIMESTAMP" in jb else "__MONOTONIC_TIMESTAMP")
first = next(w for w in writers if w["tag"] == "reuse-first")
second = next(w for w in writers if w["tag"] == "reuse-second")
if first["pid"] != second["pid"] or first["instance"] == second["instance"]:
    errors.append(f"the reused pid scenario did not happen: {first} {second}")
for e in errors:
    print("error:", e)
print(f"{len(writers)} writers checked, {added_total} lines enriched")
sys.exit(1 if errors else 0)
EOF
python3 "$T/check.py" sources "$T/writers.json" "$T/journal.json" "$T/enriched.json" | tee "$T/check.out" ||
        fail "enriched lines are wrong"
grep -q "_SOURCE_REALTIME_TIMESTAMP" "$T/check.out" || fail "no line was resolved by _SOURCE_REALTIME_TIMESTAMP"
grep -q "__MONOTONIC_TIMESTAMP" "$T/check.out" || fail "no line was resolved by __MONOTONIC_TIMESTAMP"
echo "ok: every writer's line names its instance and login, lines are unchanged otherwise"

echo "# stdout lines of processes that exit at once: right, or unchanged, never another process's"
QUICK=() SINCE=()
for i in $(seq 10); do
        # The instance recorded first for the pid after this point is the logger's: the pid may come
        # back later on a busy machine, but not before a full cycle of pids. (Settled first, so that
        # no earlier holder of the pid is still on its way to the database.)
        settle
        SINCE+=("$(q "SELECT coalesce(max(id), 0) FROM instances")")
        systemd-cat -t lineage-test echo "lineage-journal-test quick $i" &
        QUICK+=($!)
        wait $!
done
quick_lines() { [ "$(J -o cat | grep -c '^lineage-journal-test quick')" -ge 10 ]; }
wait_for "the quick lines in the journal" quick_lines
settle
J -o json | ctl enrich >"$T/quick.json"
resolved=0
for i in $(seq 10); do
        line=$(by_message "$T/quick.json" "lineage-journal-test quick $i")
        [ -n "$line" ] || fail "quick $i: not in the journal"
        got=$(jget "$line" LINEAGE_INSTANCE)
        [ -z "$got" ] && continue
        check "quick $i: instance" "$got" \
                "$(q "SELECT id FROM instances WHERE pid = ${QUICK[i - 1]} AND id > ${SINCE[i - 1]} ORDER BY id LIMIT 1")"
        resolved=$((resolved + 1))
done
echo "note: $resolved of 10 lines of processes that printed and exited at once were resolved (journald stamps stream lines when it reads them)"

echo "# the same as a pipe, and over D-Bus"
J -o json | ctl enrich >"$T/piped.json" || fail "journalctl | lineagectl enrich failed"
for tag in plain-logger login-daemon login-pidns reuse-first reuse-second; do
        w=$(grep "\"$tag\"" "$T/writers.json")
        line=$(by_message "$T/piped.json" "lineage-journal-test $tag")
        check "piped: $tag" "$(jget "$line" LINEAGE_INSTANCE)" "$(jget "$w" instance)"
done
"$LINEAGECTL" --dbus="$BUS" enrich <"$T/journal.json" >"$T/enriched-dbus.json" || fail "enrich --dbus failed"
cmp -s "$T/enriched.json" "$T/enriched-dbus.json" || { diff "$T/enriched.json" "$T/enriched-dbus.json" | head; fail "varlink and D-Bus enrich differ"; }
echo "ok: identical over varlink and D-Bus"

echo "# -o json-pretty, -o export, -o json-seq: refused at once, pointing at -o json"
for mode in json-pretty export json-seq; do
        # The writer keeps the pipe open: enrich must answer from the first line, not at the end of
        # input. A fifo of its own per mode: one still open would keep the last mode's unread bytes.
        mkfifo "$T/fifo-$mode"
        (J -o "$mode"; exec sleep 120) >"$T/fifo-$mode" 2>/dev/null &
        WRITER=$!
        cleanup_pids "$WRITER"
        set +e
        timeout 60 "$LINEAGECTL" --varlink="$SOCK" enrich <"$T/fifo-$mode" >"$T/wrong.out" 2>"$T/wrong.err"
        rc=$?
        set -e
        kill "$WRITER" 2>/dev/null || true
        check "-o $mode: exit status" "$rc" 2
        grep -q "journalctl -o $mode.*use journalctl -o json" "$T/wrong.err" || { cat "$T/wrong.err"; fail "-o $mode: no hint to use -o json"; }
        [ ! -s "$T/wrong.out" ] || fail "-o $mode: something was written"
done

echo "# an unprivileged caller: nothing of another user is added"
chmod 0711 "$T"
setpriv --reuid="$STRANGER" --regid="$STRANGER" --clear-groups "$LINEAGECTL" --varlink="$SOCK" enrich \
        <"$T/journal.json" >"$T/stranger.json" || fail "unprivileged enrich failed"
cmp -s "$T/journal.json" "$T/stranger.json" || fail "an unprivileged caller got other users' lineage"
echo "ok: unprivileged: all lines unchanged"

echo "# bad and odd input passes through"
python3 - "$T" <<'EOF'
import json, sys
t = sys.argv[1]
lines = open(t + "/journal.json").read().splitlines()
plain = next(json.loads(l) for l in lines if '"lineage-journal-test plain-logger"' in l)
binary = dict(plain, MESSAGE=list(b"binary \x01 message"), MULTI=["one", [0, 255]], NUMBER=5)
binary["_PID"] = int(binary["_PID"])
with open(t + "/odd.json", "w") as f:
    f.write("not json at all\n")
    f.write('{"unterminated": "\n')
    f.write("[1, 2, 3]\n")
    f.write(json.dumps(binary) + "\n")
    f.write('{"_PID": "1", "LONG": "' + "x" * (2 << 20) + '"}\n')
    f.write("{}\n")
    f.write('{"_PID": "1", "__REALTIME_TIMESTAMP": "18446744073709551616"}\n')
    # As journalctl wrote it before systemd 246: { "KEY" : "value", … }
    f.write("{ " + ", ".join(f"{json.dumps(k)} : {json.dumps(v)}" for k, v in plain.items()) + " }\n")
    f.write(json.dumps(plain))  # the last line without its newline
EOF
ctl enrich <"$T/odd.json" >"$T/odd.out" 2>"$T/odd.err" || fail "enrich failed on odd input"
python3 - "$T" <<'EOF' || fail "odd input was not handled"
import json, sys
t = sys.argv[1]
inp = open(t + "/odd.json", "rb").read().split(b"\n")
out = open(t + "/odd.out", "rb").read().split(b"\n")
assert len(inp) == len(out), (len(inp), len(out))
for i in (0, 1, 2, 4, 5, 6):
    assert inp[i] == out[i], f"line {i + 1} changed"
b, a = json.loads(inp[3]), json.loads(out[3])
assert a["MESSAGE"] == b["MESSAGE"] and a["MULTI"] == b["MULTI"] and "LINEAGE_INSTANCE" in a, a
spaced = json.loads(out[7])
assert "LINEAGE_INSTANCE" in spaced and b', "LINEAGE_INSTANCE" : "' in out[7] and out[7].endswith(b'" }'), out[7]
last = json.loads(out[8])
assert "LINEAGE_INSTANCE" in last and b',"LINEAGE_INSTANCE":"' in out[8], "the last line"
print("ok: garbage, arrays and over-long lines unchanged; binary fields, old spacing and a last line without newline enriched")
EOF
grep -q "Line 1 is not a JSON object" "$T/odd.err" || fail "no warning for a malformed line"
grep -q "Line 5 is longer than 1024 KiB" "$T/odd.err" || fail "no warning for an over-long line"
check "one warning per bad line" "$(grep -c . "$T/odd.err")" 4
seq 1000 | sed 's/^/garbage /' | ctl enrich >"$T/garbage.out" 2>"$T/garbage.err" || fail "enrich failed on garbage"
check "garbage passes through" "$(cmp -s "$T/garbage.out" <(seq 1000 | sed 's/^/garbage /') && echo same)" same
check "warnings are rate-limited" "$(grep -c "not a JSON object" "$T/garbage.err")" 5
grep -q "995 more warning(s) suppressed" "$T/garbage.err" || { cat "$T/garbage.err"; fail "suppressed warnings are not counted"; }

echo "# journalctl -f: a new line does not wait for a batch to fill"
mkfifo "$T/follow.fifo"
# Not through J: $! must be journalctl itself, the fifo's only writer.
journalctl --directory="$JDIR" --no-pager -f -n 0 -o json >"$T/follow.fifo" &
FOLLOW_JOURNAL=$!
ctl enrich <"$T/follow.fifo" >"$T/follow.json" 2>"$T/follow.err" &
FOLLOW_ENRICH=$!
cleanup_pids "$FOLLOW_JOURNAL" "$FOLLOW_ENRICH"
# Lines logged before journalctl follows are not shown (-n 0): log probes until one comes through.
PROBE=0
following() {
        PROBE=$((PROBE + 1))
        logger -u /run/systemd/journal/dev-log -t lineage-test "lineage-journal-test follow-probe $PROBE"
        grep -q "follow-probe" "$T/follow.json"
}
wait_for "journalctl -f | lineagectl enrich to follow" following
# Logs at once after its birth: lineaged may not have committed it yet when the line arrives.
systemd-cat -t lineage-test sh -c 'echo "lineage-journal-test follow $$"; sleep 0.2' &
CAT=$!
wait "$CAT"
followed() { [ -n "$(by_message "$T/follow.json" "lineage-journal-test follow $CAT")" ]; }
wait_for "the followed line to come through" followed
line=$(by_message "$T/follow.json" "lineage-journal-test follow $CAT")
check "followed line: the instance of its fresh process" "$(jget "$line" LINEAGE_INSTANCE)" \
        "$(q "SELECT id FROM instances WHERE pid = $CAT ORDER BY start_time DESC LIMIT 1")"
kill "$FOLLOW_JOURNAL"
wait "$FOLLOW_ENRICH" || fail "enrich of journalctl -f did not end cleanly at EOF"

echo "# lineaged --journal-export: its own entries in this journal"
sleep 271.828 &   # alive until the checks are done: its pid must not come back meanwhile
SLEEPER=$!
cleanup_pids "$SLEEPER"
exported() { [ -n "$(J LINEAGE_EVENT=exec "LINEAGE_PID=$SLEEPER" -o json)" ]; }
wait_for "lineaged's exec entry for $SLEEPER" exported
settle
e=$(J LINEAGE_EVENT=exec "LINEAGE_PID=$SLEEPER" -o json | tail -n 1)
check "exec entry: argv" "$(jget "$e" LINEAGE_ARGV)" "sleep 271.828"
check "exec entry: instance" "$(jget "$e" LINEAGE_INSTANCE)" "$(inst "$SLEEPER")"
check "exec entry: comm" "$(jget "$e" LINEAGE_COMM)" sleep
kill "$SLEEPER"
login=$(python3 -c 'import json,sys; print(json.dumps(next(json.loads(l)["login"] for l in open(sys.argv[1]) if json.loads(l)["login"])))' "$T/writers.json")
LI=$(jget "$login" instance)
for event in login-start login-end; do
        e=$(J LINEAGE_EVENT=$event "LINEAGE_INSTANCE=$LI" -o json | tail -n 1)
        [ -n "$e" ] || fail "no $event entry for the login @$LI"
        check "$event: pid" "$(jget "$e" LINEAGE_PID)" "$(jget "$login" pid)"
        check "$event: login uid" "$(jget "$e" LINEAGE_LOGIN_UID)" "$LOGIN_UID"
        check "$event: user" "$(jget "$e" LINEAGE_LOGIN_USER)" nobody
        check "$event: audit session" "$(jget "$e" LINEAGE_LOGIN_SESSION)" "$(jget "$login" kernelSession)"
        check "$event: service" "$(jget "$e" LINEAGE_LOGIN_SERVICE)" "$(jget "$login" service)"
        check "$event: begun by root, not self-declared" "$(jget "$e" LINEAGE_LOGIN_SELF_DECLARED)" 0
done
e=$(J MESSAGE_ID=3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a61 "LINEAGE_INSTANCE=$LI" -o json | tail -n 1)
check "login-start has its MESSAGE_ID" "$(jget "$e" LINEAGE_EVENT)" login-start
echo "# enrich leaves lineaged's own entries (they describe another process) as they are"
J LINEAGE_EVENT=exec -o json -n 50 >"$T/export.json"
ctl enrich <"$T/export.json" | cmp -s - "$T/export.json" || fail "enrich changed lineaged's own entries"
echo "ok: unchanged"

echo "# one definition of the LINEAGE_* fields: export and enrich write the same for the same process"
# A login made as pam_loginuid makes one (its bash is the login process), which runs logger on a go; and
# logger outside any login. For each logger, the exec entry of --journal-export and the fields enrich
# adds to the logger's own line must agree.
cat >"$T/fields-login.sh" <<'EOF'
until [ -e "$1/fields-go" ]; do sleep 0.05; done
logger -u /run/systemd/journal/dev-log -t lineage-test "lineage-fields-test login" &
echo $! >"$1/fields-login.pid"
wait
EOF
sh -c 'echo "$2" >/proc/self/loginuid && exec bash "$0" "$1"' "$T/fields-login.sh" "$T" "$LOGIN_UID" &
FIELDS_LOGIN=$!
cleanup_pids "$FIELDS_LOGIN"
login_known() { [ "$(q "SELECT count(*) FROM logins WHERE instance = (SELECT id FROM instances WHERE pid = $FIELDS_LOGIN ORDER BY start_time DESC LIMIT 1)")" = 1 ]; }
wait_for "lineaged to see the login of $FIELDS_LOGIN begin" login_known
touch "$T/fields-go"
wait "$FIELDS_LOGIN" || fail "the login shell failed"
FIELDS_LOGGER=$(cat "$T/fields-login.pid")
logger -u /run/systemd/journal/dev-log -t lineage-test "lineage-fields-test plain" &
FIELDS_PLAIN=$!
wait "$FIELDS_PLAIN"
fields_logged() {
        [ "$(J -o cat | grep -c '^lineage-fields-test ')" -ge 2 ] &&
                [ -n "$(J LINEAGE_EVENT=exec "LINEAGE_PID=$FIELDS_LOGGER" -o json)" ] &&
                [ -n "$(J LINEAGE_EVENT=exec "LINEAGE_PID=$FIELDS_PLAIN" -o json)" ]
}
wait_for "both loggers' lines and exec entries in the journal" fields_logged
settle
cat >"$T/fields.py" <<'EOF'
import json, sys
tag, pid, login_pid = sys.argv[1], sys.argv[2], sys.argv[3]
export = json.loads(open(sys.argv[4]).read())
line = json.loads(open(sys.argv[5]).read())
# Only the exec entry has these: they describe its event and the image at that exec. A journal line
# has its own trusted _PID, _COMM, _EXE, _CMDLINE and _UID from journald, so enrich does not repeat
# them (and the image may have changed by a later exec when the line was written).
# Nor the cgroup: journald stamps a line with its writer's _SYSTEMD_CGROUP. LINEAGE_CONTAINER is
# written only when the cgroup names a container.
EXPORT_ONLY = {"LINEAGE_EVENT", "LINEAGE_PID", "LINEAGE_PARENT_PID", "LINEAGE_COMM", "LINEAGE_EXE",
               "LINEAGE_ARGV", "LINEAGE_UID", "LINEAGE_CGROUP"}
# What makes an exported entry stand alone (lineagectl --journal rebuilds from it): the export's own.
EXPORT_ONLY |= {"LINEAGE_TIME", "LINEAGE_PARENT_INSTANCE", "LINEAGE_SOURCE", "LINEAGE_START_TIME"}
EXPORT_IF_ANY = {"LINEAGE_CONTAINER", "LINEAGE_ARGV_JSON", "LINEAGE_AUDIT_LOGINUID", "LINEAGE_AUDIT_SESSION",
                 "LINEAGE_SID", "LINEAGE_LOGIN_INSTANCE"}
exp = {k: v for k, v in export.items() if k.startswith("LINEAGE_")}
enr = {k: v for k, v in line.items() if k.startswith("LINEAGE_")}
errors = []
for who, fields in (("export", exp), ("enrich", enr)):
    empty = sorted(k for k, v in fields.items() if v in ("", None, []))
    if empty:
        errors.append(f"{who} wrote empty fields: {empty}")
if line.get("_PID") != pid or exp.get("LINEAGE_PID") != pid:
    errors.append(f"not the same process: the line's _PID {line.get('_PID')}, the entry's {exp.get('LINEAGE_PID')}, logger {pid}")
if not EXPORT_ONLY <= set(exp):
    errors.append(f"export lacks {sorted(EXPORT_ONLY - set(exp))}")
shared = {k: v for k, v in exp.items() if k not in EXPORT_ONLY | EXPORT_IF_ANY}
if shared != enr:
    keys = sorted(set(shared) | set(enr))
    errors += [f"{k}: export {shared.get(k)!r}, enrich {enr.get(k)!r}" for k in keys if shared.get(k) != enr.get(k)]
anc = enr.get("LINEAGE_ANCESTRY", "")
if not anc.endswith(f"logger[{pid}]") or anc.count(" > ") > 7:
    errors.append(f"ancestry {anc!r}: not at most 8 processes down to logger[{pid}]")
if tag == "login":
    if not anc.startswith(f"bash[{login_pid}] > "):
        errors.append(f"ancestry {anc!r} does not start at the login bash[{login_pid}]")
    want = {"LINEAGE_LOGIN_USER": "nobody", "LINEAGE_LOGIN_UID": "65534", "LINEAGE_LOGIN_SELF_DECLARED": "0"}
    if any(enr.get(k) != v for k, v in want.items()) or "LINEAGE_LOGIN_SESSION" not in enr:
        errors.append(f"login fields {enr}, expected {want} and a session")
elif any(k.startswith("LINEAGE_LOGIN_") for k in set(enr) | set(exp)):
    errors.append(f"login fields for a process outside any login: export {exp}, enrich {enr}")
for e in errors:
    print(f"error: {tag}: {e}")
print(f"{tag}: enrich added {json.dumps(enr, sort_keys=True)}")
sys.exit(1 if errors else 0)
EOF
for tag in login plain; do
        pid=$FIELDS_PLAIN
        [ "$tag" = login ] && pid=$FIELDS_LOGGER
        J LINEAGE_EVENT=exec "LINEAGE_PID=$pid" -o json | tail -n 1 >"$T/fields-export-$tag.json"
        J -o json | grep -F "\"lineage-fields-test $tag\"" | tail -n 1 | ctl enrich >"$T/fields-enrich-$tag.json" ||
                fail "enrich of the $tag logger's line failed"
        python3 "$T/fields.py" "$tag" "$pid" "$FIELDS_LOGIN" "$T/fields-export-$tag.json" "$T/fields-enrich-$tag.json" ||
                fail "export and enrich disagree for the $tag logger"
done
echo "ok: the same LINEAGE_* fields for the same process, none empty"

stop_daemon
kill "$JOURNALD_PID"
wait "$JOURNALD_PID" 2>/dev/null || true
echo "journal: all checks passed"
