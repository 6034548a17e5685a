/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* systemd.time(7) times for lineagectl: spans, timestamps with zones, and their display. */
#include "time-parse.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define USEC_PER_SEC_I INT64_C(1000000)
#define USEC_PER_MIN (60 * USEC_PER_SEC_I)
#define USEC_PER_HOUR (60 * USEC_PER_MIN)
#define USEC_PER_DAY (24 * USEC_PER_HOUR)
#define USEC_PER_WEEK (7 * USEC_PER_DAY)
#define USEC_PER_MONTH (2629800 * USEC_PER_SEC_I) /* 30.44 days, as systemd.time(7) defines it */
#define USEC_PER_YEAR (31557600 * USEC_PER_SEC_I) /* 365.25 days */
#define SECONDS_MAX (INT64_MAX / USEC_PER_SEC_I - 1)
#define ZONE_NAME_MAX 128

static const struct {
        const char *name;
        int64_t usec;
} span_units[] = {
        { "usec", 1 },
        { "us", 1 },
        { "\xc2\xb5s", 1 }, /* µs, MICRO SIGN */
        { "\xce\xbcs", 1 }, /* μs, GREEK SMALL LETTER MU */
        { "msec", 1000 },
        { "ms", 1000 },
        { "seconds", USEC_PER_SEC_I },
        { "second", USEC_PER_SEC_I },
        { "sec", USEC_PER_SEC_I },
        { "s", USEC_PER_SEC_I },
        { "minutes", USEC_PER_MIN },
        { "minute", USEC_PER_MIN },
        { "min", USEC_PER_MIN },
        { "m", USEC_PER_MIN },
        { "hours", USEC_PER_HOUR },
        { "hour", USEC_PER_HOUR },
        { "hr", USEC_PER_HOUR },
        { "h", USEC_PER_HOUR },
        { "days", USEC_PER_DAY },
        { "day", USEC_PER_DAY },
        { "d", USEC_PER_DAY },
        { "weeks", USEC_PER_WEEK },
        { "week", USEC_PER_WEEK },
        { "w", USEC_PER_WEEK },
        { "months", USEC_PER_MONTH },
        { "month", USEC_PER_MONTH },
        { "M", USEC_PER_MONTH },
        { "years", USEC_PER_YEAR },
        { "year", USEC_PER_YEAR },
        { "y", USEC_PER_YEAR },
};

static const char *const weekdays[7][2] = {
        { "Sun", "Sunday" },   { "Mon", "Monday" }, { "Tue", "Tuesday" }, { "Wed", "Wednesday" },
        { "Thu", "Thursday" }, { "Fri", "Friday" }, { "Sat", "Saturday" },
};

static bool unit_char(char c) {
        /* Letters, and the lead and continuation bytes of the two spellings of µ. */
        return isalpha((unsigned char) c) || (unsigned char) c >= 0x80;
}

static const char *skip_spaces(const char *s) {
        while (*s == ' ' || *s == '\t')
                s++;
        return s;
}

/* Up to max digits into *ret; returns how many were read (0: none). */
static size_t read_digits(const char *s, size_t max, uint64_t *ret) {
        uint64_t v = 0;
        size_t n = 0;

        while (n < max && s[n] >= '0' && s[n] <= '9') {
                v = v * 10 + (uint64_t) (s[n] - '0');
                n++;
        }
        *ret = v;
        return n;
}

/* ".ddd" after a number: the fraction of unit it adds (digits beyond µs precision are dropped). */
static const char *read_fraction(const char *s, int64_t unit, int64_t *ret) {
        int64_t v = 0, scale = unit;
        size_t n = 0;

        *ret = 0;
        if (*s != '.')
                return s;
        s++;
        for (; s[n] >= '0' && s[n] <= '9'; n++) {
                scale /= 10;
                v += (s[n] - '0') * scale;
        }
        if (n == 0)
                return NULL;
        *ret = v;
        return s + n;
}

static int64_t span_unit(const char *s, size_t len) {
        for (size_t i = 0; i < sizeof(span_units) / sizeof(span_units[0]); i++)
                if (strlen(span_units[i].name) == len && memcmp(span_units[i].name, s, len) == 0)
                        return span_units[i].usec;
        return -1;
}

int timespan_parse(const char *s, int64_t *ret) {
        int64_t total = 0;
        bool any = false;

        s = skip_spaces(s);
        while (*s) {
                int64_t unit, part, frac;
                const char *after;
                uint64_t n;
                size_t nd, nu;

                nd = read_digits(s, 19, &n);
                if (nd == 0 && *s != '.')
                        return -EINVAL;
                s += nd;
                after = s;
                if (*s == '.') /* skip the fraction now, read it once the unit is known */
                        for (s++; *s >= '0' && *s <= '9'; s++)
                                ;
                s = skip_spaces(s);
                for (nu = 0; unit_char(s[nu]); nu++)
                        ;
                unit = nu == 0 ? USEC_PER_SEC_I : span_unit(s, nu);
                if (unit < 0 || n > (uint64_t) INT64_MAX)
                        return -EINVAL;
                if (!read_fraction(after, unit, &frac))
                        return -EINVAL;
                if (__builtin_mul_overflow((int64_t) n, unit, &part) || __builtin_add_overflow(part, frac, &part) ||
                    __builtin_add_overflow(total, part, &total))
                        return -ERANGE;
                s = skip_spaces(s + nu);
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

/* ---- zones ----------------------------------------------------------------------------------- */

typedef enum ZoneKind {
        ZONE_LOCAL,  /* TZ as it is */
        ZONE_OFFSET, /* UTC, Z, +HH:MM: a fixed offset east of UTC */
        ZONE_NAMED,  /* a tzdata name, applied by swapping TZ */
} ZoneKind;

typedef struct Zone {
        ZoneKind kind;
        int64_t offset; /* seconds east of UTC, for ZONE_OFFSET */
        char name[ZONE_NAME_MAX];
} Zone;

/* "+05", "+0530", "+05:30", "-08": seconds east of UTC. */
static bool parse_offset(const char *s, int64_t *ret) {
        uint64_t h, m = 0;
        int sign;

        if (*s != '+' && *s != '-')
                return false;
        sign = *s == '-' ? -1 : 1;
        s++;
        if (read_digits(s, 2, &h) != 2)
                return false;
        s += 2;
        if (*s == ':')
                s++;
        if (*s) {
                if (read_digits(s, 2, &m) != 2 || s[2])
                        return false;
        }
        if (h > 23 || m > 59)
                return false;
        *ret = sign * (int64_t) (h * 3600 + m * 60);
        return true;
}

/* A tzdata name: letters, digits, "_+-/" in parts that are not "." or ".."; and a file in zoneinfo. */
static bool tzdata_name(const char *s) {
        char path[ZONE_NAME_MAX + 64];
        size_t len = strlen(s);

        if (len == 0 || len >= ZONE_NAME_MAX || s[0] == '/' || s[0] == '.' || !isalpha((unsigned char) s[0]))
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("_+-/", *p))
                        return false;
        if (strstr(s, "//") || strstr(s, "/.") || s[len - 1] == '/')
                return false;
        snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", s);
        if (access(path, R_OK) < 0)
                return false;
        return true;
}

static bool parse_zone(const char *s, Zone *ret) {
        int64_t off;

        if (strcmp(s, "UTC") == 0 || strcmp(s, "Z") == 0 || strcmp(s, "GMT") == 0) {
                *ret = (Zone) { .kind = ZONE_OFFSET, .offset = 0 };
                return true;
        }
        if (parse_offset(s, &off)) {
                *ret = (Zone) { .kind = ZONE_OFFSET, .offset = off };
                return true;
        }
        /* The local zone's own abbreviations, as time_format() prints them ("CET", "CEST"). */
        if ((tzname[0] && strcmp(s, tzname[0]) == 0) || (tzname[1] && strcmp(s, tzname[1]) == 0)) {
                *ret = (Zone) { .kind = ZONE_LOCAL };
                return true;
        }
        if (tzdata_name(s)) {
                *ret = (Zone) { .kind = ZONE_NAMED };
                snprintf(ret->name, sizeof(ret->name), "%s", s);
                return true;
        }
        return false;
}

typedef struct SavedTZ {
        bool had;
        char *value;
} SavedTZ;

static int zone_enter(const Zone *z, SavedTZ *saved) {
        const char *old = getenv("TZ");
        char tz[ZONE_NAME_MAX + 2];

        *saved = (SavedTZ) { .had = old != NULL };
        if (z->kind != ZONE_NAMED)
                return 0;
        if (old) {
                saved->value = strdup(old);
                if (!saved->value)
                        return -ENOMEM;
        }
        snprintf(tz, sizeof(tz), ":%s", z->name);
        if (setenv("TZ", tz, 1) < 0)
                return -errno;
        tzset();
        return 0;
}

static void zone_leave(const Zone *z, SavedTZ *saved) {
        if (z->kind != ZONE_NAMED)
                return;
        if (saved->had)
                (void) setenv("TZ", saved->value, 1);
        else
                (void) unsetenv("TZ");
        free(saved->value);
        saved->value = NULL;
        tzset();
}

/* The calendar fields of t in zone z (TZ already entered for a named zone). */
static bool zone_breakdown(const Zone *z, time_t t, struct tm *ret) {
        if (z->kind == ZONE_OFFSET) {
                t += (time_t) z->offset;
                return gmtime_r(&t, ret) != NULL;
        }
        return localtime_r(&t, ret) != NULL;
}

/* Calendar fields in zone z to seconds since the epoch; refuses dates that do not exist (Feb 30). */
static int zone_compose(const Zone *z, const struct tm *fields, time_t *ret) {
        struct tm tm = *fields;
        time_t t;

        tm.tm_isdst = -1;
        t = z->kind == ZONE_OFFSET ? timegm(&tm) : mktime(&tm);
        if (t == (time_t) -1) /* or 1969-12-31 23:59:59 UTC, refused anyway */
                return -ERANGE;
        if (tm.tm_year != fields->tm_year || tm.tm_mon != fields->tm_mon || tm.tm_mday != fields->tm_mday)
                return -EINVAL;
        if (z->kind == ZONE_OFFSET)
                t -= (time_t) z->offset;
        *ret = t;
        return 0;
}

/* ---- timestamps ------------------------------------------------------------------------------ */

typedef struct Stamp {
        int weekday;        /* -1: not given */
        int day_offset;     /* today +/- days, for the keywords */
        bool keyword;       /* today, yesterday, tomorrow */
        bool have_date;
        int year, mon, mday; /* tm conventions: years since 1900, months 0-11 */
        int hour, min, sec;
        int64_t usec;
} Stamp;

static const char *parse_weekday(const char *s, int *ret) {
        for (int i = 0; i < 7; i++)
                for (int k = 1; k >= 0; k--) {
                        size_t n = strlen(weekdays[i][k]);

                        if (strncasecmp(s, weekdays[i][k], n) == 0 && (s[n] == ' ' || s[n] == ',')) {
                                *ret = i;
                                return skip_spaces(s + n + (s[n] == ','));
                        }
                }
        *ret = -1;
        return s;
}

/* "YYYY-MM-DD" or "YY-MM-DD". */
static const char *parse_date(const char *s, Stamp *st) {
        uint64_t y, m, d;
        size_t ny = read_digits(s, 4, &y);

        if ((ny != 4 && ny != 2) || s[ny] != '-')
                return NULL;
        s += ny + 1;
        if (read_digits(s, 2, &m) != 2 || s[2] != '-' || read_digits(s + 3, 2, &d) != 2)
                return NULL;
        if (ny == 2)
                y += y < 69 ? 2000 : 1900; /* as strptime's %y */
        if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
                return NULL;
        st->have_date = true;
        st->year = (int) y - 1900;
        st->mon = (int) m - 1;
        st->mday = (int) d;
        return s + 5;
}

/* "HH:MM[:SS[.fraction]]". */
static const char *parse_clock(const char *s, Stamp *st) {
        uint64_t h, m, sec = 0;

        if (read_digits(s, 2, &h) != 2 || s[2] != ':' || read_digits(s + 3, 2, &m) != 2)
                return NULL;
        s += 5;
        if (*s == ':') {
                if (read_digits(s + 1, 2, &sec) != 2)
                        return NULL;
                s += 3;
                s = read_fraction(s, USEC_PER_SEC_I, &st->usec);
                if (!s)
                        return NULL;
        }
        if (h > 23 || m > 59 || sec > 60)
                return NULL;
        st->hour = (int) h;
        st->min = (int) m;
        st->sec = (int) sec;
        return s;
}

/* Splits "BODY ZONE" or "BODYZ"/"BODY+02:00" (ISO 8601) into the body and its zone. */
static int split_zone(char *s, Zone *ret) {
        char *space = strrchr(s, ' ');
        size_t len = strlen(s);

        *ret = (Zone) { .kind = ZONE_LOCAL };
        if (space && parse_zone(space + 1, ret)) {
                *space = 0;
                return 0;
        }
        if (len > 0 && s[len - 1] == 'Z' && strchr(s, ':')) {
                s[len - 1] = 0;
                *ret = (Zone) { .kind = ZONE_OFFSET };
                return 0;
        }
        /* An offset glued to a clock ("11:12+02:00"): the first '+' or '-' after the clock began. */
        char *clock = strchr(s, ':'), *sign = clock ? strpbrk(clock, "+-") : NULL;
        if (sign) {
                int64_t off;

                if (!parse_offset(sign, &off))
                        return -EINVAL;
                *sign = 0;
                *ret = (Zone) { .kind = ZONE_OFFSET, .offset = off };
        }
        return 0;
}

static int parse_stamp_body(const char *s, Stamp *st) {
        static const struct {
                const char *word;
                int days;
        } keywords[] = { { "today", 0 }, { "yesterday", -1 }, { "tomorrow", 1 } };
        const char *e;

        s = skip_spaces(parse_weekday(skip_spaces(s), &st->weekday));
        for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
                if (strcmp(s, keywords[i].word) == 0) {
                        st->keyword = true;
                        st->day_offset = keywords[i].days;
                        return 0;
                }
        e = parse_date(s, st);
        if (e) {
                if (*e == 0)
                        return 0;
                if (*e != ' ' && *e != 'T')
                        return -EINVAL;
                s = e + 1;
        }
        e = parse_clock(s, st);
        if (!e || *e)
                return -EINVAL;
        return 0;
}

static int stamp_resolve(const Stamp *st, const Zone *z, int64_t now, int64_t *ret) {
        struct tm tm = {};
        time_t t;
        int r;

        if (!st->have_date) {
                if (!zone_breakdown(z, (time_t) (now / USEC_PER_SEC_I), &tm))
                        return -ERANGE;
                tm.tm_mday += st->day_offset;
        } else {
                tm.tm_year = st->year;
                tm.tm_mon = st->mon;
                tm.tm_mday = st->mday;
        }
        tm.tm_hour = st->hour;
        tm.tm_min = st->min;
        tm.tm_sec = st->sec;
        if (st->keyword) { /* mktime() normalises the day after tomorrow's month end */
                struct tm norm = tm;

                norm.tm_isdst = -1;
                if (z->kind == ZONE_OFFSET ? timegm(&norm) == (time_t) -1 : mktime(&norm) == (time_t) -1)
                        return -ERANGE;
                tm.tm_year = norm.tm_year;
                tm.tm_mon = norm.tm_mon;
                tm.tm_mday = norm.tm_mday;
        }
        r = zone_compose(z, &tm, &t);
        if (r < 0)
                return r;
        if (st->weekday >= 0) {
                struct tm check;

                if (!zone_breakdown(z, t, &check) || check.tm_wday != st->weekday)
                        return -EINVAL;
        }
        if (t < 0 || t > SECONDS_MAX)
                return -ERANGE;
        *ret = (int64_t) t * USEC_PER_SEC_I + st->usec;
        return 0;
}

static int parse_absolute(const char *s, int64_t now, int64_t *ret) {
        char copy[256];
        Stamp st = { .weekday = -1 };
        SavedTZ saved;
        Zone z;
        int r;

        if (strlen(s) >= sizeof(copy))
                return -EINVAL;
        strcpy(copy, s);
        r = split_zone(copy, &z);
        if (r < 0)
                return r;
        r = parse_stamp_body(copy, &st);
        if (r < 0)
                return r;
        r = zone_enter(&z, &saved);
        if (r < 0)
                return r;
        r = stamp_resolve(&st, &z, now, ret);
        zone_leave(&z, &saved);
        return r;
}

/* "@SECONDS[.fraction]". */
static int parse_epoch(const char *s, int64_t *ret) {
        int64_t frac;
        uint64_t sec;
        size_t nd = read_digits(s, 19, &sec);

        if (nd == 0)
                return -EINVAL;
        s = read_fraction(s + nd, USEC_PER_SEC_I, &frac);
        if (!s || *s)
                return -EINVAL;
        if (sec > (uint64_t) SECONDS_MAX)
                return -ERANGE;
        *ret = (int64_t) sec * USEC_PER_SEC_I + frac;
        return 0;
}

static bool endswith_word(const char *s, const char *word, size_t *ret_len) {
        size_t n = strlen(s), w = strlen(word);

        if (n <= w + 1 || strcmp(s + n - w, word) != 0 || s[n - w - 1] != ' ')
                return false;
        *ret_len = n - w - 1;
        return true;
}

static int parse_relative(const char *span, size_t len, int sign, int64_t now, int64_t *ret) {
        char copy[128];
        int64_t d;
        int r;

        if (len >= sizeof(copy))
                return -EINVAL;
        memcpy(copy, span, len);
        copy[len] = 0;
        r = timespan_parse(copy, &d);
        if (r < 0)
                return r;
        if (__builtin_mul_overflow(d, sign, &d) || __builtin_add_overflow(now, d, &d))
                return -ERANGE;
        if (d <= 0 || d > SECONDS_MAX * USEC_PER_SEC_I)
                return -ERANGE;
        *ret = d;
        return 0;
}

int time_parse(const char *s, int64_t now, int64_t *ret) {
        size_t len;
        uint64_t u;

        s = skip_spaces(s);
        if (strcmp(s, "now") == 0) {
                *ret = now;
                return 0;
        }
        if (s[0] == '@')
                return parse_epoch(s + 1, ret);
        if (s[0] == '+' || s[0] == '-')
                return parse_relative(s + 1, strlen(s + 1), s[0] == '-' ? -1 : 1, now, ret);
        if (endswith_word(s, "ago", &len))
                return parse_relative(s, len, -1, now, ret);
        if (endswith_word(s, "left", &len))
                return parse_relative(s, len, 1, now, ret);
        if (s[0] && read_digits(s, 20, &u) == strlen(s)) {
                if (strlen(s) > 19 || u == 0 || u > INT64_MAX)
                        return -ERANGE;
                *ret = (int64_t) u;
                return 0;
        }
        return parse_absolute(s, now, ret);
}

const char *time_format(char *buf, size_t size, int64_t usec, bool utc) {
        struct tm tm;
        time_t sec;
        size_t n;

        if (usec <= 0)
                return "n/a";
        sec = (time_t) (usec / USEC_PER_SEC_I);
        if (!(utc ? gmtime_r(&sec, &tm) : localtime_r(&sec, &tm)))
                return "n/a";
        n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
        if (n == 0)
                return "n/a";
        snprintf(buf + n, size - n, ".%06" PRIi64 " %s", usec % USEC_PER_SEC_I, utc ? "UTC" : tm.tm_zone);
        return buf;
}

const char *time_format_relative(char *buf, size_t size, int64_t usec, int64_t now) {
        static const struct {
                const char *name;
                int64_t usec;
                bool spaced; /* "3 days", as systemd writes the long units */
        } units[] = {
                { "year", USEC_PER_YEAR, true }, { "month", USEC_PER_MONTH, true }, { "week", USEC_PER_WEEK, true },
                { "day", USEC_PER_DAY, true },   { "h", USEC_PER_HOUR, false },     { "min", USEC_PER_MIN, false },
                { "s", USEC_PER_SEC_I, false },
        };
        const char *suffix = usec <= now ? "ago" : "left";
        int64_t d = usec <= now ? now - usec : usec - now;
        size_t k = 0, parts = 0;

        if (usec <= 0)
                return "n/a";
        if (d < USEC_PER_SEC_I) {
                snprintf(buf, size, "%" PRIi64 "ms %s", d / 1000, suffix);
                return buf;
        }
        buf[0] = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && parts < 2; i++) {
                int64_t v = d / units[i].usec;

                if (v == 0) {
                        if (parts > 0)
                                break; /* "1 day 0h" says nothing more than "1 day" */
                        continue;
                }
                d -= v * units[i].usec;
                k += (size_t) snprintf(buf + k, k < size ? size - k : 0, "%s%" PRIi64 "%s%s%s", parts ? " " : "", v,
                                       units[i].spaced ? " " : "", units[i].name,
                                       units[i].spaced && v > 1 ? "s" : "");
                parts++;
        }
        if (k < size)
                snprintf(buf + k, size - k, " %s", suffix);
        return buf;
}
