/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* journal-export: one structured journal entry per exec and per login start and end (--journal-export). */
#pragma once

#include "tracker.h"

typedef struct JournalExport JournalExport;

/* --journal-export=logins|execs; a bare --journal-export means execs (what it always wrote). */
typedef enum JournalExportMode {
        JOURNAL_EXPORT_NONE,
        JOURNAL_EXPORT_LOGINS,          /* login-start and login-end entries only */
        JOURNAL_EXPORT_EXECS,           /* those, an entry per exec, and each ancestor an exec names that
                                         * never exec'd itself (once) */
} JournalExportMode;

int journal_export_mode_from_string(const char *s);

/* Observes t from now on. Costs, in execs mode, one small record per live process plus the exited
 * ancestors of live ones that were not exported yet (bounded: see JOURNAL_EXPORT_NODES_MAX). */
int journal_export_new(JournalExport **ret, Tracker *t, JournalExportMode mode);
JournalExport *journal_export_free(JournalExport *j);
/* A login began (its details read) — its end is seen through the tracker. */
void journal_export_login_start(JournalExport *j, const Login *l);
uint64_t journal_export_sent(const JournalExport *j);

DEFINE_TRIVIAL_CLEANUP_FUNC(JournalExport *, journal_export_free);
