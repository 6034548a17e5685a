#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every option that `lineagectl --help` and `lineaged --help` list is described in the OPTIONS of the
# man page (a .TP entry of its own), and every verb of lineagectl is in its COMMANDS.
# Usage: test-man-options.sh LINEAGECTL LINEAGED MANDIR
set -euo pipefail
LINEAGECTL=$1 LINEAGED=$2 MANDIR=$3

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
