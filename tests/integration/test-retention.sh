#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Retention prunes old exited processes, never an ancestor or login of anything kept: every retained
# answer stays complete.
. "$(dirname "$0")/lib.sh"

# Nothing dangles: every recorded birth parent, CABA and login instance of a kept row is still there.
complete() {
        q "SELECT
             (SELECT count(*) FROM instances i WHERE birth_parent IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM instances p WHERE p.id = i.birth_parent)),
             (SELECT count(*) FROM instances i WHERE exit_time IS NULL AND caba IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM instances p WHERE p.id = i.caba)),
             (SELECT count(*) FROM logins l WHERE NOT EXISTS (SELECT 1 FROM instances p WHERE p.id = l.instance)),
             (SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM instances p WHERE p.id = e.instance))"
}

start_daemon
tree double-fork                            # a live daemon whose two ancestors exited early
DF=${PIDS[df-daemon]}
if [ -w /proc/self/loginuid ] && [ "$(cat /proc/self/loginuid)" = 4294967295 ]; then
        python3 "$SOURCE_DIR/tests/integration/fake-login.py" 4545 < /dev/null > "$T/login.out"
        SLEEPER=$(awk '$1 == "sleeper" {print $2}' "$T/login.out")   # outlives its ended login
        cleanup_pids "$SLEEPER"
fi
for _ in 1 2 3 4; do "$TREEGEN" churn 1000 >/dev/null; done
settle
stop_daemon
BEFORE_ROWS=$(q "SELECT count(*) FROM instances")
BEFORE_SIZE=$(stat -c %s "$DB")
ORIGIN_BEFORE=$(q "SELECT group_concat(ancestor_pid, ' ') FROM (SELECT ancestor_pid FROM ancestors WHERE instance = $(inst "$DF") ORDER BY depth)")

sleep 2
start_daemon --keep=1s
pruned_enough() { [ "$(jget "$(vl GetStatus)" parameters.status.pruned)" -gt 3000 ]; }
wait_for "retention to prune the churn" pruned_enough
sleep 1
r=$(vl GetStatus)
echo "pruned $(jget "$r" parameters.status.pruned) instances"
[ "$(jget "$r" parameters.status.pruned)" -gt 3000 ] || fail "retention pruned too little"
stop_daemon
AFTER_ROWS=$(q "SELECT count(*) FROM instances")
AFTER_SIZE=$(stat -c %s "$DB")
echo "instances: $BEFORE_ROWS before, $AFTER_ROWS after; database file: $BEFORE_SIZE bytes before, $AFTER_SIZE after"
check "nothing dangles (birth parents, CABAs, logins, events)" "$(complete)" "0|0|0|0"
check "the double-forked daemon's origin is unchanged" \
        "$(q "SELECT group_concat(ancestor_pid, ' ') FROM (SELECT ancestor_pid FROM ancestors WHERE instance = $(inst "$DF") ORDER BY depth)")" \
        "$ORIGIN_BEFORE"
check "its exited ancestors were kept" "$(q "SELECT count(*) FROM instances WHERE pid IN (${PIDS[df-child]}, ${PIDS[df-parent]}) AND exit_time IS NOT NULL")" 2
if [ -n "${SLEEPER:-}" ]; then
        check "the ended login of a kept process was kept" "$(q "SELECT count(*) FROM logins WHERE login_uid = 4545")" 1
fi
# Freed pages are given back to the filesystem (incremental vacuum after each prune), not kept free in
# the file. Whether the file ends smaller also depends on what the rest of the machine ran meanwhile
# (every process is recorded): checked only when the rows went down by half or more.
FREE_PAGES=$(q "PRAGMA freelist_count")
[ "$FREE_PAGES" -le 64 ] || fail "$FREE_PAGES free pages kept in the file after pruning"
echo "ok: free pages left in the file: $FREE_PAGES"
if [ $((AFTER_ROWS * 2)) -le "$BEFORE_ROWS" ]; then
        [ "$AFTER_SIZE" -lt "$BEFORE_SIZE" ] || fail "the database file did not shrink"
        echo "ok: the database file shrank"
else
        echo "note: the machine added rows meanwhile ($AFTER_ROWS after, $BEFORE_ROWS before): size not compared"
fi

echo "# --max-size"
start_daemon --max-size=64K
sleep 3
r=$(vl GetStatus)
echo "database in use: $(jget "$r" parameters.status.databaseUsed) bytes"
check "nothing dangles after size pruning" "$(complete)" "0|0|0|0"
check "the double-forked daemon's origin is still unchanged" \
        "$(q "SELECT group_concat(ancestor_pid, ' ') FROM (SELECT ancestor_pid FROM ancestors WHERE instance = $(inst "$DF") ORDER BY depth)")" \
        "$ORIGIN_BEFORE"
release_tree
stop_daemon
echo "retention: all checks passed"
