/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* varlink: a non-blocking varlink server (varlink.org protocol over AF_UNIX) on sd-event and json-c. */
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "hashmap.h"
#include "varlink-internal.h"

/* Buffers start small and shrink back when idle: most connections carry a few hundred bytes. */
#define BUFFER_INITIAL (4U * 1024U)
#define BUFFER_KEEP (64U * 1024U)
/* Bounded work per wakeup, so one busy client cannot starve the others (epoll is level-triggered). */
#define ROUNDS_PER_WAKEUP 64U
/* Output a connection may have queued (not yet taken by the socket) for its next call to be dispatched. */
#define DISPATCH_OUTPUT_MAX (64U * 1024U)
#define ACCEPTS_PER_WAKEUP 256U
#define ACCEPT_PAUSE_USEC (250U * USEC_PER_MSEC)

static const char service_description[] =
        "# The Varlink Service Interface is provided by every varlink service. It\n"
        "# describes the service and the interfaces it implements.\n"
        "interface org.varlink.service\n"
        "\n"
        "# Get a list of all the interfaces a service provides and information\n"
        "# about the implementation.\n"
        "method GetInfo() -> (\n"
        "  vendor: string,\n"
        "  product: string,\n"
        "  version: string,\n"
        "  url: string,\n"
        "  interfaces: []string\n"
        ")\n"
        "\n"
        "# Get the description of an interface that is implemented by this service.\n"
        "method GetInterfaceDescription(interface: string) -> (description: string)\n"
        "\n"
        "# The requested interface was not found.\n"
        "error InterfaceNotFound (interface: string)\n"
        "\n"
        "# The requested method was not found\n"
        "error MethodNotFound (method: string)\n"
        "\n"
        "# The interface defines the requested method, but the service does not\n"
        "# implement it.\n"
        "error MethodNotImplemented (method: string)\n"
        "\n"
        "# One of the passed parameters is invalid.\n"
        "error InvalidParameter (parameter: string)\n"
        "\n"
        "# Client is denied access\n"
        "error PermissionDenied ()\n"
        "\n"
        "# Method is expected to be called with 'more' set to true, but wasn't\n"
        "error ExpectedMore ()\n";

static const VarlinkLimits limits_default = {
        .max_message_size = 1024U * 1024U,
        .max_output_buffer = VARLINK_MAX_OUTPUT_BUFFER,
        .max_reply_size = 64U * 1024U * 1024U,
        .max_connections = VARLINK_MAX_CONNECTIONS,
        .root_connections = VARLINK_ROOT_CONNECTIONS,
        .max_connections_per_uid = VARLINK_MAX_CONNECTIONS_PER_UID,
        .max_output_per_uid = VARLINK_OUTPUT_PER_UID,
        .max_output_total = VARLINK_OUTPUT_TOTAL,
        .max_output_root = VARLINK_OUTPUT_ROOT,
};

/* Key of the connections without credentials (not on AF_UNIX): one unprivileged "user" together. */
#define UID_UNKNOWN ((uint64_t) UINT32_MAX + 1)

typedef enum CallState {
        CALL_PENDING,
        CALL_REPLIED,
        CALL_CANCELLED,
} CallState;

struct VarlinkListener {
        VarlinkServer *server;
        int fd;
        sd_event_source *source;
        char *path; /* set when we created the socket node: unlinked on free if still ours */
        dev_t dev;
        ino_t ino;
};

/* What the connections of one peer uid hold together. */
typedef struct VarlinkUser {
        uint64_t key;                   /* the uid, or UID_UNKNOWN */
        unsigned n_connections;
        size_t output;                  /* bytes queued for them */
} VarlinkUser;

struct VarlinkConnection {
        VarlinkServer *server;
        VarlinkConnection *prev, *next;
        int fd;
        sd_event_source *source;
        sd_event_source *more;          /* continues work left over when a wakeup's rounds ran out */
        struct ucred ucred;
        bool have_ucred;
        bool privileged;                /* uid 0 (in the server's user namespace) */
        VarlinkUser *user;

        /* Input: [in_start, in_end) is unconsumed; no NUL in [in_start, in_scanned). Pipelined calls wait
         * here unparsed, so max_message_size bounds them too. */
        char *in;
        size_t in_alloc, in_start, in_end, in_scanned;
        /* Output: [out_start, out_end) is queued for the socket. */
        char *out;
        size_t out_alloc, out_start, out_end;
        uint64_t out_sent;              /* bytes of out ever sent: out_start's offset in the stream */
        bool out_partial;               /* the send stopped within a message */
        size_t accounted;               /* output size last added to the user's and server's totals */
        /* A reply in pieces (varlink_call_reply_iov), sent after out; nothing is dispatched meanwhile. */
        char *big_base;
        struct iovec *big_iov;
        size_t big_n, big_i, big_left;

        VarlinkCall *current; /* dispatched, awaiting its final reply; holds a reference */
        bool read_eof;        /* the client shut down its sending side */
        bool hup;             /* the client is gone */
};

struct VarlinkCall {
        unsigned n_ref;
        CallState state;
        VarlinkConnection *connection; /* set while pending on a live connection (never for oneway) */
        VarlinkMessage message;
        struct ucred ucred;
        bool have_ucred;
        VarlinkCancel cancel;
        void *cancel_userdata;
        VarlinkOverflow overflow;
        void *overflow_userdata;
        bool overflowed;                /* notifications dropped for a budget: the owner ends it */
        uint64_t stream_start;          /* offset in the output stream of the first notification */
        uint64_t notified;              /* notifications queued */
        uint64_t dropped;               /* notifications not delivered */
};

/* ---- calls ---- */

VarlinkCall *varlink_call_ref(VarlinkCall *call) {
        if (call)
                call->n_ref++;
        return call;
}

VarlinkCall *varlink_call_unref(VarlinkCall *call) {
        if (!call || --call->n_ref > 0)
                return NULL;
        varlink_message_done(&call->message);
        free(call);
        return NULL;
}

bool varlink_call_wants_more(VarlinkCall *call) {
        return call && call->message.more;
}

bool varlink_call_is_oneway(VarlinkCall *call) {
        return call && call->message.oneway;
}

bool varlink_call_is_pending(VarlinkCall *call) {
        return call && call->state == CALL_PENDING;
}

const char *varlink_call_get_method(VarlinkCall *call) {
        return call ? call->message.method : NULL;
}

json_object *varlink_call_get_parameters(VarlinkCall *call) {
        return call ? call->message.parameters : NULL;
}

int varlink_call_get_peer_credentials(VarlinkCall *call, struct ucred *ret) {
        if (!call || !ret)
                return -EINVAL;
        if (!call->have_ucred)
                return -ENODATA;
        *ret = call->ucred;
        return 0;
}

void varlink_call_set_cancel(VarlinkCall *call, VarlinkCancel cancel, void *userdata) {
        if (!call)
                return;
        call->cancel = cancel;
        call->cancel_userdata = userdata;
}

void varlink_call_set_overflow(VarlinkCall *call, VarlinkOverflow overflow, void *userdata) {
        if (!call)
                return;
        call->overflow = overflow;
        call->overflow_userdata = userdata;
}

uint64_t varlink_call_get_dropped(VarlinkCall *call) {
        return call ? call->dropped : 0;
}

static size_t connection_output_size(VarlinkConnection *c) {
        return c->out_end - c->out_start + c->big_left;
}

/* ---- output budgets ---- */

/* Brings the user's and the server's totals up to date with what c has queued now. */
static void connection_account(VarlinkConnection *c) {
        VarlinkServer *s = c->server;
        size_t now = connection_output_size(c);

        if (c->privileged)
                s->output_root = s->output_root - c->accounted + now;
        else
                s->output_unprivileged = s->output_unprivileged - c->accounted + now;
        c->user->output = c->user->output - c->accounted + now;
        s->stats.output_queued = s->stats.output_queued - c->accounted + now;
        c->accounted = now;
}

static size_t room_left(size_t budget, size_t used) {
        return used < budget ? budget - used : 0;
}

static size_t connection_output_room(VarlinkConnection *c) {
        const VarlinkServer *s = c->server;

        if (c->privileged)
                return room_left(s->limits.max_output_root, s->output_root);
        return MIN(room_left(s->limits.max_output_per_uid, c->user->output),
                   room_left(s->limits.max_output_total, s->output_unprivileged));
}

size_t varlink_call_output_room(VarlinkCall *call) {
        return call && call->connection ? connection_output_room(call->connection) : 0;
}

/* The budget that adding need bytes to c would exceed: whose streams may be dropped to make room. */
typedef enum BudgetScope {
        SCOPE_NONE,
        SCOPE_ROOT,             /* uid 0's connections */
        SCOPE_USER,             /* the connections of c's uid */
        SCOPE_UNPRIVILEGED,     /* all but uid 0's */
} BudgetScope;

static BudgetScope connection_over_budget(VarlinkConnection *c, size_t need) {
        const VarlinkServer *s = c->server;

        if (c->privileged)
                return need > room_left(s->limits.max_output_root, s->output_root) ? SCOPE_ROOT : SCOPE_NONE;
        if (need > room_left(s->limits.max_output_per_uid, c->user->output))
                return SCOPE_USER;
        if (need > room_left(s->limits.max_output_total, s->output_unprivileged))
                return SCOPE_UNPRIVILEGED;
        return SCOPE_NONE;
}

static bool connection_in_scope(VarlinkConnection *v, VarlinkConnection *c, BudgetScope scope) {
        switch (scope) {
        case SCOPE_ROOT:
                return v->privileged;
        case SCOPE_USER:
                return v->user == c->user;
        case SCOPE_UNPRIVILEGED:
                return !v->privileged;
        default:
                return false;
        }
}

/* Where the notifications of c's stream that may be dropped begin: after the message being sent and
 * after the replies to earlier calls. */
static size_t connection_stream_cut(VarlinkConnection *c) {
        size_t pos = c->out_start, queued = c->out_end - c->out_start;

        if (c->out_partial) {
                char *nul = memchr(c->out + pos, 0, queued);

                pos = nul ? (size_t) (nul - c->out) + 1 : c->out_end;
        }
        if (c->current->stream_start > c->out_sent)
                pos = MAX(pos, c->out_start + (size_t) MIN(c->current->stream_start - c->out_sent, (uint64_t) queued));
        return pos;
}

/* Cheap on purpose, as it is asked of every connection: whether dropping frees anything (the queue may
 * be one message being sent) is left to the drop, which marks the stream either way, so the search for
 * room ends. */
static bool connection_stream_droppable(VarlinkConnection *c) {
        VarlinkCall *call = c->current;

        return call && call->message.more && call->state == CALL_PENDING && call->notified > 0 && !call->overflowed &&
               call->overflow && c->out_end > c->out_start;
}

static void call_set_overflowed(VarlinkCall *call, VarlinkServer *s) {
        if (call->overflowed)
                return;
        call->overflowed = true;
        s->stats.streams_dropped++;
}

/* A queue much smaller than its buffer gives the buffer back (the stream was dropped). */
static void connection_shrink_output(VarlinkConnection *c) {
        size_t used = c->out_end - c->out_start, a = MAX(used, (size_t) BUFFER_INITIAL);
        char *p;

        if (c->out_alloc <= BUFFER_KEEP || used > c->out_alloc / 4)
                return;
        memmove(c->out, c->out + c->out_start, used);
        c->out_start = 0;
        c->out_end = used;
        p = realloc(c->out, a);
        if (p) {
                c->out = p;
                c->out_alloc = a;
        }
}

/* Forgets the notifications of c's stream that the client has not begun to read, and marks the stream
 * for ending: what the budget needs back. */
static void connection_drop_stream(VarlinkConnection *c) {
        VarlinkCall *call = c->current;
        size_t cut = connection_stream_cut(c);

        for (size_t k = cut; k < c->out_end; k++)
                if (c->out[k] == 0)
                        call->dropped++;
        c->out_end = cut;
        call_set_overflowed(call, c->server);
        connection_shrink_output(c);
        connection_account(c);
}

/* The stream in scope with the most queued: c itself if stream is set and none has more; without
 * stream only one that has more queued than c. NULL if there is none. */
static VarlinkConnection *server_slowest_stream(VarlinkServer *s, VarlinkConnection *c, BudgetScope scope, bool stream) {
        VarlinkConnection *best = stream ? c : NULL;
        size_t best_size = connection_output_size(c);

        for (VarlinkConnection *v = s->connections; v; v = v->next) {
                size_t size;

                if (v == c || !connection_in_scope(v, c, scope) || !connection_stream_droppable(v))
                        continue;
                size = connection_output_size(v);
                if (size > best_size) {
                        best = v;
                        best_size = size;
                }
        }
        return best;
}

static void connection_schedule_more(VarlinkConnection *c);

/* Makes room for need more bytes on c by dropping the slowest streams of the budget it would exceed.
 * -ENOBUFS when that is not enough (or c's own stream is the slowest: stream set). */
static int connection_make_room(VarlinkConnection *c, size_t need, bool stream) {
        BudgetScope scope;

        while ((scope = connection_over_budget(c, need)) != SCOPE_NONE) {
                VarlinkConnection *v = server_slowest_stream(c->server, c, scope, stream);

                if (!v || v == c)
                        return -ENOBUFS;
                log_debug("varlink: dropping the stream of pid %d (%zu bytes queued) to keep within the output budget",
                          v->have_ucred ? (int) v->ucred.pid : -1, connection_output_size(v));
                connection_drop_stream(v);
                /* Its owner ends it from the loop: we may be inside another stream's event delivery. */
                connection_schedule_more(v);
        }
        return 0;
}

static void connection_big_free(VarlinkConnection *c) {
        free(c->big_base);
        free(c->big_iov);
        c->big_base = NULL;
        c->big_iov = NULL;
        c->big_n = c->big_i = c->big_left = 0;
}

static void connection_update_events(VarlinkConnection *c) {
        uint32_t events = 0;

        if (!c->read_eof && !c->hup && c->in_end - c->in_start < c->server->limits.max_message_size)
                events |= EPOLLIN;
        if (connection_output_size(c) > 0)
                events |= EPOLLOUT;
        (void) sd_event_source_set_io_events(c->source, events);
}

static int connection_append(VarlinkConnection *c, const char *data, size_t len) {
        size_t need;

        if (len >= SIZE_MAX / 4)
                return -ENOBUFS;
        need = len + 1; /* the NUL terminator */
        if (c->out_alloc - c->out_end < need && c->out_start > 0) {
                memmove(c->out, c->out + c->out_start, c->out_end - c->out_start);
                c->out_end -= c->out_start;
                c->out_start = 0;
        }
        if (c->out_alloc - c->out_end < need) {
                size_t a = MAX(MAX(c->out_alloc * 2, c->out_end + need), (size_t) BUFFER_INITIAL);
                char *p = realloc(c->out, a);

                if (!p)
                        return -ENOMEM;
                c->out = p;
                c->out_alloc = a;
        }
        memcpy(c->out + c->out_end, data, len);
        c->out[c->out_end + len] = 0;
        c->out_end += need;
        connection_account(c);
        return 0;
}

static int call_send(VarlinkCall *call, const char *error, json_object *parameters, bool continues) {
        _cleanup_json_ json_object *msg = NULL;
        VarlinkConnection *c;
        const char *text;
        size_t len;
        int r;

        if (!call || (parameters && !json_object_is_type(parameters, json_type_object)))
                return -EINVAL;
        if (call->state != CALL_PENDING)
                return call->state == CALL_CANCELLED ? -ENOTCONN : -EALREADY;
        if (continues && !call->message.more)
                return -EINVAL;
        if (call->message.oneway) {
                call->state = CALL_REPLIED;
                return 0;
        }
        c = call->connection;
        if (!c)
                return -ENOTCONN;
        if (continues && (call->overflowed || connection_output_size(c) >= c->server->limits.max_output_buffer)) {
                call->dropped++;
                call_set_overflowed(call, c->server);
                return -ENOBUFS;
        }

        msg = json_object_new_object();
        if (!msg)
                return -ENOMEM;
        if (error && json_object_object_add(msg, "error", json_object_new_string(error)) < 0)
                return -ENOMEM;
        r = json_object_object_add(msg, "parameters",
                                   parameters ? json_object_get(parameters) : json_object_new_object());
        if (r < 0)
                return -ENOMEM;
        if (continues && json_object_object_add(msg, "continues", json_object_new_boolean(true)) < 0)
                return -ENOMEM;
        text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                 &len);
        if (!text)
                return -ENOMEM;
        /* Errors are small and always go: they are how a refusal is told. */
        if (!error && connection_make_room(c, len + 1, continues) < 0) {
                if (continues) {
                        call->dropped++;
                        if (call->notified > 0)
                                connection_drop_stream(c);
                        call_set_overflowed(call, c->server);
                } else
                        c->server->stats.replies_refused++;
                return -ENOBUFS;
        }
        if (continues && call->notified == 0)
                call->stream_start = c->out_sent + (c->out_end - c->out_start) + c->big_left;
        r = connection_append(c, text, len);
        if (r < 0)
                return r;
        if (continues)
                call->notified++;

        if (error)
                c->server->stats.errors++;
        if (!continues) {
                call->state = CALL_REPLIED;
                call->connection = NULL;
                if (c->current == call)
                        c->current = varlink_call_unref(c->current);
        }
        connection_update_events(c);
        return 0;
}

int varlink_call_reply_iov(VarlinkCall *call, char *base, struct iovec *iov, size_t n_iov) {
        _cleanup_free_ char *b = base;
        _cleanup_free_ struct iovec *v = iov;
        VarlinkConnection *c;
        struct iovec *a;
        size_t size = 0;

        if (!call || !base || !iov || n_iov == 0)
                return -EINVAL;
        if (call->state != CALL_PENDING)
                return call->state == CALL_CANCELLED ? -ENOTCONN : -EALREADY;
        if (call->message.oneway) {
                call->state = CALL_REPLIED;
                return 0;
        }
        c = call->connection;
        if (!c)
                return -ENOTCONN;
        if (c->big_iov) /* cannot happen: no call is dispatched while one is queued */
                return -EBUSY;
        for (size_t k = 0; k < n_iov; k++)
                size += iov[k].iov_len;
        if (size > c->server->limits.max_reply_size)
                return -E2BIG;
        if (connection_make_room(c, size + 1, false) < 0) {
                c->server->stats.replies_refused++;
                return -ENOBUFS;
        }
        a = reallocarray(v, n_iov + 1, sizeof(struct iovec)); /* and the NUL terminator */
        if (!a)
                return -ENOMEM;
        v = a;
        v[n_iov++] = (struct iovec) { .iov_base = (char *) "", .iov_len = 1 };
        c->big_base = TAKE_PTR(b);
        c->big_iov = TAKE_PTR(v);
        c->big_n = n_iov;
        c->big_i = 0;
        c->big_left = size + 1;
        connection_account(c);

        call->state = CALL_REPLIED;
        call->connection = NULL;
        if (c->current == call)
                c->current = varlink_call_unref(c->current);
        connection_update_events(c);
        return 0;
}

int varlink_call_reply(VarlinkCall *call, json_object *parameters) {
        return call_send(call, NULL, parameters, false);
}

int varlink_call_reply_error(VarlinkCall *call, const char *error, json_object *parameters) {
        if (!error)
                return -EINVAL;
        return call_send(call, error, parameters, false);
}

int varlink_call_notify(VarlinkCall *call, json_object *parameters) {
        return call_send(call, NULL, parameters, true);
}

static int call_reply_error_string(VarlinkCall *call, const char *error, const char *key, const char *value) {
        _cleanup_json_ json_object *p = json_object_new_object();

        if (!p || json_object_object_add(p, key, json_object_new_string(value)) < 0)
                return -ENOMEM;
        return varlink_call_reply_error(call, error, p);
}

int varlink_call_reply_invalid_parameter(VarlinkCall *call, const char *parameter) {
        if (!parameter)
                return -EINVAL;
        return call_reply_error_string(call, VARLINK_ERROR_INVALID_PARAMETER, "parameter", parameter);
}

/* ---- the org.varlink.service interface ---- */

/* Replies InvalidParameter naming the first key that is not in allowed; 1 if it did, 0 if none. */
static int reply_unknown_parameter(VarlinkCall *call, json_object *parameters, const char *allowed) {
        json_object_object_foreach(parameters, key, value) {
                (void) value;
                if (!allowed || !streq(key, allowed)) {
                        int r = varlink_call_reply_invalid_parameter(call, key);
                        return r < 0 ? r : 1;
                }
        }
        return 0;
}

static int method_get_info(VarlinkCall *call, json_object *parameters, void *userdata) {
        VarlinkServer *s = userdata;
        _cleanup_json_ json_object *reply = NULL;
        json_object *list;
        int r;

        r = reply_unknown_parameter(call, parameters, NULL);
        if (r != 0)
                return r;
        reply = json_object_new_object();
        list = json_object_new_array();
        if (!reply || json_object_object_add(reply, "interfaces", list) < 0) {
                json_object_put(list);
                return -ENOMEM;
        }
        if (json_object_object_add(reply, "vendor", json_object_new_string(s->vendor)) < 0 ||
            json_object_object_add(reply, "product", json_object_new_string(s->product)) < 0 ||
            json_object_object_add(reply, "version", json_object_new_string(s->version)) < 0 ||
            json_object_object_add(reply, "url", json_object_new_string(s->url)) < 0)
                return -ENOMEM;
        for (size_t k = 0; k < s->n_interfaces; k++)
                if (json_object_array_add(list, json_object_new_string(s->interfaces[k].name)) < 0)
                        return -ENOMEM;
        return varlink_call_reply(call, reply);
}

static int method_get_interface_description(VarlinkCall *call, json_object *parameters, void *userdata) {
        VarlinkServer *s = userdata;
        _cleanup_json_ json_object *reply = NULL;
        VarlinkInterface *i;
        json_object *name;
        int r;

        r = reply_unknown_parameter(call, parameters, "interface");
        if (r != 0)
                return r;
        if (!json_object_object_get_ex(parameters, "interface", &name) ||
            !json_object_is_type(name, json_type_string))
                return varlink_call_reply_invalid_parameter(call, "interface");
        i = server_find_interface(s, json_object_get_string(name), (size_t) json_object_get_string_len(name));
        if (!i)
                return call_reply_error_string(call, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface",
                                               json_object_get_string(name));
        reply = json_object_new_object();
        if (!reply || json_object_object_add(reply, "description", json_object_new_string(i->description)) < 0)
                return -ENOMEM;
        return varlink_call_reply(call, reply);
}

/* ---- connections ---- */

static VarlinkConnection *connection_free(VarlinkConnection *c) {
        VarlinkServer *s;

        if (!c)
                return NULL;
        s = c->server;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->stats.n_connections--;
        s->stats.disconnects++;

        c->source = sd_event_source_disable_unref(c->source);
        c->more = sd_event_source_disable_unref(c->more);
        closep(&c->fd);

        if (c->current) {
                VarlinkCall *call = TAKE_PTR(c->current);

                call->state = CALL_CANCELLED;
                call->connection = NULL;
                s->stats.cancelled++;
                if (call->cancel)
                        call->cancel(call, call->cancel_userdata);
                varlink_call_unref(call);
        }
        free(c->in);
        free(c->out);
        c->out = NULL;
        c->out_start = c->out_end = 0;
        connection_big_free(c);
        connection_account(c);
        if (!c->privileged)
                s->n_unprivileged--;
        if (--c->user->n_connections == 0)
                free(hashmap_remove(s->users, c->user->key));
        free(c);

        /* A slot is free again: resume accepting if EMFILE had paused it. */
        for (size_t k = 0; k < s->n_listeners; k++)
                (void) sd_event_source_set_enabled(s->listeners[k]->source, SD_EVENT_ON);
        return NULL;
}

/* Finds the next complete message: 1 and the message, 0 if none is complete yet, -EMSGSIZE. */
static int connection_next_message(VarlinkConnection *c, const char **ret, size_t *ret_len) {
        size_t max = c->server->limits.max_message_size, start = c->in_start, len;
        char *nul;

        nul = c->in_scanned < c->in_end ? memchr(c->in + c->in_scanned, 0, c->in_end - c->in_scanned) : NULL;
        if (!nul) {
                c->in_scanned = c->in_end;
                return c->in_end - c->in_start >= max ? -EMSGSIZE : 0;
        }
        len = (size_t) (nul - (c->in + start));
        if (len >= max)
                return -EMSGSIZE;
        c->in_start = c->in_scanned = (size_t) (nul - c->in) + 1;
        *ret = c->in + start;
        *ret_len = len;
        return 1;
}

static int call_new(VarlinkCall **ret, VarlinkConnection *c, VarlinkMessage *m) {
        VarlinkCall *call = calloc(1, sizeof(VarlinkCall));

        if (!call)
                return -ENOMEM;
        *call = (VarlinkCall) {
                .n_ref = 1,
                .state = CALL_PENDING,
                .message = *m,
                .ucred = c->ucred,
                .have_ucred = c->have_ucred,
        };
        *m = (VarlinkMessage) {};
        *ret = call;
        return 0;
}

static int call_dispatch(VarlinkServer *s, VarlinkCall *call) {
        const char *method = call->message.method;
        size_t ilen = method_name_split(method, strlen(method));
        VarlinkInterface *i;
        VarlinkBinding *b;
        int r;

        /* Contradicting or unsupported flags: answered even for oneway, since the client asked for replies. */
        if (call->message.upgrade || (call->message.oneway && call->message.more)) {
                call->message.oneway = call->message.more = false;
                return varlink_call_reply_invalid_parameter(call, call->message.upgrade ? "upgrade" : "more");
        }

        i = server_find_interface(s, method, ilen);
        if (!i) {
                _cleanup_free_ char *name = strndup(method, ilen);

                if (!name)
                        return -ENOMEM;
                return call_reply_error_string(call, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", name);
        }
        if (!interface_has_method(i, method + ilen + 1))
                return call_reply_error_string(call, VARLINK_ERROR_METHOD_NOT_FOUND, "method", method);
        b = server_find_binding(s, method);
        if (!b)
                return call_reply_error_string(call, VARLINK_ERROR_METHOD_NOT_IMPLEMENTED, "method", method);

        r = b->callback(call, call->message.parameters, b->userdata);
        if (r >= 0)
                return 0;
        log_debug_errno(r, "varlink: method %s failed: %m", method);
        if (call->state == CALL_PENDING && !call->message.oneway) {
                _cleanup_json_ json_object *p = json_object_new_object();

                if (!p || json_object_object_add(p, "errno", json_object_new_int(-r)) < 0)
                        return -ENOMEM;
                return varlink_call_reply_error(call, VARLINK_ERROR_INTERNAL, p);
        }
        return 0;
}

static int connection_dispatch_one(VarlinkConnection *c, const char *text, size_t len) {
        _cleanup_(varlink_call_unrefp) VarlinkCall *call = NULL;
        VarlinkMessage m = {};
        int r;

        r = varlink_message_parse(text, len, &m);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        c->server->stats.calls++;
        r = call_new(&call, c, &m);
        if (r < 0) {
                varlink_message_done(&m);
                return r;
        }
        if (!call->message.oneway || call->message.more || call->message.upgrade) {
                call->connection = c;
                c->current = varlink_call_ref(call);
        }
        r = call_dispatch(c->server, call);
        if (call->message.oneway)
                call->state = CALL_REPLIED; /* finished with the callback: nothing to wait for */
        return r == -ENOMEM ? r : 0;
}

/* Dispatches complete messages while no call is pending and the replies already made have (nearly)
 * all gone into the socket. A client that pipelines large calls then reads reply N while the next call
 * is being answered, instead of waiting for the rest of reply N behind it: the two sides overlap. */
static int connection_dispatch(VarlinkConnection *c) {
        int n = 0, r;

        while (!c->current && !c->big_iov && connection_output_size(c) < DISPATCH_OUTPUT_MAX) {
                const char *text;
                size_t len;

                r = connection_next_message(c, &text, &len);
                if (r <= 0)
                        return r < 0 ? r : n;
                r = connection_dispatch_one(c, text, len);
                if (r < 0)
                        return r;
                n++;
        }
        return n;
}

static int connection_read(VarlinkConnection *c) {
        size_t max = c->server->limits.max_message_size;
        ssize_t n;

        if (c->read_eof || c->in_end - c->in_start >= max)
                return 0;
        if (c->in_start > 0) {
                memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
                c->in_end -= c->in_start;
                c->in_scanned -= c->in_start;
                c->in_start = 0;
        }
        if (c->in_end == c->in_alloc) {
                size_t a = MIN(MAX(c->in_alloc * 2, (size_t) BUFFER_INITIAL), max);
                char *p = realloc(c->in, a);

                if (!p)
                        return -ENOMEM;
                c->in = p;
                c->in_alloc = a;
        }
        n = recv(c->fd, c->in + c->in_end, MIN(c->in_alloc, max) - c->in_end, MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0)
                c->read_eof = true;
        c->in_end += (size_t) n;
        return 1;
}

static int connection_write(VarlinkConnection *c) {
        int progress = 0;

        while (c->out_start < c->out_end) {
                ssize_t n = send(c->fd, c->out + c->out_start, c->out_end - c->out_start,
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return progress;
                        return -errno;
                }
                if (n == 0)
                        break;
                c->out_start += (size_t) n;
                c->out_sent += (uint64_t) n;
                c->out_partial = c->out[c->out_start - 1] != 0;
                progress = 1;
        }
        while (c->big_iov) {
                struct msghdr mh = {
                        .msg_iov = c->big_iov + c->big_i,
                        .msg_iovlen = MIN(c->big_n - c->big_i, (size_t) IOV_MAX),
                };
                ssize_t n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
                size_t k;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return -errno;
                }
                progress = 1;
                c->big_left -= (size_t) n;
                for (k = (size_t) n; c->big_i < c->big_n && k >= c->big_iov[c->big_i].iov_len; c->big_i++)
                        k -= c->big_iov[c->big_i].iov_len;
                if (c->big_i == c->big_n) {
                        connection_big_free(c);
                        break;
                }
                c->big_iov[c->big_i].iov_base = (char *) c->big_iov[c->big_i].iov_base + k;
                c->big_iov[c->big_i].iov_len -= k;
        }
        if (progress)
                connection_account(c);
        return progress;
}

/* Gives memory of idle buffers back: a one-off large message should not pin its buffer forever. */
static void connection_trim(VarlinkConnection *c) {
        if (c->in_start == c->in_end) {
                c->in_start = c->in_end = c->in_scanned = 0;
                if (c->in_alloc > BUFFER_KEEP) {
                        free(c->in);
                        c->in = NULL;
                        c->in_alloc = 0;
                }
        }
        if (c->out_start == c->out_end) {
                c->out_start = c->out_end = 0;
                if (c->out_alloc > BUFFER_KEEP) {
                        free(c->out);
                        c->out = NULL;
                        c->out_alloc = 0;
                }
        }
}

/* 0: keep the connection; 1: close it, all done; < 0: close it, failed. */
static int connection_more(sd_event_source *source, void *userdata);

/* The rounds of one wakeup ran out with work left: calls already read into the buffer would wait
 * for a socket event that never comes. Continue on the next loop iteration, after other clients. */
static void connection_schedule_more(VarlinkConnection *c) {
        if (!c->more) {
                if (sd_event_add_defer(c->server->event, &c->more, connection_more, c) < 0)
                        return;
        }
        (void) sd_event_source_set_enabled(c->more, SD_EVENT_ONESHOT);
}

/* The server dropped the notifications of the current stream for a budget: its owner ends it now. */
static void connection_end_overflowed(VarlinkConnection *c) {
        VarlinkCall *call = c->current;
        VarlinkOverflow overflow;

        if (!call || !call->overflowed || !call->overflow)
                return;
        overflow = TAKE_PTR(call->overflow);
        varlink_call_ref(call);
        overflow(call, call->overflow_userdata);
        varlink_call_unref(call);
}

static int connection_process(VarlinkConnection *c) {
        bool progress = false;
        int r;

        connection_end_overflowed(c);
        for (unsigned round = 0; round < ROUNDS_PER_WAKEUP; round++) {
                progress = false;

                r = connection_dispatch(c);
                if (r < 0)
                        return r;
                progress |= r > 0;
                r = connection_write(c);
                if (r < 0)
                        return r;
                progress |= r > 0;
                r = connection_read(c);
                if (r < 0)
                        return r;
                progress |= r > 0;
                if (!progress)
                        break;
        }
        if (progress)
                connection_schedule_more(c);
        connection_trim(c);
        /* The client is gone: what it sent has been read and dispatched as far as possible. */
        if (c->hup)
                return 1;
        if (c->read_eof && !c->current && connection_output_size(c) == 0)
                return 1;
        connection_update_events(c);
        return 0;
}

static int connection_run(VarlinkConnection *c);

static int connection_more(sd_event_source *source, void *userdata) {
        return connection_run(userdata);
}

static int connection_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        VarlinkConnection *c = userdata;

        if (revents & (EPOLLHUP | EPOLLERR))
                c->hup = true;
        return connection_run(c);
}

static int connection_run(VarlinkConnection *c) {
        VarlinkServer *s = c->server;
        int r;

        r = connection_process(c);
        if (r == 0)
                return 0;
        if (r == -EBADMSG || r == -EMSGSIZE) {
                /* Replies to the good calls before the bad one go out if the socket takes them now. */
                (void) connection_write(c);
                s->stats.protocol_errors++;
                log_debug_errno(r, "varlink: client (pid %d) broke the protocol, disconnecting: %m",
                                c->have_ucred ? (int) c->ucred.pid : -1);
        } else if (r < 0)
                log_debug_errno(r, "varlink: connection failed, disconnecting: %m");
        connection_free(c);
        return 0;
}

/* Is there a slot for one more connection of this peer? uid 0 may take the last root_connections ones,
 * which no other uid can: however many uids one person has (user namespaces), root gets in. */
static bool server_has_slot(VarlinkServer *s, bool privileged, VarlinkUser *u) {
        const VarlinkLimits *l = &s->limits;

        if (s->stats.n_connections >= l->max_connections)
                return false;
        if (privileged)
                return true;
        return s->n_unprivileged < l->max_connections - l->root_connections &&
               (!u || u->n_connections < l->max_connections_per_uid);
}

static int server_get_user(VarlinkServer *s, uint64_t key, VarlinkUser **ret) {
        VarlinkUser *u = hashmap_get(s->users, key);
        int r;

        if (!u) {
                u = calloc(1, sizeof(VarlinkUser));
                if (!u)
                        return -ENOMEM;
                u->key = key;
                r = hashmap_put(s->users, key, u);
                if (r < 0) {
                        free(u);
                        return r;
                }
        }
        *ret = u;
        return 0;
}

/* Takes ownership of fd only on success. */
static int server_add_connection(VarlinkServer *s, int fd) {
        VarlinkConnection *c;
        VarlinkUser *u;
        socklen_t sl = sizeof(struct ucred);
        struct ucred ucred = {};
        bool have_ucred, privileged;
        uint64_t key;
        int r;

        have_ucred = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &ucred, &sl) >= 0 && sl == sizeof(ucred);
        /* SO_PEERCRED gives the uid as seen from our user namespace: a user namespace's root is not 0 here. */
        privileged = have_ucred && ucred.uid == 0;
        key = have_ucred ? (uint64_t) ucred.uid : UID_UNKNOWN;
        if (!server_has_slot(s, privileged, hashmap_get(s->users, key))) {
                s->stats.connections_refused++;
                log_debug("varlink: refusing connection from pid %d: over the connection limit",
                          have_ucred ? (int) ucred.pid : -1);
                return -EUSERS;
        }
        r = server_get_user(s, key, &u);
        if (r < 0)
                return r;
        c = calloc(1, sizeof(VarlinkConnection));
        if (!c)
                r = -ENOMEM;
        else {
                *c = (VarlinkConnection) { .server = s, .fd = fd, .ucred = ucred, .have_ucred = have_ucred,
                                           .privileged = privileged, .user = u };
                r = sd_event_add_io(s->event, &c->source, fd, EPOLLIN, connection_io, c);
        }
        if (r < 0) {
                free(c);
                if (u->n_connections == 0)
                        free(hashmap_remove(s->users, key));
                return r;
        }
        u->n_connections++;
        if (!privileged)
                s->n_unprivileged++;
        (void) sd_event_source_set_description(c->source, "varlink-connection");
        c->next = s->connections;
        if (c->next)
                c->next->prev = c;
        s->connections = c;
        s->stats.n_connections++;
        s->stats.connections_accepted++;
        return 0;
}

int varlink_server_add_connection(VarlinkServer *s, int fd) {
        int flags;

        if (!s || fd < 0)
                return -EINVAL;
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        return server_add_connection(s, fd);
}

/* ---- listening ---- */

static int resume_accepting(sd_event_source *source, uint64_t usec, void *userdata) {
        VarlinkServer *s = userdata;

        s->resume_source = sd_event_source_unref(s->resume_source);
        for (size_t k = 0; k < s->n_listeners; k++)
                (void) sd_event_source_set_enabled(s->listeners[k]->source, SD_EVENT_ON);
        return 0;
}

/* Out of fds or memory: the listening socket stays readable, so stop polling it for a moment. */
static void server_pause_accepting(VarlinkServer *s) {
        for (size_t k = 0; k < s->n_listeners; k++)
                (void) sd_event_source_set_enabled(s->listeners[k]->source, SD_EVENT_OFF);
        if (!s->resume_source)
                (void) sd_event_add_time_relative(s->event, &s->resume_source, CLOCK_MONOTONIC, ACCEPT_PAUSE_USEC,
                                                  0, resume_accepting, s);
}

static int listener_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        VarlinkListener *l = userdata;

        for (unsigned k = 0; k < ACCEPTS_PER_WAKEUP; k++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (cfd < 0) {
                        if (errno == EAGAIN)
                                return 0;
                        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO || errno == EPERM)
                                continue;
                        log_warning_errno(errno, "varlink: failed to accept a connection, pausing: %m");
                        server_pause_accepting(l->server);
                        return 0;
                }
                if (server_add_connection(l->server, cfd) < 0)
                        close(cfd);
        }
        return 0;
}

static VarlinkListener *listener_free(VarlinkListener *l) {
        struct stat st;

        if (!l)
                return NULL;
        l->source = sd_event_source_disable_unref(l->source);
        if (l->path && stat(l->path, &st) >= 0 && st.st_dev == l->dev && st.st_ino == l->ino)
                (void) unlink(l->path);
        free(l->path);
        closep(&l->fd);
        free(l);
        return NULL;
}

/* Takes ownership of fd (and path) only on success. */
static int server_add_listener(VarlinkServer *s, int fd, const char *path) {
        VarlinkListener *l, **a;
        struct stat st;
        int r;

        a = reallocarray(s->listeners, s->n_listeners + 1, sizeof(VarlinkListener *));
        if (!a)
                return -ENOMEM;
        s->listeners = a;
        l = calloc(1, sizeof(VarlinkListener));
        if (!l)
                return -ENOMEM;
        *l = (VarlinkListener) { .server = s, .fd = -1 };
        if (path) {
                l->path = strdup(path);
                if (!l->path || stat(path, &st) < 0) {
                        r = l->path ? -errno : -ENOMEM;
                        free(l->path);
                        free(l);
                        return r;
                }
                l->dev = st.st_dev;
                l->ino = st.st_ino;
        }
        r = sd_event_add_io(s->event, &l->source, fd, EPOLLIN, listener_io, l);
        if (r < 0) {
                free(l->path);
                free(l);
                return r;
        }
        (void) sd_event_source_set_description(l->source, "varlink-listener");
        l->fd = fd;
        s->listeners[s->n_listeners++] = l;
        return 0;
}

int varlink_server_listen_path(VarlinkServer *s, const char *path, mode_t mode) {
        union {
                struct sockaddr sa;
                struct sockaddr_un un;
        } sa = { .un.sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        bool abstract;
        struct stat st;
        size_t l;
        int r;

        if (!s || !path)
                return -EINVAL;
        l = strlen(path);
        if (l == 0)
                return -EINVAL;
        if (l >= sizeof(sa.un.sun_path))
                return -ENAMETOOLONG;
        abstract = path[0] == '@';
        memcpy(sa.un.sun_path, path, l);
        if (abstract)
                sa.un.sun_path[0] = 0;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (!abstract) {
                if (lstat(path, &st) >= 0) {
                        if (!S_ISSOCK(st.st_mode))
                                return -EEXIST;
                        if (unlink(path) < 0 && errno != ENOENT)
                                return -errno;
                } else if (errno != ENOENT)
                        return -errno;
        }
        if (bind(fd, &sa.sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + !abstract)) < 0)
                return -errno;
        /* Before listen(): nobody can connect while the mode is still the umask's. */
        if (!abstract && chmod(path, mode) < 0)
                return -errno;
        if (listen(fd, SOMAXCONN) < 0)
                return -errno;
        r = server_add_listener(s, fd, abstract ? NULL : path);
        if (r < 0) {
                if (!abstract)
                        (void) unlink(path);
                return r;
        }
        TAKE_FD(fd);
        return 0;
}

int varlink_server_listen_fd(VarlinkServer *s, int fd) {
        int type = 0, domain = 0, listening = 0, flags, r;
        socklen_t sl = sizeof(int);

        if (!s || fd < 0)
                return -EINVAL;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) < 0)
                return -errno;
        sl = sizeof(int);
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &sl) < 0)
                return -errno;
        sl = sizeof(int);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &sl) < 0)
                return -errno;
        if (type != SOCK_STREAM || domain != AF_UNIX || !listening)
                return -EINVAL;
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        r = server_add_listener(s, fd, NULL);
        return r;
}

int varlink_server_listen_systemd(VarlinkServer *s) {
        char **names = NULL;
        int n, taken = 0, r = 0;

        if (!s)
                return -EINVAL;
        n = sd_listen_fds_with_names(false, &names);
        if (n <= 0)
                return n;
        for (int k = 0; k < n && r >= 0; k++)
                if (names && names[k] && streq(names[k], "varlink")) {
                        r = varlink_server_listen_fd(s, SD_LISTEN_FDS_START + k);
                        taken += r >= 0;
                }
        if (r >= 0 && taken == 0 && n == 1) {
                r = varlink_server_listen_fd(s, SD_LISTEN_FDS_START);
                taken += r >= 0;
        }
        for (int k = 0; names && k < n; k++)
                free(names[k]);
        free(names);
        return r < 0 ? r : taken;
}

/* ---- server ---- */

int varlink_server_new(VarlinkServer **ret, sd_event *event) {
        _cleanup_(varlink_server_freep) VarlinkServer *s = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        s = calloc(1, sizeof(VarlinkServer));
        if (!s)
                return -ENOMEM;
        s->limits = limits_default;
        r = hashmap_new(&s->users);
        if (r < 0)
                return r;
        if (event)
                s->event = sd_event_ref(event);
        else {
                r = sd_event_default(&s->event);
                if (r < 0)
                        return r;
        }
        r = varlink_server_set_info(s, "", program_invocation_short_name, "", "");
        if (r < 0)
                return r;
        r = varlink_server_add_interface(s, service_description);
        if (r < 0)
                return r;
        r = varlink_server_bind_method(s, "org.varlink.service.GetInfo", method_get_info, s);
        if (r < 0)
                return r;
        r = varlink_server_bind_method(s, "org.varlink.service.GetInterfaceDescription",
                                       method_get_interface_description, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

VarlinkServer *varlink_server_free(VarlinkServer *s) {
        if (!s)
                return NULL;
        /* Connections first: cancel callbacks may still look at the server. */
        while (s->connections)
                connection_free(s->connections);
        for (size_t k = 0; k < s->n_listeners; k++)
                listener_free(s->listeners[k]);
        free(s->listeners);
        hashmap_free(s->users);
        s->resume_source = sd_event_source_disable_unref(s->resume_source);
        for (size_t k = 0; k < s->n_interfaces; k++)
                interface_done(&s->interfaces[k]);
        free(s->interfaces);
        for (size_t k = 0; k < s->n_bindings; k++)
                free(s->bindings[k].method);
        free(s->bindings);
        free(s->vendor);
        free(s->product);
        free(s->version);
        free(s->url);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

static int strdup_replace(char **p, const char *s) {
        char *t = strdup(s ?: "");

        if (!t)
                return -ENOMEM;
        free(*p);
        *p = t;
        return 0;
}

int varlink_server_set_info(VarlinkServer *s, const char *vendor, const char *product, const char *version,
                            const char *url) {
        if (!s)
                return -EINVAL;
        if (strdup_replace(&s->vendor, vendor) < 0 || strdup_replace(&s->product, product) < 0 ||
            strdup_replace(&s->version, version) < 0 || strdup_replace(&s->url, url) < 0)
                return -ENOMEM;
        return 0;
}

void varlink_server_get_limits(VarlinkServer *s, VarlinkLimits *ret) {
        *ret = s ? s->limits : limits_default;
}

int varlink_server_set_limits(VarlinkServer *s, const VarlinkLimits *limits) {
        if (!s || !limits)
                return -EINVAL;
        if (limits->max_message_size == 0 || limits->max_message_size > INT_MAX || limits->max_output_buffer == 0 ||
            limits->max_reply_size == 0 ||
            limits->max_connections == 0 || limits->root_connections >= limits->max_connections ||
            limits->max_connections_per_uid == 0 || limits->max_output_per_uid == 0 ||
            limits->max_output_total == 0 || limits->max_output_root == 0)
                return -EINVAL;
        s->limits = *limits;
        return 0;
}

void varlink_server_get_stats(VarlinkServer *s, VarlinkStats *ret) {
        *ret = s ? s->stats : (VarlinkStats) {};
}

unsigned varlink_server_n_connections(VarlinkServer *s) {
        return s ? s->stats.n_connections : 0;
}

sd_event *varlink_server_get_event(VarlinkServer *s) {
        return s ? s->event : NULL;
}
