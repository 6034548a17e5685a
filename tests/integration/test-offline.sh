#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# lineagectl --database: every read verb answered from a database file without the daemon, with and
# without its -wal, the same JSON as the live daemon gave, and the file never modified.
. "$(dirname "$0")/lib.sh"

command -v useradd >/dev/null || { echo "SKIP: useradd is not installed"; exit 77; }
USER_NAME=lineage-offl
id "$USER_NAME" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
AS_USER=(setpriv --reuid="$(id -u "$USER_NAME")" --regid="$(id -g "$USER_NAME")" --clear-groups)
# Its private copies go to a directory of this test's own: /tmp may hold other tests' copies right now.
mkdir -m 0700 "$T/tmp"
CTL=(env TMPDIR="$T/tmp" "$LINEAGECTL" --json=short)

start_daemon
LOGIN_OK=
if [ -w /proc/self/loginuid ] && [ "$(cat /proc/self/loginuid)" = 4294967295 ]; then
        # A login that ended, whose sleeper still runs (one coproc at a time: it ends before the tree).
        fake_login 4646
        LOGIN_OK=1
        for _ in $(seq 600); do
                [ -n "$(jget "$(vl GetOrigin "{\"pid\": ${L[sleeper]}}" || true)" parameters.login.instance)" ] && break
                sleep 0.1
        done
        fake_logout
        for _ in $(seq 600); do
                [ -n "$(jget "$(vl ListLogins '{"loginUid": 4646}')" parameters.logins.0.endTime)" ] && break
                sleep 0.1
        done
fi
tree double-fork
DF=${PIDS[df-daemon]}
for _ in $(seq 600); do
        [ -n "$(jget "$(vl GetOrigin "{\"pid\": $DF}" || true)" parameters.process.instance)" ] && break
        sleep 0.1
done
settle
AT=$(date +%s%6N)
ROOT_INST=$(jget "$(vl GetOrigin "{\"pid\": $DF}")" parameters.ancestors.1.instance)

# The read verbs, each as "NAME ARGS...": what the live daemon answers, then the file.
VERBS=(
        "origin $DF"
        "ancestors $DF"
        "descendants @$ROOT_INST"
        "tree @$ROOT_INST"
        "caba $DF"
        "history $DF"
        "resolve $DF $AT"
        "logins --user=4646"
        "search --comm=tg-df-* --until=$AT"
)
[ -n "$LOGIN_OK" ] && VERBS+=("origin ${L[sleeper]}" "tree --login=$(jget "$(vl GetOrigin "{\"pid\": ${L[sleeper]}}")" parameters.login.instance)")
i=0
for v in "${VERBS[@]}"; do
        # shellcheck disable=SC2086
        "${CTL[@]}" --varlink="$SOCK" $v > "$T/live-$i.json" || fail "live $v failed"
        i=$((i + 1))
done

# compare I FILE: the live answer I against an offline answer (parentPid of a live process is read from
# /proc at each answer, which a file cannot give).
compare() {
        python3 - "$T/live-$1.json" "$2" <<'PY'
import json, sys
def strip(v):
    if isinstance(v, dict):
        if "alive" in v and v.get("alive"):
            v.pop("parentPid", None)
        return {k: strip(x) for k, x in v.items()}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
a, b = (strip(json.load(open(p))) for p in sys.argv[1:])
if a != b:
    print("live:   ", json.dumps(a, sort_keys=True)[:1500])
    print("offline:", json.dumps(b, sort_keys=True)[:1500])
    sys.exit(1)
PY
}

# offline_all DB LABEL: every verb from DB, compared with the live answers; DB's directory unchanged.
offline_all() {
        local db=$1 label=$2 before after i=0 v
        before=$(cd "$(dirname "$db")" && ls -l --time-style=+%s.%N && stat -c "%n %y %z" . && sha256sum "$(basename "$db")"* | sort)
        for v in "${VERBS[@]}"; do
                # shellcheck disable=SC2086
                "${CTL[@]}" --database="$db" $v > "$T/offline-$i.json" || fail "$label: offline $v failed"
                compare "$i" "$T/offline-$i.json" || fail "$label: offline $v differs from the live answer"
                i=$((i + 1))
        done
        after=$(cd "$(dirname "$db")" && ls -l --time-style=+%s.%N && stat -c "%n %y %z" . && sha256sum "$(basename "$db")"* | sort)
        [ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); fail "$label: the database's directory changed"; }
        echo "ok: $label: ${#VERBS[@]} verbs answered as live, files and checksums unchanged"
}

echo "# a copy taken while the daemon ran: the database with its -wal (the daemon killed, nothing checkpointed)"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
mkdir -m 0700 "$T/seized"
cp "$DB" "$T/seized/lineage.db"
[ -s "$DB-wal" ] || fail "expected a -wal file after SIGKILL"
cp "$DB-wal" "$T/seized/lineage.db-wal"
offline_all "$T/seized/lineage.db" "with -wal"
[ ! -e "$T/seized/lineage.db-shm" ] || fail "a -shm was created beside the file"
[ -z "$(ls -A "$T/tmp")" ] || fail "the private copy was left behind: $(ls "$T/tmp")"

echo "# the same database after a clean stop: no -wal"
start_daemon
stop_daemon
mkdir -m 0700 "$T/clean"
cp "$DB" "$T/clean/lineage.db"
[ ! -e "$DB-wal" ] || [ ! -s "$DB-wal" ] || fail "a -wal was left after a clean stop"
r=$("${CTL[@]}" --database="$T/clean/lineage.db" origin "$DF") || fail "offline origin without -wal failed"
check "without -wal: the double fork's daemon" "$(jget "$r" process.pid)" "$DF"
check "its chain" "$(jget "$r" ancestors.0.pid)" "${PIDS[df-child]}"

echo "# what cannot be answered from a file, and who may read one"
rc=0; "$LINEAGECTL" --database="$T/clean/lineage.db" status 2>"$T/err" || rc=$?
check "status needs the daemon (exit 2)" "$rc" 2
grep -q "needs the running daemon" "$T/err" || fail "no reason given: $(cat "$T/err")"
rc=0; "$LINEAGECTL" --database="$T/clean/lineage.db" --varlink="$SOCK" logins 2>/dev/null || rc=$?
check "--database with --varlink is a usage error" "$rc" 2
chmod 0755 "$T" "$T/clean"
# The user runs a copy of the client: the checkout may sit where they cannot read (a mktemp -d clone).
install -m 0755 "$LINEAGECTL" "$T/lineagectl"
chmod 0644 "$T/clean/lineage.db"
rc=0; "${AS_USER[@]}" "$T/lineagectl" --database="$T/clean/lineage.db" logins 2>"$T/err" || rc=$?
check "another user's database is refused (exit 4)" "$rc" 4
grep -q "only root or the file's owner" "$T/err" || fail "no reason given: $(cat "$T/err")"
mkdir -m 0755 "$T/own"
cp "$T/clean/lineage.db" "$T/own/lineage.db"
chown "$USER_NAME" "$T/own/lineage.db"
chmod 0600 "$T/own/lineage.db"
r=$("${AS_USER[@]}" "$T/lineagectl" --json=short --database="$T/own/lineage.db" origin "$DF") || fail "the owner could not read their copy"
check "the file's owner reads every process in it" "$(jget "$r" process.redacted)" false
rc=0; "$LINEAGECTL" --database="$T/nothing.db" logins 2>/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "a missing file was answered"
[ ! -e "$T/nothing.db" ] || fail "a missing database file was created"
release_tree
echo "offline: all checks passed"
