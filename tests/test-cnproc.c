/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the proc connector module: the decoder on crafted datagrams, sequence-gap detection, and a live subscription. */
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include "lineage/util.h"
#include "cnproc.h"
#include "tests.h"

/* ---- crafting datagrams ---- */

#define MSG_SIZE (NLMSG_HDRLEN + sizeof(struct cn_msg) + sizeof(struct proc_event))

/* Appends one connector message as the kernel sends it. Returns the new length. */
static size_t put_msg(uint8_t *buf, size_t off, uint32_t what, uint32_t cpu, uint32_t seq, uint64_t ts,
                      const void *data, size_t data_len) {
        struct nlmsghdr nlh = {
                .nlmsg_len = MSG_SIZE,
                .nlmsg_type = NLMSG_DONE,
                .nlmsg_seq = seq,
        };
        struct cn_msg cn = {
                .id = { .idx = CN_IDX_PROC, .val = CN_VAL_PROC },
                .seq = seq,
                .len = sizeof(struct proc_event),
        };
        struct proc_event pe = {};

        pe.what = what;
        pe.cpu = cpu;
        pe.timestamp_ns = ts;
        memcpy(&pe.event_data, data, MIN(data_len, sizeof(pe.event_data)));

        memcpy(buf + off, &nlh, sizeof(nlh));
        memcpy(buf + off + NLMSG_HDRLEN, &cn, sizeof(cn));
        memcpy(buf + off + NLMSG_HDRLEN + sizeof(cn), &pe, sizeof(pe));
        return off + MSG_SIZE;
}

static size_t put_fork(uint8_t *buf, size_t off, uint32_t cpu, uint32_t seq, uint64_t ts, int32_t ppid,
                       int32_t ptgid, int32_t pid, int32_t tgid) {
        struct fork_proc_event f = { .parent_pid = ppid, .parent_tgid = ptgid, .child_pid = pid, .child_tgid = tgid };

        return put_msg(buf, off, PROC_EVENT_FORK, cpu, seq, ts, &f, sizeof(f));
}

static size_t put_ack(uint8_t *buf, size_t off, uint32_t cpu, uint32_t seq, uint32_t ack, uint32_t err) {
        size_t end = put_msg(buf, off, PROC_EVENT_NONE, cpu, seq, 1, &err, sizeof(err));

        memcpy(buf + off + NLMSG_HDRLEN + offsetof(struct cn_msg, ack), &ack, sizeof(ack));
        return end;
}

/* Overwrites fields of the message starting at off. */
static void set_nlmsg_len(uint8_t *buf, size_t off, uint32_t v) {
        memcpy(buf + off + offsetof(struct nlmsghdr, nlmsg_len), &v, sizeof(v));
}

static void set_cn_len(uint8_t *buf, size_t off, uint16_t v) {
        memcpy(buf + off + NLMSG_HDRLEN + offsetof(struct cn_msg, len), &v, sizeof(v));
}

static void set_cn_idx(uint8_t *buf, size_t off, uint32_t v) {
        memcpy(buf + off + NLMSG_HDRLEN + offsetof(struct cn_msg, id.idx), &v, sizeof(v));
}

/* ---- recording callbacks ---- */

typedef struct Item {
        bool is_loss;
        CnprocEvent ev;
        CnprocLoss loss;
} Item;

typedef struct Recorder {
        Item items[64];
        size_t n;
        unsigned batches;
} Recorder;

static void rec_event(const CnprocEvent *ev, void *userdata) {
        Recorder *r = userdata;

        if (r->n < ELEMENTSOF(r->items))
                r->items[r->n++] = (Item) { .ev = *ev };
}

static void rec_loss(const CnprocLoss *loss, void *userdata) {
        Recorder *r = userdata;

        if (r->n < ELEMENTSOF(r->items))
                r->items[r->n++] = (Item) { .is_loss = true, .loss = *loss };
}

static void rec_batch(void *userdata) {
        Recorder *r = userdata;

        r->batches++;
}

static int decode(const uint8_t *buf, size_t len, uint32_t sender, Recorder *rec) {
        *rec = (Recorder) {};
        return cnproc_decode(buf, len, sender, rec_event, rec);
}

/* ---- decoder ---- */

static void test_decode_each_type(void) {
        uint8_t buf[4096];
        Recorder rec;
        size_t len;

        len = put_fork(buf, 0, 1, 7, 1000, 100, 101, 200, 201);
        ASSERT_TRUE(decode(buf, len, 0, &rec) == 1);
        ASSERT_TRUE(rec.n == 1);
        ASSERT_TRUE(rec.items[0].ev.type == LINEAGE_EVENT_FORK);
        ASSERT_TRUE(rec.items[0].ev.cpu == 1 && rec.items[0].ev.seq == 7 && rec.items[0].ev.timestamp_ns == 1000);
        ASSERT_TRUE(rec.items[0].ev.pid == 200 && rec.items[0].ev.tgid == 201);
        ASSERT_TRUE(rec.items[0].ev.fork.parent_pid == 100 && rec.items[0].ev.fork.parent_tgid == 101);

        struct exec_proc_event ex = { .process_pid = 300, .process_tgid = 301 };
        len = put_msg(buf, 0, PROC_EVENT_EXEC, 0, 1, 2, &ex, sizeof(ex));
        ASSERT_TRUE(decode(buf, len, 0, &rec) == 1);
        ASSERT_TRUE(rec.items[0].ev.type == LINEAGE_EVENT_EXEC && rec.items[0].ev.pid == 300 && rec.items[0].ev.tgid == 301);

        struct id_proc_event id = { .process_pid = 5, .process_tgid = 6, .r.ruid = 1000, .e.euid = 0 };
        len = put_msg(buf, 0, PROC_EVENT_UID, 0, 1, 2, &id, sizeof(id));
        ASSERT_TRUE(decode(buf, len, 0, &rec) == 1);
        ASSERT_TRUE(rec.items[0].ev.type == LINEAGE_EVENT_UID && rec.items[0].ev.pid == 5 && rec.items[0].ev.tgid == 6);
        ASSERT_TRUE(rec.items[0].ev.id.r == 1000 && rec.items[0].ev.id.e == 0);

        id.r.rgid = 50, id.e.egid = 60;
        len = put_msg(buf, 0, PROC_EVENT_GID, 0, 1, 2, &id, sizeof(id));
        ASSERT_TRUE(decode(buf, len, 0, &rec) == 1);
        ASSERT_TRUE(rec.items[0].ev.type == LINEAGE_EVENT_GID && rec.items[0].ev.id.r == 50 && rec.items[0].ev.id.e == 60);

        struct sid_proc_event sid = { .process_pid = 7, .process_tgid = 8 };
        len = put_msg(buf, 0, PROC_EVENT_SID, 0, 1, 2, &sid, sizeof(sid));
        ASSERT_TRUE(decode(buf, len, 0, &rec) == 1);
        ASSERT_TRUE(rec.items[0].ev.type == LINEAGE_EVENT_SID && rec.items[0].ev.pid == 7 && rec.items[0].ev.tgid == 8);

        struct ptrace_proc_event pt = { .process_pid = 9, .process_tgid = 10, .tracer_pid = 11, .tracer_tgid = 12 };
        len = put_msg(buf, 0, PROC_EVENT_PTRACE, 0, 1, 2, &pt, sizeof(pt));
        ASSERT_TRUE(decode(buf, len, 0, &rec) == 1);
        ASSERT_TRUE(rec.items[0].ev.type == LINEAGE_EVENT_PTRACE && rec.items[0].ev.pid == 9 && rec.items[0].ev.tgid == 10);
        ASSERT_TRUE(rec.items[0].ev.ptrace.tracer_pid == 11 && rec.items[0].ev.ptrace.tracer_tgid == 12);

        struct comm_proc_event cm = { .process_pid = 13, .process_tgid = 14, .comm = "kworker/u8:1" };
        len = put_msg(buf, 0, PROC_EVENT_COMM, 0, 1, 2, &cm, sizeof(cm));
        ASSERT_TRUE(decode(buf, len, 0, &rec) == 1);
        ASSERT_TRUE(rec.items[0].ev.type == LINEAGE_EVENT_COMM && rec.items[0].ev.pid == 13 && rec.items[0].ev.tgid == 14);
        ASSERT_TRUE(streq(rec.items[0].ev.comm.comm, "kworker/u8:1"));

        struct coredump_proc_event cd = { .process_pid = 15, .process_tgid = 16, .parent_pid = 17, .parent_tgid = 18 };
        len = put_msg(buf, 0, PROC_EVENT_COREDUMP, 0, 1, 2, &cd, sizeof(cd));
        ASSERT_TRUE(decode(buf, len, 0, &rec) == 1);
        ASSERT_TRUE(rec.items[0].ev.type == LINEAGE_EVENT_COREDUMP && rec.items[0].ev.pid == 15 && rec.items[0].ev.tgid == 16);
        ASSERT_TRUE(rec.items[0].ev.coredump.parent_pid == 17 && rec.items[0].ev.coredump.parent_tgid == 18);

        struct exit_proc_event xe = { .process_pid = 19, .process_tgid = 20, .exit_code = (3 << 8),
                                      .exit_signal = SIGCHLD, .parent_pid = 21, .parent_tgid = 22 };
        len = put_msg(buf, 0, PROC_EVENT_EXIT, 3, 99, 12345678901ULL, &xe, sizeof(xe));
        ASSERT_TRUE(decode(buf, len, 0, &rec) == 1);
        ASSERT_TRUE(rec.items[0].ev.type == LINEAGE_EVENT_EXIT && rec.items[0].ev.pid == 19 && rec.items[0].ev.tgid == 20);
        ASSERT_TRUE(rec.items[0].ev.exit.code >> 8 == 3 && rec.items[0].ev.exit.signal == SIGCHLD);
        ASSERT_TRUE(rec.items[0].ev.exit.parent_pid == 21 && rec.items[0].ev.exit.parent_tgid == 22);
        ASSERT_TRUE(rec.items[0].ev.cpu == 3 && rec.items[0].ev.seq == 99 && rec.items[0].ev.timestamp_ns == 12345678901ULL);

        /* An acknowledgement is not an event. */
        len = put_ack(buf, 0, 0, 5, 43, 0);
        ASSERT_TRUE(decode(buf, len, 0, &rec) == 0);
        ASSERT_TRUE(rec.n == 0);
}

static void test_decode_malformed(void) {
        uint8_t buf[4096] = {};
        Recorder rec;
        size_t len;

        /* Empty datagram, and a truncated nlmsghdr. */
        ASSERT_TRUE(decode(buf, 0, 0, &rec) == -EBADMSG);
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2);
        ASSERT_TRUE(decode(buf, 10, 0, &rec) == -EBADMSG && rec.n == 0);

        /* Truncated body: the header says more than the datagram holds. */
        ASSERT_TRUE(decode(buf, len - 4, 0, &rec) == -EBADMSG && rec.n == 0);

        /* nlmsg_len too large, too small, and large enough for the header but not for a cn_msg. */
        set_nlmsg_len(buf, 0, (uint32_t) len + 8);
        ASSERT_TRUE(decode(buf, len, 0, &rec) == -EBADMSG && rec.n == 0);
        set_nlmsg_len(buf, 0, 8);
        ASSERT_TRUE(decode(buf, len, 0, &rec) == -EBADMSG && rec.n == 0);
        set_nlmsg_len(buf, 0, UINT32_MAX);
        ASSERT_TRUE(decode(buf, len, 0, &rec) == -EBADMSG && rec.n == 0);
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2);
        set_nlmsg_len(buf, 0, NLMSG_HDRLEN + 10);
        ASSERT_TRUE(decode(buf, NLMSG_HDRLEN + 12, 0, &rec) == -EBADMSG && rec.n == 0);

        /* cn_msg.len beyond the message, and too small for the event type. */
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2);
        set_cn_len(buf, 0, sizeof(struct proc_event) + 1);
        ASSERT_TRUE(decode(buf, len, 0, &rec) == -EBADMSG && rec.n == 0);
        set_cn_len(buf, 0, 16 + 8); /* header + 8 bytes: fine for exec, short for fork */
        ASSERT_TRUE(decode(buf, len, 0, &rec) == -EBADMSG && rec.n == 0);
        set_cn_len(buf, 0, 8);
        ASSERT_TRUE(decode(buf, len, 0, &rec) == -EBADMSG && rec.n == 0);
        struct exec_proc_event ex = { .process_pid = 1, .process_tgid = 1 };
        len = put_msg(buf, 0, PROC_EVENT_EXEC, 0, 1, 1, &ex, sizeof(ex));
        set_cn_len(buf, 0, 16 + 8);
        ASSERT_TRUE(decode(buf, len, 0, &rec) == 1 && rec.n == 1); /* exactly enough */

        /* Wrong connector id. */
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2);
        set_cn_idx(buf, 0, CN_IDX_PROC + 1);
        ASSERT_TRUE(decode(buf, len, 0, &rec) == -EBADMSG && rec.n == 0);

        /* Not from the kernel. */
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2);
        ASSERT_TRUE(decode(buf, len, 1234, &rec) == -EPERM && rec.n == 0);

        /* A cpu number no kernel has. */
        len = put_fork(buf, 0, 8192, 1, 1, 1, 1, 2, 2);
        ASSERT_TRUE(decode(buf, len, 0, &rec) == -EBADMSG && rec.n == 0);
        len = put_fork(buf, 0, 8191, 1, 1, 1, 1, 2, 2);
        ASSERT_TRUE(decode(buf, len, 0, &rec) == 1);

        /* Trailing bytes that cannot hold a header. */
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2);
        memset(buf + len, 0, 8);
        ASSERT_TRUE(decode(buf, len + 8, 0, &rec) == -EBADMSG && rec.n == 1);

        /* A netlink error message is not an event. */
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2);
        buf[offsetof(struct nlmsghdr, nlmsg_type)] = NLMSG_ERROR;
        ASSERT_TRUE(decode(buf, len, 0, &rec) == -EBADMSG && rec.n == 0);
}

static void test_decode_multi(void) {
        uint8_t buf[4096];
        struct exec_proc_event ex = { .process_pid = 2, .process_tgid = 2 };
        struct comm_proc_event cm = { .process_pid = 2, .process_tgid = 2 };
        Recorder rec;
        size_t len;

        /* Several messages in one datagram, delivered in order. */
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2);
        len = put_msg(buf, len, PROC_EVENT_EXEC, 0, 2, 2, &ex, sizeof(ex));
        len = put_ack(buf, len, 0, 3, 8, 0);
        len = put_msg(buf, len, 0x400 /* unknown */, 0, 4, 4, &ex, sizeof(ex));
        memset(cm.comm, 'A', sizeof(cm.comm)); /* no NUL */
        len = put_msg(buf, len, PROC_EVENT_COMM, 0, 5, 5, &cm, sizeof(cm));
        ASSERT_TRUE(decode(buf, len, 0, &rec) == -EBADMSG); /* the unknown type */
        ASSERT_TRUE(rec.n == 3);
        ASSERT_TRUE(rec.items[0].ev.type == LINEAGE_EVENT_FORK);
        ASSERT_TRUE(rec.items[1].ev.type == LINEAGE_EVENT_EXEC);
        ASSERT_TRUE(rec.items[2].ev.type == LINEAGE_EVENT_COMM);
        ASSERT_TRUE(strlen(rec.items[2].ev.comm.comm) == 15);
        ASSERT_TRUE(rec.items[2].ev.comm.comm[15] == 0);

        /* Without the unknown one it is clean. */
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2);
        len = put_msg(buf, len, PROC_EVENT_EXEC, 0, 2, 2, &ex, sizeof(ex));
        ASSERT_TRUE(decode(buf, len, 0, &rec) == 2 && rec.n == 2);

        /* A bad header in the middle ends the walk; what came before is still delivered. */
        size_t second = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2);
        len = put_fork(buf, second, 0, 2, 2, 1, 1, 3, 3);
        len = put_fork(buf, len, 0, 3, 3, 1, 1, 4, 4);
        set_nlmsg_len(buf, second, 4);
        ASSERT_TRUE(decode(buf, len, 0, &rec) == -EBADMSG && rec.n == 1 && rec.items[0].ev.pid == 2);
}

/* ---- sequence tracking ---- */

static void test_sequence(void) {
        _cleanup_(cnproc_freep) Cnproc *c = NULL;
        CnprocCallbacks cb = { .event = rec_event, .loss = rec_loss, .batch_done = rec_batch };
        CnprocStats st;
        Recorder rec = {};
        uint8_t buf[4096];
        size_t len;

        ASSERT_TRUE(cnproc_new(&c, &cb, &rec) == 0);
        if (!c)
                return;

        /* cpu 1: baseline 10, then 11 (no loss), then 16: four lost, reported before event 16. */
        len = put_fork(buf, 0, 1, 10, 1000, 1, 1, 10, 10);
        ASSERT_TRUE(cnproc_process_datagram(c, buf, len, 0) == 1);
        len = put_fork(buf, 0, 1, 11, 1100, 1, 1, 11, 11);
        ASSERT_TRUE(cnproc_process_datagram(c, buf, len, 0) == 1);
        /* cpu 0 interleaved: its own baseline, no interference. */
        len = put_fork(buf, 0, 0, 500, 1150, 1, 1, 500, 500);
        len = put_fork(buf, len, 0, 501, 1160, 1, 1, 501, 501);
        ASSERT_TRUE(cnproc_process_datagram(c, buf, len, 0) == 2);
        len = put_fork(buf, 0, 1, 16, 1600, 1, 1, 16, 16);
        ASSERT_TRUE(cnproc_process_datagram(c, buf, len, 0) == 1);

        ASSERT_TRUE(rec.n == 6);
        ASSERT_TRUE(!rec.items[0].is_loss && rec.items[0].ev.seq == 10);
        ASSERT_TRUE(!rec.items[1].is_loss && rec.items[1].ev.seq == 11);
        ASSERT_TRUE(!rec.items[2].is_loss && rec.items[2].ev.seq == 500);
        ASSERT_TRUE(!rec.items[3].is_loss && rec.items[3].ev.seq == 501);
        ASSERT_TRUE(rec.items[4].is_loss);
        ASSERT_TRUE(rec.items[4].loss.reason == CNPROC_LOSS_SEQUENCE);
        ASSERT_TRUE(rec.items[4].loss.cpu == 1 && rec.items[4].loss.lost == 4);
        ASSERT_TRUE(rec.items[4].loss.after_ns == 1100 && rec.items[4].loss.before_ns == 1600);
        ASSERT_TRUE(!rec.items[5].is_loss && rec.items[5].ev.seq == 16);

        /* An ack consumes a sequence number on current kernels: 17 (ack) then 18 is no gap. */
        rec.n = 0;
        len = put_ack(buf, 0, 1, 17, 1, 0);
        len = put_fork(buf, len, 1, 18, 1800, 1, 1, 18, 18);
        ASSERT_TRUE(cnproc_process_datagram(c, buf, len, 0) == 1);
        ASSERT_TRUE(rec.n == 1 && !rec.items[0].is_loss);
        /* An old kernel's ack (cpu -1, our seq echoed) stays outside the per-CPU sequences. */
        len = put_ack(buf, 0, UINT32_MAX, 4242, 1, 0);
        len = put_fork(buf, len, 1, 19, 1900, 1, 1, 19, 19);
        ASSERT_TRUE(cnproc_process_datagram(c, buf, len, 0) == 1);
        ASSERT_TRUE(rec.n == 2 && !rec.items[1].is_loss);

        /* Backwards: a new baseline, no loss. Then a gap on cpu 0 is still measured from its own last. */
        rec.n = 0;
        len = put_fork(buf, 0, 1, 3, 2000, 1, 1, 3, 3);
        len = put_fork(buf, len, 1, 4, 2100, 1, 1, 4, 4);
        len = put_fork(buf, len, 0, 503, 2200, 1, 1, 503, 503);
        ASSERT_TRUE(cnproc_process_datagram(c, buf, len, 0) == 3);
        ASSERT_TRUE(rec.n == 4);
        ASSERT_TRUE(!rec.items[0].is_loss && !rec.items[1].is_loss);
        ASSERT_TRUE(rec.items[2].is_loss && rec.items[2].loss.cpu == 0 && rec.items[2].loss.lost == 1);
        ASSERT_TRUE(rec.items[2].loss.after_ns == 1160 && rec.items[2].loss.before_ns == 2200);

        /* The counter wraps around; a far cpu grows the table. */
        rec.n = 0;
        len = put_fork(buf, 0, 2, UINT32_MAX, 3000, 1, 1, 7, 7);
        len = put_fork(buf, len, 2, 0, 3100, 1, 1, 8, 8);
        len = put_fork(buf, len, 5000, 1, 3200, 1, 1, 9, 9);
        len = put_fork(buf, len, 5000, 3, 3300, 1, 1, 10, 10);
        ASSERT_TRUE(cnproc_process_datagram(c, buf, len, 0) == 4);
        ASSERT_TRUE(rec.n == 5);
        ASSERT_TRUE(!rec.items[0].is_loss && !rec.items[1].is_loss && !rec.items[2].is_loss);
        ASSERT_TRUE(rec.items[3].is_loss && rec.items[3].loss.cpu == 5000 && rec.items[3].loss.lost == 1);

        /* Rejected messages are counted, not delivered, and do not stop the rest. */
        rec.n = 0;
        len = put_fork(buf, 0, 1, 5, 4000, 1, 1, 5, 5);
        set_cn_idx(buf, 0, 9);
        len = put_fork(buf, len, 1, 5, 4000, 1, 1, 5, 5);
        ASSERT_TRUE(cnproc_process_datagram(c, buf, len, 0) == 1);
        ASSERT_TRUE(cnproc_process_datagram(c, buf, len, 77) == 0);
        ASSERT_TRUE(rec.n == 1);

        cnproc_get_stats(c, &st);
        ASSERT_TRUE(st.lost == 4 + 1 + 1);
        ASSERT_TRUE(st.rejected == 2);
        ASSERT_TRUE(st.messages == 10);
        ASSERT_TRUE(st.events[LINEAGE_EVENT_FORK] == 15);
        ASSERT_TRUE(st.events[0] == 2);
        ASSERT_TRUE(st.overflows == 0 && st.wakeups == 0);

        /* No socket: drain has nothing to read. */
        ASSERT_TRUE(cnproc_drain(c) == -ENOTCONN);
        ASSERT_TRUE(rec.batches == 0);
}

/* ---- live ---- */

typedef struct Live {
        pid_t self, child, thread;
        bool fork_seen, exec_seen, exit_seen, thread_seen;
        int32_t thread_parent_tgid;
        uint32_t exit_code;
        uint64_t events, losses;
        unsigned batches;
} Live;

static void live_event(const CnprocEvent *ev, void *userdata) {
        Live *l = userdata;

        l->events++;
        if (ev->type == LINEAGE_EVENT_FORK && l->child > 0 && ev->pid == l->child && ev->tgid == l->child &&
            ev->fork.parent_tgid == l->self)
                l->fork_seen = true;
        /* A new thread's "parent" fields are its group's real parent (the kernel reads task->real_parent,
         * which CLONE_THREAD copies from the creator), not the creating thread. */
        if (ev->type == LINEAGE_EVENT_FORK && l->thread > 0 && ev->pid == l->thread && ev->tgid == l->self &&
            ev->pid != ev->tgid) {
                l->thread_seen = true;
                l->thread_parent_tgid = ev->fork.parent_tgid;
        }
        if (ev->type == LINEAGE_EVENT_EXEC && l->child > 0 && ev->tgid == l->child)
                l->exec_seen = true;
        if (ev->type == LINEAGE_EVENT_EXIT && l->child > 0 && ev->pid == l->child && ev->tgid == l->child &&
            ev->exit.parent_tgid == l->self) {
                l->exit_seen = true;
                l->exit_code = ev->exit.code;
        }
}

static void live_loss(const CnprocLoss *loss, void *userdata) {
        Live *l = userdata;

        fprintf(stderr, "loss: reason %d cpu %u lost %llu\n", loss->reason, loss->cpu,
                (unsigned long long) loss->lost);
        l->losses++;
}

static void live_batch(void *userdata) {
        Live *l = userdata;

        l->batches++;
}

static void *thread_main(void *p) {
        *(pid_t *) p = gettid();
        return NULL;
}

static bool kernel_at_least(unsigned major, unsigned minor) {
        struct utsname u;
        unsigned a = 0, b = 0;

        if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &a, &b) != 2)
                return false;
        return a > major || (a == major && b >= minor);
}

static bool in_initial_user_ns(void) {
        char line[128] = "";
        _cleanup_fclose_ FILE *f = fopen("/proc/self/uid_map", "re");
        unsigned long a, b, n;

        if (!f || !fgets(line, sizeof(line), f))
                return false;
        return sscanf(line, "%lu %lu %lu", &a, &b, &n) == 3 && a == 0 && b == 0 && n == 4294967295UL;
}

static int run_loop_until(sd_event *e, Live *l, bool (*done)(const Live *l), uint64_t timeout_usec) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;

        while (!done(l) && now_usec(CLOCK_MONOTONIC) < deadline)
                if (sd_event_run(e, 100 * USEC_PER_MSEC) < 0)
                        return -EIO;
        return done(l) ? 0 : -ETIMEDOUT;
}

static bool child_done(const Live *l) {
        return l->fork_seen && l->exec_seen && l->exit_seen && l->thread_seen;
}

static bool never(const Live *l) {
        return false;
}

static int test_live(void) {
        _cleanup_(cnproc_freep) Cnproc *c = NULL;
        CnprocCallbacks cb = { .event = live_event, .loss = live_loss, .batch_done = live_batch };
        sd_event *e = NULL;
        Live l = { .self = getpid() };
        CnprocStats st;
        pthread_t t;
        pid_t thread_tid = 0;
        int status, r;

        if (geteuid() != 0) {
                printf("live test skipped: needs root (CAP_NET_ADMIN) to subscribe to the proc connector\n");
                return 77;
        }
        if (!in_initial_user_ns()) {
                printf("live test skipped: the kernel only answers listeners in the initial user namespace\n");
                return 77;
        }

        ASSERT_TRUE(cnproc_new(&c, &cb, &l) == 0);
        ASSERT_TRUE(cnproc_get_fd(c) == -ENOTCONN);
        r = cnproc_subscribe(c);
        ASSERT_TRUE(r == 0);
        if (r < 0)
                return 1;
        ASSERT_TRUE(cnproc_get_fd(c) >= 0);
        /* Whatever arrived while waiting for the acknowledgement is held for the first drain. */
        ASSERT_TRUE(l.events == 0);

        cnproc_get_stats(c, &st);
        ASSERT_TRUE(st.filtered == kernel_at_least(6, 6));
        ASSERT_TRUE(st.rcvbuf >= 64 * 1024 * 1024); /* root: SO_RCVBUFFORCE (the kernel reports it doubled) */
        ASSERT_TRUE(cnproc_subscribe(c) == -EALREADY);

        ASSERT_TRUE(sd_event_new(&e) >= 0);
        ASSERT_TRUE(cnproc_attach(c, e) == 0);
        ASSERT_TRUE(cnproc_attach(c, e) == -EBUSY);

        l.child = fork();
        if (l.child == 0) {
                execl("/bin/sh", "sh", "-c", "exit 3", (char *) NULL);
                _exit(127);
        }
        ASSERT_TRUE(l.child > 0);
        ASSERT_TRUE(waitpid(l.child, &status, 0) == l.child);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3);

        ASSERT_TRUE(pthread_create(&t, NULL, thread_main, &thread_tid) == 0);
        ASSERT_TRUE(pthread_join(t, NULL) == 0);
        l.thread = thread_tid;
        ASSERT_TRUE(thread_tid > 0 && thread_tid != getpid());

        ASSERT_TRUE(run_loop_until(e, &l, child_done, 5 * USEC_PER_SEC) == 0);
        ASSERT_TRUE(l.fork_seen);
        ASSERT_TRUE(l.exec_seen);
        ASSERT_TRUE(l.exit_seen && l.exit_code >> 8 == 3);
        ASSERT_TRUE(l.thread_seen && l.thread_parent_tgid == getppid());
        ASSERT_TRUE(l.batches >= 1);

        /* A busy stretch: a child forks and reaps as fast as it can for 300 ms while we listen. Woken
         * once per event, the loop would wake about as often as there are events; draining on the batch
         * timer, wakeups are bounded by time (at most an I/O and a timer wakeup per interval), however
         * many events arrive. The machine may be loaded, so the bound is on time, not on event rate. */
        cnproc_get_stats(c, &st);
        uint64_t events_before = l.events, wakeups_before = st.wakeups, start = now_usec(CLOCK_MONOTONIC);
        pid_t churn = fork();
        if (churn == 0) {
                uint64_t end = now_usec(CLOCK_MONOTONIC) + 300 * USEC_PER_MSEC;

                while (now_usec(CLOCK_MONOTONIC) < end) {
                        pid_t p = fork();

                        if (p == 0)
                                _exit(0);
                        if (p > 0)
                                (void) waitpid(p, NULL, 0);
                }
                _exit(0);
        }
        ASSERT_TRUE(churn > 0);
        (void) run_loop_until(e, &l, never, 400 * USEC_PER_MSEC);
        ASSERT_TRUE(waitpid(churn, &status, 0) == churn);
        (void) run_loop_until(e, &l, never, 50 * USEC_PER_MSEC);

        cnproc_get_stats(c, &st);
        uint64_t events = l.events - events_before, wakeups = st.wakeups - wakeups_before;
        uint64_t elapsed = now_usec(CLOCK_MONOTONIC) - start, bound = 2 * elapsed / (4 * USEC_PER_MSEC) + 4;
        printf("busy stretch: %llu events in %llu wakeups over %llu ms (bound %llu); total %llu messages, "
               "%llu rejected, %llu lost, %llu overflows, rcvbuf %d, filtered %d\n",
               (unsigned long long) events, (unsigned long long) wakeups,
               (unsigned long long) (elapsed / USEC_PER_MSEC), (unsigned long long) bound,
               (unsigned long long) st.messages, (unsigned long long) st.rejected, (unsigned long long) st.lost,
               (unsigned long long) st.overflows, st.rcvbuf, st.filtered);
        ASSERT_TRUE(events >= 2);
        ASSERT_TRUE(wakeups >= 1);
        ASSERT_TRUE(wakeups <= bound);
        if (events > 4 * bound)
                ASSERT_TRUE(wakeups * 4 < events);
        ASSERT_TRUE(st.lost == 0 && st.overflows == 0 && l.losses == 0);
        ASSERT_TRUE(st.rejected == 0);
        ASSERT_TRUE(st.events[LINEAGE_EVENT_FORK] > 0 && st.events[LINEAGE_EVENT_EXIT] > 0);
        /* Every event counted (queued ones included) reached the callback. */
        uint64_t counted = 0;
        for (size_t i = 1; i < ELEMENTSOF(st.events); i++)
                counted += st.events[i];
        ASSERT_TRUE(counted == l.events);

        cnproc_unsubscribe(c);
        c = cnproc_free(c);
        sd_event_unref(e);
        return 0;
}

/* Overflows the socket on purpose: a tiny buffer and a burst nobody drains. Then the overflow must be
 * reported (ENOBUFS), and the per-CPU sequence numbers must tell how many events were lost. */
typedef struct Overflow {
        unsigned enobufs, gaps, events;
        bool event_after_gap;
        uint64_t lost;
} Overflow;

static void overflow_event(const CnprocEvent *ev, void *userdata) {
        Overflow *o = userdata;

        o->events++;
        if (o->gaps > 0)
                o->event_after_gap = true;
}

static void overflow_loss(const CnprocLoss *loss, void *userdata) {
        Overflow *o = userdata;

        if (loss->reason == CNPROC_LOSS_ENOBUFS) {
                o->enobufs++;
                return;
        }
        o->gaps++;
        o->lost += loss->lost;
        if (loss->lost == 0 || loss->before_ns < loss->after_ns)
                o->lost = UINT64_MAX / 2; /* fails the check below */
}

static void fork_children(unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                pid_t p = fork();

                if (p == 0)
                        _exit(0);
                if (p > 0)
                        (void) waitpid(p, NULL, 0);
        }
}

static void test_live_overflow(void) {
        _cleanup_(cnproc_freep) Cnproc *c = NULL;
        CnprocCallbacks cb = { .event = overflow_event, .loss = overflow_loss };
        Overflow o = {};
        CnprocStats st;
        int fd, small = 1;

        ASSERT_TRUE(cnproc_new(&c, &cb, &o) == 0);
        ASSERT_TRUE(cnproc_subscribe(c) == 0);
        fd = cnproc_get_fd(c);
        ASSERT_TRUE(fd >= 0);
        if (fd < 0)
                return;
        (void) cnproc_drain(c);
        ASSERT_TRUE(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);

        fork_children(200);
        ASSERT_TRUE(cnproc_drain(c) >= 0);
        /* A gap shows when the next event from that cpu arrives: make more until every cpu has sent
         * one, i.e. until every lost event is accounted for (other processes' events count too). */
        for (unsigned i = 0; i < 500; i++) {
                cnproc_get_stats(c, &st);
                if (o.gaps > 0 && st.lost + o.events >= 2 * 200)
                        break;
                fork_children(2);
                ASSERT_TRUE(cnproc_drain(c) >= 0);
        }

        cnproc_get_stats(c, &st);
        printf("overflow: %u ENOBUFS reports, %u gaps, %llu events lost, %u delivered\n", o.enobufs, o.gaps,
               (unsigned long long) o.lost, o.events);
        ASSERT_TRUE(st.overflows >= 1 && o.enobufs == st.overflows);
        ASSERT_TRUE(o.gaps >= 1 && o.lost == st.lost && st.lost > 0);
        ASSERT_TRUE(o.event_after_gap);
        /* 200 forks and 200 exits were sent; few fit in the buffer. */
        ASSERT_TRUE(st.lost + o.events >= 2 * 200);
}

/* ---- seed corpus for tests/fuzz/fuzz-netlink ---- */

static int write_file(const char *dir, const char *name, const uint8_t *buf, size_t len) {
        char path[4096];
        _cleanup_close_ int fd = -1;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, buf, len) != (ssize_t) len)
                return log_error_errno(errno, "Failed to write %s: %m", path);
        return 0;
}

static int write_corpus(const char *dir) {
        struct exec_proc_event ex = { .process_pid = 2, .process_tgid = 2 };
        struct id_proc_event id = { .process_pid = 2, .process_tgid = 2, .r.ruid = 1000, .e.euid = 1000 };
        struct ptrace_proc_event pt = { .process_pid = 2, .process_tgid = 2, .tracer_pid = 3, .tracer_tgid = 3 };
        struct comm_proc_event cm = { .process_pid = 2, .process_tgid = 2, .comm = "bash" };
        struct coredump_proc_event cd = { .process_pid = 2, .process_tgid = 2, .parent_pid = 1, .parent_tgid = 1 };
        struct exit_proc_event xe = { .process_pid = 2, .process_tgid = 2, .exit_code = 0x8b, .exit_signal = 17,
                                      .parent_pid = 1, .parent_tgid = 1 };
        uint8_t buf[4096];
        size_t len;
        int r = 0;

        (void) mkdir(dir, 0755);
#define W(name) r = r < 0 ? r : write_file(dir, name, buf, len)
        len = put_fork(buf, 0, 0, 1, 1000, 1, 1, 2, 2); W("fork");
        len = put_fork(buf, 0, 1, 7, 1000, 2, 2, 3, 2); W("fork-thread");
        len = put_msg(buf, 0, PROC_EVENT_EXEC, 0, 2, 1001, &ex, sizeof(ex)); W("exec");
        len = put_msg(buf, 0, PROC_EVENT_UID, 0, 3, 1002, &id, sizeof(id)); W("uid");
        len = put_msg(buf, 0, PROC_EVENT_GID, 0, 4, 1003, &id, sizeof(id)); W("gid");
        len = put_msg(buf, 0, PROC_EVENT_SID, 0, 5, 1004, &ex, sizeof(ex)); W("sid");
        len = put_msg(buf, 0, PROC_EVENT_PTRACE, 0, 6, 1005, &pt, sizeof(pt)); W("ptrace");
        len = put_msg(buf, 0, PROC_EVENT_COMM, 0, 7, 1006, &cm, sizeof(cm)); W("comm");
        memset(cm.comm, 'x', sizeof(cm.comm));
        len = put_msg(buf, 0, PROC_EVENT_COMM, 0, 7, 1006, &cm, sizeof(cm)); W("comm-no-nul");
        len = put_msg(buf, 0, PROC_EVENT_COREDUMP, 0, 8, 1007, &cd, sizeof(cd)); W("coredump");
        len = put_msg(buf, 0, PROC_EVENT_EXIT, 0, 9, 1008, &xe, sizeof(xe)); W("exit");
        len = put_ack(buf, 0, 1, 0, 778, 0); W("ack");
        len = put_ack(buf, 0, UINT32_MAX, 12345, 778, 0); W("ack-old-kernel");
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2);
        len = put_msg(buf, len, PROC_EVENT_EXEC, 0, 2, 2, &ex, sizeof(ex));
        len = put_msg(buf, len, PROC_EVENT_EXIT, 0, 3, 3, &xe, sizeof(xe)); W("multi");
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2);
        len = put_msg(buf, len, 0x400, 0, 2, 2, &ex, sizeof(ex)); W("unknown-type");
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2); len = 10; W("truncated-header");
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2); set_nlmsg_len(buf, 0, 200); W("nlmsg-len-large");
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2); set_nlmsg_len(buf, 0, 4); W("nlmsg-len-small");
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2); set_cn_len(buf, 0, 300); W("cn-len-large");
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2); set_cn_len(buf, 0, 20); W("cn-len-short");
        len = put_fork(buf, 0, 0, 1, 1, 1, 1, 2, 2); set_cn_idx(buf, 0, 7); W("cn-id-wrong");
        len = put_fork(buf, 0, 9000, 1, 1, 1, 1, 2, 2); W("cpu-too-large");
#undef W
        return r;
}

int main(int argc, char **argv) {
        int r;

        log_setup();
        if (argc == 3 && streq(argv[1], "--write-corpus"))
                return write_corpus(argv[2]) < 0 ? 1 : 0;

        test_decode_each_type();
        test_decode_malformed();
        test_decode_multi();
        test_sequence();

        r = test_live();
        if (r == 0)
                test_live_overflow();
        return r;
}
