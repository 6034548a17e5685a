#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs the varlink-go certification client against tests/helpers/varlink-cert-server (daemon/varlink.c).
set -eu

: "${BUILD_DIR:?BUILD_DIR must point at the meson build directory}"
server="$BUILD_DIR/tests/helpers/varlink-cert-server"
client=$(command -v varlink-go-certification || true)
if [ -z "$client" ]; then
        echo "varlink-go-certification not installed (Debian package varlink-go), skipping"
        exit 77
fi
if [ ! -x "$server" ]; then
        echo "FAIL: $server not built"
        exit 1
fi

tmp=$(mktemp -d)
pid=""
cleanup() {
        if [ -n "$pid" ]; then
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

"$server" "unix:$tmp/cert.sock" >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
        grep -qx ready "$tmp/server.log" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.log"; echo "FAIL: server exited"; exit 1; }
        sleep 0.1
done
grep -qx ready "$tmp/server.log" || { echo "FAIL: server did not become ready"; exit 1; }

# The client exits 0 even when a step fails; only its "End: 'true'" line means the whole run passed
# (a failure prints "End() failed" or stops early). Run several at once: clients must not disturb each other.
runs=4
clients=""
for i in $(seq $runs); do
        timeout 60 "$client" -client -varlink="unix:$tmp/cert.sock" >"$tmp/client$i.log" 2>&1 &
        clients="$clients $!"
done
wait_failed=0
for job in $clients; do
        wait "$job" || wait_failed=1
done

failed=0
for i in $(seq $runs); do
        if ! grep -qx "End: 'true'" "$tmp/client$i.log"; then
                echo "FAIL: certification run $i did not end with End: 'true':"
                cat "$tmp/client$i.log"
                failed=1
        fi
done
if ! kill -0 "$pid" 2>/dev/null; then
        echo "FAIL: the server died during certification"
        failed=1
fi
if grep -q "Certification error" "$tmp/server.log"; then
        echo "FAIL: the server saw certification errors:"
        cat "$tmp/server.log"
        failed=1
fi
[ "$wait_failed" -eq 0 ] || { echo "FAIL: a client timed out or crashed"; failed=1; }
[ "$failed" -eq 0 ] || exit 1
echo "PASS: $runs certification clients ended with End: 'true'"
sed -n '$p' "$tmp/client1.log"
