/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers shared by daemon/, client/ and tests/: cleanup attributes, logging, arithmetic. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define USEC_PER_SEC 1000000ULL
#define NSEC_PER_USEC 1000ULL
#define NSEC_PER_SEC 1000000000ULL
#define USEC_PER_MSEC 1000ULL

/* Declares a cleanup helper "funcp" calling func(*p) when *p is non-NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                 \
        static inline void func##p(type *p) {                   \
                if (*p)                                         \
                        func(*p);                               \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Takes ownership: returns *p and sets it to NULL, so a _cleanup_ variable can be handed out. */
#define TAKE_PTR(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })
#define TAKE_FD(fd) ({ int _t = (fd); (fd) = -1; _t; })

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

/* Logging: to stderr, with a "<N>" syslog prefix when stderr is the journal (JOURNAL_STREAM). */
enum {
        LOG_LEVEL_ERR = 3,
        LOG_LEVEL_WARNING = 4,
        LOG_LEVEL_NOTICE = 5,
        LOG_LEVEL_INFO = 6,
        LOG_LEVEL_DEBUG = 7,
};

extern int log_max_level;
void log_setup(void);
int log_set_max_level_from_string(const char *s);
int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) _printf_(5, 6);

#define log_full_errno(level, error, ...)                                                  \
        ({                                                                                 \
                int _l = (level), _e = (error);                                            \
                _l <= log_max_level ? log_internal(_l, _e, __FILE__, __LINE__, __VA_ARGS__) \
                                    : -abs(_e);                                            \
        })

#define log_debug(...) log_full_errno(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_LEVEL_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_LEVEL_ERR, 0, __VA_ARGS__)

/* The _errno variants set errno for %m and return -abs(error), so callers can "return log_…_errno()". */
#define log_debug_errno(e, ...) log_full_errno(LOG_LEVEL_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_LEVEL_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_LEVEL_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_LEVEL_ERR, e, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")

/* A message that may repeat for as long as a fault lasts (a full disk fails every commit): the first is
 * logged, then the same text at most once per interval, with how often it came meanwhile. */
typedef struct LogRatelimit {
        uint64_t interval;              /* µs */
        uint64_t last;                  /* CLOCK_MONOTONIC µs when it was last logged */
        unsigned repeated;              /* since then, not logged */
        unsigned total;                 /* since the first, logged or not */
        char message[512];
} LogRatelimit;

int log_ratelimit_internal(LogRatelimit *rl, int level, int error, const char *file, int line, const char *fmt, ...)
        _printf_(6, 7);
/* The fault is over: returns how many times the message came in all, and starts afresh. */
unsigned log_ratelimit_end(LogRatelimit *rl);
#define log_warning_ratelimit_errno(rl, e, ...) \
        log_ratelimit_internal(rl, LOG_LEVEL_WARNING, e, __FILE__, __LINE__, __VA_ARGS__)

/* Parses a decimal unsigned 64-bit number that must span the whole of [s, s+len); no sign, no spaces. */
int safe_atou64_n(const char *s, size_t len, uint64_t *ret);

/* Length of the valid UTF-8 character at p (at most n bytes; 1 for ASCII, NUL included), or 0 when the
 * bytes there are not one (overlong forms, surrogates and code points past U+10FFFF are not). */
size_t utf8_valid_len(const unsigned char *p, size_t n);
int safe_atou64(const char *s, uint64_t *ret);
int safe_atoi32(const char *s, int32_t *ret);

/* Creates the directories leading to path (not path itself), like mkdir -p of its dirname; the ones it
 * creates get exactly mode, whatever the umask. */
int mkdir_parents(const char *path, mode_t mode);

uint64_t now_usec(int clock_id);
uint64_t now_nsec(int clock_id);
