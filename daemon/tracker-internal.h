/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tracker-internal: the Tracker object shared by tracker.c (lineage) and tracker-login.c (logins). */
#pragma once

#include "hashmap.h"
#include "tracker.h"

struct Tracker {
        TrackerClock clock;
        Hashmap *by_pid;                /* live instances by tgid */
        uint64_t next_id;
        Instance *dirty_head, **dirty_tail;
        uint32_t dirty_seq;             /* the next Instance.dirty_seq; restarts when the dirty list empties */
        /* Instances flagged needs_info or needs_login since the last walk, each once (needs_listed).
         * Entries whose flags were cleared meanwhile stay until the next walk or flush drops them. */
        Instance **needs;
        size_t n_needs, n_needs_alloc;
        bool needs_overflow;            /* an entry could not be added: the next walk takes the dirty list */
        bool cred_loss;                 /* events were lost: no live instance's credentials are known since */
        Hashmap *logins;                /* live logins by audit session */
        Hashmap *ended_logins;          /* logins ended since the last flush, by audit session */
        Login *dirty_logins;
        TrackerEvent *events;           /* queued rows for the events table */
        size_t n_events, n_events_alloc;
        TrackerGap *gaps;
        size_t n_gaps, n_gaps_alloc;
        Instance **scan_new;            /* instances created by the scan in progress */
        size_t n_scan_new, n_scan_new_alloc;
        int32_t *scan_ppid;             /* their PPid / kernel CABA, parallel to scan_new */
        bool *scan_kernel_caba;
        Instance **scan_zombies;        /* found exited and unreaped by this scan: closed at its end */
        size_t n_scan_zombies, n_scan_zombies_alloc;
        uint64_t scan_at_ns;
        uint32_t scan_generation;
        size_t string_bytes;            /* exe/argv held */
        Hashmap *strings;               /* interned executable paths: hash -> chain of Interned */
        struct {
                TrackerObserver cb;
                void *userdata;
        } observers[TRACKER_OBSERVERS_MAX];
        unsigned n_observers;
        /* Whether the record already holds a login for an audit session (its login ended and was written). */
        TrackerSessionKnown session_known;
        void *session_known_userdata;
        TrackerStats stats;
};

/* tracker.c */
void mark_dirty(Tracker *t, Instance *i);
/* Start times equal within the slack that event-derived start times need. */
bool ticks_match(uint64_t a, uint64_t b);

/* tracker-login.c */
void login_free(Login *l);
