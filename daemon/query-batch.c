/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ResolveBatch: many (pid, time) lookups in one call, answered as JSON text when the front end prints. */
#include "query-internal.h"

/* ---- ResolveBatch ---- */

/* Answers rendered as JSON text for callers that take it (varlink): a batch of a thousand answers
 * as json-c objects costs more to build, print and free than to find. The text says what
 * process_json() and login_json() say, in the same order. */
typedef struct JText {
        JsonText q;                     /* the same buffer and string/number writers as GetDescendants */
        bool first;                     /* no key written yet in the current object */
} JText;

static void jt_raw(JText *t, const char *s, size_t n) {
        (void) json_text_append(&t->q, s, n);
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

static void jt_str(JText *t, const char *key, const char *v) {
        jt_key(t, key);
        json_text_string(&t->q, v, strlen(v));
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
        LoginRecord l;

        login_record_from_stmt(&l, st);
        login_record_text(&t->q, &l);
        t->first = false;
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
        uint64_t rowid = query_boot(q);
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
                int64_t offset = boot_id ? boot->realtime_offset_ns : q->source.realtime_offset(q->source.userdata);

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

        json_text_done(&t->q);
        free(t);
}

int method_resolve_batch(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        json_object *queries, *answers;
        _cleanup_(hashmap_freep) Hashmap *cache = NULL;
        sqlite3 *db = store_db(q->source.store);
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
