#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# P forks Q, Q forks a long-lived R and exits, P does not wait: Q stays a zombie until P reads a line.
# Prints "q PID", "r PID", READY; reaps Q on the first line of stdin, prints REAPED, then holds until EOF.
import os
import sys

r_read, r_write = os.pipe()
q = os.fork()
if q == 0:
    os.close(r_read)
    r = os.fork()
    if r == 0:
        os.close(r_write)
        os.execv("/bin/sleep", ["tg-zombie-r", "600"])
    os.write(r_write, b"%d\n" % r)
    os._exit(0)
os.close(r_write)
r = int(os.fdopen(r_read).readline())
import time
while True:  # Q has exited (a zombie) once its state says so
    with open(f"/proc/{q}/stat") as f:
        if f.read().rsplit(")", 1)[1].split()[0] == "Z":
            break
    time.sleep(0.01)
print(f"q {q}\nr {r}\nREADY", flush=True)
sys.stdin.readline()
os.waitpid(q, 0)
print("REAPED", flush=True)
sys.stdin.read()
os.kill(r, 9)
