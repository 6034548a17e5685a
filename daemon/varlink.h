/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* varlink: a non-blocking varlink server (varlink.org protocol over AF_UNIX) on sd-event and json-c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "lineage/util.h"

/*
 * Usage:
 *
 *   varlink_server_new(&s, event);
 *   varlink_server_set_info(s, "lineaged", "lineaged", "0.1", "https://…");
 *   varlink_server_add_interface(s, idl_text);      // "interface org.example.Foo" + "method Bar(…)" lines
 *   varlink_server_bind_method(s, "org.example.Foo.Bar", method_bar, userdata);
 *   varlink_server_listen_systemd(s) or varlink_server_listen_path(s, "/run/foo", 0666);
 *
 * A method callback answers with exactly one final varlink_call_reply() / varlink_call_reply_error(),
 * optionally preceded by varlink_call_notify() when the client asked for "more". A callback that
 * returns without a final reply leaves the call pending: the connection answers nothing else until it
 * is replied (calls are answered in order), so take a reference with varlink_call_ref() and reply
 * later, e.g. from another event source. When a pending call's client goes away, its cancel callback
 * (varlink_call_set_cancel()) runs once; afterwards replies return -ENOTCONN; drop your reference.
 *
 * A callback returning < 0 without having sent a final reply makes the server reply with
 * VARLINK_ERROR_INTERNAL {"errno": N}. Returning < 0 after replying is only logged at debug level.
 * A oneway call is finished when its callback returns: replies to it are accepted and dropped (0), it is
 * never pending and never cancelled.
 *
 * JSON ownership: everything passed *in* (parameters of replies) is borrowed: the server serializes
 * it before returning and takes no reference. Everything handed *to* callbacks (parameters) is
 * borrowed too and lives as long as the VarlinkCall.
 *
 * Protocol violations disconnect the client (counted in VarlinkStats.protocol_errors, logged at debug
 * level): a message that is not JSON, not valid UTF-8, not an object, larger than
 * max_message_size, lacks a NUL terminator within max_message_size, has a "method" that is not a
 * string of the form "reverse.domain.Interface.Method", "parameters" that are not an object (null is
 * taken as {}), or "oneway"/"more"/"upgrade" that are not booleans. Unknown keys are ignored.
 * Semantic errors get an error reply and the connection stays: "oneway" together with "more" and any
 * "upgrade" request are answered with org.varlink.service.InvalidParameter {"parameter": "more" /
 * "upgrade"} (a reply is sent even though "oneway" was set: the client's flags contradict each other
 * and "more" asks for replies). Unknown interface -> InterfaceNotFound, method not declared in the
 * interface description -> MethodNotFound, declared but not bound -> MethodNotImplemented.
 *
 * Callbacks must not call varlink_server_free(). Not thread-safe: use from the sd-event thread only.
 */

#define VARLINK_ERROR_INTERFACE_NOT_FOUND "org.varlink.service.InterfaceNotFound"
#define VARLINK_ERROR_METHOD_NOT_FOUND "org.varlink.service.MethodNotFound"
#define VARLINK_ERROR_METHOD_NOT_IMPLEMENTED "org.varlink.service.MethodNotImplemented"
#define VARLINK_ERROR_INVALID_PARAMETER "org.varlink.service.InvalidParameter"
#define VARLINK_ERROR_PERMISSION_DENIED "org.varlink.service.PermissionDenied"
#define VARLINK_ERROR_EXPECTED_MORE "org.varlink.service.ExpectedMore"
/* Not part of the org.varlink.service IDL: sent when a method callback fails without replying. */
#define VARLINK_ERROR_INTERNAL "org.varlink.service.InternalError"

/* Nesting depth accepted in incoming JSON; deeper messages are protocol errors. */
#define VARLINK_MAX_DEPTH 64

typedef struct VarlinkServer VarlinkServer;
typedef struct VarlinkCall VarlinkCall;

/* Limits on what a client controls: the defaults. Connections and queued output are counted per peer uid
 * (SO_PEERCRED, as seen from the server's user namespace, so a user namespace's "root" is the uid it maps
 * to, and each sub-uid is its own uid). uid 0 there is privileged: it has connections no other uid may
 * take and an output budget of its own, so nobody else's connections or unread replies can lock it out. */
#define VARLINK_MAX_CONNECTIONS 1024U
#define VARLINK_ROOT_CONNECTIONS 64U              /* of those, only uid 0 may use */
#define VARLINK_MAX_CONNECTIONS_PER_UID 128U
#define VARLINK_MAX_OUTPUT_BUFFER (16U * 1024U * 1024U)
#define VARLINK_OUTPUT_PER_UID (64U * 1024U * 1024U)
#define VARLINK_OUTPUT_TOTAL (256U * 1024U * 1024U)
#define VARLINK_OUTPUT_ROOT (64U * 1024U * 1024U)

/* Every field must be > 0 (but root_connections < max_connections may be 0). */
typedef struct VarlinkLimits {
        size_t max_message_size;          /* [1 MiB] one incoming message including its NUL */
        size_t max_output_buffer;         /* [16 MiB] queued notifications per connection; see notify */
        size_t max_reply_size;            /* [64 MiB] one reply in pieces (varlink_call_reply_iov) */
        unsigned max_connections;         /* [1024] connections at once; more are accepted and closed */
        unsigned root_connections;        /* [64] of max_connections, only for uid 0: the others together
                                           * are refused at max_connections - root_connections */
        unsigned max_connections_per_uid; /* [128] per peer uid; uid 0 is exempt */
        /* Output budgets: bytes queued for clients that have not read them yet (the socket's own buffer
         * not counted), all connections of one uid together, of all unprivileged uids together, and of
         * uid 0. A notification that does not fit drops the stream with the most queued (see notify); a
         * final reply that does not fit is not queued (-ENOBUFS). */
        size_t max_output_per_uid;        /* [64 MiB] */
        size_t max_output_total;          /* [256 MiB] all unprivileged uids */
        size_t max_output_root;           /* [64 MiB] uid 0, apart from the others */
} VarlinkLimits;

typedef struct VarlinkStats {
        uint64_t connections_accepted;  /* connections that were served */
        uint64_t connections_refused;   /* closed at once: over a connection limit */
        uint64_t calls;                 /* method calls received (valid envelope) */
        uint64_t errors;                /* error replies sent (standard and method errors) */
        uint64_t protocol_errors;       /* clients disconnected for breaking the protocol */
        uint64_t disconnects;           /* connections closed for any reason */
        uint64_t cancelled;             /* pending calls whose client went away */
        uint64_t streams_dropped;       /* streams ended for a full output buffer or budget */
        uint64_t replies_refused;       /* final replies over an output budget (-ENOBUFS) */
        unsigned n_connections;         /* open now */
        size_t output_queued;           /* bytes queued for all connections now */
} VarlinkStats;

/* One parsed incoming message. Produced by varlink_message_parse(), released by varlink_message_done(). */
typedef struct VarlinkMessage {
        json_object *object;      /* the whole message; owned */
        const char *method;       /* "reverse.domain.Interface.Method", points into object */
        json_object *parameters;  /* always an object (added as {} when absent or null); borrowed */
        bool oneway, more, upgrade;
} VarlinkMessage;

/* Method implementation. parameters is never NULL. Return >= 0, or < 0 (see above). */
typedef int (*VarlinkMethod)(VarlinkCall *call, json_object *parameters, void *userdata);
/* Runs once when the client of a pending call disconnects or the server is freed. */
typedef void (*VarlinkCancel)(VarlinkCall *call, void *userdata);
/* Runs once, from the event loop (never from within a varlink_call_*() function), when the server dropped
 * the notifications queued for this streaming call to keep within an output budget: the client missed
 * them. The call is still pending: end it with an error reply (varlink_call_get_dropped() tells how many
 * were lost) and release what hangs on it. */
typedef void (*VarlinkOverflow)(VarlinkCall *call, void *userdata);

/* Parses one message: buf[0..len) without its terminating NUL. 0 or -EBADMSG/-ENOMEM/-EMSGSIZE. */
int varlink_message_parse(const char *buf, size_t len, VarlinkMessage *ret);
void varlink_message_done(VarlinkMessage *m);

/* event may be NULL: the thread's default loop is used. */
int varlink_server_new(VarlinkServer **ret, sd_event *event);
VarlinkServer *varlink_server_free(VarlinkServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(VarlinkServer *, varlink_server_free);

int varlink_server_set_info(VarlinkServer *s, const char *vendor, const char *product, const char *version,
                            const char *url);
void varlink_server_get_limits(VarlinkServer *s, VarlinkLimits *ret);
/* Applies to new connections and to buffers checked from now on. -EINVAL if a field is 0. */
int varlink_server_set_limits(VarlinkServer *s, const VarlinkLimits *limits);
void varlink_server_get_stats(VarlinkServer *s, VarlinkStats *ret);
unsigned varlink_server_n_connections(VarlinkServer *s);
sd_event *varlink_server_get_event(VarlinkServer *s);

/* Adds an interface from its IDL text, served verbatim by GetInterfaceDescription. The name is taken
 * from the "interface NAME" line, methods from "method NAME(" lines. -EINVAL (bad text), -EEXIST. */
int varlink_server_add_interface(VarlinkServer *s, const char *description);
/* method is "interface.Method" and must be declared by an added interface: -ENOENT, -EEXIST, -EINVAL. */
int varlink_server_bind_method(VarlinkServer *s, const char *method, VarlinkMethod callback, void *userdata);

/* Binds an AF_UNIX stream socket at path (a stale socket there is unlinked, anything else is -EEXIST)
 * and chmods it to mode. */
int varlink_server_listen_path(VarlinkServer *s, const char *path, mode_t mode);
/* Serves a listening AF_UNIX SOCK_STREAM socket; takes ownership of fd on success. */
int varlink_server_listen_fd(VarlinkServer *s, int fd);
/* Takes the LISTEN_FDS socket named "varlink", or a sole passed socket whatever its name. Leaves the
 * environment alone; call once. Returns the number of sockets taken (0: none passed). */
int varlink_server_listen_systemd(VarlinkServer *s);
/* Serves an already connected AF_UNIX stream socket (e.g. one end of a socketpair); takes ownership of fd
 * on success. -EUSERS when over a connection limit. */
int varlink_server_add_connection(VarlinkServer *s, int fd);

VarlinkCall *varlink_call_ref(VarlinkCall *call);
VarlinkCall *varlink_call_unref(VarlinkCall *call);
DEFINE_TRIVIAL_CLEANUP_FUNC(VarlinkCall *, varlink_call_unref);

/* Final reply; parameters must be a JSON object or NULL ({}), borrowed. After it the server drops its
 * reference: without one of your own, do not touch the call again.
 * 0 (also for oneway calls, where nothing is sent), -EALREADY, -ENOTCONN (client gone), -EINVAL, -ENOMEM. */
int varlink_call_reply(VarlinkCall *call, json_object *parameters);
/* Final reply from text the caller serialized, in pieces: the concatenation of iov[0..n_iov) is the
 * whole reply object without its NUL ({"parameters":{…}}), sent as it is (unchecked: only for text
 * built by trusted code) without being copied. base (whatever the pieces point into) and iov are
 * malloc'd and taken over, freed whatever the result. No further call on the connection is dispatched
 * until it is sent. -E2BIG above max_reply_size; otherwise as varlink_call_reply(). */
int varlink_call_reply_iov(VarlinkCall *call, char *base, struct iovec *iov, size_t n_iov);
/* Final error reply "error" (a full error name) with optional parameters. Same returns. */
int varlink_call_reply_error(VarlinkCall *call, const char *error, json_object *parameters);
int varlink_call_reply_invalid_parameter(VarlinkCall *call, const char *parameter);
/* Intermediate reply with "continues": true. -EINVAL unless the client asked for "more";
 * -ENOBUFS if the client is too slow: the connection's output buffer is at max_output_buffer, or the
 * notification does not fit an output budget and this stream has the most queued of those in it (then
 * its unsent notifications are dropped too; streams with more queued are dropped first, through their
 * overflow callback). After -ENOBUFS end the stream with an error reply; it goes after what is queued.
 * -ENOTCONN; -EALREADY after the final reply.
 * Final replies (varlink_call_reply*(), not errors, which are always queued) return -ENOBUFS when they do
 * not fit their user's output budget even after dropping the streams that have more queued: nothing
 * was sent, the call is still pending; reply with an error. */
int varlink_call_notify(VarlinkCall *call, json_object *parameters);
/* Bytes this call's connection may still queue under its output budgets. */
size_t varlink_call_output_room(VarlinkCall *call);
/* Notifications of this call that were not delivered: dropped for a budget or refused with -ENOBUFS. */
uint64_t varlink_call_get_dropped(VarlinkCall *call);

bool varlink_call_wants_more(VarlinkCall *call);
bool varlink_call_is_oneway(VarlinkCall *call);
/* True until the final reply is sent or the client goes away. */
bool varlink_call_is_pending(VarlinkCall *call);
const char *varlink_call_get_method(VarlinkCall *call);
json_object *varlink_call_get_parameters(VarlinkCall *call);
/* SO_PEERCRED of the client, captured when it connected: 0 or -ENODATA. */
int varlink_call_get_peer_credentials(VarlinkCall *call, struct ucred *ret);
void varlink_call_set_cancel(VarlinkCall *call, VarlinkCancel cancel, void *userdata);
/* A streaming call without an overflow callback is never dropped for another one's sake: only its own
 * notify fails with -ENOBUFS. */
void varlink_call_set_overflow(VarlinkCall *call, VarlinkOverflow overflow, void *userdata);

#ifndef _cleanup_json_
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
#define _cleanup_json_ _cleanup_(json_object_putp)
#endif
