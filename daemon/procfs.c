/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* procfs: reads and strictly parses /proc/PID/{stat,status,loginuid,sessionid,exe,cmdline} below a procfs root. */
#include <fcntl.h>
#include <arpa/inet.h>
#include <assert.h>
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>

#include "procfs.h"

#define PROCFS_STAT_MAX (16U * 1024U)
#define PROCFS_STATUS_MAX (16U * 1024U)
#define PROCFS_ID_FILE_MAX 32U
/* 32 levels of "\t2147483647" are 352 bytes; anything much longer is not the kernel talking. */
#define PROCFS_NSCABA_VALUE_MAX 512U
/* PID_MAX_LIMIT is 4 Mi: a directory listing with more numeric entries than that is not a procfs. */
#define PROCFS_DIR_ENTRIES_MAX (4U * 1024U * 1024U)
/* Stat fields we read, numbered like proc(5). */
#define STAT_FIELD_PPID 4
#define STAT_FIELD_PGRP 5
#define STAT_FIELD_SESSION 6
#define STAT_FIELD_TTY_NR 7
#define STAT_FIELD_NUM_THREADS 20
#define STAT_FIELD_STARTTIME 22

void proc_info_done(ProcInfo *p) {
        if (!p)
                return;
        free(p->exe);
        p->exe = NULL;
        free(p->argv);
        p->argv = NULL;
        p->argv_len = 0;
        p->argv_truncated = false;
        p->have &= ~(unsigned) (PROCFS_EXE | PROCFS_ARGV);
}

uint64_t procfs_clock_ticks(void) {
        static uint64_t cached = 0;

        if (cached == 0) {
                long t = sysconf(_SC_CLK_TCK);

                cached = t > 0 ? (uint64_t) t : 100;
        }
        return cached;
}

void procfs_sanitize_comm(const char *src, size_t len, char *dst, size_t dstsz) {
        static const char hex[] = "0123456789abcdef";
        size_t o = 0;

        if (!dst || dstsz == 0)
                return;
        for (size_t i = 0; src && i < len; i++) {
                unsigned char c = (unsigned char) src[i];

                if (c >= 0x20 && c < 0x7f && c != '\\') {
                        if (o + 1 >= dstsz)
                                break;
                        dst[o++] = (char) c;
                        continue;
                }
                /* Never split an escape: a truncated "\x4" would read as a different byte. */
                if (o + 4 >= dstsz)
                        break;
                dst[o++] = '\\';
                dst[o++] = 'x';
                dst[o++] = hex[c >> 4];
                dst[o++] = hex[c & 15];
        }
        dst[o] = '\0';
}

/* A decimal number with no sign; fits in [0, max]. */
static int parse_unsigned(const char *s, size_t len, uint64_t max, uint64_t *ret) {
        uint64_t v;

        if (safe_atou64_n(s, len, &v) < 0 || v > max)
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* A stat field we do not use: still must be a decimal integer, possibly negative (tty_nr, tpgid). */
static bool stat_field_is_integer(const char *s, size_t len) {
        uint64_t v;

        if (len > 1 && s[0] == '-') {
                s++;
                len--;
        }
        return safe_atou64_n(s, len, &v) >= 0;
}

/* Moves *c past one ' ' and returns the following field, which ends at ' ', '\n' or e. */
static int stat_next_field(const char **c, const char *e, const char **ret_tok, size_t *ret_len) {
        const char *t;

        if (*c >= e || **c != ' ')
                return -EBADMSG;
        t = ++*c;
        while (*c < e && **c != ' ' && **c != '\n')
                ++*c;
        if (*c == t)
                return -EBADMSG;
        *ret_tok = t;
        *ret_len = (size_t) (*c - t);
        return 0;
}

typedef struct StatFields {
        char state;
        uint64_t ppid, pgid, sid, tty_nr, threads, start_ticks;
} StatFields;

static int stat_parse_field(unsigned field, const char *tok, size_t n, StatFields *f) {
        switch (field) {
        case STAT_FIELD_PPID:
                return parse_unsigned(tok, n, INT32_MAX, &f->ppid);
        case STAT_FIELD_PGRP:
                return parse_unsigned(tok, n, INT32_MAX, &f->pgid);
        case STAT_FIELD_SESSION:
                return parse_unsigned(tok, n, INT32_MAX, &f->sid);
        case STAT_FIELD_TTY_NR:
                /* Printed as a signed int; a device number is never negative in practice: treat it as none. */
                if (n > 0 && tok[0] == '-')
                        return stat_field_is_integer(tok, n) ? 0 : -EBADMSG;
                return parse_unsigned(tok, n, UINT32_MAX, &f->tty_nr);
        case STAT_FIELD_NUM_THREADS:
                return parse_unsigned(tok, n, UINT32_MAX, &f->threads);
        case STAT_FIELD_STARTTIME:
                return parse_unsigned(tok, n, UINT64_MAX, &f->start_ticks);
        default:
                return stat_field_is_integer(tok, n) ? 0 : -EBADMSG;
        }
}

/* Parses what follows the comm's closing parenthesis: " S ppid pgrp session ... starttime ...". */
static int stat_parse_fields(const char *c, const char *e, StatFields *f) {
        const char *tok;
        size_t n;
        int r;

        r = stat_next_field(&c, e, &tok, &n);
        if (r < 0 || n != 1 || !((tok[0] >= 'A' && tok[0] <= 'Z') || (tok[0] >= 'a' && tok[0] <= 'z')))
                return log_debug_errno(EBADMSG, "stat: bad state field, refusing.");
        f->state = tok[0];
        for (unsigned field = 4; field <= STAT_FIELD_STARTTIME; field++) {
                r = stat_next_field(&c, e, &tok, &n);
                if (r < 0)
                        return log_debug_errno(EBADMSG, "stat: field %u missing or empty, refusing.", field);
                r = stat_parse_field(field, tok, n, f);
                if (r < 0)
                        return log_debug_errno(EBADMSG, "stat: field %u is not a valid number, refusing.", field);
        }
        /* Later fields (there are ~52 today, more tomorrow) are not ours to judge. */
        return 0;
}

int procfs_parse_stat(const char *buf, size_t len, ProcInfo *p) {
        const char *open, *close;
        StatFields f = {};
        uint64_t pid;
        int r;

        if (!buf || !p)
                return -EINVAL;
        /* comm is any bytes, including ')' and spaces: it ends at the last ')' of the line. */
        open = memchr(buf, '(', len);
        close = memrchr(buf, ')', len);
        if (!open || !close || close < open)
                return log_debug_errno(EBADMSG, "stat: no parenthesized comm, refusing.");
        if (open - buf < 2 || open[-1] != ' ' ||
            parse_unsigned(buf, (size_t) (open - 1 - buf), INT32_MAX, &pid) < 0)
                return log_debug_errno(EBADMSG, "stat: bad pid field, refusing.");
        r = stat_parse_fields(close + 1, buf + len, &f);
        if (r < 0)
                return r;

        p->pid = (int32_t) pid;
        procfs_sanitize_comm(open + 1, (size_t) (close - open - 1), p->comm, sizeof(p->comm));
        p->state = f.state;
        p->ppid = (int32_t) f.ppid;
        p->pgid = (int32_t) f.pgid;
        p->sid = (int32_t) f.sid;
        p->tty_nr = (uint32_t) f.tty_nr;
        p->threads = (uint32_t) f.threads;
        p->start_ticks = f.start_ticks;
        return 0;
}

/* Parses "\tN\tN…" the way the kernel prints numeric status fields: one tab before each number, no
 * sign, no leading zeros, each <= max. Returns the count; -EBADMSG for bad syntax, -ERANGE for a
 * number above max, -E2BIG for more than n_max numbers. */
static int parse_tabbed(const char *v, size_t len, uint64_t max, uint64_t *out, size_t n_max) {
        size_t n = 0, i = 0;

        while (i < len) {
                size_t start;

                if (v[i] != '\t')
                        return -EBADMSG;
                start = ++i;
                while (i < len && v[i] != '\t')
                        i++;
                if (i == start || (i - start > 1 && v[start] == '0'))
                        return -EBADMSG;
                for (size_t j = start; j < i; j++)
                        if (v[j] < '0' || v[j] > '9')
                                return -EBADMSG;
                if (n >= n_max)
                        return -E2BIG;
                if (safe_atou64_n(v + start, i - start, &out[n]) < 0 || out[n] > max)
                        return -ERANGE;
                n++;
        }
        return (int) n;
}

int procfs_parse_nscaba(const char *value, size_t len, ProcNscaba *ret) {
        ProcNscaba c = { .present = true };
        uint64_t v[PROCFS_NSCABA_LEVELS_MAX];
        int r;

        if (!ret || (!value && len > 0))
                return -EINVAL;
        if (len > 0 && value[len - 1] == '\n')
                len--;
        if (len > PROCFS_NSCABA_VALUE_MAX)
                return log_debug_errno(EBADMSG, "NScaba: value of %zu bytes is too long, refusing.", len);
        if (len == 0) {
                /* The CABA exists but is not visible from the namespace of this procfs. */
                c.bare = true;
                *ret = c;
                return 0;
        }
        r = parse_tabbed(value, len, INT32_MAX, v, ELEMENTSOF(v));
        if (r == -E2BIG)
                return log_debug_errno(EBADMSG, "NScaba: more than %u pid namespace levels, refusing.",
                                       PROCFS_NSCABA_LEVELS_MAX);
        if (r == -ERANGE)
                return log_debug_errno(EBADMSG, "NScaba: thread id above %" PRIi32 ", refusing.", INT32_MAX);
        if (r < 0)
                return log_debug_errno(EBADMSG, "NScaba: not a list of tab-prefixed decimal thread ids, refusing.");

        c.n_levels = (unsigned) r;
        for (unsigned i = 0; i < c.n_levels; i++)
                c.levels[i] = (int32_t) v[i];
        *ret = c;
        return 0;
}

typedef struct StatusFields {
        unsigned seen;
        uint64_t tgid, ppid, uid[4], gid[4], cap_eff;
        ProcNscaba nscaba;
} StatusFields;

enum {
        SEEN_TGID = 1 << 0,
        SEEN_PPID = 1 << 1,
        SEEN_UID = 1 << 2,
        SEEN_GID = 1 << 3,
        SEEN_NSCABA = 1 << 4,
        SEEN_CAPEFF = 1 << 5,
        SEEN_REQUIRED = SEEN_TGID | SEEN_PPID | SEEN_UID | SEEN_GID,
};

/* If line starts with key (which includes the colon), returns the rest of it. */
static bool status_key(const char *line, size_t n, const char *key, const char **ret_v, size_t *ret_n) {
        size_t k = strlen(key);

        if (n < k || memcmp(line, key, k) != 0)
                return false;
        *ret_v = line + k;
        *ret_n = n - k;
        return true;
}

static void status_nscaba_line(const char *v, size_t n, StatusFields *f) {
        if (f->seen & SEEN_NSCABA) {
                log_debug("status: duplicate NScaba line, marking it malformed.");
                f->nscaba = (ProcNscaba) { .present = true, .malformed = true };
                return;
        }
        f->seen |= SEEN_NSCABA;
        if (procfs_parse_nscaba(v, n, &f->nscaba) < 0)
                /* The kernel has the patch but we cannot read its answer: say so, do not guess. */
                f->nscaba = (ProcNscaba) { .present = true, .malformed = true };
}

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* CapEff: 16 hex digits (fewer on old kernels). */
static int status_capeff_line(const char *v, size_t n, StatusFields *f) {
        uint64_t x = 0;
        size_t k = 0;

        while (n > 0 && (*v == '\t' || *v == ' '))
                v++, n--;
        for (; k < n && k < 16; k++) {
                int d = hex_digit(v[k]);

                if (d < 0)
                        break;
                x = x << 4 | (uint64_t) d;
        }
        if (k == 0 || k < n || (f->seen & SEEN_CAPEFF))
                return log_debug_errno(EBADMSG, "status: malformed or duplicate CapEff line, refusing.");
        f->cap_eff = x;
        f->seen |= SEEN_CAPEFF;
        return 0;
}

static int status_line(const char *line, size_t n, StatusFields *f) {
        static const struct {
                const char *key;
                unsigned bit;
                unsigned count;
                uint64_t max;
                size_t offset;
        } fields[] = {
                { "Tgid:", SEEN_TGID, 1, INT32_MAX, offsetof(StatusFields, tgid) },
                { "PPid:", SEEN_PPID, 1, INT32_MAX, offsetof(StatusFields, ppid) },
                { "Uid:", SEEN_UID, 4, UINT32_MAX, offsetof(StatusFields, uid) },
                { "Gid:", SEEN_GID, 4, UINT32_MAX, offsetof(StatusFields, gid) },
        };
        const char *v;
        size_t vn;

        if (status_key(line, n, "NScaba:", &v, &vn)) {
                status_nscaba_line(v, vn, f);
                return 0;
        }
        if (status_key(line, n, "CapEff:", &v, &vn))
                return status_capeff_line(v, vn, f);
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                if (!status_key(line, n, fields[i].key, &v, &vn))
                        continue;
                if (f->seen & fields[i].bit)
                        return log_debug_errno(EBADMSG, "status: duplicate %s line, refusing.", fields[i].key);
                if (parse_tabbed(v, vn, fields[i].max, (uint64_t *) ((char *) f + fields[i].offset),
                                 fields[i].count) != (int) fields[i].count)
                        return log_debug_errno(EBADMSG, "status: malformed %s line, refusing.", fields[i].key);
                f->seen |= fields[i].bit;
                return 0;
        }
        return 0; /* not a key we read */
}

int procfs_parse_status(const char *buf, size_t len, ProcInfo *p) {
        StatusFields f = {};
        const char *l, *e;
        int r;

        if (!buf || !p)
                return -EINVAL;
        for (l = buf, e = buf + len; l < e;) {
                const char *nl = memchr(l, '\n', (size_t) (e - l));
                size_t n = nl ? (size_t) (nl - l) : (size_t) (e - l);

                r = status_line(l, n, &f);
                if (r < 0)
                        return r;
                l += n + 1;
        }
        if ((f.seen & SEEN_REQUIRED) != SEEN_REQUIRED)
                return log_debug_errno(EBADMSG, "status: Tgid, PPid, Uid or Gid line missing, refusing.");

        p->tgid = (int32_t) f.tgid;
        p->ppid = (int32_t) f.ppid;
        p->ruid = (uint32_t) f.uid[0];
        p->euid = (uint32_t) f.uid[1];
        p->rgid = (uint32_t) f.gid[0];
        p->egid = (uint32_t) f.gid[1];
        p->nscaba = f.nscaba; /* all zero (present=false) when the kernel lacks the CABA patch */
        p->cap_eff = f.cap_eff; /* 0 (none) without the line */
        return 0;
}

static ssize_t read_retry(int fd, void *buf, size_t size) {
        for (;;) {
                ssize_t n = read(fd, buf, size);

                if (n >= 0)
                        return n;
                if (errno != EINTR)
                        return -errno;
        }
}

/* Reads name below dirfd with one bounded loop. The buffer has room for one byte more than max. */
static int read_file_at(int dirfd, const char *name, size_t max, char **ret_buf, size_t *ret_len,
                        bool *ret_truncated) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        bool truncated = false;
        ssize_t n = 1;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        buf = malloc(max + 1);
        if (!buf)
                return -ENOMEM;
        while (len < max && n > 0) {
                n = read_retry(fd, buf + len, max - len);
                if (n < 0)
                        return (int) n;
                len += (size_t) n;
        }
        if (n > 0) {
                /* Filled up to max: one more byte tells whether there was more. */
                char extra;

                n = read_retry(fd, &extra, 1);
                if (n < 0)
                        return (int) n;
                truncated = n > 0;
        }
        *ret_buf = TAKE_PTR(buf);
        *ret_len = len;
        if (ret_truncated)
                *ret_truncated = truncated;
        return 0;
}

static int errno_gone(int r) {
        return r == -ENOENT || r == -ESRCH ? -ESRCH : r;
}

/* An optional part could not be read. Tells "the process is gone" (-ESRCH) from "this part is not
 * readable" (0: leave it out). The kernel says EACCES for the exe link of a process that just died. */
static int optional_part_failed(int dirfd, int r, const char *what) {
        struct stat st;

        if (r == -ESRCH)
                return r;
        if (r != -ENOENT && r != -EACCES && r != -EPERM)
                return r;
        if (fstatat(dirfd, "stat", &st, 0) < 0)
                return errno_gone(-errno);
        log_debug_errno(r, "procfs: %s not readable, leaving it out: %m", what);
        return 0;
}

/* Reads name below dirfd into buf (size bytes, one more than the caller accepts) with a single read():
 * procfs generates these files whole in one call (stat, status, loginuid and sessionid are one
 * seq_file record or a simple buffer, cmdline is copied until the count or its end), so a read that
 * leaves room in buf has seen the end, and the usual second read returning 0 is not needed. A full buf
 * means the file was longer than size - 1 bytes: *ret_len is then size - 1 and *ret_truncated true. */
static int read_small_at(int dirfd, const char *name, char *buf, size_t size, size_t *ret_len, bool *ret_truncated) {
        _cleanup_close_ int fd = -1;
        ssize_t n;

        assert(size > 1);
        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        n = read_retry(fd, buf, size);
        if (n < 0)
                return (int) n;
        *ret_truncated = (size_t) n == size;
        *ret_len = *ret_truncated ? size - 1 : (size_t) n;
        return 0;
}

static int read_stat_part(int dirfd, ProcInfo *p) {
        char buf[PROCFS_STAT_MAX + 1];
        size_t len;
        bool truncated;
        int r;

        r = read_small_at(dirfd, "stat", buf, sizeof(buf), &len, &truncated);
        if (r < 0)
                return errno_gone(r);
        if (truncated)
                return log_debug_errno(EBADMSG, "stat: longer than %u bytes, refusing.", PROCFS_STAT_MAX);
        return procfs_parse_stat(buf, len, p);
}

static int read_status_part(int dirfd, ProcInfo *p) {
        char buf[PROCFS_STATUS_MAX + 1];
        size_t len;
        bool truncated;
        int r;

        r = read_small_at(dirfd, "status", buf, sizeof(buf), &len, &truncated);
        if (r < 0)
                return errno_gone(r);
        if (truncated) {
                /* Only complete lines count; what we need comes early in the file anyway. */
                const char *nl = memrchr(buf, '\n', len);

                if (!nl)
                        return log_debug_errno(EBADMSG, "status: no line end in %zu bytes, refusing.", len);
                len = (size_t) (nl - buf) + 1;
        }
        return procfs_parse_status(buf, len, p);
}

static int read_id_file(int dirfd, const char *name, uint32_t *ret) {
        char buf[PROCFS_ID_FILE_MAX + 1];
        size_t len;
        bool truncated;
        uint64_t v;
        int r;

        r = read_small_at(dirfd, name, buf, sizeof(buf), &len, &truncated);
        if (r < 0)
                return r;
        if (len > 0 && buf[len - 1] == '\n')
                len--;
        if (truncated || parse_unsigned(buf, len, UINT32_MAX, &v) < 0)
                return log_debug_errno(EBADMSG, "procfs: %s is not a 32-bit decimal number, refusing.", name);
        *ret = (uint32_t) v; /* 4294967295 (unset) is PROCFS_UNSET_ID already */
        return 0;
}

static int read_login_part(int dirfd, ProcInfo *p) {
        uint32_t loginuid, sessionid;
        int r;

        r = read_id_file(dirfd, "loginuid", &loginuid);
        if (r >= 0)
                r = read_id_file(dirfd, "sessionid", &sessionid);
        if (r == -EBADMSG)
                return r;
        if (r < 0)
                return optional_part_failed(dirfd, r, "loginuid/sessionid");
        p->loginuid = loginuid;
        p->sessionid = sessionid;
        p->have |= PROCFS_LOGIN;
        return 0;
}

static int read_exe_part(int dirfd, ProcInfo *p) {
        char buf[PROCFS_EXE_MAX];
        ssize_t n;

        n = readlinkat(dirfd, "exe", buf, sizeof(buf));
        if (n < 0)
                /* A kernel thread or zombie has no exe (ENOENT); another user's process gives EACCES. */
                return optional_part_failed(dirfd, -errno, "exe");
        if ((size_t) n >= sizeof(buf)) {
                log_debug("procfs: exe link longer than %u bytes, leaving it out.", PROCFS_EXE_MAX);
                return 0;
        }
        p->exe = strndup(buf, (size_t) n);
        if (!p->exe)
                return -ENOMEM;
        p->have |= PROCFS_EXE;
        return 0;
}

static int read_argv_part(int dirfd, ProcInfo *p) {
        char buf[PROCFS_ARGV_MAX + 1];
        size_t len;
        bool truncated;
        int r;

        r = read_small_at(dirfd, "cmdline", buf, sizeof(buf), &len, &truncated);
        if (r < 0)
                return optional_part_failed(dirfd, r, "cmdline");
        if (len == 0)
                /* Kernel thread or zombie: no argv at all. */
                return 0;
        /* A process that rewrote its argv may have dropped the final NUL; keep the promise of one. */
        if (buf[len - 1] != '\0') {
                if (len == PROCFS_ARGV_MAX)
                        truncated = true;
                else
                        len++;
                buf[len - 1] = '\0';
        }
        p->argv = malloc(len);
        if (!p->argv)
                return -ENOMEM;
        memcpy(p->argv, buf, len);
        p->argv_len = len;
        p->argv_truncated = truncated;
        p->have |= PROCFS_ARGV;
        return 0;
}

static int read_parts(int dirfd, unsigned mask, ProcInfo *p) {
        int r = 0;

        if (mask & PROCFS_STAT) {
                r = read_stat_part(dirfd, p);
                if (r < 0)
                        return r;
                p->have |= PROCFS_STAT;
        }
        if (mask & PROCFS_STATUS) {
                r = read_status_part(dirfd, p);
                if (r < 0)
                        return r;
                p->have |= PROCFS_STATUS;
        }
        if (mask & PROCFS_LOGIN)
                r = read_login_part(dirfd, p);
        if (r >= 0 && (mask & PROCFS_EXE))
                r = read_exe_part(dirfd, p);
        if (r >= 0 && (mask & PROCFS_ARGV))
                r = read_argv_part(dirfd, p);
        return r;
}

static int open_dir_at(int at_fd, const char *path, int flags) {
        int fd = openat(at_fd, path, flags | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return errno_gone(-errno);
        return fd;
}

static int open_dir(const char *path, int flags) {
        return open_dir_at(AT_FDCWD, path, flags);
}

/* Reads the directory path (root/PID or root/PID/task/TID, or PID relative to at_fd) of the task with id id. */
static int read_task_dir(int at_fd, const char *path, int32_t id, unsigned mask, ProcInfo *ret) {
        _cleanup_(proc_info_done) ProcInfo info = {
                .pid = id,
                .loginuid = PROCFS_UNSET_ID,
                .sessionid = PROCFS_UNSET_ID,
        };
        _cleanup_close_ int dirfd = -1;
        int r;

        /* Everything below is read through this fd, bound to the process it named when opened:
         * should the pid be reused meanwhile, reads fail instead of mixing two processes. */
        dirfd = open_dir_at(at_fd, path, O_PATH);
        if (dirfd < 0)
                return dirfd;
        r = read_parts(dirfd, mask & PROCFS_ALL, &info);
        if (r < 0)
                return r;
        if ((info.have & PROCFS_STAT) && info.pid != id)
                return log_debug_errno(EBADMSG, "stat: pid %" PRIi32 " found in %s, refusing.", info.pid, path);
        *ret = info;
        info = (ProcInfo) {};
        return 0;
}

static int pid_path(char *buf, size_t size, const char *root, int32_t pid, int32_t tid, const char *suffix) {
        int n;

        if (!root || pid <= 0)
                return -EINVAL;
        if (tid > 0)
                n = snprintf(buf, size, "%s/%" PRIi32 "/task/%" PRIi32, root, pid, tid);
        else
                n = snprintf(buf, size, "%s/%" PRIi32 "%s", root, pid, suffix);
        if (n < 0 || (size_t) n >= size)
                return -ENAMETOOLONG;
        return 0;
}

int procfs_read(const char *root, int32_t pid, unsigned mask, ProcInfo *ret) {
        char path[PATH_MAX];
        int r;

        if (!ret)
                return -EINVAL;
        r = pid_path(path, sizeof(path), root, pid, 0, "");
        if (r < 0)
                return r;
        return read_task_dir(AT_FDCWD, path, pid, mask, ret);
}

int procfs_read_at(int root_fd, int32_t pid, unsigned mask, ProcInfo *ret) {
        char name[16];

        if (root_fd < 0 || pid <= 0 || !ret)
                return -EINVAL;
        snprintf(name, sizeof(name), "%" PRIi32, pid);
        return read_task_dir(root_fd, name, pid, mask, ret);
}

int procfs_read_task(const char *root, int32_t pid, int32_t tid, unsigned mask, ProcInfo *ret) {
        char path[PATH_MAX];
        int r;

        if (!ret || tid <= 0)
                return -EINVAL;
        r = pid_path(path, sizeof(path), root, pid, tid, NULL);
        if (r < 0)
                return r;
        return read_task_dir(AT_FDCWD, path, tid, mask & (PROCFS_STAT | PROCFS_STATUS), ret);
}

/* A canonical pid: decimal, no sign, no leading zero, in [1, INT32_MAX]. */
static bool parse_pid_name(const char *s, int32_t *ret) {
        uint64_t v;

        if (s[0] == '0' || parse_unsigned(s, strlen(s), INT32_MAX, &v) < 0)
                return false;
        *ret = (int32_t) v;
        return true;
}

static int cmp_int32(const void *a, const void *b) {
        int32_t x = *(const int32_t *) a, y = *(const int32_t *) b;

        return (x > y) - (x < y);
}

static int push_id(int32_t **ids, size_t *n, size_t *allocated, int32_t id) {
        if (*n >= PROCFS_DIR_ENTRIES_MAX)
                return -E2BIG;
        if (*n == *allocated) {
                size_t na = *allocated ? *allocated * 2 : 256;
                int32_t *t = reallocarray(*ids, na, sizeof(**ids));

                if (!t)
                        return -ENOMEM;
                *ids = t;
                *allocated = na;
        }
        (*ids)[(*n)++] = id;
        return 0;
}

/* Collects the numeric entries of the directory fd (which it takes over), sorted. */
static int collect_ids(int fd, int32_t **ret, size_t *ret_n) {
        _cleanup_free_ int32_t *ids = NULL;
        size_t n = 0, allocated = 0;
        DIR *d;
        int r = 0;

        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        for (;;) {
                struct dirent *de;
                int32_t id;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        r = -errno;
                        break;
                }
                if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) || !parse_pid_name(de->d_name, &id))
                        continue;
                r = push_id(&ids, &n, &allocated, id);
                if (r < 0)
                        break;
        }
        closedir(d);
        if (r < 0)
                return r;
        if (n > 0)
                qsort(ids, n, sizeof(*ids), cmp_int32);
        *ret = TAKE_PTR(ids);
        *ret_n = n;
        return 0;
}

static int foreach_id(const int32_t *ids, size_t n, ProcfsPidCallback cb, void *userdata) {
        int r;

        for (size_t i = 0; i < n; i++) {
                r = cb(ids[i], userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

int procfs_list_pids(const char *root, int32_t **ret, size_t *ret_n) {
        int fd;

        if (!root || !ret || !ret_n)
                return -EINVAL;
        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return collect_ids(fd, ret, ret_n);
}

int procfs_list_tasks(const char *root, int32_t pid, int32_t **ret, size_t *ret_n) {
        char path[PATH_MAX];
        int fd, r;

        if (!ret || !ret_n)
                return -EINVAL;
        r = pid_path(path, sizeof(path), root, pid, 0, "/task");
        if (r < 0)
                return r;
        fd = open_dir(path, O_RDONLY);
        if (fd < 0)
                return fd;
        /* Listing the task dir of a process that died after the open fails with ENOENT. */
        return errno_gone(collect_ids(fd, ret, ret_n));
}

int procfs_foreach_pid(const char *root, ProcfsPidCallback cb, void *userdata) {
        _cleanup_free_ int32_t *ids = NULL;
        size_t n;
        int r;

        if (!cb)
                return -EINVAL;
        r = procfs_list_pids(root, &ids, &n);
        if (r < 0)
                return r;
        return foreach_id(ids, n, cb, userdata);
}

int procfs_foreach_task(const char *root, int32_t pid, ProcfsPidCallback cb, void *userdata) {
        _cleanup_free_ int32_t *ids = NULL;
        size_t n;
        int r;

        if (!cb)
                return -EINVAL;
        r = procfs_list_tasks(root, pid, &ids, &n);
        if (r < 0)
                return r;
        return foreach_id(ids, n, cb, userdata);
}

int32_t procfs_resolve_tgid(const char *root, int32_t tid) {
        ProcInfo t = {};
        int32_t tgid;

        if (procfs_read(root, tid, PROCFS_STATUS, &t) < 0)
                return -1;
        tgid = (t.have & PROCFS_STATUS) ? t.tgid : -1;
        proc_info_done(&t);
        return tgid;
}

int procfs_nscaba_tgid(const char *root, const ProcInfo *info, int32_t *ret_tgid) {
        int32_t tgid;

        if (!info->nscaba.present)
                return -EOPNOTSUPP;
        if (info->nscaba.bare || info->nscaba.malformed || info->nscaba.n_levels == 0)
                return -ENODATA;
        if (info->nscaba.levels[0] == 0) {
                *ret_tgid = 0;
                return 0;
        }
        tgid = procfs_resolve_tgid(root, info->nscaba.levels[0]);
        if (tgid < 0)
                return -ESRCH;
        *ret_tgid = tgid;
        return 0;
}

/* Reads one small file of root/PID into a NUL-terminated buffer. */
static int read_pid_file(const char *root, int32_t pid, const char *name, size_t max, char **ret, size_t *ret_len) {
        char path[PATH_MAX];
        _cleanup_close_ int dirfd = -1;
        char *buf = NULL;
        size_t len = 0;
        int r;

        r = pid_path(path, sizeof(path), root, pid, 0, "");
        if (r < 0)
                return r;
        dirfd = open_dir(path, O_PATH);
        if (dirfd < 0)
                return dirfd;
        r = read_file_at(dirfd, name, max, &buf, &len, NULL);
        if (r < 0)
                return errno_gone(r);
        buf[len] = 0;
        *ret = buf;
        *ret_len = len;
        return 0;
}

int procfs_read_environ_var(const char *root, int32_t pid, const char *name, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len, nlen = strlen(name);
        int r;

        r = read_pid_file(root, pid, "environ", PROCFS_ENVIRON_MAX, &buf, &len);
        if (r < 0)
                return r;
        for (size_t off = 0; off < len;) {
                const char *e = buf + off;
                size_t elen = strnlen(e, len - off);

                if (elen > nlen && memcmp(e, name, nlen) == 0 && e[nlen] == '=') {
                        char *v = strndup(e + nlen + 1, elen - nlen - 1);

                        if (!v)
                                return -ENOMEM;
                        *ret = v;
                        return 0;
                }
                off += elen + 1;
        }
        return -ENOENT;
}

int procfs_read_cgroup(const char *root, int32_t pid, char **ret) {
        _cleanup_free_ char *buf = NULL;
        const char *found = NULL;
        size_t len, flen = 0;
        int r;

        r = read_pid_file(root, pid, "cgroup", PROCFS_CGROUP_MAX, &buf, &len);
        if (r < 0)
                return r;
        /* "0::PATH" is the unified hierarchy; "N:name=systemd:PATH" the legacy systemd one. */
        for (char *line = buf, *eol; line < buf + len; line = eol + 1) {
                eol = memchr(line, '\n', (size_t) (buf + len - line));
                if (!eol)
                        eol = buf + len;
                if (strncmp(line, "0::", 3) == 0) {
                        found = line + 3;
                        flen = (size_t) (eol - found);
                        break;
                }
                {
                        const char *p = memchr(line, ':', (size_t) (eol - line));

                        if (p && (size_t) (eol - p) > 14 && strncmp(p + 1, "name=systemd:", 13) == 0 && !found) {
                                found = p + 14;
                                flen = (size_t) (eol - found);
                        }
                }
        }
        if (!found)
                return -ENOENT;
        *ret = strndup(found, flen);
        return *ret ? 0 : -ENOMEM;
}

static bool is_container_hex(const char *s, size_t len) {
        if (len != PROCFS_CONTAINER_ID_LEN)
                return false;
        for (size_t k = 0; k < len; k++)
                if (!((s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f')))
                        return false;
        return true;
}

/* The id in one component "PREFIX-ID.scope" of a systemd-driven runtime, or NULL. */
static const char *scope_container_id(const char *c, size_t len) {
        static const char *const prefixes[] = { "docker-", "libpod-", "cri-containerd-", "crio-" };
        static const char suffix[] = ".scope";
        size_t slen = sizeof(suffix) - 1;

        if (len <= slen || memcmp(c + len - slen, suffix, slen) != 0)
                return NULL;
        for (size_t k = 0; k < ELEMENTSOF(prefixes); k++) {
                size_t plen = strlen(prefixes[k]);

                if (len > plen + slen && memcmp(c, prefixes[k], plen) == 0 &&
                    is_container_hex(c + plen, len - plen - slen))
                        return c + plen;
        }
        return NULL;
}

int procfs_container_id(const char *cgroup, char ret[static PROCFS_CONTAINER_ID_LEN + 1]) {
        const char *found = NULL, *prev = NULL;
        size_t prev_len = 0;
        bool kubepods = false;

        if (!cgroup)
                return 0;
        /* Walk every component; the innermost match wins (a container nested in another's cgroup). */
        for (const char *c = cgroup; *c;) {
                size_t len = strcspn(c, "/");
                const char *id;

                if (len > 0) {
                        if ((id = scope_container_id(c, len)))
                                found = id;
                        else if (is_container_hex(c, len) && (kubepods || (prev && prev_len == 6 && memcmp(prev, "docker", 6) == 0)))
                                found = c;
                        if (len >= 8 && memcmp(c, "kubepods", 8) == 0)
                                kubepods = true;
                        prev = c;
                        prev_len = len;
                }
                c += len;
                if (*c == '/')
                        c++;
        }
        if (!found)
                return 0;
        memcpy(ret, found, PROCFS_CONTAINER_ID_LEN);
        ret[PROCFS_CONTAINER_ID_LEN] = 0;
        return 1;
}

#define PROCFS_FDS_MAX 1024U            /* descriptors looked at for sockets */
#define PROCFS_NET_TCP_MAX (4U * 1024U * 1024U)

static int collect_socket_inodes(const char *root, int32_t pid, uint64_t *inodes, size_t max, size_t *ret_n) {
        char path[PATH_MAX];
        struct dirent *de;
        size_t n = 0;
        unsigned seen = 0;
        DIR *d;
        int r;

        r = pid_path(path, sizeof(path), root, pid, 0, "/fd");
        if (r < 0)
                return r;
        d = opendir(path);
        if (!d)
                return errno_gone(-errno);
        while ((de = readdir(d)) && seen++ < PROCFS_FDS_MAX && n < max) {
                char link[64];
                ssize_t l;
                uint64_t ino;

                if (de->d_name[0] == '.')
                        continue;
                l = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
                if (l <= 0)
                        continue;
                link[l] = 0;
                if (sscanf(link, "socket:[%" SCNu64 "]", &ino) == 1)
                        inodes[n++] = ino;
        }
        closedir(d);
        *ret_n = n;
        return 0;
}

/* Formats a /proc/net/tcp{,6} address ("0100007F:0016" or 32 hex digits) as text. */
static int format_net_address(const char *hex, bool v6, char *buf, size_t size, unsigned *ret_port) {
        unsigned char a[16];
        unsigned port;
        size_t n = v6 ? 16 : 4;

        for (size_t k = 0; k < n; k += 4) {
                unsigned w;

                /* Each 32-bit word is printed in host byte order. */
                if (sscanf(hex + 2 * k, "%8X", &w) != 1)
                        return -EBADMSG;
                memcpy(a + k, &w, 4);
        }
        if (hex[2 * n] != ':' || sscanf(hex + 2 * n + 1, "%4X", &port) != 1)
                return -EBADMSG;
        /* An IPv4 peer on an IPv6 socket: ::ffff:a.b.c.d */
        if (v6 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
                memmove(a, a + 12, 4);
                v6 = false;
        }
        if (!inet_ntop(v6 ? AF_INET6 : AF_INET, a, buf, (socklen_t) size))
                return -errno;
        *ret_port = port;
        return 0;
}

int procfs_read_tcp_peer(const char *root, int32_t pid, char *addr, size_t addr_size, unsigned *ret_port) {
        uint64_t inodes[64];
        size_t n_inodes = 0;
        int r;

        r = collect_socket_inodes(root, pid, inodes, ELEMENTSOF(inodes), &n_inodes);
        if (r < 0)
                return r;
        if (n_inodes == 0)
                return -ENOENT;
        for (int v6 = 0; v6 <= 1; v6++) {
                _cleanup_free_ char *buf = NULL;
                size_t len;

                if (read_pid_file(root, pid, v6 ? "net/tcp6" : "net/tcp", PROCFS_NET_TCP_MAX, &buf, &len) < 0)
                        continue;
                for (char *line = strchr(buf, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
                        char local[64], remote[64];
                        unsigned state;
                        uint64_t ino;

                        /* sl local rem st tx:rx tr:tm retrnsmt uid timeout inode */
                        if (sscanf(line + 1, "%*u: %63s %63s %X %*s %*s %*s %*u %*u %" SCNu64, local, remote, &state, &ino) != 4)
                                continue;
                        if (state != 1) /* TCP_ESTABLISHED */
                                continue;
                        for (size_t k = 0; k < n_inodes; k++)
                                if (inodes[k] == ino && format_net_address(remote, v6, addr, addr_size, ret_port) >= 0)
                                        return 0;
                }
        }
        return -ENOENT;
}

int procfs_exe_root_owned(const char *root, int32_t pid) {
        char path[PATH_MAX], target[PROCFS_EXE_MAX + 1];
        struct stat ran, named;
        ssize_t n;
        int r;

        r = pid_path(path, sizeof(path), root, pid, 0, "/exe");
        if (r < 0)
                return r;
        /* stat() through the link reaches the file the process runs, even if renamed or deleted since. */
        if (stat(path, &ran) < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        n = readlink(path, target, sizeof(target));
        if (n < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        if ((size_t) n >= sizeof(target) || n == 0 || target[0] != '/')
                return 0;
        target[n] = 0;
        /* The path names that very file now (not deleted, not replaced, same mount namespace)... */
        if (stat(target, &named) < 0 || named.st_dev != ran.st_dev || named.st_ino != ran.st_ino)
                return 0;
        /* ...and only root could have written it. */
        return S_ISREG(ran.st_mode) && ran.st_uid == 0 && !(ran.st_mode & (S_IWGRP | S_IWOTH));
}
