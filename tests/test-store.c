/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SQLite store: migrations from empty and from every older version, the tracker's rows, retention, reopening. */
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "store.h"
#include "test-fs.h"
#include "tests.h"

static char dir[] = "/tmp/test-store-XXXXXX";
/* The migrations, in order (schema/NNN-*.sql, as the build embeds them): given on the command line. */
static char **sql_files;
static unsigned n_sql;

#define MS (NSEC_PER_SEC / 1000)
#define T0 (1000 * NSEC_PER_SEC)
#define REALTIME_OFFSET_S 1700000000LL
#define AT(ms) ((uint64_t) ((REALTIME_OFFSET_S * NSEC_PER_SEC + T0 + (ms) * MS) / 1000))
#define BOOT_ID "0123456789abcdef0123456789abcdef"

static char *path_in_dir(const char *name) {
        char *p;

        ASSERT_TRUE(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static char *read_text(const char *path) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        FILE *f = fopen(path, "re");

        if (!f)
                TEST_FAIL("%s: %m", path);
        ASSERT_TRUE(getdelim(&text, &len, 0, f) > 0);
        fclose(f);
        return TAKE_PTR(text);
}

/* One value of a query on a separate connection, as text ("NULL" for NULL, "" for no row). */
static char *sql_value(const char *db_path, const char *sql) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        char *v;

        ASSERT_EQ(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
                TEST_FAIL("%s: %s", sql, sqlite3_errmsg(db));
        if (sqlite3_step(st) == SQLITE_ROW)
                v = strdup(sqlite3_column_type(st, 0) == SQLITE_NULL ? "NULL" : (const char *) sqlite3_column_text(st, 0));
        else
                v = strdup("");
        ASSERT_TRUE(v);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

static void assert_sql(const char *db_path, const char *sql, const char *want) {
        _cleanup_free_ char *v = sql_value(db_path, sql);

        if (strcmp(v, want) != 0)
                TEST_FAIL("%s: got '%s', expected '%s'", sql, v, want);
}

/* The schema as text: every table, index, view and trigger. */
static char *schema_text(const char *db_path) {
        return sql_value(db_path, "SELECT group_concat(type || ' ' || name || ': ' || coalesce(sql, ''), char(10))"
                                  " FROM (SELECT * FROM sqlite_master ORDER BY type, name)");
}

static void test_migrate_empty(void) {
        _cleanup_free_ char *path = path_in_dir("new/sub/lineage.db"), *v = NULL;
        _cleanup_(store_freep) Store *s = NULL;

        /* Directories are created as needed. */
        ASSERT_OK(store_open(&s, path));
        ASSERT_EQ(store_schema_version(s), n_sql);
        ASSERT_STREQ(store_path(s), path);
        s = store_free(s);
        v = sql_value(path, "PRAGMA user_version");
        ASSERT_EQ(atoi(v), n_sql);
        assert_sql(path, "SELECT count(*) FROM instances", "0");
        assert_sql(path, "PRAGMA journal_mode", "wal");
}

/* A database left at version k by an older lineaged, with a boot, a process that exec'd and its events,
 * migrates to the newest version with its rows, and ends with the same schema as a new one. */
static void test_migrate_from(unsigned k, const char *fresh_schema) {
        _cleanup_free_ char *name = NULL, *path = NULL, *schema = NULL;
        _cleanup_(store_freep) Store *s = NULL;
        sqlite3 *db = NULL;
        char pragma[64];
        uint64_t boot = 0, next = 0;

        ASSERT_TRUE(asprintf(&name, "old-%u.db", k) > 0);
        path = path_in_dir(name);
        ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
        for (unsigned m = 0; m < k; m++) {
                _cleanup_free_ char *sql = read_text(sql_files[m]);
                char *err = NULL;

                if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
                        TEST_FAIL("%s: %s", sql_files[m], err);
        }
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %u", k);
        ASSERT_EQ(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
        /* Version 1's columns only. */
        ASSERT_EQ(sqlite3_exec(db,
                               "INSERT INTO boots (id, boot_id, boot_time, realtime_offset, boottime_offset, clock_ticks, first_seen)"
                               " VALUES (1, '" BOOT_ID "', 1, 2, 3, 100, 4);"
                               "INSERT INTO instances (id, boot, pid, start_ticks, start_time, birth_parent, birth_parent_pid,"
                               " lineage_source, comm, exe, argv, uid, euid, gid, egid, sid, pgid)"
                               " VALUES (7, 1, 70, 5, 1700000000000000, NULL, 1, 'procfs', 'old', '/usr/bin/old',"
                               " '[\"old\",\"-v\"]', 1000, 1000, 1000, 1000, 70, 70);"
                               "INSERT INTO instances (id, boot, pid, start_ticks, start_time, exit_time, birth_parent,"
                               " birth_parent_pid, lineage_source, comm, uid, euid, gid, egid, sid, pgid)"
                               " VALUES (8, 1, 80, 6, 1700000000000100, 1700000000000200, 7, 70, 'fork', 'child',"
                               " 1000, 1000, 1000, 1000, 70, 70);"
                               "INSERT INTO events (instance, time, type) VALUES (8, 1700000000000200, 3);",
                               NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);

        ASSERT_OK(store_open(&s, path));
        ASSERT_EQ(store_schema_version(s), n_sql);
        /* The migrated file is one the store writes to: the boot is found again, ids continue. */
        ASSERT_OK(store_set_boot(s, &(StoreBoot) { .boot_id = BOOT_ID, .clock_ticks = 100 }, &boot));
        ASSERT_EQ(boot, 1);
        ASSERT_OK(store_next_instance_id(s, &next));
        ASSERT_EQ(next, 9);
        s = store_free(s);

        assert_sql(path, "SELECT pid || ' ' || exe || ' ' || argv || ' ' || uid FROM instances WHERE id = 7",
                   "70 /usr/bin/old [\"old\",\"-v\"] 1000");
        assert_sql(path, "SELECT birth_parent || ' ' || exit_time FROM instances WHERE id = 8", "7 1700000000000200");
        assert_sql(path, "SELECT count(*) FROM events WHERE instance = 8", "1");
        schema = schema_text(path);
        ASSERT_STREQ(schema, fresh_schema);
}

static void test_migrations(void) {
        _cleanup_free_ char *path = path_in_dir("fresh.db"), *fresh = NULL, *too_new = path_in_dir("too-new.db");
        _cleanup_(store_freep) Store *s = NULL;
        sqlite3 *db = NULL;

        ASSERT_TRUE(n_sql >= 2);
        ASSERT_OK(store_open(&s, path));
        s = store_free(s);
        fresh = schema_text(path);
        ASSERT_TRUE(strstr(fresh, "table instances: "));
        ASSERT_TRUE(strstr(fresh, "table logins: "));
        ASSERT_TRUE(strstr(fresh, "table runs: "));
        for (unsigned k = 1; k < n_sql; k++)
                test_migrate_from(k, fresh);

        /* A file from a newer lineaged is refused and left as it is. */
        ASSERT_EQ(sqlite3_open(too_new, &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE future (x); PRAGMA user_version = 9999", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        ASSERT_TRUE(store_open(&s, too_new) < 0);
        ASSERT_TRUE(!s);
        assert_sql(too_new, "PRAGMA user_version", "9999");
        assert_sql(too_new, "SELECT count(*) FROM sqlite_master WHERE name = 'instances'", "0");
}

static const TrackerClock test_clock = { .realtime_offset_ns = REALTIME_OFFSET_S * NSEC_PER_SEC, .clock_ticks = 100 };

static void fork_event(Tracker *t, int32_t parent, int32_t child, uint64_t ms) {
        CnprocEvent e = { .type = LINEAGE_EVENT_FORK, .pid = child, .tgid = child, .timestamp_ns = T0 + ms * MS,
                          .fork = { .parent_pid = parent, .parent_tgid = parent } };

        tracker_handle_event(t, &e);
}

static void exit_event(Tracker *t, int32_t pid, int32_t reaper, uint64_t ms) {
        CnprocEvent e = { .type = LINEAGE_EVENT_EXIT, .pid = pid, .tgid = pid, .timestamp_ns = T0 + ms * MS,
                          .exit = { .code = 3 << 8, .parent_pid = reaper, .parent_tgid = reaper } };

        tracker_handle_event(t, &e);
}

/* An exec, and its image as /proc gave it. */
static void exec_event(Tracker *t, int32_t pid, uint64_t fork_ms, uint64_t ms, const char *exe, const char *argv,
                       size_t argv_len) {
        CnprocEvent e = { .type = LINEAGE_EVENT_EXEC, .pid = pid, .tgid = pid, .timestamp_ns = T0 + ms * MS };
        ProcInfo p = { .have = PROCFS_STAT | PROCFS_STATUS | PROCFS_LOGIN | PROCFS_EXE | PROCFS_ARGV, .pid = pid,
                       .tgid = pid, .ppid = 1, .sid = 1, .pgid = 1, .start_ticks = (T0 + fork_ms * MS) / (NSEC_PER_SEC / 100),
                       .threads = 1, .state = 'R', .ruid = 1000, .euid = 1000, .rgid = 1000, .egid = 1000,
                       .loginuid = 1000, .sessionid = 5, .exe = (char *) exe, .argv = (char *) argv, .argv_len = argv_len };
        Instance *i;

        snprintf(p.comm, sizeof(p.comm), "%s", strrchr(exe, '/') + 1);
        tracker_handle_event(t, &e);
        i = tracker_get(t, pid);
        ASSERT_TRUE(i);
        ASSERT_OK(tracker_apply_info(t, i, &p));
}

static void scan(Tracker *t, int32_t pid) {
        ProcInfo p = { .have = PROCFS_STAT | PROCFS_STATUS, .pid = pid, .tgid = pid, .ppid = 1, .sid = pid, .pgid = pid,
                       .start_ticks = 1, .threads = 1, .state = 'S', .loginuid = PROCFS_UNSET_ID,
                       .sessionid = PROCFS_UNSET_ID };

        strcpy(p.comm, "sshd");
        tracker_scan_begin(t, T0);
        ASSERT_OK(tracker_scan_add(t, &p, NULL, 0, -1));
        tracker_scan_end(t);
}

/* A store and a tracker writing to it, on boot BOOT_ID. */
static void open_pair(const char *path, Store **ret_s, Tracker **ret_t) {
        uint64_t next = 0;

        ASSERT_OK(store_open(ret_s, path));
        ASSERT_OK(store_set_boot(*ret_s, &(StoreBoot) { .boot_id = BOOT_ID, .boot_time = AT(0) - 1000000,
                                                        .realtime_offset_ns = test_clock.realtime_offset_ns,
                                                        .clock_ticks = 100 }, NULL));
        ASSERT_OK(store_next_instance_id(*ret_s, &next));
        ASSERT_OK(tracker_new(ret_t, &test_clock, next));
}

/* What the tracker produced lands in its tables: instances, the exec folded into the row (a second exec
 * moving the first to events), exits, gaps and logins, in flushes that may each hold part of it. */
static void test_sinks(void) {
        _cleanup_free_ char *path = path_in_dir("sinks.db");
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(tracker_freep) Tracker *t = NULL;
        static const char argv1[] = "make\0-j2\0", argv2[] = "cc\0-c\0x.c\0";
        Login *l;

        open_pair(path, &s, &t);
        scan(t, 100);
        fork_event(t, 100, 200, 10);
        exec_event(t, 200, 10, 20, "/usr/bin/make", argv1, sizeof(argv1) - 1);
        ASSERT_TRUE(tracker_has_pending(t));
        ASSERT_OK(store_flush(s, t));
        ASSERT_TRUE(!tracker_has_pending(t));
        /* Nothing pending: nothing written, no error. */
        ASSERT_OK(store_flush(s, t));
        assert_sql(path, "SELECT count(*) FROM instances", "2");
        assert_sql(path, "SELECT lineage_source || ' ' || birth_parent_pid FROM instances WHERE pid = 100", "procfs 1");
        assert_sql(path, "SELECT exe || ' ' || argv || ' ' || exec_time || ' ' || lineage_source || ' ' || login_uid"
                         " FROM instances WHERE pid = 200",
                   "/usr/bin/make [\"make\",\"-j2\"] 1700001000020000 fork 1000");
        assert_sql(path, "SELECT count(*) FROM events WHERE type = 2", "0");

        /* A second exec in the next flush: the row shows it, the first moves to events. Then the exit. */
        exec_event(t, 200, 10, 40, "/usr/bin/cc", argv2, sizeof(argv2) - 1);
        exit_event(t, 200, 100, 50);
        {
                CnprocLoss loss = { .reason = CNPROC_LOSS_SEQUENCE, .cpu = 1, .lost = 4 };

                tracker_handle_loss(t, &loss);
        }
        /* A login begins where a process of audit session 5 execs. */
        fork_event(t, 100, 400, 60);
        exec_event(t, 400, 60, 61, "/usr/sbin/sshd-session", argv1, sizeof(argv1) - 1);
        l = tracker_login_begin(t, tracker_get(t, 400));
        ASSERT_TRUE(l);
        ASSERT_OK(store_flush(s, t));
        assert_sql(path, "SELECT exe || ' ' || argv || ' ' || exec_time || ' ' || exit_time || ' ' || exit_status"
                         " FROM instances WHERE pid = 200",
                   "/usr/bin/cc [\"cc\",\"-c\",\"x.c\"] 1700001000040000 1700001000050000 3");
        assert_sql(path, "SELECT text || ' ' || argv || ' ' || time FROM events WHERE type = 2",
                   "/usr/bin/make [\"make\",\"-j2\"] 1700001000020000");
        assert_sql(path, "SELECT lost || ' ' || cpu || ' ' || reason FROM gaps", "4 1 sequence");
        assert_sql(path, "SELECT i.pid || ' ' || l.audit_session || ' ' || l.login_uid || ' ' || l.start_time"
                         " || ' ' || (l.end_time IS NULL) FROM logins l JOIN instances i ON i.id = l.instance",
                   "400 5 1000 1700001000060000 1");
}

/* Retention: the earliest leaves that ended before the cutoff go, with their events, at most limit at a
 * time; an ancestor only after its descendants; the space they took is counted free again. */
static void test_retention(void) {
        _cleanup_free_ char *path = path_in_dir("prune.db");
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(tracker_freep) Tracker *t = NULL;
        uint64_t pruned = 0, used_full, used_after;
        char argv[600];

        memset(argv, 'a', sizeof(argv));
        argv[sizeof(argv) - 1] = 0;
        open_pair(path, &s, &t);
        scan(t, 100);
        /* 500 leaves, one every 2 ms; the leaf 2000 has a child, 3000, which exits last. */
        for (int32_t k = 0; k < 500; k++) {
                fork_event(t, 100, 1000 + k, 2 * (uint64_t) k + 1);
                exec_event(t, 1000 + k, 2 * (uint64_t) k + 1, 2 * (uint64_t) k + 1, "/usr/bin/leaf", argv, sizeof(argv));
                exit_event(t, 1000 + k, 100, 2 * (uint64_t) k + 2);
        }
        fork_event(t, 100, 2000, 1000);
        fork_event(t, 2000, 3000, 1001);
        exit_event(t, 2000, 100, 1002);
        exit_event(t, 3000, 100, 1003);
        ASSERT_OK(store_flush(s, t));
        assert_sql(path, "SELECT count(*) FROM instances", "503");
        used_full = store_used_bytes(s);
        ASSERT_TRUE(used_full > 500 * sizeof(argv));
        ASSERT_TRUE(store_size(s) >= used_full);

        /* Ended before 101 ms: the first 50 leaves; at most 20 at a time. */
        ASSERT_OK(store_prune_step(s, AT(101), 20, &pruned));
        ASSERT_EQ(pruned, 20);
        assert_sql(path, "SELECT min(pid) FROM instances WHERE pid >= 1000 AND pid < 2000", "1020");
        ASSERT_OK(store_prune_step(s, AT(101), 1000, &pruned));
        ASSERT_EQ(pruned, 30);
        ASSERT_OK(store_prune_step(s, AT(101), 1000, &pruned));
        ASSERT_EQ(pruned, 0);
        assert_sql(path, "SELECT count(*) FROM instances", "453");
        assert_sql(path, "SELECT count(*) FROM events e LEFT JOIN instances i ON i.id = e.instance WHERE i.id IS NULL", "0");

        /* Everything ended: the leaves and 3000 go, then its parent 2000; never the live 100. */
        ASSERT_OK(store_prune_step(s, AT(100000), 10000, &pruned));
        ASSERT_EQ(pruned, 451);
        assert_sql(path, "SELECT group_concat(pid) FROM instances ORDER BY pid", "100,2000");
        ASSERT_OK(store_prune_step(s, AT(100000), 10000, &pruned));
        ASSERT_EQ(pruned, 1);
        ASSERT_OK(store_prune_step(s, AT(100000), 10000, &pruned));
        ASSERT_EQ(pruned, 0);
        assert_sql(path, "SELECT group_concat(pid) FROM instances", "100");
        used_after = store_used_bytes(s);
        /* What --max-size watches: the argv text of 500 leaves is free again. */
        if (used_after + 400 * sizeof(argv) > used_full)
                TEST_FAIL("used %" PRIu64 " bytes before pruning, %" PRIu64 " after", used_full, used_after);
}

static int count_live(const Instance *i, void *userdata) {
        ASSERT_TRUE(i->pid == 100 || i->pid == 400);
        ASSERT_EQ(i->exit_time, 0);
        (*(int *) userdata)++;
        return 0;
}

/* Reopening: one store per file at a time; the rows, the boot and the live instances are there again;
 * the next boot closes what the last one left alive. */
static void test_reopen(void) {
        _cleanup_free_ char *path = path_in_dir("sinks.db");
        _cleanup_(store_freep) Store *s = NULL, *other = NULL;
        uint64_t boot = 0, next = 0;
        int live = 0;

        ASSERT_OK(store_open(&s, path));
        ASSERT_EQ(store_open(&other, path), -EBUSY);
        ASSERT_TRUE(!other);
        ASSERT_EQ(store_schema_version(s), n_sql);
        ASSERT_OK(store_set_boot(s, &(StoreBoot) { .boot_id = BOOT_ID, .clock_ticks = 100 }, &boot));
        ASSERT_EQ(boot, 1);
        ASSERT_OK(store_next_instance_id(s, &next));
        ASSERT_EQ(next, 4);
        ASSERT_OK(store_load_live(s, count_live, &live));
        ASSERT_EQ(live, 2);
        s = store_free(s);

        /* Another boot: the instance left alive by the first is closed, flagged as an unseen exit. */
        ASSERT_OK(store_open(&s, path));
        ASSERT_OK(store_set_boot(s, &(StoreBoot) { .boot_id = "fedcba9876543210fedcba9876543210", .clock_ticks = 100 }, &boot));
        ASSERT_EQ(boot, 2);
        ASSERT_EQ(store_close_old_boots(s), 2);
        ASSERT_EQ(store_close_old_boots(s), 0);
        s = store_free(s);
        assert_sql(path, "SELECT count(*) FROM instances WHERE exit_time IS NULL", "0");
        assert_sql(path, "SELECT group_concat(pid) FROM (SELECT pid FROM instances WHERE flags & 8 ORDER BY pid)", "100,400");
}

int main(int argc, char **argv) {
        log_max_level = LOG_LEVEL_WARNING;
        if (argc < 3) {
                fprintf(stderr, "usage: test-store SCHEMA.sql...\n");
                return 2;
        }
        sql_files = argv + 1;
        n_sql = (unsigned) argc - 1;
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        test_migrate_empty();
        test_migrations();
        test_sinks();
        test_retention();
        test_reopen();
        remove_tree(dir);
        printf("ok\n");
        return 0;
}
