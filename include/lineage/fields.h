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
/* What makes an exported entry stand alone: with these, the export of one host rebuilds every process of
 * an exported chain (lineagectl --journal). Times are µs of CLOCK_REALTIME, like answers'. */
#define LINEAGE_FIELD_TIME "LINEAGE_TIME"               /* when the entry's event happened */
#define LINEAGE_FIELD_PARENT_INSTANCE "LINEAGE_PARENT_INSTANCE" /* the birth parent's instance */
#define LINEAGE_FIELD_SOURCE "LINEAGE_SOURCE"           /* how the birth parent is known: fork, procfs, … */
#define LINEAGE_FIELD_START_TIME "LINEAGE_START_TIME"
#define LINEAGE_FIELD_EXIT_TIME "LINEAGE_EXIT_TIME"     /* only on a process entry of one that had exited */
#define LINEAGE_FIELD_ARGV_JSON "LINEAGE_ARGV_JSON"     /* argv as a JSON array, only when LINEAGE_ARGV split
                                                         * at spaces would not give it back */
#define LINEAGE_FIELD_ARGV_TRUNCATED "LINEAGE_ARGV_TRUNCATED" /* 1 when lineaged read only the start of argv */
#define LINEAGE_FIELD_AUDIT_LOGINUID "LINEAGE_AUDIT_LOGINUID" /* the process's own loginuid, when set */
#define LINEAGE_FIELD_AUDIT_SESSION "LINEAGE_AUDIT_SESSION"   /* the process's own audit session, when set */
#define LINEAGE_FIELD_SID "LINEAGE_SID"
#define LINEAGE_FIELD_LOGIN_INSTANCE "LINEAGE_LOGIN_INSTANCE" /* the instance its login began at */
#define LINEAGE_FIELD_LOGIN_LOGIND_SESSION "LINEAGE_LOGIN_LOGIND_SESSION" /* login entries only */
#define LINEAGE_FIELD_LOGIN_UNIT "LINEAGE_LOGIN_UNIT"                     /* login entries only */

/* LINEAGE_EVENT values. A process entry stands for an ancestor that never exec'd under watch (a fork
 * of a shell, a daemon's intermediate child), written when a descendant's exec first names it. */
#define LINEAGE_EVENT_VALUE_EXEC "exec"
#define LINEAGE_EVENT_VALUE_PROCESS "process"
#define LINEAGE_EVENT_VALUE_LOGIN_START "login-start"
#define LINEAGE_EVENT_VALUE_LOGIN_END "login-end"

/* The names of the shared login fields lineage_fields_foreach() writes. */
#define LINEAGE_FIELD_INSTANCE "LINEAGE_INSTANCE"
#define LINEAGE_FIELD_ANCESTRY "LINEAGE_ANCESTRY"
#define LINEAGE_FIELD_LOGIN_USER "LINEAGE_LOGIN_USER"
#define LINEAGE_FIELD_LOGIN_UID "LINEAGE_LOGIN_UID"
#define LINEAGE_FIELD_LOGIN_SERVICE "LINEAGE_LOGIN_SERVICE"
#define LINEAGE_FIELD_LOGIN_REMOTE "LINEAGE_LOGIN_REMOTE"
#define LINEAGE_FIELD_LOGIN_SESSION "LINEAGE_LOGIN_SESSION"
#define LINEAGE_FIELD_LOGIN_TTY "LINEAGE_LOGIN_TTY"
#define LINEAGE_FIELD_LOGIN_SELF_DECLARED "LINEAGE_LOGIN_SELF_DECLARED"

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
