/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The CABA cross-check: on kernels with NScaba:, the kernel's closest alive birth ancestor against ours. */
#include "caba-check.h"
#include "daemon-internal.h"

#define CABA_SWEEP_BATCH 2000U
#define CABA_WALK_MAX 4096U

const char *caba_agreement_to_string(CabaAgreement a) {
        static const char *const t[] = {
                [CABA_AGREE] = "agree", [CABA_ZOMBIE] = "zombie",
                [CABA_CLONE_PARENT] = "clone-parent", [CABA_DISAGREE] = "unexplained",
        };
        return (unsigned) a < ELEMENTSOF(t) ? t[a] : NULL;
}

bool daemon_kernel_has_caba(Daemon *d) {
        return d->kernel_caba;
}

uint64_t daemon_caba_disagreements(Daemon *d) {
        return d->caba_disagreements;
}

int daemon_kernel_caba(Daemon *d, int32_t pid, int32_t *ret_tgid) {
        ProcInfo info = {};
        int r;

        r = procfs_read(d->config.proc, pid, PROCFS_STATUS, &info);
        if (r < 0)
                return r;
        r = procfs_nscaba_tgid(d->config.proc, &info, ret_tgid);
        proc_info_done(&info);
        return r;
}

/* Is there an exited instance with pid between i and its userspace CABA along birth parents? */
static bool exited_ancestor_has_pid(Daemon *d, const Instance *i, int32_t pid) {
        uint64_t id = i->birth_parent_id, stop = i->caba_id;

        for (unsigned n = 0; id > 0 && id != stop && n < CABA_WALK_MAX; n++) {
                uint64_t next = 0;
                int32_t p = 0;
                bool exited = false;

                if (store_birth_parent(d->store, id, &next, &p, &exited) < 0)
                        return false;
                if (p == pid && exited)
                        return true;
                id = next;
        }
        return false;
}

/* clone(CLONE_PARENT) makes the creator's current parent the parent: the fork event names that one,
 * the kernel's CABA the creator. The creator may have been reparented (to a reaper) before it
 * cloned, so its birth parent is not i's; or it has exited since and is a zombie, no longer ours.
 * Either way /proc still shows it, with i's recorded birth parent as its parent, born before i. */
static bool creator_cloned_parent(Daemon *d, const Instance *i, int32_t kernel_tgid) {
        ProcInfo info = {};
        bool r;

        if (kernel_tgid <= 0 || i->birth_parent_pid <= 0 ||
            procfs_read(d->config.proc, kernel_tgid, PROCFS_STAT, &info) < 0)
                return false;
        r = info.ppid == i->birth_parent_pid && info.start_ticks <= i->start_ticks;
        proc_info_done(&info);
        return r;
}

CabaAgreement daemon_check_caba(Daemon *d, Instance *i, int32_t kernel_tgid) {
        const Instance *u = tracker_caba(i);
        Instance *k = tracker_get(d->tracker, kernel_tgid);
        CabaAgreement a;

        if (u ? u->pid == kernel_tgid : kernel_tgid == 0)
                return CABA_AGREE;
        (void) daemon_flush(d); /* the walk below reads the database */
        if (exited_ancestor_has_pid(d, i, kernel_tgid))
                a = CABA_ZOMBIE;
        else if ((k && k->birth_parent_id > 0 && k->birth_parent_id == i->birth_parent_id) ||
                 creator_cloned_parent(d, i, kernel_tgid))
                a = CABA_CLONE_PARENT;
        else
                a = CABA_DISAGREE;
        if (a == CABA_DISAGREE && !i->caba_mismatch_counted) {
                i->caba_mismatch_counted = true;
                d->caba_disagreements++;
                log_debug("CABA of %d (instance %" PRIu64 ") disagrees: from events %d, kernel %d; keeping the observed lineage.",
                          i->pid, i->id, u ? u->pid : 0, kernel_tgid);
        }
        return a;
}

/* On kernels with NScaba:, compare a slice of the live processes every few seconds. */
int on_caba_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        unsigned n = 0;
        Instance *i;

        while (n++ < CABA_SWEEP_BATCH) {
                int32_t k;

                i = tracker_iterate(d->tracker, &d->caba_sweep_state);
                if (!i) {
                        d->caba_sweep_state = 0;
                        break;
                }
                if (daemon_kernel_caba(d, i->pid, &k) >= 0)
                        (void) daemon_check_caba(d, i, k);
        }
        (void) sd_event_source_set_time_relative(s, CABA_SWEEP_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}
