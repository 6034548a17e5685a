#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# A login made like pam_loginuid makes one: a process writes /proc/self/loginuid (the kernel gives it a
# new audit session), forks a session leader which starts a double-forked, setsid'ed sleeper.
# Prints "login PID", "sleeper PID", then holds the login process until stdin closes.
import os
import sys

uid = sys.argv[1]
r, w = os.pipe()
login = os.fork()
if login == 0:
    os.close(r)
    with open("/proc/self/loginuid", "w") as f:
        f.write(uid)
    leader = os.fork()
    if leader == 0:
        os.setsid()
        if os.fork() == 0:
            if os.fork() == 0:
                os.write(w, f"{os.getpid()}\n".encode())
                os.execv("/bin/sleep", ["sleep", "300"])
            os._exit(0)
        os.wait()
        os._exit(0)
    os.waitpid(leader, 0)
    os.close(w)
    sys.stdin.read()  # the login lasts until the test closes our stdin
    os._exit(0)
os.close(w)
sleeper = int(os.read(r, 64).decode().strip())
print(f"login {login}\nsleeper {sleeper}\nREADY", flush=True)
sys.stdin.read()
os.waitpid(login, 0)
