/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lineage rules: birth parents from fork events, thread groups, exits, and the userspace CABA tree. */
#include <signal.h>

#include "hashmap.h"
#include "tracker-internal.h"

/* An event from more than this many ticks before an instance's start belongs to an earlier holder of
 * the pid. One tick of slack because start times derived from event stamps can round differently. */
#define START_TICKS_SLACK 1

static void *grow(void *p, size_t *alloc, size_t need, size_t size) {
        size_t n;
        void *q;

        if (need <= *alloc)
                return p;
        n = MAX(need, *alloc * 2);
        n = MAX(n, 16U);
        q = reallocarray(p, n, size);
        if (!q)
                return NULL;
        *alloc = n;
        return q;
}

/* Times come from the kernel, /proc and record files: outside input. Out of range values saturate
 * (to 0 or INT64_MAX) instead of wrapping. */
static int64_t add_saturating(int64_t a, int64_t b) {
        int64_t r;

        if (__builtin_add_overflow(a, b, &r))
                return b > 0 ? INT64_MAX : INT64_MIN;
        return r;
}

static int64_t clamp_u64(uint64_t v) {
        return v > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) v;
}

uint64_t tracker_ticks_from_mono(const Tracker *t, uint64_t mono_ns) {
        int64_t boot_ns = add_saturating(clamp_u64(mono_ns), t->clock.boottime_offset_ns);

        if (boot_ns < 0)
                return 0;
        return (uint64_t) boot_ns / (NSEC_PER_SEC / t->clock.clock_ticks);
}

uint64_t tracker_realtime_from_mono(const Tracker *t, uint64_t mono_ns) {
        int64_t rt = add_saturating(clamp_u64(mono_ns), t->clock.realtime_offset_ns);

        return rt < 0 ? 0 : (uint64_t) rt / NSEC_PER_USEC;
}

uint64_t tracker_realtime_from_ticks(const Tracker *t, uint64_t ticks) {
        /* ticks count CLOCK_BOOTTIME; convert to monotonic, then to realtime. */
        uint64_t tick_ns = NSEC_PER_SEC / t->clock.clock_ticks, boot;
        int64_t mono_ns;

        if (__builtin_mul_overflow(ticks, tick_ns, &boot))
                boot = UINT64_MAX;
        mono_ns = add_saturating(clamp_u64(boot), t->clock.boottime_offset_ns == INT64_MIN ? INT64_MAX
                                                                                           : -t->clock.boottime_offset_ns);
        return tracker_realtime_from_mono(t, mono_ns < 0 ? 0 : (uint64_t) mono_ns);
}

int tracker_new(Tracker **ret, const TrackerClock *clock, uint64_t next_id) {
        _cleanup_(tracker_freep) Tracker *t = NULL;
        int r;

        if (clock->clock_ticks == 0 || clock->clock_ticks > NSEC_PER_SEC)
                return -EINVAL;
        t = calloc(1, sizeof(Tracker));
        if (!t)
                return -ENOMEM;
        t->clock = *clock;
        t->next_id = MAX(next_id, 1U);
        t->dirty_tail = &t->dirty_head;
        r = hashmap_new(&t->by_pid);
        if (r < 0)
                return r;
        r = hashmap_new(&t->logins);
        if (r < 0)
                return r;
        r = hashmap_new(&t->ended_logins);
        if (r < 0)
                return r;
        r = hashmap_new(&t->strings);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

int tracker_add_observer(Tracker *t, TrackerObserver cb, void *userdata) {
        if (t->n_observers >= TRACKER_OBSERVERS_MAX)
                return -E2BIG;
        t->observers[t->n_observers].cb = cb;
        t->observers[t->n_observers].userdata = userdata;
        t->n_observers++;
        return 0;
}

void tracker_remove_observer(Tracker *t, void *userdata) {
        for (unsigned k = 0; k < t->n_observers;)
                if (t->observers[k].userdata == userdata)
                        t->observers[k] = t->observers[--t->n_observers];
                else
                        k++;
}

static void notify(Tracker *t, const TrackerEvent *e, const Instance *i) {
        for (unsigned k = 0; k < t->n_observers; k++)
                t->observers[k].cb(e, i, t->observers[k].userdata);
}

static void observe(Tracker *t, const Instance *i, LineageEventType type, uint64_t time, int32_t tid, int64_t a, int64_t b) {
        TrackerEvent e = { .instance = i->id, .time = time, .type = type, .tid = tid != i->pid ? tid : 0, .a = a, .b = b,
                           .uid = i->uid, .loginuid = i->loginuid };

        notify(t, &e, i);
}

void tracker_set_clock(Tracker *t, const TrackerClock *clock) {
        if (clock->clock_ticks > 0 && clock->clock_ticks <= NSEC_PER_SEC)
                t->clock = *clock;
}

/* Executable paths are few and shared by many processes: keep one refcounted copy of each. */
typedef struct Interned {
        uint32_t refs;
        uint32_t len;
        uint64_t hash;
        struct Interned *next;          /* same hash */
        char s[];
} Interned;

static uint64_t string_hash(const char *s) {
        uint64_t h = 14695981039346656037ULL; /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 1099511628211ULL;
        return h;
}

static Interned *interned_of(const char *s) {
        return (Interned *) (void *) (s - offsetof(Interned, s));
}

static const char *intern(Tracker *t, const char *s) {
        uint64_t h = string_hash(s);
        size_t len = strlen(s);
        Interned *e;

        for (e = hashmap_get(t->strings, h); e; e = e->next)
                if (e->len == len && memcmp(e->s, s, len) == 0) {
                        e->refs++;
                        return e->s;
                }
        if (len > UINT32_MAX - 1)
                return NULL;
        e = malloc(sizeof(Interned) + len + 1);
        if (!e)
                return NULL;
        *e = (Interned) { .refs = 1, .len = (uint32_t) len, .hash = h, .next = hashmap_get(t->strings, h) };
        memcpy(e->s, s, len + 1);
        if (hashmap_replace(t->strings, h, e) < 0) {
                free(e);
                return NULL;
        }
        t->string_bytes += sizeof(Interned) + len + 1;
        return e->s;
}

static const char *intern_ref(const char *s) {
        if (s)
                interned_of(s)->refs++;
        return s;
}

static void unintern(Tracker *t, const char *s) {
        Interned *e, *head, **p;

        if (!s)
                return;
        e = interned_of(s);
        if (--e->refs > 0)
                return;
        head = hashmap_get(t->strings, e->hash);
        if (head == e) {
                if (e->next)
                        (void) hashmap_replace(t->strings, e->hash, e->next);
                else
                        (void) hashmap_remove(t->strings, e->hash);
        } else
                for (p = &head->next; *p; p = &(*p)->next)
                        if (*p == e) {
                                *p = e->next;
                                break;
                        }
        t->string_bytes -= sizeof(Interned) + e->len + 1;
        free(e);
}

static void set_exe(Tracker *t, Instance *i, const char *exe) {
        const char *n = exe ? intern(t, exe) : NULL;

        unintern(t, i->exe);
        i->exe = n;
}

static void instance_free_strings(Tracker *t, Instance *i) {
        set_exe(t, i, NULL);
        t->string_bytes -= i->argv_len;
        free(i->argv);
        i->argv = NULL;
        i->argv_len = 0;
}

static void instance_free(Tracker *t, Instance *i) {
        instance_free_strings(t, i);
        unintern(t, i->cgroup);
        free(i->tids);
        free(i);
}

static void event_done(TrackerEvent *e) {
        free(e->text);
        free(e->argv);
}

Tracker *tracker_free(Tracker *t) {
        size_t it = 0;
        void *v;

        if (!t)
                return NULL;
        /* Exited instances live only on the dirty list; live ones are in the map (and maybe dirty too). */
        while (t->dirty_head) {
                Instance *i = t->dirty_head;

                t->dirty_head = i->dirty_next;
                if (!(i->flags & INSTANCE_ALIVE))
                        instance_free(t, i);
        }
        if (t->by_pid)
                while (hashmap_iterate(t->by_pid, &it, NULL, &v))
                        instance_free(t, v);
        hashmap_free(t->by_pid);
        /* Ended logins are only on the dirty list; live ones are in the map. */
        for (Login *l = t->dirty_logins, *n; l; l = n) {
                n = l->dirty_next;
                if (l->ended)
                        login_free(l);
        }
        it = 0;
        if (t->logins)
                while (hashmap_iterate(t->logins, &it, NULL, &v))
                        login_free(v);
        hashmap_free(t->logins);
        hashmap_free(t->ended_logins);
        /* Every instance has given its strings back by now. */
        hashmap_free(t->strings);
        for (size_t k = 0; k < t->n_events; k++)
                event_done(&t->events[k]);
        free(t->events);
        free(t->gaps);
        free(t->scan_new);
        free(t->scan_ppid);
        free(t->scan_kernel_caba);
        free(t->scan_zombies);
        free(t->needs);
        free(t);
        return NULL;
}

void mark_dirty(Tracker *t, Instance *i) {
        if (i->dirty)
                return;
        i->dirty = true;
        i->dirty_seq = t->dirty_seq++;
        i->dirty_next = NULL;
        *t->dirty_tail = i;
        t->dirty_tail = &i->dirty_next;
}

static bool needs_reading(const Instance *i) {
        return (i->needs_info || i->needs_login) && (i->flags & INSTANCE_ALIVE);
}

/* i was just flagged needs_info or needs_login. */
static void needs_list_add(Tracker *t, Instance *i) {
        Instance **n;

        if (i->needs_listed)
                return;
        n = grow(t->needs, &t->n_needs_alloc, t->n_needs + 1, sizeof(Instance *));
        if (!n) {
                t->needs_overflow = true;
                return;
        }
        t->needs = n;
        t->needs[t->n_needs++] = i;
        i->needs_listed = true;
}

/* Drops the entries that no longer need reading; before exited instances are freed. */
static void needs_list_prune(Tracker *t) {
        size_t n = 0;

        for (size_t k = 0; k < t->n_needs; k++) {
                Instance *i = t->needs[k];

                if (needs_reading(i))
                        t->needs[n++] = i;
                else
                        i->needs_listed = false;
        }
        t->n_needs = n;
}

/* CABA tree: each live instance hangs on the list of its closest alive birth ancestor. */
static void caba_unlink(Instance *i) {
        if (!i->caba)
                return;
        if (i->caba_prev)
                i->caba_prev->caba_next = i->caba_next;
        else
                i->caba->caba_children = i->caba_next;
        if (i->caba_next)
                i->caba_next->caba_prev = i->caba_prev;
        i->caba = i->caba_next = i->caba_prev = NULL;
}

static void caba_link(Tracker *t, Instance *i, Instance *caba) {
        caba_unlink(i);
        i->caba = caba;
        i->caba_id = caba ? caba->id : 0;
        i->caba_pid = caba ? (uint32_t) caba->pid : 0;
        if (caba) {
                i->caba_next = caba->caba_children;
                if (caba->caba_children)
                        caba->caba_children->caba_prev = i;
                caba->caba_children = i;
        }
        mark_dirty(t, i);
}

Instance *tracker_iterate(const Tracker *t, size_t *state) {
        void *v;

        return hashmap_iterate(t->by_pid, state, NULL, &v) ? v : NULL;
}

const Instance *tracker_caba(const Instance *i) {
        return i->caba;
}

Instance *tracker_get(const Tracker *t, int32_t pid) {
        return pid > 0 ? hashmap_get(t->by_pid, (uint64_t) pid) : NULL;
}

static TrackerEvent *queue_event(Tracker *t, const Instance *i, uint64_t time, LineageEventType type, int32_t tid) {
        TrackerEvent *e, *n;

        n = grow(t->events, &t->n_events_alloc, t->n_events + 1, sizeof(TrackerEvent));
        if (!n)
                return NULL; /* counted by the caller as nothing; the instance row still carries the state */
        t->events = n;
        e = &t->events[t->n_events++];
        *e = (TrackerEvent) {
                .instance = i->id,
                .time = time,
                .type = type,
                .tid = tid != i->pid ? tid : 0,
                /* Who may see it: who the process is now, after the event (a uid change is already applied). */
                .uid = i->uid,
                .loginuid = i->loginuid,
        };
        return e;
}

static void queue_gap(Tracker *t, const TrackerGap *g) {
        TrackerGap *n = grow(t->gaps, &t->n_gaps_alloc, t->n_gaps + 1, sizeof(TrackerGap));

        t->stats.gaps++;
        t->stats.lost += g->lost;
        if (!n)
                return;
        t->gaps = n;
        t->gaps[t->n_gaps++] = *g;
}

static Instance *instance_new(Tracker *t, int32_t pid, uint64_t start_ticks, uint64_t start_time) {
        Instance *i = calloc(1, sizeof(Instance));

        if (!i)
                return NULL;
        /* Callers close any holder of the pid first; never drop a live instance on the floor. */
        if (pid <= 0 || hashmap_put(t->by_pid, (uint64_t) pid, i) < 0) {
                free(i);
                return NULL;
        }
        i->id = t->next_id++;
        i->pid = pid;
        i->flags = INSTANCE_ALIVE;
        i->start_ticks = start_ticks;
        i->start_time = start_time;
        i->birth_parent_pid = -1;
        i->exit_parent_pid = -1;
        i->exit_status = -1;
        i->loginuid = i->sessionid = PROCFS_UNSET_ID;
        i->cred_unprivileged = true; /* until its credentials are known */
        i->image_loginuid = PROCFS_UNSET_ID; /* and image_uid 0: root's until someone's image is known */
        i->source = LINEAGE_SOURCE_UNKNOWN;
        i->pending_exec = -1;
        t->stats.created++;
        t->stats.live++;
        mark_dirty(t, i);
        return i;
}

static void observe_exec(Tracker *t, Instance *i);

/* An exec's image is settled (read, or known to be unknowable): count it by source. */
static void count_exec(Tracker *t, const Instance *i, LineageExecSource source) {
        if (i->exe)
                t->stats.exec_image[source]++;
        else
                t->stats.exec_no_image[source]++;
}

/* An exec was seen but what it ran could not be read: do not leave the pre-exec name and executable
 * in place, the record says "unknown" instead. */
static void forget_image(Tracker *t, Instance *i) {
        i->comm[0] = 0;
        instance_free_strings(t, i);
        i->argv_changed = true;
        i->flags &= ~INSTANCE_ARGV_TRUNCATED;
        i->needs_info = false;
        mark_dirty(t, i);
}

/* Closes an instance: its thread group is gone. Its CABA children move up to its own CABA. */
static void instance_close(Tracker *t, Instance *i, uint64_t exit_time) {
        Instance *c;

        if (i->needs_info) {
                /* Exec'd and exited within one batch: what it ran is unknown. */
                forget_image(t, i);
                count_exec(t, i, LINEAGE_EXEC_SOURCE_PROCFS);
                observe_exec(t, i);
        }

        while ((c = i->caba_children))
                caba_link(t, c, i->caba);
        caba_unlink(i);
        if (i->login) {
                i->login->end_time = MAX(exit_time, i->start_time);
                i->login->ended = true;
                if (hashmap_get(t->logins, i->login->audit_session) == i->login)
                        hashmap_remove(t->logins, i->login->audit_session);
                /* Until it is written, the record cannot tell that its session had a login. (Out of
                 * memory, a process of the session exec'ing before the flush could begin another.) */
                (void) hashmap_put(t->ended_logins, i->login->audit_session, i->login);
                tracker_login_changed(t, i->login);
                /* i->login stays: observers of the exit see the login that ended; both go at the flush. */
        }
        i->flags &= ~INSTANCE_ALIVE;
        i->exit_time = MAX(exit_time, i->start_time);
        if (hashmap_get(t->by_pid, (uint64_t) i->pid) == i)
                hashmap_remove(t->by_pid, (uint64_t) i->pid);
        t->stats.live--;
        t->stats.exited++;
        mark_dirty(t, i);
}

bool ticks_match(uint64_t a, uint64_t b) {
        return a + START_TICKS_SLACK >= b && b + START_TICKS_SLACK >= a;
}

/* The live instance an event about pid refers to; NULL if unknown or if the event predates it (the
 * pid then belonged to an instance we never saw). */
static Instance *lookup_for_event(Tracker *t, int32_t tgid, uint64_t ev_ticks) {
        Instance *i = tracker_get(t, tgid);

        if (!i || ev_ticks + START_TICKS_SLACK < i->start_ticks) {
                t->stats.unattributed++;
                return NULL;
        }
        return i;
}

static int tids_add(Instance *i, int32_t tid) {
        int32_t *n;

        for (uint32_t k = 0; k < i->n_tids; k++)
                if (i->tids[k] == tid)
                        return 0;
        if (i->n_tids >= (1U << 22)) /* pid_max bounds real thread counts; this bounds bad input */
                return -E2BIG;
        if (i->n_tids == i->n_tids_alloc) {
                uint32_t na = i->n_tids_alloc ? i->n_tids_alloc * 2 : 4;

                n = reallocarray(i->tids, na, sizeof(int32_t));
                if (!n)
                        return -ENOMEM;
                i->tids = n;
                i->n_tids_alloc = na;
        }
        i->tids[i->n_tids++] = tid;
        return 1;
}

static bool tids_remove(Instance *i, int32_t tid) {
        for (uint32_t k = 0; k < i->n_tids; k++)
                if (i->tids[k] == tid) {
                        i->tids[k] = i->tids[--i->n_tids];
                        if (i->n_tids == 0) {
                                free(i->tids);
                                i->tids = NULL;
                                i->n_tids_alloc = 0;
                        }
                        return true;
                }
        return false;
}

/* Real or effective uid 0: it is root, or can make itself root again at will. */
static bool root_capable(const Instance *i) {
        return i->uid == 0 || i->euid == 0;
}

/* Its login ids were just read and its session had not changed: whatever sets its loginuid from now on
 * does it with the credentials it has now, or with ones a later event reports. */
static void cred_window_restart(Instance *i) {
        i->cred_unprivileged = !root_capable(i);
        i->cred_execed = false;
        i->login_was_set = false;
}

static void inherit_from_parent(Tracker *t, Instance *child, const Instance *p) {
        child->uid = p->uid;
        child->euid = p->euid;
        child->gid = p->gid;
        child->egid = p->egid;
        child->loginuid = p->loginuid;
        child->sessionid = p->sessionid;
        /* The parent may have set its loginuid just before the fork, unseen: its window is the child's. */
        child->cred_unprivileged = p->cred_unprivileged || !root_capable(child);
        child->cred_execed = p->cred_execed;
        child->born_privileged = !child->cred_unprivileged;
        child->sid = p->sid;
        child->pgid = p->pgid;
        memcpy(child->comm, p->comm, sizeof(child->comm));
        child->exe = intern_ref(p->exe);
        child->cgroup = intern_ref(p->cgroup);
        /* The image is the parent's, and so is whoever may see it. */
        child->image_uid = p->image_uid;
        child->image_loginuid = p->image_loginuid;
        child->image_owner_known = p->image_owner_known;
        child->image_root_owned = p->image_root_owned;
}

static void set_birth_parent(Tracker *t, Instance *i, Instance *parent, int32_t parent_tgid, LineageSource source) {
        i->birth_parent_id = parent ? parent->id : 0;
        i->birth_parent_pid = parent_tgid;
        i->source = source;
        caba_link(t, i, parent);
}

static void handle_fork(Tracker *t, const CnprocEvent *ev) {
        uint64_t ticks = tracker_ticks_from_mono(t, ev->timestamp_ns);
        Instance *parent, *child;

        if (ev->pid != ev->tgid) {
                /* A new thread: not an instance, only a member of its group. */
                Instance *g = lookup_for_event(t, ev->tgid, ticks);

                if (g)
                        (void) tids_add(g, ev->pid);
                return;
        }

        /* The forking thread may be a non-leader: the child belongs to its thread group. */
        parent = tracker_get(t, ev->fork.parent_tgid);
        child = tracker_get(t, ev->pid);
        if (child && (child->flags & INSTANCE_SCANNED) && ticks_match(child->start_ticks, ticks)) {
                /* A scan raced this fork and found the child already: same instance, now with its
                 * observed birth parent instead of a PPid that may be a reaper. */
                set_birth_parent(t, child, parent, ev->fork.parent_tgid,
                                 parent ? LINEAGE_SOURCE_FORK : LINEAGE_SOURCE_UNKNOWN);
                t->stats.merged++;
                observe(t, child, LINEAGE_EVENT_FORK, child->start_time, ev->pid, 0, 0);
                return;
        }
        if (child) {
                /* The pid was reused while we still thought its old holder alive: its exit was lost. */
                child->flags |= INSTANCE_EXIT_UNKNOWN;
                instance_close(t, child, tracker_realtime_from_mono(t, ev->timestamp_ns));
                t->stats.stale++;
        }
        child = instance_new(t, ev->pid, ticks, tracker_realtime_from_mono(t, ev->timestamp_ns));
        if (!child)
                return;
        if (parent)
                inherit_from_parent(t, child, parent);
        set_birth_parent(t, child, parent, ev->fork.parent_tgid,
                         parent ? LINEAGE_SOURCE_FORK : LINEAGE_SOURCE_UNKNOWN);
        observe(t, child, LINEAGE_EVENT_FORK, child->start_time, ev->pid, 0, 0);
}

static void handle_exit(Tracker *t, const CnprocEvent *ev) {
        uint64_t ticks = tracker_ticks_from_mono(t, ev->timestamp_ns);
        Instance *i = lookup_for_event(t, ev->tgid, ticks), *reaper;

        if (!i)
                return;
        if (ev->pid == ev->tgid)
                i->leader_exited = true;
        else
                tids_remove(i, ev->pid);
        if (!i->leader_exited || i->n_tids > 0)
                return;

        /* The wait status: low 7 bits the killing signal, 0x80 a core dump, else the status in bits 8-15. */
        if (ev->exit.code & 0x7f) {
                i->exit_signal = (int32_t) (ev->exit.code & 0x7f);
                i->exit_status = -1;
        } else {
                i->exit_status = (int32_t) ((ev->exit.code >> 8) & 0xff);
                i->exit_signal = 0;
        }
        if (ev->exit.code & 0x80)
                i->flags |= INSTANCE_CORE_DUMPED;
        i->exit_parent_pid = ev->exit.parent_tgid;
        reaper = tracker_get(t, ev->exit.parent_tgid);
        i->exit_parent_id = reaper && reaper != i ? reaper->id : 0;
        instance_close(t, i, tracker_realtime_from_mono(t, ev->timestamp_ns));
        observe(t, i, LINEAGE_EVENT_EXIT, i->exit_time, ev->pid, i->exit_status, i->exit_signal);
}

Instance *tracker_fork_parent_pending(const Tracker *t, const CnprocEvent *ev) {
        Instance *p;

        if (ev->type != LINEAGE_EVENT_FORK || ev->pid != ev->tgid)
                return NULL; /* a new thread inherits nothing we record */
        p = tracker_get(t, ev->fork.parent_tgid);
        return p && p->needs_info ? p : NULL;
}

static void handle_exec(Tracker *t, Instance *i, const CnprocEvent *ev, uint64_t time) {
        TrackerEvent *e;

        /* exec leaves one thread: any others (including an old leader, if a non-leader exec'd) are gone. */
        free(i->tids);
        i->tids = NULL;
        i->n_tids = i->n_tids_alloc = 0;
        i->leader_exited = false;
        i->flags |= INSTANCE_EXECED;
        i->cred_execed = true;
        i->image_owner_known = i->image_root_owned = false;
        i->needs_info = true;
        needs_list_add(t, i);
        e = queue_event(t, i, time, LINEAGE_EVENT_EXEC, ev->pid);
        /* The queue is flushed every commit; an index past INT32_MAX just loses the exec's details. */
        i->pending_exec = e && e - t->events <= INT32_MAX ? (int32_t) (e - t->events) : -1;
        mark_dirty(t, i);
}

void tracker_handle_event(Tracker *t, const CnprocEvent *ev) {
        uint64_t ticks, time;
        TrackerEvent *e = NULL;
        Instance *i;

        /* The kernel never names pid 0 here; a record file might. */
        if (ev->pid <= 0 || ev->tgid <= 0) {
                t->stats.unattributed++;
                return;
        }
        switch (ev->type) {
        case LINEAGE_EVENT_FORK:
                handle_fork(t, ev);
                return;
        case LINEAGE_EVENT_EXIT:
                handle_exit(t, ev);
                return;
        default:
                break;
        }

        ticks = tracker_ticks_from_mono(t, ev->timestamp_ns);
        time = tracker_realtime_from_mono(t, ev->timestamp_ns);
        i = lookup_for_event(t, ev->tgid, ticks);
        if (!i)
                return;

        switch (ev->type) {
        case LINEAGE_EVENT_EXEC:
                handle_exec(t, i, ev, time);
                return;
        case LINEAGE_EVENT_UID:
        case LINEAGE_EVENT_GID:
                if (ev->type == LINEAGE_EVENT_UID) {
                        i->uid = ev->id.r;
                        i->euid = ev->id.e;
                        if (!root_capable(i))
                                i->cred_unprivileged = true;
                } else {
                        i->gid = ev->id.r;
                        i->egid = ev->id.e;
                }
                e = queue_event(t, i, time, ev->type, ev->pid);
                if (e) {
                        e->a = ev->id.r;
                        e->b = ev->id.e;
                }
                i->needs_login = true; /* a login's uid change: pam_loginuid may have run before it */
                needs_list_add(t, i);
                break;
        case LINEAGE_EVENT_SID:
                /* setsid() makes the caller the leader of a new session and process group. */
                i->sid = i->pgid = ev->tgid;
                e = queue_event(t, i, time, ev->type, ev->pid);
                if (e)
                        e->a = ev->tgid;
                i->needs_login = true;
                needs_list_add(t, i);
                break;
        case LINEAGE_EVENT_PTRACE:
                e = queue_event(t, i, time, ev->type, ev->pid);
                if (e) {
                        e->a = ev->ptrace.tracer_pid;
                        e->b = ev->ptrace.tracer_tgid;
                }
                break;
        case LINEAGE_EVENT_COMM: {
                char comm[sizeof(i->comm)];

                procfs_sanitize_comm(ev->comm.comm, strnlen(ev->comm.comm, sizeof(ev->comm.comm)), comm, sizeof(comm));
                /* A thread renaming itself does not rename the process. */
                if (ev->pid == ev->tgid) {
                        memcpy(i->comm, comm, sizeof(i->comm));
                        /* One owner per image: a name given under another owner than the executable's
                         * leaves an image neither of them may see whole. Only root sees it then. */
                        if (i->image_uid != i->uid || i->image_loginuid != i->loginuid) {
                                i->image_uid = 0;
                                i->image_loginuid = PROCFS_UNSET_ID;
                        }
                }
                e = queue_event(t, i, time, ev->type, ev->pid);
                if (e)
                        e->text = strdup(comm);
                break;
        }
        case LINEAGE_EVENT_COREDUMP:
                i->flags |= INSTANCE_CORE_DUMPED;
                (void) queue_event(t, i, time, ev->type, ev->pid);
                break;
        default:
                t->stats.unattributed++;
                return;
        }
        mark_dirty(t, i);
        if (t->n_observers > 0) {
                TrackerEvent o = e ? *e : (TrackerEvent) { .instance = i->id, .time = time, .type = ev->type };

                notify(t, &o, i);
        }
}

void tracker_add_gap(Tracker *t, const TrackerGap *g) {
        queue_gap(t, g);
}

void tracker_handle_loss(Tracker *t, const CnprocLoss *loss) {
        TrackerGap g = {
                .start_time = loss->after_ns ? tracker_realtime_from_mono(t, loss->after_ns) : 0,
                .end_time = tracker_realtime_from_mono(t, loss->before_ns),
                .lost = loss->lost,
                .cpu = loss->reason == CNPROC_LOSS_SEQUENCE ? (int32_t) loss->cpu : -1,
                .reason = loss->reason == CNPROC_LOSS_SEQUENCE ? "sequence" : "overflow",
        };

        if (g.start_time == 0 || g.start_time > g.end_time)
                g.start_time = g.end_time;
        queue_gap(t, &g);
        t->cred_loss = true;
}

static void apply_facts(Tracker *t, Instance *i, const ProcInfo *info) {
        if (info->have & PROCFS_STAT) {
                memcpy(i->comm, info->comm, sizeof(i->comm));
                i->comm[sizeof(i->comm) - 1] = 0;
                i->sid = info->sid;
                i->pgid = info->pgid;
        }
        if (info->have & PROCFS_STATUS) {
                i->uid = info->ruid;
                i->euid = info->euid;
                i->gid = info->rgid;
                i->egid = info->egid;
        }
        if (info->have & PROCFS_LOGIN) {
                i->loginuid = info->loginuid;
                i->sessionid = info->sessionid;
        }
        if ((info->have & PROCFS_EXE) && info->exe)
                set_exe(t, i, info->exe);
        if ((info->have & PROCFS_ARGV) && info->argv && info->argv_len > 0) {
                char *a = malloc(info->argv_len);

                if (a) {
                        memcpy(a, info->argv, info->argv_len);
                        t->string_bytes -= i->argv_len;
                        free(i->argv);
                        i->argv = a;
                        i->argv_len = (uint32_t) info->argv_len;
                        i->argv_changed = true;
                        t->string_bytes += i->argv_len;
                        if (info->argv_truncated)
                                i->flags |= INSTANCE_ARGV_TRUNCATED;
                        else
                                i->flags &= ~INSTANCE_ARGV_TRUNCATED;
                }
        }
        mark_dirty(t, i);
}

static bool grow_scan(Tracker *t) {
        size_t a = t->n_scan_new_alloc, b = a, c = a;
        void *n;

        n = grow(t->scan_new, &a, t->n_scan_new + 1, sizeof(Instance *));
        if (!n)
                return false;
        t->scan_new = n;
        n = grow(t->scan_ppid, &b, t->n_scan_new + 1, sizeof(int32_t));
        if (!n)
                return false;
        t->scan_ppid = n;
        n = grow(t->scan_kernel_caba, &c, t->n_scan_new + 1, sizeof(bool));
        if (!n)
                return false;
        t->scan_kernel_caba = n;
        t->n_scan_new_alloc = a;
        return true;
}

static void cred_forget_all(Tracker *t);

void tracker_scan_begin(Tracker *t, uint64_t at_ns) {
        /* Losses before the scan count before what it reads, not after. */
        if (t->cred_loss)
                cred_forget_all(t);
        t->scan_at_ns = at_ns;
        t->n_scan_new = 0;
        t->n_scan_zombies = 0;
        t->scan_generation++;
}

/* A zombie has exited: its exit event came before we subscribed (or was lost), and its reaping sends
 * none. It is kept for the lineage of what it created, and closed at the scan's end. */
static int scan_add_zombie(Tracker *t, Instance *i) {
        Instance **z = grow(t->scan_zombies, &t->n_scan_zombies_alloc, t->n_scan_zombies + 1, sizeof(Instance *));

        if (!z)
                return -ENOMEM;
        t->scan_zombies = z;
        t->scan_zombies[t->n_scan_zombies++] = i;
        return 0;
}

int tracker_scan_add(Tracker *t, const ProcInfo *info, const int32_t *tids, size_t n_tids, int32_t caba_tgid) {
        bool zombie = info->state == 'Z' && n_tids <= 1; /* not a leader that exited before its threads */
        bool fresh = false, image_new, same_session;
        Instance *i;

        if (!(info->have & PROCFS_STAT) || info->pid <= 0)
                return -EINVAL;
        i = tracker_get(t, info->pid);
        if (zombie && !i && t->scan_generation > 1)
                return 0; /* a rescan's zombie we do not hold alive: its exit is recorded already */
        if (i && !ticks_match(i->start_ticks, info->start_ticks)) {
                /* Our instance for this pid is gone: the pid now belongs to another process. */
                i->flags |= INSTANCE_EXIT_UNKNOWN;
                instance_close(t, i, tracker_realtime_from_mono(t, t->scan_at_ns));
                t->stats.stale++;
                i = NULL;
        }
        if (!i) {
                i = instance_new(t, info->pid, info->start_ticks, tracker_realtime_from_ticks(t, info->start_ticks));
                if (!i)
                        return -ENOMEM;
                i->flags |= INSTANCE_SCANNED;
                fresh = true;
                if (!(info->have & PROCFS_EXE) || !info->exe)
                        if (info->ppid == 0 || info->ppid == 2)
                                i->flags |= INSTANCE_KERNEL_THREAD;
                t->stats.scanned++;
                if (!grow_scan(t))
                        return -ENOMEM;
                t->scan_new[t->n_scan_new] = i;
                t->scan_ppid[t->n_scan_new] = caba_tgid >= 0 ? caba_tgid : info->ppid;
                t->scan_kernel_caba[t->n_scan_new] = caba_tgid >= 0;
                t->n_scan_new++;
        }
        /* Found now, or still in the session we knew: its credentials from here on are what the scan read. */
        same_session = fresh || i->sessionid == info->sessionid;
        /* A known image keeps its owner; a new one (a process found, or an exec we missed) is its owner's
         * now: what it was when it exec'd cannot be known. */
        image_new = fresh || ((info->have & PROCFS_EXE) && info->exe && !streq(i->exe ?: "", info->exe));
        apply_facts(t, i, info);
        if (same_session && (info->have & PROCFS_LOGIN) && (info->have & PROCFS_STATUS))
                cred_window_restart(i);
        if (image_new && (info->have & PROCFS_STATUS)) {
                i->image_uid = i->uid;
                i->image_loginuid = i->loginuid;
        }
        /* The scan's thread list replaces ours: exits of threads may have been lost. */
        free(i->tids);
        i->tids = NULL;
        i->n_tids = i->n_tids_alloc = 0;
        i->leader_exited = info->state == 'Z' && n_tids > 1;
        for (size_t k = 0; k < n_tids; k++)
                if (tids[k] != i->pid)
                        (void) tids_add(i, tids[k]);
        i->seen_scan = t->scan_generation;
        return zombie ? scan_add_zombie(t, i) : 0;
}

unsigned tracker_scan_close_unseen(Tracker *t, uint64_t exit_time) {
        Instance **gone = NULL;
        size_t n = 0, alloc = 0, it = 0;
        void *v;

        /* Collect first: closing changes the map. */
        while (hashmap_iterate(t->by_pid, &it, NULL, &v)) {
                Instance *i = v, **g;

                if (i->seen_scan == t->scan_generation)
                        continue;
                g = grow(gone, &alloc, n + 1, sizeof(Instance *));
                if (!g)
                        break;
                gone = g;
                gone[n++] = i;
        }
        for (size_t k = 0; k < n; k++) {
                gone[k]->flags |= INSTANCE_EXIT_UNKNOWN;
                instance_close(t, gone[k], exit_time);
        }
        free(gone);
        return (unsigned) n;
}

bool tracker_close_gone(Tracker *t, Instance *i, uint64_t exit_time) {
        if (!(i->flags & INSTANCE_ALIVE))
                return false;
        i->flags |= INSTANCE_EXIT_UNKNOWN;
        instance_close(t, i, exit_time);
        t->stats.stale++;
        return true;
}

int tracker_adopt(Tracker *t, const Instance *row) {
        Instance *i;

        if (row->pid <= 0 || tracker_get(t, row->pid))
                return -EEXIST;
        i = calloc(1, sizeof(Instance));
        if (!i)
                return -ENOMEM;
        *i = *row;
        i->exe = row->exe ? intern(t, row->exe) : NULL;
        i->cgroup = row->cgroup ? intern(t, row->cgroup) : NULL;
        i->argv = NULL;
        i->argv_len = 0;
        i->caba = i->caba_children = i->caba_next = i->caba_prev = NULL;
        i->dirty_next = NULL;
        i->tids = NULL;
        i->n_tids = i->n_tids_alloc = 0;
        i->dirty = i->needs_info = i->needs_login = i->argv_changed = i->needs_listed = false;
        i->written = true;
        i->pending_exec = -1;
        i->login = NULL;
        i->cred_unprivileged = i->cred_execed = true; /* unknown until the scan reads it */
        i->login_was_set = false;
        i->flags |= INSTANCE_ALIVE | INSTANCE_SCANNED;
        if (hashmap_put(t->by_pid, (uint64_t) i->pid, i) < 0) {
                unintern(t, i->exe);
                unintern(t, i->cgroup);
                free(i);
                return -ENOMEM;
        }
        t->next_id = MAX(t->next_id, i->id + 1);
        t->stats.live++;
        return 0;
}

void tracker_adopt_end(Tracker *t) {
        _cleanup_(hashmap_freep) Hashmap *by_id = NULL;
        size_t it = 0;
        void *v;

        /* Relink the CABA tree by instance id. */
        if (hashmap_new(&by_id) < 0)
                return;
        while (hashmap_iterate(t->by_pid, &it, NULL, &v))
                (void) hashmap_put(by_id, ((Instance *) v)->id, v);
        it = 0;
        while (hashmap_iterate(t->by_pid, &it, NULL, &v)) {
                Instance *i = v, *c = i->caba_id ? hashmap_get(by_id, i->caba_id) : NULL;

                if (c && c != i) {
                        i->caba = c;
                        i->caba_next = c->caba_children;
                        if (c->caba_children)
                                c->caba_children->caba_prev = i;
                        c->caba_children = i;
                }
        }
}

void tracker_scan_end(Tracker *t) {
        /* Parents are linked only now: with pid wrap-around a parent can have a higher pid than its child. */
        for (size_t k = 0; k < t->n_scan_new; k++) {
                Instance *i = t->scan_new[k], *p;
                int32_t ppid = t->scan_ppid[k];

                if (!(i->flags & INSTANCE_ALIVE))
                        continue;
                p = tracker_get(t, ppid);
                if (p == i)
                        p = NULL;
                /* The kernel's CABA is a birth ancestor that is alive; PPid may be a reaper. Either way
                 * it is the best knowledge of where this process came from. */
                set_birth_parent(t, i, p, ppid,
                                 t->scan_kernel_caba[k] ? LINEAGE_SOURCE_KERNEL_CABA : LINEAGE_SOURCE_PROCFS);
        }
        /* A session differing from the parent's began at this process (as far as a scan can tell). */
        for (size_t k = 0; k < t->n_scan_new; k++) {
                Instance *i = t->scan_new[k], *p = tracker_get(t, i->birth_parent_pid);

                if ((i->flags & INSTANCE_ALIVE) && i->sessionid != PROCFS_UNSET_ID &&
                    (!p || p == i || p->sessionid != i->sessionid))
                        (void) tracker_login_begin(t, i);
        }
        t->n_scan_new = 0;
        /* Linked first, so that what they created knows them; closed now, so that they are no one's
         * CABA and not alive: they exited at the latest when the scan read them. */
        for (size_t k = 0; k < t->n_scan_zombies; k++) {
                Instance *z = t->scan_zombies[k];

                if (!(z->flags & INSTANCE_ALIVE))
                        continue;
                z->flags |= INSTANCE_EXIT_UNKNOWN;
                instance_close(t, z, tracker_realtime_from_mono(t, t->scan_at_ns));
        }
        t->n_scan_zombies = 0;
}

static int cmp_dirty_seq(const void *a, const void *b) {
        uint32_t x = (*(Instance *const *) a)->dirty_seq, y = (*(Instance *const *) b)->dirty_seq;

        return (x > y) - (x < y);
}

/* After lost events nobody's credentials are known since their last read. */
static void cred_forget_all(Tracker *t) {
        size_t it = 0;
        void *v;

        t->cred_loss = false;
        while (hashmap_iterate(t->by_pid, &it, NULL, &v))
                ((Instance *) v)->cred_unprivileged = true;
}

void tracker_foreach_needs_info(Tracker *t, TrackerInfoCallback cb, void *userdata) {
        size_t visit = 0;
        bool sorted = true;

        /* Once per batch, however many losses it had. */
        if (t->cred_loss)
                cred_forget_all(t);

        if (t->needs_overflow) {
                /* Out of memory for the list once: every dirty instance is a candidate. */
                t->needs_overflow = false;
                for (Instance *i = t->dirty_head; i; i = i->dirty_next)
                        if (needs_reading(i))
                                cb(t, i, userdata);
                needs_list_prune(t);
                return;
        }
        /* This replaces a walk over the whole dirty list and does what it did: visit the live dirty
         * instances that need reading, in dirty-list order. One that is not dirty (flagged before a
         * flush that no walk preceded) stays listed until it is dirty again. */
        needs_list_prune(t);
        for (size_t k = 0; k < t->n_needs; k++)
                if (t->needs[k]->dirty) {
                        Instance *tmp = t->needs[visit];

                        t->needs[visit++] = t->needs[k];
                        t->needs[k] = tmp;
                }
        for (size_t k = 1; k < visit && sorted; k++)
                sorted = t->needs[k - 1]->dirty_seq < t->needs[k]->dirty_seq;
        if (!sorted)
                qsort(t->needs, visit, sizeof(Instance *), cmp_dirty_seq);
        for (size_t k = 0; k < visit; k++) {
                Instance *i = t->needs[k];

                /* A callback may have read this one already (an ancestor's login ids). */
                if (needs_reading(i))
                        cb(t, i, userdata);
        }
        /* Callbacks clear the flags of what they read; anything else stays for the next walk. */
        needs_list_prune(t);
}

void tracker_request_login(Tracker *t, Instance *i) {
        i->needs_login = true;
        needs_list_add(t, i);
        mark_dirty(t, i);
}

bool tracker_waits_for_info(const Tracker *t) {
        /* Flagged instances are dirty: the dirty list holds them all, even when the needs list is short. */
        for (const Instance *i = t->dirty_head; i; i = i->dirty_next)
                if (needs_reading(i))
                        return true;
        return false;
}

static void observe_exec(Tracker *t, Instance *i) {
        /* Borrowed for the observers only: they do not keep or free it. */
        TrackerEvent e = { .instance = i->id, .type = LINEAGE_EVENT_EXEC, .text = (char *) i->exe, .argv = i->argv,
                           .argv_len = i->argv_len, .uid = i->image_uid, .loginuid = i->image_loginuid };

        if (t->n_observers == 0)
                return;
        if (i->pending_exec >= 0 && (size_t) i->pending_exec < t->n_events)
                e.time = t->events[i->pending_exec].time;
        notify(t, &e, i);
}

/* The image of i is now that of its last exec: it belongs to whoever the process was at that exec (the
 * stamp of its queued event), else to its owner now. It is read from /proc after the exec: when the
 * owner changed in between (a setuid-root program that called setuid(0)), what is read may be either
 * owner's, and only root may see it, in the row and in the exec's event. */
static void set_image_owner_from_exec(Tracker *t, Instance *i) {
        TrackerEvent *e = (TrackerEvent *) tracker_pending_exec(t, i);

        if (e && (e->uid != i->uid || e->loginuid != i->loginuid)) {
                e->uid = 0;
                e->loginuid = PROCFS_UNSET_ID;
        }
        i->image_uid = e ? e->uid : i->uid;
        i->image_loginuid = e ? e->loginuid : i->loginuid;
}

/* The exec part of tracker_apply_info(): the new image, onto the instance and its queued exec event. */
static void apply_exec_info(Tracker *t, Instance *i, const ProcInfo *info, LineageExecSource source) {
        TrackerEvent *e;

        i->needs_info = false;
        set_image_owner_from_exec(t, i);
        if (!(info->have & PROCFS_STAT) || !ticks_match(i->start_ticks, info->start_ticks)) {
                /* Gone before we could look (or the pid is someone else's now). */
                forget_image(t, i);
                count_exec(t, i, source);
                observe_exec(t, i);
                return;
        }
        /* The new image is what was read, nothing else: an exe or argv that could not be read (the
         * process was already exiting) is unknown, not the one inherited at fork or run before. What
         * the instance still holds of an earlier image depends on when the last commit fell, so keeping
         * it would also make a replay differ from the live run. */
        instance_free_strings(t, i);
        i->argv_changed = true;
        i->flags &= ~INSTANCE_ARGV_TRUNCATED;
        apply_facts(t, i, info);
        count_exec(t, i, source);
        observe_exec(t, i);
        if (i->pending_exec < 0 || (size_t) i->pending_exec >= t->n_events)
                return;
        e = &t->events[i->pending_exec];
        if (e->instance != i->id || e->type != LINEAGE_EVENT_EXEC)
                return;
        free(e->text);
        e->text = i->exe ? strdup(i->exe) : NULL;
        if (i->argv && i->argv_len > 0) {
                free(e->argv);
                e->argv = malloc(i->argv_len);
                if (e->argv) {
                        memcpy(e->argv, i->argv, i->argv_len);
                        e->argv_len = i->argv_len;
                }
        }
}

int tracker_apply_info(Tracker *t, Instance *i, const ProcInfo *info) {
        return tracker_apply_info_from(t, i, info, LINEAGE_EXEC_SOURCE_PROCFS);
}

int tracker_apply_info_from(Tracker *t, Instance *i, const ProcInfo *info, LineageExecSource source) {
        uint32_t old_session = i->sessionid, old_loginuid = i->loginuid;
        bool ours = (info->have & PROCFS_LOGIN) && (!(info->have & PROCFS_STAT) || ticks_match(i->start_ticks, info->start_ticks));

        if ((unsigned) source >= _LINEAGE_EXEC_SOURCE_MAX)
                source = LINEAGE_EXEC_SOURCE_PROCFS;
        i->needs_login = false;
        if (i->needs_info)
                apply_exec_info(t, i, info, source);
        else if (ours) {
                i->loginuid = info->loginuid;
                i->sessionid = info->sessionid;
                mark_dirty(t, i);
        }
        if (ours && (info->have & PROCFS_STAT)) {
                if (i->sessionid == old_session)
                        cred_window_restart(i);
                else
                        i->login_was_set = old_loginuid != PROCFS_UNSET_ID;
        }
        /* A session other than the inherited one, not known yet: a login began here or above. */
        return (info->have & PROCFS_LOGIN) && i->sessionid != PROCFS_UNSET_ID && i->sessionid != old_session &&
               !tracker_login_for_session(t, i->sessionid);
}

void tracker_set_cgroup(Tracker *t, Instance *i, const char *cgroup) {
        const char *n;

        if (!cgroup || (i->cgroup && streq(i->cgroup, cgroup)))
                return;
        n = intern(t, cgroup);
        if (!n)
                return; /* out of memory: the inherited path stays */
        unintern(t, i->cgroup);
        i->cgroup = n;
        mark_dirty(t, i);
}

bool tracker_has_pending(const Tracker *t) {
        return t->dirty_head || t->dirty_logins || t->n_events > 0 || t->n_gaps > 0;
}

const TrackerEvent *tracker_pending_exec(const Tracker *t, const Instance *i) {
        const TrackerEvent *e;

        if (i->pending_exec < 0 || (size_t) i->pending_exec >= t->n_events)
                return NULL;
        e = &t->events[i->pending_exec];
        return e->instance == i->id && e->type == LINEAGE_EVENT_EXEC ? e : NULL;
}

int tracker_flush(Tracker *t, const TrackerSink *sink, void *userdata) {
        Instance *i;
        int r;

        for (i = t->dirty_head; i; i = i->dirty_next) {
                r = sink->instance(i, userdata);
                if (r < 0)
                        return r;
        }
        for (Login *l = t->dirty_logins; l; l = l->dirty_next) {
                r = sink->login ? sink->login(l, userdata) : 0;
                if (r < 0)
                        return r;
        }
        for (size_t k = 0; k < t->n_events; k++) {
                r = sink->event(&t->events[k], userdata);
                if (r < 0)
                        return r;
        }
        for (size_t k = 0; k < t->n_gaps; k++) {
                r = sink->gap(&t->gaps[k], userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

void tracker_flush_complete(Tracker *t) {
        Instance *i, *next;

        /* Everything is committed: forget the queues and the exited instances. */
        needs_list_prune(t);
        for (i = t->dirty_head; i; i = next) {
                next = i->dirty_next;
                i->dirty = false;
                i->dirty_next = NULL;
                i->written = true;
                i->argv_changed = false;
                i->pending_exec = -1;
                if (!(i->flags & INSTANCE_ALIVE))
                        instance_free(t, i);
                else if (!i->needs_info) {
                        /* argv is in the database now; keep exe, which children inherit. */
                        t->string_bytes -= i->argv_len;
                        free(i->argv);
                        i->argv = NULL;
                        i->argv_len = 0;
                }
        }
        t->dirty_head = NULL;
        t->dirty_tail = &t->dirty_head;
        t->dirty_seq = 0;
        for (Login *l = t->dirty_logins, *n; l; l = n) {
                n = l->dirty_next;
                l->dirty = false;
                l->dirty_next = NULL;
                if (l->ended) {
                        if (hashmap_get(t->ended_logins, l->audit_session) == l)
                                hashmap_remove(t->ended_logins, l->audit_session);
                        login_free(l);
                }
        }
        t->dirty_logins = NULL;
        for (size_t k = 0; k < t->n_events; k++)
                event_done(&t->events[k]);
        t->n_events = 0;
        t->n_gaps = 0;
}

uint64_t tracker_drop_pending(Tracker *t) {
        Instance **tail = &t->dirty_head, *i, *next;
        uint64_t dropped = t->n_events;

        for (size_t k = 0; k < t->n_events; k++)
                event_done(&t->events[k]);
        t->n_events = 0;
        needs_list_prune(t);
        for (i = t->dirty_head; i; i = next) {
                next = i->dirty_next;
                if (i->flags & INSTANCE_ALIVE) {
                        i->pending_exec = -1;
                        *tail = i;
                        tail = &i->dirty_next;
                } else {
                        instance_free(t, i);
                        dropped++;
                }
        }
        *tail = NULL;
        t->dirty_tail = tail;
        return dropped;
}

void tracker_rewrite_live(Tracker *t) {
        size_t state = 0;
        Instance *i;
        void *v;

        while ((i = tracker_iterate(t, &state))) {
                i->written = false;
                mark_dirty(t, i);
        }
        state = 0;
        while (hashmap_iterate(t->logins, &state, NULL, &v))
                tracker_login_changed(t, v);
}

void tracker_get_stats(const Tracker *t, TrackerStats *ret) {
        *ret = t->stats;
}

size_t tracker_memory(const Tracker *t) {
        return hashmap_memory(t->by_pid) + hashmap_memory(t->strings) + t->stats.live * sizeof(Instance) + t->string_bytes +
               t->n_events_alloc * sizeof(TrackerEvent) + t->n_needs_alloc * sizeof(Instance *);
}

void tracker_set_image_owner(Tracker *t, Instance *i, bool root_owned) {
        (void) t;
        i->image_owner_known = true;
        i->image_root_owned = root_owned;
}

bool tracker_same_start(const Instance *i, uint64_t start_ticks) {
        return ticks_match(i->start_ticks, start_ticks);
}
