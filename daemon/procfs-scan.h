/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* procfs-scan: reads every thread group of a procfs root on a few threads and hands them over in pid order. */
#pragma once

#include "procfs.h"

#define PROCFS_SCAN_THREADS_MAX 8U

/* One thread group as the scan read it. */
typedef struct ProcScanItem {
        int32_t pid;
        int error;              /* 0, or procfs_read()'s -errno (-ESRCH: gone since the listing) */
        ProcInfo info;          /* PROCFS_ALL, when error == 0 */
        int32_t *tids;          /* its thread ids, leader included, when info.threads > 1 (else NULL) */
        size_t n_tids;
        int32_t caba_tgid;      /* procfs_nscaba_tgid(): the kernel CABA's thread group, 0 the idle task, -1 none */
} ProcScanItem;

/* Called on the scanning thread, once per listed pid, in ascending pid order. It may take over
 * item->info's strings and item->tids (leaving NULL behind); the rest is freed after it returns.
 * Returning < 0 stops the scan with that error. */
typedef int (*ProcScanCallback)(ProcScanItem *item, void *userdata);

/* Lists root's thread groups, reads each one (procfs_read(PROCFS_ALL), its thread ids when it has more
 * than one thread, and the thread group of its NScaba thread), and calls cb for each in pid order.
 * n_threads extra threads read ahead of the caller (0: the caller reads everything itself); they only
 * read procfs into items, so cb sees exactly what a serial loop would have read. Thread creation
 * failures fall back to fewer threads. Returns how many threads read (the caller included), or
 * -errno: the listing failed, or cb's error. */
int procfs_scan(const char *root, unsigned n_threads, ProcScanCallback cb, void *userdata);

/* How many extra reader threads suit this machine: the CPUs we may run on, minus the caller's. */
unsigned procfs_scan_default_threads(void);
