/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rows rendered as json-c objects and as JSON text, both driven by one field table per record kind
 * (process_fields, login_fields), so every answer shows the same keys in the same order. */
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
static void add_argv(json_object *o, const char *k, const char *s) {
        json_object *a;

        if (!s)
                return;
        a = json_tokener_parse(s);
        if (!a || !json_object_is_type(a, json_type_array))
                goto bad;
        /* The interface says []string: an array holding anything else is left out, as GetDescendants does. */
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *e = json_object_array_get_idx(a, i);
                _cleanup_free_ char *copy = NULL;
                size_t n, size;

                if (!json_object_is_type(e, json_type_string))
                        goto bad;
                /* A damaged row may hold bytes that are not UTF-8: repaired as the text writer does. */
                n = (size_t) json_object_get_string_len(e);
                size = json_text_utf8_repaired_size(json_object_get_string(e), n, UTF8_RULES_JSON);
                if (size != n && json_text_utf8_repair(json_object_get_string(e), n, UTF8_RULES_JSON, &copy) >= 0)
                        json_object_array_put_idx(a, i, json_object_new_string_len(copy, (int) size));
        }
        json_object_object_add(o, k, a);
        return;
bad:
        log_debug("Ignoring a stored %s that is not a JSON array of strings.", k);
        json_object_put(a);
}

/* Current parent of a live process, from /proc (the kernel's answer, reaper included). */
static void add_live_parent(const char *proc_root, json_object *o, int32_t pid) {
        ProcInfo p = {};

        if (procfs_read(proc_root, pid, PROCFS_STAT, &p) >= 0)
                add_int(o, "parentPid", p.ppid);
        proc_info_done(&p);
}

json_object *process_json(Query *q, const QueryCaller *c, sqlite3_stmt *st, bool live_parent) {
        ProcessRecord p;
        Row r;

        row_from_stmt(st, &r);
        process_record_from_stmt(&p, c, st, &r);
        return process_record_json(&p, live_parent ? q->source.proc_root : NULL);
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
static const char *user_name(uint32_t uid) {
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

/* A Login from the current row of a statement selecting LOGIN_COLUMNS. */
json_object *login_json(sqlite3_stmt *st) {
        LoginRecord l;

        login_record_from_stmt(&l, st);
        return login_record_json(&l);
}

/* argv: copied when canonical; otherwise parsed (the database is outside input) and written again if it
 * is an array of strings, left out (with a debug note) if it is not. */
static void text_argv(JsonText *t, const char *s, size_t n, uint64_t id) {
        _cleanup_(json_object_putp) json_object *a = NULL;
        size_t len;

        if (!s)
                return;
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
        ProcessRecord p;

        process_record_from_stmt(&p, c, st, r);
        process_record_text(t, &p, ret_split);
}

/* ---- Process: one field table drives every rendering ----
 *
 * A Process is first read into a ProcessRecord (from a database row, or from the tracker's Instance for
 * Watch), then written by walking process_fields: as json-c (D-Bus, Watch, the small methods) or as
 * JSON text (GetDescendants, ResolveBatch). A new field is one line here and one where it is read. */

typedef enum FieldPart {
        PART_ALL,                       /* every caller */
        PART_HIDDEN,                    /* only to a caller who may not see the process */
        PART_SEEN,                      /* only to a caller who may (caller_may_see()) */
        PART_IMAGE,                     /* only to one who sees its image too (caller_sees_image()) */
} FieldPart;

typedef enum FieldType {
        FIELD_INT,
        FIELD_BOOL,
        FIELD_STRING,                   /* repaired to UTF-8 */
        FIELD_ARGV,                     /* stored JSON text: written only if it is an array of strings */
} FieldType;

typedef struct FieldDef {
        unsigned value;                 /* index into the record's values (ProcessKey, LoginKey) */
        const char *key;
        const char *text;               /* ,"key": */
        size_t text_len;
        FieldType type;
        FieldPart part;
} FieldDef;

#define FIELD(v, k, t, p) { v, k, ",\"" k "\":", sizeof(",\"" k "\":") - 1, t, p }
static const FieldDef process_fields[] = {
        FIELD(PK_INSTANCE, "instance", FIELD_INT, PART_ALL),
        FIELD(PK_PID, "pid", FIELD_INT, PART_ALL),
        FIELD(PK_BOOT_ID, "bootId", FIELD_STRING, PART_ALL),
        FIELD(PK_START, "startTime", FIELD_INT, PART_ALL),
        FIELD(PK_EXIT, "exitTime", FIELD_INT, PART_ALL),
        FIELD(PK_ALIVE, "alive", FIELD_BOOL, PART_ALL),
        FIELD(PK_UID, "uid", FIELD_INT, PART_ALL),
        FIELD(PK_GID, "gid", FIELD_INT, PART_ALL),
        FIELD(PK_SID, "sid", FIELD_INT, PART_ALL),
        FIELD(PK_SOURCE, "lineageSource", FIELD_STRING, PART_ALL),
        FIELD(PK_BIRTH_PARENT_PID, "birthParentPid", FIELD_INT, PART_ALL),
        FIELD(PK_BIRTH_PARENT, "birthParentInstance", FIELD_INT, PART_ALL),
        FIELD(PK_PARENT, "parentPid", FIELD_INT, PART_ALL), /* alive: the current one (see there) */
        FIELD(PK_CABA_PID, "cabaPid", FIELD_INT, PART_ALL),
        FIELD(PK_CABA, "cabaInstance", FIELD_INT, PART_ALL),
        FIELD(PK_EXIT_UNKNOWN, "exitUnknown", FIELD_BOOL, PART_ALL),
        FIELD(PK_ARGV_TRUNCATED, "argvTruncated", FIELD_BOOL, PART_HIDDEN),
        FIELD(PK_REDACTED, "redacted", FIELD_BOOL, PART_HIDDEN),
        FIELD(PK_REDACTED, "redacted", FIELD_BOOL, PART_SEEN),
        FIELD(PK_COMM, "comm", FIELD_STRING, PART_IMAGE),
        FIELD(PK_EXE, "exe", FIELD_STRING, PART_IMAGE),
        FIELD(PK_ARGV, "argv", FIELD_ARGV, PART_IMAGE),
        FIELD(PK_ARGV_TRUNCATED, "argvTruncated", FIELD_BOOL, PART_SEEN),
        FIELD(PK_LOGIN_UID, "loginUid", FIELD_INT, PART_SEEN),
        FIELD(PK_AUDIT_SESSION, "auditSession", FIELD_INT, PART_SEEN),
        FIELD(PK_EXIT_STATUS, "exitStatus", FIELD_INT, PART_SEEN),
        FIELD(PK_EXIT_SIGNAL, "exitSignal", FIELD_INT, PART_SEEN),
        FIELD(PK_CGROUP, "cgroup", FIELD_STRING, PART_SEEN),
        FIELD(PK_CONTAINER_ID, "containerId", FIELD_STRING, PART_SEEN),
};

static bool part_shown(FieldPart part, const ProcessRecord *p) {
        switch (part) {
        case PART_HIDDEN:
                return !p->may_see;
        case PART_SEEN:
                return p->may_see;
        case PART_IMAGE:
                return p->may_see && p->image;
        default:
                return true;
        }
}

static void field_int(FieldValue *v, int64_t i) {
        *v = (FieldValue) { .set = true, .i = i };
}

static void field_col_int(FieldValue *v, sqlite3_stmt *st, int col) {
        if (sqlite3_column_type(st, col) != SQLITE_NULL)
                field_int(v, sqlite3_column_int64(st, col));
}

/* Empty text is left out, as NULL is. */
static void field_string(FieldValue *v, const char *s) {
        if (s && *s)
                *v = (FieldValue) { .set = true, .s = s, .n = strlen(s) };
}

static void field_col_text(FieldValue *v, sqlite3_stmt *st, int col) {
        field_string(v, (const char *) sqlite3_column_text(st, col));
}

/* Who may see which part, and the fields every part shares. */
static void process_record_access(ProcessRecord *p, const QueryCaller *c, const Row *r, uint32_t flags) {
        p->may_see = caller_may_see(c, r);
        p->image = caller_sees_image(c, r);
        field_int(&p->f[PK_REDACTED], !p->image);
        field_int(&p->f[PK_ARGV_TRUNCATED], p->image && (flags & INSTANCE_ARGV_TRUNCATED));
        field_int(&p->f[PK_EXIT_UNKNOWN], !!(flags & INSTANCE_EXIT_UNKNOWN));
}

void process_record_from_stmt(ProcessRecord *ret, const QueryCaller *c, sqlite3_stmt *st, const Row *r) {
        const char *argv = (const char *) sqlite3_column_text(st, COL_ARGV);

        *ret = (ProcessRecord) { .alive = sqlite3_column_type(st, COL_EXIT) == SQLITE_NULL };
        field_int(&ret->f[PK_INSTANCE], (int64_t) r->id);
        field_int(&ret->f[PK_PID], r->pid);
        field_col_text(&ret->f[PK_BOOT_ID], st, COL_BOOT_ID);
        field_int(&ret->f[PK_START], r->start);
        field_col_int(&ret->f[PK_EXIT], st, COL_EXIT);
        field_int(&ret->f[PK_ALIVE], ret->alive);
        field_int(&ret->f[PK_UID], r->uid);
        field_col_int(&ret->f[PK_GID], st, COL_GID);
        field_col_int(&ret->f[PK_SID], st, COL_SID);
        field_col_text(&ret->f[PK_SOURCE], st, COL_SOURCE);
        field_col_int(&ret->f[PK_BIRTH_PARENT_PID], st, COL_BIRTH_PARENT_PID);
        field_col_int(&ret->f[PK_BIRTH_PARENT], st, COL_BIRTH_PARENT);
        if (!ret->alive)
                field_col_int(&ret->f[PK_PARENT], st, COL_EXIT_PARENT_PID);
        field_col_int(&ret->f[PK_CABA_PID], st, COL_CABA_PID);
        field_col_int(&ret->f[PK_CABA], st, COL_CABA);
        process_record_access(ret, c, r, (uint32_t) sqlite3_column_int64(st, COL_FLAGS));
        field_col_text(&ret->f[PK_COMM], st, COL_COMM);
        field_col_text(&ret->f[PK_EXE], st, COL_EXE);
        if (argv)
                ret->f[PK_ARGV] = (FieldValue) { .set = true, .s = argv, .n = (size_t) sqlite3_column_bytes(st, COL_ARGV) };
        field_col_int(&ret->f[PK_LOGIN_UID], st, COL_LOGIN_UID);
        field_col_int(&ret->f[PK_AUDIT_SESSION], st, COL_AUDIT_SESSION);
        field_col_int(&ret->f[PK_EXIT_STATUS], st, COL_EXIT_STATUS);
        field_col_int(&ret->f[PK_EXIT_SIGNAL], st, COL_EXIT_SIGNAL);
        field_col_text(&ret->f[PK_CGROUP], st, COL_CGROUP);
        field_col_text(&ret->f[PK_CONTAINER_ID], st, COL_CONTAINER_ID);
}

void process_record_done(ProcessRecord *p) {
        free(p->argv);
        p->argv = NULL;
}

void process_record_from_instance(ProcessRecord *ret, const QueryCaller *c, const Instance *i, const Row *owners,
                                  const char *boot_id) {
        bool alive = i->flags & INSTANCE_ALIVE;

        *ret = (ProcessRecord) { .alive = alive };
        field_int(&ret->f[PK_INSTANCE], (int64_t) i->id);
        field_int(&ret->f[PK_PID], i->pid);
        field_string(&ret->f[PK_BOOT_ID], boot_id);
        field_int(&ret->f[PK_START], (int64_t) i->start_time);
        if (!alive)
                field_int(&ret->f[PK_EXIT], (int64_t) i->exit_time);
        field_int(&ret->f[PK_ALIVE], alive);
        field_int(&ret->f[PK_UID], i->uid);
        field_int(&ret->f[PK_GID], i->gid);
        field_int(&ret->f[PK_SID], i->sid);
        field_string(&ret->f[PK_SOURCE], lineage_source_to_string(i->source));
        if (i->birth_parent_pid >= 0)
                field_int(&ret->f[PK_BIRTH_PARENT_PID], i->birth_parent_pid);
        if (i->birth_parent_id > 0)
                field_int(&ret->f[PK_BIRTH_PARENT], (int64_t) i->birth_parent_id);
        if (!alive && i->exit_parent_pid >= 0)
                field_int(&ret->f[PK_PARENT], i->exit_parent_pid);
        if (i->caba_id > 0) {
                field_int(&ret->f[PK_CABA_PID], i->caba_pid);
                field_int(&ret->f[PK_CABA], (int64_t) i->caba_id);
        }
        process_record_access(ret, c, owners, i->flags);
        field_string(&ret->f[PK_COMM], i->comm);
        field_string(&ret->f[PK_EXE], i->exe);
        if (i->argv && i->argv_len > 0) {
                ret->argv = argv_to_json(i->argv, i->argv_len);
                field_string(&ret->f[PK_ARGV], ret->argv);
        }
        if (i->loginuid != PROCFS_UNSET_ID)
                field_int(&ret->f[PK_LOGIN_UID], i->loginuid);
        if (i->sessionid != PROCFS_UNSET_ID)
                field_int(&ret->f[PK_AUDIT_SESSION], i->sessionid);
        if (!alive && i->exit_status >= 0)
                field_int(&ret->f[PK_EXIT_STATUS], i->exit_status);
        if (!alive && i->exit_signal > 0)
                field_int(&ret->f[PK_EXIT_SIGNAL], i->exit_signal);
        field_string(&ret->f[PK_CGROUP], i->cgroup);
        if (i->cgroup && i->cgroup[0] && procfs_container_id(i->cgroup, ret->container) > 0)
                field_string(&ret->f[PK_CONTAINER_ID], ret->container);
}

/* A record as json-c, by its table. p: a Process's parts and current parent (NULL: no parts, all shown). */
static json_object *fields_json(const FieldDef *defs, size_t n_defs, const FieldValue *f, const ProcessRecord *p,
                                const char *proc_root) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        for (size_t k = 0; k < n_defs; k++) {
                const FieldDef *d = &defs[k];
                const FieldValue *v = &f[d->value];

                if (p && !part_shown(d->part, p))
                        continue;
                if (p && d->value == PK_PARENT && p->alive && proc_root)
                        add_live_parent(proc_root, o, (int32_t) p->f[PK_PID].i);
                if (!v->set)
                        continue;
                switch (d->type) {
                case FIELD_INT:
                        add_int(o, d->key, v->i);
                        break;
                case FIELD_BOOL:
                        json_object_object_add(o, d->key, json_object_new_boolean(v->i != 0));
                        break;
                case FIELD_STRING:
                        json_object_object_add(o, d->key, new_string_utf8(v->s));
                        break;
                case FIELD_ARGV:
                        add_argv(o, d->key, v->s);
                        break;
                }
        }
        return o;
}

/* The same as JSON text, key for key. */
static void fields_text(JsonText *t, const FieldDef *defs, size_t n_defs, const FieldValue *f, const ProcessRecord *p,
                        size_t *ret_split) {
        bool first = true;

        *ret_split = SIZE_MAX;
        text_literal(t, "{");
        for (size_t k = 0; k < n_defs; k++) {
                const FieldDef *d = &defs[k];
                const FieldValue *v = &f[d->value];

                if (p && !part_shown(d->part, p))
                        continue;
                if (p && d->value == PK_PARENT && p->alive)
                        *ret_split = t->len;
                if (!v->set)
                        continue;
                if (d->type == FIELD_ARGV) {
                        text_argv(t, v->s, v->n, (uint64_t) f[0].i);
                        continue;
                }
                (void) json_text_append(t, d->text + first, d->text_len - first);
                first = false;
                switch (d->type) {
                case FIELD_INT:
                        json_text_int(t, v->i);
                        break;
                case FIELD_BOOL:
                        json_text_bool(t, v->i != 0);
                        break;
                default:
                        json_text_string(t, v->s, v->n);
                        break;
                }
        }
        text_literal(t, "}");
}

json_object *process_record_json(const ProcessRecord *p, const char *proc_root) {
        return fields_json(process_fields, ELEMENTSOF(process_fields), p->f, p, proc_root);
}

void process_record_text(JsonText *t, const ProcessRecord *p, size_t *ret_split) {
        fields_text(t, process_fields, ELEMENTSOF(process_fields), p->f, p, ret_split);
}

/* ---- Login ---- */

static const FieldDef login_fields[] = {
        FIELD(LK_INSTANCE, "instance", FIELD_INT, PART_ALL),
        FIELD(LK_AUDIT_SESSION, "auditSession", FIELD_INT, PART_ALL),
        FIELD(LK_LOGIN_UID, "loginUid", FIELD_INT, PART_ALL),
        FIELD(LK_USER, "user", FIELD_STRING, PART_ALL),
        FIELD(LK_SERVICE, "service", FIELD_STRING, PART_ALL),
        FIELD(LK_REMOTE_ADDRESS, "remoteAddress", FIELD_STRING, PART_ALL),
        FIELD(LK_REMOTE_PORT, "remotePort", FIELD_INT, PART_ALL),
        FIELD(LK_TTY, "tty", FIELD_STRING, PART_ALL),
        FIELD(LK_LOGIND_SESSION, "logindSession", FIELD_STRING, PART_ALL),
        FIELD(LK_UNIT, "unit", FIELD_STRING, PART_ALL),
        FIELD(LK_START, "startTime", FIELD_INT, PART_ALL),
        FIELD(LK_END, "endTime", FIELD_INT, PART_ALL),
        FIELD(LK_ALIVE, "alive", FIELD_BOOL, PART_ALL),
        FIELD(LK_SELF_DECLARED, "selfDeclared", FIELD_BOOL, PART_ALL),
        FIELD(LK_ALIVE_PROCESSES, "aliveProcesses", FIELD_INT, PART_ALL),
};

/* From the current row of a statement selecting LOGIN_COLUMNS (and, for ListLogins, a count after them). */
void login_record_from_stmt(LoginRecord *ret, sqlite3_stmt *st) {
        *ret = (LoginRecord) {};
        field_int(&ret->f[LK_INSTANCE], sqlite3_column_int64(st, 0));
        field_int(&ret->f[LK_AUDIT_SESSION], sqlite3_column_int64(st, 1));
        field_int(&ret->f[LK_LOGIN_UID], sqlite3_column_int64(st, 2));
        field_string(&ret->f[LK_USER], user_name((uint32_t) sqlite3_column_int64(st, 2)));
        field_col_text(&ret->f[LK_SERVICE], st, 3);
        field_col_text(&ret->f[LK_REMOTE_ADDRESS], st, 4);
        field_col_int(&ret->f[LK_REMOTE_PORT], st, 5);
        field_col_text(&ret->f[LK_TTY], st, 6);
        field_col_text(&ret->f[LK_LOGIND_SESSION], st, 7);
        field_col_text(&ret->f[LK_UNIT], st, 8);
        field_int(&ret->f[LK_START], sqlite3_column_int64(st, 9));
        field_col_int(&ret->f[LK_END], st, 10);
        field_int(&ret->f[LK_ALIVE], sqlite3_column_type(st, 10) == SQLITE_NULL);
        field_int(&ret->f[LK_SELF_DECLARED], sqlite3_column_int(st, 11) != 0);
        if (sqlite3_column_count(st) > 12)
                field_int(&ret->f[LK_ALIVE_PROCESSES], sqlite3_column_int64(st, 12));
}

json_object *login_record_json(const LoginRecord *l) {
        return fields_json(login_fields, ELEMENTSOF(login_fields), l->f, NULL, NULL);
}

void login_record_text(JsonText *t, const LoginRecord *l) {
        size_t split;

        fields_text(t, login_fields, ELEMENTSOF(login_fields), l->f, NULL, &split);
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
