/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tracker: the live process table and the lineage rules. Pure logic: driven by decoded events and procfs facts. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cnproc.h"
#include "lineage/names.h"
#include "procfs.h"

typedef struct Tracker Tracker;
typedef struct Instance Instance;
typedef struct Login Login;

/* Clocks of the boot being tracked: the proc connector stamps CLOCK_MONOTONIC, /proc/PID/stat counts
 * clock ticks of CLOCK_BOOTTIME, answers use CLOCK_REALTIME µs. */
typedef struct TrackerClock {
        int64_t realtime_offset_ns;  /* CLOCK_REALTIME - CLOCK_MONOTONIC */
        int64_t boottime_offset_ns;  /* CLOCK_BOOTTIME - CLOCK_MONOTONIC */
        uint64_t clock_ticks;        /* USER_HZ */
} TrackerClock;

enum {
        INSTANCE_ALIVE = 1 << 0,
        INSTANCE_ARGV_TRUNCATED = 1 << 1,
        INSTANCE_SCANNED = 1 << 2,      /* found by a /proc scan, not born under watch */
        INSTANCE_EXIT_UNKNOWN = 1 << 3, /* its exit was not observed (lost events); exit_time is a bound */
        INSTANCE_CORE_DUMPED = 1 << 4,
        INSTANCE_EXECED = 1 << 5,       /* exec'd at least once under watch */
        INSTANCE_KERNEL_THREAD = 1 << 6,
        INSTANCE_LOGIN = 1 << 7,        /* an audit session (a login) began here */
};

/* A login: an audit session that began at one instance (pam_loginuid wrote its loginuid). */
struct Login {
        uint64_t instance;              /* where the session began */
        int32_t pid;
        uint32_t audit_session, loginuid;
        uint64_t start_time, end_time;  /* end_time 0 while the login instance lives */
        char *service;                  /* the login instance's executable name: sshd, login, cron, … */
        char *remote_address;           /* from SSH_CONNECTION of the session's first exec */
        int32_t remote_port;            /* 0 = unknown */
        char *tty;                      /* pts/N, ttyN */
        char *logind_session;           /* from the cgroup path (session-N.scope) */
        char *unit;
        unsigned detail_tries;          /* execs looked at for remote address */
        bool tty_settled;               /* no terminal, and none is to come (see exec_shows_tty()) */
        /* Not shown to have been begun by a privileged process running a root-owned executable (see
         * tracker_login_privileged()): service, remote address and user are the process's own claims.
         * True until checked. */
        bool self_declared;
        bool trust_checked;             /* self_declared was decided (live, replayed or from the database) */

        /* private to the tracker */
        bool dirty, ended;
        Login *dirty_next;
};

/* One process lifetime. Public so the store can write it; only the tracker changes it. */
struct Instance {
        uint64_t id;
        int32_t pid;
        uint32_t flags;
        uint64_t start_ticks;
        uint64_t start_time;            /* µs CLOCK_REALTIME */
        uint64_t exit_time;             /* µs CLOCK_REALTIME, 0 while alive */
        uint64_t birth_parent_id;       /* 0 = unknown */
        int32_t birth_parent_pid;       /* tgid; 0 = none (kernel roots), -1 = unknown */
        LineageSource source;
        uint64_t exit_parent_id;
        int32_t exit_parent_pid;
        int32_t exit_status;            /* exit status, or -1 */
        int32_t exit_signal;            /* killing signal, or 0 */
        int32_t sid, pgid;
        uint32_t uid, euid, gid, egid;
        uint32_t loginuid, sessionid;   /* PROCFS_UNSET_ID when unset */
        /* Who it was (real uid, loginuid) when comm, exe and argv were taken: at its last exec, its
         * parent's at fork, at a scan its owner then; 0 and PROCFS_UNSET_ID: root's only (the name was
         * changed by another owner than the executable's). Who may see the image, whoever owns it now. */
        uint32_t image_uid, image_loginuid;
        char comm[32];                  /* sanitized, possibly shortened: the full name is in the database */
        const char *exe;                /* interned: shared by every instance running the same file */
        const char *cgroup;             /* interned: its cgroup path at its last exec or the scan, else its
                                         * parent's at fork (a child starts in its parent's cgroup); NULL unknown */
        char *argv;                     /* NUL-separated, freed after it was written */
        uint32_t argv_len;
        uint32_t caba_pid;              /* pid of the CABA (mirrors caba) */
        uint64_t caba_id;

        /* private to the tracker */
        Instance *caba;                 /* closest alive birth ancestor, while alive */
        Instance *caba_children;        /* live instances whose CABA this is */
        Instance *caba_next, *caba_prev;
        Instance *dirty_next;
        int32_t *tids;                  /* live non-leader threads, only when there are any */
        uint32_t n_tids, n_tids_alloc;
        /* Bit-fields keep the struct small (264 bytes): it is most of the memory per live process. */
        bool leader_exited : 1;
        bool dirty : 1;
        bool needs_info : 1;            /* exec seen: read exe/argv at the end of the batch */
        bool caba_mismatch_counted : 1; /* a kernel CABA disagreement was counted for it */
        bool needs_login : 1;           /* uid or sid changed: read loginuid/sessionid at the end of the batch */
        bool written : 1;               /* inserted into the database at least once */
        bool argv_changed : 1;          /* argv set or cleared since the last flush */
        bool needs_listed : 1;          /* on the tracker's needs-info list */
        /* What could have set its loginuid since its login ids were last read (or since it began):
         * cred_unprivileged: at some moment neither its real nor its effective uid was 0, or that is not
         * known (a uid event said so, it was born so, events were lost); cred_execed: it exec'd (and so
         * may hold capabilities it did not hold before); login_was_set: when its new session was found,
         * the loginuid it replaced was set (changing a set loginuid takes CAP_AUDIT_CONTROL). */
        bool cred_unprivileged : 1;
        bool cred_execed : 1;
        bool login_was_set : 1;
        /* Its parent was root all along through its window when it forked this one (see born_privileged
         * in tracker_login_witnessed()). Set at the fork, never changed. */
        bool born_privileged : 1;
        /* The file its image was exec'd from was a regular file owned by root that no group or other
         * could write, when the kernel ran it (image_owner_known: the eBPF source said so; else unknown,
         * and the file is looked at through /proc while the process lives). Inherited at fork. */
        bool image_owner_known : 1;
        bool image_root_owned : 1;
        uint32_t dirty_seq;             /* when it joined the dirty list: the order needs-info is read in */
        uint32_t seen_scan;             /* the last scan generation that found it in /proc */
        int32_t pending_exec;           /* index of its last queued exec event, or -1 */
        Login *login;                   /* the login that began here, while it lasts */
};

/* A row for the events table. */
typedef struct TrackerEvent {
        uint64_t instance;
        uint64_t time;                  /* µs CLOCK_REALTIME */
        uint32_t type;                  /* LineageEventType */
        int32_t tid;                    /* the thread, when not the leader; else 0 */
        int64_t a, b;                   /* uid/gid: real, effective; sid; ptrace: tracer pid, tgid; exit: status, signal */
        char *text;                     /* comm (comm, exec), exe (exec) — owned */
        char *argv;                     /* exec: NUL-separated, owned */
        uint32_t argv_len;
        /* Who the process was at the event (a uid event: the new real uid): who may see it. */
        uint32_t uid, loginuid;         /* real uid; loginuid as far as known (PROCFS_UNSET_ID: unset) */
} TrackerEvent;

/* A gap in the record. */
typedef struct TrackerGap {
        uint64_t start_time, end_time;  /* µs CLOCK_REALTIME */
        uint64_t lost;                  /* 0 = unknown */
        int32_t cpu;                    /* -1 = all */
        const char *reason;             /* "overflow", "sequence", "downtime" (static string) */
} TrackerGap;

typedef struct TrackerStats {
        uint64_t live;                  /* live instances */
        uint64_t created;               /* instances created (fork + scan) */
        uint64_t exited;
        uint64_t scanned;
        uint64_t merged;                /* fork events that matched an instance a scan had found */
        uint64_t unattributed;          /* events for pids the tracker did not know */
        uint64_t stale;                 /* instances closed because their pid was reused under us */
        uint64_t gaps;
        uint64_t lost;
        /* Execs recorded with an executable (exec_image) and without (exec_no_image: it could not be
         * known), by where the image came from (LineageExecSource). */
        uint64_t exec_image[_LINEAGE_EXEC_SOURCE_MAX];
        uint64_t exec_no_image[_LINEAGE_EXEC_SOURCE_MAX];
} TrackerStats;

/* What a flush hands to the store. Returning < 0 aborts the flush; everything stays queued. */
typedef struct TrackerSink {
        int (*instance)(const Instance *i, void *userdata);
        int (*login)(const Login *l, void *userdata);
        int (*event)(const TrackerEvent *e, void *userdata);
        int (*gap)(const TrackerGap *g, void *userdata);
} TrackerSink;

/* Observer of what the tracker records, for live streams: called for every event attributed to an
 * instance (fork: the child; exit: the instance that ended; exec: once its exe/argv were read). */
typedef void (*TrackerObserver)(const TrackerEvent *e, const Instance *i, void *userdata);

int tracker_new(Tracker **ret, const TrackerClock *clock, uint64_t next_id);
#define TRACKER_OBSERVERS_MAX 4
/* Adds (or, with cb NULL, removes all of userdata's) observers. -E2BIG when full. */
int tracker_add_observer(Tracker *t, TrackerObserver cb, void *userdata);
void tracker_remove_observer(Tracker *t, void *userdata);
Tracker *tracker_free(Tracker *t);
void tracker_set_clock(Tracker *t, const TrackerClock *clock);

/* Kernel events, in socket order. */
void tracker_handle_event(Tracker *t, const CnprocEvent *ev);
/* A fork event whose parent exec'd and still waits for its new image (needs_info): the child inherits
 * that image, so the caller resolves the parent first (tracker_apply_info), then hands the fork in.
 * NULL when the fork needs nothing first. */
Instance *tracker_fork_parent_pending(const Tracker *t, const CnprocEvent *ev);
/* A detected loss: recorded as a gap. */
void tracker_handle_loss(Tracker *t, const CnprocLoss *loss);
/* Any other gap (the daemon was down, storage dropped rows). */
void tracker_add_gap(Tracker *t, const TrackerGap *g);

/* A /proc scan: begin, add every thread group (with its thread ids), end (links parents). at_ns is the
 * CLOCK_MONOTONIC time of the scan. caba_tgid is the thread group of NScaba's thread (resolved by the
 * caller), 0 for the idle task, -1 when the kernel gave none. */
void tracker_scan_begin(Tracker *t, uint64_t at_ns);
int tracker_scan_add(Tracker *t, const ProcInfo *info, const int32_t *tids, size_t n_tids, int32_t caba_tgid);
void tracker_scan_end(Tracker *t);
/* After a reconciling scan (a resync after lost events, or a restart): live instances the scan did not
 * find have exited unseen. They are closed with INSTANCE_EXIT_UNKNOWN at exit_time (the gap's end: an
 * upper bound). Returns how many. */
unsigned tracker_scan_close_unseen(Tracker *t, uint64_t exit_time);
/* A live instance whose pid was found gone from /proc, with no exit event since, though every event
 * queued before that read has been applied (the caller knows: an event stamped after the read came):
 * its exit was lost. Closes it with INSTANCE_EXIT_UNKNOWN at exit_time (the read: an upper bound), as
 * a stale instance. Returns false for an instance that has exited already. */
bool tracker_close_gone(Tracker *t, Instance *i, uint64_t exit_time);

/* Restart continuity: instances (and logins) the database holds as alive are taken back before the
 * first scan, which then keeps those still running (same instance, same lineage). */
int tracker_adopt(Tracker *t, const Instance *row);
int tracker_adopt_login(Tracker *t, const Login *row);
void tracker_adopt_end(Tracker *t);

/* Instances whose exec needs exe/argv read from procfs, or whose uid/sid change needs the login ids
 * read (and the facts, once read). The walk visits the live dirty instances that need either, in the
 * order they became dirty, checking each again just before its turn (a callback may have read another
 * one's info already). Its cost is the number of instances flagged since the last walk, not the
 * number of dirty ones. Callbacks must not feed events to the tracker. */
typedef void (*TrackerInfoCallback)(Tracker *t, Instance *i, void *userdata);
void tracker_foreach_needs_info(Tracker *t, TrackerInfoCallback cb, void *userdata);
int tracker_apply_info(Tracker *t, Instance *i, const ProcInfo *info);
/* Sets the instance's cgroup path (as read from /proc/PID/cgroup); NULL leaves it as it was. */
void tracker_set_cgroup(Tracker *t, Instance *i, const char *cgroup);
/* The same, saying where an exec's image came from (tracker_apply_info: procfs). */
int tracker_apply_info_from(Tracker *t, Instance *i, const ProcInfo *info, LineageExecSource source);
/* Whether a live instance still waits for its facts to be read (needs_info or needs_login): the live
 * daemon commits only when none does, so a replay holds its commits back until then too. */
bool tracker_waits_for_info(const Tracker *t);
/* What the eBPF source saw of the file i's image was exec'd from: root-owned, no group or other write. */
void tracker_set_image_owner(Tracker *t, Instance *i, bool root_owned);
/* Asks for i's login ids to be read at the end of the batch (tracker_foreach_needs_info). */
void tracker_request_login(Tracker *t, Instance *i);

/* Logins. tracker_apply_info() returns 1 when it found i in an audit session other than the one it
 * inherited: a login began at i or at one of its live birth ancestors. The caller finds the earliest
 * instance carrying the session (reading ancestors' login ids and applying them) and calls
 * tracker_login_begin() there. */
Login *tracker_login_begin(Tracker *t, Instance *at);
/* Tells whether the record holds a login for an audit session of this boot: tracker_login_begin() then
 * begins none (the session's login ended; a process outlived it). */
typedef bool (*TrackerSessionKnown)(uint32_t audit_session, void *userdata);
void tracker_set_session_known(Tracker *t, TrackerSessionKnown cb, void *userdata);
Login *tracker_login_for_session(const Tracker *t, uint32_t audit_session);
void tracker_login_changed(Tracker *t, Login *l);
/* Whether the process at `at`, where a new audit session was found, was privileged when it set its
 * loginuid (which no event reports). now: its /proc status (PROCFS_STATUS) read after the session was
 * found, with its stat (PROCFS_STAT: the same start time, the same process). True when the loginuid it replaced was set (the kernel demanded CAP_AUDIT_CONTROL); when it
 * holds CAP_AUDIT_CONTROL now and did not exec since its login ids were last read (capabilities only
 * shrink without an exec); or when it is root now (real or effective uid 0) and every credential the
 * tracker saw since that read was root's too (a process whose real or effective uid is 0 can take euid
 * 0 back at will). A process that was unprivileged at any moment of that window, or whose history is
 * unknown, is not. */
bool tracker_login_privileged(const Instance *at, const ProcInfo *now);
/* The same judged without /proc, for a login process already gone when it was looked at (a short ssh
 * session: sshd's session process exits before the batch's end): from the tracker's own knowledge alone
 * (the ids of its last exec as the eBPF source gave them, every uid event since). True when the loginuid
 * it replaced was set, or when it was root all through the window; never from capabilities. */
bool tracker_login_privileged_gone(const Instance *at);
/* The other proof, for a login process that dropped its privileges before its new session was found
 * (systemd's user manager, which keeps a root child "(sd-pam)"): a live child of at that was born
 * privileged and carries at's new session got it at its fork, so at had set its loginuid by then, as
 * root. carries() reads whether a child is in at->sessionid; returns whether one was. */
/* Whether a /proc start time (stat field 22) is that of instance i (within the tracker's slack). */
bool tracker_same_start(const Instance *i, uint64_t start_ticks);
typedef bool (*TrackerCarriesSession)(const Instance *child, uint32_t audit_session, void *userdata);
bool tracker_login_witnessed(const Instance *at, TrackerCarriesSession carries, void *userdata);
typedef void (*TrackerLoginCallback)(Tracker *t, Login *l, void *userdata);
/* Logins begun since the last flush (their details are still to be read). */
void tracker_foreach_new_login(Tracker *t, TrackerLoginCallback cb, void *userdata);

Instance *tracker_get(const Tracker *t, int32_t pid);
/* Iterates live instances; start with *state = 0. Do not change the tracker while iterating. */
Instance *tracker_iterate(const Tracker *t, size_t *state);
/* The live CABA of a live instance (NULL for roots). */
const Instance *tracker_caba(const Instance *i);

/* Hands everything changed since the last completed flush to sink. Nothing is forgotten until
 * tracker_flush_complete(), called once the sink's writes are durable; a failed flush is retried whole. */
int tracker_flush(Tracker *t, const TrackerSink *sink, void *userdata);
void tracker_flush_complete(Tracker *t);
bool tracker_has_pending(const Tracker *t);
/* During a flush: the last exec of i queued since the last completed flush, or NULL. */
const TrackerEvent *tracker_pending_exec(const Tracker *t, const Instance *i);
/* When the database stays unwritable: forget queued events and exited instances (live ones are kept,
 * and rewritten whole once the database recovers). Returns how many rows were dropped. */
uint64_t tracker_drop_pending(Tracker *t);
/* The database was replaced by an empty one: every live instance and login is written whole again at
 * the next flush (argv already written is no longer in memory: such rows come without it). */
void tracker_rewrite_live(Tracker *t);
void tracker_get_stats(const Tracker *t, TrackerStats *ret);
uint64_t tracker_ticks_from_mono(const Tracker *t, uint64_t mono_ns);
uint64_t tracker_realtime_from_mono(const Tracker *t, uint64_t mono_ns);
uint64_t tracker_realtime_from_ticks(const Tracker *t, uint64_t ticks);
/* Memory held by the tracker, in bytes (approximate, for GetStatus and benchmarks). */
size_t tracker_memory(const Tracker *t);

DEFINE_TRIVIAL_CLEANUP_FUNC(Tracker *, tracker_free);
