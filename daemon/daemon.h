/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* daemon: wires the proc connector, /proc scans, the tracker and the store into one sd-event loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "cnproc.h"
#include "store.h"
#include "tracker.h"

typedef struct Daemon Daemon;

typedef struct DaemonConfig {
        const char *database;
        const char *varlink;            /* socket path; NULL = none */
        const char *dbus;               /* "system", "session", "none" or an address */
        const char *proc;               /* procfs root */
        const char *record;             /* --record=FILE, or NULL */
        const char *replay;             /* --replay=FILE, or NULL */
        uint64_t commit_interval_usec;  /* live: how often pending rows are committed */
        uint64_t batch_interval_usec;   /* live: how long to let events gather while they flow */
        int journal_export;             /* JournalExportMode: 0 none, logins, execs */
        int receive_buffer;             /* bytes; 0 = default */
        uint64_t keep_usec;             /* --keep: prune exited instances older than this; 0 = keep all */
        const char *exec_source;        /* --exec-source: "bpf", "procfs", or NULL: bpf where it loads */
        uint64_t max_size;              /* --max-size: prune the oldest while the database uses more; 0 = no limit */            /* one journal entry per exec and login start/end */
} DaemonConfig;

int daemon_new(Daemon **ret, const DaemonConfig *config);
/* A daemon that only answers from the database at path (lineagectl --database): no kernel, no /proc (the
 * file may come from another machine), an empty tracker, nothing recorded. Queries default to the boot
 * boot_id (NULL: the newest boot in the file). -ENOENT: no such boot in the file. */
int daemon_new_offline(Daemon **ret, const char *path, const char *boot_id);
Daemon *daemon_free(Daemon *d);

/* Subscribes, scans /proc, records until SIGTERM/SIGINT, flushes. */
int daemon_run(Daemon *d);
/* Drives tracker and store from a record file, then flushes and returns. */
int daemon_replay(Daemon *d);

/* Accessors for the query front ends. */
sd_event *daemon_event(Daemon *d);
Tracker *daemon_tracker(Daemon *d);
Store *daemon_store(Daemon *d);
Cnproc *daemon_cnproc(Daemon *d);
uint64_t daemon_boot(Daemon *d);
uint64_t daemon_start_time(Daemon *d);
const char *daemon_boot_id(Daemon *d);
const char *daemon_proc_root(Daemon *d);
/* The last storage error (-errno), 0 while the database is healthy. */
int daemon_store_error(Daemon *d);
/* Thread group of a thread id, via /proc; -1 if unknown. */
int32_t daemon_resolve_tgid(Daemon *d, int32_t tid);
/* How the kernel's CABA (NScaba:) of a live process relates to the one computed from events. */
typedef enum CabaAgreement {
        CABA_AGREE,             /* the same process */
        CABA_ZOMBIE,            /* the kernel's is an exited birth ancestor not yet reaped (a zombie) */
        CABA_CLONE_PARENT,      /* the kernel names the creator, events the CLONE_PARENT target */
        CABA_DISAGREE,          /* none of the documented differences */
} CabaAgreement;

const char *caba_agreement_to_string(CabaAgreement a);
/* Reads pid's NScaba: from the procfs root and resolves it to a thread group (0: the idle task).
 * -EOPNOTSUPP without the kernel patch, -ENODATA when the CABA is outside our namespace or the line is
 * malformed, -ESRCH when the process is gone. */
int daemon_kernel_caba(Daemon *d, int32_t pid, int32_t *ret_tgid);
/* Compares i's userspace CABA with the kernel's; counts (once per instance) and logs disagreements. */
CabaAgreement daemon_check_caba(Daemon *d, Instance *i, int32_t kernel_tgid);
/* Did the start-up scan see NScaba: lines, and how many disagreements were counted? */
bool daemon_kernel_has_caba(Daemon *d);
uint64_t daemon_caba_disagreements(Daemon *d);
unsigned daemon_varlink_connections(Daemon *d);
/* The varlink server's counters (all zero without a varlink server). */
struct VarlinkStats;
void daemon_varlink_stats(Daemon *d, struct VarlinkStats *ret);
uint64_t daemon_pruned(Daemon *d);
/* CLOCK_REALTIME - CLOCK_MONOTONIC of the running boot, ns. */
int64_t daemon_realtime_offset(Daemon *d);
/* Where exec images come from in this run, and why not from the eBPF program when it is not (NULL
 * when it is, or when procfs was asked for). */
LineageExecSource daemon_exec_source(Daemon *d);
const char *daemon_exec_source_reason(Daemon *d);
typedef struct DaemonBpfStats {
        uint64_t records;               /* read from the eBPF ring buffer */
        uint64_t lost;                  /* dropped by the kernel (ring buffer full): recorded as gaps */
        uint64_t only_bpf;              /* execs the connector did not report, recorded from the record */
        uint64_t unmatched;             /* records for no instance we know: not recorded */
} DaemonBpfStats;
void daemon_get_bpf_stats(Daemon *d, DaemonBpfStats *ret);
/* Commits pending rows now (before a query that needs them). */
int daemon_flush(Daemon *d);

/* Queries over this daemon (daemon-query.c): query_new_source() with the daemon as its source. */
typedef struct Query Query;
int query_new(Query **ret, Daemon *d);

DEFINE_TRIVIAL_CLEANUP_FUNC(Daemon *, daemon_free);
