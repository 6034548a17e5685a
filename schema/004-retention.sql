-- SPDX-License-Identifier: LGPL-2.1-or-later
-- Schema version 4: retention (--keep, --max-size) prunes the oldest exited instances first.
CREATE INDEX instances_exit ON instances (exit_time) WHERE exit_time IS NOT NULL;
