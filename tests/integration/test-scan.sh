#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The start-up scan (read on several threads) records what /proc says of a tree of a few hundred processes.
. "$(dirname "$0")/lib.sh"

N=300

# setsid, uid/gid changes, new audit sessions, threads, exec'd shells with odd argv, orphans.
coproc SCAN_TREE { python3 "$SOURCE_DIR/tests/integration/scan-tree.py" "$N" 2>"$T/scan-tree.err"; }
cleanup_pids "$SCAN_TREE_PID"
: >"$T/pids"
line=
while IFS= read -r -t 120 line <&"${SCAN_TREE[0]}"; do
        [ "$line" = READY ] && break
        echo "$line" >>"$T/pids"
done
[ "$line" = READY ] || { cat "$T/scan-tree.err"; fail "scan-tree did not get ready"; }
echo "ok: a tree of $(wc -l <"$T/pids") processes"

start_daemon
grep -q "Scanned /proc: [0-9]* processes in [0-9.]* ms" "$T/daemon.log" || fail "no scan line in the log"
grep -o "Scanned /proc: .*" "$T/daemon.log"
stop_daemon # flushes everything to the database

# Nothing in the tree changes until it is released: compare the record with /proc now.
python3 - "$DB" "$T/pids" <<'EOF' || fail "the scan disagrees with /proc"
import json, os, sqlite3, sys

db = sqlite3.connect(sys.argv[1])
db.row_factory = sqlite3.Row
pids = [int(x) for x in open(sys.argv[2])]
UNSET = 4294967295
bad = []


def proc(pid):
    d = f"/proc/{pid}"
    stat = open(f"{d}/stat", "rb").read()
    rest = stat[stat.rindex(b")") + 2:].split()
    status = {}
    for line in open(f"{d}/status"):
        k, _, v = line.partition(":")
        status[k] = v.split()
    p = {
        "comm": stat[stat.index(b"(") + 1:stat.rindex(b")")],
        "ppid": int(rest[1]), "pgid": int(rest[2]), "sid": int(rest[3]), "start_ticks": int(rest[19]),
        "uid": int(status["Uid"][0]), "euid": int(status["Uid"][1]),
        "gid": int(status["Gid"][0]), "egid": int(status["Gid"][1]),
        "nscaba": "NScaba" in status,
        "loginuid": int(open(f"{d}/loginuid").read()), "sessionid": int(open(f"{d}/sessionid").read()),
        "exe": os.readlink(f"{d}/exe"), "cmdline": open(f"{d}/cmdline", "rb").read(),
    }
    return p


def comm_text(b):
    return "".join(chr(c) if 0x20 <= c < 0x7f and c != 0x5c else "\\x%02x" % c for c in b)


def argv_list(cmdline):
    args = cmdline.split(b"\0")
    if args and args[-1] == b"":
        args.pop()
    return [a.decode("utf-8", errors="backslashreplace") for a in args]


def row_of(pid):
    rows = db.execute("SELECT * FROM instances WHERE pid = ? AND exit_time IS NULL", (pid,)).fetchall()
    return rows[0] if len(rows) == 1 else None


def expect(pid, what, got, want):
    if got != want:
        bad.append(f"pid {pid}: {what} is {got!r} in the record, /proc says {want!r}")


seen = {"setsid": 0, "uid": 0, "session": 0, "threads": 0, "argv": 0, "orphan": 0}
candidates, sessions = {}, {}
for pid in pids:
    p = proc(pid)
    r = row_of(pid)
    if r is None:
        bad.append(f"pid {pid}: no single live instance in the record")
        continue
    null = lambda v: None if v == UNSET else v
    expect(pid, "start_ticks", r["start_ticks"], p["start_ticks"])
    expect(pid, "comm", r["comm"], comm_text(p["comm"]))
    expect(pid, "uid", (r["uid"], r["euid"], r["gid"], r["egid"]), (p["uid"], p["euid"], p["gid"], p["egid"]))
    expect(pid, "login ids", (r["login_uid"], r["audit_session"]), (null(p["loginuid"]), null(p["sessionid"])))
    expect(pid, "sid/pgid", (r["sid"], r["pgid"]), (p["sid"], p["pgid"]))
    expect(pid, "exe", r["exe"], p["exe"])
    expect(pid, "argv", json.loads(r["argv"]) if r["argv"] else None, argv_list(p["cmdline"]))
    expect(pid, "scanned flag", r["flags"] & 4, 4)
    expect(pid, "kernel thread flag", r["flags"] & 64, 0)
    if not p["nscaba"]:
        parent = row_of(p["ppid"])
        expect(pid, "lineage", (r["birth_parent_pid"], r["lineage_source"]), (p["ppid"], "procfs"))
        expect(pid, "birth parent", r["birth_parent"], parent["id"] if parent else None)
        expect(pid, "CABA", (r["caba"], r["caba_pid"]), (parent["id"], p["ppid"]) if parent else (None, None))
    psession = int(open(f"/proc/{p['ppid']}/sessionid").read()) if p["ppid"] > 0 else UNSET
    if p["sessionid"] != UNSET and psession != p["sessionid"]:
        candidates.setdefault(p["sessionid"], []).append(pid)
    sessions[pid] = p["sessionid"]
    seen["setsid"] += p["sid"] == pid
    seen["uid"] += p["uid"] != 0
    seen["threads"] += len(os.listdir(f"/proc/{pid}/task")) > 1
    seen["argv"] += b"\xff" in p["cmdline"]
    seen["orphan"] += p["ppid"] == 1 or not any(p["ppid"] == q for q in pids)
# A login begins where a scanned process's audit session differs from its parent's, at the lowest pid
# of the session (scan order). Only sessions the tree made are ours alone to check.
ours = {s for s in candidates if sessions[pids[0]] != s}
for pid in pids:
    s = sessions[pid]
    if s in ours:
        expect(pid, "login flag", bool(row_of(pid)["flags"] & 128), pid == min(candidates[s]))
seen["session"] = len(ours)
for b in bad[:20]:
    print(b)
print(f"{len(bad)} disagreements over {len(pids)} processes; the tree had {seen}")
sys.exit(1 if bad or min(seen.values()) == 0 else 0)
EOF
echo "ok: every process of the tree is recorded as /proc shows it"

eval "exec ${SCAN_TREE[1]}>&-"
wait "$SCAN_TREE_PID" || fail "scan-tree failed"
