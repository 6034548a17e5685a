// SPDX-License-Identifier: GPL-2.0-only
/* The eBPF exec source: on every exec, what the kernel ran (file, names, argv, ids) into a ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "exec-record.h"

char LICENSE[] SEC("license") = "GPL";

#define RING_SIZE (16 * 1024 * 1024)

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, RING_SIZE);
} events SEC(".maps");

/* Records that did not fit into the ring buffer: the daemon turns a rise into a gap. */
struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, __u64);
} lost SEC(".maps");

/* The record is built here (it is too big for the stack), then copied to the ring at its real size.
 * One slot per CPU (the daemon sizes the map to the possible CPUs before loading): a per-CPU array
 * cannot hold values this big, and tracepoint programs run with preemption off, so a CPU's slot is
 * not shared with another exec. */
struct scratch {
        struct exec_bpf_record rec;
        char data[EXEC_BPF_DATA_MAX];
};

struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct scratch);
} scratch SEC(".maps");

static __always_inline void count_lost(void) {
        __u32 zero = 0;
        __u64 *n = bpf_map_lookup_elem(&lost, &zero);

        if (n)
                __sync_fetch_and_add(n, 1);
}

static __always_inline __u32 read_str(char *dst, const char *src) {
        long n = bpf_probe_read_kernel_str(dst, EXEC_BPF_FILENAME_MAX, src);

        return n > 0 ? (__u32) n : 0;
}

/* The path of the file the kernel ran, walked from its dentry up through its mounts (bpf_d_path() is
 * not allowed on raw tracepoints): component names, last first. One step per bpf_loop() iteration, so
 * the verifier checks the step once. */
struct path_walk {
        struct dentry *dentry;
        struct vfsmount *vfsmnt;
        __u32 off, n;
        int done;               /* 1: reached the root; -1: failed */
};

static long path_step(__u32 index, void *ctx) {
        struct path_walk *w = ctx;
        /* Plain locals: a BPF_CORE_READ() through w would be relocated against struct path_walk. */
        struct dentry *dentry = w->dentry, *root, *parent;
        struct vfsmount *vfsmnt = w->vfsmnt;
        struct mount *mnt = container_of(vfsmnt, struct mount, mnt), *up;
        __u32 cpu = bpf_get_smp_processor_id(), n = w->n, off = w->off;
        struct scratch *s;
        long len;

        root = BPF_CORE_READ(vfsmnt, mnt_root);
        parent = BPF_CORE_READ(dentry, d_parent);
        if (dentry == root || dentry == parent) {
                /* The top of this mount: continue from where it is mounted, if anywhere. */
                up = BPF_CORE_READ(mnt, mnt_parent);
                if (up == mnt || dentry != root) {
                        w->done = 1;
                        return 1;
                }
                w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
                w->vfsmnt = &up->mnt;
                return 0;
        }
        s = bpf_map_lookup_elem(&scratch, &cpu);
        if (!s || n > (EXEC_BPF_PATH_DEPTH - 1) * EXEC_BPF_NAME_MAX) {
                w->done = -1;
                return 1;
        }
        len = bpf_probe_read_kernel_str(&s->data[(off + n) & EXEC_BPF_OFF_MASK], EXEC_BPF_NAME_MAX,
                                        BPF_CORE_READ(dentry, d_name.name));
        if (len <= 0) {
                w->done = -1;
                return 1;
        }
        w->n = n + (__u32) len;
        w->dentry = parent;
        return 0;
}

static __always_inline __u32 read_path(struct scratch *s, struct file *file, __u32 off) {
        struct path_walk w = {
                .dentry = BPF_CORE_READ(file, f_path.dentry),
                .vfsmnt = BPF_CORE_READ(file, f_path.mnt),
                .off = off,
        };

        bpf_loop(EXEC_BPF_PATH_DEPTH * 2, path_step, &w, 0);
        if (w.done != 1) {
                s->rec.flags |= EXEC_BPF_PATH_TRUNCATED;
                return 0;
        }
        return w.n;
}

/* argv of the new image, from its stack (the current task's own memory). */
static __always_inline void read_argv(struct scratch *s, struct task_struct *task, __u32 off) {
        struct mm_struct *mm = BPF_CORE_READ(task, mm);
        unsigned long start = BPF_CORE_READ(mm, arg_start), end = BPF_CORE_READ(mm, arg_end);
        __u64 len = end > start ? end - start : 0;

        if (len > EXEC_BPF_ARGV_MAX) {
                len = EXEC_BPF_ARGV_MAX;
                s->rec.flags |= EXEC_BPF_ARGV_TRUNCATED;
        }
        off &= EXEC_BPF_OFF_MASK;
        asm volatile("" : "+r"(len));
        if (len == 0 || len > EXEC_BPF_ARGV_MAX)
                return;
        if (bpf_probe_read_user(&s->data[off], len, (const void *) start) < 0) {
                s->rec.flags |= EXEC_BPF_ARGV_FAULT;
                return;
        }
        s->rec.argv_len = (__u32) len;
}

SEC("raw_tp/sched_process_exec")
int lineage_exec(struct bpf_raw_tracepoint_args *ctx) {
        struct task_struct *task = (struct task_struct *) ctx->args[0];
        struct linux_binprm *bprm = (struct linux_binprm *) ctx->args[2];
        const char *filename, *interp;
        struct scratch *s;
        struct inode *inode;
        __u32 cpu = bpf_get_smp_processor_id(), off;
        __u64 size;
        __u64 id = bpf_get_current_pid_tgid(), wakeup;

        s = bpf_map_lookup_elem(&scratch, &cpu);
        if (!s)
                return 0;
        __builtin_memset(&s->rec, 0, sizeof(s->rec));
        s->rec.tgid = (__s32) (id >> 32);
        s->rec.old_tid = (__s32) ctx->args[1];
        s->rec.ktime = bpf_ktime_get_ns();
        s->rec.start_boottime = BPF_CORE_READ(task, start_boottime);
        s->rec.cgroup_id = bpf_get_current_cgroup_id();
        s->rec.uid = BPF_CORE_READ(task, cred, uid.val);
        s->rec.euid = BPF_CORE_READ(task, cred, euid.val);
        s->rec.gid = BPF_CORE_READ(task, cred, gid.val);
        s->rec.egid = BPF_CORE_READ(task, cred, egid.val);
        s->rec.loginuid = BPF_CORE_READ(task, loginuid.val);
        s->rec.sessionid = BPF_CORE_READ(task, sessionid);
        bpf_get_current_comm(s->rec.comm, sizeof(s->rec.comm));
        inode = BPF_CORE_READ(bprm, file, f_inode);
        s->rec.ino = BPF_CORE_READ(inode, i_ino);
        s->rec.dev = BPF_CORE_READ(inode, i_sb, s_dev);
        s->rec.file_uid = BPF_CORE_READ(inode, i_uid.val);
        s->rec.file_mode = BPF_CORE_READ(inode, i_mode);
        if (BPF_CORE_READ(inode, __i_nlink) == 0)
                s->rec.flags |= EXEC_BPF_DELETED;

        filename = BPF_CORE_READ(bprm, filename);
        interp = BPF_CORE_READ(bprm, interp);
        s->rec.filename_len = read_str(s->data, filename);
        if (s->rec.filename_len == 0)
                s->rec.flags |= EXEC_BPF_FILENAME_FAULT;
        off = s->rec.filename_len;
        if (interp && interp != filename) {
                s->rec.flags |= EXEC_BPF_INTERP;
                s->rec.interp_len = read_str(&s->data[off & (EXEC_BPF_FILENAME_MAX * 2 - 1)], interp);
                off += s->rec.interp_len;
        }
        off &= 4 * EXEC_BPF_FILENAME_MAX - 1;
        s->rec.path_len = read_path(s, BPF_CORE_READ(bprm, file), off);
        off += s->rec.path_len;
        read_argv(s, task, off);
        /* The daemon reads the ring with each batch of connector events (every exec sends one), so
         * it is woken only when the ring fills up, not for every record. */
        wakeup = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > RING_SIZE / 4 ? BPF_RB_FORCE_WAKEUP
                                                                                : BPF_RB_NO_WAKEUP;
        size = sizeof(s->rec) + (off & (EXEC_BPF_OFF_MASK)) + s->rec.argv_len;
        asm volatile("" : "+r"(size));
        if (size > sizeof(*s))
                return 0;
        if (bpf_ringbuf_output(&events, s, size, wakeup) < 0)
                count_lost();
        return 0;
}
