-- SPDX-License-Identifier: LGPL-2.1-or-later
-- Search: processes by executable. An exe pattern with a literal prefix ("/usr/bin/curl", "/tmp/*") is
-- answered from these indexes instead of a scan of every instance and event: the last exec of each
-- instance (its row), and every earlier exec (events of type 2, exec).
CREATE INDEX instances_exe ON instances (exe);
CREATE INDEX events_exec ON events (text) WHERE type = 2;
