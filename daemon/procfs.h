/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* procfs: what events do not carry, read from a procfs root (/proc or a synthetic tree). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lineage/util.h"

#define PROCFS_ARGV_MAX (32U * 1024U)   /* argv bytes kept; longer ones are truncated and flagged */
#define PROCFS_EXE_MAX 4096U
#define PROCFS_NSCABA_LEVELS_MAX 33U    /* levels 0..MAX_PID_NS_LEVEL (32): a task can be 33 levels deep */
#define PROCFS_UNSET_ID UINT32_MAX      /* loginuid/sessionid not set ((uid_t) -1) */
#define PROCFS_ENVIRON_MAX (128U * 1024U) /* environment bytes searched */
#define PROCFS_CGROUP_MAX (16U * 1024U)

/* What to read; a mask so the hot path reads only what it needs. */
enum {
        PROCFS_STAT = 1 << 0,   /* /stat: comm, state, ppid, pgid, sid, start time, threads */
        PROCFS_STATUS = 1 << 1, /* /status: Tgid, PPid, Uid, Gid, NScaba */
        PROCFS_LOGIN = 1 << 2,  /* /loginuid, /sessionid */
        PROCFS_EXE = 1 << 3,    /* /exe link */
        PROCFS_ARGV = 1 << 4,   /* /cmdline */
        PROCFS_ALL = 0x1f,
};

typedef struct ProcNscaba {
        bool present;           /* the line exists: the kernel has the CABA patch */
        bool bare;              /* present but empty: the CABA lies outside the reader's namespace */
        bool malformed;         /* present but unparsable (then n_levels == 0): do not guess */
        unsigned n_levels;
        int32_t levels[PROCFS_NSCABA_LEVELS_MAX]; /* levels[0] = thread id as seen by this procfs; 0 = idle task */
} ProcNscaba;

typedef struct ProcInfo {
        unsigned have;          /* PROCFS_* bits actually read */
        int32_t pid;
        /* stat */
        char comm[64];          /* sanitized: non-printable bytes as \xNN, always NUL-terminated */
        char state;
        int32_t ppid, pgid, sid;
        uint32_t tty_nr;                /* field 7: controlling terminal device, 0 = none */
        uint64_t start_ticks;   /* field 22, clock ticks since boot */
        uint32_t threads;       /* field 20 */
        /* status */
        int32_t tgid;
        uint32_t ruid, euid, rgid, egid;
        uint64_t cap_eff;       /* CapEff: effective capabilities (0 without the line) */
        ProcNscaba nscaba;
        /* login */
        uint32_t loginuid, sessionid; /* PROCFS_UNSET_ID when unset */
        /* exe, argv: malloc'd, NULL when unreadable (kernel thread, gone, no permission) */
        char *exe;
        char *argv;             /* NUL-separated, as in /proc/PID/cmdline, with a final NUL */
        size_t argv_len;        /* bytes including the separators */
        bool argv_truncated;
} ProcInfo;

void proc_info_done(ProcInfo *p);

/* Reads the parts of /proc/PID named by mask, relative to root. Returns 0 on success, -ESRCH if the
 * process is gone (or vanished mid-read), other -errno for unreadable or malformed contents. A part
 * that is merely unreadable (EACCES, kernel thread's exe/cmdline) is left out of ret->have. */
int procfs_read(const char *root, int32_t pid, unsigned mask, ProcInfo *ret);
/* Same, with root given as an open directory: saves walking its path for every process. */
int procfs_read_at(int root_fd, int32_t pid, unsigned mask, ProcInfo *ret);
/* Same for one thread: root/PID/task/TID (stat and status only). */
int procfs_read_task(const char *root, int32_t pid, int32_t tid, unsigned mask, ProcInfo *ret);

/* The numeric entries of root (thread groups), or of root/PID/task (its threads, -ESRCH when it is
 * gone), in ascending order: a malloc'd array. */
int procfs_list_pids(const char *root, int32_t **ret, size_t *ret_n);
int procfs_list_tasks(const char *root, int32_t pid, int32_t **ret, size_t *ret_n);
/* Enumerates thread groups (numeric entries of root) in ascending pid order. cb returning < 0 stops. */
typedef int (*ProcfsPidCallback)(int32_t pid, void *userdata);
int procfs_foreach_pid(const char *root, ProcfsPidCallback cb, void *userdata);
/* Enumerates the thread ids of root/PID/task (including the leader). */
int procfs_foreach_task(const char *root, int32_t pid, ProcfsPidCallback cb, void *userdata);

/* The thread group of a thread id, via root/TID/status (any tid, listed or not); -1 if unreadable. */
int32_t procfs_resolve_tgid(const char *root, int32_t tid);
/* The thread group of the kernel's CABA in info's NScaba: line (0: the idle task, a kernel root).
 * -EOPNOTSUPP without the patch, -ENODATA when outside our namespace or malformed, -ESRCH when that
 * thread is gone already. */
int procfs_nscaba_tgid(const char *root, const ProcInfo *info, int32_t *ret_tgid);

/* Parsers, exposed for tests and fuzzers. Inputs are not NUL-terminated; len is the byte count. */
int procfs_parse_stat(const char *buf, size_t len, ProcInfo *p);
int procfs_parse_status(const char *buf, size_t len, ProcInfo *p);
/* Parses the value part of "NScaba:" (the text after the colon, up to the end of line). */
int procfs_parse_nscaba(const char *value, size_t len, ProcNscaba *ret);
/* Copies comm into dst (size dstsz), escaping bytes that are not printable ASCII as \xNN. */
void procfs_sanitize_comm(const char *src, size_t len, char *dst, size_t dstsz);

/* The value of one environment variable of root/PID (its environment as it was at exec): malloc'd.
 * -ENOENT if unset, -ESRCH if the process is gone, -EACCES if not ours to read. */
int procfs_read_environ_var(const char *root, int32_t pid, const char *name, char **ret);
/* The process's cgroup path (unified hierarchy, else the legacy name=systemd one): malloc'd. */
int procfs_read_cgroup(const char *root, int32_t pid, char **ret);

#define PROCFS_CONTAINER_ID_LEN 64U     /* a container id: 64 lowercase hex digits */
/* The container a cgroup path names, innermost first: a component docker-ID.scope, libpod-ID.scope,
 * cri-containerd-ID.scope or crio-ID.scope (systemd driver), or ID right below a "docker" component
 * or anywhere below a kubepods one (cgroupfs driver). ID must be exactly 64 lowercase hex digits.
 * Writes it to ret (at least PROCFS_CONTAINER_ID_LEN + 1 bytes); returns 1 if found, 0 if none. */
int procfs_container_id(const char *cgroup, char ret[static PROCFS_CONTAINER_ID_LEN + 1]);

/* The peer of an established TCP connection the process holds (an sshd session's client), as text
 * into addr. -ENOENT when it holds none. */
int procfs_read_tcp_peer(const char *root, int32_t pid, char *addr, size_t addr_size, unsigned *ret_port);

/* Whether root/PID runs a root-owned regular file that group and others cannot write, found at the path
 * its exe link names (that path reaches the same device and inode in our mount namespace: not deleted,
 * not replaced since). 1 yes, 0 no, -ESRCH gone, other -errno unreadable. */
int procfs_exe_root_owned(const char *root, int32_t pid);

/* The kernel's clock tick (sysconf(_SC_CLK_TCK)), for start times. */
uint64_t procfs_clock_ticks(void);
