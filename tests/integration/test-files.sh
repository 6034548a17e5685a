#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The daemon's files: private whatever the umask, never through a symlink or a file another user owns,
# one daemon per database (issue 11, items 1-4). Each case does what the attack did.
. "$(dirname "$0")/lib.sh"

ADV=lineage-adv
id "$ADV" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin "$ADV"
chmod 0755 "$T"   # the unprivileged user must reach its own files under $T

mode() { stat -c %a "$1"; }
owner() { stat -c %U "$1"; }
as_adv() { runuser -u "$ADV" -- "$@"; }

# refused DATABASE PATTERN [OPTIONS]: lineaged must exit at once, non-zero, saying PATTERN.
refused() {
        local db=$1 pattern=$2 rc=0
        shift 2
        timeout 60 "$LINEAGED" --database="$db" --varlink="$T/refused.sock" --dbus=none "$@" >"$T/refused.log" 2>&1 || rc=$?
        [ "$rc" -ne 0 ] || fail "lineaged accepted $db"
        [ "$rc" -ne 124 ] || fail "lineaged kept running on $db"
        grep -q -- "$pattern" "$T/refused.log" || { cat "$T/refused.log"; fail "no '$pattern' in the refusal for $db"; }
        [ ! -e "$T/refused.sock" ] || fail "lineaged started serving before refusing $db"
        echo "ok: refused $(basename "$db"): $(grep -o -- "$pattern.*" "$T/refused.log" | head -c 160)"
}

echo "# modes under umask 022"
DB="$T/new/dir/lineage.db"
umask 022
start_daemon
settle
stop_daemon
for f in "$DB" "$DB-wal" "$DB-shm"; do
        [ -e "$f" ] || continue # the WAL and SHM go away on a clean stop unless kept
        check "mode of $(basename "$f")" "$(mode "$f")" 600
done
check "mode of the database's new directory" "$(mode "$T/new/dir")" 700
check "mode of the directory above it" "$(mode "$T/new")" 700
start_daemon
settle
for f in "$DB" "$DB-wal" "$DB-shm"; do
        check "mode of $(basename "$f") while running" "$(mode "$f")" 600
done
check "mode of the lock file" "$(mode "$DB.lock")" 600
stop_daemon
umask 077

# A shared directory like /tmp: root's, sticky, writable by all.
SHARED="$T/shared"
mkdir -m 1777 "$SHARED"
mkdir -m 0700 "$T/private"

echo "# a symlinked database path"
as_adv ln -s "$T/private/x.db" "$SHARED/l1.db"
refused "$SHARED/l1.db" "symbolic link"
[ ! -e "$T/private/x.db" ] || fail "the symlink's target was created"
echo "ok: the symlink's target was not created"
# Even root's own symlink is not followed in the last component.
ln -s "$T/private/y.db" "$T/l2.db"
refused "$T/l2.db" "symbolic link"
[ ! -e "$T/private/y.db" ] || fail "the target of root's symlink was created"
# A symlink owned by another user on the way to the database is not followed either.
as_adv ln -s "$T/private" "$SHARED/dir"
refused "$SHARED/dir/l3.db" "symbolic link owned by uid"
[ ! -e "$T/private/l3.db" ] || fail "a database was created through another user's directory symlink"

# Root's own symlink on the way to the directory is followed (an administrator's /var/lib/lineaged
# pointing elsewhere, say).
ln -s "$T/private" "$T/rootlink"
DB="$T/rootlink/linked.db"
start_daemon
settle
stop_daemon
check "database through root's directory symlink" "$(stat -c '%U %a' "$T/private/linked.db")" "root 600"

echo "# a database file another user made"
as_adv sh -c "umask 077; printf 'mine' > '$SHARED/l4.db'"
refused "$SHARED/l4.db" "owned by uid $(id -u "$ADV")"
check "the foreign file is untouched" "$(cat "$SHARED/l4.db") $(owner "$SHARED/l4.db") $(mode "$SHARED/l4.db")" "mine $ADV 600"
[ ! -e "$SHARED/l4.db-wal" ] && [ ! -e "$SHARED/l4.db-shm" ] || fail "lineaged created a WAL or SHM beside the foreign file"
echo "# a WAL another user made beside root's database"
as_adv sh -c "umask 077; : > '$SHARED/l5.db-wal'"
refused "$SHARED/l5.db" "l5.db-wal: it is owned by uid"
check "the foreign WAL is untouched" "$(stat -c '%s %U' "$SHARED/l5.db-wal")" "0 $ADV"
echo "# a database file that is also another file (a hard link)"
: > "$T/private/data"; ln "$T/private/data" "$T/hl.db"
refused "$T/hl.db" "hard links"

echo "# directories another user could write"
mkdir -m 0775 "$T/groupw"
chmod 0775 "$T/groupw"
refused "$T/groupw/lineage.db" "writable by group or others"
[ ! -e "$T/groupw/lineage.db" ] || fail "a database was created in a group-writable directory"
mkdir -m 0700 "$T/advdir"
chown "$ADV" "$T/advdir"
refused "$T/advdir/sub/lineage.db" "owned by uid $(id -u "$ADV")"
[ ! -e "$T/advdir/sub" ] || fail "a directory was created inside another user's directory"
# /tmp-like: root's sticky directory is fine, and the files are root's and private.
DB="$SHARED/ok.db"
start_daemon
settle
check "database in the shared sticky directory" "$(stat -c '%U %a' "$DB")" "root 600"
stop_daemon

echo "# one daemon per database"
DB="$T/one.db"
start_daemon --record="$T/record"
settle
refused "$DB" "in use by another lineaged (pid $DAEMON_PID"
refused "$DB" "in use by another lineaged (pid $DAEMON_PID" --replay="$T/record"
kill -0 "$DAEMON_PID" || fail "the first daemon died"
check "the first daemon's runs" "$(q "SELECT count(*) FROM runs")" 1
stop_daemon
start_daemon
stop_daemon
echo "ok: the database is free again once the first daemon stopped"

echo "files: all checks passed"
