#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A storm while the daemon is stopped: the loss is recorded as a gap with a count, a rescan makes every
# live process known, and the daemon is idle again within seconds.
. "$(dirname "$0")/lib.sh"

start_daemon --receive-buffer=65536
tree chain                                  # long-lived processes that must keep their lineage
settle
A=$(inst "${PIDS[chain-c]}")
kill -STOP "$DAEMON_PID"
"$TREEGEN" churn 5000 >/dev/null           # 15000 events into a 64 KiB buffer
setsid sleep 300 >/dev/null 2>&1 &         # born during the storm, alive afterwards
LATE=$!
cleanup_pids "$LATE"
CONT_TICKS=$(awk '{print $22}' /proc/self/stat)   # now, in stat's start-time ticks
kill -CONT "$DAEMON_PID"
rescanned() { [ "$(grep -c "^Scanned " "$T/daemon.log")" -ge 2 ]; }
wait_for "the rescan after the storm" rescanned   # the first "Scanned" line is the start's
settle
r=$(vl GetStatus)
echo "status: lost $(jget "$r" parameters.status.eventsLost), overflows $(jget "$r" parameters.status.overflows), gaps $(jget "$r" parameters.status.gaps)"
[ "$(jget "$r" parameters.status.overflows)" -ge 1 ] || [ "$(jget "$r" parameters.status.eventsLost)" -ge 1 ] || fail "no loss detected"
[ "$(q "SELECT count(*) FROM gaps")" -ge 1 ] || fail "no gap recorded"
q "SELECT reason, lost, end_time - start_time FROM gaps" | sed 's/^/gap: /'
LOST=$(q "SELECT coalesce(sum(lost), 0) FROM gaps")
echo "events known lost in gaps: $LOST"
grep -q "Rescanning" "$T/daemon.log" || fail "no rescan after the loss"
# Every process alive now is known, as its live instance.
missing=0
for p in $(ls /proc | grep -E '^[0-9]+$'); do
        [ -r "/proc/$p/stat" ] || continue
        st=$(awk '{print $22}' "/proc/$p/stat" 2>/dev/null) || continue
        [ -n "$st" ] || continue
        # A zombie has exited (its reaping is no event): recorded as exited, not as alive.
        [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] || continue
        # What the rescan had to find: processes that existed when the daemon resumed. Later ones
        # (other work on the machine) are the events' business and may not be committed yet.
        [ "$st" -le "$CONT_TICKS" ] || continue
        n=$(q "SELECT count(*) FROM instances WHERE pid = $p AND exit_time IS NULL AND abs(start_ticks - $st) <= 1")
        if [ "$n" != 1 ] && [ -d "/proc/$p" ]; then
                echo "not known: pid $p ($(cat "/proc/$p/comm" 2>/dev/null)) start $st: $n live instances"
                missing=$((missing + 1))
        fi
done
[ "$missing" -eq 0 ] || fail "$missing live processes are not known after the rescan"
check "process born in the storm is known" "$(q "SELECT count(*) FROM instances WHERE pid = $LATE AND exit_time IS NULL")" 1
check "the long-lived chain kept its instance" "$(inst "${PIDS[chain-c]}")" "$A"
check "and its lineage" "$(q "SELECT birth_parent_pid || ' ' || lineage_source FROM instances WHERE id = $A")" "${PIDS[chain-b]} fork"
# Idle again: CPU time of the daemon does not grow while nothing happens.
t1=$(awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat")
sleep 2
t2=$(awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat")
echo "daemon CPU ticks over 2 idle seconds: $((t2 - t1))"
[ $((t2 - t1)) -le 20 ] || fail "the daemon is not idle after the storm"
r=$(vl GetOrigin "{\"pid\": $LATE}")
[ "$(jget "$r" parameters.gaps.0.reason)" != "" ] || fail "an answer relying on the gap does not say so"
echo "ok: the origin of a process born in the gap names the gap ($(jget "$r" parameters.gaps.0.reason))"
release_tree
stop_daemon
echo "overflow: all checks passed"
