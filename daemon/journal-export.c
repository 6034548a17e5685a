/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Journal entries carrying LINEAGE_* fields, so journald's own forwarding takes lineage across a fleet. */
#include <pwd.h>
#include <systemd/sd-journal.h>

#include "journal-export.h"

/* MESSAGE_IDs, so that `journalctl MESSAGE_ID=…` finds each kind. */
#define MESSAGE_ID_EXEC "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a60"
#define MESSAGE_ID_LOGIN_START "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a61"
#define MESSAGE_ID_LOGIN_END "3b8a1c5e2f6d4e0f9a7b1c2d3e4f5a62"
#define ANCESTRY_MAX 8U
#define FIELD_MAX 4096U

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

/* The live ancestry, oldest first: the CABA chain (alive ancestors) up to a few steps. */
static void ancestry_line(const Instance *i, char *buf, size_t size) {
        const Instance *chain[ANCESTRY_MAX];
        size_t n = 0, o = 0;

        for (const Instance *a = i; a && n < ANCESTRY_MAX; a = tracker_caba(a))
                chain[n++] = a;
        buf[0] = 0;
        while (n-- > 0 && o < size)
                o += (size_t) snprintf(buf + o, size - o, "%s%s[%d]", o ? " > " : "",
                                       chain[n]->comm[0] ? chain[n]->comm : "?", chain[n]->pid);
}

static void count(JournalExport *j, int r) {
        if (r < 0) {
                if (j->failed++ == 0)
                        log_warning_errno(r, "Failed to send a lineage entry to the journal, continuing: %m");
        } else
                j->sent++;
}

static void send_login(JournalExport *j, const Login *l, bool start) {
        char user[256], remote[96] = "";

        user_name(l->loginuid, user, sizeof(user));
        if (l->remote_address)
                snprintf(remote, sizeof(remote), "%s:%d", l->remote_address, l->remote_port);
        count(j, sd_journal_send("MESSAGE=Login %s: session %u of %s via %s%s%s%s", start ? "began" : "ended",
                                 l->audit_session, user, l->service ?: "?", remote[0] ? " from " : "", remote,
                                 l->self_declared ? " (self-declared: claimed by an unprivileged process)" : "",
                                 "MESSAGE_ID=%s", start ? MESSAGE_ID_LOGIN_START : MESSAGE_ID_LOGIN_END,
                                 "PRIORITY=6",
                                 "LINEAGE_EVENT=%s", start ? "login-start" : "login-end",
                                 "LINEAGE_INSTANCE=%" PRIu64, l->instance,
                                 "LINEAGE_PID=%d", l->pid,
                                 "LINEAGE_LOGIN_USER=%s", user,
                                 "LINEAGE_LOGIN_UID=%u", l->loginuid,
                                 "LINEAGE_LOGIN_SERVICE=%s", l->service ?: "",
                                 "LINEAGE_LOGIN_REMOTE=%s", remote,
                                 "LINEAGE_LOGIN_SESSION=%u", l->audit_session,
                                 "LINEAGE_LOGIN_TTY=%s", l->tty ?: "",
                                 "LINEAGE_LOGIN_SELF_DECLARED=%d", l->self_declared,
                                 NULL));
}

void journal_export_login_start(JournalExport *j, const Login *l) {
        if (j)
                send_login(j, l, true);
}

static void on_event(const TrackerEvent *e, const Instance *i, void *userdata) {
        JournalExport *j = userdata;
        char argv[FIELD_MAX], ancestry[ANCESTRY_MAX * 48], user[256] = "", remote[96] = "", session[16] = "";
        const Login *l;

        if (e->type == LINEAGE_EVENT_EXIT && i->login) {
                send_login(j, i->login, false);
                return;
        }
        if (e->type != LINEAGE_EVENT_EXEC)
                return;
        l = tracker_login_for_session(j->tracker, i->sessionid);
        if (l) {
                user_name(l->loginuid, user, sizeof(user));
                if (l->remote_address)
                        snprintf(remote, sizeof(remote), "%s:%d", l->remote_address, l->remote_port);
                snprintf(session, sizeof(session), "%u", l->audit_session);
        }
        argv_line(i, argv, sizeof(argv));
        ancestry_line(i, ancestry, sizeof(ancestry));
        count(j, sd_journal_send("MESSAGE=exec %s[%d]: %s", i->comm[0] ? i->comm : "?", i->pid, argv[0] ? argv : "(not recorded)",
                                 "MESSAGE_ID=%s", MESSAGE_ID_EXEC,
                                 "PRIORITY=6",
                                 "LINEAGE_EVENT=exec",
                                 "LINEAGE_INSTANCE=%" PRIu64, i->id,
                                 "LINEAGE_PID=%d", i->pid,
                                 "LINEAGE_PARENT_PID=%d", i->birth_parent_pid,
                                 "LINEAGE_COMM=%s", i->comm,
                                 "LINEAGE_EXE=%s", i->exe ?: "",
                                 "LINEAGE_ARGV=%s", argv,
                                 "LINEAGE_UID=%u", i->uid,
                                 "LINEAGE_ANCESTRY=%s", ancestry,
                                 "LINEAGE_LOGIN_USER=%s", user,
                                 "LINEAGE_LOGIN_SERVICE=%s", l && l->service ? l->service : "",
                                 "LINEAGE_LOGIN_REMOTE=%s", remote,
                                 "LINEAGE_LOGIN_SESSION=%s", session,
                                 "LINEAGE_LOGIN_SELF_DECLARED=%s", l ? (l->self_declared ? "1" : "0") : "",
                                 NULL));
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
