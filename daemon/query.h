/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* query: origin, ancestors, descendants, CABA, history, resolve, logins, watch and status — the answers
 * both front ends (varlink, D-Bus) give. Parameters and replies are json-c objects keyed exactly like
 * schema/org.lineaged.Lineage.varlink; fields that are null are left out of replies. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cnproc.h"
#include "json-text.h"
#include "store.h"
#include "tracker.h"
#include "varlink.h"

typedef struct Query Query;
typedef struct QueryWatch QueryWatch;

/* Who is asking: from SO_PEERCRED or the bus's credentials, never from the request. uid 0 sees all. */
typedef struct QueryCaller {
        uid_t uid;
        pid_t pid;
        /* The reply is only printed (varlink), never walked (D-Bus): parts of it may be pre-rendered
         * JSON text behind a json-c serializer (ResolveBatch's answers). */
        bool text_replies;
} QueryCaller;

#define QUERY_ERROR_NO_SUCH_PROCESS "org.lineaged.Lineage.NoSuchProcess"
#define QUERY_ERROR_PERMISSION_DENIED "org.lineaged.Lineage.PermissionDenied"
#define QUERY_ERROR_DATABASE "org.lineaged.Lineage.DatabaseError"
#define QUERY_ERROR_TOO_SLOW "org.lineaged.Lineage.TooSlow"
#define QUERY_ERROR_TOO_MANY_WATCHERS "org.lineaged.Lineage.TooManyWatchers"
#define QUERY_ERROR_LIMITS_EXCEEDED "org.lineaged.Lineage.LimitsExceeded"
#define QUERY_ERROR_INVALID_PARAMETER "org.varlink.service.InvalidParameter"
#define QUERY_ERROR_METHOD_NOT_FOUND "org.varlink.service.MethodNotFound"

#define QUERY_WATCHERS_MAX 256U          /* concurrent Watch streams, all clients together */
#define QUERY_WATCHERS_ROOT 32U          /* of those, only uid 0 may start: the others hold at most 224 */
#define QUERY_WATCHERS_PER_UID 128U      /* of one other uid, varlink and D-Bus together */

/* A failed call: error is one of the names above; parameters (may be NULL) is owned by the QueryError. */
typedef struct QueryError {
        const char *error;
        json_object *parameters;
} QueryError;

void query_error_done(QueryError *e);

/* The daemon-wide facts of GetStatus that are not in the tracker or the store, as its owner knows them. */
typedef struct QueryStatus {
        uint64_t start_time;            /* CLOCK_REALTIME µs the owner started */
        CnprocStats cnproc;             /* zero without a proc connector */
        LineageExecSource exec_source;
        const char *exec_source_reason; /* why not the eBPF source, or NULL */
        uint64_t bpf_records, bpf_lost, bpf_only_execs, bpf_unmatched;
        uint64_t pruned;
        int store_error;                /* the last storage error (-errno), 0 while healthy */
        bool kernel_caba;               /* the start-up scan saw NScaba: lines */
        uint64_t caba_disagreements;
        VarlinkStats varlink;           /* zero without a varlink server */
} QueryStatus;

/* What query answers from, given by its owner (the daemon; later also a bare database file): query knows
 * nothing else of it. Pointers are borrowed and outlive the Query. boot() is asked at every call: the
 * owner may move to a new database (after corruption) or, replaying, to another boot. Every hook is set. */
typedef struct QuerySource {
        Tracker *tracker;               /* live instances and Watch's events; NULL: none */
        Store *store;
        const char *proc_root;          /* procfs root: the current parent of a live process */
        const char *boot_id;            /* the boot queries default to, 32 hex digits (its text may change) */
        void *userdata;                 /* passed to every hook */
        uint64_t (*boot)(void *userdata);       /* that boot's row id in boots */
        int64_t (*realtime_offset)(void *userdata);     /* its CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
        int (*flush)(void *userdata);           /* commits pending rows to the store (see query_sync()) */
        void (*status)(void *userdata, QueryStatus *ret);
        /* GetCaba: the kernel's CABA of a live pid (-EOPNOTSUPP without the kernel patch); whether the
         * start-up scan saw it at all; and how it relates to live's computed one (counted by the owner):
         * true if they agree or differ in a documented way, with ret_difference naming which. */
        int (*kernel_caba)(void *userdata, int32_t pid, int32_t *ret_tgid);
        bool (*kernel_has_caba)(void *userdata);
        bool (*check_caba)(void *userdata, Instance *live, int32_t kernel_tgid, const char **ret_difference);
} QuerySource;

/* source is copied. (The daemon's: query_new() in daemon.h.) */
int query_new_source(Query **ret, const QuerySource *source);
Query *query_free(Query *q);
/* Around store_replace_corrupt(): finalizes the prepared statements, and prepares them again on the
 * new database. */
void query_finalize(Query *q);
int query_prepare(Query *q);

/* Answers one method of org.lineaged.Lineage ("GetOrigin", "GetAncestors", … "GetStatus"; not Watch).
 * params may be NULL (no parameters). On success returns 0 and a new reply object; on failure returns
 * < 0 and fills ret_error (the reply is not written). */
int query_call(Query *q, const char *method, const QueryCaller *caller, json_object *params,
               json_object **ret_reply, QueryError *ret_error);

/* Replies larger than this are not built: GetDescendants stops adding entries (truncated: true) before
 * its text passes max_size, and query_call() passes QUERY_REPLY_SIZE_MAX. The entries after the cut
 * (depths, gaps, the process) add well under 4 MiB; lineagectl accepts replies up to 64 MiB. */
#define QUERY_REPLY_SIZE_MAX (56U * 1024U * 1024U)

/* GetDescendants straight from the database rows to the JSON text of its reply parameters (an object,
 * appended to out), with no json-c tree: the same answer query_call() gives, in the same key order.
 * max_size bounds the text appended (see QUERY_REPLY_SIZE_MAX). Errors as for query_call(). */
int query_get_descendants_text(Query *q, const QueryCaller *caller, json_object *params, size_t max_size,
                               JsonText *out, QueryError *ret_error);

/* The same answer as a json-c object (built from that text): for front ends with their own size limit. */
int query_get_descendants(Query *q, const QueryCaller *caller, json_object *params, size_t max_size,
                          json_object **ret_reply, QueryError *ret_error);

/* The same answer as pieces, without the copy: prefix + the parameters object + suffix is the
 * concatenation of ret_iov[0..ret_n_iov), which point into ret_base. Both are malloc'd and the caller's. */
int query_get_descendants_iov(Query *q, const QueryCaller *caller, json_object *params, size_t max_size,
                              const char *prefix, const char *suffix, char **ret_base, struct iovec **ret_iov,
                              size_t *ret_n_iov, QueryError *ret_error);

/* Is method one query_call answers? */
bool query_has_method(const char *method);

/* Watch: cb gets a reply object {event, process?} for every matching event (borrowed: take a ref to
 * keep it). cb returning < 0 means the consumer cannot keep up: the watch is ended (ended_cb, if
 * set, is called once with QUERY_ERROR_TOO_SLOW) and must then only be freed. */
typedef int (*QueryWatchCallback)(QueryWatch *w, json_object *reply, void *userdata);
typedef void (*QueryWatchEnded)(QueryWatch *w, const char *error, void *userdata);
int query_watch_new(Query *q, const QueryCaller *caller, json_object *params, QueryWatchCallback cb,
                    QueryWatchEnded ended_cb, void *userdata, QueryWatch **ret, QueryError *ret_error);
QueryWatch *query_watch_free(QueryWatch *w);

DEFINE_TRIVIAL_CLEANUP_FUNC(Query *, query_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(QueryWatch *, query_watch_free);
