/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineage-dbus: serves org.lineaged.Lineage1 on D-Bus by translating typed calls to query and json replies back. */
#include <inttypes.h>
#include <stdio.h>

#include "lineage-dbus.h"
#include "lineage/dbus-methods.h"
#include "lineage/names.h"

#define DBUS_SERVICE "org.freedesktop.DBus"
#define DBUS_OBJECT "/org/freedesktop/DBus"
#define DBUS_LOCAL_SERVICE "org.freedesktop.DBus.Local"
#define DBUS_LOCAL_OBJECT "/org/freedesktop/DBus/Local"

/* Watch events queued towards the bus before the watch being served is ended as too slow: the bus
 * itself stopped reading from us, so queueing more would only grow our memory. */
#define WRITE_QUEUE_MAX 4096U
/* Containers nested in a reply; query's answers use four at most. */
#define JSON_DEPTH_MAX 16U
/* Queries in one ResolveBatch call, as query accepts: more are refused before anything is built. */
#define RESOLVE_BATCH_MAX 4096U

typedef struct DbusCall DbusCall;
typedef struct DbusWatch DbusWatch;

/* A method call waiting for the bus to say who sent it. */
struct DbusCall {
        LineageDbus *dbus;
        sd_bus_message *message;
        const char *method;             /* the query method, static */
        bool watch;
        json_object *params;
        sd_bus_slot *slot;              /* GetConnectionCredentials */
        DbusCall *prev, *next;
};

/* One Watch subscription: events go as unicast signals from path to owner. */
struct DbusWatch {
        LineageDbus *dbus;
        char *path;
        char *owner;                    /* unique bus name of the subscriber */
        QueryWatch *watch;
        sd_bus_slot *match_slot;        /* NameOwnerChanged of owner */
        sd_bus_slot *owner_slot;        /* GetNameOwner: was owner still there when the match was set? */
        bool ended;                     /* freed by the reap source, outside query's and sd-bus's callbacks */
        DbusWatch *prev, *next;
};

struct LineageDbus {
        sd_event *event;
        Query *query;
        sd_bus *bus;
        sd_event_source *reap;
        DbusCall *calls;
        unsigned n_calls;
        DbusWatch *watches;
        uint64_t watch_counter;
        bool disconnected;
        char *address;                  /* "system", "session" or a bus address: what to reconnect to */
        sd_event_source *retry;         /* reconnecting after the bus went away */
        uint64_t retry_usec;            /* the next delay: doubles up to RECONNECT_MAX_USEC */
};

static inline void dbus_json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

int lineage_dbus_utf8_sanitize(const char *s, size_t n, char **ret) {
        return json_text_utf8_repair(s, n, UTF8_RULES_DBUS, ret);
}

/* ---- json -> D-Bus ---- */

static int spend(size_t *budget, size_t n) {
        if (n > *budget)
                return -E2BIG;
        *budget -= n;
        return 0;
}

/* The type of an empty array field, from the varlink interface. */
static const char *known_array_signature(const char *key) {
        static const struct {
                const char *key, *signature;
        } table[] = {
                { "ancestors", "aa{sv}" }, { "descendants", "aa{sv}" }, { "gaps", "aa{sv}" },
                { "events", "aa{sv}" },    { "logins", "aa{sv}" },      { "argv", "as" },
                { "types", "as" },         { "depths", "ax" },          { "answers", "aa{sv}" },
                { "parents", "ax" },
        };

        for (size_t i = 0; key && i < ELEMENTSOF(table); i++)
                if (streq(table[i].key, key))
                        return table[i].signature;
        return "av";
}

static const char *array_signature(const char *key, json_object *v) {
        size_t n = json_object_array_length(v);
        json_type t;

        if (n == 0)
                return known_array_signature(key);
        t = json_object_get_type(json_object_array_get_idx(v, 0));
        for (size_t i = 1; i < n; i++)
                if (json_object_get_type(json_object_array_get_idx(v, i)) != t)
                        return "av";
        switch (t) {
        case json_type_object:
                return "aa{sv}";
        case json_type_string:
                return "as";
        case json_type_int:
                return "ax";
        case json_type_boolean:
                return "ab";
        case json_type_double:
                return "ad";
        default:
                return "av";
        }
}

/* The D-Bus type of a json value; NULL for null, which is left out. */
static const char *json_signature(const char *key, json_object *v) {
        switch (json_object_get_type(v)) {
        case json_type_boolean:
                return "b";
        case json_type_int:
                return "x";
        case json_type_double:
                return "d";
        case json_type_string:
                return "s";
        case json_type_object:
                return "a{sv}";
        case json_type_array:
                return array_signature(key, v);
        default:
                return NULL;
        }
}

static int append_string(sd_bus_message *m, const char *s, size_t n, size_t *budget) {
        _cleanup_free_ char *copy = NULL;
        size_t size = json_text_utf8_repaired_size(s, n, UTF8_RULES_DBUS);
        int r;

        r = spend(budget, size + 8);
        if (r < 0)
                return r;
        if (size != n) { /* NUL bytes count as invalid too */
                r = lineage_dbus_utf8_sanitize(s, n, &copy);
                if (r < 0)
                        return r;
                s = copy;
        }
        return sd_bus_message_append_basic(m, 's', s);
}

static int append_object(sd_bus_message *m, json_object *obj, unsigned depth, size_t *budget);

static int append_value(sd_bus_message *m, const char *key, json_object *v, const char *sig, unsigned depth,
                        size_t *budget);

static int append_array(sd_bus_message *m, json_object *v, const char *sig, unsigned depth, size_t *budget) {
        size_t n = json_object_array_length(v);
        bool variants = streq(sig, "av");
        int r;

        r = spend(budget, 12);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', sig + 1);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(v, i);
                const char *esig = variants ? json_signature(NULL, e) : sig + 1;

                if (!esig)
                        continue; /* a null inside a mixed array */
                if (variants) {
                        r = spend(budget, strlen(esig) + 2);
                        if (r >= 0)
                                r = sd_bus_message_open_container(m, 'v', esig);
                        if (r < 0)
                                return r;
                }
                r = append_value(m, NULL, e, esig, depth + 1, budget);
                if (r < 0)
                        return r;
                if (variants) {
                        r = sd_bus_message_close_container(m);
                        if (r < 0)
                                return r;
                }
        }
        return sd_bus_message_close_container(m);
}

static int append_value(sd_bus_message *m, const char *key, json_object *v, const char *sig, unsigned depth,
                        size_t *budget) {
        int r;

        if (depth > JSON_DEPTH_MAX)
                return -E2BIG;
        switch (sig[0]) {
        case 'b': {
                int b = json_object_get_boolean(v);

                r = spend(budget, 16); /* with alignment */
                return r < 0 ? r : sd_bus_message_append_basic(m, 'b', &b);
        }
        case 'x': {
                int64_t x = json_object_get_int64(v);

                r = spend(budget, 16); /* with alignment */
                return r < 0 ? r : sd_bus_message_append_basic(m, 'x', &x);
        }
        case 'd': {
                double d = json_object_get_double(v);

                r = spend(budget, 16); /* with alignment */
                return r < 0 ? r : sd_bus_message_append_basic(m, 'd', &d);
        }
        case 's':
                return append_string(m, json_object_get_string(v), (size_t) json_object_get_string_len(v), budget);
        case 'a':
                if (streq(sig, "a{sv}"))
                        return append_object(m, v, depth + 1, budget);
                return append_array(m, v, sig, depth + 1, budget);
        default:
                return -EINVAL;
        }
}

static int append_object(sd_bus_message *m, json_object *obj, unsigned depth, size_t *budget) {
        int r;

        if (depth > JSON_DEPTH_MAX)
                return -E2BIG;
        r = spend(budget, 12);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        json_object_object_foreach(obj, key, v) {
                const char *sig = json_signature(key, v);

                if (!sig)
                        continue;
                r = spend(budget, 8 + strlen(sig) + 2);
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = append_string(m, key, strlen(key), budget);
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', sig);
                if (r >= 0)
                        r = append_value(m, key, v, sig, depth, budget);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

int lineage_dbus_append_json(sd_bus_message *m, json_object *obj, size_t max_size) {
        size_t budget = max_size;

        if (!json_object_is_type(obj, json_type_object))
                return -EINVAL;
        return append_object(m, obj, 0, &budget);
}

/* ---- errors ---- */

static const char *bus_error_name(const char *query_error) {
        static const struct {
                const char *query, *bus;
        } table[] = {
                { QUERY_ERROR_NO_SUCH_PROCESS, LINEAGE_DBUS_ERROR_NO_SUCH_PROCESS },
                { QUERY_ERROR_PERMISSION_DENIED, LINEAGE_DBUS_ERROR_PERMISSION_DENIED },
                { QUERY_ERROR_DATABASE, LINEAGE_DBUS_ERROR_DATABASE },
                { QUERY_ERROR_TOO_MANY_WATCHERS, LINEAGE_DBUS_ERROR_TOO_MANY_WATCHERS },
                { QUERY_ERROR_TOO_SLOW, LINEAGE_DBUS_ERROR_TOO_SLOW },
                { QUERY_ERROR_INVALID_PARAMETER, SD_BUS_ERROR_INVALID_ARGS },
                { QUERY_ERROR_METHOD_NOT_FOUND, SD_BUS_ERROR_UNKNOWN_METHOD },
        };

        for (size_t i = 0; query_error && i < ELEMENTSOF(table); i++)
                if (streq(table[i].query, query_error))
                        return table[i].bus;
        return SD_BUS_ERROR_FAILED;
}

static bool error_int(json_object *params, const char *key, int64_t *ret) {
        json_object *v;

        if (!params || !json_object_object_get_ex(params, key, &v) || !json_object_is_type(v, json_type_int))
                return false;
        *ret = json_object_get_int64(v);
        return true;
}

/* A string parameter of an error, made safe for a D-Bus message; NULL when absent. */
static char *error_string(json_object *params, const char *key) {
        json_object *v;
        char *s = NULL;

        if (!params || !json_object_object_get_ex(params, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        (void) lineage_dbus_utf8_sanitize(json_object_get_string(v), (size_t) json_object_get_string_len(v), &s);
        return s;
}

/* Fills ret with the D-Bus form of a failed query (error NULL: r says what failed). */
static void query_error_to_bus(const QueryError *e, int r, sd_bus_error *ret) {
        const char *name = e ? e->error : NULL, *bus = bus_error_name(name);
        json_object *p = e ? e->parameters : NULL;
        _cleanup_free_ char *s = NULL;
        int64_t v;

        if (!name) {
                (void) sd_bus_error_set_errnof(ret, r, "The query failed: %m");
        } else if (streq(bus, LINEAGE_DBUS_ERROR_NO_SUCH_PROCESS)) {
                if (error_int(p, "pid", &v))
                        (void) sd_bus_error_setf(ret, bus, "No process with pid %" PRIi64 " is recorded.", v);
                else if (error_int(p, "instance", &v))
                        (void) sd_bus_error_setf(ret, bus, "No process instance %" PRIi64 " is recorded.", v);
                else
                        (void) sd_bus_error_set(ret, bus, "No such process is recorded.");
        } else if (streq(bus, LINEAGE_DBUS_ERROR_PERMISSION_DENIED)) {
                (void) sd_bus_error_set(ret, bus, "The caller may not see that process.");
        } else if (streq(bus, LINEAGE_DBUS_ERROR_DATABASE)) {
                s = error_string(p, "message");
                (void) sd_bus_error_setf(ret, bus, "The database could not answer: %s", strna(s));
        } else if (streq(bus, LINEAGE_DBUS_ERROR_TOO_MANY_WATCHERS)) {
                if (error_int(p, "limit", &v))
                        (void) sd_bus_error_setf(ret, bus, "Too many watchers (at most %" PRIi64 ").", v);
                else
                        (void) sd_bus_error_set(ret, bus, "Too many watchers.");
        } else if (streq(bus, LINEAGE_DBUS_ERROR_TOO_SLOW)) {
                (void) sd_bus_error_set(ret, bus, "The watcher did not read its events fast enough.");
        } else if (streq(bus, SD_BUS_ERROR_INVALID_ARGS)) {
                s = error_string(p, "parameter");
                (void) sd_bus_error_setf(ret, bus, "Invalid parameter: %s", strna(s));
        } else {
                (void) sd_bus_error_setf(ret, bus, "The query failed: %s", name);
        }
}

static int reply_query_error(sd_bus_message *m, const QueryError *e, int r) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        query_error_to_bus(e, r, &error);
        return sd_bus_reply_method_error(m, &error);
}

static int reply_json(sd_bus_message *m, json_object *json) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = lineage_dbus_append_json(reply, json, LINEAGE_DBUS_REPLY_SIZE_MAX);
        if (r == -E2BIG)
                return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                                  "The answer is too large for D-Bus: ask for fewer entries (limit) or use varlink.");
        if (r < 0)
                return sd_bus_reply_method_errnof(m, r, "Failed to encode the answer: %m");
        return sd_bus_send(NULL, reply, NULL);
}

/* ---- watches ---- */

static DbusWatch *dbus_watch_free(DbusWatch *w) {
        if (!w)
                return NULL;
        if (w->dbus) {
                if (w->prev)
                        w->prev->next = w->next;
                else if (w->dbus->watches == w)
                        w->dbus->watches = w->next;
                if (w->next)
                        w->next->prev = w->prev;
        }
        query_watch_free(w->watch);
        sd_bus_slot_unref(w->match_slot);
        sd_bus_slot_unref(w->owner_slot);
        free(w->path);
        free(w->owner);
        free(w);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(DbusWatch *, dbus_watch_free);

static int send_signal(DbusWatch *w, const char *member, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_signal(w->dbus->bus, &m, w->path, LINEAGE_DBUS_INTERFACE, member);
        if (r < 0)
                return r;
        /* Unicast: nobody but the subscriber receives its events. */
        r = sd_bus_message_set_destination(m, w->owner);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

/* Ends a watch; error (a D-Bus error name) is sent to the subscriber in an Ended signal, if given. */
static void watch_end(DbusWatch *w, const char *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if (w->ended)
                return;
        w->ended = true;
        if (error && !w->dbus->disconnected) {
                r = send_signal(w, "Ended", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", error);
                if (r >= 0)
                        r = sd_bus_send(w->dbus->bus, m, NULL);
                if (r < 0)
                        log_debug_errno(r, "Failed to send Ended to %s, ignoring: %m", w->owner);
        }
        log_debug("D-Bus watch %s of %s ended (%s).", w->path, w->owner, error ?: "by the subscriber");
        (void) sd_event_source_set_enabled(w->dbus->reap, SD_EVENT_ONESHOT);
}

static int on_reap(sd_event_source *s, void *userdata) {
        LineageDbus *d = userdata;

        for (DbusWatch *w = d->watches, *next; w; w = next) {
                next = w->next;
                if (w->ended)
                        dbus_watch_free(w);
        }
        return 0;
}

static int on_watch_event(QueryWatch *qw, json_object *reply, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        DbusWatch *w = userdata;
        uint64_t queued = 0;
        int r;

        if (w->ended || w->dbus->disconnected)
                return 0;
        if (sd_bus_get_n_queued_write(w->dbus->bus, &queued) >= 0 && queued > WRITE_QUEUE_MAX)
                return -ENOBUFS;
        r = send_signal(w, "Event", &m);
        if (r >= 0)
                r = lineage_dbus_append_json(m, reply, LINEAGE_DBUS_REPLY_SIZE_MAX);
        if (r >= 0)
                r = sd_bus_send(w->dbus->bus, m, NULL);
        if (r < 0)
                return log_warning_errno(r, "Failed to send a watch event to %s, ending its watch: %m", w->owner);
        return 0;
}

static void on_watch_ended(QueryWatch *qw, const char *error, void *userdata) {
        watch_end(userdata, bus_error_name(error));
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *name, *old_owner, *new_owner;
        DbusWatch *w = userdata;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        if (streq(name, w->owner) && new_owner[0] == 0)
                watch_end(w, NULL);
        return 0;
}

static int on_match_installed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);
        DbusWatch *w = userdata;

        if (!e)
                return 0;
        /* Without the match a disconnect would go unnoticed: do not keep a watch we cannot clean up. */
        log_warning("Failed to follow D-Bus client %s (%s), ending its watch.", w->owner, e->name);
        watch_end(w, e->name);
        return 0;
}

/* The answer to GetNameOwner, sent after AddMatch: an error means the subscriber left before the match
 * was in place, so its NameOwnerChanged will never come. */
static int on_owner_checked(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        DbusWatch *w = userdata;

        w->owner_slot = sd_bus_slot_unref(w->owner_slot);
        if (sd_bus_message_is_method_error(m, NULL))
                watch_end(w, NULL);
        return 0;
}

static int watch_follow_owner(DbusWatch *w) {
        _cleanup_free_ char *match = NULL;
        sd_bus *bus = w->dbus->bus;
        int r;

        if (asprintf(&match,
                     "type='signal',sender='" DBUS_SERVICE "',path='" DBUS_OBJECT "',interface='" DBUS_SERVICE
                     "',member='NameOwnerChanged',arg0='%s'",
                     w->owner) < 0)
                return -ENOMEM;
        r = sd_bus_add_match_async(bus, &w->match_slot, match, on_owner_changed, on_match_installed, w);
        if (r < 0)
                return r;
        return sd_bus_call_method_async(bus, &w->owner_slot, DBUS_SERVICE, DBUS_OBJECT, DBUS_SERVICE, "GetNameOwner",
                                        on_owner_checked, w, "s", w->owner);
}

static unsigned count_watches(LineageDbus *d, const char *owner) {
        unsigned n = 0;

        for (DbusWatch *w = d->watches; w; w = w->next)
                if (!w->ended && streq(w->owner, owner))
                        n++;
        return n;
}

static int watch_start(LineageDbus *d, sd_bus_message *m, const QueryCaller *caller, json_object *params) {
        _cleanup_(query_error_done) QueryError qe = {};
        _cleanup_(dbus_watch_freep) DbusWatch *w = NULL;
        const char *sender = sd_bus_message_get_sender(m);
        int r;

        if (count_watches(d, sender) >= LINEAGE_DBUS_WATCHES_PER_CALLER)
                return sd_bus_reply_method_errorf(m, LINEAGE_DBUS_ERROR_TOO_MANY_WATCHERS,
                                                  "Too many watchers on this connection (at most %u).",
                                                  LINEAGE_DBUS_WATCHES_PER_CALLER);
        w = calloc(1, sizeof(DbusWatch));
        if (!w)
                return -ENOMEM;
        w->owner = strdup(sender);
        if (!w->owner || asprintf(&w->path, LINEAGE_DBUS_PATH "/watch/%" PRIu64, ++d->watch_counter) < 0) {
                w->path = NULL;
                return -ENOMEM;
        }
        w->dbus = d;
        r = query_watch_new(d->query, caller, params, on_watch_event, on_watch_ended, w, &w->watch, &qe);
        if (r < 0)
                return reply_query_error(m, &qe, r);
        w->next = d->watches;
        if (d->watches)
                d->watches->prev = w;
        d->watches = w;
        r = watch_follow_owner(w);
        if (r < 0)
                return sd_bus_reply_method_errnof(m, r, "Failed to follow the caller's connection: %m");
        r = sd_bus_reply_method_return(m, "o", w->path);
        log_debug("D-Bus watch %s started for %s (uid %u).", w->path, w->owner, (unsigned) caller->uid);
        TAKE_PTR(w);
        return r;
}

/* ---- calls ---- */

static DbusCall *dbus_call_free(DbusCall *c) {
        if (!c)
                return NULL;
        if (c->prev)
                c->prev->next = c->next;
        else if (c->dbus->calls == c)
                c->dbus->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->dbus->n_calls--;
        sd_bus_slot_unref(c->slot);
        sd_bus_message_unref(c->message);
        json_object_put(c->params);
        free(c);
        return NULL;
}

/* Reads the caller's uid and pid from the bus driver's GetConnectionCredentials answer. */
static int parse_credentials(sd_bus_message *m, QueryCaller *ret) {
        uint32_t uid = 0, pid = 0;
        bool have_uid = false;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;

                r = sd_bus_message_read_basic(m, 's', &key);
                if (r < 0)
                        return r;
                if (streq(key, "UnixUserID")) {
                        r = sd_bus_message_read(m, "v", "u", &uid);
                        have_uid = r >= 0;
                } else if (streq(key, "ProcessID"))
                        r = sd_bus_message_read(m, "v", "u", &pid);
                else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (!have_uid || uid == UINT32_MAX)
                return -EPERM;
        ret->uid = (uid_t) uid;
        ret->pid = pid <= INT32_MAX ? (pid_t) pid : 0;
        return 0;
}

static int answer_query(LineageDbus *d, sd_bus_message *m, const char *method, const QueryCaller *caller,
                        json_object *params) {
        _cleanup_(query_error_done) QueryError qe = {};
        _cleanup_(dbus_json_putp) json_object *reply = NULL;
        int r;

        if (streq(method, "GetDescendants"))
                /* Truncated (truncated: true) rather than refused when the subtree is too big for the bus. */
                r = query_get_descendants(d->query, caller, params, LINEAGE_DBUS_DESCENDANTS_TEXT_MAX, &reply, &qe);
        else
                r = query_call(d->query, method, caller, params, &reply, &qe);
        if (r < 0)
                return reply_query_error(m, &qe, r);
        return reply_json(m, reply);
}

static int on_credentials(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        DbusCall *c = userdata;
        QueryCaller caller = {};
        int r;

        r = sd_bus_message_is_method_error(reply, NULL) ? -EPERM : parse_credentials(reply, &caller);
        if (r < 0)
                r = sd_bus_reply_method_errorf(c->message, SD_BUS_ERROR_ACCESS_DENIED,
                                               "The bus did not tell who the caller is.");
        else if (c->watch)
                r = watch_start(c->dbus, c->message, &caller, c->params);
        else
                r = answer_query(c->dbus, c->message, c->method, &caller, c->params);
        if (r < 0)
                log_debug_errno(r, "Failed to answer %s over D-Bus, ignoring: %m", c->method);
        dbus_call_free(c);
        return 0;
}

/* Asks the bus who sent m (never the message itself); the call is answered when it tells. */
static int call_start(LineageDbus *d, sd_bus_message *m, const char *method, bool watch, json_object *params,
                      sd_bus_error *error) {
        const char *sender = sd_bus_message_get_sender(m);
        DbusCall *c;
        int r;

        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "The caller has no bus name.");
        if (d->n_calls >= LINEAGE_DBUS_PENDING_CALLS_MAX)
                return sd_bus_error_set(error, SD_BUS_ERROR_LIMITS_EXCEEDED, "Too many calls in progress, try again.");
        c = calloc(1, sizeof(DbusCall));
        if (!c)
                return -ENOMEM;
        c->dbus = d;
        c->message = sd_bus_message_ref(m);
        c->method = method;
        c->watch = watch;
        c->params = json_object_get(params);
        c->next = d->calls;
        if (d->calls)
                d->calls->prev = c;
        d->calls = c;
        d->n_calls++;
        r = sd_bus_call_method_async(d->bus, &c->slot, DBUS_SERVICE, DBUS_OBJECT, DBUS_SERVICE,
                                     "GetConnectionCredentials", on_credentials, c, "s", sender);
        if (r < 0) {
                dbus_call_free(c);
                return r;
        }
        return 1;
}

/* ---- methods ---- */


static int params_add(json_object *params, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(params, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int params_add_element(json_object *array, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_array_add(array, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* Reads an "as" of at most LINEAGE_DBUS_WATCH_TYPES_MAX strings; NULL (*ret) when it is empty. */
static int read_string_array(sd_bus_message *m, json_object **ret) {
        _cleanup_(dbus_json_putp) json_object *a = NULL;
        const char *s;
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read_basic(m, 's', &s)) > 0) {
                if (++n > LINEAGE_DBUS_WATCH_TYPES_MAX)
                        return -E2BIG;
                if (!a && !(a = json_object_new_array()))
                        return -ENOMEM;
                r = params_add_element(a, json_object_new_string(s));
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

/* Reads ResolveBatch's a(suxx) (bootId, pid, realtime, monotonic) into an array of ResolveQuery
 * objects; "" for bootId, 0 for realtime and -1 for monotonic mean "not given". Other values are
 * passed on as they are, for query to judge. More than RESOLVE_BATCH_MAX is -E2BIG. */
static int read_queries(sd_bus_message *m, json_object **ret) {
        _cleanup_(dbus_json_putp) json_object *a = json_object_new_array();
        const char *boot;
        int64_t realtime, monotonic;
        uint32_t pid;
        size_t n = 0;
        int r;

        if (!a)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, 'a', "(suxx)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(suxx)", &boot, &pid, &realtime, &monotonic)) > 0) {
                _cleanup_(dbus_json_putp) json_object *q = NULL;

                if (++n > RESOLVE_BATCH_MAX)
                        return -E2BIG;
                q = json_object_new_object();
                if (!q)
                        return -ENOMEM;
                r = params_add(q, "pid", json_object_new_int64((int64_t) pid));
                if (r >= 0 && boot[0])
                        r = params_add(q, "bootId", json_object_new_string(boot));
                if (r >= 0 && realtime != 0)
                        r = params_add(q, "realtime", json_object_new_int64(realtime));
                if (r >= 0 && monotonic != -1)
                        r = params_add(q, "monotonic", json_object_new_int64(monotonic));
                if (r >= 0)
                        r = params_add_element(a, TAKE_PTR(q));
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

/* Reads one in-argument into params; -ERANGE/-E2BIG: its value is not acceptable. */
static int read_param(sd_bus_message *m, char type, const char *name, json_object *params) {
        json_object *a = NULL;
        const char *s;
        uint64_t t;
        int64_t x;
        uint32_t u;
        int b, r;

        switch (type) {
        case 'x':
                r = sd_bus_message_read_basic(m, 'x', &x);
                if (r < 0 || x == (lineage_dbus_param_minus_one(name) ? -1 : 0))
                        return r;
                return params_add(params, name, json_object_new_int64(x));
        case 't':
                r = sd_bus_message_read_basic(m, 't', &t);
                if (r < 0 || t == 0)
                        return r;
                if (t > INT64_MAX)
                        return -ERANGE;
                return params_add(params, name, json_object_new_int64((int64_t) t));
        case 'u':
                r = sd_bus_message_read_basic(m, 'u', &u);
                if (r < 0 || u == 0)
                        return r;
                return params_add(params, name, json_object_new_int64(u));
        case 'b':
                r = sd_bus_message_read_basic(m, 'b', &b);
                if (r < 0 || !b)
                        return r;
                return params_add(params, name, json_object_new_boolean(true));
        case 's':
                r = sd_bus_message_read_basic(m, 's', &s);
                if (r < 0 || s[0] == 0)
                        return r;
                return params_add(params, name, json_object_new_string(s));
        case 'a':
                r = read_string_array(m, &a);
                if (r < 0 || !a)
                        return r;
                return params_add(params, name, a);
        case 'Q':
                r = read_queries(m, &a);
                if (r < 0)
                        return r;
                return params_add(params, name, a);
        default:
                return -EINVAL;
        }
}

static int method_query(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(dbus_json_putp) json_object *params = NULL;
        const char *member = sd_bus_message_get_member(m);
        const LineageDbusMethod *method = lineage_dbus_method(member);
        size_t k = 0;
        int r;

        if (!method)
                return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_METHOD, "Unknown method %s.", strna(member));
        params = json_object_new_object();
        if (!params)
                return -ENOMEM;
        for (const char *sig = method->signature; *sig; sig++, k++) {
                r = read_param(m, *sig, method->params[k], params);
                if (r == -ERANGE || r == -E2BIG)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid parameter: %s",
                                                 method->params[k]);
                if (r < 0)
                        return r;
                if (*sig == 'a')
                        sig++; /* the element type */
        }
        return call_start(userdata, m, method->name, method->watch, params, error);
}

static int method_unwatch(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *sender = sd_bus_message_get_sender(m), *path;
        LineageDbus *d = userdata;
        int r;

        r = sd_bus_message_read(m, "o", &path);
        if (r < 0)
                return r;
        /* Only the subscriber may end its watch; others learn nothing about it. */
        for (DbusWatch *w = d->watches; w; w = w->next)
                if (!w->ended && streq(w->path, path) && streq_ptr(w->owner, sender)) {
                        watch_end(w, NULL);
                        return sd_bus_reply_method_return(m, NULL);
                }
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid parameter: subscription (no such watch %s)",
                                 path);
}

static const sd_bus_vtable lineage_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("GetOrigin",
                                SD_BUS_ARGS("u", pid, "t", instance, "x", at),
                                SD_BUS_RESULT("a{sv}", reply),
                                method_query, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetAncestors",
                                SD_BUS_ARGS("u", pid, "t", instance, "x", at),
                                SD_BUS_RESULT("a{sv}", reply),
                                method_query, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetDescendants",
                                SD_BUS_ARGS("u", pid, "t", instance, "x", at, "u", limit, "b", aliveOnly),
                                SD_BUS_RESULT("a{sv}", reply),
                                method_query, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetCaba",
                                SD_BUS_ARGS("u", pid, "t", instance),
                                SD_BUS_RESULT("a{sv}", reply),
                                method_query, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetHistory",
                                SD_BUS_ARGS("u", pid, "t", instance, "x", at, "u", limit),
                                SD_BUS_RESULT("a{sv}", reply),
                                method_query, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Resolve",
                                SD_BUS_ARGS("u", pid, "x", at, "s", bootId),
                                SD_BUS_RESULT("a{sv}", reply),
                                method_query, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ResolveBatch",
                                SD_BUS_ARGS("a(suxx)", queries),
                                SD_BUS_RESULT("a{sv}", reply),
                                method_query, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListLogins",
                                SD_BUS_ARGS("x", loginUid, "x", since, "x", until, "b", aliveOnly, "u", limit),
                                SD_BUS_RESULT("a{sv}", reply),
                                method_query, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Search",
                                SD_BUS_ARGS("s", exe, "s", comm, "s", argv, "x", uid, "t", loginInstance,
                                            "u", auditSession, "s", bootId, "x", since, "x", until,
                                            "b", aliveOnly, "u", limit),
                                SD_BUS_RESULT("a{sv}", reply),
                                method_query, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetStatus",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a{sv}", reply),
                                method_query, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Watch",
                                SD_BUS_ARGS("u", pid, "t", instance, "as", types),
                                SD_BUS_RESULT("o", subscription),
                                method_query, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Unwatch",
                                SD_BUS_ARGS("o", subscription),
                                SD_BUS_NO_RESULT,
                                method_unwatch, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Event", SD_BUS_ARGS("a{sv}", reply), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Ended", SD_BUS_ARGS("s", error), 0),
        SD_BUS_VTABLE_END,
};

/* ---- connection ---- */

/* After the bus went away (dbus-daemon restarted): first try after a second, then less and less often. */
#define RECONNECT_FIRST_USEC UINT64_C(1000000)
#define RECONNECT_MAX_USEC UINT64_C(30000000)

static void schedule_reconnect(LineageDbus *d);

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        LineageDbus *d = userdata;

        log_warning("Lost the D-Bus connection; serving varlink meanwhile and reconnecting.");
        d->disconnected = true;
        for (DbusWatch *w = d->watches; w; w = w->next)
                watch_end(w, NULL);
        d->retry_usec = RECONNECT_FIRST_USEC;
        schedule_reconnect(d);
        return 0;
}

static int bus_connect(const char *address, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (streq(address, "system"))
                r = sd_bus_open_system_with_description(&bus, "lineaged");
        else if (streq(address, "session"))
                r = sd_bus_open_user_with_description(&bus, "lineaged");
        else {
                r = sd_bus_new(&bus);
                if (r < 0)
                        return r;
                r = sd_bus_set_address(bus, address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, true);
                if (r >= 0)
                        r = sd_bus_set_description(bus, "lineaged");
                if (r >= 0)
                        r = sd_bus_start(bus);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

static int on_name_acquired(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e)
                log_warning("Failed to acquire the D-Bus name %s after reconnecting: %s", LINEAGE_DBUS_NAME,
                            e->message ?: e->name);
        else
                log_info("Serving %s on D-Bus again.", LINEAGE_DBUS_NAME);
        return 0;
}

/* Connects, registers the object and asks for the name: synchronously at start-up (the loop is not
 * running yet, and the answer decides whether to go on without D-Bus), asynchronously on a reconnect. */
static int bus_setup(LineageDbus *d, bool at_start) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = bus_connect(d->address, &bus);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(bus, NULL, LINEAGE_DBUS_PATH, LINEAGE_DBUS_INTERFACE, lineage_vtable, d);
        if (r < 0)
                return log_error_errno(r, "Failed to register the D-Bus object: %m");
        r = sd_bus_match_signal(bus, NULL, DBUS_LOCAL_SERVICE, DBUS_LOCAL_OBJECT, DBUS_LOCAL_SERVICE, "Disconnected",
                                on_disconnected, d);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the D-Bus connection: %m");
        if (at_start)
                r = sd_bus_request_name(bus, LINEAGE_DBUS_NAME, 0);
        else
                r = sd_bus_request_name_async(bus, NULL, LINEAGE_DBUS_NAME, 0, on_name_acquired, d);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(bus, d->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach D-Bus to the event loop: %m");
        d->bus = TAKE_PTR(bus);
        d->disconnected = false;
        return 0;
}

/* Drops the dead connection and all that hangs on it (calls waiting for credentials, ended watches). */
static void bus_drop(LineageDbus *d) {
        while (d->calls)
                dbus_call_free(d->calls);
        while (d->watches)
                dbus_watch_free(d->watches);
        if (d->bus) {
                (void) sd_bus_detach_event(d->bus);
                d->bus = sd_bus_flush_close_unref(d->bus);
        }
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        LineageDbus *d = userdata;
        int r;

        /* Outside the old connection's callbacks, so it can go now. */
        bus_drop(d);
        r = bus_setup(d, false);
        if (r < 0) {
                log_debug_errno(r, "Reconnecting to D-Bus '%s' failed, next try in %" PRIu64 " s: %m", d->address,
                                d->retry_usec / UINT64_C(1000000));
                schedule_reconnect(d);
                return 0;
        }
        log_info("Reconnected to D-Bus (%s).", d->address);
        return 0;
}

static void schedule_reconnect(LineageDbus *d) {
        uint64_t delay = d->retry_usec;
        int r;

        d->retry_usec = MIN(d->retry_usec * 2, RECONNECT_MAX_USEC);
        if (!d->retry)
                r = sd_event_add_time_relative(d->event, &d->retry, CLOCK_MONOTONIC, delay, 0, on_retry, d);
        else
                r = sd_event_source_set_time_relative(d->retry, delay);
        if (r >= 0)
                r = sd_event_source_set_enabled(d->retry, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning_errno(r, "Failed to schedule a D-Bus reconnect, continuing without D-Bus: %m");
}

int lineage_dbus_new(LineageDbus **ret, sd_event *e, Query *q, const char *bus) {
        _cleanup_(lineage_dbus_freep) LineageDbus *d = NULL;
        int r;

        if (!bus || streq(bus, "none")) {
                *ret = NULL;
                return 0;
        }
        d = calloc(1, sizeof(LineageDbus));
        if (!d)
                return log_oom();
        d->event = sd_event_ref(e);
        d->query = q;
        d->address = strdup(bus);
        if (!d->address)
                return log_oom();
        r = sd_event_add_defer(e, &d->reap, on_reap, d);
        if (r >= 0)
                r = sd_event_source_set_enabled(d->reap, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the D-Bus watch reaper: %m");

        r = bus_setup(d, true);
        if (r == -EEXIST) {
                log_warning("The D-Bus name %s is owned by another process, continuing without D-Bus.",
                            LINEAGE_DBUS_NAME);
                *ret = NULL;
                return 0;
        }
        if (r < 0) {
                log_warning_errno(r, "Failed to connect to D-Bus '%s' or to acquire the name %s there, continuing "
                                  "without D-Bus: %m", bus, LINEAGE_DBUS_NAME);
                *ret = NULL;
                return 0;
        }
        log_info("Serving %s on D-Bus (%s).", LINEAGE_DBUS_NAME, bus);
        *ret = TAKE_PTR(d);
        return 0;
}

LineageDbus *lineage_dbus_free(LineageDbus *d) {
        if (!d)
                return NULL;
        bus_drop(d);
        sd_event_source_disable_unref(d->reap);
        sd_event_source_disable_unref(d->retry);
        sd_event_unref(d->event);
        free(d->address);
        free(d);
        return NULL;
}
