#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# A creator C, reparented before it calls clone(CLONE_PARENT): its child X gets C's current parent
# as parent. Mode "alive": C stays; mode "exit": C exits after the clone. Prints "c PID", "x PID",
# "reaper PID" (C's parent when it cloned), READY; holds until stdin reaches EOF, then kills X.
import ctypes
import os
import signal
import sys
import time

SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(os.uname().machine)
CLONE_PARENT, SIGCHLD = 0x8000, 17
if SYS_CLONE is None:
    print("SKIP", flush=True)
    sys.exit(0)
libc = ctypes.CDLL(None, use_errno=True)
mode = sys.argv[1]
report_r, report_w = os.pipe()
hold_r, hold_w = os.pipe()

p = os.fork()
if p == 0:
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):  # P and C hold none of the test's pipes
        os.dup2(null, fd)
    p_pid = os.getpid()
    if os.fork() == 0:
        while os.getppid() == p_pid:  # until P has exited and C is reparented
            time.sleep(0.01)
        reaper = os.getppid()
        x = libc.syscall(SYS_CLONE, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0)
        if x == 0:
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):  # hold none of the test's pipes
                os.dup2(null, fd)
            os.execv("/bin/sleep", ["tg-cp-x", "600"])
        os.write(report_w, f"c {os.getpid()}\nx {x}\nreaper {reaper}\n".encode())
        os.close(report_w)
        if mode == "alive":
            os.close(hold_w)
            os.read(hold_r, 1)
        os._exit(0)
    os._exit(0)
os.waitpid(p, 0)
os.close(report_w)
os.close(hold_r)
with os.fdopen(report_r) as f:
    report = f.read()
x = int(report.split("x ")[1].split()[0])
print(report + "READY", end="\n", flush=True)
sys.stdin.read()
os.kill(x, signal.SIGKILL)
