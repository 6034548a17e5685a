#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What lineagectl prints for real processes: drawings of --alive trees, escaped text, limits that say what they left out.
. "$(dirname "$0")/lib.sh"

ctl() { "$LINEAGECTL" --varlink="$SOCK" "$@"; }

# The waits below (wait_for) get 120 s: the trees and logins take long under a sanitizer on a busy machine.
WAIT_TIMEOUT=$((WAIT_TIMEOUT > 120 ? WAIT_TIMEOUT : 120))

# The pid of the only process whose command line is exactly $1.
pid_of() {
        local p
        p=$(pgrep -x -f "$1") || return 1
        [ "$(echo "$p" | wc -l)" -eq 1 ] && echo "$p"
}

# recorded PID [exited]: the database has PID's instance (and its exit).
recorded() {
        [ -n "$(q "SELECT id FROM instances WHERE pid = $1 ${2:+AND exit_time IS NOT NULL}")" ]
}

# has_descendants PID N: the daemon answers N descendants for PID.
has_descendants() {
        [ "$(ctl --json=short descendants "$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["descendants"]))')" = "$2" ]
}

# has_argv PID TEXT: PID's recorded argv holds TEXT.
has_argv() {
        [ -n "$(q "SELECT id FROM instances WHERE pid = $1 AND instr(argv, '$2') > 0")" ]
}

start_daemon

echo "# 1. tree --alive: cousins from exited subshells stay side by side, and say what was left out"
bash -c '(exec -a tg-cousin-a sleep 600 &); (exec -a tg-cousin-b sleep 600 & (exec -a tg-cousin-c sleep 600 &); true)
        exec -a tg-cousin-root sleep 600' </dev/null >/dev/null 2>&1 &
R=$!
cleanup_pids "$R"
wait_for "three cousins started" pid_of "tg-cousin-c 600" >/dev/null
CA=$(pid_of "tg-cousin-a 600") CB=$(pid_of "tg-cousin-b 600") CC=$(pid_of "tg-cousin-c 600")
cleanup_pids "$CA" "$CB" "$CC"
wait_for "the whole tree recorded" has_descendants "$R" 6
subshells_exited() {
        [ "$(q "SELECT count(*) FROM instances WHERE exit_time IS NOT NULL AND
                id IN (SELECT birth_parent FROM instances WHERE pid IN ($CA, $CB, $CC))")" = 3 ]
}
wait_for "the subshells' exits recorded" subshells_exited
IR=$(inst "$R") IA=$(inst "$CA") IB=$(inst "$CB") IC=$(inst "$CC")
ctl tree --alive "$R" >"$T/cousins.txt" || fail "tree --alive failed"
expect_text "$T/cousins.txt" <<EOF
$R @$IR tg-cousin-root 600
├─$CA @$IA tg-cousin-a 600 [reparented to 1]  [1 exited ancestor left out]
├─$CB @$IB tg-cousin-b 600 [reparented to 1]  [1 exited ancestor left out]
└─$CC @$IC tg-cousin-c 600 [reparented to 1]  [2 exited ancestors left out]
EOF
ctl descendants --alive "$R" >"$T/cousins-desc.txt" || fail "descendants --alive failed"
expect_text "$T/cousins-desc.txt" <<EOF
$R @$IR  tg-cousin-root 600  (alive)
  $CA @$IA  tg-cousin-a 600  (alive)  [1 exited ancestor left out]
  $CB @$IB  tg-cousin-b 600  (alive)  [1 exited ancestor left out]
  $CC @$IC  tg-cousin-c 600  (alive)  [2 exited ancestors left out]
EOF
reply=$(vl GetDescendants "{\"pid\": $R, \"aliveOnly\": true}")
check "depths stay the depths in the whole tree" "$(jget "$reply" parameters.depths)" "[2, 2, 3]"
check "parents name the process itself" "$(jget "$reply" parameters.parents)" "[-1, -1, -1]"
reply=$(vl GetDescendants "{\"pid\": $R}")
check "without aliveOnly parents are the birth parents" "$(jget "$reply" parameters.parents)" "[-1, 0, -1, 2, 2, 4]"
kill "$R" "$CA" "$CB" "$CC"

echo "# 8. text output escapes bidirectional and invisible format characters, and backslashes"
# innocent<RLO>gnp.sh would show as "innocenths.png"; a stored backslash text and a real ESC differ.
bash -c $'exec -a \'tg-bidi innocent\u202egnp.sh \u2066x\u2069 zw\u200bsp\ufeff ls\u2028ps nbsp\u00a0é \\x1b real\x1b\' sleep 600' \
        </dev/null >/dev/null 2>&1 &
BIDI=$!
cleanup_pids "$BIDI"
wait_for "the bidi process recorded with its argv" has_argv "$BIDI" tg-bidi
ctl --full origin "$BIDI" | grep tg-bidi | sed 's/^ *//' >"$T/bidi.txt" || fail "origin failed"
IBIDI=$(inst "$BIDI")
# (the daemon stores a real ESC of argv as the text \x1b and a backslash as \\: the two differ)
expect_text "$T/bidi.txt" <<EOF
$BIDI @$IBIDI  tg-bidi innocent\\u202egnp.sh \\u2066x\\u2069 zw\\u200bsp\\ufeff ls\\u2028ps nbsp$(printf '\u00a0')é \\\\x1b real\\x1b 600  (alive)
EOF
ctl --json=short ancestors "$BIDI" | grep $'innocent\u202egnp.sh' >/dev/null || fail "JSON output is not the text as recorded"
echo "ok: JSON keeps the text as recorded"
kill "$BIDI"

echo "# 9. who ran it: the user of each process, marked where it changes along a chain and a tree"
id nobody >/dev/null 2>&1 || fail "no user nobody to run as"
NOBODY=$(id -u nobody)
bash -c 'runuser -u nobody -- sleep 602; true' </dev/null >/dev/null 2>&1 &
UR=$!
cleanup_pids "$UR"
wait_for "nobody's sleeper started" pid_of "sleep 602" >/dev/null
US=$(pid_of "sleep 602")
cleanup_pids "$US"
UU=$(awk '{ print $4 }' "/proc/$US/stat")   # runuser, which forked the sleeper and waits for it
[ "$(awk '{ print $4 }' "/proc/$UU/stat")" = "$UR" ] || fail "runuser $UU is not the child of $UR"
ran_as_nobody() {
        [ -n "$(q "SELECT id FROM instances WHERE pid = $US AND uid = $NOBODY AND instr(argv, 'sleep') > 0")" ]
}
wait_for "the sleeper recorded with its user and command" ran_as_nobody
IUR=$(inst "$UR") IUU=$(inst "$UU") IUS=$(inst "$US")
# (the chain's widths follow the test's own ancestors: compare with single spaces)
ctl origin "$US" | sed 's/^ *//' | tr -s ' ' | grep -E "^($US|$UU|$UR) @" >"$T/user-origin.txt" || fail "origin failed"
expect_text "$T/user-origin.txt" <<EOF
$US @$IUS (nobody) sleep 602 (alive)
$UU @$IUU runuser -u nobody -- sleep 602 (alive)
$UR @$IUR bash -c runuser -u nobody -- sleep 602; true (alive)
EOF
ctl tree "$UR" >"$T/user-tree.txt" || fail "tree failed"
expect_text "$T/user-tree.txt" <<EOF
$UR @$IUR bash -c runuser -u nobody -- sleep 602; true
└─$UU @$IUU runuser -u nobody -- sleep 602
  └─$US @$IUS (nobody) sleep 602
EOF
ctl descendants "$UR" | tr -s ' ' >"$T/user-desc.txt" || fail "descendants failed"
expect_text "$T/user-desc.txt" <<EOF
$UR @$IUR bash -c runuser -u nobody -- sleep 602; true (alive)
 $UU @$IUU runuser -u nobody -- sleep 602 (alive)
 $US @$IUS (nobody) sleep 602 (alive)
EOF
ctl ancestors "$US" >"$T/user-ancestors.txt" || fail "ancestors failed"
grep -qE "^PID +INSTANCE +USER +STATE " "$T/user-ancestors.txt" || { cat "$T/user-ancestors.txt"; fail "ancestors has no USER column"; }
grep -qE "^$US +@$IUS +nobody \(from root\) +alive " "$T/user-ancestors.txt" ||
        { cat "$T/user-ancestors.txt"; fail "ancestors does not mark the change to nobody"; }
grep -qE "^$UU +@$IUU +root +alive " "$T/user-ancestors.txt" ||
        { cat "$T/user-ancestors.txt"; fail "ancestors does not name runuser's user"; }
echo "ok: ancestors names each user and marks the change"
ctl history "$US" >"$T/user-history.txt" || fail "history failed"
grep -q "^History of $US @$IUS  (nobody) sleep 602  (alive)$" "$T/user-history.txt" ||
        { cat "$T/user-history.txt"; fail "history does not name the process's user"; }
grep -qE "  uid +real $NOBODY \(nobody\), effective $NOBODY \(nobody\)$" "$T/user-history.txt" ||
        { cat "$T/user-history.txt"; fail "history's uid event does not name the user"; }
echo "ok: history names the user of the process and of its uid event"
check "JSON keeps the uid" "$(jget "$(vl GetAncestors "{\"pid\": $US}")" parameters.process.uid)" "$NOBODY"
kill "$US" "$UR" 2>/dev/null || true

echo "# 5. limited answers say what they left out, and where"
LUID=$((47000 + $$ % 1000))   # a uid of our own: other tests on this machine make logins of 4242
fake_login $LUID
fake_logout
fake_login $LUID
fake_logout
logins_of() { [ "$(q "SELECT count(*) FROM logins WHERE login_uid = $1")" = "$2" ]; }
wait_for "two logins of $LUID recorded" logins_of $LUID 2
ctl logins --user=$LUID --limit=1 | tail -n 2 >"$T/logins-limit.txt" || fail "logins --limit failed"
expect_text "$T/logins-limit.txt" <<EOF
1 login(s) listed.
… more exist; raise --limit (now 1) to see them
EOF
ctl logins --user=$LUID --limit=2 | tail -n 1 >"$T/logins-all.txt"
expect_text "$T/logins-all.txt" <<<"2 login(s) listed."
check "ListLogins says truncated" "$(jget "$(vl ListLogins "{\"loginUid\": $LUID, \"limit\": 1}")" parameters.truncated)" true
check "ListLogins says complete" "$(jget "$(vl ListLogins "{\"loginUid\": $LUID, \"limit\": 2}")" parameters.truncated)" false

# One instance that execs three times: fork, exec ×3, exit.
bash -c 'exec -a tg-hist-1 bash -c "exec -a tg-hist-2 bash -c \"exec -a tg-hist-3 true\""' </dev/null >/dev/null 2>&1 &
H=$!
wait "$H"
wait_for "the history's exit recorded" recorded "$H" exited
ctl history --limit=1 "$H" | sed -E 's/^[0-9-]+ [0-9:.]+( [A-Za-z+0-9:-]+)?  //' >"$T/history-limit.txt" || fail "history --limit failed"
cat "$T/history-limit.txt"
check "history --limit=1: birth, one event, where the rest was left out, exit" \
        "$(cut -c1-9 "$T/history-limit.txt" | tr -s ' ' | tr '\n' '|')" \
        "History o|fork |exec |… more |exit |"
check "the left-out line" "$(sed -n 4p "$T/history-limit.txt")" "… more events left out here; raise --limit (now 1) to see them"

echo "# 11. status: the receive buffer as asked and as the kernel gave it"
ctl status | grep 'Receive buffer' | sed 's/^ *//' >"$T/rcvbuf.txt"
expect_text "$T/rcvbuf.txt" <<<"Receive buffer: 64.0M asked, 128.0M given by the kernel"
check "GetStatus receiveBufferRequested" "$(jget "$(vl GetStatus)" parameters.status.receiveBufferRequested)" $((64 * 1024 * 1024))

echo "# 10. logins: how many processes of a session are alive"
# A login (loginuid written, then exec: the daemon reads the new session while the login lives) that
# leaves a daemonized process behind when it ends.
LUID2=$((LUID + 1))
coproc LOGIN10 { python3 -c 'import os, sys
with open("/proc/self/loginuid", "w") as f:
    f.write(sys.argv[1])
os.execv("/bin/bash", ["bash", "-c", f"(exec -a tg-persist-{sys.argv[2]} sleep 600 </dev/null >/dev/null 2>&1 &); read x"])' "$LUID2" $$; }
LOGIN10_SHELL=$LOGIN10_PID
cleanup_pids "$LOGIN10_SHELL"
# Named by this run's pid: another run of this test on the machine has its own.
wait_for "the persisting process started" pid_of "tg-persist-$$ 600" >/dev/null
PERSIST=$(pid_of "tg-persist-$$ 600")
cleanup_pids "$PERSIST"
login10() { jget "$(vl ListLogins "{\"loginUid\": $LUID2}")" "parameters.logins.0.$1"; }
both_alive() { [ "$(login10 aliveProcesses)" = 2 ]; }
wait_for "the login and its daemonized process counted" both_alive
end_coproc LOGIN10 "$LOGIN10_SHELL"
ended_one_alive() { [ "$(login10 alive)" = false ] && [ "$(login10 aliveProcesses)" = 1 ]; }
wait_for "the login ended, its daemonized process alive" ended_one_alive
# ALIVE is the column before STATE ("ended TIME [ZONE]"): the word before "ended".
ctl logins --user=$LUID2 | awk 'NR > 1 && NF > 0 && !/listed/ { for (i = 2; i <= NF; i++) if ($i == "ended") print $(i - 1), $i }' \
        >"$T/logins-alive.txt"
expect_text "$T/logins-alive.txt" <<<"1 ended"
kill "$PERSIST"
none_alive() { [ "$(login10 aliveProcesses)" = 0 ]; }
wait_for "the daemonized process no longer counted" none_alive

echo "# 6. resolve: not recording (before the first run, inside a downtime gap) is not nobody"
NOPID=4000001   # a pid nobody holds (pid_max is at most 4194304, and usually far lower)
[ ! -d "/proc/$NOPID" ] || fail "pid $NOPID exists"
BEFORE=$(( $(q "SELECT min(started) FROM runs") - 3600 * 1000000 ))
ctl resolve "$NOPID" "$BEFORE" 2>"$T/resolve-before.txt" && fail "resolve before the first run answered"
grep -q "is known: lineaged was not recording yet (that is before its first run in this boot)" "$T/resolve-before.txt" ||
        { cat "$T/resolve-before.txt"; fail "resolve before the first run does not say so"; }
echo "ok: before the first run: not recording yet"
ctl resolve "$NOPID" now 2>"$T/resolve-nobody.txt" && fail "resolve of a free pid answered"
grep -q "^No process held pid $NOPID at .* (lineaged was recording)\.$" "$T/resolve-nobody.txt" ||
        { cat "$T/resolve-nobody.txt"; fail "resolve while recording does not say nobody held it"; }
echo "ok: while recording: nobody"
stop_daemon
DOWN=$(( $(date +%s%N) / 1000 ))   # after the stop, before the next start: inside the downtime gap
start_daemon
has_downtime() { [ -n "$(q "SELECT id FROM gaps WHERE reason = 'downtime' AND start_time <= $DOWN AND end_time >= $DOWN")" ]; }
wait_for "the downtime gap recorded" has_downtime
ctl resolve "$NOPID" "$DOWN" 2>"$T/resolve-gap.txt" && fail "resolve inside the gap answered"
grep -q "is known: lineaged was not recording then (a downtime gap in the record)" "$T/resolve-gap.txt" ||
        { cat "$T/resolve-gap.txt"; fail "resolve inside a gap does not say so"; }
echo "ok: inside the downtime gap: not recording"
check "Resolve's error says notRecording" \
        "$(python3 "$SOURCE_DIR/tests/integration/vlcall.py" "$SOCK" org.lineaged.Lineage.Resolve "{\"pid\": $NOPID, \"at\": $DOWN}" 2>&1 | grep -o '"notRecording": "[a-z-]*"')" \
        '"notRecording": "downtime"'
