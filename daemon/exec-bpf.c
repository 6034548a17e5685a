/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The eBPF exec source: one ring-buffer record per exec, held per pid until the connector's exec event claims it. */
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "exec-bpf.h"
#include "hashmap.h"
#include "procfs.h"

#if HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "exec-record.h"
#include "exec.skel.h"

#define PENDING_MAX 65536U      /* held records; beyond, the oldest are handed out as stale */
#define PATH_CACHE_MAX 4096U
#define START_TICKS_SLACK 1

/* A resolved executable path, for a name the kernel was given and the file it found. */
typedef struct PathEntry {
        dev_t dev;
        uint64_t ino;
        char *name;
        char *path;
} PathEntry;

struct ExecBpf {
        struct exec_bpf *skel;
        struct ring_buffer *rb;
        sd_event_source *io;
        void (*cb)(void *userdata);
        void *userdata;
        Hashmap *by_pid;                /* tgid -> oldest held BpfExec of that pid (next_pid chain) */
        BpfExec *all_head, **all_tail;  /* every record in arrival order, taken ones until popped */
        Hashmap *paths;                 /* hash(name, dev, ino) -> PathEntry */
        uint64_t lost_seen, lost_reported;
        uint64_t tick_ns;
        ExecBpfStats stats;
};

static void bpf_exec_free(BpfExec *x) {
        if (!x)
                return;
        free(x->filename);
        free(x->interp);
        free(x->path);
        free(x->argv);
        free(x);
}

static void path_entry_free(PathEntry *e) {
        if (!e)
                return;
        free(e->name);
        free(e->path);
        free(e);
}

static void paths_clear(ExecBpf *b) {
        size_t state = 0;
        void *v;

        while (hashmap_iterate(b->paths, &state, NULL, &v))
                path_entry_free(v);
        hashmap_free(b->paths);
        b->paths = NULL;
}

ExecBpf *exec_bpf_free(ExecBpf *b) {
        BpfExec *x, *n;

        if (!b)
                return NULL;
        sd_event_source_disable_unref(b->io);
        ring_buffer__free(b->rb);
        exec_bpf__destroy(b->skel);
        for (x = b->all_head; x; x = n) {
                n = x->next_all;
                bpf_exec_free(x);
        }
        hashmap_free(b->by_pid);
        paths_clear(b);
        free(b);
        return NULL;
}

static char *copy_str(const char *p, uint32_t len) {
        if (len == 0)
                return NULL;
        return strndup(p, len); /* stops at the NUL the kernel wrote */
}

/* "/a/b/c" from the components "c\0b\0a\0" (last first, as the kernel walked them). */
static char *join_path(const char *comps, uint32_t len) {
        const char *starts[EXEC_BPF_PATH_DEPTH];
        size_t n = 0, total = 1;
        char *p, *w;

        if (len == 0 || comps[len - 1] != 0)
                return NULL;
        for (uint32_t o = 0; o < len; o += (uint32_t) strlen(comps + o) + 1) {
                if (n >= EXEC_BPF_PATH_DEPTH || comps[o] == 0 || strchr(comps + o, '/'))
                        return NULL; /* not what the program writes */
                starts[n++] = comps + o;
                total += strlen(comps + o) + 1;
        }
        p = w = malloc(total);
        if (!p)
                return NULL;
        while (n > 0)
                w = stpcpy(stpcpy(w, "/"), starts[--n]);
        return p;
}

/* Appends a decoded record to its pid's chain and to the arrival order. */
static int hold(ExecBpf *b, BpfExec *x) {
        BpfExec *head = hashmap_get(b->by_pid, (uint64_t) x->tgid);
        int r;

        if (head) {
                while (head->next_pid)
                        head = head->next_pid;
                head->next_pid = x;
        } else {
                r = hashmap_put(b->by_pid, (uint64_t) x->tgid, x);
                if (r < 0)
                        return r;
        }
        *b->all_tail = x;
        b->all_tail = &x->next_all;
        b->stats.pending++;
        return 0;
}

static int on_record(void *ctx, void *data, size_t size) {
        ExecBpf *b = ctx;
        const struct exec_bpf_record *r = data;
        const char *d = (const char *) (r + 1);
        BpfExec *x;

        b->stats.records++;
        if (size < sizeof(*r) || r->tgid <= 0 || r->filename_len > EXEC_BPF_FILENAME_MAX ||
            r->interp_len > EXEC_BPF_FILENAME_MAX || r->argv_len > EXEC_BPF_ARGV_MAX ||
            r->path_len > EXEC_BPF_PATH_DEPTH * EXEC_BPF_NAME_MAX ||
            size - sizeof(*r) < (size_t) r->filename_len + r->interp_len + r->path_len + r->argv_len) {
                b->stats.malformed++;
                return 0;
        }
        x = calloc(1, sizeof(BpfExec));
        if (!x)
                return -ENOMEM;
        *x = (BpfExec) {
                .tgid = r->tgid, .old_tid = r->old_tid, .start_ticks = r->start_boottime / b->tick_ns,
                .mono_ns = r->ktime, .cgroup_id = r->cgroup_id, .ino = r->ino,
                .dev = makedev(r->dev >> 20, r->dev & 0xfffff),
                .uid = r->uid, .euid = r->euid, .gid = r->gid, .egid = r->egid,
                .loginuid = r->loginuid, .sessionid = r->sessionid, .flags = r->flags,
                .file_uid = r->file_uid, .file_mode = r->file_mode,
        };
        memcpy(x->comm, r->comm, sizeof(x->comm));
        x->comm[sizeof(x->comm) - 1] = 0;
        x->filename = copy_str(d, r->filename_len);
        if (r->flags & EXEC_BPF_INTERP)
                x->interp = copy_str(d + r->filename_len, r->interp_len);
        x->path = join_path(d + r->filename_len + r->interp_len, r->path_len);
        if (r->argv_len > 0) {
                x->argv = malloc(r->argv_len);
                if (x->argv) {
                        memcpy(x->argv, d + r->filename_len + r->interp_len + r->path_len, r->argv_len);
                        x->argv_len = r->argv_len;
                        /* argv promises a final NUL, like /proc/PID/cmdline; a truncated one gets one. */
                        x->argv[x->argv_len - 1] = 0;
                }
        }
        if ((r->filename_len > 0 && !x->filename) || hold(b, x) < 0) {
                bpf_exec_free(x);
                return -ENOMEM;
        }
        return 0;
}

/* libbpf's messages (the verifier's log on a failed load is long): debug level only; the caller logs
 * the failure once. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap) {
        char buf[1024];

        if (log_max_level < LOG_LEVEL_DEBUG)
                return 0;
        vsnprintf(buf, sizeof(buf), fmt, ap);
        log_debug("libbpf: %s", buf);
        return 0;
}

int exec_bpf_new(ExecBpf **ret) {
        _cleanup_(exec_bpf_freep) ExecBpf *b = NULL;
        int r, ncpus;

        libbpf_set_print(libbpf_log);
        b = calloc(1, sizeof(ExecBpf));
        if (!b)
                return -ENOMEM;
        b->all_tail = &b->all_head;
        b->tick_ns = NSEC_PER_SEC / procfs_clock_ticks();
        r = hashmap_new(&b->by_pid);
        if (r < 0)
                return r;
        r = hashmap_new(&b->paths);
        if (r < 0)
                return r;
        b->skel = exec_bpf__open();
        if (!b->skel)
                return -errno ?: -EINVAL;
        ncpus = libbpf_num_possible_cpus();
        if (ncpus <= 0)
                return ncpus < 0 ? ncpus : -EINVAL;
        /* One scratch slot per CPU: the record is built there (see exec.bpf.c). */
        r = bpf_map__set_max_entries(b->skel->maps.scratch, (uint32_t) ncpus);
        if (r < 0)
                return r;
        r = exec_bpf__load(b->skel);
        if (r < 0)
                return r;
        r = exec_bpf__attach(b->skel);
        if (r < 0)
                return r;
        b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), on_record, b, NULL);
        if (!b->rb)
                return -errno ?: -EINVAL;
        *ret = TAKE_PTR(b);
        return 0;
}

int exec_bpf_consume(ExecBpf *b) {
        return ring_buffer__consume(b->rb);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ExecBpf *b = userdata;
        int n = exec_bpf_consume(b);

        if (n < 0)
                log_warning_errno(n, "Failed to read the eBPF exec ring buffer: %m");
        if (b->cb)
                b->cb(b->userdata);
        return 0;
}

int exec_bpf_attach(ExecBpf *b, sd_event *e, void (*cb)(void *userdata), void *userdata) {
        b->cb = cb;
        b->userdata = userdata;
        return sd_event_add_io(e, &b->io, ring_buffer__epoll_fd(b->rb), EPOLLIN, on_io, b);
}

static bool ticks_match(uint64_t a, uint64_t b) {
        return a + START_TICKS_SLACK >= b && b + START_TICKS_SLACK >= a;
}

/* Takes x (the head of its pid's chain) off the chain. */
static void unlink_head(ExecBpf *b, BpfExec *x) {
        if (x->next_pid)
                (void) hashmap_replace(b->by_pid, (uint64_t) x->tgid, x->next_pid);
        else
                (void) hashmap_remove(b->by_pid, (uint64_t) x->tgid);
        x->next_pid = NULL;
        x->taken = true;
        b->stats.pending--;
}

BpfExec *exec_bpf_take(ExecBpf *b, int32_t tgid, uint64_t start_ticks) {
        BpfExec *x;

        while ((x = hashmap_get(b->by_pid, (uint64_t) tgid))) {
                if (ticks_match(x->start_ticks, start_ticks)) {
                        unlink_head(b, x);
                        return x;
                }
                if (x->start_ticks > start_ticks)
                        return NULL; /* a later instance's: not ours, and none of ours is held */
                /* An earlier instance of the pid that no connector event claimed: stale. */
                unlink_head(b, x);
                x->taken = false;
        }
        return NULL;
}

BpfExec *exec_bpf_take_stale(ExecBpf *b, uint64_t before_ns) {
        BpfExec *x;

        /* Free what was handed out before; stop at the first record still held. */
        while ((x = b->all_head) && x->taken) {
                b->all_head = x->next_all;
                if (!b->all_head)
                        b->all_tail = &b->all_head;
                bpf_exec_free(x);
        }
        if (!x)
                return NULL;
        if (hashmap_get(b->by_pid, (uint64_t) x->tgid) != x) {
                /* Passed over by exec_bpf_take(): already off its chain. */
                x->taken = true;
                return x;
        }
        if (x->mono_ns >= before_ns && b->stats.pending <= PENDING_MAX)
                return NULL;
        unlink_head(b, x);
        return x;
}

uint64_t exec_bpf_take_lost(ExecBpf *b) {
        uint32_t zero = 0;
        uint64_t n = 0, d;

        if (bpf_map__lookup_elem(b->skel->maps.lost, &zero, sizeof(zero), &n, sizeof(n), 0) < 0)
                return 0;
        b->lost_seen = n;
        d = b->lost_seen - b->lost_reported;
        b->lost_reported = b->lost_seen;
        b->stats.lost += d;
        return d;
}

void exec_bpf_get_stats(const ExecBpf *b, ExecBpfStats *ret) {
        *ret = b->stats;
}

static uint64_t path_key(const char *name, dev_t dev, uint64_t ino) {
        uint64_t h = 1469598103934665603ULL ^ ino ^ ((uint64_t) dev << 32);

        for (const unsigned char *p = (const unsigned char *) name; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
        return h;
}

/* Whether path names the file (dev, ino) now. */
static bool same_file(const char *path, dev_t dev, uint64_t ino) {
        struct stat st;

        return stat(path, &st) >= 0 && st.st_dev == dev && (uint64_t) st.st_ino == ino;
}

/* realpath() of name, if that is the file (dev, ino). */
static char *resolve_name(const char *name, dev_t dev, uint64_t ino) {
        char *p = realpath(name, NULL);

        if (p && !same_file(p, dev, ino)) {
                free(p);
                return NULL;
        }
        return p;
}

static void cache_path(ExecBpf *b, const char *name, dev_t dev, uint64_t ino, const char *path) {
        PathEntry *e;

        if (hashmap_size(b->paths) >= PATH_CACHE_MAX) {
                paths_clear(b);
                if (hashmap_new(&b->paths) < 0)
                        return;
        }
        e = calloc(1, sizeof(PathEntry));
        if (!e)
                return;
        *e = (PathEntry) { .dev = dev, .ino = ino, .name = strdup(name), .path = strdup(path) };
        if (!e->name || !e->path || hashmap_put(b->paths, path_key(name, dev, ino), e) < 0)
                path_entry_free(e);
}

/* /proc/PID/exe (or /proc/PID/cwd joined with a relative name), if the process is still there and
 * that is still the file it exec'd. */
static char *resolve_from_proc(const char *proc_root, const BpfExec *x, const char *name) {
        char link[PATH_MAX], buf[PATH_MAX];
        ssize_t n;

        snprintf(link, sizeof(link), "%s/%d/exe", proc_root, x->tgid);
        if (same_file(link, x->dev, x->ino) && (n = readlink(link, buf, sizeof(buf) - 1)) > 0) {
                buf[n] = 0;
                return strdup(buf);
        }
        if (!name || name[0] == '/')
                return NULL;
        snprintf(link, sizeof(link), "%s/%d/cwd", proc_root, x->tgid);
        n = readlink(link, buf, sizeof(buf) - 1);
        if (n <= 0)
                return NULL;
        buf[n] = 0;
        if (snprintf(link, sizeof(link), "%s/%s", buf, name) >= (int) sizeof(link))
                return NULL;
        return resolve_name(link, x->dev, x->ino);
}

int exec_bpf_resolve(ExecBpf *b, const BpfExec *x, const char *proc_root, char **ret) {
        const char *name = x->interp ?: x->filename;
        PathEntry *e;
        char *p;

        /* /dev/fd/N (fexecve) names nothing once the exec closed the descriptor: /proc only. */
        bool absolute;

        if (x->path) {
                if (x->flags & BPF_EXEC_DELETED)
                        return asprintf(ret, "%s (deleted)", x->path) < 0 ? -ENOMEM : 0;
                *ret = strdup(x->path);
                return *ret ? 0 : -ENOMEM;
        }
        absolute = name && name[0] == '/' && strncmp(name, "/dev/fd/", 8) != 0 && strncmp(name, "/proc/", 6) != 0;

        if (absolute) {
                e = hashmap_get(b->paths, path_key(name, x->dev, x->ino));
                if (e && e->dev == x->dev && e->ino == x->ino && streq(e->name, name)) {
                        b->stats.resolved_cached++;
                        *ret = strdup(e->path);
                        return *ret ? 0 : -ENOMEM;
                }
                p = resolve_name(name, x->dev, x->ino);
                if (p) {
                        cache_path(b, name, x->dev, x->ino, p);
                        *ret = p;
                        return 0;
                }
        }
        p = resolve_from_proc(proc_root, x, name);
        if (p) {
                *ret = p;
                return 0;
        }
        if (absolute && (x->flags & BPF_EXEC_DELETED)) {
                /* Gone from the file system, as /proc/PID/exe would say it. */
                if (asprintf(ret, "%s (deleted)", name) < 0)
                        return -ENOMEM;
                return 0;
        }
        return -ENOENT;
}

#else /* !HAVE_BPF */

int exec_bpf_new(ExecBpf **ret) {
        return -EOPNOTSUPP;
}
ExecBpf *exec_bpf_free(ExecBpf *b) {
        return NULL;
}
int exec_bpf_attach(ExecBpf *b, sd_event *e, void (*cb)(void *userdata), void *userdata) {
        return -EOPNOTSUPP;
}
int exec_bpf_consume(ExecBpf *b) {
        return 0;
}
BpfExec *exec_bpf_take(ExecBpf *b, int32_t tgid, uint64_t start_ticks) {
        return NULL;
}
BpfExec *exec_bpf_take_stale(ExecBpf *b, uint64_t before_ns) {
        return NULL;
}
uint64_t exec_bpf_take_lost(ExecBpf *b) {
        return 0;
}
void exec_bpf_get_stats(const ExecBpf *b, ExecBpfStats *ret) {
        *ret = (ExecBpfStats) {};
}
int exec_bpf_resolve(ExecBpf *b, const BpfExec *x, const char *proc_root, char **ret) {
        return -EOPNOTSUPP;
}

#endif
