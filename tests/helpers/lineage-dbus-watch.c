/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineage-dbus-watch: a D-Bus client for tests/integration/test-dbus.sh that holds one connection, so Watch works. */
#include <inttypes.h>
#include <poll.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "lineage/names.h"
#include "lineage/util.h"

/* How long a method call or an awaited event may take. Generous on purpose: under a sanitizer on a
 * loaded machine a reply can take many seconds, and sd-bus's default of 25 s made the suite flaky. The
 * test's own timeout stays the real bound. */
#define TIMEOUT_USEC (120 * USEC_PER_SEC)

static int connect_bus(const char *address, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_set_method_call_timeout(bus, TIMEOUT_USEC);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to %s: %m", address);
        *ret = TAKE_PTR(bus);
        return 0;
}

/* Calls Watch(pid, 0, types); types is a comma-separated list or "-". */
static int call_watch(sd_bus *bus, int64_t pid, const char *types, sd_bus_error *error, char **ret_path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *copy = NULL;
        const char *path;
        char *save = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, LINEAGE_DBUS_NAME, LINEAGE_DBUS_PATH, LINEAGE_DBUS_INTERFACE,
                                           "Watch");
        if (r >= 0)
                r = sd_bus_message_append(m, "ut", (uint32_t) pid, (uint64_t) 0);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "s");
        if (r < 0)
                return r;
        copy = strdup(types);
        if (!copy)
                return -ENOMEM;
        if (!streq(types, "-"))
                for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                        r = sd_bus_message_append_basic(m, 's', t);
                        if (r < 0)
                                return r;
                }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, m, 0, error, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        *ret_path = strdup(path);
        return *ret_path ? 0 : -ENOMEM;
}

/* Reads reply["event"]["type"] and reply["event"]["pid"] from an Event signal. */
static int read_event(sd_bus_message *m, char *type, size_t type_size, int64_t *pid) {
        const char *key, *s;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read_basic(m, 's', &key);
                if (r >= 0 && streq(key, "event")) {
                        r = sd_bus_message_enter_container(m, 'v', "a{sv}");
                        if (r >= 0)
                                r = sd_bus_message_enter_container(m, 'a', "{sv}");
                        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                                r = sd_bus_message_read_basic(m, 's', &key);
                                if (r >= 0 && streq(key, "type")) {
                                        r = sd_bus_message_read(m, "v", "s", &s);
                                        if (r >= 0)
                                                snprintf(type, type_size, "%s", s);
                                } else if (r >= 0 && streq(key, "pid"))
                                        r = sd_bus_message_read(m, "v", "x", pid);
                                else if (r >= 0)
                                        r = sd_bus_message_skip(m, "v");
                                if (r >= 0)
                                        r = sd_bus_message_exit_container(m);
                        }
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                } else if (r >= 0)
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        return r;
}

/* Waits for the next message; -ETIMEDOUT after the deadline. */
static int next_message(sd_bus *bus, uint64_t deadline, sd_bus_message **ret) {
        for (;;) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                int r;

                r = sd_bus_process(bus, ret);
                if (r < 0)
                        return r;
                if (r > 0 && *ret)
                        return 0;
                if (r > 0)
                        continue;
                if (now >= deadline)
                        return -ETIMEDOUT;
                r = sd_bus_wait(bus, deadline - now);
                if (r < 0)
                        return r;
        }
}

/* watch ADDRESS PID TYPES COUNT: prints "subscription PATH", then "event TYPE PID" for COUNT events,
 * then calls Unwatch and prints "unwatched". */
static int do_watch(const char *address, const char *pid_arg, const char *types, const char *count_arg) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *path = NULL;
        uint64_t pid, count, seen = 0, deadline;
        int r;

        if (safe_atou64(pid_arg, &pid) < 0 || safe_atou64(count_arg, &count) < 0 || pid > INT64_MAX)
                return log_error_errno(EINVAL, "Bad PID or COUNT.");
        r = connect_bus(address, &bus);
        if (r < 0)
                return r;
        r = call_watch(bus, (int64_t) pid, types, &error, &path);
        if (r < 0) {
                printf("error %s\n", error.name ?: "-");
                return 0;
        }
        printf("subscription %s\n", path);
        fflush(stdout);
        deadline = now_usec(CLOCK_MONOTONIC) + TIMEOUT_USEC;
        while (seen < count) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                char type[32] = "";
                int64_t epid = -1;

                r = next_message(bus, deadline, &m);
                if (r < 0)
                        return log_error_errno(r, "No event came: %m");
                if (!streq_ptr(sd_bus_message_get_path(m), path))
                        continue;
                if (sd_bus_message_is_signal(m, LINEAGE_DBUS_INTERFACE, "Ended")) {
                        const char *e = NULL;

                        (void) sd_bus_message_read(m, "s", &e);
                        printf("ended %s\n", strna(e));
                        return -ECONNRESET;
                }
                if (!sd_bus_message_is_signal(m, LINEAGE_DBUS_INTERFACE, "Event"))
                        continue;
                r = read_event(m, type, sizeof(type), &epid);
                if (r < 0)
                        return log_error_errno(r, "Malformed Event signal: %m");
                printf("event %s %" PRIi64 "\n", type, epid);
                fflush(stdout);
                seen++;
        }
        r = sd_bus_call_method(bus, LINEAGE_DBUS_NAME, LINEAGE_DBUS_PATH, LINEAGE_DBUS_INTERFACE, "Unwatch", &error,
                               NULL, "o", path);
        if (r < 0)
                return log_error_errno(r, "Unwatch failed: %s", error.message ?: "?");
        printf("unwatched\n");
        return 0;
}

/* Counts the Event signals among the messages sd-bus has already read. */
static int count_queued(sd_bus *bus, uint64_t *n) {
        for (;;) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                int r;

                r = sd_bus_process(bus, &m);
                if (r <= 0)
                        return r;
                if (m && sd_bus_message_is_signal(m, LINEAGE_DBUS_INTERFACE, NULL))
                        (*n)++;
        }
}

/* listen ADDRESS: counts the Event signals of any subscription this connection can see, until stdin
 * ends; then asks the bus for a reply, so that whatever it routed before is counted too. */
static int do_listen(const char *address) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        uint64_t n = 0;
        int r;

        r = connect_bus(address, &bus);
        if (r < 0)
                return r;
        r = sd_bus_add_match(bus, NULL, "type='signal',interface='" LINEAGE_DBUS_INTERFACE "'", NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to add the match: %m");
        printf("listening\n");
        fflush(stdout);
        for (;;) {
                struct pollfd p[2] = { { .fd = STDIN_FILENO, .events = POLLIN }, { .fd = sd_bus_get_fd(bus) } };
                char buf[64];
                ssize_t k;

                r = count_queued(bus, &n);
                if (r < 0)
                        return log_error_errno(r, "Failed to read from the bus: %m");
                r = sd_bus_get_events(bus);
                if (r < 0)
                        return log_error_errno(r, "Failed to read from the bus: %m");
                p[1].events = (short) r;
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "poll() failed: %m");
                }
                if (p[0].revents == 0)
                        continue;
                k = read(STDIN_FILENO, buf, sizeof(buf));
                if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN))
                        break;
        }
        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId",
                               &error, NULL, "");
        if (r < 0)
                return log_error_errno(r, "GetId failed: %s", error.message ?: "?");
        r = count_queued(bus, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to read from the bus: %m");
        printf("received %" PRIu64 "\n", n);
        return 0;
}

/* limit ADDRESS PID: subscribes to PID's subtree until refused; prints "ok N error NAME". PID should be
 * a quiet process: this counts subscriptions, and a watch of everything (PID 0) would have the daemon
 * send every event on the machine to us, so that on a busy machine the replies queue behind them. */
static int do_limit(const char *address, const char *pid_arg) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        uint64_t pid;
        unsigned n = 0;
        int r;

        if (safe_atou64(pid_arg, &pid) < 0 || pid > INT64_MAX)
                return log_error_errno(EINVAL, "Bad PID.");
        r = connect_bus(address, &bus);
        if (r < 0)
                return r;
        for (; n < 1000; n++) {
                _cleanup_free_ char *path = NULL;

                r = call_watch(bus, (int64_t) pid, "-", &error, &path);
                if (r < 0)
                        break;
        }
        printf("ok %u error %s\n", n, error.name ?: "-");
        return 0;
}

int main(int argc, char **argv) {
        int r = -EINVAL;

        log_setup();
        if (argc == 6 && streq(argv[1], "watch"))
                r = do_watch(argv[2], argv[3], argv[4], argv[5]);
        else if (argc == 3 && streq(argv[1], "listen"))
                r = do_listen(argv[2]);
        else if (argc == 4 && streq(argv[1], "limit"))
                r = do_limit(argv[2], argv[3]);
        else
                fprintf(stderr, "Usage: %s watch ADDRESS PID TYPES|- COUNT | listen ADDRESS | limit ADDRESS PID\n",
                        argv[0]);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
