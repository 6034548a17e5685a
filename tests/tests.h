/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests.h: the unit tests' one assertion family; a failure prints file:line, the expression and both values, then aborts. */
#pragma once

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Aborting (rather than counting and going on) leaves no test running on state a failed check has
 * already shown to be wrong, and gives the sanitizers' stack trace. */
#define TEST_FAIL(...)                                                                                 \
        do {                                                                                           \
                fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                        \
                fprintf(stderr, __VA_ARGS__);                                                          \
                fputc('\n', stderr);                                                                   \
                abort();                                                                               \
        } while (0)

#define ASSERT_TRUE(expr)                                                                              \
        do {                                                                                           \
                if (!(expr))                                                                           \
                        TEST_FAIL("ASSERT_TRUE(%s) failed", #expr);                                    \
        } while (0)

/* Integers of any width and signedness, compared as intmax_t. */
#define ASSERT_EQ(a, b)                                                                                \
        do {                                                                                           \
                intmax_t _a = (intmax_t) (a), _b = (intmax_t) (b);                                     \
                if (_a != _b)                                                                          \
                        TEST_FAIL("ASSERT_EQ(%s, %s) failed: %jd != %jd", #a, #b, _a, _b);             \
        } while (0)

/* Strings; NULL equals only NULL. */
#define ASSERT_STREQ(a, b)                                                                             \
        do {                                                                                           \
                const char *_a = (a), *_b = (b);                                                       \
                if (_a != _b && (!_a || !_b || strcmp(_a, _b) != 0))                                   \
                        TEST_FAIL("ASSERT_STREQ(%s, %s) failed: \"%s\" != \"%s\"", #a, #b,             \
                                  _a ? _a : "(null)", _b ? _b : "(null)");                             \
        } while (0)

/* A call returning 0 or more on success, -errno on failure. */
#define ASSERT_OK(expr)                                                                                \
        do {                                                                                           \
                intmax_t _r = (intmax_t) (expr);                                                       \
                if (_r < 0)                                                                            \
                        TEST_FAIL("ASSERT_OK(%s) failed: %jd (%s)", #expr, _r,                         \
                                  _r >= -4095 ? strerror((int) -_r) : "not an errno");                 \
        } while (0)
