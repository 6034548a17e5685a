/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* exec-bpf: the eBPF exec source: loads bpf/exec.bpf.c, reads its ring buffer and holds each exec's record until it is joined. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "lineage/util.h"

typedef struct ExecBpf ExecBpf;

/* One exec as the kernel ran it, decoded. */
typedef struct BpfExec {
        int32_t tgid, old_tid;          /* old_tid: the thread that called exec */
        uint64_t start_ticks;           /* the instance's start, as /proc/PID/stat field 22 */
        uint64_t mono_ns;               /* CLOCK_MONOTONIC of the exec */
        uint64_t cgroup_id, ino;
        dev_t dev;                      /* of the file the kernel ran (for a script: its interpreter) */
        uint32_t uid, euid, gid, egid, loginuid, sessionid;
        uint32_t file_uid, file_mode;   /* owner and mode of the file the kernel ran, as it ran it */
        uint32_t flags;                 /* EXEC_BPF_* of bpf/exec-record.h */
        char comm[16];
        char *filename;                 /* as exec was given it (bprm->filename); NULL when unreadable */
        char *interp;                   /* what the kernel ran it with, when that differs (#!, binfmt_misc) */
        char *path;                     /* the file's path, walked by the kernel; NULL when not known */
        char *argv;                     /* NUL-separated; NULL when empty or unreadable */
        uint32_t argv_len;

        /* private */
        struct BpfExec *next_pid, *next_all;
        bool taken;
} BpfExec;

enum {
        BPF_EXEC_ARGV_TRUNCATED = 1 << 0,
        BPF_EXEC_ARGV_FAULT = 1 << 1,
        BPF_EXEC_FILENAME_FAULT = 1 << 2,
        BPF_EXEC_INTERP = 1 << 3,
        BPF_EXEC_DELETED = 1 << 4,
        BPF_EXEC_PATH_TRUNCATED = 1 << 5,
};

typedef struct ExecBpfStats {
        uint64_t records;               /* read from the ring buffer */
        uint64_t lost;                  /* dropped by the kernel: the ring buffer was full */
        uint64_t malformed;             /* records too short or inconsistent: dropped */
        uint64_t pending;               /* held, waiting for their connector event */
        uint64_t resolved_cached;       /* executable paths answered from the cache */
} ExecBpfStats;

/* Loads and attaches the program. -errno (the caller logs why, e.g. -EPERM, -ENOENT without BTF);
 * -EOPNOTSUPP when this lineaged was built without it. */
int exec_bpf_new(ExecBpf **ret);
ExecBpf *exec_bpf_free(ExecBpf *b);
/* Watches the ring buffer from the event loop; cb runs after each read that found records. */
int exec_bpf_attach(ExecBpf *b, sd_event *e, void (*cb)(void *userdata), void *userdata);
/* Reads everything the ring buffer holds now. Returns how many records, or -errno. */
int exec_bpf_consume(ExecBpf *b);
/* The oldest held record of the instance (tgid, start_ticks), taken off the table, or NULL. Records of
 * the pid's earlier instances before it are taken off too and come back from exec_bpf_take_stale().
 * Valid until the next exec_bpf_consume() or exec_bpf_take_stale(). */
BpfExec *exec_bpf_take(ExecBpf *b, int32_t tgid, uint64_t start_ticks);
/* The oldest held record that no connector event claimed: older than before_ns, or passed over by
 * exec_bpf_take(). Same validity. */
BpfExec *exec_bpf_take_stale(ExecBpf *b, uint64_t before_ns);
/* Records the kernel dropped since the last call. */
uint64_t exec_bpf_take_lost(ExecBpf *b);
void exec_bpf_get_stats(const ExecBpf *b, ExecBpfStats *ret);

/* The absolute path of the file an exec ran: the one the kernel walked from the file itself (with
 * " (deleted)" when it had no links left, as /proc/PID/exe says); else the name it was given (or its
 * interpreter) made absolute and checked to be the same file (device and inode); else /proc/PID/exe
 * when that is still the same file; else -ENOENT. */
int exec_bpf_resolve(ExecBpf *b, const BpfExec *x, const char *proc_root, char **ret);

DEFINE_TRIVIAL_CLEANUP_FUNC(ExecBpf *, exec_bpf_free);
