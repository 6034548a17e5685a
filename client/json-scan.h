/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A light JSON object scanner for journal lines: validates a line the way json-c does in strict mode
 * (the parser lineagectl used before) and reports where its top-level members are, without building
 * anything. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum JsonScanType {
        JSON_SCAN_NULL,
        JSON_SCAN_FALSE,
        JSON_SCAN_TRUE,
        JSON_SCAN_INTEGER,              /* digits with an optional '-' */
        JSON_SCAN_DOUBLE,               /* a fraction, an exponent, NaN or ±Infinity */
        JSON_SCAN_STRING,
        JSON_SCAN_ARRAY,
        JSON_SCAN_OBJECT,
} JsonScanType;

typedef struct JsonScanValue {
        JsonScanType type;
        const char *text;               /* strings: what is between the quotes, raw; others: the value */
        size_t length;
        bool escaped;                   /* strings: has a backslash escape */
} JsonScanValue;

/* Called for every member of the top-level object, in order (so a later duplicate overrides). */
typedef void (*JsonScanMemberFunc)(const JsonScanValue *key, const JsonScanValue *value, void *userdata);

/* Validates s[0, n) as one JSON object, blanks (space, tab, CR, LF) around it allowed, nesting at most
 * max_depth levels deep (the object is level 1; json_tokener_new_ex(max_depth) counts the same way).
 * What json-c 0.16 accepts with JSON_TOKENER_STRICT is accepted, and nothing else: a NUL byte
 * anywhere is an error, keys may be in single quotes, NaN and Infinity are numbers. -EBADMSG if s is
 * not such an object. */
int json_scan_object(const char *s, size_t n, unsigned max_depth, JsonScanMemberFunc member, void *userdata);

/* Called for every element of a top-level array, in order. */
typedef void (*JsonScanElementFunc)(const JsonScanValue *value, void *userdata);

/* The same for one JSON array. */
int json_scan_array(const char *s, size_t n, unsigned max_depth, JsonScanElementFunc element, void *userdata);

/* A string value as json-c makes it: escapes resolved, UTF-16 surrogate pairs joined, lone surrogates
 * as U+FFFD. Written to buf as a C string, so it ends at the first NUL, as json-c's C strings and keys
 * do; cut at size - 1 bytes. Returns the length written. */
size_t json_scan_string(const JsonScanValue *v, char *buf, size_t size);

/* Does string value v equal the C string key (once its escapes are resolved, and cut at a NUL)? */
bool json_scan_string_equal(const JsonScanValue *v, const char *key);

/* An integer value as json_object_get_int64() returns it (saturated at INT64_MIN/INT64_MAX). */
int64_t json_scan_integer(const JsonScanValue *v);
