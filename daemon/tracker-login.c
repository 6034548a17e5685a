/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tracker's logins: begun where an audit session starts, taken back on restart, and their trust. */
#include <linux/capability.h>

#include "tracker-internal.h"

/* Logins taken back from the database are not searched for a remote address again. */
#define LOGIN_ADOPTED_TRIES 1000U

void login_free(Login *l) {
        free(l->service);
        free(l->remote_address);
        free(l->tty);
        free(l->logind_session);
        free(l->unit);
        free(l);
}

int tracker_adopt_login(Tracker *t, const Login *row) {
        Instance *at = NULL;
        size_t it = 0;
        void *v;
        Login *l;

        while (hashmap_iterate(t->by_pid, &it, NULL, &v))
                if (((Instance *) v)->id == row->instance) {
                        at = v;
                        break;
                }
        if (!at || tracker_login_for_session(t, row->audit_session))
                return -ENOENT;
        l = calloc(1, sizeof(Login));
        if (!l)
                return -ENOMEM;
        *l = (Login) {
                .instance = row->instance, .pid = at->pid, .audit_session = row->audit_session,
                .loginuid = row->loginuid, .start_time = row->start_time, .remote_port = row->remote_port,
                .service = row->service ? strdup(row->service) : NULL,
                .remote_address = row->remote_address ? strdup(row->remote_address) : NULL,
                .tty = row->tty ? strdup(row->tty) : NULL,
                .logind_session = row->logind_session ? strdup(row->logind_session) : NULL,
                .unit = row->unit ? strdup(row->unit) : NULL,
                .detail_tries = LOGIN_ADOPTED_TRIES, .tty_settled = true,
                .self_declared = row->self_declared, .trust_checked = true,
        };
        if (hashmap_put(t->logins, l->audit_session, l) < 0) {
                login_free(l);
                return -ENOMEM;
        }
        at->login = l;
        at->flags |= INSTANCE_LOGIN;
        return 0;
}

void tracker_login_changed(Tracker *t, Login *l) {
        if (l->dirty)
                return;
        l->dirty = true;
        l->dirty_next = t->dirty_logins;
        t->dirty_logins = l;
}

Login *tracker_login_for_session(const Tracker *t, uint32_t audit_session) {
        return audit_session != PROCFS_UNSET_ID ? hashmap_get(t->logins, audit_session) : NULL;
}

void tracker_set_session_known(Tracker *t, TrackerSessionKnown cb, void *userdata) {
        t->session_known = cb;
        t->session_known_userdata = userdata;
}

/* An audit session had its login already, and it ended: processes that outlive the instance a session
 * began at keep its id, and the kernel never reuses it within a boot. */
static bool session_ended(const Tracker *t, uint32_t audit_session) {
        return hashmap_get(t->ended_logins, audit_session) ||
               (t->session_known && t->session_known(audit_session, t->session_known_userdata));
}

Login *tracker_login_begin(Tracker *t, Instance *at) {
        Login *l = tracker_login_for_session(t, at->sessionid);

        if (l || at->sessionid == PROCFS_UNSET_ID || !(at->flags & INSTANCE_ALIVE))
                return l;
        if (session_ended(t, at->sessionid))
                return NULL;
        l = calloc(1, sizeof(Login));
        if (!l)
                return NULL;
        *l = (Login) {
                .instance = at->id, .pid = at->pid, .audit_session = at->sessionid, .loginuid = at->loginuid,
                .start_time = at->start_time, .self_declared = true, /* until checked */
        };
        if (hashmap_put(t->logins, at->sessionid, l) < 0) {
                free(l);
                return NULL;
        }
        at->flags |= INSTANCE_LOGIN;
        at->login = l;
        mark_dirty(t, at);
        tracker_login_changed(t, l);
        return l;
}

void tracker_foreach_new_login(Tracker *t, TrackerLoginCallback cb, void *userdata) {
        for (Login *l = t->dirty_logins; l; l = l->dirty_next)
                if (!l->ended && !l->service && l->detail_tries == 0)
                        cb(t, l, userdata);
}

bool tracker_login_privileged(const Instance *at, const ProcInfo *now) {
        /* Read from the process that began it, not from a later holder of its pid. */
        if (!(now->have & PROCFS_STAT) || !ticks_match(at->start_ticks, now->start_ticks))
                return false;
        if (at->login_was_set)
                return true;
        if (!(now->have & PROCFS_STATUS))
                return false;
        if ((now->cap_eff & (UINT64_C(1) << CAP_AUDIT_CONTROL)) && !at->cred_execed)
                return true;
        return !at->cred_unprivileged && (now->ruid == 0 || now->euid == 0);
}

bool tracker_login_privileged_gone(const Instance *at) {
        return at->login_was_set || (!at->cred_unprivileged && (at->uid == 0 || at->euid == 0));
}

bool tracker_login_witnessed(const Instance *at, TrackerCarriesSession carries, void *userdata) {
        /* A session id is handed out once per loginuid write: a child in at's session inherited it. */
        for (const Instance *c = at->caba_children; c; c = c->caba_next)
                if (c->birth_parent_id == at->id && c->born_privileged && carries(c, at->sessionid, userdata))
                        return true;
        return false;
}
