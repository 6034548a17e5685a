/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A light JSON object scanner: json-c's strict grammar, checked byte by byte, with nothing allocated. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-scan.h"

typedef struct Scanner {
        const char *s;
        size_t n, pos;
        unsigned max_depth;
} Scanner;

static inline bool is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Inlined everywhere: a journal line has blanks between its members only in old journalctl output. */
static inline __attribute__((always_inline)) void skip_ws(Scanner *sc) {
        while (sc->pos < sc->n && is_ws(sc->s[sc->pos]))
                sc->pos++;
}

/* Bytes that end the plain run of a string: quotes, backslash, NUL. */
static const bool string_stop[256] = { ['"'] = true, ['\''] = true, ['\\'] = true, [0] = true };

static bool is_hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool has_prefix(const Scanner *sc, const char *word) {
        size_t l = strlen(word);

        return sc->n - sc->pos >= l && memcmp(sc->s + sc->pos, word, l) == 0;
}

/* At the opening quote. The escapes json-c knows: \" \\ \/ \b \f \n \r \t \uXXXX (in either kind of
 * quotes; \' is not one). */
static int scan_string(Scanner *sc, char quote, JsonScanValue *ret) {
        const char *s = sc->s;
        size_t start = ++sc->pos, n = sc->n, p = start;
        bool escaped = false;

        for (;;) {
                while (p < n && !string_stop[(unsigned char) s[p]])
                        p++;
                if (p >= n || s[p] == 0)
                        return -EBADMSG;
                if (s[p] == quote)
                        break;
                if (s[p] != '\\') { /* the other quote */
                        p++;
                        continue;
                }
                escaped = true;
                if (++p >= n)
                        return -EBADMSG;
                switch (s[p]) {
                case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                        p++;
                        break;
                case 'u':
                        if (n - p < 5 || !is_hex(s[p + 1]) || !is_hex(s[p + 2]) || !is_hex(s[p + 3]) || !is_hex(s[p + 4]))
                                return -EBADMSG;
                        p += 5;
                        break;
                default:
                        return -EBADMSG;
                }
        }
        *ret = (JsonScanValue) { .type = JSON_SCAN_STRING, .text = s + start, .length = p - start, .escaped = escaped };
        sc->pos = p + 1;
        return 0;
}

static bool is_number_char(char c) {
        return (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '-' || c == 'e' || c == 'E';
}

/* json-c takes the longest run of number characters, then parses it as an integer (saturating) or,
 * with '.', 'e' or 'E' in it, with strtod(), which must take all of it. Strict mode refuses an
 * integer with a non-zero digit after a leading zero ("01", "010"; "00", "012.5" and "-01" pass). */
static int scan_number(Scanner *sc, JsonScanValue *ret) {
        const char *s = sc->s + sc->pos;
        size_t l = 0, rest = sc->n - sc->pos;
        bool dbl = false;

        if (has_prefix(sc, "NaN") || has_prefix(sc, "Infinity") || has_prefix(sc, "-Infinity")) {
                l = s[0] == 'N' ? 3 : s[0] == 'I' ? 8 : 9;
                *ret = (JsonScanValue) { .type = JSON_SCAN_DOUBLE, .text = s, .length = l };
                sc->pos += l;
                return 0;
        }
        while (l < rest && is_number_char(s[l])) {
                dbl = dbl || s[l] == '.' || s[l] == 'e' || s[l] == 'E';
                l++;
        }
        if (l == 0)
                return -EBADMSG;
        if (dbl) {
                char buf[128], *copy = l < sizeof(buf) ? buf : malloc(l + 1), *end;
                bool ok;

                if (!copy)
                        return -ENOMEM;
                memcpy(copy, s, l);
                copy[l] = 0;
                (void) strtod(copy, &end);
                ok = end == copy + l;
                if (copy != buf)
                        free(copy);
                if (!ok)
                        return -EBADMSG;
        } else {
                size_t k = s[0] == '-';

                if (k == l)
                        return -EBADMSG;
                for (; k < l; k++)
                        if (s[k] < '0' || s[k] > '9' || (s[0] == '0' && s[k] != '0'))
                                return -EBADMSG;
        }
        *ret = (JsonScanValue) { .type = dbl ? JSON_SCAN_DOUBLE : JSON_SCAN_INTEGER, .text = s, .length = l };
        sc->pos += l;
        return 0;
}

static int scan_value(Scanner *sc, unsigned level, JsonScanMemberFunc member, void *userdata, JsonScanValue *ret);
static int scan_array(Scanner *sc, unsigned level, JsonScanElementFunc element, void *userdata, JsonScanValue *ret);

static int scan_literal(Scanner *sc, const char *word, JsonScanType type, JsonScanValue *ret) {
        if (!has_prefix(sc, word))
                return -EBADMSG;
        *ret = (JsonScanValue) { .type = type, .text = sc->s + sc->pos, .length = strlen(word) };
        sc->pos += ret->length;
        return 0;
}

/* After a member or element: 1 when close ends the container (consumed), 0 after a comma (consumed, with
 * the blanks after it), -EBADMSG otherwise. */
static int next_or_close(Scanner *sc, char close) {
        skip_ws(sc);
        if (sc->pos >= sc->n)
                return -EBADMSG;
        if (sc->s[sc->pos] == close) {
                sc->pos++;
                return 1;
        }
        if (sc->s[sc->pos] != ',')
                return -EBADMSG;
        sc->pos++;
        skip_ws(sc);
        return 0;
}

static int scan_array(Scanner *sc, unsigned level, JsonScanElementFunc element, void *userdata, JsonScanValue *ret) {
        size_t start = sc->pos++;
        JsonScanValue v;
        int r;

        skip_ws(sc);
        if (sc->pos < sc->n && sc->s[sc->pos] == ']') {
                sc->pos++;
                goto done;
        }
        for (;;) {
                r = scan_value(sc, level + 1, NULL, NULL, &v);
                if (r < 0)
                        return r;
                if (element)
                        element(&v, userdata);
                r = next_or_close(sc, ']');
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
        }
done:
        *ret = (JsonScanValue) { .type = JSON_SCAN_ARRAY, .text = sc->s + start, .length = sc->pos - start };
        return 0;
}

static int scan_object(Scanner *sc, unsigned level, JsonScanMemberFunc member, void *userdata, JsonScanValue *ret) {
        size_t start = sc->pos++;
        JsonScanValue key, v;
        int r;

        skip_ws(sc);
        if (sc->pos < sc->n && sc->s[sc->pos] == '}') {
                sc->pos++;
                goto done;
        }
        for (;;) {
                if (sc->pos >= sc->n || (sc->s[sc->pos] != '"' && sc->s[sc->pos] != '\''))
                        return -EBADMSG;
                r = scan_string(sc, sc->s[sc->pos], &key);
                if (r < 0)
                        return r;
                skip_ws(sc);
                if (sc->pos >= sc->n || sc->s[sc->pos] != ':')
                        return -EBADMSG;
                sc->pos++;
                skip_ws(sc);
                r = scan_value(sc, level + 1, NULL, NULL, &v);
                if (r < 0)
                        return r;
                if (member)
                        member(&key, &v, userdata);
                r = next_or_close(sc, '}');
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
        }
done:
        *ret = (JsonScanValue) { .type = JSON_SCAN_OBJECT, .text = sc->s + start, .length = sc->pos - start };
        return 0;
}

/* A value at nesting level (the top-level value is level 0): json-c refuses any value, scalars too,
 * max_depth levels down. */
static int scan_value(Scanner *sc, unsigned level, JsonScanMemberFunc member, void *userdata, JsonScanValue *ret) {
        if (level >= sc->max_depth || sc->pos >= sc->n)
                return -EBADMSG;
        switch (sc->s[sc->pos]) {
        case '{':
                return scan_object(sc, level, member, userdata, ret);
        case '[':
                return scan_array(sc, level, NULL, NULL, ret);
        case '"':
                return scan_string(sc, '"', ret);
        case 't':
                return scan_literal(sc, "true", JSON_SCAN_TRUE, ret);
        case 'f':
                return scan_literal(sc, "false", JSON_SCAN_FALSE, ret);
        case 'n':
                return scan_literal(sc, "null", JSON_SCAN_NULL, ret);
        case '-': case '0' ... '9': case 'N': case 'I':
                return scan_number(sc, ret);
        default:
                return -EBADMSG;
        }
}

int json_scan_object(const char *s, size_t n, unsigned max_depth, JsonScanMemberFunc member, void *userdata) {
        Scanner sc = { .s = s, .n = n, .max_depth = max_depth };
        JsonScanValue v;
        int r;

        skip_ws(&sc);
        if (sc.pos >= n || s[sc.pos] != '{')
                return -EBADMSG;
        r = scan_value(&sc, 0, member, userdata, &v);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        skip_ws(&sc);
        return sc.pos == n ? 0 : -EBADMSG;
}

int json_scan_array(const char *s, size_t n, unsigned max_depth, JsonScanElementFunc element, void *userdata) {
        Scanner sc = { .s = s, .n = n, .max_depth = max_depth };
        JsonScanValue v;
        int r;

        skip_ws(&sc);
        if (sc.pos >= n || s[sc.pos] != '[' || max_depth == 0)
                return -EBADMSG;
        r = scan_array(&sc, 0, element, userdata, &v);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        skip_ws(&sc);
        return sc.pos == n ? 0 : -EBADMSG;
}

static unsigned hex4(const char *p) {
        unsigned v = 0;

        for (int k = 0; k < 4; k++) {
                char c = p[k];

                v = v * 16 + (unsigned) (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        return v;
}

static size_t put_utf8(char *out, unsigned cp) {
        if (cp < 0x80) {
                out[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char) (0xc0 | (cp >> 6));
                out[1] = (char) (0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char) (0xe0 | (cp >> 12));
                out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
                out[2] = (char) (0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (char) (0xf0 | (cp >> 18));
        out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char) (0x80 | (cp & 0x3f));
        return 4;
}

size_t json_scan_string(const JsonScanValue *v, char *buf, size_t size) {
        const char *p = v->text, *end = v->text + v->length;
        size_t k = 0;

        if (size == 0)
                return 0;
        while (p < end && k + 1 < size) {
                char u[4];
                size_t ul;
                unsigned cp;

                if (*p != '\\') {
                        buf[k++] = *p++;
                        continue;
                }
                p++; /* validated: an escape follows */
                switch (*p) {
                case 'b': u[0] = '\b'; ul = 1; break;
                case 'f': u[0] = '\f'; ul = 1; break;
                case 'n': u[0] = '\n'; ul = 1; break;
                case 'r': u[0] = '\r'; ul = 1; break;
                case 't': u[0] = '\t'; ul = 1; break;
                case 'u':
                        cp = hex4(p + 1);
                        p += 4;
                        if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 7 && p[1] == '\\' && p[2] == 'u' &&
                            hex4(p + 3) >= 0xdc00 && hex4(p + 3) < 0xe000) {
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(p + 3) - 0xdc00);
                                p += 6;
                        } else if (cp >= 0xd800 && cp < 0xe000)
                                cp = 0xfffd;
                        ul = put_utf8(u, cp);
                        break;
                default: u[0] = *p; ul = 1; break; /* " \ / */
                }
                p++;
                if (k + ul >= size)
                        break;
                memcpy(buf + k, u, ul);
                k += ul;
        }
        buf[k] = 0;
        return strlen(buf); /* a \u0000 ends it */
}

bool json_scan_string_equal(const JsonScanValue *v, const char *key) {
        char buf[256];
        size_t l = strlen(key);

        if (v->type != JSON_SCAN_STRING)
                return false;
        if (!v->escaped)
                return v->length == l && memcmp(v->text, key, l) == 0;
        if (l >= sizeof(buf))
                return false;
        return json_scan_string(v, buf, sizeof(buf)) == l && memcmp(buf, key, l) == 0;
}

int64_t json_scan_integer(const JsonScanValue *v) {
        bool neg = v->length > 0 && v->text[0] == '-';
        uint64_t u = 0;

        for (size_t k = neg; k < v->length; k++) {
                unsigned d = (unsigned) (v->text[k] - '0');

                if (u > (UINT64_MAX - d) / 10) {
                        u = UINT64_MAX;
                        break;
                }
                u = u * 10 + d;
        }
        if (neg)
                return u > (uint64_t) INT64_MAX ? INT64_MIN : -(int64_t) u;
        return u > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) u;
}
