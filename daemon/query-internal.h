/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* query's private parts, shared by daemon/query*.c only: the columns and statements every answer is read
 * with, Query and Row, and the functions one query file lends another. */
#pragma once

#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>

#include "hashmap.h"
#include "lineage/fields.h"
#include "procfs.h"
#include "query.h"
#include "varlink.h"

#define ANCESTORS_MAX 4096U             /* birth chains are short; this bounds a corrupt, cyclic one */
#define DESCENDANTS_DEFAULT 10000U
#define DESCENDANTS_MAX 100000U
#define HISTORY_DEFAULT 10000U
#define HISTORY_MAX 100000U
#define LOGINS_DEFAULT 1000U
#define GAPS_MAX 100U                   /* gaps listed in one answer */
#define LIVE_PARENT_LOOKUPS_MAX 2000U   /* /proc reads for parentPid in one answer */
#define WATCH_SUBTREE_MAX 100000U
#define RESOLVE_BATCH_MAX 4096U
#define RESOLVE_EXIT_GRACE_USEC (1 * USEC_PER_SEC)  /* ResolveBatch: see find_target() */
#define ANCESTRY_MAX_WALK 4096U         /* how far up ResolveBatch looks for a login */

DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);


/* Columns of instances every Process is built from, in this order. */
#define PROCESS_COLUMNS                                                                                      \
        "i.id, i.pid, b.boot_id, i.start_time, i.exit_time, i.comm, i.exe, i.argv, i.uid, i.gid, i.login_uid," \
        " i.audit_session, i.sid, i.birth_parent_pid, i.birth_parent, i.exit_parent_pid, i.lineage_source,"   \
        " i.caba_pid, i.caba, i.exit_status, i.exit_signal, i.flags, i.euid, i.boot, i.image_uid, i.image_login_uid,"   \
        " i.cgroup, i.container_id"
enum {
        COL_ID, COL_PID, COL_BOOT_ID, COL_START, COL_EXIT, COL_COMM, COL_EXE, COL_ARGV, COL_UID, COL_GID,
        COL_LOGIN_UID, COL_AUDIT_SESSION, COL_SID, COL_BIRTH_PARENT_PID, COL_BIRTH_PARENT, COL_EXIT_PARENT_PID,
        COL_SOURCE, COL_CABA_PID, COL_CABA, COL_EXIT_STATUS, COL_EXIT_SIGNAL, COL_FLAGS, COL_EUID, COL_BOOT,
        COL_IMAGE_UID, COL_IMAGE_LOGIN_UID, COL_CGROUP, COL_CONTAINER_ID,
};

enum {
        SQL_BY_ID,
        SQL_BY_PID_LATEST,
        SQL_BY_PID_AT,
        SQL_CHILDREN,
        SQL_EVENTS,
        SQL_GAPS,
        SQL_BOOT_BY_ID,
        SQL_LOGIN_BY_INSTANCE,
        SQL_LIST_LOGINS,
        SQL_PARENT,
        _SQL_MAX,
};


/* GetDescendants (see there). */
enum {
        DESC_SQL_BEGIN,
        DESC_SQL_COMMIT,
        DESC_SQL_WALK,
        DESC_SQL_SESSION,
        DESC_SQL_CHILD_IDS,
        DESC_SQL_SESSION_SIZE,
        _DESC_SQL_MAX,
};


struct Query {
        QuerySource source;
        sqlite3_stmt *sql[_SQL_MAX];
        sqlite3_stmt *desc_sql[_DESC_SQL_MAX];
        QueryWatch *watches;
        unsigned n_watches;
};

struct QueryWatch {
        Query *query;
        QueryWatch *next, *prev;
        QueryCaller caller;
        Hashmap *subtree;               /* instance ids in the watched subtree; NULL = everything */
        uint32_t types;                 /* bit per LineageEventType; 0 = all */
        QueryWatchCallback cb;
        QueryWatchEnded ended_cb;
        void *userdata;
        bool ended;
};

/* A row read into memory: what access checks and JSON rendering need. */
typedef struct Row {
        uint64_t id, birth_parent, caba, boot;
        char source[16];                /* lineage_source: "fork", "kernel-caba", "procfs", "unknown" */
        int64_t birth_parent_pid;       /* -1 = unknown */
        int64_t start, exit;            /* exit 0 = alive */
        uint32_t uid, euid;
        int64_t login_uid;              /* -1 = unset */
        /* Who the process was when its comm, exe and argv were taken: image_uid -1 = not recorded (a row
         * from before schema version 8: judged by uid and login_uid, as then); image_login_uid -1 = unset. */
        int64_t image_uid, image_login_uid;
        int32_t pid;
} Row;


/* One boot's row id and clock offset, remembered across the queries of one batch. */
typedef struct BootCache {
        char id[33];
        uint64_t rowid;
        int64_t realtime_offset_ns;
        bool found;
} BootCache;


/* A Process as read, before it is rendered (query-render.c's process_fields, in this order). */
typedef enum ProcessKey {
        PK_INSTANCE, PK_PID, PK_BOOT_ID, PK_START, PK_EXIT, PK_ALIVE, PK_UID, PK_GID, PK_SID, PK_SOURCE,
        PK_BIRTH_PARENT_PID, PK_BIRTH_PARENT, PK_PARENT, PK_CABA_PID, PK_CABA, PK_EXIT_UNKNOWN, PK_REDACTED,
        PK_COMM, PK_EXE, PK_ARGV, PK_ARGV_TRUNCATED, PK_LOGIN_UID, PK_AUDIT_SESSION, PK_EXIT_STATUS,
        PK_EXIT_SIGNAL, PK_CGROUP, PK_CONTAINER_ID,
        _PK_MAX,
} ProcessKey;

typedef struct FieldValue {
        bool set;                       /* unset fields are left out */
        int64_t i;                      /* ints and bools */
        const char *s;                  /* strings and argv (borrowed: valid while the record is used) */
        size_t n;
} FieldValue;

typedef struct ProcessRecord {
        FieldValue f[_PK_MAX];
        bool may_see, image;            /* caller_may_see(), caller_sees_image() */
        bool alive;                     /* parentPid is then the current parent: from /proc, or a split */
        char *argv;                     /* owned: a live Instance's argv as JSON */
        char container[PROCFS_CONTAINER_ID_LEN + 1];
} ProcessRecord;

/* A Login as read (query-render.c's login_fields, in this order). */
typedef enum LoginKey {
        LK_INSTANCE, LK_AUDIT_SESSION, LK_LOGIN_UID, LK_USER, LK_SERVICE, LK_REMOTE_ADDRESS, LK_REMOTE_PORT,
        LK_TTY, LK_LOGIND_SESSION, LK_UNIT, LK_START, LK_END, LK_ALIVE, LK_SELF_DECLARED, LK_ALIVE_PROCESSES,
        _LK_MAX,
} LoginKey;

typedef struct LoginRecord {
        FieldValue f[_LK_MAX];
} LoginRecord;

/* query.c */
void query_sync(Query *q);
static inline uint64_t query_boot(Query *q) {
        return q->source.boot(q->source.userdata);
}
int set_error(QueryError *e, const char *name, json_object *params);
int invalid_parameter(QueryError *e, const char *name);
int database_error(Query *q, QueryError *e);
sqlite3_stmt *stmt(Query *q, unsigned k);
int param_int(json_object *params, const char *name, int64_t min, int64_t max, int64_t *ret);
int param_bool(json_object *params, const char *name, bool *ret);
int param_string(json_object *params, const char *name, const char **ret);
int check_known_params(json_object *params, QueryError *e, ...);
int64_t column_id(sqlite3_stmt *st, int col);
void row_from_stmt(sqlite3_stmt *st, Row *r);
int no_such_process(QueryError *e, int64_t pid, int64_t instance);
int find_target(Query *q, const QueryCaller *c, json_object *params, bool allow_at, uint64_t boot,
                uint64_t exit_grace, Row *ret, QueryError *e);
uint64_t now_us(void);
json_object *gaps_json(Query *q, uint64_t boot, int64_t from, int64_t to, bool *ret_any);
int lookup_boot(Query *q, const char *boot_id, BootCache *cache);

/* query-access.c */
bool owner_is(const QueryCaller *c, int64_t uid, int64_t login_uid);
bool caller_sees_image(const QueryCaller *c, const Row *r);
bool caller_may_see(const QueryCaller *c, const Row *r);
bool caller_sees_event(const QueryCaller *c, const Row *t, sqlite3_stmt *st, int col);

/* query-render.c */
void add_int(json_object *o, const char *k, int64_t v);
void add_col_int(json_object *o, const char *k, sqlite3_stmt *st, int col);
json_object *new_string_utf8(const char *s);
void add_col_text(json_object *o, const char *k, sqlite3_stmt *st, int col);
json_object *process_json(Query *q, const QueryCaller *c, sqlite3_stmt *st, bool live_parent);
void process_record_from_stmt(ProcessRecord *ret, const QueryCaller *c, sqlite3_stmt *st, const Row *r);
/* From the tracker (Watch): owners as instance_owners() gives them. Free with process_record_done(). */
void process_record_from_instance(ProcessRecord *ret, const QueryCaller *c, const Instance *i, const Row *owners,
                                  const char *boot_id);
void process_record_done(ProcessRecord *p);
void login_record_from_stmt(LoginRecord *ret, sqlite3_stmt *st);
json_object *login_record_json(const LoginRecord *l);
void login_record_text(JsonText *t, const LoginRecord *l);
/* proc_root: where a live process's current parent is read; NULL: left out. */
json_object *process_record_json(const ProcessRecord *p, const char *proc_root);
/* For a live process, *ret_split is where its current parent (,"parentPid":N) goes; SIZE_MAX if none. */
void process_record_text(JsonText *t, const ProcessRecord *p, size_t *ret_split);
json_object *login_json(sqlite3_stmt *st);
void text_process(JsonText *t, const QueryCaller *c, sqlite3_stmt *st, const Row *r, size_t *ret_split);
json_object *event_json(uint64_t instance, int32_t pid, int64_t time, int type, int64_t tid, bool have_a,
                        int64_t a, bool have_b, int64_t b, const char *text, const char *argv_json);
json_object *redacted_event_json(uint64_t instance, int32_t pid, int64_t time, int type, int64_t tid);

/* query-descendants.c */
int method_get_descendants(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e);

/* query-batch.c */
int method_resolve_batch(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e);

/* query-search.c */
int method_search(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e);

/* query-watch.c */
void on_tracker_event(const TrackerEvent *e, const Instance *i, void *userdata);

/* Keys and fields of JSON text (json-text.h), for the renderers. */
#define text_literal(t, s) json_text_literal((t), s)

/* ,"key": (key a string literal) */
#define text_key(t, key) text_literal((t), ",\"" key "\":")
#define text_field_int(t, key, v) do { text_key((t), key); json_text_int((t), (v)); } while (0)
#define text_field_bool(t, key, v) do { text_key((t), key); json_text_bool((t), (v)); } while (0)
#define text_col_int(t, key, st, col)                                                   \
        do {                                                                            \
                if (sqlite3_column_type((st), (col)) != SQLITE_NULL)                    \
                        text_field_int((t), key, sqlite3_column_int64((st), (col)));    \
        } while (0)
#define text_col_text(t, key, st, col)                                                  \
        do {                                                                            \
                const char *_s = (const char *) sqlite3_column_text((st), (col));       \
                if (_s && *_s) {                                                        \
                        text_key((t), key);                                             \
                        json_text_string((t), _s, strlen(_s));                               \
                }                                                                       \
        } while (0)
