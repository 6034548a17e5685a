/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl's output: escaping what the daemon sends, processes and logins as text, tables. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdarg.h>
#include <string.h>

#include "glyph.h"
#include "lineagectl.h"

/* ---- small helpers ---------------------------------------------------------------------------- */

const char *ansi(const char *seq) {
        return use_color ? seq : "";
}

bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

json_object *jget(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
                return NULL;
        return v;
}

const char *jstr(json_object *o, const char *key) {
        json_object *v = jget(o, key);

        return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

bool jint(json_object *o, const char *key, int64_t *ret) {
        json_object *v = jget(o, key);

        if (!json_object_is_type(v, json_type_int))
                return false;
        *ret = json_object_get_int64(v);
        return true;
}

int64_t jint_or(json_object *o, const char *key, int64_t def) {
        int64_t v;

        return jint(o, key, &v) ? v : def;
}

bool jbool(json_object *o, const char *key) {
        json_object *v = jget(o, key);

        return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

json_object *jobj(json_object *o, const char *key) {
        json_object *v = jget(o, key);

        return json_object_is_type(v, json_type_object) ? v : NULL;
}

json_object *jarr(json_object *o, const char *key) {
        json_object *v = jget(o, key);

        return json_object_is_type(v, json_type_array) ? v : NULL;
}

size_t jarr_len(json_object *a) {
        return a ? json_object_array_length(a) : 0;
}

int json_add(json_object *o, const char *key, json_object *v) {
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
char *escape_controls(const char *s, bool backslash) {
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

bool needs_escape(const char *s, bool backslash) {
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

int json_sanitize(json_object *o, unsigned depth) {
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

const char *format_timespan(char *buf, size_t size, int64_t usec) {
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

const char *format_bytes(char *buf, size_t size, int64_t bytes) {
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

const char *signal_name(char *buf, size_t size, int64_t sig) {
        const char *n = sig > 0 && sig < 65 ? sigabbrev_np((int) sig) : NULL;

        if (n)
                snprintf(buf, size, "SIG%s", n);
        else
                snprintf(buf, size, "%" PRIi64, sig);
        return buf;
}

/* ---- output ---------------------------------------------------------------------------------- */

int print_json(json_object *o) {
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
char *process_command(json_object *p, size_t max) {
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
char *process_state(json_object *p, bool compact) {
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

void widths_add(Widths *w, json_object *p) {
        char buf[32];

        w->pid = MAX(w->pid, snprintf(buf, sizeof(buf), "%" PRIi64, jint_or(p, "pid", 0)));
        w->instance = MAX(w->instance, snprintf(buf, sizeof(buf), "%" PRIi64, jint_or(p, "instance", 0)));
}

/* The user name of a uid (getpwuid), else the number; remembered, as a tree repeats a few uids. */
const char *user_name(int64_t uid) {
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
const char *user_mark(json_object *p, json_object *parent) {
        int64_t uid, puid = 0;

        if (!jint(p, "uid", &uid))
                return NULL;
        if (parent && !jint(parent, "uid", &puid))
                return user_name(uid);
        return uid == puid ? NULL : user_name(uid);
}

/* "4242 @100  (alice) sleep 1000  (alive)  [lineage: procfs]"; w may be NULL; user as user_mark() (NULL:
 * none); left_out as print_left_out(). */
int print_process_line_left_out(json_object *p, const char *prefix, const Widths *w, const char *user,
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

int print_process_line(json_object *p, const char *prefix, const Widths *w, const char *user) {
        return print_process_line_left_out(p, prefix, w, user, 0);
}

void print_gaps(json_object *reply) {
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

void table_done(Table *t) {
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
}

/* Takes ownership of cell (NULL means out of memory). */
int table_add(Table *t, char *cell) {
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

int table_addf(Table *t, const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return table_add(t, r < 0 ? NULL : s);
}

int table_print(Table *t) {
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
void print_field(int width, const char *key, const char *fmt, ...) {
        va_list ap;

        printf("%*s: ", width, key);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

/* A login not shown to be begun by a privileged process: what it says of itself is a claim. An answer
 * without the field (an older daemon) is not vouched for either. */
bool self_declared(json_object *login) {
        json_object *v;

        return !json_object_object_get_ex(login, "selfDeclared", &v) || json_object_get_boolean(v);
}

const char *claimed(json_object *login) {
        return self_declared(login) ? " (claimed)" : "";
}

void print_login(json_object *login, const char *reason) {
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

/* " [2 exited ancestors left out]" after an entry drawn under a process that is not its birth parent. */
void print_left_out(size_t n) {
        if (n > 0)
                printf("  %s[%zu exited ancestor%s left out]%s", ANSI_GREY, n, n == 1 ? "" : "s", ANSI_NORMAL);
}

void print_truncated_default(json_object *reply, uint64_t limit_default) {
        if (jbool(reply, "truncated") && !arg_quiet)
                printf("%s more exist; raise --limit (now %" PRIu64 ") to see them\n", glyph(GLYPH_ELLIPSIS),
                       arg_limit_set ? arg_limit : limit_default);
}

void print_truncated(json_object *reply) {
        print_truncated_default(reply, 10000);
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
char *event_details(json_object *e, json_object *p) {
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
