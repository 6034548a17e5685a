/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tracker tests on synthetic event sequences: birth parents, threads, exits, pid reuse, CABA. */
#include <inttypes.h>
#include <signal.h>

#include "tracker.h"
#include "tests.h"

static uint64_t now_ns = 1000 * NSEC_PER_SEC;

static CnprocEvent ev(LineageEventType type, int32_t pid, int32_t tgid) {
        now_ns += 20 * NSEC_PER_SEC / 1000; /* 20 ms apart: two ticks */
        return (CnprocEvent) { .type = type, .pid = pid, .tgid = tgid, .timestamp_ns = now_ns };
}

static void fork_thread(Tracker *t, int32_t ppid, int32_t ptgid, int32_t pid, int32_t tgid) {
        CnprocEvent e = ev(LINEAGE_EVENT_FORK, pid, tgid);

        e.fork.parent_pid = ppid;
        e.fork.parent_tgid = ptgid;
        tracker_handle_event(t, &e);
}

static void fork_proc(Tracker *t, int32_t parent, int32_t child) {
        fork_thread(t, parent, parent, child, child);
}

static void exit_thread(Tracker *t, int32_t pid, int32_t tgid, uint32_t code, int32_t reaper) {
        CnprocEvent e = ev(LINEAGE_EVENT_EXIT, pid, tgid);

        e.exit.code = code;
        e.exit.signal = SIGCHLD;
        e.exit.parent_pid = e.exit.parent_tgid = reaper;
        tracker_handle_event(t, &e);
}

static void simple(Tracker *t, LineageEventType type, int32_t pid, int32_t tgid) {
        CnprocEvent e = ev(type, pid, tgid);

        tracker_handle_event(t, &e);
}

/* Collects what a flush writes: the last row per instance id. */
#define MAX_ROWS 256
static Instance rows[MAX_ROWS];
static TrackerEvent events[MAX_ROWS];
static unsigned n_events;
static TrackerGap gaps[16];
static unsigned n_gaps;

static int sink_instance(const Instance *i, void *userdata) {
        if (i->id >= MAX_ROWS)
                return -E2BIG;
        rows[i->id] = *i;
        rows[i->id].exe = rows[i->id].argv = NULL;
        return 0;
}

static int sink_event(const TrackerEvent *e, void *userdata) {
        if (n_events < MAX_ROWS) {
                events[n_events] = *e;
                events[n_events].text = events[n_events].argv = NULL;
                n_events++;
        }
        return 0;
}

static int sink_gap(const TrackerGap *g, void *userdata) {
        if (n_gaps < 16)
                gaps[n_gaps++] = *g;
        return 0;
}

static void flush(Tracker *t) {
        static const TrackerSink sink = { .instance = sink_instance, .event = sink_event, .gap = sink_gap };

        ASSERT_TRUE(tracker_flush(t, &sink, NULL) >= 0);
        tracker_flush_complete(t);
}

static Tracker *new_tracker(void) {
        TrackerClock c = { .clock_ticks = 100 };
        Tracker *t = NULL;

        memset(rows, 0, sizeof(rows));
        n_events = n_gaps = 0;
        ASSERT_TRUE(tracker_new(&t, &c, 1) >= 0);
        return t;
}

/* Seeds a live root process by a scan, as at start-up. */
static void scan_root(Tracker *t, int32_t pid, int32_t ppid) {
        ProcInfo p = { .have = PROCFS_STAT, .pid = pid, .ppid = ppid, .start_ticks = 1, .sid = pid };

        strcpy(p.comm, "init");
        tracker_scan_begin(t, now_ns);
        ASSERT_TRUE(tracker_scan_add(t, &p, NULL, 0, -1) >= 0);
        tracker_scan_end(t);
}

static uint64_t id_of(Tracker *t, int32_t pid) {
        Instance *i = tracker_get(t, pid);

        return i ? i->id : 0;
}

static int32_t caba_pid(Tracker *t, int32_t pid) {
        Instance *i = tracker_get(t, pid);
        const Instance *c = i ? tracker_caba(i) : NULL;

        return c ? c->pid : -1;
}

static void test_chain_and_reparent(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        uint64_t a, b, c;

        scan_root(t, 1, 0);
        fork_proc(t, 1, 100);
        fork_proc(t, 100, 101);
        fork_proc(t, 101, 102);
        a = id_of(t, 100), b = id_of(t, 101), c = id_of(t, 102);
        ASSERT_TRUE(a && b && c);
        ASSERT_TRUE(caba_pid(t, 102) == 101);
        /* 101 exits: 102 is reparented to 1 by the kernel, but its birth parent stays 101. */
        exit_thread(t, 101, 101, 0, 100);
        ASSERT_TRUE(tracker_get(t, 101) == NULL);
        ASSERT_TRUE(caba_pid(t, 102) == 100);
        exit_thread(t, 100, 100, 3 << 8, 1);
        ASSERT_TRUE(caba_pid(t, 102) == 1);
        exit_thread(t, 102, 102, SIGKILL, 1);
        flush(t);
        ASSERT_TRUE(rows[c].birth_parent_id == b && rows[c].birth_parent_pid == 101);
        ASSERT_TRUE(rows[c].source == LINEAGE_SOURCE_FORK);
        ASSERT_TRUE(rows[c].exit_parent_pid == 1);
        ASSERT_TRUE(rows[c].exit_signal == SIGKILL && rows[c].exit_status == -1);
        ASSERT_TRUE(rows[a].exit_status == 3 && rows[a].exit_signal == 0);
        ASSERT_TRUE(rows[b].birth_parent_id == a);
        ASSERT_TRUE(rows[a].birth_parent_id == 1);
        ASSERT_TRUE(!(rows[c].flags & INSTANCE_ALIVE) && rows[c].exit_time >= rows[c].start_time);
        /* CABA at exit: 102 outlived 101 and 100, so its last CABA was 1. */
        ASSERT_TRUE(rows[c].caba_pid == 1);
}

static void test_threads(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        uint64_t p, c1, c2;

        scan_root(t, 1, 0);
        fork_proc(t, 1, 200);
        p = id_of(t, 200);
        /* Two threads: fork events with pid != tgid, and the parent named is the creator's parent. */
        fork_thread(t, 1, 1, 201, 200);
        fork_thread(t, 1, 1, 202, 200);
        ASSERT_TRUE(tracker_get(t, 201) == NULL); /* threads are not instances */
        /* Each thread forks a process: the forking thread is named; the child belongs to the group. */
        fork_thread(t, 201, 200, 210, 210);
        fork_thread(t, 202, 200, 211, 211);
        c1 = id_of(t, 210), c2 = id_of(t, 211);
        /* The leader exits first (pthread_exit in main); the group lives on in its threads. */
        exit_thread(t, 200, 200, 0, 1);
        ASSERT_TRUE(tracker_get(t, 200) != NULL);
        ASSERT_TRUE(caba_pid(t, 210) == 200);
        exit_thread(t, 201, 200, 0, 1);
        ASSERT_TRUE(tracker_get(t, 200) != NULL);
        exit_thread(t, 202, 200, 9 << 8, 1);
        ASSERT_TRUE(tracker_get(t, 200) == NULL);
        ASSERT_TRUE(caba_pid(t, 210) == 1 && caba_pid(t, 211) == 1);
        flush(t);
        ASSERT_TRUE(rows[c1].birth_parent_id == p && rows[c1].birth_parent_pid == 200);
        ASSERT_TRUE(rows[c2].birth_parent_id == p && rows[c2].birth_parent_pid == 200);
        ASSERT_TRUE(rows[p].exit_status == 9);
}

static void test_exec_from_thread(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        uint64_t p;
        unsigned execs = 0;

        scan_root(t, 1, 0);
        fork_proc(t, 1, 300);
        p = id_of(t, 300);
        fork_thread(t, 1, 1, 301, 300);
        /* Thread 301 execs: the kernel kills the other threads, the old leader reports its exit, then the
         * exec is reported under the leader's pid, which the exec'ing thread has taken over. */
        exit_thread(t, 300, 300, SIGKILL, 1);
        ASSERT_TRUE(tracker_get(t, 300) != NULL);
        simple(t, LINEAGE_EVENT_EXEC, 300, 300);
        ASSERT_TRUE(tracker_get(t, 300) != NULL && tracker_get(t, 300)->id == p);
        fork_proc(t, 300, 302);
        ASSERT_TRUE(tracker_get(t, 302)->birth_parent_id == p);
        /* After exec the process is single-threaded: the next leader exit ends it. */
        exit_thread(t, 300, 300, 0, 1);
        ASSERT_TRUE(tracker_get(t, 300) == NULL);
        flush(t);
        for (unsigned k = 0; k < n_events; k++)
                if (events[k].type == LINEAGE_EVENT_EXEC && events[k].instance == p)
                        execs++;
        ASSERT_TRUE(execs == 1);
        ASSERT_TRUE(rows[p].flags & INSTANCE_EXECED);
}

static void test_pid_reuse(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        uint64_t first, second;

        scan_root(t, 1, 0);
        fork_proc(t, 1, 400);
        first = id_of(t, 400);
        exit_thread(t, 400, 400, 0, 1);
        fork_proc(t, 1, 400);
        second = id_of(t, 400);
        ASSERT_TRUE(first != second && second != 0);
        /* A reused pid whose previous exit was lost: the stale instance is closed, flagged. */
        fork_proc(t, 1, 400);
        ASSERT_TRUE(id_of(t, 400) != second);
        flush(t);
        ASSERT_TRUE(rows[second].flags & INSTANCE_EXIT_UNKNOWN);
        ASSERT_TRUE(!(rows[first].flags & INSTANCE_EXIT_UNKNOWN));
        ASSERT_TRUE(rows[first].start_time < rows[second].start_time);
}

/* A live instance whose pid was found gone with no exit event: closed as exited unseen at the read. */
static void test_close_gone(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        TrackerStats st;
        uint64_t gone, child;
        uint64_t read_at;
        Instance *i;

        scan_root(t, 1, 0);
        fork_proc(t, 1, 450);
        fork_proc(t, 450, 451);
        gone = id_of(t, 450), child = id_of(t, 451);
        ASSERT_TRUE(caba_pid(t, 451) == 450);
        i = tracker_get(t, 450);
        read_at = i->start_time + 5 * USEC_PER_SEC;
        ASSERT_TRUE(tracker_close_gone(t, i, read_at));
        ASSERT_TRUE(tracker_get(t, 450) == NULL);
        /* Its CABA children move up, as at an exit. */
        ASSERT_TRUE(caba_pid(t, 451) == 1);
        tracker_get_stats(t, &st);
        ASSERT_TRUE(st.stale == 1 && st.live == 2);
        /* The pid is free: a new holder is a new instance, not another stale close. */
        fork_proc(t, 1, 450);
        ASSERT_TRUE(id_of(t, 450) != gone && id_of(t, 450) != 0);
        tracker_get_stats(t, &st);
        ASSERT_TRUE(st.stale == 1);
        flush(t);
        ASSERT_TRUE(!(rows[gone].flags & INSTANCE_ALIVE) && (rows[gone].flags & INSTANCE_EXIT_UNKNOWN));
        ASSERT_TRUE(rows[gone].exit_time == read_at);
        ASSERT_TRUE(rows[child].flags & INSTANCE_ALIVE);
        ASSERT_TRUE(rows[child].birth_parent_id == gone);
}

static void test_scan_race(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        ProcInfo child = { .have = PROCFS_STAT, .pid = 600, .ppid = 1 };
        TrackerStats st;
        uint64_t id;

        scan_root(t, 1, 0);
        /* Subscribed, then the scan finds 600 already reparented to 1 (its parent 500 exited before
         * the scan). The queued fork event then tells the truth: born of 500. */
        now_ns += NSEC_PER_SEC;
        child.start_ticks = tracker_ticks_from_mono(t, now_ns + 20 * NSEC_PER_SEC / 1000);
        tracker_scan_begin(t, now_ns);
        ASSERT_TRUE(tracker_scan_add(t, &child, NULL, 0, -1) >= 0);
        tracker_scan_end(t);
        id = id_of(t, 600);
        ASSERT_TRUE(tracker_get(t, 600)->source == LINEAGE_SOURCE_PROCFS);
        fork_proc(t, 500, 600);
        ASSERT_TRUE(id_of(t, 600) == id); /* deduplicated, not doubled */
        ASSERT_TRUE(tracker_get(t, 600)->source == LINEAGE_SOURCE_UNKNOWN); /* 500 was never seen alive */
        ASSERT_TRUE(tracker_get(t, 600)->birth_parent_pid == 500);
        tracker_get_stats(t, &st);
        ASSERT_TRUE(st.merged == 1 && st.live == 2);
}

static void test_scan_order(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        ProcInfo a = { .have = PROCFS_STAT, .pid = 5, .ppid = 900, .start_ticks = 50 };
        ProcInfo b = { .have = PROCFS_STAT, .pid = 900, .ppid = 1, .start_ticks = 40 };
        ProcInfo k = { .have = PROCFS_STAT, .pid = 7, .ppid = 5, .start_ticks = 60 };

        scan_root(t, 1, 0);
        /* After pid wrap-around a parent can have the higher pid. */
        tracker_scan_begin(t, now_ns);
        ASSERT_TRUE(tracker_scan_add(t, &a, NULL, 0, -1) >= 0);
        ASSERT_TRUE(tracker_scan_add(t, &k, NULL, 0, 900) >= 0); /* kernel CABA says 900, PPid says 5 */
        ASSERT_TRUE(tracker_scan_add(t, &b, NULL, 0, -1) >= 0);
        tracker_scan_end(t);
        ASSERT_TRUE(tracker_get(t, 5)->birth_parent_id == id_of(t, 900));
        ASSERT_TRUE(tracker_get(t, 5)->source == LINEAGE_SOURCE_PROCFS);
        ASSERT_TRUE(tracker_get(t, 7)->birth_parent_pid == 900);
        ASSERT_TRUE(tracker_get(t, 7)->source == LINEAGE_SOURCE_KERNEL_CABA);
        ASSERT_TRUE(caba_pid(t, 5) == 900);
}

/* The kernel CABA selftest's "complex sessions": pid 1 setsid; 1 forks 2, 2 setsid; 2→3→4→5; 4 setsid;
 * 4→6→7; 2 becomes subreaper; 6 dies; 2 stops being subreaper; 3 dies.
 * Expected: CABA(2)=1, CABA(4)=2, CABA(5)=4, CABA(7)=4. */
static void test_complex_sessions(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        uint64_t id4;

        scan_root(t, 1, 0);
        simple(t, LINEAGE_EVENT_SID, 1, 1);
        fork_proc(t, 1, 2);
        simple(t, LINEAGE_EVENT_SID, 2, 2);
        fork_proc(t, 2, 3);
        fork_proc(t, 3, 4);
        fork_proc(t, 4, 5);
        simple(t, LINEAGE_EVENT_SID, 4, 4);
        fork_proc(t, 4, 6);
        fork_proc(t, 6, 7);
        /* Subreaper changes have no event and do not change birth lineage. */
        exit_thread(t, 6, 6, 0, 4);
        exit_thread(t, 3, 3, 0, 2);
        ASSERT_TRUE(caba_pid(t, 2) == 1);
        ASSERT_TRUE(caba_pid(t, 4) == 2);
        ASSERT_TRUE(caba_pid(t, 5) == 4);
        ASSERT_TRUE(caba_pid(t, 7) == 4);
        ASSERT_TRUE(tracker_get(t, 4)->sid == 4 && tracker_get(t, 2)->sid == 2);
        ASSERT_TRUE(tracker_get(t, 5)->sid == 2); /* forked before 4's setsid */
        id4 = id_of(t, 4);
        flush(t);
        ASSERT_TRUE(rows[id_of(t, 7)].caba_id == id4);
        ASSERT_TRUE(rows[id_of(t, 7)].birth_parent_pid == 6);
        ASSERT_TRUE(rows[id4].birth_parent_pid == 3);
}

static void test_loss_and_unknown(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        CnprocLoss loss = { .reason = CNPROC_LOSS_SEQUENCE, .cpu = 1, .lost = 4,
                            .after_ns = now_ns, .before_ns = now_ns + NSEC_PER_SEC };
        TrackerStats st;

        scan_root(t, 1, 0);
        tracker_handle_loss(t, &loss);
        simple(t, LINEAGE_EVENT_EXEC, 999, 999); /* unknown pid */
        fork_proc(t, 999, 1000);                  /* parent unknown: lineage unknown */
        tracker_get_stats(t, &st);
        ASSERT_TRUE(st.unattributed == 1 && st.gaps == 1 && st.lost == 4);
        ASSERT_TRUE(tracker_get(t, 1000)->source == LINEAGE_SOURCE_UNKNOWN);
        flush(t);
        ASSERT_TRUE(n_gaps == 1 && gaps[0].lost == 4 && gaps[0].cpu == 1);
        ASSERT_TRUE(gaps[0].end_time > gaps[0].start_time);
}

static void test_ids_and_comm(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        CnprocEvent e;

        scan_root(t, 1, 0);
        fork_proc(t, 1, 50);
        e = ev(LINEAGE_EVENT_UID, 50, 50);
        e.id.r = 1000;
        e.id.e = 0;
        tracker_handle_event(t, &e);
        e = ev(LINEAGE_EVENT_COMM, 50, 50);
        memcpy(e.comm.comm, "we\x01ird\n", 8);
        tracker_handle_event(t, &e);
        e = ev(LINEAGE_EVENT_COMM, 51, 50); /* a thread renaming itself */
        strcpy(e.comm.comm, "worker");
        tracker_handle_event(t, &e);
        ASSERT_TRUE(tracker_get(t, 50)->uid == 1000 && tracker_get(t, 50)->euid == 0);
        ASSERT_TRUE(strchr(tracker_get(t, 50)->comm, '\x01') == NULL);
        ASSERT_TRUE(strncmp(tracker_get(t, 50)->comm, "we", 2) == 0);
        flush(t);
        ASSERT_TRUE(n_events == 3 && events[2].tid == 51 && events[0].a == 1000);
}

static void test_exec_then_exit(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        ProcInfo info = { .have = PROCFS_STAT | PROCFS_EXE, .pid = 700, .exe = (char *) "/usr/bin/setsid" };
        uint64_t id;

        scan_root(t, 1, 0);
        fork_proc(t, 1, 700);
        id = id_of(t, 700);
        info.start_ticks = tracker_get(t, 700)->start_ticks;
        strcpy(info.comm, "setsid");
        simple(t, LINEAGE_EVENT_EXEC, 700, 700);
        tracker_apply_info(t, tracker_get(t, 700), &info); /* read at the end of a batch */
        flush(t);
        ASSERT_TRUE(streq(rows[id].comm, "setsid"));
        /* A second exec, then the exit, both before the next batch ends: the image is unknown, not setsid. */
        simple(t, LINEAGE_EVENT_EXEC, 700, 700);
        exit_thread(t, 700, 700, 0, 1);
        flush(t);
        ASSERT_TRUE(rows[id].comm[0] == 0);
        ASSERT_TRUE(rows[id].argv_changed);
}

/* Who the process was at each event (its real uid, after a uid change) and when its image was taken. */
static uint32_t observed_exec_uids[8];
static unsigned n_observed_execs;

static void observe_execs(const TrackerEvent *e, const Instance *i, void *userdata) {
        if (e->type == LINEAGE_EVENT_EXEC && n_observed_execs < ELEMENTSOF(observed_exec_uids))
                observed_exec_uids[n_observed_execs++] = e->uid;
}

static void exec_with_image(Tracker *t, int32_t pid, const char *exe) {
        ProcInfo info = { .have = PROCFS_STAT | PROCFS_EXE, .pid = pid, .exe = (char *) exe };

        simple(t, LINEAGE_EVENT_EXEC, pid, pid);
        info.start_ticks = tracker_get(t, pid)->start_ticks;
        snprintf(info.comm, sizeof(info.comm), "%s", strrchr(exe, '/') + 1);
        tracker_apply_info(t, tracker_get(t, pid), &info);
}

static void set_uid(Tracker *t, int32_t pid, uint32_t uid) {
        CnprocEvent e = ev(LINEAGE_EVENT_UID, pid, pid);

        e.id.r = e.id.e = uid;
        tracker_handle_event(t, &e);
}

static void test_owner_stamps(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        uint32_t want[] = { 0, 1000, 1000, 0, 0 }; /* exec, uid, exec of 60; uid, comm of 70 */
        CnprocEvent e;
        Instance *i;

        n_observed_execs = 0;
        ASSERT_TRUE(tracker_add_observer(t, observe_execs, NULL) >= 0);
        scan_root(t, 1, 0);
        fork_proc(t, 1, 60);
        /* Root runs a command line, drops to 1000, runs another. */
        exec_with_image(t, 60, "/usr/bin/bash");
        set_uid(t, 60, 1000);
        i = tracker_get(t, 60);
        ASSERT_TRUE(i->uid == 1000 && i->image_uid == 0 && i->image_loginuid == PROCFS_UNSET_ID);
        fork_proc(t, 60, 61); /* before the exec: it runs root's image, and it is root's to see */
        ASSERT_TRUE(tracker_get(t, 61)->uid == 1000 && tracker_get(t, 61)->image_uid == 0);
        exec_with_image(t, 60, "/usr/bin/sleep");
        ASSERT_TRUE(i->image_uid == 1000);
        fork_proc(t, 60, 70);
        ASSERT_TRUE(tracker_get(t, 70)->image_uid == 1000);
        /* 1000's process becomes root's and renames itself: the image is nobody's but root's. */
        set_uid(t, 70, 0);
        e = ev(LINEAGE_EVENT_COMM, 70, 70);
        strcpy(e.comm.comm, "secret-name");
        tracker_handle_event(t, &e);
        ASSERT_TRUE(tracker_get(t, 70)->image_uid == 0 && tracker_get(t, 70)->image_loginuid == PROCFS_UNSET_ID);
        flush(t);
        ASSERT_TRUE(n_events == ELEMENTSOF(want));
        for (unsigned k = 0; k < n_events && k < ELEMENTSOF(want); k++)
                ASSERT_TRUE(events[k].uid == want[k] && events[k].loginuid == PROCFS_UNSET_ID);
        ASSERT_TRUE(rows[id_of(t, 60)].image_uid == 1000);
        ASSERT_TRUE(n_observed_execs == 2 && observed_exec_uids[0] == 0 && observed_exec_uids[1] == 1000);
        tracker_remove_observer(t, NULL);
}

/* The image after an exec is only what /proc gave: an exe that could not be read is unknown, not the
 * one inherited at fork; a child forked after the exec, before the read, waits for the parent's read
 * (the daemon reads first when tracker_fork_parent_pending() says so) and inherits the new image.
 * Execs are counted with and without an image. */
static void test_exec_image(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        ProcInfo info = { .have = PROCFS_STAT, .pid = 800 };
        CnprocEvent fork_ev;
        TrackerStats st;
        Instance *i;

        scan_root(t, 1, 0);
        fork_proc(t, 1, 800);
        i = tracker_get(t, 800);
        /* The parent's image, inherited: /sbin/init, say. */
        {
                ProcInfo p = { .have = PROCFS_STAT | PROCFS_EXE | PROCFS_ARGV, .pid = 800, .start_ticks = i->start_ticks,
                               .exe = (char *) "/sbin/init", .argv = (char *) "init", .argv_len = 5 };

                simple(t, LINEAGE_EVENT_EXEC, 800, 800);
                tracker_apply_info(t, i, &p);
        }
        ASSERT_TRUE(streq_ptr(i->exe, "/sbin/init"));
        /* exec again; /proc then has stat but no exe or cmdline (the process is exiting) */
        simple(t, LINEAGE_EVENT_EXEC, 800, 800);
        info.start_ticks = i->start_ticks;
        strcpy(info.comm, "gone");
        tracker_apply_info(t, i, &info);
        ASSERT_TRUE(i->exe == NULL);
        ASSERT_TRUE(i->argv == NULL && i->argv_len == 0);
        ASSERT_TRUE(tracker_pending_exec(t, i) && !tracker_pending_exec(t, i)->text && !tracker_pending_exec(t, i)->argv);
        flush(t);

        /* 800 execs /bin/new and forks 801 before the batch's read. */
        simple(t, LINEAGE_EVENT_EXEC, 800, 800);
        fork_ev = ev(LINEAGE_EVENT_FORK, 801, 801);
        fork_ev.fork.parent_pid = fork_ev.fork.parent_tgid = 800;
        ASSERT_TRUE(tracker_fork_parent_pending(t, &fork_ev) == i);
        {
                ProcInfo p = { .have = PROCFS_STAT | PROCFS_EXE, .pid = 800, .start_ticks = i->start_ticks,
                               .exe = (char *) "/bin/new" };

                tracker_apply_info(t, i, &p);
        }
        ASSERT_TRUE(tracker_fork_parent_pending(t, &fork_ev) == NULL);
        tracker_handle_event(t, &fork_ev);
        ASSERT_TRUE(streq_ptr(tracker_get(t, 801)->exe, "/bin/new"));
        /* A thread's creation needs nothing first. */
        simple(t, LINEAGE_EVENT_EXEC, 800, 800);
        fork_ev = ev(LINEAGE_EVENT_FORK, 802, 800);
        fork_ev.fork.parent_pid = fork_ev.fork.parent_tgid = 800;
        ASSERT_TRUE(tracker_fork_parent_pending(t, &fork_ev) == NULL);

        tracker_get_stats(t, &st);
        ASSERT_TRUE(st.exec_image[LINEAGE_EXEC_SOURCE_PROCFS] == 2);
        ASSERT_TRUE(st.exec_no_image[LINEAGE_EXEC_SOURCE_PROCFS] == 1);
        ASSERT_TRUE(st.exec_image[LINEAGE_EXEC_SOURCE_BPF] == 0 && st.exec_no_image[LINEAGE_EXEC_SOURCE_BPF] == 0);
}

/* An exec as 1000, then a change to root before the image was read: what is read may be root's. */
static void test_owner_changed_before_read(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        ProcInfo info = { .have = PROCFS_STAT | PROCFS_EXE, .pid = 80, .exe = (char *) "/usr/bin/su" };

        scan_root(t, 1, 0);
        fork_proc(t, 1, 80);
        set_uid(t, 80, 1000);
        simple(t, LINEAGE_EVENT_EXEC, 80, 80);
        set_uid(t, 80, 0);
        info.start_ticks = tracker_get(t, 80)->start_ticks;
        strcpy(info.comm, "su");
        tracker_apply_info(t, tracker_get(t, 80), &info);
        ASSERT_TRUE(tracker_get(t, 80)->image_uid == 0);
        flush(t);
        ASSERT_TRUE(n_events == 3 && events[1].type == LINEAGE_EVENT_EXEC && events[1].uid == 0);
        ASSERT_TRUE(events[0].uid == 1000 && events[2].uid == 0);
}

/* ---- the needs-info list ---- */

typedef struct Visits {
        int32_t pids[4096];
        size_t n;
        bool apply;             /* read the info (clears the flags), as the daemon does */
        bool also_parent;       /* and the CABA's too, if it waits (as begin_login does) */
} Visits;

static void apply_login(Tracker *t, Instance *i) {
        ProcInfo info = { .have = PROCFS_STAT | PROCFS_LOGIN, .pid = i->pid, .start_ticks = i->start_ticks,
                          .loginuid = 1000, .sessionid = (uint32_t) (i->pid % 5) };

        snprintf(info.comm, sizeof(info.comm), "c%d", i->pid);
        (void) tracker_apply_info(t, i, &info);
}

static void visit_cb(Tracker *t, Instance *i, void *userdata) {
        Visits *v = userdata;
        Instance *c = (Instance *) tracker_caba(i);

        if (v->n < ELEMENTSOF(v->pids))
                v->pids[v->n++] = i->pid;
        if (!v->apply)
                return;
        apply_login(t, i);
        if (v->also_parent && c && (c->needs_info || c->needs_login))
                apply_login(t, c);
}

static void test_needs_info(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        Visits v = { .apply = true };

        scan_root(t, 1, 0);
        flush(t);
        tracker_foreach_needs_info(t, visit_cb, &v);
        ASSERT_TRUE(v.n == 0);

        /* Dirty order, not flag order: 10 became dirty before 11, though 11 was flagged first. */
        fork_proc(t, 1, 10);
        fork_proc(t, 1, 11);
        simple(t, LINEAGE_EVENT_EXEC, 11, 11);
        simple(t, LINEAGE_EVENT_SID, 10, 10);
        tracker_foreach_needs_info(t, visit_cb, &v);
        ASSERT_TRUE(v.n == 2 && v.pids[0] == 10 && v.pids[1] == 11);
        ASSERT_TRUE(!tracker_get(t, 10)->needs_login && !tracker_get(t, 11)->needs_info);
        v.n = 0;
        tracker_foreach_needs_info(t, visit_cb, &v);
        ASSERT_TRUE(v.n == 0);

        /* Flagged twice before a walk: visited once. A callback that reads the parent's info first
         * makes the walk skip it, as begin_login does to ancestors. */
        fork_proc(t, 10, 12);
        simple(t, LINEAGE_EVENT_UID, 12, 12);
        simple(t, LINEAGE_EVENT_EXEC, 12, 12);
        simple(t, LINEAGE_EVENT_UID, 10, 10);
        fork_proc(t, 10, 13);
        simple(t, LINEAGE_EVENT_EXEC, 13, 13);
        v = (Visits) { .apply = true, .also_parent = true };
        tracker_foreach_needs_info(t, visit_cb, &v);
        /* 10 is dirty since its fork, long before 12: it comes first, so nothing is skipped... */
        ASSERT_TRUE(v.n == 3 && v.pids[0] == 10 && v.pids[1] == 12 && v.pids[2] == 13);
        flush(t);
        /* ...but after a flush, 10 is dirty again only when it is flagged: after 14. */
        fork_proc(t, 10, 14);
        simple(t, LINEAGE_EVENT_EXEC, 14, 14);
        simple(t, LINEAGE_EVENT_SID, 10, 10);
        v = (Visits) { .apply = true, .also_parent = true };
        tracker_foreach_needs_info(t, visit_cb, &v);
        ASSERT_TRUE(v.n == 1 && v.pids[0] == 14);
        ASSERT_TRUE(!tracker_get(t, 10)->needs_login);

        /* Exec'd and exited before the walk: not visited, and freed at the flush while listed. */
        fork_proc(t, 1, 15);
        simple(t, LINEAGE_EVENT_EXEC, 15, 15);
        simple(t, LINEAGE_EVENT_UID, 15, 15);
        exit_thread(t, 15, 15, 0, 1);
        v.n = 0;
        tracker_foreach_needs_info(t, visit_cb, &v);
        ASSERT_TRUE(v.n == 0);
        fork_proc(t, 1, 16);
        simple(t, LINEAGE_EVENT_UID, 16, 16);
        exit_thread(t, 16, 16, 0, 1);
        flush(t);
        tracker_foreach_needs_info(t, visit_cb, &v);
        ASSERT_TRUE(v.n == 0);

        /* A callback that reads nothing leaves the flag: visited again at the next walk. */
        fork_proc(t, 1, 17);
        simple(t, LINEAGE_EVENT_SID, 17, 17);
        v = (Visits) { .apply = false };
        tracker_foreach_needs_info(t, visit_cb, &v);
        tracker_foreach_needs_info(t, visit_cb, &v);
        ASSERT_TRUE(v.n == 2 && v.pids[0] == 17 && v.pids[1] == 17);
        /* A flush that no walk preceded: no longer dirty, so not visited (as the dirty-list walk did)
         * until it is dirty again. */
        flush(t);
        tracker_foreach_needs_info(t, visit_cb, &v);
        ASSERT_TRUE(v.n == 2);
        simple(t, LINEAGE_EVENT_COMM, 17, 17);
        v = (Visits) { .apply = true };
        tracker_foreach_needs_info(t, visit_cb, &v);
        ASSERT_TRUE(v.n == 1 && v.pids[0] == 17);

        /* Thousands of dirty instances, one flagged: one visit. */
        for (int32_t pid = 1000; pid < 6000; pid++)
                fork_proc(t, 1, pid);
        simple(t, LINEAGE_EVENT_EXEC, 5999, 5999);
        v = (Visits) { .apply = true };
        tracker_foreach_needs_info(t, visit_cb, &v);
        ASSERT_TRUE(v.n == 1 && v.pids[0] == 5999);
}

/* Differential check against the walk the list replaced: over the dirty list (in flush order), each
 * live instance that needs info, checked just before its turn. */
typedef struct Snapshot {
        Instance *order[8192];
        size_t n;
} Snapshot;

static int snapshot_instance(const Instance *i, void *userdata) {
        Snapshot *s = userdata;

        if (s->n >= ELEMENTSOF(s->order))
                return -E2BIG;
        s->order[s->n++] = (Instance *) i;
        return 0;
}

static int snapshot_nop(const void *x, void *userdata) {
        return 0;
}

static void old_walk(Tracker *t, Visits *v) {
        static Snapshot s;
        TrackerSink sink = {
                .instance = snapshot_instance,
                .login = (int (*)(const Login *, void *)) snapshot_nop,
                .event = (int (*)(const TrackerEvent *, void *)) snapshot_nop,
                .gap = (int (*)(const TrackerGap *, void *)) snapshot_nop,
        };

        s.n = 0;
        ASSERT_TRUE(tracker_flush(t, &sink, &s) >= 0); /* without flush_complete: only a look at the dirty list */
        for (size_t k = 0; k < s.n; k++) {
                Instance *i = s.order[k];

                if ((i->needs_info || i->needs_login) && (i->flags & INSTANCE_ALIVE))
                        visit_cb(t, i, v);
        }
}

/* What a flush writes, as text, for comparing two trackers. */
static int digest_instance(const Instance *i, void *userdata) {
        FILE *f = userdata;

        fprintf(f, "%" PRIu64 " %d %x %s %u %u %u %u %" PRIu64 " %d\n", i->id, i->pid, i->flags, i->comm, i->uid,
                i->loginuid, i->sessionid, i->sid, i->caba_id, i->birth_parent_pid);
        return 0;
}

static int digest_event(const TrackerEvent *e, void *userdata) {
        fprintf(userdata, "e %" PRIu64 " %u %" PRIi64 "\n", e->instance, e->type, e->a);
        return 0;
}

static char *flush_digest(Tracker *t) {
        TrackerSink sink = {
                .instance = digest_instance,
                .login = (int (*)(const Login *, void *)) snapshot_nop,
                .event = digest_event,
                .gap = (int (*)(const TrackerGap *, void *)) snapshot_nop,
        };
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        ASSERT_TRUE(tracker_flush(t, &sink, f) >= 0);
        fclose(f);
        tracker_flush_complete(t);
        return buf;
}

static void test_needs_info_differential(void) {
        _cleanup_(tracker_freep) Tracker *a = new_tracker();
        _cleanup_(tracker_freep) Tracker *b = new_tracker();
        int32_t live[512], next_pid = 100;
        size_t n_live = 0;
        unsigned walks = 0, visits = 0;

        srand(20261127);
        scan_root(a, 1, 0);
        scan_root(b, 1, 0);
        live[n_live++] = 1;
        for (unsigned step = 0; step < 20000; step++) {
                int op = rand() % 100;
                int32_t pid = live[(size_t) rand() % n_live];
                Tracker *both[2] = { a, b };

                if (op < 20 && n_live < ELEMENTSOF(live)) {
                        uint64_t save = now_ns;

                        for (int k = 0; k < 2; k++) {
                                now_ns = save;
                                fork_proc(both[k], pid, next_pid);
                        }
                        live[n_live++] = next_pid++;
                } else if (op < 40) {
                        LineageEventType types[] = { LINEAGE_EVENT_EXEC, LINEAGE_EVENT_UID, LINEAGE_EVENT_SID, LINEAGE_EVENT_COMM };
                        LineageEventType type = types[rand() % 4];
                        uint64_t save = now_ns;

                        for (int k = 0; k < 2; k++) {
                                now_ns = save;
                                simple(both[k], type, pid, pid);
                        }
                } else if (op < 50 && pid != 1) {
                        uint64_t save = now_ns;

                        for (int k = 0; k < 2; k++) {
                                now_ns = save;
                                exit_thread(both[k], pid, pid, 0, 1);
                        }
                        for (size_t k = 0; k < n_live; k++)
                                if (live[k] == pid) {
                                        live[k] = live[--n_live];
                                        break;
                                }
                } else if (op < 90) {
                        Visits va = { .apply = rand() % 8 != 0, .also_parent = rand() % 2 }, vb = va;

                        old_walk(a, &va);
                        tracker_foreach_needs_info(b, visit_cb, &vb);
                        ASSERT_TRUE(va.n == vb.n && memcmp(va.pids, vb.pids, va.n * sizeof(int32_t)) == 0);
                        walks++;
                        visits += va.n;
                } else if (op < 96 || op >= 99) {
                        _cleanup_free_ char *da = flush_digest(a), *db = flush_digest(b);

                        ASSERT_TRUE(da && db && streq(da, db));
                }
        }
        ASSERT_TRUE(walks > 1000 && visits > 1000);
}

static bool known_session_7(uint32_t audit_session, void *userdata) {
        (*(unsigned *) userdata)++;
        return audit_session == 7;
}

/* A login ends when the instance it began at exits; a process that outlives it keeps the session id,
 * which the kernel never reuses within a boot: no second login for that session, before or after the
 * ended one is written. */
static void test_outlived_login(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        ProcInfo login = { .have = PROCFS_LOGIN, .loginuid = 1000, .sessionid = 7 };
        unsigned asked = 0;
        Login *l;

        scan_root(t, 1, 0);
        fork_proc(t, 1, 100);
        tracker_apply_info(t, tracker_get(t, 100), &login);
        l = tracker_login_begin(t, tracker_get(t, 100));
        ASSERT_TRUE(l && l->audit_session == 7);
        fork_proc(t, 100, 101);                  /* inherits session 7 */
        exit_thread(t, 100, 100, 0, 1);          /* the login ends */
        ASSERT_TRUE(l->ended);
        ASSERT_TRUE(!tracker_login_for_session(t, 7));
        ASSERT_TRUE(!tracker_login_begin(t, tracker_get(t, 101)));
        flush(t);
        /* Written and forgotten: the record is asked. */
        tracker_set_session_known(t, known_session_7, &asked);
        ASSERT_TRUE(!tracker_login_begin(t, tracker_get(t, 101)));
        ASSERT_TRUE(asked == 1);
        /* A session the record does not know begins a login. */
        login.sessionid = 8;
        tracker_apply_info(t, tracker_get(t, 101), &login);
        l = tracker_login_begin(t, tracker_get(t, 101));
        ASSERT_TRUE(l && l->audit_session == 8 && l->pid == 101);
}


/* Seeds a live process by a scan as procfs_scan() reads it: credentials and login ids included. */
static void scan_cred(Tracker *t, int32_t pid, int32_t ppid, uint32_t uid, uint32_t loginuid, uint32_t session) {
        ProcInfo p = { .have = PROCFS_STAT | PROCFS_STATUS | PROCFS_LOGIN, .pid = pid, .ppid = ppid, .start_ticks = 1,
                       .sid = pid, .ruid = uid, .euid = uid, .loginuid = loginuid, .sessionid = session };

        strcpy(p.comm, "scanned");
        tracker_scan_begin(t, now_ns);
        ASSERT_TRUE(tracker_scan_add(t, &p, NULL, 0, -1) >= 0);
        tracker_scan_end(t);
}

static void uid_change(Tracker *t, int32_t pid, uint32_t ruid, uint32_t euid) {
        CnprocEvent e = ev(LINEAGE_EVENT_UID, pid, pid);

        e.id.r = ruid;
        e.id.e = euid;
        tracker_handle_event(t, &e);
}

/* What begin_login() reads: pid's login ids; returns whether a new session was found there. */
static int read_session(Tracker *t, int32_t pid, uint32_t loginuid, uint32_t session) {
        Instance *i = tracker_get(t, pid);
        ProcInfo p = { .have = PROCFS_STAT | PROCFS_LOGIN, .pid = pid, .start_ticks = i->start_ticks,
                       .loginuid = loginuid, .sessionid = session };

        return tracker_apply_info(t, i, &p);
}

/* Whether the login found at pid counts as begun privileged, with /proc status saying euid and CapEff now. */
static bool privileged(Tracker *t, int32_t pid, uint32_t ruid, uint32_t euid, uint64_t cap_eff) {
        Instance *i = tracker_get(t, pid);
        ProcInfo now = { .have = PROCFS_STAT | PROCFS_STATUS, .pid = pid, .start_ticks = i->start_ticks,
                         .ruid = ruid, .euid = euid, .cap_eff = cap_eff };

        return tracker_login_privileged(i, &now);
}

/* Every child "is" in session 30: the rule's own conditions pick the witness. */
static bool carries_30(const Instance *c, uint32_t audit_session, void *userdata) {
        return audit_session == 30;
}

static void nop_cb(Tracker *t, Instance *i, void *userdata) {
        i->needs_info = i->needs_login = false;
}

/* When a login counts as begun by a privileged process: the kernel reports no loginuid write, so the
 * credentials seen since the process's login ids were last read decide. */
static void test_login_privilege(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();
        const uint64_t audit_control = UINT64_C(1) << 30;

        scan_cred(t, 1, 0, 0, PROCFS_UNSET_ID, PROCFS_UNSET_ID);        /* a root service, no login */
        scan_cred(t, 2, 1, 1000, PROCFS_UNSET_ID, PROCFS_UNSET_ID);     /* a user's service, no login */
        scan_cred(t, 3, 1, 1000, 1000, 3);                              /* a user's login session */

        /* Root all along (pam_loginuid in sshd's monitor, fake-login.py): privileged. */
        fork_proc(t, 1, 100);
        ASSERT_TRUE(read_session(t, 100, 1000, 10) == 1);
        ASSERT_TRUE(privileged(t, 100, 0, 0, 0));
        /* Root when found, not when it set its loginuid: it ran as a user, then a set-user-ID root binary. */
        fork_proc(t, 1, 101);
        uid_change(t, 101, 1000, 1000);
        ASSERT_TRUE(read_session(t, 101, 0, 11) == 1);
        ASSERT_TRUE(!privileged(t, 101, 1000, 0, 0));
        /* A user's process, born so: not privileged, now or then. */
        fork_proc(t, 2, 102);
        ASSERT_TRUE(read_session(t, 102, 0, 12) == 1);
        ASSERT_TRUE(!privileged(t, 102, 1000, 1000, 0));
        /* seteuid(user) and back (sshd reading authorized_keys): its real uid stayed 0, privileged. */
        fork_proc(t, 1, 103);
        uid_change(t, 103, 0, 1000);
        uid_change(t, 103, 0, 0);
        ASSERT_TRUE(read_session(t, 103, 1000, 13) == 1);
        ASSERT_TRUE(privileged(t, 103, 0, 0, 0));
        /* It replaced a set loginuid: the kernel demanded CAP_AUDIT_CONTROL, whatever it is now. */
        fork_proc(t, 3, 104);
        ASSERT_TRUE(read_session(t, 104, 0, 14) == 1);
        ASSERT_TRUE(privileged(t, 104, 1000, 1000, 0));
        /* CAP_AUDIT_CONTROL now without an exec since: it held it all along; after an exec: no proof. */
        fork_proc(t, 2, 105);
        ASSERT_TRUE(read_session(t, 105, 0, 15) == 1);
        ASSERT_TRUE(privileged(t, 105, 1000, 1000, audit_control));
        fork_proc(t, 2, 106);
        simple(t, LINEAGE_EVENT_EXEC, 106, 106);
        tracker_get(t, 106)->needs_info = false;
        ASSERT_TRUE(read_session(t, 106, 0, 16) == 1);
        ASSERT_TRUE(!privileged(t, 106, 1000, 1000, audit_control));
        /* Unprivileged once, then root; its login ids read in between (no new session yet): the window
         * starts again there, and it set its loginuid as root. */
        fork_proc(t, 2, 107);
        uid_change(t, 107, 0, 0);
        ASSERT_TRUE(read_session(t, 107, PROCFS_UNSET_ID, PROCFS_UNSET_ID) == 0);
        ASSERT_TRUE(read_session(t, 107, 1000, 17) == 1);
        ASSERT_TRUE(privileged(t, 107, 0, 0, 0));
        /* A child inherits what its parent's window saw: the parent may have set the loginuid unseen. */
        fork_proc(t, 2, 108);
        uid_change(t, 108, 0, 0);
        fork_proc(t, 108, 109);
        ASSERT_TRUE(read_session(t, 109, 0, 19) == 1);
        ASSERT_TRUE(!privileged(t, 109, 0, 0, 0));
        /* Root wrote its loginuid, forked a child that stays root (systemd's user manager and its
         * "(sd-pam)"), then became the user: not provable from the dropped process itself, but a child
         * born privileged that carries its session got it at the fork. One forked after the drop proves
         * nothing. */
        fork_proc(t, 1, 120);
        fork_proc(t, 120, 121);
        uid_change(t, 120, 1000, 1000);
        fork_proc(t, 120, 122);
        ASSERT_TRUE(read_session(t, 120, 1000, 30) == 1);
        ASSERT_TRUE(!privileged(t, 120, 1000, 1000, 0));
        ASSERT_TRUE(tracker_get(t, 121)->born_privileged && !tracker_get(t, 122)->born_privileged);
        ASSERT_TRUE(tracker_login_witnessed(tracker_get(t, 120), carries_30, NULL));
        exit_thread(t, 121, 121, 0, 120);
        ASSERT_TRUE(!tracker_login_witnessed(tracker_get(t, 120), carries_30, NULL));
        /* Lost events: nobody's credentials are known since. */
        fork_proc(t, 1, 110);
        {
                CnprocLoss loss = { .reason = CNPROC_LOSS_ENOBUFS, .after_ns = now_ns, .before_ns = now_ns + 1 };

                tracker_handle_loss(t, &loss);
        }
        tracker_foreach_needs_info(t, nop_cb, NULL);
        ASSERT_TRUE(read_session(t, 110, 0, 20) == 1);
        ASSERT_TRUE(!privileged(t, 110, 0, 0, 0));
        /* The rescan that follows a loss reads everyone again: windows start afresh from what it read. */
        fork_proc(t, 1, 111);
        tracker_handle_loss(t, &(CnprocLoss) { .reason = CNPROC_LOSS_ENOBUFS, .after_ns = now_ns, .before_ns = now_ns + 1 });
        {
                ProcInfo p = { .have = PROCFS_STAT | PROCFS_STATUS | PROCFS_LOGIN, .pid = 111,
                               .start_ticks = tracker_get(t, 111)->start_ticks, .loginuid = PROCFS_UNSET_ID,
                               .sessionid = PROCFS_UNSET_ID };

                strcpy(p.comm, "rescanned");
                tracker_scan_begin(t, now_ns);
                ASSERT_TRUE(tracker_scan_add(t, &p, NULL, 0, -1) >= 0);
                tracker_scan_end(t);
        }
        tracker_foreach_needs_info(t, nop_cb, NULL);
        ASSERT_TRUE(read_session(t, 111, 0, 21) == 1);
        ASSERT_TRUE(privileged(t, 111, 0, 0, 0));
        /* Another process on the same pid (another start time): not the one that began it. */
        {
                Instance *i = tracker_get(t, 100);
                ProcInfo now = { .have = PROCFS_STAT | PROCFS_STATUS, .pid = 100, .start_ticks = i->start_ticks + 1000 };

                ASSERT_TRUE(!tracker_login_privileged(i, &now));
        }
}

/* A login process already gone when its session was found (a short ssh session): only what the tracker saw
 * of it judges, and what the eBPF source said of its image's file, which a fork inherits and an exec
 * forgets until the new image's record says again. */
static void test_login_privilege_gone(void) {
        _cleanup_(tracker_freep) Tracker *t = new_tracker();

        scan_cred(t, 1, 0, 0, PROCFS_UNSET_ID, PROCFS_UNSET_ID);
        scan_cred(t, 2, 1, 1000, PROCFS_UNSET_ID, PROCFS_UNSET_ID);
        /* sshd's monitor: root all along, its image a root-owned file. */
        fork_proc(t, 1, 200);
        tracker_set_image_owner(t, tracker_get(t, 200), true);
        ASSERT_TRUE(read_session(t, 200, 1000, 40) == 1);
        ASSERT_TRUE(tracker_login_privileged_gone(tracker_get(t, 200)));
        /* Its child runs the same image until it execs; then nothing is known of the new file. */
        fork_proc(t, 200, 201);
        ASSERT_TRUE(tracker_get(t, 201)->image_owner_known && tracker_get(t, 201)->image_root_owned);
        simple(t, LINEAGE_EVENT_EXEC, 201, 201);
        ASSERT_TRUE(!tracker_get(t, 201)->image_owner_known && !tracker_get(t, 201)->image_root_owned);
        tracker_set_image_owner(t, tracker_get(t, 201), false);
        ASSERT_TRUE(tracker_get(t, 201)->image_owner_known && !tracker_get(t, 201)->image_root_owned);
        /* A user's process, born so, or root for a while only: not privileged. */
        fork_proc(t, 2, 202);
        ASSERT_TRUE(read_session(t, 202, 0, 42) == 1);
        ASSERT_TRUE(!tracker_login_privileged_gone(tracker_get(t, 202)));
        fork_proc(t, 1, 203);
        uid_change(t, 203, 1000, 1000);
        uid_change(t, 203, 0, 0);
        ASSERT_TRUE(read_session(t, 203, 0, 43) == 1);
        ASSERT_TRUE(!tracker_login_privileged_gone(tracker_get(t, 203)));
        /* It replaced a set loginuid: the kernel demanded CAP_AUDIT_CONTROL. */
        scan_cred(t, 3, 1, 1000, 1000, 3);
        fork_proc(t, 3, 204);
        ASSERT_TRUE(read_session(t, 204, 0, 44) == 1);
        ASSERT_TRUE(tracker_login_privileged_gone(tracker_get(t, 204)));
}

int main(void) {
        test_exec_then_exit();
        test_exec_image();
        test_chain_and_reparent();
        test_threads();
        test_exec_from_thread();
        test_pid_reuse();
        test_close_gone();
        test_scan_race();
        test_scan_order();
        test_complex_sessions();
        test_loss_and_unknown();
        test_ids_and_comm();
        test_owner_stamps();
        test_owner_changed_before_read();
        test_needs_info();
        test_needs_info_differential();
        test_outlived_login();
        test_login_privilege();
        test_login_privilege_gone();
        printf("tracker: all checks passed\n");
        return 0;
}
