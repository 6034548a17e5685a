/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* String tables for the enums in names.h. */
#include "lineage/names.h"
#include "lineage/util.h"

static const char *const event_type_table[_LINEAGE_EVENT_MAX] = {
        [LINEAGE_EVENT_FORK] = "fork",     [LINEAGE_EVENT_EXEC] = "exec",
        [LINEAGE_EVENT_UID] = "uid",       [LINEAGE_EVENT_GID] = "gid",
        [LINEAGE_EVENT_SID] = "sid",       [LINEAGE_EVENT_PTRACE] = "ptrace",
        [LINEAGE_EVENT_COMM] = "comm",     [LINEAGE_EVENT_COREDUMP] = "coredump",
        [LINEAGE_EVENT_EXIT] = "exit",
};

static const char *const source_table[_LINEAGE_SOURCE_MAX] = {
        [LINEAGE_SOURCE_FORK] = "fork",
        [LINEAGE_SOURCE_KERNEL_CABA] = "kernel-caba",
        [LINEAGE_SOURCE_PROCFS] = "procfs",
        [LINEAGE_SOURCE_UNKNOWN] = "unknown",
};

const char *lineage_event_type_to_string(LineageEventType t) {
        if (t <= 0 || t >= _LINEAGE_EVENT_MAX)
                return NULL;
        return event_type_table[t];
}

LineageEventType lineage_event_type_from_string(const char *s) {
        for (int i = 1; i < _LINEAGE_EVENT_MAX; i++)
                if (streq(event_type_table[i], s))
                        return (LineageEventType) i;
        return (LineageEventType) -EINVAL;
}

const char *lineage_source_to_string(LineageSource s) {
        if ((unsigned) s >= _LINEAGE_SOURCE_MAX)
                return NULL;
        return source_table[s];
}

LineageSource lineage_source_from_string(const char *s) {
        for (int i = 0; i < _LINEAGE_SOURCE_MAX; i++)
                if (streq(source_table[i], s))
                        return (LineageSource) i;
        return (LineageSource) -EINVAL;
}

static const char *const exec_source_table[_LINEAGE_EXEC_SOURCE_MAX] = {
        [LINEAGE_EXEC_SOURCE_PROCFS] = "procfs",
        [LINEAGE_EXEC_SOURCE_BPF] = "bpf",
};

const char *lineage_exec_source_to_string(LineageExecSource s) {
        if ((unsigned) s >= _LINEAGE_EXEC_SOURCE_MAX)
                return NULL;
        return exec_source_table[s];
}

LineageExecSource lineage_exec_source_from_string(const char *s) {
        for (int i = 0; i < _LINEAGE_EXEC_SOURCE_MAX; i++)
                if (streq(exec_source_table[i], s))
                        return (LineageExecSource) i;
        return (LineageExecSource) -EINVAL;
}
