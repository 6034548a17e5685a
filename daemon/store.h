/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* store: the SQLite provenance log: migrations, batched writes of what the tracker produced. */
#pragma once

#include <sqlite3.h>
#include <stdint.h>

#include "tracker.h"

typedef struct Store Store;

typedef struct StoreBoot {
        char boot_id[33];               /* 32 hex digits */
        uint64_t boot_time;             /* realtime µs */
        int64_t realtime_offset_ns;
        int64_t boottime_offset_ns;
        uint64_t clock_ticks;
} StoreBoot;

/* Opens (creating directories and the file as needed) and migrates to the newest schema. */
int store_open(Store **ret, const char *path);
Store *store_free(Store *s);

/* Finds or adds the boot; instances written afterwards belong to it. */
int store_set_boot(Store *s, const StoreBoot *boot, uint64_t *ret_id);
/* One above the highest instance id in the database. */
int store_next_instance_id(Store *s, uint64_t *ret);
/* Writes everything the tracker has pending, in one transaction. On failure nothing is lost: the
 * tracker keeps its queue and the next flush retries. */
int store_flush(Store *s, Tracker *t);

sqlite3 *store_db(Store *s);
int store_schema_version(Store *s);
/* Bytes of the database file plus its WAL. */
uint64_t store_size(Store *s);
const char *store_path(Store *s);

/* Renders NUL-separated argv bytes as a JSON array of strings (bytes that are not UTF-8, and control
 * characters, as \xNN). Returns a malloc'd string or NULL on ENOMEM. */
char *argv_to_json(const char *argv, size_t len);

DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_free);
