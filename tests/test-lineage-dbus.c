/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the D-Bus front end's json -> a{sv} conversion and UTF-8 repair, read back from sealed messages. */
#include <sys/socket.h>

#include "lineage-dbus.h"
#include "tests.h"

static inline void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

static sd_bus *test_bus(void) {
        sd_bus *bus = NULL;
        int fds[2];

        /* Messages need a started bus object; a socket pair is enough, nothing is sent. */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
                return NULL;
        if (sd_bus_new(&bus) < 0 || sd_bus_set_fd(bus, fds[0], fds[0]) < 0 || sd_bus_start(bus) < 0) {
                sd_bus_unref(bus);
                return NULL;
        }
        close(fds[1]);
        return bus;
}

static json_object *read_value(sd_bus_message *m, const char *sig);

/* Reads a variant as ["signature", value]. */
static json_object *read_variant(sd_bus_message *m) {
        const char *contents;
        json_object *pair, *v;
        char type;

        if (sd_bus_message_peek_type(m, &type, &contents) <= 0 || type != 'v')
                return NULL;
        if (sd_bus_message_enter_container(m, 'v', contents) < 0)
                return NULL;
        pair = json_object_new_array();
        json_object_array_add(pair, json_object_new_string(contents));
        v = read_value(m, contents);
        json_object_array_add(pair, v);
        if (!v || sd_bus_message_exit_container(m) < 0) {
                json_object_put(pair);
                return NULL;
        }
        return pair;
}

static json_object *read_value(sd_bus_message *m, const char *sig) {
        json_object *o = NULL;
        const char *s;
        int64_t x;
        double d;
        int b;

        switch (sig[0]) {
        case 'x':
                return sd_bus_message_read_basic(m, 'x', &x) > 0 ? json_object_new_int64(x) : NULL;
        case 'b':
                return sd_bus_message_read_basic(m, 'b', &b) > 0 ? json_object_new_boolean(b) : NULL;
        case 'd':
                return sd_bus_message_read_basic(m, 'd', &d) > 0 ? json_object_new_double(d) : NULL;
        case 's':
                return sd_bus_message_read_basic(m, 's', &s) > 0 ? json_object_new_string(s) : NULL;
        case 'a':
                break;
        default:
                return NULL;
        }
        if (sd_bus_message_enter_container(m, 'a', sig + 1) < 0)
                return NULL;
        if (streq(sig, "a{sv}")) {
                o = json_object_new_object();
                while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                        json_object *v;

                        if (sd_bus_message_read_basic(m, 's', &s) <= 0)
                                goto fail;
                        s = strdupa(s);
                        v = read_variant(m);
                        if (!v)
                                goto fail;
                        json_object_object_add(o, s, v);
                        if (sd_bus_message_exit_container(m) < 0)
                                goto fail;
                }
        } else {
                o = json_object_new_array();
                while (sd_bus_message_at_end(m, false) == 0) {
                        json_object *v = streq(sig, "av") ? read_variant(m) : read_value(m, sig + 1);

                        if (!v)
                                goto fail;
                        json_object_array_add(o, v);
                }
        }
        if (sd_bus_message_exit_container(m) < 0)
                goto fail;
        return o;
fail:
        json_object_put(o);
        return NULL;
}

/* Converts json text into a sealed signal, and reads it back as typed json (or NULL; *ret_r says why). */
static json_object *roundtrip(sd_bus *bus, const char *text, size_t max, int *ret_r) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(json_putp) json_object *in = json_tokener_parse(text);
        int r;

        *ret_r = -EINVAL;
        if (!in || sd_bus_message_new_signal(bus, &m, "/test", "org.example.Test", "Test") < 0)
                return NULL;
        r = lineage_dbus_append_json(m, in, max);
        *ret_r = r;
        if (r < 0)
                return NULL;
        if (sd_bus_message_seal(m, 1, 0) < 0 || sd_bus_message_rewind(m, true) < 0)
                return NULL;
        return read_value(m, "a{sv}");
}

static void check_roundtrip(sd_bus *bus, const char *in, const char *expected) {
        _cleanup_(json_putp) json_object *got = NULL, *want = json_tokener_parse(expected);
        int r;

        got = roundtrip(bus, in, LINEAGE_DBUS_REPLY_SIZE_MAX, &r);
        ASSERT_TRUE(r >= 0);
        ASSERT_TRUE(got && want && json_object_equal(got, want));
        if (got && want && !json_object_equal(got, want))
                fprintf(stderr, "  in:   %s\n  got:  %s\n  want: %s\n", in, json_object_to_json_string(got),
                        json_object_to_json_string(want));
}

static void check_utf8(sd_bus *bus, const char *in, size_t n, const char *want) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *out = NULL;

        ASSERT_TRUE(lineage_dbus_utf8_sanitize(in, n, &out) == 0);
        ASSERT_TRUE(out && streq(out, want));
        /* sd-bus must accept the result as a string. */
        ASSERT_TRUE(sd_bus_message_new_signal(bus, &m, "/test", "org.example.Test", "Test") >= 0);
        ASSERT_TRUE(out && m && sd_bus_message_append_basic(m, 's', out) >= 0);
}

static void test_utf8(sd_bus *bus) {
        check_utf8(bus, "plain", 5, "plain");
        check_utf8(bus, "", 0, "");
        check_utf8(bus, "\xc3\xa9t\xc3\xa9", 5, "\xc3\xa9t\xc3\xa9");
        check_utf8(bus, "\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80");
        check_utf8(bus, "a\xff" "b", 3, "a\xef\xbf\xbd" "b");
        check_utf8(bus, "a\0b", 3, "a\xef\xbf\xbd" "b");
        check_utf8(bus, "\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");                         /* overlong */
        check_utf8(bus, "\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");         /* surrogate */
        check_utf8(bus, "\xef\xbf\xbe", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");         /* U+FFFE */
        check_utf8(bus, "\xef\xb7\x90", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");         /* U+FDD0 */
        check_utf8(bus, "\xf4\x90\x80\x80", 4,
                   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");                    /* > U+10FFFF */
        check_utf8(bus, "x\xe2\x82", 3, "x\xef\xbf\xbd\xef\xbf\xbd");                         /* cut short */
}

static void test_convert(sd_bus *bus) {
        /* Scalars, a record with a null field, string arrays, invalid UTF-8 from a process name. */
        check_roundtrip(bus,
                        "{\"process\": {\"pid\": 5, \"comm\": \"a\\u00ffb\", \"exitTime\": null, \"alive\": true,"
                        " \"argv\": [\"x\", \"y\"]}, \"login\": null, \"ratio\": 0.5}",
                        "{\"process\": [\"a{sv}\", {\"pid\": [\"x\", 5], \"comm\": [\"s\", \"a\\u00ffb\"],"
                        " \"alive\": [\"b\", true], \"argv\": [\"as\", [\"x\", \"y\"]]}], \"ratio\": [\"d\", 0.5]}");
        /* Empty arrays take the varlink field's type; unknown ones become av. */
        check_roundtrip(bus,
                        "{\"ancestors\": [], \"gaps\": [], \"depths\": [], \"argv\": [], \"other\": []}",
                        "{\"ancestors\": [\"aa{sv}\", []], \"gaps\": [\"aa{sv}\", []], \"depths\": [\"ax\", []],"
                        " \"argv\": [\"as\", []], \"other\": [\"av\", []]}");
        /* Arrays of records and of integers; a [string]int map; a mixed array (its null left out). */
        check_roundtrip(bus,
                        "{\"descendants\": [{\"pid\": 2}, {\"pid\": 3, \"exe\": null}], \"depths\": [1, 2],"
                        " \"status\": {\"events\": {\"fork\": 7}}, \"mixed\": [1, \"a\", null, true]}",
                        "{\"descendants\": [\"aa{sv}\", [{\"pid\": [\"x\", 2]}, {\"pid\": [\"x\", 3]}]],"
                        " \"depths\": [\"ax\", [1, 2]],"
                        " \"status\": [\"a{sv}\", {\"events\": [\"a{sv}\", {\"fork\": [\"x\", 7]}]}],"
                        " \"mixed\": [\"av\", [[\"x\", 1], [\"s\", \"a\"], [\"b\", true]]]}");
        /* Large and negative integers survive. */
        check_roundtrip(bus, "{\"a\": 9223372036854775807, \"b\": -1}",
                        "{\"a\": [\"x\", 9223372036854775807], \"b\": [\"x\", -1]}");
}

static void test_invalid_utf8_in_json(sd_bus *bus) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(json_putp) json_object *o = json_object_new_object(), *got = NULL;
        json_object *v;

        /* json-c keeps whatever bytes it is given: a raw 0xff and a NUL inside a string. */
        json_object_object_add(o, "comm", json_object_new_string_len("a\xff\0z", 4));
        ASSERT_TRUE(sd_bus_message_new_signal(bus, &m, "/test", "org.example.Test", "Test") >= 0);
        ASSERT_TRUE(lineage_dbus_append_json(m, o, 4096) >= 0);
        ASSERT_TRUE(sd_bus_message_seal(m, 1, 0) >= 0 && sd_bus_message_rewind(m, true) >= 0);
        got = read_value(m, "a{sv}");
        ASSERT_TRUE(got && json_object_object_get_ex(got, "comm", &v));
        ASSERT_TRUE(got && streq(json_object_get_string(json_object_array_get_idx(v, 1)),
                           "a\xef\xbf\xbd\xef\xbf\xbdz"));
}

static void test_limits(sd_bus *bus) {
        _cleanup_(json_putp) json_object *big = json_object_new_object(), *arr = json_object_new_array(), *got = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        char chunk[1001];
        int r;

        memset(chunk, 'x', 1000);
        chunk[1000] = 0;
        for (int i = 0; i < 1000; i++)
                json_object_array_add(arr, json_object_new_string(chunk));
        json_object_object_add(big, "argv", json_object_get(arr));

        ASSERT_TRUE(sd_bus_message_new_signal(bus, &m, "/test", "org.example.Test", "Test") >= 0);
        ASSERT_TRUE(lineage_dbus_append_json(m, big, 100 * 1000) == -E2BIG);
        m = sd_bus_message_unref(m);
        ASSERT_TRUE(sd_bus_message_new_signal(bus, &m, "/test", "org.example.Test", "Test") >= 0);
        ASSERT_TRUE(lineage_dbus_append_json(m, big, LINEAGE_DBUS_REPLY_SIZE_MAX) >= 0);

        /* The estimate is an upper bound of the real encoding: a small budget that fits must work. */
        got = roundtrip(bus, "{\"pid\": 1}", 64, &r);
        ASSERT_TRUE(r >= 0 && got);
        ASSERT_TRUE(!roundtrip(bus, "{\"pid\": 1}", 8, &r) && r == -E2BIG);
        ASSERT_TRUE(!roundtrip(bus, "[1, 2]", 4096, &r) && r == -EINVAL);
}

int main(void) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = test_bus();

        if (!bus) {
                fprintf(stderr, "Failed to set up a bus object.\n");
                return EXIT_FAILURE;
        }
        test_utf8(bus);
        test_convert(bus);
        test_invalid_utf8_in_json(bus);
        test_limits(bus);
        printf("all checks passed\n");
        return EXIT_SUCCESS;
}
