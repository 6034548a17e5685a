-- SPDX-License-Identifier: LGPL-2.1-or-later
-- Where each instance ran. cgroup: its cgroup path in the unified hierarchy ("/system.slice/foo.service"),
-- as /proc/PID/cgroup showed it at its last exec (or when a scan found it); a process that exited before
-- that read keeps its parent's, since a child starts in its parent's cgroup. NULL: unknown (rows from
-- before this version, or never readable). container_id: the container that path names, when it names
-- one (docker-ID.scope, libpod-ID.scope, cri-containerd-ID.scope, crio-ID.scope, /docker/ID,
-- kubepods…/ID): the 64 hex digits; NULL otherwise.
ALTER TABLE instances ADD COLUMN cgroup TEXT;
ALTER TABLE instances ADD COLUMN container_id TEXT;
