/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Watch: live events straight from the tracker (not yet in the database), by subtree, type and owner. */
#include "query-internal.h"

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
        _cleanup_(process_record_done) ProcessRecord p = {};
        Row r = instance_owners(i);

        process_record_from_instance(&p, c, i, &r, q->source.boot_id);
        return process_record_json(&p, NULL);
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

void on_tracker_event(const TrackerEvent *e, const Instance *i, void *userdata) {
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

                query_sync(q);
                r = find_target(q, caller, params, false, query_boot(q), 0, &t, &e);
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
