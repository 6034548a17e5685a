#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# kill -9 at random moments under process churn, 20 times, restarting each time: the database stays
# intact, nothing is duplicated, long-lived processes keep their instance and lineage, downtime is a gap.
. "$(dirname "$0")/lib.sh"

ROUNDS=${CRASH_ROUNDS:-20}
start_daemon
tree chain
settle
A=$(inst "${PIDS[chain-a]}") C=$(inst "${PIDS[chain-c]}")
LINEAGE_C=$(q "SELECT birth_parent || ' ' || birth_parent_pid || ' ' || lineage_source || ' ' || caba_pid FROM instances WHERE id = $C")

( while :; do "$TREEGEN" churn 200 >/dev/null 2>&1 || true; done ) &
CHURN=$!
cleanup_pids "$CHURN"
for round in $(seq "$ROUNDS"); do
        sleep "0.$((RANDOM % 9 + 1))"
        kill -9 "$DAEMON_PID"
        wait "$DAEMON_PID" 2>/dev/null || true
        DAEMON_PID=
        check "round $round: integrity" "$(q "PRAGMA integrity_check")" ok
        start_daemon
done
kill "$CHURN"; wait "$CHURN" 2>/dev/null || true
settle
check "no two live instances of one process" \
        "$(q "SELECT count(*) FROM (SELECT pid FROM instances WHERE exit_time IS NULL GROUP BY pid HAVING count(*) > 1)")" 0
check "no duplicated instance key within a tick" \
        "$(q "SELECT count(*) FROM (SELECT pid, start_ticks FROM instances GROUP BY boot, pid, start_ticks HAVING count(*) > 1 AND max(start_time) - min(start_time) > 20000)")" 0
check "chain-a kept its instance" "$(inst "${PIDS[chain-a]}")" "$A"
check "chain-c kept its instance" "$(inst "${PIDS[chain-c]}")" "$C"
check "chain-c kept its lineage" \
        "$(q "SELECT birth_parent || ' ' || birth_parent_pid || ' ' || lineage_source || ' ' || caba_pid FROM instances WHERE id = $C")" "$LINEAGE_C"
check "every restart recorded its downtime" "$(q "SELECT count(*) FROM gaps WHERE reason = 'downtime'")" "$ROUNDS"
check "runs recorded" "$(q "SELECT count(*) FROM runs")" $((ROUNDS + 1))
echo "instances $(q "SELECT count(*) FROM instances"), closed unseen $(q "SELECT count(*) FROM instances WHERE flags & 8")"
release_tree
stop_daemon
check "final integrity" "$(q "PRAGMA integrity_check")" ok
echo "crash: $ROUNDS rounds survived"
