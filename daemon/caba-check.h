/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caba-check: the periodic sweep comparing the kernel's CABA with the lineage from events (daemon-internal). */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

/* Kernel CABA cross-check sweep, on kernels with NScaba: only: how often. */
#define CABA_SWEEP_USEC (5 * USEC_PER_SEC)

/* The sweep's timer: compares a slice of the live processes, then re-arms itself. */
int on_caba_timer(sd_event_source *s, uint64_t usec, void *userdata);
