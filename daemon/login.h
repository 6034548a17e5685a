/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* login: begins logins where an audit session starts and reads their details from /proc (daemon-internal). */
#pragma once

#include <stdbool.h>

#include "daemon-internal.h"

#define LOGIN_DETAIL_TRIES 3U /* execs of a session looked at for its remote address */

/* Applies login details (begin and/or details) to the tracker: shared by live reads and replay. */
int apply_login_record(Daemon *d, const RecordLogin *rl);
/* Reads what a login's record lacks from instance i (the login instance, or an exec in its session). */
void read_login_details(Daemon *d, Login *l, Instance *i, const ProcInfo *info, bool begin);
/* i carries an audit session nobody before it had: begins the login at its earliest live ancestor in it. */
void begin_login(Daemon *d, Instance *i, const ProcInfo *info);
/* Whether exec'ing instance i shows login l's terminal (see login.c). */
bool exec_shows_tty(Daemon *d, Login *l, Instance *i, const ProcInfo *info);
/* tracker_foreach_new_login() callback after a scan: reads the details of the logins it found. */
void scan_login_details(Tracker *t, Login *l, void *userdata);
