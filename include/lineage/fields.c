/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The LINEAGE_* journal fields of a process, built one way for export and enrich alike. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fields.h"

void lineage_ancestry_format(const LineageAncestor *chain, size_t n, char *buf, size_t size) {
        size_t o = 0;

        if (size == 0)
                return;
        buf[0] = 0;
        if (n > LINEAGE_ANCESTRY_MAX)
                n = LINEAGE_ANCESTRY_MAX;
        while (n-- > 0 && o < size) {
                const char *comm = chain[n].comm && chain[n].comm[0] ? chain[n].comm : "?";
                int k = snprintf(buf + o, size - o, "%s%s[%" PRIi32 "]", o ? " > " : "", comm, chain[n].pid);

                if (k < 0)
                        break;
                o += (size_t) k;
        }
}

static void emit(LineageFieldCallback cb, void *userdata, const char *name, const char *value) {
        /* Never an empty field: journald would keep it, and readers could not tell it from a value. */
        if (value && value[0])
                cb(name, value, userdata);
}

static void emit_int(LineageFieldCallback cb, void *userdata, const char *name, int64_t v) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIi64, v);
        cb(name, buf, userdata);
}

static void emit_login(const LineageFieldLogin *l, LineageFieldCallback cb, void *userdata) {
        char buf[160];

        if (l->user && l->user[0])
                emit(cb, userdata, LINEAGE_FIELD_LOGIN_USER, l->user);
        else if (l->uid >= 0)
                emit_int(cb, userdata, LINEAGE_FIELD_LOGIN_USER, l->uid);
        if (l->uid >= 0)
                emit_int(cb, userdata, LINEAGE_FIELD_LOGIN_UID, l->uid);
        emit(cb, userdata, LINEAGE_FIELD_LOGIN_SERVICE, l->service);
        if (l->remote_address && l->remote_address[0]) {
                if (l->remote_port > 0)
                        snprintf(buf, sizeof(buf), strchr(l->remote_address, ':') ? "[%.80s]:%" PRIi64 : "%.80s:%" PRIi64,
                                 l->remote_address, l->remote_port);
                else
                        snprintf(buf, sizeof(buf), "%.80s", l->remote_address);
                emit(cb, userdata, LINEAGE_FIELD_LOGIN_REMOTE, buf);
        }
        if (l->session >= 0)
                emit_int(cb, userdata, LINEAGE_FIELD_LOGIN_SESSION, l->session);
        emit(cb, userdata, LINEAGE_FIELD_LOGIN_TTY, l->tty);
        emit(cb, userdata, LINEAGE_FIELD_LOGIN_SELF_DECLARED, l->self_declared ? "1" : "0");
}

void lineage_fields_foreach(const LineageFieldValues *v, LineageFieldCallback cb, void *userdata) {
        emit_int(cb, userdata, LINEAGE_FIELD_INSTANCE, (int64_t) v->instance);
        emit(cb, userdata, LINEAGE_FIELD_ANCESTRY, v->ancestry);
        if (v->login)
                emit_login(v->login, cb, userdata);
}
