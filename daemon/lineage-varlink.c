/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.lineaged.Lineage on varlink: every method goes to query_call(); Watch streams with "more". */

#include "lineage-varlink.h"
#include "lineage/names.h"
#include "varlink-idl.h"

struct LineageVarlink {
        VarlinkServer *server;
        Query *query;
};

/* One running Watch stream. */
typedef struct WatchStream {
        VarlinkCall *call;
        QueryWatch *watch;
        uint64_t sent;
} WatchStream;

static void caller_of(VarlinkCall *call, QueryCaller *ret) {
        struct ucred uc;

        /* Without credentials (cannot happen on AF_UNIX) the caller is nobody: it sees nothing. */
        if (varlink_call_get_peer_credentials(call, &uc) < 0)
                *ret = (QueryCaller) { .uid = (uid_t) 65534, .pid = 0, .text_replies = true };
        else
                *ret = (QueryCaller) { .uid = uc.uid, .pid = uc.pid, .text_replies = true };
}

static int reply_query_error(VarlinkCall *call, QueryError *e) {
        int r = varlink_call_reply_error(call, e->error, e->parameters);

        query_error_done(e);
        return r;
}

/* The reply does not fit the output budgets: the caller has too much unread (see varlink.h). */
static int reply_limits_exceeded(VarlinkCall *call) {
        _cleanup_json_ json_object *p = json_object_new_object();

        if (!p || json_object_object_add(p, "available", json_object_new_int64((int64_t) varlink_call_output_room(call))) < 0)
                return -ENOMEM;
        return varlink_call_reply_error(call, QUERY_ERROR_LIMITS_EXCEEDED, p);
}

/* GetDescendants can be 50 MB: its text goes from the rows to the socket with no json-c tree and no copy. */
static int reply_descendants(VarlinkCall *call, LineageVarlink *v, const QueryCaller *caller, json_object *parameters) {
        struct iovec *iov = NULL;
        char *base = NULL;
        size_t n_iov = 0;
        QueryError e = {};
        int r;

        r = query_get_descendants_iov(v->query, caller, parameters, QUERY_REPLY_SIZE_MAX, "{\"parameters\":", "}",
                                      &base, &iov, &n_iov, &e);
        if (r < 0)
                return reply_query_error(call, &e);
        r = varlink_call_reply_iov(call, base, iov, n_iov);
        return r == -ENOBUFS ? reply_limits_exceeded(call) : r;
}

static int method_generic(VarlinkCall *call, json_object *parameters, void *userdata) {
        LineageVarlink *v = userdata;
        const char *method = varlink_call_get_method(call), *dot = strrchr(method, '.');
        _cleanup_json_ json_object *reply = NULL;
        QueryError e = {};
        QueryCaller caller;

        int r;

        /* Nothing fits while the caller leaves its budget full of unread replies: do not build one. */
        if (varlink_call_output_room(call) == 0)
                return reply_limits_exceeded(call);
        caller_of(call, &caller);
        if (streq(dot + 1, "GetDescendants"))
                return reply_descendants(call, v, &caller, parameters);
        if (query_call(v->query, dot + 1, &caller, parameters, &reply, &e) < 0)
                return reply_query_error(call, &e);
        r = varlink_call_reply(call, reply);
        return r == -ENOBUFS ? reply_limits_exceeded(call) : r;
}

static WatchStream *watch_stream_free(WatchStream *s) {
        if (!s)
                return NULL;
        query_watch_free(s->watch);
        varlink_call_set_cancel(s->call, NULL, NULL);
        varlink_call_set_overflow(s->call, NULL, NULL);
        varlink_call_unref(s->call);
        free(s);
        return NULL;
}

static int on_watch_event(QueryWatch *w, json_object *reply, void *userdata) {
        WatchStream *s = userdata;
        int r = varlink_call_notify(s->call, reply);

        if (r == -ENOBUFS)
                return r; /* too slow: the query layer ends the watch and tells us */
        if (r >= 0)
                s->sent++;
        return 0;
}

static void on_watch_ended(QueryWatch *w, const char *error, void *userdata) {
        WatchStream *s = userdata;
        json_object *p = json_object_new_object();

        if (p)
                json_object_object_add(p, "dropped", json_object_new_int64((int64_t) MAX(varlink_call_get_dropped(s->call), 1U)));
        log_debug("Watch stream of a varlink client ended (%s) after %" PRIu64 " events.", error, s->sent);
        /* The output buffer is full: the error goes after what is queued; the client sees it last. */
        (void) varlink_call_reply_error(s->call, error, p);
        json_object_put(p);
        watch_stream_free(s);
}

static void on_watch_cancelled(VarlinkCall *call, void *userdata) {
        watch_stream_free(userdata);
}

/* The server dropped this stream's queued events to keep within the output budgets. */
static void on_watch_overflow(VarlinkCall *call, void *userdata) {
        on_watch_ended(NULL, QUERY_ERROR_TOO_SLOW, userdata);
}

static int method_watch(VarlinkCall *call, json_object *parameters, void *userdata) {
        LineageVarlink *v = userdata;
        QueryCaller caller;
        QueryError e = {};
        WatchStream *s;
        int r;

        if (!varlink_call_wants_more(call))
                return varlink_call_reply_error(call, VARLINK_ERROR_EXPECTED_MORE, NULL);
        s = calloc(1, sizeof(WatchStream));
        if (!s)
                return -ENOMEM;
        caller_of(call, &caller);
        r = query_watch_new(v->query, &caller, parameters, on_watch_event, on_watch_ended, s, &s->watch, &e);
        if (r < 0) {
                free(s);
                if (e.error)
                        return reply_query_error(call, &e);
                return r;
        }
        s->call = varlink_call_ref(call);
        varlink_call_set_cancel(call, on_watch_cancelled, s);
        varlink_call_set_overflow(call, on_watch_overflow, s);
        return 0; /* pending: events follow as notifications */
}

static const char *const methods[] = {
        "GetOrigin", "GetAncestors", "GetDescendants", "GetCaba", "GetHistory",
        "Resolve", "ResolveBatch", "ListLogins", "Search", "GetStatus",
};

static int listen_path(VarlinkServer *s, const char *path) {
        int r;

        /* Every user may connect (the daemon checks who asks), so the directory must be searchable;
         * it holds nothing but the socket. */
        r = mkdir_parents(path, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create the directory of %s: %m", path);
        r = varlink_server_listen_path(s, path, 0666);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on varlink socket %s: %m", path);
        return 0;
}

int lineage_varlink_new(LineageVarlink **ret, sd_event *e, Query *q, const char *path) {
        _cleanup_(lineage_varlink_freep) LineageVarlink *v = NULL;
        char name[128];
        int r;

        v = calloc(1, sizeof(LineageVarlink));
        if (!v)
                return log_oom();
        v->query = q;
        r = varlink_server_new(&v->server, e);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the varlink server: %m");
        r = varlink_server_set_info(v->server, "lineaged", "lineaged", PROJECT_VERSION, "man:lineaged(8)");
        if (r >= 0)
                r = varlink_server_add_interface(v->server, lineage_varlink_idl[0]);
        if (r < 0)
                return log_error_errno(r, "Failed to load the interface description: %m");
        for (size_t k = 0; k < ELEMENTSOF(methods); k++) {
                snprintf(name, sizeof(name), LINEAGE_VARLINK_INTERFACE ".%s", methods[k]);
                r = varlink_server_bind_method(v->server, name, method_generic, v);
                if (r < 0)
                        return log_error_errno(r, "Failed to bind %s: %m", name);
        }
        r = varlink_server_bind_method(v->server, LINEAGE_VARLINK_INTERFACE ".Watch", method_watch, v);
        if (r < 0)
                return log_error_errno(r, "Failed to bind Watch: %m");

        r = varlink_server_listen_systemd(v->server);
        if (r < 0)
                return log_error_errno(r, "Failed to take the varlink socket passed by systemd: %m");
        if (r == 0) {
                r = listen_path(v->server, path);
                if (r < 0)
                        return r;
                log_info("Serving varlink on %s.", path);
        } else
                log_info("Serving varlink on the socket passed by systemd.");
        *ret = TAKE_PTR(v);
        return 0;
}

LineageVarlink *lineage_varlink_free(LineageVarlink *v) {
        if (!v)
                return NULL;
        varlink_server_free(v->server);
        free(v);
        return NULL;
}

void lineage_varlink_get_stats(LineageVarlink *v, VarlinkStats *ret) {
        varlink_server_get_stats(v->server, ret);
}
