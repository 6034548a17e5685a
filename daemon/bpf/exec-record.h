/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The record exec.bpf.c writes to its ring buffer for every exec: shared by the eBPF program and the daemon. */
#pragma once

#define EXEC_BPF_FILENAME_MAX 4096U     /* bprm->filename and bprm->interp, each (PATH_MAX) */
#define EXEC_BPF_ARGV_MAX (32U * 1024U) /* as PROCFS_ARGV_MAX */
#define EXEC_BPF_PATH_DEPTH 48U         /* path components of the file walked up to its root */
#define EXEC_BPF_NAME_MAX 256U          /* one component, with its NUL (NAME_MAX + 1) */
/* The variable part holds filename, interp (when it differs) and argv, one after the other; offsets are
 * masked for the verifier, so the buffer leaves room for each part at its largest masked offset. */
#define EXEC_BPF_OFF_MASK (32U * 1024U - 1U) /* path components and argv start below 32 KiB */
#define EXEC_BPF_DATA_MAX (EXEC_BPF_OFF_MASK + 1U + EXEC_BPF_ARGV_MAX + EXEC_BPF_NAME_MAX)

enum {
        EXEC_BPF_ARGV_TRUNCATED = 1 << 0,  /* argv was longer than EXEC_BPF_ARGV_MAX */
        EXEC_BPF_ARGV_FAULT = 1 << 1,      /* reading argv from the new image's stack failed */
        EXEC_BPF_FILENAME_FAULT = 1 << 2,  /* reading bprm->filename failed */
        EXEC_BPF_INTERP = 1 << 3,          /* interp differs from filename (a #! script, binfmt_misc) */
        EXEC_BPF_DELETED = 1 << 4,         /* the executable had no links left when it ran */
        EXEC_BPF_PATH_TRUNCATED = 1 << 5,  /* deeper than EXEC_BPF_PATH_DEPTH: path_len is 0 */
};

struct exec_bpf_record {
        __u64 start_boottime;   /* ns of CLOCK_BOOTTIME: /proc/PID/stat field 22 is this in clock ticks */
        __u64 ktime;            /* bpf_ktime_get_ns(): CLOCK_MONOTONIC of the exec */
        __u64 cgroup_id;
        __u64 ino;              /* of the file the kernel ran (the interpreter, for a script) */
        __u32 dev;              /* its superblock's device, kernel encoding (MAJOR << 20 | MINOR) */
        __s32 tgid;
        __s32 old_tid;          /* the thread that called exec (not the leader, when a thread exec'd) */
        __u32 uid, euid, gid, egid;
        __u32 loginuid, sessionid;
        __u32 file_uid, file_mode; /* owner and mode of that file's inode when it ran */
        __u32 flags;
        __u32 filename_len;     /* bytes at data[0], with the final NUL; 0 when it could not be read */
        __u32 interp_len;       /* bytes at data[filename_len], with the final NUL, when EXEC_BPF_INTERP */
        __u32 path_len;         /* bytes at data[filename_len + interp_len]: the file's path components,
                                 * last first, each NUL-terminated, up to the root of its mount
                                 * namespace; 0 when not known */
        __u32 argv_len;         /* bytes after those, NUL-separated */
        char comm[16];
        /* followed by filename_len + interp_len + argv_len bytes */
};
