#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The eBPF exec source: every short-lived exec under churn has its own exe and argv, and the odd cases
# (exec from a thread, #!, a relative path, fexecve, a deleted binary, a new mount namespace, a fork
# right after an exec) record what the kernel ran.
. "$(dirname "$0")/lib.sh"
# The helper runs without a leak check: LeakSanitizer's exit check clones a process of its own, which
# would count as one more child of the generator. It replaces the (sub)shell it runs in, so $! is its pid.
execgen() {
        ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 exec "$BUILD_DIR/tests/helpers/lineage-execgen" "$@"
}

# The 10,000 execs take minutes on a loaded machine.
WAIT_TIMEOUT=240

start_daemon
source=$(jget "$(vl GetStatus)" parameters.status.execSource)
if [ "$source" != bpf ]; then
        echo "SKIP: the eBPF exec source is not available here: $(jget "$(vl GetStatus)" parameters.status.execSourceReason)"
        exit 77
fi
TRUE=$(readlink -f /bin/true)
DASH=$(readlink -f /bin/sh)
SLEEP=$(readlink -f /bin/sleep)

echo "# 10,000 short-lived execs, a unique argv each, while two fork+exec loops churn"
# (EXEC_BPF_N=2000 for a quicker run on a machine loaded by other work.)
N=${EXEC_BPF_N:-10000}
start_churn
SECONDS=0
mark
execgen spawn "$N" "unique$$" /bin/true &
gen=$!
wait "$gen"
secs=$SECONDS
stop_churn
G=$(instance_of "$gen")
wait_sql "execs of the generator recorded" "SELECT count(*) FROM instances WHERE birth_parent = $G AND exit_time IS NOT NULL" "$N"
check "gaps during the run" "$(q "SELECT count(*) FROM gaps WHERE start_time >= (SELECT max(started) FROM runs)")" 0
check "execs without their exe" "$(q "SELECT count(*) FROM instances WHERE birth_parent = $G AND exe IS NULL")" 0
check "execs with another image" "$(q "SELECT count(*) FROM instances WHERE birth_parent = $G AND exe != '$TRUE'")" 0
check "execs without their argv" "$(q "SELECT count(*) FROM instances WHERE birth_parent = $G AND argv IS NULL")" 0
check "execs with another argv" "$(q "SELECT count(*) FROM instances WHERE birth_parent = $G
        AND argv NOT LIKE '[\"/bin/true\",\"unique$$-%\"]'")" 0
check "distinct argv" "$(q "SELECT count(DISTINCT argv) FROM instances WHERE birth_parent = $G")" "$N"
echo "ok: $N execs in $secs s, every one with its exe and argv"

echo "# exec from a thread that is not the leader"
mark
execgen thread-exec /bin/sleep 3000 > "$T/thread.out" &
texec=$!
cleanup_pids "$texec"
for _ in $(seq 1 600); do [ -s "$T/thread.out" ] && [ "$(readlink /proc/$texec/exe)" = "$SLEEP" ] && break; sleep 0.1; done
I=$(instance_of "$texec")
wait_sql "the thread's exec recorded on its thread group" "SELECT exe || ' ' || argv FROM instances WHERE id = $I" \
        "$SLEEP [\"/bin/sleep\",\"3000\"]"
kill "$texec"

echo "# a #! script"
printf '#!/bin/sh\nexit 0\n' > "$T/script.sh"
chmod +x "$T/script.sh"
mark
"$T/script.sh" "script$$" &
p=$!
wait "$p"
I=$(instance_of "$p")
wait_sql "the script: its interpreter, argv as the kernel ran it" "SELECT exe || ' ' || argv FROM instances WHERE id = $I" \
        "$DASH [\"/bin/sh\",\"$T/script.sh\",\"script$$\"]"

echo "# a relative path"
cp /bin/true "$T/reltrue"
mark
(cd "$T" && exec ./reltrue "relative$$") &
p=$!
wait "$p"
I=$(instance_of "$p")
wait_sql "a relative path made absolute" "SELECT exe || ' ' || argv FROM instances WHERE id = $I" \
        "$T/reltrue [\"./reltrue\",\"relative$$\"]"

echo "# fexecve"
mark
(execgen fexecve /bin/true "fexecve$$") > "$T/fexec.out"
p=$(cat "$T/fexec.out")
I=$(instance_of "$p")
wait_sql "fexecve: what /dev/fd/N pointed to" "SELECT exe || ' ' || argv FROM instances WHERE id = $I" \
        "$TRUE [\"/bin/true\",\"fexecve$$\"]"

echo "# a binary deleted right after its exec"
cp /bin/sleep "$T/delsleep"
mark
"$T/delsleep" 3000 &
p=$!
cleanup_pids "$p"
for _ in $(seq 1 600); do [ "$(readlink /proc/$p/exe)" = "$T/delsleep" ] && break; sleep 0.1; done
rm -f "$T/delsleep"
I=$(instance_of "$p")
wait_sql "the deleted binary's path, as it was when it ran" "SELECT exe || ' ' || argv FROM instances WHERE id = $I" \
        "$T/delsleep [\"$T/delsleep\",\"3000\"]"
kill "$p"

echo "# a process in a new mount namespace"
mkdir -p "$T/mnt"
mark
unshare -m sh -c "mount -t tmpfs none '$T/mnt' && cp /bin/true '$T/mnt/nstrue' && exec '$T/mnt/nstrue' mountns$$" &
p=$!
wait "$p" || fail "unshare -m failed"
I=$(instance_of "$p")
wait_sql "the file on a mount only that namespace has" "SELECT exe || ' ' || argv FROM instances WHERE id = $I" \
        "$T/mnt/nstrue [\"$T/mnt/nstrue\",\"mountns$$\"]"

echo "# children forked right after their parent's exec"
M=200
run_execfork "$M"
R=$EXECFORK
check "execs and subshells with an image other than dash" "$(q "SELECT count(*) FROM instances c JOIN instances g ON g.birth_parent = c.id
        WHERE c.birth_parent = $R AND (c.exe IS NOT '$DASH' OR g.exe IS NOT '$DASH')")" 0

status=$(vl GetStatus)
check "GetStatus names the source" "$(jget "$status" parameters.status.execSource)" bpf
with=$(jget "$status" parameters.status.execsWithImage.bpf)
[ "$with" -ge "$N" ] || fail "execs counted with an image from bpf: $with, expected at least $N"
echo "ok: execs with an image: bpf $with, procfs $(jget "$status" parameters.status.execsWithImage.procfs);" \
        "without: bpf $(jget "$status" parameters.status.execsWithoutImage.bpf)," \
        "procfs $(jget "$status" parameters.status.execsWithoutImage.procfs); ring-buffer losses" \
        "$(jget "$status" parameters.status.bpfLost)"
"$LINEAGECTL" --varlink="$SOCK" status | grep "^ *Exec source: bpf$" >/dev/null || fail "lineagectl status does not say bpf"
stop_daemon
