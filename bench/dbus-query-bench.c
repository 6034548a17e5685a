/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dbus-query-bench: latency of one D-Bus method of lineaged, call after call, through a bus.
 *
 *   dbus-query-bench BUS_ADDRESS METHOD PARAMS_FILE [CALLS] [WARMUP] [TIMEOUT_S]
 *
 * METHOD: GetOrigin, Resolve or GetDescendants. PARAMS_FILE is query-bench's: one JSON object per line
 * with the varlink parameters ("pid", "instance", "at", "bootId", "limit", "aliveOnly"); a key left out
 * becomes D-Bus's "not given" (0, "" or false). Call k uses line k mod lines. The message is built
 * before the clock starts; each call is timed from sd_bus_call() until its reply has arrived. Replies
 * are walked after the clock stopped; error replies are counted, and the first one is printed with its
 * name and message. Prints query-bench's line:
 *   query method=M calls=N errors=E p50_us=.. p90_us=.. p99_us=.. max_us=.. mean_us=.. items=..
 * (items: the largest descendants/ancestors array seen; sd-bus does not tell a message's size, so there
 * is no reply_bytes) and exits 1 when any call failed. TIMEOUT_S (default 30) bounds each call. */
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "lineage/names.h"

#include "latency.h"

static void die(const char *what, int r) {
        fprintf(stderr, "dbus-query-bench: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(1);
}

static int64_t get_int(json_object *o, const char *key) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static const char *get_str(json_object *o, const char *key) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static sd_bus_message *build(sd_bus *bus, const char *method, json_object *p) {
        sd_bus_message *m = NULL;
        json_object *v;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, LINEAGE_DBUS_NAME, LINEAGE_DBUS_PATH, LINEAGE_DBUS_INTERFACE,
                                           method);
        if (r < 0)
                die("new method call", r);
        if (strcmp(method, "GetOrigin") == 0)
                r = sd_bus_message_append(m, "utx", (uint32_t) get_int(p, "pid"), (uint64_t) get_int(p, "instance"),
                                          get_int(p, "at"));
        else if (strcmp(method, "Resolve") == 0)
                r = sd_bus_message_append(m, "uxs", (uint32_t) get_int(p, "pid"), get_int(p, "at"),
                                          json_object_object_get_ex(p, "bootId", &v) ? json_object_get_string(v) : "");
        else if (strcmp(method, "GetDescendants") == 0)
                r = sd_bus_message_append(m, "utxub", (uint32_t) get_int(p, "pid"), (uint64_t) get_int(p, "instance"),
                                          get_int(p, "at"), (uint32_t) get_int(p, "limit"),
                                          (int) (json_object_object_get_ex(p, "aliveOnly", &v) &&
                                                 json_object_get_boolean(v)));
        else if (strcmp(method, "Search") == 0)
                r = sd_bus_message_append(m, "sssxtusxxbu", get_str(p, "exe"), get_str(p, "comm"), get_str(p, "argv"),
                                          json_object_object_get_ex(p, "uid", &v) ? json_object_get_int64(v) : (int64_t) -1,
                                          (uint64_t) get_int(p, "loginInstance"), (uint32_t) get_int(p, "auditSession"),
                                          get_str(p, "bootId"), get_int(p, "since"), get_int(p, "until"), 0,
                                          (uint32_t) get_int(p, "limit"));
        else {
                fprintf(stderr, "dbus-query-bench: unsupported method %s\n", method);
                exit(2);
        }
        if (r < 0)
                die("append", r);
        return m;
}

/* The number of elements of the reply's "descendants", "ancestors" or "processes" array, 0 when it has none. */
static size_t count_items(sd_bus_message *reply) {
        size_t n = 0;
        const char *key;
        int r;

        if (sd_bus_message_enter_container(reply, 'a', "{sv}") <= 0)
                return 0;
        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                if (sd_bus_message_read_basic(reply, 's', &key) <= 0)
                        return n;
                if ((strcmp(key, "descendants") == 0 || strcmp(key, "ancestors") == 0 || strcmp(key, "processes") == 0) &&
                    sd_bus_message_enter_container(reply, 'v', "aa{sv}") > 0 &&
                    sd_bus_message_enter_container(reply, 'a', "a{sv}") > 0) {
                        while ((r = sd_bus_message_skip(reply, "a{sv}")) > 0)
                                n++;
                        return n;
                }
                if (sd_bus_message_skip(reply, "v") < 0 || sd_bus_message_exit_container(reply) < 0)
                        return n;
        }
        return n;
}

int main(int argc, char **argv) {
        json_object **params = NULL;
        char *line = NULL;
        size_t n_params = 0, cap = 0, line_size = 0, items = 0;
        long calls, warmup, timeout_s;
        uint64_t *lat, sum = 0;
        unsigned errors = 0;
        sd_bus *bus = NULL;
        FILE *f;
        int r;

        if (argc < 4) {
                fprintf(stderr, "usage: dbus-query-bench BUS_ADDRESS METHOD PARAMS_FILE [CALLS] [WARMUP] [TIMEOUT_S]\n");
                return 2;
        }
        calls = argc > 4 ? atol(argv[4]) : 20000;
        warmup = argc > 5 ? atol(argv[5]) : 100;
        timeout_s = argc > 6 ? atol(argv[6]) : 30;
        if (calls < 1 || warmup < 0 || timeout_s < 1)
                return 2;

        f = fopen(argv[3], "re");
        if (!f)
                die(argv[3], errno);
        while (getline(&line, &line_size, f) > 0) {
                json_object *o;

                if (line[strspn(line, " \t\n")] == 0)
                        continue;
                o = json_tokener_parse(line);
                if (!o || !json_object_is_type(o, json_type_object)) {
                        fprintf(stderr, "dbus-query-bench: not a JSON object in %s: %s", argv[3], line);
                        return 1;
                }
                if (n_params == cap) {
                        cap = cap ? cap * 2 : 1024;
                        params = realloc(params, cap * sizeof(json_object *));
                        if (!params)
                                die("realloc", ENOMEM);
                }
                params[n_params++] = o;
        }
        fclose(f);
        free(line);
        if (n_params == 0) {
                fprintf(stderr, "dbus-query-bench: no parameters in %s\n", argv[3]);
                return 1;
        }

        r = sd_bus_new(&bus);
        if (r < 0)
                die("sd_bus_new", r);
        r = sd_bus_set_address(bus, argv[1]);
        if (r < 0)
                die("sd_bus_set_address", r);
        (void) sd_bus_set_bus_client(bus, 1);
        r = sd_bus_start(bus);
        if (r < 0)
                die("connect to the bus", r);

        lat = calloc((size_t) calls, sizeof(uint64_t));
        if (!lat)
                die("calloc", ENOMEM);
        for (long k = -warmup; k < calls; k++) {
                sd_bus_message *m = build(bus, argv[2], params[(size_t) (k + warmup) % n_params]), *reply = NULL;
                sd_bus_error error = SD_BUS_ERROR_NULL;
                uint64_t t0, t;

                t0 = now_ns();
                r = sd_bus_call(bus, m, (uint64_t) timeout_s * 1000000ULL, &error, &reply);
                t = now_ns() - t0;
                if (k >= 0) {
                        lat[k] = t;
                        sum += t;
                        if (r < 0) {
                                if (errors++ == 0)
                                        fprintf(stderr, "dbus-query-bench: %s %s -> %s: %s (%s)\n", argv[2],
                                                json_object_to_json_string(params[(size_t) (k + warmup) % n_params]),
                                                error.name ?: "(no error name)", error.message ?: "",
                                                strerror(-r));
                        } else if (sd_bus_message_rewind(reply, 1) >= 0) {
                                size_t n = count_items(reply);

                                if (n > items)
                                        items = n;
                        }
                }
                sd_bus_error_free(&error);
                sd_bus_message_unref(reply);
                sd_bus_message_unref(m);
                if (r < 0 && sd_bus_is_open(bus) <= 0) {
                        fprintf(stderr, "dbus-query-bench: the bus connection closed\n");
                        return 1;
                }
        }
        sd_bus_flush_close_unref(bus);
        latency_print(argv[2], calls, errors, lat, sum);
        printf(" items=%zu\n", items);
        return errors ? 1 : 0;
}
