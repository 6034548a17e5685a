/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* procfs-scan: reads /proc/PID of every thread group on a few threads, handed over in pid order on the caller's. */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include "procfs-scan.h"

/* Pids per unit of work, and how many units may be read ahead of the one being handed over: a scan
 * holds at most WINDOW * CHUNK items (about 700 KiB) whatever the number of processes. */
#define CHUNK 64U
#define WINDOW 32U
/* The deepest reader frame holds one cmdline buffer (32 KiB) and a ProcInfo. */
#define READER_STACK_SIZE (256U * 1024U)

typedef struct Scan {
        const char *root;
        int root_fd;
        const int32_t *pids;
        size_t n_pids, n_chunks;
        ProcScanItem *items;            /* window slots of CHUNK items; chunk c uses slot c % window */
        size_t window;
        bool *done;                     /* slot read by a reader thread, not handed over yet */
        size_t next;                    /* the next chunk to read: all below are taken */
        size_t handed;                  /* chunks handed over: their slots are free */
        bool stop;
        pthread_mutex_t lock;
        pthread_cond_t can_read;        /* a slot became free, or stop */
        pthread_cond_t chunk_done;      /* a reader finished a chunk */
} Scan;

static void read_item(const char *root, int root_fd, int32_t pid, ProcScanItem *it) {
        int32_t tgid;

        *it = (ProcScanItem) { .pid = pid, .caba_tgid = -1 };
        it->error = procfs_read_at(root_fd, pid, PROCFS_ALL, &it->info);
        if (it->error < 0)
                return;
        /* Unreadable thread lists (gone meanwhile) leave tids empty, as events will tell the rest. */
        if (it->info.threads > 1)
                (void) procfs_list_tasks(root, pid, &it->tids, &it->n_tids);
        if (procfs_nscaba_tgid(root, &it->info, &tgid) >= 0)
                it->caba_tgid = tgid;
}

static void item_done(ProcScanItem *it) {
        proc_info_done(&it->info);
        free(it->tids);
        it->tids = NULL;
        it->n_tids = 0;
}

static ProcScanItem *chunk_items(Scan *s, size_t c, size_t *ret_n) {
        *ret_n = MIN((size_t) CHUNK, s->n_pids - c * CHUNK);
        return s->items + (c % s->window) * CHUNK;
}

static void read_chunk(Scan *s, size_t c) {
        size_t n;
        ProcScanItem *it = chunk_items(s, c, &n);

        for (size_t k = 0; k < n; k++)
                read_item(s->root, s->root_fd, s->pids[c * CHUNK + k], &it[k]);
}

static int hand_over(Scan *s, size_t c, ProcScanCallback cb, void *userdata) {
        size_t n;
        ProcScanItem *it = chunk_items(s, c, &n);
        int r = 0;

        for (size_t k = 0; k < n; k++) {
                if (r >= 0)
                        r = cb(&it[k], userdata);
                item_done(&it[k]);
        }
        return r;
}

/* Takes the next chunk if the window has room for it; called with the lock held. */
static bool take_chunk(Scan *s, size_t *ret) {
        if (s->stop || s->next >= s->n_chunks || s->next >= s->handed + s->window)
                return false;
        *ret = s->next++;
        return true;
}

/* Reads chunk c without the lock, then marks it done; called with the lock held. */
static void read_chunk_unlocked(Scan *s, size_t c) {
        pthread_mutex_unlock(&s->lock);
        read_chunk(s, c);
        pthread_mutex_lock(&s->lock);
        s->done[c % s->window] = true;
}

static void *reader(void *userdata) {
        Scan *s = userdata;

        /* A private copy of the fd table: threads sharing one take its lock for every open and close,
         * and the kernel counts references on every fd use. Our opens and closes touch nobody else's
         * descriptors, and POSIX locks (SQLite's) stay with the table that took them. */
        if (unshare(CLONE_FILES) < 0)
                log_debug_errno(errno, "Failed to unshare the fd table of a /proc reader, ignoring: %m");
        pthread_mutex_lock(&s->lock);
        while (!s->stop && s->next < s->n_chunks) {
                size_t c;

                if (!take_chunk(s, &c)) {
                        pthread_cond_wait(&s->can_read, &s->lock);
                        continue;
                }
                read_chunk_unlocked(s, c);
                pthread_cond_signal(&s->chunk_done);
        }
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

/* Starts up to n readers; returns how many run. They take no signals: those are the event loop's. */
static unsigned start_readers(Scan *s, pthread_t *threads, unsigned n) {
        pthread_attr_t attr;
        sigset_t all, old;
        unsigned started = 0;

        if (n == 0 || pthread_attr_init(&attr) != 0)
                return 0;
        (void) pthread_attr_setstacksize(&attr, READER_STACK_SIZE);
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        for (; started < n; started++) {
                int r = pthread_create(&threads[started], &attr, reader, s);

                if (r != 0) {
                        log_debug_errno(r, "Failed to start a /proc reader thread, scanning with %u: %m", started);
                        break;
                }
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        return started;
}

/* The caller's part: hands the chunks over in order. While the next one is not read yet, it reads
 * whatever chunk comes next itself rather than wait. */
static int run(Scan *s, ProcScanCallback cb, void *userdata) {
        int r = 0;

        for (size_t c = 0; c < s->n_chunks && r >= 0; c++) {
                pthread_mutex_lock(&s->lock);
                while (!s->done[c % s->window]) {
                        size_t k;

                        if (take_chunk(s, &k))
                                read_chunk_unlocked(s, k);
                        else
                                pthread_cond_wait(&s->chunk_done, &s->lock);
                }
                pthread_mutex_unlock(&s->lock);
                r = hand_over(s, c, cb, userdata);
                pthread_mutex_lock(&s->lock);
                s->done[c % s->window] = false;
                s->handed = c + 1;
                if (r < 0)
                        s->stop = true;
                pthread_cond_broadcast(&s->can_read);
                pthread_mutex_unlock(&s->lock);
        }
        return r;
}

int procfs_scan(const char *root, unsigned n_threads, ProcScanCallback cb, void *userdata) {
        pthread_t threads[PROCFS_SCAN_THREADS_MAX];
        _cleanup_free_ int32_t *pids = NULL;
        _cleanup_free_ ProcScanItem *items = NULL;
        _cleanup_free_ bool *done = NULL;
        _cleanup_close_ int root_fd = -1;
        Scan s = {
                .root = root,
                .lock = PTHREAD_MUTEX_INITIALIZER,
                .can_read = PTHREAD_COND_INITIALIZER,
                .chunk_done = PTHREAD_COND_INITIALIZER,
        };
        unsigned started;
        int r;

        if (!root || !cb)
                return -EINVAL;
        /* Each process is opened relative to this: one path walk for the root, not one per process. */
        root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return -errno;
        r = procfs_list_pids(root, &pids, &s.n_pids);
        if (r < 0)
                return r;
        if (s.n_pids == 0)
                return 1;
        s.pids = pids;
        s.root_fd = root_fd;
        s.n_chunks = (s.n_pids + CHUNK - 1) / CHUNK;
        s.window = MIN((size_t) WINDOW, s.n_chunks);
        items = calloc(s.window * CHUNK, sizeof(ProcScanItem));
        done = calloc(s.window, sizeof(bool));
        if (!items || !done)
                return -ENOMEM;
        s.items = items;
        s.done = done;

        n_threads = MIN(n_threads, PROCFS_SCAN_THREADS_MAX);
        started = start_readers(&s, threads, (unsigned) MIN((size_t) n_threads, s.n_chunks - 1));
        r = run(&s, cb, userdata);
        for (unsigned k = 0; k < started; k++)
                pthread_join(threads[k], NULL);
        /* Stopped early: chunks read ahead were never handed over. */
        for (size_t c = s.handed; c < s.next; c++) {
                size_t n;
                ProcScanItem *it = chunk_items(&s, c, &n);

                for (size_t k = 0; k < n; k++)
                        item_done(&it[k]);
        }
        return r < 0 ? r : (int) started + 1;
}

unsigned procfs_scan_default_threads(void) {
        cpu_set_t set;
        long n;

        if (sched_getaffinity(0, sizeof(set), &set) == 0)
                n = CPU_COUNT(&set);
        else
                n = sysconf(_SC_NPROCESSORS_ONLN);
        if (n <= 1)
                return 0;
        return (unsigned) MIN((unsigned long) n - 1, (unsigned long) PROCFS_SCAN_THREADS_MAX);
}
