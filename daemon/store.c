/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SQLite in WAL mode, schema migrations by PRAGMA user_version, prepared statements, one transaction per flush. */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "safe-file.h"
#include "schema-sql.h"
#include "store.h"

enum {
        STMT_INSTANCE,
        STMT_EVENT,
        STMT_ROW_EXEC,
        STMT_ROW_NO_ARGV,
        STMT_GAP,
        STMT_LOGIN,
        STMT_HEARTBEAT,
        STMT_SESSION_LOGIN,
        STMT_BIRTH_PARENT,
        _STMT_MAX,
};

struct Store {
        sqlite3 *db;
        char *path;
        const char *name;               /* the last component of path */
        char *real_path;                /* path with the directory resolved: what SQLite opens */
        int dir_fd;                     /* the database's directory, checked (safe-file.h) */
        int lock_fd;                    /* PATH.lock, flock()ed while we live: one daemon per database */
        sqlite3_stmt *stmt[_STMT_MAX];
        uint64_t boot;
        uint64_t run;
        uint64_t skipped_rows;

        /* During a flush: the tracker, and the exec events folded into their instance rows (sorted by
         * address once the events begin), which are then not written to events. */
        Tracker *flushing;
        const TrackerEvent **folded;
        size_t n_folded, n_folded_alloc;
        bool folded_sorted;
        char *json;                     /* argv rendered as JSON, reused across rows */
        size_t json_alloc;
        char error[256];                /* SQLite's message for the last failed flush */
};

static const char *const stmt_sql[_STMT_MAX] = {
        [STMT_INSTANCE] =
                "INSERT INTO instances (id, boot, pid, start_ticks, start_time, exit_time, birth_parent,"
                " birth_parent_pid, lineage_source, caba, caba_pid, exit_parent, exit_parent_pid, exit_status,"
                " exit_signal, comm, exe, argv, uid, euid, gid, egid, login_uid, audit_session, sid, pgid, flags,"
                " exec_time, image_uid, image_login_uid, cgroup, container_id)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,"
                " ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?29, ?31, ?32, ?33, ?34)"
                " ON CONFLICT (id) DO UPDATE SET exit_time = excluded.exit_time,"
                " birth_parent = excluded.birth_parent, birth_parent_pid = excluded.birth_parent_pid,"
                " lineage_source = excluded.lineage_source, caba = excluded.caba, caba_pid = excluded.caba_pid,"
                " exit_parent = excluded.exit_parent, exit_parent_pid = excluded.exit_parent_pid,"
                " exit_status = excluded.exit_status, exit_signal = excluded.exit_signal,"
                /* ?29: this flush's last exec, folded into the row; ?30: an exec that could not be. The
                 * exec the row stood for was moved to events first (STMT_ROW_EXEC). */
                " exec_time = CASE WHEN ?29 IS NOT NULL THEN ?29"
                " WHEN ?30 OR exe IS NOT excluded.exe OR (?28 AND argv IS NOT excluded.argv) THEN NULL"
                " ELSE exec_time END,"
                " comm = excluded.comm, exe = excluded.exe,"
                " image_uid = excluded.image_uid, image_login_uid = excluded.image_login_uid,"
                /* argv is dropped from memory once written: only an exec that changed it rewrites it. */
                " argv = CASE WHEN ?28 THEN excluded.argv ELSE argv END,"
                " uid = excluded.uid, euid = excluded.euid, gid = excluded.gid, egid = excluded.egid,"
                " login_uid = excluded.login_uid, audit_session = excluded.audit_session,"
                " sid = excluded.sid, pgid = excluded.pgid, flags = excluded.flags,"
                " cgroup = excluded.cgroup, container_id = excluded.container_id",
        [STMT_EVENT] = "INSERT INTO events (instance, time, type, tid, a, b, text, argv, uid, login_uid)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        /* The exec a written row stands for, if this update replaces it (then it moves to events). */
        [STMT_ROW_EXEC] = "SELECT exec_time, exe, argv, image_uid, image_login_uid FROM instances WHERE id = ?1 AND exec_time IS NOT NULL"
                          " AND (?2 OR exe IS NOT ?3 OR (?4 AND argv IS NOT ?5))",
        [STMT_ROW_NO_ARGV] = "SELECT 1 FROM instances WHERE id = ?1 AND argv IS NULL",
        [STMT_GAP] = "INSERT INTO gaps (boot, start_time, end_time, lost, cpu, reason)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        [STMT_HEARTBEAT] = "UPDATE runs SET last_commit = ?2 WHERE id = ?1",
        [STMT_SESSION_LOGIN] = "SELECT 1 FROM logins WHERE boot = ?1 AND audit_session = ?2 LIMIT 1",
        [STMT_BIRTH_PARENT] = "SELECT birth_parent, pid, exit_time IS NOT NULL FROM instances WHERE id = ?1",
        [STMT_LOGIN] = "INSERT INTO logins (instance, boot, audit_session, login_uid, service, remote_address,"
                       " remote_port, tty, logind_session, unit, start_time, end_time, self_declared)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                       " ON CONFLICT (instance) DO UPDATE SET service = excluded.service,"
                       " remote_address = excluded.remote_address, remote_port = excluded.remote_port,"
                       " tty = excluded.tty, logind_session = excluded.logind_session, unit = excluded.unit,"
                       " end_time = excluded.end_time, self_declared = excluded.self_declared",
};

static int sqlite_to_errno(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        default:
                return -EIO;
        }
}

static int exec_sql(Store *s, const char *sql) {
        char *err = NULL;
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, &err);

        if (rc != SQLITE_OK) {
                log_debug("SQL failed: %s", err ?: sqlite3_errstr(rc));
                sqlite3_free(err);
                return sqlite_to_errno(rc);
        }
        return 0;
}

int store_schema_version(Store *s) {
        sqlite3_stmt *st = NULL;
        int v = -EIO;

        if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return v;
}

static int migrate(Store *s) {
        int v = store_schema_version(s), r;

        if (v < 0)
                return log_error_errno(v, "Failed to read schema version of %s: %s", s->path, sqlite3_errmsg(s->db));
        if ((unsigned) v > schema_sql_count)
                return log_error_errno(EPROTO, "Database %s has schema version %d, newer than this lineaged knows (%u); refusing to touch it.",
                                       s->path, v, schema_sql_count);
        for (unsigned k = (unsigned) v; k < schema_sql_count; k++) {
                char pragma[64];

                r = exec_sql(s, "BEGIN IMMEDIATE");
                if (r < 0)
                        return log_error_errno(r, "Failed to begin migration of %s: %s", s->path, sqlite3_errmsg(s->db));
                r = exec_sql(s, schema_sql[k]);
                if (r >= 0) {
                        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %u", k + 1);
                        r = exec_sql(s, pragma);
                }
                if (r >= 0)
                        r = exec_sql(s, "COMMIT");
                if (r < 0) {
                        (void) exec_sql(s, "ROLLBACK");
                        return log_error_errno(r, "Failed to migrate %s to schema version %u: %s",
                                               s->path, k + 1, sqlite3_errmsg(s->db));
                }
                log_debug("Migrated %s to schema version %u.", s->path, k + 1);
        }
        return 0;
}

/* Creates (0600) or checks the database and the files SQLite keeps beside it before SQLite opens them:
 * SQLite would follow a symlink there and adopt another user's file. -wal and -shm are made now, so
 * nobody else can make them first in a shared directory; a -journal, if any, must be ours too. */
static int check_files(Store *s, struct stat *ret_db) {
        static const char *const suffixes[] = { "-wal", "-shm", "-journal" };
        _cleanup_close_ int fd = -1;
        char name[NAME_MAX + 16], shown[PATH_MAX + 16];
        int r;

        r = safe_file_open(s->dir_fd, s->name, s->path, true, &fd);
        if (r < 0)
                return r;
        if (fstat(fd, ret_db) < 0)
                return log_error_errno(errno, "Failed to look at %s: %m", s->path);
        for (size_t k = 0; k < ELEMENTSOF(suffixes); k++) {
                _cleanup_close_ int f = -1;

                snprintf(name, sizeof(name), "%s%s", s->name, suffixes[k]);
                snprintf(shown, sizeof(shown), "%s%s", s->path, suffixes[k]);
                r = safe_file_open(s->dir_fd, name, shown, !streq(suffixes[k], "-journal"), &f);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        return 0;
}

/* The file SQLite opened is the one checked: same inode under the name, no symlink in between. */
static int verify_opened(Store *s, const struct stat *checked) {
        const char *opened = sqlite3_db_filename(s->db, "main");
        struct stat a, b;

        if (fstatat(s->dir_fd, s->name, &a, AT_SYMLINK_NOFOLLOW) < 0 || !opened || lstat(opened, &b) < 0 ||
            a.st_dev != checked->st_dev || a.st_ino != checked->st_ino || b.st_dev != a.st_dev || b.st_ino != a.st_ino)
                return log_error_errno(EBUSY, "Refusing %s: it changed while it was being opened.", s->path);
        if (sqlite3_db_readonly(s->db, "main") == 1)
                return log_error_errno(EROFS,
                                       "Cannot write %s: SQLite opened it read-only. lineaged records into its database "
                                       "and cannot run on a read-only one; make it writable, or use another --database= path.",
                                       s->path);
        return 0;
}

/* Opens the file and checks that it is a database we can read (a garbage or damaged header fails here). */
static int open_file(Store *s) {
        struct stat checked;
        int rc, r;

        r = check_files(s, &checked);
        if (r < 0)
                return r;
        rc = sqlite3_open_v2(s->real_path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
        if (rc != SQLITE_OK)
                return log_error_errno(sqlite_to_errno(rc), "Failed to open database %s: %s", s->path,
                                       s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        r = verify_opened(s, &checked);
        if (r < 0)
                return r;
        /* Never block the event loop for long on a lock held by a reader's checkpoint. */
        sqlite3_busy_timeout(s->db, 50);
        r = exec_sql(s, "SELECT count(*) FROM sqlite_master");
        /* Only takes effect on a new, empty file: lets retention give pages back to the filesystem. */
        if (r >= 0)
                r = exec_sql(s, "PRAGMA auto_vacuum = INCREMENTAL");
        if (r >= 0)
                r = exec_sql(s, "PRAGMA journal_mode = WAL");
        if (r >= 0)
                r = exec_sql(s, "PRAGMA synchronous = NORMAL");
        if (r < 0 && r != -EBADMSG)
                return log_error_errno(r, "Failed to set up database %s: %s", s->path, sqlite3_errmsg(s->db));
        return r;
}

/* SQLite's NOFOLLOW refuses a symlink anywhere in the path, and a symlink on the way to the directory
 * was allowed (root's or ours): SQLite is given the directory's own path, as the kernel knows it. */
static int resolve_dir(Store *s) {
        char proc[64], dir[PATH_MAX];
        ssize_t n;

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", s->dir_fd);
        n = readlink(proc, dir, sizeof(dir) - 1);
        if (n < 0)
                return log_error_errno(errno, "Failed to resolve the directory of %s: %m", s->path);
        dir[n] = 0;
        if (asprintf(&s->real_path, "%s/%s", streq(dir, "/") ? "" : dir, s->name) < 0) {
                s->real_path = NULL;
                return log_oom();
        }
        return 0;
}

/* One daemon per database: two would record every process twice, with conflicting parents. The lock
 * file holds the pid of whoever has it, for the message the second one gives. */
static int take_lock(Store *s) {
        char name[NAME_MAX + 16], shown[PATH_MAX + 16], pid[24] = "";
        ssize_t n;
        int r;

        snprintf(name, sizeof(name), "%s.lock", s->name);
        snprintf(shown, sizeof(shown), "%s.lock", s->path);
        r = safe_file_open(s->dir_fd, name, shown, true, &s->lock_fd);
        if (r < 0)
                return r;
        if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK)
                        return log_error_errno(errno, "Failed to lock %s: %m", shown);
                n = pread(s->lock_fd, pid, sizeof(pid) - 1, 0);
                pid[MAX(n, 0)] = 0;
                pid[strspn(pid, "0123456789")] = 0;
                return log_error_errno(EBUSY,
                                       "Database %s is in use by another lineaged (pid %s holds %s): one daemon "
                                       "writes a database at a time. Stop that one first, or use another --database=.",
                                       s->path, pid[0] ? pid : "unknown", shown);
        }
        n = snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
        if (ftruncate(s->lock_fd, 0) < 0 || pwrite(s->lock_fd, pid, (size_t) n, 0) != n)
                log_warning_errno(errno, "Failed to write our pid to %s, ignoring: %m", shown);
        return 0;
}

/* A corrupt database is never overwritten: it is renamed, with its WAL, for whoever wants to look. */
static int move_aside(Store *s) {
        static const char *const suffixes[] = { "", "-wal", "-shm" };
        char target[NAME_MAX + 64], source[NAME_MAX + 8];
        uint64_t now = now_usec(CLOCK_REALTIME);

        /* No checkpoint on the way out: what was written since the damage stays in the WAL beside it. */
        (void) sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        sqlite3_close(s->db);
        s->db = NULL;
        for (size_t k = 0; k < ELEMENTSOF(suffixes); k++) {
                snprintf(source, sizeof(source), "%s%s", s->name, suffixes[k]);
                snprintf(target, sizeof(target), "%s.corrupt-%" PRIu64 "%s", s->name, now, suffixes[k]);
                if (renameat(s->dir_fd, source, s->dir_fd, target) < 0 && errno != ENOENT)
                        return log_error_errno(errno, "Failed to move corrupt %s aside: %m", source);
        }
        log_error("Database %s is corrupt: moved aside to %s.corrupt-%" PRIu64 "; starting a new one.",
                  s->path, s->path, now);
        return 0;
}

/* Opens the file (moving a corrupt one aside), migrates it and prepares the statements. */
static int open_db(Store *s) {
        int rc, r;

        r = open_file(s);
        if (r == -EBADMSG) {
                r = move_aside(s);
                if (r >= 0)
                        r = open_file(s);
        }
        if (r < 0)
                return r;
        r = migrate(s);
        if (r < 0)
                return r;
        for (unsigned k = 0; k < _STMT_MAX; k++) {
                rc = sqlite3_prepare_v3(s->db, stmt_sql[k], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[k], NULL);
                if (rc != SQLITE_OK)
                        return log_error_errno(sqlite_to_errno(rc), "Failed to prepare statement for %s: %s",
                                               s->path, sqlite3_errmsg(s->db));
        }
        return 0;
}

int store_replace_corrupt(Store *s) {
        int r;

        for (unsigned k = 0; k < _STMT_MAX; k++)
                (void) sqlite3_finalize(s->stmt[k]);
        memset(s->stmt, 0, sizeof(s->stmt));
        s->boot = s->run = 0;
        r = move_aside(s);
        if (r < 0)
                return r;
        return open_db(s);
}

int store_open(Store **ret, const char *path) {
        _cleanup_(store_freep) Store *s = NULL;
        int r;

        s = calloc(1, sizeof(Store));
        if (!s)
                return log_oom();
        s->dir_fd = s->lock_fd = -1;
        s->path = strdup(path);
        if (!s->path)
                return log_oom();
        r = safe_file_open_dir(s->path, 0700, &s->dir_fd, &s->name);
        if (r < 0)
                return r;
        r = resolve_dir(s);
        if (r < 0)
                return r;
        r = take_lock(s);
        if (r < 0)
                return r;
        r = open_db(s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        for (unsigned k = 0; k < _STMT_MAX; k++)
                sqlite3_finalize(s->stmt[k]);
        if (s->db)
                sqlite3_close(s->db);
        /* Closing the lock file releases the lock, after the database is closed. */
        if (s->lock_fd >= 0)
                close(s->lock_fd);
        if (s->dir_fd >= 0)
                close(s->dir_fd);
        free(s->path);
        free(s->real_path);
        free(s->folded);
        free(s->json);
        free(s);
        return NULL;
}

sqlite3 *store_db(Store *s) {
        return s->db;
}

const char *store_error(Store *s) {
        return s->error;
}

const char *store_path(Store *s) {
        return s->path;
}

uint64_t store_size(Store *s) {
        char wal[4096];
        struct stat st;
        uint64_t n = 0;

        if (stat(s->path, &st) >= 0)
                n += (uint64_t) st.st_size;
        snprintf(wal, sizeof(wal), "%s-wal", s->path);
        if (stat(wal, &st) >= 0)
                n += (uint64_t) st.st_size;
        return n;
}

int store_set_boot(Store *s, const StoreBoot *boot, uint64_t *ret_id) {
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db,
                                "INSERT INTO boots (boot_id, boot_time, realtime_offset, boottime_offset, clock_ticks, first_seen)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (boot_id) DO UPDATE SET boot_id = boot_id"
                                " RETURNING id",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_text(st, 1, boot->boot_id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, (int64_t) boot->boot_time);
                sqlite3_bind_int64(st, 3, boot->realtime_offset_ns);
                sqlite3_bind_int64(st, 4, boot->boottime_offset_ns);
                sqlite3_bind_int64(st, 5, (int64_t) boot->clock_ticks);
                sqlite3_bind_int64(st, 6, (int64_t) now_usec(CLOCK_REALTIME));
                rc = sqlite3_step(st);
        }
        if (rc != SQLITE_ROW) {
                int r = sqlite_to_errno(rc);

                sqlite3_finalize(st);
                return log_error_errno(r ?: -EIO, "Failed to record boot %s: %s", boot->boot_id, sqlite3_errmsg(s->db));
        }
        s->boot = (uint64_t) sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (ret_id)
                *ret_id = s->boot;
        return 0;
}

int store_find_boot(Store *s, const char *boot_id, uint64_t *ret_rowid, char ret_id[static 33]) {
        sqlite3_stmt *st = NULL;
        char norm[33] = "";
        size_t k = 0;
        int r = 0;

        for (const char *p = boot_id; p && *p && k < 32; p++)
                if (*p != '-')
                        norm[k++] = (char) tolower((unsigned char) *p);
        norm[k] = 0;
        if (sqlite3_prepare_v2(store_db(s), boot_id ? "SELECT id, boot_id FROM boots WHERE boot_id = ?1"
                                                    : "SELECT id, boot_id FROM boots ORDER BY id DESC LIMIT 1",
                               -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        if (boot_id)
                sqlite3_bind_text(st, 1, norm, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
                *ret_rowid = (uint64_t) sqlite3_column_int64(st, 0);
                snprintf(ret_id, 33, "%s", (const char *) sqlite3_column_text(st, 1) ?: "");
        } else
                r = -ENOENT;
        sqlite3_finalize(st);
        return r;
}

int store_next_instance_id(Store *s, uint64_t *ret) {
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db, "SELECT coalesce(max(id), 0) + 1 FROM instances", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
                sqlite3_finalize(st);
                return sqlite_to_errno(rc) ?: -EIO;
        }
        *ret = (uint64_t) sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return 0;
}

/* argv as JSON in the store's buffer (valid until the next call), NULL if there is none. */
static int store_json(Store *s, const char *argv, size_t len, const char **ret) {
        if (!argv || len == 0) {
                *ret = NULL;
                return 0;
        }
        if (s->json_alloc < ARGV_JSON_MAX(len)) {
                size_t n = MAX(ARGV_JSON_MAX(len), (size_t) 4096);
                char *b = realloc(s->json, n);

                if (!b)
                        return -ENOMEM;
                s->json = b;
                s->json_alloc = n;
        }
        argv_json_write(s->json, argv, len);
        *ret = s->json;
        return 0;
}

static void bind_opt_int(sqlite3_stmt *st, int idx, bool have, int64_t v) {
        if (have)
                sqlite3_bind_int64(st, idx, v);
        else
                sqlite3_bind_null(st, idx);
}

/* Text stays valid until the statement is stepped and reset (step_row), so SQLite need not copy it. */
static void bind_opt_text(sqlite3_stmt *st, int idx, const char *v) {
        if (v && *v)
                sqlite3_bind_text(st, idx, v, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, idx);
}

/* Steps a bound statement. A row that violates a constraint is skipped with a warning (it is bad data,
 * and must not block everything behind it); any other failure aborts the flush. */
static int step_row(Store *s, sqlite3_stmt *st, const char *what) {
        int rc = sqlite3_step(st), r = 0;

        if (rc != SQLITE_DONE) {
                r = sqlite_to_errno(rc) ?: -EIO;
                if (r == -EEXIST) {
                        s->skipped_rows++;
                        log_warning("Failed to write %s: %s, ignoring.", what, sqlite3_errmsg(s->db));
                        r = 0;
                }
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return r;
}

static bool streq_opt(const char *a, const char *b) {
        return streq(a && *a ? a : "", b && *b ? b : "");
}

/* Whether the row written for i will hold exactly the image of its exec e: then e is not written as an
 * events row, the row's exec_time is its time. e->text and e->argv are what was read after the exec;
 * the row's exe is i->exe and its argv is i->argv if that is (re)written now, else what the row has. */
static int exec_folds(Store *s, const Instance *i, const TrackerEvent *e, bool *ret) {
        size_t el = e->argv ? e->argv_len : 0, il = i->argv ? i->argv_len : 0;
        sqlite3_stmt *st;
        int rc;

        *ret = false;
        if (e->tid != 0 || !streq_opt(e->text, i->exe))
                return 0;
        if (i->argv_changed || !i->written) {
                *ret = el == il && (el == 0 || memcmp(e->argv, i->argv, el) == 0);
                return 0;
        }
        /* The row keeps the argv it has: the exec's is no argv at all (else argv_changed), so the
         * row stands for the exec if it has none either, whichever commit it was written in. */
        if (el > 0)
                return 0;
        st = s->stmt[STMT_ROW_NO_ARGV];
        sqlite3_bind_int64(st, 1, (int64_t) i->id);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return sqlite_to_errno(rc) ?: -EIO;
        *ret = rc == SQLITE_ROW;
        return 0;
}

static int fold_exec(Store *s, const TrackerEvent *e) {
        if (s->n_folded >= s->n_folded_alloc) {
                size_t n = MAX(s->n_folded_alloc * 2, (size_t) 256);
                const TrackerEvent **f = reallocarray(s->folded, n, sizeof(*f));

                if (!f)
                        return -ENOMEM;
                s->folded = f;
                s->n_folded_alloc = n;
        }
        s->folded[s->n_folded++] = e;
        return 0;
}

static int cmp_ptr(const void *a, const void *b) {
        uintptr_t x = (uintptr_t) *(const void *const *) a, y = (uintptr_t) *(const void *const *) b;

        return x < y ? -1 : x > y;
}

static bool exec_folded(Store *s, const TrackerEvent *e) {
        if (s->n_folded == 0)
                return false;
        if (!s->folded_sorted) {
                qsort(s->folded, s->n_folded, sizeof(*s->folded), cmp_ptr);
                s->folded_sorted = true;
        }
        return bsearch(&e, s->folded, s->n_folded, sizeof(*s->folded), cmp_ptr);
}

/* Before a written row's image or exec is replaced: its exec, if it holds one, becomes an events row. */
static int move_row_exec(Store *s, const Instance *i, bool new_exec, const char *argv) {
        sqlite3_stmt *st = s->stmt[STMT_ROW_EXEC], *ev = s->stmt[STMT_EVENT];
        int rc, r = 0;

        sqlite3_bind_int64(st, 1, (int64_t) i->id);
        sqlite3_bind_int(st, 2, new_exec);
        bind_opt_text(st, 3, i->exe);
        sqlite3_bind_int(st, 4, i->argv_changed);
        bind_opt_text(st, 5, argv);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                sqlite3_bind_int64(ev, 1, (int64_t) i->id);
                sqlite3_bind_int64(ev, 2, sqlite3_column_int64(st, 0));
                sqlite3_bind_int64(ev, 3, LINEAGE_EVENT_EXEC);
                sqlite3_bind_value(ev, 7, sqlite3_column_value(st, 1));
                sqlite3_bind_value(ev, 8, sqlite3_column_value(st, 2));
                /* It keeps who may see it. */
                sqlite3_bind_value(ev, 9, sqlite3_column_value(st, 3));
                sqlite3_bind_value(ev, 10, sqlite3_column_value(st, 4));
                r = step_row(s, ev, "event");
        } else if (rc != SQLITE_DONE)
                r = sqlite_to_errno(rc) ?: -EIO;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return r;
}

static int sink_instance(const Instance *i, void *userdata) {
        Store *s = userdata;
        sqlite3_stmt *st = s->stmt[STMT_INSTANCE];
        const TrackerEvent *e = s->flushing ? tracker_pending_exec(s->flushing, i) : NULL;
        bool exited = !(i->flags & INSTANCE_ALIVE), fold = false;
        char container[PROCFS_CONTAINER_ID_LEN + 1];
        const char *argv;
        int r;

        if (e) {
                r = exec_folds(s, i, e, &fold);
                if (r < 0)
                        return r;
        }
        r = store_json(s, i->argv, i->argv_len, &argv);
        if (r < 0)
                return r;
        if (fold) {
                r = fold_exec(s, e);
                if (r < 0)
                        return r;
        }
        if (i->written && (i->flags & INSTANCE_EXECED)) {
                r = move_row_exec(s, i, e != NULL, argv);
                if (r < 0)
                        return r;
        }
        sqlite3_bind_int64(st, 1, (int64_t) i->id);
        sqlite3_bind_int64(st, 2, (int64_t) s->boot);
        sqlite3_bind_int64(st, 3, i->pid);
        sqlite3_bind_int64(st, 4, (int64_t) i->start_ticks);
        sqlite3_bind_int64(st, 5, (int64_t) i->start_time);
        bind_opt_int(st, 6, exited, (int64_t) i->exit_time);
        bind_opt_int(st, 7, i->birth_parent_id > 0, (int64_t) i->birth_parent_id);
        bind_opt_int(st, 8, i->birth_parent_pid >= 0, i->birth_parent_pid);
        sqlite3_bind_text(st, 9, lineage_source_to_string(i->source), -1, SQLITE_STATIC);
        bind_opt_int(st, 10, i->caba_id > 0, (int64_t) i->caba_id);
        bind_opt_int(st, 11, i->caba_id > 0, i->caba_pid);
        bind_opt_int(st, 12, i->exit_parent_id > 0, (int64_t) i->exit_parent_id);
        bind_opt_int(st, 13, exited && i->exit_parent_pid >= 0, i->exit_parent_pid);
        bind_opt_int(st, 14, exited && i->exit_status >= 0, i->exit_status);
        bind_opt_int(st, 15, exited && i->exit_signal > 0, i->exit_signal);
        bind_opt_text(st, 16, i->comm);
        bind_opt_text(st, 17, i->exe);
        bind_opt_text(st, 18, argv);
        sqlite3_bind_int64(st, 19, i->uid);
        sqlite3_bind_int64(st, 20, i->euid);
        sqlite3_bind_int64(st, 21, i->gid);
        sqlite3_bind_int64(st, 22, i->egid);
        bind_opt_int(st, 23, i->loginuid != PROCFS_UNSET_ID, i->loginuid);
        bind_opt_int(st, 24, i->sessionid != PROCFS_UNSET_ID, i->sessionid);
        sqlite3_bind_int64(st, 25, i->sid);
        sqlite3_bind_int64(st, 26, i->pgid);
        sqlite3_bind_int64(st, 27, i->flags & ~INSTANCE_ALIVE);
        sqlite3_bind_int(st, 28, i->argv_changed);
        bind_opt_int(st, 29, fold, fold ? (int64_t) e->time : 0);
        sqlite3_bind_int(st, 30, e && !fold);
        sqlite3_bind_int64(st, 31, i->image_uid);
        bind_opt_int(st, 32, i->image_loginuid != PROCFS_UNSET_ID, i->image_loginuid);
        bind_opt_text(st, 33, i->cgroup);
        if (procfs_container_id(i->cgroup, container) > 0)
                sqlite3_bind_text(st, 34, container, -1, SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(st, 34);
        return step_row(s, st, "instance");
}

static int sink_event(const TrackerEvent *e, void *userdata) {
        Store *s = userdata;
        sqlite3_stmt *st = s->stmt[STMT_EVENT];
        bool ids = e->type == LINEAGE_EVENT_UID || e->type == LINEAGE_EVENT_GID || e->type == LINEAGE_EVENT_PTRACE;
        const char *argv;
        int r;

        if (e->type == LINEAGE_EVENT_EXEC && exec_folded(s, e))
                return 0; /* in its instance row */
        r = store_json(s, e->argv, e->argv_len, &argv);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, (int64_t) e->instance);
        sqlite3_bind_int64(st, 2, (int64_t) e->time);
        sqlite3_bind_int64(st, 3, e->type);
        bind_opt_int(st, 4, e->tid > 0, e->tid);
        bind_opt_int(st, 5, ids || e->type == LINEAGE_EVENT_SID, e->a);
        bind_opt_int(st, 6, ids, e->b);
        bind_opt_text(st, 7, e->text);
        bind_opt_text(st, 8, argv);
        sqlite3_bind_int64(st, 9, e->uid);
        bind_opt_int(st, 10, e->loginuid != PROCFS_UNSET_ID, e->loginuid);
        return step_row(s, st, "event");
}

static int sink_gap(const TrackerGap *g, void *userdata) {
        Store *s = userdata;
        sqlite3_stmt *st = s->stmt[STMT_GAP];

        sqlite3_bind_int64(st, 1, (int64_t) s->boot);
        sqlite3_bind_int64(st, 2, (int64_t) g->start_time);
        sqlite3_bind_int64(st, 3, (int64_t) g->end_time);
        bind_opt_int(st, 4, g->lost > 0, (int64_t) g->lost);
        bind_opt_int(st, 5, g->cpu >= 0, g->cpu);
        sqlite3_bind_text(st, 6, g->reason, -1, SQLITE_STATIC);
        return step_row(s, st, "gap");
}

static int sink_login(const Login *l, void *userdata) {
        Store *s = userdata;
        sqlite3_stmt *st = s->stmt[STMT_LOGIN];

        sqlite3_bind_int64(st, 1, (int64_t) l->instance);
        sqlite3_bind_int64(st, 2, (int64_t) s->boot);
        sqlite3_bind_int64(st, 3, l->audit_session);
        sqlite3_bind_int64(st, 4, l->loginuid);
        bind_opt_text(st, 5, l->service);
        bind_opt_text(st, 6, l->remote_address);
        bind_opt_int(st, 7, l->remote_port > 0, l->remote_port);
        bind_opt_text(st, 8, l->tty);
        bind_opt_text(st, 9, l->logind_session);
        bind_opt_text(st, 10, l->unit);
        sqlite3_bind_int64(st, 11, (int64_t) l->start_time);
        bind_opt_int(st, 12, l->ended, (int64_t) l->end_time);
        sqlite3_bind_int(st, 13, l->self_declared);
        return step_row(s, st, "login");
}

int store_flush(Store *s, Tracker *t) {
        static const TrackerSink sink = {
                .instance = sink_instance,
                .login = sink_login,
                .event = sink_event,
                .gap = sink_gap,
        };
        int r;

        if (!tracker_has_pending(t))
                return 0;
        r = exec_sql(s, "BEGIN IMMEDIATE");
        if (r < 0) {
                snprintf(s->error, sizeof(s->error), "%s", sqlite3_errmsg(s->db));
                return r;
        }
        s->flushing = t;
        s->n_folded = 0;
        s->folded_sorted = false;
        r = tracker_flush(t, &sink, s);
        s->flushing = NULL;
        if (r >= 0 && s->run > 0) {
                /* Where a crash would leave off: the next run records the stretch after it as a gap. */
                sqlite3_stmt *st = s->stmt[STMT_HEARTBEAT];

                sqlite3_bind_int64(st, 1, (int64_t) s->run);
                sqlite3_bind_int64(st, 2, (int64_t) now_usec(CLOCK_REALTIME));
                r = step_row(s, st, "run");
        }
        if (r >= 0)
                r = exec_sql(s, "COMMIT");
        if (r < 0) {
                snprintf(s->error, sizeof(s->error), "%s", sqlite3_errmsg(s->db));
                (void) exec_sql(s, "ROLLBACK");
                return r;
        }
        tracker_flush_complete(t);
        return 0;
}

#define LIVE_COLUMNS "id, pid, start_ticks, start_time, birth_parent, birth_parent_pid, lineage_source, caba, caba_pid," \
        " comm, exe, uid, euid, gid, egid, login_uid, audit_session, sid, pgid, flags, image_uid, image_login_uid, cgroup"

int store_load_live(Store *s, StoreInstanceCallback cb, void *userdata) {
        sqlite3_stmt *st = NULL;
        int rc, r = 0, n = 0;

        rc = sqlite3_prepare_v2(s->db, "SELECT " LIVE_COLUMNS " FROM instances WHERE boot = ?1 AND exit_time IS NULL", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sqlite_to_errno(rc);
        sqlite3_bind_int64(st, 1, (int64_t) s->boot);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *src = (const char *) sqlite3_column_text(st, 6), *comm = (const char *) sqlite3_column_text(st, 9);
                /* Rows from before schema version 8 have no image owner: their owner's (uid, login_uid), as
                 * before; else image_uid, image_login_uid. */
                bool old = sqlite3_column_type(st, 20) == SQLITE_NULL;
                int img_uid = old ? 11 : 20, img_login = old ? 15 : 21;
                Instance i = {
                        .id = (uint64_t) sqlite3_column_int64(st, 0),
                        .pid = sqlite3_column_int(st, 1),
                        .start_ticks = (uint64_t) sqlite3_column_int64(st, 2),
                        .start_time = (uint64_t) sqlite3_column_int64(st, 3),
                        .birth_parent_id = (uint64_t) sqlite3_column_int64(st, 4),
                        .birth_parent_pid = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 5),
                        .caba_id = (uint64_t) sqlite3_column_int64(st, 7),
                        .caba_pid = (uint32_t) sqlite3_column_int64(st, 8),
                        .exe = (char *) sqlite3_column_text(st, 10),
                        .cgroup = (const char *) sqlite3_column_text(st, 22),
                        .uid = (uint32_t) sqlite3_column_int64(st, 11),
                        .euid = (uint32_t) sqlite3_column_int64(st, 12),
                        .gid = (uint32_t) sqlite3_column_int64(st, 13),
                        .egid = (uint32_t) sqlite3_column_int64(st, 14),
                        .loginuid = sqlite3_column_type(st, 15) == SQLITE_NULL ? PROCFS_UNSET_ID : (uint32_t) sqlite3_column_int64(st, 15),
                        .sessionid = sqlite3_column_type(st, 16) == SQLITE_NULL ? PROCFS_UNSET_ID : (uint32_t) sqlite3_column_int64(st, 16),
                        .sid = sqlite3_column_int(st, 17),
                        .pgid = sqlite3_column_int(st, 18),
                        .flags = (uint32_t) sqlite3_column_int64(st, 19),
                        .image_uid = (uint32_t) sqlite3_column_int64(st, img_uid),
                        .image_loginuid = sqlite3_column_type(st, img_login) == SQLITE_NULL
                                                  ? PROCFS_UNSET_ID : (uint32_t) sqlite3_column_int64(st, img_login),
                        .exit_status = -1,
                        .exit_parent_pid = -1,
                };
                LineageSource ls = lineage_source_from_string(src ?: "unknown");

                /* Rows are outside input too: a bad source or pid is skipped, not trusted. */
                if (i.pid <= 0 || (int) ls < 0) {
                        log_warning("Instance %" PRIu64 " in %s has a bad pid or lineage source, ignoring.", i.id, s->path);
                        continue;
                }
                i.source = ls;
                snprintf(i.comm, sizeof(i.comm), "%s", comm ?: "");
                r = cb(&i, userdata);
                if (r < 0 && r != -EEXIST)
                        break;
                r = 0;
                n++;
        }
        sqlite3_finalize(st);
        if (r < 0)
                return r;
        if (rc != SQLITE_DONE)
                return sqlite_to_errno(rc) ?: -EIO;
        return n;
}

bool store_session_has_login(Store *s, uint32_t audit_session) {
        sqlite3_stmt *st = s->stmt[STMT_SESSION_LOGIN];
        bool found;

        /* Asked for every new login (a replay has one every few processes): kept prepared. */
        sqlite3_bind_int64(st, 1, (int64_t) s->boot);
        sqlite3_bind_int64(st, 2, (int64_t) audit_session);
        found = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        return found;
}

int store_birth_parent(Store *s, uint64_t id, uint64_t *ret_birth_parent, int32_t *ret_pid, bool *ret_exited) {
        sqlite3_stmt *st = s->stmt[STMT_BIRTH_PARENT];
        int rc, r = 0;

        /* Walked once per step up an ancestry (the CABA cross-check): kept prepared. */
        sqlite3_bind_int64(st, 1, (int64_t) id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret_birth_parent = (uint64_t) sqlite3_column_int64(st, 0);
                *ret_pid = sqlite3_column_int(st, 1);
                *ret_exited = sqlite3_column_int(st, 2);
        } else
                r = rc == SQLITE_DONE ? -ENOENT : sqlite_to_errno(rc);
        sqlite3_reset(st);
        return r;
}

int store_load_live_logins(Store *s, StoreLoginCallback cb, void *userdata) {
        sqlite3_stmt *st = NULL;
        int rc, n = 0;

        rc = sqlite3_prepare_v2(s->db,
                                "SELECT instance, audit_session, login_uid, service, remote_address, remote_port, tty,"
                                " logind_session, unit, start_time, self_declared FROM logins"
                                " WHERE boot = ?1 AND end_time IS NULL",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sqlite_to_errno(rc);
        sqlite3_bind_int64(st, 1, (int64_t) s->boot);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                Login l = {
                        .instance = (uint64_t) sqlite3_column_int64(st, 0),
                        .audit_session = (uint32_t) sqlite3_column_int64(st, 1),
                        .loginuid = (uint32_t) sqlite3_column_int64(st, 2),
                        .service = (char *) sqlite3_column_text(st, 3),
                        .remote_address = (char *) sqlite3_column_text(st, 4),
                        .remote_port = sqlite3_column_int(st, 5),
                        .tty = (char *) sqlite3_column_text(st, 6),
                        .logind_session = (char *) sqlite3_column_text(st, 7),
                        .unit = (char *) sqlite3_column_text(st, 8),
                        .start_time = (uint64_t) sqlite3_column_int64(st, 9),
                        .self_declared = sqlite3_column_int(st, 10) != 0,
                };

                if (cb(&l, userdata) >= 0)
                        n++;
        }
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? n : (sqlite_to_errno(rc) ?: -EIO);
}

int store_close_old_boots(Store *s) {
        char sql[640];
        int r;

        /* The end of an old boot's record: its last run's last commit (a bound: the exit was not seen),
         * else, for records older than the runs table, the instance's own start. One indexed lookup
         * per row: a per-row scan of the boot's instances made this quadratic on large databases. */
        snprintf(sql, sizeof(sql),
                 "UPDATE instances SET flags = flags | 8, exit_time = max(start_time, coalesce("
                 " (SELECT max(coalesce(r.stopped, r.last_commit)) FROM runs r WHERE r.boot = instances.boot),"
                 " start_time))"
                 " WHERE exit_time IS NULL AND boot != %" PRIu64, s->boot);
        r = exec_sql(s, sql);
        if (r < 0)
                return log_warning_errno(r, "Failed to close the instances of earlier boots in %s: %s", s->path,
                                         sqlite3_errmsg(s->db));
        r = sqlite3_changes(s->db);
        snprintf(sql, sizeof(sql),
                 "UPDATE logins SET end_time = (SELECT exit_time FROM instances i WHERE i.id = logins.instance)"
                 " WHERE end_time IS NULL AND boot != %" PRIu64, s->boot);
        (void) exec_sql(s, sql);
        return r;
}

int store_run_begin(Store *s, uint64_t now, uint64_t *ret_prev_end) {
        sqlite3_stmt *st = NULL;
        uint64_t prev = 0;
        int rc;

        rc = sqlite3_prepare_v2(s->db, "SELECT coalesce(stopped, last_commit) FROM runs WHERE boot = ?1 ORDER BY id DESC LIMIT 1",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_int64(st, 1, (int64_t) s->boot);
                if (sqlite3_step(st) == SQLITE_ROW)
                        prev = (uint64_t) sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        st = NULL;
        rc = sqlite3_prepare_v2(s->db, "INSERT INTO runs (boot, started, last_commit) VALUES (?1, ?2, ?2) RETURNING id", -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_int64(st, 1, (int64_t) s->boot);
                sqlite3_bind_int64(st, 2, (int64_t) now);
                rc = sqlite3_step(st);
        }
        if (rc != SQLITE_ROW) {
                int r = sqlite_to_errno(rc) ?: -EIO;

                sqlite3_finalize(st);
                return r;
        }
        s->run = (uint64_t) sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        *ret_prev_end = prev;
        return 0;
}

int store_run_end(Store *s, uint64_t now) {
        char sql[128];

        if (s->run == 0)
                return 0;
        snprintf(sql, sizeof(sql), "UPDATE runs SET stopped = %" PRIu64 ", last_commit = %" PRIu64 " WHERE id = %" PRIu64,
                 now, now, s->run);
        return exec_sql(s, sql);
}

uint64_t store_used_bytes(Store *s) {
        sqlite3_stmt *st = NULL;
        uint64_t v = 0;

        if (sqlite3_prepare_v2(s->db,
                               "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count, pragma_freelist_count,"
                               " pragma_page_size", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                v = (uint64_t) sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

/* The first instance id, as far as ids follow start times, of an instance that started at or after
 * cutoff: a binary search over rowids. Nothing that started after cutoff can have exited before it, so
 * retention need not look further. (Ids follow start times except for instances a /proc scan found;
 * those only come up for pruning later than they could, never wrongly.) */
static int prune_bound(Store *s, uint64_t cutoff, int64_t *ret) {
        sqlite3_stmt *st = NULL;
        int64_t lo = 1, hi = INT64_MAX;
        int rc;

        rc = sqlite3_prepare_v2(s->db, "SELECT id, start_time FROM instances WHERE id >= ?1 ORDER BY id LIMIT 1", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sqlite_to_errno(rc);
        while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;

                sqlite3_bind_int64(st, 1, mid);
                rc = sqlite3_step(st);
                if (rc == SQLITE_ROW && (uint64_t) sqlite3_column_int64(st, 1) < cutoff)
                        lo = sqlite3_column_int64(st, 0) + 1;
                else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
                        hi = mid;
                else
                        break;
                sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return sqlite_to_errno(rc) ?: -EIO;
        *ret = lo;
        return 0;
}

int store_prune_step(Store *s, uint64_t cutoff, unsigned limit, uint64_t *ret_pruned) {
        char sql[640];
        int64_t bound = 0;
        int r;

        r = exec_sql(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = prune_bound(s, cutoff, &bound);
        if (r < 0) {
                (void) exec_sql(s, "ROLLBACK");
                return r;
        }
        /* Leaves of the birth tree only: an instance with any recorded child is someone's ancestor, and
         * stays as long as that child does. A login goes with its instance, which is the ancestor of
         * everything of that login. Earliest started first, in id order (no index on exit_time: it cost
         * 19 bytes per instance); the walk stops at the first instance started after cutoff. */
        snprintf(sql, sizeof(sql),
                 "CREATE TEMP TABLE IF NOT EXISTS prune_ids (id INTEGER PRIMARY KEY);"
                 "DELETE FROM prune_ids;"
                 "INSERT INTO prune_ids SELECT id FROM instances i WHERE id < %" PRIi64 " AND exit_time IS NOT NULL"
                 " AND exit_time < %" PRIu64 " AND NOT EXISTS (SELECT 1 FROM instances c WHERE c.birth_parent = i.id)"
                 " ORDER BY id LIMIT %u;"
                 "DELETE FROM events WHERE instance IN (SELECT id FROM prune_ids);"
                 "DELETE FROM logins WHERE instance IN (SELECT id FROM prune_ids);"
                 "DELETE FROM instances WHERE id IN (SELECT id FROM prune_ids);",
                 bound, cutoff, limit);
        r = exec_sql(s, sql);
        if (r >= 0) {
                *ret_pruned = (uint64_t) sqlite3_changes(s->db);
                r = exec_sql(s, "COMMIT");
        }
        if (r < 0) {
                (void) exec_sql(s, "ROLLBACK");
                return r;
        }
        /* Give freed pages back, a few at a time. */
        (void) exec_sql(s, "PRAGMA incremental_vacuum(2048)");
        return 0;
}
