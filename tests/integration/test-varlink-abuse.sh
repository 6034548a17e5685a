#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Bad input on the varlink socket: errors or disconnects, never harm to other clients.
. "$(dirname "$0")/lib.sh"

start_daemon
python3 "$SOURCE_DIR/tests/integration/varlink-abuse.py" "$SOCK" "$DAEMON_PID" || fail "varlink abuse checks failed"
kill -0 "$DAEMON_PID" || fail "lineaged died"
stop_daemon
