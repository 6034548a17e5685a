#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Escapes are unambiguous: an argument or executable path holding the text "\x1b" and one holding a real
# ESC byte print differently, in the database, in JSON and in lineagectl's text (issue 11, item 9).
. "$(dirname "$0")/lib.sh"

ESC=$(printf '\033')
recorded() { [ -n "$(q "SELECT argv FROM instances WHERE pid = $1 AND argv IS NOT NULL")" ]; }

start_daemon
# One executable named with a real ESC, one named with the text \x1b; each gets both kinds of argument.
# (bash, which stays with its arguments while it waits for its child.)
cp "$(command -v bash)" "$T/real${ESC}esc"
cp "$(command -v bash)" "$T/text\\x1besc"
"$T/real${ESC}esc" -c 'sleep 300; :' "a${ESC}b" 'a\x1bb' >/dev/null 2>&1 &
REAL=$!
"$T/text\\x1besc" -c 'sleep 300; :' "a${ESC}b" 'a\x1bb' >/dev/null 2>&1 &
TEXT=$!
cleanup_pids "$REAL" "$TEXT"
wait_for "the execs to be recorded" recorded "$TEXT"
wait_for "the execs to be recorded" recorded "$REAL"

check "argv in the database" "$(q "SELECT argv FROM instances WHERE pid = $REAL")" \
        "[\"$T/real\\\\x1besc\",\"-c\",\"sleep 300; :\",\"a\\\\x1bb\",\"a\\\\\\\\x1bb\"]"
r=$(vl GetOrigin "{\"pid\": $REAL}")
check "argv over varlink" "$(jget "$r" parameters.process.argv)" \
        "[\"$T/real\\\\x1besc\", \"-c\", \"sleep 300; :\", \"a\\\\x1bb\", \"a\\\\\\\\x1bb\"]"

for pid in "$REAL" "$TEXT"; do
        "$LINEAGECTL" --varlink="$SOCK" history "$pid" >"$T/history.$pid" || fail "lineagectl history $pid failed"
        ! grep -q "$ESC" "$T/history.$pid" || fail "a raw ESC reached the terminal"
done
cat "$T/history.$REAL"
grep -qF 'a\x1bb a\\x1bb' "$T/history.$REAL" || fail "the two arguments do not print differently"
echo 'ok: arguments print as a\x1bb (ESC) and a\\x1bb (the text)'
grep -qF "$T/real\\x1besc" "$T/history.$REAL" || fail "the executable with an ESC is not shown as \\x1b"
grep -qF "$T/text\\\\x1besc" "$T/history.$TEXT" || fail "the executable named \\x1b is not shown as \\\\x1b"
echo 'ok: executables print as real\x1besc (ESC) and text\\x1besc (the text)'
pkill -P "$REAL" sleep || true
pkill -P "$TEXT" sleep || true
stop_daemon
echo "escape: all checks passed"
