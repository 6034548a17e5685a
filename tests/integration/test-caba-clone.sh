#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The CABA cross-check on clone(CLONE_PARENT) by a reparented creator, alive or a zombie: real events, a patched procfs's NScaba.
. "$(dirname "$0")/lib.sh"

P="$T/proc"
make_fake_proc "$P" 1 0 S init "$(start_ticks 1)" '\t0'
start_daemon --proc="$P"
grep -q "The kernel provides NScaba" "$T/daemon.log" || fail "NScaba support not detected"

# clone_parent MODE: runs clone-parent.py MODE as the coproc CP; fills C, X, REAPER.
clone_parent() {
        coproc CP { python3 "$SOURCE_DIR/tests/integration/clone-parent.py" "$1"; }
        CP_SHELL=$CP_PID
        cleanup_pids "$CP_SHELL"
        declare -gA CPR=()
        if ! read_ready "${CP[0]}" CPR && [ -n "${CPR[SKIP]+set}" ]; then
                echo "SKIP: no clone syscall number for this architecture"
                exit 77
        fi
        [ -n "${CPR[x]:-}" ] || fail "clone-parent.py did not start"
        C=${CPR[c]} X=${CPR[x]} REAPER=${CPR[reaper]}
        cleanup_pids "$X"
        [ "$REAPER" = 1 ] || [ -d "$P/$REAPER" ] || make_fake_proc "$P" "$REAPER" 1 S reaper "$(start_ticks "$REAPER")" '\t1'
}
birth_parent_recorded() {
        [ "$(q "SELECT birth_parent_pid FROM instances WHERE pid = $X ORDER BY id DESC LIMIT 1")" = "$REAPER" ]
}
# clone_parent_caba CASE: X's GetCaba (left in r) names the reaper in userspace, the creator in the kernel,
# and calls that the documented clone-parent difference, not counted as a disagreement.
clone_parent_caba() {
        r=$(vl GetCaba "{\"pid\": $X}")
        check "$1 userspace CABA: the reaper" "$(jget "$r" parameters.caba.pid)" "$REAPER"
        check "$1 kernel CABA: the creator" "$(jget "$r" parameters.kernelCabaPid)" "$C"
        check "$1 the documented clone-parent difference" "$(jget "$r" parameters.difference)" clone-parent
        check "$1 not counted as a disagreement" "$(jget "$(vl GetStatus)" parameters.status.cabaDisagreements)" 0
}
exit_recorded() {
        [ -n "$(q "SELECT id FROM instances WHERE pid = $1 AND exit_time IS NOT NULL ORDER BY id DESC LIMIT 1")" ]
}

echo "# (a) the creator had been reparented before clone(CLONE_PARENT): events name its current parent, the kernel the creator"
clone_parent alive
wait_for "X recorded with the creator's current parent as birth parent" birth_parent_recorded
# The creator's own kernel CABA agrees with the events (the periodic cross-check reads it too).
UC=$(jget "$(vl GetCaba "{\"pid\": $C}")" parameters.caba.pid)
make_fake_proc "$P" "$C" "$REAPER" S cp-creator 1 "\\t$UC"
make_fake_proc "$P" "$X" "$REAPER" S tg-cp-x 2 "\\t$C"
clone_parent_caba "(a)"
check "(a) agree" "$(jget "$r" parameters.agree)" true
end_coproc CP "$CP_SHELL"

echo "# (b) the creator exited and is an unreaped zombie: the kernel names the zombie"
clone_parent exit
wait_for "X recorded with the creator's current parent as birth parent" birth_parent_recorded
wait_for "the creator's exit recorded" exit_recorded "$C"
make_fake_proc "$P" "$C" "$REAPER" Z cp-creator 1 "\\t$REAPER"
make_fake_proc "$P" "$X" "$REAPER" S tg-cp-x 2 "\\t$C"
clone_parent_caba "(b) (the creator a zombie)"
echo "# (c) a process whose parent merely is the reaper too is not taken for a creator"
make_fake_proc "$P" "$C" "$REAPER" S cp-creator 999999999999 "\\t$REAPER"   # born after X: cannot have created it
r=$(vl GetCaba "{\"pid\": $X}")
check "born after X: unexplained" "$(jget "$r" parameters.difference)" unexplained
check "counted once" "$(jget "$(vl GetStatus)" parameters.status.cabaDisagreements)" 1
end_coproc CP "$CP_SHELL"

stop_daemon
echo "caba-clone: all checks passed"
