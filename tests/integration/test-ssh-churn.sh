#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A real sshd login on 127.0.0.1 made while tens of thousands of short-lived processes churn is attributed to it.
. "$(dirname "$0")/lib.sh"

[ -w /proc/self/loginuid ] || { echo "SKIP: no audit loginuid in this kernel"; exit 77; }
if [ "$(cat /proc/self/loginuid)" != 4294967295 ]; then
        echo "SKIP: this test runs inside a login already (loginuid $(cat /proc/self/loginuid)); it needs an unset loginuid"
        exit 77
fi
# 30,000 processes by default; the sanitizer pass of ./dev runs fewer (SSH_CHURN_N).
N=${SSH_CHURN_N:-30000}
start_daemon

# Its own user: test-logins, which may run at the same time, writes lineagetest's authorized_keys.
start_sshd lineagechurn
HOME_DIR=$(getent passwd "$USER_NAME" | cut -d: -f6)

echo "# $N short-lived processes churn while the login runs"
# Bounded in count and time: the churn ends by itself after N processes or 80 s (--timeout).
"$TREEGEN" --timeout=80 churn "$N" </dev/null >"$T/churn.out" 2>"$T/churn.err" &
CHURN=$!
cleanup_pids "$CHURN"
# Let the churn get going before the login begins.
churning() { [ "$(ps -o pid= --ppid "$CHURN" | wc -l)" -gt 0 ] || ! kill -0 "$CHURN" 2>/dev/null; }
wait_for "the churn to start spawning" churning
SLEEPER_FILE="$HOME_DIR/lineage-churn-sleeper-$PORT"
rm -f "$SLEEPER_FILE"
# The session stays open until the answers are checked (DONE_FILE): a session that ends before the daemon
# has caught up with the churn's backlog is another case (see the note at the end).
DONE_FILE="$HOME_DIR/lineage-churn-done-$PORT"
rm -f "$DONE_FILE"
"${SSH[@]}" \
        "$USER_NAME@127.0.0.1" "setsid sh -c 'sleep 300 >/dev/null 2>&1 & echo \$! > $SLEEPER_FILE.new && mv $SLEEPER_FILE.new $SLEEPER_FILE'; i=0; while [ ! -e $DONE_FILE ] && [ \$i -lt 3000 ]; do sleep 0.1; i=\$((i + 1)); done; exit" \
        </dev/null 2>"$T/ssh/client.log" &
SSH=$!
cleanup_pids "$SSH"
sleeper_written() {
        [ -s "$SLEEPER_FILE" ] || { kill -0 "$SSH" 2>/dev/null || { cat "$T/ssh/client.log" "$T/ssh/sshd.log"; fail "ssh login failed"; }; false; }
}
wait_for "the login's double-forked sleeper to write its pid" sleeper_written
SLEEPER=$(cat "$SLEEPER_FILE"); rm -f "$SLEEPER_FILE"
cleanup_pids "$SLEEPER"
if kill -0 "$CHURN" 2>/dev/null; then
        echo "ok: the churn was still running when the sleeper was started"
else
        echo "note: the churn ended before the sleeper was started"
fi
wait "$CHURN" || { cat "$T/churn.err"; fail "the churn failed"; }
grep -q "^churn-done $N\$" "$T/churn.out" || { cat "$T/churn.out" "$T/churn.err"; fail "the churn did not spawn $N processes"; }
echo "ok: $N processes churned"
settle

r=$(vl GetOrigin "{\"pid\": $SLEEPER}")
check "ssh under churn: user" "$(jget "$r" parameters.login.user)" "$USER_NAME"
check "ssh under churn: login uid" "$(jget "$r" parameters.login.loginUid)" "$USER_UID"
check "ssh under churn: service" "$(jget "$r" parameters.login.service)" sshd
check "ssh under churn: remote address" "$(jget "$r" parameters.login.remoteAddress)" 127.0.0.1
check "ssh under churn: begun by sshd as root: trusted" "$(jget "$r" parameters.login.selfDeclared)" false
check "ssh under churn: sleeper's audit session is the login's" \
        "$(jget "$r" parameters.process.auditSession)" "$(jget "$r" parameters.login.auditSession)"
check "ssh under churn: the sleeper's image" "$(jget "$r" parameters.process.exe)" "$(readlink "/proc/$SLEEPER/exe")"
LOGIN_INSTANCE=$(jget "$r" parameters.login.instance)
r=$(vl GetDescendants "{\"instance\": $LOGIN_INSTANCE, \"aliveOnly\": true}")
lists_descendant "$r" "$SLEEPER" || fail "ssh under churn: the sleeper is not among the login's descendants"
echo "ok: ssh under churn: the sleeper is a descendant of the login"
touch "$DONE_FILE"
wait "$SSH" || { cat "$T/ssh/client.log"; fail "ssh exited with an error"; }
rm -f "$DONE_FILE"
kill "$SLEEPER" "$SSHD" 2>/dev/null || true
stop_daemon
echo "ssh-churn: all checks passed"
# Note: with the session ended at once (ssh ... 'cmd; exit'), a daemon that lags behind the churn (seen under
# ASan) may read the audit session first on the surviving sleeper, after sshd's session process has gone,
# and name the sleeper as the login (service "sleep"): a known limit of finding logins from /proc.
