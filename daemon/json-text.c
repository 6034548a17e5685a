/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one JSON text writer: a growing buffer, numbers and strings as json-c prints them, UTF-8 repair
 * and the stored form of argv. */
#include <errno.h>

#include "json-text.h"

void json_text_done(JsonText *t) {
        if (!t)
                return;
        free(t->data);
        *t = (JsonText) {};
}

bool json_text_grow(JsonText *t, size_t n) {
        size_t a;
        char *p;

        if (t->oom)
                return false;
        if (n > SIZE_MAX / 4 - t->len) {
                t->oom = true;
                return false;
        }
        a = MAX(MAX(t->alloc * 2, t->len + n + 1), (size_t) 4096);
        p = realloc(t->data, a);
        if (!p) {
                t->oom = true;
                return false;
        }
        t->data = p;
        t->alloc = a;
        return true;
}

int json_text_append(JsonText *t, const char *s, size_t n) {
        if (!json_text_reserve(t, n))
                return -ENOMEM;
        memcpy(t->data + t->len, s, n);
        t->len += n;
        t->data[t->len] = 0;
        return 0;
}

void json_text_int(JsonText *t, int64_t v) {
        static const char digits2[] =
                "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                "8081828384858687888990919293949596979899";
        char buf[24], *p = buf + sizeof(buf);
        uint64_t u = v < 0 ? -(uint64_t) v : (uint64_t) v;

        while (u >= 100) {
                p -= 2;
                memcpy(p, digits2 + (u % 100) * 2, 2);
                u /= 100;
        }
        if (u >= 10) {
                p -= 2;
                memcpy(p, digits2 + u * 2, 2);
        } else
                *--p = (char) ('0' + u);
        if (v < 0)
                *--p = '-';
        (void) json_text_append(t, p, (size_t) (buf + sizeof(buf) - p));
}

void json_text_bool(JsonText *t, bool b) {
        if (b)
                json_text_literal(t, "true");
        else
                json_text_literal(t, "false");
}

/* A JSON string, escaped as json-c escapes (\" \\ \b \f \n \r \t, other controls \u00xx, '/' as is).
 * Bytes that are not UTF-8 become U+FFFD: the text must stay valid JSON (D-Bus replaces them too). */
void json_text_string(JsonText *t, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *) s;
        size_t k = 0;
        char *o;

        /* Worst case: every byte becomes \u00xx (6) or U+FFFD (3); plus the quotes. */
        if (n > SIZE_MAX / 8 || !json_text_reserve(t, n * 6 + 2))
                return;
        o = t->data + t->len;
        *o++ = '"';
        while (k < n) {
                unsigned char c = p[k];
                size_t l;

                if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                        *o++ = (char) c;
                        k++;
                        continue;
                }
                if (c >= 0x80) {
                        l = utf8_valid_len(p + k, n - k);
                        if (l > 0) {
                                memcpy(o, p + k, l);
                                o += l;
                                k += l;
                        } else {
                                memcpy(o, "\xef\xbf\xbd", 3);
                                o += 3;
                                k++;
                        }
                        continue;
                }
                *o++ = '\\';
                switch (c) {
                case '"':
                case '\\':
                        *o++ = (char) c;
                        break;
                case '\b':
                        *o++ = 'b';
                        break;
                case '\f':
                        *o++ = 'f';
                        break;
                case '\n':
                        *o++ = 'n';
                        break;
                case '\r':
                        *o++ = 'r';
                        break;
                case '\t':
                        *o++ = 't';
                        break;
                default:
                        memcpy(o, "u00", 3);
                        o[3] = hex[c >> 4];
                        o[4] = hex[c & 15];
                        o += 5;
                }
                k++;
        }
        *o++ = '"';
        t->len = (size_t) (o - t->data);
        t->data[t->len] = 0;
}

/* Is s exactly what json-c prints for an array of strings that we wrote ("[]", "[\"a\",\"b\"]": only
 * \" and \\ escaped, no controls, valid UTF-8)? Then it can be copied as it is. */
bool json_text_argv_is_canonical(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s;
        size_t k = 1;

        if (n < 2 || p[0] != '[' || p[n - 1] != ']')
                return false;
        if (n == 2)
                return true;
        for (;;) {
                if (k >= n || p[k++] != '"')
                        return false;
                for (;;) {
                        unsigned char c;

                        if (k >= n)
                                return false;
                        c = p[k];
                        if (c == '"')
                                break;
                        if (c < 0x20)
                                return false;
                        if (c == '\\') {
                                if (k + 1 >= n || (p[k + 1] != '"' && p[k + 1] != '\\'))
                                        return false;
                                k += 2;
                        } else if (c >= 0x80) {
                                size_t l = utf8_valid_len(p + k, n - k);

                                if (l == 0)
                                        return false;
                                k += l;
                        } else
                                k++;
                }
                k++; /* the closing quote */
                if (k == n - 1)
                        return true;
                if (p[k++] != ',')
                        return false;
        }
}

/* ---- UTF-8 ---- */

/* Length of the valid character at s (at most n bytes) as sd-bus checks it, or 0 when it is not one. */
static size_t utf8_dbus_valid_len(const unsigned char *s, size_t n) {
        uint32_t c;
        size_t len;

        if (s[0] == 0)
                return 0;
        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xe0) == 0xc0) {
                len = 2;
                c = s[0] & 0x1f;
        } else if ((s[0] & 0xf0) == 0xe0) {
                len = 3;
                c = s[0] & 0x0f;
        } else if ((s[0] & 0xf8) == 0xf0) {
                len = 4;
                c = s[0] & 0x07;
        } else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000))
                return 0; /* overlong */
        if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || (c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) == 0xfffe)
                return 0;
        return len;
}

static size_t utf8_len(const unsigned char *s, size_t n, Utf8Rules rules) {
        return rules == UTF8_RULES_DBUS ? utf8_dbus_valid_len(s, n) : utf8_valid_len(s, n);
}

size_t json_text_utf8_repaired_size(const char *s, size_t n, Utf8Rules rules) {
        const unsigned char *p = (const unsigned char *) s;
        size_t size = 0;

        for (size_t i = 0; i < n;) {
                size_t l = utf8_len(p + i, n - i, rules);

                size += l ?: 3;
                i += l ?: 1;
        }
        return size;
}

int json_text_utf8_repair(const char *s, size_t n, Utf8Rules rules, char **ret) {
        const unsigned char *p = (const unsigned char *) s;
        size_t size, k = 0;
        char *out;

        if (n > (SIZE_MAX - 1) / 3)
                return -E2BIG;
        size = json_text_utf8_repaired_size(s, n, rules);
        out = malloc(size + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n;) {
                size_t l = utf8_len(p + i, n - i, rules);

                if (l > 0) {
                        memcpy(out + k, s + i, l);
                        k += l;
                        i += l;
                } else {
                        memcpy(out + k, "\xef\xbf\xbd", 3);
                        k += 3;
                        i++;
                }
        }
        out[k] = 0;
        *ret = out;
        return 0;
}

/* ---- argv ---- */

/* Appends c to a JSON string body, escaping as JSON requires. */
static size_t json_escape_byte(char *out, unsigned char c) {
        static const char hex[] = "0123456789abcdef";

        switch (c) {
        case '"':
                memcpy(out, "\\\"", 2);
                return 2;
        case '\\':
                /* The text \\ (escaped for JSON): a backslash that starts no escape, so that an argument
                 * holding the text "\x1b" never reads like one holding an ESC byte. */
                memcpy(out, "\\\\\\\\", 4);
                return 4;
        default:
                if (c < 0x20 || c == 0x7f) {
                        /* A control character becomes the text \xNN (the backslash escaped for JSON). */
                        memcpy(out, "\\\\x", 3);
                        out[3] = hex[c >> 4];
                        out[4] = hex[c & 15];
                        return 5;
                }
                out[0] = (char) c;
                return 1;
        }
}

void argv_json_write(char *out, const char *argv, size_t len) {
        const unsigned char *p = (const unsigned char *) argv;
        char *o = out;
        bool open = false;

        *o++ = '[';
        for (size_t k = 0; k < len;) {
                size_t n;

                if (!open) {
                        if (o > out + 1)
                                *o++ = ',';
                        *o++ = '"';
                        open = true;
                }
                if (p[k] == 0) {
                        *o++ = '"';
                        open = false;
                        k++;
                        continue;
                }
                n = utf8_valid_len(p + k, len - k);
                if (n > 1) {
                        memcpy(o, p + k, n);
                        o += n;
                        k += n;
                } else if (n == 1) {
                        o += json_escape_byte(o, p[k]);
                        k++;
                } else {
                        static const char hex[] = "0123456789abcdef";

                        memcpy(o, "\\\\x", 3);
                        o[3] = hex[p[k] >> 4];
                        o[4] = hex[p[k] & 15];
                        o += 5;
                        k++;
                }
        }
        if (open)
                *o++ = '"';
        *o++ = ']';
        *o = 0;
}

char *argv_to_json(const char *argv, size_t len) {
        char *out = malloc(ARGV_JSON_MAX(len));

        if (out)
                argv_json_write(out, argv, len);
        return out;
}
