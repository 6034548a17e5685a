/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl --journal: lineaged's LINEAGE_* journal entries rebuilt into a database in its own schema. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "journal-read.h"
#include "offline.h"
#include "lineage/fields.h"
#include "store.h"

#define FIELD_VALUE_MAX (512U * 1024U) /* LINEAGE_ARGV_JSON of 32 KiB of argv is 256 KiB at most */
#define MACHINES_MAX 64U

static struct {
        char *dir;
        char *path;
} rebuilt;

/* The staging table: one row per entry, as the entry says it. Column order = the fields[] below. */
static const char staging_sql[] =
        "CREATE TEMP TABLE entries (boot_id TEXT NOT NULL, realtime INTEGER, monotonic INTEGER, "
        "event TEXT NOT NULL, time INTEGER, instance INTEGER NOT NULL, pid INTEGER, parent_pid INTEGER, "
        "parent_instance INTEGER, source TEXT, start_time INTEGER, exit_time INTEGER, comm TEXT, exe TEXT, "
        "uid INTEGER, audit_loginuid INTEGER, audit_session INTEGER, sid INTEGER, cgroup TEXT, container TEXT, "
        "login_instance INTEGER, login_uid INTEGER, login_service TEXT, login_remote TEXT, login_session INTEGER, "
        "login_tty TEXT, login_self_declared INTEGER, login_logind_session TEXT, login_unit TEXT, "
        "argv_truncated INTEGER, argv TEXT)";

typedef enum { TEXT, INT } Kind;

static const struct {
        const char *name;
        Kind kind;
} fields[] = {
        { LINEAGE_FIELD_EVENT, TEXT },
        { LINEAGE_FIELD_TIME, INT },
        { LINEAGE_FIELD_INSTANCE, INT },
        { LINEAGE_FIELD_PID, INT },
        { LINEAGE_FIELD_PARENT_PID, INT },
        { LINEAGE_FIELD_PARENT_INSTANCE, INT },
        { LINEAGE_FIELD_SOURCE, TEXT },
        { LINEAGE_FIELD_START_TIME, INT },
        { LINEAGE_FIELD_EXIT_TIME, INT },
        { LINEAGE_FIELD_COMM, TEXT },
        { LINEAGE_FIELD_EXE, TEXT },
        { LINEAGE_FIELD_UID, INT },
        { LINEAGE_FIELD_AUDIT_LOGINUID, INT },
        { LINEAGE_FIELD_AUDIT_SESSION, INT },
        { LINEAGE_FIELD_SID, INT },
        { LINEAGE_FIELD_CGROUP, TEXT },
        { LINEAGE_FIELD_CONTAINER, TEXT },
        { LINEAGE_FIELD_LOGIN_INSTANCE, INT },
        { LINEAGE_FIELD_LOGIN_UID, INT },
        { LINEAGE_FIELD_LOGIN_SERVICE, TEXT },
        { LINEAGE_FIELD_LOGIN_REMOTE, TEXT },
        { LINEAGE_FIELD_LOGIN_SESSION, INT },
        { LINEAGE_FIELD_LOGIN_TTY, TEXT },
        { LINEAGE_FIELD_LOGIN_SELF_DECLARED, INT },
        { LINEAGE_FIELD_LOGIN_LOGIND_SESSION, TEXT },
        { LINEAGE_FIELD_LOGIN_UNIT, TEXT },
        { LINEAGE_FIELD_ARGV_TRUNCATED, INT },
};

/* From the staging table to lineaged's tables. Instance ids are the exporting daemon's: one database
 * numbers them once, so they are kept (and so are the ids answers name); an id a later boot's entries
 * reuse (a new database on that machine) is given a fresh one. */
static const char rebuild_sql[] =
        /* Without these the correlated lookups below make the rebuild quadratic in the entries. */
        "CREATE INDEX temp.entries_instance ON entries (boot_id, instance);"
        "CREATE INDEX temp.entries_login ON entries (boot_id, login_instance);"
        "INSERT INTO boots (boot_id, boot_time, realtime_offset, boottime_offset, clock_ticks, first_seen) "
        "  SELECT boot_id, min(realtime - monotonic), min(realtime - monotonic) * 1000, 0, :ticks, min(realtime) "
        "  FROM entries GROUP BY boot_id ORDER BY min(realtime);"
        "CREATE TEMP TABLE ids (boot INTEGER, instance INTEGER, id INTEGER, PRIMARY KEY (boot, instance));"
        "CREATE INDEX temp.ids_instance ON ids (instance);"
        "INSERT INTO ids SELECT b.id, e.instance, NULL FROM entries e JOIN boots b ON b.boot_id = e.boot_id "
        "  GROUP BY b.id, e.instance ORDER BY min(e.realtime);"
        "UPDATE ids SET id = instance WHERE boot = (SELECT min(i2.boot) FROM ids i2 WHERE i2.instance = ids.instance);"
        "UPDATE ids SET id = (SELECT max(instance) FROM ids) + rowid WHERE id IS NULL;"
        "CREATE INDEX temp.ids_id ON ids (id);"
        /* The newest entry with the image (an exec, else any) of each instance gives its columns. */
        "CREATE TEMP VIEW latest AS SELECT * FROM ("
        "  SELECT e.*, ids.id AS rid, ids.boot AS boot, row_number() OVER (PARTITION BY ids.id "
        "    ORDER BY e.event = 'exec' DESC, coalesce(e.time, e.realtime) DESC, e.realtime DESC) AS k "
        "  FROM entries e JOIN boots b ON b.boot_id = e.boot_id JOIN ids ON ids.boot = b.id AND ids.instance = e.instance "
        "  WHERE e.event IN ('exec', 'process') OR e.pid IS NOT NULL) WHERE k = 1;"
        "INSERT INTO instances (id, boot, pid, start_ticks, start_time, exit_time, birth_parent, birth_parent_pid, "
        "  lineage_source, comm, exe, argv, uid, login_uid, audit_session, sid, flags, exec_time, image_uid, "
        "  image_login_uid, cgroup, container_id) "
        "  SELECT l.rid, l.boot, l.pid, "
        "    max(0, (l.start_time - (SELECT boot_time FROM boots WHERE id = l.boot)) * :ticks / 1000000), "
        "    l.start_time, (SELECT max(coalesce(e.exit_time, CASE WHEN e.event = 'login-end' THEN e.time END)) "
        "      FROM entries e JOIN ids ON ids.instance = e.instance AND ids.boot = l.boot WHERE ids.id = l.rid), "
        "    (SELECT p.id FROM ids p WHERE p.boot = l.boot AND p.instance = l.parent_instance), "
        "    l.parent_pid, coalesce(l.source, 'unknown'), l.comm, l.exe, l.argv, l.uid, l.audit_loginuid, "
        "    l.audit_session, l.sid, (CASE WHEN l.event = 'exec' THEN 32 ELSE 0 END) | "
        "    (CASE WHEN l.argv_truncated = 1 THEN 2 ELSE 0 END), "
        "    CASE WHEN l.event = 'exec' THEN l.time END, l.uid, l.audit_loginuid, l.cgroup, l.container "
        "  FROM latest l WHERE l.pid IS NOT NULL AND l.start_time IS NOT NULL;"
        /* Earlier execs of an instance are its exec events. */
        "INSERT INTO events (instance, time, type, text, argv, uid, login_uid) "
        "  SELECT ids.id, e.time, 2, e.exe, e.argv, e.uid, e.audit_loginuid "
        "  FROM entries e JOIN boots b ON b.boot_id = e.boot_id JOIN ids ON ids.boot = b.id AND ids.instance = e.instance "
        "  JOIN instances i ON i.id = ids.id WHERE e.event = 'exec' AND e.time < i.exec_time;"
        "INSERT INTO logins (instance, boot, audit_session, login_uid, service, remote_address, remote_port, tty, "
        "  logind_session, unit, start_time, end_time, self_declared) "
        "  SELECT ids.id, ids.boot, s.login_session, s.login_uid, s.login_service, s.remote_address, s.remote_port, "
        "    s.login_tty, s.login_logind_session, s.login_unit, s.time, "
        "    (SELECT max(x.time) FROM entries x WHERE x.event = 'login-end' AND x.boot_id = s.boot_id "
        "      AND x.login_instance = s.login_instance), coalesce(s.login_self_declared, 1) "
        "  FROM (SELECT *, row_number() OVER (PARTITION BY boot_id, login_instance ORDER BY realtime DESC) AS k "
        "        FROM staged_logins) s "
        "  JOIN boots b ON b.boot_id = s.boot_id JOIN ids ON ids.boot = b.id AND ids.instance = s.login_instance "
        "  JOIN instances i ON i.id = ids.id "
        "  WHERE s.k = 1 AND s.login_session IS NOT NULL AND s.login_uid IS NOT NULL AND s.time IS NOT NULL;";

/* A process's loginuid and audit session are its login's (a fork inherits them; a new login has an
 * entry of its own): an exec entry written before lineaged read them names the login instead, as the
 * daemon later reads them for a process that lives on. */
static const char audit_ids_sql[] =
        "UPDATE entries SET audit_loginuid = login_uid, audit_session = login_session "
        "WHERE event = 'exec' AND audit_loginuid IS NULL AND audit_session IS NULL AND login_session IS NOT NULL;";

/* A process whose entries carry no audit ids (its exec was exported before lineaged read them, and named
 * no login yet) has those of the nearest login up its birth chain, itself included: a fork inherits them,
 * and a process that set its own loginuid began a login of its own, which the chain would meet first.
 * Processes under no known login keep none. */
static const char inherit_ids_sql[] =
        "WITH RECURSIVE up(id, anc, depth) AS ("
        "  SELECT id, id, 0 FROM instances WHERE login_uid IS NULL AND audit_session IS NULL "
        "  UNION ALL SELECT up.id, i.birth_parent, up.depth + 1 FROM up JOIN instances i ON i.id = up.anc "
        "  WHERE i.birth_parent IS NOT NULL AND up.depth < 256 "
        "    AND NOT EXISTS (SELECT 1 FROM logins WHERE instance = up.anc)), "
        "nearest AS (SELECT up.id, l.login_uid, l.audit_session, "
        "  row_number() OVER (PARTITION BY up.id ORDER BY up.depth) AS k "
        "  FROM up JOIN logins l ON l.instance = up.anc) "
        "UPDATE instances SET login_uid = n.login_uid, audit_session = n.audit_session "
        "FROM nearest n WHERE n.k = 1 AND n.id = instances.id;";

static int exec_sql(sqlite3 *db, const char *sql) {
        char *err = NULL;

        if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
                log_error("Failed to rebuild the database from the journal: %s", err ?: sqlite3_errmsg(db));
                sqlite3_free(err);
                return -EIO;
        }
        return 0;
}

/* One field of the current entry, without its "NAME=": NULL when absent, empty or not text. */
static char *entry_field(sd_journal *j, const char *name) {
        const void *data;
        size_t len, n = strlen(name);
        const char *s;

        /* The data threshold is a hint only: a crafted file's field can be any size. */
        if (sd_journal_get_data(j, name, &data, &len) < 0 || len <= n + 1 || len > n + 1 + FIELD_VALUE_MAX)
                return NULL;
        s = (const char *) data + n + 1;
        len -= n + 1;
        if (memchr(s, 0, len))
                return NULL;
        return strndup(s, len);
}

/* Decimal, non-negative, at most 2^53 (ids, pids, uids and µs times are far below; renumbering ids above
 * the largest stays in range): anything else is no value. */
#define VALUE_MAX (INT64_C(1) << 53)
static bool parse_int(const char *s, int64_t *ret) {
        char *end;
        long long v;

        if (!s || !*s || *s < '0' || *s > '9')
                return false;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0 || *end || v > VALUE_MAX)
                return false;
        *ret = v;
        return true;
}

/* Whether js is a non-empty JSON array of strings only. */
static bool is_string_array(const char *js) {
        json_object *a = json_tokener_parse(js);
        size_t n = a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
        bool yes = n > 0;

        for (size_t k = 0; yes && k < n; k++)
                yes = json_object_is_type(json_object_array_get_idx(a, k), json_type_string);
        json_object_put(a);
        return yes;
}

/* argv as the daemon stores it (argv_to_json()): LINEAGE_ARGV_JSON as it is when it is an array of
 * strings (the exporter writes that very form), else LINEAGE_ARGV split at spaces. NULL: none. */
static char *entry_argv(sd_journal *j) {
        _cleanup_free_ char *line = entry_field(j, LINEAGE_FIELD_ARGV), *js = entry_field(j, LINEAGE_FIELD_ARGV_JSON);
        size_t len;

        if (js && is_string_array(js))
                return TAKE_PTR(js);
        if (!line)
                return NULL;
        len = strlen(line);
        for (size_t k = 0; k < len; k++)
                if (line[k] == ' ')
                        line[k] = 0;
        return argv_to_json(line, len + 1);
}

static void bind_field(sqlite3_stmt *st, int col, Kind kind, char *value) {
        int64_t v;

        if (kind == INT) {
                if (parse_int(value, &v))
                        sqlite3_bind_int64(st, col, v);
                else
                        sqlite3_bind_null(st, col);
                free(value);
        } else if (value)
                sqlite3_bind_text(st, col, value, -1, free);
        else
                sqlite3_bind_null(st, col);
}

typedef struct Machines {
        char id[MACHINES_MAX][33];
        char *host[MACHINES_MAX];
        unsigned n;
} Machines;

static void machines_add(Machines *m, sd_journal *j) {
        _cleanup_free_ char *id = entry_field(j, "_MACHINE_ID");

        if (!id || m->n >= MACHINES_MAX)
                return;
        for (unsigned k = 0; k < m->n; k++)
                if (streq(m->id[k], id))
                        return;
        snprintf(m->id[m->n], sizeof(m->id[m->n]), "%s", id);
        m->host[m->n++] = entry_field(j, "_HOSTNAME");
}

/* The remote "ADDRESS:PORT" or "[ADDRESS]:PORT" (or "ADDRESS") of a login field, as two columns. */
static void bind_remote(sqlite3_stmt *st, int col_address, int col_port, const char *remote) {
        const char *colon = remote ? strrchr(remote, ':') : NULL;
        int64_t port;

        sqlite3_bind_null(st, col_address);
        sqlite3_bind_null(st, col_port);
        if (!remote)
                return;
        if (remote[0] == '[' && colon && colon > remote && colon[-1] == ']' && parse_int(colon + 1, &port)) {
                sqlite3_bind_text(st, col_address, remote + 1, (int) (colon - remote - 2), SQLITE_TRANSIENT);
                sqlite3_bind_int64(st, col_port, port);
        } else if (colon && !strchr(remote, '[') && strchr(remote, ':') == colon && parse_int(colon + 1, &port)) {
                sqlite3_bind_text(st, col_address, remote, (int) (colon - remote), SQLITE_TRANSIENT);
                sqlite3_bind_int64(st, col_port, port);
        } else
                sqlite3_bind_text(st, col_address, remote, -1, SQLITE_TRANSIENT);
}

static int open_journal(const char *dir, const char *machine, sd_journal **ret) {
        sd_journal *j = NULL;
        char match[256];
        int r;

        r = dir ? sd_journal_open_directory(&j, dir, 0) : sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return log_error_errno(r, "Failed to open the journal%s%s: %m", dir ? " in " : "", dir ?: "");
        (void) sd_journal_set_data_threshold(j, FIELD_VALUE_MAX);
        /* Fields of one name are alternatives, of different names all required: any of the four events,
         * written by root (journald stamps _UID: nobody else can claim to be lineaged). */
        r = sd_journal_add_match(j, LINEAGE_FIELD_EVENT "=" LINEAGE_EVENT_VALUE_EXEC, 0);
        if (r >= 0)
                r = sd_journal_add_match(j, LINEAGE_FIELD_EVENT "=" LINEAGE_EVENT_VALUE_PROCESS, 0);
        if (r >= 0)
                r = sd_journal_add_match(j, LINEAGE_FIELD_EVENT "=" LINEAGE_EVENT_VALUE_LOGIN_START, 0);
        if (r >= 0)
                r = sd_journal_add_match(j, LINEAGE_FIELD_EVENT "=" LINEAGE_EVENT_VALUE_LOGIN_END, 0);
        if (r >= 0)
                r = sd_journal_add_match(j, "_UID=0", 0);
        if (r >= 0 && machine) {
                bool id = strlen(machine) == 32 && strspn(machine, "0123456789abcdef") == 32;

                snprintf(match, sizeof(match), "%s=%.200s", id ? "_MACHINE_ID" : "_HOSTNAME", machine);
                r = sd_journal_add_match(j, match, 0);
        }
        if (r < 0) {
                sd_journal_close(j);
                return log_error_errno(r, "Failed to select the lineage entries of the journal: %m");
        }
        *ret = j;
        return 0;
}

/* One entry into the staging table (the login ones into staged_logins too). */
static int stage_entry(sqlite3 *db, sqlite3_stmt *st, sqlite3_stmt *login, sd_journal *j) {
        uint64_t realtime = 0, monotonic = 0;
        sd_id128_t boot;
        char boot_id[33];
        int col = 4, r;

        if (sd_journal_get_realtime_usec(j, &realtime) < 0 || sd_journal_get_monotonic_usec(j, &monotonic, &boot) < 0)
                return 0;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        sqlite3_bind_text(st, 1, sd_id128_to_string(boot, boot_id), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, (int64_t) realtime);
        sqlite3_bind_int64(st, 3, (int64_t) monotonic);
        for (size_t k = 0; k < ELEMENTSOF(fields); k++) {
                if (streq(fields[k].name, LINEAGE_FIELD_LOGIN_REMOTE)) {
                        _cleanup_free_ char *remote = entry_field(j, fields[k].name);

                        sqlite3_bind_text(st, col++, remote, -1, SQLITE_TRANSIENT);
                        continue;
                }
                bind_field(st, col++, fields[k].kind, entry_field(j, fields[k].name));
        }
        bind_field(st, col, TEXT, entry_argv(j));
        r = sqlite3_step(st);
        if (r == SQLITE_CONSTRAINT)
                return 0; /* an entry without an event or an instance: nothing to rebuild from it */
        if (r != SQLITE_DONE)
                return log_error_errno(EIO, "Failed to stage a journal entry: %s", sqlite3_errmsg(db));
        if (login) {
                _cleanup_free_ char *remote = entry_field(j, LINEAGE_FIELD_LOGIN_REMOTE);

                sqlite3_reset(login);
                sqlite3_bind_int64(login, 1, sqlite3_last_insert_rowid(db));
                bind_remote(login, 2, 3, remote);
                if (sqlite3_step(login) != SQLITE_DONE)
                        return -EIO;
        }
        return 1;
}

/* Every lineage entry into the staging table; says which machines they came from. */
static int stage(sqlite3 *db, sd_journal *j, Machines *m, unsigned *ret_n) {
        _cleanup_free_ char *insert = NULL;
        sqlite3_stmt *st = NULL, *login = NULL;
        unsigned n = 0;
        int r = 0;

        if (exec_sql(db, staging_sql) < 0 ||
            exec_sql(db, "CREATE TEMP TABLE login_remote (entry INTEGER PRIMARY KEY, remote_address TEXT, remote_port INTEGER);"
                         "CREATE TEMP VIEW staged_logins AS SELECT e.*, r.remote_address, r.remote_port FROM entries e "
                         "JOIN login_remote r ON r.entry = e.rowid WHERE e.event = 'login-start';") < 0)
                return -EIO;
        if (asprintf(&insert, "INSERT INTO entries VALUES (%s)",
                     "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?") < 0)
                return log_oom();
        if (sqlite3_prepare_v2(db, insert, -1, &st, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT INTO login_remote VALUES (?, ?, ?)", -1, &login, NULL) != SQLITE_OK) {
                r = log_error_errno(EIO, "Failed to prepare the rebuild: %s", sqlite3_errmsg(db));
                goto finish;
        }
        SD_JOURNAL_FOREACH(j) {
                _cleanup_free_ char *event = entry_field(j, LINEAGE_FIELD_EVENT);

                machines_add(m, j);
                r = stage_entry(db, st, event && streq(event, LINEAGE_EVENT_VALUE_LOGIN_START) ? login : NULL, j);
                if (r < 0) {
                        log_error("Failed to stage a journal entry: %s", sqlite3_errmsg(db));
                        goto finish;
                }
                n += r;
        }
        r = 0;
        *ret_n = n;
finish:
        sqlite3_finalize(st);
        sqlite3_finalize(login);
        return r;
}

static int64_t count_sql(sqlite3 *db, const char *sql) {
        sqlite3_stmt *st = NULL;
        int64_t v = -1;

        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

/* What the entries did not hold, on stderr: the answers are what could be rebuilt. */
static void report(sqlite3 *db, unsigned entries) {
        int64_t instances = count_sql(db, "SELECT count(*) FROM instances"),
                logins = count_sql(db, "SELECT count(*) FROM logins"),
                orphans = count_sql(db, "SELECT count(DISTINCT i.id) FROM instances i JOIN ids ON ids.id = i.id "
                                        "JOIN entries e ON e.instance = ids.instance WHERE i.birth_parent IS NULL "
                                        "AND e.parent_instance IS NOT NULL"),
                renumbered = count_sql(db, "SELECT count(*) FROM ids WHERE id <> instance"),
                unknown_exit = count_sql(db, "SELECT count(*) FROM instances WHERE exit_time IS NULL");

        log_info("Rebuilt %" PRIi64 " processes and %" PRIi64 " logins from %u journal entries.", instances, logins, entries);
        if (orphans > 0)
                log_info("Not in the journal: the birth parent of %" PRIi64 " processes (never exported, or "
                         "exported before the entries read): their ancestors end there.", orphans);
        if (unknown_exit > 0)
                log_info("Not in the journal: whether %" PRIi64 " processes exited (the export writes exits only of "
                         "logins and of ancestors exported after they ended): they read as alive.", unknown_exit);
        if (renumbered > 0)
                log_info("%" PRIi64 " instance ids were reused by a later boot's entries and were renumbered.", renumbered);
}

static int rebuild(sqlite3 *db, sd_journal *j, const char *machine) {
        Machines m = {};
        unsigned entries = 0;
        char ticks[32], *sql = NULL;
        int r;

        r = stage(db, j, &m, &entries);
        if (r >= 0 && m.n > 1) {
                /* Also when a hostname matched several: two machines' records are never merged. */
                if (machine)
                        log_error("%u machines match --machine=%s; choose one by its machine ID:", m.n, machine);
                else
                        log_error("The journal holds lineage entries of %u machines; choose one with --machine=ID|HOSTNAME:", m.n);
                for (unsigned k = 0; k < m.n; k++)
                        log_error("  %s %s", m.id[k], m.host[k] ?: "");
                r = -EINVAL;
        }
        for (unsigned k = 0; k < m.n; k++)
                free(m.host[k]);
        if (r < 0)
                return r;
        if (entries == 0)
                return log_error_errno(ENOENT, "No lineage entries in the journal%s%s (lineaged --journal-export writes them).",
                                       machine ? " of " : "", machine ?: "");
        snprintf(ticks, sizeof(ticks), "%ld", sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100L);
        /* :ticks is the same everywhere: substituted, as sqlite3_exec() binds nothing. */
        sql = strdup(rebuild_sql);
        if (!sql)
                return log_oom();
        for (char *p; (p = strstr(sql, ":ticks"));) {
                char *s = NULL;

                if (asprintf(&s, "%.*s%s%s", (int) (p - sql), sql, ticks, p + 6) < 0) {
                        free(sql);
                        return log_oom();
                }
                free(sql);
                sql = s;
        }
        r = exec_sql(db, "BEGIN");
        if (r >= 0)
                r = exec_sql(db, audit_ids_sql);
        if (r >= 0)
                r = exec_sql(db, sql);
        if (r >= 0)
                r = exec_sql(db, inherit_ids_sql);
        free(sql);
        if (r >= 0)
                r = exec_sql(db, "COMMIT");
        if (r < 0)
                return r;
        report(db, entries);
        return 0;
}

int journal_read_build(const char *dir, const char *machine, const char **ret_path) {
        _cleanup_(store_freep) Store *s = NULL;
        sd_journal *j = NULL;
        int r;

        r = private_dir_new("lineagectl-journal", "the rebuilt database", &rebuilt.dir);
        if (r < 0)
                return r;
        if (asprintf(&rebuilt.path, "%s/lineage.db", rebuilt.dir) < 0)
                return log_oom();
        r = open_journal(dir, machine, &j);
        if (r < 0)
                return r;
        r = store_open(&s, rebuilt.path);
        if (r < 0) {
                sd_journal_close(j);
                return log_error_errno(r, "Failed to create %s: %m", rebuilt.path);
        }
        r = rebuild(store_db(s), j, machine);
        sd_journal_close(j);
        if (r < 0)
                return r;
        *ret_path = rebuilt.path;
        return 0;
}

void journal_read_close(void) {
        private_dir_remove(&rebuilt.dir);
        free(rebuilt.path);
        rebuilt.path = NULL;
}
