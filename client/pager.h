/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A pager for lineagectl's output on a terminal, chosen as systemd's tools choose theirs. */
#pragma once

#include <stdbool.h>

/* Starts a pager and makes it standard output, unless disabled or standard output is not a terminal:
 * $SYSTEMD_PAGER, else $PAGER (each run by /bin/sh, so it may carry arguments; empty or "cat" means
 * none), else less, else more. less gets LESS=FRSXMK when LESS is unset (quit when the output fits one
 * screen, raw colors, no clearing, no paging on Ctrl-C... as systemd sets it). Returns 1 when a pager
 * runs, 0 when none was wanted or none could be started (the output then goes to the terminal),
 * -errno on failure before anything changed. */
int pager_open(bool disabled);

/* Flushes standard output to the pager, closes it and waits for the pager to end. Harmless when no
 * pager runs. */
void pager_close(void);
