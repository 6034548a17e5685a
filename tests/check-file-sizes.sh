#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# One concern per file: no source file of the daemon or the client grows past 1500 lines (issue 12).
set -eu
max=1500
over=0
for f in "$1"/daemon/*.c "$1"/daemon/*.h "$1"/client/*.c "$1"/client/*.h; do
        n=$(wc -l <"$f")
        if [ "$n" -gt "$max" ]; then
                echo "$f: $n lines, over $max: split it at a seam"
                over=1
        fi
done
[ "$over" = 0 ] && echo "ok: every daemon/ and client/ source file has at most $max lines"
exit "$over"
