#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Which login spawned it: a pam_loginuid-style login, a system process with none, and a real sshd login.
. "$(dirname "$0")/lib.sh"

[ -w /proc/self/loginuid ] || { echo "SKIP: no audit loginuid in this kernel"; exit 77; }
if [ "$(cat /proc/self/loginuid)" != 4294967295 ]; then
        echo "SKIP: this test runs inside a login already (loginuid $(cat /proc/self/loginuid)); it needs an unset loginuid"
        exit 77
fi
start_daemon

# sleeper_in_login PREFIX INSTANCE PID: the login INSTANCE has the sleeper PID among its descendants.
sleeper_in_login() {
        lists_descendant "$(vl GetDescendants "{\"instance\": $2}")" "$3" ||
                fail "${1}the sleeper is not among the login's descendants"
        echo "ok: ${1}the sleeper is a descendant of the login"
}

echo "# a login without sshd: loginuid written, then fork, setsid, double fork"
fake_login 4242
settle
# Taken while the login process lives: once it has exited, its pid may go to another process.
IL=$(inst "${L[login]}")
# mine REPLY FIELD: FIELD of this login in a ListLogins reply ("absent" if it is not listed). The
# daemon records the whole machine, where another test run may have a login of 4242 too.
mine() {
        python3 -c 'import json,sys
for l in json.loads(sys.argv[1])["parameters"]["logins"]:
    if l["instance"] == int(sys.argv[2]):
        v = l.get(sys.argv[3])
        print("" if v is None else json.dumps(v) if isinstance(v, bool) else v)
        break
else:
    print("absent")' "$1" "$IL" "$2"
}
r=$(vl GetOrigin "{\"pid\": ${L[sleeper]}}")
check "login found for the sleeper" "$(jget "$r" parameters.login.loginUid)" 4242
check "login began at the loginuid writer" "$(jget "$r" parameters.login.instance)" "$IL"
check "its audit session" "$(jget "$r" parameters.login.auditSession)" "$(cat "/proc/${L[login]}/sessionid")"
check "the login is alive" "$(jget "$r" parameters.login.alive)" true
check "service" "$(jget "$r" parameters.login.service)" "$(basename "$(readlink "/proc/${L[login]}/exe")")"
check "begun by root running a root-owned python3: trusted" "$(jget "$r" parameters.login.selfDeclared)" false
r=$(vl ListLogins '{"loginUid": 4242}')
check "ListLogins by user" "$(mine "$r" instance)" "$IL"
fake_logout   # log out
settle
r=$(vl ListLogins '{"loginUid": 4242}')
check "the login ended" "$(mine "$r" alive)" false
[ -n "$(mine "$r" endTime)" ] || fail "no end time"
r=$(vl GetOrigin "{\"pid\": ${L[sleeper]}}")
check "the sleeper outlived its login, still attributed" "$(jget "$r" parameters.login.loginUid)" 4242
r=$(vl ListLogins '{"aliveOnly": true, "loginUid": 4242}')
check "the ended login is not listed as alive" "$(mine "$r" instance)" absent
sleeper_in_login "" "$IL" "${L[sleeper]}"
kill "${L[sleeper]}"

echo "# a system process: no login, with the reason"
setsid sleep 300 >/dev/null 2>&1 &
SYS=$!
cleanup_pids "$SYS"
settle
r=$(vl GetOrigin "{\"pid\": $SYS}")
check "no login" "$(jget "$r" parameters.login)" ""
[ -n "$(jget "$r" parameters.loginReason)" ] || fail "no reason given"
echo "ok: reason: $(jget "$r" parameters.loginReason)"

echo "# a real sshd login on 127.0.0.1"
start_sshd lineagetest
HOME_DIR=$(getent passwd "$USER_NAME" | cut -d: -f6)
"${SSH[@]}" \
        "$USER_NAME@127.0.0.1" "setsid sh -c 'sleep 300 >/dev/null 2>&1 & echo \$! > /tmp/lineage-ssh-sleeper'; exit" \
        2>"$T/ssh/client.log" || { cat "$T/ssh/client.log" "$T/ssh/sshd.log"; fail "ssh login failed"; }
SLEEPER=$(cat /tmp/lineage-ssh-sleeper); rm -f /tmp/lineage-ssh-sleeper
cleanup_pids "$SLEEPER"
settle
r=$(vl GetOrigin "{\"pid\": $SLEEPER}")
check "ssh: user" "$(jget "$r" parameters.login.user)" "$USER_NAME"
check "ssh: login uid" "$(jget "$r" parameters.login.loginUid)" "$USER_UID"
check "ssh: service" "$(jget "$r" parameters.login.service)" sshd
check "ssh: remote address" "$(jget "$r" parameters.login.remoteAddress)" 127.0.0.1
check "ssh: without -t, no terminal" "$(jget "$r" parameters.login.tty)" ""
check "ssh: begun by sshd as root: trusted" "$(jget "$r" parameters.login.selfDeclared)" false
[ -n "$(jget "$r" parameters.login.auditSession)" ] || fail "ssh: no audit session"
check "ssh: sleeper's audit session is the login's" "$(jget "$r" parameters.process.auditSession)" "$(jget "$r" parameters.login.auditSession)"
LOGIN_INSTANCE=$(jget "$r" parameters.login.instance)
settle
r=$(vl ListLogins "{\"loginUid\": $USER_UID}")
check "ssh: the login has ended after logout" "$(jget "$r" parameters.logins.0.alive)" false
sleeper_in_login "ssh: " "$LOGIN_INSTANCE" "$SLEEPER"

echo "# an ssh -tt login with a terminal, through Debian's stock /etc/pam.d/sshd"
# UsePAM yes with service sshd: the stock stack, where pam_motd runs sh -c, run-parts and
# /etc/update-motd.d/* (none with a terminal) in the session before the shell on the pty.
grep -q '^[^#]*pam_motd' /etc/pam.d/sshd || echo "note: /etc/pam.d/sshd has no pam_motd here"
# Debian ships one motd script (10-uname), others (Ubuntu) a dozen: add one that execs a few programs
# over a moment, so that the execs before the shell do not depend on how the daemon batches events.
if [ -d /etc/update-motd.d ]; then
        MOTD_SCRIPT=/etc/update-motd.d/50-lineage-test-$$
        trap 'rm -f "$MOTD_SCRIPT"; cleanup' EXIT
        printf '#!/bin/sh\nfor n in 1 2 3 4 5; do true; sleep 0.05; /bin/true; done\n' >"$MOTD_SCRIPT"
        chmod 755 "$MOTD_SCRIPT"
fi
TTY_FILE="$HOME_DIR/lineage-tty-$PORT"
rm -f "$TTY_FILE" "$TTY_FILE.new"
"${SSH[@]}" -tt \
        "$USER_NAME@127.0.0.1" "echo \$\$ \$(tty) > $TTY_FILE.new && mv $TTY_FILE.new $TTY_FILE && exec sleep 300" \
        </dev/null >"$T/ssh/tty-client.log" 2>&1 &
SSH_TT=$!
cleanup_pids "$SSH_TT"
tty_written() {
        [ -s "$TTY_FILE" ] || { kill -0 "$SSH_TT" 2>/dev/null || { cat "$T/ssh/tty-client.log" "$T/ssh/sshd.log"; fail "ssh -tt login failed"; }; false; }
}
wait_for "the ssh -tt login's shell to write its terminal" tty_written
read -r TT_PID TT_DEV < "$TTY_FILE"
rm -f "$TTY_FILE"
cleanup_pids "$TT_PID"
case "$TT_DEV" in /dev/pts/*) ;; *) fail "ssh -tt: the shell's terminal is '$TT_DEV', not a pts";; esac
check "ssh -tt: the shell's standard input is its terminal" "$(readlink "/proc/$TT_PID/fd/0")" "$TT_DEV"
wait_exec "$TT_PID" "$(command -v sleep)"
settle
r=$(vl GetOrigin "{\"pid\": $TT_PID}")
check "ssh -tt: user" "$(jget "$r" parameters.login.user)" "$USER_NAME"
check "ssh -tt: tty" "$(jget "$r" parameters.login.tty)" "${TT_DEV#/dev/}"
TT_LOGIN=$(jget "$r" parameters.login.instance)
r=$(vl ListLogins "{\"loginUid\": $USER_UID}")
check "ssh -tt: ListLogins tty" "$(python3 -c 'import json,sys
for l in json.loads(sys.argv[1])["parameters"]["logins"]:
    if l["instance"] == int(sys.argv[2]):
        print(l.get("tty") or "")
        break
else:
    print("absent")' "$r" "$TT_LOGIN")" "${TT_DEV#/dev/}"
"$LINEAGECTL" --varlink="$SOCK" logins >"$T/logins.txt"
grep -q "^ *[0-9]* *$USER_UID *$USER_NAME *sshd *${TT_DEV#/dev/} " "$T/logins.txt" ||
        { cat "$T/logins.txt"; fail "ssh -tt: lineagectl logins does not show ${TT_DEV#/dev/}"; }
echo "ok: ssh -tt: lineagectl logins shows ${TT_DEV#/dev/}"
kill "$SSH_TT" "$TT_PID" 2>/dev/null || true
rm -f "${MOTD_SCRIPT:-}"
kill "$SLEEPER" "$SSHD" 2>/dev/null || true
stop_daemon
echo "logins: all checks passed"
