/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Names, default paths and enums shared by the daemon, the client and the tests. */
#pragma once

#define LINEAGE_DEFAULT_DATABASE "/var/lib/lineaged/lineage.db"
#define LINEAGE_DEFAULT_VARLINK "/run/lineaged/org.lineaged.Lineage"
#define LINEAGE_DEFAULT_PROC "/proc"

#define LINEAGE_VARLINK_INTERFACE "org.lineaged.Lineage"
#define LINEAGE_DBUS_NAME "org.lineaged.Lineage1"
#define LINEAGE_DBUS_PATH "/org/lineaged/Lineage1"
#define LINEAGE_DBUS_INTERFACE "org.lineaged.Lineage1"

/* Kinds of process events. The numbers are stored in the database (table event_types): never renumber. */
typedef enum LineageEventType {
        LINEAGE_EVENT_FORK = 1,
        LINEAGE_EVENT_EXEC = 2,
        LINEAGE_EVENT_UID = 3,
        LINEAGE_EVENT_GID = 4,
        LINEAGE_EVENT_SID = 5,
        LINEAGE_EVENT_PTRACE = 6,
        LINEAGE_EVENT_COMM = 7,
        LINEAGE_EVENT_COREDUMP = 8,
        LINEAGE_EVENT_EXIT = 9,
        _LINEAGE_EVENT_MAX,
} LineageEventType;

/* How a birth-lineage edge is known (stored as text in instances.lineage_source). */
typedef enum LineageSource {
        LINEAGE_SOURCE_FORK,        /* observed fork event */
        LINEAGE_SOURCE_KERNEL_CABA, /* NScaba: of a patched kernel */
        LINEAGE_SOURCE_PROCFS,      /* PPid at scan time: may already be a reaper */
        LINEAGE_SOURCE_UNKNOWN,     /* lost events */
        _LINEAGE_SOURCE_MAX,
} LineageSource;

/* Where the image (exe, argv) of an exec came from: /proc read after the event, or the kernel-side
 * record of the eBPF exec source. The names are shown by GetStatus and given to --exec-source. */
typedef enum LineageExecSource {
        LINEAGE_EXEC_SOURCE_PROCFS,
        LINEAGE_EXEC_SOURCE_BPF,
        _LINEAGE_EXEC_SOURCE_MAX,
} LineageExecSource;

const char *lineage_event_type_to_string(LineageEventType t);
LineageEventType lineage_event_type_from_string(const char *s);
const char *lineage_source_to_string(LineageSource s);
LineageSource lineage_source_from_string(const char *s);
const char *lineage_exec_source_to_string(LineageExecSource s);
LineageExecSource lineage_exec_source_from_string(const char *s);
