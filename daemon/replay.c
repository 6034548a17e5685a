/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replay: the same tracker and store as a live run, fed from a record file (--replay). */
#include "daemon-internal.h"
#include "login.h"

#define REPLAY_FLUSH_EVERY 65536U

static int replay_flush_maybe(Daemon *d) {
        if (d->replay_by_time || ++d->replay_pending < REPLAY_FLUSH_EVERY)
                return 0;
        d->replay_pending = 0;
        return daemon_flush(d);
}

/* The span the record covers: it becomes a run of the recorded boot (see daemon_replay()). */
static void replay_saw(Daemon *d, uint64_t mono_ns) {
        uint64_t t = tracker_realtime_from_mono(d->tracker, mono_ns);

        if (d->replay_first == 0 || t < d->replay_first)
                d->replay_first = t;
        d->replay_last = MAX(d->replay_last, t);
}

/* At the live cadence: commits what came before an event once the record's time has passed the next
 * commit (the live daemon's timer would have fired by then). Live commits fall between batches, after
 * the facts read at a batch's end (info records); so does this one, unless a whole further interval
 * passes without any. Never while an exec waits for its image: a parent's image read before its
 * child's fork is an info record in the middle of a batch, and live did not commit there. */
static int replay_commit_before(Daemon *d, uint64_t at_ns) {
        uint64_t interval = d->config.commit_interval_usec * 1000;

        if (!d->replay_by_time)
                return 0;
        if (d->replay_commit_ns == 0) {
                d->replay_commit_ns = at_ns + interval; /* the first event starts the first interval */
                return 0;
        }
        if (at_ns < d->replay_commit_ns || (!d->replay_after_info && at_ns < d->replay_commit_ns + interval))
                return 0;
        if (tracker_waits_for_info(d->tracker))
                return 0;
        d->replay_commit_ns = at_ns + interval;
        return daemon_flush(d);
}

static int replay_clock(const RecordClock *c, void *userdata) {
        Daemon *d = userdata;

        if (d->tracker) {
                /* A later clock record (the daemon re-read its clocks): same boot, new offsets. */
                tracker_set_clock(d->tracker, &c->clock);
                return 0;
        }
        d->clock = c->clock;
        memcpy(d->boot.boot_id, c->boot_id, sizeof(d->boot.boot_id));
        d->boot.boot_time = 0;
        if (d->clock.clock_ticks == 0)
                return -EBADMSG;
        /* boot_time in realtime µs: where CLOCK_BOOTTIME was 0. */
        d->boot.boot_time = (uint64_t) MAX(0, (c->clock.realtime_offset_ns - c->clock.boottime_offset_ns) / 1000);
        return daemon_begin_boot(d);
}

static int replay_event(const CnprocEvent *ev, void *userdata) {
        Daemon *d = userdata;
        int r;

        if (!d->tracker)
                return -EBADMSG;
        r = replay_commit_before(d, ev->timestamp_ns);
        if (r < 0)
                return r;
        d->replay_after_info = false;
        tracker_handle_event(d->tracker, ev);
        replay_saw(d, ev->timestamp_ns);
        return replay_flush_maybe(d);
}

static int replay_loss(const CnprocLoss *loss, void *userdata) {
        Daemon *d = userdata;

        if (!d->tracker)
                return -EBADMSG;
        tracker_handle_loss(d->tracker, loss);
        return 0;
}

static int replay_scan_begin(uint64_t at, void *userdata) {
        Daemon *d = userdata;

        if (!d->tracker)
                return -EBADMSG;
        tracker_scan_begin(d->tracker, at);
        replay_saw(d, at);
        return 0;
}

static int replay_scan(const ProcInfo *info, const int32_t *tids, size_t n, int32_t caba, void *userdata) {
        Daemon *d = userdata;
        int r;

        if (!d->tracker)
                return -EBADMSG;
        r = tracker_scan_add(d->tracker, info, tids, n, caba);
        return r == -ENOMEM ? r : 0;
}

static int replay_scan_end(void *userdata) {
        Daemon *d = userdata;

        if (!d->tracker)
                return -EBADMSG;
        tracker_scan_end(d->tracker);
        return 0;
}

static int replay_info(const ProcInfo *info, void *userdata) {
        Daemon *d = userdata;
        Instance *i;

        if (!d->tracker)
                return -EBADMSG;
        d->replay_after_info = true;
        i = tracker_get(d->tracker, info->pid);
        if (i)
                (void) tracker_apply_info(d->tracker, i, info);
        return 0;
}

static int replay_reconcile(uint64_t exit_time, void *userdata) {
        Daemon *d = userdata;

        if (!d->tracker)
                return -EBADMSG;
        (void) tracker_scan_close_unseen(d->tracker, exit_time);
        return 0;
}

static int replay_bpf_exec(const ProcInfo *info, void *userdata) {
        Daemon *d = userdata;
        Instance *i;

        if (!d->tracker)
                return -EBADMSG;
        i = tracker_get(d->tracker, info->pid);
        if (!i)
                return 0;
        (void) tracker_apply_info_from(d->tracker, i, info, LINEAGE_EXEC_SOURCE_BPF);
        if (i->flags & INSTANCE_ALIVE)
                tracker_request_login(d->tracker, i); /* as live: its info record follows */
        return 0;
}

static int replay_bpf_loss(const RecordBpfLoss *l, void *userdata) {
        Daemon *d = userdata;

        if (!d->tracker)
                return -EBADMSG;
        add_bpf_gap(d, l);
        return 0;
}

static int replay_login(const RecordLogin *l, void *userdata) {
        Daemon *d = userdata;

        if (!d->tracker)
                return -EBADMSG;
        return apply_login_record(d, l);
}

int daemon_replay(Daemon *d) {
        static const RecordHandlers h = {
                .clock = replay_clock,
                .event = replay_event,
                .loss = replay_loss,
                .scan_begin = replay_scan_begin,
                .scan = replay_scan,
                .scan_end = replay_scan_end,
                .info = replay_info,
                .login = replay_login,
                .reconcile = replay_reconcile,
                .bpf_exec = replay_bpf_exec,
                .bpf_loss = replay_bpf_loss,
        };
        uint64_t t0 = now_nsec(CLOCK_MONOTONIC);
        TrackerStats st = {};
        double secs;
        int n, r;

        n = record_read_file(d->config.replay, &h, d);
        if (n < 0)
                log_error_errno(n, "Failed to replay %s: %m", d->config.replay);
        r = daemon_flush(d);
        if (r < 0)
                return log_error_errno(r, "Failed to write the replayed record to %s: %m", store_path(d->store));
        if (n < 0)
                return n;
        if (d->replay_last > 0) {
                uint64_t prev;

                /* The record is a run of its boot: a daemon that later closes what was still alive at its
                 * end bounds those exits by the record's last event, not by their own starts. */
                r = store_run_begin(d->store, d->replay_first, &prev);
                if (r >= 0)
                        r = store_run_end(d->store, d->replay_last);
                if (r < 0)
                        return log_error_errno(r, "Failed to record the replayed run in %s: %m", store_path(d->store));
        }
        if (d->tracker)
                tracker_get_stats(d->tracker, &st);
        secs = (double) (now_nsec(CLOCK_MONOTONIC) - t0) / 1e9;
        log_info("Replayed %d records from %s in %.3f s (%.0f records/s): %" PRIu64 " instances, %" PRIu64
                 " still alive, %" PRIu64 " gaps.",
                 n, d->config.replay, secs, secs > 0 ? n / secs : 0.0, st.created, st.live, st.gaps);
        return 0;
}
