#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The same questions over varlink (lineagectl), D-Bus (lineagectl --dbus) and busctl: identical, correct.
. "$(dirname "$0")/lib.sh"

start_bus
start_daemon --dbus="$BUS"
for _ in $(seq 100); do busctl --address="$BUS" status org.lineaged.Lineage1 >/dev/null 2>&1 && break; sleep 0.05; done

# busctl's typed JSON ({"type": "a{sv}", "data": [...]}) made plain, as lineagectl prints it.
cat >"$T/plain.py" <<'PY'
import json, sys
def plain(sig, v):
    if sig.startswith("a{sv}") or sig == "a{sv}":
        return {k: plain(x["type"], x["data"]) for k, x in v.items()}
    if sig.startswith("aa{sv}"):
        return [plain("a{sv}", e) for e in v]
    if sig.startswith("a"):
        return [plain(sig[1:], e) for e in v]
    return v
r = json.load(sys.stdin)
print(json.dumps(plain(r["type"], r["data"][0]), sort_keys=True))
PY
norm() { python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))'; }
ctl() { "$LINEAGECTL" --varlink="$SOCK" --json=short "$@"; }
ctl_dbus() { "$LINEAGECTL" --dbus="$BUS" --json=short "$@"; }
bus() { busctl --address="$BUS" --json=short call org.lineaged.Lineage1 /org/lineaged/Lineage1 org.lineaged.Lineage1 "$@"; }

# same NAME VARLINK-JSON DBUS-JSON BUSCTL-JSON: all three identical.
same() {
        local a b c
        a=$(norm <<<"$2") b=$(norm <<<"$3") c=$(python3 "$T/plain.py" <<<"$4")
        [ "$a" = "$b" ] || { diff <(echo "$a" | python3 -m json.tool) <(echo "$b" | python3 -m json.tool); fail "$1: varlink and D-Bus differ"; }
        [ "$a" = "$c" ] || { diff <(echo "$a" | python3 -m json.tool) <(echo "$c" | python3 -m json.tool); fail "$1: lineagectl and busctl differ"; }
        echo "ok: $1: identical over varlink, lineagectl --dbus and busctl"
}

echo "# the birth chain of a double-forked process"
tree double-fork
settle
D=${PIDS[df-daemon]}
V=$(ctl origin "$D")
same "origin of df-daemon" "$V" "$(ctl_dbus origin "$D")" "$(bus GetOrigin utx "$D" 0 0)"
check "nearest ancestor" "$(jget "$V" ancestors.0.pid)" "${PIDS[df-child]}"
check "next ancestor" "$(jget "$V" ancestors.1.pid)" "${PIDS[df-parent]}"
check "df-child exited" "$(jget "$V" ancestors.0.alive)" false
check "df-daemon's current parent is not its birth parent" "$(jget "$V" process.parentPid)" "${PIDS[df-daemon-ppid]}"
"$LINEAGECTL" --varlink="$SOCK" origin "$D" > "$T/origin.txt"
grep -q "Chain, nearest first:" "$T/origin.txt" || fail "human output lacks the chain"
grep -q "exited" "$T/origin.txt" || fail "human output does not mark exited ancestors"
release_tree

echo "# descendants of a shell that has exited"
sh -c 'sleep 300 >/dev/null 2>&1 & echo $!; sleep 300 >/dev/null 2>&1 & echo $!; echo $$' > "$T/sh.pid"
{ read -r S1; read -r S2; read -r SH; } < "$T/sh.pid"
wait_exec "$S1" "$(command -v sleep)"
wait_exec "$S2" "$(command -v sleep)"
settle
SHI=$(inst "$SH")
cleanup_pids $(q "SELECT pid FROM instances WHERE birth_parent = $SHI")
V=$(ctl descendants "@$SHI")
same "descendants of the exited shell" "$V" "$(ctl_dbus descendants "@$SHI")" "$(bus GetDescendants utxub 0 "$SHI" 0 0 false)"
check "the shell has exited" "$(jget "$V" process.alive)" false
check "both sleepers listed" "$(jget "$V" descendants.0.argv.0) $(jget "$V" descendants.1.argv.0)" "sleep sleep"
check "they were reparented" "$(jget "$V" descendants.0.parentPid)" "$(awk '{print $4}' "/proc/$(jget "$V" descendants.0.pid)/stat")"

echo "# Resolve of a reused pid"
python3 - "$T" <<'PY'
import os, sys, time
t = sys.argv[1]

def child():
    """A child that lives until its pipe is closed: its lifetime does not depend on the machine's load."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    return pid, w

def end(pid, w):
    os.close(w)
    os.waitpid(pid, 0)

# The pauses keep the asked times well inside each lifetime, whatever the daemon's clock conversion.
a, wa = child()
time.sleep(0.2)
t_a = int(time.time() * 1e6)
time.sleep(0.2)
end(a, wa)
time.sleep(0.2)
for _ in range(50):  # ask the kernel for the same pid again
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(a - 1))
    b, wb = child()
    if b == a:
        break
    end(b, wb)
else:
    sys.exit("could not get pid %d again" % a)
time.sleep(0.2)
open(t + "/reuse", "w").write(f"{a} {t_a} {int(time.time() * 1e6)}\n")
end(b, wb)
PY
read -r P TA TB < "$T/reuse"
settle
VA=$(ctl resolve "$P" "$TA")
VB=$(ctl resolve "$P" "$TB")
same "resolve at the first time" "$VA" "$(ctl_dbus resolve "$P" "$TA")" "$(bus Resolve uxs "$P" "$TA" "")"
[ "$(jget "$VA" process.instance)" != "$(jget "$VB" process.instance)" ] || fail "the two holders of pid $P were not told apart"
check "first holder started before the second" \
        "$(python3 -c 'import sys; print(int(sys.argv[1]) < int(sys.argv[2]))' "$(jget "$VA" process.startTime)" "$(jget "$VB" process.startTime)")" True
check "first holder had exited" "$(jget "$VA" process.alive)" false
echo "ok: pid $P resolved to instance $(jget "$VA" process.instance), then $(jget "$VB" process.instance)"

echo "# an executable whose path is not UTF-8: answers stay valid JSON (U+FFFD for the bad byte)"
mkdir -p "$T/bin"
BADEXE="$T/bin/$(printf 'sl\377ep')"
cp /bin/sleep "$BADEXE"
"$BADEXE" 300 &
BAD=$!
cleanup_pids "$BAD"
wait_exec "$BAD" "$BADEXE"
settle
for m in GetOrigin GetAncestors GetHistory; do
        r=$(vl "$m" "{\"pid\": $BAD}") || fail "$m of a process with a non-UTF-8 exe failed (invalid JSON?)"
done
r=$(vl GetOrigin "{\"pid\": $BAD}")
check "exe with U+FFFD" "$(jget "$r" parameters.process.exe)" "$T/bin/sl"$'\ufffd'ep
r=$(vl GetDescendants "{\"pid\": $$}") || fail "GetDescendants with a non-UTF-8 exe failed"
kill "$BAD"

echo "# errors and exit codes"
set +e
"$LINEAGECTL" --varlink="$SOCK" origin 999999999 2>/dev/null; check "no such process exit code" $? 3
"$LINEAGECTL" --varlink="$T/nothing" status 2>/dev/null; check "daemon not running exit code" $? 5
set -e
stop_daemon
echo "queries: all checks passed"
