/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl enrich: journal export lines in, the same lines out with LINEAGE_* fields added. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/uio.h>
#include <systemd/sd-bus.h>

#include "journal-format.h"
#include "json-scan.h"
#include "lineage/fields.h"
#include "lineage/names.h"
#include "lineagectl.h"

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
        CtlVarlink varlink;
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
        ctl_varlink_done(&e->varlink);
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
                r = ctl_varlink_connect(&e->varlink, arg_varlink);
        else {
                /* The bus answers even without lineaged on it: make sure it is there (or activated). */
                r = ctl_bus_connect(&e->bus);
                if (r >= 0)
                        r = sd_bus_call_method(e->bus, LINEAGE_DBUS_NAME, LINEAGE_DBUS_PATH,
                                               "org.freedesktop.DBus.Peer", "Ping", &error, NULL, NULL);
                if (r < 0 && e->bus)
                        r = ctl_bus_report_error("Ping", NULL, &error, r);
        }
        e->connected = r >= 0;
        e->generation++;
        return r;
}

static void enrich_disconnect(Enricher *e) {
        ctl_varlink_done(&e->varlink);
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
                        r = ctl_varlink_reply("ResolveBatch", params, msg, &reply, NULL);
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
                r = ctl_varlink_send(&e->varlink, "ResolveBatch", params, false, deadline);
                if (r >= 0)
                        r = ctl_varlink_read_text(&e->varlink, deadline, &len);
                if (r == -EMSGSIZE) {
                        /* The rest of that reply is still on its way: only a new connection is usable. */
                        enrich_disconnect(e);
                        return enrich_connect(e) < 0 ? -EHOSTDOWN : -E2BIG;
                }
                if (r < 0)
                        return r;
                r = answers_from_varlink(e, params, len, n, ret);
                ctl_varlink_drop(&e->varlink, len);
                return r;
        }
        r = ctl_bus_new_call(e->bus, "ResolveBatch", params, &m);
        if (r < 0)
                return r;
        r = sd_bus_call(e->bus, m, CALL_TIMEOUT_USEC, &error, &reply);
        if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_LIMITS_EXCEEDED))
                return -E2BIG; /* the answer would exceed what lineaged sends over D-Bus */
        if (r < 0)
                return ctl_bus_report_error("ResolveBatch", params, &error, r);
        r = ctl_bus_reply_to_json(reply, &answer);
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
        b->sent = ctl_varlink_send(&e->varlink, "ResolveBatch", params, false,
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
        r = ctl_varlink_read_text(&e->varlink, (int64_t) now_usec(CLOCK_MONOTONIC) + CALL_TIMEOUT_USEC, &len);
        if (r >= 0) {
                r = answers_from_varlink(e, params, len, jarr_len(b->queries), ret);
                ctl_varlink_drop(&e->varlink, len);
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

int verb_enrich(void) {
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
