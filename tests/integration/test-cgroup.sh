#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Where it ran: a process started in a transient cgroup shows that cgroup, and a container's id when the
# cgroup's name is a container runtime's (docker-ID.scope); a child forked there without exec'ing
# shows its parent's. With each exec source.
. "$(dirname "$0")/lib.sh"

CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
[ -n "$CG2" ] || { echo "no cgroup2 hierarchy mounted: skipped"; exit 77; }
HEX=$(printf 'lineage-test-%s' $$ | sha256sum | cut -c1-64)
PLAIN=lineage-test-$$
DOCKER=docker-$HEX.scope
STARTED=()

# Kills everything in the test's cgroups (the shells' subshells and sleeps too) and waits until they
# are empty: a killed process leaves its cgroup once it is reaped.
empty_cgroups() {
        local d
        for d in "$PLAIN" "$DOCKER"; do
                [ -d "$CG2/$d" ] || continue
                echo 1 >"$CG2/$d/cgroup.kill"
                wait_for "$d to empty" cgroup_empty "$d"
        done
}
cgroup_empty() {
        [ -z "$(cat "$CG2/$1/cgroup.procs" 2>/dev/null)" ]
}
cg_cleanup() {
        local d
        # In a subshell: a cgroup that does not empty must not stop the rest of the cleanup.
        (empty_cgroups) || true
        for p in "${STARTED[@]}"; do
                wait "$p" 2>/dev/null || true
        done
        for d in "$PLAIN" "$DOCKER"; do
                [ -d "$CG2/$d" ] && { rmdir "$CG2/$d" || echo "could not remove $CG2/$d"; }
        done
        cleanup
}
trap cg_cleanup EXIT
mkdir "$CG2/$PLAIN" "$CG2/$DOCKER"

for src in bpf procfs; do
        start_daemon --exec-source=$src
        # Each shell moves itself into the cgroup, then execs: the exec is read in the cgroup.
        sh -c "echo \$\$ > $CG2/$PLAIN/cgroup.procs && exec sleep 60" &
        plain=$!
        STARTED+=("$plain")
        # bash forks a subshell that never execs (it waits for its own sleep): it has its parent's cgroup.
        sh -c "echo \$\$ > $CG2/$DOCKER/cgroup.procs && exec bash -c '(sleep 60; exit 0); exit 0'" &
        dock=$!
        STARTED+=("$dock")
        wait_for "$src: sleep running in $PLAIN" grep -qx "0::/$PLAIN" /proc/$plain/cgroup
        wait_sql "$src: the sleep exec'd" "SELECT count(*) FROM instances WHERE pid = $plain AND exe LIKE '%/sleep'" 1
        wait_sql "$src: the subshell's sleep exec'd" "SELECT count(*) FROM instances s JOIN instances sub ON s.birth_parent = sub.id
                WHERE sub.birth_parent = (SELECT id FROM instances WHERE pid = $dock ORDER BY start_time DESC LIMIT 1)
                AND s.exe LIKE '%/sleep' AND s.exit_time IS NULL" 1
        settle

        r=$(vl GetOrigin "{\"pid\": $plain}")
        check "$src: cgroup of a process in $PLAIN" "$(jget "$r" parameters.process.cgroup)" "/$PLAIN"
        check "$src: container id of a process in $PLAIN" "$(jget "$r" parameters.process.containerId)" ""
        r=$(vl GetOrigin "{\"pid\": $dock}")
        check "$src: cgroup of a process in $DOCKER" "$(jget "$r" parameters.process.cgroup)" "/$DOCKER"
        check "$src: container id of a process in $DOCKER" "$(jget "$r" parameters.process.containerId)" "$HEX"
        sub=$(q "SELECT id FROM instances WHERE birth_parent = (SELECT id FROM instances WHERE pid = $dock
                ORDER BY start_time DESC LIMIT 1) AND exe LIKE '%bash' ORDER BY start_time LIMIT 1")
        [ -n "$sub" ] || fail "$src: the subshell was not recorded"
        check "$src: cgroup of the subshell forked without exec" "$(q "SELECT cgroup FROM instances WHERE id = $sub")" "/$DOCKER"
        check "$src: container of the subshell forked without exec" "$(q "SELECT container_id FROM instances WHERE id = $sub")" "$HEX"
        # The daemon itself was found by the scan where it runs (not in the test's cgroups).
        check "$src: cgroup of the daemon, from the scan" "$(q "SELECT cgroup FROM instances WHERE pid = $DAEMON_PID
                ORDER BY start_time DESC LIMIT 1")" "$(sed -n 's/^0:://p' /proc/$DAEMON_PID/cgroup)"
        # lineagectl shows both, in text and JSON.
        out=$("$LINEAGECTL" --varlink="$SOCK" resolve "$dock" now)
        grep -qE "^ *Cgroup: +/$DOCKER\$" <<<"$out" || fail "$src: lineagectl resolve does not show the cgroup: $out"
        grep -qE "^ *Container: +$HEX\$" <<<"$out" || fail "$src: lineagectl resolve does not show the container: $out"
        out=$("$LINEAGECTL" --varlink="$SOCK" origin "$dock")
        grep -qF "[container: ${HEX:0:12}]" <<<"$out" || fail "$src: lineagectl origin does not show the container: $out"
        out=$("$LINEAGECTL" --varlink="$SOCK" --json origin "$dock")
        grep -q "\"containerId\": *\"$HEX\"" <<<"$out" || fail "$src: lineagectl --json origin has no containerId: $out"

        empty_cgroups
        wait "$plain" "$dock" 2>/dev/null || true
        STARTED=()
        stop_daemon
done
