#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Prints the median and p90 length in lines of the C functions in the files given (default daemon/*.c client/*.c)."""
# A function runs from the first column-0 line of its signature to its closing brace at column 0, both
# counted (house style: the opening brace ends the signature's last line, the closing one stands alone).
# p90 is the nearest-rank percentile, so the figure is a length some function really has.
import glob
import math
import re
import statistics
import sys

NOT_FUNCTION = re.compile(r"^(typedef\s+)?(struct|union|enum)\b[^(]*\{$")


def function_lengths(path):
    """Returns [(name, lines)] for every function defined in the file at path."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    found, start, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        if not line or line[0] in " \t#}" or line.startswith(("/*", "//", " *")):
            i += 1
            continue
        # A line at column 0 starts a declaration; an indented continuation keeps the start.
        start = i
        head = line
        while not head.rstrip().endswith(("{", ";")) and i + 1 < len(lines) and lines[i + 1][:1] in (" ", "\t"):
            i += 1
            head += " " + lines[i].strip()
        head = head.rstrip()
        is_function = (head.endswith("{") and "(" in head and "=" not in head.split("(", 1)[0]
                       and not NOT_FUNCTION.match(head))
        if not is_function:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not lines[end].startswith("}"):
            end += 1
        name = re.findall(r"(\w+)\s*\(", head.split("(", 1)[0] + "(")
        found.append((name[-1] if name else "?", end - start + 1))
        i = end + 1
    return found


def main(argv):
    paths = argv[1:] or sorted(glob.glob("daemon/*.c") + glob.glob("client/*.c"))
    lengths = [n for p in paths for _, n in function_lengths(p)]
    if not lengths:
        print("no functions found", file=sys.stderr)
        return 1
    lengths.sort()
    p90 = lengths[math.ceil(0.9 * len(lengths)) - 1]
    print(f"{len(lengths)} functions in {len(paths)} files: median {statistics.median(lengths):g} lines, "
          f"p90 {p90} lines, longest {lengths[-1]} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
