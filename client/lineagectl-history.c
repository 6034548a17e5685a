/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl history, resolve, logins, search and status. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pwd.h>

#include "glyph.h"
#include "lineagectl.h"

int verb_history(const Target *t) {
        _cleanup_json_ json_object *reply = NULL, *extra = json_object_new_object();
        json_object *events, *p;
        size_t n, cut;
        int r;

        if (!extra)
                return log_oom();
        if (arg_limit_set && json_add(extra, "limit", json_object_new_int64((int64_t) arg_limit)) < 0)
                return log_oom();
        r = request_process("GetHistory", t, true, extra, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        p = jobj(reply, "process");
        r = print_process_line(p, "History of ", NULL, user_mark(p, NULL));
        if (r < 0)
                return r;
        events = jarr(reply, "events");
        n = jarr_len(events);
        /* A limited history still ends with the exit (from the instance itself): the events left out
         * are those before it, so say so there. */
        cut = jbool(reply, "truncated") ? n : SIZE_MAX;
        if (cut != SIZE_MAX && n > 1 && !jbool(p, "alive") &&
            streq_ptr(jstr(json_object_array_get_idx(events, n - 1), "type"), "exit"))
                cut = n - 1;
        for (size_t i = 0; i <= n; i++) {
                json_object *e = json_object_array_get_idx(events, i);
                _cleanup_free_ char *details = NULL;

                if (i == cut)
                        printf("%s more events left out here; raise --limit (now %" PRIu64 ") to see them\n",
                               glyph(GLYPH_ELLIPSIS), arg_limit_set ? arg_limit : (uint64_t) 10000);
                if (i == n)
                        break;
                details = event_details(e, p);
                if (!details)
                        return log_oom();
                printf("%s  %-8s  %s\n", TS(jint_or(e, "time", 0)), strna(jstr(e, "type")), details);
        }
        print_gaps(reply);
        return 0;
}

static void print_process_block(json_object *p) {
        _cleanup_free_ char *cmd = process_command(p, arg_full ? SIZE_MAX : LINE_COMMAND_MAX);
        _cleanup_free_ char *state = process_state(p, false);
        const char *src = strna(jstr(p, "lineageSource"));
        int64_t v, w;

        print_field(12, "Process", "%" PRIi64 " @%" PRIi64 "%s", jint_or(p, "pid", 0), jint_or(p, "instance", 0),
                    jbool(p, "redacted") ? " (redacted)" : "");
        print_field(12, "Command", "%s", strna(cmd));
        if (jstr(p, "exe"))
                print_field(12, "Executable", "%s", jstr(p, "exe"));
        print_field(12, "Started", "%s", TS(jint_or(p, "startTime", 0)));
        print_field(12, "State", "%s", strna(state));
        if (jint(p, "birthParentPid", &v) && jint(p, "birthParentInstance", &w))
                print_field(12, "Birth parent", "%" PRIi64 " @%" PRIi64 " (%s)", v, w, src);
        else if (jint(p, "birthParentPid", &v))
                print_field(12, "Birth parent", "%" PRIi64 " (%s)", v, src);
        else
                print_field(12, "Birth parent", "unknown (%s)", src);
        if (jint(p, "parentPid", &v))
                print_field(12, jbool(p, "alive") ? "Parent" : "Exited under", "%" PRIi64, v);
        if (jint(p, "uid", &v))
                print_field(12, "UID/GID", "%" PRIi64 "/%" PRIi64, v, jint_or(p, "gid", -1));
        if (jint(p, "loginUid", &v))
                print_field(12, "Login UID", "%" PRIi64 ", audit session %" PRIi64, v, jint_or(p, "auditSession", -1));
        if (jint(p, "sid", &v))
                print_field(12, "Session ID", "%" PRIi64, v);
        if (jint(p, "cabaPid", &v))
                print_field(12, "CABA", "%" PRIi64 " @%" PRIi64, v, jint_or(p, "cabaInstance", 0));
        if (jstr(p, "cgroup"))
                print_field(12, "Cgroup", "%s", jstr(p, "cgroup"));
        if (jstr(p, "containerId"))
                print_field(12, "Container", "%s", jstr(p, "containerId"));
        if (jstr(p, "bootId"))
                print_field(12, "Boot ID", "%s", jstr(p, "bootId"));
}

int verb_resolve(const Target *t, int64_t at) {
        _cleanup_json_ json_object *reply = NULL, *params = json_object_new_object();
        int r;

        if (!params)
                return log_oom();
        if (json_add(params, "pid", json_object_new_int64(t->pid)) < 0 ||
            json_add(params, "at", json_object_new_int64(at)) < 0 ||
            (arg_boot && json_add(params, "bootId", json_object_new_string(arg_boot)) < 0))
                return log_oom();
        r = request("Resolve", params, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        if (!jobj(reply, "process"))
                return log_error_errno(EBADMSG, "Received a reply without a process from lineaged.");
        printf("At %s, pid %" PRIi64 " was held by:\n", TS(at), t->pid);
        print_process_block(jobj(reply, "process"));
        print_gaps(reply);
        return 0;
}

static int add_login_row(Table *t, json_object *l) {
        const char *addr = jstr(l, "remoteAddress");
        int64_t port, end, alive;
        int r;

        r = table_addf(t, "%" PRIi64, jint_or(l, "auditSession", 0));
        if (r >= 0)
                r = table_addf(t, "%" PRIi64, jint_or(l, "loginUid", -1));
        if (r >= 0)
                r = table_add(t, strdup(jstr(l, "user") ?: "-"));
        if (r >= 0 && jstr(l, "service"))
                r = table_addf(t, "%s%s", jstr(l, "service"), claimed(l));
        else if (r >= 0)
                r = table_add(t, strdup("-"));
        if (r >= 0)
                r = table_add(t, strdup(jstr(l, "tty") ?: "-"));
        if (r >= 0 && addr && jint(l, "remotePort", &port))
                r = table_addf(t, strchr(addr, ':') ? "[%s]:%" PRIi64 "%s" : "%s:%" PRIi64 "%s", addr, port, claimed(l));
        else if (r >= 0 && addr)
                r = table_addf(t, "%s%s", addr, claimed(l));
        else if (r >= 0)
                r = table_add(t, strdup("-"));
        if (r >= 0)
                r = table_addf(t, "%s (%s)", TS(jint_or(l, "startTime", 0)), AGO(jint_or(l, "startTime", 0)));
        if (r >= 0 && jint(l, "aliveProcesses", &alive))
                r = table_addf(t, "%" PRIi64, alive);
        else if (r >= 0)
                r = table_add(t, strdup("-"));
        if (r >= 0 && jint(l, "endTime", &end))
                r = table_addf(t, "ended %s%s", TS(end), self_declared(l) ? ", self-declared" : "");
        else if (r >= 0)
                r = table_addf(t, "%s%s", jbool(l, "alive") ? "active" : "ended", self_declared(l) ? ", self-declared" : "");
        return r;
}

int verb_logins(void) {
        static const char *const header[] = { "SESSION", "UID", "USER", "SERVICE", "TTY", "REMOTE", "STARTED", "ALIVE", "STATE" };
        _cleanup_json_ json_object *reply = NULL, *params = json_object_new_object();
        _cleanup_(table_done) Table table = { .n_columns = 9 };
        json_object *logins;
        int r = 0;

        if (!params)
                return log_oom();
        if ((arg_user_set && json_add(params, "loginUid", json_object_new_int64(arg_user)) < 0) ||
            (arg_since_set && json_add(params, "since", json_object_new_int64(arg_since)) < 0) ||
            (arg_until_set && json_add(params, "until", json_object_new_int64(arg_until)) < 0) ||
            (arg_alive && json_add(params, "aliveOnly", json_object_new_boolean(true)) < 0) ||
            (arg_limit_set && json_add(params, "limit", json_object_new_int64((int64_t) arg_limit)) < 0))
                return log_oom();
        r = request("ListLogins", params, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        logins = jarr(reply, "logins");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(header); i++)
                r = table_add(&table, strdup(header[i]));
        for (size_t i = 0; r >= 0 && i < jarr_len(logins); i++)
                r = add_login_row(&table, json_object_array_get_idx(logins, i));
        if (r < 0)
                return log_oom();
        if (jarr_len(logins) > 0) {
                r = table_print(&table);
                if (r < 0)
                        return r;
                if (!arg_no_legend)
                        putchar('\n');
        }
        if (!arg_no_legend)
                printf("%zu login(s) listed.\n", jarr_len(logins));
        print_truncated_default(reply, 1000);
        return 0;
}

/* The user name of a uid, else the number. */
static char *user_label(int64_t uid) {
        struct passwd *pw = uid >= 0 ? getpwuid((uid_t) uid) : NULL;
        char *s;

        if (pw && pw->pw_name)
                return strdup(pw->pw_name);
        return asprintf(&s, "%" PRIi64, uid) < 0 ? NULL : s;
}

/* PID INSTANCE USER STARTED ENDED COMMAND, like ps. */
static int add_search_row(Table *t, json_object *p) {
        char *cmd = process_command(p, arg_full ? SIZE_MAX : TABLE_COMMAND_MAX);
        int64_t end;
        int r;

        r = table_addf(t, "%" PRIi64, jint_or(p, "pid", 0));
        if (r >= 0)
                r = table_addf(t, "@%" PRIi64, jint_or(p, "instance", 0));
        if (r >= 0)
                r = table_add(t, user_label(jint_or(p, "uid", -1)));
        if (r >= 0)
                r = table_add(t, strdup(TS(jint_or(p, "startTime", 0))));
        if (r >= 0 && jbool(p, "alive"))
                r = table_add(t, strdup("alive"));
        else if (r >= 0 && jint(p, "exitTime", &end))
                r = table_addf(t, "%s%s", jbool(p, "exitUnknown") ? "by " : "", TS(end));
        else if (r >= 0)
                r = table_add(t, strdup("-"));
        if (r >= 0)
                r = table_add(t, TAKE_PTR(cmd));
        free(cmd);
        return r;
}

/* search --login=@INSTANCE (the login that began there) or SESSION (an audit session id). */
static int search_login_params(json_object *params) {
        uint64_t u;
        bool instance = arg_login[0] == '@';

        if (safe_atou64(arg_login + instance, &u) < 0 || (instance ? u == 0 || u > INT64_MAX : u > UINT32_MAX))
                return log_error_errno(EINVAL, "Invalid login: %s (expected @INSTANCE where it began, or an audit SESSION id)",
                                       arg_login);
        if (json_add(params, instance ? "loginInstance" : "auditSession", json_object_new_int64((int64_t) u)) < 0)
                return log_oom();
        return 0;
}

static int search_params(json_object **ret) {
        _cleanup_json_ json_object *params = json_object_new_object();
        int r;

        if (!params)
                return log_oom();
        if ((arg_exe && json_add(params, "exe", json_object_new_string(arg_exe)) < 0) ||
            (arg_comm && json_add(params, "comm", json_object_new_string(arg_comm)) < 0) ||
            (arg_argv && json_add(params, "argv", json_object_new_string(arg_argv)) < 0) ||
            (arg_user_set && json_add(params, "uid", json_object_new_int64(arg_user)) < 0) ||
            (arg_since_set && json_add(params, "since", json_object_new_int64(arg_since)) < 0) ||
            (arg_until_set && json_add(params, "until", json_object_new_int64(arg_until)) < 0) ||
            (arg_boot && json_add(params, "bootId", json_object_new_string(arg_boot)) < 0) ||
            (arg_alive && json_add(params, "aliveOnly", json_object_new_boolean(true)) < 0) ||
            (arg_limit_set && json_add(params, "limit", json_object_new_int64((int64_t) arg_limit)) < 0))
                return log_oom();
        if (arg_login) {
                r = search_login_params(params);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(params);
        return 0;
}

int verb_search(void) {
        static const char *const header[] = { "PID", "INSTANCE", "USER", "STARTED", "ENDED", "COMMAND" };
        _cleanup_json_ json_object *reply = NULL, *params = NULL;
        _cleanup_(table_done) Table table = { .n_columns = ELEMENTSOF(header) };
        json_object *list;
        int r;

        r = search_params(&params);
        if (r < 0)
                return r;
        r = request("Search", params, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        list = jarr(reply, "processes");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(header); i++)
                r = table_add(&table, strdup(header[i]));
        for (size_t i = 0; r >= 0 && i < jarr_len(list); i++)
                r = add_search_row(&table, json_object_array_get_idx(list, i));
        if (r < 0)
                return log_oom();
        if (jarr_len(list) > 0) {
                r = table_print(&table);
                if (r < 0)
                        return r;
                putchar('\n');
        }
        if (jbool(reply, "truncated"))
                printf("%zu process(es) listed, newest first; older matches were left out (--limit=).\n", jarr_len(list));
        else
                printf("%zu process(es) found.\n", jarr_len(list));
        return 0;
}

static void print_status_events(json_object *events) {
        char line[1024] = "";
        size_t n = 0;

        json_object_object_foreach(events, key, val)
                if (n < sizeof(line) && !needs_escape(key, true))
                        n += (size_t) snprintf(line + n, sizeof(line) - n, "%s%s %" PRIi64, n ? ", " : "", key,
                                               json_object_get_int64(val));
        print_field(19, "Events", "%s", n ? line : "none");
}

/* "Exec source: bpf", then per source "bpf 1203 with image, 4 without". */
static void print_status_exec(json_object *s) {
        json_object *with = jobj(s, "execsWithImage"), *without = jobj(s, "execsWithoutImage");
        char line[512] = "";
        size_t n = 0;

        if (jstr(s, "execSourceReason"))
                print_field(19, "Exec source", "%s (%s)", strna(jstr(s, "execSource")), jstr(s, "execSourceReason"));
        else
                print_field(19, "Exec source", "%s", strna(jstr(s, "execSource")));
        if (!with)
                return;
        json_object_object_foreach(with, key, val)
                if (n < sizeof(line) && !needs_escape(key, true))
                        n += (size_t) snprintf(line + n, sizeof(line) - n, "%s%s %" PRIi64 " with image, %" PRIi64 " without",
                                               n ? "; " : "", key, json_object_get_int64(val), jint_or(without, key, 0));
        print_field(19, "Execs", "%s", n ? line : "none");
        if (streq_ptr(jstr(s, "execSource"), "bpf"))
                print_field(19, "eBPF records", "%" PRIi64 " read, %" PRIi64 " lost, %" PRIi64 " exec(s) only it saw, %" PRIi64 " unmatched",
                            jint_or(s, "bpfRecords", 0), jint_or(s, "bpfLost", 0), jint_or(s, "bpfOnlyExecs", 0),
                            jint_or(s, "bpfUnmatched", 0));
}

int verb_status(void) {
        _cleanup_json_ json_object *reply = NULL, *params = json_object_new_object();
        json_object *s;
        char buf[64];
        int64_t v;
        int r;

        if (!params)
                return log_oom();
        r = request("GetStatus", params, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        s = jobj(reply, "status");
        if (!s)
                return log_error_errno(EBADMSG, "Received a reply without a status from lineaged.");
        print_field(19, "Version", "%s", strna(jstr(s, "version")));
        print_field(19, "Boot ID", "%s", strna(jstr(s, "bootId")));
        print_field(19, "Uptime", "%s", format_timespan(buf, sizeof(buf), jint_or(s, "uptime", -1)));
        print_field(19, "Live instances", "%" PRIi64, jint_or(s, "liveInstances", 0));
        print_field(19, "Instances created", "%" PRIi64, jint_or(s, "instancesCreated", 0));
        if (jobj(s, "events"))
                print_status_events(jobj(s, "events"));
        print_field(19, "Events lost", "%" PRIi64, jint_or(s, "eventsLost", 0));
        print_field(19, "Overflows", "%" PRIi64, jint_or(s, "overflows", 0));
        print_field(19, "Gaps", "%" PRIi64, jint_or(s, "gaps", 0));
        print_field(19, "Unattributed events", "%" PRIi64, jint_or(s, "unattributedEvents", 0));
        print_status_exec(s);
        print_field(19, "Database", "%s", strna(jstr(s, "databasePath")));
        print_field(19, "Database size", "%s", format_bytes(buf, sizeof(buf), jint_or(s, "databaseSize", 0)));
        print_field(19, "Database error", "%s", jstr(s, "databaseError") ?: "none");
        if (jint(s, "receiveBuffer", &v)) {
                char asked[64];
                int64_t a;

                /* The kernel doubles what it is asked for (its bookkeeping): show both. */
                if (jint(s, "receiveBufferRequested", &a) && a > 0)
                        print_field(19, "Receive buffer", "%s asked, %s given by the kernel%s",
                                    format_bytes(asked, sizeof(asked), a), format_bytes(buf, sizeof(buf), v),
                                    v < 2 * a ? " (capped by net.core.rmem_max)" : "");
                else
                        print_field(19, "Receive buffer", "%s", format_bytes(buf, sizeof(buf), v));
        }
        print_field(19, "Kernel filter", "%s", jbool(s, "kernelFilter") ? "yes" : "no");
        if (jint(s, "memory", &v))
                print_field(19, "Memory", "%s", format_bytes(buf, sizeof(buf), v));
        if (jint(s, "varlinkOutputQueued", &v))
                print_field(19, "Unread output", "%s queued; %" PRIi64 " streams dropped, %" PRIi64 " replies refused",
                            format_bytes(buf, sizeof(buf), v), jint_or(s, "varlinkStreamsDropped", 0),
                            jint_or(s, "varlinkRepliesRefused", 0));
        return 0;
}
