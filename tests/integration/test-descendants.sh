#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# GetDescendants of a big subtree (a generated login with 12 000 descendants) against the database:
# the same processes in the same depth-first order with the same depths, fields as stored, damaged rows
# answered without breaking the reply, a subtree that left the login's audit session still found, the
# limit and the D-Bus size cap giving truncated answers.
. "$(dirname "$0")/lib.sh"

GEN="$BUILD_DIR/bench/gen-record"
[ -x "$GEN" ] || { echo "SKIP: $GEN not built"; exit 77; }
for tool in dbus-daemon busctl; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

"$GEN" -o "$T/gen.rec" -n 40000 -L 12000 -s 5 >"$T/gen.out" || fail "gen-record failed"
"$LINEAGED" --database="$DB" --replay="$T/gen.rec" 2>"$T/replay.log" || { cat "$T/replay.log"; fail "replay failed"; }
sub_pid=$(sed -n 's/^subtree-login pid=\([0-9]*\).*/\1/p' "$T/gen.out")
sub_ticks=$(sed -n 's/^subtree-login .*start_ticks=\([0-9]*\).*/\1/p' "$T/gen.out")
ROOT=$(q "SELECT id FROM instances WHERE pid = $sub_pid AND start_ticks = $sub_ticks")
[ -n "$ROOT" ] || fail "the generated login is not in the database"
# The record's boot is over: close its open instances here (quicker than the daemon's start-up does it).
q "UPDATE instances SET flags = flags | 8, exit_time = (SELECT max(start_time) FROM instances) WHERE exit_time IS NULL"

SUBTREE="WITH RECURSIVE t(id) AS (SELECT $ROOT UNION ALL SELECT i.id FROM t JOIN instances i ON i.birth_parent = t.id)"
# Damage: a subtree leaves the login's audit session (as a nested login would), and some rows get odd text.
LEAVER=$(q "$SUBTREE SELECT i.id FROM t JOIN instances i ON i.id = t.id WHERE i.id != $ROOT
        AND EXISTS (SELECT 1 FROM instances c WHERE c.birth_parent = i.id) ORDER BY i.id DESC LIMIT 1")
[ -n "$LEAVER" ] || fail "no descendant with children"
q "WITH RECURSIVE t(id) AS (SELECT $LEAVER UNION ALL SELECT i.id FROM t JOIN instances i ON i.birth_parent = t.id)
   UPDATE instances SET audit_session = 987654 WHERE id IN (SELECT id FROM t)"
# Leaves, so that none is in another's ancestry (GetOrigin of one must not show the others).
mapfile -t ODD < <(q "$SUBTREE SELECT id FROM t WHERE id != $ROOT
        AND NOT EXISTS (SELECT 1 FROM instances c WHERE c.birth_parent = t.id) ORDER BY id LIMIT 6 OFFSET 100")
q "UPDATE instances SET argv = '[\"spaced\", \"out\"]' WHERE id = ${ODD[0]};
   UPDATE instances SET argv = 'not json' WHERE id = ${ODD[1]};
   UPDATE instances SET argv = '[1, \"two\"]' WHERE id = ${ODD[2]};
   UPDATE instances SET exe = CAST(X'2F62696E2F66FF6F' AS TEXT) WHERE id = ${ODD[3]};
   UPDATE instances SET comm = 'a\"b' || char(10) || char(1) || '/\\' WHERE id = ${ODD[4]};
   UPDATE instances SET argv = '[\"caf' || char(233) || '\", \"\\\\x01\"]' WHERE id = ${ODD[5]}"

# A child older (lower id) than its parent, as rows moved between parents would be: fetched before its
# parent, it is rendered when the walk reaches it.
LATE=$(q "$SUBTREE SELECT id FROM t WHERE id != $ROOT AND id NOT IN ($(IFS=,; echo "${ODD[*]}"))
        AND NOT EXISTS (SELECT 1 FROM instances c WHERE c.birth_parent = t.id) ORDER BY id LIMIT 1")
NEWPARENT=$(q "$SUBTREE SELECT max(id) FROM t WHERE id != $LEAVER")
q "UPDATE instances SET birth_parent = $NEWPARENT WHERE id = $LATE"

mkdir -p "$T/emptyproc"
start_bus
NAME=org.lineaged.Lineage1
OBJ=/org/lineaged/Lineage1
start_daemon --proc="$T/emptyproc" --dbus="$BUS"

echo "# varlink: the whole subtree, checked against the database"
vl GetDescendants "{\"instance\": $ROOT, \"limit\": 100000}" >"$T/all.json" || fail "GetDescendants failed"
vl GetDescendants "{\"instance\": $ROOT, \"limit\": 100}" >"$T/limit.json" || fail "GetDescendants with a limit failed"
vl GetDescendants "{\"instance\": $ROOT, \"limit\": 100000, \"aliveOnly\": true}" >"$T/alive.json" ||
        fail "GetDescendants aliveOnly failed"
for i in 0 1 2 3 4 5; do
        vl GetOrigin "{\"instance\": ${ODD[$i]}}" >"$T/origin-$i.json" || fail "GetOrigin ${ODD[$i]} failed"
done
for _ in $(seq 100); do
        busctl --address="$BUS" status "$NAME" >/dev/null 2>&1 && break
        sleep 0.05
done
busctl --address="$BUS" --json=short call "$NAME" "$OBJ" "$NAME" GetDescendants utxub 0 "$ROOT" 0 100000 false \
        >"$T/dbus.json" || fail "GetDescendants over D-Bus failed"

python3 - "$DB" "$ROOT" "$LEAVER" "$T" "${ODD[@]}" "$LATE" "$NEWPARENT" <<'EOF' || fail "the answers do not match the database"
import json, random, sqlite3, sys

db, root, leaver, tmp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
odd = [int(x) for x in sys.argv[5:-2]]
con = sqlite3.connect(db)
con.text_factory = lambda b: b.decode("utf-8", "replace")
bad = []

def expect(what, got, want):
    if got != want:
        bad.append(f"{what}: got {got!r}, expected {want!r}")

# Depth first, children in birth order (start time, then id), from the database.
children = {}
for pid_, cid, st in con.execute("SELECT birth_parent, id, start_time FROM instances WHERE birth_parent IS NOT NULL"):
    children.setdefault(pid_, []).append((st, cid))
order, depths, stack = [], [], [(root, 0)]
while stack:
    node, d = stack.pop()
    if node != root:
        order.append(node)
        depths.append(d)
    for st, cid in sorted(children.get(node, []), reverse=True):
        stack.append((cid, d + 1))

reply = json.loads(open(f"{tmp}/all.json").read())["parameters"]
desc = reply["descendants"]
print(f"ok: {len(desc)} descendants answered, {len(order)} in the database")
expect("count", len(desc), len(order))
expect("order", [p["instance"] for p in desc] == order, True)
expect("depths", reply["depths"] == depths, True)
expect("truncated", reply["truncated"], False)
expect("process", reply["process"]["instance"], root)
expect("leaver in the answer", leaver in {p["instance"] for p in desc}, True)
late, newparent = int(sys.argv[-2]), int(sys.argv[-1])
expect("child older than its parent", [p.get("birthParentInstance") for p in desc if p["instance"] == late], [newparent])
expect("leaver's session", [p.get("auditSession") for p in desc if p["instance"] == leaver], [987654])

cols = "id, pid, start_time, exit_time, uid, gid, sid, comm, exe, argv, login_uid, audit_session, birth_parent, " \
       "birth_parent_pid, exit_parent_pid, lineage_source, caba, caba_pid, exit_status, exit_signal"
rows = {r[0]: r for r in con.execute(f"SELECT {cols} FROM instances WHERE id IN ({','.join(map(str, order))})")}
random.seed(1)
for p in random.sample(desc, 300) + [p for p in desc if p["instance"] in odd]:
    r = rows[p["instance"]]
    want = {"pid": r[1], "startTime": r[2], "exitTime": r[3], "uid": r[4], "gid": r[5], "sid": r[6],
            "comm": r[7] or None, "exe": r[8] or None, "loginUid": r[10], "auditSession": r[11],
            "birthParentInstance": r[12], "birthParentPid": r[13], "parentPid": r[14], "lineageSource": r[15],
            "cabaInstance": r[16], "cabaPid": r[17], "exitStatus": r[18], "exitSignal": r[19], "alive": r[3] is None}
    if r[0] not in odd:
        want["argv"] = json.loads(r[9]) if r[9] is not None else None
    for k, v in want.items():
        expect(f"instance {r[0]} {k}", p.get(k), v)

by_id = {p["instance"]: p for p in desc}
expect("argv with spaces", by_id[odd[0]].get("argv"), ["spaced", "out"])
expect("argv not JSON", "argv" in by_id[odd[1]], False)
expect("argv not strings", "argv" in by_id[odd[2]], False)
expect("exe not UTF-8", by_id[odd[3]].get("exe"), "/bin/f\ufffdo")
expect("comm escaped", by_id[odd[4]].get("comm"), 'a"b\n\x01/\\')
expect("argv non-ASCII", by_id[odd[5]].get("argv"), ["caf\u00e9", "\\x01"])
# The same processes as GetOrigin (built by json-c) describes them, key for key, in the same order.
for i, o in enumerate(odd):
    origin = json.loads(open(f"{tmp}/origin-{i}.json").read())["parameters"]["process"]
    expect(f"instance {o} as GetOrigin", list(by_id[o].items()), list(origin.items()))

lim = json.loads(open(f"{tmp}/limit.json").read())["parameters"]
expect("limit count", len(lim["descendants"]), 100)
expect("limit truncated", lim["truncated"], True)
expect("limit prefix", [p["instance"] for p in lim["descendants"]], order[:100])
expect("limit depths", lim["depths"], depths[:100])

alive = json.loads(open(f"{tmp}/alive.json").read())["parameters"]
expect("aliveOnly", [p["instance"] for p in alive["descendants"]],
       [i for i in order if rows[i][3] is None])

# D-Bus: capped well under the bus's message size, a prefix of the same walk, said to be truncated.
bus = json.loads(open(f"{tmp}/dbus.json").read())["data"][0]
ids = [p["instance"]["data"] for p in bus["descendants"]["data"]]
print(f"ok: D-Bus answered {len(ids)} descendants, truncated {bus['truncated']['data']}")
expect("D-Bus truncated", bus["truncated"]["data"], True)
expect("D-Bus some", 1000 < len(ids) < len(order), True)
expect("D-Bus prefix", ids, order[:len(ids)])
expect("D-Bus depths", bus["depths"]["data"], depths[:len(ids)])

for b in bad[:30]:
    print("mismatch:", b)
sys.exit(1 if bad else 0)
EOF
echo "ok: the answers match the database"

kill -0 "$DAEMON_PID" || fail "lineaged died"
check "integrity" "$(q "PRAGMA integrity_check")" ok
