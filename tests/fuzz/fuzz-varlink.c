/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the varlink message parser and a whole server connection fed the input as its byte stream. */
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>

#include "varlink.h"

static const char fuzz_idl[] =
        "interface org.example.fuzz\n"
        "method Echo() -> ()\n"
        "method Stream(n: int) -> (i: int)\n"
        "method Hold() -> ()\n"
        "method Fail() -> ()\n"
        "method Error() -> ()\n"
        "method Unbound() -> ()\n";

static sd_event *event;
static VarlinkServer *server;

static int method_echo(VarlinkCall *call, json_object *parameters, void *userdata) {
        return varlink_call_reply(call, parameters);
}

static int method_stream(VarlinkCall *call, json_object *parameters, void *userdata) {
        json_object *n = json_object_object_get(parameters, "n");
        int64_t count = json_object_is_type(n, json_type_int) ? json_object_get_int64(n) : 3;

        if (!varlink_call_wants_more(call))
                return varlink_call_reply_error(call, VARLINK_ERROR_EXPECTED_MORE, NULL);
        for (int64_t i = 0; i < MIN(count, (int64_t) 64); i++) {
                _cleanup_json_ json_object *p = json_object_new_object();
                int r;

                json_object_object_add(p, "i", json_object_new_int64(i));
                json_object_object_add(p, "echo", json_object_get(parameters));
                r = varlink_call_notify(call, p);
                if (r == -ENOBUFS)
                        return varlink_call_reply_error(call, "org.example.fuzz.Slow", NULL);
                if (r < 0)
                        abort();
        }
        return varlink_call_reply(call, NULL);
}

static void hold_cancel(VarlinkCall *call, void *userdata) {
        varlink_call_unref(call);
}

static int method_hold(VarlinkCall *call, json_object *parameters, void *userdata) {
        /* Stays pending until the client goes away; the cancel callback drops this reference. A oneway
         * call is over when this returns: nothing to hold. */
        if (varlink_call_is_oneway(call))
                return 0;
        varlink_call_ref(call);
        varlink_call_set_cancel(call, hold_cancel, NULL);
        return 0;
}

static int method_fail(VarlinkCall *call, json_object *parameters, void *userdata) {
        return -EIO;
}

static int method_error(VarlinkCall *call, json_object *parameters, void *userdata) {
        return varlink_call_reply_error(call, "org.example.fuzz.Oops", parameters);
}

static void setup(void) {
        VarlinkLimits limits;

        if (server)
                return;
        signal(SIGPIPE, SIG_IGN);
        if (sd_event_new(&event) < 0 || varlink_server_new(&server, event) < 0 ||
            varlink_server_add_interface(server, fuzz_idl) < 0 ||
            varlink_server_bind_method(server, "org.example.fuzz.Echo", method_echo, NULL) < 0 ||
            varlink_server_bind_method(server, "org.example.fuzz.Stream", method_stream, NULL) < 0 ||
            varlink_server_bind_method(server, "org.example.fuzz.Hold", method_hold, NULL) < 0 ||
            varlink_server_bind_method(server, "org.example.fuzz.Fail", method_fail, NULL) < 0 ||
            varlink_server_bind_method(server, "org.example.fuzz.Error", method_error, NULL) < 0)
                abort();
        /* Small limits, so inputs can reach them. */
        varlink_server_get_limits(server, &limits);
        limits.max_message_size = 4096;
        limits.max_output_buffer = 8192;
        if (varlink_server_set_limits(server, &limits) < 0)
                abort();
}

static void pump_idle(void) {
        for (unsigned i = 0; i < 100000; i++) {
                int r = sd_event_run(event, 0);

                if (r < 0)
                        abort();
                if (r == 0)
                        return;
        }
        abort(); /* the server never went idle */
}

/* Every reply must be a JSON object terminated by NUL. Returns the bytes consumed. */
static size_t check_replies(const char *buf, size_t len) {
        size_t done = 0;

        for (;;) {
                const char *nul = memchr(buf + done, 0, len - done);
                json_object *o;

                if (!nul)
                        return done;
                o = json_tokener_parse(buf + done);
                if (!o || !json_object_is_type(o, json_type_object))
                        abort();
                json_object_put(o);
                done = (size_t) (nul - buf) + 1;
        }
}

static void drain_client(int fd, char *buf, size_t size, size_t *len) {
        for (;;) {
                ssize_t n = recv(fd, buf + *len, size - *len, MSG_DONTWAIT);
                size_t used;

                if (n <= 0)
                        return;
                *len += (size_t) n;
                used = check_replies(buf, *len);
                memmove(buf, buf + used, *len - used);
                *len -= used;
                if (*len == size)
                        *len = 0; /* one reply larger than our buffer: skip checking it */
        }
}

static void fuzz_connection(const uint8_t *data, size_t size) {
        static char replies[64 * 1024];
        size_t off = 0, len = 0;
        unsigned stalls = 0;
        int fds[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
                abort();
        if (varlink_server_add_connection(server, fds[0]) < 0)
                abort();
        while (off < size && stalls < 3) {
                ssize_t n = send(fds[1], data + off, size - off, MSG_NOSIGNAL);

                if (n < 0 && errno != EAGAIN)
                        break; /* the server hung up on us */
                if (n > 0)
                        off += (size_t) n;
                else
                        stalls++; /* e.g. a pending Hold: the server stopped reading */
                pump_idle();
                drain_client(fds[1], replies, sizeof(replies), &len);
        }
        (void) shutdown(fds[1], SHUT_WR);
        for (unsigned i = 0; i < 64 && varlink_server_n_connections(server) > 0; i++) {
                pump_idle();
                drain_client(fds[1], replies, sizeof(replies), &len);
        }
        close(fds[1]);
        pump_idle();
        if (varlink_server_n_connections(server) != 0)
                abort();
}

static void fuzz_parse(const uint8_t *data, size_t size) {
        const char *p = (const char *) data, *end = p + size;

        /* Each NUL-separated piece on its own, as the connection would see it. */
        while (p < end) {
                const char *nul = memchr(p, 0, (size_t) (end - p));
                size_t l = nul ? (size_t) (nul - p) : (size_t) (end - p);
                VarlinkMessage m;

                if (varlink_message_parse(p, l, &m) >= 0) {
                        if (!m.method || !strchr(m.method, '.') || !json_object_is_type(m.parameters, json_type_object))
                                abort();
                        varlink_message_done(&m);
                }
                p += l + 1;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 256 * 1024)
                return 0;
        setup();
        fuzz_parse(data, size);
        fuzz_connection(data, size);
        return 0;
}
