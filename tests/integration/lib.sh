# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the integration tests: a live lineaged on a temporary database, and assertions.
set -euo pipefail

: "${BUILD_DIR:?BUILD_DIR must point at the meson build directory}"
: "${SOURCE_DIR:?SOURCE_DIR must point at the source tree}"
LINEAGED="$BUILD_DIR/daemon/lineaged"
LINEAGECTL="$BUILD_DIR/client/lineagectl"
TREEGEN="$BUILD_DIR/tests/helpers/lineage-treegen"

if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: the proc connector needs root"
        exit 77
fi

T=$(mktemp -d /tmp/lineage-test.XXXXXX)
DB="$T/lineage.db"
SOCK="$T/varlink.sock"
DAEMON_PID=
FAILED=0
CLEANUP_PIDS=()   # PID:START_TICKS, added with cleanup_pids

# start_ticks PID: the process's start time (field 22 of /proc/PID/stat), or nothing when it is gone.
start_ticks() {
        local stat
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
        stat=${stat##*) }
        set -- $stat
        echo "${20}"
}

# cleanup_pids PID...: kill these processes when the test ends. Each is remembered with its start time and
# killed only if the pid still names that process: pid_max is 32768 here, pids wrap within seconds under
# churn, and a stale kill would hit another test's process (or anyone's).
cleanup_pids() {
        local p
        for p in "$@"; do
                CLEANUP_PIDS+=("$p:$(start_ticks "$p")")
        done
}

cleanup() {
        local e p
        for e in "${CLEANUP_PIDS[@]}"; do
                p=${e%%:*}
                [ -n "${e#*:}" ] && [ "$(start_ticks "$p")" = "${e#*:}" ] && kill "$p" 2>/dev/null || true
        done
        if [ -n "$DAEMON_PID" ]; then
                kill "$DAEMON_PID" 2>/dev/null || true
                wait "$DAEMON_PID" 2>/dev/null || true
        fi
        if [ "$FAILED" -ne 0 ] && [ -f "$T/daemon.log" ]; then
                echo "--- daemon log (last 40 lines)"
                tail -n 40 "$T/daemon.log"
        fi
        rm -rf "$T"
}
trap cleanup EXIT

fail() {
        echo "FAIL: $*" >&2
        FAILED=1
        exit 1
}

# check DESCRIPTION ACTUAL EXPECTED
check() {
        if [ "$2" != "$3" ]; then
                fail "$1: got '$2', expected '$3'"
        fi
        echo "ok: $1 = $3"
}

# q SQL: a query on the test database; waits out a commit or checkpoint in progress instead of failing.
q() {
        sqlite3 -batch -noheader -cmd ".timeout 10000" "$DB" "$@"
}

# How long the tests wait for something that should take a moment: a deadline, never a fixed sleep,
# and generous, since a sanitizer build on a loaded machine is many times slower.
WAIT_TIMEOUT=${WAIT_TIMEOUT:-60}

# wait_for DESCRIPTION COMMAND...: runs COMMAND until it succeeds; fails the test once WAIT_TIMEOUT
# seconds have passed.
wait_for() {
        local what=$1 deadline=$((SECONDS + WAIT_TIMEOUT))

        shift
        until "$@"; do
                [ "$SECONDS" -lt "$deadline" ] || fail "timed out after $WAIT_TIMEOUT s waiting for: $what"
                sleep 0.05
        done
}

# expect_text FILE: stdin holds the expected text, FILE what a command printed; shows both on a difference.
expect_text() {
        local want
        want=$(cat)
        if [ "$(cat "$1")" != "$want" ]; then
                echo "--- expected"; echo "$want"; echo "--- got"; cat "$1"
                fail "$1: output differs"
        fi
        echo "ok: $(basename "$1") as expected"
}

# start_sshd USER: a real sshd on a free port of 127.0.0.1 with the system's PAM stack (UsePAM, so
# /etc/pam.d/sshd with pam_loginuid and pam_motd), and USER (made if missing) allowed in by a key of its
# own. Sets USER_UID, PORT, SSHD and SSH (the client command: "${SSH[@]}" "$USER_NAME@127.0.0.1" CMD).
start_sshd() {
        USER_NAME=$1
        if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then
                fail "sshd is not installed (./dev test installs openssh-server)"
        fi
        id "$USER_NAME" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$USER_NAME"
        USER_UID=$(id -u "$USER_NAME")
        local home
        home=$(getent passwd "$USER_NAME" | cut -d: -f6)
        mkdir -p "$T/ssh" /run/sshd
        ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host_key"
        ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/user_key"
        install -d -m 700 -o "$USER_NAME" "$home/.ssh"
        install -m 600 -o "$USER_NAME" "$T/ssh/user_key.pub" "$home/.ssh/authorized_keys"
        PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        cat > "$T/ssh/sshd_config" <<CFG
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/ssh/host_key
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PidFile $T/ssh/sshd.pid
StrictModes no
CFG
        /usr/sbin/sshd -f "$T/ssh/sshd_config" -D -e 2>"$T/ssh/sshd.log" &
        SSHD=$!
        cleanup_pids "$SSHD"
        wait_for "sshd to listen on 127.0.0.1:$PORT" sshd_listens
        SSH=(ssh -i "$T/ssh/user_key" -p "$PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
             -o BatchMode=yes)
}
sshd_listens() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

# wait_sql DESCRIPTION SQL EXPECTED: polls the database until SQL prints EXPECTED, for WAIT_TIMEOUT s.
wait_sql() {
        local got deadline=$((SECONDS + WAIT_TIMEOUT))

        until got=$(q "$2" 2>/dev/null || true); [ "$got" = "$3" ]; do
                [ "$SECONDS" -lt "$deadline" ] || fail "$1: got '$got', expected '$3' within $WAIT_TIMEOUT s"
                sleep 0.1
        done
        echo "ok: $1 = $3"
}

# mark, then instance_of PID: the first instance of PID born since the mark (pids are reused fast on a
# busy machine, so the newest instance of a pid may be another process's).
mark() {
        SINCE=$(($(date +%s%N) / 1000 - 1000))
}
instance_of() {
        wait_sql "pid $1 recorded" "SELECT count(*) > 0 FROM instances WHERE pid = $1 AND start_time >= $SINCE" 1 >&2
        q "SELECT id FROM instances WHERE pid = $1 AND start_time >= $SINCE ORDER BY start_time LIMIT 1"
}

# run_execfork N: N children of a runner each exec dash, which at once forks a subshell that never execs
# (the "(exit 0)"), so a subshell's image is dash whatever its parent ran before the exec. Waits until
# every subshell's exit is recorded; sets EXECFORK to the runner's instance id (its children's
# birth_parent).
run_execfork() {
        local n=$1 runner

        mark
        (for ((i = 1; i <= n; i++)); do sh -c '(exit 0); exit 0' "execfork-$i"; done) &
        runner=$!
        wait "$runner"
        EXECFORK=$(instance_of "$runner")
        wait_sql "subshells of the runner's children recorded" "SELECT count(*) FROM instances c
                JOIN instances g ON g.birth_parent = c.id WHERE c.birth_parent = $EXECFORK AND g.exit_time IS NOT NULL" "$n"
}

# start_churn, stop_churn: two fork+exec loops in the background, the load the exec sources are tested
# under.
start_churn() {
        churn_loop >/dev/null 2>&1 &
        CHURN_PIDS=("$!")
        churn_loop >/dev/null 2>&1 &
        CHURN_PIDS+=("$!")
        cleanup_pids "${CHURN_PIDS[@]}"
}
stop_churn() {
        kill "${CHURN_PIDS[@]}"
        wait "${CHURN_PIDS[@]}" 2>/dev/null || true
}
churn_loop() {
        while :; do /bin/true; done
}

# make_fake_proc ROOT PID PPID STATE COMM START_TICKS NSCABA-VALUE: one process in a synthetic procfs (a
# patched kernel's, with NScaba:), its stat and status replaced whole, so a reader never sees half of them.
make_fake_proc() {
        local root=$1 pid=$2 ppid=$3 state=$4 comm=$5 start=$6 nscaba=$7
        mkdir -p "$root/$pid/task/$pid"
        printf '%s (%s) %s %s %s %s 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %s 1000000 100 18446744073709551615\n' \
                "$pid" "$comm" "$state" "$ppid" "$pid" "$pid" "$start" > "$root/$pid/stat.new"
        {
                printf 'Name:\t%s\nState:\t%s\nTgid:\t%s\nNgid:\t0\nPid:\t%s\nPPid:\t%s\n' "$comm" "$state" "$pid" "$pid" "$ppid"
                printf 'TracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nNSpid:\t%s\nNSsid:\t%s\n' "$pid" "$pid"
                printf 'NScaba:%b\nThreads:\t1\n' "$nscaba"
        } > "$root/$pid/status.new"
        mv "$root/$pid/stat.new" "$root/$pid/stat"
        mv "$root/$pid/status.new" "$root/$pid/status"
        [ "$state" = Z ] || printf '%s\0' "$comm" > "$root/$pid/cmdline"   # a zombie's is empty
}

# wait_exec PID EXE: waits until PID runs EXE, i.e. has exec'd, so that a settle afterwards covers its
# exec too and not only its fork ($! is known as soon as the fork returns).
wait_exec() {
        local exe
        exe=$(readlink -f "$2")
        wait_for "process $1 to run $exe" exec_done "$1" "$exe"
}
exec_done() {
        [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ]
}

# Starts lineaged with extra options; returns once it is recording.
start_daemon() {
        # Emptied first: the new daemon truncates it only once it runs, and until then the previous
        # daemon's "Recording" line would pass for this one's.
        : >"$T/daemon.log"
        "$LINEAGED" --database="$DB" --varlink="$SOCK" --dbus=none --commit-interval=50 "$@" \
                >"$T/daemon.log" 2>&1 &
        DAEMON_PID=$!
        wait_for "lineaged to start recording" daemon_ready
}
daemon_ready() {
        grep -q "Recording process lineage" "$T/daemon.log" && return 0
        kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$T/daemon.log"; fail "lineaged died at start"; }
        return 1
}

stop_daemon() {
        kill -TERM "$DAEMON_PID"
        wait "$DAEMON_PID" || fail "lineaged exited with $? on SIGTERM"
        DAEMON_PID=
}

# Waits until the daemon has recorded and committed everything that happened before the call. A marker
# process exits; the kernel queues that exit on the daemon's proc connector socket behind every earlier
# event, so once the marker's exit is in the database, so is everything before it. The marker is found
# by its pid among the instances recorded after it was started (a pid can come back). If the daemon
# records lost events meanwhile (a new gap), the marker may be among them: a new one is started, which
# still comes after everything the call waits for. Works with --proc=DIR too: the marker's fork and
# exit come from the kernel, not from DIR.
settle() {
        local deadline=$((SECONDS + WAIT_TIMEOUT))

        [ -n "$DAEMON_PID" ] || fail "settle: no daemon is running"
        settle_mark
        until marker_committed; do
                kill -0 "$DAEMON_PID" 2>/dev/null || fail "settle: lineaged is gone"
                [ "$SECONDS" -lt "$deadline" ] ||
                        fail "timed out after $WAIT_TIMEOUT s waiting for lineaged to commit the exit of settle's marker, process $SETTLE_MARKER"
                [ "$(q "SELECT count(*) FROM gaps")" = "$SETTLE_GAPS" ] || settle_mark
                sleep 0.02
        done
}
settle_mark() {
        SETTLE_GAPS=$(q "SELECT count(*) FROM gaps") || fail "settle: cannot read $DB"
        SETTLE_SINCE=$(q "SELECT coalesce(max(id), 0) FROM instances") || fail "settle: cannot read $DB"
        ( : ) &
        SETTLE_MARKER=$!
        wait "$SETTLE_MARKER"
}
marker_committed() {
        [ "$(q "SELECT count(*) FROM instances WHERE pid = $SETTLE_MARKER AND id > $SETTLE_SINCE AND exit_time IS NOT NULL")" = 1 ]
}

# read_ready FD MAP: fills the associative array named MAP from the "KEY VALUE" lines a helper process
# writes to FD, up to its READY line; returns 1 if the helper ends, or is silent for 60 s, before that.
read_ready() {
        local -n into=$2
        local k v
        while read -r -t 60 k v <&"$1"; do
                [ "$k" = READY ] && return 0
                into[$k]=$v
        done
        return 1
}

# Runs a treegen scenario in the background; fills the associative array PIDS from its "NAME PID" lines
# up to READY. The scenario holds its processes until release_tree.
declare -A PIDS
tree() {
        PIDS=()
        # treegen's complex-sessions cannot fork after unshare(CLONE_NEWPID), which LeakSanitizer's exit
        # check needs: no leak checking for the helper (the daemon keeps it).
        coproc TREEGEN_CO { ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 "$TREEGEN" "$@" 2>"$T/treegen.err"; }
        TREEGEN_SHELL=$TREEGEN_CO_PID
        cleanup_pids "$TREEGEN_SHELL"
        read_ready "${TREEGEN_CO[0]}" PIDS && return 0
        cat "$T/treegen.err" >&2
        fail "treegen $* did not get ready"
}

release_tree() {
        end_coproc TREEGEN_CO "$TREEGEN_SHELL"
}

# end_coproc NAME PID: closes the stdin of the coproc NAME (its cue to end) and waits for PID, its shell.
# The caller keeps PID from NAME_PID at the start: bash unsets NAME_PID (and NAME) as soon as it has
# reaped the coproc, which can come before the wait.
end_coproc() {
        local -n co=$1
        local fd=${co[1]:-}
        [ -n "$fd" ] && eval "exec $fd>&-"
        wait "$2" 2>/dev/null || true
}

# The live instance id of a pid.
inst() {
        q "SELECT id FROM instances WHERE pid = $1 ORDER BY start_time DESC LIMIT 1"
}

# vl METHOD [JSON]: calls org.lineaged.Lineage.METHOD on the test daemon, prints the reply's JSON.
vl() {
        python3 "$SOURCE_DIR/tests/integration/vlcall.py" "$SOCK" "org.lineaged.Lineage.$1" "${2:-{\}}"
}

# jget JSON PATH: a field of a JSON document, e.g. jget "$reply" parameters.process.pid
jget() {
        python3 -c 'import json,sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    if isinstance(v, list):
        v = v[int(k)] if int(k) < len(v) else None
    else:
        v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else json.dumps(v) if isinstance(v, (dict, list, bool)) else v)' "$1" "$2"
}

# lists_descendant REPLY PID: a GetDescendants reply lists PID among the descendants.
lists_descendant() {
        python3 -c 'import json, sys
d = json.loads(sys.argv[1])["parameters"]["descendants"]
sys.exit(0 if any(p["pid"] == int(sys.argv[2]) for p in d) else 1)' "$1" "$2"
}

# start_bus: a private dbus-daemon at $BUS with the system bus's default policy (owning names and
# calling methods denied) plus the shipped policy of lineaged; sets BUS and BUS_PID.
start_bus() {
        local policy=${POLICY:-$SOURCE_DIR/units/org.lineaged.Lineage1.conf}
        BUS="unix:path=$T/bus"
        cat >"$T/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>$BUS</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>$policy</include>
</busconfig>
EOF
        rm -f "$T/bus"   # a killed bus's socket file would look ready
        dbus-daemon --config-file="$T/bus.conf" --nofork --nopidfile >"$T/bus.log" 2>&1 &
        BUS_PID=$!
        cleanup_pids "$BUS_PID"
        wait_for "dbus-daemon to listen" bus_ready
}
bus_ready() {
        [ -S "$T/bus" ] && return 0
        kill -0 "$BUS_PID" 2>/dev/null || { cat "$T/bus.log"; fail "dbus-daemon died at start"; }
        return 1
}

# fake_login UID: a pam_loginuid-style login by fake-login.py, run as the coproc FAKE. Fills the global
# map L with what it reports (L[login]: the process that began the session, L[sleeper]: a process in
# it, …). fake_logout ends it.
fake_login() {
        coproc FAKE { python3 "$SOURCE_DIR/tests/integration/fake-login.py" "$1"; }
        FAKE_SHELL=$FAKE_PID
        cleanup_pids "$FAKE_SHELL"
        declare -gA L=()
        read_ready "${FAKE[0]}" L || true
        [ -n "${L[sleeper]:-}" ] || fail "fake-login.py did not start"
        cleanup_pids "${L[sleeper]}"
}
fake_logout() {
        end_coproc FAKE "$FAKE_SHELL"
}
