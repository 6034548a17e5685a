-- SPDX-License-Identifier: LGPL-2.1-or-later
-- lineaged database, schema version 1: boots, process instances, their events, and gaps in the record.
-- This schema is a public interface: `sqlite3 /var/lib/lineaged/lineage.db` is a supported way to ask
-- questions. Times are µs of CLOCK_REALTIME unless a column says otherwise. Columns are added by later
-- migrations, never renamed or removed.

-- One row per kernel boot the daemon has watched.
CREATE TABLE boots (
        id INTEGER PRIMARY KEY,
        boot_id TEXT NOT NULL UNIQUE,           -- /proc/sys/kernel/random/boot_id without dashes
        boot_time INTEGER NOT NULL,             -- when the kernel booted (realtime µs)
        realtime_offset INTEGER NOT NULL,       -- ns: CLOCK_REALTIME - CLOCK_MONOTONIC when first seen
        boottime_offset INTEGER NOT NULL,       -- ns: CLOCK_BOOTTIME - CLOCK_MONOTONIC when first seen
        clock_ticks INTEGER NOT NULL,           -- USER_HZ: the unit of instances.start_ticks
        first_seen INTEGER NOT NULL
);

-- One row per process instance: a thread group's lifetime, from fork (or first sight) to exit.
-- Key: (boot, pid, start_ticks), like /proc/PID/stat field 22. Pids are reused; instance ids are not.
CREATE TABLE instances (
        id INTEGER PRIMARY KEY,                 -- the instance id answers and events refer to
        boot INTEGER NOT NULL REFERENCES boots(id),
        pid INTEGER NOT NULL,                   -- thread group id in the initial pid namespace
        start_ticks INTEGER NOT NULL,           -- clock ticks since boot, as /proc/PID/stat field 22
        start_time INTEGER NOT NULL,
        exit_time INTEGER,                      -- NULL while alive (as far as the record knows)
        birth_parent INTEGER,                   -- instances.id of the process that created it; NULL if unknown
        birth_parent_pid INTEGER,               -- its pid (0: created by the kernel; NULL: unknown)
        lineage_source TEXT NOT NULL,           -- how birth_parent is known: fork | kernel-caba | procfs | unknown
        caba INTEGER,                           -- closest alive born ancestor: kept current while alive,
                                                -- its value at exit afterwards (instances.id)
        caba_pid INTEGER,
        exit_parent INTEGER,                    -- the parent it ended under (who reaped it): a reaper after reparenting
        exit_parent_pid INTEGER,
        exit_status INTEGER,                    -- exit(2) status, NULL when killed by a signal or unknown
        exit_signal INTEGER,                    -- the signal that killed it, NULL otherwise
        comm TEXT,                              -- last name (non-printable bytes escaped as \xNN)
        exe TEXT,                               -- last executable (inherited from the parent until it execs)
        argv TEXT,                              -- last argument vector as a JSON array of strings; bytes that
                                                -- are not UTF-8 appear as \xNN (see flags for truncation)
        uid INTEGER, euid INTEGER, gid INTEGER, egid INTEGER,
        login_uid INTEGER,                      -- audit loginuid (NULL: unset)
        audit_session INTEGER,                  -- audit sessionid (NULL: unset)
        sid INTEGER, pgid INTEGER,
        flags INTEGER NOT NULL DEFAULT 0        -- bits: 2 argv truncated, 4 found by a /proc scan,
                                                -- 8 exit not observed (exit_time is a bound), 16 dumped core,
                                                -- 32 exec'd under watch, 64 kernel thread
);
-- "Which instance held pid P at time T": the latest start at or before T.
-- (boot, pid, start_ticks) names an instance as /proc does; two instances share it only when a pid was
-- reused within one clock tick, and start_time (µs) then tells them apart.
CREATE INDEX instances_key ON instances (boot, pid, start_ticks);
CREATE INDEX instances_pid_start ON instances (pid, start_time);
-- Walking the birth tree downwards (upwards is by primary key).
CREATE INDEX instances_birth_parent ON instances (birth_parent);
-- Live instances (reconciling with /proc after a restart).
CREATE INDEX instances_alive ON instances (boot) WHERE exit_time IS NULL;

CREATE TABLE event_types (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
);
INSERT INTO event_types (id, name) VALUES
        (1, 'fork'), (2, 'exec'), (3, 'uid'), (4, 'gid'), (5, 'sid'),
        (6, 'ptrace'), (7, 'comm'), (8, 'coredump'), (9, 'exit');

-- What happened to an instance during its life (fork and exit are the instance row itself).
CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        instance INTEGER NOT NULL REFERENCES instances(id),
        time INTEGER NOT NULL,
        type INTEGER NOT NULL REFERENCES event_types(id),
        tid INTEGER,                            -- the thread that acted, when not the leader
        a INTEGER,                              -- uid/gid: real id; sid: new session; ptrace: tracer pid
        b INTEGER,                              -- uid/gid: effective id; ptrace: tracer tgid
        text TEXT,                              -- exec: executable; comm: new name
        argv TEXT                               -- exec: argument vector, a JSON array like instances.argv
);
CREATE INDEX events_instance ON events (instance, time);

-- Stretches of time the record is incomplete for: events lost or the daemon not running.
CREATE TABLE gaps (
        id INTEGER PRIMARY KEY,
        boot INTEGER NOT NULL REFERENCES boots(id),
        start_time INTEGER NOT NULL,
        end_time INTEGER NOT NULL,
        lost INTEGER,                           -- events known lost; NULL when the count is unknown
        cpu INTEGER,                            -- for per-CPU sequence gaps
        reason TEXT NOT NULL                    -- overflow | sequence | downtime | ...
);
CREATE INDEX gaps_time ON gaps (boot, end_time);

-- Instances with readable columns: names for sources, the command line with spaces.
CREATE VIEW processes AS
SELECT i.id AS instance, i.pid, b.boot_id, i.start_time, i.exit_time,
       i.exit_time IS NULL AS alive,
       i.birth_parent, i.birth_parent_pid, i.lineage_source, i.caba, i.caba_pid,
       i.exit_parent_pid, i.exit_status, i.exit_signal,
       i.comm, i.exe, (SELECT group_concat(value, ' ') FROM json_each(i.argv)) AS cmdline,
       i.uid, i.login_uid, i.audit_session, i.sid
FROM instances i JOIN boots b ON b.id = i.boot;

-- Every (instance, ancestor) pair along birth parents, nearest first (depth 1 = birth parent).
-- For one instance: SELECT * FROM ancestors WHERE instance = 42 ORDER BY depth;
-- (On a large database, anchor the recursion yourself: see README, "Asking the database".)
CREATE VIEW ancestors AS
WITH RECURSIVE chain (instance, depth, ancestor) AS (
        SELECT id, 1, birth_parent FROM instances WHERE birth_parent IS NOT NULL
        UNION ALL
        SELECT chain.instance, chain.depth + 1, i.birth_parent
        FROM chain JOIN instances i ON i.id = chain.ancestor
        WHERE i.birth_parent IS NOT NULL AND chain.depth < 4096
)
SELECT chain.instance, chain.depth, chain.ancestor, a.pid AS ancestor_pid, a.comm AS ancestor_comm,
       a.exit_time IS NULL AS ancestor_alive, a.lineage_source AS ancestor_source
FROM chain JOIN instances a ON a.id = chain.ancestor;

-- Events with their type names.
CREATE VIEW event_log AS
SELECT e.id, e.instance, i.pid, e.time, t.name AS type, e.tid, e.a, e.b, e.text,
       (SELECT group_concat(value, ' ') FROM json_each(e.argv)) AS cmdline
FROM events e JOIN event_types t ON t.id = e.type JOIN instances i ON i.id = e.instance;
