#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Lineage outlives the host: --journal-export through journald, systemd-journal-upload and
# systemd-journal-remote on 127.0.0.1, then lineagectl --journal answering from the forwarded files alone.
#
# Like test-journal.sh, it runs in a mount namespace of its own with a tmpfs on /run: its journald and
# its journal are seen by this test only. journald keeps its default rate limit; lineaged runs in a
# cgroup named like a unit, with the rate limit lineaged.service sets handed to journald as PID 1 hands
# it (/run/systemd/units/log-rate-limit-{interval,burst}:UNIT).
if [ "$(id -u)" -eq 0 ] && [ -z "${LINEAGE_JOURNAL_NAMESPACE:-}" ]; then
        command -v unshare >/dev/null || { echo "SKIP: unshare (util-linux) is not installed"; exit 77; }
        LINEAGE_JOURNAL_NAMESPACE=1 exec unshare --mount --propagation private "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

SD=/lib/systemd
[ -x "$SD/systemd-journald" ] || SD=/usr/lib/systemd
for tool in "$SD/systemd-journald" "$SD/systemd-journal-remote" "$SD/systemd-journal-upload" journalctl setpriv python3; do
        command -v "$tool" >/dev/null ||
                { echo "SKIP: $tool is not installed (./dev installs systemd and systemd-journal-remote)"; exit 77; }
done
[ -w /proc/self/loginuid ] || { echo "SKIP: no audit loginuid in this kernel"; exit 77; }
[ "$(cat /proc/self/loginuid)" = 4294967295 ] ||
        { echo "SKIP: this test runs inside a login already; it needs an unset loginuid"; exit 77; }
[ -s /etc/machine-id ] || { echo "SKIP: journald needs /etc/machine-id"; exit 77; }
# journald finds a sender's unit in its cgroup of the unified hierarchy (hybrid: /sys/fs/cgroup/unified).
CGROOT=/sys/fs/cgroup
[ "$(stat -f -c %T $CGROOT)" = cgroup2fs ] || CGROOT=/sys/fs/cgroup/unified
[ "$(stat -f -c %T $CGROOT 2>/dev/null)" = cgroup2fs ] || { echo "SKIP: no cgroup2 hierarchy"; exit 77; }
UNIT=lineage-forward-test-$$.service
CG=$CGROOT/$UNIT
mkdir "$CG" 2>/dev/null || { echo "SKIP: cannot create a cgroup in $CGROOT"; exit 77; }
LOGIN_UID=65534
MID=$(cat /etc/machine-id)
JDIR=/run/log/journal/$MID
REMOTE=$T/remote
ctl() { "$LINEAGECTL" --varlink="$SOCK" "$@"; }
J() { journalctl --directory="$JDIR" --no-pager "$@"; }
on_exit() {
        # The cgroup goes once its processes have: lineaged is stopped by cleanup().
        cleanup
        for _ in $(seq 100); do rmdir "$CG" 2>/dev/null && break; sleep 0.1; done
}
trap on_exit EXIT

echo "# a private journald with its default rate limit"
mount -t tmpfs -o mode=0755 tmpfs /run || fail "cannot mount a tmpfs on /run in the test's mount namespace"
[ -d /var/log/journal ] && { mount -t tmpfs tmpfs /var/log/journal || fail "cannot hide /var/log/journal"; }
mkdir -p /run/systemd/journal /run/systemd/journald.conf.d /run/systemd/units /run/log
cat >/run/systemd/journald.conf.d/lineage-test.conf <<EOF
[Journal]
Storage=volatile
RuntimeMaxUse=256M
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
ReadKMsg=no
EOF
# The unit's rate limit, as PID 1 exports it for journald (it exports neither setting when it is 0).
usec() { python3 -c 'import re, sys
m = re.fullmatch(r"(\d+)(us|ms|s|min)?", sys.argv[1])
print(int(m.group(1)) * {"us": 1, "ms": 1000, "s": 1000000, "min": 60000000, None: 1000000}[m.group(2)])' "$1"; }
UNIT_FILE=$SOURCE_DIR/units/lineaged.service.in
INTERVAL=$(sed -n 's/^LogRateLimitIntervalSec=//p' "$UNIT_FILE")
BURST=$(sed -n 's/^LogRateLimitBurst=//p' "$UNIT_FILE")
[ -n "$INTERVAL" ] && [ -n "$BURST" ] || fail "lineaged.service sets no LogRateLimitIntervalSec= and LogRateLimitBurst="
[ "$(usec "$INTERVAL")" != 0 ] && [ "$BURST" != 0 ] || fail "a rate limit setting of 0 is not passed on to journald"
# JOURNAL_FORWARD_DEFAULT_LIMIT=1 leaves them out, to see what journald's default does at full churn.
if [ -z "${JOURNAL_FORWARD_DEFAULT_LIMIT:-}" ]; then
        ln -s "$(usec "$INTERVAL")" "/run/systemd/units/log-rate-limit-interval:$UNIT"
        ln -s "$BURST" "/run/systemd/units/log-rate-limit-burst:$UNIT"
        echo "unit: LogRateLimitIntervalSec=$INTERVAL LogRateLimitBurst=$BURST"
else
        echo "unit: journald's default rate limit (JOURNAL_FORWARD_DEFAULT_LIMIT is set)"
fi
SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL=info setpriv --pdeathsig=TERM "$SD/systemd-journald" >"$T/journald.log" 2>&1 &
JOURNALD_PID=$!
cleanup_pids "$JOURNALD_PID"
journald_ready() {
        [ -S /run/systemd/journal/socket ] && [ -S /run/systemd/journal/stdout ] && return 0
        kill -0 "$JOURNALD_PID" 2>/dev/null || { cat "$T/journald.log"; fail "systemd-journald exited at start"; }
        return 1
}
wait_for "systemd-journald to create its sockets" journald_ready

echo "# systemd-journal-remote on 127.0.0.1, systemd-journal-upload following the journal"
mkdir -p "$REMOTE"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setpriv --pdeathsig=TERM "$SD/systemd-journal-remote" --listen-http="127.0.0.1:$PORT" --output="$REMOTE/" \
        >"$T/remote.log" 2>&1 &
REMOTE_PID=$!
cleanup_pids "$REMOTE_PID"
remote_listens() {
        kill -0 "$REMOTE_PID" 2>/dev/null || { cat "$T/remote.log"; fail "systemd-journal-remote exited"; }
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}
wait_for "systemd-journal-remote to listen" remote_listens

# start_in_unit ARG...: lineaged, born in the unit's cgroup (journald keeps what it learned of a sender
# for a while: a daemon moved there after its first entry would be attributed to no unit).
start_in_unit() {
        echo $$ >"$CG/cgroup.procs"
        start_daemon "$@"
        echo $$ >"$CGROOT/cgroup.procs"
}

echo "# lineaged --journal-export in the cgroup of $UNIT"
start_in_unit --journal-export
check "lineaged runs in its unit's cgroup" "$(grep '^0::' "/proc/$DAEMON_PID/cgroup")" "0::/$UNIT"
# Uploads from the start: what lineaged writes from now on reaches the remote end as it is written.
setpriv --pdeathsig=TERM "$SD/systemd-journal-upload" --url="http://127.0.0.1:$PORT" --directory="$JDIR" \
        --save-state="$T/upload.state" >"$T/upload.log" 2>&1 &
UPLOAD_PID=$!
cleanup_pids "$UPLOAD_PID"

echo "# a login made as pam_loginuid makes one, and its double-forked, setsid'ed sleeper"
fake_login "$LOGIN_UID"
SLEEPER=${L[sleeper]}
# Entries that are not lineaged's: another user's forgery (newer than anything, naming pid 1 and the
# sleeper's pid), which must be ignored, and root's garbage, which must not break the rebuild.
cat >"$T/forged" <<EOF
MESSAGE=forged lineage entry
LINEAGE_EVENT=exec
LINEAGE_INSTANCE=1
LINEAGE_PID=1
LINEAGE_COMM=forged
LINEAGE_START_TIME=1
LINEAGE_TIME=9999999999999999
EOF
setpriv --reuid=65534 --regid=65534 --clear-groups logger --journald <"$T/forged" || fail "logger --journald failed"
printf '%s\n' "MESSAGE=garbage lineage entry" LINEAGE_EVENT=exec LINEAGE_INSTANCE=4000000000 LINEAGE_PID=-5 \
        'LINEAGE_ARGV_JSON=[{"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]}, "x"]' LINEAGE_START_TIME=x LINEAGE_PARENT_INSTANCE=4000000000 \
        >"$T/garbage"
logger --journald="$T/garbage" || fail "logger --journald failed"
exported() { [ -n "$(J LINEAGE_EVENT=exec "LINEAGE_PID=$1" -o json)" ]; }
wait_for "lineaged's exec entry for the sleeper $SLEEPER" exported "$SLEEPER"
# A process whose argv[0] holds a space, UTF-8, a byte that is not UTF-8, a backslash and a control byte:
# its argv must come back from the journal as the live answer gives it.
ODD_ARG=$(printf 'odd caf\303\251 \377 \\x41 \001end')
bash -c 'exec -a "$0" sleep 600' "$ODD_ARG" </dev/null >/dev/null 2>&1 &
ODD=$!
cleanup_pids "$ODD"
wait_for "lineaged's exec entry for the odd argv $ODD" exported "$ODD"
settle
ctl --json=short origin "$SLEEPER" >"$T/live-origin.json" || fail "origin of the sleeper failed"
ctl --json=short ancestors "$SLEEPER" >"$T/live-ancestors.json" || fail "ancestors of the sleeper failed"
ctl --json=short history "$SLEEPER" >"$T/live-history.json" || fail "history of the sleeper failed"
ctl --json=short origin "$ODD" >"$T/live-odd.json" || fail "origin of the odd argv failed"
SLEEPER_INSTANCE=$(jget "$(cat "$T/live-origin.json")" process.instance)
LOGIN_INSTANCE=$(jget "$(cat "$T/live-origin.json")" login.instance)
check "journald attributes lineaged's entries to $UNIT" \
        "$(J LINEAGE_EVENT=exec "LINEAGE_PID=$SLEEPER" -o json | tail -n 1 | python3 -c 'import json, sys; print(json.load(sys.stdin).get("_SYSTEMD_UNIT"))')" \
        "$UNIT"
uploaded() {
        kill -0 "$UPLOAD_PID" 2>/dev/null || { cat "$T/upload.log"; fail "systemd-journal-upload exited"; }
        [ -n "$(journalctl --directory="$REMOTE" --no-pager LINEAGE_EVENT=exec "LINEAGE_PID=$SLEEPER" -o cat 2>/dev/null)" ]
}
wait_for "the sleeper's exec entry at systemd-journal-remote" uploaded
odd_uploaded() { [ -n "$(journalctl --directory="$REMOTE" --no-pager LINEAGE_EVENT=exec "LINEAGE_PID=$ODD" -o cat 2>/dev/null)" ]; }
wait_for "the odd argv's exec entry at systemd-journal-remote" odd_uploaded

echo "# the local record is gone: the database deleted, lineaged stopped"
stop_daemon
rm -f "$DB" "$DB-wal" "$DB-shm"
[ ! -e "$DB" ] || fail "the database is still there"

echo "# lineagectl --journal=$REMOTE: the same answers from the forwarded entries alone"
"$LINEAGECTL" --journal="$REMOTE" --json=short origin "$SLEEPER" >"$T/rebuilt-origin.json" 2>"$T/rebuilt.err" ||
        { cat "$T/rebuilt.err"; fail "lineagectl --journal origin failed"; }
cat "$T/rebuilt.err"
"$LINEAGECTL" --journal="$REMOTE" --json=short ancestors "$SLEEPER" >"$T/rebuilt-ancestors.json" 2>/dev/null ||
        fail "lineagectl --journal ancestors failed"
grep -q "Rebuilt [0-9]* processes" "$T/rebuilt.err" || fail "lineagectl --journal did not say what it rebuilt"
[ -n "$(journalctl --directory="$REMOTE" --no-pager MESSAGE="forged lineage entry" -o cat)" ] ||
        fail "the forged entry did not reach the remote end"
grep -F '"forged"' "$T/rebuilt-ancestors.json" && fail "an entry another user wrote was taken for lineaged's"
cat >"$T/compare.py" <<'EOF'
import json, sys

live = json.load(open(sys.argv[1]))
rebuilt = json.load(open(sys.argv[2]))
sleeper = int(sys.argv[3])
# What the entries carry; exit times are not among them for processes exported while alive (the
# rebuilt answer says so on stderr), nor the CABA, nor exit status.
PROCESS = ["pid", "instance", "startTime", "comm", "exe", "argv", "uid", "loginUid", "auditSession", "sid",
           "birthParentPid", "lineageSource"]
LOGIN = ["instance", "pid", "loginUid", "user", "service", "kernelSession", "auditSession", "tty",
         "remoteAddress", "selfDeclared", "startTime"]
errors = []
def proc(p):
    return {k: p.get(k) for k in PROCESS}
def chain(a):
    return [proc(p) for p in [a["process"]] + a.get("ancestors", [])]
lc, rc = chain(live), chain(rebuilt)
if lc[0]["pid"] != sleeper:
    errors.append(f"the live answer is not about the sleeper: {lc[0]}")
# The birth chain down from the login: the live answer names the ancestors up to the root; the
# export names those of the sleeper's chain it wrote, which reach the login (and beyond, as far as
# lineaged had written them).
ll = live.get("login") or {}
rl = rebuilt.get("login") or {}
if not ll:
    errors.append("the live answer has no login")
login_depth = next((k for k, p in enumerate(lc) if p["instance"] == ll.get("instance")), None)
if login_depth is None:
    errors.append(f"the login @{ll.get('instance')} is not in the live chain")
else:
    for k in range(login_depth + 1):
        if k >= len(rc):
            errors.append(f"rebuilt chain ends at depth {k}, the login is at {login_depth}")
            break
        # Audit ids are read from /proc after the fact, live and for the export alike: a process gone
        # before its session was read has none live; one whose exec was exported before the read has them
        # rebuilt from its login (the nearest up its birth chain). Where one side lacks them, the other
        # must be the login's; where both have them, the same.
        diff = {}
        for f in PROCESS:
            a, b = lc[k][f], rc[k][f]
            if f in ("loginUid", "auditSession") and (a is None or b is None):
                known = a if b is None else b
                want = ll.get(f)
                if known is not None and known != want:
                    diff[f] = (a, b)
            elif a != b:
                diff[f] = (a, b)
        if diff:
            errors.append(f"depth {k}: live vs rebuilt differ: {diff}")
    if rc and (rc[0].get("loginUid"), rc[0].get("auditSession")) != (ll.get("loginUid"), ll.get("auditSession")):
        errors.append(f"the rebuilt sleeper's audit ids are not its login's: {rc[0]}")
for f in LOGIN:
    if f in ll and ll.get(f) != rl.get(f):
        errors.append(f"login {f}: live {ll.get(f)!r}, rebuilt {rl.get(f)!r}")
print("%-6s %-5s %-8s %-10s %-10s | %-8s %-10s %-10s" % ("depth", "", "live pid", "instance", "comm", "rebuilt", "instance", "comm"))
for k in range(max(len(lc), len(rc))):
    a = lc[k] if k < len(lc) else {}
    b = rc[k] if k < len(rc) else {}
    print("%-6d %-5s %-8s %-10s %-10s | %-8s %-10s %-10s" % (k, "login" if k == login_depth else "",
          a.get("pid", "-"), a.get("instance", "-"), a.get("comm", "-"), b.get("pid", "-"), b.get("instance", "-"), b.get("comm", "-")))
print("login live:   ", json.dumps({f: ll.get(f) for f in LOGIN if f in ll}, sort_keys=True))
print("login rebuilt:", json.dumps({f: rl.get(f) for f in LOGIN if f in ll}, sort_keys=True))
for e in errors:
    print("error:", e)
sys.exit(1 if errors else 0)
EOF
python3 "$T/compare.py" "$T/live-origin.json" "$T/rebuilt-origin.json" "$SLEEPER" ||
        fail "the answer rebuilt from the forwarded journal differs from the live one"
check "ancestors: the same instances down from the login" \
        "$(python3 -c 'import json, sys
live, rebuilt = (json.load(open(p)) for p in sys.argv[1:3])
def ids(a):
    return [p["instance"] for p in (a if isinstance(a, list) else a.get("ancestors", []))]
l, r = ids(live), ids(rebuilt)
print(l[:len(r)] == r and len(r) > 0)' "$T/live-ancestors.json" "$T/rebuilt-ancestors.json")" True
"$LINEAGECTL" --journal="$REMOTE" --machine="$MID" --json=short logins >"$T/rebuilt-logins.json" 2>/dev/null ||
        fail "lineagectl --journal --machine=$MID logins failed"
check "logins: the test's login, as the live origin named it" \
        "$(python3 -c 'import json, sys
live = json.load(open(sys.argv[1]))["login"]
r = json.load(open(sys.argv[2]))
logins = r.get("logins", []) if isinstance(r, dict) else r
same = [l for l in logins if l.get("instance") == live["instance"]]
keys = ("instance", "auditSession", "loginUid", "user", "service", "remoteAddress", "tty", "startTime", "selfDeclared")
print(len(same) == 1 and all(same[0].get(k) == live.get(k) for k in keys))' "$T/live-origin.json" "$T/rebuilt-logins.json")" True
jctl() { "$LINEAGECTL" --journal="$REMOTE" --json=short "$@" 2>/dev/null; }
# execs FILE: the exec events of a history answer, as "time exe".
execs() { python3 -c 'import json, sys
print(" ".join(str(e.get("time")) + ":" + str(e.get("exe")) for e in json.load(open(sys.argv[1]))["events"] if e.get("type") == "exec"))' "$1"; }
jctl history "$SLEEPER" >"$T/rebuilt-history.json" || fail "lineagectl --journal history failed"
[ -n "$(execs "$T/live-history.json")" ] || fail "the live history of the sleeper has no exec"
check "history: the sleeper's execs" "$(execs "$T/rebuilt-history.json")" "$(execs "$T/live-history.json")"
# has FILE INSTANCE: whether the answer names the instance anywhere.
has() { python3 -c 'import json, sys
def walk(v):
    if isinstance(v, dict):
        return v.get("instance") == int(sys.argv[2]) or any(walk(x) for x in v.values())
    return isinstance(v, list) and any(walk(x) for x in v)
print(walk(json.load(open(sys.argv[1]))))' "$1" "$2"; }
jctl search --exe=sleep >"$T/rebuilt-search.json" || fail "lineagectl --journal search failed"
check "search --exe=sleep: the sleeper" "$(has "$T/rebuilt-search.json" "$SLEEPER_INSTANCE")" True
jctl tree "--login=$LOGIN_INSTANCE" >"$T/rebuilt-tree.json" || fail "lineagectl --journal tree failed"
check "tree of the login: the sleeper in it" "$(has "$T/rebuilt-tree.json" "$SLEEPER_INSTANCE")" True
jctl origin "$ODD" >"$T/rebuilt-odd.json" || fail "lineagectl --journal origin of the odd argv failed"
argv_of() { python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["process"]["argv"]))' "$1"; }
echo "odd argv live:    $(argv_of "$T/live-odd.json")"
check "the odd argv from the journal, as live" "$(argv_of "$T/rebuilt-odd.json")" "$(argv_of "$T/live-odd.json")"
"$LINEAGECTL" --journal="$REMOTE" --machine=no-such-host origin "$SLEEPER" >/dev/null 2>&1 && fail "--machine=no-such-host answered"
echo "ok: --machine picks the host, and an unknown one has nothing"
fake_logout

echo "# full churn with the unit's rate limit: journald suppresses nothing"
start_in_unit --journal-export
check "lineaged runs in its unit's cgroup" "$(grep '^0::' "/proc/$DAEMON_PID/cgroup")" "0::/$UNIT"
BEFORE=$(J LINEAGE_EVENT=exec -o cat | wc -l)
CHURN_OUT=$("$BUILD_DIR/bench/churn" -j 2 -t "${CHURN_SECONDS:-30}" -m spawn) || fail "churn failed"
echo "$CHURN_OUT"
settle
PROCESSES=$(sed -n 's/.* processes=\([0-9]*\).*/\1/p' <<<"$CHURN_OUT")
all_written() { [ "$(J LINEAGE_EVENT=exec -o cat | wc -l)" -ge $((BEFORE + PROCESSES)) ]; }
wait_for "an exec entry for each of the $PROCESSES processes" all_written
# journald's own word for it ("Suppressed N messages from UNIT", MESSAGE_ID a596d6fe…), not lineaged's
# exec entries of the greps below, which name the word too.
SUPPRESSED=$( { grep -i "suppressed" "$T/journald.log" || true
        J MESSAGE_ID=a596d6fe7bfa4994828e72309e95d61e -o cat
        J "_PID=$JOURNALD_PID" -o cat | grep -i "suppressed" || true; } )
[ -z "$SUPPRESSED" ] || { echo "$SUPPRESSED"; fail "journald suppressed messages"; }
echo "ok: $PROCESSES execs at full churn, $(( $(J LINEAGE_EVENT=exec -o cat | wc -l) - BEFORE )) exec entries, nothing suppressed"
stop_daemon

echo "# --journal-export=logins: login entries, and nothing per exec"
start_in_unit --journal-export=logins
fake_login "$LOGIN_UID"
login_entry() { [ -n "$(J "_PID=$DAEMON_PID" LINEAGE_EVENT=login-start "LINEAGE_PID=${L[login]}" -o cat)" ]; }
wait_for "the login-start entry of ${L[login]}" login_entry
settle
check "no exec entries (the sleeper ${L[sleeper]} exec'd)" "$(J "_PID=$DAEMON_PID" LINEAGE_EVENT=exec -o cat | wc -l)" 0
fake_logout
login_ended() { [ -n "$(J "_PID=$DAEMON_PID" LINEAGE_EVENT=login-end "LINEAGE_PID=${L[login]}" -o cat)" ]; }
wait_for "the login-end entry of ${L[login]}" login_ended
stop_daemon
echo "journal-forward: all checks passed"
