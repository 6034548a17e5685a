#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The /proc exec source: never a wrong image (unknown is allowed and counted), a child forked right after
# its parent's exec inherits the new image, and GetStatus names the source and counts execs by it.
. "$(dirname "$0")/lib.sh"

start_daemon --exec-source=procfs
DASH=$(readlink -f /bin/sh)
N=300

# The runner's children exec dash from bash; their subshells must have dash, never bash.
run_execfork "$N"
R=$EXECFORK

known=$(q "SELECT count(*) FROM instances WHERE birth_parent = $R AND exe IS NOT NULL")
wrong=$(q "SELECT count(*) FROM instances WHERE birth_parent = $R AND exe IS NOT NULL AND exe != '$DASH'")
[ "$wrong" = 0 ] || q "SELECT * FROM instances WHERE birth_parent = $R AND exe IS NOT NULL AND exe != '$DASH' LIMIT 3"
check "children of the runner with an image other than dash" "$wrong" 0
gknown=$(q "SELECT count(*) FROM instances c JOIN instances g ON g.birth_parent = c.id WHERE c.birth_parent = $R
        AND g.exe IS NOT NULL")
gwrong=$(q "SELECT count(*) FROM instances c JOIN instances g ON g.birth_parent = c.id WHERE c.birth_parent = $R
        AND g.exe IS NOT NULL AND g.exe != '$DASH'")
check "subshells forked right after their parent's exec with an image other than dash" "$gwrong" 0
# The parent's image read before its fork was handled: a subshell has it whenever its parent has.
check "subshells without the image their parent was recorded with" "$(q "SELECT count(*) FROM instances c
        JOIN instances g ON g.birth_parent = c.id WHERE c.birth_parent = $R AND g.exe IS NOT c.exe")" 0
echo "images: $known of $N execs known, $((N - known)) unknown; $gknown of $N subshells known"
# A known image has its own argv, never another exec's.
check "execs with another exec's argv" "$(q "SELECT count(*) FROM instances WHERE birth_parent = $R AND argv IS NOT NULL
        AND argv NOT LIKE '[\"sh\",\"-c\",\"(exit 0); exit 0\",\"execfork-%\"]'")" 0
check "execs with an argv recorded twice" "$(q "SELECT count(*) - count(DISTINCT argv) FROM instances WHERE birth_parent = $R
        AND argv IS NOT NULL")" 0

# Short-lived execs with a unique argv each while two fork+exec loops churn: some images are unknown
# (the process was gone before /proc was read), none is another's.
N2=${EXEC_PROCFS_N:-2000}
start_churn
mark
# (No leak check for the helper: LeakSanitizer's exit check clones a process of its own.)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 "$BUILD_DIR/tests/helpers/lineage-execgen" spawn "$N2" "unique$$" /bin/true &
gen=$!
wait "$gen"
stop_churn
G=$(instance_of "$gen")
wait_sql "execs of the generator recorded" "SELECT count(*) FROM instances WHERE birth_parent = $G AND exit_time IS NOT NULL" "$N2"
TRUE=$(readlink -f /bin/true)
check "execs with another image" "$(q "SELECT count(*) FROM instances WHERE birth_parent = $G AND exe IS NOT NULL AND exe != '$TRUE'")" 0
check "execs with another argv" "$(q "SELECT count(*) FROM instances WHERE birth_parent = $G AND argv IS NOT NULL
        AND argv NOT LIKE '[\"/bin/true\",\"unique$$-%\"]'")" 0
check "argv recorded twice" "$(q "SELECT count(*) - count(DISTINCT argv) FROM instances WHERE birth_parent = $G AND argv IS NOT NULL")" 0
right=$(q "SELECT count(*) FROM instances WHERE birth_parent = $G AND exe IS NOT NULL")
echo "images under churn (procfs): $right right, $((N2 - right)) unknown, 0 wrong of $N2"

status=$(vl GetStatus)
check "GetStatus names the source" "$(jget "$status" parameters.status.execSource)" procfs
with=$(jget "$status" parameters.status.execsWithImage.procfs)
without=$(jget "$status" parameters.status.execsWithoutImage.procfs)
[ "$((with + without))" -ge "$N" ] || fail "execs counted: $with with and $without without an image, expected at least $N"
check "no exec counted for bpf" "$(jget "$status" parameters.status.execsWithImage.bpf)" 0
[ "$with" -ge "$known" ] || fail "execs counted with an image ($with) fewer than recorded ($known)"
text=$("$LINEAGECTL" --varlink="$SOCK" status)
grep -q "^ *Exec source: procfs" <<< "$text" || { echo "$text"; fail "lineagectl status does not name the source"; }
grep -qE "^ *Execs: procfs [0-9]+ with image, [0-9]+ without" <<< "$text" || { echo "$text"; fail "lineagectl status does not count execs"; }
echo "ok: lineagectl status: $(grep -E 'Exec' <<< "$text" | tr -s ' ' | paste -sd';')"
stop_daemon
