#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The clients of test-budget.sh, run as an unprivileged user: they hold connections, never read, churn.
#   hold SOCK MAX             connect until refused; "held N", then hold them until stdin closes
#   watch SOCK N              N Watch streams with a 4 KiB receive buffer, never read until told:
#                             "ready" once each has an event waiting, then on "check" reads them all
#                             and prints "ended TOOSLOW OTHER"
#   descendants SOCK N PID    N connections, each sends GetDescendants of PID twice without reading:
#                             "answered" once each has an answer waiting, then on "check" reads them
#                             all and prints "replies OK LIMITS OTHER"
#   status SOCK FIELD         prints that field of GetStatus (waiting as long as a loaded daemon needs)
#   churn BYTES               prints its pid; on "spawn N" starts N more processes with an argument of
#                             BYTES control characters (six bytes each in JSON) and prints "spawned
#                             TOTAL"; on "release" ends them all and prints "done"; stays until stdin
#                             closes (their birth parent)
import json
import os
import select
import socket
import subprocess
import sys
import time

DEADLINE = 180.0


def connect(path, rcvbuf=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(path)
    return s


def send(s, method, params=None, more=False):
    msg = {"method": method, "parameters": params or {}}
    if more:
        msg["more"] = True
    s.sendall(json.dumps(msg).encode() + b"\0")


def say(*words):
    print(*words, flush=True)


def wait_stdin(word=None):
    for line in sys.stdin:
        if word and line.strip() == word:
            return


def readable(pending, total, failure):
    """Yields the sockets of the set pending as they become readable, until the caller has emptied it;
    exits with "N of total connections <failure> before the deadline" once DEADLINE has passed."""
    end = time.monotonic() + DEADLINE
    while pending:
        left = end - time.monotonic()
        if left <= 0:
            sys.exit(f"{len(pending)} of {total} connections {failure} before the deadline")
        ready, _, _ = select.select(list(pending), [], [], left)
        yield from ready


def wait_readable(socks):
    """Until every socket has something to read (the daemon answered), without reading it."""
    pending = set(socks)
    for s in readable(pending, len(socks), "got nothing"):
        pending.discard(s)


def read_messages(socks, want):
    """Reads every socket until want(messages) says it is complete; returns the messages per socket."""
    bufs = {s: b"" for s in socks}
    msgs = {s: [] for s in socks}
    pending = set(socks)
    for s in readable(pending, len(socks), "did not finish"):
        chunk = s.recv(1 << 20)
        if not chunk:
            pending.discard(s)
            continue
        bufs[s] += chunk
        while b"\0" in bufs[s]:
            raw, bufs[s] = bufs[s].split(b"\0", 1)
            m = json.loads(raw)
            msgs[s].append({k: v for k, v in m.items() if k != "parameters"} | {"size": len(raw)})
        if want(msgs[s]):
            pending.discard(s)
    return msgs


def hold(path, limit):
    held = []
    while len(held) < limit:
        s = connect(path)
        s.settimeout(DEADLINE)
        try:
            send(s, "org.varlink.service.GetInfo")
            data = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            s.close()
            break
        held.append(s)
    say("held", len(held))
    wait_stdin()


def watch(path, n):
    socks = [connect(path, 4096) for _ in range(n)]
    for s in socks:
        send(s, "org.lineaged.Lineage.Watch", more=True)
    say("sent")
    wait_readable(socks)
    say("ready")
    wait_stdin("check")
    msgs = read_messages(socks, lambda m: bool(m) and not m[-1].get("continues"))
    slow = sum(1 for m in msgs.values() if m[-1].get("error") == "org.lineaged.Lineage.TooSlow")
    say("ended", slow, n - slow)


def descendants(path, n, pid):
    socks = [connect(path, 4096) for _ in range(n)]
    for s in socks:
        for _ in range(2):
            send(s, "org.lineaged.Lineage.GetDescendants", {"pid": pid})
    wait_readable(socks)
    say("answered")
    wait_stdin("check")
    msgs = read_messages(socks, lambda m: len(m) == 2)
    replies = [r for m in msgs.values() for r in m]
    ok = sum(1 for r in replies if "error" not in r)
    limits = sum(1 for r in replies if r.get("error") == "org.lineaged.Lineage.LimitsExceeded")
    say("replies", ok, limits, len(replies) - ok - limits, max(r["size"] for r in replies))


def status(path, field):
    s = connect(path)
    s.settimeout(DEADLINE)
    send(s, "org.lineaged.Lineage.GetStatus")
    buf = b""
    while b"\0" not in buf:
        chunk = s.recv(1 << 20)
        if not chunk:
            sys.exit("connection closed")
        buf += chunk
    say(json.loads(buf.split(b"\0", 1)[0])["parameters"]["status"][field])


def churn(size):
    say(os.getpid())
    fat = "\x01" * size
    procs = []
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["spawn"]:
            # Each waits on its stdin: alive until released, however late the daemon reads its argv.
            for _ in range(int(words[1])):
                procs.append(subprocess.Popen(["/bin/sh", "-c", "read x", "churn", fat], stdin=subprocess.PIPE))
            say("spawned", len(procs))
        elif words[:1] == ["release"]:
            for p in procs:
                p.stdin.close()
                p.wait()
            say("done")


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "hold":
        hold(args[0], int(args[1]))
    elif mode == "watch":
        watch(args[0], int(args[1]))
    elif mode == "descendants":
        descendants(args[0], int(args[1]), int(args[2]))
    elif mode == "status":
        status(args[0], args[1])
    elif mode == "churn":
        churn(int(args[0]))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
