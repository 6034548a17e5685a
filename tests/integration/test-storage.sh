#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Storage faults: a full disk, a read-only database, a corrupt file. The daemon survives, reports, keeps
# tracking in memory, and catches up when the fault clears; a corrupt file is moved aside, not overwritten.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/small"
mount -t tmpfs -o size=1m tmpfs "$T/small" || { echo "SKIP: cannot mount a tmpfs here"; exit 77; }
trap 'umount -l "$T/small" 2>/dev/null || true; cleanup' EXIT
DB="$T/small/lineage.db"

db_error() { jget "$(vl GetStatus)" parameters.status.databaseError; }
wait_for() { # wait_for DESCRIPTION COMMAND...: up to 20 s
        local what=$1; shift
        for _ in $(seq 200); do "$@" && return 0; sleep 0.1; done
        fail "timed out waiting for: $what"
}
has_error() { [ -n "$(db_error)" ]; }
no_error() { [ -z "$(db_error)" ]; }

start_daemon
echo "# disk full"
for _ in $(seq 40); do
        "$TREEGEN" churn 500 >/dev/null
        has_error && break
done
has_error || fail "the database never filled up"
echo "ok: reported: $(db_error)"
grep -q "Failed to write to" "$T/daemon.log" || fail "the fault is not in the log"
# Every query commits first: 30 queries are 30 failed commits, logged once (then once a minute).
FULL_SINCE=$SECONDS
for _ in $(seq 30); do vl GetStatus >/dev/null; done
lines=$(grep -c "Failed to write to" "$T/daemon.log")
[ "$lines" -le $((2 + (SECONDS - FULL_SINCE) / 60)) ] || fail "the failed commit was logged $lines times"
echo "ok: 30 more failed commits, $lines log lines"
setsid sleep 300 >/dev/null 2>&1 &
DURING=$!
CLEANUP_PIDS+=("$DURING")
sleep 0.3
r=$(vl GetOrigin "{\"pid\": $$}")
check "live queries still answered" "$(jget "$r" parameters.process.pid)" "$$"
kill -0 "$DAEMON_PID" || fail "lineaged died on a full disk"
mount -o remount,size=256m "$T/small"
wait_for "the database to be writable again" no_error
grep -q "is writable again" "$T/daemon.log" || fail "recovery not logged"
failed=$(sed -n 's/.*is writable again (after \([0-9]*\) failed commits).*/\1/p' "$T/daemon.log" | head -n 1)
[ "${failed:-0}" -ge 30 ] || fail "the recovery line counts $failed failed commits, expected at least 30"
echo "ok: recovery logged after $failed failed commits"
check "a process born while the disk was full is recorded" "$(q "SELECT count(*) FROM instances WHERE pid = $DURING AND exit_time IS NULL")" 1

stop_daemon
check "integrity after the full disk" "$(q "PRAGMA integrity_check")" ok

echo "# read-only database"
# A running daemon holds its files open for writing, so the filesystem cannot be remounted read-only
# under it; the immutable attribute makes the same writes fail (EPERM) on open files too.
DB="$T/ro/lineage.db"
mkdir -p "$T/ro"
start_daemon
settle
immutable() { chattr "$1" "$DB" "$DB-wal" 2>/dev/null; }
immutable +i || fail "cannot set the immutable attribute on $DB (chattr): this test needs ext2/3/4 or xfs under /tmp"
trap 'immutable -i || true; umount -l "$T/small" 2>/dev/null || true; cleanup' EXIT
setsid sleep 300 >/dev/null 2>&1 &
RO=$!
CLEANUP_PIDS+=("$RO")
wait_for "a read-only fault to be reported" has_error
echo "ok: reported: $(db_error)"
r=$(vl GetOrigin "{\"pid\": $$}")
check "live queries still answered while read-only" "$(jget "$r" parameters.process.pid)" "$$"
immutable -i
wait_for "the database to be writable again" no_error
check "a process born while read-only is recorded" "$(q "SELECT count(*) FROM instances WHERE pid = $RO AND exit_time IS NULL")" 1
stop_daemon
check "integrity after read-only" "$(q "PRAGMA integrity_check")" ok

echo "# a database locked by another writer"
# An administrator's sqlite3 shell left in a write transaction: the daemon's commits get SQLITE_BUSY
# (after its 50 ms busy timeout), it reports that, keeps the rows in memory and writes them all once
# the lock is gone.
DB="$T/locked.db"
start_daemon
settle
python3 - "$DB" "$T/locked" <<'PY' &
import sqlite3, sys, time, os
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
while os.path.exists(sys.argv[2]):
        time.sleep(0.05)
db.execute("ROLLBACK")
PY
LOCKER=$!
CLEANUP_PIDS+=("$LOCKER")
wait_for "the lock to be taken" test -e "$T/locked"
setsid sleep 300 >/dev/null 2>&1 &
LOCKED=$!
CLEANUP_PIDS+=("$LOCKED")
"$TREEGEN" churn 200 >/dev/null
wait_for "a busy database to be reported" has_error
check "the status names the lock" "$(db_error)" "database is locked by another connection"
grep -q "database is locked" "$T/daemon.log" || fail "the lock is not in the log"
check "nothing of the churn is in the file while it is locked" \
        "$(q "SELECT count(*) FROM instances WHERE pid = $LOCKED")" 0
rm -f "$T/locked"
wait "$LOCKER" || fail "the locking client failed"
wait_for "the database to be writable again" no_error
check "a process born while the database was locked is recorded" \
        "$(q "SELECT count(*) FROM instances WHERE pid = $LOCKED AND exit_time IS NULL")" 1
stop_daemon
check "integrity after the lock" "$(q "PRAGMA integrity_check")" ok
check "no gap for a lock that held nothing back" "$(q "SELECT count(*) FROM gaps WHERE reason = 'storage'")" 0

echo "# a corrupt database file"
DB="$T/corrupt.db"
head -c 65536 /dev/urandom > "$DB"
cp "$DB" "$T/garbage"
start_daemon
grep -q "is corrupt: moved aside" "$T/daemon.log" || fail "no clear message about the corrupt file"
MOVED=$(ls "$T"/corrupt.db.corrupt-* | grep -v -- '-wal$\|-shm$' | head -n 1)
cmp -s "$MOVED" "$T/garbage" || fail "the corrupt file was not kept as it was"
settle
[ "$(q "SELECT count(*) FROM instances")" -gt 0 ] || fail "the new database is not recording"
echo "ok: moved aside to $(basename "$MOVED"), recording into a new file"
stop_daemon
echo "storage: all checks passed"
