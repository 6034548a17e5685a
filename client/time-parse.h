/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Times as systemd.time(7) writes them: parsed from the command line and formatted for output. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest output of time_format() and time_format_relative(), with the terminating NUL. */
#define TIME_FORMAT_MAX 96

/* Parses a time span such as "2h 30min", "5min", "1.5h" or "300ms20s" (a bare number is seconds)
 * into µs. Returns 0, -EINVAL for anything else, -ERANGE when it does not fit. */
int timespan_parse(const char *s, int64_t *ret);

/* Parses a point in time into µs since the epoch, relative to now (µs since the epoch):
 *   "now", "today", "yesterday", "tomorrow" (midnight), "@SECONDS[.fraction]",
 *   "+SPAN", "-SPAN", "SPAN ago", "SPAN left",
 *   "[WEEKDAY] [YYYY-MM-DD|YY-MM-DD][ |T][HH:MM[:SS[.fraction]]] [ZONE]" where a missing date is today
 *   and a missing time midnight, and ZONE is "UTC", "Z", "+HH[[:]MM]"/"-HH[[:]MM]", an abbreviation of
 *   the local zone or a tzdata name such as "Europe/Berlin"; without ZONE the local zone (TZ) applies;
 *   and, as lineagectl always took, a bare number of µs since the epoch.
 * Returns 0, -EINVAL when s is none of these (or names a date that does not exist, or a weekday that
 * does not match), -ERANGE when the result is before the epoch or too far ahead.
 * Changes TZ and calls tzset() while a tzdata name is converted, then restores them: not thread-safe. */
int time_parse(const char *s, int64_t now, int64_t *ret);

/* "2026-12-06 16:58:11.123456 CET": local time (or UTC when utc is set) with µs and the zone's
 * abbreviation, in a form time_parse() takes back. "n/a" for usec <= 0. Returns buf. */
const char *time_format(char *buf, size_t size, int64_t usec, bool utc);

/* "2h 5min ago", "3 days 4h ago", "10s left": the distance from now in at most two units, as systemd
 * prints it next to a timestamp. "n/a" for usec <= 0. Returns buf. */
const char *time_format_relative(char *buf, size_t size, int64_t usec, int64_t now);
