/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Journal entries carrying LINEAGE_* fields, so journald's own forwarding takes lineage across a fleet. */
#include <pwd.h>
#include <stdarg.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "journal-export.h"
#include "lineage/fields.h"
#include "procfs.h"

/* MESSAGE_IDs, so that `journalctl MESSAGE_ID=…` finds each kind. */
#define MESSAGE_ID_EXEC "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a60"
#define MESSAGE_ID_LOGIN_START "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a61"
#define MESSAGE_ID_LOGIN_END "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a62"
#define FIELD_MAX 4096U
#define ENTRY_FIELDS_MAX 24U

struct JournalExport {
        Tracker *tracker;
        uint64_t sent, failed;
};

static void user_name(uint32_t uid, char *buf, size_t size) {
        char pwbuf[4096];
        struct passwd pw, *res = NULL;

        if (getpwuid_r((uid_t) uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res && res->pw_name)
                snprintf(buf, size, "%s", res->pw_name);
        else
                snprintf(buf, size, "%u", uid);
}

/* argv as one line: arguments joined by spaces, control bytes as '?', bounded. */
static void argv_line(const Instance *i, char *buf, size_t size) {
        size_t o = 0;

        for (uint32_t k = 0; i->argv && k < i->argv_len && o + 1 < size; k++) {
                unsigned char c = (unsigned char) i->argv[k];

                buf[o++] = c == 0 ? ' ' : c < 0x20 || c == 0x7f ? '?' : (char) c;
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

static void send_login(JournalExport *j, const Login *l, bool start) {
        char user[256], remote[96] = "";
        LineageFieldLogin fl = field_login(l, user);
        Entry e = {};

        if (l->remote_address)
                snprintf(remote, sizeof(remote), "%s:%d", l->remote_address, l->remote_port);
        entry_addf(&e, "MESSAGE", "Login %s: session %u of %s via %s%s%s%s", start ? "began" : "ended",
                   l->audit_session, user, l->service ?: "?", remote[0] ? " from " : "", remote,
                   l->self_declared ? " (self-declared: claimed by an unprivileged process)" : "");
        entry_add("MESSAGE_ID", start ? MESSAGE_ID_LOGIN_START : MESSAGE_ID_LOGIN_END, &e);
        entry_add("PRIORITY", "6", &e);
        entry_add(LINEAGE_FIELD_EVENT, start ? "login-start" : "login-end", &e);
        entry_addf(&e, LINEAGE_FIELD_PID, "%d", l->pid);
        /* The login process's own fields, as for any process: it is where its ancestry would end. */
        lineage_fields_foreach(&(LineageFieldValues) { .instance = l->instance, .login = &fl }, entry_add, &e);
        count(j, entry_send(&e));
}

void journal_export_login_start(JournalExport *j, const Login *l) {
        if (j)
                send_login(j, l, true);
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

static void on_event(const TrackerEvent *ev, const Instance *i, void *userdata) {
        JournalExport *j = userdata;
        char argv[FIELD_MAX], ancestry[LINEAGE_ANCESTRY_SIZE], user[256];
        LineageFieldLogin fl;
        const Login *l;
        Entry e = {};

        if (ev->type == LINEAGE_EVENT_EXIT && i->login) {
                send_login(j, i->login, false);
                return;
        }
        if (ev->type != LINEAGE_EVENT_EXEC)
                return;
        l = walk(j, i, ancestry);
        if (l)
                fl = field_login(l, user);
        argv_line(i, argv, sizeof(argv));
        entry_addf(&e, "MESSAGE", "exec %s[%d]: %s", i->comm[0] ? i->comm : "?", i->pid, argv[0] ? argv : "(not recorded)");
        entry_add("MESSAGE_ID", MESSAGE_ID_EXEC, &e);
        entry_add("PRIORITY", "6", &e);
        entry_add(LINEAGE_FIELD_EVENT, "exec", &e);
        entry_addf(&e, LINEAGE_FIELD_PID, "%d", i->pid);
        if (i->birth_parent_pid > 0)
                entry_addf(&e, LINEAGE_FIELD_PARENT_PID, "%d", i->birth_parent_pid);
        entry_addf(&e, LINEAGE_FIELD_COMM, "%s", i->comm);
        entry_addf(&e, LINEAGE_FIELD_EXE, "%s", i->exe ?: "");
        entry_addf(&e, LINEAGE_FIELD_ARGV, "%s", argv);
        entry_addf(&e, LINEAGE_FIELD_UID, "%u", i->uid);
        if (i->cgroup && i->cgroup[0]) {
                char container[PROCFS_CONTAINER_ID_LEN + 1];

                entry_addf(&e, LINEAGE_FIELD_CGROUP, "%s", i->cgroup);
                if (procfs_container_id(i->cgroup, container) > 0)
                        entry_add(LINEAGE_FIELD_CONTAINER, container, &e);
        }
        lineage_fields_foreach(&(LineageFieldValues) { .instance = i->id, .ancestry = ancestry, .login = l ? &fl : NULL },
                               entry_add, &e);
        count(j, entry_send(&e));
}

int journal_export_new(JournalExport **ret, Tracker *t) {
        JournalExport *j = calloc(1, sizeof(JournalExport));
        int r;

        if (!j)
                return -ENOMEM;
        j->tracker = t;
        r = tracker_add_observer(t, on_event, j);
        if (r < 0) {
                free(j);
                return r;
        }
        *ret = j;
        return 0;
}

JournalExport *journal_export_free(JournalExport *j) {
        if (!j)
                return NULL;
        tracker_remove_observer(j->tracker, j);
        free(j);
        return NULL;
}

uint64_t journal_export_sent(const JournalExport *j) {
        return j ? j->sent : 0;
}
