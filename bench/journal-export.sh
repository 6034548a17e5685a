#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What lineaged --journal-export writes at full churn: entries per second, bytes per exec (in the journal
# file, and as systemd-journal-upload sends them), and whether journald's rate limit drops any.
#
#   bench/journal-export.sh [--build-dir=DIR] [--seconds=N] [--limit=unit|default] [--mode=execs|logins]
#
# As root. Runs in a mount namespace of its own with a private journald on a tmpfs /run (its default
# rate limit); lineaged runs in a cgroup named like a unit and, with --limit=unit (the default), gets
# lineaged.service's LogRateLimitIntervalSec=/LogRateLimitBurst= as PID 1 hands them to journald.
set -euo pipefail
if [ -z "${LINEAGE_JOURNAL_NAMESPACE:-}" ]; then
        LINEAGE_JOURNAL_NAMESPACE=1 exec unshare --mount --propagation private "$0" "$@"
fi
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$SRC/build SECONDS_RUN=30 LIMIT=unit MODE=execs
for a in "$@"; do
        case $a in
        --build-dir=*) BUILD=${a#*=} ;;
        --seconds=*) SECONDS_RUN=${a#*=} ;;
        --limit=*) LIMIT=${a#*=} ;;
        --mode=*) MODE=${a#*=} ;;
        *) echo "unknown argument $a" >&2; exit 2 ;;
        esac
done
SD=/lib/systemd
[ -x "$SD/systemd-journald" ] || SD=/usr/lib/systemd
CGROOT=/sys/fs/cgroup
[ "$(stat -f -c %T $CGROOT)" = cgroup2fs ] || CGROOT=/sys/fs/cgroup/unified
UNIT=lineaged-bench-$$.service
CG=$CGROOT/$UNIT
T=$(mktemp -d /tmp/journal-export-bench.XXXXXX)
JPID= LPID=
finish() {
        [ -n "$LPID" ] && kill "$LPID" 2>/dev/null && wait "$LPID" 2>/dev/null
        [ -n "$JPID" ] && kill "$JPID" 2>/dev/null && wait "$JPID" 2>/dev/null
        rmdir "$CG" 2>/dev/null || true
        rm -rf "$T"
}
trap finish EXIT
mkdir "$CG"
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/journal /run/systemd/journald.conf.d /run/systemd/units /run/log
printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=4G\nForwardToSyslog=no\nReadKMsg=no\n' >/run/systemd/journald.conf.d/bench.conf
if [ "$LIMIT" = unit ]; then
        interval=$(sed -n 's/^LogRateLimitIntervalSec=//p' "$SRC/units/lineaged.service.in")
        burst=$(sed -n 's/^LogRateLimitBurst=//p' "$SRC/units/lineaged.service.in")
        usec=$(python3 -c 'import re, sys
m = re.fullmatch(r"(\d+)(us|ms|s|min)?", sys.argv[1])
print(int(m.group(1)) * {"us": 1, "ms": 1000, "s": 1000000, "min": 60000000, None: 1000000}[m.group(2)])' "$interval")
        ln -s "$usec" "/run/systemd/units/log-rate-limit-interval:$UNIT"
        ln -s "$burst" "/run/systemd/units/log-rate-limit-burst:$UNIT"
fi
setpriv --pdeathsig=TERM "$SD/systemd-journald" >"$T/journald.log" 2>&1 &
JPID=$!
until [ -S /run/systemd/journal/socket ]; do sleep 0.05; done
JDIR=/run/log/journal/$(cat /etc/machine-id)
J() { journalctl --directory="$JDIR" --no-pager "$@"; }
echo $$ >"$CG/cgroup.procs"
"$BUILD/daemon/lineaged" --database="$T/db" --varlink="$T/sock" --dbus=none --journal-export="$MODE" >"$T/lineaged.log" 2>&1 &
LPID=$!
echo $$ >"$CGROOT/cgroup.procs"
until grep -q "Recording process lineage" "$T/lineaged.log"; do sleep 0.05; done
sleep 1
size() { du -sb "$JDIR" | cut -f1; }
s0=$(size) t0=$(date +%s.%N)
out=$("$BUILD/bench/churn" -j 2 -t "$SECONDS_RUN" -m spawn)
t1=$(date +%s.%N) s1=$(size)
processes=$(sed -n 's/.* processes=\([0-9]*\).*/\1/p' <<<"$out")
# What journald received from lineaged while churn ran: every exec of the machine, churn's and others'.
W=(--since="@$t0" --until="@$t1")
entries=$(J _SYSTEMD_UNIT="$UNIT" "${W[@]}" -o cat | wc -l)
execs=$(J _SYSTEMD_UNIT="$UNIT" LINEAGE_EVENT=exec "${W[@]}" -o cat | wc -l)
export_bytes=$(J _SYSTEMD_UNIT="$UNIT" LINEAGE_EVENT=exec "${W[@]}" -o export | wc -c)
field_bytes=$(J _SYSTEMD_UNIT="$UNIT" LINEAGE_EVENT=exec "${W[@]}" -o export |
        { grep -a -E '^(LINEAGE_[A-Z_]*|MESSAGE|MESSAGE_ID|PRIORITY)=' || true; } | wc -c)
suppressed=$(J MESSAGE_ID=a596d6fe7bfa4994828e72309e95d61e -o cat | tr '\n' ' ')
python3 -c '
import sys
processes, t0, t1 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
execs, entries, disk, export, fields = map(int, sys.argv[4:])
secs = t1 - t0
print(f"churn: {processes} processes in {secs:.1f} s ({processes / secs:.0f}/s)")
print(f"entries journald took from lineaged meanwhile: {entries} ({entries / secs:.0f}/s), exec entries: {execs} ({execs / secs:.0f}/s)")
print(f"journal file growth: {disk} B, {disk / max(execs, 1):.0f} B per exec entry")
print(f"per exec entry: {fields / max(execs, 1):.0f} B of fields lineaged sends (LINEAGE_*, MESSAGE*, PRIORITY), "
      f"{export / max(execs, 1):.0f} B in export format (what systemd-journal-upload sends, journald fields included)")
' "$processes" "$t0" "$t1" "$execs" "$entries" "$((s1 - s0))" "$export_bytes" "$field_bytes"
echo "suppressed: ${suppressed:-none}"
