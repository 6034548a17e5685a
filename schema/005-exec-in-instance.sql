-- SPDX-License-Identifier: LGPL-2.1-or-later
-- Schema version 5: an instance's last exec lives in its own row. Most processes exec once, and storing
-- that exec's executable and argument vector both in `instances` and in an `events` row doubled them.
--
-- instances.exec_time is the time of the exec whose image (exe, argv) the row holds, NULL when the row's
-- image is not that of a recorded exec (inherited from the parent, found by a /proc scan, or the last
-- exec is an `events` row of its own). `events` keeps an exec row for every other exec: earlier ones,
-- and those the row cannot stand for (run by a non-leader thread, image unknown). Rows written before
-- this version keep their exec rows and have exec_time NULL: readers see both forms alike through
-- `event_log` (or by taking the union themselves, as that view does). lineaged moves a row's exec to
-- `events` before it replaces it (a new exec, or an image that changed without one).
ALTER TABLE instances ADD COLUMN exec_time INTEGER;

-- (boot, pid, start_ticks) overlapped instances_pid_start: no query needs it. Finding an instance by
-- its /proc key is "WHERE pid = ? AND boot = ? AND start_ticks = ?", which instances_pid_start serves.
DROP INDEX instances_key;

-- Events with their type names, the exec kept in each instance row included (its id is NULL: it has no
-- row in `events`). Ordered by (instance, time) it reads as before.
DROP VIEW event_log;
CREATE VIEW event_log AS
SELECT e.id, e.instance, i.pid, e.time, t.name AS type, e.tid, e.a, e.b, e.text,
       (SELECT group_concat(value, ' ') FROM json_each(e.argv)) AS cmdline
FROM events e JOIN event_types t ON t.id = e.type JOIN instances i ON i.id = e.instance
UNION ALL
SELECT NULL, i.id, i.pid, i.exec_time, 'exec', NULL, NULL, NULL, i.exe,
       (SELECT group_concat(value, ' ') FROM json_each(i.argv))
FROM instances i WHERE i.exec_time IS NOT NULL;

-- Retention walks instances in id order (ids follow start times, and nothing exits before it starts)
-- instead of by exit time: this index cost 19 bytes per instance for that alone.
DROP INDEX instances_exit;
