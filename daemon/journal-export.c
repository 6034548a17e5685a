/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Journal entries carrying LINEAGE_* fields, so journald's own forwarding takes lineage across a fleet. */
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "hashmap.h"
#include "json-text.h"
#include "journal-export.h"
#include "lineage/fields.h"
#include "procfs.h"

/* MESSAGE_IDs, so that `journalctl MESSAGE_ID=…` finds each kind. */
#define MESSAGE_ID_EXEC "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a60"
#define MESSAGE_ID_LOGIN_START "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a61"
#define MESSAGE_ID_LOGIN_END "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a62"
#define MESSAGE_ID_PROCESS "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a63"
#define FIELD_MAX 4096U
#define ENTRY_FIELDS_MAX 40U

/* Past this many remembered processes, new ones are not remembered: their ancestors are then exported
 * only as far as the tracker still knows them (alive). */
#define JOURNAL_EXPORT_NODES_MAX (1U << 20)
#define ANCESTORS_MAX 4096U

/* What the export remembers of a process: enough to write its entry after it exited, when a descendant's
 * exec first names it, and whether it was written already. */
typedef struct Node {
        uint64_t id, parent_id;
        int32_t pid, parent_pid;
        uint64_t start_time, exit_time;
        uint32_t uid, loginuid, sessionid;
        int32_t sid;
        LineageSource source;
        char comm[32];
        char *exe, *cgroup;             /* copied at its exit; while alive the tracker's are read */
        unsigned children;              /* nodes whose parent this is */
        bool alive, exported;
} Node;

struct JournalExport {
        Tracker *tracker;
        JournalExportMode mode;
        Hashmap *nodes;                 /* instance id -> Node */
        uint64_t sent, failed;
        bool full_warned;
};

int journal_export_mode_from_string(const char *s) {
        if (streq(s, "logins"))
                return JOURNAL_EXPORT_LOGINS;
        if (streq(s, "execs"))
                return JOURNAL_EXPORT_EXECS;
        return -EINVAL;
}

static void user_name(uint32_t uid, char *buf, size_t size) {
        char pwbuf[4096];
        struct passwd pw, *res = NULL;

        if (getpwuid_r((uid_t) uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res && res->pw_name)
                snprintf(buf, size, "%s", res->pw_name);
        else
                snprintf(buf, size, "%u", uid);
}

/* argv as one line: arguments joined by spaces, control characters (C0, DEL and C1) and bytes that are
 * not UTF-8 as '?' (a character cut at the end too), bounded. */
static void argv_line(const Instance *i, char *buf, size_t size) {
        size_t o = 0;

        for (uint32_t k = 0; i->argv && k < i->argv_len && o + 1 < size;) {
                unsigned char c = (unsigned char) i->argv[k];
                size_t n = c < 0x80 ? 1 : utf8_valid_len((const unsigned char *) i->argv + k, i->argv_len - k);
                bool c1 = c == 0xc2 && n == 2 && (unsigned char) i->argv[k + 1] < 0xa0;

                if (c >= 0x80 && n > 1 && !c1 && o + n < size) {
                        memcpy(buf + o, i->argv + k, n);
                        o += n;
                        k += (uint32_t) n;
                        continue;
                }
                buf[o++] = c == 0 ? ' ' : c < 0x20 || c >= 0x7f ? '?' : (char) c;
                k += c1 ? 2 : 1;
        }
        while (o > 0 && buf[o - 1] == ' ')
                o--;
        buf[o] = 0;
}

/* An entry being built: "NAME=value" strings for sd_journal_sendv(). */
typedef struct Entry {
        struct iovec iov[ENTRY_FIELDS_MAX];
        size_t n;
        bool failed;
} Entry;

static void entry_add(const char *name, const char *value, void *userdata) {
        Entry *e = userdata;
        char *s;

        if (e->n >= ENTRY_FIELDS_MAX || asprintf(&s, "%s=%s", name, value) < 0) {
                e->failed = true;
                return;
        }
        e->iov[e->n++] = (struct iovec) { .iov_base = s, .iov_len = strlen(s) };
}

static void entry_addf(Entry *e, const char *name, const char *fmt, ...) _printf_(3, 4);
static void entry_addf(Entry *e, const char *name, const char *fmt, ...) {
        char buf[FIELD_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (buf[0])     /* never an empty field */
                entry_add(name, buf, e);
}

static int entry_send(Entry *e) {
        int r = e->failed ? -ENOMEM : sd_journal_sendv(e->iov, (int) e->n);

        for (size_t k = 0; k < e->n; k++)
                free(e->iov[k].iov_base);
        e->n = 0;
        return r;
}

static void count(JournalExport *j, int r) {
        if (r < 0) {
                if (j->failed++ == 0)
                        log_warning_errno(r, "Failed to send a lineage entry to the journal, continuing: %m");
        } else
                j->sent++;
}

/* The login as the shared field definition takes it; user: room for its name. */
static LineageFieldLogin field_login(const Login *l, char user[static 256]) {
        user_name(l->loginuid, user, 256);
        return (LineageFieldLogin) {
                .user = user,
                .uid = l->loginuid,
                .service = l->service,
                .remote_address = l->remote_address,
                .remote_port = l->remote_port,
                .session = l->audit_session,
                .tty = l->tty,
                .self_declared = l->self_declared,
        };
}

/* Whether LINEAGE_ARGV, split at spaces, gives argv back: not when an argument is empty or holds a
 * space or a control byte, nor when the line was cut. */
static bool argv_line_exact(const Instance *i, size_t line_size) {
        if (!i->argv || i->argv_len == 0)
                return true;
        if (i->argv_len + 1 >= line_size || i->argv[i->argv_len - 1] != 0)
                return false;
        for (uint32_t k = 0; k < i->argv_len; k++) {
                unsigned char c = (unsigned char) i->argv[k];

                if ((c == 0 && (k == 0 || i->argv[k - 1] == 0)) || c == ' ' || (c != 0 && c < 0x20) || c == 0x7f)
                        return false;
        }
        return true;
}

/* The fields a process's entry carries whatever the event: who it is, where it came from, who ran it. */
static void add_process_fields(Entry *e, const Node *n, const Instance *live) {
        entry_addf(e, LINEAGE_FIELD_PID, "%d", n->pid);
        if (n->parent_pid > 0)
                entry_addf(e, LINEAGE_FIELD_PARENT_PID, "%d", n->parent_pid);
        if (n->parent_id > 0)
                entry_addf(e, LINEAGE_FIELD_PARENT_INSTANCE, "%" PRIu64, n->parent_id);
        entry_addf(e, LINEAGE_FIELD_SOURCE, "%s", lineage_source_to_string(n->source) ?: "unknown");
        entry_addf(e, LINEAGE_FIELD_START_TIME, "%" PRIu64, n->start_time);
        if (n->exit_time > 0)
                entry_addf(e, LINEAGE_FIELD_EXIT_TIME, "%" PRIu64, n->exit_time);
        entry_addf(e, LINEAGE_FIELD_COMM, "%s", live ? live->comm : n->comm);
        entry_addf(e, LINEAGE_FIELD_EXE, "%s", (live ? live->exe : n->exe) ?: "");
        entry_addf(e, LINEAGE_FIELD_UID, "%u", n->uid);
        if (n->loginuid != PROCFS_UNSET_ID)
                entry_addf(e, LINEAGE_FIELD_AUDIT_LOGINUID, "%u", n->loginuid);
        if (n->sessionid != PROCFS_UNSET_ID)
                entry_addf(e, LINEAGE_FIELD_AUDIT_SESSION, "%u", n->sessionid);
        if (n->sid > 0)
                entry_addf(e, LINEAGE_FIELD_SID, "%d", n->sid);
}

static void add_cgroup(Entry *e, const char *cgroup) {
        char container[PROCFS_CONTAINER_ID_LEN + 1];

        if (!cgroup || !cgroup[0])
                return;
        entry_addf(e, LINEAGE_FIELD_CGROUP, "%s", cgroup);
        if (procfs_container_id(cgroup, container) > 0)
                entry_add(LINEAGE_FIELD_CONTAINER, container, e);
}

/* A node's facts from the live instance (refreshed: a uid or a name may have changed since). */
static void node_update(Node *n, const Instance *i) {
        n->pid = i->pid;
        n->parent_id = n->parent_id ?: i->birth_parent_id;
        n->parent_pid = i->birth_parent_pid;
        n->start_time = i->start_time;
        n->uid = i->uid;
        n->loginuid = i->loginuid;
        n->sessionid = i->sessionid;
        n->sid = i->sid;
        n->source = i->source;
        memcpy(n->comm, i->comm, sizeof(n->comm));
}

static Node *node_get(JournalExport *j, uint64_t id) {
        return id > 0 ? hashmap_get(j->nodes, id) : NULL;
}

/* The live instance a node stands for, if the tracker still has it. */
static const Instance *node_live(JournalExport *j, const Node *n) {
        const Instance *i = n->alive ? tracker_get(j->tracker, n->pid) : NULL;

        return i && i->id == n->id ? i : NULL;
}

/* The node of a live instance, made when first needed (a process found by the start-up scan has none). */
static Node *node_of(JournalExport *j, const Instance *i) {
        Node *n = node_get(j, i->id), *parent;

        if (n)
                return n;
        if (hashmap_size(j->nodes) >= JOURNAL_EXPORT_NODES_MAX) {
                if (!j->full_warned)
                        log_warning("The journal export remembers %u processes, not remembering more: ancestors that "
                                    "exited will be missing from it.", JOURNAL_EXPORT_NODES_MAX);
                j->full_warned = true;
                return NULL;
        }
        n = calloc(1, sizeof(Node));
        if (!n)
                return NULL;
        n->id = i->id;
        n->alive = true;
        node_update(n, i);
        if (hashmap_put(j->nodes, n->id, n) < 0) {
                free(n);
                return NULL;
        }
        parent = node_get(j, n->parent_id);
        if (parent)
                parent->children++;
        return n;
}

/* Forgets n, and then its parent, as long as neither is alive nor the parent of a remembered node. */
static void node_release(JournalExport *j, Node *n) {
        while (n && !n->alive && n->children == 0) {
                Node *parent = node_get(j, n->parent_id);

                hashmap_remove(j->nodes, n->id);
                free(n->exe);
                free(n->cgroup);
                free(n);
                if (parent && parent->children > 0)
                        parent->children--;
                n = parent;
        }
}

static void node_exited(JournalExport *j, const Instance *i) {
        Node *n = node_get(j, i->id);

        if (!n)
                return;
        node_update(n, i);
        n->alive = false;
        n->exit_time = i->exit_time ?: 1;
        n->exe = i->exe ? strdup(i->exe) : NULL;
        n->cgroup = i->cgroup ? strdup(i->cgroup) : NULL;
        node_release(j, n);
}

/* The entry of an ancestor that never exec'd under watch: its image is its birth parent's (a fork copies
 * it), which a reader takes from the parent's entry; its exe is here for readers that have only this. */
static void send_process(JournalExport *j, Node *n) {
        const Instance *live = node_live(j, n);
        Entry e = {};

        if (live)
                node_update(n, live);
        entry_addf(&e, "MESSAGE", "process %s[%d]: an ancestor of an exported process", n->comm[0] ? n->comm : "?", n->pid);
        entry_add("MESSAGE_ID", MESSAGE_ID_PROCESS, &e);
        entry_add("PRIORITY", "7", &e);
        entry_add(LINEAGE_FIELD_EVENT, LINEAGE_EVENT_VALUE_PROCESS, &e);
        add_process_fields(&e, n, live);
        add_cgroup(&e, live ? live->cgroup : n->cgroup);
        entry_addf(&e, LINEAGE_FIELD_INSTANCE, "%" PRIu64, n->id);
        count(j, entry_send(&e));
        n->exported = true;
}

/* Before a process's own entry: each birth ancestor not exported yet, nearest first, up to the first one
 * that was (or that the export never knew). */
static void export_ancestors(JournalExport *j, const Instance *i) {
        uint64_t id = i->birth_parent_id;
        int32_t pid = i->birth_parent_pid;

        for (unsigned depth = 0; id > 0 && depth < ANCESTORS_MAX; depth++) {
                Node *n = node_get(j, id);

                if (!n) {
                        /* Not seen forking (found by the start-up scan): the tracker has it if it lives. */
                        const Instance *p = pid > 0 ? tracker_get(j->tracker, pid) : NULL;

                        if (!p || p->id != id || !(n = node_of(j, p)))
                                return;
                }
                if (n->exported)
                        return;
                send_process(j, n);
                id = n->parent_id;
                pid = n->parent_pid;
        }
}

/* i: the login process as the tracker has it, if it does (at its exit no longer by its pid). */
static void send_login(JournalExport *j, const Login *l, const Instance *i, bool start) {
        char user[256], remote[96] = "";
        LineageFieldLogin fl = field_login(l, user);
        Node *n = NULL;
        Entry e = {};

        if (i && i->id == l->instance && j->mode == JOURNAL_EXPORT_EXECS && (n = node_of(j, i)))
                node_update(n, i);
        if (l->remote_address)
                snprintf(remote, sizeof(remote), "%s:%d", l->remote_address, l->remote_port);
        entry_addf(&e, "MESSAGE", "Login %s: session %u of %s via %s%s%s%s", start ? "began" : "ended",
                   l->audit_session, user, l->service ?: "?", remote[0] ? " from " : "", remote,
                   l->self_declared ? " (self-declared: claimed by an unprivileged process)" : "");
        entry_add("MESSAGE_ID", start ? MESSAGE_ID_LOGIN_START : MESSAGE_ID_LOGIN_END, &e);
        entry_add("PRIORITY", "6", &e);
        entry_add(LINEAGE_FIELD_EVENT, start ? LINEAGE_EVENT_VALUE_LOGIN_START : LINEAGE_EVENT_VALUE_LOGIN_END, &e);
        entry_addf(&e, LINEAGE_FIELD_TIME, "%" PRIu64, start ? l->start_time : l->end_time ?: (i ? i->exit_time : 0));
        if (i && i->id == l->instance) {
                Node tmp = {};

                node_update(&tmp, i);
                tmp.id = i->id;
                add_process_fields(&e, &tmp, i);
        } else
                entry_addf(&e, LINEAGE_FIELD_PID, "%d", l->pid);
        entry_addf(&e, LINEAGE_FIELD_LOGIN_INSTANCE, "%" PRIu64, l->instance);
        entry_addf(&e, LINEAGE_FIELD_LOGIN_LOGIND_SESSION, "%s", l->logind_session ?: "");
        entry_addf(&e, LINEAGE_FIELD_LOGIN_UNIT, "%s", l->unit ?: "");
        /* The login process's own fields, as for any process: it is where its ancestry would end. */
        lineage_fields_foreach(&(LineageFieldValues) { .instance = l->instance, .login = &fl }, entry_add, &e);
        count(j, entry_send(&e));
        if (n && start)
                n->exported = true;
}

void journal_export_login_start(JournalExport *j, const Login *l) {
        if (j)
                send_login(j, l, tracker_get(j->tracker, l->pid), true);
}

/* The ancestry and the login of i, walked as ResolveBatch walks the database: up the birth chain (here
 * its live part, the CABA chain), the nearest LINEAGE_ANCESTRY_MAX names, stopping at the login. */
static const Login *walk(JournalExport *j, const Instance *i, char ancestry[static LINEAGE_ANCESTRY_SIZE]) {
        LineageAncestor chain[LINEAGE_ANCESTRY_MAX] = {};
        const Login *login = NULL;
        size_t n = 0;

        for (const Instance *a = i; a; a = tracker_caba(a)) {
                if (n < LINEAGE_ANCESTRY_MAX)
                        chain[n++] = (LineageAncestor) { .pid = a->pid, .comm = a->comm };
                if (a->flags & INSTANCE_LOGIN) {
                        login = a->login;
                        break;
                }
        }
        lineage_ancestry_format(chain, n, ancestry, LINEAGE_ANCESTRY_SIZE);
        return login ?: tracker_login_for_session(j->tracker, i->sessionid);
}

static void send_exec(JournalExport *j, const TrackerEvent *ev, const Instance *i) {
        char argv[FIELD_MAX], ancestry[LINEAGE_ANCESTRY_SIZE], user[256];
        Node *n = node_of(j, i), tmp = {};
        LineageFieldLogin fl;
        const Login *l;
        Entry e = {};

        export_ancestors(j, i);
        if (!n)
                n = &tmp;
        node_update(n, i);
        n->id = i->id;
        l = walk(j, i, ancestry);
        if (l)
                fl = field_login(l, user);
        argv_line(i, argv, sizeof(argv));
        entry_addf(&e, "MESSAGE", "exec %s[%d]: %s", i->comm[0] ? i->comm : "?", i->pid, argv[0] ? argv : "(not recorded)");
        entry_add("MESSAGE_ID", MESSAGE_ID_EXEC, &e);
        entry_add("PRIORITY", "6", &e);
        entry_add(LINEAGE_FIELD_EVENT, LINEAGE_EVENT_VALUE_EXEC, &e);
        entry_addf(&e, LINEAGE_FIELD_TIME, "%" PRIu64, ev->time);
        add_process_fields(&e, n, i);
        entry_addf(&e, LINEAGE_FIELD_ARGV, "%s", argv);
        if (!argv_line_exact(i, sizeof(argv))) {
                /* Whole (up to the daemon's argv limit), in the form answers give: not UTF-8 as \xNN. */
                _cleanup_free_ char *js = argv_to_json(i->argv, i->argv_len);

                if (js)
                        entry_add(LINEAGE_FIELD_ARGV_JSON, js, &e);
                else
                        e.failed = true;
        }
        if (i->flags & INSTANCE_ARGV_TRUNCATED)
                entry_add(LINEAGE_FIELD_ARGV_TRUNCATED, "1", &e);
        add_cgroup(&e, i->cgroup);
        if (l)
                entry_addf(&e, LINEAGE_FIELD_LOGIN_INSTANCE, "%" PRIu64, l->instance);
        lineage_fields_foreach(&(LineageFieldValues) { .instance = i->id, .ancestry = ancestry, .login = l ? &fl : NULL },
                               entry_add, &e);
        count(j, entry_send(&e));
        n->exported = true;
}

static void on_event(const TrackerEvent *ev, const Instance *i, void *userdata) {
        JournalExport *j = userdata;

        switch (ev->type) {
        case LINEAGE_EVENT_EXIT:
                if (i->login)
                        send_login(j, i->login, i, false);
                node_exited(j, i);
                return;
        case LINEAGE_EVENT_FORK:
                /* Remembered from birth: it may exit before a descendant's exec names it. */
                if (j->mode == JOURNAL_EXPORT_EXECS)
                        (void) node_of(j, i);
                return;
        case LINEAGE_EVENT_EXEC:
                if (j->mode == JOURNAL_EXPORT_EXECS)
                        send_exec(j, ev, i);
                return;
        default:
                return;
        }
}

int journal_export_new(JournalExport **ret, Tracker *t, JournalExportMode mode) {
        _cleanup_free_ JournalExport *j = calloc(1, sizeof(JournalExport));
        int r;

        if (!j)
                return -ENOMEM;
        j->tracker = t;
        j->mode = mode;
        r = hashmap_new(&j->nodes);
        if (r < 0)
                return r;
        r = tracker_add_observer(t, on_event, j);
        if (r < 0) {
                hashmap_free(j->nodes);
                return r;
        }
        *ret = TAKE_PTR(j);
        return 0;
}

JournalExport *journal_export_free(JournalExport *j) {
        size_t state = 0;
        void *v;

        if (!j)
                return NULL;
        tracker_remove_observer(j->tracker, j);
        while (j->nodes && hashmap_iterate(j->nodes, &state, NULL, &v)) {
                Node *n = v;

                free(n->exe);
                free(n->cgroup);
                free(n);
        }
        hashmap_free(j->nodes);
        free(j);
        return NULL;
}

uint64_t journal_export_sent(const JournalExport *j) {
        return j ? j->sent : 0;
}
