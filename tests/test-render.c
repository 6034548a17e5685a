/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Process and Login field tables rendered both ways (json-c and JSON text) for varied rows and callers,
 * and a live Instance (Watch) against the row it becomes: each must print the same bytes. And json-text's
 * strings and argv against json-c. */
#include <json-c/json.h>
#include <sqlite3.h>

#include "query-internal.h"
#include "tests.h"

#define N_COLS (COL_CONTAINER_ID + 1)

/* One row as SQL expressions, by column; NULL: the default. */
typedef struct TestRow {
        const char *name;
        const char *col[N_COLS];
} TestRow;

static const char *const defaults[N_COLS] = {
        [COL_ID] = "5", [COL_PID] = "123", [COL_BOOT_ID] = "'0123456789abcdef0123456789abcdef'",
        [COL_START] = "1000", [COL_EXIT] = "NULL", [COL_COMM] = "'sleep'", [COL_EXE] = "'/usr/bin/sleep'",
        [COL_ARGV] = "'[\"sleep\",\"1\"]'", [COL_UID] = "1000", [COL_GID] = "1000", [COL_LOGIN_UID] = "1000",
        [COL_AUDIT_SESSION] = "3", [COL_SID] = "100", [COL_BIRTH_PARENT_PID] = "100", [COL_BIRTH_PARENT] = "4",
        [COL_EXIT_PARENT_PID] = "NULL", [COL_SOURCE] = "'fork'", [COL_CABA_PID] = "100", [COL_CABA] = "4",
        [COL_EXIT_STATUS] = "NULL", [COL_EXIT_SIGNAL] = "NULL", [COL_FLAGS] = "0", [COL_EUID] = "1000",
        [COL_BOOT] = "1", [COL_IMAGE_UID] = "1000", [COL_IMAGE_LOGIN_UID] = "1000",
        [COL_CGROUP] = "'/user.slice/user-1000.slice/session-3.scope'", [COL_CONTAINER_ID] = "NULL",
};

static const TestRow rows[] = {
        { "alive, the caller's", {} },
        { "exited", { [COL_EXIT] = "2000", [COL_EXIT_PARENT_PID] = "1", [COL_EXIT_STATUS] = "0" } },
        { "killed", { [COL_EXIT] = "2000", [COL_EXIT_PARENT_PID] = "1", [COL_EXIT_SIGNAL] = "9" } },
        { "root's (redacted)", { [COL_UID] = "0", [COL_LOGIN_UID] = "NULL", [COL_IMAGE_UID] = "0",
                                 [COL_IMAGE_LOGIN_UID] = "NULL", [COL_EUID] = "0" } },
        { "image of another owner", { [COL_IMAGE_UID] = "0", [COL_IMAGE_LOGIN_UID] = "NULL" } },
        { "became root's by setuid", { [COL_UID] = "0", [COL_LOGIN_UID] = "NULL" } },
        { "row from before owners were kept", { [COL_IMAGE_UID] = "NULL", [COL_IMAGE_LOGIN_UID] = "NULL" } },
        { "non-UTF-8 exe, controls in comm", { [COL_EXE] = "CAST(X'2f746d702fff66c0af' AS TEXT)",
                                               [COL_COMM] = "CAST(X'610a62091f22' AS TEXT)",
                                               [COL_CGROUP] = "CAST(X'2fe282ac2f5c' AS TEXT)" } },
        { "argv not an array", { [COL_ARGV] = "'{\"a\":1}'" } },
        { "argv not JSON", { [COL_ARGV] = "'[\"a\"'" } },
        { "argv holding a number", { [COL_ARGV] = "'[\"a\",1]'" } },
        { "argv not canonical", { [COL_ARGV] = "'[ \"a\" , \"\\u00e9\\/\\n\", \"\\\\x1b\" ]'" } },
        { "argv with escapes", { [COL_ARGV] = "'[\"a\\\"b\",\"c\\\\d\",\"\"]'" } },
        { "argv with a non-UTF-8 byte", { [COL_ARGV] = "CAST(X'5b2261ff225d' AS TEXT)" } },
        { "argv empty", { [COL_ARGV] = "'[]'" } },
        { "argv empty text", { [COL_ARGV] = "''" } },
        { "truncated, exit unknown", { [COL_FLAGS] = "10" } }, /* INSTANCE_ARGV_TRUNCATED | INSTANCE_EXIT_UNKNOWN */
        { "empty strings and NULLs", { [COL_COMM] = "''", [COL_CGROUP] = "''", [COL_EXE] = "NULL",
                                       [COL_ARGV] = "NULL", [COL_GID] = "NULL", [COL_SID] = "NULL",
                                       [COL_SOURCE] = "NULL", [COL_BIRTH_PARENT_PID] = "NULL",
                                       [COL_CABA_PID] = "NULL", [COL_CABA] = "NULL", [COL_BOOT_ID] = "NULL" } },
        { "in a container", { [COL_CONTAINER_ID] = "'0123456789ab'" } },
};

static char *row_sql(const TestRow *r) {
        char *sql = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&sql, &size);

        ASSERT_TRUE(f);
        fputs("SELECT ", f);
        for (int k = 0; k < N_COLS; k++)
                fprintf(f, "%s%s", k ? ", " : "", r->col[k] ?: defaults[k]);
        ASSERT_EQ(fclose(f), 0);
        return sql;
}

static void check_row(sqlite3 *db, const TestRow *tr, uid_t uid) {
        QueryCaller c = { .uid = uid, .pid = 1, .text_replies = true };
        _cleanup_free_ char *sql = row_sql(tr);
        _cleanup_(json_text_done) JsonText text = {};
        json_object *o, *parsed;
        sqlite3_stmt *st;
        const char *js;
        size_t split;
        Row r;

        ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
        o = process_json(NULL, &c, st, false);
        ASSERT_TRUE(o);
        row_from_stmt(st, &r);
        text_process(&text, &c, st, &r, &split);
        ASSERT_TRUE(!text.oom);
        js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (strcmp(js, text.data) != 0)
                TEST_FAIL("%s, caller %u:\n json-c: %s\n text:   %s", tr->name, (unsigned) uid, js, text.data);
        /* The split is where a live process's current parent goes: right after birthParentInstance. */
        if (sqlite3_column_type(st, COL_EXIT) == SQLITE_NULL) {
                ASSERT_TRUE(split != SIZE_MAX && split <= text.len);
                ASSERT_TRUE(strncmp(text.data + split, ",\"cabaPid\"", 10) == 0 ||
                            strncmp(text.data + split, ",\"cabaInstance\"", 15) == 0 ||
                            strncmp(text.data + split, ",\"exitUnknown\"", 14) == 0);
        } else
                ASSERT_TRUE(split == SIZE_MAX);
        /* Valid JSON, whatever the row held. */
        parsed = json_tokener_parse(text.data);
        ASSERT_TRUE(parsed && json_object_is_type(parsed, json_type_object));
        json_object_put(parsed);
        /* What may be seen: another user sees root's process redacted, without its image. */
        if (uid == 2000 || (uid == 1000 && strstr(tr->name, "redacted"))) {
                ASSERT_TRUE(strstr(text.data, "\"redacted\":true"));
                ASSERT_TRUE(!strstr(text.data, "\"exe\""));
                ASSERT_TRUE(!strstr(text.data, "\"argv\""));
                ASSERT_TRUE(!strstr(text.data, "\"argvTruncated\":true"));
        }
        if (uid == 0 && strstr(tr->name, "non-UTF-8 exe"))
                ASSERT_TRUE(strstr(text.data, "\"exe\":\"/tmp/\xef\xbf\xbd" "f\xef\xbf\xbd\xef\xbf\xbd\""));
        if (uid == 0 && strstr(tr->name, "argv not"))
                ASSERT_EQ(!!strstr(text.data, "\"argv\""), strstr(tr->name, "canonical") != NULL);
        if (uid == 0 && strstr(tr->name, "truncated"))
                ASSERT_TRUE(strstr(text.data, "\"argvTruncated\":true") && strstr(text.data, "\"exitUnknown\":true"));
        json_object_put(o);
        sqlite3_finalize(st);
}

/* json_text_string() against json-c for every byte, alone and amid text. */
static void check_strings(void) {
        for (unsigned b = 1; b < 256; b++) {
                char in[8];
                _cleanup_(json_text_done) JsonText t = {};
                _cleanup_free_ char *repaired = NULL;
                json_object *o;

                snprintf(in, sizeof(in), "a%cb/", (char) b);
                json_text_string(&t, in, strlen(in));
                ASSERT_OK(json_text_utf8_repair(in, strlen(in), UTF8_RULES_JSON, &repaired));
                o = json_object_new_string(repaired);
                ASSERT_STREQ(t.data, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        }
}

/* The stored form of argv is what json-c reads back as the same arguments. */
static void check_argv(void) {
        static const char argv[] = "ls\0-l\0a\"b\\c\0\x1b[0m\0\xff\xfe\0\xe2\x82\xac";
        _cleanup_free_ char *j = argv_to_json(argv, sizeof(argv) - 1);
        json_object *a;

        ASSERT_TRUE(j);
        ASSERT_STREQ(j, "[\"ls\",\"-l\",\"a\\\"b\\\\\\\\c\",\"\\\\x1b[0m\",\"\\\\xff\\\\xfe\",\"\xe2\x82\xac\"]");
        ASSERT_TRUE(json_text_argv_is_canonical(j, strlen(j)));
        a = json_tokener_parse(j);
        ASSERT_TRUE(a && json_object_array_length(a) == 6);
        ASSERT_STREQ(json_object_get_string(json_object_array_get_idx(a, 2)), "a\"b\\\\c");
        json_object_put(a);
}

/* Watch renders the tracker's Instance with the same table: the same bytes as the row it becomes. */
static void check_instance(sqlite3 *db, const TestRow *tr, bool exited, uid_t owner, uid_t uid) {
        static char argv[] = "sleep\0" "1";
        QueryCaller c = { .uid = uid, .pid = 1 };
        Instance i = {
                .id = 5, .pid = 123, .flags = exited ? 0 : INSTANCE_ALIVE, .start_time = 1000,
                .exit_time = exited ? 2000 : 0, .birth_parent_id = 4, .birth_parent_pid = 100,
                .source = LINEAGE_SOURCE_FORK, .exit_parent_pid = exited ? 1 : -1, .exit_status = exited ? 0 : -1,
                .sid = 100, .uid = owner, .euid = owner, .gid = 1000, .loginuid = owner ? owner : PROCFS_UNSET_ID,
                .sessionid = 3, .image_uid = owner, .image_loginuid = owner ? owner : PROCFS_UNSET_ID,
                .comm = "sleep", .exe = "/usr/bin/sleep", .cgroup = "/user.slice/user-1000.slice/session-3.scope",
                .argv = argv, .argv_len = sizeof(argv), .caba_pid = 100, .caba_id = 4,
        };
        Row owners = { .uid = i.uid, .euid = i.euid, .login_uid = owner ? (int64_t) owner : -1, .image_uid = i.image_uid,
                       .image_login_uid = owner ? (int64_t) owner : -1 };
        _cleanup_(process_record_done) ProcessRecord p = {};
        _cleanup_free_ char *sql = row_sql(tr);
        json_object *a, *b;
        sqlite3_stmt *st;

        ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
        a = process_json(NULL, &c, st, false);
        process_record_from_instance(&p, &c, &i, &owners, "0123456789abcdef0123456789abcdef");
        b = process_record_json(&p, NULL);
        ASSERT_TRUE(a && b);
        ASSERT_STREQ(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN),
                     json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
        json_object_put(a);
        json_object_put(b);
        sqlite3_finalize(st);
}

/* Logins both ways: LOGIN_COLUMNS as SQL expressions (and ListLogins' count after them). */
static void check_login(sqlite3 *db, const char *columns) {
        _cleanup_(json_text_done) JsonText text = {};
        _cleanup_free_ char *sql = NULL;
        sqlite3_stmt *st;
        LoginRecord l;
        json_object *o;

        ASSERT_TRUE(asprintf(&sql, "SELECT %s", columns) > 0);
        ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
        login_record_from_stmt(&l, st);
        o = login_record_json(&l);
        ASSERT_TRUE(o);
        login_record_text(&text, &l);
        ASSERT_TRUE(!text.oom);
        ASSERT_STREQ(text.data, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        ASSERT_TRUE(strstr(text.data, "{\"instance\":") == text.data);
        json_object_put(o);
        sqlite3_finalize(st);
}

int main(void) {
        static const uid_t callers[] = { 0, 1000, 2000 };
        sqlite3 *db;

        ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
        for (size_t k = 0; k < ELEMENTSOF(rows); k++)
                for (size_t u = 0; u < ELEMENTSOF(callers); u++)
                        check_row(db, &rows[k], callers[u]);
        for (size_t u = 0; u < ELEMENTSOF(callers); u++) {
                check_instance(db, &rows[0], false, 1000, callers[u]);
                check_instance(db, &rows[1], true, 1000, callers[u]);
                check_instance(db, &rows[3], false, 0, callers[u]);
        }
        check_login(db, "7, 3, 0, 'sshd', '192.0.2.1', 22, 'pts/0', '3', 'session-3.scope', 1000, NULL, 0");
        check_login(db, "7, 3, 4000000, CAST(X'737368ff64' AS TEXT), NULL, NULL, '', NULL, NULL, 1000, 2000, 1, 4");
        check_login(db, "7, 3, 1000, NULL, 'fe80::1', 0, NULL, NULL, '/a/b', 1000, 1500, 0");
        sqlite3_close(db);
        check_strings();
        check_argv();
        printf("ok: %zu rows x %zu callers rendered the same both ways\n", ELEMENTSOF(rows), ELEMENTSOF(callers));
        return 0;
}
