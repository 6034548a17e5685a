#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Forged logins: an unprivileged process whose loginuid is unset writes 0 to it and execs a binary of its
# own named sshd with a made-up SSH_CONNECTION; another execs a root-owned set-user-ID binary after it.
# Both are recorded self-declared on every route; root doing the same is trusted.
. "$(dirname "$0")/lib.sh"

for tool in setpriv useradd busctl dbus-daemon; do
        command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 77; }
done
[ -w /proc/self/loginuid ] || { echo "SKIP: no audit loginuid in this kernel"; exit 77; }
# The forgers must start with an unset loginuid, as a service started without pam_loginuid does. Inside
# a login already, root may unset it (CAP_AUDIT_CONTROL) unless the kernel made loginuids immutable.
UNSET=
if [ "$(cat /proc/self/loginuid)" != 4294967295 ]; then
        sh -c 'echo 4294967295 > /proc/self/loginuid' 2>/dev/null ||
                { echo "SKIP: this test's loginuid is set ($(cat /proc/self/loginuid)) and cannot be unset (loginuid_immutable?)"; exit 77; }
        UNSET='echo 4294967295 > /proc/self/loginuid && '
fi

ADV=lineageforger
id "$ADV" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin "$ADV"
ADV_UID=$(id -u "$ADV")
ADV_GID=$(id -g "$ADV")
chmod 711 "$T"
install -d -o "$ADV" -m 755 "$T/adv"
install -o "$ADV" -m 755 "$(readlink -f /bin/sleep)" "$T/adv/sshd"   # the attacker's own "sshd"
install -d -m 755 "$T/suid"
install -o root -m 4755 "$(readlink -f /bin/sleep)" "$T/suid/login"  # root-owned, set-user-ID root

start_bus
start_daemon --dbus="$BUS"
NAME=org.lineaged.Lineage1
OBJ=/org/lineaged/Lineage1
for _ in $(seq 1200); do
        busctl --address="$BUS" status "$NAME" >/dev/null 2>&1 && break
        sleep 0.05
done
busctl --address="$BUS" status "$NAME" >/dev/null 2>&1 || fail "$NAME did not appear on the bus"

# forge WHO EXE LOGINUID: WHO (root or the unprivileged user) forks a process that writes LOGINUID to its
# own loginuid, then execs EXE 300, with a client address of its choosing in its environment. Sets PID.
# The writer is a fresh fork, not a fresh exec: lineaged reads nothing of it before EXE runs, so it
# finds the session in EXE (the service is EXE's name) whatever the load.
forge() {
        local who=(setpriv --reuid="$ADV_UID" --regid="$ADV_GID" --clear-groups --inh-caps=-all) out
        [ "$1" = root ] && who=()
        out=$(mktemp "$T/forger.XXXXXX")
        sh -c "$UNSET exec \"\$@\"" sh "${who[@]}" env SSH_CONNECTION="203.0.113.66 40404 127.0.0.1 22" \
                python3 -c '
import os, sys
exe, loginuid = sys.argv[1], sys.argv[2]
pid = os.fork()
if pid == 0:
    with open("/proc/self/loginuid", "w") as f:
        f.write(loginuid)
    os.execv(exe, [os.path.basename(exe), "300"])
print(pid, flush=True)
os.waitpid(pid, 0)' "$2" "$3" >"$out" &
        cleanup_pids "$!"
        PID=
        for _ in $(seq 1200); do
                PID=$(cat "$out")
                [ -n "$PID" ] && [ "$(readlink "/proc/$PID/exe" 2>/dev/null)" = "$(readlink -f "$2")" ] && break
                sleep 0.05
        done
        [ -n "$PID" ] || fail "the forger ($1, $2) did not start"
        cleanup_pids "$PID"
        [ "$(readlink "/proc/$PID/exe" 2>/dev/null)" = "$(readlink -f "$2")" ] ||
                fail "the forger ($1, $2) did not run it: it could not write its loginuid?"
        [ "$(cat "/proc/$PID/loginuid")" = "$3" ] || fail "pid $PID did not set its loginuid to $3"
}

# Polls until the daemon has recorded the login of pid $1 (it commits on a timer); prints GetOrigin.
origin_with_login() {
        local r
        for _ in $(seq 600); do
                r=$(vl GetOrigin "{\"pid\": $1}")
                [ -n "$(jget "$r" parameters.login.instance)" ] && { echo "$r"; return 0; }
                sleep 0.05
        done
        echo "$r" >&2
        fail "no login recorded for pid $1"
}

# The login of GetOrigin over D-Bus, as plain JSON.
dbus_login() {
        busctl --address="$BUS" --json=short call "$NAME" "$OBJ" "$NAME" GetOrigin utx "$1" 0 0 | python3 -c '
import json, sys
def plain(v):
    if isinstance(v, dict) and set(v) == {"type", "data"}:
        return plain(v["data"])
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v
reply = plain(json.load(sys.stdin))
reply = reply[0] if isinstance(reply, list) else reply
print(json.dumps(reply.get("login")))'
}

# checks_for PID SELF_DECLARED SERVICE LOGINUID: every route says the same of the login of PID.
# SERVICE "*": any (whatever it ran when the login was found).
checks_for() {
        local pid=$1 want=$2 service=$3 uid=$4 r li now l ctl session
        r=$(origin_with_login "$pid")
        li=$(jget "$r" parameters.login.instance)
        session=$(jget "$r" parameters.login.auditSession)
        check "pid $pid: the login began at it" "$li" "$(inst "$pid")"
        check "pid $pid: login uid" "$(jget "$r" parameters.login.loginUid)" "$uid"
        # "*": whichever image it ran when the login was found (the service is read once).
        [ "$service" = "*" ] && service=$(jget "$r" parameters.login.service)
        check "pid $pid: service" "$(jget "$r" parameters.login.service)" "$service"
        check "pid $pid: remote address" "$(jget "$r" parameters.login.remoteAddress)" 203.0.113.66
        check "pid $pid: GetOrigin selfDeclared" "$(jget "$r" parameters.login.selfDeclared)" "$want"
        r=$(vl ListLogins "{\"loginUid\": $uid}")
        l=$(python3 -c 'import json,sys; print(json.dumps(next(l for l in json.loads(sys.argv[1])["parameters"]["logins"] if l["instance"] == int(sys.argv[2]))))' "$r" "$li")
        check "pid $pid: ListLogins selfDeclared" "$(jget "$l" selfDeclared)" "$want"
        now=$(($(date +%s%6N)))
        r=$(vl ResolveBatch "{\"queries\": [{\"pid\": $pid, \"realtime\": $now}]}")
        check "pid $pid: ResolveBatch selfDeclared" "$(jget "$r" parameters.answers.0.login.selfDeclared)" "$want"
        l=$(dbus_login "$pid")
        check "pid $pid: D-Bus GetOrigin selfDeclared" "$(jget "$l" selfDeclared)" "$want"
        check "pid $pid: D-Bus login uid" "$(jget "$l" loginUid)" "$uid"
        check "pid $pid: database" "$(q "SELECT self_declared FROM login_list WHERE instance = $li")" \
                "$([ "$want" = true ] && echo 1 || echo 0)"
        ctl=$("$LINEAGECTL" --varlink="$SOCK" logins --user="$uid" | awk -v s="$session" '$1 == s')
        [ -n "$ctl" ] || fail "pid $pid: lineagectl logins does not list session $session"
        echo "lineagectl logins: $ctl"
        if [ "$want" = true ]; then
                for s in "$service (claimed)" "203.0.113.66:40404 (claimed)" "active, self-declared"; do
                        grep -qF -- "$s" <<<"$ctl" || fail "pid $pid: lineagectl logins does not say '$s'"
                done
                "$LINEAGECTL" --varlink="$SOCK" origin "$pid" | grep "self-declared" >/dev/null ||
                        fail "pid $pid: lineagectl origin does not say self-declared"
        else
                grep -qF "claimed" <<<"$ctl" && fail "pid $pid: a trusted login shown as claimed"
                grep -qF "self-declared" <<<"$ctl" && fail "pid $pid: a trusted login shown as self-declared"
        fi
        echo "ok: pid $pid: selfDeclared $want on varlink, D-Bus, the database and lineagectl"
}

echo "# the attack: an unprivileged process claims to be root's sshd login from 203.0.113.66"
forge "$ADV" "$T/adv/sshd" 0
checks_for "$PID" true sshd 0
kill "$PID"

echo "# privileged when found, not when it began: it set its loginuid, then ran a set-user-ID root binary"
forge "$ADV" "$T/suid/login" 0
if [ "$(awk '/^Uid:/ { print $3 }' "/proc/$PID/status")" != 0 ]; then
        echo "note: set-user-ID did not take effect (nosuid mount?): this part only shows the unprivileged case"
fi
checks_for "$PID" true login 0
kill "$PID"

echo "# root doing the same is a privileged process running a root-owned executable: trusted"
forge root "$(readlink -f /bin/sleep)" 4343
checks_for "$PID" false sleep 4343
kill "$PID"

echo "# root began the session, forked a child that stays root, then became the user (as systemd's"
echo "# user manager does, keeping \"(sd-pam)\"): found unprivileged, but its root child proves when it began"
SLEEP=$(readlink -f /bin/sleep)
sh -c "$UNSET exec \"\$@\"" sh env SSH_CONNECTION="203.0.113.66 40404 127.0.0.1 22" python3 -c '
import os, sys
uid, gid, sleep = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open("/proc/self/loginuid", "w") as f:
    f.write("4344")
if os.fork() == 0:
    os.execv(sleep, ["sleep", "301"])
os.setgroups([])
os.setresgid(gid, gid, gid)
os.setresuid(uid, uid, uid)
os.execv(sleep, ["sleep", "300"])' "$ADV_UID" "$ADV_GID" "$SLEEP" &
PID=$!
cleanup_pids "$PID"
CHILD=
for _ in $(seq 1200); do
        CHILD=$(pgrep -P "$PID" -x sleep || true)
        [ "$(readlink "/proc/$PID/exe" 2>/dev/null)" = "$SLEEP" ] && [ "$(stat -c %u "/proc/$PID")" = "$ADV_UID" ] &&
                [ -n "$CHILD" ] && break
        sleep 0.05
done
[ -n "$CHILD" ] || fail "the root child of $PID is missing"
cleanup_pids "$CHILD"
checks_for "$PID" false "*" 4344
kill "$PID" "$CHILD"

stop_daemon
echo "forged-login: all checks passed"
