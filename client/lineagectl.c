/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl: the command-line client of lineaged, speaking varlink (default) or D-Bus. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "json-error.h"
#include "glyph.h"
#include "journal-format.h"
#include "json-scan.h"
#include "lineage/dbus-methods.h"
#include "journal-read.h"
#include "offline.h"
#include "pager.h"
#include "time-parse.h"
#include "lineage/fields.h"
#include "lineage/names.h"
#include "lineage/util.h"

#ifndef PROJECT_VERSION
#define PROJECT_VERSION "unknown"
#endif

/* Exit codes; documented in --help and docs/lineagectl.md. Verbs return -errno, main() maps:
 * -EINVAL -> usage, -ESRCH -> no such process, -EACCES -> permission, -EHOSTDOWN -> not reachable. */
enum {
        EXIT_USAGE = 2,
        EXIT_NO_SUCH_PROCESS = 3,
        EXIT_PERMISSION = 4,
        EXIT_NOT_RUNNING = 5,
};

#define REPLY_MAX (64U * 1024U * 1024U)            /* one reply, bytes */
#define CALL_TIMEOUT_USEC (30 * (int64_t) USEC_PER_SEC)
#define JSON_DEPTH_MAX 64
#define BUS_DEPTH_MAX 64
#define TABLE_COMMAND_MAX 64                        /* characters of a command in tables */
#define LINE_COMMAND_MAX 128                        /* characters of a command elsewhere */
#define INDENT_DEPTH_MAX 64                         /* deeper levels are drawn as a count */
#define USEC_PER_SEC_I ((int64_t) USEC_PER_SEC)

enum { JSON_OFF, JSON_SHORT, JSON_PRETTY };

enum {
        VERB_AT = 1 << 0,     /* takes --at */
        VERB_ALIVE = 1 << 1,  /* takes --alive */
        VERB_LIMIT = 1 << 2,  /* takes --limit */
        VERB_LOGINS = 1 << 3, /* takes --user, --since, --until */
        VERB_TYPES = 1 << 4,  /* takes --type */
        VERB_BOOT = 1 << 5,   /* takes --boot */
        VERB_TREE = 1 << 6,   /* takes --format */
        VERB_LOGIN = 1 << 7,  /* takes --login */
        VERB_SEARCH = 1 << 8, /* takes --exe, --comm, --argv */
};

static const char *arg_varlink = LINEAGE_DEFAULT_VARLINK;
static const char *arg_bus = NULL; /* NULL: varlink */
static const char *arg_database = NULL; /* --database: answers from this file, without the daemon */
static const char *arg_journal = NULL, *arg_machine = NULL; /* --journal: "" the local one; --machine */
static int arg_json = JSON_OFF;
static bool arg_full = false;
static bool arg_utc = false;            /* --utc: print times in UTC */
static bool arg_no_pager = false;
static bool arg_no_legend = false;      /* no table headers, no "N listed" lines */
static bool arg_quiet = false;          /* no legend lines, hints or warnings */
static bool arg_at_set = false;
static int64_t arg_at = 0;
static bool arg_alive = false;
static bool arg_limit_set = false;
static uint64_t arg_limit = 0;
static bool arg_user_set = false;
static int64_t arg_user = 0;
static bool arg_since_set = false, arg_until_set = false;
static int64_t arg_since = 0, arg_until = 0;
static json_object *arg_types = NULL;
static const char *arg_boot = NULL;
static const char *arg_login = NULL;     /* tree --login=INSTANCE, search --login=@INSTANCE|SESSION */
static const char *arg_exe = NULL, *arg_comm = NULL, *arg_argv = NULL; /* search */
static bool arg_format_dot = false;      /* tree --format=dot */

static bool use_color = false;
static volatile sig_atomic_t quit_requested = 0;
static sigset_t wait_sigmask;
static bool wait_sigmask_set = false;

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
#define _cleanup_json_ _cleanup_(json_object_putp)
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

/* ---- small helpers ---------------------------------------------------------------------------- */

static const char *ansi(const char *seq) {
        return use_color ? seq : "";
}
#define ANSI_HIGHLIGHT ansi("\033[1m")
#define ANSI_GREY ansi("\033[38;5;245m")
#define ANSI_RED ansi("\033[1;31m")
#define ANSI_NORMAL ansi("\033[0m")

static bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static json_object *jget(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
                return NULL;
        return v;
}

static const char *jstr(json_object *o, const char *key) {
        json_object *v = jget(o, key);

        return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool jint(json_object *o, const char *key, int64_t *ret) {
        json_object *v = jget(o, key);

        if (!json_object_is_type(v, json_type_int))
                return false;
        *ret = json_object_get_int64(v);
        return true;
}

static int64_t jint_or(json_object *o, const char *key, int64_t def) {
        int64_t v;

        return jint(o, key, &v) ? v : def;
}

static bool jbool(json_object *o, const char *key) {
        json_object *v = jget(o, key);

        return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static json_object *jobj(json_object *o, const char *key) {
        json_object *v = jget(o, key);

        return json_object_is_type(v, json_type_object) ? v : NULL;
}

static json_object *jarr(json_object *o, const char *key) {
        json_object *v = jget(o, key);

        return json_object_is_type(v, json_type_array) ? v : NULL;
}

static size_t jarr_len(json_object *a) {
        return a ? json_object_array_length(a) : 0;
}

static int json_add(json_object *o, const char *key, json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* The code point of the UTF-8 sequence at s, and its length; anything else is one byte, itself. */
static size_t utf8_decode(const char *s, uint32_t *ret) {
        const unsigned char *u = (const unsigned char *) s;
        size_t n = u[0] < 0xc0 || u[0] >= 0xf8 ? 1 : u[0] < 0xe0 ? 2 : u[0] < 0xf0 ? 3 : 4;
        uint32_t c = n == 1 ? u[0] : u[0] & (0x7f >> n);

        for (size_t i = 1; i < n; i++) {
                if ((u[i] & 0xc0) != 0x80) {
                        *ret = u[0];
                        return 1;
                }
                c = c << 6 | (u[i] & 0x3f);
        }
        *ret = c;
        return n;
}

/* Characters that move, hide or reorder text on a terminal without showing themselves: C1 controls,
 * bidirectional embeddings, overrides and isolates, zero-width and other invisible format characters,
 * line and paragraph separators. */
static bool is_invisible(uint32_t c) {
        return (c >= 0x80 && c <= 0x9f) || c == 0xad || c == 0x61c || c == 0x180e ||
               (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
               (c >= 0x2060 && c <= 0x206f) || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb);
}

/* The escaped form of the character at s into buf (empty when it is shown as it is); its length. With
 * backslash set a backslash is escaped too, so that the text "\x1b" and a real ESC print differently;
 * text the daemon escaped already (argv, comm: a backslash is \\ there) keeps its backslashes. */
static size_t escape_one(const char *s, char buf[static 12], bool backslash) {
        uint32_t c;
        size_t n = utf8_decode(s, &c);

        buf[0] = 0;
        if (c < 0x20 || c == 0x7f || (n == 1 && c >= 0x80)) /* a control, or a byte that is not UTF-8 */
                snprintf(buf, 12, "\\x%02x", (unsigned) c);
        else if (c == '\\' && backslash)
                strcpy(buf, "\\\\");
        else if (n > 1 && is_invisible(c))
                snprintf(buf, 12, "\\u%04x", (unsigned) c);
        return n;
}

/* Escapes what escape_one() does, so that nothing the daemon sends can drive or garble the terminal. */
static char *escape_controls(const char *s, bool backslash) {
        size_t k = 0;
        char *r = malloc(strlen(s) * 4 + 1), e[12];

        if (!r)
                return NULL;
        for (size_t i = 0; s[i];) {
                size_t n = escape_one(s + i, e, backslash);

                if (e[0]) {
                        k += (size_t) sprintf(r + k, "%s", e);
                } else {
                        memcpy(r + k, s + i, n);
                        k += n;
                }
                i += n;
        }
        r[k] = 0;
        return r;
}

static bool needs_escape(const char *s, bool backslash) {
        char e[12];

        for (size_t i = 0; s[i];) {
                i += escape_one(s + i, e, backslash);
                if (e[0])
                        return true;
        }
        return false;
}

/* Replaces every string in a reply by its escaped form, once, before human output. argv and comm come
 * escaped by the daemon (a byte as \xNN, a backslash as \\ or \x5c): their backslashes stay as they are. */
static int json_sanitize_full(json_object *o, unsigned depth, bool escaped) {
        int r;

        if (depth > JSON_DEPTH_MAX)
                return -EBADMSG;
        if (json_object_is_type(o, json_type_string)) {
                _cleanup_free_ char *e = NULL;

                if (!needs_escape(json_object_get_string(o), !escaped))
                        return 0;
                e = escape_controls(json_object_get_string(o), !escaped);
                if (!e || !json_object_set_string(o, e))
                        return -ENOMEM;
                return 0;
        }
        if (json_object_is_type(o, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(o); i++) {
                        r = json_sanitize_full(json_object_array_get_idx(o, i), depth + 1, escaped);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        if (json_object_is_type(o, json_type_object)) {
                json_object_object_foreach(o, key, val) {
                        r = json_sanitize_full(val, depth + 1, streq(key, "argv") || streq(key, "comm"));
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int json_sanitize(json_object *o, unsigned depth) {
        return json_sanitize_full(o, depth, false);
}

static size_t utf8_width(const char *s) {
        size_t n = 0;

        for (; *s; s++)
                if (((unsigned char) *s & 0xc0) != 0x80)
                        n++;
        return n;
}

/* Shortens *s to at most max characters, ending in "…". */
static int ellipsize(char **s, size_t max) {
        size_t chars = 0, i;
        char *n;

        if (max == SIZE_MAX || max < 2 || utf8_width(*s) <= max)
                return 0;
        for (i = 0; (*s)[i]; i++)
                if (((unsigned char) (*s)[i] & 0xc0) != 0x80 && ++chars == max)
                        break;
        if (asprintf(&n, "%.*s%s", (int) i, *s, glyph(GLYPH_ELLIPSIS)) < 0)
                return -ENOMEM;
        free(*s);
        *s = n;
        return 0;
}

/* Local time (UTC with --utc) with microseconds and the zone, a form parse_time() takes back. */
#define TS(t) time_format((char[TIME_FORMAT_MAX]){ 0 }, TIME_FORMAT_MAX, (t), arg_utc)
/* "2h 5min ago", as systemd prints it beside a timestamp in lists. */
#define AGO(t) time_format_relative((char[TIME_FORMAT_MAX]){ 0 }, TIME_FORMAT_MAX, (t), (int64_t) now_usec(CLOCK_REALTIME))

static const char *format_timespan(char *buf, size_t size, int64_t usec) {
        int64_t s = usec / USEC_PER_SEC_I;

        if (usec < 0)
                return "n/a";
        if (s >= 86400)
                snprintf(buf, size, "%" PRIi64 "d %" PRIi64 "h %" PRIi64 "min", s / 86400, s % 86400 / 3600,
                         s % 3600 / 60);
        else if (s >= 3600)
                snprintf(buf, size, "%" PRIi64 "h %" PRIi64 "min %" PRIi64 "s", s / 3600, s % 3600 / 60, s % 60);
        else if (s >= 60)
                snprintf(buf, size, "%" PRIi64 "min %" PRIi64 "s", s / 60, s % 60);
        else
                snprintf(buf, size, "%" PRIi64 ".%03" PRIi64 "s", s, usec % USEC_PER_SEC_I / 1000);
        return buf;
}

static const char *format_bytes(char *buf, size_t size, int64_t bytes) {
        static const char suffix[] = "KMGT";
        double v = (double) bytes;
        int i = -1;

        if (bytes < 1024) {
                snprintf(buf, size, "%" PRIi64 "B", bytes);
                return buf;
        }
        while (v >= 1024.0 && i < 3) {
                v /= 1024.0;
                i++;
        }
        snprintf(buf, size, "%.1f%c", v, suffix[i]);
        return buf;
}

static const char *signal_name(char *buf, size_t size, int64_t sig) {
        const char *n = sig > 0 && sig < 65 ? sigabbrev_np((int) sig) : NULL;

        if (n)
                snprintf(buf, size, "SIG%s", n);
        else
                snprintf(buf, size, "%" PRIi64, sig);
        return buf;
}
#define SIGNAME(s) signal_name((char[32]){ 0 }, 32, (s))

/* ---- parsing of command-line values ---------------------------------------------------------- */

/* TIME in systemd.time(7) syntax (see time-parse.h), relative to now. */
static int parse_time(const char *s, int64_t *ret) {
        return time_parse(s, (int64_t) now_usec(CLOCK_REALTIME), ret);
}

typedef struct Target {
        const char *name; /* as typed */
        int64_t pid;      /* 0 when an instance was given */
        int64_t instance; /* 0 when a pid was given */
        bool login;       /* tree --login: instance is where a login began */
} Target;

/* "PID" or "@INSTANCE". */
static int parse_target(const char *s, Target *ret) {
        uint64_t v;

        if (safe_atou64(s[0] == '@' ? s + 1 : s, &v) < 0 || v == 0 || v > (s[0] == '@' ? INT64_MAX : INT32_MAX))
                return log_error_errno(EINVAL, "Invalid process \"%s\": expected a pid or @INSTANCE.", s);
        *ret = (Target) {
                .name = s,
                .pid = s[0] == '@' ? 0 : (int64_t) v,
                .instance = s[0] == '@' ? (int64_t) v : 0,
        };
        return 0;
}

static int parse_user(const char *s, int64_t *ret) {
        struct passwd *pw;
        uint64_t v;

        if (safe_atou64(s, &v) >= 0) {
                if (v >= UINT32_MAX)
                        return log_error_errno(EINVAL, "Invalid user id: %s", s);
                *ret = (int64_t) v;
                return 0;
        }
        errno = 0;
        pw = getpwnam(s);
        if (!pw)
                return log_error_errno(EINVAL, "Unknown user: %s", s);
        *ret = (int64_t) pw->pw_uid;
        return 0;
}

static int add_types(const char *list) {
        _cleanup_free_ char *copy = strdup(list);
        char *save = NULL;

        if (!copy)
                return log_oom();
        if (!arg_types) {
                arg_types = json_object_new_array();
                if (!arg_types)
                        return log_oom();
        }
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if ((int) lineage_event_type_from_string(t) <= 0)
                        return log_error_errno(EINVAL,
                                               "Unknown event type \"%s\" (expected fork, exec, uid, gid, sid, "
                                               "ptrace, comm, coredump, exit).", t);
                if (json_object_array_add(arg_types, json_object_new_string(t)) < 0)
                        return log_oom();
        }
        return 0;
}

/* ---- errors from the daemon ------------------------------------------------------------------ */

static const char *error_short_name(const char *name) {
        const char *dot = strrchr(name, '.');

        return dot ? dot + 1 : name;
}

static int print_json(json_object *o);

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
static int report_error(const char *method, json_object *call, const char *name, json_object *eparams,
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

typedef struct Varlink {
        int fd;
        char *buf;
        size_t used, scanned, allocated;
} Varlink;

static void varlink_done(Varlink *v) {
        closep(&v->fd);
        v->fd = -1;
        free(v->buf);
        v->buf = NULL;
}

static void on_quit_signal(_unused_ int sig) {
        quit_requested = 1;
}

/* Waits for events on fd until deadline (CLOCK_MONOTONIC µs, 0: forever). With signals routed to
 * quit_requested (watch), SIGINT/SIGTERM are only unblocked inside ppoll(), so none is missed. */
static int fd_wait(int fd, short events, int64_t deadline) {
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

static int varlink_connect(Varlink *v, const char *path) {
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

static int varlink_send(Varlink *v, const char *method, json_object *params, bool more, int64_t deadline) {
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

static int json_parse_message(const char *s, size_t len, json_object **ret) {
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
 * varlink_drop(). deadline: CLOCK_MONOTONIC µs, 0: wait forever. */
static int varlink_read_text(Varlink *v, int64_t deadline, size_t *ret_len) {
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
static void varlink_drop(Varlink *v, size_t len) {
        memmove(v->buf, v->buf + len + 1, v->used - len - 1);
        v->used -= len + 1;
        v->scanned = 0;
}

/* Reads one NUL-terminated message. deadline: CLOCK_MONOTONIC µs, 0: wait forever. */
static int varlink_read(Varlink *v, int64_t deadline, json_object **ret) {
        size_t len;
        int r;

        r = varlink_read_text(v, deadline, &len);
        if (r < 0)
                return r;
        r = json_parse_message(v->buf, len, ret);
        varlink_drop(v, len);
        return r;
}

/* Splits a reply message: returns its parameters (a new reference), or the mapped error. */
static int varlink_reply(const char *method, json_object *call, json_object *msg, json_object **ret,
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

static int varlink_call(const char *method, json_object *params, json_object **ret) {
        _cleanup_(varlink_done) Varlink v = { .fd = -1 };
        _cleanup_json_ json_object *msg = NULL;
        int64_t deadline = (int64_t) now_usec(CLOCK_MONOTONIC) + CALL_TIMEOUT_USEC;
        int r;

        r = varlink_connect(&v, arg_varlink);
        if (r < 0)
                return r;
        r = varlink_send(&v, method, params, false, deadline);
        if (r < 0)
                return r;
        r = varlink_read(&v, deadline, &msg);
        if (r < 0)
                return r;
        return varlink_reply(method, params, msg, ret, NULL);
}

/* ---- D-Bus transport ------------------------------------------------------------------------- */

/* ResolveBatch's queries as a(suxx): bootId ("" = the current boot), pid, realtime (0 = not given),
 * monotonic (-1 = not given). */
static int bus_append_queries(sd_bus_message *m, json_object *queries) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "(suxx)");
        for (size_t i = 0; r >= 0 && i < jarr_len(queries); i++) {
                json_object *q = json_object_array_get_idx(queries, i);

                r = sd_bus_message_append(m, "(suxx)", jstr(q, "bootId") ?: "", (uint32_t) jint_or(q, "pid", 0),
                                          jint_or(q, "realtime", 0), jint_or(q, "monotonic", -1));
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r < 0 ? r : 0;
}

/* Strings of a JSON array as a D-Bus "as". */
static int bus_append_strings(sd_bus_message *m, json_object *array) {
        _cleanup_free_ char **strv = calloc(jarr_len(array) + 1, sizeof(char *));

        if (!strv)
                return -ENOMEM;
        for (size_t i = 0; i < jarr_len(array); i++)
                strv[i] = (char *) json_object_get_string(json_object_array_get_idx(array, i));
        return sd_bus_message_append_strv(m, strv);
}

/* The typed in-arguments of a method (lineage/dbus-methods.h); absent ones are sent as what means
 * "not given" to the daemon: 0, "", false, an empty array, or -1 for loginUid and uid. */
static int bus_append_args(sd_bus_message *m, const char *name, json_object *params) {
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
                        r = bus_append_queries(m, jarr(params, param));
                        break;
                case 'a':
                        r = bus_append_strings(m, jarr(params, param));
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
                }
        }
        return r < 0 ? r : 0;
}

static bool is_map_key(const char *key) {
        /* Status.events is a map ([string]int): {} is a value there, not a null record. */
        return streq(key, "events");
}

static int bus_read_value(sd_bus_message *m, unsigned depth, json_object **ret);

static int bus_read_dict(sd_bus_message *m, const char *contents, unsigned depth, json_object **ret) {
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
                r = bus_read_value(m, depth + 1, &v);
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

static int bus_read_array(sd_bus_message *m, char type, const char *contents, unsigned depth, json_object **ret) {
        _cleanup_json_ json_object *a = json_object_new_array();
        int r;

        if (!a)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, type, contents);
        if (r < 0)
                return r;
        while ((r = sd_bus_message_at_end(m, false)) == 0) {
                json_object *v = NULL;

                r = bus_read_value(m, depth + 1, &v);
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

static int bus_read_basic(sd_bus_message *m, char type, json_object **ret) {
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
static int bus_read_value(sd_bus_message *m, unsigned depth, json_object **ret) {
        const char *contents;
        char type;
        int r;

        if (depth > BUS_DEPTH_MAX)
                return -EBADMSG;
        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        if (type == 'a' && startswith(contents, "{s"))
                return bus_read_dict(m, contents, depth, ret);
        if (type == 'a' || type == 'r')
                return bus_read_array(m, type, contents, depth, ret);
        if (type == 'v') {
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r < 0)
                        return r;
                r = bus_read_value(m, depth + 1, ret);
                if (r < 0)
                        return r;
                return sd_bus_message_exit_container(m);
        }
        return bus_read_basic(m, type, ret);
}

static const char *bus_description(void) {
        static char buf[256];

        if (streq(arg_bus, "system") || streq(arg_bus, "session") || streq(arg_bus, "user"))
                snprintf(buf, sizeof(buf), "the %s bus", streq(arg_bus, "system") ? "system" : "session");
        else
                snprintf(buf, sizeof(buf), "the bus at %s", arg_bus);
        return buf;
}

static int bus_connect(sd_bus **ret) {
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
                log_error("lineaged is not reachable (cannot connect to %s: %m)", bus_description());
                return -EHOSTDOWN;
        }
        *ret = TAKE_PTR(bus);
        return 0;
}

static int bus_report_error(const char *method, json_object *params, const sd_bus_error *error, int r) {
        if (sd_bus_error_is_set(error)) {
                if (sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                           SD_BUS_ERROR_NO_SERVER, SD_BUS_ERROR_DISCONNECTED)) {
                        log_error("lineaged is not running (%s is not on %s)", LINEAGE_DBUS_NAME, bus_description());
                        return -EHOSTDOWN;
                }
                return report_error(method, params, error->name, NULL, error->message);
        }
        if (r == -ETIMEDOUT)
                return log_error_errno(ETIMEDOUT, "Timed out waiting for lineaged to answer %s.", method);
        if (r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE) {
                log_error("Lost the connection to %s.", bus_description());
                return -EHOSTDOWN;
        }
        errno = -r;
        log_error("Failed to call %s on the bus: %m", method);
        return -EIO;
}

static int bus_new_call(sd_bus *bus, const char *method, json_object *params, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, LINEAGE_DBUS_NAME, LINEAGE_DBUS_PATH, LINEAGE_DBUS_INTERFACE,
                                           method);
        if (r >= 0)
                r = bus_append_args(m, method, params);
        if (r < 0) {
                errno = -r;
                return log_error_errno(r == -EINVAL ? EIO : -r, "Failed to build the %s call: %m", method);
        }
        *ret = TAKE_PTR(m);
        return 0;
}

/* The one out-argument, a{sv}, as a JSON object keyed like the varlink reply. */
static int bus_reply_to_json(sd_bus_message *reply, json_object **ret) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(reply, &type, &contents);
        if (r > 0 && type == 'a' && startswith(contents, "{s"))
                r = bus_read_value(reply, 0, ret);
        else if (r >= 0)
                r = -EBADMSG;
        if (r < 0)
                return log_error_errno(r == -ENOMEM ? ENOMEM : EBADMSG, "Received a malformed reply from lineaged.");
        return 0;
}

static int bus_call(const char *method, json_object *params, json_object **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        json_object *o = NULL;
        int r;

        r = bus_connect(&bus);
        if (r < 0)
                return r;
        r = bus_new_call(bus, method, params, &m);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, m, CALL_TIMEOUT_USEC, &error, &reply);
        if (r < 0)
                return bus_report_error(method, params, &error, r);
        r = bus_reply_to_json(reply, &o);
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
static int call_method(const char *method, json_object *params, json_object **ret) {
        if (arg_database)
                return offline_method(method, params, ret);
        if (arg_bus)
                return bus_call(method, params, ret);
        return varlink_call(method, params, ret);
}

/* ---- output ---------------------------------------------------------------------------------- */

static int print_json(json_object *o) {
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE;
        const char *s;

        flags |= arg_json == JSON_PRETTY ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN;
        s = json_object_to_json_string_ext(o, flags);
        if (!s)
                return log_oom();
        puts(s);
        return 0;
}

/* argv joined (ps-style "[comm]" for an empty command line), else comm; at most max characters. */
static char *process_command(json_object *p, size_t max) {
        json_object *argv = jarr(p, "argv");
        const char *comm = jstr(p, "comm");
        char *s = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&s, &size);
        if (!f)
                return NULL;
        if (jarr_len(argv) > 0) {
                for (size_t i = 0; i < jarr_len(argv); i++) {
                        const char *a = json_object_get_string(json_object_array_get_idx(argv, i));

                        fprintf(f, "%s%s", i > 0 ? " " : "", a ?: "");
                        if (max != SIZE_MAX && size > max * 4) /* enough to fill max characters */
                                break;
                }
                if (jbool(p, "argvTruncated"))
                        fprintf(f, " %s", glyph(GLYPH_ELLIPSIS));
        } else if (comm)
                fprintf(f, argv ? "[%s]" : "%s", comm);
        else
                fputs(jbool(p, "redacted") ? "(redacted)" : "?", f);
        if (fclose(f) != 0 || !s || ellipsize(&s, max) < 0) {
                free(s);
                return NULL;
        }
        return s;
}

/* "alive", or "exited TIME status N" / "exited TIME signal SIGNAME"; compact for table cells. */
static char *process_state(json_object *p, bool compact) {
        int64_t t = jint_or(p, "exitTime", 0), v;
        char *s = NULL;
        int r;

        if (jbool(p, "alive"))
                return strdup("alive");
        if (compact) {
                if (jbool(p, "exitUnknown"))
                        return strdup("exited ?");
                if (jint(p, "exitSignal", &v))
                        r = asprintf(&s, "killed %s", SIGNAME(v));
                else if (jint(p, "exitStatus", &v))
                        r = asprintf(&s, "exited %" PRIi64, v);
                else
                        r = asprintf(&s, "exited");
        } else if (jbool(p, "exitUnknown"))
                r = asprintf(&s, "exited by %s, exit not observed", TS(t));
        else if (jint(p, "exitSignal", &v))
                r = asprintf(&s, "exited %s signal %s", TS(t), SIGNAME(v));
        else if (jint(p, "exitStatus", &v))
                r = asprintf(&s, "exited %s status %" PRIi64, TS(t), v);
        else
                r = asprintf(&s, "exited %s", TS(t));
        return r < 0 ? NULL : s;
}

/* Widths that align the pid and instance columns of a list of processes. */
typedef struct Widths {
        int pid, instance;
} Widths;

static void widths_add(Widths *w, json_object *p) {
        char buf[32];

        w->pid = MAX(w->pid, snprintf(buf, sizeof(buf), "%" PRIi64, jint_or(p, "pid", 0)));
        w->instance = MAX(w->instance, snprintf(buf, sizeof(buf), "%" PRIi64, jint_or(p, "instance", 0)));
}

/* The user name of a uid (getpwuid), else the number; remembered, as a tree repeats a few uids. */
static const char *user_name(int64_t uid) {
        static struct {
                int64_t uid;
                char *name;
        } cache[16];
        static size_t n_cache = 0, next = 0;
        struct passwd *pw;
        char *s = NULL;

        for (size_t i = 0; i < n_cache; i++)
                if (cache[i].uid == uid)
                        return cache[i].name;
        pw = uid >= 0 && uid <= UINT32_MAX ? getpwuid((uid_t) uid) : NULL;
        if (pw && pw->pw_name)
                s = strdup(pw->pw_name);
        else if (asprintf(&s, "%" PRIi64, uid) < 0)
                s = NULL;
        if (!s)
                return NULL;
        if (n_cache < ELEMENTSOF(cache))
                next = n_cache++;
        else {
                free(cache[next].name);
                next = (next + 1) % ELEMENTSOF(cache);
        }
        cache[next].uid = uid;
        cache[next].name = s;
        return s;
}

/* The user to show with p, like pstree -u: where it differs from its parent's; at the top of a chain or
 * tree (parent NULL) where it is not root, as if under init. Unmarked processes run as the nearest
 * marked one above them (or root), so every process's user can be read off. NULL: show none. */
static const char *user_mark(json_object *p, json_object *parent) {
        int64_t uid, puid = 0;

        if (!jint(p, "uid", &uid))
                return NULL;
        if (parent && !jint(parent, "uid", &puid))
                return user_name(uid);
        return uid == puid ? NULL : user_name(uid);
}

static void print_left_out(size_t n);

/* "4242 @100  (alice) sleep 1000  (alive)  [lineage: procfs]"; w may be NULL; user as user_mark() (NULL:
 * none); left_out as print_left_out(). */
static int print_process_line_left_out(json_object *p, const char *prefix, const Widths *w, const char *user,
                                       size_t left_out) {
        _cleanup_free_ char *cmd = process_command(p, arg_full ? SIZE_MAX : LINE_COMMAND_MAX);
        _cleanup_free_ char *state = process_state(p, false);
        const char *src = jstr(p, "lineageSource");

        if (!cmd || !state)
                return log_oom();
        printf("%s%s%*" PRIi64 "%s @%-*" PRIi64 "  %s%s%s%s  %s(%s)%s", prefix, ANSI_HIGHLIGHT, w ? w->pid : 0,
               jint_or(p, "pid", 0), ANSI_NORMAL, w ? w->instance : 0, jint_or(p, "instance", 0),
               user ? "(" : "", user ?: "", user ? ") " : "", cmd, jbool(p, "alive") ? "" : ANSI_GREY, state,
               ANSI_NORMAL);
        if (src && !streq(src, "fork"))
                printf("  [lineage: %s]", src);
        if (jstr(p, "containerId"))
                printf("  [container: %.12s]", jstr(p, "containerId"));
        if (jbool(p, "redacted"))
                fputs("  [redacted]", stdout);
        print_left_out(left_out);
        putchar('\n');
        return 0;
}

static int print_process_line(json_object *p, const char *prefix, const Widths *w, const char *user) {
        return print_process_line_left_out(p, prefix, w, user, 0);
}

static void print_gaps(json_object *reply) {
        json_object *gaps = jarr(reply, "gaps");
        size_t n = jarr_len(gaps);

        if (n == 0)
                return;
        printf("%s! this answer crosses %zu recorded gap(s):%s\n", ANSI_RED, n, ANSI_NORMAL);
        for (size_t i = 0; i < n; i++) {
                json_object *g = json_object_array_get_idx(gaps, i);
                int64_t lost;

                printf("!   %s %s %s: %s", TS(jint_or(g, "startTime", 0)), glyph(GLYPH_DASH), TS(jint_or(g, "endTime", 0)),
                       strna(jstr(g, "reason")));
                if (jint(g, "lost", &lost))
                        printf(", %" PRIi64 " event(s) lost", lost);
                putchar('\n');
        }
}

/* A table: header row plus rows of owned cells; the last column is not padded. */
typedef struct Table {
        size_t n_columns, n_cells;
        char **cells;
} Table;

static void table_done(Table *t) {
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
}

/* Takes ownership of cell (NULL means out of memory). */
static int table_add(Table *t, char *cell) {
        char **c;

        if (!cell)
                return -ENOMEM;
        c = realloc(t->cells, (t->n_cells + 1) * sizeof(char *));
        if (!c) {
                free(cell);
                return -ENOMEM;
        }
        t->cells = c;
        t->cells[t->n_cells++] = cell;
        return 0;
}

static int table_addf(Table *t, const char *fmt, ...) _printf_(2, 3);
static int table_addf(Table *t, const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return table_add(t, r < 0 ? NULL : s);
}

static int table_print(Table *t) {
        _cleanup_free_ size_t *width = calloc(t->n_columns, sizeof(size_t));

        size_t first = arg_no_legend ? t->n_columns : 0; /* the first row is the header */

        if (!width)
                return log_oom();
        for (size_t i = first; i < t->n_cells; i++)
                width[i % t->n_columns] = MAX(width[i % t->n_columns], utf8_width(t->cells[i]));
        for (size_t i = first; i < t->n_cells; i++) {
                size_t col = i % t->n_columns;
                bool last = col == t->n_columns - 1;

                if (i < t->n_columns && col == 0)
                        fputs(ANSI_HIGHLIGHT, stdout);
                fputs(t->cells[i], stdout);
                if (!last)
                        printf("%*s", (int) (width[col] - utf8_width(t->cells[i]) + 1), "");
                if (last && i < t->n_columns)
                        fputs(ANSI_NORMAL, stdout);
                if (last)
                        putchar('\n');
        }
        return 0;
}

/* "Key: value" lines with right-aligned keys, like systemctl status. */
static void print_field(int width, const char *key, const char *fmt, ...) _printf_(3, 4);
static void print_field(int width, const char *key, const char *fmt, ...) {
        va_list ap;

        printf("%*s: ", width, key);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

/* ---- requests -------------------------------------------------------------------------------- */

static int target_params(const Target *t, bool with_at, json_object **ret) {
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

/* Makes the call for a verb; returns 1 when the reply was printed as JSON and nothing else is to be done. */
/* Keys added to the next reply printed with --json (tree --login adds "login"). */
static json_object *json_extra = NULL;

static int request(const char *method, json_object *params, json_object **ret) {
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

static int request_process(const char *method, const Target *t, bool with_at, json_object *extra,
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

/* ---- verbs ----------------------------------------------------------------------------------- */

/* A login not shown to be begun by a privileged process: what it says of itself is a claim. An answer
 * without the field (an older daemon) is not vouched for either. */
static bool self_declared(json_object *login) {
        json_object *v;

        return !json_object_object_get_ex(login, "selfDeclared", &v) || json_object_get_boolean(v);
}

static const char *claimed(json_object *login) {
        return self_declared(login) ? " (claimed)" : "";
}

static void print_login(json_object *login, const char *reason) {
        const char *s;
        int64_t v, port;

        if (!login) {
                printf("%sLogin:%s none (%s)\n", ANSI_HIGHLIGHT, ANSI_NORMAL, reason ?: "no login is recorded");
                return;
        }
        printf("%sLogin:%s session %" PRIi64 " of %s (uid %" PRIi64 ")%s%s\n", ANSI_HIGHLIGHT, ANSI_NORMAL,
               jint_or(login, "auditSession", 0), jstr(login, "user") ?: "unknown user",
               jint_or(login, "loginUid", -1), jbool(login, "alive") ? "" : ", ended",
               self_declared(login) ? ", self-declared" : "");
        if ((s = jstr(login, "service")))
                print_field(9, "Service", "%s%s", s, claimed(login));
        if ((s = jstr(login, "remoteAddress"))) {
                if (jint(login, "remotePort", &port))
                        print_field(9, "Remote", strchr(s, ':') ? "[%s]:%" PRIi64 "%s" : "%s:%" PRIi64 "%s", s, port,
                                    claimed(login));
                else
                        print_field(9, "Remote", "%s%s", s, claimed(login));
        }
        if ((s = jstr(login, "tty")))
                print_field(9, "TTY", "%s", s);
        print_field(9, "Started", "%s by @%" PRIi64, TS(jint_or(login, "startTime", 0)), jint_or(login, "instance", 0));
        if (jint(login, "endTime", &v))
                print_field(9, "Ended", "%s", TS(v));
        else if (jbool(login, "alive"))
                print_field(9, "Ended", "no, still active");
}

static int verb_origin(const Target *t) {
        _cleanup_json_ json_object *reply = NULL;
        json_object *ancestors;
        Widths w = {};
        int r;

        r = request_process("GetOrigin", t, true, NULL, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        print_login(jobj(reply, "login"), jstr(reply, "loginReason"));
        printf("\n%sChain, nearest first:%s\n", ANSI_HIGHLIGHT, ANSI_NORMAL);
        ancestors = jarr(reply, "ancestors");
        widths_add(&w, jobj(reply, "process"));
        for (size_t i = 0; i < jarr_len(ancestors); i++)
                widths_add(&w, json_object_array_get_idx(ancestors, i));
        /* Nearest first: each line's parent is the next one; the user shows where it changes. */
        r = print_process_line(jobj(reply, "process"), "  ", &w,
                               user_mark(jobj(reply, "process"), json_object_array_get_idx(ancestors, 0)));
        for (size_t i = 0; r >= 0 && i < jarr_len(ancestors); i++)
                r = print_process_line(json_object_array_get_idx(ancestors, i), "  ", &w,
                                       user_mark(json_object_array_get_idx(ancestors, i),
                                                 i + 1 < jarr_len(ancestors) ?
                                                 json_object_array_get_idx(ancestors, i + 1) : NULL));
        if (r < 0)
                return r;
        if (!jbool(reply, "complete"))
                printf("  %s the chain ends here: the next birth parent is not known\n", glyph(GLYPH_ELLIPSIS));
        print_gaps(reply);
        return 0;
}

/* The USER cell: the user of p, and "(from OLD)" where it differs from its parent's (the next row). */
static char *user_cell(json_object *p, json_object *parent) {
        const char *user, *from = NULL;
        int64_t uid;
        char *s;

        if (!jint(p, "uid", &uid))
                return strdup("-");
        user = user_name(uid);
        if (!user)
                return NULL;
        if (parent && user_mark(p, parent) && jint(parent, "uid", &uid))
                from = user_name(uid);
        if (!from)
                return strdup(user);
        return asprintf(&s, "%s (from %s)", user, from) < 0 ? NULL : s;
}

static int add_process_row(Table *t, json_object *p, json_object *parent) {
        char *cmd = process_command(p, arg_full ? SIZE_MAX : TABLE_COMMAND_MAX);
        int r;

        r = table_addf(t, "%" PRIi64, jint_or(p, "pid", 0));
        if (r >= 0)
                r = table_addf(t, "@%" PRIi64, jint_or(p, "instance", 0));
        if (r >= 0)
                r = table_add(t, user_cell(p, parent));
        if (r >= 0)
                r = table_add(t, process_state(p, true));
        if (r >= 0)
                r = table_add(t, strdup(TS(jint_or(p, "startTime", 0))));
        if (r >= 0)
                r = table_add(t, TAKE_PTR(cmd));
        if (r >= 0)
                r = table_add(t, strdup(jstr(p, "lineageSource") ?: "-"));
        free(cmd);
        return r;
}

static int verb_ancestors(const Target *t) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_(table_done) Table table = { .n_columns = 7 };
        static const char *const header[] = { "PID", "INSTANCE", "USER", "STATE", "STARTED", "COMMAND", "SOURCE" };
        json_object *ancestors;
        int r = 0;

        r = request_process("GetAncestors", t, true, NULL, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(header); i++)
                r = table_add(&table, strdup(header[i]));
        ancestors = jarr(reply, "ancestors");
        if (r >= 0)
                r = add_process_row(&table, jobj(reply, "process"), json_object_array_get_idx(ancestors, 0));
        for (size_t i = 0; r >= 0 && i < jarr_len(ancestors); i++)
                r = add_process_row(&table, json_object_array_get_idx(ancestors, i),
                                    i + 1 < jarr_len(ancestors) ? json_object_array_get_idx(ancestors, i + 1) : NULL);
        if (r < 0)
                return log_oom();
        r = table_print(&table);
        if (r < 0)
                return r;
        if (!jbool(reply, "complete"))
                printf("%s the chain ends here: the next birth parent is not known\n", glyph(GLYPH_ELLIPSIS));
        print_gaps(reply);
        return 0;
}

/* GetDescendants with --alive/--limit; checks that depths pairs with descendants. */
static int request_descendants(const Target *t, json_object **ret) {
        _cleanup_json_ json_object *extra = json_object_new_object();
        int r;

        if (!extra)
                return log_oom();
        if (arg_limit_set && json_add(extra, "limit", json_object_new_int64((int64_t) arg_limit)) < 0)
                return log_oom();
        if (arg_alive && json_add(extra, "aliveOnly", json_object_new_boolean(true)) < 0)
                return log_oom();
        r = request_process("GetDescendants", t, true, extra, ret);
        if (r != 0)
                return r;
        if (jarr_len(jarr(*ret, "descendants")) != jarr_len(jarr(*ret, "depths"))) {
                json_object_put(*ret);
                *ret = NULL;
                return log_error_errno(EBADMSG, "Received a reply whose descendants and depths do not pair up.");
        }
        return 0;
}

/* How a depth-first list of descendants is drawn: depth[i] is the drawing depth (1 below the process),
 * left_out[i] the exited generations between entry i and the entry it is drawn under (--alive leaves them
 * out). parents[i] names that entry (-1: the process itself); without a usable parents array (an older
 * daemon) it is the nearest entry before i that is less deep, which is right when nothing is left out. */
typedef struct Layout {
        size_t *depth, *left_out;
} Layout;

static void layout_done(Layout *l) {
        free(l->depth);
        free(l->left_out);
        *l = (Layout) {};
}

static int64_t reply_depth(json_object *depths, size_t i) {
        int64_t d = json_object_get_int64(json_object_array_get_idx(depths, i));

        return d < 1 ? 1 : MIN(d, (int64_t) INT32_MAX);
}

/* The listed entry that i is drawn under, or -1; never a later entry nor one as deep (bad replies). */
static int64_t layout_parent(json_object *reply, size_t i) {
        json_object *depths = jarr(reply, "depths"), *parents = jarr(reply, "parents");
        int64_t d = reply_depth(depths, i), p;

        if (jarr_len(parents) == jarr_len(depths)) {
                p = json_object_get_int64(json_object_array_get_idx(parents, i));
                if (p >= 0 && (size_t) p < i && reply_depth(depths, (size_t) p) < d)
                        return p;
                return -1;
        }
        for (size_t j = i; j-- > 0;)
                if (reply_depth(depths, j) < d)
                        return (int64_t) j;
        return -1;
}

static int layout_new(json_object *reply, Layout *ret) {
        json_object *depths = jarr(reply, "depths");
        size_t n = jarr_len(depths);
        Layout l = {
                .depth = calloc(n + 1, sizeof(size_t)),
                .left_out = calloc(n + 1, sizeof(size_t)),
        };

        if (!l.depth || !l.left_out) {
                layout_done(&l);
                return log_oom();
        }
        for (size_t i = 0; i < n; i++) {
                int64_t p = layout_parent(reply, i);
                int64_t above = p < 0 ? 0 : reply_depth(depths, (size_t) p);

                l.depth[i] = (p < 0 ? 0 : l.depth[p]) + 1;
                l.left_out[i] = (size_t) (reply_depth(depths, i) - above - 1);
        }
        *ret = l;
        return 0;
}

/* The process entry i is drawn under: the one the reader compares its user with. */
static json_object *drawn_parent(json_object *reply, size_t i) {
        int64_t p = layout_parent(reply, i);

        return p < 0 ? jobj(reply, "process") : json_object_array_get_idx(jarr(reply, "descendants"), (size_t) p);
}

/* " [2 exited ancestors left out]" after an entry drawn under a process that is not its birth parent. */
static void print_left_out(size_t n) {
        if (n > 0)
                printf("  %s[%zu exited ancestor%s left out]%s", ANSI_GREY, n, n == 1 ? "" : "s", ANSI_NORMAL);
}

static void print_truncated_default(json_object *reply, uint64_t limit_default) {
        if (jbool(reply, "truncated") && !arg_quiet)
                printf("%s more exist; raise --limit (now %" PRIu64 ") to see them\n", glyph(GLYPH_ELLIPSIS),
                       arg_limit_set ? arg_limit : limit_default);
}

static void print_truncated(json_object *reply) {
        print_truncated_default(reply, 10000);
}

static int verb_descendants(const Target *t) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_(layout_done) Layout layout = {};
        json_object *list;
        int r;

        r = request_descendants(t, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        r = layout_new(reply, &layout);
        if (r < 0)
                return r;
        r = print_process_line(jobj(reply, "process"), "", NULL, user_mark(jobj(reply, "process"), NULL));
        list = jarr(reply, "descendants");
        for (size_t i = 0; r >= 0 && i < jarr_len(list); i++) {
                char indent[2 * INDENT_DEPTH_MAX + 32];
                size_t depth = layout.depth[i];
                json_object *p = json_object_array_get_idx(list, i);

                if (depth <= INDENT_DEPTH_MAX)
                        snprintf(indent, sizeof(indent), "%*s", (int) (2 * depth), "");
                else
                        snprintf(indent, sizeof(indent), "%*s[depth %zu] ", 2 * INDENT_DEPTH_MAX, "", depth);
                r = print_process_line_left_out(p, indent, NULL, user_mark(p, drawn_parent(reply, i)),
                                                layout.left_out[i]);
        }
        if (r < 0)
                return r;
        print_truncated(reply);
        print_gaps(reply);
        return 0;
}

/* One tree entry after its box-drawing prefix: "1234 @56 (alice) sleep 10 (exited … status 0) [reparented
 * to 1]"; user as user_mark(). */
static int print_tree_entry(json_object *p, const char *user, size_t left_out) {
        _cleanup_free_ char *cmd = process_command(p, arg_full ? SIZE_MAX : LINE_COMMAND_MAX);
        int64_t parent, birth;

        if (!cmd)
                return log_oom();
        printf("%s%" PRIi64 "%s @%" PRIi64 " %s%s%s%s", ANSI_HIGHLIGHT, jint_or(p, "pid", 0), ANSI_NORMAL,
               jint_or(p, "instance", 0), user ? "(" : "", user ?: "", user ? ") " : "", cmd);
        if (!jbool(p, "alive")) {
                _cleanup_free_ char *state = process_state(p, false);

                if (!state)
                        return log_oom();
                printf(" %s(%s)%s", ANSI_GREY, state, ANSI_NORMAL);
        }
        if (jint(p, "parentPid", &parent) && jint(p, "birthParentPid", &birth) && parent != birth)
                printf(" [reparented to %" PRIi64 "]", parent);
        print_left_out(left_out);
        putchar('\n');
        return 0;
}

/* Marks each entry of a depth-first list that is the last child of its parent (one pass, backwards). */
static int tree_last_flags(const size_t *depth, size_t n, bool **ret_last) {
        _cleanup_free_ bool *last = calloc(n + 1, sizeof(bool));
        _cleanup_free_ bool *seen = calloc(n + 2, sizeof(bool));
        size_t top = 0;

        if (!last || !seen)
                return log_oom();
        for (size_t i = n; i-- > 0;) {
                size_t d = depth[i];

                last[i] = !seen[d];
                seen[d] = true;
                for (size_t k = d + 1; k <= top; k++)
                        seen[k] = false;
                top = d;
        }
        *ret_last = TAKE_PTR(last);
        return 0;
}

/* A DOT string: quotes and backslashes escaped, our line breaks as \n (control characters from the
 * daemon were escaped already by json_sanitize). */
static void dot_string(FILE *f, const char *s) {
        fputc('"', f);
        for (; *s; s++) {
                if (*s == '\n') {
                        fputs("\\n", f);
                        continue;
                }
                if (*s == '"' || *s == '\\')
                        fputc('\\', f);
                fputc(*s, f);
        }
        fputc('"', f);
}

/* One node: "comm[pid]", then the exit (dashed) and where it was reparented to, on lines of their own. */
static int print_dot_node(json_object *p) {
        _cleanup_free_ char *label = NULL;
        int64_t v, parent, birth;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&label, &size);
        if (!f)
                return log_oom();
        fprintf(f, "%s[%" PRIi64 "]", jstr(p, "comm") ?: "?", jint_or(p, "pid", 0));
        if (!jbool(p, "alive")) {
                if (jbool(p, "exitUnknown"))
                        fputs("\nexited, not observed", f);
                else if (jint(p, "exitSignal", &v))
                        fprintf(f, "\nkilled by %s", SIGNAME(v));
                else if (jint(p, "exitStatus", &v))
                        fprintf(f, "\nexited, status %" PRIi64, v);
                else
                        fputs("\nexited", f);
        }
        if (jint(p, "parentPid", &parent) && jint(p, "birthParentPid", &birth) && parent != birth)
                fprintf(f, "\nreparented to %" PRIi64, parent);
        if (fclose(f) != 0)
                return log_oom();
        printf("        i%" PRIi64 " [label=", jint_or(p, "instance", 0));
        dot_string(stdout, label);
        printf("%s];\n", jbool(p, "alive") ? "" : ", style=dashed");
        return 0;
}

/* The login as the graph's title. */
static void print_dot_title(json_object *login) {
        _cleanup_free_ char *title = NULL;
        const char *s, *addr = jstr(login, "remoteAddress");
        size_t size = 0;
        int64_t v;
        FILE *f = open_memstream(&title, &size);

        if (!f)
                return;
        fprintf(f, "login: session %" PRIi64 " of %s (uid %" PRIi64 ")", jint_or(login, "auditSession", 0),
                jstr(login, "user") ?: "unknown user", jint_or(login, "loginUid", -1));
        if ((s = jstr(login, "service")))
                fprintf(f, " via %s%s", s, claimed(login));
        if (addr && jint(login, "remotePort", &v))
                fprintf(f, strchr(addr, ':') ? " from [%s]:%" PRIi64 : " from %s:%" PRIi64, addr, v);
        else if (addr)
                fprintf(f, " from %s", addr);
        if (addr)
                fputs(claimed(login), f);
        if (self_declared(login))
                fputs(", self-declared", f);
        fprintf(f, ", started %s", TS(jint_or(login, "startTime", 0)));
        if (jint(login, "endTime", &v))
                fprintf(f, ", ended %s", TS(v));
        else if (jbool(login, "alive"))
                fputs(", still active", f);
        if (fclose(f) != 0 || !title)
                return;
        fputs("        graph [labelloc=t, label=", stdout);
        dot_string(stdout, title);
        fputs("];\n", stdout);
}

/* Graphviz: one node per process, an edge from each birth parent to its child. An edge is dotted when
 * the parent drawn is not the birth parent itself (the processes between are not in the answer). */
static int print_tree_dot(json_object *reply, json_object *login) {
        json_object *list = jarr(reply, "descendants"), *root = jobj(reply, "process");
        size_t n = jarr_len(list), depth;
        _cleanup_free_ int64_t *stack = calloc(n + 2, sizeof(int64_t));
        _cleanup_(layout_done) Layout layout = {};
        int r;

        if (!stack)
                return log_oom();
        r = layout_new(reply, &layout);
        if (r < 0)
                return r;
        puts("digraph lineage {");
        if (login)
                print_dot_title(login);
        puts("        node [shape=box, fontname=\"monospace\"];");
        r = print_dot_node(root);
        stack[0] = jint_or(root, "instance", 0);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                json_object *p = json_object_array_get_idx(list, i);
                int64_t birth;

                depth = layout.depth[i];
                stack[depth] = jint_or(p, "instance", 0);
                r = print_dot_node(p);
                if (r < 0)
                        break;
                printf("        i%" PRIi64 " -> i%" PRIi64 "%s;\n", stack[depth - 1], stack[depth],
                       jint(p, "birthParentInstance", &birth) && birth == stack[depth - 1] ? "" : " [style=dotted]");
        }
        if (r < 0)
                return r;
        puts("}");
        if (jbool(reply, "truncated"))
                log_warning("More descendants exist than --limit allowed (%" PRIu64 "); the graph is cut short.",
                            arg_limit_set ? arg_limit : (uint64_t) 10000);
        return 0;
}

/* The login that began at instance id (tree --login): its GetOrigin answer names it. */
static int request_login(int64_t id, json_object **ret) {
        _cleanup_json_ json_object *params = json_object_new_object(), *reply = NULL;
        json_object *login;
        int r;

        if (!params || json_add(params, "instance", json_object_new_int64(id)) < 0)
                return log_oom();
        r = call_method("GetOrigin", params, &reply);
        if (r < 0)
                return r;
        login = jobj(reply, "login");
        if (!login || jint_or(login, "instance", 0) != id) {
                log_error("No login began at @%" PRIi64 " (the Started: line of lineagectl origin names where one did).",
                          id);
                return -ESRCH;
        }
        *ret = json_object_get(login);
        return 0;
}

static int verb_tree(const Target *t) {
        _cleanup_json_ json_object *reply = NULL, *login = NULL, *extra = NULL;
        _cleanup_(layout_done) Layout layout = {};
        _cleanup_free_ bool *last = NULL, *open_level = NULL;
        json_object *list;
        size_t n;
        int r;

        if (t->login) {
                r = request_login(t->instance, &login);
                if (r < 0)
                        return r;
                extra = json_object_new_object();
                if (!extra || json_add(extra, "login", json_object_get(login)) < 0)
                        return log_oom();
                json_extra = extra;
        }
        r = request_descendants(t, &reply);
        json_extra = NULL;
        if (r != 0)
                return r < 0 ? r : 0;
        if (login && json_sanitize(login, 0) < 0)
                return log_error_errno(EBADMSG, "Received a malformed reply from lineaged.");
        if (arg_format_dot)
                return print_tree_dot(reply, login);
        if (login) {
                print_login(login, NULL);
                putchar('\n');
        }
        list = jarr(reply, "descendants");
        n = jarr_len(list);
        r = layout_new(reply, &layout);
        if (r < 0)
                return r;
        r = tree_last_flags(layout.depth, n, &last);
        if (r < 0)
                return r;
        open_level = calloc(INDENT_DEPTH_MAX + 2, sizeof(bool));
        if (!open_level)
                return log_oom();
        r = print_tree_entry(jobj(reply, "process"), user_mark(jobj(reply, "process"), NULL), 0);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                size_t d = layout.depth[i];

                /* open_level[k]: the ancestor at depth k has siblings still to come, so draw its line. */
                for (size_t k = 1; k < d && k <= INDENT_DEPTH_MAX; k++)
                        fputs(open_level[k] ? glyph(GLYPH_TREE_VERTICAL) : "  ", stdout);
                if (d > INDENT_DEPTH_MAX)
                        printf("%s[depth %zu]", glyph(GLYPH_ELLIPSIS), d);
                fputs(last[i] ? glyph(GLYPH_TREE_RIGHT) : glyph(GLYPH_TREE_BRANCH), stdout);
                if (d <= INDENT_DEPTH_MAX)
                        open_level[d] = !last[i];
                r = print_tree_entry(json_object_array_get_idx(list, i),
                                     user_mark(json_object_array_get_idx(list, i), drawn_parent(reply, i)),
                                     layout.left_out[i]);
        }
        if (r < 0)
                return r;
        print_truncated(reply);
        print_gaps(reply);
        return 0;
}

static void print_caba_process(const char *label, json_object *p) {
        _cleanup_free_ char *cmd = process_command(p, LINE_COMMAND_MAX);
        _cleanup_free_ char *state = process_state(p, false);

        printf("%s: pid %" PRIi64 " @%" PRIi64 " %s (%s)", label, jint_or(p, "pid", 0), jint_or(p, "instance", 0),
               strna(cmd), strna(state));
}

static int verb_caba(const Target *t) {
        _cleanup_json_ json_object *reply = NULL;
        json_object *caba, *kernel, *agree;
        int64_t kpid;
        int r;

        r = request_process("GetCaba", t, false, NULL, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        r = print_process_line(jobj(reply, "process"), "Process: ", NULL, NULL);
        if (r < 0)
                return r;
        caba = jobj(reply, "caba");
        if (caba)
                print_caba_process("CABA (userspace, from events)", caba);
        else
                fputs("CABA (userspace, from events): none", stdout);
        printf(", nearest edge known from: %s\n", strna(jstr(reply, "source")));
        kernel = jobj(reply, "kernelCaba");
        if (!jbool(reply, "kernelSupported"))
                puts("CABA (kernel NScaba): not available on this kernel");
        else if (kernel) {
                print_caba_process("CABA (kernel NScaba)", kernel);
                putchar('\n');
        } else if (jint(reply, "kernelCabaPid", &kpid))
                printf("CABA (kernel NScaba): pid %" PRIi64 " (not recorded)\n", kpid);
        else
                puts("CABA (kernel NScaba): none");
        agree = jget(reply, "agree");
        if (json_object_is_type(agree, json_type_boolean))
                printf("Agree: %s\n", json_object_get_boolean(agree) ? "yes" : "NO, they differ");
        else
                puts("Agree: n/a");
        return 0;
}

/* "1000 (alice)", or the number alone when no user has it. */
static void print_uid(FILE *f, int64_t uid) {
        const char *name = user_name(uid);
        char num[32];

        snprintf(num, sizeof(num), "%" PRIi64, uid);
        fputs(num, f);
        if (name && !streq(name, num))
                fprintf(f, " (%s)", name);
}

/* The details of one event for history and watch lines. */
static char *event_details(json_object *e, json_object *p) {
        const char *type = strna(jstr(e, "type"));
        char *s = NULL;
        size_t size = 0;
        int64_t v, w;
        FILE *f;

        f = open_memstream(&s, &size);
        if (!f)
                return NULL;
        if (jbool(e, "redacted"))
                fputs("(redacted: another user's process then)", f);
        else if (streq(type, "fork") && jint(p, "birthParentPid", &v))
                fprintf(f, "born from %" PRIi64, v);
        else if (streq(type, "exec") && !jget(e, "argv") && !jstr(e, "comm") && !jstr(e, "exe"))
                fputs("(command not recorded)", f);
        else if (streq(type, "exec")) {
                _cleanup_free_ char *cmd = process_command(e, arg_full ? SIZE_MAX : LINE_COMMAND_MAX);

                fprintf(f, "%s", cmd ?: "?");
                if (jstr(e, "exe"))
                        fprintf(f, " (%s)", jstr(e, "exe"));
        } else if (streq(type, "uid") && jint(e, "realId", &v) && jint(e, "effectiveId", &w)) {
                fputs("real ", f);
                print_uid(f, v);
                fputs(", effective ", f);
                print_uid(f, w);
        } else if (streq(type, "gid") && jint(e, "realId", &v) && jint(e, "effectiveId", &w))
                fprintf(f, "real %" PRIi64 ", effective %" PRIi64, v, w);
        else if (streq(type, "sid") && jint(e, "sid", &v))
                fprintf(f, "new session %" PRIi64, v);
        else if (streq(type, "ptrace") && jint(e, "tracerPid", &v))
                fprintf(f, v == 0 ? "detached" : "traced by %" PRIi64, v);
        else if (streq(type, "comm") && jstr(e, "comm"))
                fprintf(f, "renamed to %s", jstr(e, "comm"));
        else if (streq(type, "exit") && jint(e, "exitSignal", &v))
                fprintf(f, "signal %s", SIGNAME(v));
        else if (streq(type, "exit") && jint(e, "exitStatus", &v))
                fprintf(f, "status %" PRIi64, v);
        if (jint(e, "tid", &v))
                fprintf(f, " (thread %" PRIi64 ")", v);
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

static int verb_history(const Target *t) {
        _cleanup_json_ json_object *reply = NULL, *extra = json_object_new_object();
        json_object *events, *p;
        size_t n, cut;
        int r;

        if (!extra)
                return log_oom();
        if (arg_limit_set && json_add(extra, "limit", json_object_new_int64((int64_t) arg_limit)) < 0)
                return log_oom();
        r = request_process("GetHistory", t, true, extra, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        p = jobj(reply, "process");
        r = print_process_line(p, "History of ", NULL, user_mark(p, NULL));
        if (r < 0)
                return r;
        events = jarr(reply, "events");
        n = jarr_len(events);
        /* A limited history still ends with the exit (from the instance itself): the events left out
         * are those before it, so say so there. */
        cut = jbool(reply, "truncated") ? n : SIZE_MAX;
        if (cut != SIZE_MAX && n > 1 && !jbool(p, "alive") &&
            streq_ptr(jstr(json_object_array_get_idx(events, n - 1), "type"), "exit"))
                cut = n - 1;
        for (size_t i = 0; i <= n; i++) {
                json_object *e = json_object_array_get_idx(events, i);
                _cleanup_free_ char *details = NULL;

                if (i == cut)
                        printf("%s more events left out here; raise --limit (now %" PRIu64 ") to see them\n",
                               glyph(GLYPH_ELLIPSIS), arg_limit_set ? arg_limit : (uint64_t) 10000);
                if (i == n)
                        break;
                details = event_details(e, p);
                if (!details)
                        return log_oom();
                printf("%s  %-8s  %s\n", TS(jint_or(e, "time", 0)), strna(jstr(e, "type")), details);
        }
        print_gaps(reply);
        return 0;
}

static void print_process_block(json_object *p) {
        _cleanup_free_ char *cmd = process_command(p, arg_full ? SIZE_MAX : LINE_COMMAND_MAX);
        _cleanup_free_ char *state = process_state(p, false);
        const char *src = strna(jstr(p, "lineageSource"));
        int64_t v, w;

        print_field(12, "Process", "%" PRIi64 " @%" PRIi64 "%s", jint_or(p, "pid", 0), jint_or(p, "instance", 0),
                    jbool(p, "redacted") ? " (redacted)" : "");
        print_field(12, "Command", "%s", strna(cmd));
        if (jstr(p, "exe"))
                print_field(12, "Executable", "%s", jstr(p, "exe"));
        print_field(12, "Started", "%s", TS(jint_or(p, "startTime", 0)));
        print_field(12, "State", "%s", strna(state));
        if (jint(p, "birthParentPid", &v) && jint(p, "birthParentInstance", &w))
                print_field(12, "Birth parent", "%" PRIi64 " @%" PRIi64 " (%s)", v, w, src);
        else if (jint(p, "birthParentPid", &v))
                print_field(12, "Birth parent", "%" PRIi64 " (%s)", v, src);
        else
                print_field(12, "Birth parent", "unknown (%s)", src);
        if (jint(p, "parentPid", &v))
                print_field(12, jbool(p, "alive") ? "Parent" : "Exited under", "%" PRIi64, v);
        if (jint(p, "uid", &v))
                print_field(12, "UID/GID", "%" PRIi64 "/%" PRIi64, v, jint_or(p, "gid", -1));
        if (jint(p, "loginUid", &v))
                print_field(12, "Login UID", "%" PRIi64 ", audit session %" PRIi64, v, jint_or(p, "auditSession", -1));
        if (jint(p, "sid", &v))
                print_field(12, "Session ID", "%" PRIi64, v);
        if (jint(p, "cabaPid", &v))
                print_field(12, "CABA", "%" PRIi64 " @%" PRIi64, v, jint_or(p, "cabaInstance", 0));
        if (jstr(p, "cgroup"))
                print_field(12, "Cgroup", "%s", jstr(p, "cgroup"));
        if (jstr(p, "containerId"))
                print_field(12, "Container", "%s", jstr(p, "containerId"));
        if (jstr(p, "bootId"))
                print_field(12, "Boot ID", "%s", jstr(p, "bootId"));
}

static int verb_resolve(const Target *t, int64_t at) {
        _cleanup_json_ json_object *reply = NULL, *params = json_object_new_object();
        int r;

        if (!params)
                return log_oom();
        if (json_add(params, "pid", json_object_new_int64(t->pid)) < 0 ||
            json_add(params, "at", json_object_new_int64(at)) < 0 ||
            (arg_boot && json_add(params, "bootId", json_object_new_string(arg_boot)) < 0))
                return log_oom();
        r = request("Resolve", params, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        if (!jobj(reply, "process"))
                return log_error_errno(EBADMSG, "Received a reply without a process from lineaged.");
        printf("At %s, pid %" PRIi64 " was held by:\n", TS(at), t->pid);
        print_process_block(jobj(reply, "process"));
        print_gaps(reply);
        return 0;
}

static int add_login_row(Table *t, json_object *l) {
        const char *addr = jstr(l, "remoteAddress");
        int64_t port, end, alive;
        int r;

        r = table_addf(t, "%" PRIi64, jint_or(l, "auditSession", 0));
        if (r >= 0)
                r = table_addf(t, "%" PRIi64, jint_or(l, "loginUid", -1));
        if (r >= 0)
                r = table_add(t, strdup(jstr(l, "user") ?: "-"));
        if (r >= 0 && jstr(l, "service"))
                r = table_addf(t, "%s%s", jstr(l, "service"), claimed(l));
        else if (r >= 0)
                r = table_add(t, strdup("-"));
        if (r >= 0)
                r = table_add(t, strdup(jstr(l, "tty") ?: "-"));
        if (r >= 0 && addr && jint(l, "remotePort", &port))
                r = table_addf(t, strchr(addr, ':') ? "[%s]:%" PRIi64 "%s" : "%s:%" PRIi64 "%s", addr, port, claimed(l));
        else if (r >= 0 && addr)
                r = table_addf(t, "%s%s", addr, claimed(l));
        else if (r >= 0)
                r = table_add(t, strdup("-"));
        if (r >= 0)
                r = table_addf(t, "%s (%s)", TS(jint_or(l, "startTime", 0)), AGO(jint_or(l, "startTime", 0)));
        if (r >= 0 && jint(l, "aliveProcesses", &alive))
                r = table_addf(t, "%" PRIi64, alive);
        else if (r >= 0)
                r = table_add(t, strdup("-"));
        if (r >= 0 && jint(l, "endTime", &end))
                r = table_addf(t, "ended %s%s", TS(end), self_declared(l) ? ", self-declared" : "");
        else if (r >= 0)
                r = table_addf(t, "%s%s", jbool(l, "alive") ? "active" : "ended", self_declared(l) ? ", self-declared" : "");
        return r;
}

static int verb_logins(void) {
        static const char *const header[] = { "SESSION", "UID", "USER", "SERVICE", "TTY", "REMOTE", "STARTED", "ALIVE", "STATE" };
        _cleanup_json_ json_object *reply = NULL, *params = json_object_new_object();
        _cleanup_(table_done) Table table = { .n_columns = 9 };
        json_object *logins;
        int r = 0;

        if (!params)
                return log_oom();
        if ((arg_user_set && json_add(params, "loginUid", json_object_new_int64(arg_user)) < 0) ||
            (arg_since_set && json_add(params, "since", json_object_new_int64(arg_since)) < 0) ||
            (arg_until_set && json_add(params, "until", json_object_new_int64(arg_until)) < 0) ||
            (arg_alive && json_add(params, "aliveOnly", json_object_new_boolean(true)) < 0) ||
            (arg_limit_set && json_add(params, "limit", json_object_new_int64((int64_t) arg_limit)) < 0))
                return log_oom();
        r = request("ListLogins", params, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        logins = jarr(reply, "logins");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(header); i++)
                r = table_add(&table, strdup(header[i]));
        for (size_t i = 0; r >= 0 && i < jarr_len(logins); i++)
                r = add_login_row(&table, json_object_array_get_idx(logins, i));
        if (r < 0)
                return log_oom();
        if (jarr_len(logins) > 0) {
                r = table_print(&table);
                if (r < 0)
                        return r;
                if (!arg_no_legend)
                        putchar('\n');
        }
        if (!arg_no_legend)
                printf("%zu login(s) listed.\n", jarr_len(logins));
        print_truncated_default(reply, 1000);
        return 0;
}

/* The user name of a uid, else the number. */
static char *user_label(int64_t uid) {
        struct passwd *pw = uid >= 0 ? getpwuid((uid_t) uid) : NULL;
        char *s;

        if (pw && pw->pw_name)
                return strdup(pw->pw_name);
        return asprintf(&s, "%" PRIi64, uid) < 0 ? NULL : s;
}

/* PID INSTANCE USER STARTED ENDED COMMAND, like ps. */
static int add_search_row(Table *t, json_object *p) {
        char *cmd = process_command(p, arg_full ? SIZE_MAX : TABLE_COMMAND_MAX);
        int64_t end;
        int r;

        r = table_addf(t, "%" PRIi64, jint_or(p, "pid", 0));
        if (r >= 0)
                r = table_addf(t, "@%" PRIi64, jint_or(p, "instance", 0));
        if (r >= 0)
                r = table_add(t, user_label(jint_or(p, "uid", -1)));
        if (r >= 0)
                r = table_add(t, strdup(TS(jint_or(p, "startTime", 0))));
        if (r >= 0 && jbool(p, "alive"))
                r = table_add(t, strdup("alive"));
        else if (r >= 0 && jint(p, "exitTime", &end))
                r = table_addf(t, "%s%s", jbool(p, "exitUnknown") ? "by " : "", TS(end));
        else if (r >= 0)
                r = table_add(t, strdup("-"));
        if (r >= 0)
                r = table_add(t, TAKE_PTR(cmd));
        free(cmd);
        return r;
}

/* search --login=@INSTANCE (the login that began there) or SESSION (an audit session id). */
static int search_login_params(json_object *params) {
        uint64_t u;
        bool instance = arg_login[0] == '@';

        if (safe_atou64(arg_login + instance, &u) < 0 || (instance ? u == 0 || u > INT64_MAX : u > UINT32_MAX))
                return log_error_errno(EINVAL, "Invalid login: %s (expected @INSTANCE where it began, or an audit SESSION id)",
                                       arg_login);
        if (json_add(params, instance ? "loginInstance" : "auditSession", json_object_new_int64((int64_t) u)) < 0)
                return log_oom();
        return 0;
}

static int search_params(json_object **ret) {
        _cleanup_json_ json_object *params = json_object_new_object();
        int r;

        if (!params)
                return log_oom();
        if ((arg_exe && json_add(params, "exe", json_object_new_string(arg_exe)) < 0) ||
            (arg_comm && json_add(params, "comm", json_object_new_string(arg_comm)) < 0) ||
            (arg_argv && json_add(params, "argv", json_object_new_string(arg_argv)) < 0) ||
            (arg_user_set && json_add(params, "uid", json_object_new_int64(arg_user)) < 0) ||
            (arg_since_set && json_add(params, "since", json_object_new_int64(arg_since)) < 0) ||
            (arg_until_set && json_add(params, "until", json_object_new_int64(arg_until)) < 0) ||
            (arg_boot && json_add(params, "bootId", json_object_new_string(arg_boot)) < 0) ||
            (arg_alive && json_add(params, "aliveOnly", json_object_new_boolean(true)) < 0) ||
            (arg_limit_set && json_add(params, "limit", json_object_new_int64((int64_t) arg_limit)) < 0))
                return log_oom();
        if (arg_login) {
                r = search_login_params(params);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(params);
        return 0;
}

static int verb_search(void) {
        static const char *const header[] = { "PID", "INSTANCE", "USER", "STARTED", "ENDED", "COMMAND" };
        _cleanup_json_ json_object *reply = NULL, *params = NULL;
        _cleanup_(table_done) Table table = { .n_columns = ELEMENTSOF(header) };
        json_object *list;
        int r;

        r = search_params(&params);
        if (r < 0)
                return r;
        r = request("Search", params, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        list = jarr(reply, "processes");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(header); i++)
                r = table_add(&table, strdup(header[i]));
        for (size_t i = 0; r >= 0 && i < jarr_len(list); i++)
                r = add_search_row(&table, json_object_array_get_idx(list, i));
        if (r < 0)
                return log_oom();
        if (jarr_len(list) > 0) {
                r = table_print(&table);
                if (r < 0)
                        return r;
                putchar('\n');
        }
        if (jbool(reply, "truncated"))
                printf("%zu process(es) listed, newest first; older matches were left out (--limit=).\n", jarr_len(list));
        else
                printf("%zu process(es) found.\n", jarr_len(list));
        return 0;
}

static void print_status_events(json_object *events) {
        char line[1024] = "";
        size_t n = 0;

        json_object_object_foreach(events, key, val)
                if (n < sizeof(line) && !needs_escape(key, true))
                        n += (size_t) snprintf(line + n, sizeof(line) - n, "%s%s %" PRIi64, n ? ", " : "", key,
                                               json_object_get_int64(val));
        print_field(19, "Events", "%s", n ? line : "none");
}

/* "Exec source: bpf", then per source "bpf 1203 with image, 4 without". */
static void print_status_exec(json_object *s) {
        json_object *with = jobj(s, "execsWithImage"), *without = jobj(s, "execsWithoutImage");
        char line[512] = "";
        size_t n = 0;

        if (jstr(s, "execSourceReason"))
                print_field(19, "Exec source", "%s (%s)", strna(jstr(s, "execSource")), jstr(s, "execSourceReason"));
        else
                print_field(19, "Exec source", "%s", strna(jstr(s, "execSource")));
        if (!with)
                return;
        json_object_object_foreach(with, key, val)
                if (n < sizeof(line) && !needs_escape(key, true))
                        n += (size_t) snprintf(line + n, sizeof(line) - n, "%s%s %" PRIi64 " with image, %" PRIi64 " without",
                                               n ? "; " : "", key, json_object_get_int64(val), jint_or(without, key, 0));
        print_field(19, "Execs", "%s", n ? line : "none");
        if (streq_ptr(jstr(s, "execSource"), "bpf"))
                print_field(19, "eBPF records", "%" PRIi64 " read, %" PRIi64 " lost, %" PRIi64 " exec(s) only it saw, %" PRIi64 " unmatched",
                            jint_or(s, "bpfRecords", 0), jint_or(s, "bpfLost", 0), jint_or(s, "bpfOnlyExecs", 0),
                            jint_or(s, "bpfUnmatched", 0));
}

static int verb_status(void) {
        _cleanup_json_ json_object *reply = NULL, *params = json_object_new_object();
        json_object *s;
        char buf[64];
        int64_t v;
        int r;

        if (!params)
                return log_oom();
        r = request("GetStatus", params, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        s = jobj(reply, "status");
        if (!s)
                return log_error_errno(EBADMSG, "Received a reply without a status from lineaged.");
        print_field(19, "Version", "%s", strna(jstr(s, "version")));
        print_field(19, "Boot ID", "%s", strna(jstr(s, "bootId")));
        print_field(19, "Uptime", "%s", format_timespan(buf, sizeof(buf), jint_or(s, "uptime", -1)));
        print_field(19, "Live instances", "%" PRIi64, jint_or(s, "liveInstances", 0));
        print_field(19, "Instances created", "%" PRIi64, jint_or(s, "instancesCreated", 0));
        if (jobj(s, "events"))
                print_status_events(jobj(s, "events"));
        print_field(19, "Events lost", "%" PRIi64, jint_or(s, "eventsLost", 0));
        print_field(19, "Overflows", "%" PRIi64, jint_or(s, "overflows", 0));
        print_field(19, "Gaps", "%" PRIi64, jint_or(s, "gaps", 0));
        print_field(19, "Unattributed events", "%" PRIi64, jint_or(s, "unattributedEvents", 0));
        print_status_exec(s);
        print_field(19, "Database", "%s", strna(jstr(s, "databasePath")));
        print_field(19, "Database size", "%s", format_bytes(buf, sizeof(buf), jint_or(s, "databaseSize", 0)));
        print_field(19, "Database error", "%s", jstr(s, "databaseError") ?: "none");
        if (jint(s, "receiveBuffer", &v)) {
                char asked[64];
                int64_t a;

                /* The kernel doubles what it is asked for (its bookkeeping): show both. */
                if (jint(s, "receiveBufferRequested", &a) && a > 0)
                        print_field(19, "Receive buffer", "%s asked, %s given by the kernel%s",
                                    format_bytes(asked, sizeof(asked), a), format_bytes(buf, sizeof(buf), v),
                                    v < 2 * a ? " (capped by net.core.rmem_max)" : "");
                else
                        print_field(19, "Receive buffer", "%s", format_bytes(buf, sizeof(buf), v));
        }
        print_field(19, "Kernel filter", "%s", jbool(s, "kernelFilter") ? "yes" : "no");
        if (jint(s, "memory", &v))
                print_field(19, "Memory", "%s", format_bytes(buf, sizeof(buf), v));
        if (jint(s, "varlinkOutputQueued", &v))
                print_field(19, "Unread output", "%s queued; %" PRIi64 " streams dropped, %" PRIi64 " replies refused",
                            format_bytes(buf, sizeof(buf), v), jint_or(s, "varlinkStreamsDropped", 0),
                            jint_or(s, "varlinkRepliesRefused", 0));
        return 0;
}

/* ---- watch ----------------------------------------------------------------------------------- */

static int print_watch_event(json_object *params) {
        json_object *e = jobj(params, "event"), *p = jobj(params, "process");
        _cleanup_free_ char *details = NULL;
        const char *comm;

        if (!e)
                return 0; /* not an event (e.g. an acknowledgement): nothing to show */
        if (arg_json != JSON_OFF) {
                int saved = arg_json;

                arg_json = JSON_SHORT; /* one event per line */
                (void) print_json(params);
                arg_json = saved;
                return fflush(stdout) == 0 ? 0 : -errno;
        }
        if (json_sanitize(params, 0) < 0)
                return 0;
        details = event_details(e, p);
        if (!details)
                return log_oom();
        comm = jstr(p, "comm");
        printf("%s  %-8s %" PRIi64 " @%" PRIi64, TS(jint_or(e, "time", 0)), strna(jstr(e, "type")),
               jint_or(e, "pid", 0), jint_or(e, "instance", 0));
        if (comm)
                printf(" (%s)", comm);
        printf("%s%s\n", details[0] ? "  " : "", details);
        return fflush(stdout) == 0 ? 0 : -errno;
}

/* Routes SIGINT/SIGTERM to quit_requested; they stay blocked except inside fd_wait()'s ppoll(). */
static int watch_setup_signals(void) {
        struct sigaction sa = { .sa_handler = on_quit_signal };
        sigset_t block;

        sigemptyset(&sa.sa_mask);
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGTERM);
        if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
            sigprocmask(SIG_BLOCK, &block, &wait_sigmask) < 0)
                return log_error_errno(errno, "Failed to set up signal handling: %m");
        sigdelset(&wait_sigmask, SIGINT);
        sigdelset(&wait_sigmask, SIGTERM);
        wait_sigmask_set = true;
        return 0;
}

static int varlink_watch(json_object *params) {
        _cleanup_(varlink_done) Varlink v = { .fd = -1 };
        int64_t deadline = (int64_t) now_usec(CLOCK_MONOTONIC) + CALL_TIMEOUT_USEC;
        int r;

        r = varlink_connect(&v, arg_varlink);
        if (r < 0)
                return r;
        r = varlink_send(&v, "Watch", params, true, deadline);
        while (r >= 0) {
                _cleanup_json_ json_object *msg = NULL, *reply = NULL;
                bool continues = false;

                r = varlink_read(&v, 0, &msg);
                if (r >= 0)
                        r = varlink_reply("Watch", params, msg, &reply, &continues);
                if (r >= 0)
                        r = print_watch_event(reply);
                if (r >= 0 && !continues)
                        return 0; /* the daemon ended the stream */
        }
        return r == -ECANCELED ? 0 : r; /* SIGINT/SIGTERM end a watch successfully */
}

typedef struct BusWatch {
        const char *path;   /* our subscription */
        const char *sender; /* unique name of the daemon */
        json_object *params;
        int error;
} BusWatch;

static bool bus_watch_ours(BusWatch *w, sd_bus_message *m) {
        return w->path && streq_ptr(sd_bus_message_get_path(m), w->path) &&
               streq_ptr(sd_bus_message_get_sender(m), w->sender);
}

/* Ended(s error): the daemon ended our subscription, e.g. with TooSlow. */
static int on_bus_ended(sd_bus_message *m, void *userdata, _unused_ sd_bus_error *ret_error) {
        BusWatch *w = userdata;
        const char *error = NULL;

        if (!bus_watch_ours(w, m))
                return 0;
        if (sd_bus_message_read(m, "s", &error) < 0 || !error || !error[0]) {
                log_error("lineaged ended the watch.");
                w->error = -EIO;
                return 0;
        }
        w->error = report_error("Watch", w->params, error, NULL, NULL);
        return 0;
}

static int on_bus_event(sd_bus_message *m, void *userdata, _unused_ sd_bus_error *ret_error) {
        BusWatch *w = userdata;
        _cleanup_json_ json_object *params = NULL;
        int r;

        if (!bus_watch_ours(w, m))
                return 0;
        if (bus_read_value(m, 0, &params) < 0 || !json_object_is_type(params, json_type_object)) {
                log_warning("Received a malformed Event signal, ignoring.");
                return 0;
        }
        r = print_watch_event(params);
        if (r < 0)
                w->error = r;
        return 0;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, _unused_ sd_bus_error *ret_error) {
        BusWatch *w = userdata;
        const char *name, *old, *new;

        if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || !streq(name, LINEAGE_DBUS_NAME) || new[0])
                return 0;
        log_error("lineaged went away.");
        w->error = -ECONNRESET;
        return 0;
}

static int bus_watch_loop(sd_bus *bus, BusWatch *w) {
        int r;

        for (;;) {
                uint64_t until;
                int64_t deadline = 0;

                r = sd_bus_process(bus, NULL);
                if (r < 0) {
                        log_error("Lost the connection to %s.", bus_description());
                        return -EHOSTDOWN;
                }
                if (w->error < 0)
                        return w->error;
                if (r > 0)
                        continue;
                if (sd_bus_get_timeout(bus, &until) >= 0 && until != UINT64_MAX)
                        deadline = MAX((int64_t) until, (int64_t) 1);
                r = fd_wait(sd_bus_get_fd(bus), (short) sd_bus_get_events(bus), deadline);
                if (r == -ECANCELED)
                        return 0;
                if (r < 0 && r != -ETIMEDOUT)
                        return log_error_errno(r, "Failed to wait for the bus: %m");
        }
}

static int bus_watch(json_object *params) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        BusWatch w = { .params = params };
        int r;

        r = bus_connect(&bus);
        if (r < 0)
                return r;
        r = sd_bus_match_signal(bus, NULL, NULL, NULL, LINEAGE_DBUS_INTERFACE, "Event", on_bus_event, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, NULL, NULL, LINEAGE_DBUS_INTERFACE, "Ended", on_bus_ended, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed, &w);
        if (r < 0)
                return bus_report_error("Watch", params, &error, r);
        r = bus_new_call(bus, "Watch", params, &m);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, m, CALL_TIMEOUT_USEC, &error, &reply);
        if (r < 0)
                return bus_report_error("Watch", params, &error, r);
        r = sd_bus_message_read(reply, "o", &w.path);
        if (r < 0)
                return log_error_errno(EBADMSG, "Received a malformed Watch reply from lineaged.");
        w.sender = sd_bus_message_get_sender(reply);
        r = bus_watch_loop(bus, &w);
        /* Best effort: the daemon also drops the subscription when we disconnect. */
        (void) sd_bus_call_method(bus, LINEAGE_DBUS_NAME, LINEAGE_DBUS_PATH, LINEAGE_DBUS_INTERFACE, "Unwatch",
                                  NULL, NULL, "o", w.path);
        return r;
}

static int verb_watch(const Target *t) {
        _cleanup_json_ json_object *params = NULL;
        int r;

        r = target_params(t, false, &params);
        if (r < 0)
                return r;
        if (arg_types && json_add(params, "types", json_object_get(arg_types)) < 0)
                return log_oom();
        r = watch_setup_signals();
        if (r < 0)
                return r;
        return arg_bus ? bus_watch(params) : varlink_watch(params);
}

/* ---- enrich ---------------------------------------------------------------------------------- */

/* Journal export lines (journalctl -o json) in, the same lines out, with LINEAGE_* fields appended to
 * those whose process is known. Lines are read as they come and resolved many per round trip: a batch
 * goes out when it is full or when stdin has nothing more ready, so `journalctl -f` lines wait for no
 * one. Nothing is dropped: a line that cannot be resolved, or parsed, or is too long, is written
 * unchanged, in its place. */

#define ENRICH_LINE_MAX (1024U * 1024U)            /* longer lines pass through unmodified, streamed */
#define ENRICH_BATCH_MAX 1024U                     /* queries per ResolveBatch call */
#define ENRICH_PENDING_MAX (8U * 1024U * 1024U)    /* bytes of lines waiting for their batch */
#define ENRICH_PENDING_LINES_MAX 16384U            /* lines waiting, resolvable or not */
#define ENRICH_READ_SIZE (256U * 1024U)
#define ENRICH_JSON_DEPTH 8                        /* journal JSON nests three levels deep */
#define ENRICH_CACHE_SLOTS 8192U                   /* processes remembered (direct-mapped) */
#define ENRICH_CACHE_MARGIN_USEC USEC_PER_SEC_I    /* distance from a lifetime's ends for a cache answer */
#define ENRICH_RETRY_USEC USEC_PER_SEC_I           /* between attempts to reach lineaged again */
#define ENRICH_RECENT_USEC (2 * USEC_PER_SEC_I)    /* a line this young may name a process not committed yet */
#define ENRICH_SETTLE_USEC (500 * 1000)            /* asked again this long after it was logged */
#define WARN_INTERVAL_USEC (10 * USEC_PER_SEC_I)
#define WARN_BURST 5U

/* One line waiting for its batch: text in the arena (without the newline); fields go at insert. */
typedef struct EnrichLine {
        size_t offset, length, insert;
        int query;                                 /* its query in the batch, -1: written as it is */
        bool newline;
        char boot[33];                             /* the cache key, with the query's pid */
        int64_t pid;
        int64_t time;                              /* realtime of the entry, 0: unknown */
} EnrichLine;

/* Lines waiting for one ResolveBatch call: their text in the arena, their queries. */
typedef struct EnrichBatch {
        char *arena;
        size_t arena_used, arena_allocated;
        EnrichLine *lines;
        size_t n_lines, lines_allocated;
        json_object *queries;                      /* the batch's ResolveQuery objects */
        bool young;                                /* has a line that may need asking again */
        bool sent;                                 /* its call is on the connection of generation */
        unsigned generation;
} EnrichBatch;

typedef struct EnrichCacheEntry {
        char boot[33];                             /* "" for the current boot */
        int64_t pid;
        int64_t from, to;                          /* realtime µs in which the same answer holds */
        char *fields;
} EnrichCacheEntry;

typedef struct WarnLimit {
        int64_t window_start;
        unsigned in_window;
        uint64_t suppressed;
} WarnLimit;

typedef struct Enricher {
        Varlink varlink;
        sd_bus *bus;
        bool connected;
        int64_t next_retry;
        int error;                                 /* the last failure to ask lineaged, for the exit status */
        char *scratch;                             /* a decoded string value, ENRICH_LINE_MAX + 1 bytes */
        char *partial;                             /* the line being read, ENRICH_LINE_MAX bytes */
        size_t partial_len;
        bool streaming;                            /* inside an over-long line: copy up to its newline */
        /* Two batches: lines are added to cur while the reply to flying (sent, if not NULL) is on
         * its way, so lineaged resolves one batch while we read and scan the next. */
        EnrichBatch batches[2];
        EnrichBatch *cur, *flying;
        unsigned generation;                       /* connections made so far */
        EnrichCacheEntry *cache;
        uint64_t line_number, n_enriched, n_cached, n_malformed, n_long;
        WarnLimit warn;
} Enricher;

static void enricher_done(Enricher *e) {
        varlink_done(&e->varlink);
        sd_bus_flush_close_unref(e->bus);
        free(e->partial);
        free(e->scratch);
        for (size_t i = 0; i < ELEMENTSOF(e->batches); i++) {
                free(e->batches[i].arena);
                free(e->batches[i].lines);
                json_object_put(e->batches[i].queries);
        }
        for (size_t i = 0; e->cache && i < ENRICH_CACHE_SLOTS; i++)
                free(e->cache[i].fields);
        free(e->cache);
}

/* At most WARN_BURST warnings per WARN_INTERVAL_USEC; the number left out is told with the next one. */
static void enrich_warn(Enricher *e, const char *fmt, ...) _printf_(2, 3);
static void enrich_warn(Enricher *e, const char *fmt, ...) {
        int64_t now = (int64_t) now_usec(CLOCK_MONOTONIC);
        char buf[512];
        va_list ap;

        if (now - e->warn.window_start >= WARN_INTERVAL_USEC) {
                e->warn.window_start = now;
                e->warn.in_window = 0;
        }
        if (e->warn.in_window >= WARN_BURST) {
                e->warn.suppressed++;
                return;
        }
        e->warn.in_window++;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (e->warn.suppressed > 0)
                log_warning("%s (%" PRIu64 " similar warning(s) suppressed)", buf, e->warn.suppressed);
        else
                log_warning("%s", buf);
        e->warn.suppressed = 0;
}

static int enrich_write(const char *s, size_t n) {
        if (n > 0 && fwrite(s, 1, n, stdout) != n)
                return log_error_errno(errno ?: EIO, "Failed to write the output: %m");
        return 0;
}

/* What enrich takes from one ResolveAnswer, from a json-c object (D-Bus) or scanned text (varlink).
 * Strings are C strings (cut at a NUL, as json-c's are). */
typedef struct AnswerFacts {
        bool resolved, have_instance, login, have_login_uid, have_port, have_session, have_start, alive,
                exit_unknown, have_exit, self_declared;
        int64_t instance, login_uid, port, session, start, exit;
        const char *user, *service, *remote, *tty, *ancestry;
} AnswerFacts;

/* One answer as enrich uses it: the fields to add (NULL: unresolved) and the realtime interval in
 * which the same answer holds for the same pid (from > to: none known). */
typedef struct EnrichAnswer {
        bool resolved;
        char *fields;
        int64_t from, to;
} EnrichAnswer;

typedef struct Text {
        char *s;
        size_t n, allocated;
        bool failed;
} Text;

static void text_add(Text *t, const char *s, size_t n) {
        if (t->failed)
                return;
        if (t->allocated - t->n <= n) {
                size_t a = MAX(t->allocated * 2, t->n + n + 256);
                char *b = realloc(t->s, a);

                if (!b) {
                        t->failed = true;
                        return;
                }
                t->s = b;
                t->allocated = a;
        }
        memcpy(t->s + t->n, s, n);
        t->n += n;
        t->s[t->n] = 0;
}

/* Appends ',"KEY":"value"' with value escaped for JSON. */
static void fields_add(Text *t, const char *key, const char *value) {
        const unsigned char *p = (const unsigned char *) value, *run = p;

        text_add(t, ",\"", 2);
        text_add(t, key, strlen(key));
        text_add(t, "\":\"", 3);
        for (; *p; p++) {
                char esc[8];

                if (*p != '"' && *p != '\\' && *p >= 0x20 && *p != 0x7f)
                        continue;
                text_add(t, (const char *) run, (size_t) (p - run));
                if (*p == '"' || *p == '\\')
                        snprintf(esc, sizeof(esc), "\\%c", *p);
                else
                        snprintf(esc, sizeof(esc), "\\u%04x", *p);
                text_add(t, esc, strlen(esc));
                run = p + 1;
        }
        text_add(t, (const char *) run, (size_t) (p - run));
        text_add(t, "\"", 1);
}

static void fields_add_one(const char *name, const char *value, void *userdata) {
        fields_add(userdata, name, value);
}

/* The LINEAGE_* fields of one resolved answer, each preceded by a comma, without blanks: the fields
 * lineage_fields_foreach() defines, as lineaged --journal-export writes them for the same process. */
static char *facts_fields(const AnswerFacts *a) {
        LineageFieldLogin login = {
                .user = a->user,
                .uid = a->have_login_uid ? a->login_uid : -1,
                .service = a->service,
                .remote_address = a->remote,
                .remote_port = a->have_port ? a->port : 0,
                .session = a->have_session ? a->session : -1,
                .tty = a->tty,
                .self_declared = a->self_declared,
        };
        Text t = {};

        if (!a->resolved || !a->have_instance)
                return NULL;
        lineage_fields_foreach(&(LineageFieldValues) {
                                       .instance = (uint64_t) a->instance,
                                       .ancestry = a->ancestry,
                                       .login = a->login ? &login : NULL,
                               }, fields_add_one, &t);
        if (t.failed) {
                free(t.s);
                return NULL;
        }
        return t.s;
}

/* The answer's cache interval: from a second after the start of the process to a second before its
 * exit (or before now, while it is alive); none when the end of its lifetime is not known. */
static void facts_interval(const AnswerFacts *a, EnrichAnswer *ret) {
        int64_t end;

        ret->from = 1;
        ret->to = 0;
        if (!a->have_start)
                return;
        if (a->alive)
                end = (int64_t) now_usec(CLOCK_REALTIME);
        else if (a->exit_unknown || !a->have_exit)
                return;
        else
                end = a->exit;
        if (end - a->start <= 2 * ENRICH_CACHE_MARGIN_USEC)
                return;
        ret->from = a->start + ENRICH_CACHE_MARGIN_USEC;
        ret->to = end - ENRICH_CACHE_MARGIN_USEC;
}

static int answer_from_json(json_object *answer, EnrichAnswer *ret) {
        json_object *p = jobj(answer, "process"), *l = jobj(answer, "login");
        AnswerFacts a = {
                .resolved = jbool(answer, "resolved"),
                .have_instance = jint(p, "instance", &a.instance),
                .login = l,
                .user = jstr(l, "user"),
                .have_login_uid = jint(l, "loginUid", &a.login_uid),
                .service = jstr(l, "service"),
                .remote = jstr(l, "remoteAddress"),
                .tty = jstr(l, "tty"),
                .have_port = jint(l, "remotePort", &a.port),
                .have_session = jint(l, "auditSession", &a.session),
                .self_declared = l && self_declared(l),
                .ancestry = jstr(answer, "ancestry"),
                .have_start = jint(p, "startTime", &a.start),
                .alive = jbool(p, "alive"),
                .exit_unknown = jbool(p, "exitUnknown"),
                .have_exit = jint(p, "exitTime", &a.exit),
        };

        *ret = (EnrichAnswer) { .resolved = a.resolved, .fields = facts_fields(&a) };
        if (a.resolved && a.have_instance && !ret->fields)
                return -ENOMEM;
        facts_interval(&a, ret);
        return 0;
}

/* ---- answers from varlink text, scanned rather than parsed into objects ---- */

typedef struct AnswerScan {
        AnswerFacts a;
        JsonScanValue process, login, user, service, remote, tty, ancestry;
        bool bad;
} AnswerScan;

static bool scan_int(const JsonScanValue *v, int64_t *ret) {
        if (v->type != JSON_SCAN_INTEGER)
                return false;
        *ret = json_scan_integer(v);
        return true;
}

static void scan_process_member(const JsonScanValue *key, const JsonScanValue *v, void *userdata) {
        AnswerFacts *a = userdata;

        if (json_scan_string_equal(key, "instance"))
                a->have_instance = scan_int(v, &a->instance);
        else if (json_scan_string_equal(key, "startTime"))
                a->have_start = scan_int(v, &a->start);
        else if (json_scan_string_equal(key, "exitTime"))
                a->have_exit = scan_int(v, &a->exit);
        else if (json_scan_string_equal(key, "alive"))
                a->alive = v->type == JSON_SCAN_TRUE;
        else if (json_scan_string_equal(key, "exitUnknown"))
                a->exit_unknown = v->type == JSON_SCAN_TRUE;
}

static void scan_login_member(const JsonScanValue *key, const JsonScanValue *v, void *userdata) {
        AnswerScan *s = userdata;

        if (json_scan_string_equal(key, "user"))
                s->user = *v;
        else if (json_scan_string_equal(key, "loginUid"))
                s->a.have_login_uid = scan_int(v, &s->a.login_uid);
        else if (json_scan_string_equal(key, "service"))
                s->service = *v;
        else if (json_scan_string_equal(key, "remoteAddress"))
                s->remote = *v;
        else if (json_scan_string_equal(key, "tty"))
                s->tty = *v;
        else if (json_scan_string_equal(key, "remotePort"))
                s->a.have_port = scan_int(v, &s->a.port);
        else if (json_scan_string_equal(key, "auditSession"))
                s->a.have_session = scan_int(v, &s->a.session);
        else if (json_scan_string_equal(key, "selfDeclared"))
                s->a.self_declared = v->type == JSON_SCAN_TRUE;
}

static void scan_answer_member(const JsonScanValue *key, const JsonScanValue *v, void *userdata) {
        AnswerScan *s = userdata;

        if (json_scan_string_equal(key, "resolved"))
                s->a.resolved = v->type == JSON_SCAN_TRUE;
        else if (json_scan_string_equal(key, "process"))
                s->process = *v;
        else if (json_scan_string_equal(key, "login"))
                s->login = *v;
        else if (json_scan_string_equal(key, "ancestry"))
                s->ancestry = *v;
}

/* A string member as a C string in buf (NULL when absent or not a string); buf advances. */
static const char *scan_cstr(const JsonScanValue *v, char **buf) {
        char *s = *buf;

        if (v->type != JSON_SCAN_STRING || !v->text)
                return NULL;
        json_scan_string(v, s, v->length + 1);
        *buf += v->length + 1;
        return s;
}

static int answer_from_text(const char *text, size_t n, EnrichAnswer *ret) {
        AnswerScan s = {};
        _cleanup_free_ char *strings = NULL;
        char *p;

        if (json_scan_object(text, n, JSON_DEPTH_MAX, scan_answer_member, &s) < 0)
                return -EBADMSG;
        if (s.process.type == JSON_SCAN_OBJECT &&
            json_scan_object(s.process.text, s.process.length, JSON_DEPTH_MAX, scan_process_member, &s.a) < 0)
                return -EBADMSG;
        if (s.login.type == JSON_SCAN_OBJECT) {
                s.a.login = true;
                s.a.self_declared = true; /* unless the login says otherwise, as self_declared() reads it */
                if (json_scan_object(s.login.text, s.login.length, JSON_DEPTH_MAX, scan_login_member, &s) < 0)
                        return -EBADMSG;
        }
        p = strings = malloc(s.user.length + s.service.length + s.remote.length + s.tty.length + s.ancestry.length + 5);
        if (!strings)
                return -ENOMEM;
        s.a.user = scan_cstr(&s.user, &p);
        s.a.service = scan_cstr(&s.service, &p);
        s.a.remote = scan_cstr(&s.remote, &p);
        s.a.tty = scan_cstr(&s.tty, &p);
        s.a.ancestry = scan_cstr(&s.ancestry, &p);
        *ret = (EnrichAnswer) { .resolved = s.a.resolved, .fields = facts_fields(&s.a) };
        if (s.a.resolved && s.a.have_instance && !ret->fields)
                return -ENOMEM;
        facts_interval(&s.a, ret);
        return 0;
}

typedef struct AnswersScan {
        EnrichAnswer *answers;
        size_t n, allocated;
        JsonScanValue last;                        /* the previous answer's text */
        int error;
} AnswersScan;

static void scan_answers_element(const JsonScanValue *v, void *userdata) {
        AnswersScan *s = userdata;
        int r;

        if (s->error < 0)
                return;
        if (v->type != JSON_SCAN_OBJECT) {
                s->error = -EBADMSG;
                return;
        }
        if (s->n == s->allocated) {
                size_t a = MAX(s->allocated * 2, (size_t) 256);
                EnrichAnswer *b = reallocarray(s->answers, a, sizeof(EnrichAnswer));

                if (!b) {
                        s->error = -ENOMEM;
                        return;
                }
                s->answers = b;
                s->allocated = a;
        }
        /* Lines come in runs from the same process: the same answer again is not scanned again. */
        if (s->n > 0 && v->length == s->last.length && memcmp(v->text, s->last.text, v->length) == 0) {
                EnrichAnswer *a = &s->answers[s->n];

                *a = s->answers[s->n - 1];
                if (a->fields && !(a->fields = strdup(a->fields))) {
                        s->error = -ENOMEM;
                        return;
                }
                s->n++;
                return;
        }
        r = answer_from_text(v->text, v->length, &s->answers[s->n]);
        if (r < 0)
                s->error = r;
        else
                s->n++;
        s->last = *v;
}

static void answers_free(EnrichAnswer *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                free(a[i].fields);
        free(a);
}

/* Writes fields (as answer_fields() makes them) in the spacing of journalctl before systemd 246,
 * ', "KEY" : "value"': keys are plain names, values escaped strings. */
static void write_fields_spaced(FILE *out, const char *f) {
        while (*f == ',') {
                const char *key = f + 1, *colon = strchr(key, ':'), *v;

                if (!colon || colon[1] != '"')
                        return;
                for (v = colon + 2; *v && *v != '"'; v++)
                        if (*v == '\\' && v[1])
                                v++;
                fprintf(out, ", %.*s : %.*s\"", (int) (colon - key), key, (int) (v - colon - 1), colon + 1);
                f = *v ? v + 1 : v;
        }
}

/* Writes one line with fields inserted before its closing brace, spaced like the line itself (it has
 * _PID: never an empty object). */
static void write_enriched(FILE *out, const char *s, size_t n, size_t insert, const char *fields, bool newline) {
        fwrite(s, 1, insert, out);
        if (n > 2 && s[1] == ' ') /* { "__CURSOR" : "…", … } */
                write_fields_spaced(out, fields);
        else
                fputs(fields, out);
        fwrite(s + insert, 1, n - insert, out);
        if (newline)
                fputc('\n', out);
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r';
}

/* ---- the cache: a process answers for every line of its pid inside its lifetime ---- */

static EnrichCacheEntry *cache_slot(Enricher *e, const char *boot, int64_t pid) {
        uint64_t h = (uint64_t) pid * UINT64_C(0x9e3779b97f4a7c15);

        for (const char *c = boot; *c; c++)
                h = (h ^ (unsigned char) *c) * UINT64_C(0x100000001b3);
        return &e->cache[(h >> 17) % ENRICH_CACHE_SLOTS];
}

/* The cached fields for pid at realtime t, or NULL. An entry holds from a second after the start of
 * the process to a second before its exit (or before the answer, while it was alive): lines that close
 * to either end are asked again, since the monotonic time lineaged converts may differ a little from
 * the entry's realtime stamp. */
static const char *cache_get(Enricher *e, const char *boot, int64_t pid, int64_t t) {
        EnrichCacheEntry *c = cache_slot(e, boot, pid);

        if (t <= 0 || !c->fields || c->pid != pid || !streq(c->boot, boot) || t < c->from || t > c->to)
                return NULL;
        return c->fields;
}

static void cache_put(Enricher *e, const char *boot, int64_t pid, const EnrichAnswer *a) {
        EnrichCacheEntry *c = cache_slot(e, boot, pid);
        char *copy;

        if (a->from > a->to)
                return; /* the end of its lifetime is not known */
        if (c->fields && c->pid == pid && c->from == a->from && streq(c->boot, boot) && streq(c->fields, a->fields)) {
                c->to = MAX(c->to, a->to); /* the same process, still alive */
                return;
        }
        copy = strdup(a->fields);
        if (!copy)
                return; /* a cache is optional */
        free(c->fields);
        *c = (EnrichCacheEntry) {
                .pid = pid,
                .from = a->from,
                .to = a->to,
                .fields = copy,
        };
        memcpy(c->boot, boot, sizeof(c->boot));
}

/* ---- talking to lineaged ---- */

static int enrich_connect(Enricher *e) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (!arg_bus)
                r = varlink_connect(&e->varlink, arg_varlink);
        else {
                /* The bus answers even without lineaged on it: make sure it is there (or activated). */
                r = bus_connect(&e->bus);
                if (r >= 0)
                        r = sd_bus_call_method(e->bus, LINEAGE_DBUS_NAME, LINEAGE_DBUS_PATH,
                                               "org.freedesktop.DBus.Peer", "Ping", &error, NULL, NULL);
                if (r < 0 && e->bus)
                        r = bus_report_error("Ping", NULL, &error, r);
        }
        e->connected = r >= 0;
        e->generation++;
        return r;
}

static void enrich_disconnect(Enricher *e) {
        varlink_done(&e->varlink);
        e->varlink.fd = -1;
        e->bus = sd_bus_flush_close_unref(e->bus);
        e->connected = false;
        e->next_retry = (int64_t) now_usec(CLOCK_MONOTONIC) + ENRICH_RETRY_USEC;
}

static int answers_from_json(json_object *reply, size_t n, EnrichAnswer **ret) {
        json_object *a = jarr(reply, "answers");
        EnrichAnswer *answers;
        int r;

        if (jarr_len(a) != n)
                return -EBADMSG;
        answers = calloc(MAX(n, (size_t) 1), sizeof(EnrichAnswer));
        if (!answers)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = answer_from_json(json_object_array_get_idx(a, i), &answers[i]);
                if (r < 0) {
                        answers_free(answers, i);
                        return r;
                }
        }
        *ret = answers;
        return 0;
}

typedef struct ReplyScan {
        JsonScanValue parameters, answers;
        bool error;
} ReplyScan;

static void scan_reply_member(const JsonScanValue *key, const JsonScanValue *v, void *userdata) {
        ReplyScan *s = userdata;

        if (json_scan_string_equal(key, "parameters"))
                s->parameters = *v;
        else if (json_scan_string_equal(key, "error"))
                s->error = true;
}

static void scan_parameters_member(const JsonScanValue *key, const JsonScanValue *v, void *userdata) {
        ReplyScan *s = userdata;

        if (json_scan_string_equal(key, "answers"))
                s->answers = *v;
}

/* ResolveBatch's reply over varlink: its answers scanned from the text, without a json-c object per
 * value (a batch of 1024 lines is a reply of a megabyte). Errors go the usual way. */
static int answers_from_varlink(Enricher *e, json_object *params, size_t len, size_t n, EnrichAnswer **ret) {
        const char *text = e->varlink.buf;
        _cleanup_json_ json_object *msg = NULL, *reply = NULL;
        ReplyScan rs = {};
        AnswersScan as = {};
        int r;

        if (json_scan_object(text, len, JSON_DEPTH_MAX, scan_reply_member, &rs) < 0 || rs.error ||
            rs.parameters.type != JSON_SCAN_OBJECT) {
                r = json_parse_message(text, len, &msg);
                if (r >= 0)
                        r = varlink_reply("ResolveBatch", params, msg, &reply, NULL);
                return r < 0 ? r : answers_from_json(reply, n, ret);
        }
        if (json_scan_object(rs.parameters.text, rs.parameters.length, JSON_DEPTH_MAX, scan_parameters_member, &rs) < 0 ||
            rs.answers.type != JSON_SCAN_ARRAY)
                return -EBADMSG;
        r = json_scan_array(rs.answers.text, rs.answers.length, JSON_DEPTH_MAX, scan_answers_element, &as);
        if (r >= 0)
                r = as.error;
        if (r >= 0 && as.n != n)
                r = -EBADMSG;
        if (r < 0) {
                answers_free(as.answers, as.n);
                return r;
        }
        *ret = as.answers ?: calloc(1, sizeof(EnrichAnswer));
        return *ret ? 0 : -ENOMEM;
}

/* One ResolveBatch call; -E2BIG when the answer is too large to take in one piece. */
static int enrich_call_once(Enricher *e, json_object *params, size_t n, EnrichAnswer **ret) {
        int64_t deadline = (int64_t) now_usec(CLOCK_MONOTONIC) + CALL_TIMEOUT_USEC;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_json_ json_object *answer = NULL;
        size_t len;
        int r;

        if (!arg_bus) {
                r = varlink_send(&e->varlink, "ResolveBatch", params, false, deadline);
                if (r >= 0)
                        r = varlink_read_text(&e->varlink, deadline, &len);
                if (r == -EMSGSIZE) {
                        /* The rest of that reply is still on its way: only a new connection is usable. */
                        enrich_disconnect(e);
                        return enrich_connect(e) < 0 ? -EHOSTDOWN : -E2BIG;
                }
                if (r < 0)
                        return r;
                r = answers_from_varlink(e, params, len, n, ret);
                varlink_drop(&e->varlink, len);
                return r;
        }
        r = bus_new_call(e->bus, "ResolveBatch", params, &m);
        if (r < 0)
                return r;
        r = sd_bus_call(e->bus, m, CALL_TIMEOUT_USEC, &error, &reply);
        if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_LIMITS_EXCEEDED))
                return -E2BIG; /* the answer would exceed what lineaged sends over D-Bus */
        if (r < 0)
                return bus_report_error("ResolveBatch", params, &error, r);
        r = bus_reply_to_json(reply, &answer);
        return r < 0 ? r : answers_from_json(answer, n, ret);
}

/* The answers to queries, one per query. An answer too large for one message (long command lines,
 * many of them) is asked for in halves. */
static int enrich_ask(Enricher *e, json_object *queries, EnrichAnswer **ret) {
        _cleanup_json_ json_object *params = json_object_new_object();
        EnrichAnswer *a = NULL, *b = NULL, *joined;
        size_t n = jarr_len(queries), first = n / 2;
        int r;

        if (!params || json_add(params, "queries", json_object_get(queries)) < 0)
                return -ENOMEM;
        if (!e->connected && (int64_t) now_usec(CLOCK_MONOTONIC) >= e->next_retry)
                (void) enrich_connect(e);
        r = e->connected ? enrich_call_once(e, params, n, ret) : -EHOSTDOWN;
        if (r != -E2BIG || n < 2)
                return r;
        for (size_t half = 0; half < 2; half++) {
                _cleanup_json_ json_object *part = json_object_new_array();

                if (!part)
                        r = -ENOMEM;
                for (size_t i = half ? first : 0; r >= 0 && i < (half ? n : first); i++)
                        if (json_object_array_add(part, json_object_get(json_object_array_get_idx(queries, i))) < 0)
                                r = -ENOMEM;
                if (r < 0 && r != -E2BIG)
                        break;
                r = enrich_ask(e, part, half ? &b : &a);
                if (r < 0)
                        break;
        }
        joined = r >= 0 ? reallocarray(a, n, sizeof(EnrichAnswer)) : NULL;
        if (!joined) {
                answers_free(a, a ? first : 0);
                answers_free(b, b ? n - first : 0);
                return r < 0 ? r : -ENOMEM;
        }
        memcpy(joined + first, b, (n - first) * sizeof(EnrichAnswer));
        free(b);
        *ret = joined;
        return 0;
}

/* Asks lineaged about the batch; on any failure the batch is written unchanged and we try to reach
 * lineaged again a second later. Its own error messages would repeat for every batch: they are
 * silenced and replaced by one rate-limited warning. */
static int enrich_call(Enricher *e, json_object *queries, EnrichAnswer **ret_answers) {
        int saved_level = log_max_level, r;

        log_max_level = LOG_LEVEL_ERR - 1;
        r = enrich_ask(e, queries, ret_answers);
        log_max_level = saved_level;
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                if (e->connected)
                        enrich_disconnect(e);
                e->error = r;
                errno = -r;
                enrich_warn(e, "Could not ask lineaged (%m); passing %zu line(s) through unchanged.",
                            jarr_len(queries));
        }
        return r;
}

/* ---- the batch ---- */

static int arena_reserve(EnrichBatch *b, size_t n) {
        size_t a;
        char *p;

        if (b->arena_allocated - b->arena_used >= n)
                return 0;
        a = MAX(b->arena_allocated * 2, b->arena_used + n);
        a = MAX(a, (size_t) 65536);
        p = realloc(b->arena, a);
        if (!p)
                return log_oom();
        b->arena = p;
        b->arena_allocated = a;
        return 0;
}

/* Keeps a line for the current batch, made of n_parts pieces (query < 0: to be written as it is, in
 * its place). */
static int batch_add(Enricher *e, const struct iovec *parts, size_t n_parts, const EnrichLine *line) {
        EnrichBatch *b = e->cur;
        size_t n = 0;
        int r;

        for (size_t i = 0; i < n_parts; i++)
                n += parts[i].iov_len;
        if (b->n_lines >= b->lines_allocated) {
                size_t k = MAX(b->lines_allocated * 2, (size_t) 256);
                EnrichLine *l = reallocarray(b->lines, k, sizeof(EnrichLine));

                if (!l)
                        return log_oom();
                b->lines = l;
                b->lines_allocated = k;
        }
        r = arena_reserve(b, n);
        if (r < 0)
                return r;
        b->lines[b->n_lines] = *line;
        b->lines[b->n_lines].offset = b->arena_used;
        b->lines[b->n_lines].length = n;
        b->n_lines++;
        for (size_t i = 0; i < n_parts; i++) {
                memcpy(b->arena + b->arena_used, parts[i].iov_base, parts[i].iov_len);
                b->arena_used += parts[i].iov_len;
        }
        return 0;
}

/* Nothing waits: a line can be written at once. */
static bool batch_idle(Enricher *e) {
        return e->cur->n_lines == 0 && !e->flying;
}

/* lineaged commits what it records every fraction of a second: a line logged by a process that was
 * born just before (journalctl -f) may not be answerable yet. Such young lines are asked once more,
 * half a second after they were logged. */
static void batch_retry_young(Enricher *e, EnrichBatch *b, EnrichAnswer *answers) {
        _cleanup_json_ json_object *queries = json_object_new_array();
        EnrichAnswer *again = NULL;
        int64_t now = (int64_t) now_usec(CLOCK_REALTIME), newest = 0, wait;
        size_t k = 0, n;

        if (!queries)
                return;
        for (size_t i = 0; i < b->n_lines; i++) {
                const EnrichLine *l = &b->lines[i];
                json_object *q;

                if (l->query < 0 || l->time <= now - ENRICH_RECENT_USEC || answers[l->query].resolved)
                        continue;
                q = json_object_array_get_idx(b->queries, (size_t) l->query);
                if (json_object_array_add(queries, json_object_get(q)) < 0)
                        return;
                newest = MAX(newest, l->time);
        }
        n = jarr_len(queries);
        if (n == 0)
                return;
        wait = MIN(newest + ENRICH_SETTLE_USEC - now, (int64_t) ENRICH_SETTLE_USEC);
        if (wait > 0)
                (void) nanosleep(&(struct timespec) { .tv_sec = wait / USEC_PER_SEC_I,
                                                      .tv_nsec = (long) (wait % USEC_PER_SEC_I) * 1000 }, NULL);
        if (enrich_call(e, queries, &again) < 0)
                return;
        for (size_t i = 0; i < b->n_lines && k < n; i++) {
                const EnrichLine *l = &b->lines[i];
                EnrichAnswer *a;

                if (l->query < 0 || l->time <= now - ENRICH_RECENT_USEC || answers[l->query].resolved)
                        continue;
                a = &answers[l->query];
                free(a->fields);
                *a = again[k];
                again[k++] = (EnrichAnswer) {};
        }
        answers_free(again, n);
}

/* Sends the batch's call without waiting for its answer (varlink only; otherwise, or if that fails,
 * batch_finish() asks the usual way). */
static void batch_send(Enricher *e, EnrichBatch *b) {
        _cleanup_json_ json_object *params = NULL;
        int saved_level = log_max_level;

        b->sent = false;
        if (arg_bus || !e->connected || jarr_len(b->queries) == 0)
                return;
        params = json_object_new_object();
        if (!params || json_add(params, "queries", json_object_get(b->queries)) < 0)
                return;
        log_max_level = LOG_LEVEL_ERR - 1; /* a failure is told once, by batch_finish() */
        b->sent = varlink_send(&e->varlink, "ResolveBatch", params, false,
                               (int64_t) now_usec(CLOCK_MONOTONIC) + CALL_TIMEOUT_USEC) >= 0;
        log_max_level = saved_level;
        b->generation = e->generation;
}

/* The answers to a sent batch, read from the connection; -EAGAIN when they must be asked again. */
static int batch_receive(Enricher *e, EnrichBatch *b, EnrichAnswer **ret) {
        _cleanup_json_ json_object *params = NULL;
        int saved_level = log_max_level, r;
        size_t len;

        if (!b->sent || b->generation != e->generation || !e->connected || arg_bus)
                return -EAGAIN;
        params = json_object_new_object();
        if (!params || json_add(params, "queries", json_object_get(b->queries)) < 0)
                return -ENOMEM;
        log_max_level = LOG_LEVEL_ERR - 1;
        r = varlink_read_text(&e->varlink, (int64_t) now_usec(CLOCK_MONOTONIC) + CALL_TIMEOUT_USEC, &len);
        if (r >= 0) {
                r = answers_from_varlink(e, params, len, jarr_len(b->queries), ret);
                varlink_drop(&e->varlink, len);
        }
        log_max_level = saved_level;
        if (r == -EMSGSIZE) {
                /* The rest of that reply is still on its way: only a new connection is usable. */
                enrich_disconnect(e);
                (void) enrich_connect(e);
                return -EAGAIN;
        }
        return r;
}

/* Waits for the batch's answers (asking now if it was not sent) and writes its lines. */
static int batch_finish(Enricher *e, EnrichBatch *b) {
        EnrichAnswer *answers = NULL;
        size_t n = jarr_len(b->queries);
        int r = 0;

        if (b->n_lines == 0)
                return 0;
        if (n > 0) {
                r = batch_receive(e, b, &answers);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0 && r != -EAGAIN) {
                        /* As enrich_call() does for a failure: the lines go out unchanged, told once. */
                        if (e->connected)
                                enrich_disconnect(e);
                        e->error = r;
                        errno = -r;
                        enrich_warn(e, "Could not ask lineaged (%m); passing %zu line(s) through unchanged.", n);
                } else if (r == -EAGAIN)
                        r = enrich_call(e, b->queries, &answers);
                if (r >= 0)
                        batch_retry_young(e, b, answers);
                r = 0;
        }
        for (size_t i = 0; i < b->n_lines && r >= 0; i++) {
                const EnrichLine *l = &b->lines[i];
                const char *s = b->arena + l->offset;
                const EnrichAnswer *a = answers && l->query >= 0 ? &answers[l->query] : NULL;

                if (a && a->fields) {
                        cache_put(e, l->boot, l->pid, a);
                        e->n_enriched++;
                        write_enriched(stdout, s, l->length, l->insert, a->fields, l->newline);
                        r = ferror(stdout) ? log_error_errno(EIO, "Failed to write the output.") : 0;
                } else {
                        r = enrich_write(s, l->length);
                        if (r >= 0 && l->newline)
                                r = enrich_write("\n", 1);
                }
        }
        answers_free(answers, answers ? n : 0);
        if (r < 0)
                return r;
        b->n_lines = b->arena_used = 0;
        b->young = b->sent = false;
        json_object_put(b->queries);
        b->queries = json_object_new_array();
        if (!b->queries)
                return log_oom();
        return 0;
}

/* Everything pending goes out, in order. */
static int batch_flush(Enricher *e) {
        int r;

        if (e->flying) {
                r = batch_finish(e, e->flying);
                e->flying = NULL;
                if (r < 0)
                        return r;
        }
        batch_send(e, e->cur);
        return batch_finish(e, e->cur);
}

/* The current batch is full: it is sent, then the one before is finished while lineaged works on
 * it. A batch with young lines may ask again on its own, so it is not overlapped with another. */
static int batch_rotate(Enricher *e) {
        EnrichBatch *sent = e->cur;
        int r;

        if (arg_bus || sent->young || (e->flying && e->flying->young))
                return batch_flush(e);
        batch_send(e, sent);
        if (e->flying) {
                r = batch_finish(e, e->flying);
                if (r < 0)
                        return r;
        }
        e->flying = sent;
        e->cur = sent == &e->batches[0] ? &e->batches[1] : &e->batches[0];
        return 0;
}

/* ---- one line ---- */

/* The members of a journal entry that enrich reads: the last of each name, as json-c keeps it. */
typedef struct JournalFields {
        JsonScanValue pid, boot_id, realtime, source_realtime, monotonic;
        bool enriched;                             /* LINEAGE_INSTANCE, not null */
        bool any;                                  /* one of the above is there */
} JournalFields;

static void journal_member(const JsonScanValue *key, const JsonScanValue *value, void *userdata) {
        JournalFields *f = userdata;
        const char *k = key->text;
        JsonScanValue *slot = NULL;

        /* Plain keys are told by their length first: most stop here. */
        if (!key->escaped) {
                static const struct {
                        const char *name;
                        size_t length;
                } names[] = {
                        { "_PID", 4 }, { "_BOOT_ID", 8 }, { "LINEAGE_INSTANCE", 16 }, { "__REALTIME_TIMESTAMP", 20 },
                        { "__MONOTONIC_TIMESTAMP", 21 }, { "_SOURCE_REALTIME_TIMESTAMP", 26 },
                };
                bool wanted = false;

                for (size_t i = 0; i < ELEMENTSOF(names) && !wanted; i++)
                        wanted = key->length == names[i].length && memcmp(k, names[i].name, names[i].length) == 0;
                if (!wanted)
                        return;
        }
        if (json_scan_string_equal(key, "_PID"))
                slot = &f->pid;
        else if (json_scan_string_equal(key, "_BOOT_ID"))
                slot = &f->boot_id;
        else if (json_scan_string_equal(key, "__REALTIME_TIMESTAMP"))
                slot = &f->realtime;
        else if (json_scan_string_equal(key, "_SOURCE_REALTIME_TIMESTAMP"))
                slot = &f->source_realtime;
        else if (json_scan_string_equal(key, "__MONOTONIC_TIMESTAMP"))
                slot = &f->monotonic;
        else if (json_scan_string_equal(key, "LINEAGE_INSTANCE"))
                f->enriched = value->type != JSON_SCAN_NULL;
        if (slot) {
                *slot = *value;
                f->any = true;
        }
}

/* A journal field as a number: "123" (as journalctl writes them) or 123; absent, null, or anything
 * else is not one. */
static bool journal_number(const JsonScanValue *v, int64_t min, int64_t max, int64_t *ret) {
        uint64_t u;

        if (v->type == JSON_SCAN_STRING) {
                char buf[64]; /* longer than 20 digits is not a number either way */

                json_scan_string(v, buf, sizeof(buf));
                if (safe_atou64(buf, &u) < 0 || u > INT64_MAX)
                        return false;
        } else if (v->type == JSON_SCAN_INTEGER && json_scan_integer(v) >= 0)
                u = (uint64_t) json_scan_integer(v);
        else
                return false;
        if ((int64_t) u < min || (int64_t) u > max)
                return false;
        *ret = (int64_t) u;
        return true;
}

/* _BOOT_ID as 32 lower-case hex digits (dashes dropped), or "" when absent or not a boot id. */
static void journal_boot_id(Enricher *e, const JsonScanValue *v, char ret[static 33]) {
        const char *s = NULL;
        size_t k = 0;

        ret[0] = 0;
        if (v->type == JSON_SCAN_STRING) {
                json_scan_string(v, e->scratch, ENRICH_LINE_MAX + 1);
                s = e->scratch;
        }
        for (; s && *s && k < 32; s++) {
                if (*s == '-')
                        continue;
                if (!strchr("0123456789abcdefABCDEF", *s))
                        return;
                ret[k++] = (char) (*s | 0x20);
        }
        if (k == 32 && s && !*s)
                ret[k] = 0;
        else
                ret[0] = 0;
}

/* Scans a line; false (with a rate-limited warning) when it is not one JSON object. */
static bool enrich_parse(Enricher *e, const char *s, size_t n, JournalFields *ret) {
        *ret = (JournalFields) {};
        if (json_scan_object(s, n, ENRICH_JSON_DEPTH, journal_member, ret) >= 0)
                return true;
        e->n_malformed++;
        enrich_warn(e, "Line %" PRIu64 " is not a JSON object; passing it through unchanged.", e->line_number);
        return false;
}

/* The ResolveQuery of an entry and the realtime its cache lookup uses; false when it names no process
 * (no _PID, or no time) or was enriched already (it has LINEAGE_INSTANCE: lineaged's own entries
 * describe another process). Realtime is _SOURCE_REALTIME_TIMESTAMP; without it __MONOTONIC_TIMESTAMP
 * with _BOOT_ID is asked; __REALTIME_TIMESTAMP only when neither is there. */
static bool journal_query(Enricher *e, const JournalFields *f, EnrichLine *line, int64_t *ret_realtime,
                          int64_t *ret_monotonic, int64_t *ret_cache_time) {
        int64_t realtime = 0, monotonic = -1, received = 0;

        if (f->enriched || !journal_number(&f->pid, 1, INT32_MAX, &line->pid))
                return false;
        journal_boot_id(e, &f->boot_id, line->boot);
        (void) journal_number(&f->realtime, 1, INT64_MAX, &received);
        if (!journal_number(&f->source_realtime, 1, INT64_MAX, &realtime) &&
            !(line->boot[0] && journal_number(&f->monotonic, 0, INT64_MAX, &monotonic)))
                realtime = received;
        if (realtime <= 0 && monotonic < 0)
                return false;
        *ret_realtime = realtime;
        *ret_monotonic = monotonic;
        *ret_cache_time = realtime > 0 ? realtime : received;
        return true;
}

static int query_add(Enricher *e, const EnrichLine *line, int64_t realtime, int64_t monotonic) {
        json_object *q = json_object_new_object();

        if (!q || json_object_array_add(e->cur->queries, q) < 0) {
                json_object_put(q);
                return log_oom();
        }
        if (json_add(q, "pid", json_object_new_int64(line->pid)) < 0 ||
            (line->boot[0] && json_add(q, "bootId", json_object_new_string(line->boot)) < 0) ||
            (realtime > 0 && json_add(q, "realtime", json_object_new_int64(realtime)) < 0) ||
            (monotonic >= 0 && json_add(q, "monotonic", json_object_new_int64(monotonic)) < 0))
                return log_oom();
        return 0;
}

/* Where fields go: before the closing brace and the blanks in front of it. */
static size_t insert_position(const char *s, size_t n) {
        size_t k = n;

        while (k > 0 && s[k - 1] != '}')
                k--;
        if (k > 0)
                k--;
        while (k > 1 && is_blank(s[k - 1]))
                k--;
        return k;
}

static int batch_flush_if_full(Enricher *e) {
        EnrichBatch *b = e->cur;

        if (jarr_len(b->queries) >= ENRICH_BATCH_MAX || b->arena_used >= ENRICH_PENDING_MAX ||
            b->n_lines >= ENRICH_PENDING_LINES_MAX)
                return batch_rotate(e);
        return 0;
}

/* A line answered from the cache: written at once, or, behind lines still waiting, kept with them. */
static int enrich_cached(Enricher *e, const char *s, size_t n, const EnrichLine *line, const char *fields) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        e->n_cached++;
        e->n_enriched++;
        if (batch_idle(e)) {
                write_enriched(stdout, s, n, line->insert, fields, line->newline);
                return ferror(stdout) ? log_error_errno(EIO, "Failed to write the output.") : 0;
        }
        f = open_memstream(&text, &size);
        if (!f)
                return log_oom();
        write_enriched(f, s, n, line->insert, fields, false);
        if (fclose(f) != 0)
                return log_oom();
        r = batch_add(e, &(struct iovec) { text, size }, 1, &(EnrichLine) { .query = -1, .newline = line->newline });
        return r < 0 ? r : batch_flush_if_full(e);
}

static int enrich_line(Enricher *e, const char *s, size_t n, bool newline) {
        EnrichLine line = { .query = -1, .newline = newline };
        int64_t realtime, monotonic, cache_time;
        JournalFields f = {};
        const char *fields;
        bool blank = true, ok = false;
        int r;

        e->line_number++;
        if (e->line_number == 1 && journal_format_unreadable(s, n))
                return log_error_errno(EINVAL, "The input looks like journalctl -o %s; lineagectl enrich reads "
                                       "one JSON object per line: use journalctl -o json.",
                                       journal_format_unreadable(s, n));
        for (size_t i = 0; i < n && blank; i++)
                blank = is_blank(s[i]);
        if (!blank) /* blank lines are not worth a warning */
                ok = enrich_parse(e, s, n, &f);
        if (ok && journal_query(e, &f, &line, &realtime, &monotonic, &cache_time)) {
                line.insert = insert_position(s, n);
                line.time = cache_time;
                fields = cache_get(e, line.boot, line.pid, cache_time);
                if (fields)
                        return enrich_cached(e, s, n, &line, fields);
                line.query = (int) jarr_len(e->cur->queries);
                r = query_add(e, &line, realtime, monotonic);
                if (r < 0)
                        return r;
                if (cache_time > (int64_t) now_usec(CLOCK_REALTIME) - ENRICH_RECENT_USEC)
                        e->cur->young = true;
        } else if (batch_idle(e)) {
                r = enrich_write(s, n);
                if (r >= 0 && newline)
                        r = enrich_write("\n", 1);
                return r;
        }
        r = batch_add(e, &(struct iovec) { (void *) s, n }, 1, &line);
        return r < 0 ? r : batch_flush_if_full(e);
}

/* An over-long line: what is pending goes first, then the line unmodified, up to its newline. */
static int enrich_long_line(Enricher *e, const char *s, size_t n, bool newline) {
        int r;

        if (!e->streaming) {
                e->n_long++;
                enrich_warn(e, "Line %" PRIu64 " is longer than %u KiB; passing it through unchanged.",
                            ++e->line_number, ENRICH_LINE_MAX / 1024);
                r = batch_flush(e);
                if (r >= 0)
                        r = enrich_write(e->partial, e->partial_len);
                if (r < 0)
                        return r;
                e->partial_len = 0;
        }
        r = enrich_write(s, n);
        if (r >= 0 && newline)
                r = enrich_write("\n", 1);
        e->streaming = !newline;
        return r;
}

/* Splits what was read into lines; a line's start may wait in e->partial for the rest of it. */
static int enrich_input(Enricher *e, const char *data, size_t n) {
        int r;

        while (n > 0) {
                const char *nl = memchr(data, '\n', n);
                size_t k = nl ? (size_t) (nl - data) : n;

                if (e->streaming || e->partial_len + k > ENRICH_LINE_MAX)
                        r = enrich_long_line(e, data, k, nl);
                else if (e->partial_len == 0 && nl)
                        r = enrich_line(e, data, k, true); /* the usual case: no copy */
                else {
                        memcpy(e->partial + e->partial_len, data, k);
                        e->partial_len += k;
                        r = 0;
                        if (nl) {
                                r = enrich_line(e, e->partial, e->partial_len, true);
                                e->partial_len = 0;
                        }
                }
                if (r < 0)
                        return r;
                k += nl ? 1 : 0;
                data += k;
                n -= k;
        }
        return 0;
}

static bool input_ready(void) {
        struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };

        return poll(&p, 1, 0) > 0;
}

static int enrich_run(Enricher *e) {
        _cleanup_free_ char *buf = malloc(ENRICH_READ_SIZE);
        int r;

        if (!buf)
                return log_oom();
        for (;;) {
                ssize_t k;

                /* About to wait for input: whatever is pending goes out now, not when a batch fills. */
                if (!input_ready()) {
                        r = batch_flush(e);
                        if (r < 0)
                                return r;
                        if (fflush(stdout) != 0)
                                return log_error_errno(errno, "Failed to write the output: %m");
                }
                k = read(STDIN_FILENO, buf, ENRICH_READ_SIZE);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return log_error_errno(errno, "Failed to read standard input: %m");
                if (k == 0)
                        break;
                r = enrich_input(e, buf, (size_t) k);
                if (r < 0)
                        return r;
        }
        /* The last line may lack its newline; it is written without one. */
        if (e->partial_len > 0 && !e->streaming) {
                r = enrich_line(e, e->partial, e->partial_len, false);
                if (r < 0)
                        return r;
        }
        return batch_flush(e);
}

static int verb_enrich(void) {
        _cleanup_(enricher_done) Enricher e = { .varlink.fd = -1 };
        int r;

        /* Fully buffered in large pieces (whatever stdout is): what is pending is flushed whenever
         * the input has nothing more ready, so a followed journal is not held back. */
        (void) setvbuf(stdout, NULL, _IOFBF, ENRICH_READ_SIZE);
        e.scratch = malloc(ENRICH_LINE_MAX + 1);
        e.partial = malloc(ENRICH_LINE_MAX);
        e.batches[0].queries = json_object_new_array();
        e.batches[1].queries = json_object_new_array();
        e.cur = &e.batches[0];
        e.cache = calloc(ENRICH_CACHE_SLOTS, sizeof(EnrichCacheEntry));
        if (!e.scratch || !e.partial || !e.batches[0].queries || !e.batches[1].queries || !e.cache)
                return log_oom();
        /* Not reachable at the start is an error; later, lines pass through until it is back. */
        r = enrich_connect(&e);
        if (r < 0)
                return r;
        r = enrich_run(&e);
        if (r >= 0 && fflush(stdout) != 0)
                r = log_error_errno(errno, "Failed to write the output: %m");
        log_debug("enrich: %" PRIu64 " line(s), %" PRIu64 " enriched (%" PRIu64 " from the cache), %" PRIu64
                  " malformed, %" PRIu64 " too long.", e.line_number, e.n_enriched, e.n_cached, e.n_malformed,
                  e.n_long);
        if (e.warn.suppressed > 0)
                log_warning("(%" PRIu64 " more warning(s) suppressed)", e.warn.suppressed);
        if (r < 0)
                return r;
        /* Every line was written; still tell the caller that some could not be resolved. */
        return e.error < 0 ? -EIO : 0;
}

/* ---- command line ---------------------------------------------------------------------------- */

static void help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Ask lineaged where processes came from.\n\n"
               "Commands:\n"
               "  origin PID              Login and birth ancestors of a process\n"
               "  ancestors PID           Birth ancestors as a table, nearest first\n"
               "  descendants PID         Everything born under a process, alive and exited\n"
               "  tree PID|--login=ID     The same, drawn as a tree (of a login's processes)\n"
               "  caba PID                Closest alive born ancestor, from events and the kernel\n"
               "  history PID             Events of one process instance\n"
               "  resolve PID TIME        Which process held PID at TIME\n"
               "  logins                  Recorded logins, newest first\n"
               "  search                  Processes by what they ran, who, when, newest first\n"
               "  status                  Counters of the daemon\n"
               "  watch [PID]             Print events as they are recorded, until interrupted\n"
               "  enrich                  Add LINEAGE_* fields to journalctl -o json lines\n"
               "                          from standard input\n"
               "  help [COMMAND]          Show this help, or what one command takes\n\n"
               "PID is a pid (its live holder, else its latest, or with --at the holder then) or\n"
               "@INSTANCE, an instance id (never reused). TIME is as in systemd.time(7):\n"
               "\"YYYY-MM-DD [HH:MM[:SS[.ffffff]]] [ZONE]\" (local time unless ZONE: UTC, Z, +HH:MM,\n"
               "Europe/Berlin...), \"HH:MM[:SS]\" (today), now, today, yesterday, tomorrow,\n"
               "@SECONDS, relative like -5min, +1h30min, \"1h ago\", \"2 days ago\", or usec since the epoch.\n\n"
               "Options:\n"
               "  -h --help               Show this help\n"
               "     --version            Show the version\n"
               "     --varlink=PATH       Talk varlink to PATH (default %s)\n"
               "     --dbus[=BUS]         Talk D-Bus: system (default), session, or an ADDRESS\n"
               "     --journal[=DIR]      Answer from lineaged's journal entries, without the\n"
               "                          daemon: the local journal, or the files in DIR\n"
               "     --machine=ID|HOSTNAME\n"
               "                          With --journal: the machine whose entries to read\n"
               "     --database=PATH      Answer from a lineage database file, without the\n"
               "                          daemon (read-only: a private copy is read)\n"
               "  -j --json[=pretty|short] Print the reply's parameters as JSON (-j: pretty on a\n"
               "                          terminal, else short)\n"
               "     --no-pager           Do not pipe the output into a pager\n"
               "     --no-legend          Do not print table headers and the \"N listed\" lines\n"
               "  -q --quiet              Do not print legends, hints and warnings\n"
               "  -l --full               Do not shorten command lines\n"
               "     --utc                Print times in UTC rather than local time\n"
               "     --at=TIME            Name the process that held PID at TIME\n"
               "                          (origin, ancestors, descendants, tree, history)\n"
               "     --alive              Only alive processes / logins (descendants, tree, logins)\n"
               "     --limit=N            At most N entries (descendants, tree, history, logins)\n"
               "     --user=USER          Logins of this user (logins), processes of this real\n"
               "                          user (search); a name or uid\n"
               "     --since=TIME         Logins active at or begun after TIME (logins),\n"
               "                          processes begun at or after TIME (search)\n"
               "     --until=TIME         Logins / processes that began at or before TIME\n"
               "                          (logins, search)\n"
               "     --boot=ID            Boot id for resolve and search --login=SESSION\n"
               "                          (default: the current boot)\n"
               "     --exe=PATTERN        search: the executable, a shell pattern; without /\n"
               "                          the file name in any directory\n"
               "     --comm=PATTERN       search: the process name, a shell pattern\n"
               "     --argv=TEXT          search: text anywhere in the command line\n"
               "     --type=TYPE[,TYPE...] Event types for watch: fork, exec, uid, gid, sid,\n"
               "                          ptrace, comm, coredump, exit\n"
               "     --login=INSTANCE     tree: the processes of the login that began there\n"
               "     --login=@INSTANCE|SESSION\n"
               "                          search: processes of that login, or audit session\n"
               "     --format=text|dot    tree: box-drawing text (default) or Graphviz dot\n\n"
               "Exit status:\n"
               "  0 success, 1 other failure, 2 bad usage, 3 no such process,\n"
               "  4 permission denied, 5 lineaged not reachable\n",
               program_invocation_short_name, LINEAGE_DEFAULT_VARLINK);
}

typedef struct Verb {
        const char *name;
        unsigned min_args, max_args; /* after the verb */
        unsigned flags;
        int (*run)(char **args, unsigned n);
        bool offline;                /* can be answered from a --database file */
} Verb;

/* `lineagectl help VERB`: what one command takes, from the lines of help() and the verb's flags. */
static const struct {
        const char *name, *usage, *text;
} verb_help[] = {
        { "origin", "origin PID", "The login and the birth ancestors of a process, nearest first." },
        { "ancestors", "ancestors PID", "The birth ancestors as a table, nearest first." },
        { "descendants", "descendants PID", "Everything born under a process, alive and exited, by depth." },
        { "tree", "tree PID|@INSTANCE|--login=INSTANCE", "The descendants drawn as a tree; with --login, the\n"
          "processes of the login that began at INSTANCE, the login as the header." },
        { "caba", "caba PID", "The closest alive born ancestor, from the events and from the kernel." },
        { "history", "history PID", "The events of one process instance: fork, exec, uid, gid, sid, ptrace,\n"
          "comm, coredump, exit." },
        { "resolve", "resolve PID TIME", "Which process held PID at TIME (in this boot, or --boot=ID)." },
        { "logins", "logins", "Recorded logins, newest first." },
        { "search", "search [--exe=PATTERN] [--comm=PATTERN] [--argv=TEXT] [--user=USER] [--login=@INSTANCE|SESSION]",
          "Processes by what they ran, who ran them, in which login and when, newest first." },
        { "status", "status", "The counters of the daemon." },
        { "watch", "watch [PID]", "Print events as they are recorded (under PID: of it and of what it starts\n"
          "later), until interrupted." },
        { "enrich", "enrich", "Read journalctl -o json lines on standard input and write them with LINEAGE_*\n"
          "fields added." },
        { "help", "help [COMMAND]", "Show the help, or what one command takes." },
};

static const struct {
        unsigned flag;
        const char *lines;
} flag_help[] = {
        { VERB_AT, "     --at=TIME            Name the process that held PID at TIME\n" },
        { VERB_ALIVE, "     --alive              Only alive processes / logins\n" },
        { VERB_LIMIT, "     --limit=N            At most N entries\n" },
        { VERB_LOGINS, "     --user=USER          Logins of this user (logins), processes of this real\n"
                       "                          user (search); a name or uid\n"
                       "     --since=TIME         Logins active at or begun after TIME (logins),\n"
                       "                          processes begun at or after TIME (search)\n"
                       "     --until=TIME         Logins / processes begun at or before TIME\n" },
        { VERB_SEARCH, "     --exe=PATTERN        The executable, a shell pattern; without / the file\n"
                       "                          name in any directory\n"
                       "     --comm=PATTERN       The process name, a shell pattern\n"
                       "     --argv=TEXT          Text anywhere in the command line\n" },
        { VERB_LOGIN, "     --login=INSTANCE     tree: the processes of the login that began there;\n"
                      "                          search: @INSTANCE, or an audit SESSION id\n" },
        { VERB_BOOT, "     --boot=ID            Boot id (default: the current boot)\n" },
        { VERB_TYPES, "     --type=TYPE[,TYPE...] Event types: fork, exec, uid, gid, sid, ptrace, comm,\n"
                      "                          coredump, exit\n" },
        { VERB_TREE, "     --format=text|dot    Box-drawing text (default) or Graphviz dot\n" },
};

static int help_verb(const char *name, unsigned flags) {
        for (size_t i = 0; i < ELEMENTSOF(verb_help); i++) {
                if (!streq(verb_help[i].name, name))
                        continue;
                printf("%s [OPTIONS...] %s\n\n%s\n", program_invocation_short_name, verb_help[i].usage,
                       verb_help[i].text);
                if (flags != 0)
                        printf("\nOptions of %s:\n", name);
                for (size_t k = 0; k < ELEMENTSOF(flag_help); k++)
                        if (flags & flag_help[k].flag)
                                fputs(flag_help[k].lines, stdout);
                printf("\nSee %s --help for the options of every command, TIME and the exit status,\n"
                       "and lineagectl(1).\n", program_invocation_short_name);
                return 0;
        }
        return log_error_errno(EINVAL, "Unknown command \"%s\"; see %s --help.", name, program_invocation_short_name);
}

static int run_target(char **args, int (*fn)(const Target *)) {
        Target t;
        int r;

        r = parse_target(args[0], &t);
        if (r < 0)
                return r;
        return fn(&t);
}

static int run_origin(char **args, _unused_ unsigned n) {
        return run_target(args, verb_origin);
}
static int run_ancestors(char **args, _unused_ unsigned n) {
        return run_target(args, verb_ancestors);
}
static int run_descendants(char **args, _unused_ unsigned n) {
        return run_target(args, verb_descendants);
}
/* --login=[@]INSTANCE of tree: the instance where the login began. */
static int parse_login_instance(const char *s, int64_t *ret) {
        uint64_t u;

        if (safe_atou64(s[0] == '@' ? s + 1 : s, &u) < 0 || u == 0 || u > INT64_MAX)
                return log_error_errno(EINVAL, "Invalid login: %s (expected the INSTANCE where it began)", s);
        *ret = (int64_t) u;
        return 0;
}

static int run_tree(char **args, unsigned n) {
        Target t = { .name = "--login", .login = true };
        int r;

        if (arg_format_dot && arg_json != JSON_OFF)
                return log_error_errno(EINVAL, "--format=dot and --json cannot be used together.");
        if (arg_login) {
                r = parse_login_instance(arg_login, &t.instance);
                if (r < 0)
                        return r;
        }
        if ((n > 0) == !!arg_login)
                return log_error_errno(EINVAL, "tree takes %s: lineagectl tree PID|@INSTANCE|--login=INSTANCE",
                                       n > 0 ? "a PID or --login, not both" : "a PID, @INSTANCE or --login=INSTANCE");
        if (n > 0) {
                r = parse_target(args[0], &t);
                if (r < 0)
                        return r;
        }
        return verb_tree(&t);
}
static int run_caba(char **args, _unused_ unsigned n) {
        return run_target(args, verb_caba);
}
static int run_history(char **args, _unused_ unsigned n) {
        return run_target(args, verb_history);
}
static int run_logins(_unused_ char **args, _unused_ unsigned n) {
        return verb_logins();
}
static int run_search(_unused_ char **args, _unused_ unsigned n) {
        return verb_search();
}
static int run_status(_unused_ char **args, _unused_ unsigned n) {
        return verb_status();
}
static int run_enrich(_unused_ char **args, _unused_ unsigned n) {
        if (arg_json != JSON_OFF)
                return log_error_errno(EINVAL, "--json does not apply to enrich: it writes journal JSON already.");
        return verb_enrich();
}

static int run_watch(char **args, unsigned n) {
        Target t;
        int r;

        if (n == 0)
                return verb_watch(NULL);
        r = parse_target(args[0], &t);
        if (r < 0)
                return r;
        return verb_watch(&t);
}

static int run_resolve(char **args, unsigned n) {
        Target t;
        int64_t at = arg_at;
        int r;

        r = parse_target(args[0], &t);
        if (r < 0)
                return r;
        if (t.pid == 0)
                return log_error_errno(EINVAL, "resolve needs a pid, not an instance: an instance names one process already.");
        if (n < 2 && !arg_at_set)
                return log_error_errno(EINVAL, "resolve needs a TIME: lineagectl resolve PID TIME");
        if (n >= 2 && parse_time(args[1], &at) < 0)
                return log_error_errno(EINVAL, "Invalid time: %s (see systemd.time(7))", args[1]);
        return verb_resolve(&t, at);
}

static int run_help(char **args, unsigned n);

static const Verb verbs[] = {
        { "origin", 1, 1, VERB_AT, run_origin, true },
        { "ancestors", 1, 1, VERB_AT, run_ancestors, true },
        { "descendants", 1, 1, VERB_AT | VERB_ALIVE | VERB_LIMIT, run_descendants, true },
        { "tree", 0, 1, VERB_AT | VERB_ALIVE | VERB_LIMIT | VERB_TREE | VERB_LOGIN, run_tree, true },
        { "caba", 1, 1, 0, run_caba, true },
        { "history", 1, 1, VERB_AT | VERB_LIMIT, run_history, true },
        { "resolve", 1, 2, VERB_AT | VERB_BOOT, run_resolve, true },
        { "logins", 0, 0, VERB_ALIVE | VERB_LIMIT | VERB_LOGINS, run_logins, true },
        { "search", 0, 0, VERB_ALIVE | VERB_LIMIT | VERB_LOGINS | VERB_LOGIN | VERB_SEARCH | VERB_BOOT, run_search, true },
        { "status", 0, 0, 0, run_status },
        { "watch", 0, 1, VERB_TYPES, run_watch },
        { "enrich", 0, 0, 0, run_enrich },
        { "help", 0, 1, 0, run_help },
};

static int run_help(char **args, unsigned n) {
        if (n == 0) {
                help();
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, args[0]))
                        return help_verb(args[0], verbs[i].flags);
        return help_verb(args[0], 0); /* unknown: says so */
}

/* getopt would read a relative TIME such as "-5min" as short options: such words are marked with
 * HIDDEN before parsing and unmarked when used. */
#define HIDDEN '\x1f'

static const char *unhide(const char *s) {
        return s && s[0] == HIDDEN ? s + 1 : s;
}

static char **hide_relative_times(int argc, char *argv[]) {
        char **copy = calloc((size_t) argc + 1, sizeof(char *));
        bool dashdash = false;

        if (!copy)
                return NULL;
        for (int i = 0; i < argc; i++) {
                dashdash = dashdash || streq(argv[i], "--");
                if (i > 0 && !dashdash && argv[i][0] == '-' && argv[i][1] >= '0' && argv[i][1] <= '9') {
                        if (asprintf(&copy[i], "%c%s", HIDDEN, argv[i]) < 0)
                                copy[i] = NULL;
                } else
                        copy[i] = strdup(argv[i]);
                if (!copy[i]) {
                        for (int k = 0; k < i; k++)
                                free(copy[k]);
                        free(copy);
                        return NULL;
                }
        }
        return copy;
}

enum {
        ARG_VERSION = 0x100,
        ARG_VARLINK,
        ARG_DBUS,
        ARG_JSON,
        ARG_AT,
        ARG_ALIVE,
        ARG_LIMIT,
        ARG_USER,
        ARG_SINCE,
        ARG_UNTIL,
        ARG_BOOT,
        ARG_TYPE,
        ARG_LOGIN,
        ARG_FORMAT,
        ARG_UTC,
        ARG_NO_PAGER,
        ARG_NO_LEGEND,
        ARG_EXE,
        ARG_COMM,
        ARG_ARGV,
        ARG_DATABASE,
        ARG_JOURNAL,
        ARG_MACHINE,
};

static int parse_option(int c, const char *value, unsigned *used_flags) {
        uint64_t u;

        switch (c) {
        case ARG_VARLINK:
                arg_varlink = value;
                return 0;
        case ARG_DBUS:
                arg_bus = value && value[0] ? value : "system";
                return 0;
        case ARG_DATABASE:
                if (!value[0])
                        return log_error_errno(EINVAL, "--database= needs the path of a lineage database.");
                arg_database = value;
                return 0;
        case ARG_JOURNAL: /* a database rebuilt from the journal's LINEAGE_* entries (journal-read.c) */
                arg_journal = value ?: "";
                return 0;
        case ARG_MACHINE:
                arg_machine = value;
                return 0;
        case 'j':
        case ARG_JSON:
                if (!value)
                        arg_json = isatty(STDOUT_FILENO) ? JSON_PRETTY : JSON_SHORT;
                else if (streq(value, "pretty") || streq(value, "short"))
                        arg_json = streq(value, "pretty") ? JSON_PRETTY : JSON_SHORT;
                else
                        return log_error_errno(EINVAL, "Invalid --json= mode: %s (expected pretty or short)", value);
                return 0;
        case 'l':
                arg_full = true;
                return 0;
        case ARG_UTC:
                arg_utc = true;
                return 0;
        case ARG_NO_PAGER:
                arg_no_pager = true;
                return 0;
        case ARG_NO_LEGEND:
                arg_no_legend = true;
                return 0;
        case 'q':
                arg_quiet = arg_no_legend = true;
                (void) log_set_max_level_from_string("err");
                return 0;
        case ARG_AT:
                *used_flags |= VERB_AT;
                arg_at_set = true;
                if (parse_time(value, &arg_at) < 0)
                        return log_error_errno(EINVAL, "Invalid time: %s (see systemd.time(7))", value);
                return 0;
        case ARG_ALIVE:
                *used_flags |= VERB_ALIVE;
                arg_alive = true;
                return 0;
        case ARG_LIMIT:
                *used_flags |= VERB_LIMIT;
                arg_limit_set = true;
                if (safe_atou64(value, &u) < 0 || u == 0 || u > UINT32_MAX)
                        return log_error_errno(EINVAL, "Invalid limit: %s", value);
                arg_limit = u;
                return 0;
        case ARG_USER:
                *used_flags |= VERB_LOGINS;
                arg_user_set = true;
                return parse_user(value, &arg_user);
        case ARG_SINCE:
        case ARG_UNTIL:
                *used_flags |= VERB_LOGINS;
                *(c == ARG_SINCE ? &arg_since_set : &arg_until_set) = true;
                if (parse_time(value, c == ARG_SINCE ? &arg_since : &arg_until) < 0)
                        return log_error_errno(EINVAL, "Invalid time: %s (see systemd.time(7))", value);
                return 0;
        case ARG_BOOT:
                *used_flags |= VERB_BOOT;
                arg_boot = value;
                return 0;
        case ARG_TYPE:
                *used_flags |= VERB_TYPES;
                return add_types(value);
        case ARG_LOGIN:
                *used_flags |= VERB_LOGIN;
                arg_login = value;
                return 0;
        case ARG_EXE:
        case ARG_COMM:
        case ARG_ARGV:
                *used_flags |= VERB_SEARCH;
                if (!value[0])
                        return log_error_errno(EINVAL, "--%s= needs a value.",
                                               c == ARG_EXE ? "exe" : c == ARG_COMM ? "comm" : "argv");
                *(c == ARG_EXE ? &arg_exe : c == ARG_COMM ? &arg_comm : &arg_argv) = value;
                return 0;
        case ARG_FORMAT:
                *used_flags |= VERB_TREE;
                if (!streq(value, "dot") && !streq(value, "text"))
                        return log_error_errno(EINVAL, "Invalid --format=: %s (expected text or dot)", value);
                arg_format_dot = streq(value, "dot");
                return 0;
        }
        return -EINVAL;
}

static const char *option_name(unsigned flags) {
        if (flags & VERB_AT)
                return "--at";
        if (flags & VERB_ALIVE)
                return "--alive";
        if (flags & VERB_LIMIT)
                return "--limit";
        if (flags & VERB_LOGINS)
                return "--user/--since/--until";
        if (flags & VERB_TYPES)
                return "--type";
        if (flags & VERB_TREE)
                return "--format";
        if (flags & VERB_LOGIN)
                return "--login";
        if (flags & VERB_SEARCH)
                return "--exe/--comm/--argv";
        return "--boot";
}

/* Returns 1 to go on with *ret_verb and the words after it, 0 to exit successfully, < 0 on bad usage. */
static int parse_argv(int argc, char *argv[], const Verb **ret_verb) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "varlink", required_argument, NULL, ARG_VARLINK },
                { "dbus", optional_argument, NULL, ARG_DBUS },
                { "json", optional_argument, NULL, ARG_JSON },
                { "full", no_argument, NULL, 'l' },
                { "utc", no_argument, NULL, ARG_UTC },
                { "no-pager", no_argument, NULL, ARG_NO_PAGER },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "quiet", no_argument, NULL, 'q' },
                { "at", required_argument, NULL, ARG_AT },
                { "alive", no_argument, NULL, ARG_ALIVE },
                { "limit", required_argument, NULL, ARG_LIMIT },
                { "user", required_argument, NULL, ARG_USER },
                { "since", required_argument, NULL, ARG_SINCE },
                { "until", required_argument, NULL, ARG_UNTIL },
                { "boot", required_argument, NULL, ARG_BOOT },
                { "type", required_argument, NULL, ARG_TYPE },
                { "login", required_argument, NULL, ARG_LOGIN },
                { "format", required_argument, NULL, ARG_FORMAT },
                { "exe", required_argument, NULL, ARG_EXE },
                { "comm", required_argument, NULL, ARG_COMM },
                { "argv", required_argument, NULL, ARG_ARGV },
                { "database", required_argument, NULL, ARG_DATABASE },
                { "journal", optional_argument, NULL, ARG_JOURNAL },
                { "machine", required_argument, NULL, ARG_MACHINE },
                {}
        };
        unsigned used_flags = 0, n;
        bool varlink_given = false;
        const Verb *verb = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "hljq", options, NULL)) >= 0) {
                if (c == 'h') {
                        help();
                        return 0;
                }
                if (c == ARG_VERSION) {
                        puts("lineagectl " PROJECT_VERSION);
                        return 0;
                }
                if (c == '?')
                        return -EINVAL;
                varlink_given = varlink_given || c == ARG_VARLINK;
                r = parse_option(c, unhide(optarg), &used_flags);
                if (r < 0)
                        return r;
        }
        if (varlink_given + !!arg_bus + !!arg_database + !!arg_journal > 1)
                return log_error_errno(EINVAL, "--varlink=, --dbus, --database= and --journal cannot be used together.");
        if (arg_machine && !arg_journal)
                return log_error_errno(EINVAL, "--machine= picks the machine of --journal entries: it needs --journal.");
        if (optind >= argc) { /* a bare lineagectl is asking what it can do */
                help();
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs) && !verb; i++)
                if (streq(verbs[i].name, argv[optind]))
                        verb = &verbs[i];
        if (!verb)
                return log_error_errno(EINVAL, "Unknown command \"%s\"; see %s --help.", argv[optind],
                                       program_invocation_short_name);
        n = (unsigned) (argc - optind - 1);
        if (n < verb->min_args || n > verb->max_args)
                return log_error_errno(EINVAL, "%s: %s arguments; see %s --help.", verb->name,
                                       n < verb->min_args ? "missing" : "too many", program_invocation_short_name);
        if (used_flags & ~verb->flags)
                return log_error_errno(EINVAL, "%s does not apply to %s; see %s --help.",
                                       option_name(used_flags & ~verb->flags), verb->name,
                                       program_invocation_short_name);
        if ((arg_database || arg_journal) && !verb->offline)
                return log_error_errno(EINVAL, "%s needs the running daemon: it cannot be answered from a database file.",
                                       verb->name);
        *ret_verb = verb;
        return 1;
}

static int exit_status(int r) {
        switch (r) {
        case 0:
                return EXIT_SUCCESS;
        case -EINVAL:
                return EXIT_USAGE;
        case -ESRCH:
                return EXIT_NO_SUCH_PROCESS;
        case -EACCES:
                return EXIT_PERMISSION;
        case -EHOSTDOWN:
                return EXIT_NOT_RUNNING;
        default:
                return EXIT_FAILURE;
        }
}

static void free_strv(char ***p) {
        if (!*p)
                return;
        for (char **s = *p; *s; s++)
                free(*s);
        free(*p);
}

int main(int argc, char *argv[]) {
        _cleanup_(free_strv) char **args = NULL;
        const Verb *verb = NULL;
        const char *term = getenv("TERM");
        char *words[2] = {}; /* no verb takes more */
        unsigned n;
        int r;

        log_setup();
        glyph_init();
        tzset();
        use_color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(term && streq(term, "dumb"));
        args = hide_relative_times(argc, argv);
        if (!args) {
                log_oom();
                return EXIT_FAILURE;
        }
        r = parse_argv(argc, args, &verb);
        if (r <= 0) {
                json_object_put(arg_types);
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;
        }
        n = (unsigned) (argc - optind - 1);
        for (unsigned i = 0; i < n && i < ELEMENTSOF(words); i++)
                words[i] = (char *) unhide(args[optind + 1 + i]);
        if (arg_journal && (r = journal_read_build(arg_journal[0] ? arg_journal : NULL, arg_machine, &arg_database)) < 0) {
                journal_read_close();
                json_object_put(arg_types);
                return r == -ENOENT ? EXIT_NO_SUCH_PROCESS : r == -EINVAL ? EXIT_USAGE : EXIT_FAILURE;
        }
        if (arg_database) {
                r = offline_open(arg_database, NULL);
                if (r < 0) {
                        offline_close();
                        journal_read_close();
                        json_object_put(arg_types);
                        return r == -EACCES ? EXIT_PERMISSION : r == -ENOENT ? EXIT_NO_SUCH_PROCESS : EXIT_FAILURE;
                }
        }
        /* A live stream and a filter are not paged; everything else is, on a terminal. */
        if (!streq(verb->name, "watch") && !streq(verb->name, "enrich"))
                (void) pager_open(arg_no_pager);
        r = verb->run(words, n);
        offline_close();
        journal_read_close();
        json_object_put(arg_types);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                log_error("Failed to write the output.");
                pager_close();
                return EXIT_FAILURE;
        }
        pager_close();
        return exit_status(r < 0 ? r : 0);
}
