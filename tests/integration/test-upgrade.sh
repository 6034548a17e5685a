#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A database of schema version 4 (every exec an events row) upgrades with no loss, and both forms of
# exec history (events rows, and the last exec kept in the instance row since version 5) read alike:
# tables, the event_log view and GetHistory.
. "$(dirname "$0")/lib.sh"

# history INSTANCE: GetHistory's events as "type exe argv..." lines
history() {
        vl GetHistory "{\"instance\": $1}" | python3 -c 'import json, sys
for e in json.load(sys.stdin)["parameters"]["events"]:
    print(" ".join([e["type"], e.get("exe", "-")] + e.get("argv", [])))'
}

echo "# a version-4 database"
cat "$SOURCE_DIR"/schema/00[1-4]-*.sql | sqlite3 -batch "$DB"
q "PRAGMA user_version = 4;
   INSERT INTO boots (id, boot_id, boot_time, realtime_offset, boottime_offset, clock_ticks, first_seen)
        VALUES (1, 'ffffffffffffffffffffffffffffffff', 1000000, 0, 0, 100, 1000000);
   -- 10: exec'd once; 11: exec'd twice (sh, then sleep), with a uid change between; 12: never exec'd.
   INSERT INTO instances (id, boot, pid, start_ticks, start_time, exit_time, birth_parent, birth_parent_pid,
        lineage_source, comm, exe, argv, uid, euid, gid, egid, sid, pgid, flags) VALUES
        (10, 1, 100, 5, 2000000, 9000000, NULL, 1, 'fork', 'make', '/usr/bin/make', '[\"make\",\"-j2\"]', 0, 0, 0, 0, 1, 1, 32),
        (11, 1, 101, 6, 2100000, 9100000, 10, 100, 'fork', 'sleep', '/usr/bin/sleep', '[\"sleep\",\"1\"]', 1000, 1000, 0, 0, 1, 1, 32),
        (12, 1, 102, 7, 2200000, 9200000, 10, 100, 'fork', 'make', '/usr/bin/make', NULL, 0, 0, 0, 0, 1, 1, 0);
   INSERT INTO events (instance, time, type, tid, a, b, text, argv) VALUES
        (10, 2000100, 2, NULL, NULL, NULL, '/usr/bin/make', '[\"make\",\"-j2\"]'),
        (11, 2100100, 2, NULL, NULL, NULL, '/bin/sh', '[\"sh\",\"-c\",\"sleep 1\"]'),
        (11, 2100200, 3, NULL, 1000, 1000, NULL, NULL),
        (11, 2100300, 2, NULL, NULL, NULL, '/usr/bin/sleep', '[\"sleep\",\"1\"]');
   -- A login recorded before version 6, when nobody checked who began it.
   INSERT INTO logins (instance, boot, audit_session, login_uid, service, remote_address, start_time, end_time)
        VALUES (10, 1, 7, 0, 'sshd', '203.0.113.66', 2000000, 9000000);"
LOG="SELECT instance, pid, time, type, tid, a, b, text, cmdline FROM event_log ORDER BY instance, time"
q "$LOG" > "$T/log4.txt"
q "SELECT * FROM instances ORDER BY id" > "$T/instances4.txt"
q "SELECT * FROM events ORDER BY id" > "$T/events4.txt"
[ "$(wc -l < "$T/log4.txt")" = 4 ] || fail "the version-4 event_log has $(wc -l < "$T/log4.txt") rows"

start_daemon
check "schema version" "$(q "PRAGMA user_version")" "$(ls "$SOURCE_DIR"/schema/[0-9][0-9][0-9]-*.sql | wc -l)"
check "a login from before version 6 reads as self-declared" "$(q "SELECT self_declared FROM login_list WHERE instance = 10")" 1
check "ListLogins says so" "$(jget "$(vl ListLogins '{"loginUid": 0, "until": 3000000}')" parameters.logins.0.selfDeclared)" true
check "instances_key is gone" "$(q "SELECT count(*) FROM sqlite_master WHERE name = 'instances_key'")" 0
check "old instance rows unchanged" \
        "$(q "SELECT * FROM instances WHERE id BETWEEN 10 AND 12 ORDER BY id" | sed 's/|*$//')" "$(cat "$T/instances4.txt")"
check "old events rows unchanged" "$(q "SELECT * FROM events WHERE instance BETWEEN 10 AND 12 ORDER BY id" | sed 's/||$//')" \
        "$(cat "$T/events4.txt")"
check "old rows have no exec_time" "$(q "SELECT count(*) FROM instances WHERE id BETWEEN 10 AND 12 AND exec_time IS NOT NULL")" 0
check "event_log reads as before" "$(q "SELECT instance, pid, time, type, tid, a, b, text, cmdline FROM event_log
        WHERE instance BETWEEN 10 AND 12 ORDER BY instance, time")" "$(cat "$T/log4.txt")"
check "GetHistory of an old single exec" "$(history 10 | tr '\n' ';')" "fork -;exec /usr/bin/make make -j2;exit -;"
check "GetHistory of old exec, uid, exec" "$(history 11 | tr '\n' ';')" \
        "fork -;exec /bin/sh sh -c sleep 1;uid -;exec /usr/bin/sleep sleep 1;exit -;"
check "GetHistory without exec" "$(history 12 | tr '\n' ';')" "fork -;exit -;"

echo "# new rows: two execs in different commits, two in one commit, one exec"
SH=$(readlink -f /bin/sh) SLEEP=$(readlink -f "$(command -v sleep)")
# apart: sh execs sleep only once its own exec is committed, however slow the machine is.
mkfifo "$T/apart"
sh -c 'read -r _; exec sleep 30' <>"$T/apart" &
APART=$!
sh -c 'exec sleep 31' &
TOGETHER=$!
sleep 32 &
ONCE=$!
cleanup_pids "$APART" "$TOGETHER" "$ONCE"
wait_exec "$APART" /bin/sh
settle
echo go >"$T/apart"
for p in "$APART" "$TOGETHER" "$ONCE"; do
        wait_exec "$p" "$SLEEP"
done
settle
A=$(inst "$APART") B=$(inst "$TOGETHER") C=$(inst "$ONCE")
check "apart: history" "$(history "$A" | tr '\n' ';')" "fork -;exec $SH sh -c read -r _; exec sleep 30;exec $SLEEP sleep 30;"
# (Two execs within one batch: the first image is gone before it can be read, so it may be unknown.)
check "together: history" "$(history "$B" | sed "s|^exec $SH sh -c exec sleep 31\$|exec -|" | tr '\n' ';')" \
        "fork -;exec -;exec $SLEEP sleep 31;"
check "once: history" "$(history "$C" | tr '\n' ';')" "fork -;exec $SLEEP sleep 32;"
check "each row keeps its last exec" \
        "$(q "SELECT count(*) FROM instances WHERE id IN ($A, $B, $C) AND exec_time IS NOT NULL AND exe = '$SLEEP'")" 3
check "earlier execs are events rows" \
        "$(q "SELECT count(*), sum(instance = $A AND text = '$SH') FROM events WHERE instance IN ($A, $B, $C) AND type = 2")" "2|1"
check "event_log of the new rows" \
        "$(q "SELECT count(*), count(id), sum(type = 'exec') FROM event_log WHERE instance IN ($A, $B, $C)")" "5|2|5"
check "event_log in time order" "$(q "SELECT group_concat(cmdline, ',') FROM (SELECT cmdline FROM event_log WHERE instance = $A ORDER BY time)")" \
        "sh -c read -r _; exec sleep 30,sleep 30"
kill "$APART" "$TOGETHER" "$ONCE"
wait "$APART" "$TOGETHER" "$ONCE" 2>/dev/null || true
settle
check "exits keep the exec in the row" "$(q "SELECT count(*) FROM instances WHERE id IN ($A, $B, $C) AND exec_time IS NOT NULL AND exit_time IS NOT NULL")" 3
check "and add no exec rows" "$(q "SELECT count(*) FROM events WHERE instance IN ($A, $B, $C) AND type = 2")" 2
stop_daemon
check "integrity" "$(q "PRAGMA integrity_check")" ok
