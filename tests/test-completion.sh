#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bash completion of lineagectl, sourced into this shell: commands, options, option values, pids,
# and every option of `lineagectl --help` offered.
# Usage: test-completion.sh COMPLETION-FILE LINEAGECTL
set -euo pipefail
COMPLETION=$1 LINEAGECTL=$2
# shellcheck source=/dev/null
. "$COMPLETION"
failures=0

# comp WORD...: completes the last word as bash would with these words on the line; prints the
# candidates, sorted, on one line.
comp() {
        COMP_WORDS=("$@")
        COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        COMPREPLY=()
        _lineagectl
        printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

# expect DESCRIPTION WANT WORD...: the candidates are exactly WANT.
expect() {
        local desc=$1 want=$2 got
        shift 2
        got=$(comp "$@")
        if [ "$got" = "$want" ]; then
                echo "ok: $desc: $got"
        else
                echo "FAIL: $desc: got '$got', want '$want'"
                failures=$((failures + 1))
        fi
}

# contains DESCRIPTION WANT WORD...: WANT is among the candidates.
contains() {
        local desc=$1 want=$2 got
        shift 2
        got=" $(comp "$@") "
        if [[ $got == *" $want "* ]]; then
                echo "ok: $desc offers $want"
        else
                echo "FAIL: $desc: '$want' not in '$got'"
                failures=$((failures + 1))
        fi
}

expect "commands" "ancestors caba descendants enrich help history logins origin resolve search status tree watch" lineagectl ""
expect "a command by its start" "tree" lineagectl tr
expect "a command after options" "logins" lineagectl --json=short --utc lo
expect "help COMMAND" "history" lineagectl help hi
expect "an option by its start" "--format=" lineagectl --fo
expect "--json= values" "pretty short" lineagectl --json =
expect "--json=p" "pretty" lineagectl --json = p
expect "--format= values" "dot text" lineagectl tree --format =
expect "--dbus=s" "session system" lineagectl --dbus = s
expect "--since=ye" "yesterday" lineagectl logins --since = ye
expect "--since as two words" "today tomorrow" lineagectl logins --since to
expect "--type=" "comm coredump exec exit fork gid ptrace sid uid" lineagectl watch --type =
expect "--type=exec,e: the list's last element" "exec,exec exec,exit" lineagectl watch --type = exec,e
contains "--user=ro" root lineagectl logins --user = ro
contains "a pid after origin" 1 lineagectl origin ""
contains "a pid after tree --alive" "$$" lineagectl tree --alive ""
expect "nothing after origin PID" "" lineagectl origin 1 ""
expect "resolve PID TIME" "now" lineagectl resolve 1 no
expect "nothing for --limit's value" "" lineagectl --limit = ""

# Every option of --help is offered after "-" ("--opt=" for those taking a value).
ALL=" $(comp lineagectl -) "
for o in $("$LINEAGECTL" --help | grep -oE '^ +(-[a-z] +)?--[a-z][a-z-]*' | grep -oE -- '--?[a-z][a-z-]*'); do
        if [[ $ALL == *" $o "* || $ALL == *" $o= "* ]]; then
                echo "ok: $o is completed"
        else
                echo "FAIL: $o of --help is not completed"
                failures=$((failures + 1))
        fi
done
# And every command of --help.
for v in $("$LINEAGECTL" --help | sed -n '/^Commands:/,/^$/p' | grep -oE '^  [a-z]+'); do
        [[ " $(comp lineagectl "") " == *" $v "* ]] || { echo "FAIL: the command $v is not completed"; failures=$((failures + 1)); }
done
[ "$(complete -p lineagectl)" = "complete -F _lineagectl lineagectl" ] || { echo "FAIL: not registered for lineagectl"; failures=$((failures + 1)); }
echo "$failures failure(s)"
[ "$failures" -eq 0 ]
