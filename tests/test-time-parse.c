/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl's systemd.time(7) parser and formatter, at a fixed "now" in fixed zones (tzdata). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "time-parse.h"

#define S INT64_C(1000000)

static unsigned failures, checked;

/* 2012-11-23 11:12:13.5 in Asia/Shanghai (UTC+8 all year), a Friday. */
static const int64_t NOW = INT64_C(1353640333) * S + S / 2;

static void set_tz(const char *tz) {
        setenv("TZ", tz, 1);
        tzset();
}

static void expect(const char *input, int64_t want, int line) {
        int64_t got = -1;
        int r = time_parse(input, NOW, &got);

        checked++;
        if (r < 0 || got != want) {
                fprintf(stderr, "line %d: \"%s\": got %" PRIi64 " (r=%d), want %" PRIi64 "\n", line, input, got, r, want);
                failures++;
        }
}
#define EXPECT(input, want) expect(input, want, __LINE__)

static void refuse(const char *input, int want_r, int line) {
        int64_t got = -1;
        int r = time_parse(input, NOW, &got);

        checked++;
        if (r != want_r) {
                fprintf(stderr, "line %d: \"%s\": r=%d (%" PRIi64 "), want r=%d\n", line, input, r, got, want_r);
                failures++;
        }
}
#define REFUSE(input, r) refuse(input, r, __LINE__)

static void span(const char *input, int64_t want, int line) {
        int64_t got = -1;
        int r = timespan_parse(input, &got);

        checked++;
        if (want < 0 ? r != want : (r < 0 || got != want)) {
                fprintf(stderr, "line %d: span \"%s\": got %" PRIi64 " (r=%d), want %" PRIi64 "\n", line, input, got, r,
                        want);
                failures++;
        }
}
#define SPAN(input, want) span(input, want, __LINE__)

static void text(const char *got, const char *want, int line) {
        checked++;
        if (strcmp(got, want) != 0) {
                fprintf(stderr, "line %d: got \"%s\", want \"%s\"\n", line, got, want);
                failures++;
        }
}
#define TEXT(got, want) text(got, want, __LINE__)

static void test_spans(void) {
        SPAN("2h 30min", 9000 * S);
        SPAN("2 h", 7200 * S);
        SPAN("2hours", 7200 * S);
        SPAN("48hr", 48 * 3600 * S);
        SPAN("1y", 31557600 * S);
        SPAN("12month", 12 * 2629800 * S);
        SPAN("55s500ms", 55 * S + 500000);
        SPAN("300ms20s", 20 * S + 300000);
        SPAN("5day", 5 * 86400 * S);
        SPAN("1.5h", 5400 * S);
        SPAN("90", 90 * S);
        SPAN("7\xc2\xb5s", 7);
        SPAN("1w", 7 * 86400 * S);
        SPAN("", -EINVAL);
        SPAN("5 lightyears", -EINVAL);
        SPAN("h", -EINVAL);
        SPAN("1.h", -EINVAL);
        SPAN("99999999999y", -ERANGE);
}

static void test_keywords_and_relative(void) {
        set_tz("Asia/Shanghai");
        EXPECT("now", NOW);
        EXPECT("today", INT64_C(1353600000) * S);
        EXPECT("yesterday", INT64_C(1353513600) * S);
        EXPECT("tomorrow", INT64_C(1353686400) * S);
        EXPECT("today UTC", INT64_C(1353628800) * S);
        EXPECT("+5min", NOW + 300 * S);
        EXPECT("-1 hour", NOW - 3600 * S);
        EXPECT("-1h30min", NOW - 5400 * S);
        EXPECT("1h ago", NOW - 3600 * S);
        EXPECT("2 hours ago", NOW - 7200 * S);
        EXPECT("1h 30min left", NOW + 5400 * S);
        EXPECT("@1353669133", INT64_C(1353669133) * S);
        EXPECT("@1353669133.25", INT64_C(1353669133) * S + S / 4);
        EXPECT("1353669133000000", INT64_C(1353669133) * S); /* µs, as lineagectl always took */
        REFUSE("@", -EINVAL);
        REFUSE("-", -EINVAL);
        REFUSE("ago", -EINVAL);
        REFUSE("1h", -EINVAL); /* a span alone is not a time: "+1h", "1h ago" or "1h left" */
        REFUSE("-100y", -ERANGE);
        REFUSE("99999999999999999999", -ERANGE);
}

static void test_absolute(void) {
        set_tz("Asia/Shanghai");
        EXPECT("2012-11-23 11:12:13", INT64_C(1353640333) * S);
        EXPECT("2012-11-23 11:12:13.123456", INT64_C(1353640333) * S + 123456);
        EXPECT("2012-11-23 11:12:13.1234567", INT64_C(1353640333) * S + 123456);
        EXPECT("Fri 2012-11-23 11:12:13", INT64_C(1353640333) * S);
        EXPECT("Friday 2012-11-23 11:12:13", INT64_C(1353640333) * S);
        EXPECT("2012-11-23T11:12:13", INT64_C(1353640333) * S);
        EXPECT("2012-11-23 11:12:13 UTC", INT64_C(1353669133) * S);
        EXPECT("2012-11-23T11:12:13Z", INT64_C(1353669133) * S);
        EXPECT("2012-11-23T11:12+02:00", INT64_C(1353661920) * S);
        EXPECT("2012-11-23 11:12 +0200", INT64_C(1353661920) * S);
        EXPECT("2012-11-23 11:12:13 -05", (INT64_C(1353669133) + 5 * 3600) * S);
        EXPECT("2012-11-23 11:12:13 CST", INT64_C(1353640333) * S); /* the local zone's abbreviation */
        EXPECT("2012-11-23 11:12:13 Europe/Berlin", (INT64_C(1353669133) - 3600) * S);
        EXPECT("2012-11-23", INT64_C(1353600000) * S);
        EXPECT("12-11-23", INT64_C(1353600000) * S);
        EXPECT("11:12:13", INT64_C(1353640333) * S);
        EXPECT("11:12", INT64_C(1353640320) * S);
        /* The named zone was given back: local time is Shanghai's again. */
        EXPECT("2012-11-23 11:12:13", INT64_C(1353640333) * S);
        REFUSE("Sat 2012-11-23 11:12:13", -EINVAL);
        REFUSE("2012-02-30", -EINVAL);
        REFUSE("2012-13-01", -EINVAL);
        REFUSE("25:00", -EINVAL);
        REFUSE("11:60", -EINVAL);
        REFUSE("1969-12-31", -EINVAL);
        REFUSE("garbage", -EINVAL);
        REFUSE("", -EINVAL);
        REFUSE("2012-11-23 11:12:13 Nowhere/Land", -EINVAL);
        REFUSE("2012-11-23 11:12:13 ../../../etc/passwd", -EINVAL);
        REFUSE("2012-11-23 11:12:13 /etc/passwd", -EINVAL);
        REFUSE("2012-11-23T11:12+25:00", -EINVAL);

        set_tz("Europe/Berlin"); /* summer time */
        EXPECT("2026-07-01 12:00", INT64_C(1782900000) * S);
        EXPECT("2026-07-01 12:00 CEST", INT64_C(1782900000) * S);
}

static void test_format(void) {
        char buf[TIME_FORMAT_MAX];
        int64_t back = 0;

        set_tz("Europe/Berlin");
        TEXT(time_format(buf, sizeof(buf), INT64_C(1782900000) * S + 42, false), "2026-07-01 12:00:00.000042 CEST");
        TEXT(time_format(buf, sizeof(buf), INT64_C(1782900000) * S + 42, true), "2026-07-01 10:00:00.000042 UTC");
        TEXT(time_format(buf, sizeof(buf), INT64_C(1353669133) * S, false), "2012-11-23 12:12:13.000000 CET");
        TEXT(time_format(buf, sizeof(buf), 0, false), "n/a");
        /* What is printed is taken back, in either form. */
        checked++;
        if (time_parse(time_format(buf, sizeof(buf), NOW, false), NOW, &back) < 0 || back != NOW) {
                fprintf(stderr, "local round trip of %s gave %" PRIi64 "\n", buf, back);
                failures++;
        }
        checked++;
        if (time_parse(time_format(buf, sizeof(buf), NOW, true), NOW, &back) < 0 || back != NOW) {
                fprintf(stderr, "UTC round trip of %s gave %" PRIi64 "\n", buf, back);
                failures++;
        }

        TEXT(time_format_relative(buf, sizeof(buf), NOW - (2 * 3600 + 5 * 60 + 3) * S, NOW), "2h 5min ago");
        TEXT(time_format_relative(buf, sizeof(buf), NOW - (3 * 86400 + 4 * 3600) * S, NOW), "3 days 4h ago");
        TEXT(time_format_relative(buf, sizeof(buf), NOW - 86400 * S - 30 * S, NOW), "1 day ago");
        TEXT(time_format_relative(buf, sizeof(buf), NOW + 10 * S, NOW), "10s left");
        TEXT(time_format_relative(buf, sizeof(buf), NOW - 250000, NOW), "250ms ago");
        TEXT(time_format_relative(buf, sizeof(buf), 0, NOW), "n/a");
}

int main(void) {
        if (access("/usr/share/zoneinfo/Asia/Shanghai", R_OK) < 0 ||
            access("/usr/share/zoneinfo/Europe/Berlin", R_OK) < 0) {
                printf("SKIP: tzdata is not installed (/usr/share/zoneinfo)\n");
                return 77;
        }
        test_spans();
        test_keywords_and_relative();
        test_absolute();
        test_format();
        printf("%u checks, %u failed\n", checked, failures);
        return failures ? 1 : 0;
}
