/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --journal-export's entries as sd_journal_sendv() sends them, caught on a journal socket of our own in a private mount namespace. */
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "journal-export.h"
#include "lineage/fields.h"
#include "tests.h"

#define MS (NSEC_PER_SEC / 1000)
#define T0 (1000 * NSEC_PER_SEC)
#define JOURNAL_DIR "/run/systemd/journal"
#define CONTAINER "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int journal_fd = -1;

static int write_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

        if (fd < 0)
                return -errno;
        if (write(fd, text, strlen(text)) != (ssize_t) strlen(text))
                r = -errno;
        close(fd);
        return r;
}

/* A mount namespace of our own (and, unprivileged, a user namespace for it) with a tmpfs on /run,
 * where journald's socket is ours: sd_journal_sendv() sends there. Nothing outside sees it. Returns
 * -EPERM when namespaces are not available to us. */
static int own_journal_socket(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = JOURNAL_DIR "/socket" };
        uid_t uid = getuid();
        gid_t gid = getgid();

        if (geteuid() == 0) {
                if (unshare(CLONE_NEWNS) < 0)
                        return -errno;
        } else {
                char map[64];

                if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
                        return -errno;
                snprintf(map, sizeof(map), "%u %u 1\n", (unsigned) uid, (unsigned) uid);
                ASSERT_OK(write_file("/proc/self/uid_map", map));
                ASSERT_OK(write_file("/proc/self/setgroups", "deny"));
                snprintf(map, sizeof(map), "%u %u 1\n", (unsigned) gid, (unsigned) gid);
                ASSERT_OK(write_file("/proc/self/gid_map", map));
        }
        /* Private first: the tmpfs below must not propagate to the host's /run. */
        ASSERT_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
        ASSERT_OK(mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"));
        ASSERT_OK(mkdir("/run/systemd", 0755));
        ASSERT_OK(mkdir(JOURNAL_DIR, 0755));
        journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(journal_fd >= 0);
        ASSERT_OK(bind(journal_fd, (struct sockaddr *) &sa, sizeof(sa)));
        return 0;
}

/* One entry of the native protocol: NAME=value lines, or NAME, a little-endian 64-bit size and the
 * value for values that hold a newline. */
typedef struct Entry {
        char *names[64], *values[64];
        size_t n;
} Entry;

static void entry_done(Entry *e) {
        for (size_t k = 0; k < e->n; k++) {
                free(e->names[k]);
                free(e->values[k]);
        }
        e->n = 0;
}

static void parse_entry(const char *p, size_t len, Entry *ret) {
        const char *end = p + len;

        *ret = (Entry) {};
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p)), *eq;
                uint64_t size;

                ASSERT_TRUE(nl);
                ASSERT_TRUE(ret->n < ELEMENTSOF(ret->names));
                eq = memchr(p, '=', (size_t) (nl - p));
                if (eq) {
                        ret->names[ret->n] = strndup(p, (size_t) (eq - p));
                        ret->values[ret->n] = strndup(eq + 1, (size_t) (nl - eq - 1));
                        p = nl + 1;
                } else {
                        ASSERT_TRUE((size_t) (end - nl - 1) >= sizeof(size));
                        memcpy(&size, nl + 1, sizeof(size));
                        ASSERT_TRUE(size <= (uint64_t) (end - nl - 1 - sizeof(size)));
                        ret->names[ret->n] = strndup(p, (size_t) (nl - p));
                        ret->values[ret->n] = strndup(nl + 1 + sizeof(size), (size_t) size);
                        p = nl + 1 + sizeof(size) + size + 1;
                }
                ASSERT_TRUE(ret->names[ret->n] && ret->values[ret->n]);
                ret->n++;
        }
}

/* The next entry sent; none may be waiting when want_none. */
static bool next_entry(Entry *ret, bool want_none) {
        char buf[65536];
        ssize_t n = recv(journal_fd, buf, sizeof(buf), MSG_DONTWAIT);

        if (want_none) {
                ASSERT_TRUE(n < 0 && errno == EAGAIN);
                return false;
        }
        if (n < 0)
                TEST_FAIL("no journal entry was sent: %m");
        parse_entry(buf, (size_t) n, ret);
        return true;
}

static const char *field(const Entry *e, const char *name) {
        const char *v = NULL;

        for (size_t k = 0; k < e->n; k++)
                if (streq(e->names[k], name)) {
                        ASSERT_TRUE(!v); /* each field once */
                        v = e->values[k];
                }
        return v;
}

/* The LINEAGE_* fields of the entry are exactly names (NULL-terminated): each there, none more, none
 * empty. */
static void lineage_fields_are(const Entry *e, const char *const *names) {
        for (size_t k = 0; k < e->n; k++) {
                bool known = false;

                if (strncmp(e->names[k], "LINEAGE_", 8) != 0)
                        continue;
                for (size_t m = 0; names[m]; m++)
                        known = known || streq(names[m], e->names[k]);
                if (!known)
                        TEST_FAIL("unexpected field %s=%s in \"%s\"", e->names[k], e->values[k],
                                  field(e, "MESSAGE") ?: "");
                ASSERT_TRUE(e->values[k][0]);
        }
        for (size_t m = 0; names[m]; m++)
                if (!field(e, names[m]))
                        TEST_FAIL("field %s missing from \"%s\"", names[m], field(e, "MESSAGE") ?: "");
}

static void assert_number(const Entry *e, const char *name, uint64_t want) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIu64, want);
        ASSERT_STREQ(field(e, name), buf);
}

/* What every process's entry carries (LINEAGE_EXE only when the image is known, LINEAGE_PARENT_INSTANCE
 * only when the birth parent is), and the audit fields of one in an audit session. */
#define PROCESS_FIELDS                                                                                    \
        LINEAGE_FIELD_EVENT, LINEAGE_FIELD_INSTANCE, LINEAGE_FIELD_PID, LINEAGE_FIELD_PARENT_PID,          \
                LINEAGE_FIELD_SOURCE, LINEAGE_FIELD_START_TIME, LINEAGE_FIELD_COMM, LINEAGE_FIELD_UID,     \
                LINEAGE_FIELD_SID
#define AUDIT_FIELDS LINEAGE_FIELD_AUDIT_LOGINUID, LINEAGE_FIELD_AUDIT_SESSION
#define LOGIN_FIELDS                                                                                      \
        LINEAGE_FIELD_LOGIN_INSTANCE, LINEAGE_FIELD_LOGIN_USER, LINEAGE_FIELD_LOGIN_UID,                   \
                LINEAGE_FIELD_LOGIN_SERVICE, LINEAGE_FIELD_LOGIN_REMOTE, LINEAGE_FIELD_LOGIN_SESSION,      \
                LINEAGE_FIELD_LOGIN_TTY, LINEAGE_FIELD_LOGIN_SELF_DECLARED

static const TrackerClock test_clock = { .realtime_offset_ns = 1700000000LL * NSEC_PER_SEC, .clock_ticks = 100 };

static void fork_event(Tracker *t, int32_t parent, int32_t child, uint64_t ms) {
        CnprocEvent e = { .type = LINEAGE_EVENT_FORK, .pid = child, .tgid = child, .timestamp_ns = T0 + ms * MS,
                          .fork = { .parent_pid = parent, .parent_tgid = parent } };

        tracker_handle_event(t, &e);
}

static void exit_event(Tracker *t, int32_t pid, int32_t reaper, uint64_t ms) {
        CnprocEvent e = { .type = LINEAGE_EVENT_EXIT, .pid = pid, .tgid = pid, .timestamp_ns = T0 + ms * MS,
                          .exit = { .parent_pid = reaper, .parent_tgid = reaper } };

        tracker_handle_event(t, &e);
}

/* An exec by uid of audit session 7, in cgroup (if not NULL), and its image as /proc gave it. */
static Instance *exec_event(Tracker *t, int32_t pid, uint64_t fork_ms, uint64_t ms, uint32_t uid, const char *comm,
                            const char *exe, const char *argv, size_t argv_len, const char *cgroup) {
        CnprocEvent e = { .type = LINEAGE_EVENT_EXEC, .pid = pid, .tgid = pid, .timestamp_ns = T0 + ms * MS };
        ProcInfo p = { .have = PROCFS_STAT | PROCFS_STATUS | PROCFS_LOGIN | PROCFS_EXE | PROCFS_ARGV, .pid = pid,
                       .tgid = pid, .ppid = 1, .sid = pid, .pgid = pid,
                       .start_ticks = (T0 + fork_ms * MS) / (NSEC_PER_SEC / 100), .threads = 1, .state = 'R',
                       .ruid = uid, .euid = uid, .rgid = uid, .egid = uid, .loginuid = 1000, .sessionid = 7,
                       .exe = (char *) exe, .argv = (char *) argv, .argv_len = argv_len };
        Instance *i;

        snprintf(p.comm, sizeof(p.comm), "%s", comm);
        tracker_handle_event(t, &e);
        i = tracker_get(t, pid);
        ASSERT_TRUE(i);
        if (cgroup)
                tracker_set_cgroup(t, i, cgroup);
        ASSERT_OK(tracker_apply_info(t, i, &p));
        return i;
}

static void scan_sshd(Tracker *t) {
        ProcInfo p = { .have = PROCFS_STAT | PROCFS_STATUS | PROCFS_LOGIN, .pid = 100, .tgid = 100, .ppid = 1,
                       .sid = 100, .pgid = 100, .start_ticks = 1, .threads = 1, .state = 'S',
                       .loginuid = PROCFS_UNSET_ID, .sessionid = PROCFS_UNSET_ID };

        strcpy(p.comm, "sshd");
        tracker_scan_begin(t, T0);
        ASSERT_OK(tracker_scan_add(t, &p, NULL, 0, -1));
        tracker_scan_end(t);
}

/* What the journal shows for uid 1000: its name, or the number without one. */
static void user_of_1000(char *buf, size_t size) {
        struct passwd *pw = getpwuid(1000);

        snprintf(buf, size, "%s", pw ? pw->pw_name : "1000");
}

/* µs of CLOCK_REALTIME at ms after T0, as test_clock maps the events' monotonic time. */
static uint64_t realtime(uint64_t ms) {
        return (uint64_t) (test_clock.realtime_offset_ns + T0 + ms * MS) / NSEC_PER_USEC;
}

/* 200, forked by sshd at 10 ms, execs sshd-session and begins the login of audit session 7 there, with
 * the details the daemon read. */
static Instance *exec_login(Tracker *t, JournalExport *j) {
        static const char session_argv[] = "sshd-session: alice\0";
        Instance *session;
        Login *l;

        session = exec_event(t, 200, 10, 20, 0, "sshd-session", "/usr/sbin/sshd-session", session_argv,
                             sizeof(session_argv) - 1, NULL);
        l = tracker_login_begin(t, session);
        ASSERT_TRUE(l);
        l->service = strdup("sshd");
        l->remote_address = strdup("192.0.2.9");
        l->remote_port = 50022;
        l->tty = strdup("pts/1");
        l->logind_session = strdup("c3");
        l->unit = strdup("session-c3.scope");
        l->self_declared = false;
        ASSERT_TRUE(l->service && l->remote_address && l->tty && l->logind_session && l->unit);
        tracker_login_changed(t, l);
        journal_export_login_start(j, l);
        return session;
}

/* The login-start or login-end entry of the login at sshd-session (200), whose birth parent is the
 * scanned sshd. */
static void check_login_entry(const Entry *e, bool start, const Instance *sshd, const Instance *session,
                              const char *user) {
        static const char *const login_fields[] = {
                PROCESS_FIELDS, AUDIT_FIELDS, LOGIN_FIELDS, LINEAGE_FIELD_TIME, LINEAGE_FIELD_EXE,
                LINEAGE_FIELD_PARENT_INSTANCE, LINEAGE_FIELD_LOGIN_LOGIND_SESSION, LINEAGE_FIELD_LOGIN_UNIT, NULL,
        };

        lineage_fields_are(e, login_fields);
        ASSERT_STREQ(field(e, "MESSAGE_ID"),
                     start ? "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a61" : "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a62");
        ASSERT_STREQ(field(e, "PRIORITY"), "6");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_EVENT),
                     start ? LINEAGE_EVENT_VALUE_LOGIN_START : LINEAGE_EVENT_VALUE_LOGIN_END);
        /* Begun when the login process was born (its instance's start), ended at its exit. */
        assert_number(e, LINEAGE_FIELD_TIME, start ? realtime(10) : realtime(50));
        ASSERT_STREQ(field(e, LINEAGE_FIELD_PID), "200");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_PARENT_PID), "100");
        assert_number(e, LINEAGE_FIELD_PARENT_INSTANCE, sshd->id);
        ASSERT_STREQ(field(e, LINEAGE_FIELD_SOURCE), "fork");
        assert_number(e, LINEAGE_FIELD_START_TIME, realtime(10));
        ASSERT_STREQ(field(e, LINEAGE_FIELD_COMM), "sshd-session");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_EXE), "/usr/sbin/sshd-session");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_UID), "0");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_AUDIT_LOGINUID), "1000");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_AUDIT_SESSION), "7");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_SID), "200");
        assert_number(e, LINEAGE_FIELD_INSTANCE, session->id);
        assert_number(e, LINEAGE_FIELD_LOGIN_INSTANCE, session->id);
        ASSERT_STREQ(field(e, LINEAGE_FIELD_LOGIN_LOGIND_SESSION), "c3");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_LOGIN_UNIT), "session-c3.scope");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_LOGIN_USER), user);
        ASSERT_STREQ(field(e, LINEAGE_FIELD_LOGIN_UID), "1000");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_LOGIN_SERVICE), "sshd");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_LOGIN_REMOTE), "192.0.2.9:50022");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_LOGIN_SESSION), "7");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_LOGIN_TTY), "pts/1");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_LOGIN_SELF_DECLARED), "0");
        ASSERT_TRUE(strstr(field(e, "MESSAGE"), start ? "Login began: session 7 of " : "Login ended: session 7 of "));
        ASSERT_TRUE(strstr(field(e, "MESSAGE"), " via sshd from 192.0.2.9:50022"));
}

/* An exec entry's fields common to the processes under the login (uid 1000, audit session 7, in the
 * container, a fork's child). */
static void check_user_exec(const Entry *e, int32_t pid, const Instance *parent, uint64_t start_ms, uint64_t exec_ms,
                            const char *comm, const char *exe, const Instance *session) {
        char buf[32];

        ASSERT_STREQ(field(e, "MESSAGE_ID"), "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a60");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_EVENT), LINEAGE_EVENT_VALUE_EXEC);
        assert_number(e, LINEAGE_FIELD_TIME, realtime(exec_ms));
        snprintf(buf, sizeof(buf), "%d", pid);
        ASSERT_STREQ(field(e, LINEAGE_FIELD_PID), buf);
        snprintf(buf, sizeof(buf), "%d", parent->pid);
        ASSERT_STREQ(field(e, LINEAGE_FIELD_PARENT_PID), buf);
        assert_number(e, LINEAGE_FIELD_PARENT_INSTANCE, parent->id);
        ASSERT_STREQ(field(e, LINEAGE_FIELD_SOURCE), "fork");
        assert_number(e, LINEAGE_FIELD_START_TIME, realtime(start_ms));
        ASSERT_STREQ(field(e, LINEAGE_FIELD_COMM), comm);
        ASSERT_STREQ(field(e, LINEAGE_FIELD_EXE), exe);
        ASSERT_STREQ(field(e, LINEAGE_FIELD_UID), "1000");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_AUDIT_LOGINUID), "1000");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_AUDIT_SESSION), "7");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_CGROUP), "/system.slice/docker-" CONTAINER ".scope");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_CONTAINER), CONTAINER);
        assert_number(e, LINEAGE_FIELD_LOGIN_INSTANCE, session->id);
        ASSERT_STREQ(field(e, LINEAGE_FIELD_LOGIN_SESSION), "7");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_LOGIN_REMOTE), "192.0.2.9:50022");
        ASSERT_STREQ(field(e, LINEAGE_FIELD_LOGIN_SERVICE), "sshd");
}

/* sshd (100, found by the start-up scan) forks 200, which execs sshd-session and becomes the login of
 * audit session 7. The login forks 250 which never execs (privilege separation); 250's children run bash
 * (300, in a container's cgroup) and id (310). bash forks a subshell 500 that forks 600 and exits; 600
 * execs sleep, env and cat. Then the login ends. Each exec, the login's start and end are one entry each,
 * and each ancestor that never exec'd (sshd, 250, 500) one 'process' entry, once, before the first exec
 * that names it. */
static void test_entries(void) {
        _cleanup_(tracker_freep) Tracker *t = NULL;
        _cleanup_(journal_export_freep) JournalExport *j = NULL;
        static const char bash_argv[] = "bash\0-c\0echo\001hi caf\xc3\xa9 \xff \0", id_argv[] = "id\0", sleep_argv[] = "sleep\0001\0",
                          env_argv[] = "env\0\0x\0", cat_argv[] = "cat\0/et";
        static const char *const session_fields[] = {
                PROCESS_FIELDS, AUDIT_FIELDS, LINEAGE_FIELD_TIME, LINEAGE_FIELD_EXE, LINEAGE_FIELD_PARENT_INSTANCE,
                LINEAGE_FIELD_ARGV, LINEAGE_FIELD_ARGV_JSON, LINEAGE_FIELD_ANCESTRY, NULL,
        };
        static const char *const sshd_fields[] = { PROCESS_FIELDS, NULL };
        static const char *const intermediate_fields[] = {
                PROCESS_FIELDS, AUDIT_FIELDS, LINEAGE_FIELD_EXE, LINEAGE_FIELD_PARENT_INSTANCE, NULL,
        };
        static const char *const exited_fields[] = {
                PROCESS_FIELDS, AUDIT_FIELDS, LINEAGE_FIELD_EXE, LINEAGE_FIELD_PARENT_INSTANCE,
                LINEAGE_FIELD_EXIT_TIME, LINEAGE_FIELD_CGROUP, LINEAGE_FIELD_CONTAINER, NULL,
        };
        static const char *const user_exec_fields[] = {
                PROCESS_FIELDS, AUDIT_FIELDS, LOGIN_FIELDS, LINEAGE_FIELD_TIME, LINEAGE_FIELD_EXE,
                LINEAGE_FIELD_PARENT_INSTANCE, LINEAGE_FIELD_ARGV, LINEAGE_FIELD_ANCESTRY, LINEAGE_FIELD_CGROUP,
                LINEAGE_FIELD_CONTAINER, NULL,
        };
        static const char *const user_exec_json_fields[] = {
                PROCESS_FIELDS, AUDIT_FIELDS, LOGIN_FIELDS, LINEAGE_FIELD_TIME, LINEAGE_FIELD_EXE,
                LINEAGE_FIELD_PARENT_INSTANCE, LINEAGE_FIELD_ARGV, LINEAGE_FIELD_ARGV_JSON, LINEAGE_FIELD_ANCESTRY,
                LINEAGE_FIELD_CGROUP, LINEAGE_FIELD_CONTAINER, NULL,
        };
        const char *cgroup = "/system.slice/docker-" CONTAINER ".scope";
        Instance *sshd, *session, *fork250, *bash, *sub, *i;
        uint64_t sub_id;
        char user[256];
        Entry e;

        user_of_1000(user, sizeof(user));
        ASSERT_OK(tracker_new(&t, &test_clock, 1));
        ASSERT_OK(journal_export_new(&j, t, JOURNAL_EXPORT_EXECS));
        scan_sshd(t);
        sshd = tracker_get(t, 100);
        ASSERT_TRUE(sshd);
        next_entry(&e, true); /* a scan is not an exec */

        /* The exec of the session process names sshd, which never exec'd under watch: sshd's process
         * entry first, as the scan found it (its PPid, no known parent instance, no image read). */
        fork_event(t, 100, 200, 10);
        session = exec_login(t, j);
        next_entry(&e, false);
        lineage_fields_are(&e, sshd_fields);
        ASSERT_STREQ(field(&e, "MESSAGE_ID"), "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a63");
        ASSERT_STREQ(field(&e, "PRIORITY"), "7");
        ASSERT_STREQ(field(&e, "MESSAGE"), "process sshd[100]: an ancestor of an exported process");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_EVENT), LINEAGE_EVENT_VALUE_PROCESS);
        assert_number(&e, LINEAGE_FIELD_INSTANCE, sshd->id);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_PID), "100");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_PARENT_PID), "1");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_SOURCE), "procfs");
        assert_number(&e, LINEAGE_FIELD_START_TIME, sshd->start_time);
        ASSERT_TRUE(sshd->start_time > 0);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_COMM), "sshd");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_UID), "0");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_SID), "100");
        entry_done(&e);

        /* Then the session's exec: no login known yet, so no login fields; its one argument holds a
         * space, so LINEAGE_ARGV does not give argv back and LINEAGE_ARGV_JSON does. */
        next_entry(&e, false);
        lineage_fields_are(&e, session_fields);
        ASSERT_STREQ(field(&e, "MESSAGE_ID"), "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a60");
        ASSERT_STREQ(field(&e, "PRIORITY"), "6");
        ASSERT_STREQ(field(&e, "MESSAGE"), "exec sshd-session[200]: sshd-session: alice");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_EVENT), LINEAGE_EVENT_VALUE_EXEC);
        assert_number(&e, LINEAGE_FIELD_TIME, realtime(20));
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_PID), "200");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_PARENT_PID), "100");
        assert_number(&e, LINEAGE_FIELD_PARENT_INSTANCE, sshd->id);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_SOURCE), "fork");
        assert_number(&e, LINEAGE_FIELD_START_TIME, realtime(10));
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_EXE), "/usr/sbin/sshd-session");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_UID), "0");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_AUDIT_LOGINUID), "1000");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_AUDIT_SESSION), "7");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_SID), "200");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_ARGV), "sshd-session: alice");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_ARGV_JSON), "[\"sshd-session: alice\"]");
        assert_number(&e, LINEAGE_FIELD_INSTANCE, session->id);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_ANCESTRY), "sshd[100] > sshd-session[200]");
        entry_done(&e);

        /* The login begins there, with the details the daemon read. */
        next_entry(&e, false);
        check_login_entry(&e, true, sshd, session, user);
        entry_done(&e);

        /* The login forks 250, which forks 300 to run bash in a container: 250 never exec'd, so its
         * process entry comes first: session-sshd's image, its birth parent the login. */
        fork_event(t, 200, 250, 25);
        fork250 = tracker_get(t, 250);
        ASSERT_TRUE(fork250);
        fork_event(t, 250, 300, 30);
        next_entry(&e, true); /* forks are no entries */
        bash = exec_event(t, 300, 30, 40, 1000, "bash", "/usr/bin/bash", bash_argv, sizeof(bash_argv) - 1, cgroup);
        next_entry(&e, false);
        lineage_fields_are(&e, intermediate_fields);
        ASSERT_STREQ(field(&e, "MESSAGE_ID"), "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a63");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_EVENT), LINEAGE_EVENT_VALUE_PROCESS);
        assert_number(&e, LINEAGE_FIELD_INSTANCE, fork250->id);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_PID), "250");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_PARENT_PID), "200");
        assert_number(&e, LINEAGE_FIELD_PARENT_INSTANCE, session->id);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_SOURCE), "fork");
        assert_number(&e, LINEAGE_FIELD_START_TIME, realtime(25));
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_COMM), "sshd-session");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_EXE), "/usr/sbin/sshd-session");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_UID), "0");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_AUDIT_SESSION), "7");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_SID), "200");
        entry_done(&e);

        /* bash, as the user: its ancestry stops at the login, whose fields it carries; control bytes of
         * argv are '?', and its last argument ends in a space: LINEAGE_ARGV_JSON has it exactly, in the
         * form answers give (UTF-8 as it is, a control byte and a byte that is not UTF-8 as \xNN). */
        next_entry(&e, false);
        lineage_fields_are(&e, user_exec_json_fields);
        check_user_exec(&e, 300, fork250, 30, 40, "bash", "/usr/bin/bash", session);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_ARGV), "bash -c echo?hi caf\xc3\xa9 ?");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_ARGV_JSON), "[\"bash\",\"-c\",\"echo\\\\x01hi caf\xc3\xa9 \\\\xff \"]");
        assert_number(&e, LINEAGE_FIELD_INSTANCE, bash->id);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_ANCESTRY), "sshd-session[200] > sshd-session[250] > bash[300]");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_LOGIN_USER), user);
        entry_done(&e);

        /* Another child of 250 execs: 250 was exported already, so only the exec; its argv splits back
         * at spaces, so no LINEAGE_ARGV_JSON. */
        fork_event(t, 250, 310, 42);
        i = exec_event(t, 310, 42, 44, 1000, "id", "/usr/bin/id", id_argv, sizeof(id_argv) - 1, cgroup);
        next_entry(&e, false);
        lineage_fields_are(&e, user_exec_fields);
        check_user_exec(&e, 310, fork250, 42, 44, "id", "/usr/bin/id", session);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_ARGV), "id");
        assert_number(&e, LINEAGE_FIELD_INSTANCE, i->id);
        entry_done(&e);
        next_entry(&e, true);

        /* bash forks a subshell (500) that forks 600 and exits before 600 execs: the subshell's process
         * entry is sent from what the export kept of it, with its exit time. */
        fork_event(t, 300, 500, 45);
        sub = tracker_get(t, 500);
        ASSERT_TRUE(sub);
        sub_id = sub->id;
        fork_event(t, 500, 600, 46);
        exit_event(t, 500, 300, 47);
        next_entry(&e, true); /* not the login's exit: no entry */
        i = exec_event(t, 600, 46, 48, 1000, "sleep", "/usr/bin/sleep", sleep_argv, sizeof(sleep_argv) - 1, NULL);
        next_entry(&e, false);
        lineage_fields_are(&e, exited_fields);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_EVENT), LINEAGE_EVENT_VALUE_PROCESS);
        ASSERT_STREQ(field(&e, "MESSAGE"), "process bash[500]: an ancestor of an exported process");
        assert_number(&e, LINEAGE_FIELD_INSTANCE, sub_id);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_PID), "500");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_PARENT_PID), "300");
        assert_number(&e, LINEAGE_FIELD_PARENT_INSTANCE, bash->id);
        assert_number(&e, LINEAGE_FIELD_START_TIME, realtime(45));
        assert_number(&e, LINEAGE_FIELD_EXIT_TIME, realtime(47));
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_COMM), "bash");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_EXE), "/usr/bin/bash");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_UID), "1000");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_CGROUP), cgroup);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_CONTAINER), CONTAINER);
        entry_done(&e);
        next_entry(&e, false);
        lineage_fields_are(&e, user_exec_fields);
        check_user_exec(&e, 600, sub, 46, 48, "sleep", "/usr/bin/sleep", session);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_ARGV), "sleep 1");
        assert_number(&e, LINEAGE_FIELD_INSTANCE, i->id);
        entry_done(&e);

        /* 600 execs again, twice: no ancestor entry again. An empty argument, and an argv cut short
         * (no final NUL), do not split back: LINEAGE_ARGV_JSON. */
        i = exec_event(t, 600, 46, 49, 1000, "env", "/usr/bin/env", env_argv, sizeof(env_argv) - 1, NULL);
        next_entry(&e, false);
        lineage_fields_are(&e, user_exec_json_fields);
        check_user_exec(&e, 600, sub, 46, 49, "env", "/usr/bin/env", session);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_ARGV), "env  x");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_ARGV_JSON), "[\"env\",\"\",\"x\"]");
        assert_number(&e, LINEAGE_FIELD_INSTANCE, i->id); /* an exec keeps the instance */
        entry_done(&e);
        i = exec_event(t, 600, 46, 51, 1000, "cat", "/usr/bin/cat", cat_argv, sizeof(cat_argv) - 1, NULL);
        next_entry(&e, false);
        lineage_fields_are(&e, user_exec_json_fields);
        check_user_exec(&e, 600, sub, 46, 51, "cat", "/usr/bin/cat", session);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_ARGV), "cat /et");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_ARGV_JSON), "[\"cat\",\"/et\"]");
        assert_number(&e, LINEAGE_FIELD_INSTANCE, i->id);
        entry_done(&e);
        next_entry(&e, true);

        /* The login process exits: the login ends. The other exits are no entries. */
        exit_event(t, 200, 100, 50);
        next_entry(&e, false);
        check_login_entry(&e, false, sshd, session, user);
        entry_done(&e);
        exit_event(t, 310, 250, 52);
        exit_event(t, 300, 250, 53);
        exit_event(t, 600, 1, 54);
        exit_event(t, 250, 1, 55);
        next_entry(&e, true);
        /* 3 process entries, 6 execs, the login's start and end. */
        ASSERT_EQ(journal_export_sent(j), 11);
}

/* --journal-export=logins: the login's start and end, and nothing of the execs and forks around it. */
static void test_logins_only(void) {
        _cleanup_(tracker_freep) Tracker *t = NULL;
        _cleanup_(journal_export_freep) JournalExport *j = NULL;
        static const char bash_argv[] = "bash\0";
        Instance *sshd, *session;
        char user[256];
        Entry e;

        user_of_1000(user, sizeof(user));
        ASSERT_OK(tracker_new(&t, &test_clock, 1));
        ASSERT_OK(journal_export_new(&j, t, JOURNAL_EXPORT_LOGINS));
        scan_sshd(t);
        sshd = tracker_get(t, 100);
        ASSERT_TRUE(sshd);
        fork_event(t, 100, 200, 10);
        session = exec_login(t, j);
        next_entry(&e, false);
        check_login_entry(&e, true, sshd, session, user);
        entry_done(&e);
        next_entry(&e, true);

        fork_event(t, 200, 250, 25);
        fork_event(t, 250, 300, 30);
        (void) exec_event(t, 300, 30, 40, 1000, "bash", "/usr/bin/bash", bash_argv, sizeof(bash_argv) - 1, NULL);
        exit_event(t, 300, 250, 45);
        next_entry(&e, true);

        exit_event(t, 200, 100, 50);
        next_entry(&e, false);
        check_login_entry(&e, false, sshd, session, user);
        entry_done(&e);
        exit_event(t, 250, 1, 55);
        next_entry(&e, true);
        ASSERT_EQ(journal_export_sent(j), 2);
}

int main(void) {
        int r;

        log_max_level = LOG_LEVEL_WARNING;
        r = own_journal_socket();
        if (r < 0) {
                printf("SKIP: no mount namespace of our own (%s)\n", strerror(-r));
                return 77;
        }
        test_entries();
        test_logins_only();
        close(journal_fd);
        printf("ok\n");
        return 0;
}
