#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Record a live run, replay it into a fresh database: the same lineage, row for row.
. "$(dirname "$0")/lib.sh"

start_daemon --record="$T/events.rec"
tree complex-sessions
release_tree
tree double-fork
release_tree
"$TREEGEN" churn 200 >/dev/null
if [ -w /proc/self/loginuid ] && [ "$(cat /proc/self/loginuid)" = 4294967295 ]; then
        # A login too, so that replay reproduces logins from the record.
        python3 "$SOURCE_DIR/tests/integration/fake-login.py" 4343 < /dev/null > "$T/login.out"
        kill "$(awk '$1 == "sleeper" {print $2}' "$T/login.out")" 2>/dev/null || true
fi
settle
stop_daemon

"$LINEAGED" --database="$T/replay.db" --replay="$T/events.rec" 2>"$T/replay.log" || { cat "$T/replay.log"; fail "replay failed"; }
grep -q "Replayed" "$T/replay.log" || fail "no replay summary"

LINEAGE="SELECT id, pid, start_ticks, start_time, exit_time, birth_parent, birth_parent_pid, lineage_source,
        caba, caba_pid, exit_parent_pid, exit_status, exit_signal, comm, exe, argv, uid, sid, flags, exec_time
        FROM instances ORDER BY id"
q "$LINEAGE" > "$T/live.txt"
sqlite3 -batch "$T/replay.db" "$LINEAGE" > "$T/replayed.txt"
# An instance row keeps its last exec; an earlier one moves to events at the commit that replaces it,
# so rows are compared in time order (commits fall elsewhere in a replay), not by id.
EVENTS="SELECT instance, time, type, tid, a, b, text, argv FROM events ORDER BY instance, time, type, id;
        SELECT instance, pid, time, type, tid, a, b, text, cmdline FROM event_log ORDER BY instance, time, type, id;
        SELECT * FROM logins ORDER BY instance"
q "$EVENTS" >> "$T/live.txt"
sqlite3 -batch "$T/replay.db" "$EVENTS" >> "$T/replayed.txt"

n=$(q "SELECT count(*) FROM instances")
[ "$n" -gt 250 ] || fail "too few instances recorded: $n"
if ! diff -u "$T/live.txt" "$T/replayed.txt" > "$T/diff.txt"; then
        head -n 40 "$T/diff.txt"
        fail "the replayed database differs from the live one"
fi
echo "ok: $n instances and $(q "SELECT count(*) FROM events") events identical after replay"

# At the live commit cadence (a commit per 50 ms of the record's time, as the daemon ran): the same rows,
# committed in many more transactions.
"$LINEAGED" --database="$T/replay-live.db" --replay="$T/events.rec" --commit-interval=50 --log-level=debug \
        2>"$T/replay-live.log" || { cat "$T/replay-live.log"; fail "replay at the live cadence failed"; }
sqlite3 -batch "$T/replay-live.db" "$LINEAGE" > "$T/replayed-live.txt"
sqlite3 -batch "$T/replay-live.db" "$EVENTS" >> "$T/replayed-live.txt"
if ! diff -u "$T/live.txt" "$T/replayed-live.txt" > "$T/diff-live.txt"; then
        head -n 40 "$T/diff-live.txt"
        fail "the database replayed at the live cadence differs from the live one"
fi
echo "ok: identical when replayed at the live commit cadence"
check "replayed integrity" "$(sqlite3 "$T/replay.db" "PRAGMA integrity_check")" ok

# A replayed record from another boot, then a daemon on that database: what was still alive at the
# record's end is closed with the record's end as the bound, so a time within its known life still
# resolves (it was closed at its own start before, and Resolve answered NoSuchProcess).
GEN="$BUILD_DIR/bench/gen-record"
if [ -x "$GEN" ]; then
        "$GEN" -o "$T/gen.rec" -n 3000 > "$T/gen.out"
        "$LINEAGED" --database="$T/gen.db" --replay="$T/gen.rec" 2>"$T/gen.log" || { cat "$T/gen.log"; fail "replay failed"; }
        end=$(sqlite3 "$T/gen.db" "SELECT stopped FROM runs r JOIN boots b ON b.id = r.boot
                WHERE b.boot_id = '0123456789abcdef0123456789abcdef'")
        last=$(sqlite3 "$T/gen.db" "SELECT max(max(start_time), max(coalesce(exit_time, 0))) FROM instances")
        check "the replayed record's run ends at its last event" "$end" "$last"
        alive=$(sqlite3 "$T/gen.db" "SELECT id || ' ' || pid || ' ' || start_time FROM instances
                WHERE exit_time IS NULL AND pid > 1 ORDER BY id LIMIT 5")
        [ -n "$alive" ] || fail "the generated record left nothing alive"
        mkdir -p "$T/emptyproc"
        DB="$T/gen.db" start_daemon --proc="$T/emptyproc"
        while read -r id pid start; do
                for at in $((start + 1)) "$end"; do
                        r=$(vl Resolve "{\"pid\": $pid, \"at\": $at, \"bootId\": \"0123456789abcdef0123456789abcdef\"}")
                        check "Resolve pid $pid at $at on the replayed boot" "$(jget "$r" parameters.process.instance)" "$id"
                done
        done <<< "$alive"
        stop_daemon
        check "closed at the record's end" "$(sqlite3 "$T/gen.db" "SELECT count(*) FROM instances
                WHERE id IN ($(cut -d' ' -f1 <<< "$alive" | paste -sd,)) AND exit_time = $end AND flags & 8")" 5
else
        echo "skip: $GEN not built"
fi
