/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* store: the SQLite provenance log: migrations, batched writes of what the tracker produced. */
#pragma once

#include <sqlite3.h>
#include <stdint.h>

#include "json-text.h"
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
/* After SQLITE_CORRUPT: moves the file (with -wal and -shm) aside as PATH.corrupt-TIME and opens a new
 * one. Every statement prepared on store_db() must be finalized first; the boot and run are unset. */
int store_replace_corrupt(Store *s);

/* Finds or adds the boot; instances written afterwards belong to it. */
int store_set_boot(Store *s, const StoreBoot *boot, uint64_t *ret_id);
/* The boot whose id is boot_id (with or without dashes, any case; NULL: the newest in the file): its row
 * and its id as 32 hex digits. -ENOENT: no such boot. Reads only: for a database opened to be queried. */
int store_find_boot(Store *s, const char *boot_id, uint64_t *ret_rowid, char ret_id[static 33]);
/* One above the highest instance id in the database. */
int store_next_instance_id(Store *s, uint64_t *ret);
/* Writes everything the tracker has pending, in one transaction. On failure nothing is lost: the
 * tracker keeps its queue and the next flush retries. Does not log: store_error() says what failed. */
int store_flush(Store *s, Tracker *t);
const char *store_error(Store *s);

/* Restart continuity: the instances and logins this boot's record holds as alive. */
typedef int (*StoreInstanceCallback)(const Instance *i, void *userdata);
typedef int (*StoreLoginCallback)(const Login *l, void *userdata);
int store_load_live(Store *s, StoreInstanceCallback cb, void *userdata);
int store_load_live_logins(Store *s, StoreLoginCallback cb, void *userdata);
/* Whether this boot's record holds a login (live or ended) for an audit session; false on errors. */
bool store_session_has_login(Store *s, uint32_t audit_session);
/* One step up the birth parents: instance id's birth parent (0: none), its pid, and whether it exited.
 * -ENOENT: no such instance in the database (not flushed yet, or pruned). */
int store_birth_parent(Store *s, uint64_t id, uint64_t *ret_birth_parent, int32_t *ret_pid, bool *ret_exited);
/* Instances of earlier boots still marked alive did not survive their boot: closes them at that
 * boot's last commit, flagged as exits not observed. Returns how many. */
int store_close_old_boots(Store *s);
/* Starts a run of the daemon on the current boot. If an earlier run on this boot exists, *ret_prev_end
 * is where it stopped recording (its clean stop, else its last commit), else 0. */
int store_run_begin(Store *s, uint64_t now, uint64_t *ret_prev_end);
/* Marks the run as stopped cleanly (in the next flush's transaction or on its own). */
int store_run_end(Store *s, uint64_t now);

/* Retention: deletes up to limit of the earliest started instances that ended before cutoff and have no
 * recorded children (so no ancestor or login of anything kept goes), with their events and logins. */
int store_prune_step(Store *s, uint64_t cutoff, unsigned limit, uint64_t *ret_pruned);
/* Bytes of the database in use (pages not on the free list). */
uint64_t store_used_bytes(Store *s);

sqlite3 *store_db(Store *s);
int store_schema_version(Store *s);
/* Bytes of the database file plus its WAL. */
uint64_t store_size(Store *s);
const char *store_path(Store *s);

DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_free);
