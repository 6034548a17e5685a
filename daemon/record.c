/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Record files: an 8-byte magic, then records of (u32 kind, u32 length, payload), host byte order. */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "record.h"

struct RecordWriter {
        FILE *f;
        char *path;
};

/* The fixed part of a serialized ProcInfo; exe, argv and thread ids follow it. */
typedef struct RecordProcInfo {
        uint32_t have;
        int32_t pid, ppid, pgid, sid, tgid;
        uint64_t start_ticks;
        uint32_t threads;
        uint32_t ruid, euid, rgid, egid, loginuid, sessionid;
        char comm[64];
        char state;
        uint8_t argv_truncated, nscaba_present, nscaba_bare, nscaba_malformed;
        uint8_t _pad[3];
        uint32_t nscaba_n;
        int32_t nscaba[PROCFS_NSCABA_LEVELS_MAX];
        int32_t caba_tgid;
        uint32_t exe_len, argv_len, n_tids;
} RecordProcInfo;

int record_writer_open(RecordWriter **ret, const char *path) {
        RecordWriter *w = calloc(1, sizeof(RecordWriter));

        if (!w)
                return -ENOMEM;
        w->f = fopen(path, "we");
        if (!w->f) {
                int r = -errno;

                free(w);
                return r;
        }
        setvbuf(w->f, NULL, _IOFBF, 1U << 20);
        if (fwrite(RECORD_MAGIC, 1, 8, w->f) != 8) {
                record_writer_close(w);
                return -EIO;
        }
        *ret = w;
        return 0;
}

RecordWriter *record_writer_close(RecordWriter *w) {
        if (!w)
                return NULL;
        if (w->f && fclose(w->f) != 0)
                log_warning_errno(errno, "Failed to finish the record file: %m");
        free(w);
        return NULL;
}

int record_writer_flush(RecordWriter *w) {
        return fflush(w->f) == 0 ? 0 : -errno;
}

static int write_record(RecordWriter *w, RecordKind kind, const void *a, size_t alen, const void *b, size_t blen,
                        const void *c, size_t clen, const void *d, size_t dlen) {
        uint32_t hdr[2] = { kind, (uint32_t) (alen + blen + clen + dlen) };

        if (alen + blen + clen + dlen > RECORD_PAYLOAD_MAX)
                return -E2BIG;
        if (fwrite(hdr, sizeof(hdr), 1, w->f) != 1 || (alen && fwrite(a, alen, 1, w->f) != 1) ||
            (blen && fwrite(b, blen, 1, w->f) != 1) || (clen && fwrite(c, clen, 1, w->f) != 1) ||
            (dlen && fwrite(d, dlen, 1, w->f) != 1))
                return -EIO;
        return 0;
}

int record_write_clock(RecordWriter *w, const RecordClock *c) {
        return write_record(w, RECORD_CLOCK, c, sizeof(*c), NULL, 0, NULL, 0, NULL, 0);
}

int record_write_event(RecordWriter *w, const CnprocEvent *ev) {
        return write_record(w, RECORD_EVENT, ev, sizeof(*ev), NULL, 0, NULL, 0, NULL, 0);
}

int record_write_loss(RecordWriter *w, const CnprocLoss *loss) {
        return write_record(w, RECORD_LOSS, loss, sizeof(*loss), NULL, 0, NULL, 0, NULL, 0);
}

int record_write_scan_begin(RecordWriter *w, uint64_t at_ns) {
        return write_record(w, RECORD_SCAN_BEGIN, &at_ns, sizeof(at_ns), NULL, 0, NULL, 0, NULL, 0);
}

int record_write_scan_end(RecordWriter *w) {
        return write_record(w, RECORD_SCAN_END, NULL, 0, NULL, 0, NULL, 0, NULL, 0);
}

static int write_procinfo(RecordWriter *w, RecordKind kind, const ProcInfo *i, const int32_t *tids, size_t n_tids,
                          int32_t caba_tgid) {
        RecordProcInfo p = {
                .have = i->have, .pid = i->pid, .ppid = i->ppid, .pgid = i->pgid, .sid = i->sid, .tgid = i->tgid,
                .start_ticks = i->start_ticks, .threads = i->threads,
                .ruid = i->ruid, .euid = i->euid, .rgid = i->rgid, .egid = i->egid,
                .loginuid = i->loginuid, .sessionid = i->sessionid,
                .state = i->state, .argv_truncated = i->argv_truncated,
                .nscaba_present = i->nscaba.present, .nscaba_bare = i->nscaba.bare,
                .nscaba_malformed = i->nscaba.malformed,
                .nscaba_n = MIN(i->nscaba.n_levels, PROCFS_NSCABA_LEVELS_MAX),
                .caba_tgid = caba_tgid,
                .exe_len = i->exe ? (uint32_t) strlen(i->exe) : 0,
                .argv_len = i->argv ? (uint32_t) i->argv_len : 0,
                .n_tids = (uint32_t) n_tids,
        };

        memcpy(p.comm, i->comm, sizeof(p.comm));
        memcpy(p.nscaba, i->nscaba.levels, sizeof(p.nscaba));
        return write_record(w, kind, &p, sizeof(p), i->exe, p.exe_len, i->argv, p.argv_len, tids,
                            n_tids * sizeof(int32_t));
}

int record_write_scan(RecordWriter *w, const ProcInfo *info, const int32_t *tids, size_t n_tids, int32_t caba_tgid) {
        return write_procinfo(w, RECORD_SCAN, info, tids, n_tids, caba_tgid);
}

int record_write_info(RecordWriter *w, const ProcInfo *info) {
        return write_procinfo(w, RECORD_INFO, info, NULL, 0, -1);
}

int record_write_login(RecordWriter *w, const RecordLogin *l) {
        return write_record(w, RECORD_LOGIN, l, sizeof(*l), NULL, 0, NULL, 0, NULL, 0);
}

int record_write_bpf_exec(RecordWriter *w, const ProcInfo *info) {
        return write_procinfo(w, RECORD_BPF_EXEC, info, NULL, 0, -1);
}

int record_write_bpf_loss(RecordWriter *w, const RecordBpfLoss *loss) {
        return write_record(w, RECORD_BPF_LOSS, loss, sizeof(*loss), NULL, 0, NULL, 0, NULL, 0);
}

int record_write_reconcile(RecordWriter *w, uint64_t exit_time) {
        return write_record(w, RECORD_RECONCILE, &exit_time, sizeof(exit_time), NULL, 0, NULL, 0, NULL, 0);
}

static int parse_procinfo(const uint8_t *buf, size_t len, RecordKind kind, const RecordHandlers *h, void *userdata) {
        _cleanup_free_ int32_t *tids = NULL;
        char exe[PROCFS_EXE_MAX + 1];
        const char *argv = NULL;
        RecordProcInfo p;
        ProcInfo i = {};
        size_t need;

        if (len < sizeof(p))
                return -EBADMSG;
        memcpy(&p, buf, sizeof(p));
        need = sizeof(p) + (size_t) p.exe_len + (size_t) p.argv_len + (size_t) p.n_tids * sizeof(int32_t);
        if (need != len || p.exe_len > PROCFS_EXE_MAX || p.argv_len > PROCFS_ARGV_MAX ||
            p.nscaba_n > PROCFS_NSCABA_LEVELS_MAX)
                return -EBADMSG;
        buf += sizeof(p);
        /* No copies on the heap: exe is NUL-terminated on the stack, argv is read in place (handlers get
         * a const ProcInfo and copy what they keep). Thread ids are copied for their alignment. */
        memcpy(exe, buf, p.exe_len);
        exe[p.exe_len] = 0;
        buf += p.exe_len;
        if (p.argv_len > 0)
                argv = (const char *) buf;
        buf += p.argv_len;
        if (p.n_tids > 0) {
                tids = malloc((size_t) p.n_tids * sizeof(int32_t));
                if (!tids)
                        return -ENOMEM;
                memcpy(tids, buf, (size_t) p.n_tids * sizeof(int32_t));
        }
        i = (ProcInfo) {
                .have = p.have, .pid = p.pid, .ppid = p.ppid, .pgid = p.pgid, .sid = p.sid, .tgid = p.tgid,
                .start_ticks = p.start_ticks, .threads = p.threads,
                .ruid = p.ruid, .euid = p.euid, .rgid = p.rgid, .egid = p.egid,
                .loginuid = p.loginuid, .sessionid = p.sessionid, .state = p.state,
                .argv_truncated = p.argv_truncated,
                .exe = p.exe_len > 0 ? exe : NULL, .argv = (char *) argv, .argv_len = p.argv_len,
        };
        memcpy(i.comm, p.comm, sizeof(i.comm));
        i.comm[sizeof(i.comm) - 1] = 0;
        i.nscaba.present = p.nscaba_present;
        i.nscaba.bare = p.nscaba_bare;
        i.nscaba.malformed = p.nscaba_malformed;
        i.nscaba.n_levels = p.nscaba_n;
        memcpy(i.nscaba.levels, p.nscaba, sizeof(p.nscaba));
        if (kind == RECORD_SCAN)
                return h->scan ? h->scan(&i, tids, p.n_tids, p.caba_tgid, userdata) : 0;
        if (kind == RECORD_BPF_EXEC)
                return h->bpf_exec ? h->bpf_exec(&i, userdata) : 0;
        return h->info ? h->info(&i, userdata) : 0;
}

static int dispatch(uint32_t kind, const uint8_t *p, size_t len, const RecordHandlers *h, void *userdata) {
        switch (kind) {
        case RECORD_CLOCK: {
                RecordClock c;

                if (len != sizeof(c))
                        return -EBADMSG;
                memcpy(&c, p, sizeof(c));
                c.boot_id[sizeof(c.boot_id) - 1] = 0;
                return h->clock ? h->clock(&c, userdata) : 0;
        }
        case RECORD_EVENT: {
                CnprocEvent ev;

                if (len != sizeof(ev))
                        return -EBADMSG;
                memcpy(&ev, p, sizeof(ev));
                if (ev.type == LINEAGE_EVENT_COMM)
                        ev.comm.comm[sizeof(ev.comm.comm) - 1] = 0;
                return h->event ? h->event(&ev, userdata) : 0;
        }
        case RECORD_LOSS: {
                CnprocLoss l;

                if (len != sizeof(l))
                        return -EBADMSG;
                memcpy(&l, p, sizeof(l));
                return h->loss ? h->loss(&l, userdata) : 0;
        }
        case RECORD_SCAN_BEGIN: {
                uint64_t at;

                if (len != sizeof(at))
                        return -EBADMSG;
                memcpy(&at, p, sizeof(at));
                return h->scan_begin ? h->scan_begin(at, userdata) : 0;
        }
        case RECORD_SCAN_END:
                if (len != 0)
                        return -EBADMSG;
                return h->scan_end ? h->scan_end(userdata) : 0;
        case RECORD_SCAN:
        case RECORD_INFO:
        case RECORD_BPF_EXEC:
                return parse_procinfo(p, len, (RecordKind) kind, h, userdata);
        case RECORD_RECONCILE: {
                uint64_t at;

                if (len != sizeof(at))
                        return -EBADMSG;
                memcpy(&at, p, sizeof(at));
                return h->reconcile ? h->reconcile(at, userdata) : 0;
        }
        case RECORD_BPF_LOSS: {
                RecordBpfLoss l;

                if (len != sizeof(l))
                        return -EBADMSG;
                memcpy(&l, p, sizeof(l));
                return h->bpf_loss ? h->bpf_loss(&l, userdata) : 0;
        }
        case RECORD_LOGIN: {
                RecordLogin l = {};

                if (len != sizeof(l) && len != RECORD_LOGIN_SIZE_V1)
                        return -EBADMSG;
                memcpy(&l, p, len);
                if (l.trust > RECORD_LOGIN_SELF_DECLARED)
                        return -EBADMSG;
                l.service[sizeof(l.service) - 1] = l.remote_address[sizeof(l.remote_address) - 1] = 0;
                l.tty[sizeof(l.tty) - 1] = l.logind_session[sizeof(l.logind_session) - 1] = 0;
                l.unit[sizeof(l.unit) - 1] = 0;
                return h->login ? h->login(&l, userdata) : 0;
        }
        default:
                return -EBADMSG;
        }
}

int record_parse(const uint8_t *buf, size_t len, const RecordHandlers *h, void *userdata) {
        size_t off = 8;
        int n = 0, r;

        if (len < 8 || memcmp(buf, RECORD_MAGIC, 8) != 0)
                return -EBADMSG;
        while (off < len) {
                uint32_t hdr[2];

                if (len - off < sizeof(hdr))
                        return -EBADMSG;
                memcpy(hdr, buf + off, sizeof(hdr));
                off += sizeof(hdr);
                if (hdr[1] > RECORD_PAYLOAD_MAX || hdr[1] > len - off)
                        return -EBADMSG;
                r = dispatch(hdr[0], buf + off, hdr[1], h, userdata);
                if (r < 0)
                        return r;
                off += hdr[1];
                if (n < INT32_MAX)
                        n++;
        }
        return n;
}

int record_read_file(const char *path, const RecordHandlers *h, void *userdata) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        void *p;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size < 8)
                return -EBADMSG;
        p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        (void) madvise(p, (size_t) st.st_size, MADV_SEQUENTIAL);
        r = record_parse(p, (size_t) st.st_size, h, userdata);
        munmap(p, (size_t) st.st_size);
        return r;
}
