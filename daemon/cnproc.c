/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel proc connector: subscription, datagram validation and decoding, batched draining, loss detection. */
#include <errno.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "lineage/util.h"
#include "cnproc.h"

/* Asked for with SO_RCVBUFFORCE (CAP_NET_ADMIN), else SO_RCVBUF (capped by net.core.rmem_max). */
#define CNPROC_RCVBUF_SIZE (64 * 1024 * 1024)
/* How long to wait for the kernel's acknowledgement of each subscription form. */
#define CNPROC_ACK_TIMEOUT_USEC (250 * USEC_PER_MSEC)
/* After a wakeup, sleep this long and drain again while events keep coming (see cnproc_attach()). */
#define CNPROC_BATCH_INTERVAL_USEC (4 * USEC_PER_MSEC)
#define CNPROC_BATCH_ACCURACY_USEC (1 * USEC_PER_MSEC)
/* CONFIG_NR_CPUS is at most 8192: a cpu number beyond cannot come from a real kernel. */
#define CNPROC_MAX_CPUS 8192U
/* Datagrams read per drain at most, so a flood cannot starve the rest of the loop. */
#define CNPROC_DRAIN_MAX 65536U
/* Items (events and losses) held while subscribing, before anyone drains. */
#define CNPROC_PENDING_MAX 65536U
/* One datagram. The kernel's are 76 bytes; anything larger than this is truncated and rejected. */
#define CNPROC_RECV_SIZE 4096U

/* Linux 6.6 added per-socket event filtering: a subscription message carrying struct proc_input instead
 * of the bare op. Older uapi headers (Debian 12's) lack it; the new header defines PROC_EVENT_ALL. The
 * other PROC_EVENT_* constants exist in both (in the old header's enum what). */
#ifndef PROC_EVENT_ALL
enum proc_cn_event {
        PROC_EVENT_NONZERO_EXIT = 0x20000000,
};

struct proc_input {
        enum proc_cn_mcast_op mcast_op;
        enum proc_cn_event event_type;
};

#define PROC_EVENT_ALL                                                                          \
        (PROC_EVENT_FORK | PROC_EVENT_EXEC | PROC_EVENT_UID | PROC_EVENT_GID | PROC_EVENT_SID | \
         PROC_EVENT_PTRACE | PROC_EVENT_COMM | PROC_EVENT_NONZERO_EXIT | PROC_EVENT_COREDUMP |  \
         PROC_EVENT_EXIT)
#endif

_Static_assert(sizeof(struct proc_input) == 8, "struct proc_input must match the kernel's");
_Static_assert(sizeof(enum proc_cn_mcast_op) == 4, "enum proc_cn_mcast_op must be 32 bits");
_Static_assert(offsetof(struct proc_event, event_data) == 16, "unexpected struct proc_event layout");
_Static_assert(sizeof(struct cn_msg) == 20, "unexpected struct cn_msg layout");

#define PROC_EVENT_HEADER_SIZE offsetof(struct proc_event, event_data)

/* One validated connector message: an event, or an acknowledgement (PROC_EVENT_NONE). */
typedef struct CnprocDecoded {
        CnprocEvent event;      /* for an ack: type 0, cpu/seq/timestamp as sent */
        bool ack;
        uint32_t cn_ack;        /* cn_msg.ack: the kernel answers a request's ack with ack + 1 */
        uint32_t ack_err;
} CnprocDecoded;

typedef void (*CnprocDecodedHandler)(const CnprocDecoded *d, void *userdata);

typedef struct CpuSeq {
        uint64_t timestamp_ns;
        uint32_t seq;
        bool valid;
} CpuSeq;

typedef struct PendingItem {
        bool is_loss;
        union {
                CnprocEvent event;
                CnprocLoss loss;
        };
} PendingItem;

struct Cnproc {
        CnprocCallbacks cb;
        void *userdata;

        struct mnl_socket *nl;
        uint32_t portid;
        bool subscribed;
        uint32_t next_seq;      /* cn_msg.seq of our requests */
        uint32_t next_cookie;   /* cn_msg.ack of our requests */

        sd_event_source *io;
        sd_event_source *timer;
        uint64_t batch_usec;
        int rcvbuf_size;                /* asked for at subscription */
        bool drain_failing;     /* the last drain from the loop failed: do not log every retry */

        CpuSeq *cpus;
        size_t n_cpus;
        uint64_t last_ns;       /* newest event timestamp seen, for ENOBUFS losses */
        unsigned n_delivered;   /* events delivered by the datagram being processed */

        /* While subscribing: decoded items are queued here, and acks are matched. */
        bool queueing;
        PendingItem *pending;
        size_t n_pending, n_pending_alloc;
        uint64_t pending_dropped;
        uint32_t expect_filter, expect_plain; /* 0 = not sent */
        int acked;              /* 0 none yet, 1 filter form, 2 plain form */
        uint32_t ack_err;

        CnprocStats stats;
        uint8_t buf[CNPROC_RECV_SIZE] __attribute__((aligned(8)));
};

/* ---- decoding ---- */

static bool what_to_type(uint32_t what, uint32_t *ret_type, size_t *ret_payload) {
        static const struct {
                uint32_t what, type;
                size_t payload;
        } table[] = {
                { PROC_EVENT_NONE, 0, sizeof(uint32_t) },
                { PROC_EVENT_FORK, LINEAGE_EVENT_FORK, sizeof(struct fork_proc_event) },
                { PROC_EVENT_EXEC, LINEAGE_EVENT_EXEC, sizeof(struct exec_proc_event) },
                { PROC_EVENT_UID, LINEAGE_EVENT_UID, sizeof(struct id_proc_event) },
                { PROC_EVENT_GID, LINEAGE_EVENT_GID, sizeof(struct id_proc_event) },
                { PROC_EVENT_SID, LINEAGE_EVENT_SID, sizeof(struct sid_proc_event) },
                { PROC_EVENT_PTRACE, LINEAGE_EVENT_PTRACE, sizeof(struct ptrace_proc_event) },
                { PROC_EVENT_COMM, LINEAGE_EVENT_COMM, sizeof(struct comm_proc_event) },
                { PROC_EVENT_COREDUMP, LINEAGE_EVENT_COREDUMP, sizeof(struct coredump_proc_event) },
                { PROC_EVENT_EXIT, LINEAGE_EVENT_EXIT, sizeof(struct exit_proc_event) },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].what == what) {
                        *ret_type = table[i].type;
                        *ret_payload = table[i].payload;
                        return true;
                }
        return false;
}

static void fill_event(CnprocEvent *ev, uint32_t type, const struct proc_event *pe) {
        switch (type) {
        case LINEAGE_EVENT_FORK:
                ev->pid = pe->event_data.fork.child_pid;
                ev->tgid = pe->event_data.fork.child_tgid;
                ev->fork.parent_pid = pe->event_data.fork.parent_pid;
                ev->fork.parent_tgid = pe->event_data.fork.parent_tgid;
                break;
        case LINEAGE_EVENT_EXEC:
        case LINEAGE_EVENT_SID:
                /* exec and sid share the layout { pid, tgid }. */
                ev->pid = pe->event_data.exec.process_pid;
                ev->tgid = pe->event_data.exec.process_tgid;
                break;
        case LINEAGE_EVENT_UID:
        case LINEAGE_EVENT_GID:
                ev->pid = pe->event_data.id.process_pid;
                ev->tgid = pe->event_data.id.process_tgid;
                ev->id.r = pe->event_data.id.r.ruid;
                ev->id.e = pe->event_data.id.e.euid;
                break;
        case LINEAGE_EVENT_PTRACE:
                ev->pid = pe->event_data.ptrace.process_pid;
                ev->tgid = pe->event_data.ptrace.process_tgid;
                ev->ptrace.tracer_pid = pe->event_data.ptrace.tracer_pid;
                ev->ptrace.tracer_tgid = pe->event_data.ptrace.tracer_tgid;
                break;
        case LINEAGE_EVENT_COMM:
                ev->pid = pe->event_data.comm.process_pid;
                ev->tgid = pe->event_data.comm.process_tgid;
                /* The kernel's comm is NUL-terminated within 16 bytes; do not rely on it. */
                memcpy(ev->comm.comm, pe->event_data.comm.comm, sizeof(ev->comm.comm) - 1);
                ev->comm.comm[sizeof(ev->comm.comm) - 1] = 0;
                break;
        case LINEAGE_EVENT_COREDUMP:
                ev->pid = pe->event_data.coredump.process_pid;
                ev->tgid = pe->event_data.coredump.process_tgid;
                ev->coredump.parent_pid = pe->event_data.coredump.parent_pid;
                ev->coredump.parent_tgid = pe->event_data.coredump.parent_tgid;
                break;
        case LINEAGE_EVENT_EXIT:
                ev->pid = pe->event_data.exit.process_pid;
                ev->tgid = pe->event_data.exit.process_tgid;
                ev->exit.code = pe->event_data.exit.exit_code;
                ev->exit.signal = pe->event_data.exit.exit_signal;
                ev->exit.parent_pid = pe->event_data.exit.parent_pid;
                ev->exit.parent_tgid = pe->event_data.exit.parent_tgid;
                break;
        }
}

/* Validates and decodes the payload of one netlink message (a cn_msg carrying a proc_event).
 * Returns -EBADMSG if malformed, -EOPNOTSUPP for an unknown event type. */
static int decode_message(const uint8_t *p, size_t n, CnprocDecoded *ret) {
        struct proc_event pe = {};
        struct cn_msg cn;
        CnprocDecoded d = {};
        size_t payload;
        uint32_t type;

        if (n < sizeof(cn))
                return -EBADMSG;
        memcpy(&cn, p, sizeof(cn));
        if (cn.id.idx != CN_IDX_PROC || cn.id.val != CN_VAL_PROC)
                return -EBADMSG;
        if (cn.len > n - sizeof(cn) || cn.len < PROC_EVENT_HEADER_SIZE)
                return -EBADMSG;

        /* The event sits at an offset that is not 8-aligned: copy it out, zero-filled. */
        memcpy(&pe, p + sizeof(cn), MIN((size_t) cn.len, sizeof(pe)));
        if (!what_to_type((uint32_t) pe.what, &type, &payload))
                return -EOPNOTSUPP;
        if (cn.len < PROC_EVENT_HEADER_SIZE + payload)
                return -EBADMSG;

        /* Old kernels stamp acks with cpu -1; anything else must be a possible cpu number. */
        if (pe.cpu >= CNPROC_MAX_CPUS && !(type == 0 && pe.cpu == UINT32_MAX))
                return -EBADMSG;

        d.event.type = type;
        d.event.cpu = pe.cpu;
        d.event.seq = cn.seq;
        d.event.timestamp_ns = pe.timestamp_ns;
        if (type == 0) {
                d.ack = true;
                d.cn_ack = cn.ack;
                d.ack_err = pe.event_data.ack.err;
        } else
                fill_event(&d.event, type, &pe);

        *ret = d;
        return 0;
}

static size_t align_nlmsg(size_t len) {
        return (len + NLMSG_ALIGNTO - 1) & ~(size_t) (NLMSG_ALIGNTO - 1);
}

/* Walks the netlink messages of one datagram. The connector sends each message as NLMSG_DONE; a
 * datagram may hold several. A bad header ends the walk (nothing after it can be located); a bad
 * message body is skipped. Returns the number of events (not acks) handed to h, or -EPERM. */
static int decode_datagram(const void *buf, size_t len, uint32_t sender_portid, CnprocDecodedHandler h,
                           void *userdata, unsigned *ret_rejected) {
        const uint8_t *p = buf;
        unsigned rejected = 0;
        size_t off = 0;
        int n = 0;

        if (sender_portid != 0) {
                *ret_rejected = 1;
                return -EPERM;
        }
        if (len == 0)
                rejected++;

        while (off < len) {
                size_t left = len - off;
                struct nlmsghdr nlh;
                CnprocDecoded d;

                if (left < NLMSG_HDRLEN) {
                        rejected++;
                        break;
                }
                memcpy(&nlh, p + off, sizeof(nlh));
                if (nlh.nlmsg_len < NLMSG_HDRLEN || nlh.nlmsg_len > left) {
                        rejected++;
                        break;
                }

                if (nlh.nlmsg_type == NLMSG_DONE) {
                        if (decode_message(p + off + NLMSG_HDRLEN, nlh.nlmsg_len - NLMSG_HDRLEN, &d) < 0)
                                rejected++;
                        else {
                                if (h)
                                        h(&d, userdata);
                                if (!d.ack)
                                        n++;
                        }
                } else if (nlh.nlmsg_type != NLMSG_NOOP)
                        rejected++;

                off += MIN(align_nlmsg(nlh.nlmsg_len), left);
        }

        *ret_rejected = rejected;
        return n;
}

typedef struct PublicDecode {
        CnprocEventHandler cb;
        void *userdata;
} PublicDecode;

static void public_decoded(const CnprocDecoded *d, void *userdata) {
        PublicDecode *pd = userdata;

        if (!d->ack && pd->cb)
                pd->cb(&d->event, pd->userdata);
}

int cnproc_decode(const void *buf, size_t len, uint32_t sender_portid, CnprocEventHandler cb, void *userdata) {
        PublicDecode pd = { .cb = cb, .userdata = userdata };
        unsigned rejected = 0;
        int r;

        if (!buf && len > 0)
                return -EINVAL;

        r = decode_datagram(buf, len, sender_portid, public_decoded, &pd, &rejected);
        if (r < 0)
                return r;
        return rejected > 0 ? -EBADMSG : r;
}

/* ---- delivery, queueing while subscribing, sequence tracking ---- */

static int pending_push(Cnproc *c, const PendingItem *item) {
        if (c->n_pending >= CNPROC_PENDING_MAX)
                return -ENOBUFS;
        if (c->n_pending >= c->n_pending_alloc) {
                size_t n = MIN(MAX(c->n_pending_alloc * 2, (size_t) 256), (size_t) CNPROC_PENDING_MAX);
                PendingItem *a = reallocarray(c->pending, n, sizeof(PendingItem));

                if (!a)
                        return -ENOMEM;
                c->pending = a;
                c->n_pending_alloc = n;
        }
        c->pending[c->n_pending++] = *item;
        return 0;
}

static void emit_loss(Cnproc *c, const CnprocLoss *loss) {
        if (c->queueing) {
                /* A loss record must never be dropped silently: losing it would hide a gap. */
                if (pending_push(c, &(PendingItem) { .is_loss = true, .loss = *loss }) < 0)
                        log_warning("Proc connector queue full while subscribing, loss record dropped.");
                return;
        }
        if (c->cb.loss)
                c->cb.loss(loss, c->userdata);
}

static void emit_event(Cnproc *c, const CnprocEvent *ev) {
        if (c->queueing) {
                if (pending_push(c, &(PendingItem) { .event = *ev }) < 0) {
                        log_warning("Out of memory queueing proc connector events while subscribing, event dropped.");
                        return;
                }
        } else
                c->cb.event(ev, c->userdata);
        c->n_delivered++;
}

/* Delivers what was queued while subscribing. Returns the number of events delivered. */
static int flush_pending(Cnproc *c) {
        _cleanup_free_ PendingItem *items = NULL;
        size_t n_items;
        int n = 0;

        if (c->queueing || c->n_pending == 0)
                return 0;

        /* Detach the queue first, so a callback that drains again cannot deliver it twice. */
        items = TAKE_PTR(c->pending);
        n_items = c->n_pending;
        c->n_pending = c->n_pending_alloc = 0;

        for (size_t i = 0; i < n_items; i++) {
                if (items[i].is_loss) {
                        if (c->cb.loss)
                                c->cb.loss(&items[i].loss, c->userdata);
                } else {
                        c->cb.event(&items[i].event, c->userdata);
                        n++;
                }
        }
        return n;
}

static CpuSeq *cpu_seq(Cnproc *c, uint32_t cpu) {
        if (cpu >= CNPROC_MAX_CPUS)
                return NULL;
        if (cpu >= c->n_cpus) {
                size_t n = MIN(MAX((size_t) cpu + 1, c->n_cpus * 2), (size_t) CNPROC_MAX_CPUS);
                CpuSeq *a = reallocarray(c->cpus, n, sizeof(CpuSeq));

                if (!a)
                        return NULL;
                memset(a + c->n_cpus, 0, (n - c->n_cpus) * sizeof(CpuSeq));
                c->cpus = a;
                c->n_cpus = n;
        }
        return &c->cpus[cpu];
}

/* cn_msg.seq counts every message a cpu sent to the proc connector group (acks included on current
 * kernels), so a forward jump of n > 1 means n - 1 messages never reached us. Reports the gap before
 * the message after it is delivered. */
static void track_sequence(Cnproc *c, const CnprocEvent *ev) {
        CpuSeq *s;

        if (ev->timestamp_ns > c->last_ns)
                c->last_ns = ev->timestamp_ns;

        s = cpu_seq(c, ev->cpu);
        if (!s) {
                /* cpu -1 (an ack from an old kernel, outside the sequence), or out of memory. */
                if (ev->cpu != UINT32_MAX)
                        log_debug("Cannot track sequence numbers of cpu %" PRIu32 ", ignoring.", ev->cpu);
                return;
        }

        if (s->valid) {
                uint32_t delta = ev->seq - s->seq; /* wraps around as the kernel's counter does */

                if (delta == 0 || delta > INT32_MAX)
                        log_debug("Sequence on cpu %" PRIu32 " went back from %" PRIu32 " to %" PRIu32
                                  ", resetting.", ev->cpu, s->seq, ev->seq);
                else if (delta > 1) {
                        CnprocLoss loss = {
                                .reason = CNPROC_LOSS_SEQUENCE,
                                .cpu = ev->cpu,
                                .lost = delta - 1,
                                .after_ns = s->timestamp_ns,
                                .before_ns = ev->timestamp_ns,
                        };

                        c->stats.lost += loss.lost;
                        emit_loss(c, &loss);
                }
        }

        s->seq = ev->seq;
        s->timestamp_ns = ev->timestamp_ns;
        s->valid = true;
}

static void handle_ack(Cnproc *c, const CnprocDecoded *d) {
        c->stats.events[0]++;
        if (!c->queueing || c->acked != 0)
                return;
        /* Acks of every listener's requests go to every listener: ours is the one echoing our cookie. */
        if (c->expect_filter != 0 && d->cn_ack == c->expect_filter)
                c->acked = 1;
        else if (c->expect_plain != 0 && d->cn_ack == c->expect_plain)
                c->acked = 2;
        else
                return;
        c->ack_err = d->ack_err;
}

static void handle_decoded(const CnprocDecoded *d, void *userdata) {
        Cnproc *c = userdata;

        if (d->ack)
                handle_ack(c, d);

        /* The queue is full only under a flood while subscribing. Dropping the message without
         * recording its sequence number makes the drop show up as an exact sequence gap later. */
        if (c->queueing && c->n_pending + 2 > CNPROC_PENDING_MAX) {
                c->pending_dropped++;
                return;
        }

        track_sequence(c, &d->event);
        if (d->ack)
                return;

        c->stats.events[d->event.type]++;
        emit_event(c, &d->event);
}

int cnproc_process_datagram(Cnproc *c, const void *buf, size_t len, uint32_t sender_portid) {
        unsigned rejected = 0;
        int n;

        if (!c || (!buf && len > 0))
                return -EINVAL;

        n = flush_pending(c);
        c->stats.messages++;
        /* Count what reached the callbacks (or the queue), not what was decoded. */
        c->n_delivered = 0;
        if (decode_datagram(buf, len, sender_portid, handle_decoded, c, &rejected) < 0)
                log_debug("Dropped proc connector datagram from port %" PRIu32 ", not the kernel.", sender_portid);
        c->stats.rejected += rejected;
        return n + (int) c->n_delivered;
}

/* ---- object ---- */

int cnproc_new(Cnproc **ret, const CnprocCallbacks *cb, void *userdata) {
        Cnproc *c;

        if (!ret || !cb || !cb->event)
                return -EINVAL;

        c = calloc(1, sizeof(Cnproc));
        if (!c)
                return -ENOMEM;
        c->cb = *cb;
        c->userdata = userdata;
        c->batch_usec = CNPROC_BATCH_INTERVAL_USEC;
        /* Make our acks unlikely to be confused with those of another listener's requests. */
        c->next_cookie = (uint32_t) (now_nsec(CLOCK_MONOTONIC) ^ ((uint64_t) getpid() << 16));
        c->next_seq = 1;
        *ret = c;
        return 0;
}

static void cnproc_detach(Cnproc *c) {
        c->io = sd_event_source_disable_unref(c->io);
        c->timer = sd_event_source_disable_unref(c->timer);
}

static void cnproc_close(Cnproc *c) {
        cnproc_detach(c);
        if (c->nl) {
                mnl_socket_close(c->nl);
                c->nl = NULL;
        }
        c->subscribed = false;
        c->queueing = false;
}

Cnproc *cnproc_free(Cnproc *c) {
        if (!c)
                return NULL;
        /* Before 6.6 the kernel keeps counting a listener that closes without unsubscribing. */
        cnproc_unsubscribe(c);
        cnproc_close(c);
        free(c->pending);
        free(c->cpus);
        free(c);
        return NULL;
}

void cnproc_set_receive_buffer(Cnproc *c, int bytes) {
        if (c && bytes > 0)
                c->rcvbuf_size = bytes;
}

void cnproc_set_batch_interval(Cnproc *c, uint64_t usec) {
        if (c)
                c->batch_usec = usec;
}

void cnproc_get_stats(const Cnproc *c, CnprocStats *ret) {
        if (c && ret)
                *ret = c->stats;
}

int cnproc_get_fd(const Cnproc *c) {
        if (!c)
                return -EINVAL;
        if (!c->nl)
                return -ENOTCONN;
        return mnl_socket_get_fd(c->nl);
}

/* ---- socket ---- */

static int cnproc_open(Cnproc *c) {
        int fd, size = c->rcvbuf_size > 0 ? c->rcvbuf_size : CNPROC_RCVBUF_SIZE, granted = 0;
        socklen_t sl = sizeof(granted);

        c->nl = mnl_socket_open2(NETLINK_CONNECTOR, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (!c->nl)
                return log_error_errno(errno, "Failed to open NETLINK_CONNECTOR socket: %m");
        if (mnl_socket_bind(c->nl, CN_IDX_PROC, MNL_SOCKET_AUTOPID) < 0)
                return log_error_errno(errno, "Failed to bind to the proc connector group: %m");
        c->portid = mnl_socket_get_portid(c->nl);
        fd = mnl_socket_get_fd(c->nl);

        /* Bursts (a fork storm, a parallel build) must fit while we sleep between batches. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0) {
                log_debug_errno(errno, "SO_RCVBUFFORCE failed, trying SO_RCVBUF: %m");
                if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
                        log_warning_errno(errno, "Failed to enlarge the proc connector receive buffer, ignoring: %m");
        }
        if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &sl) < 0)
                log_debug_errno(errno, "Failed to read SO_RCVBUF, ignoring: %m");
        c->stats.rcvbuf = granted;
        c->stats.rcvbuf_requested = size;
        return 0;
}

/* Sends a subscription op, in the 6.6+ filter form or the plain form. Returns the cn_msg.ack value
 * the kernel's acknowledgement will carry. */
static int cnproc_send_op(Cnproc *c, enum proc_cn_mcast_op op, bool filter, uint32_t *ret_expect) {
        uint8_t buf[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct cn_msg) + sizeof(struct proc_input))]
                __attribute__((aligned(8))) = {};
        size_t payload = filter ? sizeof(struct proc_input) : sizeof(enum proc_cn_mcast_op);
        struct proc_input in = { .mcast_op = op, .event_type = PROC_EVENT_ALL };
        struct nlmsghdr *nlh;
        struct cn_msg *cn;
        uint32_t cookie;

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = NLMSG_DONE;
        nlh->nlmsg_pid = c->portid;
        nlh->nlmsg_seq = c->next_seq;

        cn = mnl_nlmsg_put_extra_header(nlh, sizeof(struct cn_msg) + payload);
        cn->id.idx = CN_IDX_PROC;
        cn->id.val = CN_VAL_PROC;
        cn->seq = c->next_seq++;
        cookie = c->next_cookie++;
        if (cookie == UINT32_MAX) /* the expected answer would be 0, which means "not sent" */
                cookie = c->next_cookie++;
        cn->ack = cookie;
        cn->len = (uint16_t) payload;
        memcpy(cn->data, &in, payload); /* the plain form is the op alone: in's first member */

        if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        if (ret_expect)
                *ret_expect = cookie + 1;
        return 0;
}

/* Reads and processes one datagram. Returns 1 if something was read (or an overflow reported),
 * 0 if the socket is empty, -errno on failure. Adds the events delivered to *delivered. */
static int cnproc_read_one(Cnproc *c, int *delivered) {
        struct sockaddr_nl addr = {};
        struct iovec iov = { .iov_base = c->buf, .iov_len = sizeof(c->buf) };
        struct msghdr mh = {
                .msg_name = &addr,
                .msg_namelen = sizeof(addr),
                .msg_iov = &iov,
                .msg_iovlen = 1,
        };
        ssize_t n;

        n = recvmsg(mnl_socket_get_fd(c->nl), &mh, MSG_DONTWAIT);
        if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                        return 0;
                if (errno == EINTR)
                        return 1;
                if (errno == ENOBUFS) {
                        CnprocLoss loss = {
                                .reason = CNPROC_LOSS_ENOBUFS,
                                .after_ns = c->last_ns,
                                .before_ns = now_nsec(CLOCK_MONOTONIC),
                        };

                        c->stats.overflows++;
                        emit_loss(c, &loss);
                        return 1;
                }
                return -errno;
        }

        if ((mh.msg_flags & MSG_TRUNC) || mh.msg_namelen != sizeof(addr) || addr.nl_family != AF_NETLINK) {
                c->stats.messages++;
                c->stats.rejected++;
                return 1;
        }

        *delivered += cnproc_process_datagram(c, c->buf, (size_t) n, addr.nl_pid);
        return 1;
}

/* Reads (queueing what arrives) until our acknowledgement comes or the timeout passes. */
static int cnproc_wait_ack(Cnproc *c, uint64_t timeout_usec) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
        int ignored = 0;

        while (c->acked == 0) {
                struct pollfd pfd = { .fd = mnl_socket_get_fd(c->nl), .events = POLLIN };
                uint64_t now;
                int r;

                /* Checked before every read: under a flood the socket may never run empty. */
                now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return -ETIMEDOUT;

                r = cnproc_read_one(c, &ignored);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;

                r = poll(&pfd, 1, (int) ((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
                if (r < 0 && errno != EINTR)
                        return -errno;
        }
        return 0;
}

static int cnproc_subscribe_form(Cnproc *c, bool filter) {
        int r;

        r = cnproc_send_op(c, PROC_CN_MCAST_LISTEN, filter, filter ? &c->expect_filter : &c->expect_plain);
        if (r < 0)
                return log_error_errno(r, "Failed to send proc connector subscription: %m");
        r = cnproc_wait_ack(c, CNPROC_ACK_TIMEOUT_USEC);
        if (r == -ETIMEDOUT)
                log_debug("No acknowledgement for the %s subscription form.", filter ? "filter" : "plain");
        else if (r < 0)
                return log_error_errno(r, "Failed to read from the proc connector: %m");
        return r;
}

int cnproc_subscribe(Cnproc *c) {
        int r;

        if (!c)
                return -EINVAL;
        if (c->nl)
                return -EALREADY;

        r = cnproc_open(c);
        if (r < 0)
                goto fail;

        c->queueing = true;
        c->acked = 0;
        c->expect_filter = c->expect_plain = 0;

        /* Kernels before 6.6 silently ignore the filter form (its length is not that of the op). */
        r = cnproc_subscribe_form(c, true);
        if (r == -ETIMEDOUT)
                r = cnproc_subscribe_form(c, false);
        if (r == -ETIMEDOUT) {
                r = log_error_errno(ETIMEDOUT,
                                    "The kernel did not acknowledge the proc connector subscription within %llu ms "
                                    "(filter and plain forms). Is CONFIG_PROC_EVENTS enabled, and are we in the "
                                    "initial user and pid namespace?",
                                    (unsigned long long) (CNPROC_ACK_TIMEOUT_USEC / USEC_PER_MSEC));
                goto fail;
        }
        if (r < 0)
                goto fail;
        if (c->ack_err != 0) {
                r = log_error_errno((int) MIN(c->ack_err, (uint32_t) INT32_MAX),
                                    "The kernel refused the proc connector subscription: %m");
                goto fail;
        }

        c->queueing = false;
        c->subscribed = true;
        c->stats.filtered = c->acked == 1;
        if (c->pending_dropped > 0)
                log_warning("Proc connector queue overflowed while subscribing, %" PRIu64
                            " messages dropped (reported as sequence gaps).", c->pending_dropped);
        log_debug("Subscribed to the proc connector (%s form), receive buffer %d bytes, %zu events queued.",
                  c->stats.filtered ? "filter" : "plain", c->stats.rcvbuf, c->n_pending);
        return 0;

fail:
        cnproc_close(c);
        free(c->pending);
        c->pending = NULL;
        c->n_pending = c->n_pending_alloc = 0;
        return r;
}

void cnproc_unsubscribe(Cnproc *c) {
        int r;

        if (!c || !c->nl || !c->subscribed)
                return;
        /* The plain form means "all events" to 6.6+ kernels and is all older ones understand. */
        r = cnproc_send_op(c, PROC_CN_MCAST_IGNORE, false, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to unsubscribe from the proc connector, ignoring: %m");
        c->subscribed = false;
}

int cnproc_drain(Cnproc *c) {
        int delivered, r = 0;

        if (!c)
                return -EINVAL;

        delivered = flush_pending(c);
        if (c->nl)
                for (unsigned i = 0; i < CNPROC_DRAIN_MAX; i++) {
                        r = cnproc_read_one(c, &delivered);
                        if (r <= 0)
                                break;
                }
        else if (delivered == 0)
                r = -ENOTCONN;

        if (delivered > 0 && c->cb.batch_done)
                c->cb.batch_done(c->userdata);
        return r < 0 ? r : delivered;
}

/* ---- event loop: block while idle, drain on a timer while busy ---- */

static int cnproc_arm_timer(Cnproc *c, uint64_t usec) {
        int r;

        r = sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
        if (r < 0)
                return r;
        r = sd_event_source_set_time_relative(c->timer, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

/* Drains from a loop callback. Failures are retried on the timer; only the first of a run is logged. */
static int cnproc_loop_drain(Cnproc *c) {
        int r;

        c->stats.wakeups++;
        r = cnproc_drain(c);
        if (r < 0 && !c->drain_failing)
                log_warning_errno(r, "Failed to read proc connector events, retrying: %m");
        c->drain_failing = r < 0;
        return r;
}

static int cnproc_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Cnproc *c = userdata;
        int r;

        r = cnproc_loop_drain(c);
        if (r >= 0 && c->batch_usec == 0)
                return 0;

        /* More events are likely to follow the one that woke us: collect them in one go later. */
        r = cnproc_arm_timer(c, c->batch_usec ?: CNPROC_BATCH_INTERVAL_USEC);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the proc connector batch timer: %m");
        return 0;
}

static int cnproc_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Cnproc *c = userdata;
        int r;

        r = cnproc_loop_drain(c);
        if (r != 0) {
                r = cnproc_arm_timer(c, c->batch_usec ?: CNPROC_BATCH_INTERVAL_USEC);
                if (r < 0)
                        return log_error_errno(r, "Failed to arm the proc connector batch timer: %m");
                return 0;
        }

        /* Quiet: block on the socket again. */
        r = sd_event_source_set_enabled(c->io, SD_EVENT_ON);
        if (r < 0)
                return log_error_errno(r, "Failed to re-enable the proc connector socket source: %m");
        return 0;
}

int cnproc_attach(Cnproc *c, sd_event *e) {
        int r;

        if (!c || !e)
                return -EINVAL;
        if (!c->nl)
                return -ENOTCONN;
        if (c->io)
                return -EBUSY;

        r = sd_event_add_io(e, &c->io, mnl_socket_get_fd(c->nl), EPOLLIN, cnproc_on_io, c);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(c->io, "cnproc-socket");

        r = sd_event_add_time_relative(e, &c->timer, CLOCK_MONOTONIC, c->batch_usec, CNPROC_BATCH_ACCURACY_USEC,
                                       cnproc_on_timer, c);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(c->timer, "cnproc-batch");

        /* Events queued while subscribing would not make the socket readable: start with a drain. */
        if (c->n_pending > 0)
                r = cnproc_arm_timer(c, 0);
        else
                r = sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        if (r < 0)
                goto fail;
        return 0;

fail:
        cnproc_detach(c);
        return r;
}
