/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl's transport: a varlink client, a D-Bus client and the offline database, and the daemon's errors. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "json-error.h"
#include "lineage/dbus-methods.h"
#include "lineage/names.h"
#include "lineagectl.h"
#include "offline.h"

/* ---- errors from the daemon ------------------------------------------------------------------ */

static const char *error_short_name(const char *name) {
        const char *dot = strrchr(name, '.');

        return dot ? dot + 1 : name;
}

/* Under --json, the error as a JSON object on stdout too, the same over varlink and D-Bus. */
static void print_json_error(const char *method, json_object *call, const char *name, json_object *eparams,
                             const char *message) {
        _cleanup_json_ json_object *o = NULL;

        if (arg_json == JSON_OFF)
                return;
        if (json_error_new(name, eparams, message, method, call, &o) < 0) {
                log_oom();
                return;
        }
        (void) print_json(o);
}

/* Logs one line for a failed call and returns the errno that main() maps to an exit code. */
int report_error(const char *method, json_object *call, const char *name, json_object *eparams,
                 const char *message) {
        _cleanup_free_ char *escaped_name = escape_controls(name ?: "", true), *escaped_message = NULL;
        const char *n = error_short_name(name);
        int64_t pid, instance, at;

        print_json_error(method, call, name, eparams, message);
        /* The error comes from the daemon too: nothing of it reaches the terminal unescaped. */
        if (message)
                message = escaped_message = escape_controls(message, true);
        if (eparams)
                (void) json_sanitize(eparams, 0);
        name = escaped_name ?: "?";

        if (streq(n, "NoSuchProcess")) {
                if (jint(call, "instance", &instance) && instance > 0)
                        log_error("No process instance @%" PRIi64 " is recorded.", instance);
                else if (jint(call, "pid", &pid) && jint(call, "at", &at) && at > 0 &&
                         streq_ptr(jstr(eparams, "notRecording"), "before-first-run"))
                        log_error("No process with pid %" PRIi64 " at %s is known: lineaged was not recording yet "
                                  "(that is before its first run in this boot).", pid, TS(at));
                else if (jint(call, "pid", &pid) && jint(call, "at", &at) && at > 0 && jstr(eparams, "notRecording"))
                        log_error("No process with pid %" PRIi64 " at %s is known: lineaged was not recording then "
                                  "(a %s gap in the record).", pid, TS(at), jstr(eparams, "notRecording"));
                else if (jint(call, "pid", &pid) && jint(call, "at", &at) && at > 0 && streq(method, "Resolve"))
                        log_error("No process held pid %" PRIi64 " at %s (lineaged was recording).", pid, TS(at));
                else if (jint(call, "pid", &pid) && jint(call, "at", &at) && at > 0)
                        log_error("No process with pid %" PRIi64 " at %s is recorded.", pid, TS(at));
                else if (jint(call, "pid", &pid))
                        log_error("No process with pid %" PRIi64 " is recorded.", pid);
                else
                        log_error("No such process is recorded.");
                return -ESRCH;
        }
        if (streq(n, "PermissionDenied") || streq(name, "org.freedesktop.DBus.Error.AccessDenied")) {
                log_error("Permission denied: lineaged shows unprivileged callers only their own processes.");
                return -EACCES;
        }
        if (streq(n, "DatabaseError")) {
                log_error("lineaged could not answer: database error: %s", jstr(eparams, "message") ?: strna(message));
                return -EIO;
        }
        if (streq(n, "TooSlow")) {
                if (jint(eparams, "dropped", &at))
                        log_error("lineaged ended the watch: events were not read fast enough (%" PRIi64 " dropped).", at);
                else
                        log_error("lineaged ended the watch: events were not read fast enough.");
                return -ENOBUFS;
        }
        if (streq(n, "LimitsExceeded")) {
                log_error("lineaged refused to answer %s: %s", method,
                          message ?: "this user's connections hold too many unread replies.");
                return -ENOBUFS;
        }
        if (streq(n, "TooManyWatchers")) {
                log_error("lineaged serves too many watchers already (limit %" PRIi64 ").", jint_or(eparams, "limit", 0));
                return -EUSERS;
        }
        if (streq(n, "InvalidParameter") || streq(n, "InvalidArgs")) {
                if (jstr(eparams, "parameter"))
                        log_error("lineaged rejected the parameter \"%s\" of %s.", jstr(eparams, "parameter"), method);
                else
                        log_error("lineaged rejected the parameters of %s%s%s", method, message ? ": " : ".",
                                  message ?: "");
                return -EINVAL;
        }
        if (streq(n, "MethodNotFound") || streq(n, "InterfaceNotFound") || streq(n, "MethodNotImplemented") ||
            streq(n, "UnknownMethod") || streq(n, "UnknownInterface") || streq(n, "UnknownObject")) {
                log_error("lineaged does not support %s (is it an older version?).", method);
                return -EOPNOTSUPP;
        }
        if (streq(n, "NoReply") || streq(n, "Timeout") || streq(n, "TimedOut")) {
                log_error("Timed out waiting for lineaged to answer %s.", method);
                return -ETIMEDOUT;
        }
        log_error("lineaged failed to answer %s: %s%s%s", method, name, message ? ": " : "", message ?: "");
        return -EIO;
}

/* ---- varlink transport ----------------------------------------------------------------------- */

void ctl_varlink_done(CtlVarlink *v) {
        closep(&v->fd);
        v->fd = -1;
        free(v->buf);
        v->buf = NULL;
}

void on_quit_signal(_unused_ int sig) {
        quit_requested = 1;
}

/* Waits for events on fd until deadline (CLOCK_MONOTONIC µs, 0: forever). With signals routed to
 * quit_requested (watch), SIGINT/SIGTERM are only unblocked inside ppoll(), so none is missed. */
int fd_wait(int fd, short events, int64_t deadline) {
        struct pollfd p = { .fd = fd, .events = events };
        struct timespec ts, *tsp = NULL;

        for (;;) {
                if (quit_requested)
                        return -ECANCELED;
                if (deadline > 0) {
                        int64_t left = deadline - (int64_t) now_usec(CLOCK_MONOTONIC);

                        if (left <= 0)
                                return -ETIMEDOUT;
                        ts = (struct timespec) { .tv_sec = left / USEC_PER_SEC_I,
                                                 .tv_nsec = (long) (left % USEC_PER_SEC_I) * 1000 };
                        tsp = &ts;
                }
                if (ppoll(&p, 1, tsp, wait_sigmask_set ? &wait_sigmask : NULL) >= 0)
                        return p.revents;
                if (errno != EINTR)
                        return -errno;
        }
}

int ctl_varlink_connect(CtlVarlink *v, const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = CALL_TIMEOUT_USEC / USEC_PER_SEC_I };
        size_t l = strlen(path);
        _cleanup_close_ int fd = -1;

        if (l == 0 || l >= sizeof(sa.sun_path))
                return log_error_errno(EINVAL, "Invalid varlink socket path: %s", path);
        memcpy(sa.sun_path, path, l);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno == EINVAL ? EIO : errno, "Failed to create a socket: %m");
        /* connect() on AF_UNIX honours the send timeout: a stuck daemon with a full backlog cannot hang us. */
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l)) < 0) {
                if (errno == EACCES || errno == EPERM) {
                        log_error("Permission denied connecting to %s.", path);
                        return -EACCES;
                }
                if (errno == ENOENT || errno == ECONNREFUSED)
                        log_error("lineaged is not running (cannot connect to %s)", path);
                else
                        log_error("lineaged is not running (cannot connect to %s: %m)", path);
                return -EHOSTDOWN;
        }
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                return log_error_errno(errno, "Failed to make the socket non-blocking: %m");
        v->fd = TAKE_FD(fd);
        return 0;
}

int ctl_varlink_send(CtlVarlink *v, const char *method, json_object *params, bool more, int64_t deadline) {
        _cleanup_json_ json_object *m = json_object_new_object();
        _cleanup_free_ char *name = NULL;
        const char *s;
        size_t n, done = 0;
        int r;

        if (!m || asprintf(&name, "%s.%s", LINEAGE_VARLINK_INTERFACE, method) < 0)
                return log_oom();
        if (json_add(m, "method", json_object_new_string(name)) < 0 ||
            json_add(m, "parameters", json_object_get(params)) < 0 ||
            (more && json_add(m, "more", json_object_new_boolean(true)) < 0))
                return log_oom();
        s = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return log_oom();
        n = strlen(s) + 1; /* with the NUL terminator */
        while (done < n) {
                ssize_t k = send(v->fd, s + done, n - done, MSG_NOSIGNAL);

                if (k >= 0) {
                        done += (size_t) k;
                        continue;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return log_error_errno(errno, "Failed to send to lineaged: %m");
                r = fd_wait(v->fd, POLLOUT, deadline);
                if (r == -ETIMEDOUT)
                        return log_error_errno(ETIMEDOUT, "Timed out sending to lineaged.");
                if (r < 0)
                        return r;
        }
        return 0;
}

int json_parse_message(const char *s, size_t len, json_object **ret) {
        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(JSON_DEPTH_MAX);
        _cleanup_json_ json_object *o = NULL;
        size_t end;

        if (!tok)
                return log_oom();
        o = json_tokener_parse_ex(tok, s, (int) len); /* len < REPLY_MAX < INT_MAX */
        end = json_tokener_get_parse_end(tok);
        while (end < len && strchr(" \t\r\n", s[end]))
                end++;
        if (!o || !json_object_is_type(o, json_type_object) || end < len)
                return log_error_errno(EBADMSG, "Received a malformed message from lineaged.");
        *ret = TAKE_PTR(o);
        return 0;
}

/* Waits until one NUL-terminated message is buffered: it is v->buf[0, *ret_len), until
 * ctl_varlink_drop(). deadline: CLOCK_MONOTONIC µs, 0: wait forever. */
int ctl_varlink_read_text(CtlVarlink *v, int64_t deadline, size_t *ret_len) {
        int r;

        for (;;) {
                char *nul = v->used > v->scanned ? memchr(v->buf + v->scanned, 0, v->used - v->scanned) : NULL;
                ssize_t k;

                if (nul) {
                        *ret_len = (size_t) (nul - v->buf);
                        return 0;
                }
                v->scanned = v->used;
                if (v->used >= REPLY_MAX)
                        return log_error_errno(EMSGSIZE, "A reply from lineaged exceeds %u MiB, refusing it.",
                                               REPLY_MAX / 1024 / 1024);
                if (v->allocated - v->used < 16384) {
                        size_t a = MIN(MAX(v->allocated * 2, (size_t) 65536), (size_t) REPLY_MAX);
                        char *b = realloc(v->buf, a);

                        if (!b)
                                return log_oom();
                        v->buf = b;
                        v->allocated = a;
                }
                k = recv(v->fd, v->buf + v->used, v->allocated - v->used, 0);
                if (k > 0) {
                        v->used += (size_t) k;
                        continue;
                }
                if (k == 0)
                        return log_error_errno(ECONNRESET, "lineaged closed the connection without answering.");
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return log_error_errno(errno == EINVAL ? EIO : errno, "Failed to read from lineaged: %m");
                r = fd_wait(v->fd, POLLIN, deadline);
                if (r == -ETIMEDOUT)
                        return log_error_errno(ETIMEDOUT, "Timed out waiting for lineaged to answer.");
                if (r < 0)
                        return r;
        }
}

/* Forgets the message of len bytes (and its NUL) at the start of the buffer. */
void ctl_varlink_drop(CtlVarlink *v, size_t len) {
        memmove(v->buf, v->buf + len + 1, v->used - len - 1);
        v->used -= len + 1;
        v->scanned = 0;
}

/* Reads one NUL-terminated message. deadline: CLOCK_MONOTONIC µs, 0: wait forever. */
int ctl_varlink_read(CtlVarlink *v, int64_t deadline, json_object **ret) {
        size_t len;
        int r;

        r = ctl_varlink_read_text(v, deadline, &len);
        if (r < 0)
                return r;
        r = json_parse_message(v->buf, len, ret);
        ctl_varlink_drop(v, len);
        return r;
}

/* Splits a reply message: returns its parameters (a new reference), or the mapped error. */
int ctl_varlink_reply(const char *method, json_object *call, json_object *msg, json_object **ret,
                      bool *ret_continues) {
        json_object *params = jget(msg, "parameters");
        const char *error = jstr(msg, "error");

        if (jget(msg, "error") && !error)
                return log_error_errno(EBADMSG, "Received a malformed error from lineaged.");
        if (params && !json_object_is_type(params, json_type_object))
                return log_error_errno(EBADMSG, "Received malformed parameters from lineaged.");
        if (error)
                return report_error(method, call, error, params, NULL);
        *ret = params ? json_object_get(params) : json_object_new_object();
        if (!*ret)
                return log_oom();
        if (ret_continues)
                *ret_continues = jbool(msg, "continues");
        return 0;
}

static int ctl_varlink_call(const char *method, json_object *params, json_object **ret) {
        _cleanup_(ctl_varlink_done) CtlVarlink v = { .fd = -1 };
        _cleanup_json_ json_object *msg = NULL;
        int64_t deadline = (int64_t) now_usec(CLOCK_MONOTONIC) + CALL_TIMEOUT_USEC;
        int r;

        r = ctl_varlink_connect(&v, arg_varlink);
        if (r < 0)
                return r;
        r = ctl_varlink_send(&v, method, params, false, deadline);
        if (r < 0)
                return r;
        r = ctl_varlink_read(&v, deadline, &msg);
        if (r < 0)
                return r;
        return ctl_varlink_reply(method, params, msg, ret, NULL);
}

/* ---- D-Bus transport ------------------------------------------------------------------------- */

/* ResolveBatch's queries as an array of LINEAGE_DBUS_QUERY_SIGNATURE: bootId ("" = the current boot), pid,
 * realtime (0 = not given), monotonic (-1 = not given). */
static int ctl_bus_append_queries(sd_bus_message *m, json_object *queries) {
        int r;

        r = sd_bus_message_open_container(m, 'a', LINEAGE_DBUS_QUERY_SIGNATURE);
        for (size_t i = 0; r >= 0 && i < jarr_len(queries); i++) {
                json_object *q = json_object_array_get_idx(queries, i);

                r = sd_bus_message_append(m, LINEAGE_DBUS_QUERY_SIGNATURE, jstr(q, "bootId") ?: "",
                                          (uint32_t) jint_or(q, "pid", 0), jint_or(q, "realtime", 0),
                                          jint_or(q, "monotonic", -1));
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r < 0 ? r : 0;
}

/* Strings of a JSON array as a D-Bus "as". */
static int ctl_bus_append_strings(sd_bus_message *m, json_object *array) {
        _cleanup_free_ char **strv = calloc(jarr_len(array) + 1, sizeof(char *));

        if (!strv)
                return -ENOMEM;
        for (size_t i = 0; i < jarr_len(array); i++)
                strv[i] = (char *) json_object_get_string(json_object_array_get_idx(array, i));
        return sd_bus_message_append_strv(m, strv);
}

/* The typed in-arguments of a method (lineage/dbus-methods.h); absent ones are sent as what means
 * "not given" to the daemon: 0, "", false, an empty array, or -1 for loginUid and uid. */
static int ctl_bus_append_args(sd_bus_message *m, const char *name, json_object *params) {
        const LineageDbusMethod *method = lineage_dbus_method(name);
        const char *sig;
        int r = 0;

        if (!method)
                return -EOPNOTSUPP;
        sig = method->signature;
        for (size_t k = 0, p = 0; sig[k] && r >= 0; k++, p++) {
                const char *param = method->params[p];
                int64_t v = jint_or(params, param, lineage_dbus_param_minus_one(param) ? -1 : 0);

                switch (sig[k]) {
                case 'Q':
                        r = ctl_bus_append_queries(m, jarr(params, param));
                        break;
                case 'a':
                        r = ctl_bus_append_strings(m, jarr(params, param));
                        k++; /* the element type */
                        break;
                case 'x':
                        r = sd_bus_message_append_basic(m, 'x', &v);
                        break;
                case 't': {
                        uint64_t t = (uint64_t) v;
                        r = sd_bus_message_append_basic(m, 't', &t);
                        break;
                }
                case 'u': {
                        uint32_t u = (uint32_t) v;
                        r = sd_bus_message_append_basic(m, 'u', &u);
                        break;
                }
                case 'b': {
                        int b = jbool(params, param);
                        r = sd_bus_message_append_basic(m, 'b', &b);
                        break;
                }
                case 's':
                        r = sd_bus_message_append_basic(m, 's', jstr(params, param) ?: "");
                        break;
                case 'o':
                        r = sd_bus_message_append_basic(m, 'o', jstr(params, param) ?: "");
                        break;
                }
        }
        return r < 0 ? r : 0;
}

static bool is_map_key(const char *key) {
        /* Status.events is a map ([string]int): {} is a value there, not a null record. */
        return streq(key, "events");
}

static int ctl_bus_read_dict(sd_bus_message *m, const char *contents, unsigned depth, json_object **ret) {
        _cleanup_json_ json_object *o = json_object_new_object();
        size_t l = strlen(contents);
        char inner[256];
        int r;

        if (!o)
                return -ENOMEM;
        if (l < 4 || l - 2 >= sizeof(inner))
                return -EBADMSG;
        memcpy(inner, contents + 1, l - 2); /* "{sv}" -> "sv" */
        inner[l - 2] = 0;
        r = sd_bus_message_enter_container(m, 'a', contents);
        if (r < 0)
                return r;
        for (;;) {
                _cleanup_json_ json_object *v = NULL;
                const char *key;

                r = sd_bus_message_enter_container(m, 'e', inner);
                if (r <= 0)
                        break;
                r = sd_bus_message_read_basic(m, 's', &key);
                if (r <= 0)
                        return r < 0 ? r : -EBADMSG;
                r = ctl_bus_read_value(m, depth + 1, &v);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                /* A null record travels as an empty a{sv}: leave it out, as varlink does. */
                if (json_object_is_type(v, json_type_object) && json_object_object_length(v) == 0 && !is_map_key(key))
                        continue;
                if (json_object_object_add(o, key, TAKE_PTR(v)) < 0)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int ctl_bus_read_array(sd_bus_message *m, char type, const char *contents, unsigned depth, json_object **ret) {
        _cleanup_json_ json_object *a = json_object_new_array();
        int r;

        if (!a)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, type, contents);
        if (r < 0)
                return r;
        while ((r = sd_bus_message_at_end(m, false)) == 0) {
                json_object *v = NULL;

                r = ctl_bus_read_value(m, depth + 1, &v);
                if (r < 0)
                        return r;
                if (json_object_array_add(a, v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

static int ctl_bus_read_basic(sd_bus_message *m, char type, json_object **ret) {
        union {
                uint8_t y;
                int b;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
                const char *s;
        } v;
        json_object *o;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        switch (type) {
        case 'y': o = json_object_new_int64(v.y); break;
        case 'b': o = json_object_new_boolean(v.b); break;
        case 'n': o = json_object_new_int64(v.n); break;
        case 'q': o = json_object_new_int64(v.q); break;
        case 'i': o = json_object_new_int64(v.i); break;
        case 'u': o = json_object_new_int64(v.u); break;
        case 'x': o = json_object_new_int64(v.x); break;
        case 't': o = v.t > INT64_MAX ? json_object_new_uint64(v.t) : json_object_new_int64((int64_t) v.t); break;
        case 'd': o = json_object_new_double(v.d); break;
        case 's': case 'o': case 'g': o = json_object_new_string(v.s); break;
        default: return -EBADMSG;
        }
        if (!o)
                return -ENOMEM;
        *ret = o;
        return 0;
}

/* Converts the next value of m to JSON: x/t/u/… -> int, b -> bool, s -> string, a{s*} -> object,
 * other arrays and structs -> array, variants are unwrapped. */
int ctl_bus_read_value(sd_bus_message *m, unsigned depth, json_object **ret) {
        const char *contents;
        char type;
        int r;

        if (depth > BUS_DEPTH_MAX)
                return -EBADMSG;
        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        if (type == 'a' && startswith(contents, "{s"))
                return ctl_bus_read_dict(m, contents, depth, ret);
        if (type == 'a' || type == 'r')
                return ctl_bus_read_array(m, type, contents, depth, ret);
        if (type == 'v') {
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r < 0)
                        return r;
                r = ctl_bus_read_value(m, depth + 1, ret);
                if (r < 0)
                        return r;
                return sd_bus_message_exit_container(m);
        }
        return ctl_bus_read_basic(m, type, ret);
}

const char *ctl_bus_description(void) {
        static char buf[256];

        if (streq(arg_bus, "system") || streq(arg_bus, "session") || streq(arg_bus, "user"))
                snprintf(buf, sizeof(buf), "the %s bus", streq(arg_bus, "system") ? "system" : "session");
        else
                snprintf(buf, sizeof(buf), "the bus at %s", arg_bus);
        return buf;
}

int ctl_bus_connect(sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (streq(arg_bus, "system"))
                r = sd_bus_open_system(&bus);
        else if (streq(arg_bus, "session") || streq(arg_bus, "user"))
                r = sd_bus_open_user(&bus);
        else {
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, arg_bus);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, true);
                if (r >= 0)
                        r = sd_bus_start(bus);
        }
        if (r < 0) {
                errno = -r;
                log_error("lineaged is not reachable (cannot connect to %s: %m)", ctl_bus_description());
                return -EHOSTDOWN;
        }
        *ret = TAKE_PTR(bus);
        return 0;
}

int ctl_bus_report_error(const char *method, json_object *params, const sd_bus_error *error, int r) {
        if (sd_bus_error_is_set(error)) {
                if (sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                           SD_BUS_ERROR_NO_SERVER, SD_BUS_ERROR_DISCONNECTED)) {
                        log_error("lineaged is not running (%s is not on %s)", LINEAGE_DBUS_NAME, ctl_bus_description());
                        return -EHOSTDOWN;
                }
                return report_error(method, params, error->name, NULL, error->message);
        }
        if (r == -ETIMEDOUT)
                return log_error_errno(ETIMEDOUT, "Timed out waiting for lineaged to answer %s.", method);
        if (r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE) {
                log_error("Lost the connection to %s.", ctl_bus_description());
                return -EHOSTDOWN;
        }
        errno = -r;
        log_error("Failed to call %s on the bus: %m", method);
        return -EIO;
}

int ctl_bus_new_call(sd_bus *bus, const char *method, json_object *params, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, LINEAGE_DBUS_NAME, LINEAGE_DBUS_PATH, LINEAGE_DBUS_INTERFACE,
                                           method);
        if (r >= 0)
                r = ctl_bus_append_args(m, method, params);
        if (r < 0) {
                errno = -r;
                return log_error_errno(r == -EINVAL ? EIO : -r, "Failed to build the %s call: %m", method);
        }
        *ret = TAKE_PTR(m);
        return 0;
}

/* The one out-argument, a{sv}, as a JSON object keyed like the varlink reply. */
int ctl_bus_reply_to_json(sd_bus_message *reply, json_object **ret) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(reply, &type, &contents);
        if (r > 0 && type == 'a' && startswith(contents, "{s"))
                r = ctl_bus_read_value(reply, 0, ret);
        else if (r >= 0)
                r = -EBADMSG;
        if (r < 0)
                return log_error_errno(r == -ENOMEM ? ENOMEM : EBADMSG, "Received a malformed reply from lineaged.");
        return 0;
}

static int ctl_bus_call(const char *method, json_object *params, json_object **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        json_object *o = NULL;
        int r;

        r = ctl_bus_connect(&bus);
        if (r < 0)
                return r;
        r = ctl_bus_new_call(bus, method, params, &m);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, m, CALL_TIMEOUT_USEC, &error, &reply);
        if (r < 0)
                return ctl_bus_report_error(method, params, &error, r);
        r = ctl_bus_reply_to_json(reply, &o);
        if (r < 0)
                return r;
        *ret = o;
        return 0;
}

/* The daemon's answer from the --database file (offline.c). */
static int offline_method(const char *method, json_object *params, json_object **ret) {
        _cleanup_json_ json_object *eparams = NULL;
        const char *error = NULL;
        int r;

        r = offline_call(method, params, ret, &error, &eparams);
        if (r >= 0)
                return 0;
        if (!error)
                return log_error_errno(r, "Failed to answer %s from %s: %m", method, arg_database);
        return report_error(method, params, error, eparams, NULL);
}

/* Calls method with params over the chosen transport; on success *ret is the reply's parameters. */
int call_method(const char *method, json_object *params, json_object **ret) {
        if (arg_database)
                return offline_method(method, params, ret);
        if (arg_bus)
                return ctl_bus_call(method, params, ret);
        return ctl_varlink_call(method, params, ret);
}

/* ---- requests -------------------------------------------------------------------------------- */

int target_params(const Target *t, bool with_at, json_object **ret) {
        _cleanup_json_ json_object *p = json_object_new_object();

        if (!p)
                return log_oom();
        if (t && t->pid > 0 && json_add(p, "pid", json_object_new_int64(t->pid)) < 0)
                return log_oom();
        if (t && t->instance > 0 && json_add(p, "instance", json_object_new_int64(t->instance)) < 0)
                return log_oom();
        if (with_at && arg_at_set && json_add(p, "at", json_object_new_int64(arg_at)) < 0)
                return log_oom();
        *ret = TAKE_PTR(p);
        return 0;
}

/* Keys added to the next reply printed with --json (tree --login adds "login"). */
json_object *json_extra = NULL;

/* Makes the call for a verb; returns 1 when the reply was printed as JSON and nothing else is to be done. */
int request(const char *method, json_object *params, json_object **ret) {
        _cleanup_json_ json_object *reply = NULL;
        int r;

        r = call_method(method, params, &reply);
        if (r < 0)
                return r;
        if (arg_json != JSON_OFF) {
                if (json_extra) {
                        json_object_object_foreach(json_extra, key, val)
                                if (json_add(reply, key, json_object_get(val)) < 0)
                                        return log_oom();
                }
                return print_json(reply) < 0 ? -ENOMEM : 1;
        }
        if (json_sanitize(reply, 0) < 0)
                return log_error_errno(EBADMSG, "Received a malformed reply from lineaged.");
        *ret = TAKE_PTR(reply);
        return 0;
}

int request_process(const char *method, const Target *t, bool with_at, json_object *extra,
                    json_object **ret) {
        _cleanup_json_ json_object *params = NULL;
        int r;

        r = target_params(t, with_at, &params);
        if (r < 0)
                return r;
        if (extra) {
                json_object_object_foreach(extra, key, val)
                        if (json_add(params, key, json_object_get(val)) < 0)
                                return log_oom();
        }
        r = request(method, params, ret);
        if (r != 0)
                return r;
        if (!jobj(*ret, "process")) {
                json_object_put(*ret);
                *ret = NULL;
                return log_error_errno(EBADMSG, "Received a reply without a process from lineaged.");
        }
        return 0;
}
