/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rows rendered as json-c objects (process_json, login_json, event_json) and as JSON text (JsonText,
 * text_process), key for key the same. */
#include "query-internal.h"

void add_int(json_object *o, const char *k, int64_t v) {
        json_object_object_add(o, k, json_object_new_int64(v));
}

void add_col_int(json_object *o, const char *k, sqlite3_stmt *st, int col) {
        if (sqlite3_column_type(st, col) != SQLITE_NULL)
                add_int(o, k, sqlite3_column_int64(st, col));
}

/* A JSON string from text that should be UTF-8 but comes from outside (a path from /proc, a database
 * column): JSON must be UTF-8, so each byte that does not start a valid sequence becomes U+FFFD, as in
 * GetDescendants' writer and on D-Bus. */
json_object *new_string_utf8(const char *s) {
        _cleanup_free_ char *copy = NULL;
        size_t n = strlen(s);

        if (json_text_utf8_repaired_size(s, n, UTF8_RULES_JSON) == n)
                return json_object_new_string(s);
        if (json_text_utf8_repair(s, n, UTF8_RULES_JSON, &copy) < 0)
                return NULL;
        return json_object_new_string(copy);
}

void add_col_text(json_object *o, const char *k, sqlite3_stmt *st, int col) {
        const char *s = (const char *) sqlite3_column_text(st, col);

        if (s && *s)
                json_object_object_add(o, k, new_string_utf8(s));
}

/* argv is stored as JSON text written by us; still, the database is outside input: parse defensively. */
static void add_col_argv(json_object *o, const char *k, sqlite3_stmt *st, int col) {
        const char *s = (const char *) sqlite3_column_text(st, col);
        json_object *a;

        if (!s)
                return;
        a = json_tokener_parse(s);
        if (!a || !json_object_is_type(a, json_type_array))
                goto bad;
        /* The interface says []string: an array holding anything else is left out, as GetDescendants does. */
        for (size_t i = 0; i < json_object_array_length(a); i++)
                if (!json_object_is_type(json_object_array_get_idx(a, i), json_type_string))
                        goto bad;
        json_object_object_add(o, k, a);
        return;
bad:
        log_debug("Ignoring a stored %s that is not a JSON array of strings.", k);
        json_object_put(a);
}

/* Current parent of a live process, from /proc (the kernel's answer, reaper included). */
static void add_live_parent(Query *q, json_object *o, int32_t pid) {
        ProcInfo p = {};

        if (procfs_read(q->source.proc_root, pid, PROCFS_STAT, &p) >= 0)
                add_int(o, "parentPid", p.ppid);
        proc_info_done(&p);
}

json_object *process_json(Query *q, const QueryCaller *c, sqlite3_stmt *st, bool live_parent) {
        json_object *o = json_object_new_object();
        uint32_t flags = (uint32_t) sqlite3_column_int64(st, COL_FLAGS);
        bool alive = sqlite3_column_type(st, COL_EXIT) == SQLITE_NULL, image;
        Row r;

        if (!o)
                return NULL;
        row_from_stmt(st, &r);
        add_int(o, "instance", (int64_t) r.id);
        add_int(o, "pid", r.pid);
        add_col_text(o, "bootId", st, COL_BOOT_ID);
        add_int(o, "startTime", r.start);
        add_col_int(o, "exitTime", st, COL_EXIT);
        json_object_object_add(o, "alive", json_object_new_boolean(alive));
        add_int(o, "uid", r.uid);
        add_col_int(o, "gid", st, COL_GID);
        add_col_int(o, "sid", st, COL_SID);
        add_col_text(o, "lineageSource", st, COL_SOURCE);
        add_col_int(o, "birthParentPid", st, COL_BIRTH_PARENT_PID);
        add_col_int(o, "birthParentInstance", st, COL_BIRTH_PARENT);
        if (alive) {
                if (live_parent)
                        add_live_parent(q, o, r.pid);
        } else
                add_col_int(o, "parentPid", st, COL_EXIT_PARENT_PID);
        add_col_int(o, "cabaPid", st, COL_CABA_PID);
        add_col_int(o, "cabaInstance", st, COL_CABA);
        json_object_object_add(o, "exitUnknown", json_object_new_boolean(!!(flags & INSTANCE_EXIT_UNKNOWN)));
        if (!caller_may_see(c, &r)) {
                json_object_object_add(o, "argvTruncated", json_object_new_boolean(false));
                json_object_object_add(o, "redacted", json_object_new_boolean(true));
                return o;
        }
        /* The image of another owner (before a drop to the caller's uid) is left out, and said so. */
        image = caller_sees_image(c, &r);
        json_object_object_add(o, "redacted", json_object_new_boolean(!image));
        if (image) {
                add_col_text(o, "comm", st, COL_COMM);
                add_col_text(o, "exe", st, COL_EXE);
                add_col_argv(o, "argv", st, COL_ARGV);
        }
        json_object_object_add(o, "argvTruncated", json_object_new_boolean(image && (flags & INSTANCE_ARGV_TRUNCATED)));
        add_col_int(o, "loginUid", st, COL_LOGIN_UID);
        add_col_int(o, "auditSession", st, COL_AUDIT_SESSION);
        add_col_int(o, "exitStatus", st, COL_EXIT_STATUS);
        add_col_int(o, "exitSignal", st, COL_EXIT_SIGNAL);
        add_col_text(o, "cgroup", st, COL_CGROUP);
        add_col_text(o, "containerId", st, COL_CONTAINER_ID);
        return o;
}

/* Names looked up in the last second: a ResolveBatch of many lines names the same few users again and
 * again, and one NSS lookup (nss-systemd asks systemd-userdbd, then reads /etc/passwd) costs more than
 * the rest of an answer. The daemon has one thread. */
#define USER_NAME_CACHE_SLOTS 64U
#define USER_NAME_CACHE_USEC USEC_PER_SEC
static struct {
        uint32_t uid;
        bool known;                     /* the uid has a name */
        uint64_t until;                 /* CLOCK_MONOTONIC µs; 0: empty */
        char name[64];
} user_names[USER_NAME_CACHE_SLOTS];

/* The user name of uid, or NULL; valid until the next call. */
const char *user_name(uint32_t uid) {
        typeof(user_names[0]) *e = &user_names[(uid * 2654435761U) % USER_NAME_CACHE_SLOTS];
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        static char name[256];
        char buf[4096];
        struct passwd pw, *res = NULL;
        int rc;

        /* Resolved when asked, through NSS: a uid's name may change, the record does not. */
        if (e->until > now && e->uid == uid)
                return e->known ? e->name : NULL;
        rc = getpwuid_r((uid_t) uid, &pw, buf, sizeof(buf), &res);
        if (rc != 0 || !res || !res->pw_name)
                res = NULL;
        else
                snprintf(name, sizeof(name), "%s", res->pw_name);
        /* Lookups that failed for another reason than "no such user" are not remembered. */
        if (rc != 0 || (res && strlen(res->pw_name) >= sizeof(e->name)))
                return res ? name : NULL;
        *e = (typeof(*e)) { .uid = uid, .known = res, .until = now + USER_NAME_CACHE_USEC };
        if (res)
                strcpy(e->name, res->pw_name);
        return res ? name : NULL;
}

static void add_user_name(json_object *o, uint32_t uid) {
        const char *name = user_name(uid);

        if (name)
                json_object_object_add(o, "user", json_object_new_string(name));
}

/* A Login from the current row of a statement selecting LOGIN_COLUMNS. */
json_object *login_json(sqlite3_stmt *st) {
        json_object *o = json_object_new_object();
        bool alive = sqlite3_column_type(st, 10) == SQLITE_NULL;

        if (!o)
                return NULL;
        add_int(o, "instance", sqlite3_column_int64(st, 0));
        add_int(o, "auditSession", sqlite3_column_int64(st, 1));
        add_int(o, "loginUid", sqlite3_column_int64(st, 2));
        add_user_name(o, (uint32_t) sqlite3_column_int64(st, 2));
        add_col_text(o, "service", st, 3);
        add_col_text(o, "remoteAddress", st, 4);
        add_col_int(o, "remotePort", st, 5);
        add_col_text(o, "tty", st, 6);
        add_col_text(o, "logindSession", st, 7);
        add_col_text(o, "unit", st, 8);
        add_int(o, "startTime", sqlite3_column_int64(st, 9));
        add_col_int(o, "endTime", st, 10);
        json_object_object_add(o, "alive", json_object_new_boolean(alive));
        json_object_object_add(o, "selfDeclared", json_object_new_boolean(sqlite3_column_int(st, 11) != 0));
        if (sqlite3_column_count(st) > 12)
                add_int(o, "aliveProcesses", sqlite3_column_int64(st, 12));
        return o;
}

/* argv: copied when canonical; otherwise parsed (the database is outside input) and written again if it
 * is an array of strings, left out (with a debug note) if it is not. */
static void text_col_argv(JsonText *t, sqlite3_stmt *st, int col, uint64_t id) {
        const char *s = (const char *) sqlite3_column_text(st, col);
        _cleanup_(json_object_putp) json_object *a = NULL;
        size_t n, len;

        if (!s)
                return;
        n = (size_t) sqlite3_column_bytes(st, col);
        if (json_text_argv_is_canonical(s, n) && !memchr(s, 0, n)) {
                text_key(t, "argv");
                (void) json_text_append(t, s, n);
                return;
        }
        a = json_tokener_parse(s);
        if (!a || !json_object_is_type(a, json_type_array)) {
                log_debug("Instance %" PRIu64 ": argv in the database is not a JSON array, leaving it out.", id);
                return;
        }
        len = json_object_array_length(a);
        for (size_t i = 0; i < len; i++)
                if (!json_object_is_type(json_object_array_get_idx(a, i), json_type_string)) {
                        log_debug("Instance %" PRIu64 ": argv in the database is not an array of strings, leaving it out.", id);
                        return;
                }
        text_key(t, "argv");
        text_literal(t, "[");
        for (size_t i = 0; i < len; i++) {
                json_object *e = json_object_array_get_idx(a, i);

                if (i > 0)
                        text_literal(t, ",");
                json_text_string(t, json_object_get_string(e), (size_t) json_object_get_string_len(e));
        }
        text_literal(t, "]");
}

/* The Process of st's current row as process_json() builds it, key for key. For a live process,
 * *ret_split is where its current parent (,"parentPid":N, from /proc) goes; SIZE_MAX when none can. */
void text_process(JsonText *t, const QueryCaller *c, sqlite3_stmt *st, const Row *r, size_t *ret_split) {
        uint32_t flags = (uint32_t) sqlite3_column_int64(st, COL_FLAGS);
        bool alive = sqlite3_column_type(st, COL_EXIT) == SQLITE_NULL, image;

        text_literal(t, "{\"instance\":");
        json_text_int(t, (int64_t) r->id);
        text_field_int(t, "pid", r->pid);
        text_col_text(t, "bootId", st, COL_BOOT_ID);
        text_field_int(t, "startTime", r->start);
        text_col_int(t, "exitTime", st, COL_EXIT);
        text_field_bool(t, "alive", alive);
        text_field_int(t, "uid", r->uid);
        text_col_int(t, "gid", st, COL_GID);
        text_col_int(t, "sid", st, COL_SID);
        text_col_text(t, "lineageSource", st, COL_SOURCE);
        text_col_int(t, "birthParentPid", st, COL_BIRTH_PARENT_PID);
        text_col_int(t, "birthParentInstance", st, COL_BIRTH_PARENT);
        *ret_split = SIZE_MAX;
        if (alive)
                *ret_split = t->len;
        else
                text_col_int(t, "parentPid", st, COL_EXIT_PARENT_PID);
        text_col_int(t, "cabaPid", st, COL_CABA_PID);
        text_col_int(t, "cabaInstance", st, COL_CABA);
        text_field_bool(t, "exitUnknown", flags & INSTANCE_EXIT_UNKNOWN);
        if (!caller_may_see(c, r)) {
                text_field_bool(t, "argvTruncated", false);
                text_field_bool(t, "redacted", true);
                text_literal(t, "}");
                return;
        }
        image = caller_sees_image(c, r);
        text_field_bool(t, "redacted", !image);
        if (image) {
                text_col_text(t, "comm", st, COL_COMM);
                text_col_text(t, "exe", st, COL_EXE);
                text_col_argv(t, st, COL_ARGV, r->id);
        }
        text_field_bool(t, "argvTruncated", image && (flags & INSTANCE_ARGV_TRUNCATED));
        text_col_int(t, "loginUid", st, COL_LOGIN_UID);
        text_col_int(t, "auditSession", st, COL_AUDIT_SESSION);
        text_col_int(t, "exitStatus", st, COL_EXIT_STATUS);
        text_col_int(t, "exitSignal", st, COL_EXIT_SIGNAL);
        text_col_text(t, "cgroup", st, COL_CGROUP);
        text_col_text(t, "containerId", st, COL_CONTAINER_ID);
        text_literal(t, "}");
}

/* An event as the IDL has it: type-specific fields from the generic a/b/text/argv columns. */
json_object *event_json(uint64_t instance, int32_t pid, int64_t time, int type, int64_t tid, bool have_a,
                        int64_t a, bool have_b, int64_t b, const char *text, const char *argv_json) {
        json_object *o = json_object_new_object();
        const char *name = lineage_event_type_to_string((LineageEventType) type);

        if (!o)
                return NULL;
        add_int(o, "instance", (int64_t) instance);
        add_int(o, "pid", pid);
        add_int(o, "time", time);
        json_object_object_add(o, "type", json_object_new_string(name ?: "unknown"));
        if (tid > 0)
                add_int(o, "tid", tid);
        switch (type) {
        case LINEAGE_EVENT_UID:
        case LINEAGE_EVENT_GID:
                if (have_a)
                        add_int(o, "realId", a);
                if (have_b)
                        add_int(o, "effectiveId", b);
                break;
        case LINEAGE_EVENT_SID:
                if (have_a)
                        add_int(o, "sid", a);
                break;
        case LINEAGE_EVENT_PTRACE:
                if (have_a)
                        add_int(o, "tracerPid", a);
                break;
        case LINEAGE_EVENT_COMM:
                if (text)
                        json_object_object_add(o, "comm", new_string_utf8(text));
                break;
        case LINEAGE_EVENT_EXEC:
                if (text)
                        json_object_object_add(o, "exe", new_string_utf8(text));
                if (argv_json) {
                        json_object *arr = json_tokener_parse(argv_json);

                        if (arr && json_object_is_type(arr, json_type_array))
                                json_object_object_add(o, "argv", arr);
                        else
                                json_object_put(arr);
                }
                break;
        case LINEAGE_EVENT_EXIT:
                if (have_a && a >= 0)
                        add_int(o, "exitStatus", a);
                if (have_b && b > 0)
                        add_int(o, "exitSignal", b);
                break;
        default:
                break;
        }
        return o;
}

/* An event of another owner than the caller: when and what kind, nothing it carried. */
json_object *redacted_event_json(uint64_t instance, int32_t pid, int64_t time, int type, int64_t tid) {
        json_object *o = event_json(instance, pid, time, type, tid, false, 0, false, 0, NULL, NULL);

        if (o)
                json_object_object_add(o, "redacted", json_object_new_boolean(true));
        return o;
}
