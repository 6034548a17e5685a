/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The answers: dispatch, parameters and errors, and the small methods (GetOrigin, GetAncestors, GetCaba,
 * GetHistory, Resolve, ListLogins, GetStatus): SQL over the provenance log (flushed first, so it holds
 * everything seen so far), plus live facts from the tracker and /proc, as json-c objects keyed like the IDL. */
#include "query-internal.h"

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


void query_error_done(QueryError *e) {
        if (!e)
                return;
        json_object_put(e->parameters);
        e->parameters = NULL;
}

int set_error(QueryError *e, const char *name, json_object *params) {
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

int invalid_parameter(QueryError *e, const char *name) {
        json_object *p = json_object_new_object();

        if (p)
                json_object_object_add(p, "parameter", json_object_new_string(name));
        return set_error(e, QUERY_ERROR_INVALID_PARAMETER, p);
}

int database_error(Query *q, QueryError *e) {
        json_object *p = json_object_new_object();

        if (p)
                json_object_object_add(p, "message", json_object_new_string(sqlite3_errmsg(store_db(q->source.store))));
        return set_error(e, QUERY_ERROR_DATABASE, p);
}


int query_new_source(Query **ret, const QuerySource *source) {
        _cleanup_(query_freep) Query *q = calloc(1, sizeof(Query));
        int rc;

        if (!q)
                return -ENOMEM;
        q->source = *source;
        if (q->source.tracker)
                (void) tracker_add_observer(q->source.tracker, on_tracker_event, q);
        rc = query_prepare(q);
        if (rc < 0)
                return rc;
        *ret = TAKE_PTR(q);
        return 0;
}

int query_prepare(Query *q) {
        sqlite3 *db = store_db(q->source.store);
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
        if (q->source.tracker)
                tracker_remove_observer(q->source.tracker, q);
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

sqlite3_stmt *stmt(Query *q, unsigned k) {
        sqlite3_reset(q->sql[k]);
        sqlite3_clear_bindings(q->sql[k]);
        return q->sql[k];
}

/* Parameters. Each getter returns 0 if absent, 1 if present, -EINVAL if of the wrong type or range. */
int param_int(json_object *params, const char *name, int64_t min, int64_t max, int64_t *ret) {
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

int param_bool(json_object *params, const char *name, bool *ret) {
        json_object *v;

        if (!params || !json_object_object_get_ex(params, name, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_boolean))
                return -EINVAL;
        *ret = json_object_get_boolean(v);
        return 1;
}

int param_string(json_object *params, const char *name, const char **ret) {
        json_object *v;

        if (!params || !json_object_object_get_ex(params, name, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return -EINVAL;
        *ret = json_object_get_string(v);
        return 1;
}

/* Rejects parameters the method does not know: a typo must not silently widen an answer. */
int check_known_params(json_object *params, QueryError *e, ...) {
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
int64_t column_id(sqlite3_stmt *st, int col) {
        return sqlite3_column_type(st, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, col);
}

void row_from_stmt(sqlite3_stmt *st, Row *r) {
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

int no_such_process(QueryError *e, int64_t pid, int64_t instance) {
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
int find_target(Query *q, const QueryCaller *c, json_object *params, bool allow_at, uint64_t boot,
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
        } else if ((live = tracker_get(q->source.tracker, (int32_t) pid))) {
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

uint64_t now_us(void) {
        return now_usec(CLOCK_REALTIME);
}

/* Gaps recorded in [from, to] on boot. */
json_object *gaps_json(Query *q, uint64_t boot, int64_t from, int64_t to, bool *ret_any) {
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
        r = find_target(q, c, params, true, query_boot(q), 0, &t, e);
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
        r = find_target(q, c, params, false, query_boot(q), 0, &t, e);
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
        live = t.exit == 0 ? tracker_get(q->source.tracker, t.pid) : NULL;
        k = live && live->id == t.id ? q->source.kernel_caba(q->source.userdata, t.pid, &kernel_tgid) : -ESRCH;
        json_object_object_add(reply, "kernelSupported",
                               json_object_new_boolean(k != -EOPNOTSUPP && (k >= 0 || q->source.kernel_has_caba(q->source.userdata))));
        if (k >= 0) {
                Instance *ki = tracker_get(q->source.tracker, kernel_tgid);
                const char *difference = NULL;
                bool agree = q->source.check_caba(q->source.userdata, live, kernel_tgid, &difference);

                add_int(reply, "kernelCabaPid", kernel_tgid);
                if (ki && load_instance(q, c, ki->id, true, NULL, &kcaba) >= 0)
                        json_object_object_add(reply, "kernelCaba", kcaba);
                json_object_object_add(reply, "agree", json_object_new_boolean(agree));
                json_object_object_add(reply, "difference", json_object_new_string(difference));
        }
        *ret = TAKE_PTR(reply);
        return 0;
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
        r = find_target(q, c, params, true, query_boot(q), 0, &t, e);
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

int lookup_boot(Query *q, const char *boot_id, BootCache *cache) {
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
        sqlite3 *db = store_db(q->source.store);
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
        uint64_t boot = query_boot(q);
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
        QueryStatus qs = {};
        TrackerStats ts = {};
        int r;

        r = check_known_params(params, e, NULL);
        if (r < 0)
                return r;
        q->source.status(q->source.userdata, &qs);
        if (q->source.tracker)
                tracker_get_stats(q->source.tracker, &ts);
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
        json_object_object_add(st, "bootId", json_object_new_string(q->source.boot_id));
        add_int(st, "uptime", (int64_t) (now_us() - qs.start_time));
        add_int(st, "liveInstances", (int64_t) ts.live);
        add_int(st, "instancesCreated", (int64_t) ts.created);
        for (int k = 1; k < _LINEAGE_EVENT_MAX; k++)
                add_int(events, lineage_event_type_to_string((LineageEventType) k), (int64_t) qs.cnproc.events[k]);
        json_object_object_add(st, "events", events);
        add_int(st, "eventsLost", (int64_t) qs.cnproc.lost);
        add_int(st, "overflows", (int64_t) qs.cnproc.overflows);
        add_int(st, "gaps", (int64_t) ts.gaps);
        add_int(st, "unattributedEvents", (int64_t) ts.unattributed);
        json_object_object_add(st, "execSource",
                               json_object_new_string(lineage_exec_source_to_string(qs.exec_source)));
        if (qs.exec_source_reason)
                json_object_object_add(st, "execSourceReason", json_object_new_string(qs.exec_source_reason));
        add_int(st, "bpfRecords", (int64_t) qs.bpf_records);
        add_int(st, "bpfLost", (int64_t) qs.bpf_lost);
        add_int(st, "bpfOnlyExecs", (int64_t) qs.bpf_only_execs);
        add_int(st, "bpfUnmatched", (int64_t) qs.bpf_unmatched);
        if (add_exec_counts(st, &ts) < 0) {
                json_object_put(reply);
                json_object_put(st);
                return -ENOMEM;
        }
        json_object_object_add(st, "databasePath", json_object_new_string(store_path(q->source.store)));
        add_int(st, "databaseSize", (int64_t) store_size(q->source.store));
        add_int(st, "databaseUsed", (int64_t) store_used_bytes(q->source.store));
        add_int(st, "pruned", (int64_t) qs.pruned);
        if (qs.store_error < 0)
                json_object_object_add(st, "databaseError",
                                       json_object_new_string(qs.store_error == -EBUSY ? "database is locked by another connection"
                                                                                       : strerror(-qs.store_error)));
        json_object_object_add(st, "kernelCaba", json_object_new_boolean(qs.kernel_caba));
        add_int(st, "cabaDisagreements", (int64_t) qs.caba_disagreements);
        add_int(st, "receiveBuffer", qs.cnproc.rcvbuf);
        add_int(st, "receiveBufferRequested", qs.cnproc.rcvbuf_requested);
        json_object_object_add(st, "kernelFilter", json_object_new_boolean(qs.cnproc.filtered));
        add_int(st, "memory", (int64_t) rss_bytes());
        add_int(st, "varlinkConnections", qs.varlink.n_connections);
        add_int(st, "varlinkOutputQueued", (int64_t) qs.varlink.output_queued);
        add_int(st, "varlinkStreamsDropped", (int64_t) qs.varlink.streams_dropped);
        add_int(st, "varlinkRepliesRefused", (int64_t) qs.varlink.replies_refused);
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
        { "Search", method_search },
        { "GetStatus", method_get_status },
};

bool query_has_method(const char *method) {
        for (size_t k = 0; k < ELEMENTSOF(method_table); k++)
                if (streq(method_table[k].name, method))
                        return true;
        return false;
}

/* Flush before read, decided here once for every answer (query_call, GetDescendants, Watch's subtree):
 * pending rows are committed before a query reads, so the database holds everything seen so far. The
 * tracker is not asked for unflushed state instead: it holds only what is alive, and two sources would
 * have to agree key for key on every answer. The cost is a commit per query while events are pending
 * (nothing when idle); a failed flush is the owner's to log and count (GetStatus's databaseError), and
 * the answer then comes from what was committed before. */
void query_sync(Query *q) {
        (void) q->source.flush(q->source.userdata);
}

int query_call(Query *q, const char *method, const QueryCaller *caller, json_object *params,
               json_object **ret_reply, QueryError *ret_error) {
        QueryError e = {};
        json_object *reply = NULL;
        int r;

        for (size_t k = 0; k < ELEMENTSOF(method_table); k++) {
                if (!streq(method_table[k].name, method))
                        continue;
                query_sync(q);
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
