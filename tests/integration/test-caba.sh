#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Kernel CABA (NScaba:) on a synthetic patched procfs: bootstrap from it, and cross-check it at runtime.
. "$(dirname "$0")/lib.sh"

# make_proc ROOT PID PPID SID COMM START_TICKS [NSCABA-VALUE|-]: one process in a synthetic procfs.
# NSCABA-VALUE is what follows "NScaba:" (e.g. a tab and a number); "-" leaves the line out.
# Each file appears whole (written aside, then renamed): the daemon's periodic cross-check may read the
# tree at any moment and must not see a status file cut short.
make_proc() {
        local root=$1 pid=$2 ppid=$3 sid=$4 comm=$5 start=$6 nscaba=${7:--}
        mkdir -p "$root/$pid"
        printf '%s (%s) S %s %s %s 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %s 1000000 100 18446744073709551615\n' \
                "$pid" "$comm" "$ppid" "$sid" "$sid" "$start" > "$root/$pid/.stat"
        {
                printf 'Name:\t%s\nState:\tS (sleeping)\nTgid:\t%s\nNgid:\t0\nPid:\t%s\nPPid:\t%s\n' "$comm" "$pid" "$pid" "$ppid"
                printf 'TracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nNSpid:\t%s\nNSsid:\t%s\n' "$pid" "$sid"
                [ "$nscaba" = - ] || printf 'NScaba:%b\n' "$nscaba"
                printf 'Threads:\t1\n'
        } > "$root/$pid/.status"
        printf '%s\0' "$comm" > "$root/$pid/.cmdline"
        mv "$root/$pid/.cmdline" "$root/$pid/cmdline"
        mv "$root/$pid/.stat" "$root/$pid/stat"
        mv "$root/$pid/.status" "$root/$pid/status"
}

echo "# the complex-sessions final state on a patched kernel: 1 -> {2 -> 7, 4 -> 5}"
# Start times lie in the future so that real kernel events for the same small pids (kernel threads)
# are recognised as another process's and leave this synthetic tree alone.
P="$T/proc"
F=900000000000
make_proc "$P" 1 0 1 init $F '\t0'
make_proc "$P" 2 1 2 cs-2 $((F + 1)) '\t1'
make_proc "$P" 4 1 4 cs-4 $((F + 3)) '\t2'
make_proc "$P" 5 4 2 cs-5 $((F + 4)) '\t4'
make_proc "$P" 7 2 4 cs-7 $((F + 6)) '\t4'
start_daemon --proc="$P"
grep -q "The kernel provides NScaba" "$T/daemon.log" || fail "NScaba support not detected"
settle
caba() { q "SELECT caba_pid FROM instances WHERE pid = $1 AND start_ticks >= $F"; }
bp() { q "SELECT birth_parent_pid || ' ' || lineage_source FROM instances WHERE pid = $1 AND start_ticks >= $F"; }
check "CABA(2)" "$(caba 2)" 1
check "CABA(4)" "$(caba 4)" 2
check "CABA(5)" "$(caba 5)" 4
check "CABA(7)" "$(caba 7)" 4
check "birth edge of 2" "$(bp 2)" "1 kernel-caba"
check "birth edge of 4 (PPid says 1)" "$(bp 4)" "2 kernel-caba"
check "birth edge of 5" "$(bp 5)" "4 kernel-caba"
check "birth edge of 7 (PPid says 2)" "$(bp 7)" "4 kernel-caba"
check "birth edge of 1 (created by the kernel)" "$(bp 1)" "0 kernel-caba"
r=$(vl GetCaba '{"pid": 7}')
check "GetCaba(7) userspace" "$(jget "$r" parameters.caba.pid)" 4
check "GetCaba(7) kernel" "$(jget "$r" parameters.kernelCabaPid)" 4
check "GetCaba(7) kernel supported" "$(jget "$r" parameters.kernelSupported)" true
check "GetCaba(7) agree" "$(jget "$r" parameters.agree)" true
check "GetCaba(7) source" "$(jget "$r" parameters.source)" kernel-caba
r=$(vl GetAncestors '{"pid": 5}')
check "ancestors of 5" "$(jget "$r" parameters.ancestors.0.pid) $(jget "$r" parameters.ancestors.1.pid) $(jget "$r" parameters.ancestors.2.pid)" "4 2 1"
check "ancestors of 5 complete (kernel edges down to pid 1)" "$(jget "$r" parameters.complete)" true
stop_daemon

echo "# the same without the patch: procfs edges, and answers say so"
P2="$T/proc-stock"
make_proc "$P2" 1 0 1 init $F
make_proc "$P2" 2 1 2 cs-2 $((F + 1))
make_proc "$P2" 4 1 4 cs-4 $((F + 3))
rm -f "$DB"
start_daemon --proc="$P2"
settle
check "birth edge of 4 from PPid" "$(bp 4)" "1 procfs"
r=$(vl GetCaba '{"pid": 4}')
check "kernel CABA not available" "$(jget "$r" parameters.kernelSupported)" false
r=$(vl GetAncestors '{"pid": 4}')
check "chain from procfs is not complete" "$(jget "$r" parameters.complete)" false
r=$(vl GetOrigin '{"pid": 1}')
check "pid 1 from procfs: parent pid 0 means created by the kernel, complete" "$(jget "$r" parameters.complete)" true
stop_daemon

echo "# runtime cross-check: a kernel CABA that disagrees with the events is counted, the events win"
P3="$T/proc-check"
make_proc "$P3" 1 0 1 init $F '\t0'
rm -f "$DB"
start_daemon --proc="$P3"
tree chain
settle
A=${PIDS[chain-a]} B=${PIDS[chain-b]} C=${PIDS[chain-c]}
# chain-a's CABA is treegen, its live parent. The cross-check sweeps every process of this tree every
# few seconds, so chain-a and chain-b must agree with the events: only chain-c may be counted, whenever
# the sweep runs. Treegen's own lineage runs through processes this tree leaves out: no NScaba: line.
G=$(awk '{ print $4 }' "/proc/$A/stat")
make_proc "$P3" "$G" 1 1 lineage-treegen 1
make_proc "$P3" "$A" "$G" 1 tg-chain-a 1 "\\t$G"
make_proc "$P3" "$B" "$A" 1 tg-chain-b 1 "\\t$A"
make_proc "$P3" "$C" "$B" 1 tg-chain-c 1 "\\t$A"   # wrong: chain-b is alive and is C's CABA
r=$(vl GetCaba "{\"pid\": $C}")
check "userspace CABA of chain-c" "$(jget "$r" parameters.caba.pid)" "$B"
check "kernel CABA of chain-c" "$(jget "$r" parameters.kernelCabaPid)" "$A"
check "they disagree" "$(jget "$r" parameters.agree)" false
check "unexplained" "$(jget "$r" parameters.difference)" unexplained
vl GetCaba "{\"pid\": $C}" > /dev/null # asked twice: still one disagreement
r=$(vl GetStatus)
check "disagreements counted" "$(jget "$r" parameters.status.cabaDisagreements)" 1
check "observed lineage kept" "$(q "SELECT birth_parent_pid || ' ' || caba_pid FROM instances WHERE id = $(inst "$C")")" "$B $B"
r=$(vl GetCaba "{\"pid\": $A}")
check "chain-a agrees (never counted by the sweep)" "$(jget "$r" parameters.agree) $(jget "$r" parameters.difference)" "true agree"
# Gone before their pids can be reused by processes the tree does not describe.
rm -rf "${P3:?}/$G" "${P3:?}/$A" "${P3:?}/$B" "${P3:?}/$C"
release_tree

echo "# a documented difference: the kernel still counts an exited, unreaped ancestor"
tree double-fork
settle
D=${PIDS[df-daemon]} CH=${PIDS[df-child]}
make_proc "$P3" "$CH" 1 1 tg-df-child 1 '\t1'
make_proc "$P3" "$D" 1 "$D" tg-df-daemon 1 "\\t$CH"
r=$(vl GetCaba "{\"pid\": $D}")
check "kernel names the zombie" "$(jget "$r" parameters.kernelCabaPid)" "$CH"
check "agree within documented differences" "$(jget "$r" parameters.agree)" true
check "difference" "$(jget "$r" parameters.difference)" zombie
r=$(vl GetStatus)
check "still one disagreement" "$(jget "$r" parameters.status.cabaDisagreements)" 1
release_tree
stop_daemon
echo "caba: all checks passed"
