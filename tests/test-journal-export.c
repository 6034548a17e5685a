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

/* Every LINEAGE_* field of the entry is one of names (NULL-terminated): none more. */
static void only_lineage_fields(const Entry *e, const char *const *names) {
        for (size_t k = 0; k < e->n; k++) {
                bool known = false;

                if (strncmp(e->names[k], "LINEAGE_", 8) != 0)
                        continue;
                for (size_t m = 0; names[m]; m++)
                        known = known || streq(names[m], e->names[k]);
                if (!known)
                        TEST_FAIL("unexpected field %s=%s", e->names[k], e->values[k]);
                ASSERT_TRUE(e->values[k][0]); /* never empty */
        }
}

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

/* sshd (100) forks 200, which execs sshd-session and becomes the login of audit session 7; it runs
 * bash (300) in a container's cgroup; then the login ends. Each exec, the login's start and its end
 * are one entry each, with the fields of fields.h. */
static void test_entries(void) {
        _cleanup_(tracker_freep) Tracker *t = NULL;
        _cleanup_(journal_export_freep) JournalExport *j = NULL;
        static const char session_argv[] = "sshd-session: alice\0", bash_argv[] = "bash\0-c\0echo\001hi \0";
        static const char *const exec_fields[] = {
                LINEAGE_FIELD_EVENT, LINEAGE_FIELD_PID, LINEAGE_FIELD_PARENT_PID, LINEAGE_FIELD_COMM,
                LINEAGE_FIELD_EXE, LINEAGE_FIELD_ARGV, LINEAGE_FIELD_UID, LINEAGE_FIELD_CGROUP,
                LINEAGE_FIELD_CONTAINER, "LINEAGE_INSTANCE", "LINEAGE_ANCESTRY", "LINEAGE_LOGIN_USER",
                "LINEAGE_LOGIN_UID", "LINEAGE_LOGIN_SERVICE", "LINEAGE_LOGIN_REMOTE", "LINEAGE_LOGIN_SESSION",
                "LINEAGE_LOGIN_TTY", "LINEAGE_LOGIN_SELF_DECLARED", NULL,
        };
        char user[256], instance[32];
        Instance *session, *bash;
        Login *l;
        Entry e;

        user_of_1000(user, sizeof(user));
        ASSERT_OK(tracker_new(&t, &test_clock, 1));
        ASSERT_OK(journal_export_new(&j, t, JOURNAL_EXPORT_EXECS));
        scan_sshd(t);
        next_entry(&e, true); /* a scan is not an exec */

        /* The exec of the session process: no login known yet, so no login fields. */
        fork_event(t, 100, 200, 10);
        session = exec_event(t, 200, 10, 20, 0, "sshd-session", "/usr/sbin/sshd-session", session_argv,
                             sizeof(session_argv) - 1, NULL);
        next_entry(&e, false);
        only_lineage_fields(&e, exec_fields);
        ASSERT_STREQ(field(&e, "MESSAGE_ID"), "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a60");
        ASSERT_STREQ(field(&e, "PRIORITY"), "6");
        ASSERT_STREQ(field(&e, "MESSAGE"), "exec sshd-session[200]: sshd-session: alice");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_EVENT), "exec");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_PID), "200");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_PARENT_PID), "100");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_EXE), "/usr/sbin/sshd-session");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_UID), "0");
        snprintf(instance, sizeof(instance), "%" PRIu64, session->id);
        ASSERT_STREQ(field(&e, "LINEAGE_INSTANCE"), instance);
        ASSERT_STREQ(field(&e, "LINEAGE_ANCESTRY"), "sshd[100] > sshd-session[200]");
        ASSERT_STREQ(field(&e, "LINEAGE_LOGIN_UID"), NULL);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_CGROUP), NULL);
        entry_done(&e);

        /* The login begins there, with the details the daemon read. */
        l = tracker_login_begin(t, session);
        ASSERT_TRUE(l);
        l->service = strdup("sshd");
        l->remote_address = strdup("192.0.2.9");
        l->remote_port = 50022;
        l->tty = strdup("pts/1");
        l->self_declared = false;
        ASSERT_TRUE(l->service && l->remote_address && l->tty);
        tracker_login_changed(t, l);
        journal_export_login_start(j, l);
        next_entry(&e, false);
        ASSERT_STREQ(field(&e, "MESSAGE_ID"), "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a61");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_EVENT), "login-start");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_PID), "200");
        ASSERT_STREQ(field(&e, "LINEAGE_INSTANCE"), instance);
        ASSERT_STREQ(field(&e, "LINEAGE_LOGIN_USER"), user);
        ASSERT_STREQ(field(&e, "LINEAGE_LOGIN_UID"), "1000");
        ASSERT_STREQ(field(&e, "LINEAGE_LOGIN_SERVICE"), "sshd");
        ASSERT_STREQ(field(&e, "LINEAGE_LOGIN_REMOTE"), "192.0.2.9:50022");
        ASSERT_STREQ(field(&e, "LINEAGE_LOGIN_SESSION"), "7");
        ASSERT_STREQ(field(&e, "LINEAGE_LOGIN_TTY"), "pts/1");
        ASSERT_STREQ(field(&e, "LINEAGE_LOGIN_SELF_DECLARED"), "0");
        ASSERT_TRUE(strstr(field(&e, "MESSAGE"), "Login began: session 7 of "));
        ASSERT_TRUE(strstr(field(&e, "MESSAGE"), " via sshd from 192.0.2.9:50022"));
        entry_done(&e);

        /* bash in a container, as the user: its ancestry stops at the login, whose fields it carries;
         * control bytes of argv are '?'. */
        fork_event(t, 200, 300, 30);
        bash = exec_event(t, 300, 30, 40, 1000, "bash", "/usr/bin/bash", bash_argv, sizeof(bash_argv) - 1,
                          "/system.slice/docker-" CONTAINER ".scope");
        next_entry(&e, false);
        only_lineage_fields(&e, exec_fields);
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_PID), "300");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_PARENT_PID), "200");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_COMM), "bash");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_ARGV), "bash -c echo?hi");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_UID), "1000");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_CGROUP), "/system.slice/docker-" CONTAINER ".scope");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_CONTAINER), CONTAINER);
        snprintf(instance, sizeof(instance), "%" PRIu64, bash->id);
        ASSERT_STREQ(field(&e, "LINEAGE_INSTANCE"), instance);
        ASSERT_STREQ(field(&e, "LINEAGE_ANCESTRY"), "sshd-session[200] > bash[300]");
        ASSERT_STREQ(field(&e, "LINEAGE_LOGIN_USER"), user);
        ASSERT_STREQ(field(&e, "LINEAGE_LOGIN_SESSION"), "7");
        ASSERT_STREQ(field(&e, "LINEAGE_LOGIN_REMOTE"), "192.0.2.9:50022");
        entry_done(&e);

        /* The login process exits: the login ends. bash's exit is no entry. */
        exit_event(t, 200, 100, 50);
        next_entry(&e, false);
        ASSERT_STREQ(field(&e, "MESSAGE_ID"), "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a62");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_EVENT), "login-end");
        ASSERT_STREQ(field(&e, LINEAGE_FIELD_PID), "200");
        ASSERT_STREQ(field(&e, "LINEAGE_LOGIN_SERVICE"), "sshd");
        ASSERT_TRUE(strstr(field(&e, "MESSAGE"), "Login ended: session 7 of "));
        entry_done(&e);
        exit_event(t, 300, 1, 60);
        next_entry(&e, true);
        ASSERT_EQ(journal_export_sent(j), 4);
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
        close(journal_fd);
        printf("ok\n");
        return 0;
}
