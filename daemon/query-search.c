/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Search: instances by what they ran, who ran them, in which login and when. */
#include "query-internal.h"

/* ---- Search ----
 *
 * Instances by what they ran, who ran them, in which login and when, newest first (like ausearch -x/-c/-ui
 * -ts). The statement is built for the filters given, so SQLite can use an index where one fits:
 * instances_exe for an exe pattern with a literal prefix (a GLOB on a path), instances_audit_session
 * for a login, instances_pid_start never (no pid filter). Everything else is a scan in id order. An
 * instance matches an exe or argv filter when its last exec (the row) or any earlier exec (events)
 * does; the answer shows its last. */

#define SEARCH_DEFAULT 1000U
#define SEARCH_MAX 100000U
#define SEARCH_PATTERN_MAX 4096U
#define SEARCH_LOGIN_TREE_MAX 1000000 /* processes walked below a login (a corrupt, cyclic tree ends here) */

typedef struct SearchFilter {
        const char *exe, *comm, *argv;
        int64_t uid, since, until, limit, login_instance, session;
        uint64_t boot;                  /* with session: its boot (0: any) */
        bool alive, exe_basename, argv_plain;
        const char *argv_piece;         /* the needle's longest plain run (see argv_needle_plain()) */
        size_t argv_piece_len;
} SearchFilter;

static bool argv_byte_plain(unsigned char c) {
        return c >= 0x20 && c != 0x7f && c != '"' && c != '\\' && c != ' ';
}

/* A needle that JSON stores as it is, and that no argument separator can contain: found in the stored
 * JSON text exactly where it is found in one argument. */
static bool argv_needle_plain(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (!argv_byte_plain(*p))
                        return false;
        return true;
}

/* The longest plain run of a needle that is not plain as a whole ("curl -s" → "curl"): every command
 * line holding the needle holds it in its stored JSON, so it is a cheap test to make first. Length 0
 * when the needle has no plain byte. */
static size_t argv_needle_piece(const char *s, const char **ret) {
        size_t best = 0, best_len = 0, run = 0, n = strlen(s);

        for (size_t k = 0; k <= n; k++) {
                if (k < n && argv_byte_plain((unsigned char) s[k])) {
                        run++;
                        continue;
                }
                if (run > best_len) {
                        best = k - run;
                        best_len = run;
                }
                run = 0;
        }
        *ret = s + best;
        return best_len;
}

/* exe and argv of one exec, row or event: the conditions shared by both halves of the union. */
static void search_exec_sql(FILE *f, const SearchFilter *s, const char *exe, const char *argv) {
        if (s->exe)
                fprintf(f, s->exe_basename ? " AND %s GLOB '*/' || :exe" : " AND %s GLOB :exe", exe);
        if (s->argv && s->argv_plain)
                fprintf(f, " AND instr(%s, :argv) > 0", argv);
        else if (s->argv) {
                if (s->argv_piece_len > 0)
                        fprintf(f, " AND instr(%s, :argvpiece) > 0", argv);
                fprintf(f, " AND instr((SELECT group_concat(value, ' ') FROM json_each(%s)), :argv) > 0", argv);
        }
}

/* For an unprivileged caller, the rules of caller_sees_image() and caller_sees_event() as SQL: what the
 * process ran counts only when it was the caller's then (rows from before schema 8 carry no owner and
 * are judged by who the process is now). A search must not find by a command line it would not show. */
#define SEARCH_OWNER_NOW "(i.uid = :caller OR i.login_uid = :caller)"
#define SEARCH_IMAGE_OWNER                                                                                   \
        " AND CASE WHEN i.image_uid IS NULL THEN " SEARCH_OWNER_NOW                                          \
        " ELSE (i.image_uid = :caller OR i.image_login_uid = :caller) END"
#define SEARCH_EVENT_OWNER                                                                                   \
        " AND CASE WHEN e.uid IS NULL THEN " SEARCH_OWNER_NOW                                                \
        " ELSE (e.uid = :caller OR e.login_uid = :caller) END"

static char *search_sql(const SearchFilter *s, bool privileged) {
        char *sql = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&sql, &size);

        if (!f)
                return NULL;
        if (s->exe || s->argv) {
                /* An exec matches in the row (the last one) or in events (earlier ones). */
                fputs("WITH m(id) AS (SELECT i.id FROM instances i WHERE 1", f);
                search_exec_sql(f, s, "i.exe", "i.argv");
                if (!privileged)
                        fputs(SEARCH_IMAGE_OWNER, f);
                fputs(" UNION SELECT e.instance FROM events e", f);
                if (!privileged)
                        fputs(" JOIN instances i ON i.id = e.instance", f);
                fputs(" WHERE e.type = 2", f);
                search_exec_sql(f, s, "e.text", "e.argv");
                if (!privileged)
                        fputs(SEARCH_EVENT_OWNER, f);
                fputs(") SELECT " PROCESS_COLUMNS " FROM m JOIN instances i ON i.id = m.id", f);
        } else
                fputs("SELECT " PROCESS_COLUMNS " FROM instances i", f);
        fputs(" JOIN boots b ON b.id = i.boot WHERE 1", f);
        if (s->comm)
                fputs(privileged ? " AND i.comm GLOB :comm" : " AND i.comm GLOB :comm" SEARCH_IMAGE_OWNER, f);
        if (s->uid >= 0)
                fputs(" AND i.uid = :uid", f);
        /* A login's processes: its session, and everything born under where it began (a process that
         * exited before its session was read has none recorded, and what left the session is its too). */
        if (s->login_instance > 0)
                fputs(" AND (i.boot = :boot AND i.audit_session = :session OR i.id IN (WITH RECURSIVE t(id) AS"
                      " (SELECT :login UNION ALL SELECT c.id FROM t JOIN instances c ON c.birth_parent = t.id"
                      " LIMIT :treemax) SELECT id FROM t))", f);
        else if (s->session >= 0)
                fputs(" AND i.boot = :boot AND i.audit_session = :session", f);
        if (s->since >= 0)
                fputs(" AND i.start_time >= :since", f);
        if (s->until >= 0)
                fputs(" AND i.start_time <= :until", f);
        if (s->alive)
                fputs(" AND i.exit_time IS NULL", f);
        /* As caller_may_see(): theirs now, or its image was theirs. */
        if (!privileged)
                fputs(" AND (" SEARCH_OWNER_NOW " OR i.image_uid = :caller OR i.image_login_uid = :caller)", f);
        fputs(" ORDER BY i.start_time DESC, i.id DESC LIMIT :limit", f);
        if (fclose(f) != 0) {
                free(sql);
                return NULL;
        }
        return sql;
}

static void bind_named_text(sqlite3_stmt *st, const char *name, const char *v) {
        int k = sqlite3_bind_parameter_index(st, name);

        if (k > 0)
                sqlite3_bind_text(st, k, v, -1, SQLITE_TRANSIENT);
}

static void bind_named_int(sqlite3_stmt *st, const char *name, int64_t v) {
        int k = sqlite3_bind_parameter_index(st, name);

        if (k > 0)
                sqlite3_bind_int64(st, k, v);
}

/* A pattern parameter: absent, or a non-empty string of bounded size. */
static int search_pattern(json_object *params, const char *name, const char **ret, QueryError *e) {
        const char *v = NULL;

        if (param_string(params, name, &v) < 0 || (v && (!*v || strlen(v) > SEARCH_PATTERN_MAX)))
                return invalid_parameter(e, name);
        *ret = v;
        return 0;
}

/* "login": the session that began at login instance loginInstance; or auditSession (of bootId, else of
 * the current boot). */
static int search_login(Query *q, const QueryCaller *c, json_object *params, SearchFilter *s, QueryError *e) {
        const char *boot_id = NULL;
        sqlite3_stmt *st;
        int r;

        if (param_int(params, "loginInstance", 1, INT64_MAX, &s->login_instance) < 0)
                return invalid_parameter(e, "loginInstance");
        if (param_int(params, "auditSession", 0, UINT32_MAX, &s->session) < 0)
                return invalid_parameter(e, "auditSession");
        r = param_string(params, "bootId", &boot_id);
        if (r < 0)
                return invalid_parameter(e, "bootId");
        if (s->login_instance > 0 && s->session >= 0)
                return invalid_parameter(e, "auditSession");
        if (s->login_instance > 0) {
                int64_t uid;

                st = stmt(q, SQL_LOGIN_BY_INSTANCE);
                sqlite3_bind_int64(st, 1, s->login_instance);
                if (sqlite3_step(st) != SQLITE_ROW)
                        return no_such_process(e, 0, s->login_instance);
                s->session = sqlite3_column_int64(st, 1);
                uid = sqlite3_column_int64(st, 2);
                if (c->uid != 0 && (uid_t) uid != c->uid)
                        return set_error(e, QUERY_ERROR_PERMISSION_DENIED, NULL);
                st = stmt(q, SQL_BY_ID);
                sqlite3_bind_int64(st, 1, s->login_instance);
                if (sqlite3_step(st) != SQLITE_ROW)
                        return no_such_process(e, 0, s->login_instance);
                s->boot = (uint64_t) sqlite3_column_int64(st, COL_BOOT);
                return 0;
        }
        if (s->session < 0)
                return 0;
        s->boot = query_boot(q);
        if (boot_id) {
                BootCache bc = {};

                if (lookup_boot(q, boot_id, &bc) < 0)
                        return invalid_parameter(e, "bootId");
                s->boot = bc.rowid;
        }
        /* The login that began the session, if one is recorded: its tree counts too. */
        if (sqlite3_prepare_v2(store_db(q->source.store), "SELECT instance FROM logins WHERE boot = ?1 AND"
                               " audit_session = ?2", -1, &st, NULL) != SQLITE_OK)
                return database_error(q, e);
        sqlite3_bind_int64(st, 1, (int64_t) s->boot);
        sqlite3_bind_int64(st, 2, s->session);
        if (sqlite3_step(st) == SQLITE_ROW)
                s->login_instance = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return 0;
}

static int search_params(Query *q, const QueryCaller *c, json_object *params, SearchFilter *s, QueryError *e) {
        int r;

        *s = (SearchFilter) { .uid = -1, .since = -1, .until = -1, .limit = SEARCH_DEFAULT, .session = -1 };
        r = check_known_params(params, e, "exe", "comm", "argv", "uid", "loginInstance", "auditSession", "bootId",
                               "since", "until", "aliveOnly", "limit", NULL);
        if (r < 0)
                return r;
        if ((r = search_pattern(params, "exe", &s->exe, e)) < 0 ||
            (r = search_pattern(params, "comm", &s->comm, e)) < 0 ||
            (r = search_pattern(params, "argv", &s->argv, e)) < 0)
                return r;
        if (param_int(params, "uid", 0, UINT32_MAX, &s->uid) < 0)
                return invalid_parameter(e, "uid");
        if (param_int(params, "since", 0, INT64_MAX, &s->since) < 0)
                return invalid_parameter(e, "since");
        if (param_int(params, "until", 0, INT64_MAX, &s->until) < 0)
                return invalid_parameter(e, "until");
        if (param_bool(params, "aliveOnly", &s->alive) < 0)
                return invalid_parameter(e, "aliveOnly");
        if (param_int(params, "limit", 1, SEARCH_MAX, &s->limit) < 0)
                return invalid_parameter(e, "limit");
        /* Another user's processes are not theirs to find. */
        if (c->uid != 0 && s->uid >= 0 && (uid_t) s->uid != c->uid)
                return set_error(e, QUERY_ERROR_PERMISSION_DENIED, NULL);
        s->exe_basename = s->exe && !strchr(s->exe, '/');
        s->argv_plain = s->argv && argv_needle_plain(s->argv);
        if (s->argv && !s->argv_plain)
                s->argv_piece_len = argv_needle_piece(s->argv, &s->argv_piece);
        return search_login(q, c, params, s, e);
}

int method_search(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        _cleanup_free_ char *sql = NULL;
        sqlite3_stmt *st = NULL;
        json_object *processes;
        SearchFilter s;
        int64_t n = 0;
        int r, rc;

        r = search_params(q, c, params, &s, e);
        if (r < 0)
                return r;
        sql = search_sql(&s, c->uid == 0);
        reply = json_object_new_object();
        processes = json_object_new_array();
        if (!sql || !reply || !processes) {
                json_object_put(processes);
                return -ENOMEM;
        }
        json_object_object_add(reply, "processes", processes);
        rc = sqlite3_prepare_v2(store_db(q->source.store), sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return database_error(q, e);
        bind_named_text(st, ":exe", s.exe);
        bind_named_text(st, ":comm", s.comm);
        bind_named_text(st, ":argv", s.argv);
        if (s.argv_piece_len > 0)
                sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":argvpiece"), s.argv_piece,
                                  (int) s.argv_piece_len, SQLITE_TRANSIENT);
        bind_named_int(st, ":uid", s.uid);
        bind_named_int(st, ":boot", (int64_t) s.boot);
        bind_named_int(st, ":session", s.session);
        bind_named_int(st, ":login", s.login_instance);
        bind_named_int(st, ":treemax", SEARCH_LOGIN_TREE_MAX);
        bind_named_int(st, ":since", s.since);
        bind_named_int(st, ":until", s.until);
        bind_named_int(st, ":caller", c->uid);
        bind_named_int(st, ":limit", s.limit + 1);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                json_object *p;

                if (++n > s.limit)
                        break;
                p = process_json(q, c, st, n <= LIVE_PARENT_LOOKUPS_MAX);
                if (!p || json_object_array_add(processes, p) < 0) {
                        json_object_put(p);
                        sqlite3_finalize(st);
                        return -ENOMEM;
                }
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return database_error(q, e);
        json_object_object_add(reply, "truncated", json_object_new_boolean(n > s.limit));
        *ret = TAKE_PTR(reply);
        return 0;
}
