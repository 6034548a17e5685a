/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Record files: every kind written and read back field for field; truncated and corrupt files rejected cleanly. */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record.h"
#include "test-fs.h"
#include "tests.h"

static char dir[] = "/tmp/test-record-XXXXXX";

/* What the handlers saw, as one line per record: the round trip compares these texts. */
typedef struct Seen {
        FILE *f;
        char *text;
        size_t len;
        unsigned n;
        int fail_at;                    /* a handler returns -EUCLEAN at this record (0: never) */
} Seen;

static int seen(Seen *s, const char *fmt, ...) _printf_(2, 3);
static int seen(Seen *s, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vfprintf(s->f, fmt, ap);
        va_end(ap);
        fputc('\n', s->f);
        return ++s->n == (unsigned) s->fail_at ? -EUCLEAN : 0;
}

static void info_text(FILE *f, const ProcInfo *i) {
        fprintf(f, " have=%x pid=%d ppid=%d pgid=%d sid=%d tgid=%d ticks=%" PRIu64 " threads=%u ids=%u/%u/%u/%u"
                " login=%u/%u comm=%s state=%c trunc=%d nscaba=%d/%d/%d/%u:%d,%d exe=%s argv=", i->have, i->pid,
                i->ppid, i->pgid, i->sid, i->tgid, i->start_ticks, i->threads, i->ruid, i->euid, i->rgid, i->egid,
                i->loginuid, i->sessionid, i->comm, i->state, i->argv_truncated, i->nscaba.present, i->nscaba.bare,
                i->nscaba.malformed, i->nscaba.n_levels, i->nscaba.levels[0], i->nscaba.levels[1], i->exe ?: "NULL");
        for (size_t k = 0; i->argv && k < i->argv_len; k++)
                fputc(i->argv[k] ? i->argv[k] : '|', f);
}

static int on_clock(const RecordClock *c, void *userdata) {
        return seen(userdata, "clock %" PRIi64 " %" PRIi64 " %" PRIu64 " %s", c->clock.realtime_offset_ns,
                    c->clock.boottime_offset_ns, c->clock.clock_ticks, c->boot_id);
}

static int on_event(const CnprocEvent *ev, void *userdata) {
        if (ev->type == LINEAGE_EVENT_COMM)
                return seen(userdata, "event comm cpu=%u seq=%u at=%" PRIu64 " %d/%d %s", ev->cpu, ev->seq,
                            ev->timestamp_ns, ev->pid, ev->tgid, ev->comm.comm);
        if (ev->type == LINEAGE_EVENT_EXIT)
                return seen(userdata, "event exit cpu=%u seq=%u at=%" PRIu64 " %d/%d code=%u sig=%u parent=%d/%d",
                            ev->cpu, ev->seq, ev->timestamp_ns, ev->pid, ev->tgid, ev->exit.code, ev->exit.signal,
                            ev->exit.parent_pid, ev->exit.parent_tgid);
        return seen(userdata, "event %u cpu=%u seq=%u at=%" PRIu64 " %d/%d parent=%d/%d", ev->type, ev->cpu, ev->seq,
                    ev->timestamp_ns, ev->pid, ev->tgid, ev->fork.parent_pid, ev->fork.parent_tgid);
}

static int on_loss(const CnprocLoss *l, void *userdata) {
        return seen(userdata, "loss %d cpu=%u lost=%" PRIu64, (int) l->reason, l->cpu, l->lost);
}

static int on_scan_begin(uint64_t at_ns, void *userdata) {
        return seen(userdata, "scan-begin %" PRIu64, at_ns);
}

static int on_scan(const ProcInfo *i, const int32_t *tids, size_t n_tids, int32_t caba_tgid, void *userdata) {
        Seen *s = userdata;

        fprintf(s->f, "scan caba=%d tids=", caba_tgid);
        for (size_t k = 0; k < n_tids; k++)
                fprintf(s->f, "%d,", tids[k]);
        info_text(s->f, i);
        return seen(s, "%s", "");
}

static int on_scan_end(void *userdata) {
        return seen(userdata, "scan-end");
}

static int on_info(const ProcInfo *i, void *userdata) {
        Seen *s = userdata;

        fputs("info", s->f);
        info_text(s->f, i);
        return seen(s, "%s", "");
}

static int on_bpf_exec(const ProcInfo *i, void *userdata) {
        Seen *s = userdata;

        fputs("bpf-exec", s->f);
        info_text(s->f, i);
        return seen(s, "%s", "");
}

static int on_login(const RecordLogin *l, void *userdata) {
        return seen(userdata, "login pid=%d session=%u begin=%u port=%d service=%s remote=%s tty=%s logind=%s unit=%s trust=%u",
                    l->pid, l->audit_session, l->begin, l->remote_port, l->service, l->remote_address, l->tty,
                    l->logind_session, l->unit, l->trust);
}

static int on_reconcile(uint64_t exit_time, void *userdata) {
        return seen(userdata, "reconcile %" PRIu64, exit_time);
}

static int on_bpf_loss(const RecordBpfLoss *l, void *userdata) {
        return seen(userdata, "bpf-loss %" PRIu64 " at=%" PRIu64, l->lost, l->at_ns);
}

static const RecordHandlers handlers = {
        .clock = on_clock, .event = on_event, .loss = on_loss, .scan_begin = on_scan_begin, .scan = on_scan,
        .scan_end = on_scan_end, .info = on_info, .login = on_login, .reconcile = on_reconcile,
        .bpf_exec = on_bpf_exec, .bpf_loss = on_bpf_loss,
};

static void seen_begin(Seen *s) {
        *s = (Seen) {};
        s->f = open_memstream(&s->text, &s->len);
        ASSERT_TRUE(s->f);
}

static char *seen_end(Seen *s) {
        fclose(s->f);
        return s->text;
}

#define N_RECORDS 13

/* One record of every kind, with values that tell the fields apart. */
static void write_all(RecordWriter *w) {
        RecordClock c = { .clock = { .realtime_offset_ns = 1700000000123456789LL, .boottime_offset_ns = 42,
                                     .clock_ticks = 100 } };
        CnprocEvent fork = { .type = LINEAGE_EVENT_FORK, .cpu = 1, .seq = 7, .timestamp_ns = 1001, .pid = 201,
                             .tgid = 201, .fork = { .parent_pid = 101, .parent_tgid = 100 } };
        CnprocEvent comm = { .type = LINEAGE_EVENT_COMM, .cpu = 0, .seq = 8, .timestamp_ns = 1002, .pid = 201, .tgid = 201 };
        CnprocEvent ex = { .type = LINEAGE_EVENT_EXIT, .cpu = 1, .seq = 9, .timestamp_ns = 1003, .pid = 201, .tgid = 201,
                           .exit = { .code = 0x100, .signal = 17, .parent_pid = 100, .parent_tgid = 100 } };
        CnprocLoss loss = { .reason = CNPROC_LOSS_SEQUENCE, .cpu = 1, .lost = 5 };
        static const char argv[] = "sh\0-c\0echo hi\0";
        ProcInfo p = { .have = PROCFS_STAT | PROCFS_STATUS | PROCFS_EXE | PROCFS_ARGV, .pid = 100, .ppid = 1,
                       .pgid = 100, .sid = 99, .tgid = 100, .start_ticks = 12345, .threads = 3, .ruid = 1000,
                       .euid = 1001, .rgid = 1002, .egid = 1003, .loginuid = 1000, .sessionid = 4, .state = 'S',
                       .argv_truncated = true, .exe = (char *) "/usr/bin/sh", .argv = (char *) argv,
                       .argv_len = sizeof(argv) - 1 };
        ProcInfo bare = { .have = PROCFS_STAT, .pid = 202, .state = 'Z', .loginuid = PROCFS_UNSET_ID,
                          .sessionid = PROCFS_UNSET_ID };
        int32_t tids[] = { 101, 102 };
        RecordLogin l = { .pid = 100, .audit_session = 4, .begin = 1, .remote_port = 22022, .trust = RECORD_LOGIN_TRUSTED };
        RecordBpfLoss bl = { .lost = 3, .at_ns = 2002 };

        strcpy(c.boot_id, "0123456789abcdef0123456789abcdef");
        strcpy(comm.comm.comm, "renamed");
        strcpy(p.comm, "sh");
        strcpy(bare.comm, "zombie");
        p.nscaba.present = true;
        p.nscaba.n_levels = 2;
        p.nscaba.levels[0] = 77;
        p.nscaba.levels[1] = 7;
        strcpy(l.service, "sshd");
        strcpy(l.remote_address, "192.0.2.7");
        strcpy(l.tty, "pts/3");
        strcpy(l.logind_session, "12");
        strcpy(l.unit, "session-12.scope");

        ASSERT_OK(record_write_clock(w, &c));
        ASSERT_OK(record_write_scan_begin(w, 1000));
        ASSERT_OK(record_write_scan(w, &p, tids, 2, 1));
        ASSERT_OK(record_write_scan_end(w));
        ASSERT_OK(record_write_reconcile(w, 1700000000000001));
        ASSERT_OK(record_write_event(w, &fork));
        ASSERT_OK(record_write_event(w, &comm));
        ASSERT_OK(record_write_info(w, &bare));
        ASSERT_OK(record_write_bpf_exec(w, &p));
        ASSERT_OK(record_write_login(w, &l));
        ASSERT_OK(record_write_loss(w, &loss));
        ASSERT_OK(record_write_bpf_loss(w, &bl));
        ASSERT_OK(record_write_event(w, &ex));
        ASSERT_OK(record_writer_flush(w));
}

static const char want_all[] =
        "clock 1700000000123456789 42 100 0123456789abcdef0123456789abcdef\n"
        "scan-begin 1000\n"
        "scan caba=1 tids=101,102, have=1b pid=100 ppid=1 pgid=100 sid=99 tgid=100 ticks=12345 threads=3"
        " ids=1000/1001/1002/1003 login=1000/4 comm=sh state=S trunc=1 nscaba=1/0/0/2:77,7 exe=/usr/bin/sh"
        " argv=sh|-c|echo hi|\n"
        "scan-end\n"
        "reconcile 1700000000000001\n"
        "event 1 cpu=1 seq=7 at=1001 201/201 parent=101/100\n"
        "event comm cpu=0 seq=8 at=1002 201/201 renamed\n"
        "info have=1 pid=202 ppid=0 pgid=0 sid=0 tgid=0 ticks=0 threads=0 ids=0/0/0/0 login=4294967295/4294967295"
        " comm=zombie state=Z trunc=0 nscaba=0/0/0/0:0,0 exe=NULL argv=\n"
        "bpf-exec have=1b pid=100 ppid=1 pgid=100 sid=99 tgid=100 ticks=12345 threads=3 ids=1000/1001/1002/1003"
        " login=1000/4 comm=sh state=S trunc=1 nscaba=1/0/0/2:77,7 exe=/usr/bin/sh argv=sh|-c|echo hi|\n"
        "login pid=100 session=4 begin=1 port=22022 service=sshd remote=192.0.2.7 tty=pts/3 logind=12"
        " unit=session-12.scope trust=1\n"
        "loss 1 cpu=1 lost=5\n"
        "bpf-loss 3 at=2002\n"
        "event exit cpu=1 seq=9 at=1003 201/201 code=256 sig=17 parent=100/100\n";

static uint8_t *read_whole(const char *path, size_t *ret_len) {
        struct stat st;
        uint8_t *buf;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(fstat(fd, &st));
        buf = malloc((size_t) st.st_size);
        ASSERT_TRUE(buf);
        ASSERT_EQ(read(fd, buf, (size_t) st.st_size), st.st_size);
        close(fd);
        *ret_len = (size_t) st.st_size;
        return buf;
}

static char *path_in_dir(const char *name) {
        char *p;

        ASSERT_TRUE(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

/* Every kind, written to a file and read back from it (mmap'd), gives the same fields. */
static void test_round_trip(void) {
        _cleanup_(record_writer_closep) RecordWriter *w = NULL;
        _cleanup_free_ char *path = path_in_dir("all.rec"), *text = NULL;
        Seen s;

        ASSERT_OK(record_writer_open(&w, path));
        write_all(w);
        w = record_writer_close(w);
        seen_begin(&s);
        ASSERT_EQ(record_read_file(path, &handlers, &s), N_RECORDS);
        text = seen_end(&s);
        ASSERT_STREQ(text, want_all);
}

/* Cut anywhere, a record file gives the records before the cut: at a record boundary that is all it
 * holds, anywhere else the partial record is reported as malformed (-EBADMSG) after them. Each prefix
 * lives in its own allocation of exactly its size, so a read past the end is the sanitizer's. */
static void test_truncated(void) {
        _cleanup_free_ char *path = path_in_dir("all.rec"), *whole = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len, boundaries = 0;
        Seen s;

        buf = read_whole(path, &len);
        seen_begin(&s);
        ASSERT_EQ(record_parse(buf, len, &handlers, &s), N_RECORDS);
        whole = seen_end(&s);
        for (size_t cut = 0; cut < len; cut++) {
                _cleanup_free_ uint8_t *part = malloc(cut ?: 1);
                _cleanup_free_ char *text = NULL;
                int r;

                ASSERT_TRUE(part);
                memcpy(part, buf, cut);
                seen_begin(&s);
                r = record_parse(part, cut, &handlers, &s);
                text = seen_end(&s);
                /* What was delivered is a prefix of the whole, line for line. */
                ASSERT_TRUE(strncmp(whole, text ?: "", strlen(text ?: "")) == 0);
                ASSERT_TRUE(!text || text[0] == 0 || text[strlen(text) - 1] == '\n');
                if (r >= 0) {
                        ASSERT_TRUE(cut >= 8);
                        ASSERT_EQ(r, s.n);
                        boundaries++;
                } else
                        ASSERT_EQ(r, -EBADMSG);
        }
        /* The magic alone, and after each record but the last. */
        ASSERT_EQ(boundaries, N_RECORDS);

        /* A file shorter than the magic, and a file cut inside a record. */
        {
                _cleanup_free_ char *p = path_in_dir("cut.rec");
                int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

                ASSERT_TRUE(fd >= 0);
                ASSERT_EQ(write(fd, buf, 5), 5);
                ASSERT_EQ(record_read_file(p, &handlers, NULL), -EBADMSG);
                ASSERT_EQ(pwrite(fd, buf, len - 3, 0), (ssize_t) (len - 3));
                close(fd);
                seen_begin(&s);
                ASSERT_EQ(record_read_file(p, &handlers, &s), -EBADMSG);
                free(seen_end(&s));
                ASSERT_EQ(s.n, N_RECORDS - 1);
        }
        {
                _cleanup_free_ char *p = path_in_dir("absent.rec");

                ASSERT_EQ(record_read_file(p, &handlers, NULL), -ENOENT);
        }
}

/* A stream: the magic, then records appended with record_append(). */
typedef struct Stream {
        uint8_t buf[4096];
        size_t len;
} Stream;

static void stream_init(Stream *st) {
        memcpy(st->buf, RECORD_MAGIC, 8);
        st->len = 8;
}

static void record_append(Stream *st, uint32_t kind, uint32_t len, const void *payload, size_t n) {
        uint32_t hdr[2] = { kind, len };

        ASSERT_TRUE(st->len + sizeof(hdr) + n <= sizeof(st->buf));
        memcpy(st->buf + st->len, hdr, sizeof(hdr));
        if (n > 0)
                memcpy(st->buf + st->len + sizeof(hdr), payload, n);
        st->len += sizeof(hdr) + n;
}

static int parse_stream(const Stream *st, unsigned *ret_n) {
        _cleanup_free_ uint8_t *copy = malloc(st->len);
        Seen s;
        int r;

        ASSERT_TRUE(copy);
        memcpy(copy, st->buf, st->len);
        seen_begin(&s);
        r = record_parse(copy, st->len, &handlers, &s);
        free(seen_end(&s));
        if (ret_n)
                *ret_n = s.n;
        return r;
}

/* Corrupt headers and payloads are -EBADMSG, with the good records before them delivered. */
static void test_corrupt(void) {
        uint64_t at = 5;
        uint8_t zeros[600] = {};
        unsigned n;
        Stream st;

        /* Another magic. */
        stream_init(&st);
        st.buf[7] = '9';
        ASSERT_EQ(parse_stream(&st, &n), -EBADMSG);
        ASSERT_EQ(n, 0);

        /* An unknown kind, after a good record. */
        stream_init(&st);
        record_append(&st, RECORD_SCAN_BEGIN, sizeof(at), &at, sizeof(at));
        record_append(&st, 99, 0, NULL, 0);
        ASSERT_EQ(parse_stream(&st, &n), -EBADMSG);
        ASSERT_EQ(n, 1);

        /* A length past the end of the stream, and one past the payload limit. */
        stream_init(&st);
        record_append(&st, RECORD_SCAN_BEGIN, 4096, &at, sizeof(at));
        ASSERT_EQ(parse_stream(&st, NULL), -EBADMSG);
        stream_init(&st);
        record_append(&st, RECORD_SCAN_BEGIN, UINT32_MAX, &at, sizeof(at));
        ASSERT_EQ(parse_stream(&st, NULL), -EBADMSG);

        /* Fixed-size kinds with another size. */
        stream_init(&st);
        record_append(&st, RECORD_SCAN_BEGIN, 4, &at, 4);
        ASSERT_EQ(parse_stream(&st, NULL), -EBADMSG);
        stream_init(&st);
        record_append(&st, RECORD_SCAN_END, 8, &at, 8);
        ASSERT_EQ(parse_stream(&st, NULL), -EBADMSG);
        stream_init(&st);
        record_append(&st, RECORD_CLOCK, sizeof(RecordClock) - 1, zeros, sizeof(RecordClock) - 1);
        ASSERT_EQ(parse_stream(&st, NULL), -EBADMSG);
        stream_init(&st);
        record_append(&st, RECORD_EVENT, sizeof(CnprocEvent) + 1, zeros, sizeof(CnprocEvent) + 1);
        ASSERT_EQ(parse_stream(&st, NULL), -EBADMSG);

        /* A ProcInfo shorter than its fixed part, and one whose lengths do not add up to the payload:
         * exe_len, argv_len and n_tids are the last three u32 of the fixed part. */
        stream_init(&st);
        record_append(&st, RECORD_INFO, 16, zeros, 16);
        ASSERT_EQ(parse_stream(&st, NULL), -EBADMSG);
        {
                _cleanup_(record_writer_closep) RecordWriter *w = NULL;
                _cleanup_free_ char *path = path_in_dir("info.rec");
                _cleanup_free_ uint8_t *buf = NULL;
                ProcInfo p = { .have = PROCFS_STAT | PROCFS_EXE, .pid = 9, .exe = (char *) "/bin/x" };
                size_t len, fixed;
                uint32_t v;

                ASSERT_OK(record_writer_open(&w, path));
                ASSERT_OK(record_write_info(w, &p));
                w = record_writer_close(w);
                buf = read_whole(path, &len);
                uint32_t lens[3] = { (uint32_t) strlen("/bin/x"), 0, 0 };
                size_t at_lens = 0;

                fixed = len - 8 - 8 - strlen("/bin/x");
                stream_init(&st);
                record_append(&st, RECORD_INFO, (uint32_t) (len - 16), buf + 16, len - 16);
                ASSERT_EQ(parse_stream(&st, NULL), 1);
                /* The three lengths end the fixed part, maybe before its tail padding. */
                for (size_t o = fixed - 12; o + 20 >= fixed && !at_lens; o -= 4)
                        if (memcmp(st.buf + 16 + o, lens, sizeof(lens)) == 0)
                                at_lens = 16 + o;
                ASSERT_TRUE(at_lens > 0);
                /* exe_len one more than the bytes that follow */
                v = lens[0] + 1;
                memcpy(st.buf + at_lens, &v, 4);
                ASSERT_EQ(parse_stream(&st, NULL), -EBADMSG);
                /* n_tids so large that the sum would wrap a 32-bit size */
                memcpy(st.buf + at_lens, &lens[0], 4);
                ASSERT_EQ(parse_stream(&st, NULL), 1);
                v = UINT32_MAX / 2;
                memcpy(st.buf + at_lens + 8, &v, 4);
                ASSERT_EQ(parse_stream(&st, NULL), -EBADMSG);
        }

        /* A login with a trust value that does not exist; a login of the old, shorter size reads as
         * trust unknown; strings without their NUL are cut, not overrun. */
        {
                RecordLogin l = { .pid = 5, .trust = 7 };

                stream_init(&st);
                record_append(&st, RECORD_LOGIN, sizeof(l), &l, sizeof(l));
                ASSERT_EQ(parse_stream(&st, NULL), -EBADMSG);
                l.trust = RECORD_LOGIN_SELF_DECLARED;
                memset(l.service, 'x', sizeof(l.service));
                memset(l.unit, 'u', sizeof(l.unit));
                stream_init(&st);
                record_append(&st, RECORD_LOGIN, RECORD_LOGIN_SIZE_V1, &l, RECORD_LOGIN_SIZE_V1);
                record_append(&st, RECORD_LOGIN, sizeof(l), &l, sizeof(l));
                {
                        _cleanup_free_ char *text = NULL;
                        Seen s;

                        seen_begin(&s);
                        ASSERT_EQ(record_parse(st.buf, st.len, &handlers, &s), 2);
                        text = seen_end(&s);
                        ASSERT_TRUE(strstr(text, " trust=0\n"));
                        ASSERT_TRUE(strstr(text, " trust=2\n"));
                        char want[80] = "service=";

                        memset(want + 8, 'x', sizeof(l.service) - 1);
                        strcat(want, " remote=");
                        ASSERT_TRUE(strstr(text, want));
                }
        }
}

/* A handler's error stops the parse and is returned as it is. */
static void test_handler_error(void) {
        _cleanup_free_ char *path = path_in_dir("all.rec");
        Seen s;

        seen_begin(&s);
        s.fail_at = 4;
        ASSERT_EQ(record_read_file(path, &handlers, &s), -EUCLEAN);
        free(seen_end(&s));
        ASSERT_EQ(s.n, 4);
        /* No handlers at all: every record is still checked and counted. */
        ASSERT_EQ(record_read_file(path, &(RecordHandlers) {}, NULL), N_RECORDS);
}

int main(void) {
        log_max_level = LOG_LEVEL_WARNING;
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        test_round_trip();
        test_truncated();
        test_corrupt();
        test_handler_error();
        remove_tree(dir);
        printf("ok\n");
        return 0;
}
