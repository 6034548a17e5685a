/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The answers: SQL over the provenance log (flushed first, so it holds everything seen so far),
 * plus live facts from the tracker and /proc, rendered as json-c objects keyed like the varlink IDL. */
#include <limits.h>
#include <sys/uio.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <time.h>

#include "hashmap.h"
#include "lineage/fields.h"
#include "procfs.h"
#include "query.h"
#include "varlink.h"

#define ANCESTORS_MAX 4096U             /* birth chains are short; this bounds a corrupt, cyclic one */
#define DESCENDANTS_DEFAULT 10000U
#define DESCENDANTS_MAX 100000U
#define HISTORY_DEFAULT 10000U
#define HISTORY_MAX 100000U
#define LOGINS_DEFAULT 1000U
#define GAPS_MAX 100U                   /* gaps listed in one answer */
#define LIVE_PARENT_LOOKUPS_MAX 2000U   /* /proc reads for parentPid in one answer */
#define WATCH_SUBTREE_MAX 100000U
#define RESOLVE_BATCH_MAX 4096U
#define RESOLVE_EXIT_GRACE_USEC (1 * USEC_PER_SEC)  /* ResolveBatch: see find_target() */
#define ANCESTRY_MAX_WALK 4096U         /* how far up ResolveBatch looks for a login */

DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

/* Columns of instances every Process is built from, in this order. */
#define PROCESS_COLUMNS                                                                                      \
        "i.id, i.pid, b.boot_id, i.start_time, i.exit_time, i.comm, i.exe, i.argv, i.uid, i.gid, i.login_uid," \
        " i.audit_session, i.sid, i.birth_parent_pid, i.birth_parent, i.exit_parent_pid, i.lineage_source,"   \
        " i.caba_pid, i.caba, i.exit_status, i.exit_signal, i.flags, i.euid, i.boot, i.image_uid, i.image_login_uid,"   \
        " i.cgroup, i.container_id"
enum {
        COL_ID, COL_PID, COL_BOOT_ID, COL_START, COL_EXIT, COL_COMM, COL_EXE, COL_ARGV, COL_UID, COL_GID,
        COL_LOGIN_UID, COL_AUDIT_SESSION, COL_SID, COL_BIRTH_PARENT_PID, COL_BIRTH_PARENT, COL_EXIT_PARENT_PID,
        COL_SOURCE, COL_CABA_PID, COL_CABA, COL_EXIT_STATUS, COL_EXIT_SIGNAL, COL_FLAGS, COL_EUID, COL_BOOT,
        COL_IMAGE_UID, COL_IMAGE_LOGIN_UID, COL_CGROUP, COL_CONTAINER_ID,
};

enum {
        SQL_BY_ID,
        SQL_BY_PID_LATEST,
        SQL_BY_PID_AT,
        SQL_CHILDREN,
        SQL_EVENTS,
        SQL_GAPS,
        SQL_BOOT_BY_ID,
        SQL_LOGIN_BY_INSTANCE,
        SQL_LIST_LOGINS,
        SQL_PARENT,
        _SQL_MAX,
};

static const char *const sql_text[_SQL_MAX] = {
        [SQL_BY_ID] = "SELECT " PROCESS_COLUMNS " FROM instances i JOIN boots b ON b.id = i.boot WHERE i.id = ?1",
        [SQL_BY_PID_LATEST] = "SELECT " PROCESS_COLUMNS " FROM instances i JOIN boots b ON b.id = i.boot"
                              " WHERE i.pid = ?1 AND i.boot = ?2 ORDER BY i.start_time DESC, i.id DESC LIMIT 1",
        /* The holder at time T: the latest start at or before T. Whether it had exited is checked after. */
        [SQL_BY_PID_AT] = "SELECT " PROCESS_COLUMNS " FROM instances i JOIN boots b ON b.id = i.boot"
                          " WHERE i.pid = ?1 AND i.boot = ?2 AND i.start_time <= ?3"
                          " ORDER BY i.start_time DESC, i.id DESC LIMIT 1",
        [SQL_CHILDREN] = "SELECT " PROCESS_COLUMNS " FROM instances i JOIN boots b ON b.id = i.boot"
                         " WHERE i.birth_parent = ?1 ORDER BY i.start_time, i.id LIMIT ?2",
        /* The last exec may be kept in the instance row (exec_time, exe, argv) instead of events: it
         * sorts after the rows of its own µs, as the exec event follows the comm change it causes. */
        [SQL_EVENTS] = "SELECT time, type, tid, a, b, text, argv, uid, login_uid FROM"
                       " (SELECT e.time, e.type, e.tid, e.a, e.b, e.text, e.argv, e.uid, e.login_uid, e.id FROM events e"
                       " WHERE e.instance = ?1"
                       " UNION ALL SELECT i.exec_time, 2, NULL, NULL, NULL, i.exe, i.argv, i.image_uid, i.image_login_uid,"
                       " 9223372036854775807"
                       " FROM instances i WHERE i.id = ?1 AND i.exec_time IS NOT NULL)"
                       " ORDER BY time, id LIMIT ?2",
        [SQL_GAPS] = "SELECT start_time, end_time, lost, reason FROM gaps WHERE boot = ?1 AND end_time >= ?2"
                     " AND start_time <= ?3 ORDER BY start_time LIMIT ?4",
        [SQL_BOOT_BY_ID] = "SELECT id, realtime_offset FROM boots WHERE boot_id = ?1",
#define LOGIN_COLUMNS "instance, audit_session, login_uid, service, remote_address, remote_port, tty, logind_session," \
                      " unit, start_time, end_time, self_declared"
        /* The lean walk of ResolveBatch: only what an ancestry string and a login need. */
        [SQL_PARENT] = "SELECT birth_parent, pid, comm, uid, login_uid, EXISTS (SELECT 1 FROM logins l WHERE l.instance = i.id),"
                       " image_uid, image_login_uid"
                       " FROM instances i WHERE id = ?1",
        [SQL_LOGIN_BY_INSTANCE] = "SELECT " LOGIN_COLUMNS " FROM logins WHERE instance = ?1",
        /* Logins overlapping [since, until], newest first. */
        /* ...with how many processes of the session are alive (what daemonized away included). */
        [SQL_LIST_LOGINS] = "SELECT " LOGIN_COLUMNS ", (SELECT count(*) FROM instances i WHERE i.boot = logins.boot"
                            " AND i.audit_session = logins.audit_session AND i.exit_time IS NULL) FROM logins WHERE (?1 IS NULL OR login_uid = ?1)"
                            " AND (?2 IS NULL OR end_time IS NULL OR end_time >= ?2) AND (?3 IS NULL OR start_time <= ?3)"
                            " AND (?4 = 0 OR end_time IS NULL) ORDER BY start_time DESC, instance DESC LIMIT ?5",
};

/* GetDescendants (see there). */
enum {
        DESC_SQL_BEGIN,
        DESC_SQL_COMMIT,
        DESC_SQL_WALK,
        DESC_SQL_SESSION,
        DESC_SQL_CHILD_IDS,
        DESC_SQL_SESSION_SIZE,
        _DESC_SQL_MAX,
};

static const char *const desc_sql_text[_DESC_SQL_MAX] = {
        [DESC_SQL_BEGIN] = "BEGIN",
        [DESC_SQL_COMMIT] = "COMMIT",
        /* ?1 and everything below it, at most ?2 rows; the recursion reads only instances_birth_parent. */
        [DESC_SQL_WALK] = "WITH RECURSIVE t(id) AS (SELECT ?1 UNION ALL SELECT c.id FROM t JOIN instances c"
                          " ON c.birth_parent = t.id LIMIT ?2)"
                          " SELECT " PROCESS_COLUMNS " FROM t JOIN instances i ON i.id = t.id"
                          " JOIN boots b ON b.id = i.boot",
        /* The session's rows in id order, each with its number of children anywhere (covered by
         * instances_birth_parent): a process with more children than the session holds had some leave it. */
        [DESC_SQL_SESSION] = "SELECT " PROCESS_COLUMNS ", (SELECT count(*) FROM instances c WHERE c.birth_parent = i.id)"
                             " FROM instances i JOIN boots b ON b.id = i.boot WHERE i.boot = ?1 AND i.audit_session = ?2",
        [DESC_SQL_CHILD_IDS] = "SELECT id FROM instances WHERE birth_parent = ?1",
        [DESC_SQL_SESSION_SIZE] = "SELECT count(*) FROM instances WHERE boot = ?1 AND audit_session = ?2",
};

struct Query {
        Daemon *daemon;
        sqlite3_stmt *sql[_SQL_MAX];
        sqlite3_stmt *desc_sql[_DESC_SQL_MAX];
        QueryWatch *watches;
        unsigned n_watches;
};

struct QueryWatch {
        Query *query;
        QueryWatch *next, *prev;
        QueryCaller caller;
        Hashmap *subtree;               /* instance ids in the watched subtree; NULL = everything */
        uint32_t types;                 /* bit per LineageEventType; 0 = all */
        QueryWatchCallback cb;
        QueryWatchEnded ended_cb;
        void *userdata;
        bool ended;
};

/* A row read into memory: what access checks and JSON rendering need. */
typedef struct Row {
        uint64_t id, birth_parent, caba, boot;
        char source[16];                /* lineage_source: "fork", "kernel-caba", "procfs", "unknown" */
        int64_t birth_parent_pid;       /* -1 = unknown */
        int64_t start, exit;            /* exit 0 = alive */
        uint32_t uid, euid;
        int64_t login_uid;              /* -1 = unset */
        /* Who the process was when its comm, exe and argv were taken: image_uid -1 = not recorded (a row
         * from before schema version 8: judged by uid and login_uid, as then); image_login_uid -1 = unset. */
        int64_t image_uid, image_login_uid;
        int32_t pid;
} Row;

void query_error_done(QueryError *e) {
        if (!e)
                return;
        json_object_put(e->parameters);
        e->parameters = NULL;
}

static int set_error(QueryError *e, const char *name, json_object *params) {
        e->error = name;
        e->parameters = params;
        if (streq(name, QUERY_ERROR_NO_SUCH_PROCESS))
                return -ESRCH;
        if (streq(name, QUERY_ERROR_PERMISSION_DENIED))
                return -EACCES;
        if (streq(name, QUERY_ERROR_INVALID_PARAMETER))
                return -EINVAL;
        return -EIO;
}

static int invalid_parameter(QueryError *e, const char *name) {
        json_object *p = json_object_new_object();

        if (p)
                json_object_object_add(p, "parameter", json_object_new_string(name));
        return set_error(e, QUERY_ERROR_INVALID_PARAMETER, p);
}

static int database_error(Query *q, QueryError *e) {
        json_object *p = json_object_new_object();

        if (p)
                json_object_object_add(p, "message", json_object_new_string(sqlite3_errmsg(store_db(daemon_store(q->daemon)))));
        return set_error(e, QUERY_ERROR_DATABASE, p);
}

static void on_tracker_event(const TrackerEvent *e, const Instance *i, void *userdata);

int query_new(Query **ret, Daemon *d) {
        _cleanup_(query_freep) Query *q = calloc(1, sizeof(Query));
        int rc;

        if (!q)
                return -ENOMEM;
        q->daemon = d;
        if (daemon_tracker(d))
                (void) tracker_add_observer(daemon_tracker(d), on_tracker_event, q);
        rc = query_prepare(q);
        if (rc < 0)
                return rc;
        *ret = TAKE_PTR(q);
        return 0;
}

int query_prepare(Query *q) {
        sqlite3 *db = store_db(daemon_store(q->daemon));
        int rc;

        for (unsigned k = 0; k < _SQL_MAX; k++) {
                rc = sqlite3_prepare_v3(db, sql_text[k], -1, SQLITE_PREPARE_PERSISTENT, &q->sql[k], NULL);
                if (rc != SQLITE_OK)
                        return log_error_errno(EIO, "Failed to prepare query: %s", sqlite3_errmsg(db));
        }
        for (unsigned k = 0; k < _DESC_SQL_MAX; k++) {
                rc = sqlite3_prepare_v3(db, desc_sql_text[k], -1, SQLITE_PREPARE_PERSISTENT, &q->desc_sql[k], NULL);
                if (rc != SQLITE_OK)
                        return log_error_errno(EIO, "Failed to prepare query: %s", sqlite3_errmsg(db));
        }
        return 0;
}

void query_finalize(Query *q) {
        for (unsigned k = 0; k < _SQL_MAX; k++)
                sqlite3_finalize(q->sql[k]);
        for (unsigned k = 0; k < _DESC_SQL_MAX; k++)
                sqlite3_finalize(q->desc_sql[k]);
        memset(q->sql, 0, sizeof(q->sql));
        memset(q->desc_sql, 0, sizeof(q->desc_sql));
}

Query *query_free(Query *q) {
        if (!q)
                return NULL;
        if (daemon_tracker(q->daemon))
                tracker_remove_observer(daemon_tracker(q->daemon), q);
        while (q->watches) {
                QueryWatch *w = q->watches;

                /* Owners free their watches; detach so a late free does not touch us. */
                q->watches = w->next;
                w->query = NULL;
                w->next = w->prev = NULL;
        }
        query_finalize(q);
        free(q);
        return NULL;
}

static sqlite3_stmt *stmt(Query *q, unsigned k) {
        sqlite3_reset(q->sql[k]);
        sqlite3_clear_bindings(q->sql[k]);
        return q->sql[k];
}

/* Parameters. Each getter returns 0 if absent, 1 if present, -EINVAL if of the wrong type or range. */
static int param_int(json_object *params, const char *name, int64_t min, int64_t max, int64_t *ret) {
        json_object *v;
        int64_t x;

        if (!params || !json_object_object_get_ex(params, name, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_int))
                return -EINVAL;
        errno = 0;
        x = json_object_get_int64(v);
        if (errno != 0 || x < min || x > max)
                return -EINVAL;
        *ret = x;
        return 1;
}

static int param_bool(json_object *params, const char *name, bool *ret) {
        json_object *v;

        if (!params || !json_object_object_get_ex(params, name, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_boolean))
                return -EINVAL;
        *ret = json_object_get_boolean(v);
        return 1;
}

static int param_string(json_object *params, const char *name, const char **ret) {
        json_object *v;

        if (!params || !json_object_object_get_ex(params, name, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return -EINVAL;
        *ret = json_object_get_string(v);
        return 1;
}

/* Rejects parameters the method does not know: a typo must not silently widen an answer. */
static int check_known_params(json_object *params, QueryError *e, ...) {
        va_list ap;

        if (!params)
                return 0;
        if (!json_object_is_type(params, json_type_object))
                return invalid_parameter(e, "parameters");
        json_object_object_foreach(params, key, val) {
                const char *n;
                bool found = false;

                (void) val;
                va_start(ap, e);
                while ((n = va_arg(ap, const char *)))
                        if (streq(n, key)) {
                                found = true;
                                break;
                        }
                va_end(ap);
                if (!found)
                        return invalid_parameter(e, key);
        }
        return 0;
}

/* A uid column: -1 when NULL. */
static int64_t column_id(sqlite3_stmt *st, int col) {
        return sqlite3_column_type(st, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, col);
}

static void row_from_stmt(sqlite3_stmt *st, Row *r) {
        *r = (Row) {
                .id = (uint64_t) sqlite3_column_int64(st, COL_ID),
                .pid = sqlite3_column_int(st, COL_PID),
                .start = sqlite3_column_int64(st, COL_START),
                .exit = sqlite3_column_type(st, COL_EXIT) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, COL_EXIT),
                .birth_parent = (uint64_t) sqlite3_column_int64(st, COL_BIRTH_PARENT),
                .caba = (uint64_t) sqlite3_column_int64(st, COL_CABA),
                .uid = (uint32_t) sqlite3_column_int64(st, COL_UID),
                .euid = (uint32_t) sqlite3_column_int64(st, COL_EUID),
                .login_uid = sqlite3_column_type(st, COL_LOGIN_UID) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, COL_LOGIN_UID),
                .boot = (uint64_t) sqlite3_column_int64(st, COL_BOOT),
                .image_uid = column_id(st, COL_IMAGE_UID),
                .image_login_uid = column_id(st, COL_IMAGE_LOGIN_UID),
                .birth_parent_pid = sqlite3_column_type(st, COL_BIRTH_PARENT_PID) == SQLITE_NULL
                                            ? -1 : sqlite3_column_int64(st, COL_BIRTH_PARENT_PID),
        };
        snprintf(r->source, sizeof(r->source), "%s", (const char *) sqlite3_column_text(st, COL_SOURCE) ?: "unknown");
}

/* Was a process with real uid uid and loginuid login_uid (-1: unset) the caller's? Real uid or loginuid,
 * not the effective uid: a root process half-way through setuid (runuser, su) must not hand its argv to
 * the user it is becoming. */
static bool owner_is(const QueryCaller *c, int64_t uid, int64_t login_uid) {
        return c->uid == 0 || uid == (int64_t) c->uid || (login_uid >= 0 && login_uid == (int64_t) c->uid);
}

/* Is the process the caller's now? Its current facts (exit, login ids) are then theirs. */
static bool caller_sees(const QueryCaller *c, const Row *r) {
        return owner_is(c, r->uid, r->login_uid);
}

/* Was it the caller's when its image (comm, exe, argv) was taken? Each part of a process is shown by who
 * the process was then, not now: root's command line stays root's after a drop to another user. */
static bool caller_sees_image(const QueryCaller *c, const Row *r) {
        if (r->image_uid < 0)
                return caller_sees(c, r);
        return owner_is(c, r->image_uid, r->image_login_uid);
}

/* May the caller name it and see it in chains unredacted in part: theirs now, or its image is theirs (a
 * process of theirs that became root's by a setuid binary shows what it ran while it was theirs). */
static bool caller_may_see(const QueryCaller *c, const Row *r) {
        return caller_sees(c, r) || caller_sees_image(c, r);
}

static void add_int(json_object *o, const char *k, int64_t v) {
        json_object_object_add(o, k, json_object_new_int64(v));
}

static void add_col_int(json_object *o, const char *k, sqlite3_stmt *st, int col) {
        if (sqlite3_column_type(st, col) != SQLITE_NULL)
                add_int(o, k, sqlite3_column_int64(st, col));
}

/* A JSON string from text that should be UTF-8 but comes from outside (a path from /proc, a database
 * column): JSON must be UTF-8, so each byte that does not start a valid sequence becomes U+FFFD, as in
 * GetDescendants' writer and on D-Bus. */
static json_object *new_string_utf8(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        size_t n = strlen(s), bad = 0;
        char *copy, *w;
        json_object *o;

        for (size_t i = 0; i < n;) {
                size_t l = utf8_valid_len(p + i, n - i);

                if (l == 0) {
                        bad++;
                        l = 1;
                }
                i += l;
        }
        if (bad == 0)
                return json_object_new_string(s);
        copy = malloc(n + bad * 2 + 1);
        if (!copy)
                return NULL;
        w = copy;
        for (size_t i = 0; i < n;) {
                size_t l = utf8_valid_len(p + i, n - i);

                if (l == 0) {
                        memcpy(w, "\xef\xbf\xbd", 3);
                        w += 3;
                        i++;
                        continue;
                }
                memcpy(w, s + i, l);
                w += l;
                i += l;
        }
        *w = 0;
        o = json_object_new_string(copy);
        free(copy);
        return o;
}

static void add_col_text(json_object *o, const char *k, sqlite3_stmt *st, int col) {
        const char *s = (const char *) sqlite3_column_text(st, col);

        if (s && *s)
                json_object_object_add(o, k, new_string_utf8(s));
}

/* argv is stored as JSON text written by us; still, the database is outside input: parse defensively. */
static void add_col_argv(json_object *o, const char *k, sqlite3_stmt *st, int col) {
        const char *s = (const char *) sqlite3_column_text(st, col);
        json_object *a;

        if (!s)
                return;
        a = json_tokener_parse(s);
        if (!a || !json_object_is_type(a, json_type_array))
                goto bad;
        /* The interface says []string: an array holding anything else is left out, as GetDescendants does. */
        for (size_t i = 0; i < json_object_array_length(a); i++)
                if (!json_object_is_type(json_object_array_get_idx(a, i), json_type_string))
                        goto bad;
        json_object_object_add(o, k, a);
        return;
bad:
        log_debug("Ignoring a stored %s that is not a JSON array of strings.", k);
        json_object_put(a);
}

/* Current parent of a live process, from /proc (the kernel's answer, reaper included). */
static void add_live_parent(Query *q, json_object *o, int32_t pid) {
        ProcInfo p = {};

        if (procfs_read(daemon_proc_root(q->daemon), pid, PROCFS_STAT, &p) >= 0)
                add_int(o, "parentPid", p.ppid);
        proc_info_done(&p);
}

static json_object *process_json(Query *q, const QueryCaller *c, sqlite3_stmt *st, bool live_parent) {
        json_object *o = json_object_new_object();
        uint32_t flags = (uint32_t) sqlite3_column_int64(st, COL_FLAGS);
        bool alive = sqlite3_column_type(st, COL_EXIT) == SQLITE_NULL, image;
        Row r;

        if (!o)
                return NULL;
        row_from_stmt(st, &r);
        add_int(o, "instance", (int64_t) r.id);
        add_int(o, "pid", r.pid);
        add_col_text(o, "bootId", st, COL_BOOT_ID);
        add_int(o, "startTime", r.start);
        add_col_int(o, "exitTime", st, COL_EXIT);
        json_object_object_add(o, "alive", json_object_new_boolean(alive));
        add_int(o, "uid", r.uid);
        add_col_int(o, "gid", st, COL_GID);
        add_col_int(o, "sid", st, COL_SID);
        add_col_text(o, "lineageSource", st, COL_SOURCE);
        add_col_int(o, "birthParentPid", st, COL_BIRTH_PARENT_PID);
        add_col_int(o, "birthParentInstance", st, COL_BIRTH_PARENT);
        if (alive) {
                if (live_parent)
                        add_live_parent(q, o, r.pid);
        } else
                add_col_int(o, "parentPid", st, COL_EXIT_PARENT_PID);
        add_col_int(o, "cabaPid", st, COL_CABA_PID);
        add_col_int(o, "cabaInstance", st, COL_CABA);
        json_object_object_add(o, "exitUnknown", json_object_new_boolean(!!(flags & INSTANCE_EXIT_UNKNOWN)));
        if (!caller_may_see(c, &r)) {
                json_object_object_add(o, "argvTruncated", json_object_new_boolean(false));
                json_object_object_add(o, "redacted", json_object_new_boolean(true));
                return o;
        }
        /* The image of another owner (before a drop to the caller's uid) is left out, and said so. */
        image = caller_sees_image(c, &r);
        json_object_object_add(o, "redacted", json_object_new_boolean(!image));
        if (image) {
                add_col_text(o, "comm", st, COL_COMM);
                add_col_text(o, "exe", st, COL_EXE);
                add_col_argv(o, "argv", st, COL_ARGV);
        }
        json_object_object_add(o, "argvTruncated", json_object_new_boolean(image && (flags & INSTANCE_ARGV_TRUNCATED)));
        add_col_int(o, "loginUid", st, COL_LOGIN_UID);
        add_col_int(o, "auditSession", st, COL_AUDIT_SESSION);
        add_col_int(o, "exitStatus", st, COL_EXIT_STATUS);
        add_col_int(o, "exitSignal", st, COL_EXIT_SIGNAL);
        add_col_text(o, "cgroup", st, COL_CGROUP);
        add_col_text(o, "containerId", st, COL_CONTAINER_ID);
        return o;
}

/* Loads instance id: its Row (ret_row) and, if ret_json, its rendering. -ESRCH if absent. */
static int load_instance(Query *q, const QueryCaller *c, uint64_t id, bool live_parent, Row *ret_row, json_object **ret_json) {
        sqlite3_stmt *st = stmt(q, SQL_BY_ID);
        int rc;

        sqlite3_bind_int64(st, 1, (int64_t) id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ESRCH;
        if (rc != SQLITE_ROW)
                return -EIO;
        if (ret_row)
                row_from_stmt(st, ret_row);
        if (ret_json) {
                *ret_json = process_json(q, c, st, live_parent);
                if (!*ret_json)
                        return -ENOMEM;
        }
        return 0;
}

static int no_such_process(QueryError *e, int64_t pid, int64_t instance) {
        json_object *p = json_object_new_object();

        if (p) {
                if (pid > 0)
                        add_int(p, "pid", pid);
                if (instance > 0)
                        add_int(p, "instance", instance);
        }
        return set_error(e, QUERY_ERROR_NO_SUCH_PROCESS, p);
}

/* The instance a request names: "instance", or "pid" (with "at": its holder at that time; without: its
 * live holder, else its latest one in this boot). */
static int find_target(Query *q, const QueryCaller *c, json_object *params, bool allow_at, uint64_t boot,
                       uint64_t exit_grace, Row *ret, QueryError *e) {
        int64_t pid = 0, instance = 0, at = 0;
        sqlite3_stmt *st;
        Instance *live;
        int r, rc;

        r = param_int(params, "pid", 1, INT32_MAX, &pid);
        if (r < 0)
                return invalid_parameter(e, "pid");
        r = param_int(params, "instance", 1, INT64_MAX, &instance);
        if (r < 0)
                return invalid_parameter(e, "instance");
        if (allow_at) {
                r = param_int(params, "at", 0, INT64_MAX, &at);
                if (r < 0)
                        return invalid_parameter(e, "at");
        }
        if ((pid > 0) == (instance > 0))
                return invalid_parameter(e, pid > 0 ? "instance" : "pid");

        if (instance > 0) {
                r = load_instance(q, c, (uint64_t) instance, false, ret, NULL);
        } else if (at > 0) {
                st = stmt(q, SQL_BY_PID_AT);
                sqlite3_bind_int64(st, 1, pid);
                sqlite3_bind_int64(st, 2, (int64_t) boot);
                sqlite3_bind_int64(st, 3, at);
                rc = sqlite3_step(st);
                r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ESRCH : -EIO;
                if (r == 0) {
                        row_from_stmt(st, ret);
                        /* It had exited before "at": nobody held the pid then (as far as we know).
                         * exit_grace forgives a time stamped a little after the exit (a journal
                         * stream line is stamped when journald reads it); being the latest start,
                         * no other holder can have come in between. */
                        if (ret->exit > 0 && ret->exit + (int64_t) exit_grace < at)
                                r = -ESRCH;
                }
        } else if ((live = tracker_get(daemon_tracker(q->daemon), (int32_t) pid))) {
                r = load_instance(q, c, live->id, false, ret, NULL);
        } else {
                st = stmt(q, SQL_BY_PID_LATEST);
                sqlite3_bind_int64(st, 1, pid);
                sqlite3_bind_int64(st, 2, (int64_t) boot);
                rc = sqlite3_step(st);
                r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ESRCH : -EIO;
                if (r == 0)
                        row_from_stmt(st, ret);
        }
        if (r == -ESRCH)
                return no_such_process(e, pid, instance);
        if (r < 0)
                return database_error(q, e);
        if (!caller_may_see(c, ret))
                return set_error(e, QUERY_ERROR_PERMISSION_DENIED, NULL);
        return 0;
}

static uint64_t now_us(void) {
        return now_usec(CLOCK_REALTIME);
}

/* Gaps recorded in [from, to] on boot. */
static json_object *gaps_json(Query *q, uint64_t boot, int64_t from, int64_t to, bool *ret_any) {
        sqlite3_stmt *st = stmt(q, SQL_GAPS);
        json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        sqlite3_bind_int64(st, 1, (int64_t) boot);
        sqlite3_bind_int64(st, 2, from);
        sqlite3_bind_int64(st, 3, to);
        sqlite3_bind_int64(st, 4, GAPS_MAX);
        while (sqlite3_step(st) == SQLITE_ROW) {
                json_object *g = json_object_new_object();

                if (!g)
                        break;
                add_int(g, "startTime", sqlite3_column_int64(st, 0));
                add_int(g, "endTime", sqlite3_column_int64(st, 1));
                add_col_int(g, "lost", st, 2);
                add_col_text(g, "reason", st, 3);
                json_object_array_add(a, g);
        }
        if (ret_any)
                *ret_any = json_object_array_length(a) > 0;
        return a;
}

/* An edge is known when it was observed or the kernel named it; a parent pid of 0 read from /proc is
 * known too: nothing reparents to pid 0, so the kernel created that process (pid 1, kthreadd). */
static bool edge_known(const Row *r) {
        return streq(r->source, "fork") || streq(r->source, "kernel-caba") ||
               (streq(r->source, "procfs") && r->birth_parent_pid == 0);
}

/* Walks birth parents from target. Fills ancestors (nearest first), whether the chain is complete (every
 * edge observed or from the kernel, ending at a process the kernel created), and the oldest start. */
static int walk_ancestors(Query *q, const QueryCaller *c, const Row *target, json_object *ancestors,
                          bool *ret_complete, int64_t *ret_oldest) {
        bool complete = edge_known(target);
        uint64_t id = target->birth_parent;
        int64_t oldest = target->start, last_parent_pid = target->birth_parent_pid;
        unsigned n = 0;

        while (id > 0) {
                json_object *j = NULL;
                Row r;
                int k;

                if (n++ >= ANCESTORS_MAX) {
                        complete = false;
                        break;
                }
                k = load_instance(q, c, id, true, &r, &j);
                if (k == -ESRCH) { /* pruned or never written: the chain ends here */
                        complete = false;
                        last_parent_pid = -1;
                        break;
                }
                if (k < 0)
                        return k;
                json_object_array_add(ancestors, j);
                oldest = MIN(oldest, r.start);
                if (!edge_known(&r))
                        complete = false;
                if (r.birth_parent == id) /* a corrupt self-loop */
                        break;
                id = r.birth_parent;
                last_parent_pid = r.birth_parent_pid;
        }
        /* The chain must end where the kernel created the process (parent pid 0). */
        if (last_parent_pid != 0)
                complete = false;
        *ret_complete = complete;
        *ret_oldest = oldest;
        return 0;
}

/* Names looked up in the last second: a ResolveBatch of many lines names the same few users again and
 * again, and one NSS lookup (nss-systemd asks systemd-userdbd, then reads /etc/passwd) costs more than
 * the rest of an answer. The daemon has one thread. */
#define USER_NAME_CACHE_SLOTS 64U
#define USER_NAME_CACHE_USEC USEC_PER_SEC
static struct {
        uint32_t uid;
        bool known;                     /* the uid has a name */
        uint64_t until;                 /* CLOCK_MONOTONIC µs; 0: empty */
        char name[64];
} user_names[USER_NAME_CACHE_SLOTS];

/* The user name of uid, or NULL; valid until the next call. */
static const char *user_name(uint32_t uid) {
        typeof(user_names[0]) *e = &user_names[(uid * 2654435761U) % USER_NAME_CACHE_SLOTS];
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        static char name[256];
        char buf[4096];
        struct passwd pw, *res = NULL;
        int rc;

        /* Resolved when asked, through NSS: a uid's name may change, the record does not. */
        if (e->until > now && e->uid == uid)
                return e->known ? e->name : NULL;
        rc = getpwuid_r((uid_t) uid, &pw, buf, sizeof(buf), &res);
        if (rc != 0 || !res || !res->pw_name)
                res = NULL;
        else
                snprintf(name, sizeof(name), "%s", res->pw_name);
        /* Lookups that failed for another reason than "no such user" are not remembered. */
        if (rc != 0 || (res && strlen(res->pw_name) >= sizeof(e->name)))
                return res ? name : NULL;
        *e = (typeof(*e)) { .uid = uid, .known = res, .until = now + USER_NAME_CACHE_USEC };
        if (res)
                strcpy(e->name, res->pw_name);
        return res ? name : NULL;
}

static void add_user_name(json_object *o, uint32_t uid) {
        const char *name = user_name(uid);

        if (name)
                json_object_object_add(o, "user", json_object_new_string(name));
}

/* A Login from the current row of a statement selecting LOGIN_COLUMNS. */
static json_object *login_json(sqlite3_stmt *st) {
        json_object *o = json_object_new_object();
        bool alive = sqlite3_column_type(st, 10) == SQLITE_NULL;

        if (!o)
                return NULL;
        add_int(o, "instance", sqlite3_column_int64(st, 0));
        add_int(o, "auditSession", sqlite3_column_int64(st, 1));
        add_int(o, "loginUid", sqlite3_column_int64(st, 2));
        add_user_name(o, (uint32_t) sqlite3_column_int64(st, 2));
        add_col_text(o, "service", st, 3);
        add_col_text(o, "remoteAddress", st, 4);
        add_col_int(o, "remotePort", st, 5);
        add_col_text(o, "tty", st, 6);
        add_col_text(o, "logindSession", st, 7);
        add_col_text(o, "unit", st, 8);
        add_int(o, "startTime", sqlite3_column_int64(st, 9));
        add_col_int(o, "endTime", st, 10);
        json_object_object_add(o, "alive", json_object_new_boolean(alive));
        json_object_object_add(o, "selfDeclared", json_object_new_boolean(sqlite3_column_int(st, 11) != 0));
        if (sqlite3_column_count(st) > 12)
                add_int(o, "aliveProcesses", sqlite3_column_int64(st, 12));
        return o;
}

/* The login that began at instance id, if any (-ENOENT if none). */
static int load_login(Query *q, uint64_t id, int64_t *ret_uid, json_object **ret) {
        sqlite3_stmt *st = stmt(q, SQL_LOGIN_BY_INSTANCE);

        sqlite3_bind_int64(st, 1, (int64_t) id);
        if (sqlite3_step(st) != SQLITE_ROW)
                return -ENOENT;
        *ret_uid = sqlite3_column_int64(st, 2);
        *ret = login_json(st);
        return *ret ? 0 : -ENOMEM;
}

/* The login of a chain (the process first, then its ancestors nearest first), or why there is none. */
static void add_origin_login(Query *q, const QueryCaller *c, json_object *reply, json_object *process,
                             json_object *ancestors, bool complete) {
        size_t n = json_object_array_length(ancestors);
        bool lost = false, scanned = false;

        for (size_t k = 0; k <= n; k++) {
                json_object *p = k == 0 ? process : json_object_array_get_idx(ancestors, k - 1), *l = NULL, *v;
                const char *src;
                int64_t uid;

                if (json_object_object_get_ex(p, "instance", &v) &&
                    load_login(q, (uint64_t) json_object_get_int64(v), &uid, &l) >= 0) {
                        if (c->uid != 0 && (uid_t) uid != c->uid) {
                                json_object_put(l);
                                json_object_object_add(reply, "loginReason", json_object_new_string("another user's login"));
                                return;
                        }
                        json_object_object_add(reply, "login", l);
                        return;
                }
                if (json_object_object_get_ex(p, "lineageSource", &v) && (src = json_object_get_string(v))) {
                        lost = lost || streq(src, "unknown");
                        scanned = scanned || streq(src, "procfs");
                }
        }
        json_object_object_add(reply, "loginReason", json_object_new_string(
                lost ? "events were lost: the birth chain is incomplete" :
                scanned && !complete ? "no login in the known chain: it began before lineaged ran, and without the kernel's CABA the chain cannot go further back" :
                "a system process: no login in its birth chain"));
}

static int method_get_ancestors_common(Query *q, const QueryCaller *c, json_object *params, bool origin,
                                       json_object **ret, QueryError *e) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        json_object *ancestors, *process = NULL, *gaps;
        bool complete;
        int64_t oldest;
        Row t;
        int r;

        r = check_known_params(params, e, "pid", "instance", "at", NULL);
        if (r < 0)
                return r;
        r = find_target(q, c, params, true, daemon_boot(q->daemon), 0, &t, e);
        if (r < 0)
                return r;
        reply = json_object_new_object();
        ancestors = json_object_new_array();
        if (!reply || !ancestors) {
                json_object_put(ancestors);
                return -ENOMEM;
        }
        if (load_instance(q, c, t.id, true, NULL, &process) < 0) {
                json_object_put(ancestors);
                return database_error(q, e);
        }
        json_object_object_add(reply, "process", process);
        json_object_object_add(reply, "ancestors", ancestors);
        r = walk_ancestors(q, c, &t, ancestors, &complete, &oldest);
        if (r < 0)
                return database_error(q, e);
        if (origin)
                add_origin_login(q, c, reply, process, ancestors, complete);
        json_object_object_add(reply, "complete", json_object_new_boolean(complete));
        gaps = gaps_json(q, t.boot, oldest, t.exit > 0 ? t.exit : (int64_t) now_us(), NULL);
        if (gaps)
                json_object_object_add(reply, "gaps", gaps);
        *ret = TAKE_PTR(reply);
        return 0;
}

static int method_get_origin(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        return method_get_ancestors_common(q, c, params, true, ret, e);
}

static int method_get_ancestors(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        return method_get_ancestors_common(q, c, params, false, ret, e);
}

/* ---- GetDescendants: rows straight to JSON text ----
 *
 * A big subtree (a login with 100 000 descendants: a 50 MB answer) costs too much as a json-c tree: one
 * statement per row, argv parsed again, the tree built, serialized and freed. Instead, inside one read
 * transaction, the rows are fetched with as few statements as possible and each is rendered once, as
 * JSON text, into an arena; the answer is then the concatenation of those texts in depth-first order.
 *
 * Fetching: a recursive walk over the birth_parent index (exact, but a B-tree search per process and
 * rows in random order). When the subtree turns out to be big, the rows of the target's audit session
 * are read instead with one range scan (they are stored next to each other), each with its number of
 * children; a process with more children than the scan found had some leave the session (a nested
 * login, a damaged row): those are walked the exact way. Every descendant is either in the session or
 * below such a child, so the answer stays exact.
 *
 * Memory: rows are rendered when fetched only if they hang below the target and the arena is under the
 * reply's size (plus a quarter); others are read again when the walk emits them. The reply is sent
 * from the arena in pieces (varlink_call_reply_iov()), or copied together for json-c (D-Bus). */

#define COL_N_CHILDREN (COL_CONTAINER_ID + 1) /* DESC_SQL_SESSION only */
#define DESC_SMALL_WALK 1024U           /* rows walked the exact way before trying the session's range */
#define DESC_ROWS_MAX (DESCENDANTS_MAX * 4U) /* rows fetched at most (a cyclic, corrupt tree ends here) */

void query_text_done(QueryText *t) {
        if (!t)
                return;
        free(t->data);
        *t = (QueryText) {};
}

static bool text_grow(QueryText *t, size_t n) {
        size_t a;
        char *p;

        if (t->oom)
                return false;
        if (n > SIZE_MAX / 4 - t->len) {
                t->oom = true;
                return false;
        }
        a = MAX(MAX(t->alloc * 2, t->len + n + 1), (size_t) 4096);
        p = realloc(t->data, a);
        if (!p) {
                t->oom = true;
                return false;
        }
        t->data = p;
        t->alloc = a;
        return true;
}

/* Room for n more bytes and the NUL. */
static inline bool text_reserve(QueryText *t, size_t n) {
        if (_likely_(!t->oom && t->alloc - t->len > n))
                return true;
        return text_grow(t, n);
}

int query_text_append(QueryText *t, const char *s, size_t n) {
        if (!text_reserve(t, n))
                return -ENOMEM;
        memcpy(t->data + t->len, s, n);
        t->len += n;
        t->data[t->len] = 0;
        return 0;
}

#define text_literal(t, s) ((void) query_text_append((t), "" s "", sizeof(s) - 1))

static void text_int(QueryText *t, int64_t v) {
        static const char digits2[] =
                "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                "8081828384858687888990919293949596979899";
        char buf[24], *p = buf + sizeof(buf);
        uint64_t u = v < 0 ? -(uint64_t) v : (uint64_t) v;

        while (u >= 100) {
                p -= 2;
                memcpy(p, digits2 + (u % 100) * 2, 2);
                u /= 100;
        }
        if (u >= 10) {
                p -= 2;
                memcpy(p, digits2 + u * 2, 2);
        } else
                *--p = (char) ('0' + u);
        if (v < 0)
                *--p = '-';
        (void) query_text_append(t, p, (size_t) (buf + sizeof(buf) - p));
}

static void text_bool(QueryText *t, bool b) {
        if (b)
                text_literal(t, "true");
        else
                text_literal(t, "false");
}


/* A JSON string, escaped as json-c escapes (\" \\ \b \f \n \r \t, other controls \u00xx, '/' as is).
 * Bytes that are not UTF-8 become U+FFFD: the text must stay valid JSON (D-Bus replaces them too). */
static void text_string(QueryText *t, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *) s;
        size_t k = 0;
        char *o;

        /* Worst case: every byte becomes \u00xx (6) or U+FFFD (3); plus the quotes. */
        if (n > SIZE_MAX / 8 || !text_reserve(t, n * 6 + 2))
                return;
        o = t->data + t->len;
        *o++ = '"';
        while (k < n) {
                unsigned char c = p[k];
                size_t l;

                if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                        *o++ = (char) c;
                        k++;
                        continue;
                }
                if (c >= 0x80) {
                        l = utf8_valid_len(p + k, n - k);
                        if (l > 0) {
                                memcpy(o, p + k, l);
                                o += l;
                                k += l;
                        } else {
                                memcpy(o, "\xef\xbf\xbd", 3);
                                o += 3;
                                k++;
                        }
                        continue;
                }
                *o++ = '\\';
                switch (c) {
                case '"':
                case '\\':
                        *o++ = (char) c;
                        break;
                case '\b':
                        *o++ = 'b';
                        break;
                case '\f':
                        *o++ = 'f';
                        break;
                case '\n':
                        *o++ = 'n';
                        break;
                case '\r':
                        *o++ = 'r';
                        break;
                case '\t':
                        *o++ = 't';
                        break;
                default:
                        memcpy(o, "u00", 3);
                        o[3] = hex[c >> 4];
                        o[4] = hex[c & 15];
                        o += 5;
                }
                k++;
        }
        *o++ = '"';
        t->len = (size_t) (o - t->data);
        t->data[t->len] = 0;
}

/* ,"key": (key a string literal) */
#define text_key(t, key) text_literal((t), ",\"" key "\":")
#define text_field_int(t, key, v) do { text_key((t), key); text_int((t), (v)); } while (0)
#define text_field_bool(t, key, v) do { text_key((t), key); text_bool((t), (v)); } while (0)
#define text_col_int(t, key, st, col)                                                   \
        do {                                                                            \
                if (sqlite3_column_type((st), (col)) != SQLITE_NULL)                    \
                        text_field_int((t), key, sqlite3_column_int64((st), (col)));    \
        } while (0)
#define text_col_text(t, key, st, col)                                                  \
        do {                                                                            \
                const char *_s = (const char *) sqlite3_column_text((st), (col));       \
                if (_s && *_s) {                                                        \
                        text_key((t), key);                                             \
                        text_string((t), _s, strlen(_s));                               \
                }                                                                       \
        } while (0)

/* Is s exactly what json-c prints for an array of strings that we wrote ("[]", "[\"a\",\"b\"]": only
 * \" and \\ escaped, no controls, valid UTF-8)? Then it can be copied as it is. */
static bool argv_is_canonical(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s;
        size_t k = 1;

        if (n < 2 || p[0] != '[' || p[n - 1] != ']')
                return false;
        if (n == 2)
                return true;
        for (;;) {
                if (k >= n || p[k++] != '"')
                        return false;
                for (;;) {
                        unsigned char c;

                        if (k >= n)
                                return false;
                        c = p[k];
                        if (c == '"')
                                break;
                        if (c < 0x20)
                                return false;
                        if (c == '\\') {
                                if (k + 1 >= n || (p[k + 1] != '"' && p[k + 1] != '\\'))
                                        return false;
                                k += 2;
                        } else if (c >= 0x80) {
                                size_t l = utf8_valid_len(p + k, n - k);

                                if (l == 0)
                                        return false;
                                k += l;
                        } else
                                k++;
                }
                k++; /* the closing quote */
                if (k == n - 1)
                        return true;
                if (p[k++] != ',')
                        return false;
        }
}

/* argv: copied when canonical; otherwise parsed (the database is outside input) and written again if it
 * is an array of strings, left out (with a debug note) if it is not. */
static void text_col_argv(QueryText *t, sqlite3_stmt *st, int col, uint64_t id) {
        const char *s = (const char *) sqlite3_column_text(st, col);
        _cleanup_(json_object_putp) json_object *a = NULL;
        size_t n, len;

        if (!s)
                return;
        n = (size_t) sqlite3_column_bytes(st, col);
        if (argv_is_canonical(s, n) && !memchr(s, 0, n)) {
                text_key(t, "argv");
                (void) query_text_append(t, s, n);
                return;
        }
        a = json_tokener_parse(s);
        if (!a || !json_object_is_type(a, json_type_array)) {
                log_debug("Instance %" PRIu64 ": argv in the database is not a JSON array, leaving it out.", id);
                return;
        }
        len = json_object_array_length(a);
        for (size_t i = 0; i < len; i++)
                if (!json_object_is_type(json_object_array_get_idx(a, i), json_type_string)) {
                        log_debug("Instance %" PRIu64 ": argv in the database is not an array of strings, leaving it out.", id);
                        return;
                }
        text_key(t, "argv");
        text_literal(t, "[");
        for (size_t i = 0; i < len; i++) {
                json_object *e = json_object_array_get_idx(a, i);

                if (i > 0)
                        text_literal(t, ",");
                text_string(t, json_object_get_string(e), (size_t) json_object_get_string_len(e));
        }
        text_literal(t, "]");
}

/* The Process of st's current row as process_json() builds it, key for key. For a live process,
 * *ret_split is where its current parent (,"parentPid":N, from /proc) goes; SIZE_MAX when none can. */
static void text_process(QueryText *t, const QueryCaller *c, sqlite3_stmt *st, const Row *r, size_t *ret_split) {
        uint32_t flags = (uint32_t) sqlite3_column_int64(st, COL_FLAGS);
        bool alive = sqlite3_column_type(st, COL_EXIT) == SQLITE_NULL, image;

        text_literal(t, "{\"instance\":");
        text_int(t, (int64_t) r->id);
        text_field_int(t, "pid", r->pid);
        text_col_text(t, "bootId", st, COL_BOOT_ID);
        text_field_int(t, "startTime", r->start);
        text_col_int(t, "exitTime", st, COL_EXIT);
        text_field_bool(t, "alive", alive);
        text_field_int(t, "uid", r->uid);
        text_col_int(t, "gid", st, COL_GID);
        text_col_int(t, "sid", st, COL_SID);
        text_col_text(t, "lineageSource", st, COL_SOURCE);
        text_col_int(t, "birthParentPid", st, COL_BIRTH_PARENT_PID);
        text_col_int(t, "birthParentInstance", st, COL_BIRTH_PARENT);
        *ret_split = SIZE_MAX;
        if (alive)
                *ret_split = t->len;
        else
                text_col_int(t, "parentPid", st, COL_EXIT_PARENT_PID);
        text_col_int(t, "cabaPid", st, COL_CABA_PID);
        text_col_int(t, "cabaInstance", st, COL_CABA);
        text_field_bool(t, "exitUnknown", flags & INSTANCE_EXIT_UNKNOWN);
        if (!caller_may_see(c, r)) {
                text_field_bool(t, "argvTruncated", false);
                text_field_bool(t, "redacted", true);
                text_literal(t, "}");
                return;
        }
        image = caller_sees_image(c, r);
        text_field_bool(t, "redacted", !image);
        if (image) {
                text_col_text(t, "comm", st, COL_COMM);
                text_col_text(t, "exe", st, COL_EXE);
                text_col_argv(t, st, COL_ARGV, r->id);
        }
        text_field_bool(t, "argvTruncated", image && (flags & INSTANCE_ARGV_TRUNCATED));
        text_col_int(t, "loginUid", st, COL_LOGIN_UID);
        text_col_int(t, "auditSession", st, COL_AUDIT_SESSION);
        text_col_int(t, "exitStatus", st, COL_EXIT_STATUS);
        text_col_int(t, "exitSignal", st, COL_EXIT_SIGNAL);
        text_col_text(t, "cgroup", st, COL_CGROUP);
        text_col_text(t, "containerId", st, COL_CONTAINER_ID);
        text_literal(t, "}");
}

/* One fetched row: its rendering in the arena and what the walk needs. */
typedef struct DescNode {
        uint64_t id, parent;
        int64_t start, exit;            /* exit 0: alive */
        size_t off, split, end;         /* [off, end) in the arena (SIZE_MAX: not rendered); split: see
                                         * text_process() (absolute) */
        uint32_t first_child, n_children; /* a range of DescWalk.children */
        uint32_t n_children_all;        /* children in the database; UINT32_MAX: not counted */
        int32_t pid;
        bool visible, visited, reach;
} DescNode;

typedef struct DescWalk {
        Query *query;
        const QueryCaller *caller;
        Hashmap *index;                 /* id -> node index + 1 */
        DescNode *nodes;
        size_t n_nodes, n_alloc;
        uint32_t *children;
        QueryText arena;
        size_t fetched;                 /* rows read, duplicates included */
        size_t arena_max;               /* no rows rendered past this size (they are rendered when emitted) */
        uint64_t root;                  /* the target */
        bool linked;                    /* children lists are up to date */
        bool cut;                       /* DESC_ROWS_MAX reached: the answer is truncated */
} DescWalk;

static void desc_walk_done(DescWalk *w) {
        hashmap_free(w->index);
        free(w->nodes);
        free(w->children);
        query_text_done(&w->arena);
        w->index = NULL;
        w->nodes = NULL;
        w->children = NULL;
        w->n_nodes = w->n_alloc = 0;
}

static int desc_walk_reset(DescWalk *w) {
        desc_walk_done(w);
        w->fetched = 0;
        w->cut = w->linked = false;
        return hashmap_new(&w->index);
}

static DescNode *desc_node(DescWalk *w, uint64_t id);

/* Adds st's current row (once per id). */
static int desc_add_row(DescWalk *w, sqlite3_stmt *st) {
        DescNode *n, *p;
        size_t split;
        bool reach;
        Row r;
        int k;

        /* row_from_stmt() without the lineage source, which only access checks of targets need. */
        r = (Row) {
                .id = (uint64_t) sqlite3_column_int64(st, COL_ID),
                .pid = sqlite3_column_int(st, COL_PID),
                .start = sqlite3_column_int64(st, COL_START),
                .exit = sqlite3_column_type(st, COL_EXIT) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, COL_EXIT),
                .birth_parent = (uint64_t) sqlite3_column_int64(st, COL_BIRTH_PARENT),
                .uid = (uint32_t) sqlite3_column_int64(st, COL_UID),
                .login_uid = sqlite3_column_type(st, COL_LOGIN_UID) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, COL_LOGIN_UID),
                .image_uid = column_id(st, COL_IMAGE_UID),
                .image_login_uid = column_id(st, COL_IMAGE_LOGIN_UID),
        };
        if (hashmap_get(w->index, r.id))
                return 0;
        /* Rows mostly come parents first (ids grow with time): render only what hangs below the target. */
        p = r.birth_parent > 0 ? desc_node(w, r.birth_parent) : NULL;
        reach = r.id == w->root || (p && p->reach);
        if (w->n_nodes == w->n_alloc) {
                size_t a = MAX(w->n_alloc * 2, (size_t) 256);
                DescNode *grown = reallocarray(w->nodes, a, sizeof(DescNode));

                if (!grown)
                        return -ENOMEM;
                w->nodes = grown;
                w->n_alloc = a;
        }
        k = hashmap_put(w->index, r.id, (void *) (uintptr_t) (w->n_nodes + 1));
        if (k < 0)
                return k;
        w->linked = false;
        n = &w->nodes[w->n_nodes++];
        *n = (DescNode) {
                .id = r.id, .parent = r.birth_parent, .start = r.start, .exit = r.exit, .pid = r.pid,
                .visible = caller_may_see(w->caller, &r), .off = w->arena.len, .reach = reach,
                .n_children_all = sqlite3_column_count(st) > COL_N_CHILDREN
                                          ? (uint32_t) MIN(sqlite3_column_int64(st, COL_N_CHILDREN), (int64_t) UINT32_MAX - 1)
                                          : UINT32_MAX,
        };
        if (!reach || w->arena.len > w->arena_max) {
                /* Rows not (yet) known to be below the target, or past the arena's bound: only if the
                 * walk emits them, they are read again and rendered then (desc_render_late()). */
                n->off = n->end = n->split = SIZE_MAX;
                return 0;
        }
        text_process(&w->arena, w->caller, st, &r, &split);
        n->split = split;
        n->end = w->arena.len;
        return w->arena.oom ? -ENOMEM : 0;
}

/* Reads all rows of a prepared, bound statement into the walk. */
static int desc_fetch(DescWalk *w, sqlite3_stmt *st) {
        int rc, r;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (++w->fetched > DESC_ROWS_MAX) {
                        w->cut = true;
                        return 0;
                }
                r = desc_add_row(w, st);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : -EIO;
}

/* The exact walk below root, at most max rows (root included); 1 if it stopped at max. */
static int desc_walk_below(DescWalk *w, uint64_t root, size_t max) {
        sqlite3_stmt *st = w->query->desc_sql[DESC_SQL_WALK];
        size_t before = w->fetched;
        int r;

        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (int64_t) root);
        sqlite3_bind_int64(st, 2, (int64_t) max);
        r = desc_fetch(w, st);
        sqlite3_reset(st);
        if (r < 0)
                return r;
        return w->fetched - before >= max;
}

/* The big case: the session's rows in one range scan. */
static int desc_fetch_session(DescWalk *w, uint64_t boot, int64_t session) {
        sqlite3_stmt *st = w->query->desc_sql[DESC_SQL_SESSION];
        int r;

        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (int64_t) boot);
        sqlite3_bind_int64(st, 2, session);
        r = desc_fetch(w, st);
        sqlite3_reset(st);
        return r;
}

/* Children of a session's process that are not in the session (a nested login, a damaged row): each
 * is walked the exact way. Returns 1 if any was added (the children lists must be linked again). */
static int desc_fetch_leavers(DescWalk *w) {
        sqlite3_stmt *st = w->query->desc_sql[DESC_SQL_CHILD_IDS];
        _cleanup_free_ uint64_t *leavers = NULL;
        size_t n_leavers = 0, a_leavers = 0;
        int rc, r;

        for (size_t k = 0; k < w->n_nodes; k++) {
                if (w->nodes[k].n_children_all == UINT32_MAX || w->nodes[k].n_children_all <= w->nodes[k].n_children)
                        continue;
                sqlite3_reset(st);
                sqlite3_bind_int64(st, 1, (int64_t) w->nodes[k].id);
                while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                        uint64_t id = (uint64_t) sqlite3_column_int64(st, 0);

                        if (hashmap_get(w->index, id))
                                continue;
                        if (n_leavers == a_leavers) {
                                size_t a = MAX(a_leavers * 2, (size_t) 16);
                                uint64_t *p = reallocarray(leavers, a, sizeof(uint64_t));

                                if (!p) {
                                        sqlite3_reset(st);
                                        return -ENOMEM;
                                }
                                leavers = p;
                                a_leavers = a;
                        }
                        leavers[n_leavers++] = id;
                }
                sqlite3_reset(st);
                if (rc != SQLITE_DONE)
                        return -EIO;
        }
        for (size_t k = 0; k < n_leavers && !w->cut; k++) {
                if (hashmap_get(w->index, leavers[k]))
                        continue; /* below an earlier one */
                r = desc_walk_below(w, leavers[k], DESC_ROWS_MAX + 1 - MIN(w->fetched, (size_t) DESC_ROWS_MAX));
                if (r < 0)
                        return r;
        }
        return n_leavers > 0;
}

static DescNode *desc_node(DescWalk *w, uint64_t id) {
        uintptr_t k = (uintptr_t) hashmap_get(w->index, id);

        return k > 0 ? &w->nodes[k - 1] : NULL;
}

static int desc_child_cmp(const void *a, const void *b, void *userdata) {
        const DescNode *nodes = userdata, *x = &nodes[*(const uint32_t *) a], *y = &nodes[*(const uint32_t *) b];

        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        return x->id < y->id ? -1 : x->id > y->id;
}

/* Children lists, each in birth order (start time, then id), as one array of ranges. */
static int desc_link(DescWalk *w) {
        _cleanup_free_ uint32_t *parent_of = NULL;
        _cleanup_free_ uint32_t *fill = NULL;

        free(w->children);
        for (size_t k = 0; k < w->n_nodes; k++)
                w->nodes[k].n_children = 0;
        w->children = malloc(sizeof(uint32_t) * MAX(w->n_nodes, (size_t) 1));
        parent_of = malloc(sizeof(uint32_t) * MAX(w->n_nodes, (size_t) 1));
        fill = calloc(MAX(w->n_nodes, (size_t) 1), sizeof(uint32_t));
        if (!w->children || !parent_of || !fill)
                return -ENOMEM;
        for (size_t k = 0; k < w->n_nodes; k++) {
                DescNode *p = w->nodes[k].parent > 0 ? desc_node(w, w->nodes[k].parent) : NULL;

                parent_of[k] = p ? (uint32_t) (p - w->nodes) : UINT32_MAX;
                if (p)
                        p->n_children++;
        }
        for (size_t k = 0, off = 0; k < w->n_nodes; k++) {
                w->nodes[k].first_child = (uint32_t) off;
                off += w->nodes[k].n_children;
        }
        for (size_t k = 0; k < w->n_nodes; k++)
                if (parent_of[k] != UINT32_MAX) {
                        DescNode *p = &w->nodes[parent_of[k]];

                        w->children[p->first_child + fill[parent_of[k]]++] = (uint32_t) k;
                }
        /* Rows mostly come in id order, which is mostly birth order: sort only what is not sorted yet. */
        for (size_t k = 0; k < w->n_nodes; k++) {
                uint32_t *c = w->children + w->nodes[k].first_child;
                size_t n = w->nodes[k].n_children;

                for (size_t i = 1; i < n; i++)
                        if (desc_child_cmp(&c[i - 1], &c[i], w->nodes) > 0) {
                                qsort_r(c, n, sizeof(uint32_t), desc_child_cmp, w->nodes);
                                break;
                        }
        }
        w->linked = true;
        return 0;
}

/* Fetches the target's subtree (and maybe more) into w. */
static int desc_collect(Query *q, DescWalk *w, const Row *t) {
        bool have_session = false;
        int64_t session = 0;
        sqlite3_stmt *st;
        int r;

        r = desc_walk_reset(w);
        if (r < 0)
                return r;
        r = desc_walk_below(w, t->id, DESC_SMALL_WALK);
        if (r <= 0)
                return r; /* all of it */

        /* Big: the target's audit session in one range scan, if it has one. */
        st = stmt(q, SQL_BY_ID);
        sqlite3_bind_int64(st, 1, (int64_t) t->id);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, COL_AUDIT_SESSION) != SQLITE_NULL) {
                have_session = true;
                session = sqlite3_column_int64(st, COL_AUDIT_SESSION);
        }
        sqlite3_reset(st);
        if (have_session) {
                /* Not when the session is far bigger than anything we answer: its scan would be cut. */
                st = w->query->desc_sql[DESC_SQL_SESSION_SIZE];
                sqlite3_reset(st);
                sqlite3_bind_int64(st, 1, (int64_t) t->boot);
                sqlite3_bind_int64(st, 2, session);
                if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) >= (int64_t) DESC_ROWS_MAX)
                        have_session = false;
                sqlite3_reset(st);
        }
        r = desc_walk_reset(w);
        if (r < 0)
                return r;
        if (have_session) {
                r = desc_fetch_session(w, t->boot, session);
                if (r < 0)
                        return r;
                if (desc_node(w, t->id)) {
                        r = desc_link(w);
                        if (r < 0)
                                return r;
                        r = desc_fetch_leavers(w);
                        return MIN(r, 0);
                }
        }
        r = desc_walk_below(w, t->id, DESC_ROWS_MAX + 1 - MIN(w->fetched, (size_t) DESC_ROWS_MAX));
        return MIN(r, 0);
}

/* Renders a row that was fetched but not rendered, now that the walk emits it: 1, or 0 if it is gone. */
static int desc_render_late(DescWalk *w, DescNode *n) {
        sqlite3_stmt *st = stmt(w->query, SQL_BY_ID);
        size_t split;
        Row r;
        int rc;

        sqlite3_bind_int64(st, 1, (int64_t) n->id);
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
                sqlite3_reset(st);
                return rc == SQLITE_DONE ? 0 : -EIO;
        }
        row_from_stmt(st, &r);
        n->off = w->arena.len;
        text_process(&w->arena, w->caller, st, &r, &split);
        n->split = split;
        n->end = w->arena.len;
        sqlite3_reset(st);
        return w->arena.oom ? -ENOMEM : 1;
}

typedef struct DescFrame {
        uint32_t node, next;            /* next: the next child of node to visit */
        uint32_t depth;
        int32_t shown;                  /* index in descendants of the nearest listed ancestor-or-self, -1: root */
} DescFrame;

/* The reply as pieces of the arena, in order. */
typedef struct DescPieces {
        struct DescPiece {
                size_t off, len;
        } *p;
        size_t n, alloc, size;
} DescPieces;

static void desc_pieces_done(DescPieces *d) {
        free(d->p);
        *d = (DescPieces) {};
}

static int desc_piece(DescPieces *d, size_t off, size_t len) {
        if (len == 0)
                return 0;
        if (d->n > 0 && d->p[d->n - 1].off + d->p[d->n - 1].len == off) {
                d->p[d->n - 1].len += len; /* adjacent in the arena: one piece */
                d->size += len;
                return 0;
        }
        if (d->n == d->alloc) {
                size_t a = MAX(d->alloc * 2, (size_t) 64);
                struct DescPiece *p = reallocarray(d->p, a, sizeof(struct DescPiece));

                if (!p)
                        return -ENOMEM;
                d->p = p;
                d->alloc = a;
        }
        d->p[d->n++] = (struct DescPiece) { off, len };
        d->size += len;
        return 0;
}

/* Appends text to the arena and makes it the next piece. */
static int desc_piece_text(DescWalk *w, DescPieces *d, const char *s, size_t n) {
        size_t off = w->arena.len;
        int r;

        r = query_text_append(&w->arena, s, n);
        return r < 0 ? r : desc_piece(d, off, n);
}

/* A rendered row as pieces; for a live one with its current parent from /proc if lookup. */
static int desc_piece_node(DescWalk *w, DescPieces *d, const DescNode *n, bool lookup) {
        ProcInfo pi = {};
        size_t off;
        int r;

        if (n->split == SIZE_MAX || !lookup)
                return desc_piece(d, n->off, n->end - n->off);
        r = desc_piece(d, n->off, n->split - n->off);
        if (r < 0)
                return r;
        off = w->arena.len;
        if (procfs_read(daemon_proc_root(w->query->daemon), n->pid, PROCFS_STAT, &pi) >= 0)
                text_field_int(&w->arena, "parentPid", pi.ppid);
        proc_info_done(&pi);
        r = desc_piece(d, off, w->arena.len - off);
        if (r >= 0)
                r = desc_piece(d, n->split, n->end - n->split);
        return w->arena.oom ? -ENOMEM : r;
}

static int descendants_build(Query *q, const QueryCaller *c, json_object *params, size_t max_size, DescWalk *w,
                             DescPieces *out, QueryError *e) {
        _cleanup_(query_text_done) QueryText depths = {}, parents = {};
        _cleanup_(json_object_putp) json_object *gaps = NULL;
        _cleanup_free_ DescFrame *stack = NULL;
        sqlite3 *db = store_db(daemon_store(q->daemon));
        size_t n_stack = 0, a_stack = 0, n_emitted = 0, comma;
        int64_t limit = DESCENDANTS_DEFAULT, last_exit;
        bool alive_only = false, truncated = false, in_tx = false;
        unsigned live_lookups = 0;
        DescNode *root;
        Row t;
        int r;

        r = check_known_params(params, e, "pid", "instance", "at", "limit", "aliveOnly", NULL);
        if (r < 0)
                return r;
        if (param_int(params, "limit", 1, DESCENDANTS_MAX, &limit) < 0)
                return invalid_parameter(e, "limit");
        if (param_bool(params, "aliveOnly", &alive_only) < 0)
                return invalid_parameter(e, "aliveOnly");
        /* Answer from the database with everything seen so far in it. */
        (void) daemon_flush(q->daemon);
        r = find_target(q, c, params, true, daemon_boot(q->daemon), 0, &t, e);
        if (r < 0)
                return r;

        /* One read transaction for the whole walk: one snapshot, and no lock taken per statement. */
        if (sqlite3_get_autocommit(db)) {
                sqlite3_reset(q->desc_sql[DESC_SQL_BEGIN]);
                if (sqlite3_step(q->desc_sql[DESC_SQL_BEGIN]) != SQLITE_DONE)
                        return database_error(q, e);
                in_tx = true;
        }
        /* Rows beyond the reply's size are not rendered; some slack, as not all of them get emitted. */
        w->arena_max = max_size + max_size / 4;
        w->root = t.id;
        r = desc_collect(q, w, &t);
        if (in_tx) {
                sqlite3_reset(q->desc_sql[DESC_SQL_COMMIT]);
                if (sqlite3_step(q->desc_sql[DESC_SQL_COMMIT]) != SQLITE_DONE)
                        r = r < 0 ? r : -EIO;
                sqlite3_reset(q->desc_sql[DESC_SQL_COMMIT]);
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return database_error(q, e);
        root = desc_node(w, t.id);
        if (!root)
                return no_such_process(e, 0, (int64_t) t.id); /* its boot is not recorded */
        if (root->off == SIZE_MAX) {
                r = desc_render_late(w, root);
                if (r == 0)
                        return no_such_process(e, 0, (int64_t) t.id);
                if (r < 0)
                        return r == -ENOMEM ? r : database_error(q, e);
        }
        if (!w->linked) {
                r = desc_link(w);
                if (r < 0)
                        return r;
        }
        truncated = w->cut;
        last_exit = t.exit > 0 ? t.exit : (int64_t) now_us();

        /* Depth first, children in birth order, each process once. */
        r = desc_piece_text(w, out, "{\"descendants\":[", strlen("{\"descendants\":["));
        if (r < 0)
                return r;
        comma = w->arena.len;
        text_literal(&w->arena, ",");
        text_literal(&depths, "],\"depths\":[");
        text_literal(&parents, "],\"parents\":[");
        stack = malloc(sizeof(DescFrame) * 64);
        if (!stack)
                return -ENOMEM;
        a_stack = 64;
        stack[n_stack++] = (DescFrame) { (uint32_t) (root - w->nodes), 0, 0, -1 };
        root->visited = true;
        while (n_stack > 0) {
                DescFrame *f = &stack[n_stack - 1];
                DescNode *p = &w->nodes[f->node], *n;

                if (f->next >= p->n_children) {
                        n_stack--;
                        continue;
                }
                n = &w->nodes[w->children[p->first_child + f->next++]];
                if (n->visited)
                        continue; /* a cycle (corrupt rows) */
                n->visited = true;
                if (n_stack == a_stack) {
                        DescFrame *s = reallocarray(stack, a_stack * 2, sizeof(DescFrame));

                        if (!s)
                                return -ENOMEM;
                        stack = s;
                        a_stack *= 2;
                }
                stack[n_stack] = (DescFrame) { (uint32_t) (n - w->nodes), 0, stack[n_stack - 1].depth + 1,
                                               stack[n_stack - 1].shown };
                n_stack++;

                if ((alive_only && n->exit > 0) || !n->visible)
                        continue;
                if ((int64_t) n_emitted < limit && n->off == SIZE_MAX) {
                        r = desc_render_late(w, n);
                        if (r < 0)
                                return r == -ENOMEM ? r : database_error(q, e);
                        if (r == 0)
                                continue; /* gone meanwhile (retention) */
                }
                if ((int64_t) n_emitted >= limit ||
                    out->size + depths.len + parents.len + (n->end - n->off) + 48 > max_size) {
                        truncated = true;
                        break;
                }
                if (n_emitted > 0) {
                        r = desc_piece(out, comma, 1);
                        if (r < 0)
                                return r;
                        text_literal(&depths, ",");
                        text_literal(&parents, ",");
                }
                r = desc_piece_node(w, out, n, live_lookups < LIVE_PARENT_LOOKUPS_MAX);
                if (r < 0)
                        return r;
                if (n->exit == 0)
                        live_lookups++;
                text_int(&depths, stack[n_stack - 1].depth);
                /* With aliveOnly the exited ones between are left out: the nearest listed ancestor. */
                text_int(&parents, stack[n_stack - 2].shown);
                stack[n_stack - 1].shown = (int32_t) n_emitted;
                last_exit = MAX(last_exit, n->exit > 0 ? n->exit : (int64_t) now_us());
                n_emitted++;
        }
        text_literal(&parents, "],\"process\":");
        if (depths.oom || parents.oom)
                return -ENOMEM;
        r = desc_piece_text(w, out, depths.data, depths.len);
        if (r >= 0)
                r = desc_piece_text(w, out, parents.data, parents.len);
        if (r >= 0)
                r = desc_piece_node(w, out, root, true);
        if (r < 0)
                return r;
        query_text_done(&depths);
        text_field_bool(&depths, "truncated", truncated);
        gaps = gaps_json(q, t.boot, t.start, last_exit, NULL);
        if (gaps) {
                const char *g = json_object_to_json_string_ext(gaps, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

                if (!g)
                        return -ENOMEM;
                text_key(&depths, "gaps");
                (void) query_text_append(&depths, g, strlen(g));
        }
        text_literal(&depths, "}");
        if (depths.oom)
                return -ENOMEM;
        return desc_piece_text(w, out, depths.data, depths.len);
}

/* Fills the named error for failures without one, as query_call() does. */
static int desc_error(Query *q, int r, QueryError *e, QueryError *ret_error) {
        if (!e->error) {
                if (r == -ENOMEM)
                        log_oom();
                database_error(q, e);
        }
        *ret_error = *e;
        return r;
}

int query_get_descendants_iov(Query *q, const QueryCaller *c, json_object *params, size_t max_size,
                              const char *prefix, const char *suffix, char **ret_base, struct iovec **ret_iov,
                              size_t *ret_n_iov, QueryError *ret_error) {
        _cleanup_(desc_walk_done) DescWalk w = { .query = q, .caller = c };
        _cleanup_(desc_pieces_done) DescPieces d = {};
        struct iovec *iov;
        QueryError e = {};
        int r;

        size_t prefix_off;

        r = descendants_build(q, c, params, max_size, &w, &d, &e);
        if (r >= 0)
                r = desc_piece_text(&w, &d, suffix, strlen(suffix));
        /* The envelope's text goes into the arena too: pieces refer to it like to the rows. */
        prefix_off = w.arena.len;
        if (r >= 0)
                r = query_text_append(&w.arena, prefix, strlen(prefix));
        if (r < 0)
                return desc_error(q, r, &e, ret_error);
        iov = reallocarray(NULL, d.n + 1, sizeof(struct iovec));
        if (!iov)
                return desc_error(q, -ENOMEM, &e, ret_error);
        iov[0] = (struct iovec) { .iov_base = w.arena.data + prefix_off, .iov_len = strlen(prefix) };
        for (size_t k = 0; k < d.n; k++)
                iov[k + 1] = (struct iovec) { .iov_base = w.arena.data + d.p[k].off, .iov_len = d.p[k].len };
        *ret_base = TAKE_PTR(w.arena.data);
        *ret_iov = iov;
        *ret_n_iov = d.n + 1;
        return 0;
}

int query_get_descendants_text(Query *q, const QueryCaller *c, json_object *params, size_t max_size, QueryText *out,
                               QueryError *ret_error) {
        _cleanup_(desc_walk_done) DescWalk w = { .query = q, .caller = c };
        _cleanup_(desc_pieces_done) DescPieces d = {};
        QueryError e = {};
        int r;

        r = descendants_build(q, c, params, max_size, &w, &d, &e);
        if (r < 0)
                return desc_error(q, r, &e, ret_error);
        if (!text_reserve(out, d.size))
                return desc_error(q, -ENOMEM, &e, ret_error);
        for (size_t k = 0; k < d.n; k++)
                (void) query_text_append(out, w.arena.data + d.p[k].off, d.p[k].len);
        return 0;
}

int query_get_descendants(Query *q, const QueryCaller *c, json_object *params, size_t max_size, json_object **ret,
                          QueryError *ret_error) {
        _cleanup_(query_text_done) QueryText text = {};
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        json_object *o;
        int r;

        r = query_get_descendants_text(q, c, params, max_size, &text, ret_error);
        if (r < 0)
                return r;
        if (text.len > INT_MAX)
                return -E2BIG;
        tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, text.data, (int) text.len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success) {
                json_object_put(o);
                return log_error_errno(EIO, "GetDescendants built invalid JSON, refusing it.");
        }
        *ret = o;
        return 0;
}

static int method_get_descendants(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        return query_get_descendants(q, c, params, QUERY_REPLY_SIZE_MAX, ret, e);
}

static int method_get_caba(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        json_object *process = NULL, *caba = NULL, *kcaba = NULL;
        int32_t kernel_tgid = -1;
        Instance *live;
        Row t;
        int r, k;

        r = check_known_params(params, e, "pid", "instance", NULL);
        if (r < 0)
                return r;
        r = find_target(q, c, params, false, daemon_boot(q->daemon), 0, &t, e);
        if (r < 0)
                return r;
        reply = json_object_new_object();
        if (!reply)
                return -ENOMEM;
        if (load_instance(q, c, t.id, true, NULL, &process) < 0)
                return database_error(q, e);
        json_object_object_add(reply, "process", process);
        /* Userspace CABA: kept current while alive by the tracker (and written on every change). */
        if (t.caba > 0 && load_instance(q, c, t.caba, true, NULL, &caba) >= 0)
                json_object_object_add(reply, "caba", caba);
        json_object_object_add(reply, "source", json_object_new_string(t.source));

        /* The kernel's, where it has the CABA patch: only meaningful for a live process. */
        live = t.exit == 0 ? tracker_get(daemon_tracker(q->daemon), t.pid) : NULL;
        k = live && live->id == t.id ? daemon_kernel_caba(q->daemon, t.pid, &kernel_tgid) : -ESRCH;
        json_object_object_add(reply, "kernelSupported",
                               json_object_new_boolean(k != -EOPNOTSUPP && (k >= 0 || daemon_kernel_has_caba(q->daemon))));
        if (k >= 0) {
                Instance *ki = tracker_get(daemon_tracker(q->daemon), kernel_tgid);
                CabaAgreement a = daemon_check_caba(q->daemon, live, kernel_tgid);

                add_int(reply, "kernelCabaPid", kernel_tgid);
                if (ki && load_instance(q, c, ki->id, true, NULL, &kcaba) >= 0)
                        json_object_object_add(reply, "kernelCaba", kcaba);
                json_object_object_add(reply, "agree", json_object_new_boolean(a != CABA_DISAGREE));
                json_object_object_add(reply, "difference", json_object_new_string(caba_agreement_to_string(a)));
        }
        *ret = TAKE_PTR(reply);
        return 0;
}

/* An event as the IDL has it: type-specific fields from the generic a/b/text/argv columns. */
static json_object *event_json(uint64_t instance, int32_t pid, int64_t time, int type, int64_t tid, bool have_a,
                               int64_t a, bool have_b, int64_t b, const char *text, const char *argv_json) {
        json_object *o = json_object_new_object();
        const char *name = lineage_event_type_to_string((LineageEventType) type);

        if (!o)
                return NULL;
        add_int(o, "instance", (int64_t) instance);
        add_int(o, "pid", pid);
        add_int(o, "time", time);
        json_object_object_add(o, "type", json_object_new_string(name ?: "unknown"));
        if (tid > 0)
                add_int(o, "tid", tid);
        switch (type) {
        case LINEAGE_EVENT_UID:
        case LINEAGE_EVENT_GID:
                if (have_a)
                        add_int(o, "realId", a);
                if (have_b)
                        add_int(o, "effectiveId", b);
                break;
        case LINEAGE_EVENT_SID:
                if (have_a)
                        add_int(o, "sid", a);
                break;
        case LINEAGE_EVENT_PTRACE:
                if (have_a)
                        add_int(o, "tracerPid", a);
                break;
        case LINEAGE_EVENT_COMM:
                if (text)
                        json_object_object_add(o, "comm", new_string_utf8(text));
                break;
        case LINEAGE_EVENT_EXEC:
                if (text)
                        json_object_object_add(o, "exe", new_string_utf8(text));
                if (argv_json) {
                        json_object *arr = json_tokener_parse(argv_json);

                        if (arr && json_object_is_type(arr, json_type_array))
                                json_object_object_add(o, "argv", arr);
                        else
                                json_object_put(arr);
                }
                break;
        case LINEAGE_EVENT_EXIT:
                if (have_a && a >= 0)
                        add_int(o, "exitStatus", a);
                if (have_b && b > 0)
                        add_int(o, "exitSignal", b);
                break;
        default:
                break;
        }
        return o;
}

/* An event of another owner than the caller: when and what kind, nothing it carried. */
static json_object *redacted_event_json(uint64_t instance, int32_t pid, int64_t time, int type, int64_t tid) {
        json_object *o = event_json(instance, pid, time, type, tid, false, 0, false, 0, NULL, NULL);

        if (o)
                json_object_object_add(o, "redacted", json_object_new_boolean(true));
        return o;
}

/* Was the process the caller's at the event of st's row, whose owner (real uid, loginuid) is in columns
 * col and col + 1? Rows from before schema version 8 have none: judged by who it is now, as then. */
static bool caller_sees_event(const QueryCaller *c, const Row *t, sqlite3_stmt *st, int col) {
        if (sqlite3_column_type(st, col) == SQLITE_NULL)
                return caller_sees(c, t);
        return owner_is(c, sqlite3_column_int64(st, col), column_id(st, col + 1));
}

static int method_get_history(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        json_object *process = NULL, *events, *gaps, *ev;
        int64_t limit = HISTORY_DEFAULT;
        sqlite3_stmt *st;
        int64_t n = 0;
        Row t;
        int r;

        r = check_known_params(params, e, "pid", "instance", "at", "limit", NULL);
        if (r < 0)
                return r;
        if (param_int(params, "limit", 1, HISTORY_MAX, &limit) < 0)
                return invalid_parameter(e, "limit");
        r = find_target(q, c, params, true, daemon_boot(q->daemon), 0, &t, e);
        if (r < 0)
                return r;
        reply = json_object_new_object();
        events = json_object_new_array();
        if (!reply || !events) {
                json_object_put(events);
                return -ENOMEM;
        }
        json_object_object_add(reply, "events", events);
        if (load_instance(q, c, t.id, true, NULL, &process) < 0)
                return database_error(q, e);
        json_object_object_add(reply, "process", process);

        /* The birth is the instance row itself: show it as the first event. */
        ev = event_json(t.id, t.pid, t.start, LINEAGE_EVENT_FORK, 0, false, 0, false, 0, NULL, NULL);
        if (ev) {
                if (t.birth_parent_pid >= 0)
                        add_int(ev, "parentPid", t.birth_parent_pid);
                json_object_array_add(events, ev);
        }
        st = stmt(q, SQL_EVENTS);
        sqlite3_bind_int64(st, 1, (int64_t) t.id);
        sqlite3_bind_int64(st, 2, limit + 1);
        while (sqlite3_step(st) == SQLITE_ROW) {
                if (++n > limit)
                        break;
                if (!caller_sees_event(c, &t, st, 7))
                        ev = redacted_event_json(t.id, t.pid, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1),
                                                 sqlite3_column_int64(st, 2));
                else
                        ev = event_json(t.id, t.pid, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1),
                                sqlite3_column_int64(st, 2), sqlite3_column_type(st, 3) != SQLITE_NULL,
                                sqlite3_column_int64(st, 3), sqlite3_column_type(st, 4) != SQLITE_NULL,
                                sqlite3_column_int64(st, 4), (const char *) sqlite3_column_text(st, 5),
                                (const char *) sqlite3_column_text(st, 6));
                if (ev)
                        json_object_array_add(events, ev);
        }
        if (t.exit > 0) {
                /* The exit, likewise, is in the instance row. */
                json_object *pj = json_object_object_get(process, "exitStatus"), *sj = json_object_object_get(process, "exitSignal");

                ev = event_json(t.id, t.pid, t.exit, LINEAGE_EVENT_EXIT, 0, pj != NULL, pj ? json_object_get_int64(pj) : -1,
                                sj != NULL, sj ? json_object_get_int64(sj) : 0, NULL, NULL);
                if (ev)
                        json_object_array_add(events, ev);
        }
        json_object_object_add(reply, "truncated", json_object_new_boolean(n > limit));
        gaps = gaps_json(q, t.boot, t.start, t.exit > 0 ? t.exit : (int64_t) now_us(), NULL);
        if (gaps)
                json_object_object_add(reply, "gaps", gaps);
        *ret = TAKE_PTR(reply);
        return 0;
}

/* Normalizes a boot id (dashed UUID or 32 hex digits, any case) into 32 lowercase digits. */
static void normalize_boot_id(const char *in, char out[static 33]) {
        size_t k = 0;

        for (const char *p = in; *p && k < 32; p++)
                if (*p != '-')
                        out[k++] = (char) (*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
        out[k] = 0;
}

/* One boot's row id and clock offset, remembered across the queries of one batch. */
typedef struct BootCache {
        char id[33];
        uint64_t rowid;
        int64_t realtime_offset_ns;
        bool found;
} BootCache;

static int lookup_boot(Query *q, const char *boot_id, BootCache *cache) {
        char norm[33];
        sqlite3_stmt *st;

        normalize_boot_id(boot_id, norm);
        if (cache->id[0] && streq(cache->id, norm))
                return cache->found ? 0 : -ENOENT;
        memcpy(cache->id, norm, sizeof(norm));
        st = stmt(q, SQL_BOOT_BY_ID);
        sqlite3_bind_text(st, 1, norm, -1, SQLITE_TRANSIENT);
        cache->found = sqlite3_step(st) == SQLITE_ROW;
        if (!cache->found)
                return -ENOENT;
        cache->rowid = (uint64_t) sqlite3_column_int64(st, 0);
        cache->realtime_offset_ns = sqlite3_column_int64(st, 1);
        return 0;
}

/* Why a time has no holder of a pid when lineaged was not recording then: "before-first-run" (of this
 * boot), or the reason of the recorded gap it falls in ("downtime", "overflow", …); NULL while it
 * was recording. The string lives until the next call. */
static const char *not_recording(Query *q, uint64_t boot, int64_t at, char buf[static 32]) {
        sqlite3 *db = store_db(daemon_store(q->daemon));
        sqlite3_stmt *st = NULL;
        const char *r = NULL;

        if (sqlite3_prepare_v2(db, "SELECT min(started) FROM runs WHERE boot = ?1", -1, &st, NULL) != SQLITE_OK)
                return NULL;
        sqlite3_bind_int64(st, 1, (int64_t) boot);
        if (sqlite3_step(st) == SQLITE_ROW &&
            (sqlite3_column_type(st, 0) == SQLITE_NULL || at < sqlite3_column_int64(st, 0)))
                r = "before-first-run";
        sqlite3_finalize(st);
        if (r)
                return r;
        if (sqlite3_prepare_v2(db, "SELECT reason FROM gaps WHERE boot = ?1 AND start_time <= ?2 AND end_time >= ?2"
                               " ORDER BY reason = 'downtime' DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
                return NULL;
        sqlite3_bind_int64(st, 1, (int64_t) boot);
        sqlite3_bind_int64(st, 2, at);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
                snprintf(buf, 32, "%s", (const char *) sqlite3_column_text(st, 0));
                r = buf;
        }
        sqlite3_finalize(st);
        return r;
}

static int method_resolve(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        json_object *process = NULL, *gaps;
        const char *boot_id = NULL;
        uint64_t boot = daemon_boot(q->daemon);
        int64_t pid, at;
        Row t;
        int r;

        r = check_known_params(params, e, "pid", "at", "bootId", NULL);
        if (r < 0)
                return r;
        if (param_int(params, "pid", 1, INT32_MAX, &pid) <= 0)
                return invalid_parameter(e, "pid");
        if (param_int(params, "at", 1, INT64_MAX, &at) <= 0)
                return invalid_parameter(e, "at");
        r = param_string(params, "bootId", &boot_id);
        if (r < 0)
                return invalid_parameter(e, "bootId");
        if (r > 0) {
                BootCache bc = {};

                if (lookup_boot(q, boot_id, &bc) < 0)
                        return no_such_process(e, pid, 0);
                boot = bc.rowid;
        }
        r = find_target(q, c, params, true, boot, 0, &t, e);
        if (r == -ESRCH && e->parameters) {
                /* Nobody, or nobody known: say which. */
                char buf[32];
                const char *why = not_recording(q, boot, at, buf);

                if (why)
                        json_object_object_add(e->parameters, "notRecording", json_object_new_string(why));
        }
        if (r < 0)
                return r;
        reply = json_object_new_object();
        if (!reply)
                return -ENOMEM;
        if (load_instance(q, c, t.id, true, NULL, &process) < 0)
                return database_error(q, e);
        json_object_object_add(reply, "process", process);
        /* A gap at that moment means another, unseen, process may have held the pid. */
        gaps = gaps_json(q, t.boot, at, at, NULL);
        if (gaps)
                json_object_object_add(reply, "gaps", gaps);
        *ret = TAKE_PTR(reply);
        return 0;
}

static int method_list_logins(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        int64_t uid = -1, since = -1, until = -1, limit = LOGINS_DEFAULT;
        json_object *logins;
        sqlite3_stmt *st;
        bool alive = false;
        int64_t n = 0;
        int r;

        r = check_known_params(params, e, "loginUid", "since", "until", "aliveOnly", "limit", NULL);
        if (r < 0)
                return r;
        if (param_int(params, "loginUid", 0, UINT32_MAX, &uid) < 0)
                return invalid_parameter(e, "loginUid");
        if (param_int(params, "since", 0, INT64_MAX, &since) < 0)
                return invalid_parameter(e, "since");
        if (param_int(params, "until", 0, INT64_MAX, &until) < 0)
                return invalid_parameter(e, "until");
        if (param_bool(params, "aliveOnly", &alive) < 0)
                return invalid_parameter(e, "aliveOnly");
        if (param_int(params, "limit", 1, 100000, &limit) < 0)
                return invalid_parameter(e, "limit");
        /* Other users' logins are not theirs to list. */
        if (c->uid != 0) {
                if (uid >= 0 && (uid_t) uid != c->uid)
                        return set_error(e, QUERY_ERROR_PERMISSION_DENIED, NULL);
                uid = c->uid;
        }
        reply = json_object_new_object();
        logins = json_object_new_array();
        if (!reply || !logins) {
                json_object_put(logins);
                return -ENOMEM;
        }
        json_object_object_add(reply, "logins", logins);
        st = stmt(q, SQL_LIST_LOGINS);
        if (uid >= 0)
                sqlite3_bind_int64(st, 1, uid);
        if (since >= 0)
                sqlite3_bind_int64(st, 2, since);
        if (until >= 0)
                sqlite3_bind_int64(st, 3, until);
        sqlite3_bind_int(st, 4, alive);
        sqlite3_bind_int64(st, 5, limit + 1); /* one more, to say whether more exist */
        while (sqlite3_step(st) == SQLITE_ROW) {
                json_object *l;

                if (++n > limit)
                        break;
                l = login_json(st);
                if (l)
                        json_object_array_add(logins, l);
        }
        json_object_object_add(reply, "truncated", json_object_new_boolean(n > limit));
        *ret = TAKE_PTR(reply);
        return 0;
}

/* ---- ResolveBatch ---- */

/* Answers rendered as JSON text for callers that take it (varlink): a batch of a thousand answers
 * as json-c objects costs more to build, print and free than to find. The text says what
 * process_json() and login_json() say, in the same order. */
typedef struct JText {
        QueryText q;                    /* the same buffer and string/number writers as GetDescendants */
        bool first;                     /* no key written yet in the current object */
} JText;

static void jt_raw(JText *t, const char *s, size_t n) {
        (void) query_text_append(&t->q, s, n);
}

static void jt_open(JText *t) {
        jt_raw(t, "{", 1);
        t->first = true;
}

static void jt_close(JText *t) {
        jt_raw(t, "}", 1);
        t->first = false;
}

static void jt_key(JText *t, const char *key) {
        jt_raw(t, t->first ? "\"" : ",\"", t->first ? 1 : 2);
        jt_raw(t, key, strlen(key));
        jt_raw(t, "\":", 2);
        t->first = false;
}

static void jt_int(JText *t, const char *key, int64_t v) {
        jt_key(t, key);
        text_int(&t->q, v);
}

static void jt_bool(JText *t, const char *key, bool v) {
        jt_key(t, key);
        text_bool(&t->q, v);
}

static void jt_str(JText *t, const char *key, const char *v) {
        jt_key(t, key);
        text_string(&t->q, v, strlen(v));
}

static void jt_col_int(JText *t, const char *key, sqlite3_stmt *st, int col) {
        if (sqlite3_column_type(st, col) != SQLITE_NULL)
                jt_int(t, key, sqlite3_column_int64(st, col));
}

static void jt_col_text(JText *t, const char *key, sqlite3_stmt *st, int col) {
        const char *v = (const char *) sqlite3_column_text(st, col);

        if (v && *v)
                jt_str(t, key, v);
}

/* process_json() without a live parent, as text. */
static void process_text(const QueryCaller *c, sqlite3_stmt *st, JText *t) {
        size_t split;
        Row r;

        row_from_stmt(st, &r);
        text_process(&t->q, c, st, &r, &split);
        t->first = false;
}

/* login_json() as text. */
static void login_text(sqlite3_stmt *st, JText *t) {
        const char *name = user_name((uint32_t) sqlite3_column_int64(st, 2));

        jt_open(t);
        jt_int(t, "instance", sqlite3_column_int64(st, 0));
        jt_int(t, "auditSession", sqlite3_column_int64(st, 1));
        jt_int(t, "loginUid", sqlite3_column_int64(st, 2));
        if (name)
                jt_str(t, "user", name);
        jt_col_text(t, "service", st, 3);
        jt_col_text(t, "remoteAddress", st, 4);
        jt_col_int(t, "remotePort", st, 5);
        jt_col_text(t, "tty", st, 6);
        jt_col_text(t, "logindSession", st, 7);
        jt_col_text(t, "unit", st, 8);
        jt_int(t, "startTime", sqlite3_column_int64(st, 9));
        jt_col_int(t, "endTime", st, 10);
        jt_bool(t, "alive", sqlite3_column_type(st, 10) == SQLITE_NULL);
        jt_bool(t, "selfDeclared", sqlite3_column_int(st, 11) != 0);
        jt_close(t);
}

/* The login and ancestry of instance id, walking birth parents with one small query per step: the
 * nearest LINEAGE_ANCESTRY_MAX names for the ancestry (lineage_ancestry_format()), and on up to the
 * nearest login. ret_login: the login's instance, 0 if none; ret_ancestry: "" if the walk found nothing. */
static void lean_walk(Query *q, const QueryCaller *c, uint64_t id, uint64_t *ret_login,
                      char ret_ancestry[static LINEAGE_ANCESTRY_SIZE]) {
        struct {
                int32_t pid;
                char comm[32];
        } chain[LINEAGE_ANCESTRY_MAX];
        LineageAncestor names[LINEAGE_ANCESTRY_MAX];
        size_t n = 0, login_at = SIZE_MAX;
        uint64_t login = 0;

        for (unsigned depth = 0; id > 0 && depth < ANCESTRY_MAX_WALK; depth++) {
                sqlite3_stmt *st = stmt(q, SQL_PARENT);
                uint64_t next;
                Row r = {};

                sqlite3_bind_int64(st, 1, (int64_t) id);
                if (sqlite3_step(st) != SQLITE_ROW)
                        break;
                next = (uint64_t) sqlite3_column_int64(st, 0);
                r.uid = (uint32_t) sqlite3_column_int64(st, 3);
                r.login_uid = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 4);
                r.image_uid = column_id(st, 6);
                r.image_login_uid = column_id(st, 7);
                if (n < LINEAGE_ANCESTRY_MAX) {
                        const char *comm = (const char *) sqlite3_column_text(st, 2);

                        chain[n].pid = sqlite3_column_int(st, 1);
                        /* Another user's process: in the chain, but not by name. */
                        snprintf(chain[n].comm, sizeof(chain[n].comm), "%s", caller_sees_image(c, &r) && comm ? comm : "?");
                        n++;
                }
                if (sqlite3_column_int(st, 5)) {
                        login = id;
                        login_at = n - 1;
                        break;
                }
                if (next == id)
                        break;
                id = next;
        }
        *ret_login = login;
        /* From the login (when it is among the nearest) or the oldest of them, down to the process. */
        if (login_at != SIZE_MAX)
                n = MIN(n, login_at + 1);
        for (size_t k = 0; k < n; k++)
                names[k] = (LineageAncestor) { .pid = chain[k].pid, .comm = chain[k].comm };
        lineage_ancestry_format(names, n, ret_ancestry, LINEAGE_ANCESTRY_SIZE);
}

/* The login (if the caller may see it) and ancestry of instance id, added to answer (json or text). */
static void lean_origin(Query *q, const QueryCaller *c, uint64_t id, json_object *answer, JText *t) {
        char ancestry[LINEAGE_ANCESTRY_SIZE];
        uint64_t login;

        lean_walk(q, c, id, &login, ancestry);
        if (login > 0) {
                sqlite3_stmt *st = stmt(q, SQL_LOGIN_BY_INSTANCE);

                sqlite3_bind_int64(st, 1, (int64_t) login);
                if (sqlite3_step(st) == SQLITE_ROW &&
                    (c->uid == 0 || (uid_t) sqlite3_column_int64(st, 2) == c->uid)) {
                        if (t) {
                                jt_key(t, "login");
                                login_text(st, t);
                        } else {
                                json_object *l = login_json(st);

                                if (l)
                                        json_object_object_add(answer, "login", l);
                        }
                }
        }
        if (!ancestry[0])
                return;
        if (t)
                jt_str(t, "ancestry", ancestry);
        else
                json_object_object_add(answer, "ancestry", json_object_new_string(ancestry));
}

/* One answer: as an object (returned), or appended to t as text (returns the query itself, borrowed,
 * as a non-NULL "done"). Answers for the same instance in one batch are the same: cache maps the
 * instance to its answer object, or to where its text is in t. */
static json_object *resolve_one(Query *q, const QueryCaller *c, json_object *query, BootCache *boot,
                                Hashmap *cache, JText *t, QueryError *e, int *ret_r) {
        _cleanup_(json_object_putp) json_object *answer = NULL;
        int64_t pid, realtime = 0, monotonic = -1;
        const char *boot_id = NULL;
        json_object *p = NULL;
        uint64_t rowid = daemon_boot(q->daemon);
        sqlite3_stmt *st;
        size_t start = t ? t->q.len : 0;
        void *cached;
        Row t_row;

        *ret_r = 0;
        if (!json_object_is_type(query, json_type_object) || param_int(query, "pid", 1, INT32_MAX, &pid) <= 0 ||
            param_int(query, "realtime", 0, INT64_MAX, &realtime) < 0 ||
            param_int(query, "monotonic", 0, INT64_MAX, &monotonic) < 0 || param_string(query, "bootId", &boot_id) < 0) {
                *ret_r = invalid_parameter(e, "queries");
                return NULL;
        }
        if (!t) {
                answer = json_object_new_object();
                if (!answer)
                        return NULL;
                json_object_object_add(answer, "resolved", json_object_new_boolean(false));
        }
        if (boot_id && lookup_boot(q, boot_id, boot) < 0)
                goto unresolved; /* a boot we never saw */
        if (boot_id)
                rowid = boot->rowid;
        if (realtime <= 0 && monotonic >= 0) {
                int64_t offset = boot_id ? boot->realtime_offset_ns : daemon_realtime_offset(q->daemon);

                realtime = (monotonic * 1000 + offset) / 1000;
        }
        if (realtime <= 0)
                goto unresolved;
        /* The holder at that time, as find_target() finds it, rendered from the same row. */
        st = stmt(q, SQL_BY_PID_AT);
        sqlite3_bind_int64(st, 1, pid);
        sqlite3_bind_int64(st, 2, (int64_t) rowid);
        sqlite3_bind_int64(st, 3, realtime);
        if (sqlite3_step(st) != SQLITE_ROW)
                goto unresolved;
        row_from_stmt(st, &t_row);
        if ((t_row.exit > 0 && t_row.exit + (int64_t) RESOLVE_EXIT_GRACE_USEC < realtime) || !caller_may_see(c, &t_row))
                goto unresolved;
        /* Journal lines come in runs from the same process: one answer per instance and batch. */
        cached = cache ? hashmap_get(cache, t_row.id) : NULL;
        if (cached && !t)
                return json_object_get(cached);
        if (cached) {
                /* Its text: copied (t may move while it grows). */
                uint64_t span = (uint64_t) (uintptr_t) cached;
                size_t from = (size_t) (span >> 32), len = (size_t) (span & UINT32_MAX);
                _cleanup_free_ char *copy = strndup(t->q.data + from, len);

                if (!copy)
                        return NULL;
                jt_raw(t, copy, len);
                return t->q.oom ? NULL : query;
        }
        if (t) {
                jt_raw(t, "{\"resolved\":true,\"process\":", strlen("{\"resolved\":true,\"process\":"));
                t->first = false;
                process_text(c, st, t);
                t->first = false;
                lean_origin(q, c, t_row.id, NULL, t);
                jt_close(t);
                /* Remembered as offset << 32 | length (never 0): a batch's text stays far below 4 GiB. */
                if (cache && !t->q.oom && t->q.len - start <= UINT32_MAX && start <= UINT32_MAX)
                        (void) hashmap_put(cache, t_row.id, (void *) (uintptr_t) (((uint64_t) start << 32) | (t->q.len - start)));
                return t->q.oom ? NULL : query;
        }
        json_object_object_add(answer, "resolved", json_object_new_boolean(true));
        p = process_json(q, c, st, false);
        if (p)
                json_object_object_add(answer, "process", p);
        lean_origin(q, c, t_row.id, answer, NULL);
        if (cache && hashmap_put(cache, t_row.id, answer) >= 0)
                json_object_get(answer);
        return TAKE_PTR(answer);

unresolved:
        if (!t)
                return TAKE_PTR(answer);
        jt_raw(t, "{\"resolved\":false}", 18);
        return t->q.oom ? NULL : query;
}

/* The answers array of a text batch: printed from the text when the reply is serialized. */
static int answers_text_print(json_object *o, struct printbuf *pb, int level, int flags) {
        JText *t = json_object_get_userdata(o);

        return printbuf_memappend(pb, t->q.data ?: "[]", t->q.data ? (int) t->q.len : 2);
}

static void answers_text_free(json_object *o, void *userdata) {
        JText *t = userdata;

        query_text_done(&t->q);
        free(t);
}

static int method_resolve_batch(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        json_object *queries, *answers;
        _cleanup_(hashmap_freep) Hashmap *cache = NULL;
        sqlite3 *db = store_db(daemon_store(q->daemon));
        bool in_transaction = false;
        JText *t = NULL;
        BootCache boot = {};
        size_t n, it = 0;
        void *v;
        int r;

        r = check_known_params(params, e, "queries", NULL);
        if (r < 0)
                return r;
        if (!params || !json_object_object_get_ex(params, "queries", &queries) ||
            !json_object_is_type(queries, json_type_array) ||
            (n = json_object_array_length(queries)) > RESOLVE_BATCH_MAX)
                return invalid_parameter(e, "queries");
        reply = json_object_new_object();
        answers = json_object_new_array_ext((int) n);
        if (!reply || !answers) {
                json_object_put(answers);
                return -ENOMEM;
        }
        json_object_object_add(reply, "answers", answers);
        if (c->text_replies) {
                t = calloc(1, sizeof(JText));
                if (!t)
                        return -ENOMEM;
                json_object_set_serializer(answers, answers_text_print, t, answers_text_free);
                jt_raw(t, "[", 1);
        }
        (void) hashmap_new(&cache); /* without it, every line is answered on its own */
        /* One read transaction for the whole batch rather than one per statement (nothing is being
         * written: pending rows were committed before the call). */
        if (sqlite3_get_autocommit(db))
                in_transaction = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
        for (size_t k = 0; k < n && r >= 0; k++) {
                json_object *a;

                if (t && k > 0)
                        jt_raw(t, ",", 1);
                a = resolve_one(q, c, json_object_array_get_idx(queries, k), &boot, cache, t, e, &r);
                if (r >= 0 && !a)
                        r = -ENOMEM;
                if (r >= 0 && !t)
                        json_object_array_add(answers, a);
        }
        if (t) {
                jt_raw(t, "]", 1);
                if (r >= 0 && t->q.oom)
                        r = -ENOMEM;
        }
        if (in_transaction) {
                /* Nothing may keep it open: the store begins its own transactions on this connection. */
                for (unsigned k = 0; k < _SQL_MAX; k++)
                        sqlite3_reset(q->sql[k]);
                if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
                        (void) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        }
        while (!t && cache && hashmap_iterate(cache, &it, NULL, &v))
                json_object_put(v);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(reply);
        return 0;
}

static uint64_t rss_bytes(void) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/statm", "re");
        unsigned long size, resident;

        if (!f || fscanf(f, "%lu %lu", &size, &resident) != 2)
                return 0;
        return (uint64_t) resident * (uint64_t) sysconf(_SC_PAGESIZE);
}

/* Execs recorded with and without an executable, by where their image came from. */
static int add_exec_counts(json_object *st, const TrackerStats *ts) {
        json_object *with = json_object_new_object(), *without = json_object_new_object();

        if (!with || !without) {
                json_object_put(with);
                json_object_put(without);
                return -ENOMEM;
        }
        for (int k = 0; k < _LINEAGE_EXEC_SOURCE_MAX; k++) {
                add_int(with, lineage_exec_source_to_string((LineageExecSource) k), (int64_t) ts->exec_image[k]);
                add_int(without, lineage_exec_source_to_string((LineageExecSource) k), (int64_t) ts->exec_no_image[k]);
        }
        json_object_object_add(st, "execsWithImage", with);
        json_object_object_add(st, "execsWithoutImage", without);
        return 0;
}

static int method_get_status(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        json_object *reply, *st, *events;
        CnprocStats cs = {};
        TrackerStats ts = {};
        VarlinkStats vs;
        int r, err;

        r = check_known_params(params, e, NULL);
        if (r < 0)
                return r;
        if (daemon_cnproc(q->daemon))
                cnproc_get_stats(daemon_cnproc(q->daemon), &cs);
        if (daemon_tracker(q->daemon))
                tracker_get_stats(daemon_tracker(q->daemon), &ts);
        reply = json_object_new_object();
        st = json_object_new_object();
        events = json_object_new_object();
        if (!reply || !st || !events) {
                json_object_put(reply);
                json_object_put(st);
                json_object_put(events);
                return -ENOMEM;
        }
        json_object_object_add(st, "version", json_object_new_string(PROJECT_VERSION));
        json_object_object_add(st, "bootId", json_object_new_string(daemon_boot_id(q->daemon)));
        add_int(st, "uptime", (int64_t) (now_us() - daemon_start_time(q->daemon)));
        add_int(st, "liveInstances", (int64_t) ts.live);
        add_int(st, "instancesCreated", (int64_t) ts.created);
        for (int k = 1; k < _LINEAGE_EVENT_MAX; k++)
                add_int(events, lineage_event_type_to_string((LineageEventType) k), (int64_t) cs.events[k]);
        json_object_object_add(st, "events", events);
        add_int(st, "eventsLost", (int64_t) cs.lost);
        add_int(st, "overflows", (int64_t) cs.overflows);
        add_int(st, "gaps", (int64_t) ts.gaps);
        add_int(st, "unattributedEvents", (int64_t) ts.unattributed);
        json_object_object_add(st, "execSource",
                               json_object_new_string(lineage_exec_source_to_string(daemon_exec_source(q->daemon))));
        if (daemon_exec_source_reason(q->daemon))
                json_object_object_add(st, "execSourceReason", json_object_new_string(daemon_exec_source_reason(q->daemon)));
        {
                DaemonBpfStats bs;

                daemon_get_bpf_stats(q->daemon, &bs);
                add_int(st, "bpfRecords", (int64_t) bs.records);
                add_int(st, "bpfLost", (int64_t) bs.lost);
                add_int(st, "bpfOnlyExecs", (int64_t) bs.only_bpf);
                add_int(st, "bpfUnmatched", (int64_t) bs.unmatched);
        }
        if (add_exec_counts(st, &ts) < 0) {
                json_object_put(reply);
                json_object_put(st);
                return -ENOMEM;
        }
        json_object_object_add(st, "databasePath", json_object_new_string(store_path(daemon_store(q->daemon))));
        add_int(st, "databaseSize", (int64_t) store_size(daemon_store(q->daemon)));
        add_int(st, "databaseUsed", (int64_t) store_used_bytes(daemon_store(q->daemon)));
        add_int(st, "pruned", (int64_t) daemon_pruned(q->daemon));
        err = daemon_store_error(q->daemon);
        if (err < 0)
                json_object_object_add(st, "databaseError",
                                       json_object_new_string(err == -EBUSY ? "database is locked by another connection"
                                                                            : strerror(-err)));
        json_object_object_add(st, "kernelCaba", json_object_new_boolean(daemon_kernel_has_caba(q->daemon)));
        add_int(st, "cabaDisagreements", (int64_t) daemon_caba_disagreements(q->daemon));
        add_int(st, "receiveBuffer", cs.rcvbuf);
        add_int(st, "receiveBufferRequested", cs.rcvbuf_requested);
        json_object_object_add(st, "kernelFilter", json_object_new_boolean(cs.filtered));
        add_int(st, "memory", (int64_t) rss_bytes());
        daemon_varlink_stats(q->daemon, &vs);
        add_int(st, "varlinkConnections", vs.n_connections);
        add_int(st, "varlinkOutputQueued", (int64_t) vs.output_queued);
        add_int(st, "varlinkStreamsDropped", (int64_t) vs.streams_dropped);
        add_int(st, "varlinkRepliesRefused", (int64_t) vs.replies_refused);
        json_object_object_add(reply, "status", st);
        *ret = reply;
        return 0;
}

/* ---- Search ----
 *
 * Instances by what they ran, who ran them, in which login and when, newest first (like ausearch -x/-c/-ui
 * -ts). The statement is built for the filters given, so SQLite can use an index where one fits:
 * instances_exe for an exe pattern with a literal prefix (a GLOB on a path), instances_audit_session
 * for a login, instances_pid_start never (no pid filter). Everything else is a scan in id order. An
 * instance matches an exe or argv filter when its last exec (the row) or any earlier exec (events)
 * does; the answer shows its last. */

#define SEARCH_DEFAULT 1000U
#define SEARCH_MAX 100000U
#define SEARCH_PATTERN_MAX 4096U
#define SEARCH_LOGIN_TREE_MAX 1000000 /* processes walked below a login (a corrupt, cyclic tree ends here) */

typedef struct SearchFilter {
        const char *exe, *comm, *argv;
        int64_t uid, since, until, limit, login_instance, session;
        uint64_t boot;                  /* with session: its boot (0: any) */
        bool alive, exe_basename, argv_plain;
        const char *argv_piece;         /* the needle's longest plain run (see argv_needle_plain()) */
        size_t argv_piece_len;
} SearchFilter;

static bool argv_byte_plain(unsigned char c) {
        return c >= 0x20 && c != 0x7f && c != '"' && c != '\\' && c != ' ';
}

/* A needle that JSON stores as it is, and that no argument separator can contain: found in the stored
 * JSON text exactly where it is found in one argument. */
static bool argv_needle_plain(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (!argv_byte_plain(*p))
                        return false;
        return true;
}

/* The longest plain run of a needle that is not plain as a whole ("curl -s" → "curl"): every command
 * line holding the needle holds it in its stored JSON, so it is a cheap test to make first. Length 0
 * when the needle has no plain byte. */
static size_t argv_needle_piece(const char *s, const char **ret) {
        size_t best = 0, best_len = 0, run = 0, n = strlen(s);

        for (size_t k = 0; k <= n; k++) {
                if (k < n && argv_byte_plain((unsigned char) s[k])) {
                        run++;
                        continue;
                }
                if (run > best_len) {
                        best = k - run;
                        best_len = run;
                }
                run = 0;
        }
        *ret = s + best;
        return best_len;
}

/* exe and argv of one exec, row or event: the conditions shared by both halves of the union. */
static void search_exec_sql(FILE *f, const SearchFilter *s, const char *exe, const char *argv) {
        if (s->exe)
                fprintf(f, s->exe_basename ? " AND %s GLOB '*/' || :exe" : " AND %s GLOB :exe", exe);
        if (s->argv && s->argv_plain)
                fprintf(f, " AND instr(%s, :argv) > 0", argv);
        else if (s->argv) {
                if (s->argv_piece_len > 0)
                        fprintf(f, " AND instr(%s, :argvpiece) > 0", argv);
                fprintf(f, " AND instr((SELECT group_concat(value, ' ') FROM json_each(%s)), :argv) > 0", argv);
        }
}

/* For an unprivileged caller, the rules of caller_sees_image() and caller_sees_event() as SQL: what the
 * process ran counts only when it was the caller's then (rows from before schema 8 carry no owner and
 * are judged by who the process is now). A search must not find by a command line it would not show. */
#define SEARCH_OWNER_NOW "(i.uid = :caller OR i.login_uid = :caller)"
#define SEARCH_IMAGE_OWNER                                                                                   \
        " AND CASE WHEN i.image_uid IS NULL THEN " SEARCH_OWNER_NOW                                          \
        " ELSE (i.image_uid = :caller OR i.image_login_uid = :caller) END"
#define SEARCH_EVENT_OWNER                                                                                   \
        " AND CASE WHEN e.uid IS NULL THEN " SEARCH_OWNER_NOW                                                \
        " ELSE (e.uid = :caller OR e.login_uid = :caller) END"

static char *search_sql(const SearchFilter *s, bool privileged) {
        char *sql = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&sql, &size);

        if (!f)
                return NULL;
        if (s->exe || s->argv) {
                /* An exec matches in the row (the last one) or in events (earlier ones). */
                fputs("WITH m(id) AS (SELECT i.id FROM instances i WHERE 1", f);
                search_exec_sql(f, s, "i.exe", "i.argv");
                if (!privileged)
                        fputs(SEARCH_IMAGE_OWNER, f);
                fputs(" UNION SELECT e.instance FROM events e", f);
                if (!privileged)
                        fputs(" JOIN instances i ON i.id = e.instance", f);
                fputs(" WHERE e.type = 2", f);
                search_exec_sql(f, s, "e.text", "e.argv");
                if (!privileged)
                        fputs(SEARCH_EVENT_OWNER, f);
                fputs(") SELECT " PROCESS_COLUMNS " FROM m JOIN instances i ON i.id = m.id", f);
        } else
                fputs("SELECT " PROCESS_COLUMNS " FROM instances i", f);
        fputs(" JOIN boots b ON b.id = i.boot WHERE 1", f);
        if (s->comm)
                fputs(privileged ? " AND i.comm GLOB :comm" : " AND i.comm GLOB :comm" SEARCH_IMAGE_OWNER, f);
        if (s->uid >= 0)
                fputs(" AND i.uid = :uid", f);
        /* A login's processes: its session, and everything born under where it began (a process that
         * exited before its session was read has none recorded, and what left the session is its too). */
        if (s->login_instance > 0)
                fputs(" AND (i.boot = :boot AND i.audit_session = :session OR i.id IN (WITH RECURSIVE t(id) AS"
                      " (SELECT :login UNION ALL SELECT c.id FROM t JOIN instances c ON c.birth_parent = t.id"
                      " LIMIT :treemax) SELECT id FROM t))", f);
        else if (s->session >= 0)
                fputs(" AND i.boot = :boot AND i.audit_session = :session", f);
        if (s->since >= 0)
                fputs(" AND i.start_time >= :since", f);
        if (s->until >= 0)
                fputs(" AND i.start_time <= :until", f);
        if (s->alive)
                fputs(" AND i.exit_time IS NULL", f);
        /* As caller_may_see(): theirs now, or its image was theirs. */
        if (!privileged)
                fputs(" AND (" SEARCH_OWNER_NOW " OR i.image_uid = :caller OR i.image_login_uid = :caller)", f);
        fputs(" ORDER BY i.start_time DESC, i.id DESC LIMIT :limit", f);
        if (fclose(f) != 0) {
                free(sql);
                return NULL;
        }
        return sql;
}

static void bind_named_text(sqlite3_stmt *st, const char *name, const char *v) {
        int k = sqlite3_bind_parameter_index(st, name);

        if (k > 0)
                sqlite3_bind_text(st, k, v, -1, SQLITE_TRANSIENT);
}

static void bind_named_int(sqlite3_stmt *st, const char *name, int64_t v) {
        int k = sqlite3_bind_parameter_index(st, name);

        if (k > 0)
                sqlite3_bind_int64(st, k, v);
}

/* A pattern parameter: absent, or a non-empty string of bounded size. */
static int search_pattern(json_object *params, const char *name, const char **ret, QueryError *e) {
        const char *v = NULL;

        if (param_string(params, name, &v) < 0 || (v && (!*v || strlen(v) > SEARCH_PATTERN_MAX)))
                return invalid_parameter(e, name);
        *ret = v;
        return 0;
}

/* "login": the session that began at login instance loginInstance; or auditSession (of bootId, else of
 * the current boot). */
static int search_login(Query *q, const QueryCaller *c, json_object *params, SearchFilter *s, QueryError *e) {
        const char *boot_id = NULL;
        sqlite3_stmt *st;
        int r;

        if (param_int(params, "loginInstance", 1, INT64_MAX, &s->login_instance) < 0)
                return invalid_parameter(e, "loginInstance");
        if (param_int(params, "auditSession", 0, UINT32_MAX, &s->session) < 0)
                return invalid_parameter(e, "auditSession");
        r = param_string(params, "bootId", &boot_id);
        if (r < 0)
                return invalid_parameter(e, "bootId");
        if (s->login_instance > 0 && s->session >= 0)
                return invalid_parameter(e, "auditSession");
        if (s->login_instance > 0) {
                int64_t uid;

                st = stmt(q, SQL_LOGIN_BY_INSTANCE);
                sqlite3_bind_int64(st, 1, s->login_instance);
                if (sqlite3_step(st) != SQLITE_ROW)
                        return no_such_process(e, 0, s->login_instance);
                s->session = sqlite3_column_int64(st, 1);
                uid = sqlite3_column_int64(st, 2);
                if (c->uid != 0 && (uid_t) uid != c->uid)
                        return set_error(e, QUERY_ERROR_PERMISSION_DENIED, NULL);
                st = stmt(q, SQL_BY_ID);
                sqlite3_bind_int64(st, 1, s->login_instance);
                if (sqlite3_step(st) != SQLITE_ROW)
                        return no_such_process(e, 0, s->login_instance);
                s->boot = (uint64_t) sqlite3_column_int64(st, COL_BOOT);
                return 0;
        }
        if (s->session < 0)
                return 0;
        s->boot = daemon_boot(q->daemon);
        if (boot_id) {
                BootCache bc = {};

                if (lookup_boot(q, boot_id, &bc) < 0)
                        return invalid_parameter(e, "bootId");
                s->boot = bc.rowid;
        }
        /* The login that began the session, if one is recorded: its tree counts too. */
        if (sqlite3_prepare_v2(store_db(daemon_store(q->daemon)), "SELECT instance FROM logins WHERE boot = ?1 AND"
                               " audit_session = ?2", -1, &st, NULL) != SQLITE_OK)
                return database_error(q, e);
        sqlite3_bind_int64(st, 1, (int64_t) s->boot);
        sqlite3_bind_int64(st, 2, s->session);
        if (sqlite3_step(st) == SQLITE_ROW)
                s->login_instance = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return 0;
}

static int search_params(Query *q, const QueryCaller *c, json_object *params, SearchFilter *s, QueryError *e) {
        int r;

        *s = (SearchFilter) { .uid = -1, .since = -1, .until = -1, .limit = SEARCH_DEFAULT, .session = -1 };
        r = check_known_params(params, e, "exe", "comm", "argv", "uid", "loginInstance", "auditSession", "bootId",
                               "since", "until", "aliveOnly", "limit", NULL);
        if (r < 0)
                return r;
        if ((r = search_pattern(params, "exe", &s->exe, e)) < 0 ||
            (r = search_pattern(params, "comm", &s->comm, e)) < 0 ||
            (r = search_pattern(params, "argv", &s->argv, e)) < 0)
                return r;
        if (param_int(params, "uid", 0, UINT32_MAX, &s->uid) < 0)
                return invalid_parameter(e, "uid");
        if (param_int(params, "since", 0, INT64_MAX, &s->since) < 0)
                return invalid_parameter(e, "since");
        if (param_int(params, "until", 0, INT64_MAX, &s->until) < 0)
                return invalid_parameter(e, "until");
        if (param_bool(params, "aliveOnly", &s->alive) < 0)
                return invalid_parameter(e, "aliveOnly");
        if (param_int(params, "limit", 1, SEARCH_MAX, &s->limit) < 0)
                return invalid_parameter(e, "limit");
        /* Another user's processes are not theirs to find. */
        if (c->uid != 0 && s->uid >= 0 && (uid_t) s->uid != c->uid)
                return set_error(e, QUERY_ERROR_PERMISSION_DENIED, NULL);
        s->exe_basename = s->exe && !strchr(s->exe, '/');
        s->argv_plain = s->argv && argv_needle_plain(s->argv);
        if (s->argv && !s->argv_plain)
                s->argv_piece_len = argv_needle_piece(s->argv, &s->argv_piece);
        return search_login(q, c, params, s, e);
}

static int method_search(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        _cleanup_free_ char *sql = NULL;
        sqlite3_stmt *st = NULL;
        json_object *processes;
        SearchFilter s;
        int64_t n = 0;
        int r, rc;

        r = search_params(q, c, params, &s, e);
        if (r < 0)
                return r;
        sql = search_sql(&s, c->uid == 0);
        reply = json_object_new_object();
        processes = json_object_new_array();
        if (!sql || !reply || !processes) {
                json_object_put(processes);
                return -ENOMEM;
        }
        json_object_object_add(reply, "processes", processes);
        rc = sqlite3_prepare_v2(store_db(daemon_store(q->daemon)), sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return database_error(q, e);
        bind_named_text(st, ":exe", s.exe);
        bind_named_text(st, ":comm", s.comm);
        bind_named_text(st, ":argv", s.argv);
        if (s.argv_piece_len > 0)
                sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":argvpiece"), s.argv_piece,
                                  (int) s.argv_piece_len, SQLITE_TRANSIENT);
        bind_named_int(st, ":uid", s.uid);
        bind_named_int(st, ":boot", (int64_t) s.boot);
        bind_named_int(st, ":session", s.session);
        bind_named_int(st, ":login", s.login_instance);
        bind_named_int(st, ":treemax", SEARCH_LOGIN_TREE_MAX);
        bind_named_int(st, ":since", s.since);
        bind_named_int(st, ":until", s.until);
        bind_named_int(st, ":caller", c->uid);
        bind_named_int(st, ":limit", s.limit + 1);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                json_object *p;

                if (++n > s.limit)
                        break;
                p = process_json(q, c, st, n <= LIVE_PARENT_LOOKUPS_MAX);
                if (!p || json_object_array_add(processes, p) < 0) {
                        json_object_put(p);
                        sqlite3_finalize(st);
                        return -ENOMEM;
                }
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return database_error(q, e);
        json_object_object_add(reply, "truncated", json_object_new_boolean(n > s.limit));
        *ret = TAKE_PTR(reply);
        return 0;
}

typedef int (*MethodFunc)(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e);

static const struct {
        const char *name;
        MethodFunc func;
} method_table[] = {
        { "GetOrigin", method_get_origin },
        { "GetAncestors", method_get_ancestors },
        { "GetDescendants", method_get_descendants },
        { "GetCaba", method_get_caba },
        { "GetHistory", method_get_history },
        { "Resolve", method_resolve },
        { "ResolveBatch", method_resolve_batch },
        { "ListLogins", method_list_logins },
        { "Search", method_search },
        { "GetStatus", method_get_status },
};

bool query_has_method(const char *method) {
        for (size_t k = 0; k < ELEMENTSOF(method_table); k++)
                if (streq(method_table[k].name, method))
                        return true;
        return false;
}

int query_call(Query *q, const char *method, const QueryCaller *caller, json_object *params,
               json_object **ret_reply, QueryError *ret_error) {
        QueryError e = {};
        json_object *reply = NULL;
        int r;

        for (size_t k = 0; k < ELEMENTSOF(method_table); k++) {
                if (!streq(method_table[k].name, method))
                        continue;
                /* Answer from the database with everything seen so far in it. */
                (void) daemon_flush(q->daemon);
                r = method_table[k].func(q, caller, params, &reply, &e);
                if (r < 0) {
                        if (!e.error) {
                                /* Out of memory or a database failure without a named error. */
                                if (r == -ENOMEM)
                                        log_oom();
                                database_error(q, &e);
                        }
                        json_object_put(reply);
                        *ret_error = e;
                        return r;
                }
                *ret_reply = reply;
                return 0;
        }
        set_error(ret_error, QUERY_ERROR_METHOD_NOT_FOUND, NULL);
        return -EOPNOTSUPP;
}

/* Watch: live events straight from the tracker (not yet in the database). */
static Row instance_owners(const Instance *i) {
        return (Row) {
                .uid = i->uid, .euid = i->euid,
                .login_uid = i->loginuid == PROCFS_UNSET_ID ? -1 : (int64_t) i->loginuid,
                .image_uid = i->image_uid,
                .image_login_uid = i->image_loginuid == PROCFS_UNSET_ID ? -1 : (int64_t) i->image_loginuid,
        };
}

static json_object *instance_json(Query *q, const QueryCaller *c, const Instance *i) {
        json_object *o = json_object_new_object();
        Row r = instance_owners(i);
        bool alive = i->flags & INSTANCE_ALIVE, sees = caller_may_see(c, &r), image = caller_sees_image(c, &r);

        if (!o)
                return NULL;
        add_int(o, "instance", (int64_t) i->id);
        add_int(o, "pid", i->pid);
        json_object_object_add(o, "bootId", json_object_new_string(daemon_boot_id(q->daemon)));
        add_int(o, "startTime", (int64_t) i->start_time);
        if (!alive)
                add_int(o, "exitTime", (int64_t) i->exit_time);
        json_object_object_add(o, "alive", json_object_new_boolean(alive));
        add_int(o, "uid", i->uid);
        add_int(o, "gid", i->gid);
        add_int(o, "sid", i->sid);
        json_object_object_add(o, "lineageSource", json_object_new_string(lineage_source_to_string(i->source)));
        if (i->birth_parent_pid >= 0)
                add_int(o, "birthParentPid", i->birth_parent_pid);
        if (i->birth_parent_id > 0)
                add_int(o, "birthParentInstance", (int64_t) i->birth_parent_id);
        if (!alive && i->exit_parent_pid >= 0)
                add_int(o, "parentPid", i->exit_parent_pid);
        if (i->caba_id > 0) {
                add_int(o, "cabaPid", i->caba_pid);
                add_int(o, "cabaInstance", (int64_t) i->caba_id);
        }
        json_object_object_add(o, "exitUnknown", json_object_new_boolean(!!(i->flags & INSTANCE_EXIT_UNKNOWN)));
        json_object_object_add(o, "redacted", json_object_new_boolean(!image));
        json_object_object_add(o, "argvTruncated", json_object_new_boolean(image && (i->flags & INSTANCE_ARGV_TRUNCATED)));
        if (!sees)
                return o;
        if (image && i->comm[0])
                json_object_object_add(o, "comm", json_object_new_string(i->comm));
        if (image && i->exe)
                json_object_object_add(o, "exe", new_string_utf8(i->exe));
        if (image && i->argv && i->argv_len > 0) {
                _cleanup_free_ char *a = argv_to_json(i->argv, i->argv_len);
                json_object *arr = a ? json_tokener_parse(a) : NULL;

                if (arr)
                        json_object_object_add(o, "argv", arr);
        }
        if (i->loginuid != PROCFS_UNSET_ID)
                add_int(o, "loginUid", i->loginuid);
        if (i->sessionid != PROCFS_UNSET_ID)
                add_int(o, "auditSession", i->sessionid);
        if (!alive && i->exit_status >= 0)
                add_int(o, "exitStatus", i->exit_status);
        if (!alive && i->exit_signal > 0)
                add_int(o, "exitSignal", i->exit_signal);
        if (i->cgroup && i->cgroup[0]) {
                char container[PROCFS_CONTAINER_ID_LEN + 1];

                json_object_object_add(o, "cgroup", new_string_utf8(i->cgroup));
                if (procfs_container_id(i->cgroup, container) > 0)
                        json_object_object_add(o, "containerId", json_object_new_string(container));
        }
        return o;
}

static void watch_unlink(QueryWatch *w) {
        Query *q = w->query;

        if (!q)
                return;
        if (w->prev)
                w->prev->next = w->next;
        else
                q->watches = w->next;
        if (w->next)
                w->next->prev = w->prev;
        w->next = w->prev = NULL;
        w->query = NULL;
        q->n_watches--;
}

static void watch_dispatch(Query *q, QueryWatch *w, const TrackerEvent *e, const Instance *i) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        _cleanup_free_ char *argv = NULL;
        json_object *ev, *proc;
        Row r = instance_owners(i);
        bool sees;

        if (w->subtree) {
                if (e->type == LINEAGE_EVENT_FORK && i->birth_parent_id > 0 &&
                    hashmap_get(w->subtree, i->birth_parent_id) && hashmap_size(w->subtree) < WATCH_SUBTREE_MAX)
                        (void) hashmap_put(w->subtree, i->id, (void *) 1);
                if (!hashmap_get(w->subtree, i->id))
                        return;
                if (e->type == LINEAGE_EVENT_EXIT)
                        (void) hashmap_remove(w->subtree, i->id); /* no more events can come for it */
        }
        if (w->types && !(w->types & (1U << e->type)))
                return;
        /* The event is shown by who the process was then; one of another owner, of a process the caller
         * may see, only by its time and type (as GetHistory shows it). */
        sees = owner_is(&w->caller, e->uid, e->loginuid == PROCFS_UNSET_ID ? -1 : (int64_t) e->loginuid);
        if (!sees && !caller_may_see(&w->caller, &r))
                return;
        if (sees && e->argv && e->argv_len > 0)
                argv = argv_to_json(e->argv, e->argv_len);
        if (sees)
                ev = event_json(e->instance, i->pid, (int64_t) e->time, (int) e->type, e->tid, true, e->a, true, e->b,
                                e->type == LINEAGE_EVENT_COMM || e->type == LINEAGE_EVENT_EXEC ? e->text : NULL, argv);
        else
                ev = redacted_event_json(e->instance, i->pid, (int64_t) e->time, (int) e->type, e->tid);
        proc = instance_json(q, &w->caller, i);
        reply = json_object_new_object();
        if (!ev || !proc || !reply) {
                json_object_put(ev);
                json_object_put(proc);
                return;
        }
        if (e->type == LINEAGE_EVENT_FORK && i->birth_parent_pid >= 0)
                add_int(ev, "parentPid", i->birth_parent_pid);
        json_object_object_add(reply, "event", ev);
        json_object_object_add(reply, "process", proc);
        if (w->cb(w, reply, w->userdata) < 0) {
                w->ended = true;
                watch_unlink(w);
                if (w->ended_cb)
                        w->ended_cb(w, QUERY_ERROR_TOO_SLOW, w->userdata);
        }
}

static void on_tracker_event(const TrackerEvent *e, const Instance *i, void *userdata) {
        Query *q = userdata;

        for (QueryWatch *w = q->watches, *next; w; w = next) {
                next = w->next;
                if (!w->ended)
                        watch_dispatch(q, w, e, i);
        }
}

static int watch_collect_subtree(Query *q, QueryWatch *w, uint64_t root) {
        _cleanup_free_ uint64_t *queue = NULL;
        size_t head = 0, tail = 0, alloc = 64;
        int r;

        queue = malloc(alloc * sizeof(uint64_t));
        if (!queue)
                return -ENOMEM;
        queue[tail++] = root;
        r = hashmap_put(w->subtree, root, (void *) 1);
        if (r < 0)
                return r;
        while (head < tail && hashmap_size(w->subtree) < WATCH_SUBTREE_MAX) {
                sqlite3_stmt *st = stmt(q, SQL_CHILDREN);

                sqlite3_bind_int64(st, 1, (int64_t) queue[head++]);
                sqlite3_bind_int64(st, 2, WATCH_SUBTREE_MAX);
                while (sqlite3_step(st) == SQLITE_ROW && hashmap_size(w->subtree) < WATCH_SUBTREE_MAX) {
                        uint64_t id = (uint64_t) sqlite3_column_int64(st, COL_ID);

                        if (hashmap_put(w->subtree, id, (void *) 1) < 0)
                                continue; /* already there (a corrupt cycle) */
                        if (tail == alloc) {
                                uint64_t *n = reallocarray(queue, alloc * 2, sizeof(uint64_t));

                                if (!n)
                                        return -ENOMEM;
                                queue = n;
                                alloc *= 2;
                        }
                        queue[tail++] = id;
                }
        }
        return 0;
}

/* The watcher limit a new watch of uid would pass, 0 if none: root has slots nobody else can take. */
static unsigned watch_limit(Query *q, uid_t uid) {
        unsigned unprivileged = 0, of_uid = 0;

        if (q->n_watches >= QUERY_WATCHERS_MAX)
                return QUERY_WATCHERS_MAX;
        if (uid == 0)
                return 0;
        for (QueryWatch *w = q->watches; w; w = w->next) {
                unprivileged += w->caller.uid != 0;
                of_uid += w->caller.uid == uid;
        }
        if (of_uid >= QUERY_WATCHERS_PER_UID)
                return QUERY_WATCHERS_PER_UID;
        if (unprivileged >= QUERY_WATCHERS_MAX - QUERY_WATCHERS_ROOT)
                return QUERY_WATCHERS_MAX - QUERY_WATCHERS_ROOT;
        return 0;
}

int query_watch_new(Query *q, const QueryCaller *caller, json_object *params, QueryWatchCallback cb,
                    QueryWatchEnded ended_cb, void *userdata, QueryWatch **ret, QueryError *ret_error) {
        _cleanup_(query_watch_freep) QueryWatch *w = NULL;
        json_object *types;
        QueryError e = {};
        unsigned limit;
        int r;

        r = check_known_params(params, &e, "pid", "instance", "types", NULL);
        if (r < 0)
                goto fail;
        limit = watch_limit(q, caller->uid);
        if (limit > 0) {
                json_object *p = json_object_new_object();

                if (p)
                        add_int(p, "limit", limit);
                r = set_error(&e, QUERY_ERROR_TOO_MANY_WATCHERS, p);
                goto fail;
        }
        w = calloc(1, sizeof(QueryWatch));
        if (!w)
                return -ENOMEM;
        w->caller = *caller;
        w->cb = cb;
        w->ended_cb = ended_cb;
        w->userdata = userdata;
        if (params && json_object_object_get_ex(params, "types", &types) && !json_object_is_type(types, json_type_null)) {
                if (!json_object_is_type(types, json_type_array)) {
                        r = invalid_parameter(&e, "types");
                        goto fail;
                }
                for (size_t k = 0; k < json_object_array_length(types); k++) {
                        json_object *t = json_object_array_get_idx(types, k);
                        LineageEventType type;

                        if (!json_object_is_type(t, json_type_string) ||
                            (int) (type = lineage_event_type_from_string(json_object_get_string(t))) < 0) {
                                r = invalid_parameter(&e, "types");
                                goto fail;
                        }
                        w->types |= 1U << type;
                }
        }
        if (params && (json_object_object_get_ex(params, "pid", NULL) || json_object_object_get_ex(params, "instance", NULL))) {
                Row t;

                (void) daemon_flush(q->daemon);
                r = find_target(q, caller, params, false, daemon_boot(q->daemon), 0, &t, &e);
                if (r < 0)
                        goto fail;
                r = hashmap_new(&w->subtree);
                if (r < 0)
                        return r;
                r = watch_collect_subtree(q, w, t.id);
                if (r < 0)
                        return r;
        }
        w->query = q;
        w->next = q->watches;
        if (q->watches)
                q->watches->prev = w;
        q->watches = w;
        q->n_watches++;
        *ret = TAKE_PTR(w);
        return 0;
fail:
        *ret_error = e;
        return r;
}

QueryWatch *query_watch_free(QueryWatch *w) {
        if (!w)
                return NULL;
        watch_unlink(w);
        hashmap_free(w->subtree);
        free(w);
        return NULL;
}
