/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl --journal: a lineage database rebuilt from the LINEAGE_* entries of lineaged --journal-export. */
#pragma once

/* Reads the entries lineaged wrote (LINEAGE_EVENT exec, process, login-start, login-end, from uid 0
 * only: journald stamps _UID, a writer cannot forge it) in the journal files of dir (NULL: the local
 * journal) of one machine (machine: a machine id or a host name; NULL: the only machine there), and
 * writes them into a new database in lineaged's schema in a private directory, whose path it returns
 * in *ret_path (owned by journal-read: valid until journal_read_close()). Says on stderr what the
 * entries did not hold (birth parents that were never exported, exit times). Logs what went wrong:
 * -ENOENT (no entries), -EINVAL (several machines and none chosen), other -errno. */
int journal_read_build(const char *dir, const char *machine, const char **ret_path);

/* Removes the database and its directory. */
void journal_read_close(void);
