#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# lineagectl tree: box-drawing text and Graphviz dot of real trees (chain, double fork, siblings) and of a login.
. "$(dirname "$0")/lib.sh"

# Box drawing needs a UTF-8 locale (elsewhere lineagectl draws ASCII, checked in test-conventions.sh).
ctl() { LC_ALL=C.UTF-8 "$LINEAGECTL" --varlink="$SOCK" "$@"; }
start_daemon

# dot FILE: the nodes and edges of a dot graph as lines "node ID LABEL STYLE" and "edge FROM TO STYLE".
dot_parse() {
        python3 - "$1" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
lines = text.strip().split("\n")
assert lines[0] == "digraph lineage {" and lines[-1] == "}", "not one digraph"
for line in lines[1:-1]:
    line = line.strip()
    m = re.fullmatch(r'(i\d+) -> (i\d+)(?: \[style=(\w+)\])?;', line)
    if m:
        print("edge", m[1], m[2], m[3] or "solid")
        continue
    m = re.fullmatch(r'(i\d+) \[label="((?:[^"\\]|\\.)*)"(?:, style=(\w+))?\];', line)
    if m:
        print("node", m[1], m[2], m[3] or "solid")
        continue
    m = re.fullmatch(r'graph \[labelloc=t, label="((?:[^"\\]|\\.)*)"\];', line)
    if m:
        print("title", m[1])
        continue
    if line != 'node [shape=box, fontname="monospace"];':
        sys.exit("unexpected dot line: " + line)
EOF
}

echo "# a chain: treegen -> A -> B -> C"
tree chain
settle
A=${PIDS[chain-a]} B=${PIDS[chain-b]} C=${PIDS[chain-c]}
IA=$(inst "$A") IB=$(inst "$B") IC=$(inst "$C")
ctl tree "$A" >"$T/chain.txt" || fail "tree failed"
expect_text "$T/chain.txt" <<EOF
$A @$IA tg-chain-a
└─$B @$IB tg-chain-b
  └─$C @$IC tg-chain-c
EOF
echo "ok: chain drawn"
ctl tree "@$IB" >"$T/chain-b.txt"
expect_text "$T/chain-b.txt" <<EOF
$B @$IB tg-chain-b
└─$C @$IC tg-chain-c
EOF
echo "ok: a subtree by @INSTANCE"
ctl tree --format=dot "$A" >"$T/chain.dot" || fail "tree --format=dot failed"
dot_parse "$T/chain.dot" >"$T/chain.parsed" || fail "chain: malformed dot"
expect_text "$T/chain.parsed" <<EOF
node i$IA tg-chain-a[$A] solid
node i$IB tg-chain-b[$B] solid
edge i$IA i$IB solid
node i$IC tg-chain-c[$C] solid
edge i$IB i$IC solid
EOF
echo "ok: chain as dot"
release_tree

echo "# a double fork: P -> C (setsid) -> D; C and P exit, D is reparented"
tree double-fork
settle
P=${PIDS[df-parent]} CH=${PIDS[df-child]} D=${PIDS[df-daemon]} RP=${PIDS[df-daemon-ppid]}
IP=$(inst "$P") ICH=$(inst "$CH") ID=$(inst "$D")
ctl tree "@$IP" >"$T/df.txt" || fail "tree of an exited process failed"
python3 - "$T/df.txt" "$P" "$IP" "$CH" "$ICH" "$D" "$ID" "$RP" <<'EOF' || { cat "$T/df.txt"; fail "double fork drawn wrong"; }
import re, sys
lines = open(sys.argv[1]).read().rstrip("\n").split("\n")
p, ip, c, ic, d, i_d, rp = sys.argv[2:]
ts = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \S+"  # with the zone
want = [rf"{p} @{ip} tg-df-parent \(exited {ts} status 0\)",
        rf"└─{c} @{ic} tg-df-child \(exited {ts} status 0\)",
        rf"  └─{d} @{i_d} tg-df-daemon \[reparented to {rp}\]"]
assert len(lines) == 3, lines
for line, pattern in zip(lines, want):
    assert re.fullmatch(pattern, line), (line, pattern)
EOF
echo "ok: exited ones carry their exit, the daemon where it was reparented to"
ctl tree --format=dot "@$IP" >"$T/df.dot"
dot_parse "$T/df.dot" >"$T/df.parsed" || fail "double fork: malformed dot"
expect_text "$T/df.parsed" <<EOF
node i$IP tg-df-parent[$P]\\nexited, status 0 dashed
node i$ICH tg-df-child[$CH]\\nexited, status 0 dashed
edge i$IP i$ICH solid
node i$ID tg-df-daemon[$D]\\nreparented to $RP solid
edge i$ICH i$ID solid
EOF
echo "ok: dot: exited nodes dashed with their status, the reparented one annotated, edges from birth parents"
if command -v dot >/dev/null; then
        dot -Tsvg "$T/df.dot" >/dev/null || fail "Graphviz rejects the dot output"
        echo "ok: Graphviz reads it"
fi
release_tree

echo "# siblings: a subshell with two children, then a sleeper"
setsid sh -c '(sleep 300 & sleep 300 & wait) & sleep 300 & wait' &
ROOT=$!
cleanup_pids "$ROOT"
settle
IR=$(inst "$ROOT")
mapfile -t KIDS < <(q "SELECT pid || ' ' || id FROM instances WHERE birth_parent = $IR ORDER BY start_time, id")
read -r SUB ISUB <<<"${KIDS[0]}"
read -r SLP ISLP <<<"${KIDS[1]}"
mapfile -t GRAND < <(q "SELECT pid || ' ' || id FROM instances WHERE birth_parent = $ISUB ORDER BY start_time, id")
read -r G1 IG1 <<<"${GRAND[0]}"
read -r G2 IG2 <<<"${GRAND[1]}"
cleanup_pids "$SUB" "$SLP" "$G1" "$G2"
# The subshell never exec'd: its name is its parent's as lineaged knew it at the fork (setsid or sh).
SUBNAME=$(q "SELECT comm FROM instances WHERE id = $ISUB")
ctl tree "$ROOT" >"$T/sib.txt"
expect_text "$T/sib.txt" <<EOF
$ROOT @$IR sh -c (sleep 300 & sleep 300 & wait) & sleep 300 & wait
├─$SUB @$ISUB $SUBNAME
│ ├─$G1 @$IG1 sleep 300
│ └─$G2 @$IG2 sleep 300
└─$SLP @$ISLP sleep 300
EOF
echo "ok: siblings and a continuing branch are drawn with ├─ │ └─"
ctl tree --alive --limit=2 "$ROOT" >"$T/sib-limit.txt"
grep -q "^… more exist; raise --limit (now 2)" "$T/sib-limit.txt" || fail "--limit does not say more exist"
kill -- "-$ROOT"

echo "# usage"
set +e
ctl tree >/dev/null 2>&1; check "tree without a process" $? 2
ctl tree --login=@1 "$ROOT" >/dev/null 2>&1; check "tree with both a pid and --login" $? 2
ctl tree --format=svg 1 >/dev/null 2>&1; check "unknown --format" $? 2
ctl --json tree --format=dot 1 >/dev/null 2>&1; check "--json with --format=dot" $? 2
ctl origin --login=@1 >/dev/null 2>&1; check "--login on another command" $? 2
ctl tree --login=@1 >/dev/null 2>"$T/nologin.err"; check "--login where no login began" $? 3
set -e
grep -q "No login began at @1" "$T/nologin.err" || fail "no explanation for a non-login instance"

echo "# --login: the processes of a login, with the login as the header"
if [ ! -w /proc/self/loginuid ] || [ "$(cat /proc/self/loginuid)" != 4294967295 ]; then
        echo "note: the login part needs a writable, unset audit loginuid; not run here"
        stop_daemon
        echo "tree: all checks passed (without the login part)"
        exit 0
fi
fake_login 4242
settle
IL=$(inst "${L[login]}")
SESSION=$(cat "/proc/${L[login]}/sessionid")
SERVICE=$(basename "$(readlink "/proc/${L[login]}/exe")")
ctl tree --login="@$IL" >"$T/login.txt" || fail "tree --login failed"
python3 - "$T/login.txt" "$SESSION" "$SERVICE" "$IL" "${L[login]}" "${L[sleeper]}" "$(inst "${L[sleeper]}")" <<'EOF' ||
import re, sys
text = open(sys.argv[1]).read()
session, service, il, login, sleeper, isleeper = sys.argv[2:]
head, _, tree = text.partition("\n\n")
ts = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \S+"  # with the zone
want = [rf"Login: session {session} of unknown user \(uid 4242\)",
        rf"  Service: {re.escape(service)}",
        rf"  Started: {ts} by @{il}",
        r"    Ended: no, still active"]
lines = head.split("\n")
assert len(lines) == len(want), lines
for line, pattern in zip(lines, want):
    assert re.fullmatch(pattern, line), (line, pattern)
tree = tree.rstrip("\n").split("\n")
assert tree[0].startswith(f"{login} @{il} "), tree[0]
assert re.fullmatch(rf"[ │]*└─{sleeper} @{isleeper} sleep 300 \[reparented to \d+\]", tree[-1]), tree[-1]
EOF
        { cat "$T/login.txt"; fail "tree --login drawn wrong"; }
cat "$T/login.txt"
echo "ok: the login as the header, its processes below, the daemonized sleeper included"
ctl tree --login="$IL" --format=dot >"$T/login.dot"
dot_parse "$T/login.dot" >"$T/login.parsed" || fail "login: malformed dot"
grep -q "^title login: session $SESSION of unknown user (uid 4242) via $SERVICE, started .*, still active$" "$T/login.parsed" ||
        { cat "$T/login.parsed"; fail "dot: the login is not the title"; }
grep -q "^node i$(inst "${L[sleeper]}") sleep\[${L[sleeper]}\]" "$T/login.parsed" || fail "dot: the sleeper is missing"
echo "ok: dot: the login as the graph's title"
r=$(ctl --json=short tree --login="@$IL")
check "--json: the login is in the answer" "$(jget "$r" login.instance)" "$IL"
check "--json: the descendants too" "$(jget "$r" process.instance)" "$IL"
fake_logout
kill "${L[sleeper]}"
settle
ctl tree --login="@$IL" >"$T/login-ended.txt"
grep -q "^    Ended: $(date +%Y)-" "$T/login-ended.txt" || { cat "$T/login-ended.txt"; fail "the end of the login is not shown"; }
echo "ok: after logout the header shows its end"
stop_daemon
echo "tree: all checks passed"
