/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What query-bench and dbus-query-bench share: the clock, and the head of the line bench/run parses. */
#pragma once

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static inline int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

/* Sorts lat (calls latencies in ns, summing to sum) and prints "query method=M calls=N errors=E p50_us=..
 * p90_us=.. p99_us=.. max_us=.. mean_us=..", without the newline: the caller adds its own fields. */
static inline void latency_print(const char *method, long calls, unsigned errors, uint64_t *lat, uint64_t sum) {
        qsort(lat, (size_t) calls, sizeof(uint64_t), cmp_u64);
#define PCT(p) ((double) lat[(size_t) ((double) (calls - 1) * (p))] / 1000.0)
        printf("query method=%s calls=%ld errors=%u p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f",
               method, calls, errors, PCT(0.50), PCT(0.90), PCT(0.99), (double) lat[calls - 1] / 1000.0,
               (double) sum / (double) calls / 1000.0);
#undef PCT
}
