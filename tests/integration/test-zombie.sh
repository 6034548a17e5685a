#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A zombie found by the start-up scan is recorded as exited (exit unknown, by the scan), on a real kernel and on a patched procfs.
. "$(dirname "$0")/lib.sh"


echo "# real kernel: P forks Q, Q forks R and exits, P has not reaped Q when lineaged starts"
coproc ZT { python3 "$SOURCE_DIR/tests/integration/zombie-tree.py"; }
cleanup_pids "$ZT_PID"
declare -A Z=()
read_ready "${ZT[0]}" Z || true
[ -n "${Z[r]:-}" ] || fail "zombie-tree.py did not start"
cleanup_pids "${Z[r]}"
start_daemon
exited() { [ -n "$(q "SELECT id FROM instances WHERE pid = $1 AND exit_time IS NOT NULL")" ]; }
wait_for "the zombie's exit recorded" exited "${Z[q]}"
row=$(q "SELECT (flags & 8) != 0, exit_time >= start_time, exit_time <= (SELECT max(last_commit) FROM runs)
          FROM instances WHERE pid = ${Z[q]}")
check "the zombie: exit not observed, bounded by the scan" "$row" "1|1|1"
r=$(vl GetOrigin "{\"pid\": ${Z[q]}}")
check "the zombie is not alive" "$(jget "$r" parameters.process.alive)" false
check "its exit is not observed" "$(jget "$r" parameters.process.exitUnknown)" true
live_before=$(jget "$(vl GetStatus)" parameters.status.liveInstances)
echo >&"${ZT[1]}"   # P reaps Q: no event for that
read -r -t 60 line <&"${ZT[0]}" || fail "Q was not reaped"
check "reaped" "$line" REAPED
check "still one instance of Q, exited" "$(q "SELECT count(*), sum(exit_time IS NOT NULL) FROM instances WHERE pid = ${Z[q]}")" "1|1"
r=$(vl GetOrigin "{\"pid\": ${Z[r]}}")
check "R alive" "$(jget "$r" parameters.process.alive)" true
eval "exec ${ZT[1]}>&-"
wait "$ZT_PID" 2>/dev/null || true
stop_daemon

echo "# patched procfs (NScaba:): P -> Q (a zombie) -> R; R's CABA moves on to P"
P="$T/proc"
F=900000000000   # start times in the future: real events for these small pids are another process's
make_fake_proc "$P" 1 0 S init $F '\t0'
make_fake_proc "$P" 300 1 S zt-p $((F + 1)) '\t1'
make_fake_proc "$P" 301 300 Z zt-q $((F + 2)) '\t300'
make_fake_proc "$P" 302 1 S zt-r $((F + 3)) '\t301'
rm -f "$DB"
start_daemon --proc="$P"
row() { q "SELECT (exit_time IS NOT NULL) || ' ' || ((flags & 8) != 0) || ' ' || birth_parent_pid || ' ' || caba_pid
           FROM instances WHERE pid = $1 AND start_ticks >= $F"; }
recorded() { [ -n "$(q "SELECT id FROM instances WHERE pid = $1 AND start_ticks >= $F")" ]; }
wait_for "R recorded" recorded 302
check "Q: exited, exit unknown, born of P" "$(row 301)" "1 1 300 300"
check "R: alive, born of Q, its CABA is P" "$(row 302)" "0 0 301 300"
r=$(vl GetCaba '{"pid": 302}')
check "GetCaba(R) userspace" "$(jget "$r" parameters.caba.pid)" 300
check "GetCaba(R) kernel (names the zombie)" "$(jget "$r" parameters.kernelCabaPid)" 301
check "GetCaba(R) agree: the documented zombie difference" "$(jget "$r" parameters.difference)" zombie
stop_daemon
echo "zombie: all checks passed"
