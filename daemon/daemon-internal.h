/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* daemon-internal: the Daemon object and the calls its modules (daemon, login, caba-check, replay) share. */
#pragma once

#include "daemon.h"
#include "exec-bpf.h"
#include "hashmap.h"
#include "journal-export.h"
#include "lineage-dbus.h"
#include "lineage-varlink.h"
#include "query.h"
#include "record.h"

/* A live instance whose pid was gone at a /proc read (an exec image or login read at a batch's end). */
typedef struct GoneRead {
        uint64_t id;
        int32_t pid;
        uint64_t read_ns;               /* CLOCK_MONOTONIC just after the read failed */
        uint64_t read_usec;             /* CLOCK_REALTIME then: the exit's upper bound */
} GoneRead;

#define GONE_READS_MAX 4096U            /* beyond, the next rescan finds what is gone */

struct Daemon {
        DaemonConfig config;
        sd_event *event;
        sd_event_source *commit_timer;
        sd_event_source *caba_timer;
        sd_event_source *rescan_timer;
        sd_event_source *prune_timer;
        uint64_t pruned;
        uint64_t last_rescan;           /* CLOCK_MONOTONIC µs */
        uint64_t rescans;
        uint64_t downtime_start;        /* realtime µs where the previous run on this boot stopped, 0 if none */
        size_t caba_sweep_state;
        bool kernel_caba;               /* the scan saw NScaba: lines */
        uint64_t caba_disagreements;
        Cnproc *cnproc;
        Tracker *tracker;
        Store *store;
        RecordWriter *record;
        Query *query;
        LineageVarlink *varlink;
        LineageDbus *dbus;
        JournalExport *journal;
        StoreBoot boot;
        TrackerClock clock;
        uint64_t boot_rowid;
        uint64_t start_time;
        uint64_t replay_pending;
        uint64_t replay_first, replay_last; /* realtime µs of the replayed record's first and last event */
        bool replay_by_time;            /* replay: commit at the live cadence (--commit-interval given) */
        uint64_t replay_commit_ns;      /* the record time of the next such commit; 0 before the first event */
        bool replay_after_info;         /* the last records were a batch's info records */
        LineageExecSource exec_source;  /* where exec images come from */
        char *exec_source_reason;       /* why not bpf, when procfs was not asked for */
        ExecBpf *bpf;                   /* the eBPF exec source, when in use */
        Hashmap *cgroup_paths;          /* cgroup id of a BPF exec record -> its path (malloc'd), checked */
        char *cgroup2_mount;            /* where the unified hierarchy is mounted ("" none), once looked up */
        uint64_t last_event_ns;         /* CLOCK_MONOTONIC of the newest connector event */
        GoneRead *gone_reads;           /* live instances found gone from /proc, exit not seen yet */
        size_t n_gone_reads, n_gone_reads_alloc;
        uint64_t bpf_only;              /* execs only the eBPF program saw, recorded */
        uint64_t bpf_unmatched;         /* its records for no instance we know: not recorded */
        int store_error;                /* last commit error, 0 when healthy */
        uint64_t store_error_since;     /* realtime µs of the first failure in a row */
        LogRatelimit store_log;         /* the failed commit's message, while the fault lasts */
};

/* daemon.c */
void record_failed(Daemon *d, int r);
int daemon_begin_boot(Daemon *d);
void add_bpf_gap(Daemon *d, const RecordBpfLoss *l);
