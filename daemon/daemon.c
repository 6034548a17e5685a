/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's main loop: subscribe first, then scan /proc, then record in batches and commit on a timer. */
#include <limits.h>
#include <mntent.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-id128.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon-internal.h"
#include "login.h"
#include "caba-check.h"
#include "exec-bpf.h"
#include "hashmap.h"
#include "journal-export.h"
#include "lineage-dbus.h"
#include "lineage-varlink.h"
#include "procfs-scan.h"
#include "query.h"
#include "record.h"

#define DEFAULT_COMMIT_INTERVAL_USEC (200 * USEC_PER_MSEC)
/* After a failed commit, wait this long before retrying, so a full disk is not hammered. */
#define COMMIT_RETRY_USEC (2 * USEC_PER_SEC)
/* While commits keep failing the same way, their message is logged at most this often. */
#define STORE_LOG_INTERVAL_USEC (60 * USEC_PER_SEC)
/* After lost events, /proc is rescanned, but at most this often, so a storm cannot wedge the daemon. */
#define RESCAN_MIN_INTERVAL_USEC (2 * USEC_PER_SEC)
#define RESCAN_DELAY_USEC (100 * USEC_PER_MSEC)
/* While the database cannot be written, events wait in memory up to this much; beyond it the queued
 * rows are dropped and the stretch is recorded as a "storage" gap. */
#define PENDING_MEMORY_MAX (256U * 1024U * 1024U)
/* A BPF exec record no connector event claimed within this much of the connector's own time is an
 * exec only the eBPF program saw (the connector lost it). */
#define BPF_UNCLAIMED_NSEC (1 * NSEC_PER_SEC)
/* Retention works in small steps so event intake never waits long: rows per step, and how often. */
#define PRUNE_STEP_ROWS 2000U
#define PRUNE_IDLE_USEC (10 * USEC_PER_SEC)
#define PRUNE_BUSY_USEC (200 * USEC_PER_MSEC)

static void read_clocks(TrackerClock *ret_clock, uint64_t *ret_boot_time) {
        /* Read the three clocks close together; take the tightest of a few tries. */
        int64_t best = INT64_MAX;

        for (int k = 0; k < 5; k++) {
                uint64_t m1 = now_nsec(CLOCK_MONOTONIC), rt = now_nsec(CLOCK_REALTIME), bt = now_nsec(CLOCK_BOOTTIME),
                         m2 = now_nsec(CLOCK_MONOTONIC);
                int64_t spread = (int64_t) (m2 - m1), mono = (int64_t) (m1 + (m2 - m1) / 2);

                if (spread >= best)
                        continue;
                best = spread;
                ret_clock->realtime_offset_ns = (int64_t) rt - mono;
                ret_clock->boottime_offset_ns = (int64_t) bt - mono;
                *ret_boot_time = (rt - bt) / NSEC_PER_USEC;
        }
        ret_clock->clock_ticks = procfs_clock_ticks();
}

int daemon_new(Daemon **ret, const DaemonConfig *config) {
        _cleanup_(daemon_freep) Daemon *d = NULL;
        sd_id128_t boot_id;
        int r;

        d = calloc(1, sizeof(Daemon));
        if (!d)
                return log_oom();
        d->config = *config;
        d->store_log.interval = STORE_LOG_INTERVAL_USEC;
        /* A replay commits every REPLAY_FLUSH_EVERY events, or, with --commit-interval, at the live
         * cadence: whenever the record's event times have advanced by that interval. */
        d->replay_by_time = config->replay && config->commit_interval_usec > 0;
        if (d->config.commit_interval_usec == 0)
                d->config.commit_interval_usec = DEFAULT_COMMIT_INTERVAL_USEC;
        d->start_time = now_usec(CLOCK_REALTIME);

        r = sd_event_default(&d->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");

        r = store_open(&d->store, config->database);
        if (r < 0)
                return r;

        if (!config->replay) {
                r = sd_id128_get_boot(&boot_id);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the boot id: %m");
                sd_id128_to_string(boot_id, d->boot.boot_id);
                read_clocks(&d->clock, &d->boot.boot_time);
        }
        if (config->record) {
                r = record_writer_open(&d->record, config->record);
                if (r < 0)
                        return log_error_errno(r, "Failed to create record file %s: %m", config->record);
        }
        *ret = TAKE_PTR(d);
        return 0;
}

/* Never the machine's own /proc: an offline database may come from another machine. */
#define OFFLINE_PROC_ROOT "/nonexistent/lineage-offline"

int daemon_new_offline(Daemon **ret, const char *path, const char *boot_id) {
        _cleanup_(daemon_freep) Daemon *d = calloc(1, sizeof(Daemon));
        int r;

        if (!d)
                return -ENOMEM;
        d->config.database = path;
        d->config.proc = OFFLINE_PROC_ROOT;
        d->config.dbus = "none";
        r = store_open(&d->store, path);
        if (r < 0)
                return r;
        /* Empty: every answer comes from the file. */
        d->clock.clock_ticks = procfs_clock_ticks();
        r = tracker_new(&d->tracker, &d->clock, UINT64_MAX / 2);
        if (r < 0)
                return r;
        r = store_find_boot(d->store, boot_id, &d->boot_rowid, d->boot.boot_id);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

#define CGROUP_PATHS_MAX 4096U           /* cgroups remembered; past that, forgotten at once */

static void cgroup_paths_clear(Daemon *d) {
        size_t state = 0;
        void *v;

        if (!d->cgroup_paths)
                return;
        while (hashmap_iterate(d->cgroup_paths, &state, NULL, &v))
                free(v);
        d->cgroup_paths = hashmap_free(d->cgroup_paths);
}

/* The process's cgroup path, read from /proc now: where it exec'd unless it moved since (rare). */
static void read_cgroup(Daemon *d, Instance *i) {
        _cleanup_free_ char *cg = NULL;

        if (procfs_read_cgroup(d->config.proc, i->pid, &cg) >= 0)
                tracker_set_cgroup(d->tracker, i, cg);
}

/* The unified hierarchy's mount point (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid
 * system), looked up once; "" when none is mounted. */
static const char *cgroup2_mount(Daemon *d) {
        struct mntent *m;
        FILE *f;

        if (d->cgroup2_mount)
                return d->cgroup2_mount;
        f = setmntent("/proc/self/mounts", "re");
        if (f) {
                while ((m = getmntent(f)))
                        if (streq(m->mnt_type, "cgroup2")) {
                                d->cgroup2_mount = strdup(m->mnt_dir);
                                break;
                        }
                endmntent(f);
        }
        if (!d->cgroup2_mount)
                d->cgroup2_mount = strdup("");
        return d->cgroup2_mount ?: "";
}

/* The cgroup of a BPF exec record. A cgroup's id is the inode of its directory in the unified
 * hierarchy and is never reused within a boot, so a path read once from /proc and checked against
 * that inode answers every later exec in the same cgroup without another read. */
static void bpf_cgroup(Daemon *d, Instance *i, uint64_t id) {
        _cleanup_free_ char *cg = NULL;
        char path[PATH_MAX];
        const char *known, *mnt;
        struct stat st;

        known = id && d->cgroup_paths ? hashmap_get(d->cgroup_paths, id) : NULL;
        if (known) {
                tracker_set_cgroup(d->tracker, i, known);
                return;
        }
        if (procfs_read_cgroup(d->config.proc, i->pid, &cg) < 0)
                return; /* gone: the parent's, inherited at fork, stays */
        tracker_set_cgroup(d->tracker, i, cg);
        if (!id || !streq(d->config.proc, "/proc") || cg[0] != '/' || !*(mnt = cgroup2_mount(d)) ||
            (size_t) snprintf(path, sizeof(path), "%s%s", mnt, cg) >= sizeof(path) ||
            stat(path, &st) < 0 || (uint64_t) st.st_ino != id)
                return; /* not shown to be the record's cgroup (moved since, another /proc): not remembered */
        if (d->cgroup_paths && hashmap_size(d->cgroup_paths) >= CGROUP_PATHS_MAX)
                cgroup_paths_clear(d);
        if (!d->cgroup_paths && hashmap_new(&d->cgroup_paths) < 0)
                return;
        if (hashmap_put(d->cgroup_paths, id, cg) >= 0)
                cg = NULL;
}

Daemon *daemon_free(Daemon *d) {
        if (!d)
                return NULL;
        sd_event_source_disable_unref(d->commit_timer);
        sd_event_source_disable_unref(d->caba_timer);
        sd_event_source_disable_unref(d->rescan_timer);
        sd_event_source_disable_unref(d->prune_timer);
        lineage_varlink_free(d->varlink);
        lineage_dbus_free(d->dbus);
        query_free(d->query);
        journal_export_free(d->journal);
        cnproc_free(d->cnproc);
        exec_bpf_free(d->bpf);
        cgroup_paths_clear(d);
        free(d->cgroup2_mount);
        tracker_free(d->tracker);
        store_free(d->store);
        record_writer_close(d->record);
        sd_event_unref(d->event);
        free(d->exec_source_reason);
        free(d->gone_reads);
        free(d);
        return NULL;
}

sd_event *daemon_event(Daemon *d) {
        return d->event;
}
Tracker *daemon_tracker(Daemon *d) {
        return d->tracker;
}
Store *daemon_store(Daemon *d) {
        return d->store;
}
Cnproc *daemon_cnproc(Daemon *d) {
        return d->cnproc;
}
uint64_t daemon_boot(Daemon *d) {
        return d->boot_rowid;
}
uint64_t daemon_start_time(Daemon *d) {
        return d->start_time;
}
const char *daemon_boot_id(Daemon *d) {
        return d->boot.boot_id;
}
const char *daemon_proc_root(Daemon *d) {
        return d->config.proc;
}
int daemon_store_error(Daemon *d) {
        return d->store_error;
}
LineageExecSource daemon_exec_source(Daemon *d) {
        return d->exec_source;
}
const char *daemon_exec_source_reason(Daemon *d) {
        return d->exec_source_reason;
}
void daemon_get_bpf_stats(Daemon *d, DaemonBpfStats *ret) {
        ExecBpfStats s = {};

        if (d->bpf)
                exec_bpf_get_stats(d->bpf, &s);
        *ret = (DaemonBpfStats) { .records = s.records, .lost = s.lost, .only_bpf = d->bpf_only,
                                  .unmatched = d->bpf_unmatched };
}

static bool session_known(uint32_t audit_session, void *userdata) {
        return store_session_has_login(userdata, audit_session);
}

static int adopt_instance(const Instance *i, void *userdata) {
        return tracker_adopt(userdata, i);
}

static int adopt_login(const Login *l, void *userdata) {
        return tracker_adopt_login(userdata, l);
}

/* Restart continuity: take back what the record holds as alive on this boot; the first scan keeps what
 * still runs and closes the rest. Earlier boots' leftovers are closed. */
static int daemon_adopt(Daemon *d) {
        int n, m, old;
        int r;

        old = store_close_old_boots(d->store);
        n = store_load_live(d->store, adopt_instance, d->tracker);
        if (n < 0)
                return log_error_errno(n, "Failed to read the live instances of %s: %m", store_path(d->store));
        m = store_load_live_logins(d->store, adopt_login, d->tracker);
        tracker_adopt_end(d->tracker);
        r = store_run_begin(d->store, now_usec(CLOCK_REALTIME), &d->downtime_start);
        if (r < 0)
                return log_error_errno(r, "Failed to record this run in %s: %m", store_path(d->store));
        if (n > 0 || old > 0)
                log_info("Took back %d live instances and %d logins from the record%s; %d left over from earlier boots closed.",
                         n, MAX(m, 0), d->downtime_start ? " after a stop" : "", MAX(old, 0));
        return 0;
}

/* Starts tracking one boot: its row in the database and a tracker with its clocks. */
int daemon_begin_boot(Daemon *d) {
        uint64_t next_id;
        int r;

        d->boot.realtime_offset_ns = d->clock.realtime_offset_ns;
        d->boot.boottime_offset_ns = d->clock.boottime_offset_ns;
        d->boot.clock_ticks = d->clock.clock_ticks;
        r = store_set_boot(d->store, &d->boot, &d->boot_rowid);
        if (r < 0)
                return r;
        r = store_next_instance_id(d->store, &next_id);
        if (r < 0)
                return log_error_errno(r, "Failed to read the last instance id: %m");
        r = tracker_new(&d->tracker, &d->clock, next_id);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the tracker: %m");
        tracker_set_session_known(d->tracker, session_known, d->store);
        if (!d->config.replay) {
                r = daemon_adopt(d);
                if (r < 0)
                        return r;
        }
        if (d->record) {
                RecordClock c = { .clock = d->clock };

                memcpy(c.boot_id, d->boot.boot_id, sizeof(c.boot_id));
                r = record_write_clock(d->record, &c);
                if (r < 0)
                        return log_error_errno(r, "Failed to write to the record file: %m");
        }
        return 0;
}

/* A database damaged behind an intact header fails its reads and commits with SQLITE_CORRUPT: it is
 * moved aside (never repaired in place) and recording goes on into a new file, which starts with what
 * is alive now and a gap for the rest of this boot. */
static int daemon_replace_database(Daemon *d) {
        TrackerGap g = { .start_time = d->boot.boot_time, .end_time = now_usec(CLOCK_REALTIME), .cpu = -1,
                         .reason = "corrupt" };
        uint64_t prev;
        int r;

        if (d->query)
                query_finalize(d->query);
        r = store_replace_corrupt(d->store);
        if (r < 0)
                return r;
        if (!d->tracker)
                return 0; /* at start-up: daemon_begin_boot() follows */
        r = store_set_boot(d->store, &d->boot, &d->boot_rowid);
        if (r >= 0 && !d->config.replay)
                r = store_run_begin(d->store, g.end_time, &prev);
        if (r >= 0 && d->query)
                r = query_prepare(d->query);
        if (r < 0)
                return log_error_errno(r, "Failed to start a new database %s after moving the corrupt one aside: %m",
                                       store_path(d->store));
        tracker_rewrite_live(d->tracker);
        tracker_add_gap(d->tracker, &g);
        return 0;
}

int daemon_flush(Daemon *d) {
        int r;

        if (!d->tracker)
                return 0;
        r = store_flush(d->store, d->tracker);
        if (r == -EBADMSG) {
                log_error("Failed to write to %s: %s; the file is damaged.", store_path(d->store), store_error(d->store));
                r = daemon_replace_database(d);
                if (r >= 0)
                        r = store_flush(d->store, d->tracker);
        }
        if (r < 0) {
                log_warning_ratelimit_errno(&d->store_log, r, "Failed to write to %s: %s; keeping the events in memory to retry.",
                                            store_path(d->store), store_error(d->store));
                if (d->store_error == 0)
                        d->store_error_since = now_usec(CLOCK_REALTIME);
                d->store_error = r;
                if (tracker_memory(d->tracker) > PENDING_MEMORY_MAX) {
                        uint64_t n = tracker_drop_pending(d->tracker);
                        TrackerGap g = { .start_time = d->store_error_since, .end_time = now_usec(CLOCK_REALTIME),
                                         .lost = n, .cpu = -1, .reason = "storage" };

                        log_error("Database %s has not been writable since %.0f s ago: dropped %" PRIu64
                                  " queued rows to bound memory; recorded as a gap.", store_path(d->store),
                                  (double) (g.end_time - g.start_time) / 1e6, n);
                        tracker_add_gap(d->tracker, &g);
                        d->store_error_since = g.end_time;
                }
                return r;
        }
        if (d->store_error != 0)
                log_info("Database %s is writable again (after %u failed commits).", store_path(d->store),
                         log_ratelimit_end(&d->store_log));
        d->store_error = 0;
        return 0;
}

void record_failed(Daemon *d, int r) {
        log_warning_errno(r, "Failed to write to the record file, closing it: %m");
        d->record = record_writer_close(d->record);
}

int32_t daemon_resolve_tgid(Daemon *d, int32_t tid) {
        return procfs_resolve_tgid(d->config.proc, tid);
}

uint64_t daemon_pruned(Daemon *d) {
        return d->pruned;
}

/* One retention step: by age (--keep), then by size (--max-size), oldest exited leaves first. */
static int on_prune_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        uint64_t now = now_usec(CLOCK_REALTIME), n = 0, cutoff = 0, next = PRUNE_IDLE_USEC;
        int r = 0;

        if (d->config.keep_usec > 0 && now > d->config.keep_usec)
                cutoff = now - d->config.keep_usec;
        if (d->config.max_size > 0 && store_used_bytes(d->store) > d->config.max_size)
                cutoff = now; /* over the size limit: any exited leaf, oldest first */
        if (cutoff > 0 && d->store_error == 0) {
                r = store_prune_step(d->store, cutoff, PRUNE_STEP_ROWS, &n);
                if (r < 0)
                        log_warning_errno(r, "Failed to prune %s, retrying later: %m", store_path(d->store));
                d->pruned += n;
                if (n > 0)
                        log_debug("Pruned %" PRIu64 " instances from %s.", n, store_path(d->store));
                if (n == PRUNE_STEP_ROWS)
                        next = PRUNE_BUSY_USEC; /* more to do: keep going, in small steps */
        }
        (void) sd_event_source_set_time_relative(s, next);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

int64_t daemon_realtime_offset(Daemon *d) {
        return d->clock.realtime_offset_ns;
}

unsigned daemon_varlink_connections(Daemon *d) {
        VarlinkStats st = {};

        daemon_varlink_stats(d, &st);
        return st.n_connections;
}

void daemon_varlink_stats(Daemon *d, VarlinkStats *ret) {
        *ret = (VarlinkStats) {};
        if (d->varlink)
                lineage_varlink_get_stats(d->varlink, ret);
}


typedef struct ScanState {
        Daemon *d;
        unsigned vanished;
} ScanState;

/* Called in pid order on this thread: the tracker sees the same sequence a serial scan would give it. */
static int scan_one(ProcScanItem *item, void *userdata) {
        ScanState *s = userdata;
        Daemon *d = s->d;
        int r;

        if (item->error < 0) {
                /* Gone since the directory listing, or unreadable: events cover the first case. */
                if (item->error != -ESRCH)
                        log_debug_errno(item->error, "Failed to read process %d, ignoring: %m", item->pid);
                s->vanished++;
                return 0;
        }
        if (item->info.nscaba.present)
                d->kernel_caba = true;
        if (d->record) {
                r = record_write_scan(d->record, &item->info, item->tids, item->n_tids, item->caba_tgid);
                if (r < 0)
                        record_failed(d, r);
        }
        r = tracker_scan_add(d->tracker, &item->info, item->tids, item->n_tids, item->caba_tgid);
        if (r == -ENOMEM)
                return log_oom();
        if (r >= 0) {
                Instance *i = tracker_get(d->tracker, item->pid);

                if (i && tracker_same_start(i, item->info.start_ticks))
                        read_cgroup(d, i);
        }
        return 0;
}

/* CPU time of the whole process, all threads, in ns. */
static uint64_t process_cpu_nsec(void) {
        return now_nsec(CLOCK_PROCESS_CPUTIME_ID);
}

static int daemon_scan(Daemon *d) {
        ScanState s = { .d = d };
        uint64_t t0 = now_nsec(CLOCK_MONOTONIC), cpu0 = process_cpu_nsec();
        TrackerStats st;
        int r, n_threads;

        tracker_scan_begin(d->tracker, t0);
        if (d->record && (r = record_write_scan_begin(d->record, t0)) < 0)
                record_failed(d, r);
        r = n_threads = procfs_scan(d->config.proc, procfs_scan_default_threads(), scan_one, &s);
        if (r < 0)
                return log_error_errno(r, "Failed to scan %s: %m", d->config.proc);
        tracker_scan_end(d->tracker);
        if (d->record && (r = record_write_scan_end(d->record)) < 0)
                record_failed(d, r);
        tracker_foreach_new_login(d->tracker, scan_login_details, d);
        {
                /* What we knew alive and the scan did not find exited unseen, by now at the latest. */
                uint64_t now = now_usec(CLOCK_REALTIME);
                unsigned gone = tracker_scan_close_unseen(d->tracker, now);

                if (d->record && (r = record_write_reconcile(d->record, now)) < 0)
                        record_failed(d, r);
                if (gone > 0)
                        log_info("%u processes known alive were gone from %s: recorded as exited unseen.", gone, d->config.proc);
        }
        tracker_get_stats(d->tracker, &st);
        log_info("Scanned %s: %" PRIu64 " processes in %.1f ms (%.1f ms CPU, %d threads; %u vanished while reading).",
                 d->config.proc, st.scanned, (double) (now_nsec(CLOCK_MONOTONIC) - t0) / 1e6,
                 (double) (process_cpu_nsec() - cpu0) / 1e6, n_threads, s.vanished);
        return 0;
}

static void on_batch_done(void *userdata);
static int daemon_scan(Daemon *d);

static int on_rescan_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        int r;

        d->last_rescan = now_usec(CLOCK_MONOTONIC);
        d->rescans++;
        /* Events still queued belong before the rescan's picture. */
        if (cnproc_drain(d->cnproc) > 0)
                on_batch_done(d);
        log_info("Rescanning %s after lost events.", d->config.proc);
        r = daemon_scan(d);
        if (r < 0)
                log_warning_errno(r, "Rescan failed, continuing: %m");
        return 0;
}

/* Lost events: rescan /proc soon, but never more often than RESCAN_MIN_INTERVAL_USEC. */
static void daemon_schedule_rescan(Daemon *d) {
        uint64_t now = now_usec(CLOCK_MONOTONIC), at = now + RESCAN_DELAY_USEC;
        int enabled = SD_EVENT_OFF;

        if (!d->event || !d->cnproc)
                return;
        if (d->rescan_timer && sd_event_source_get_enabled(d->rescan_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return; /* one is pending already */
        if (d->last_rescan > 0)
                at = MAX(at, d->last_rescan + RESCAN_MIN_INTERVAL_USEC);
        if (!d->rescan_timer) {
                if (sd_event_add_time(d->event, &d->rescan_timer, CLOCK_MONOTONIC, at, 10 * USEC_PER_MSEC,
                                      on_rescan_timer, d) < 0)
                        log_warning("Failed to schedule a rescan after lost events, continuing without.");
                return;
        }
        (void) sd_event_source_set_time(d->rescan_timer, at);
        (void) sd_event_source_set_enabled(d->rescan_timer, SD_EVENT_ONESHOT);
}

static void read_exec_info(Tracker *t, Instance *i, void *userdata);
static void complete_exec_from_bpf(Daemon *d, int32_t tgid);

static void on_event(const CnprocEvent *ev, void *userdata) {
        Daemon *d = userdata;
        Instance *p;
        int r;

        /* A child forked right after its parent's exec inherits the new image: read the parent's now,
         * before the fork is handled (and recorded: a replay then applies it first too). */
        p = tracker_fork_parent_pending(d->tracker, ev);
        if (p)
                read_exec_info(d->tracker, p, d);
        if (d->record && (r = record_write_event(d->record, ev)) < 0)
                record_failed(d, r);
        tracker_handle_event(d->tracker, ev);
        d->last_event_ns = MAX(d->last_event_ns, ev->timestamp_ns);
        if (d->bpf && ev->type == LINEAGE_EVENT_EXEC)
                complete_exec_from_bpf(d, ev->tgid);
}

static void on_loss(const CnprocLoss *loss, void *userdata) {
        Daemon *d = userdata;
        int r;

        if (loss->reason == CNPROC_LOSS_ENOBUFS)
                log_warning("The kernel dropped proc connector events (receive buffer overflow); recording a gap.");
        else
                log_warning("Lost %" PRIu64 " proc connector events on CPU %u; recording a gap.", loss->lost, loss->cpu);
        if (d->record && (r = record_write_loss(d->record, loss)) < 0)
                record_failed(d, r);
        tracker_handle_loss(d->tracker, loss);
        daemon_schedule_rescan(d);
}

/* What was read after an exec (or a uid/sid change) applied, logins begun or detailed. */
static void apply_exec_facts(Daemon *d, Instance *i, const ProcInfo *info, bool exec, LineageExecSource source) {
        Login *l;

        if (tracker_apply_info_from(d->tracker, i, info, source) > 0)
                begin_login(d, i, info);
        else if (exec && (l = tracker_login_for_session(d->tracker, i->sessionid))) {
                if (!l->remote_address && l->detail_tries < LOGIN_DETAIL_TRIES)
                        /* The session's first execs carry SSH_CONNECTION (and the terminal, if any). */
                        read_login_details(d, l, i, info, false);
                else if (exec_shows_tty(d, l, i, info))
                        read_login_details(d, l, i, info, false);
        }
}

/* Ring-buffer overflow: the execs it dropped fall back to /proc; the stretch is a gap. */
void add_bpf_gap(Daemon *d, const RecordBpfLoss *l) {
        uint64_t at = tracker_realtime_from_mono(d->tracker, l->at_ns);
        TrackerGap g = { .start_time = at, .end_time = at, .lost = l->lost, .cpu = -1, .reason = "bpf-overflow" };

        tracker_add_gap(d->tracker, &g);
}

static bool ticks_match_slack(uint64_t a, uint64_t b) {
        return a + 1 >= b && b + 1 >= a;
}

/* i's pid is gone from /proc. Its exit message was queued before the pid went away, so it comes
 * before any event stamped after this read: once such an event has come and i is still alive, the
 * exit was lost (close_gone_reads). */
static void note_gone_read(Daemon *d, const Instance *i) {
        GoneRead *g;

        if (d->n_gone_reads >= GONE_READS_MAX)
                return;
        if (d->n_gone_reads == d->n_gone_reads_alloc) {
                size_t n = MAX(d->n_gone_reads_alloc * 2, (size_t) 16);

                g = reallocarray(d->gone_reads, n, sizeof(GoneRead));
                if (!g)
                        return; /* the next rescan finds it */
                d->gone_reads = g;
                d->n_gone_reads_alloc = n;
        }
        d->gone_reads[d->n_gone_reads++] = (GoneRead) {
                .id = i->id,
                .pid = i->pid,
                .read_ns = now_nsec(CLOCK_MONOTONIC),
                .read_usec = now_usec(CLOCK_REALTIME),
        };
}

/* At a batch's end, after its events: closes what was gone at an earlier read and whose exit did not
 * come though later events did; keeps what may still have its exit queued. */
static void close_gone_reads(Daemon *d) {
        size_t keep = 0;

        for (size_t k = 0; k < d->n_gone_reads; k++) {
                GoneRead *g = &d->gone_reads[k];
                Instance *i = tracker_get(d->tracker, g->pid);

                if (!i || i->id != g->id)
                        continue; /* its exit came (a new holder of the pid forked after it) */
                if (d->last_event_ns <= g->read_ns) {
                        d->gone_reads[keep++] = *g;
                        continue;
                }
                log_debug("Process %d (instance %" PRIu64 ") is gone from %s and its exit never came: recorded as exited unseen.",
                          g->pid, g->id, d->config.proc);
                (void) tracker_close_gone(d->tracker, i, g->read_usec);
        }
        d->n_gone_reads = keep;
}

static void read_exec_info(Tracker *t, Instance *i, void *userdata) {
        Daemon *d = userdata;
        unsigned mask = i->needs_info ? PROCFS_STAT | PROCFS_EXE | PROCFS_ARGV | PROCFS_LOGIN : PROCFS_STAT | PROCFS_LOGIN;
        bool exec = i->needs_info;
        ProcInfo info = {};
        int r;

        r = procfs_read(d->config.proc, i->pid, mask, &info);
        /* Gone from the kernel too, not only from the /proc we read (--proc may name another tree). */
        if (r == -ESRCH && kill(i->pid, 0) < 0 && errno == ESRCH)
                note_gone_read(d, i);
        if (r < 0) {
                /* Exited before we looked: the exec stays recorded without its command line. */
                ProcInfo none = { .pid = i->pid };

                if (d->record && (r = record_write_info(d->record, &none)) < 0)
                        record_failed(d, r);
                (void) tracker_apply_info(t, i, &none);
                return;
        }
        if (d->record && (r = record_write_info(d->record, &info)) < 0)
                record_failed(d, r);
        /* Before the facts: observers of the exec (the journal export) see where it ran. */
        if (exec)
                read_cgroup(d, i);
        apply_exec_facts(d, i, &info, exec, LINEAGE_EXEC_SOURCE_PROCFS);
        proc_info_done(&info);
}

/* ---- the eBPF exec source: the join ----
 * The connector stays the source of lineage. Each of its exec events is completed from the eBPF
 * record of the same instance (pid and start time), taken in the order the kernel wrote them, right
 * when the event is handled; the record was written before the connector's message was sent, so it
 * is in the ring buffer by then unless the ring overflowed. Without one, the exec falls back to the
 * /proc read at the batch's end (counted as procfs). A record that no connector event claims (the
 * connector lost it) is recorded as an exec of its instance, at the record's time, if that instance
 * is known and alive; else it is counted as unmatched. */

/* The facts of an exec from its eBPF record, as a ProcInfo: what the tracker and the record take. */
static void bpf_exec_info(Daemon *d, const Instance *i, const BpfExec *x, ProcInfo *info) {
        char *exe = NULL;

        /* Login ids are left to the batch's end, as for every exec: a login is begun there, once the
         * batch's exits are known, along the live ancestors (see begin_login()). */
        *info = (ProcInfo) {
                .have = PROCFS_STAT | PROCFS_STATUS, .pid = i->pid, .start_ticks = i->start_ticks,
                .sid = i->sid, .pgid = i->pgid, .tgid = i->pid, .ruid = x->uid, .euid = x->euid, .rgid = x->gid,
                .egid = x->egid, .loginuid = x->loginuid, .sessionid = x->sessionid,
        };
        procfs_sanitize_comm(x->comm, strnlen(x->comm, sizeof(x->comm)), info->comm, sizeof(info->comm));
        if (exec_bpf_resolve(d->bpf, x, d->config.proc, &exe) >= 0) {
                info->exe = exe;
                info->have |= PROCFS_EXE;
        }
        if (x->argv && x->argv_len > 0) {
                info->argv = x->argv;   /* borrowed: cleared before proc_info_done() */
                info->argv_len = x->argv_len;
                info->argv_truncated = x->flags & BPF_EXEC_ARGV_TRUNCATED;
                info->have |= PROCFS_ARGV;
        }
}

static void apply_bpf_exec(Daemon *d, Instance *i, const BpfExec *x) {
        ProcInfo info;
        int r;

        bpf_exec_info(d, i, x, &info);
        if (d->record && (r = record_write_bpf_exec(d->record, &info)) < 0)
                record_failed(d, r);
        if (i->flags & INSTANCE_ALIVE)
                bpf_cgroup(d, i, x->cgroup_id);
        apply_exec_facts(d, i, &info, true, LINEAGE_EXEC_SOURCE_BPF);
        /* As procfs_exe_root_owned() judges a live process's file, from the inode the kernel ran. */
        tracker_set_image_owner(d->tracker, i, S_ISREG(x->file_mode) && x->file_uid == 0 &&
                                !(x->file_mode & (S_IWGRP | S_IWOTH)) && !(x->flags & BPF_EXEC_DELETED));
        if (i->flags & INSTANCE_ALIVE)
                tracker_request_login(d->tracker, i);
        info.argv = NULL;
        proc_info_done(&info);
}

static void complete_exec_from_bpf(Daemon *d, int32_t tgid) {
        Instance *i = tracker_get(d->tracker, tgid);
        BpfExec *x;

        if (!i || !i->needs_info)
                return;
        x = exec_bpf_take(d->bpf, i->pid, i->start_ticks);
        if (!x && exec_bpf_consume(d->bpf) > 0)
                x = exec_bpf_take(d->bpf, i->pid, i->start_ticks);
        if (x)
                apply_bpf_exec(d, i, x);
}

/* Ring-buffer overflow: a gap, like connector loss. */
static void bpf_check_lost(Daemon *d) {
        uint64_t lost = exec_bpf_take_lost(d->bpf);
        int r;

        if (lost > 0) {
                RecordBpfLoss l = { .lost = lost, .at_ns = now_nsec(CLOCK_MONOTONIC) };

                log_warning("The eBPF exec ring buffer dropped %" PRIu64 " records; recording a gap.", lost);
                if (d->record && (r = record_write_bpf_loss(d->record, &l)) < 0)
                        record_failed(d, r);
                add_bpf_gap(d, &l);
        }
}

/* Records no connector event claimed. */
static void bpf_unclaimed(Daemon *d) {
        uint64_t before = d->last_event_ns > BPF_UNCLAIMED_NSEC ? d->last_event_ns - BPF_UNCLAIMED_NSEC : 0;
        BpfExec *x;
        int r;

        while ((x = exec_bpf_take_stale(d->bpf, before))) {
                Instance *i = tracker_get(d->tracker, x->tgid);
                CnprocEvent ev = { .type = LINEAGE_EVENT_EXEC, .pid = x->tgid, .tgid = x->tgid, .timestamp_ns = x->mono_ns };

                if (!i || !ticks_match_slack(i->start_ticks, x->start_ticks)) {
                        d->bpf_unmatched++;
                        continue;
                }
                d->bpf_only++;
                if (d->record && (r = record_write_event(d->record, &ev)) < 0)
                        record_failed(d, r);
                tracker_handle_event(d->tracker, &ev);
                if (i->needs_info)
                        apply_bpf_exec(d, i, x);
        }
}

static void on_bpf_records(void *userdata) {
        Daemon *d = userdata;

        bpf_check_lost(d);
        bpf_unclaimed(d);
}

static void on_batch_done(void *userdata) {
        Daemon *d = userdata;

        if (d->bpf) {
                /* The program wakes us only when its ring fills up: read it with every batch. */
                (void) exec_bpf_consume(d->bpf);
                bpf_check_lost(d);
                bpf_unclaimed(d);
        }
        if (d->n_gone_reads > 0)
                close_gone_reads(d);
        tracker_foreach_needs_info(d->tracker, read_exec_info, d);
}

static int on_commit_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        uint64_t next = d->config.commit_interval_usec;

        if (daemon_flush(d) < 0)
                next = MAX(next, COMMIT_RETRY_USEC);
        if (d->record)
                (void) record_writer_flush(d->record);
        /* Time sources fire once: re-arm for the next commit. */
        (void) sd_event_source_set_time_relative(s, next);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;

        log_info("Received %s, flushing and exiting.", strsignal((int) si->ssi_signo));
        (void) sd_notify(0, "STOPPING=1");
        return sd_event_exit(d->event, 0);
}

/* Nothing to reload or reopen (no configuration file, the database stays open): a stray SIGHUP or
 * SIGUSR1/2, as log rotation scripts send, must not end the record unflushed. */
static int on_signal_ignored(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("Received %s from pid %u; lineaged has nothing to reload or reopen, ignoring.",
                 strsignal((int) si->ssi_signo), si->ssi_pid);
        return 0;
}

static int setup_signals(Daemon *d) {
        static const int ignored[] = { SIGHUP, SIGUSR1, SIGUSR2 };
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        for (size_t k = 0; k < ELEMENTSOF(ignored); k++)
                sigaddset(&mask, ignored[k]);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        r = sd_event_add_signal(d->event, NULL, SIGTERM, on_signal, d);
        if (r >= 0)
                r = sd_event_add_signal(d->event, NULL, SIGINT, on_signal, d);
        for (size_t k = 0; r >= 0 && k < ELEMENTSOF(ignored); k++)
                r = sd_event_add_signal(d->event, NULL, ignored[k], on_signal_ignored, d);
        if (r < 0)
                return log_error_errno(r, "Failed to watch signals: %m");
        (void) signal(SIGPIPE, SIG_IGN);
        return 0;
}

/* The query front ends: varlink always (unless disabled with an empty path), D-Bus where reachable. */
static int daemon_serve(Daemon *d) {
        int r;

        r = query_new(&d->query, d);
        if (r < 0)
                return log_error_errno(r, "Failed to set up queries: %m");
        if (d->config.journal_export) {
                r = journal_export_new(&d->journal, d->tracker, (JournalExportMode) d->config.journal_export);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up the journal export: %m");
        }
        if (d->config.varlink && d->config.varlink[0]) {
                r = lineage_varlink_new(&d->varlink, d->event, d->query, d->config.varlink);
                if (r < 0)
                        return r;
        }
        /* Without a reachable bus this warns and returns no object: varlink keeps serving. */
        return lineage_dbus_new(&d->dbus, d->event, d->query, d->config.dbus);
}

static const char *bpf_failure(int r) {
        switch (r) {
        case -EOPNOTSUPP:
                return "this lineaged was built without the eBPF exec source";
        case -EPERM:
        case -EACCES:
                return "not permitted to load eBPF programs (not root, or kernel lockdown)";
        case -ENOENT:
        case -ESRCH:
                return "the kernel has no BTF or no sched_process_exec tracepoint";
        default:
                return NULL;
        }
}

/* --exec-source: procfs when asked for; bpf when asked for or by default, where it loads. */
static int daemon_choose_exec_source(Daemon *d) {
        const char *why;
        int r;

        d->exec_source = LINEAGE_EXEC_SOURCE_PROCFS;
        if (d->config.exec_source && streq(d->config.exec_source, "procfs")) {
                log_info("Reading exec images from /proc (--exec-source=procfs).");
                return 0;
        }
        r = exec_bpf_new(&d->bpf);
        if (r >= 0) {
                d->exec_source = LINEAGE_EXEC_SOURCE_BPF;
                log_info("Reading exec images from the eBPF exec source.");
                return 0;
        }
        why = bpf_failure(r);
        if (d->config.exec_source)
                return why ? log_error_errno(r, "--exec-source=bpf: %s.", why)
                           : log_error_errno(r, "--exec-source=bpf: failed to load the eBPF program: %m");
        if (why)
                d->exec_source_reason = strdup(why);
        else
                r = asprintf(&d->exec_source_reason, "the eBPF program failed to load: %s", strerror(-r)) < 0 ? -ENOMEM : 0;
        if (!d->exec_source_reason)
                return log_oom();
        log_info("Reading exec images from /proc: %s.", d->exec_source_reason);
        return 0;
}

int daemon_run(Daemon *d) {
        static const CnprocCallbacks cb = {
                .event = on_event,
                .loss = on_loss,
                .batch_done = on_batch_done,
        };
        int r;

        r = setup_signals(d);
        if (r < 0)
                return r;
        r = daemon_choose_exec_source(d);
        if (r < 0)
                return r;
        r = daemon_begin_boot(d);
        if (r == -EBADMSG) {
                /* Damage behind an intact header shows at the first reads of the record. */
                log_error("Failed to read %s: the file is damaged behind its header.", store_path(d->store));
                d->tracker = tracker_free(d->tracker);
                r = daemon_replace_database(d);
                if (r >= 0)
                        r = daemon_begin_boot(d);
                if (r >= 0) {
                        TrackerGap g = { .start_time = d->boot.boot_time, .end_time = now_usec(CLOCK_REALTIME),
                                         .cpu = -1, .reason = "corrupt" };

                        tracker_add_gap(d->tracker, &g);
                }
        }
        if (r < 0)
                return r;

        /* Subscribe before scanning, so nothing born during the scan is missed; the socket holds the
         * events meanwhile and the tracker folds the duplicates together. */
        r = cnproc_new(&d->cnproc, &cb, d);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the proc connector: %m");
        if (d->config.batch_interval_usec > 0)
                cnproc_set_batch_interval(d->cnproc, d->config.batch_interval_usec);
        if (d->config.receive_buffer > 0)
                cnproc_set_receive_buffer(d->cnproc, d->config.receive_buffer);
        r = cnproc_subscribe(d->cnproc);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to the proc connector (are we root?): %m");
        r = daemon_scan(d);
        if (r < 0)
                return r;
        if (d->downtime_start > 0) {
                TrackerGap g = { .start_time = d->downtime_start, .end_time = now_usec(CLOCK_REALTIME), .cpu = -1,
                                 .reason = "downtime" };

                tracker_add_gap(d->tracker, &g);
                log_info("Recorded the time lineaged was not running on this boot as a gap (%.1f s).",
                         (double) (g.end_time - g.start_time) / 1e6);
        }
        r = cnproc_attach(d->cnproc, d->event);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the proc connector: %m");
        if (d->bpf) {
                r = exec_bpf_attach(d->bpf, d->event, on_bpf_records, d);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch the eBPF exec ring buffer: %m");
        }
        r = sd_event_add_time_relative(d->event, &d->commit_timer, CLOCK_MONOTONIC, d->config.commit_interval_usec,
                                       10 * USEC_PER_MSEC, on_commit_timer, d);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the commit timer: %m");
        (void) daemon_flush(d);
        r = daemon_serve(d);
        if (r < 0)
                return r;
        if (d->config.keep_usec > 0 || d->config.max_size > 0) {
                r = sd_event_add_time_relative(d->event, &d->prune_timer, CLOCK_MONOTONIC, PRUNE_BUSY_USEC,
                                               50 * USEC_PER_MSEC, on_prune_timer, d);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up retention: %m");
        }
        if (d->kernel_caba) {
                log_info("The kernel provides NScaba:; cross-checking it against the lineage from events.");
                r = sd_event_add_time_relative(d->event, &d->caba_timer, CLOCK_MONOTONIC, CABA_SWEEP_USEC,
                                               USEC_PER_SEC, on_caba_timer, d);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up the CABA cross-check: %m");
        }

        /* WatchdogSec= in lineaged.service: the loop itself pings, so a stuck loop gets restarted. */
        r = sd_event_set_watchdog(d->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the service watchdog, ignoring: %m");

        log_info("Recording process lineage into %s.", store_path(d->store));
        (void) sd_notify(0, "READY=1\nSTATUS=Recording process lineage.");
        r = sd_event_loop(d->event);
        if (r < 0)
                log_error_errno(r, "Event loop failed: %m");

        /* Whatever is still queued in the socket belongs to the record too. */
        if (cnproc_drain(d->cnproc) > 0)
                on_batch_done(d);
        cnproc_unsubscribe(d->cnproc);
        if (daemon_flush(d) < 0)
                log_error("Failed to write the last events to %s; they are lost.", store_path(d->store));
        else
                (void) store_run_end(d->store, now_usec(CLOCK_REALTIME));
        if (d->record)
                (void) record_writer_flush(d->record);
        return r;
}
