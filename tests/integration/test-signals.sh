#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Signals: SIGHUP, SIGUSR1 and SIGUSR2 are logged and ignored (the daemon keeps recording); SIGTERM
# writes what is still in memory before exiting (issue 11, item 9).
. "$(dirname "$0")/lib.sh"

recorded() { [ "$(q "SELECT count(*) FROM instances WHERE pid = $1")" -ge 1 ]; }

start_daemon
for sig in HUP USR1 USR2; do
        kill -"$sig" "$DAEMON_PID"
        wait_for "SIG$sig to be logged" grep -q "Received .* from pid $$; lineaged has nothing to reload" "$T/daemon.log"
        kill -0 "$DAEMON_PID" 2>/dev/null || fail "SIG$sig killed lineaged"
        setsid sleep 300 >/dev/null 2>&1 &
        P=$!
        cleanup_pids "$P"
        wait_for "a process born after SIG$sig to be recorded" recorded "$P"
        echo "ok: after SIG$sig still running and recording (pid $P)"
done
check "one log line per signal" "$(grep -c "lineaged has nothing to reload" "$T/daemon.log")" 3
stop_daemon

echo "# SIGTERM flushes what is in memory"
# Commits only once a minute: what happens before SIGTERM is only in memory when it comes.
start_daemon --commit-interval=60000
setsid sleep 300 >/dev/null 2>&1 &
LAST=$!
cleanup_pids "$LAST"
# (No query here: queries commit first.) The fork is queued in the kernel socket or in memory.
check "not committed yet" "$(q "SELECT count(*) FROM instances WHERE pid = $LAST")" 0
stop_daemon
check "written on SIGTERM" "$(q "SELECT count(*) FROM instances WHERE pid = $LAST")" 1
check "the run ended cleanly" "$(q "SELECT count(*) FROM runs WHERE stopped IS NULL")" 0
echo "signals: all checks passed"
