/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json-text: the one JSON text writer (a growing buffer, numbers, strings escaped as json-c escapes them),
 * UTF-8 repair for every front end, and the stored form of argv. No json-c tree is built here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lineage/util.h"

/* A growing text buffer. Appends never fail loudly: on ENOMEM oom is set, later appends do nothing, and
 * the owner checks oom once at the end. data is NUL-terminated whenever it is not NULL. */
typedef struct JsonText {
        char *data;
        size_t len, alloc;
        bool oom;                       /* an append failed: the text is incomplete */
} JsonText;

void json_text_done(JsonText *t);
/* Grows t so that n more bytes and the NUL fit; false (and oom set) when it cannot. */
bool json_text_grow(JsonText *t, size_t n);
static inline bool json_text_reserve(JsonText *t, size_t n) {
        if (_likely_(!t->oom && t->alloc - t->len > n))
                return true;
        return json_text_grow(t, n);
}
int json_text_append(JsonText *t, const char *s, size_t n);
#define json_text_literal(t, s) ((void) json_text_append((t), "" s "", sizeof(s) - 1))

void json_text_int(JsonText *t, int64_t v);
void json_text_bool(JsonText *t, bool b);
/* A JSON string of n bytes of s, escaped as json-c escapes (\" \\ \b \f \n \r \t, other controls
 * \u00xx, '/' as is). Bytes that are not UTF-8 become U+FFFD: the text stays valid JSON. */
void json_text_string(JsonText *t, const char *s, size_t n);

/* Is s exactly what json-c prints for an array of strings that we wrote ("[]", "[\"a\",\"b\"]": only
 * \" and \\ escaped, no controls, valid UTF-8)? Then it can be copied as it is. */
bool json_text_argv_is_canonical(const char *s, size_t n);

/* UTF-8 repair: each byte that does not start a valid sequence becomes U+FFFD. Two rules of validity:
 * JSON's (utf8_valid_len(): any scalar value, NUL included) and D-Bus's (stricter, as sd-bus checks a
 * string: no NUL and no noncharacters). */
typedef enum Utf8Rules {
        UTF8_RULES_JSON,
        UTF8_RULES_DBUS,
} Utf8Rules;

/* Bytes the repaired form of n bytes of s takes (without the NUL); n when s is valid already. */
size_t json_text_utf8_repaired_size(const char *s, size_t n, Utf8Rules rules);
/* The repaired form, malloc'd and NUL-terminated. -E2BIG if it could not be sized, -ENOMEM. */
int json_text_utf8_repair(const char *s, size_t n, Utf8Rules rules, char **ret);

/* The stored form of argv: NUL-separated argv bytes as a JSON array of strings (bytes that are not UTF-8,
 * and control characters, as \xNN; a backslash as \\, so that every \ in a string starts an escape). */
#define ARGV_JSON_MAX(len) ((len) * 8 + 3)      /* worst case: every byte "\\xNN", quotes and commas */
/* Writes it to out (ARGV_JSON_MAX(len) bytes), NUL-terminated. */
void argv_json_write(char *out, const char *argv, size_t len);
/* The same, malloc'd; NULL on ENOMEM. */
char *argv_to_json(const char *argv, size_t len);
