#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Builds a tree of N varied processes for the start-up scan test, prints their pids, then READY.

Usage: scan-tree.py N. The processes differ in what a scan reads: setsid, uid/gid changes, new audit
sessions (loginuid written), several threads, exec'd shells with odd argv bytes, and orphans
reparented to pid 1 or to a subreaper. Each prints "PID" when it is in its final state; the tree
lives until stdin reaches EOF, then every process exits (each one blocks reading the same pipe).
"""
import os
import sys
import threading

N = int(sys.argv[1])
hold_r, hold_w = os.pipe()        # EOF on hold_r ends every process of the tree
report_r, report_w = os.pipe()    # each process writes its pid here when it is ready
os.set_inheritable(hold_r, True)
os.set_inheritable(report_w, True)


def report(pid):
    os.write(report_w, b"%d\n" % pid)


def hold():
    os.read(hold_r, 1)
    os._exit(0)


def become_early(k):
    """What node k makes of itself before it forks: its children inherit it."""
    if k % 4 == 1:
        os.setsid()
    if k % 6 == 3:
        try:
            with open("/proc/self/loginuid", "w") as f:
                f.write(str(1000 + k))
        except OSError:
            pass  # not allowed here (loginuid immutable): the scan must still agree with /proc


def become_late(k):
    """...and after: a changed uid would keep its children from changing theirs."""
    if k % 9 == 5:
        for _ in range(2):
            threading.Thread(target=lambda: os.read(hold_r, 1), daemon=True).start()
    if k % 5 == 2:
        os.setresgid(100 + k % 3, 200 + k % 3, 0)
        os.setresuid(1000 + k % 7, 2000 + k % 7, 0)


def node(k):
    """Node k: children 3k+1..3k+3, then some orphan a grandchild, some exec a shell."""
    become_early(k)
    for c in range(3 * k + 1, 3 * k + 4):
        if c < N and os.fork() == 0:
            node(c)
    become_late(k)
    if k % 11 == 6:
        # An orphan: the middle process exits at once; the grandchild is reparented.
        mid = os.fork()
        if mid == 0:
            mid = os.getpid()
            if os.fork() == 0:
                while os.getppid() == mid:
                    os.sched_yield()
                report(os.getpid())
                hold()
            os._exit(0)
        os.waitpid(mid, 0)
    if k % 7 == 4:
        # A shell with an argv of odd bytes, an empty argument and spaces; it reports itself.
        os.dup2(hold_r, 3)
        os.dup2(report_w, 4)
        os.execv(b"/bin/sh", [b"sh", b"-c", b"echo $$ >&4; read x <&3; :", b"name\xff\xfe", b"",
                              b"sp ace", "\u00e9t\u00e9".encode()])
    report(os.getpid())
    hold()


def main():
    expected = N + len([k for k in range(N) if k % 11 == 6])
    root = os.fork()
    if root == 0:
        os.close(hold_w)
        os.close(report_r)
        node(0)
    os.close(hold_r)
    os.close(report_w)
    pids = []
    buf = b""
    while len(pids) < expected:
        data = os.read(report_r, 4096)
        if not data:
            sys.exit("scan-tree: a process died before it was ready")
        buf += data
        *lines, buf = buf.split(b"\n")
        pids += [int(x) for x in lines]
    for p in pids:
        print(p)
    print("READY", flush=True)
    sys.stdin.read()
    os.close(hold_w)
    os.waitpid(root, 0)


main()
