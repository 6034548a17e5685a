#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Storage faults: a full disk, a read-only database, a corrupt file. The daemon survives, reports, keeps
# tracking in memory, and catches up when the fault clears; a corrupt file is moved aside, not overwritten.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/small"
mount -t tmpfs -o size=64m tmpfs "$T/small" || { echo "SKIP: cannot mount a tmpfs here"; exit 77; }
trap 'umount -l "$T/small" 2>/dev/null || true; cleanup' EXIT
DB="$T/small/lineage.db"

db_error() { jget "$(vl GetStatus)" parameters.status.databaseError; }
has_error() { [ -n "$(db_error)" ]; }
no_error() { [ -z "$(db_error)" ]; }

start_daemon
echo "# disk full"
# The first commit (the /proc scan: other processes' argv can be large) must fit; then the rest of the
# filesystem is taken by a filler file, and the daemon's own writes fill what is left.
scan_committed() { [ "$(q "SELECT count(*) FROM instances WHERE pid = $$")" = 1 ]; }
wait_for "the scan to be committed" scan_committed
dd if=/dev/zero of="$T/small/filler" bs=64k status=none 2>/dev/null || true
for _ in $(seq 40); do
        "$TREEGEN" churn 500 >/dev/null
        has_error && break
done
has_error || fail "the database never filled up"
echo "ok: reported: $(db_error)"
grep -q "Failed to write to" "$T/daemon.log" || fail "the fault is not in the log"
# Every query commits first: 10 queries are 10 failed commits, logged once (then once a minute).
FULL_SINCE=$SECONDS
for _ in $(seq 10); do vl GetStatus >/dev/null; done
lines=$(grep -c "Failed to write to" "$T/daemon.log")
[ "$lines" -le $((2 + (SECONDS - FULL_SINCE) / 60)) ] || fail "the failed commit was logged $lines times"
echo "ok: 10 more failed commits, $lines log lines"
setsid sleep 300 >/dev/null 2>&1 &
DURING=$!
cleanup_pids "$DURING"
sleep 0.3
r=$(vl GetOrigin "{\"pid\": $$}") || fail "GetOrigin failed: $r"
check "live queries still answered" "$(jget "$r" parameters.process.pid)" "$$"
kill -0 "$DAEMON_PID" || fail "lineaged died on a full disk"
# Room again, and for the whole backlog: on a busy machine the events held in memory meanwhile can
# take far more than the filler did (every process of the machine since the disk filled, written in one
# transaction, its WAL beside it: over 1 GiB was seen with other suites churning). tmpfs takes memory
# only for what is written.
rm "$T/small/filler"
mount -o remount,size=4g "$T/small"
# Watching the log, not asking: every query would commit first, and the first commit to succeed writes
# the whole backlog, which on a busy machine takes a while.
WAIT_TIMEOUT=300 wait_for "the database to be writable again" grep -q "is writable again" "$T/daemon.log"
no_error || fail "the status still reports an error"
grep -q "is writable again" "$T/daemon.log" || fail "recovery not logged"
failed=$(sed -n 's/.*is writable again (after \([0-9]*\) failed commits).*/\1/p' "$T/daemon.log" | head -n 1)
[ "${failed:-0}" -ge 10 ] || fail "the recovery line counts $failed failed commits, expected at least 10"
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
cleanup_pids "$RO"
wait_for "a read-only fault to be reported" has_error
echo "ok: reported: $(db_error)"
r=$(vl GetOrigin "{\"pid\": $$}") || fail "GetOrigin failed: $r"
check "live queries still answered while read-only" "$(jget "$r" parameters.process.pid)" "$$"
immutable -i
wait_for "the database to be writable again" no_error
check "a process born while read-only is recorded" "$(q "SELECT count(*) FROM instances WHERE pid = $RO AND exit_time IS NULL")" 1
stop_daemon
check "integrity after read-only" "$(q "PRAGMA integrity_check")" ok

echo "# a read-only database at start-up"
# Refused before anything starts (no socket, no /proc scan), with the reason.
refused_ro() { # refused_ro COMMAND...: runs lineaged on $DB through COMMAND
        local rc=0
        rm -f "$T/ro.sock"
        timeout 60 "$@" "$LINEAGED" --database="$DB" --varlink="$T/ro.sock" --dbus=none >"$T/ro.log" 2>&1 || rc=$?
        [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || { cat "$T/ro.log"; fail "lineaged did not exit on a read-only database ($rc)"; }
        grep -q "cannot run on a read-only file or filesystem" "$T/ro.log" || { cat "$T/ro.log"; fail "no clear reason"; }
        [ ! -e "$T/ro.sock" ] && ! grep -q "Scanned /proc" "$T/ro.log" || fail "lineaged started half-way"
        echo "ok: refused: $(head -n 1 "$T/ro.log" | cut -c1-200)"
}
DB="$T/ro/lineage.db"
chattr +i "$DB"
refused_ro env
chattr -i "$DB"
# A read-only mount (root ignores file modes; a bind mount in a private mount namespace does not).
if unshare -m true 2>/dev/null; then
        refused_ro unshare -m sh -c 'mount --bind -o ro "$0" "$0" && exec "$@"' "$T/ro"
else
        echo "skipped: the read-only mount (no unshare -m here)"
fi
check "the database is intact" "$(q "PRAGMA integrity_check")" ok

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
cleanup_pids "$LOCKER"
wait_for "the lock to be taken" test -e "$T/locked"
setsid sleep 300 >/dev/null 2>&1 &
LOCKED=$!
cleanup_pids "$LOCKED"
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

# damage_instances: overwrites every page of the instances table with garbage; the header and the
# schema stay intact, so the file opens and only reading or writing instances finds the damage.
damage_instances() {
        python3 - "$DB" "$(sqlite3 "$DB" "PRAGMA page_size")" $(sqlite3 "$DB" "SELECT pageno FROM dbstat WHERE name = 'instances'") <<'PY'
import os, sys
path, size, pages = sys.argv[1], int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
assert len(pages) > 10, pages
with open(path, "r+b") as f:
    for p in pages:
        f.seek((p - 1) * size)
        f.write(os.urandom(size))
PY
        check "the schema still reads" "$(q "SELECT count(*) > 10 FROM sqlite_master")" 1
        [ "$(q "PRAGMA quick_check" 2>&1 | head -n 1)" != ok ] || fail "the damage did not show"
}
recorded() { [ "$(q "SELECT count(*) FROM instances WHERE pid = $1")" -ge 1 ]; }

echo "# a database damaged behind an intact header, found at start-up"
DB="$T/damaged.db"
start_daemon
"$TREEGEN" churn 2000 >/dev/null
settle
stop_daemon
damage_instances
cp "$DB" "$T/damaged.copy"
start_daemon
grep -q "Failed to read $DB: the file is damaged behind its header" "$T/daemon.log" || fail "the damage was not found at start-up"
grep -q "Database $DB is corrupt: moved aside" "$T/daemon.log" || fail "no clear message about the move"
MOVED=$(ls "$T"/damaged.db.corrupt-* | grep -v -- '-wal$\|-shm$' | head -n 1)
cmp -s "$MOVED" "$T/damaged.copy" || fail "the damaged file was not kept as it was"
setsid sleep 300 >/dev/null 2>&1 &
AFTER=$!
cleanup_pids "$AFTER"
wait_for "a process born after the move to be recorded" recorded "$AFTER"
check "a corrupt gap in the new file" "$(q "SELECT count(*) FROM gaps WHERE reason = 'corrupt'")" 1
stop_daemon
check "integrity of the new file" "$(q "PRAGMA integrity_check")" ok
echo "ok: moved aside to $(basename "$MOVED"), recording into a new file"

echo "# a database damaged while the daemon runs"
# Commits only when a query asks (or once a minute): nothing is written between the steps below.
DB="$T/damaged2.db"
start_daemon --commit-interval=60000
tree chain
"$TREEGEN" churn 2000 >/dev/null
vl GetStatus >/dev/null
kill -STOP "$DAEMON_PID"
check "checkpointed" "$(q "PRAGMA wal_checkpoint(TRUNCATE)")" "0|0|0"
damage_instances
# A commit of another connection: the daemon's page cache is dropped and its next read is from the file.
q "PRAGMA user_version = $(q "PRAGMA user_version")"
kill -CONT "$DAEMON_PID"
setsid sleep 300 >/dev/null 2>&1 &
LATE=$!
cleanup_pids "$LATE"
vl GetStatus >/dev/null
wait_for "the damage to be found" grep -q "Failed to write to $DB: .*; the file is damaged" "$T/daemon.log"
grep -q "Database $DB is corrupt: moved aside" "$T/daemon.log" || fail "no clear message about the move"
ls "$T"/damaged2.db.corrupt-* >/dev/null || fail "the damaged file was not moved aside"
kill -0 "$DAEMON_PID" || fail "lineaged died on a damaged database"
wait_for "a process born at the damage to be recorded in the new file" recorded "$LATE"
check "the chain's live process was written again" "$(q "SELECT count(*) FROM instances WHERE pid = ${PIDS[chain-c]} AND exit_time IS NULL")" 1
check "a corrupt gap in the new file" "$(q "SELECT count(*) FROM gaps WHERE reason = 'corrupt'")" 1
check "moved once" "$(grep -c "is corrupt: moved aside" "$T/daemon.log")" 1
release_tree
stop_daemon
check "integrity of the new file" "$(q "PRAGMA integrity_check")" ok
echo "storage: all checks passed"
