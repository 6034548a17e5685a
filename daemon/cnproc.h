/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cnproc: the kernel proc connector (NETLINK_CONNECTOR / CN_IDX_PROC): subscribe, decode, drain in batches, detect loss. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "lineage/names.h"
#include "lineage/util.h"

typedef struct Cnproc Cnproc;

/* One decoded proc connector event. Fixed layout: it is also the unit of --record files. */
typedef struct CnprocEvent {
        uint32_t type;          /* LineageEventType */
        uint32_t cpu;           /* CPU that sent it (per-CPU sequence numbers) */
        uint32_t seq;           /* cn_msg.seq: per-CPU counter */
        uint32_t _pad;
        uint64_t timestamp_ns;  /* CLOCK_MONOTONIC, as the kernel stamps it */
        int32_t pid;            /* subject thread id (for fork: the child) */
        int32_t tgid;           /* subject thread group (for fork: the child's) */
        union {
                struct {
                        int32_t parent_pid, parent_tgid; /* the forking thread and its group */
                } fork;
                struct {
                        uint32_t r, e;  /* real and effective uid (UID) or gid (GID) */
                } id;
                struct {
                        int32_t tracer_pid, tracer_tgid; /* 0 on detach */
                } ptrace;
                struct {
                        char comm[16];  /* NUL-terminated, as sent by the kernel (not sanitized) */
                } comm;
                struct {
                        int32_t parent_pid, parent_tgid;
                } coredump;
                struct {
                        uint32_t code;   /* wait status: (status << 8) | signal, 0x80 = core dumped */
                        uint32_t signal; /* exit_signal: what the parent is sent (SIGCHLD, usually) */
                        int32_t parent_pid, parent_tgid; /* parent at exit: who reaps it */
                } exit;
        };
} CnprocEvent;

typedef enum CnprocLossReason {
        CNPROC_LOSS_ENOBUFS,    /* the socket overflowed; count unknown */
        CNPROC_LOSS_SEQUENCE,   /* a per-CPU sequence gap; count known */
} CnprocLossReason;

typedef struct CnprocLoss {
        CnprocLossReason reason;
        uint32_t cpu;           /* for CNPROC_LOSS_SEQUENCE */
        uint64_t lost;          /* events known lost; 0 = unknown (ENOBUFS) */
        uint64_t after_ns;      /* CLOCK_MONOTONIC of the last event before the gap, 0 if none */
        uint64_t before_ns;     /* CLOCK_MONOTONIC of the first event after the gap (or "now" for ENOBUFS) */
} CnprocLoss;

typedef struct CnprocStats {
        uint64_t events[_LINEAGE_EVENT_MAX]; /* by LineageEventType; [0] counts PROC_EVENT_NONE (acks) */
        uint64_t messages;      /* datagrams read */
        uint64_t rejected;      /* messages dropped: bad sender, bad length, unknown type */
        uint64_t lost;          /* events known lost through sequence gaps */
        uint64_t overflows;     /* ENOBUFS seen */
        uint64_t wakeups;       /* times the loop drained the socket */
        int rcvbuf;             /* receive buffer size the kernel granted (it doubles what it was asked) */
        int rcvbuf_requested;   /* receive buffer size asked for */
        bool filtered;          /* subscribed with the 6.6+ filter form */
} CnprocStats;

/* Called for every decoded event, in the order the socket delivered them. */
typedef void (*CnprocEventHandler)(const CnprocEvent *ev, void *userdata);
/* Called for each detected loss, before the first event after it. */
typedef void (*CnprocLossHandler)(const CnprocLoss *loss, void *userdata);
/* Called after each drain that delivered at least one event (a batch boundary). */
typedef void (*CnprocBatchHandler)(void *userdata);

/* Callbacks run from cnproc_drain(); they must not call cnproc_drain() or cnproc_free() themselves. */
typedef struct CnprocCallbacks {
        CnprocEventHandler event;
        CnprocLossHandler loss;
        CnprocBatchHandler batch_done; /* may be NULL */
} CnprocCallbacks;

int cnproc_new(Cnproc **ret, const CnprocCallbacks *cb, void *userdata);
Cnproc *cnproc_free(Cnproc *c);

/* Opens the socket, sizes its buffer, subscribes and waits (bounded) for the kernel's acknowledgement.
 * Events that arrive meanwhile are decoded into a bounded in-memory queue and delivered, in order, by
 * the first drain. Logs its failures (it is the one that knows why), returns -errno. */
int cnproc_subscribe(Cnproc *c);
/* Attaches to the loop: blocks on the socket while idle, drains on a timer while events flow. */
int cnproc_attach(Cnproc *c, sd_event *e);
/* Reads everything queued (until EAGAIN, at most CNPROC_DRAIN_MAX datagrams so a flood cannot starve
 * the loop) and dispatches it, then calls batch_done if any event was delivered. Returns the number
 * of events delivered. */
int cnproc_drain(Cnproc *c);
/* How long the attached source waits after a wakeup before draining again (default 4 ms). 0 drains
 * on every wakeup. Takes effect at the next wakeup. */
void cnproc_set_batch_interval(Cnproc *c, uint64_t usec);
/* Receive buffer to ask for at subscription (default 64 MiB; the kernel doubles it for bookkeeping). */
void cnproc_set_receive_buffer(Cnproc *c, int bytes);
/* Sends the unsubscribe op (best effort). */
void cnproc_unsubscribe(Cnproc *c);
void cnproc_get_stats(const Cnproc *c, CnprocStats *ret);
/* The netlink socket, for diagnostics and tests (e.g. shrinking its buffer); -ENOTCONN before subscribing. */
int cnproc_get_fd(const Cnproc *c);

/* Pure decoder of one received datagram (one or more netlink messages). Validates every length,
 * rejects messages not sent by the kernel (sender_portid != 0: -EPERM, nothing delivered). Calls cb for
 * each event; subscription acknowledgements (PROC_EVENT_NONE) are not events and are skipped.
 * Returns the number of events decoded, or -EBADMSG if anything in it was malformed or of an unknown
 * type (the other events in it are still delivered). Used by cnproc_drain and by the fuzzer. */
int cnproc_decode(const void *buf, size_t len, uint32_t sender_portid, CnprocEventHandler cb, void *userdata);

/* What cnproc_drain does with each datagram it reads (exposed for tests): decodes it, tracks per-CPU
 * sequence numbers (calling the loss handler before the first event after a gap), counts, and
 * delivers. Returns the number of events delivered (or queued while subscribing); rejected messages
 * are only counted in stats.rejected. */
int cnproc_process_datagram(Cnproc *c, const void *buf, size_t len, uint32_t sender_portid);

DEFINE_TRIVIAL_CLEANUP_FUNC(Cnproc *, cnproc_free);
