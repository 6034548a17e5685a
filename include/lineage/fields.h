/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one definition of the LINEAGE_* journal fields, shared by lineaged --journal-export and lineagectl enrich. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How many processes LINEAGE_ANCESTRY names at most, and the room its text takes. */
#define LINEAGE_ANCESTRY_MAX 8U
#define LINEAGE_ANCESTRY_SIZE (LINEAGE_ANCESTRY_MAX * 48U)

/* The fields only --journal-export writes: they describe the event of its own entry (an exec, a login
 * beginning or ending), which a journal line enrich reads does not have; journald already stamps such a
 * line with the writer's _PID, _COMM, _EXE, _CMDLINE and _UID. */
#define LINEAGE_FIELD_EVENT "LINEAGE_EVENT"
#define LINEAGE_FIELD_PID "LINEAGE_PID"
#define LINEAGE_FIELD_PARENT_PID "LINEAGE_PARENT_PID"
#define LINEAGE_FIELD_COMM "LINEAGE_COMM"
#define LINEAGE_FIELD_EXE "LINEAGE_EXE"
#define LINEAGE_FIELD_ARGV "LINEAGE_ARGV"
#define LINEAGE_FIELD_UID "LINEAGE_UID"
#define LINEAGE_FIELD_CGROUP "LINEAGE_CGROUP"           /* the cgroup path it exec'd in */
#define LINEAGE_FIELD_CONTAINER "LINEAGE_CONTAINER"     /* the container id that path names, if any */

/* One process of an ancestry. */
typedef struct LineageAncestor {
        int32_t pid;
        const char *comm;               /* NULL or "": written as "?" */
} LineageAncestor;

/* The login a process belongs to: the nearest login up its birth chain. */
typedef struct LineageFieldLogin {
        const char *user;               /* the login user's name; NULL: its uid is written instead */
        int64_t uid;                    /* loginuid, -1: unknown */
        const char *service;
        const char *remote_address;
        int64_t remote_port;            /* <= 0: none */
        int64_t session;                /* audit session, -1: unknown */
        const char *tty;
        bool self_declared;
} LineageFieldLogin;

/* What the fields of one process are made of. */
typedef struct LineageFieldValues {
        uint64_t instance;
        const char *ancestry;           /* from lineage_ancestry_format() */
        const LineageFieldLogin *login; /* NULL: none known (no LINEAGE_LOGIN_* field at all) */
} LineageFieldValues;

/* chain[0] is the process, chain[k + 1] the birth parent of chain[k], at most LINEAGE_ANCESTRY_MAX of
 * them, ending at the login process when it is among them (the walk stops there). Written oldest first,
 * down to the process: "login[812] > bash[901] > sleep[977]". */
void lineage_ancestry_format(const LineageAncestor *chain, size_t n, char *buf, size_t size);

/* Calls cb with each field of the process that has a value, in a fixed order: LINEAGE_INSTANCE,
 * LINEAGE_ANCESTRY, then the LINEAGE_LOGIN_* fields. A field without a value is left out, never written
 * empty. */
typedef void (*LineageFieldCallback)(const char *name, const char *value, void *userdata);
void lineage_fields_foreach(const LineageFieldValues *v, LineageFieldCallback cb, void *userdata);
