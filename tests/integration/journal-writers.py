#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Processes that log through logger and systemd-cat, in and out of a login, in a pid namespace, and under a reused pid.
#
# journal-writers.py VARLINK-SOCKET LOGIN-UID
#
# Every writer logs one line "lineage-journal-test TAG" and is kept alive until lineaged names it (the
# live holder of its pid, started after it was spawned), then it exits. Prints one JSON object per
# writer: tag, pid, instance, comm, and login (the GetOrigin login of the login process, or null),
# then "DONE". Every writer has exited, and the login has ended, when this program exits.
import json
import os
import socket
import sys
import time

SOCK = sys.argv[1]
LOGIN_UID = sys.argv[2]
DEV_LOG = "/run/systemd/journal/dev-log"
PREFIX = "lineage-journal-test"


def call(method, params):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(SOCK)
    s.sendall(json.dumps({"method": "org.lineaged.Lineage." + method, "parameters": params}).encode() + b"\0")
    buf = b""
    while not buf.endswith(b"\0"):
        chunk = s.recv(1 << 20)
        if not chunk:
            raise RuntimeError("lineaged closed the connection")
        buf += chunk
    s.close()
    return json.loads(buf[:-1])


def origin_when_recorded(pid, spawned, comm):
    """GetOrigin of pid once lineaged knows it as the live process started after spawned (µs) named comm."""
    for _ in range(200):
        r = call("GetOrigin", {"pid": pid})
        p = r.get("parameters", {}).get("process")
        if p and p["alive"] and p["startTime"] >= spawned - 50000 and p.get("comm") == comm:
            return r["parameters"]
        time.sleep(0.05)
    sys.exit(f"lineaged never recorded pid {pid} ({comm}) as alive: last answer {r}")


def now_us():
    return int(time.time() * 1e6)


def spawn(argv, want_pid=None):
    """fork + exec argv with stdin a pipe (the writer lives until it closes). With want_pid, the child
    only execs when it got that pid; returns (pid, write end of its stdin) or None."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        if want_pid is not None and os.getpid() != want_pid:
            os._exit(0)
        os.dup2(r, 0)
        os.close(r)
        os.execvp(argv[0], argv)
    os.close(r)
    if want_pid is not None and pid != want_pid:
        os.close(w)
        os.waitpid(pid, 0)
        return None
    return pid, w


def logger_argv():
    # Reads messages from stdin, one per line, and stays until stdin closes: its pid is the entry's _PID.
    return ["logger", "-u", DEV_LOG, "-t", "lineage-test"]


def cat_argv(tag):
    # systemd-cat connects its stdout to journald's stream socket and execs sh, which keeps the pid.
    return ["systemd-cat", "-t", "lineage-test", "sh", "-c", f"echo '{PREFIX} {tag}'; read x"]


def report(out, tag, pid, origin, login):
    out.write(json.dumps({"tag": tag, "pid": pid, "instance": origin["process"]["instance"],
                          "comm": origin["process"]["comm"], "login": login}) + "\n")
    out.flush()


def run_logger(out, tag, login, want_pid=None):
    """A logger that logs TAG, is recorded, exits; returns its pid (None: want_pid was not granted)."""
    t = now_us()
    s = spawn(logger_argv(), want_pid)
    if s is None:
        return None
    pid, w = s
    origin = origin_when_recorded(pid, t, "logger")
    os.write(w, f"{PREFIX} {tag}\n".encode())
    os.close(w)
    os.waitpid(pid, 0)
    report(out, tag, pid, origin, login)
    return pid


def run_cat(out, tag, login):
    t = now_us()
    pid, w = spawn(cat_argv(tag))
    origin = origin_when_recorded(pid, t, "sh")
    os.close(w)
    os.waitpid(pid, 0)
    report(out, tag, pid, origin, login)


def run_daemonized(out, tag, login):
    """fork, setsid, fork again, the middle one exits: the writer is reparented, its birth chain stays."""
    t = now_us()
    r, w = os.pipe()
    pr, pw = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(w)
        os.close(pr)
        os.setsid()
        writer = os.fork()
        if writer == 0:
            os.dup2(r, 0)
            os.execvp("systemd-cat", cat_argv(tag))
        os.write(pw, f"{writer}\n".encode())
        os._exit(0)
    os.close(r)
    os.close(pw)
    writer = int(os.read(pr, 64).decode())
    os.close(pr)
    os.waitpid(middle, 0)
    origin = origin_when_recorded(writer, t, "sh")
    os.close(w)
    # Not our child: wait for it to be gone (its parent, pid 1 or a subreaper, reaps it).
    for _ in range(200):
        try:
            with open(f"/proc/{writer}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    report(out, tag, writer, origin, login)


def run_pid_namespace(out, tag, login):
    """A writer that is pid 1 of a new pid namespace: the journal and lineaged both know its outer pid."""
    t = now_us()
    unshare, w = spawn(["unshare", "--pid", "--fork"] + cat_argv(tag))
    inner = None
    for _ in range(200):
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == unshare:
                    inner = int(d)
        if inner:
            break
        time.sleep(0.05)
    if not inner:
        sys.exit("unshare --pid --fork did not start its child")
    origin = origin_when_recorded(inner, t, "sh")
    os.close(w)
    os.waitpid(unshare, 0)
    report(out, tag, inner, origin, login)


def login_process(out):
    """Runs in the login: becomes it (loginuid, so a new audit session), then its writers."""
    with open("/proc/self/loginuid", "w") as f:
        f.write(LOGIN_UID)
    # lineaged sees a login begin when a process of the new audit session execs (or calls setsid):
    # it then looks up the birth chain for where the session began.
    child, w = spawn(["sleep", "30"])
    me = call("GetOrigin", {"pid": os.getpid()})["parameters"]
    for _ in range(100):
        if me.get("login") and me["login"]["instance"] == me["process"]["instance"]:
            break
        time.sleep(0.05)
        me = call("GetOrigin", {"pid": os.getpid()})["parameters"]
    else:
        sys.exit(f"lineaged did not see the login begin: {me}")
    os.kill(child, 15)
    os.waitpid(child, 0)
    os.close(w)
    login = dict(me["login"], pid=os.getpid(), comm=me["process"]["comm"])
    with open("/proc/self/sessionid") as f:
        login["kernelSession"] = int(f.read())
    run_logger(out, "login-logger", login)
    run_cat(out, "login-cat", login)
    run_daemonized(out, "login-daemon", login)
    run_pid_namespace(out, "login-pidns", login)
    return run_logger(out, "reuse-first", login)


def main():
    out = sys.stdout
    run_logger(out, "plain-logger", None)
    run_cat(out, "plain-cat", None)
    r, w = os.pipe()
    login = os.fork()
    if login == 0:
        os.close(r)
        with os.fdopen(w, "w") as results:
            first = login_process(results)
            results.write(json.dumps({"reuse": first}) + "\n")
        os._exit(0)
    os.close(w)
    reuse = None
    with os.fdopen(r) as results:
        for line in results:
            o = json.loads(line)
            if "reuse" in o:
                reuse = o["reuse"]
            else:
                out.write(line)
    _, status = os.waitpid(login, 0)
    if status != 0:
        sys.exit("the login process failed")
    out.flush()
    time.sleep(0.3)  # let lineaged record the exits before the pid comes back
    # The same pid again, outside the login: ask the kernel for it by writing the pid before it.
    for _ in range(100):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(reuse - 1))
        if run_logger(out, "reuse-second", None, want_pid=reuse) is not None:
            break
    else:
        sys.exit(f"could not get pid {reuse} again")
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
