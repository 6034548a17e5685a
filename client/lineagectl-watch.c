/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl watch: events as lineaged records them, over varlink or D-Bus, until interrupted. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <systemd/sd-bus.h>

#include "lineage/dbus-methods.h"
#include "lineage/names.h"
#include "lineagectl.h"

static int print_watch_event(json_object *params) {
        json_object *e = jobj(params, "event"), *p = jobj(params, "process");
        _cleanup_free_ char *details = NULL;
        const char *comm;

        if (!e)
                return 0; /* not an event (e.g. an acknowledgement): nothing to show */
        if (arg_json != JSON_OFF) {
                int saved = arg_json;

                arg_json = JSON_SHORT; /* one event per line */
                (void) print_json(params);
                arg_json = saved;
                return fflush(stdout) == 0 ? 0 : -errno;
        }
        if (json_sanitize(params, 0) < 0)
                return 0;
        details = event_details(e, p);
        if (!details)
                return log_oom();
        comm = jstr(p, "comm");
        printf("%s  %-8s %" PRIi64 " @%" PRIi64, TS(jint_or(e, "time", 0)), strna(jstr(e, "type")),
               jint_or(e, "pid", 0), jint_or(e, "instance", 0));
        if (comm)
                printf(" (%s)", comm);
        printf("%s%s\n", details[0] ? "  " : "", details);
        return fflush(stdout) == 0 ? 0 : -errno;
}

/* Routes SIGINT/SIGTERM to quit_requested; they stay blocked except inside fd_wait()'s ppoll(). */
static int watch_setup_signals(void) {
        struct sigaction sa = { .sa_handler = on_quit_signal };
        sigset_t block;

        sigemptyset(&sa.sa_mask);
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGTERM);
        if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
            sigprocmask(SIG_BLOCK, &block, &wait_sigmask) < 0)
                return log_error_errno(errno, "Failed to set up signal handling: %m");
        sigdelset(&wait_sigmask, SIGINT);
        sigdelset(&wait_sigmask, SIGTERM);
        wait_sigmask_set = true;
        return 0;
}

static int ctl_varlink_watch(json_object *params) {
        _cleanup_(ctl_varlink_done) CtlVarlink v = { .fd = -1 };
        int64_t deadline = (int64_t) now_usec(CLOCK_MONOTONIC) + CALL_TIMEOUT_USEC;
        int r;

        r = ctl_varlink_connect(&v, arg_varlink);
        if (r < 0)
                return r;
        r = ctl_varlink_send(&v, "Watch", params, true, deadline);
        while (r >= 0) {
                _cleanup_json_ json_object *msg = NULL, *reply = NULL;
                bool continues = false;

                r = ctl_varlink_read(&v, 0, &msg);
                if (r >= 0)
                        r = ctl_varlink_reply("Watch", params, msg, &reply, &continues);
                if (r >= 0)
                        r = print_watch_event(reply);
                if (r >= 0 && !continues)
                        return 0; /* the daemon ended the stream */
        }
        return r == -ECANCELED ? 0 : r; /* SIGINT/SIGTERM end a watch successfully */
}

typedef struct CtlBusWatch {
        const char *path;   /* our subscription */
        const char *sender; /* unique name of the daemon */
        json_object *params;
        int error;
} CtlBusWatch;

static bool ctl_bus_watch_ours(CtlBusWatch *w, sd_bus_message *m) {
        return w->path && streq_ptr(sd_bus_message_get_path(m), w->path) &&
               streq_ptr(sd_bus_message_get_sender(m), w->sender);
}

/* Ended(s error): the daemon ended our subscription, e.g. with TooSlow. */
static int on_bus_ended(sd_bus_message *m, void *userdata, _unused_ sd_bus_error *ret_error) {
        CtlBusWatch *w = userdata;
        const char *error = NULL;

        if (!ctl_bus_watch_ours(w, m))
                return 0;
        if (sd_bus_message_read(m, LINEAGE_DBUS_ENDED_SIGNATURE, &error) < 0 || !error || !error[0]) {
                log_error("lineaged ended the watch.");
                w->error = -EIO;
                return 0;
        }
        w->error = report_error("Watch", w->params, error, NULL, NULL);
        return 0;
}

static int on_bus_event(sd_bus_message *m, void *userdata, _unused_ sd_bus_error *ret_error) {
        CtlBusWatch *w = userdata;
        _cleanup_json_ json_object *params = NULL;
        int r;

        if (!ctl_bus_watch_ours(w, m))
                return 0;
        if (ctl_bus_read_value(m, 0, &params) < 0 || !json_object_is_type(params, json_type_object)) {
                log_warning("Received a malformed Event signal, ignoring.");
                return 0;
        }
        r = print_watch_event(params);
        if (r < 0)
                w->error = r;
        return 0;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, _unused_ sd_bus_error *ret_error) {
        CtlBusWatch *w = userdata;
        const char *name, *old, *new;

        if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || !streq(name, LINEAGE_DBUS_NAME) || new[0])
                return 0;
        log_error("lineaged went away.");
        w->error = -ECONNRESET;
        return 0;
}

static int ctl_bus_watch_loop(sd_bus *bus, CtlBusWatch *w) {
        int r;

        for (;;) {
                uint64_t until;
                int64_t deadline = 0;

                r = sd_bus_process(bus, NULL);
                if (r < 0) {
                        log_error("Lost the connection to %s.", ctl_bus_description());
                        return -EHOSTDOWN;
                }
                if (w->error < 0)
                        return w->error;
                if (r > 0)
                        continue;
                if (sd_bus_get_timeout(bus, &until) >= 0 && until != UINT64_MAX)
                        deadline = MAX((int64_t) until, (int64_t) 1);
                r = fd_wait(sd_bus_get_fd(bus), (short) sd_bus_get_events(bus), deadline);
                if (r == -ECANCELED)
                        return 0;
                if (r < 0 && r != -ETIMEDOUT)
                        return log_error_errno(r, "Failed to wait for the bus: %m");
        }
}

/* Best effort: the daemon also drops the subscription when we disconnect. */
static void ctl_bus_unwatch(sd_bus *bus, const char *path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_json_ json_object *params = json_object_new_object();

        if (!params || json_add(params, "subscription", json_object_new_string(path)) < 0)
                return;
        if (ctl_bus_new_call(bus, "Unwatch", params, &m) >= 0)
                (void) sd_bus_call(bus, m, 0, NULL, NULL);
}

static int ctl_bus_watch(json_object *params) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        CtlBusWatch w = { .params = params };
        int r;

        r = ctl_bus_connect(&bus);
        if (r < 0)
                return r;
        r = sd_bus_match_signal(bus, NULL, NULL, NULL, LINEAGE_DBUS_INTERFACE, "Event", on_bus_event, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, NULL, NULL, LINEAGE_DBUS_INTERFACE, "Ended", on_bus_ended, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed, &w);
        if (r < 0)
                return ctl_bus_report_error("Watch", params, &error, r);
        r = ctl_bus_new_call(bus, "Watch", params, &m);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, m, CALL_TIMEOUT_USEC, &error, &reply);
        if (r < 0)
                return ctl_bus_report_error("Watch", params, &error, r);
        r = sd_bus_message_read(reply, LINEAGE_DBUS_SUBSCRIPTION_SIGNATURE, &w.path);
        if (r < 0)
                return log_error_errno(EBADMSG, "Received a malformed Watch reply from lineaged.");
        w.sender = sd_bus_message_get_sender(reply);
        r = ctl_bus_watch_loop(bus, &w);
        ctl_bus_unwatch(bus, w.path);
        return r;
}

int verb_watch(const Target *t) {
        _cleanup_json_ json_object *params = NULL;
        int r;

        r = target_params(t, false, &params);
        if (r < 0)
                return r;
        if (arg_types && json_add(params, "types", json_object_get(arg_types)) < 0)
                return log_oom();
        r = watch_setup_signals();
        if (r < 0)
                return r;
        return arg_bus ? ctl_bus_watch(params) : ctl_varlink_watch(params);
}
