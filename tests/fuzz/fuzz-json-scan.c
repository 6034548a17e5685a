/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes lineagectl enrich's journal line scanner against json-c in strict mode (the parser it
 * replaced): both must accept the same lines and read the same _PID, _BOOT_ID and times. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-scan.h"

#define DEPTH 8

static const char *const keys[] = { "_PID", "_BOOT_ID", "__REALTIME_TIMESTAMP", "_SOURCE_REALTIME_TIMESTAMP",
                                    "__MONOTONIC_TIMESTAMP", "LINEAGE_INSTANCE" };
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

typedef struct Seen {
        JsonScanValue v[N_KEYS];
        bool have[N_KEYS];
} Seen;

static void member(const JsonScanValue *key, const JsonScanValue *value, void *userdata) {
        Seen *s = userdata;

        for (size_t k = 0; k < N_KEYS; k++)
                if (json_scan_string_equal(key, keys[k])) {
                        s->v[k] = *value;
                        s->have[k] = true;
                }
}

/* What enrich can tell of a value, the same way from both: "s:TEXT", "i:N", "null", … */
static void describe_jc(json_object *o, const char *key, char *buf, size_t size) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                snprintf(buf, size, "absent");
        else if (!v)
                snprintf(buf, size, "null");
        else if (json_object_is_type(v, json_type_string))
                snprintf(buf, size, "s:%s", json_object_get_string(v));
        else if (json_object_is_type(v, json_type_int))
                snprintf(buf, size, "i:%lld", (long long) json_object_get_int64(v));
        else
                snprintf(buf, size, "other");
}

static void describe_scan(const Seen *s, size_t k, char *buf, size_t size) {
        const JsonScanValue *v = &s->v[k];

        if (!s->have[k])
                snprintf(buf, size, "absent");
        else if (v->type == JSON_SCAN_NULL)
                snprintf(buf, size, "null");
        else if (v->type == JSON_SCAN_STRING) {
                char *text = malloc(v->length + 1);

                if (!text)
                        abort();
                json_scan_string(v, text, v->length + 1);
                snprintf(buf, size, "s:%s", text);
                free(text);
        } else if (v->type == JSON_SCAN_INTEGER)
                snprintf(buf, size, "i:%lld", (long long) json_scan_integer(v));
        else
                snprintf(buf, size, "other");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *s = (const char *) data;
        json_tokener *tok;
        json_object *o;
        size_t end;
        bool jc_ok, scan_ok;
        Seen seen = {};

        if (size > 65536)
                return 0;
        tok = json_tokener_new_ex(DEPTH);
        if (!tok)
                return 0;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, s, (int) size);
        end = o ? json_tokener_get_parse_end(tok) : 0;
        while (o && end < size && (s[end] == ' ' || s[end] == '\t' || s[end] == '\r'))
                end++;
        /* A newline never reaches the scanner (lines are split on it): leave such input out. */
        jc_ok = o && json_object_is_type(o, json_type_object) && end == size && !memchr(s, '\n', size);
        scan_ok = json_scan_object(s, size, DEPTH, member, &seen) >= 0;
        if (memchr(s, '\n', size))
                scan_ok = false;
        if (jc_ok != scan_ok) {
                fprintf(stderr, "json-c %s, the scanner %s\n", jc_ok ? "accepts" : "refuses",
                        scan_ok ? "accepts" : "refuses");
                abort();
        }
        for (size_t k = 0; jc_ok && k < N_KEYS; k++) {
                char a[1024], b[1024];

                describe_jc(o, keys[k], a, sizeof(a));
                describe_scan(&seen, k, b, sizeof(b));
                if (strcmp(a, b) != 0) {
                        fprintf(stderr, "%s: json-c %s, the scanner %s\n", keys[k], a, b);
                        abort();
                }
        }
        json_object_put(o);
        json_tokener_free(tok);
        return 0;
}
