/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Implementation of the shared helpers in util.h. */
#include <libgen.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

#include "lineage/util.h"

int log_max_level = LOG_LEVEL_INFO;
static bool log_prefix_syslog = false;

void log_setup(void) {
        const char *e = getenv("LINEAGE_LOG_LEVEL");

        if (e)
                (void) log_set_max_level_from_string(e);
        /* systemd sets JOURNAL_STREAM when stderr is connected to the journal; then "<N>" carries the level. */
        log_prefix_syslog = !!getenv("JOURNAL_STREAM");
}

int log_set_max_level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_LEVEL_ERR] = "err",     [LOG_LEVEL_WARNING] = "warning", [LOG_LEVEL_NOTICE] = "notice",
                [LOG_LEVEL_INFO] = "info",   [LOG_LEVEL_DEBUG] = "debug",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (names[i] && streq(names[i], s)) {
                        log_max_level = (int) i;
                        return 0;
                }
        return -EINVAL;
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) {
        char buf[2048];
        va_list ap;
        int saved = errno;

        if (error != 0)
                errno = abs(error);
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (log_prefix_syslog)
                fprintf(stderr, "<%d>%s\n", level, buf);
        else if (level == LOG_LEVEL_DEBUG)
                fprintf(stderr, "%s:%d: %s\n", file, line, buf);
        else
                fprintf(stderr, "%s\n", buf);
        errno = saved;
        return -abs(error);
}

int log_ratelimit_internal(LogRatelimit *rl, int level, int error, const char *file, int line, const char *fmt, ...) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        char buf[sizeof(rl->message)];
        va_list ap;
        int saved = errno;

        if (level > log_max_level)
                return -abs(error);
        if (error != 0)
                errno = abs(error);
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        errno = saved;
        if (rl->total > 0 && streq(buf, rl->message)) {
                rl->total++;
                if (now < rl->last + rl->interval) {
                        rl->repeated++;
                        return -abs(error);
                }
                log_internal(level, 0, file, line, "%s (repeated %u times in %.0f s)", buf, rl->repeated + 1,
                             (double) (now - rl->last) / 1e6);
        } else {
                if (rl->repeated > 0)
                        log_internal(level, 0, file, line, "(the previous message came %u more times)", rl->repeated);
                log_internal(level, 0, file, line, "%s", buf);
                memcpy(rl->message, buf, sizeof(buf));
                rl->total = 1;
        }
        rl->repeated = 0;
        rl->last = now;
        return -abs(error);
}

unsigned log_ratelimit_end(LogRatelimit *rl) {
        unsigned n = rl->total;

        rl->total = rl->repeated = 0;
        rl->message[0] = 0;
        return n;
}

int safe_atou64_n(const char *s, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        if (len == 0 || len > 20)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t) (s[i] - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = v;
        return 0;
}

int safe_atou64(const char *s, uint64_t *ret) {
        return safe_atou64_n(s, strlen(s), ret);
}

int safe_atoi32(const char *s, int32_t *ret) {
        bool neg = s[0] == '-';
        uint64_t v;
        int r;

        r = safe_atou64(s + neg, &v);
        if (r < 0)
                return r;
        if (v > (uint64_t) INT32_MAX + neg)
                return -ERANGE;
        *ret = neg ? (int32_t) -(int64_t) v : (int32_t) v;
        return 0;
}

uint64_t now_nsec(int clock_id) {
        struct timespec ts;

        if (clock_gettime(clock_id, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * NSEC_PER_SEC + (uint64_t) ts.tv_nsec;
}

uint64_t now_usec(int clock_id) {
        return now_nsec(clock_id) / NSEC_PER_USEC;
}

/* A directory made here gets exactly mode, whatever the umask; one that exists is left as it is. */
static int mkdir_mode(const char *dir, mode_t mode) {
        if (mkdir(dir, mode) < 0)
                return errno == EEXIST ? 0 : -errno;
        if (chmod(dir, mode) < 0)
                return -errno;
        return 0;
}

int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *copy = strdup(path);
        char *dir;
        int r;

        if (!copy)
                return -ENOMEM;
        dir = dirname(copy);
        for (char *p = dir + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                r = mkdir_mode(dir, mode);
                if (r < 0)
                        return r;
                *p = '/';
        }
        return mkdir_mode(dir, mode);
}

size_t utf8_valid_len(const unsigned char *p, size_t n) {
        size_t len;
        uint32_t cp;

        if (n == 0)
                return 0;
        if (p[0] < 0x80)
                return 1;
        if ((p[0] & 0xe0) == 0xc0)
                len = 2, cp = p[0] & 0x1f;
        else if ((p[0] & 0xf0) == 0xe0)
                len = 3, cp = p[0] & 0x0f;
        else if ((p[0] & 0xf8) == 0xf0)
                len = 4, cp = p[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t k = 1; k < len; k++) {
                if ((p[k] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}
