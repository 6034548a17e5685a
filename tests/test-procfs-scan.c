/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for procfs-scan: threaded scans give what a serial loop of procfs reads gives, on a synthetic tree and on /proc. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "procfs-scan.h"
#include "test-fs.h"
#include "tests.h"

/* What a scan item says, flattened for comparison (a scan item's memory is gone after the callback). */
typedef struct Digest {
        int32_t pid;
        int error;
        unsigned have;
        char comm[64];
        char state;
        int32_t ppid, pgid, sid, tgid;
        uint64_t start_ticks;
        uint32_t threads, ruid, euid, rgid, egid, loginuid, sessionid;
        bool nscaba_present;
        char *exe, *argv;
        size_t argv_len;
        bool argv_truncated;
        int32_t *tids;
        size_t n_tids;
        int32_t caba_tgid;
} Digest;

typedef struct Digests {
        Digest *d;
        size_t n, alloc;
        size_t stop_at;         /* return -ECANCELED from the callback for this item (0: never) */
        bool steal;             /* take over the strings and tids */
} Digests;

static void digests_done(Digests *ds) {
        for (size_t k = 0; k < ds->n; k++) {
                free(ds->d[k].exe);
                free(ds->d[k].argv);
                free(ds->d[k].tids);
        }
        free(ds->d);
        *ds = (Digests) {};
}

static Digest *digest_add(Digests *ds) {
        if (ds->n == ds->alloc) {
                size_t n = ds->alloc ? ds->alloc * 2 : 256;
                Digest *p = reallocarray(ds->d, n, sizeof(Digest));

                if (!p)
                        die("reallocarray");
                ds->d = p;
                ds->alloc = n;
        }
        ds->d[ds->n] = (Digest) {};
        return &ds->d[ds->n++];
}

static void *dup_or_null(const void *p, size_t n) {
        void *q;

        if (!p)
                return NULL;
        q = malloc(n ? n : 1);
        if (!q)
                die("malloc");
        memcpy(q, p, n);
        return q;
}

static void digest_fill(Digest *g, int32_t pid, int error, ProcInfo *info, int32_t *tids, size_t n_tids,
                        int32_t caba_tgid, bool steal) {
        g->pid = pid;
        g->error = error;
        if (error < 0)
                return;
        g->have = info->have;
        memcpy(g->comm, info->comm, sizeof(g->comm));
        g->state = info->state;
        g->ppid = info->ppid;
        g->pgid = info->pgid;
        g->sid = info->sid;
        g->tgid = info->tgid;
        g->start_ticks = info->start_ticks;
        g->threads = info->threads;
        g->ruid = info->ruid;
        g->euid = info->euid;
        g->rgid = info->rgid;
        g->egid = info->egid;
        g->loginuid = info->loginuid;
        g->sessionid = info->sessionid;
        g->nscaba_present = info->nscaba.present;
        g->argv_len = info->argv_len;
        g->argv_truncated = info->argv_truncated;
        g->n_tids = n_tids;
        g->caba_tgid = caba_tgid;
        if (steal) {
                g->exe = TAKE_PTR(info->exe);
                g->argv = TAKE_PTR(info->argv);
        } else {
                g->exe = info->exe ? strdup(info->exe) : NULL;
                g->argv = dup_or_null(info->argv, info->argv_len);
        }
        g->tids = dup_or_null(tids, n_tids * sizeof(int32_t));
}

static int digest_cb(ProcScanItem *item, void *userdata) {
        Digests *ds = userdata;
        Digest *g = digest_add(ds);

        digest_fill(g, item->pid, item->error, &item->info, item->tids, item->n_tids, item->caba_tgid, ds->steal);
        if (ds->steal)
                free(TAKE_PTR(item->tids));
        if (ds->stop_at > 0 && ds->n == ds->stop_at)
                return -ECANCELED;
        return 0;
}

/* The reference: one procfs_read() after another, as the daemon did before it had threads. */
static void serial_scan(const char *root, Digests *ds) {
        _cleanup_free_ int32_t *pids = NULL;
        size_t n = 0;

        ASSERT_EQ(procfs_list_pids(root, &pids, &n), 0);
        for (size_t k = 0; k < n; k++) {
                ProcInfo info = {};
                _cleanup_free_ int32_t *tids = NULL;
                size_t n_tids = 0;
                int32_t caba = -1, tgid;
                int r;

                r = procfs_read(root, pids[k], PROCFS_ALL, &info);
                if (r >= 0 && info.threads > 1)
                        (void) procfs_list_tasks(root, pids[k], &tids, &n_tids);
                if (r >= 0 && procfs_nscaba_tgid(root, &info, &tgid) >= 0)
                        caba = tgid;
                digest_fill(digest_add(ds), pids[k], r, &info, tids, n_tids, caba, false);
                proc_info_done(&info);
        }
}

static bool same_bytes(const void *a, const void *b, size_t n) {
        if (!a || !b)
                return a == b;
        return memcmp(a, b, n) == 0;
}

static bool digest_equal(const Digest *a, const Digest *b) {
        return a->pid == b->pid && a->error == b->error && a->have == b->have && streq(a->comm, b->comm) &&
               a->state == b->state && a->ppid == b->ppid && a->pgid == b->pgid && a->sid == b->sid &&
               a->tgid == b->tgid && a->start_ticks == b->start_ticks && a->threads == b->threads &&
               a->ruid == b->ruid && a->euid == b->euid && a->rgid == b->rgid && a->egid == b->egid &&
               a->loginuid == b->loginuid && a->sessionid == b->sessionid && a->nscaba_present == b->nscaba_present &&
               streq_ptr(a->exe, b->exe) && a->argv_len == b->argv_len && same_bytes(a->argv, b->argv, a->argv_len) &&
               a->argv_truncated == b->argv_truncated && a->n_tids == b->n_tids &&
               same_bytes(a->tids, b->tids, a->n_tids * sizeof(int32_t)) && a->caba_tgid == b->caba_tgid;
}

static const Digest *digest_find(const Digests *ds, int32_t pid) {
        for (size_t k = 0; k < ds->n; k++)
                if (ds->d[k].pid == pid)
                        return &ds->d[k];
        return NULL;
}

/* ---- synthetic tree ---- */

#define TREE_PIDS 2600 /* more than the scan's read-ahead window (32 chunks of 64) */

static char tree[] = "/tmp/test-procfs-scan-XXXXXX";

static void put(const char *rel, const void *data, size_t len) {
        put_at(tree, rel, data, len);
}

static void mkdir_rel(const char *rel) {
        mkdir_at(tree, rel);
}

/* dir holds the task with id id of thread group tgid. */
static void put_task(const char *dir, int32_t id, int32_t tgid, int32_t ppid, unsigned threads, const char *nscaba) {
        char buf[1024], rel[PATH_MAX];
        int n;

        mkdir_rel(dir);
        n = snprintf(buf, sizeof(buf),
                     "%" PRIi32 " (p%" PRIi32 ") S %" PRIi32 " %" PRIi32 " %" PRIi32 " 0 -1 0 0 0 0 0 0 0 0 0 20 0 %u 0 %" PRIi32 "\n",
                     id, id, ppid, tgid, tgid, threads, 1000 + id);
        snprintf(rel, sizeof(rel), "%s/stat", dir);
        put(rel, buf, (size_t) n);
        n = snprintf(buf, sizeof(buf),
                     "Name:\tp\nTgid:\t%" PRIi32 "\nPid:\t%" PRIi32 "\nPPid:\t%" PRIi32 "\nUid:\t%" PRIi32 "\t%" PRIi32
                     "\t0\t0\nGid:\t5\t6\t0\t0\n%s",
                     tgid, id, ppid, id % 7, id % 5, nscaba);
        snprintf(rel, sizeof(rel), "%s/status", dir);
        put(rel, buf, (size_t) n);
}

static void build_tree(void) {
        if (!mkdtemp(tree) || chmod(tree, 0755) < 0)
                die("mkdtemp");
        for (int32_t pid = 1; pid <= TREE_PIDS; pid++) {
                char dir[32], rel[64], nscaba[64] = "";
                char argv[64];
                unsigned threads = pid % 13 == 0 ? 3 : 1;
                int n;

                snprintf(dir, sizeof(dir), "%" PRIi32, pid);
                if (pid % 7 == 0) {
                        /* Gone: a directory without stat. */
                        mkdir_rel(dir);
                        continue;
                }
                if (pid % 17 == 0)
                        /* NScaba names a thread of another thread group (resolved through its status). */
                        snprintf(nscaba, sizeof(nscaba), "NScaba:\t%" PRIi32 "\n", pid % 13 == 0 ? pid : pid - 1);
                put_task(dir, pid % 11 == 0 ? pid + 1 : pid, pid, pid / 2, threads, nscaba);
                snprintf(rel, sizeof(rel), "%s/loginuid", dir);
                put(rel, "1000\n", 5);
                snprintf(rel, sizeof(rel), "%s/sessionid", dir);
                n = snprintf(argv, sizeof(argv), "%" PRIi32 "\n", pid % 23);
                put(rel, argv, (size_t) n);
                snprintf(rel, sizeof(rel), "%s/cmdline", dir);
                n = snprintf(argv, sizeof(argv), "prog%c--pid=%" PRIi32 "%c", 0, pid, 0);
                put(rel, argv, pid % 3 == 0 ? 0 : (size_t) n);
                if (pid % 5 != 0) {
                        char path[PATH_MAX], target[64];

                        snprintf(path, sizeof(path), "%s/%s/exe", tree, dir);
                        snprintf(target, sizeof(target), "/usr/bin/prog-%" PRIi32, pid % 31);
                        if (symlink(target, path) < 0)
                                die(path);
                }
                if (threads > 1) {
                        snprintf(rel, sizeof(rel), "%s/task", dir);
                        mkdir_rel(rel);
                        for (unsigned t = 0; t < threads; t++) {
                                int32_t tid = t == 0 ? pid : 100000 + pid * 4 + (int32_t) t;

                                snprintf(rel, sizeof(rel), "%s/task/%" PRIi32, dir, tid);
                                put_task(rel, tid, pid, pid / 2, threads, "");
                        }
                }
        }
        /* Not pids: skipped by every scan. */
        mkdir_rel("self0");
        mkdir_rel("0");
}

static void check_same(const Digests *a, const Digests *b, const char *what) {
        ASSERT_EQ(a->n, b->n);
        for (size_t k = 0; k < MIN(a->n, b->n); k++)
                if (!digest_equal(&a->d[k], &b->d[k]))
                        TEST_FAIL("%s: item %zu (pid %" PRIi32 " vs %" PRIi32 ") differs", what, k, a->d[k].pid,
                                  b->d[k].pid);
}

static void test_tree_scan(void) {
        static const unsigned threads[] = { 0, 1, 2, 3, PROCFS_SCAN_THREADS_MAX, 100 };
        Digests ref = {};
        unsigned errors = 0, with_tids = 0, with_caba = 0;

        serial_scan(tree, &ref);
        ASSERT_EQ(ref.n, TREE_PIDS);
        /* The tree exercises what it should: gone, refused, threads, kernel CABA, no exe, no argv. */
        for (size_t k = 0; k < ref.n; k++) {
                errors += ref.d[k].error < 0;
                with_tids += ref.d[k].n_tids == 3;
                with_caba += ref.d[k].caba_tgid > 0;
        }
        ASSERT_TRUE(errors > TREE_PIDS / 7);
        ASSERT_TRUE(with_tids > 100);
        ASSERT_TRUE(with_caba > 50);
        ASSERT_EQ(digest_find(&ref, 7)->error, -ESRCH);
        ASSERT_EQ(digest_find(&ref, 22)->error, -EBADMSG);
        ASSERT_EQ(digest_find(&ref, 34)->caba_tgid, 33);    /* NScaba 33: thread group 33 */
        ASSERT_EQ(digest_find(&ref, 26)->n_tids, 3);

        for (size_t i = 0; i < ELEMENTSOF(threads); i++) {
                Digests got = { .steal = i % 2 == 1 };
                char what[64];
                int r;

                r = procfs_scan(tree, threads[i], digest_cb, &got);
                ASSERT_TRUE(r >= 1 && (unsigned) r <= MIN(threads[i], PROCFS_SCAN_THREADS_MAX) + 1);
                snprintf(what, sizeof(what), "tree scan with %u threads", threads[i]);
                check_same(&ref, &got, what);
                digests_done(&got);
        }

        /* A callback error stops the scan at once, with that error; what was read ahead is freed. */
        for (size_t i = 0; i < ELEMENTSOF(threads); i++) {
                Digests got = { .stop_at = 1000 };

                ASSERT_EQ(procfs_scan(tree, threads[i], digest_cb, &got), -ECANCELED);
                ASSERT_EQ(got.n, 1000);
                digests_done(&got);
        }
        digests_done(&ref);

        ASSERT_EQ(procfs_scan("/nonexistent-procfs-root", 2, digest_cb, &ref), -ENOENT);
        ASSERT_EQ(procfs_scan(NULL, 2, digest_cb, &ref), -EINVAL);
        ASSERT_EQ(ref.n, 0);
}

static void test_empty_scan(void) {
        char empty[] = "/tmp/test-procfs-scan-empty-XXXXXX";
        Digests got = {};

        if (!mkdtemp(empty))
                die("mkdtemp");
        ASSERT_EQ(procfs_scan(empty, 4, digest_cb, &got), 1);
        ASSERT_EQ(got.n, 0);
        (void) rmdir(empty);
}

/* ---- real /proc: a few hundred children ---- */

#define CHILDREN 300

static void *child_thread(void *arg) {
        for (;;)
                pause(); /* returns after glibc's setxid signal */
        return NULL;
}

static void child_main(unsigned k, bool ids, int ready_fd) {
        char name[16];
        pthread_t t;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (k % 5 == 0 && setsid() < 0)
                _exit(2);
        if (k % 7 == 0 && pthread_create(&t, NULL, child_thread, NULL) != 0)
                _exit(3);
        if (ids && k % 3 == 0 && setresgid(100 + k % 4, 200 + k % 4, 0) < 0)
                _exit(4);
        if (ids && k % 3 == 0 && setresuid(1000 + k % 6, 2000 + k % 6, 0) < 0)
                _exit(5);
        snprintf(name, sizeof(name), "scan-%u", k);
        prctl(PR_SET_NAME, name);
        if (write(ready_fd, "x", 1) != 1)
                _exit(6);
        for (;;)
                pause();
}

/* Waits until pid sleeps (state S, in pause()): a child that has said it is ready may still be
 * running on its way there, and its state would then differ between two scans. */
static void wait_asleep(pid_t pid) {
        char path[64], buf[512], *p;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        for (unsigned tries = 0;; tries++) {
                FILE *f = fopen(path, "re");
                size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

                if (f)
                        fclose(f);
                buf[n] = 0;
                p = strrchr(buf, ')');
                if (p && p[1] == ' ' && p[2] == 'S')
                        return;
                if (tries > 600000) /* 10 min of 1 ms polls: something is wrong, not slow */
                        TEST_FAIL("child %d never went to sleep: %s", (int) pid, buf);
                usleep(1000);
        }
}

static void test_real_scan(void) {
        pid_t kids[CHILDREN];
        int ready[2];
        Digests ref = {}, got = {};
        unsigned n_threads = procfs_scan_default_threads();
        bool ids = geteuid() == 0;

        if (!ids)
                fprintf(stderr, "not root: the children keep our uids and gids\n");
        if (pipe2(ready, O_CLOEXEC) < 0)
                die("pipe2");
        for (unsigned k = 0; k < CHILDREN; k++) {
                kids[k] = fork();
                if (kids[k] < 0)
                        die("fork");
                if (kids[k] == 0)
                        child_main(k, ids, ready[1]);
        }
        for (unsigned k = 0; k < CHILDREN; k++) {
                char c;

                if (read(ready[0], &c, 1) != 1)
                        die("read");
        }
        for (unsigned k = 0; k < CHILDREN; k++)
                wait_asleep(kids[k]);

        /* Nothing of ours changes now: a threaded scan must give what the serial reads give. */
        ASSERT_TRUE(procfs_scan("/proc", MAX(n_threads, 3U), digest_cb, &got) >= 1);
        serial_scan("/proc", &ref);
        for (unsigned k = 0; k < CHILDREN; k++) {
                const Digest *a = digest_find(&ref, kids[k]), *b = digest_find(&got, kids[k]);
                char comm[16];
                bool changed = ids && k % 3 == 0;

                ASSERT_TRUE(a && b);
                if (!digest_equal(a, b))
                        TEST_FAIL("child %u (pid %d): threaded scan differs from serial reads", k, kids[k]);
                /* ...and both say what the child made of itself. */
                snprintf(comm, sizeof(comm), "scan-%u", k);
                ASSERT_EQ(b->error, 0);
                ASSERT_TRUE(streq(b->comm, comm));
                ASSERT_EQ(b->ppid, getpid());
                ASSERT_EQ(b->tgid, kids[k]);
                ASSERT_EQ(b->sid, k % 5 == 0 ? kids[k] : getsid(0));
                ASSERT_EQ(b->threads, k % 7 == 0 ? 2 : 1);
                ASSERT_EQ(b->n_tids, k % 7 == 0 ? 2 : 0);
                ASSERT_EQ(b->ruid, changed ? 1000 + k % 6 : getuid());
                ASSERT_EQ(b->euid, changed ? 2000 + k % 6 : geteuid());
                ASSERT_EQ(b->rgid, changed ? 100 + k % 4 : getgid());
                ASSERT_EQ(b->egid, changed ? 200 + k % 4 : getegid());
                ASSERT_TRUE(b->have & PROCFS_STAT && b->have & PROCFS_STATUS && b->have & PROCFS_ARGV);
                ASSERT_TRUE(b->argv && a->argv && b->argv_len == a->argv_len);
        }
        /* Every listed pid came in ascending order, each once. */
        for (size_t k = 1; k < got.n; k++)
                ASSERT_TRUE(got.d[k - 1].pid < got.d[k].pid);

        for (unsigned k = 0; k < CHILDREN; k++)
                kill(kids[k], SIGKILL);
        for (unsigned k = 0; k < CHILDREN; k++)
                (void) waitpid(kids[k], NULL, 0);
        close(ready[0]);
        close(ready[1]);
        digests_done(&ref);
        digests_done(&got);
}

int main(void) {
        log_setup();
        ASSERT_TRUE(procfs_scan_default_threads() <= PROCFS_SCAN_THREADS_MAX);

        build_tree();
        test_tree_scan();
        remove_tree(tree);
        test_empty_scan();
        test_real_scan();

        fprintf(stderr, "all procfs-scan tests passed\n");
        return EXIT_SUCCESS;
}
