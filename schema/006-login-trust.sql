-- SPDX-License-Identifier: LGPL-2.1-or-later
-- Schema version 6: whether a login is trusted. A process whose loginuid is unset (a service started
-- without pam_loginuid) may set it once without privilege, and its name, environment (SSH_CONNECTION)
-- and executable are its own to choose: such a login proves nothing. self_declared is 0 only when the
-- process the session began at was privileged when it began it (root, or holding CAP_AUDIT_CONTROL, or
-- it replaced a loginuid that was set, which takes CAP_AUDIT_CONTROL) and runs a root-owned executable
-- that group and others cannot write; otherwise 1, and its service, remote address and user are what
-- the process claimed.
--
-- Logins recorded before this version were never checked: nothing vouches for them, so they read as
-- self-declared (the column's default, 1). lineaged writes the column for every login it records.
ALTER TABLE logins ADD COLUMN self_declared INTEGER NOT NULL DEFAULT 1;

DROP VIEW login_list;
CREATE VIEW login_list AS
SELECT l.instance, i.pid, l.audit_session, l.login_uid, l.service, l.remote_address, l.remote_port, l.tty,
       l.logind_session, l.unit, l.start_time, l.end_time, l.end_time IS NULL AS alive, l.self_declared
FROM logins l JOIN instances i ON i.id = l.instance;
