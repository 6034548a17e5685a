#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Real process trees against a live daemon: birth parents and CABAs read from the SQLite file.
. "$(dirname "$0")/lib.sh"

start_daemon

bp() { q "SELECT birth_parent_pid FROM instances WHERE id = $(inst "$1")"; }
src() { q "SELECT lineage_source FROM instances WHERE id = $(inst "$1")"; }
caba() { q "SELECT caba_pid FROM instances WHERE id = $(inst "$1")"; }
alive() { q "SELECT exit_time IS NULL FROM instances WHERE id = $(inst "$1")"; }

echo "# a plain chain"
tree chain
settle
check "birth parent of chain-b" "$(bp "${PIDS[chain-b]}")" "${PIDS[chain-a]}"
check "birth parent of chain-c" "$(bp "${PIDS[chain-c]}")" "${PIDS[chain-b]}"
check "source of chain-c" "$(src "${PIDS[chain-c]}")" fork
check "CABA of chain-c" "$(caba "${PIDS[chain-c]}")" "${PIDS[chain-b]}"
release_tree

echo "# a double-forked daemon ends up under pid 1"
tree double-fork
settle
[ "${PIDS[df-daemon-ppid]}" != "${PIDS[df-child]}" ] || fail "df-daemon was not reparented"
check "birth parent of df-daemon" "$(bp "${PIDS[df-daemon]}")" "${PIDS[df-child]}"
check "source of df-daemon" "$(src "${PIDS[df-daemon]}")" fork
check "df-child exited" "$(alive "${PIDS[df-child]}")" 0
check "df-parent exited" "$(alive "${PIDS[df-parent]}")" 0
# Its closest alive born ancestor is whoever made df-parent: both in between are gone.
check "CABA of df-daemon" "$(caba "${PIDS[df-daemon]}")" "$(bp "${PIDS[df-parent]}")"
check "df-child's reaper recorded" \
        "$(q "SELECT exit_parent_pid FROM instances WHERE id = $(inst "${PIDS[df-child]}")")" "${PIDS[df-parent]}"
release_tree

echo "# a subreaper collects an orphan"
tree subreaper
settle
check "orphan's current parent (kernel)" "${PIDS[sr-orphan-ppid]}" "${PIDS[sr-reaper]}"
check "birth parent of sr-orphan" "$(bp "${PIDS[sr-orphan]}")" "${PIDS[sr-middle]}"
check "CABA of sr-orphan" "$(caba "${PIDS[sr-orphan]}")" "${PIDS[sr-reaper]}"
release_tree

echo "# setsid sessions"
tree setsid
settle
check "sid of ss-leader1" "$(q "SELECT sid FROM instances WHERE id = $(inst "${PIDS[ss-leader1]}")")" "${PIDS[ss-leader1]}"
check "sid of ss-leader2" "$(q "SELECT sid FROM instances WHERE id = $(inst "${PIDS[ss-leader2]}")")" "${PIDS[ss-leader2]}"
check "sid of ss-member" "$(q "SELECT sid FROM instances WHERE id = $(inst "${PIDS[ss-member]}")")" "${PIDS[ss-leader2]}"
check "sid events" "$(q "SELECT count(*) FROM events WHERE type = 5 AND instance IN ($(inst "${PIDS[ss-leader1]}"), $(inst "${PIDS[ss-leader2]}"))")" 2
check "birth parent of ss-member" "$(bp "${PIDS[ss-member]}")" "${PIDS[ss-leader2]}"
release_tree

echo "# a threaded process whose threads fork"
tree threads
settle
check "birth parent of th-child1" "$(bp "${PIDS[th-child1]}")" "${PIDS[th-proc]}"
check "birth parent of th-child2" "$(bp "${PIDS[th-child2]}")" "${PIDS[th-proc]}"
check "threads are not instances" \
        "$(q "SELECT count(*) FROM instances WHERE pid IN (${PIDS[th-thread1]}, ${PIDS[th-thread2]}) AND start_time >= (SELECT start_time FROM instances WHERE id = $(inst "${PIDS[th-proc]}"))")" 0
release_tree

echo "# an exec from a non-leader thread keeps the instance"
tree exec-thread
settle
E=$(inst "${PIDS[et-proc]}")
check "instances of et-proc's pid since it started" \
        "$(q "SELECT count(*) FROM instances WHERE pid = ${PIDS[et-proc]} AND start_time >= (SELECT start_time FROM instances WHERE id = $E)")" 1
check "exec recorded on et-proc" "$(q "SELECT count(*) FROM event_log WHERE instance = $E AND type = 'exec'")" 1
check "exec'ing thread recorded" "$(q "SELECT count(*) FROM event_log WHERE instance = $E AND type = 'exec' AND (tid IS NULL OR tid = ${PIDS[et-thread]})")" 1
check "new image's argv" "$(q "SELECT json_extract(argv, '\$[1]') FROM instances WHERE id = $E")" __sleep
check "et-proc alive" "$(alive "${PIDS[et-proc]}")" 1
release_tree

echo "# the CABA selftest's complex sessions, for real, in a new pid namespace"
tree complex-sessions
settle
check "CABA(2)" "$(caba "${PIDS[cs-2]}")" "${PIDS[cs-1]}"
check "CABA(4)" "$(caba "${PIDS[cs-4]}")" "${PIDS[cs-2]}"
check "CABA(5)" "$(caba "${PIDS[cs-5]}")" "${PIDS[cs-4]}"
check "CABA(7)" "$(caba "${PIDS[cs-7]}")" "${PIDS[cs-4]}"
check "birth parent of 4" "$(bp "${PIDS[cs-4]}")" "${PIDS[cs-3]}"
check "birth parent of 7" "$(bp "${PIDS[cs-7]}")" "${PIDS[cs-6]}"
check "kernel parent of 7 (subreaper 2)" "${PIDS[cs-ppid-7]}" "${PIDS[cs-2]}"
check "kernel parent of 4 (namespace init)" "${PIDS[cs-ppid-4]}" "${PIDS[cs-1]}"
# The same answer through the public view.
check "ancestors view of 7" \
        "$(q "SELECT group_concat(ancestor_pid, ' ') FROM (SELECT ancestor_pid FROM ancestors WHERE instance = $(inst "${PIDS[cs-7]}") ORDER BY depth LIMIT 4)")" \
        "${PIDS[cs-6]} ${PIDS[cs-4]} ${PIDS[cs-3]} ${PIDS[cs-2]}"
release_tree

echo "# README's check: setsid sh -c 'sleep 300 &' leaves a sleeper whose birth parent is that shell"
setsid sh -c 'echo $$ > "$1/sh.pid"; exec 1>&- 2>&-; sleep 300 & echo $! > "$1/sleep.pid"' sh "$T"
SLEEPER=$(cat "$T/sleep.pid")
cleanup_pids "$SLEEPER"
settle
check "sleeper reparented to pid 1" "$(awk '{print $4}' "/proc/$SLEEPER/stat")" 1
check "birth parent of the sleeper" "$(bp "$SLEEPER")" "$(cat "$T/sh.pid")"
check "source" "$(src "$SLEEPER")" fork
check "the shell has exited" "$(alive "$(cat "$T/sh.pid")")" 0

stop_daemon
check "integrity" "$(q "PRAGMA integrity_check")" ok
check "no event lost" "$(q "SELECT count(*) FROM gaps")" 0
echo "recording: all checks passed"
