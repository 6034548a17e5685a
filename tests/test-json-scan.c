/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The journal line scanner of lineagectl enrich against json-c in strict mode (the parser it replaced):
 * the same lines accepted, the same _PID, _BOOT_ID and times read; edge cases by hand, then many
 * mutated journal lines. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-scan.h"
#include "tests.h"

#define DEPTH 8

static unsigned checked;

typedef struct Seen {
        JsonScanValue v[5];
        bool have[5];
        int enriched;
} Seen;

static const char *const keys[5] = { "_PID", "_BOOT_ID", "__REALTIME_TIMESTAMP", "_SOURCE_REALTIME_TIMESTAMP",
                                     "__MONOTONIC_TIMESTAMP" };

static void member(const JsonScanValue *key, const JsonScanValue *value, void *userdata) {
        Seen *s = userdata;

        for (int k = 0; k < 5; k++)
                if (json_scan_string_equal(key, keys[k])) {
                        s->v[k] = *value;
                        s->have[k] = true;
                }
        if (json_scan_string_equal(key, "LINEAGE_INSTANCE"))
                s->enriched = value->type != JSON_SCAN_NULL;
}

/* What enrich reads of a value, rendered the same way from both parsers: "s:TEXT", "i:N", "d", "n"… */
static void describe_jc(json_object *o, const char *key, char *buf, size_t size) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v)) {
                snprintf(buf, size, "absent");
                return;
        }
        switch (json_object_get_type(v)) {
        case json_type_null: snprintf(buf, size, "null"); break;
        case json_type_string: snprintf(buf, size, "s:%s", json_object_get_string(v)); break;
        case json_type_int: snprintf(buf, size, "i:%lld", (long long) json_object_get_int64(v)); break;
        case json_type_double: snprintf(buf, size, "d"); break;
        case json_type_boolean: snprintf(buf, size, "b"); break;
        case json_type_array: snprintf(buf, size, "a"); break;
        case json_type_object: snprintf(buf, size, "o"); break;
        }
}

static void describe_scan(const Seen *s, int k, char *buf, size_t size) {
        const JsonScanValue *v = &s->v[k];
        char text[4096];

        if (!s->have[k]) {
                snprintf(buf, size, "absent");
                return;
        }
        switch (v->type) {
        case JSON_SCAN_NULL: snprintf(buf, size, "null"); break;
        case JSON_SCAN_STRING:
                json_scan_string(v, text, sizeof(text));
                snprintf(buf, size, "s:%s", text);
                break;
        case JSON_SCAN_INTEGER: snprintf(buf, size, "i:%lld", (long long) json_scan_integer(v)); break;
        case JSON_SCAN_DOUBLE: snprintf(buf, size, "d"); break;
        case JSON_SCAN_TRUE: case JSON_SCAN_FALSE: snprintf(buf, size, "b"); break;
        case JSON_SCAN_ARRAY: snprintf(buf, size, "a"); break;
        case JSON_SCAN_OBJECT: snprintf(buf, size, "o"); break;
        }
}

static bool jc_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r';
}

/* Compares the two on one line; expect: 1 must be accepted, 0 refused, -1 either (as json-c says). */
static void check(const char *s, size_t n, int expect) {
        json_tokener *tok = json_tokener_new_ex(DEPTH);
        json_object *o;
        size_t end;
        bool jc_ok, scan_ok;
        Seen seen = {};

        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, s, (int) n);
        end = o ? json_tokener_get_parse_end(tok) : 0;
        while (o && end < n && jc_blank(s[end]))
                end++;
        jc_ok = o && json_object_is_type(o, json_type_object) && end == n;
        scan_ok = json_scan_object(s, n, DEPTH, member, &seen) >= 0;
        checked++;
        if (jc_ok != scan_ok || (expect >= 0 && scan_ok != (bool) expect))
                TEST_FAIL("%.*s\n  json-c %s, scanner %s, expected %s", (int) (n > 300 ? 300 : n), n > 300 ? s + n - 300 : s,
                          jc_ok ? "accepts" : "refuses", scan_ok ? "accepts" : "refuses",
                          expect < 0 ? "either" : expect ? "accept" : "refuse");
        if (jc_ok) {
                for (int k = 0; k < 5; k++) {
                        char a[4200], b[4200];

                        describe_jc(o, keys[k], a, sizeof(a));
                        describe_scan(&seen, k, b, sizeof(b));
                        if (strcmp(a, b) != 0)
                                TEST_FAIL("%.*s\n  %s: json-c %s, scanner %s", (int) (n > 300 ? 300 : n), s, keys[k], a, b);
                }
                json_object *li;
                int jc_enriched = json_object_object_get_ex(o, "LINEAGE_INSTANCE", &li) && li;
                if (jc_enriched != seen.enriched)
                        TEST_FAIL("%.*s\n  LINEAGE_INSTANCE differs", (int) (n > 300 ? 300 : n), s);
        }
        json_object_put(o);
        json_tokener_free(tok);
}

static void check_str(const char *s, int expect) {
        check(s, strlen(s), expect);
}

static const char *const cases_ok[] = {
        "{}",
        " {\"_PID\":\"1\"} \t\r",
        "{ \"_PID\" : \"12\" , \"__REALTIME_TIMESTAMP\" : \"1700000000000000\" }",
        "{\"_PID\":\"1\",\"_PID\":\"2\"}",                                  /* the last one counts */
        "{\"_PID\":\"1\",\"_PID\":null}",
        "{\"\\u005fPID\":\"7\"}",                                            /* an escaped key */
        "{\"_PID\\u0000x\":\"8\"}",                                          /* a key cut at NUL */
        "{\"_PID\":\"12\\u0000junk\"}",
        "{'_PID':\"3\"}",                                                    /* json-c: single-quoted keys */
        "{'a\"b':1,'c\\\"d':2}",
        "{\"_PID\":5}", "{\"_PID\":-0}", "{\"_PID\":-01}", "{\"_PID\":00}", "{\"_PID\":00.5}", "{\"_PID\":012.5}", "{\"_PID\":01e5}", "{\"_PID\":1.}",
        "{\"_PID\":-.5}", "{\"_PID\":1e5}", "{\"_PID\":1E+5}", "{\"_PID\":1e400}", "{\"_PID\":NaN}",
        "{\"_PID\":Infinity}", "{\"_PID\":-Infinity}",
        "{\"_PID\":99999999999999999999}", "{\"_PID\":9223372036854775808}", "{\"_PID\":-9223372036854775809}",
        "{\"__REALTIME_TIMESTAMP\":18446744073709551615}",
        "{\"MESSAGE\":[104,105,0,255],\"_PID\":\"9\"}",                       /* binary fields */
        "{\"MULTI\":[\"one\",[0,255]],\"_PID\":\"9\"}",
        "{\"MESSAGE\":\"\\\"quoted\\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9\\uD83D\\uDE00 \\ud800 \\udc00x\"}",
        "{\"MESSAGE\":\"Grüße, 日本語 ✓\"}",
        "{\"MESSAGE\":\"ctl\x01\x1f\x7f\xff raw\"}",
        "{\"a\":[[[[[[1]]]]]]}", "{\"a\":[[[[[[[]]]]]]]}",
        "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{}}}}}}}}",
        "{\"_BOOT_ID\":\"01234567-89ab-cdef-0123-456789ABCDEF\",\"_PID\":\"4\",\"__MONOTONIC_TIMESTAMP\":\"5\"}",
        "{\"_BOOT_ID\":\"0123456789abcdef0123456789abcdef-\"}",
        "{\"LINEAGE_INSTANCE\":\"4\",\"_PID\":\"1\"}", "{\"LINEAGE_INSTANCE\":null}",
};

static const char *const cases_bad[] = {
        "", " ", "[]", "\"x\"", "1", "null", "{", "}", "{}{}", "{} x", "{\"a\":1,}", "{,}", "{\"a\":}", "{\"a\" \"b\"}",
        "{\"a\":1,,\"b\":2}", "{\"a\":[1,]}", "{\"a\":[,1]}", "{\"a\":[1 2]}", "{\"a\":tru}", "{\"a\":truex}",
        "{\"a\":True}", "{\"a\":nul}", "{\"a\":nan}", "{\"a\":-NaN}", "{\"a\":Inf}", "{\"a\":infinity}",
        "{\"a\":-}", "{\"a\":--1}", "{\"a\":+1}", "{\"a\":.5}", "{\"a\":01}", "{\"a\":001}", "{\"a\":010}", "{\"a\":09}",
        "{\"a\":1e}", "{\"a\":1.5e}", "{\"a\":1.2.3}", "{\"a\":1e5e5}", "{\"a\":1-2}", "{\"a\":0x10}", "{\"a\":12a}",
        "{\"a\":'x'}", "{\"a\":1,'b':'c'}", "{'a\\'b':1}", "{\"a\":\"\\x41\"}", "{\"a\":\"\\a\"}", "{\"a\":\"\\'\"}",
        "{\"a\":\"\\u12\"}", "{\"a\":\"\\u123G\"}", "{\"a\":\"\\U0041\"}", "{\"a\":\"x\\\"}", "{\"a\":\"x}",
        "{\"a\":1 /* c */}", "{a:1}", "\v{}", "\f{}", "{}\v", "{\"a\":[[[[[[[1]]]]]]]}",
        "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":1}}}}}}}}",
};

/* A journal line with a little of everything. */
static const char base_line[] =
        "{\"__CURSOR\":\"s=c868;i=7a120;b=0123;m=4071;t=60a2;x=45f6\",\"__REALTIME_TIMESTAMP\":\"1700001081160560\","
        "\"__MONOTONIC_TIMESTAMP\":\"1081160560\",\"_BOOT_ID\":\"0123456789abcdef0123456789abcdef\",\"_TRANSPORT\":\"syslog\","
        "\"PRIORITY\":\"6\",\"MESSAGE\":\"a \\\"q\\\" \\\\ \\u00e9 ✓\\n\",\"BIN\":[27,91,49,109],\"_PID\":\"10303\",\"_UID\":\"1036\","
        "\"N\":-12.5e3,\"T\":true,\"F\":false,\"Z\":null,\"O\":{\"x\":[1,{\"y\":\"z\"}]},"
        "\"_SOURCE_REALTIME_TIMESTAMP\":\"1700001081160509\",\"_HOSTNAME\":\"h\"}";

static uint64_t rng = 0x853c49e6748fea9bULL;

static uint64_t next(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

/* Replaces, inserts or deletes a few bytes, from an alphabet of JSON's own characters. */
static size_t mutate(char *buf, size_t n, size_t size) {
        static const char alphabet[] = "{}[]\",:'\\/ \t\r\n0123456789-+.eEuUtrfalsnNIy_PIDbx\x01\x7f\xc3\xa9";
        unsigned edits = 1 + (unsigned) (next() % 3);

        for (unsigned k = 0; k < edits; k++) {
                size_t at = n ? next() % (n + 1) : 0;
                char c = alphabet[next() % (sizeof(alphabet) - 1)];

                switch (next() % 3) {
                case 0:
                        if (at < n)
                                buf[at] = c;
                        break;
                case 1:
                        if (n + 1 < size) {
                                memmove(buf + at + 1, buf + at, n - at);
                                buf[at] = c;
                                n++;
                        }
                        break;
                default:
                        if (at < n) {
                                memmove(buf + at, buf + at + 1, n - at - 1);
                                n--;
                        }
                }
        }
        return n;
}

int main(int argc, char **argv) {
        unsigned rounds = argc > 1 ? (unsigned) strtoul(argv[1], NULL, 10) : 200000;
        char buf[4096];

        for (size_t k = 0; k < sizeof(cases_ok) / sizeof(cases_ok[0]); k++)
                check_str(cases_ok[k], 1);
        for (size_t k = 0; k < sizeof(cases_bad) / sizeof(cases_bad[0]); k++)
                check_str(cases_bad[k], 0);
        check("{\"_PID\":\"1\"\0}", 13, 0);                 /* a NUL byte is never accepted */
        check("{\"_PID\":\"1\0\"}", 13, 0);
        check_str(base_line, 1);

        /* Very long lines: a 1 MiB MESSAGE, a deep but allowed nesting, many members. */
        {
                size_t big = 1024 * 1024;
                char *l = malloc(big + 64);
                size_t n = 0;

                if (!l)
                        return 1;
                n += (size_t) sprintf(l, "{\"MESSAGE\":\"");
                memset(l + n, 'x', big);
                n += big;
                n += (size_t) sprintf(l + n, "\",\"_PID\":\"42\"}");
                check(l, n, 1);
                n = (size_t) sprintf(l, "{\"A\":[");
                for (int k = 0; k < 100000; k++)
                        n += (size_t) sprintf(l + n, "%s%d", k ? "," : "", k);
                n += (size_t) sprintf(l + n, "],\"_PID\":1}");
                check(l, n, 1);
                free(l);
        }

        for (unsigned r = 0; r < rounds; r++) {
                size_t n = strlen(base_line);

                memcpy(buf, base_line, n);
                n = mutate(buf, n, sizeof(buf));
                check(buf, n, -1);
        }
        printf("%u lines compared with json-c, all agree\n", checked);
        return 0;
}
