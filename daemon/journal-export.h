/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* journal-export: one structured journal entry per exec and per login start and end (--journal-export). */
#pragma once

#include "tracker.h"

typedef struct JournalExport JournalExport;

int journal_export_new(JournalExport **ret, Tracker *t);
JournalExport *journal_export_free(JournalExport *j);
/* A login began (its details read) — its end is seen through the tracker. */
void journal_export_login_start(JournalExport *j, const Login *l);
uint64_t journal_export_sent(const JournalExport *j);

DEFINE_TRIVIAL_CLEANUP_FUNC(JournalExport *, journal_export_free);
