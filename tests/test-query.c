/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Query answers over a real SQLite file made by replaying a hand-written record: origin, descendants, resolve, access. */
#include <json-c/json.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon.h"
#include "query.h"
#include "record.h"
#include "test-fs.h"
#include "tests.h"

static char dir[] = "/tmp/test-query-XXXXXX";

#define MS (NSEC_PER_SEC / 1000)
#define T0 (1000 * NSEC_PER_SEC)
#define REALTIME_OFFSET_S 1700000000LL
/* µs CLOCK_REALTIME of T0 + ms */
#define AT(ms) ((int64_t) ((REALTIME_OFFSET_S * NSEC_PER_SEC + T0 + (ms) * MS) / 1000))
#define BOOT_ID "0123456789abcdef0123456789abcdef"
#define USER 1000

static CnprocEvent event(LineageEventType type, int32_t pid, uint64_t ms) {
        return (CnprocEvent) { .type = type, .pid = pid, .tgid = pid, .timestamp_ns = T0 + ms * MS };
}

static void write_fork(RecordWriter *w, int32_t parent, int32_t child, uint64_t ms) {
        CnprocEvent e = event(LINEAGE_EVENT_FORK, child, ms);

        e.fork.parent_pid = e.fork.parent_tgid = parent;
        ASSERT_OK(record_write_event(w, &e));
}

static void write_exit(RecordWriter *w, int32_t pid, int32_t reaper, uint64_t ms) {
        CnprocEvent e = event(LINEAGE_EVENT_EXIT, pid, ms);

        e.exit.parent_pid = e.exit.parent_tgid = reaper;
        ASSERT_OK(record_write_event(w, &e));
}

/* An exec and what /proc gave after it: the image, owned by uid. */
static void write_exec(RecordWriter *w, int32_t pid, uint64_t fork_ms, uint64_t ms, uint32_t uid, const char *comm,
                       const char *exe, const char *argv, size_t argv_len) {
        CnprocEvent e = event(LINEAGE_EVENT_EXEC, pid, ms);
        ProcInfo p = { .have = PROCFS_STAT | PROCFS_STATUS | PROCFS_LOGIN | PROCFS_EXE | PROCFS_ARGV, .pid = pid,
                       .tgid = pid, .ppid = 1, .sid = pid, .pgid = pid,
                       .start_ticks = (T0 + fork_ms * MS) / (NSEC_PER_SEC / 100), .threads = 1, .state = 'R',
                       .ruid = uid, .euid = uid, .rgid = uid, .egid = uid,
                       .loginuid = PROCFS_UNSET_ID, .sessionid = PROCFS_UNSET_ID,
                       .exe = (char *) exe, .argv = (char *) argv, .argv_len = argv_len };

        snprintf(p.comm, sizeof(p.comm), "%s", comm);
        ASSERT_OK(record_write_event(w, &e));
        ASSERT_OK(record_write_info(w, &p));
}

static void write_scanned(RecordWriter *w, int32_t pid, int32_t ppid, const char *comm) {
        ProcInfo p = { .have = PROCFS_STAT | PROCFS_STATUS, .pid = pid, .tgid = pid, .ppid = ppid, .sid = pid,
                       .pgid = pid, .start_ticks = (uint64_t) pid, .threads = 1, .state = 'S',
                       .loginuid = PROCFS_UNSET_ID, .sessionid = PROCFS_UNSET_ID };

        snprintf(p.comm, sizeof(p.comm), "%s", comm);
        ASSERT_OK(record_write_scan(w, &p, NULL, 0, -1));
}

/* init (1) and sshd (100, root) are found by the scan. 100 forks 200, which execs bash as USER; bash
 * forks 300 (sleep, exits at 500 ms) and, after that, a new 300 (ls, still running at the end): the
 * pid is reused. Nothing else happens. */
static void write_record(const char *path) {
        _cleanup_(record_writer_closep) RecordWriter *w = NULL;
        RecordClock c = { .clock = { .realtime_offset_ns = REALTIME_OFFSET_S * NSEC_PER_SEC, .clock_ticks = 100 } };
        static const char bash[] = "-bash\0", sleep[] = "sleep\0" "60\0", ls[] = "ls\0-l\0";

        snprintf(c.boot_id, sizeof(c.boot_id), BOOT_ID);
        ASSERT_OK(record_writer_open(&w, path));
        ASSERT_OK(record_write_clock(w, &c));
        ASSERT_OK(record_write_scan_begin(w, T0));
        write_scanned(w, 1, 0, "systemd");
        write_scanned(w, 100, 1, "sshd");
        ASSERT_OK(record_write_scan_end(w));
        write_fork(w, 100, 200, 10);
        write_exec(w, 200, 10, 20, USER, "bash", "/usr/bin/bash", bash, sizeof(bash) - 1);
        write_fork(w, 200, 300, 100);
        write_exec(w, 300, 100, 110, USER, "sleep", "/usr/bin/sleep", sleep, sizeof(sleep) - 1);
        write_exit(w, 300, 200, 500);
        write_fork(w, 200, 300, 700);
        write_exec(w, 300, 700, 710, USER, "ls", "/usr/bin/ls", ls, sizeof(ls) - 1);
        ASSERT_OK(record_writer_flush(w));
}

static const QueryCaller root = { .uid = 0, .pid = 1 };
static const QueryCaller user = { .uid = USER, .pid = 4000 };
static const QueryCaller stranger = { .uid = USER + 1, .pid = 4001 };

/* Calls method with parameters given as JSON text; returns the reply (or NULL and the error's name). */
static json_object *call(Query *q, const char *method, const QueryCaller *c, const char *params, const char **ret_error) {
        json_object *p = params ? json_tokener_parse(params) : NULL, *reply = NULL;
        QueryError e = {};
        int r;

        ASSERT_TRUE(!params || p);
        r = query_call(q, method, c, p, &reply, &e);
        json_object_put(p);
        if (ret_error)
                *ret_error = r < 0 ? e.error : NULL;
        query_error_done(&e);
        if (r < 0) {
                ASSERT_TRUE(!reply);
                ASSERT_TRUE(ret_error);
                return NULL;
        }
        ASSERT_TRUE(reply);
        return reply;
}

static json_object *ok(Query *q, const char *method, const QueryCaller *c, const char *params) {
        const char *error = NULL;
        json_object *reply = call(q, method, c, params, &error);

        if (!reply)
                TEST_FAIL("%s(%s) failed: %s", method, params ?: "", error);
        return reply;
}

static void fails(Query *q, const char *method, const QueryCaller *c, const char *params, const char *want) {
        const char *error = NULL;
        json_object *reply = call(q, method, c, params, &error);

        if (reply)
                TEST_FAIL("%s(%s) answered %s, expected %s", method, params ?: "",
                          json_object_to_json_string(reply), want);
        ASSERT_STREQ(error, want);
}

/* A member by a path of keys and array indexes ("process.exe", "ancestors.1.pid"); NULL if absent. */
static json_object *get(json_object *o, const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        char *save = NULL;

        ASSERT_TRUE(copy);
        for (char *k = strtok_r(copy, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
                if (json_object_is_type(o, json_type_array)) {
                        size_t i = strtoul(k, NULL, 10);

                        o = i < json_object_array_length(o) ? json_object_array_get_idx(o, i) : NULL;
                } else if (!json_object_object_get_ex(o, k, &o))
                        o = NULL;
        }
        return o;
}

static int64_t get_int(json_object *o, const char *path) {
        json_object *v = get(o, path);

        if (!v || !json_object_is_type(v, json_type_int))
                TEST_FAIL("%s: no integer in %s", path, json_object_to_json_string(o));
        return json_object_get_int64(v);
}

static const char *get_str(json_object *o, const char *path) {
        json_object *v = get(o, path);

        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool get_bool(json_object *o, const char *path) {
        json_object *v = get(o, path);

        if (!v || !json_object_is_type(v, json_type_boolean))
                TEST_FAIL("%s: no boolean in %s", path, json_object_to_json_string(o));
        return json_object_get_boolean(v);
}

static size_t get_len(json_object *o, const char *path) {
        json_object *v = get(o, path);

        if (!v || !json_object_is_type(v, json_type_array))
                TEST_FAIL("%s: no array in %s", path, json_object_to_json_string(o));
        return json_object_array_length(v);
}

/* The instance ids of the two holders of pid 300, the shell's and sshd's, from Resolve. */
typedef struct Ids {
        int64_t sleep, ls, bash, sshd;
} Ids;

static int64_t resolve(Query *q, const QueryCaller *c, int32_t pid, int64_t at, const char *want_exe) {
        _cleanup_free_ char *params = NULL;
        json_object *reply;
        int64_t id;

        ASSERT_TRUE(asprintf(&params, "{\"pid\": %d, \"at\": %" PRIi64 ", \"bootId\": \"" BOOT_ID "\"}", pid, at) > 0);
        reply = ok(q, "Resolve", c, params);
        ASSERT_EQ(get_int(reply, "process.pid"), pid);
        ASSERT_STREQ(get_str(reply, "process.exe"), want_exe);
        id = get_int(reply, "process.instance");
        json_object_put(reply);
        return id;
}

/* Which process held a pid at a time: either side of the reuse of 300, and the gap between. */
static Ids test_resolve(Query *q) {
        Ids ids = {};
        _cleanup_free_ char *between = NULL, *before = NULL;

        ids.sleep = resolve(q, &root, 300, AT(200), "/usr/bin/sleep");
        ids.ls = resolve(q, &root, 300, AT(800), "/usr/bin/ls");
        ids.bash = resolve(q, &root, 200, AT(800), "/usr/bin/bash");
        ids.sshd = resolve(q, &root, 100, AT(800), NULL);
        ASSERT_TRUE(ids.sleep != ids.ls);
        /* Nobody held 300 between the exit of sleep (500 ms) and the fork of ls (700 ms), nor 200 before
         * its fork (10 ms). */
        ASSERT_TRUE(asprintf(&between, "{\"pid\": 300, \"at\": %" PRIi64 ", \"bootId\": \"" BOOT_ID "\"}", AT(600)) > 0);
        fails(q, "Resolve", &root, between, QUERY_ERROR_NO_SUCH_PROCESS);
        ASSERT_TRUE(asprintf(&before, "{\"pid\": 200, \"at\": %" PRIi64 ", \"bootId\": \"" BOOT_ID "\"}", AT(5)) > 0);
        fails(q, "Resolve", &root, before, QUERY_ERROR_NO_SUCH_PROCESS);
        /* The user's own process resolves for them; another user's does not. */
        ASSERT_EQ(resolve(q, &user, 300, AT(200), "/usr/bin/sleep"), ids.sleep);
        free(before);
        ASSERT_TRUE(asprintf(&before, "{\"pid\": 300, \"at\": %" PRIi64 ", \"bootId\": \"" BOOT_ID "\"}", AT(200)) > 0);
        fails(q, "Resolve", &stranger, before, QUERY_ERROR_PERMISSION_DENIED);
        return ids;
}

/* The origin chain of the second 300: ls < bash < sshd < systemd, nearest first. */
static void test_origin(Query *q, const Ids *ids) {
        _cleanup_free_ char *by_instance = NULL;
        json_object *reply;

        reply = ok(q, "GetOrigin", &root, "{\"pid\": 300}");
        ASSERT_EQ(get_int(reply, "process.instance"), ids->ls);
        ASSERT_TRUE(get_bool(reply, "process.alive"));
        ASSERT_STREQ(get_str(reply, "process.comm"), "ls");
        ASSERT_STREQ(get_str(reply, "process.argv.1"), "-l");
        ASSERT_EQ(get_int(reply, "process.uid"), USER);
        ASSERT_EQ(get_int(reply, "process.birthParentInstance"), ids->bash);
        ASSERT_STREQ(get_str(reply, "process.lineageSource"), "fork");
        ASSERT_EQ(get_len(reply, "ancestors"), 3);
        ASSERT_EQ(get_int(reply, "ancestors.0.instance"), ids->bash);
        ASSERT_EQ(get_int(reply, "ancestors.1.instance"), ids->sshd);
        ASSERT_STREQ(get_str(reply, "ancestors.1.comm"), "sshd");
        ASSERT_EQ(get_int(reply, "ancestors.2.pid"), 1);
        ASSERT_EQ(get_len(reply, "gaps"), 0);
        json_object_put(reply);

        /* The exited first 300, by instance: its whole life, and the same chain. */
        ASSERT_TRUE(asprintf(&by_instance, "{\"instance\": %" PRIi64 "}", ids->sleep) > 0);
        reply = ok(q, "GetOrigin", &root, by_instance);
        ASSERT_EQ(get_int(reply, "process.pid"), 300);
        ASSERT_TRUE(!get_bool(reply, "process.alive"));
        ASSERT_EQ(get_int(reply, "process.startTime"), AT(100));
        ASSERT_EQ(get_int(reply, "process.exitTime"), AT(500));
        ASSERT_EQ(get_int(reply, "ancestors.0.instance"), ids->bash);
        ASSERT_EQ(get_len(reply, "ancestors"), 3);
        json_object_put(reply);

        /* "at" picks the holder of the pid then. */
        free(by_instance);
        by_instance = NULL;
        ASSERT_TRUE(asprintf(&by_instance, "{\"pid\": 300, \"at\": %" PRIi64 "}", AT(300)) > 0);
        reply = ok(q, "GetOrigin", &root, by_instance);
        ASSERT_EQ(get_int(reply, "process.instance"), ids->sleep);
        json_object_put(reply);

        fails(q, "GetOrigin", &root, "{\"pid\": 4242}", QUERY_ERROR_NO_SUCH_PROCESS);
        fails(q, "GetOrigin", &root, "{\"instance\": 999999}", QUERY_ERROR_NO_SUCH_PROCESS);
        fails(q, "GetOrigin", &root, "{\"pid\": \"300\"}", QUERY_ERROR_INVALID_PARAMETER);
        fails(q, "NoSuchMethod", &root, NULL, QUERY_ERROR_METHOD_NOT_FOUND);
}

/* Everything born under sshd, depth first, with depths and parents' indexes; a limit truncates. */
static void test_descendants(Query *q, const Ids *ids) {
        json_object *reply = ok(q, "GetDescendants", &root, "{\"pid\": 100}");

        ASSERT_EQ(get_int(reply, "process.instance"), ids->sshd);
        ASSERT_EQ(get_len(reply, "descendants"), 3);
        ASSERT_EQ(get_int(reply, "descendants.0.instance"), ids->bash);
        ASSERT_EQ(get_int(reply, "depths.0"), 1);
        ASSERT_EQ(get_int(reply, "parents.0"), -1);
        /* Both holders of 300 are bash's children, in the order they were born. */
        ASSERT_EQ(get_int(reply, "descendants.1.instance"), ids->sleep);
        ASSERT_EQ(get_int(reply, "descendants.2.instance"), ids->ls);
        ASSERT_EQ(get_int(reply, "depths.1"), 2);
        ASSERT_EQ(get_int(reply, "depths.2"), 2);
        ASSERT_EQ(get_int(reply, "parents.1"), 0);
        ASSERT_EQ(get_int(reply, "parents.2"), 0);
        ASSERT_TRUE(!get_bool(reply, "truncated"));
        json_object_put(reply);

        /* The text writer (what varlink sends) gives the same answer. */
        {
                json_object *params = json_tokener_parse("{\"pid\": 100}"), *parsed;
                json_object *whole = ok(q, "GetDescendants", &root, "{\"pid\": 100}");
                JsonText text = {};
                QueryError e = {};

                ASSERT_OK(query_get_descendants_text(q, &root, params, QUERY_REPLY_SIZE_MAX, &text, &e));
                ASSERT_TRUE(!text.oom);
                ASSERT_OK(json_text_append(&text, "", 1));
                parsed = json_tokener_parse(text.data);
                ASSERT_TRUE(parsed);
                if (!json_object_equal(parsed, whole))
                        TEST_FAIL("text %s != %s", text.data, json_object_to_json_string(whole));
                json_object_put(parsed);
                json_object_put(whole);
                json_object_put(params);
                json_text_done(&text);
        }

        reply = ok(q, "GetDescendants", &root, "{\"pid\": 100, \"limit\": 2}");
        ASSERT_EQ(get_len(reply, "descendants"), 2);
        ASSERT_TRUE(get_bool(reply, "truncated"));
        json_object_put(reply);

        reply = ok(q, "GetDescendants", &root, "{\"pid\": 100, \"aliveOnly\": true}");
        ASSERT_EQ(get_len(reply, "descendants"), 2);
        ASSERT_EQ(get_int(reply, "descendants.1.instance"), ids->ls);
        json_object_put(reply);
}

/* An unprivileged caller sees its own processes, root's only as ids (redacted), and may not ask about
 * root's or another user's. */
static void test_access(Query *q, const Ids *ids) {
        json_object *reply = ok(q, "GetOrigin", &user, "{\"pid\": 300}");

        ASSERT_EQ(get_int(reply, "process.instance"), ids->ls);
        ASSERT_TRUE(!get_bool(reply, "process.redacted"));
        ASSERT_STREQ(get_str(reply, "process.exe"), "/usr/bin/ls");
        ASSERT_EQ(get_int(reply, "ancestors.1.instance"), ids->sshd);
        ASSERT_TRUE(get_bool(reply, "ancestors.1.redacted"));
        ASSERT_STREQ(get_str(reply, "ancestors.1.comm"), NULL);
        json_object_put(reply);

        fails(q, "GetOrigin", &user, "{\"pid\": 100}", QUERY_ERROR_PERMISSION_DENIED);
        fails(q, "GetOrigin", &stranger, "{\"pid\": 300}", QUERY_ERROR_PERMISSION_DENIED);
        fails(q, "GetDescendants", &stranger, "{\"pid\": 200}", QUERY_ERROR_PERMISSION_DENIED);
}

static void check_answers(Query *q) {
        Ids ids = test_resolve(q);

        ASSERT_TRUE(ids.sshd > 0 && ids.bash > 0 && ids.sleep > 0 && ids.ls > 0);
        test_origin(q, &ids);
        test_descendants(q, &ids);
        test_access(q, &ids);
}

/* The daemon that replayed the record answers (its tracker still holds the live processes), and so
 * does one opened later over the file alone. */
static void test_replayed(void) {
        _cleanup_free_ char *rec = NULL, *db = NULL;

        ASSERT_TRUE(asprintf(&rec, "%s/events.rec", dir) > 0);
        ASSERT_TRUE(asprintf(&db, "%s/lineage.db", dir) > 0);
        write_record(rec);
        {
                DaemonConfig config = { .database = db, .dbus = "none", .proc = "/proc", .replay = rec };
                _cleanup_(daemon_freep) Daemon *d = NULL;
                _cleanup_(query_freep) Query *q = NULL;

                ASSERT_OK(daemon_new(&d, &config));
                ASSERT_OK(daemon_replay(d));
                ASSERT_OK(query_new(&q, d));
                check_answers(q);
        }
        {
                _cleanup_(daemon_freep) Daemon *d = NULL;
                _cleanup_(query_freep) Query *q = NULL;

                ASSERT_OK(daemon_new_offline(&d, db, BOOT_ID));
                ASSERT_OK(query_new(&q, d));
                check_answers(q);
        }
        {
                _cleanup_(daemon_freep) Daemon *d = NULL;

                ASSERT_EQ(daemon_new_offline(&d, db, "ffffffffffffffffffffffffffffffff"), -ENOENT);
        }
}

int main(void) {
        log_max_level = LOG_LEVEL_WARNING;
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        test_replayed();
        remove_tree(dir);
        printf("ok\n");
        return 0;
}
