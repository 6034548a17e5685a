#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Root is served with every unprivileged connection slot taken, and clients that never read (stalled
# Watch streams under a churn of fat argv, pipelined GetDescendants) stay within the output budgets.
. "$(dirname "$0")/lib.sh"

for tool in useradd userdel setpriv; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool is missing"; exit 77; }
done
# The clients run as other users: a python3 they can run (not one under root's home).
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || { echo "SKIP: no $PYTHON"; exit 77; }

BUD=lineage-bud
if ! id "$BUD" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$BUD" || fail "useradd $BUD"
        trap 'userdel "$BUD" 2>/dev/null || true; cleanup' EXIT
fi
BUD_UID=$(id -u "$BUD")
BUD_GID=$(id -g "$BUD")
# Seven more uids with no account, as one person's sub-uids in user namespaces look to the daemon.
OTHER_UIDS=(3950001 3950002 3950003 3950004 3950005 3950006 3950007)

MIB=$((1024 * 1024))
BUDGET_PER_UID=$((64 * MIB))    # VARLINK_OUTPUT_PER_UID
MARGIN=$((48 * MIB))            # json-c and query work in flight, allocator slack

chmod 755 "$T"
install -m 644 "$SOURCE_DIR/tests/integration/budget-client.py" "$T/client.py"
start_daemon

# as UID CMD…: runs CMD with that uid and gid, no supplementary groups.
as() {
        local uid=$1
        shift
        setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"
}

# spawn NAME UID ARGS…: runs client.py ARGS as UID in the background, its stdin a fifo we hold open
# (tell NAME WORD writes to it, release NAME closes it), its output in $T/NAME.out.
declare -A FD PID
spawn() {
        local name=$1 uid=$2 fd
        shift 2
        mkfifo "$T/$name.in"
        exec {fd}<>"$T/$name.in"
        FD[$name]=$fd
        # Without the fifos' write ends, which we hold: a client sees its stdin end when we close ours.
        (
                for fd in "${FD[@]}"; do
                        eval "exec $fd>&-"
                done
                exec setpriv --reuid="$uid" --regid="$uid" --clear-groups "$PYTHON" "$T/client.py" "$@" \
                        <"$T/$name.in" >"$T/$name.out" 2>"$T/$name.err"
        ) &
        PID[$name]=$!
        cleanup_pids "$!"
}
tell() {
        echo "$2" >&"${FD[$1]}"
}
release() {
        eval "exec ${FD[$1]}>&-"
        wait "${PID[$1]}" 2>/dev/null || true
}

# Generous: the machine may be loaded, and 128 streams of fat events are work.
DEADLINE=180

# await NAME REGEX: the first line of NAME's output that matches, waiting up to DEADLINE.
await() {
        local end=$((SECONDS + DEADLINE)) line
        while [ $SECONDS -lt $end ]; do
                line=$(grep -m1 -E "$2" "$T/$1.out" 2>/dev/null || true)
                if [ -n "$line" ]; then
                        echo "$line"
                        return 0
                fi
                kill -0 "${PID[$1]}" 2>/dev/null || break
                sleep 0.05
        done
        cat "$T/$1.err" >&2
        fail "$1 did not print /$2/"
}

status_field() {
        "$PYTHON" "$T/client.py" status "$SOCK" "$1"
}

# await_status FIELD OP VALUE: until GetStatus (asked by root) says FIELD OP VALUE (-ge, -eq).
await_status() {
        local end=$((SECONDS + DEADLINE)) v
        while [ $SECONDS -lt $end ]; do
                v=$(status_field "$1")
                [ "${v:-0}" "$2" "$3" ] && return 0
                sleep 0.05
        done
        fail "GetStatus $1 stayed at $v, expected $2 $3"
}

# await_fat_argv N: until the database holds N command lines of the test user's over 100 000 bytes.
await_fat_argv() {
        local end=$((SECONDS + DEADLINE))
        until [ "$(q "SELECT count(*) FROM instances WHERE uid = $BUD_UID AND length(argv) > 100000")" -ge "$1" ]; do
                [ $SECONDS -lt $end ] || fail "the daemon did not read the command lines of $1 processes"
                sleep 0.1
        done
}

kib() {
        awk -v k="$1:" '$1 == k { print $2 }' "/proc/$DAEMON_PID/status"
}

# rss_within_budget PEAK BASE: the daemon's peak RSS stayed within the output budget of one uid (and a
# margin) over what it had before. Not under AddressSanitizer: its quarantine keeps freed memory
# resident (up to 256 MiB) and its allocator does not give memory back, so RSS says nothing about what
# lineaged holds; there the daemon's own count of queued output (GetStatus) is checked instead.
rss_within_budget() {
        if ldd "$LINEAGED" | grep libasan >/dev/null; then
                echo "skip: the peak RSS bound under AddressSanitizer (its quarantine holds freed memory)"
                return 0
        fi
        [ "$1" -lt $(($2 + BUDGET_PER_UID + MARGIN)) ] ||
                fail "peak RSS $(($1 / MIB)) MiB is over the budget: $(($2 / MIB)) + 64 + $((MARGIN / MIB)) MiB"
}

# Resets the daemon's peak RSS (VmHWM) to its RSS now and prints that, bytes.
reset_peak() {
        echo 5 >"/proc/$DAEMON_PID/clear_refs"
        echo $(($(kib VmRSS) * 1024))
}

echo "# (a) root is served with every unprivileged connection slot taken"
k=0
held_total=0
for uid in "$BUD_UID" "${OTHER_UIDS[@]}"; do
        spawn "hold$k" "$uid" hold "$SOCK" 1000
        n=$(await "hold$k" '^held ' | cut -d' ' -f2)
        echo "uid $uid holds $n connections"
        [ "$n" -le 128 ] || fail "uid $uid holds $n connections, more than 128"
        held_total=$((held_total + n))
        k=$((k + 1))
done
check "connections all unprivileged uids hold together" "$held_total" 960
spawn holdmore 3950008 hold "$SOCK" 1000
check "a ninth uid's connection" "$(await holdmore '^held ' | cut -d' ' -f2)" 0
release holdmore
spawn holdroot 0 hold "$SOCK" 1000
check "connections root gets on top (its reserve)" "$(await holdroot '^held ' | cut -d' ' -f2)" 64
release holdroot
"$LINEAGECTL" --varlink="$SOCK" status >"$T/status.out" 2>&1 || { cat "$T/status.out"; fail "root's lineagectl status failed"; }
grep -q "Live instances" "$T/status.out" || fail "lineagectl status printed no status"
echo "ok: root's lineagectl status is answered"
# Root's varlink call, answered while the 960 are held (and counted: they and this one).
await_status varlinkConnections -eq 961
echo "ok: root's varlink GetStatus is answered with 960 unprivileged connections open"
for ((k = 0; k < 8; k++)); do
        release "hold$k"
done
await_status varlinkConnections -eq 1

echo "# (b) 128 stalled Watch streams (4 KiB receive buffer, never read) under a churn of fat argv (at ${SECONDS}s)"
base=$(reset_peak)
spawn watch "$BUD_UID" watch "$SOCK" 128
await watch '^sent' >/dev/null
# Events of the user's own until every stream has one waiting: then all 128 are subscribed.
end=$((SECONDS + DEADLINE))
until grep -q '^ready' "$T/watch.out"; do
        [ $SECONDS -lt $end ] || fail "the Watch streams did not all get an event"
        kill -0 "${PID[watch]}" 2>/dev/null || { cat "$T/watch.err"; fail "the watch client died"; }
        as "$BUD_UID" /bin/true
done
echo "ok: 128 Watch streams subscribed"
# Processes of the user's with 30 000 control characters of argv, 16 at a time: each exec event is over
# 290 KiB of JSON for each of the 128 streams. Until every stream is dropped (at 16 MiB unread, sooner
# for the budget); the rounds are paced by the daemon, and events it loses (a loaded machine overflows
# the proc connector) only take more of them.
spawn churn "$BUD_UID" churn 30000
CHURN_PID=$(await churn '^[0-9]+$')
spawned=0
while [ "$(status_field varlinkStreamsDropped)" -lt 128 ]; do
        [ $spawned -lt 400 ] || fail "128 stalled streams were not all dropped after $spawned fat execs"
        tell churn "spawn 16"
        spawned=$((spawned + 16))
        await churn "^spawned $spawned\$" >/dev/null
        # Their argv in the database: the daemon has sent their exec events to the streams.
        await_fat_argv $spawned
done
echo "ok: all 128 streams dropped after $spawned execs with fat argv"
peak=$(($(kib VmHWM) * 1024))
queued=$(status_field varlinkOutputQueued)
echo "peak RSS with 128 stalled watchers: $((peak / MIB)) MiB (VmHWM), from $((base / MIB)) MiB before they started;" \
        "queued now: $((queued / MIB)) MiB"
[ "$queued" -le "$BUDGET_PER_UID" ] || fail "$queued bytes queued for one uid, over its budget"
rss_within_budget "$peak" "$base"
tell watch check
read -r _ slow other < <(await watch '^ended ')
check "streams ended with TooSlow" "$slow" 128
check "streams ended otherwise" "$other" 0
release watch

echo "# (c) pipelined GetDescendants on 64 connections, never read (at ${SECONDS}s)"
# 80 processes with fat argv under the churn client make each answer over 11 MiB.
if [ $spawned -lt 80 ]; then
        tell churn "spawn $((80 - spawned))"
        spawned=80
        await churn "^spawned $spawned\$" >/dev/null
fi
await_fat_argv $spawned
tell churn release
await churn '^done' >/dev/null
base=$(reset_peak)
refused_before=$(status_field varlinkRepliesRefused)
spawn desc "$BUD_UID" descendants "$SOCK" 64 "$CHURN_PID"
await desc '^answered' >/dev/null
peak=$(($(kib VmHWM) * 1024))
tell desc check
read -r _ ok limits other biggest < <(await desc '^replies ')
echo "replies: $ok answered (the largest $((biggest / MIB)) MiB), $limits refused with LimitsExceeded, $other other"
echo "peak RSS with 64 connections of unread answers: $((peak / MIB)) MiB (VmHWM), from $((base / MIB)) MiB"
[ "$biggest" -gt $((4 * MIB)) ] || fail "the answers are too small ($biggest bytes) to fill the budget"
[ "$ok" -ge 1 ] || fail "no GetDescendants was answered"
[ "$limits" -ge 1 ] || fail "no GetDescendants was refused with LimitsExceeded"
check "other replies" "$other" 0
[ "$(status_field varlinkRepliesRefused)" -gt "$refused_before" ] || fail "GetStatus counted no refused reply"
rss_within_budget "$peak" "$base"
release desc
release churn
"$LINEAGECTL" --varlink="$SOCK" status >/dev/null || fail "lineagectl status failed at the end"
echo "ok: output budgets hold (${SECONDS}s)"
