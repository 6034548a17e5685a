/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineage-varlink: org.lineaged.Lineage over our varlink server; translates calls to the query layer. */
#pragma once

#include "query.h"
#include "varlink.h"

typedef struct LineageVarlink LineageVarlink;

/* Serves on the socket systemd passed (LISTEN_FDS, named "varlink"), else binds path (mode 0666:
 * authorization is per call, from SO_PEERCRED). */
int lineage_varlink_new(LineageVarlink **ret, sd_event *e, Query *q, const char *path);
LineageVarlink *lineage_varlink_free(LineageVarlink *v);
void lineage_varlink_get_stats(LineageVarlink *v, VarlinkStats *ret);

DEFINE_TRIVIAL_CLEANUP_FUNC(LineageVarlink *, lineage_varlink_free);
