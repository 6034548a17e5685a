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
stop_daemon
umask 077

echo "files: all checks passed"
