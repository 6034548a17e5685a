/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The answers: SQL over the provenance log (flushed first, so it holds everything seen so far),
 * plus live facts from the tracker and /proc, rendered as json-c objects keyed like the varlink IDL. */
#include <pwd.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <time.h>

#include "hashmap.h"
#include "procfs.h"
#include "query.h"

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
#define ANCESTRY_MAX 8U                 /* processes named in a ResolveBatch ancestry */
#define ANCESTRY_MAX_WALK 4096U         /* how far up ResolveBatch looks for a login */

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* Columns of instances every Process is built from, in this order. */
#define PROCESS_COLUMNS                                                                                      \
        "i.id, i.pid, b.boot_id, i.start_time, i.exit_time, i.comm, i.exe, i.argv, i.uid, i.gid, i.login_uid," \
        " i.audit_session, i.sid, i.birth_parent_pid, i.birth_parent, i.exit_parent_pid, i.lineage_source,"   \
        " i.caba_pid, i.caba, i.exit_status, i.exit_signal, i.flags, i.euid, i.boot"
enum {
        COL_ID, COL_PID, COL_BOOT_ID, COL_START, COL_EXIT, COL_COMM, COL_EXE, COL_ARGV, COL_UID, COL_GID,
        COL_LOGIN_UID, COL_AUDIT_SESSION, COL_SID, COL_BIRTH_PARENT_PID, COL_BIRTH_PARENT, COL_EXIT_PARENT_PID,
        COL_SOURCE, COL_CABA_PID, COL_CABA, COL_EXIT_STATUS, COL_EXIT_SIGNAL, COL_FLAGS, COL_EUID, COL_BOOT,
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
        [SQL_EVENTS] = "SELECT time, type, tid, a, b, text, argv FROM"
                       " (SELECT e.time, e.type, e.tid, e.a, e.b, e.text, e.argv, e.id FROM events e WHERE e.instance = ?1"
                       " UNION ALL SELECT i.exec_time, 2, NULL, NULL, NULL, i.exe, i.argv, 9223372036854775807"
                       " FROM instances i WHERE i.id = ?1 AND i.exec_time IS NOT NULL)"
                       " ORDER BY time, id LIMIT ?2",
        [SQL_GAPS] = "SELECT start_time, end_time, lost, reason FROM gaps WHERE boot = ?1 AND end_time >= ?2"
                     " AND start_time <= ?3 ORDER BY start_time LIMIT ?4",
        [SQL_BOOT_BY_ID] = "SELECT id, realtime_offset FROM boots WHERE boot_id = ?1",
#define LOGIN_COLUMNS "instance, audit_session, login_uid, service, remote_address, remote_port, tty, logind_session," \
                      " unit, start_time, end_time"
        /* The lean walk of ResolveBatch: only what an ancestry string and a login need. */
        [SQL_PARENT] = "SELECT birth_parent, pid, comm, uid, login_uid, EXISTS (SELECT 1 FROM logins l WHERE l.instance = i.id)"
                       " FROM instances i WHERE id = ?1",
        [SQL_LOGIN_BY_INSTANCE] = "SELECT " LOGIN_COLUMNS " FROM logins WHERE instance = ?1",
        /* Logins overlapping [since, until], newest first. */
        [SQL_LIST_LOGINS] = "SELECT " LOGIN_COLUMNS " FROM logins WHERE (?1 IS NULL OR login_uid = ?1)"
                            " AND (?2 IS NULL OR end_time IS NULL OR end_time >= ?2) AND (?3 IS NULL OR start_time <= ?3)"
                            " AND (?4 = 0 OR end_time IS NULL) ORDER BY start_time DESC, instance DESC LIMIT ?5",
};

struct Query {
        Daemon *daemon;
        sqlite3_stmt *sql[_SQL_MAX];
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
        for (unsigned k = 0; k < _SQL_MAX; k++) {
                rc = sqlite3_prepare_v3(store_db(daemon_store(d)), sql_text[k], -1, SQLITE_PREPARE_PERSISTENT,
                                        &q->sql[k], NULL);
                if (rc != SQLITE_OK)
                        return log_error_errno(EIO, "Failed to prepare query: %s", sqlite3_errmsg(store_db(daemon_store(d))));
        }
        *ret = TAKE_PTR(q);
        return 0;
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
        for (unsigned k = 0; k < _SQL_MAX; k++)
                sqlite3_finalize(q->sql[k]);
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
                .birth_parent_pid = sqlite3_column_type(st, COL_BIRTH_PARENT_PID) == SQLITE_NULL
                                            ? -1 : sqlite3_column_int64(st, COL_BIRTH_PARENT_PID),
        };
        snprintf(r->source, sizeof(r->source), "%s", (const char *) sqlite3_column_text(st, COL_SOURCE) ?: "unknown");
}

static bool caller_sees(const QueryCaller *c, const Row *r) {
        if (c->uid == 0)
                return true;
        /* Real uid or loginuid, not the effective uid: a root process half-way through setuid (runuser,
         * su) must not hand its argv to the user it is becoming. */
        return r->uid == c->uid || (r->login_uid >= 0 && (uid_t) r->login_uid == c->uid);
}

static void add_int(json_object *o, const char *k, int64_t v) {
        json_object_object_add(o, k, json_object_new_int64(v));
}

static void add_col_int(json_object *o, const char *k, sqlite3_stmt *st, int col) {
        if (sqlite3_column_type(st, col) != SQLITE_NULL)
                add_int(o, k, sqlite3_column_int64(st, col));
}

static void add_col_text(json_object *o, const char *k, sqlite3_stmt *st, int col) {
        const char *s = (const char *) sqlite3_column_text(st, col);

        if (s && *s)
                json_object_object_add(o, k, json_object_new_string(s));
}

/* argv is stored as JSON text written by us; still, the database is outside input: parse defensively. */
static void add_col_argv(json_object *o, const char *k, sqlite3_stmt *st, int col) {
        const char *s = (const char *) sqlite3_column_text(st, col);
        json_object *a;

        if (!s)
                return;
        a = json_tokener_parse(s);
        if (!a || !json_object_is_type(a, json_type_array)) {
                json_object_put(a);
                return;
        }
        json_object_object_add(o, k, a);
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
        bool alive = sqlite3_column_type(st, COL_EXIT) == SQLITE_NULL;
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
        if (!caller_sees(c, &r)) {
                json_object_object_add(o, "argvTruncated", json_object_new_boolean(false));
                json_object_object_add(o, "redacted", json_object_new_boolean(true));
                return o;
        }
        json_object_object_add(o, "redacted", json_object_new_boolean(false));
        add_col_text(o, "comm", st, COL_COMM);
        add_col_text(o, "exe", st, COL_EXE);
        add_col_argv(o, "argv", st, COL_ARGV);
        json_object_object_add(o, "argvTruncated", json_object_new_boolean(!!(flags & INSTANCE_ARGV_TRUNCATED)));
        add_col_int(o, "loginUid", st, COL_LOGIN_UID);
        add_col_int(o, "auditSession", st, COL_AUDIT_SESSION);
        add_col_int(o, "exitStatus", st, COL_EXIT_STATUS);
        add_col_int(o, "exitSignal", st, COL_EXIT_SIGNAL);
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
        if (!caller_sees(c, ret))
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

static bool edge_known(const char *source) {
        return streq(source, "fork") || streq(source, "kernel-caba");
}

/* Walks birth parents from target. Fills ancestors (nearest first), whether the chain is complete (every
 * edge observed or from the kernel, ending at a process the kernel created), and the oldest start. */
static int walk_ancestors(Query *q, const QueryCaller *c, const Row *target, json_object *ancestors,
                          bool *ret_complete, int64_t *ret_oldest) {
        bool complete = edge_known(target->source);
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
                if (!edge_known(r.source))
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

static void add_user_name(json_object *o, uint32_t uid) {
        char buf[4096];
        struct passwd pw, *res = NULL;

        /* Resolved when asked, through NSS: a uid's name may change, the record does not. */
        if (getpwuid_r((uid_t) uid, &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_name)
                json_object_object_add(o, "user", json_object_new_string(res->pw_name));
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

typedef struct StackItem {
        uint64_t id;
        uint32_t depth;
} StackItem;

static int method_get_descendants(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        _cleanup_free_ StackItem *stack = NULL;
        json_object *list, *depths, *process = NULL, *gaps;
        size_t n_stack = 0, n_alloc = 0, n_visited = 0;
        int64_t limit = DESCENDANTS_DEFAULT, last_exit;
        bool alive_only = false, truncated = false;
        unsigned live_lookups = 0;
        Row t;
        int r;

        r = check_known_params(params, e, "pid", "instance", "at", "limit", "aliveOnly", NULL);
        if (r < 0)
                return r;
        if (param_int(params, "limit", 1, DESCENDANTS_MAX, &limit) < 0)
                return invalid_parameter(e, "limit");
        if (param_bool(params, "aliveOnly", &alive_only) < 0)
                return invalid_parameter(e, "aliveOnly");
        r = find_target(q, c, params, true, daemon_boot(q->daemon), 0, &t, e);
        if (r < 0)
                return r;
        reply = json_object_new_object();
        list = json_object_new_array();
        depths = json_object_new_array();
        if (!reply || !list || !depths) {
                json_object_put(list);
                json_object_put(depths);
                return -ENOMEM;
        }
        json_object_object_add(reply, "descendants", list);
        json_object_object_add(reply, "depths", depths);
        if (load_instance(q, c, t.id, true, NULL, &process) < 0)
                return database_error(q, e);
        json_object_object_add(reply, "process", process);
        last_exit = t.exit > 0 ? t.exit : (int64_t) now_us();

        /* Depth first, children in birth order: an explicit stack, bounded by what may be emitted. */
        stack = malloc(sizeof(StackItem) * 64);
        if (!stack)
                return -ENOMEM;
        n_alloc = 64;
        stack[n_stack++] = (StackItem) { t.id, 0 };
        while (n_stack > 0) {
                StackItem it = stack[--n_stack];
                sqlite3_stmt *st = stmt(q, SQL_CHILDREN);
                size_t first = n_stack;

                if (++n_visited > (size_t) DESCENDANTS_MAX * 4) { /* a cyclic (corrupt) tree ends here */
                        truncated = true;
                        break;
                }
                sqlite3_bind_int64(st, 1, (int64_t) it.id);
                sqlite3_bind_int64(st, 2, DESCENDANTS_MAX + 1);
                while (sqlite3_step(st) == SQLITE_ROW) {
                        Row child;

                        row_from_stmt(st, &child);
                        if (n_stack == n_alloc) {
                                StackItem *ns = reallocarray(stack, n_alloc * 2, sizeof(StackItem));

                                if (!ns)
                                        return -ENOMEM;
                                stack = ns;
                                n_alloc *= 2;
                        }
                        stack[n_stack++] = (StackItem) { child.id, it.depth + 1 };
                }
                /* Children came oldest first; reverse them so the oldest is popped first. */
                for (size_t a = first, b = n_stack; a + 1 < b; a++, b--) {
                        StackItem tmp = stack[a];

                        stack[a] = stack[b - 1];
                        stack[b - 1] = tmp;
                }
                if (it.depth == 0)
                        continue;
                {
                        json_object *j = NULL;
                        Row row;

                        if (load_instance(q, c, it.id, live_lookups < LIVE_PARENT_LOOKUPS_MAX, &row, &j) < 0)
                                continue;
                        if ((alive_only && row.exit > 0) || !caller_sees(c, &row)) {
                                json_object_put(j);
                                continue;
                        }
                        if (row.exit == 0)
                                live_lookups++;
                        if ((int64_t) json_object_array_length(list) >= limit) {
                                json_object_put(j);
                                truncated = true;
                                break;
                        }
                        last_exit = MAX(last_exit, row.exit > 0 ? row.exit : (int64_t) now_us());
                        json_object_array_add(list, j);
                        json_object_array_add(depths, json_object_new_int64(it.depth));
                }
        }
        json_object_object_add(reply, "truncated", json_object_new_boolean(truncated));
        gaps = gaps_json(q, t.boot, t.start, last_exit, NULL);
        if (gaps)
                json_object_object_add(reply, "gaps", gaps);
        *ret = TAKE_PTR(reply);
        return 0;
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
                        json_object_object_add(o, "comm", json_object_new_string(text));
                break;
        case LINEAGE_EVENT_EXEC:
                if (text)
                        json_object_object_add(o, "exe", json_object_new_string(text));
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
        sqlite3_bind_int64(st, 5, limit);
        while (sqlite3_step(st) == SQLITE_ROW) {
                json_object *l = login_json(st);

                if (l)
                        json_object_array_add(logins, l);
        }
        *ret = TAKE_PTR(reply);
        return 0;
}

/* ResolveBatch's login and ancestry of instance id, walking birth parents with one small query per
 * step: the nearest ANCESTRY_MAX names for the ancestry, and on up to the nearest login. */
static void lean_origin(Query *q, const QueryCaller *c, uint64_t id, json_object *answer) {
        struct {
                int32_t pid;
                char comm[32];
        } chain[ANCESTRY_MAX];
        size_t n = 0, login_at = SIZE_MAX, len = 0;
        uint64_t login = 0;
        char buf[ANCESTRY_MAX * 48];

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
                if (n < ANCESTRY_MAX) {
                        const char *comm = (const char *) sqlite3_column_text(st, 2);

                        chain[n].pid = sqlite3_column_int(st, 1);
                        /* Another user's process: in the chain, but not by name. */
                        snprintf(chain[n].comm, sizeof(chain[n].comm), "%s", caller_sees(c, &r) && comm ? comm : "?");
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
        if (login > 0) {
                json_object *l = NULL;
                int64_t uid;

                if (load_login(q, login, &uid, &l) >= 0) {
                        if (c->uid == 0 || (uid_t) uid == c->uid)
                                json_object_object_add(answer, "login", l);
                        else
                                json_object_put(l);
                }
        }
        /* From the login (when it is among the nearest) or the oldest of them, down to the process. */
        buf[0] = 0;
        for (size_t k = login_at == SIZE_MAX ? n : MIN(n, login_at + 1); k-- > 0;)
                len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%s%s[%d]", len ? " > " : "", chain[k].comm,
                                         chain[k].pid);
        if (n > 0)
                json_object_object_add(answer, "ancestry", json_object_new_string(buf));
}

static json_object *resolve_one(Query *q, const QueryCaller *c, json_object *query, BootCache *boot,
                                Hashmap *cache, QueryError *e, int *ret_r) {
        _cleanup_(json_object_putp) json_object *answer = json_object_new_object(), *params = NULL;
        int64_t pid, realtime = 0, monotonic = -1;
        const char *boot_id = NULL;
        json_object *p = NULL;
        uint64_t rowid = daemon_boot(q->daemon);
        QueryError sub = {};
        Row t;

        *ret_r = 0;
        if (!answer)
                return NULL;
        if (!json_object_is_type(query, json_type_object) || param_int(query, "pid", 1, INT32_MAX, &pid) <= 0 ||
            param_int(query, "realtime", 0, INT64_MAX, &realtime) < 0 ||
            param_int(query, "monotonic", 0, INT64_MAX, &monotonic) < 0 || param_string(query, "bootId", &boot_id) < 0) {
                *ret_r = invalid_parameter(e, "queries");
                return NULL;
        }
        json_object_object_add(answer, "resolved", json_object_new_boolean(false));
        if (boot_id && lookup_boot(q, boot_id, boot) < 0)
                return TAKE_PTR(answer); /* a boot we never saw */
        if (boot_id)
                rowid = boot->rowid;
        if (realtime <= 0 && monotonic >= 0) {
                int64_t offset = boot_id ? boot->realtime_offset_ns : daemon_realtime_offset(q->daemon);

                realtime = (monotonic * 1000 + offset) / 1000;
        }
        if (realtime <= 0)
                return TAKE_PTR(answer);
        params = json_object_new_object();
        if (!params)
                return NULL;
        add_int(params, "pid", pid);
        add_int(params, "at", realtime);
        if (find_target(q, c, params, true, rowid, RESOLVE_EXIT_GRACE_USEC, &t, &sub) < 0) {
                query_error_done(&sub);
                return TAKE_PTR(answer);
        }
        /* Journal lines come in runs from the same process: one answer per instance and batch. */
        if (cache && (p = hashmap_get(cache, t.id)))
                return json_object_get(p);
        json_object_object_add(answer, "resolved", json_object_new_boolean(true));
        if (load_instance(q, c, t.id, false, NULL, &p) >= 0)
                json_object_object_add(answer, "process", p);
        lean_origin(q, c, t.id, answer);
        if (cache && hashmap_put(cache, t.id, answer) >= 0)
                json_object_get(answer);
        return TAKE_PTR(answer);
}

static int method_resolve_batch(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        json_object *queries, *answers;
        _cleanup_(hashmap_freep) Hashmap *cache = NULL;
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
        (void) hashmap_new(&cache); /* without it, every line is answered on its own */
        for (size_t k = 0; k < n && r >= 0; k++) {
                json_object *a = resolve_one(q, c, json_object_array_get_idx(queries, k), &boot, cache, e, &r);

                if (r >= 0 && !a)
                        r = -ENOMEM;
                if (r >= 0)
                        json_object_array_add(answers, a);
        }
        while (cache && hashmap_iterate(cache, &it, NULL, &v))
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

static int method_get_status(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        json_object *reply, *st, *events;
        CnprocStats cs = {};
        TrackerStats ts = {};
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
        json_object_object_add(st, "databasePath", json_object_new_string(store_path(daemon_store(q->daemon))));
        add_int(st, "databaseSize", (int64_t) store_size(daemon_store(q->daemon)));
        add_int(st, "databaseUsed", (int64_t) store_used_bytes(daemon_store(q->daemon)));
        add_int(st, "pruned", (int64_t) daemon_pruned(q->daemon));
        err = daemon_store_error(q->daemon);
        if (err < 0)
                json_object_object_add(st, "databaseError", json_object_new_string(strerror(-err)));
        json_object_object_add(st, "kernelCaba", json_object_new_boolean(daemon_kernel_has_caba(q->daemon)));
        add_int(st, "cabaDisagreements", (int64_t) daemon_caba_disagreements(q->daemon));
        add_int(st, "receiveBuffer", cs.rcvbuf);
        json_object_object_add(st, "kernelFilter", json_object_new_boolean(cs.filtered));
        add_int(st, "memory", (int64_t) rss_bytes());
        add_int(st, "varlinkConnections", daemon_varlink_connections(q->daemon));
        json_object_object_add(reply, "status", st);
        *ret = reply;
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
static bool caller_sees_instance(const QueryCaller *c, const Instance *i) {
        Row r = { .uid = i->uid, .euid = i->euid,
                  .login_uid = i->loginuid == PROCFS_UNSET_ID ? -1 : (int64_t) i->loginuid };

        return caller_sees(c, &r);
}

static json_object *instance_json(Query *q, const QueryCaller *c, const Instance *i) {
        json_object *o = json_object_new_object();
        bool alive = i->flags & INSTANCE_ALIVE, sees = caller_sees_instance(c, i);

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
        json_object_object_add(o, "redacted", json_object_new_boolean(!sees));
        json_object_object_add(o, "argvTruncated", json_object_new_boolean(sees && (i->flags & INSTANCE_ARGV_TRUNCATED)));
        if (!sees)
                return o;
        if (i->comm[0])
                json_object_object_add(o, "comm", json_object_new_string(i->comm));
        if (i->exe)
                json_object_object_add(o, "exe", json_object_new_string(i->exe));
        if (i->argv && i->argv_len > 0) {
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
        sees = caller_sees_instance(&w->caller, i);
        if (w->caller.uid != 0 && !sees)
                return;
        if (e->argv && e->argv_len > 0)
                argv = argv_to_json(e->argv, e->argv_len);
        ev = event_json(e->instance, i->pid, (int64_t) e->time, (int) e->type, e->tid, true, e->a, true, e->b,
                        e->type == LINEAGE_EVENT_COMM || e->type == LINEAGE_EVENT_EXEC ? e->text : NULL, argv);
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

int query_watch_new(Query *q, const QueryCaller *caller, json_object *params, QueryWatchCallback cb,
                    QueryWatchEnded ended_cb, void *userdata, QueryWatch **ret, QueryError *ret_error) {
        _cleanup_(query_watch_freep) QueryWatch *w = NULL;
        json_object *types;
        QueryError e = {};
        int r;

        r = check_known_params(params, &e, "pid", "instance", "types", NULL);
        if (r < 0)
                goto fail;
        if (q->n_watches >= QUERY_WATCHERS_MAX) {
                json_object *p = json_object_new_object();

                if (p)
                        add_int(p, "limit", QUERY_WATCHERS_MAX);
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
