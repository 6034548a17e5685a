#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# A minimal varlink client for the tests: vlcall.py SOCKET METHOD [JSON-PARAMETERS] [--more N]
# Prints each reply as one JSON line; exits 0 on a normal reply, 1 on an error reply.
import json
import socket
import sys


def main():
    sock, method = sys.argv[1], sys.argv[2]
    params = json.loads(sys.argv[3]) if len(sys.argv) > 3 and not sys.argv[3].startswith("--") else {}
    more = 0
    if "--more" in sys.argv:
        more = int(sys.argv[sys.argv.index("--more") + 1])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)  # generous: a sanitizer build on a loaded machine can take long to answer
    s.connect(sock)
    msg = {"method": method, "parameters": params}
    if more:
        msg["more"] = True
    s.sendall(json.dumps(msg).encode() + b"\0")
    buf = b""
    seen = 0
    while True:
        while b"\0" not in buf:
            chunk = s.recv(1 << 20)
            if not chunk:
                print("connection closed", file=sys.stderr)
                return 2
            buf += chunk
        raw, buf = buf.split(b"\0", 1)
        reply = json.loads(raw)
        print(json.dumps(reply, sort_keys=True))
        sys.stdout.flush()
        if "error" in reply:
            return 1
        seen += 1
        if not reply.get("continues") or (more and seen >= more):
            return 0


if __name__ == "__main__":
    sys.exit(main())
