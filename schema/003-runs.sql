-- SPDX-License-Identifier: LGPL-2.1-or-later
-- Schema version 3: runs of the daemon. Between two runs on one boot nothing was recorded: the next
-- run records that stretch in gaps (reason "downtime") and reconciles what it finds in /proc.
CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        boot INTEGER NOT NULL REFERENCES boots(id),
        started INTEGER NOT NULL,
        last_commit INTEGER NOT NULL,           -- advanced with every commit: where a crash left off
        stopped INTEGER                         -- set on a clean stop; NULL after a crash
);
CREATE INDEX runs_boot ON runs (boot, id);
