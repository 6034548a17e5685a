#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every option that `lineagectl --help` and `lineaged --help` list is described in the OPTIONS of the
# man page (a .TP entry of its own), and every verb of lineagectl is in its COMMANDS; a bare
# `lineagectl` and `lineagectl help` show the help, `lineagectl help VERB` that verb's options.
# Usage: test-man-options.sh LINEAGECTL LINEAGED MANDIR
set -euo pipefail
LINEAGECTL=$1 LINEAGED=$2 MANDIR=$3

fail() { echo "FAIL: $*"; exit 1; }
HELP=$("$LINEAGECTL" --help)
[ "$("$LINEAGECTL")" = "$HELP" ] || fail "a bare lineagectl does not show the help"
[ "$("$LINEAGECTL" help)" = "$HELP" ] || fail "lineagectl help does not show the help"
"$LINEAGECTL" help tree >"${TMPDIR:-/tmp}/help-tree.$$"
grep -q -- "--login=INSTANCE" "${TMPDIR:-/tmp}/help-tree.$$" && grep -q -- "--format=text|dot" "${TMPDIR:-/tmp}/help-tree.$$" ||
        fail "help tree does not list --login and --format"
grep -q -- "--user" "${TMPDIR:-/tmp}/help-tree.$$" && fail "help tree lists an option of logins"
rm -f "${TMPDIR:-/tmp}/help-tree.$$"
[[ $("$LINEAGECTL" help logins) == *--since=TIME* ]] || fail "help logins does not list --since"
set +e
"$LINEAGECTL" help nosuchverb >/dev/null 2>&1
[ $? -eq 2 ] || fail "help of an unknown command is not a usage error"
set -e
echo "ok: lineagectl, lineagectl help and help VERB"

python3 - "$LINEAGECTL" "$LINEAGED" "$MANDIR" <<'PY'
import re, subprocess, sys
ctl, daemon, mandir = sys.argv[1:]
failures = 0

def help_options(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
    opts = set()
    for line in out.splitlines():
        # An option is defined where a help line begins with it: "  -l --full", "     --at=TIME".
        m = re.match(r"\s+((?:-[a-zA-Z]\s+)?--[a-z][a-z0-9-]*)", line)
        if m:
            opts.update(re.findall(r"--?[a-zA-Z][a-z0-9-]*", m.group(1)))
    return out, opts

def man_tags(path):
    """The tags of the .TP entries of a man page, with the roff escapes undone."""
    lines = open(path).read().splitlines()
    tags = []
    for i, line in enumerate(lines[:-1]):
        if line.startswith(".TP"):
            t = lines[i + 1]
            t = re.sub(r"\\f[BIRP]", "", t).replace("\\-", "-")
            tags.append(t)
    return tags

def check(binary, page):
    global failures
    out, opts = help_options(binary)
    tags = man_tags(page)
    for o in sorted(opts):
        if not any(re.search(r"(^|[\s\"])" + re.escape(o) + r"($|[\s=\[\"|,])", t) for t in tags):
            print(f"FAIL: {o} is in `{binary} --help` but has no entry in {page}")
            failures += 1
        else:
            print(f"ok: {o} is described in {page}")
    return out

check(daemon, f"{mandir}/lineaged.8")
out = check(ctl, f"{mandir}/lineagectl.1")
# Every command of `lineagectl --help` has its .TP entry in COMMANDS.
commands = re.search(r"Commands:\n(.*?)\n\n", out, re.S).group(1)
verbs = [m.group(1) for m in re.finditer(r"^  ([a-z]+)\b", commands, re.M)]
tags = man_tags(f"{mandir}/lineagectl.1")
for v in verbs:
    if not any(re.match(r"\.B[IR]? " + v + r"\b", t) for t in tags):
        print(f"FAIL: the command {v} has no entry in lineagectl.1")
        failures += 1
    else:
        print(f"ok: the command {v} is described")
if len(verbs) < 10:
    print(f"FAIL: only {len(verbs)} commands found in --help")
    failures += 1
sys.exit(1 if failures else 0)
PY
