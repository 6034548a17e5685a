/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replay tests: a hand-written record replayed into real SQLite files at two commit cadences gives the same rows. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon.h"
#include "record.h"
#include "test-fs.h"
#include "tests.h"

static char dir[] = "/tmp/test-replay-XXXXXX";

#define MS (NSEC_PER_SEC / 1000)
#define T0 (1000 * NSEC_PER_SEC)

static CnprocEvent event(LineageEventType type, int32_t pid, uint64_t at) {
        return (CnprocEvent) { .type = type, .pid = pid, .tgid = pid, .timestamp_ns = at };
}

static int write_fork(RecordWriter *w, int32_t parent, int32_t child, uint64_t at) {
        CnprocEvent e = event(LINEAGE_EVENT_FORK, child, at);

        e.fork.parent_pid = e.fork.parent_tgid = parent;
        return record_write_event(w, &e);
}

static int write_exec(RecordWriter *w, int32_t pid, uint64_t at) {
        CnprocEvent e = event(LINEAGE_EVENT_EXEC, pid, at);

        return record_write_event(w, &e);
}

static int write_exit(RecordWriter *w, int32_t pid, int32_t reaper, uint64_t at) {
        CnprocEvent e = event(LINEAGE_EVENT_EXIT, pid, at);

        e.exit.parent_pid = e.exit.parent_tgid = reaper;
        return record_write_event(w, &e);
}

/* What /proc gave after an exec: stat always (the process was there), exe and argv when not NULL. */
static int write_info(RecordWriter *w, int32_t pid, uint64_t start_ns, const char *comm, const char *exe,
                      const char *argv, size_t argv_len) {
        ProcInfo p = { .have = PROCFS_STAT | PROCFS_LOGIN, .pid = pid, .ppid = 1, .sid = 1, .pgid = 1,
                       .start_ticks = start_ns / (NSEC_PER_SEC / 100), .threads = 1, .state = 'R',
                       .loginuid = PROCFS_UNSET_ID, .sessionid = PROCFS_UNSET_ID,
                       .exe = (char *) exe, .argv = (char *) argv, .argv_len = argv_len };

        snprintf(p.comm, sizeof(p.comm), "%s", comm);
        if (exe)
                p.have |= PROCFS_EXE;
        if (argv)
                p.have |= PROCFS_ARGV;
        return record_write_info(w, &p);
}

/* pid 100 (scanned) forks 200 and 300. 200 execs /bin/first (read whole), then execs again, 300 ms
 * later, into an image that was gone before /proc was read: stat only, as for a process already
 * exiting. 300 forks after its parent 100 exec'd. */
static void write_record(const char *path) {
        _cleanup_(record_writer_closep) RecordWriter *w = NULL;
        RecordClock c = { .clock = { .realtime_offset_ns = 1700000000LL * NSEC_PER_SEC, .clock_ticks = 100 } };
        ProcInfo root = { .have = PROCFS_STAT, .pid = 100, .ppid = 1, .sid = 100, .pgid = 100, .start_ticks = 1,
                          .threads = 1, .state = 'S' };
        static const char first[] = "first\0one\0";
        uint64_t fork_at = T0 + 10 * MS;

        snprintf(c.boot_id, sizeof(c.boot_id), "0123456789abcdef0123456789abcdef");
        strcpy(root.comm, "shell");
        ASSERT_TRUE(record_writer_open(&w, path) >= 0);
        ASSERT_TRUE(record_write_clock(w, &c) >= 0);
        ASSERT_TRUE(record_write_scan_begin(w, T0) >= 0);
        ASSERT_TRUE(record_write_scan(w, &root, NULL, 0, -1) >= 0);
        ASSERT_TRUE(record_write_scan_end(w) >= 0);
        ASSERT_TRUE(write_fork(w, 100, 200, fork_at) >= 0);
        ASSERT_TRUE(write_exec(w, 200, T0 + 20 * MS) >= 0);
        ASSERT_TRUE(write_info(w, 200, fork_at, "first", "/bin/first", first, sizeof(first) - 1) >= 0);
        ASSERT_TRUE(write_exec(w, 200, T0 + 320 * MS) >= 0);
        ASSERT_TRUE(write_info(w, 200, fork_at, "second", NULL, NULL, 0) >= 0);
        ASSERT_TRUE(write_exit(w, 200, 100, T0 + 330 * MS) >= 0);
        /* 300 execs; the eBPF exec source's record completes the event. */
        ASSERT_TRUE(write_fork(w, 100, 300, T0 + 400 * MS) >= 0);
        ASSERT_TRUE(write_exec(w, 300, T0 + 410 * MS) >= 0);
        {
                static const char third[] = "/bin/third\0-x\0";
                ProcInfo p = { .have = PROCFS_STAT | PROCFS_STATUS | PROCFS_LOGIN | PROCFS_EXE | PROCFS_ARGV, .pid = 300,
                               .sid = 100, .pgid = 100, .start_ticks = (T0 + 400 * MS) / (NSEC_PER_SEC / 100),
                               .ruid = 1000, .euid = 1000, .loginuid = PROCFS_UNSET_ID, .sessionid = PROCFS_UNSET_ID,
                               .exe = (char *) "/usr/bin/third", .argv = (char *) third, .argv_len = sizeof(third) - 1 };

                strcpy(p.comm, "third");
                ASSERT_TRUE(record_write_bpf_exec(w, &p) >= 0);
        }
        ASSERT_TRUE(write_exit(w, 300, 100, T0 + 420 * MS) >= 0);
        ASSERT_TRUE(record_writer_flush(w) >= 0);
}

static void replay(const char *record, const char *database, uint64_t commit_interval_usec) {
        DaemonConfig config = { .database = database, .dbus = "none", .proc = "/proc", .replay = record,
                                .commit_interval_usec = commit_interval_usec };
        _cleanup_(daemon_freep) Daemon *d = NULL;

        ASSERT_TRUE(daemon_new(&d, &config) >= 0);
        if (d)
                ASSERT_TRUE(daemon_replay(d) >= 0);
}

/* The rows of one instance as text: the instance row, then its events in time order. */
static char *rows_of(const char *database, int32_t pid) {
        static const char sql[] =
                "SELECT 'row', exe, argv, exec_time FROM instances WHERE pid = ?1"
                " UNION ALL SELECT * FROM (SELECT 'event', e.text, e.argv, e.time FROM events e"
                " JOIN instances i ON i.id = e.instance WHERE i.pid = ?1 AND e.type = 2 ORDER BY e.time)";
        _cleanup_free_ char *out = NULL;
        sqlite3_stmt *st = NULL;
        sqlite3 *db = NULL;
        size_t len = 0;
        FILE *f;

        f = open_memstream(&out, &len);
        if (!f)
                return NULL;
        ASSERT_TRUE(sqlite3_open_v2(database, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
        ASSERT_TRUE(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
        sqlite3_bind_int(st, 1, pid);
        while (st && sqlite3_step(st) == SQLITE_ROW)
                fprintf(f, "%s exe=%s argv=%s exec_time=%s\n", sqlite3_column_text(st, 0),
                        sqlite3_column_text(st, 1) ?: (const unsigned char *) "NULL",
                        sqlite3_column_text(st, 2) ?: (const unsigned char *) "NULL",
                        sqlite3_column_text(st, 3) ?: (const unsigned char *) "NULL");
        sqlite3_finalize(st);
        sqlite3_close(db);
        fclose(f);
        return TAKE_PTR(out);
}

/* An exec whose image could not be read is recorded with no image, never the one before it, and a
 * replay gives the same rows whether it commits between the two execs (as live did) or not. */
static void test_unknown_image_after_exec(void) {
        _cleanup_free_ char *rec = NULL, *db1 = NULL, *db2 = NULL, *one = NULL, *many = NULL;
        static const char want[] =
                "row exe=NULL argv=NULL exec_time=1700001000320000\n"
                "event exe=/bin/first argv=[\"first\",\"one\"] exec_time=1700001000020000\n";

        ASSERT_TRUE(asprintf(&rec, "%s/events.rec", dir) > 0);
        ASSERT_TRUE(asprintf(&db1, "%s/one-commit.db", dir) > 0);
        ASSERT_TRUE(asprintf(&db2, "%s/live-cadence.db", dir) > 0);
        write_record(rec);
        replay(rec, db1, 0);
        replay(rec, db2, 50 * USEC_PER_MSEC);
        one = rows_of(db1, 200);
        many = rows_of(db2, 200);
        ASSERT_STREQ(one, want);
        ASSERT_STREQ(many, want);
        free(one);
        free(many);
        /* The eBPF record's image, replayed. */
        one = rows_of(db1, 300);
        many = rows_of(db2, 300);
        ASSERT_STREQ(one, "row exe=/usr/bin/third argv=[\"/bin/third\",\"-x\"] exec_time=1700001000410000\n");
        ASSERT_STREQ(many, one);
}

int main(void) {
        log_max_level = LOG_LEVEL_WARNING;
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        test_unknown_image_after_exec();
        remove_tree(dir);
        printf("ok\n");
        return 0;
}
