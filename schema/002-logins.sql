-- SPDX-License-Identifier: LGPL-2.1-or-later
-- Schema version 2: logins. A login is where an audit session began (pam_loginuid wrote the
-- process's loginuid, and the kernel gave it a new sessionid): the instance it began at, who, through
-- which service, from where, on which terminal, and when it ended (when that instance exited).
CREATE TABLE logins (
        instance INTEGER PRIMARY KEY REFERENCES instances(id), -- where the session began
        boot INTEGER NOT NULL REFERENCES boots(id),
        audit_session INTEGER NOT NULL,         -- the kernel's sessionid
        login_uid INTEGER NOT NULL,             -- the user (names are resolved when asked, by NSS)
        service TEXT,                           -- the login instance's executable: sshd, login, cron, …
        remote_address TEXT,                    -- ssh: the client's address (SSH_CONNECTION)
        remote_port INTEGER,
        tty TEXT,                               -- pts/N, ttyN
        logind_session TEXT,                    -- from the cgroup path (…/session-N.scope)
        unit TEXT,                              -- the systemd unit of that cgroup
        start_time INTEGER NOT NULL,
        end_time INTEGER                        -- NULL while the login instance lives
);
CREATE INDEX logins_session ON logins (boot, audit_session);
CREATE INDEX logins_user ON logins (login_uid, start_time);
CREATE INDEX logins_start ON logins (start_time);
-- Instances by audit session: "everything of login N", including what daemonized away.
CREATE INDEX instances_audit_session ON instances (boot, audit_session) WHERE audit_session IS NOT NULL;

-- Logins with readable columns.
CREATE VIEW login_list AS
SELECT l.instance, i.pid, l.audit_session, l.login_uid, l.service, l.remote_address, l.remote_port, l.tty,
       l.logind_session, l.unit, l.start_time, l.end_time, l.end_time IS NULL AS alive
FROM logins l JOIN instances i ON i.id = l.instance;
