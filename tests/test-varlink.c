/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/varlink.c: real sockets and a real sd-event loop driven from the test. */
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "varlink.h"
#include "tests.h"

static const char test_idl[] =
        "# An interface for the tests.\n"
        "interface org.example.test\n"
        "\n"
        "method Echo(s: string) -> (s: string)\n"
        "# Streams n replies, then a final one.\n"
        "method Count(n: int) -> (i: int)\n"
        "method Hold() -> ()\n"
        "method Park() -> ()\n"
        "method Fail() -> ()\n"
        "method Creds() -> (uid: int, pid: int)\n"
        "method Note(s: string) -> ()\n"
        "# Echo, replied in pieces of a few bytes (varlink_call_reply_iov).\n"
        "method Pieces(s: string) -> (s: string)\n"
        "  method   Unbound ( ) -> ()\n"
        "error Oops ()\n";

typedef struct Test {
        sd_event *event;
        VarlinkServer *server;
        char dir[64];
        char path[128];
        VarlinkCall *held; /* the call Hold keeps pending */
        unsigned cancelled;
        unsigned notes;
} Test;

typedef struct Client {
        int fd;
        char *buf;
        size_t len, alloc;
} Client;

/* ---- methods ---- */

static void on_cancel(VarlinkCall *call, void *userdata) {
        Test *t = userdata;

        ASSERT_TRUE(call == t->held);
        t->cancelled++;
}

static int method_echo(VarlinkCall *call, json_object *parameters, void *userdata) {
        json_object *s;

        if (!json_object_object_get_ex(parameters, "s", &s) || !json_object_is_type(s, json_type_string))
                return varlink_call_reply_invalid_parameter(call, "s");
        return varlink_call_reply(call, parameters);
}

static int method_count(VarlinkCall *call, json_object *parameters, void *userdata) {
        _cleanup_json_ json_object *last = NULL;
        json_object *n;
        int64_t count;

        if (!varlink_call_wants_more(call))
                return varlink_call_reply_error(call, VARLINK_ERROR_EXPECTED_MORE, NULL);
        if (!json_object_object_get_ex(parameters, "n", &n) || !json_object_is_type(n, json_type_int))
                return varlink_call_reply_invalid_parameter(call, "n");
        count = json_object_get_int64(n);
        if (count < 0 || count > 100)
                return varlink_call_reply_invalid_parameter(call, "n");
        for (int64_t i = 0; i < count; i++) {
                _cleanup_json_ json_object *p = json_object_new_object();

                json_object_object_add(p, "i", json_object_new_int64(i));
                ASSERT_OK(varlink_call_notify(call, p));
        }
        last = json_object_new_object();
        json_object_object_add(last, "i", json_object_new_int64(count));
        return varlink_call_reply(call, last);
}

static int method_hold(VarlinkCall *call, json_object *parameters, void *userdata) {
        Test *t = userdata;

        ASSERT_TRUE(!t->held);
        t->held = varlink_call_ref(call);
        varlink_call_set_cancel(call, on_cancel, t);
        return 0;
}

static int method_park(VarlinkCall *call, json_object *parameters, void *userdata) {
        return 0; /* pending, referenced by the server only */
}

static int method_fail(VarlinkCall *call, json_object *parameters, void *userdata) {
        return -EIO;
}

static int method_creds(VarlinkCall *call, json_object *parameters, void *userdata) {
        _cleanup_json_ json_object *p = json_object_new_object();
        struct ucred ucred;
        int r;

        r = varlink_call_get_peer_credentials(call, &ucred);
        if (r < 0)
                return r;
        json_object_object_add(p, "uid", json_object_new_int64(ucred.uid));
        json_object_object_add(p, "pid", json_object_new_int64(ucred.pid));
        return varlink_call_reply(call, p);
}

static int method_note(VarlinkCall *call, json_object *parameters, void *userdata) {
        Test *t = userdata;

        t->notes++;
        return varlink_call_reply(call, NULL); /* a no-op for oneway calls */
}

static int method_pieces(VarlinkCall *call, json_object *parameters, void *userdata) {
        json_object *s;
        char *text;
        struct iovec *iov;
        size_t len, n = 0;

        if (!json_object_object_get_ex(parameters, "s", &s) || !json_object_is_type(s, json_type_string))
                return varlink_call_reply_invalid_parameter(call, "s");
        /* The whole reply, cut into pieces of 1 to 7 bytes (the test's strings need no escaping). */
        len = strlen("{\"parameters\":{\"s\":\"\"}}") + (size_t) json_object_get_string_len(s);
        text = malloc(len + 1);
        iov = calloc(len, sizeof(struct iovec));
        ASSERT_TRUE(text && iov);
        sprintf(text, "{\"parameters\":{\"s\":\"%s\"}}", json_object_get_string(s));
        for (size_t off = 0; off < len; n++) {
                size_t l = MIN(1 + n % 7, len - off);

                iov[n] = (struct iovec) { .iov_base = text + off, .iov_len = l };
                off += l;
        }
        return varlink_call_reply_iov(call, text, iov, n);
}

/* ---- harness ---- */

static void test_setup(Test *t) {
        *t = (Test) {};
        ASSERT_OK(sd_event_new(&t->event));
        ASSERT_OK(varlink_server_new(&t->server, t->event));
        ASSERT_OK(varlink_server_set_info(t->server, "Example", "test-varlink", "1", "https://example.org"));
        ASSERT_OK(varlink_server_add_interface(t->server, test_idl));
        ASSERT_OK(varlink_server_bind_method(t->server, "org.example.test.Echo", method_echo, t));
        ASSERT_OK(varlink_server_bind_method(t->server, "org.example.test.Count", method_count, t));
        ASSERT_OK(varlink_server_bind_method(t->server, "org.example.test.Hold", method_hold, t));
        ASSERT_OK(varlink_server_bind_method(t->server, "org.example.test.Park", method_park, t));
        ASSERT_OK(varlink_server_bind_method(t->server, "org.example.test.Fail", method_fail, t));
        ASSERT_OK(varlink_server_bind_method(t->server, "org.example.test.Creds", method_creds, t));
        ASSERT_OK(varlink_server_bind_method(t->server, "org.example.test.Note", method_note, t));
        ASSERT_OK(varlink_server_bind_method(t->server, "org.example.test.Pieces", method_pieces, t));
        strcpy(t->dir, "/tmp/test-varlink-XXXXXX");
        ASSERT_TRUE(mkdtemp(t->dir));
        snprintf(t->path, sizeof(t->path), "%s/socket", t->dir);
}

static void test_teardown(Test *t) {
        t->held = varlink_call_unref(t->held);
        t->server = varlink_server_free(t->server);
        t->event = sd_event_unref(t->event);
        (void) unlink(t->path);
        ASSERT_TRUE(rmdir(t->dir) == 0);
}

/* Runs the loop until nothing is left to dispatch (sd_event_run() dispatches one source at a time). */
static void pump_idle(Test *t) {
        for (unsigned i = 0;; i++) {
                int r = sd_event_run(t->event, 0);

                ASSERT_OK(r);
                ASSERT_TRUE(i < 1000000);
                if (r == 0)
                        return;
        }
}

static void client_init(Client *c, int fd) {
        int flags = fcntl(fd, F_GETFL);

        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0);
        *c = (Client) { .fd = fd };
}

static void client_pair(Test *t, Client *c) {
        int fds[2];

        ASSERT_TRUE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        ASSERT_OK(varlink_server_add_connection(t->server, fds[0]));
        client_init(c, fds[1]);
}

static int connect_path(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ASSERT_TRUE(fd >= 0);
        strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                close(fd);
                return -errno;
        }
        return fd;
}

static void client_connect(Test *t, Client *c) {
        int fd = connect_path(t->path);

        ASSERT_OK(fd);
        client_init(c, fd);
}

static void client_close(Client *c) {
        closep(&c->fd);
        c->fd = -1;
        free(c->buf);
        *c = (Client) { .fd = -1 };
}

static void client_send_raw(Test *t, Client *c, const void *data, size_t len) {
        const char *p = data;

        while (len > 0) {
                ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

                if (n < 0) {
                        ASSERT_TRUE(errno == EAGAIN);
                        ASSERT_OK(sd_event_run(t->event, 1000));
                        continue;
                }
                p += n;
                len -= (size_t) n;
        }
}

/* Sends text and its NUL terminator. */
static void client_send(Test *t, Client *c, const char *text) {
        client_send_raw(t, c, text, strlen(text) + 1);
}

/* 1 and the next message, 0 on EOF; runs the loop while waiting; fails the test after 10 s. */
static int client_recv(Test *t, Client *c, json_object **ret) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;

        for (;;) {
                char *nul = c->len > 0 ? memchr(c->buf, 0, c->len) : NULL;
                ssize_t n;

                if (nul) {
                        size_t l = (size_t) (nul - c->buf) + 1;

                        *ret = json_tokener_parse(c->buf);
                        ASSERT_TRUE(*ret);
                        memmove(c->buf, c->buf + l, c->len - l);
                        c->len -= l;
                        return 1;
                }
                if (c->alloc - c->len < 65536) {
                        c->alloc = c->alloc * 2 + 65536;
                        c->buf = realloc(c->buf, c->alloc);
                        ASSERT_TRUE(c->buf);
                }
                n = recv(c->fd, c->buf + c->len, c->alloc - c->len, MSG_DONTWAIT);
                if (n > 0) {
                        c->len += (size_t) n;
                        continue;
                }
                if (n == 0 || errno == ECONNRESET)
                        return 0;
                ASSERT_TRUE(errno == EAGAIN);
                ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) < deadline);
                ASSERT_OK(sd_event_run(t->event, 10 * USEC_PER_MSEC));
        }
}

static json_object *client_expect(Test *t, Client *c) {
        json_object *m = NULL;

        ASSERT_TRUE(client_recv(t, c, &m) == 1);
        return m;
}

static void client_expect_eof(Test *t, Client *c) {
        json_object *m = NULL;

        ASSERT_TRUE(client_recv(t, c, &m) == 0);
}

/* Runs the loop a while and checks that nothing arrived and the connection is still open. */
static void client_expect_nothing(Test *t, Client *c) {
        char b;

        pump_idle(t);
        ASSERT_TRUE(!c->len || !memchr(c->buf, 0, c->len));
        ASSERT_TRUE(recv(c->fd, &b, 1, MSG_DONTWAIT | MSG_PEEK) < 0 && errno == EAGAIN);
}

static const char *msg_error(json_object *m) {
        json_object *e;

        return json_object_object_get_ex(m, "error", &e) ? json_object_get_string(e) : NULL;
}

static json_object *msg_parameters(json_object *m) {
        json_object *p = NULL;

        ASSERT_TRUE(json_object_object_get_ex(m, "parameters", &p));
        ASSERT_TRUE(json_object_is_type(p, json_type_object));
        return p;
}

static bool msg_continues(json_object *m) {
        json_object *v;

        return json_object_object_get_ex(m, "continues", &v) && json_object_get_boolean(v);
}

static const char *msg_string(json_object *m, const char *key) {
        json_object *v;

        ASSERT_TRUE(json_object_object_get_ex(msg_parameters(m), key, &v));
        return json_object_get_string(v);
}

static int64_t msg_int(json_object *m, const char *key) {
        json_object *v;

        ASSERT_TRUE(json_object_object_get_ex(msg_parameters(m), key, &v));
        ASSERT_TRUE(json_object_is_type(v, json_type_int));
        return json_object_get_int64(v);
}

/* Expects a reply without error and with parameter "s" == s. */
static void expect_echo(Test *t, Client *c, const char *s) {
        _cleanup_json_ json_object *m = client_expect(t, c);

        ASSERT_TRUE(!msg_error(m));
        ASSERT_TRUE(!msg_continues(m));
        ASSERT_TRUE(streq(msg_string(m, "s"), s));
}

/* Expects an error reply; if key is set, its parameter key must equal value. */
static void expect_error(Test *t, Client *c, const char *error, const char *key, const char *value) {
        _cleanup_json_ json_object *m = client_expect(t, c);

        ASSERT_TRUE(streq_ptr(msg_error(m), error));
        ASSERT_TRUE(!msg_continues(m));
        if (key)
                ASSERT_TRUE(streq(msg_string(m, key), value));
}

static void echo(Test *t, Client *c, const char *s) {
        char buf[256];

        snprintf(buf, sizeof(buf), "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"%s\"}}", s);
        client_send(t, c, buf);
        expect_echo(t, c, s);
}

static VarlinkStats stats(Test *t) {
        VarlinkStats st;

        varlink_server_get_stats(t->server, &st);
        return st;
}

/* ---- tests ---- */

static void test_parse(void) {
        static const char *const bad[] = {
                "",
                "   ",
                "[]",
                "\"org.example.test.Echo\"",
                "{}",
                "{\"method\":1}",
                "{\"method\":null}",
                "{\"method\":\"org.Echo\"}",
                "{\"method\":\"Echo\"}",
                "{\"method\":\"org.example.test.echo\"}",
                "{\"method\":\"org.example.test.\"}",
                "{\"method\":\"Org.example.test.Echo\"}",
                "{\"method\":\"org..test.Echo\"}",
                "{\"method\":\"org.-x.Echo\"}",
                "{\"method\":\"org.x-.Echo\"}",
                "{\"method\":\"org.x_y.Echo\"}",
                "{\"method\":\"org.example.test.Ec-ho\"}",
                "{\"method\":\"org.example.test.Echo\",\"parameters\":[]}",
                "{\"method\":\"org.example.test.Echo\",\"parameters\":\"x\"}",
                "{\"method\":\"org.example.test.Echo\",\"oneway\":1}",
                "{\"method\":\"org.example.test.Echo\",\"more\":\"true\"}",
                "{\"method\":\"org.example.test.Echo\",\"upgrade\":null}",
                "{\"method\":\"org.example.test.Echo\"} x",
                "{\"method\":\"org.example.test.Echo\"}{}",
                "{\"method\":\"org.example.test.Echo\",}",
                "{'method':'org.example.test.Echo'}",
                "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"\xff\"}}",
                "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"\xc3\"}}",
                "{\"method\":\"org.example.test.Echo\"",
        };
        VarlinkMessage m;
        char deep[1024] = "{\"method\":\"a.b.C\",\"parameters\":{\"x\":";

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = varlink_message_parse(bad[i], strlen(bad[i]), &m);

                if (r != -EBADMSG)
                        fprintf(stderr, "accepted: %s (%d)\n", bad[i], r);
                ASSERT_TRUE(r == -EBADMSG);
        }
        /* An embedded NUL. */
        ASSERT_TRUE(varlink_message_parse("{\"method\":\"a.b.C\"}\0", 19, &m) == -EBADMSG);
        /* Too deep. */
        for (unsigned i = 0; i < 100; i++)
                strcat(deep, "[");
        ASSERT_TRUE(varlink_message_parse(deep, strlen(deep), &m) == -EBADMSG);

        ASSERT_OK(varlink_message_parse("{\"method\":\"a.b.C\"}", 18, &m));
        ASSERT_TRUE(streq(m.method, "a.b.C"));
        ASSERT_TRUE(json_object_is_type(m.parameters, json_type_object));
        ASSERT_TRUE(json_object_object_length(m.parameters) == 0);
        ASSERT_TRUE(!m.oneway && !m.more && !m.upgrade);
        varlink_message_done(&m);
        ASSERT_TRUE(!m.object);

        const char *ok = " {\"method\":\"org.example-x.t2.Get2\",\"parameters\":null,\"more\":true,"
                         "\"oneway\":false,\"future\":[1],\"upgrade\":false}\r\n";
        ASSERT_OK(varlink_message_parse(ok, strlen(ok), &m));
        ASSERT_TRUE(streq(m.method, "org.example-x.t2.Get2"));
        ASSERT_TRUE(json_object_is_type(m.parameters, json_type_object));
        ASSERT_TRUE(m.more && !m.oneway && !m.upgrade);
        varlink_message_done(&m);

        const char *utf8 = "{\"method\":\"a.b.C\",\"parameters\":{\"s\":\"gr\xc3\xbc\xc3\x9f \xe2\x80\xa6\"}}";
        ASSERT_OK(varlink_message_parse(utf8, strlen(utf8), &m));
        ASSERT_TRUE(m.oneway == false);
        varlink_message_done(&m);
}

static void test_interfaces(void) {
        Test t;

        test_setup(&t);
        ASSERT_TRUE(varlink_server_add_interface(t.server, "# nothing\nmethod Foo() -> ()\n") == -EINVAL);
        ASSERT_TRUE(varlink_server_add_interface(t.server, "interface Bad.Name\n") == -EINVAL);
        ASSERT_TRUE(varlink_server_add_interface(t.server, "interface org.example.x\ninterface org.example.y\n") == -EINVAL);
        ASSERT_TRUE(varlink_server_add_interface(t.server, "interface org.example.x\nmethod lower() -> ()\n") == -EINVAL);
        ASSERT_TRUE(varlink_server_add_interface(t.server, test_idl) == -EEXIST);
        ASSERT_TRUE(varlink_server_add_interface(t.server, "interface org.varlink.service\n") == -EEXIST);
        ASSERT_TRUE(varlink_server_bind_method(t.server, "org.example.test.Nope", method_echo, NULL) == -ENOENT);
        ASSERT_TRUE(varlink_server_bind_method(t.server, "org.example.other.Echo", method_echo, NULL) == -ENOENT);
        ASSERT_TRUE(varlink_server_bind_method(t.server, "org.example.test.Echo", method_echo, NULL) == -EEXIST);
        ASSERT_TRUE(varlink_server_bind_method(t.server, "org.varlink.service.GetInfo", method_echo, NULL) == -EEXIST);
        ASSERT_TRUE(varlink_server_bind_method(t.server, "Echo", method_echo, NULL) == -EINVAL);
        ASSERT_TRUE(varlink_server_bind_method(t.server, "org.example.test.Echo", NULL, NULL) == -EINVAL);
        ASSERT_OK(varlink_server_add_interface(t.server, "interface org.example.other\n\nmethod Echo() -> ()\n"));
        ASSERT_OK(varlink_server_bind_method(t.server, "org.example.other.Echo", method_echo, NULL));
        test_teardown(&t);
}

static void test_call_reply(void) {
        Test t;
        Client c;

        test_setup(&t);
        client_pair(&t, &c);
        echo(&t, &c, "hello");
        echo(&t, &c, "gr\xc3\xbc\xc3\x9f");
        /* Whitespace around the JSON is fine. */
        client_send(&t, &c, " \n{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"ws\"}} \n");
        expect_echo(&t, &c, "ws");
        ASSERT_TRUE(stats(&t).calls == 3);
        ASSERT_TRUE(stats(&t).errors == 0);
        client_close(&c);
        pump_idle(&t);
        ASSERT_TRUE(varlink_server_n_connections(t.server) == 0);
        test_teardown(&t);
}

static void test_service(void) {
        _cleanup_json_ json_object *info = NULL, *desc = NULL, *ifaces = NULL;
        Test t;
        Client c;

        test_setup(&t);
        client_pair(&t, &c);

        client_send(&t, &c, "{\"method\":\"org.varlink.service.GetInfo\"}");
        info = client_expect(&t, &c);
        ASSERT_TRUE(!msg_error(info));
        ASSERT_TRUE(streq(msg_string(info, "vendor"), "Example"));
        ASSERT_TRUE(streq(msg_string(info, "product"), "test-varlink"));
        ASSERT_TRUE(streq(msg_string(info, "version"), "1"));
        ASSERT_TRUE(streq(msg_string(info, "url"), "https://example.org"));
        ASSERT_TRUE(json_object_object_get_ex(msg_parameters(info), "interfaces", &ifaces));
        ifaces = json_object_get(ifaces);
        ASSERT_TRUE(json_object_array_length(ifaces) == 2);
        ASSERT_TRUE(streq(json_object_get_string(json_object_array_get_idx(ifaces, 0)), "org.varlink.service"));
        ASSERT_TRUE(streq(json_object_get_string(json_object_array_get_idx(ifaces, 1)), "org.example.test"));

        client_send(&t, &c, "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
                            "\"parameters\":{\"interface\":\"org.example.test\"}}");
        desc = client_expect(&t, &c);
        ASSERT_TRUE(!msg_error(desc));
        ASSERT_TRUE(streq(msg_string(desc, "description"), test_idl));

        client_send(&t, &c, "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
                            "\"parameters\":{\"interface\":\"org.varlink.service\"}}");
        {
                _cleanup_json_ json_object *m = client_expect(&t, &c);
                ASSERT_TRUE(strstr(msg_string(m, "description"), "\ninterface org.varlink.service\n"));
                ASSERT_TRUE(strstr(msg_string(m, "description"), "error ExpectedMore ()"));
        }

        client_send(&t, &c, "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
                            "\"parameters\":{\"interface\":\"org.example.none\"}}");
        expect_error(&t, &c, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", "org.example.none");
        client_send(&t, &c, "{\"method\":\"org.varlink.service.GetInterfaceDescription\"}");
        expect_error(&t, &c, VARLINK_ERROR_INVALID_PARAMETER, "parameter", "interface");
        client_send(&t, &c, "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
                            "\"parameters\":{\"interface\":7}}");
        expect_error(&t, &c, VARLINK_ERROR_INVALID_PARAMETER, "parameter", "interface");
        client_send(&t, &c, "{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":{\"x\":1}}");
        expect_error(&t, &c, VARLINK_ERROR_INVALID_PARAMETER, "parameter", "x");
        client_close(&c);
        test_teardown(&t);
}

static void test_errors(void) {
        Test t;
        Client c;

        test_setup(&t);
        client_pair(&t, &c);

        client_send(&t, &c, "{\"method\":\"org.example.test.Nope\"}");
        expect_error(&t, &c, VARLINK_ERROR_METHOD_NOT_FOUND, "method", "org.example.test.Nope");
        client_send(&t, &c, "{\"method\":\"org.example.none.Echo\"}");
        expect_error(&t, &c, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", "org.example.none");
        client_send(&t, &c, "{\"method\":\"org.example.test.Unbound\"}");
        expect_error(&t, &c, VARLINK_ERROR_METHOD_NOT_IMPLEMENTED, "method", "org.example.test.Unbound");
        /* Wrong parameter types are the method's to report. */
        client_send(&t, &c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":5}}");
        expect_error(&t, &c, VARLINK_ERROR_INVALID_PARAMETER, "parameter", "s");
        client_send(&t, &c, "{\"method\":\"org.example.test.Echo\"}");
        expect_error(&t, &c, VARLINK_ERROR_INVALID_PARAMETER, "parameter", "s");
        client_send(&t, &c, "{\"method\":\"org.example.test.Count\",\"parameters\":{\"n\":\"3\"},\"more\":true}");
        expect_error(&t, &c, VARLINK_ERROR_INVALID_PARAMETER, "parameter", "n");
        /* A failing callback yields InternalError with its errno. */
        client_send(&t, &c, "{\"method\":\"org.example.test.Fail\"}");
        {
                _cleanup_json_ json_object *m = client_expect(&t, &c);
                ASSERT_TRUE(streq_ptr(msg_error(m), VARLINK_ERROR_INTERNAL));
                ASSERT_TRUE(msg_int(m, "errno") == EIO);
        }
        /* Contradicting or unsupported flags. */
        client_send(&t, &c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"x\"},"
                            "\"oneway\":true,\"more\":true}");
        expect_error(&t, &c, VARLINK_ERROR_INVALID_PARAMETER, "parameter", "more");
        client_send(&t, &c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"x\"},\"upgrade\":true}");
        expect_error(&t, &c, VARLINK_ERROR_INVALID_PARAMETER, "parameter", "upgrade");
        /* A method that requires "more". */
        client_send(&t, &c, "{\"method\":\"org.example.test.Count\",\"parameters\":{\"n\":3}}");
        expect_error(&t, &c, VARLINK_ERROR_EXPECTED_MORE, NULL, NULL);

        /* None of that cost the connection. */
        echo(&t, &c, "still here");
        ASSERT_TRUE(stats(&t).errors == 10);
        ASSERT_TRUE(stats(&t).protocol_errors == 0);
        ASSERT_TRUE(varlink_server_n_connections(t.server) == 1);
        client_close(&c);
        test_teardown(&t);
}

static void test_more(void) {
        Test t;
        Client c;

        test_setup(&t);
        client_pair(&t, &c);
        client_send(&t, &c, "{\"method\":\"org.example.test.Count\",\"parameters\":{\"n\":3},\"more\":true}");
        for (int i = 0; i <= 3; i++) {
                _cleanup_json_ json_object *m = client_expect(&t, &c);

                ASSERT_TRUE(!msg_error(m));
                ASSERT_TRUE(msg_int(m, "i") == i);
                ASSERT_TRUE(msg_continues(m) == (i < 3));
        }
        /* "more" with no intermediate replies. */
        client_send(&t, &c, "{\"method\":\"org.example.test.Count\",\"parameters\":{\"n\":0},\"more\":true}");
        {
                _cleanup_json_ json_object *m = client_expect(&t, &c);
                ASSERT_TRUE(msg_int(m, "i") == 0 && !msg_continues(m));
        }
        echo(&t, &c, "after");
        client_close(&c);
        test_teardown(&t);
}

static void test_pipelined(void) {
        Test t;
        Client c;
        char buf[512];
        size_t len = 0;

        test_setup(&t);
        client_pair(&t, &c);
        /* Three calls in one write: the first stays pending, the others must wait behind it. */
        len += (size_t) sprintf(buf + len, "{\"method\":\"org.example.test.Hold\"}") + 1;
        len += (size_t) sprintf(buf + len, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"a\"}}") + 1;
        len += (size_t) sprintf(buf + len, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"b\"}}") + 1;
        client_send_raw(&t, &c, buf, len);
        client_expect_nothing(&t, &c);
        ASSERT_TRUE(t.held);
        ASSERT_TRUE(varlink_call_is_pending(t.held));
        ASSERT_TRUE(!varlink_call_wants_more(t.held) && !varlink_call_is_oneway(t.held));
        ASSERT_TRUE(streq(varlink_call_get_method(t.held), "org.example.test.Hold"));
        ASSERT_TRUE(stats(&t).calls == 1);

        {
                _cleanup_json_ json_object *p = json_object_new_object();
                json_object_object_add(p, "done", json_object_new_boolean(true));
                ASSERT_OK(varlink_call_reply(t.held, p));
        }
        ASSERT_TRUE(!varlink_call_is_pending(t.held));
        ASSERT_TRUE(varlink_call_reply(t.held, NULL) == -EALREADY);
        ASSERT_TRUE(varlink_call_notify(t.held, NULL) == -EINVAL || varlink_call_notify(t.held, NULL) == -EALREADY);
        t.held = varlink_call_unref(t.held);
        {
                _cleanup_json_ json_object *m = client_expect(&t, &c);
                json_object *d;
                ASSERT_TRUE(!msg_error(m));
                ASSERT_TRUE(json_object_object_get_ex(msg_parameters(m), "done", &d) && json_object_get_boolean(d));
        }
        expect_echo(&t, &c, "a");
        expect_echo(&t, &c, "b");

        /* A flood of pipelined calls is answered completely and in order. */
        {
                _cleanup_free_ char *flood = malloc(2000 * 80);
                size_t n = 0;

                ASSERT_TRUE(flood);
                for (int i = 0; i < 2000; i++)
                        n += (size_t) sprintf(flood + n,
                                              "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"%d\"}}",
                                              i) + 1;
                client_send_raw(&t, &c, flood, n);
                for (int i = 0; i < 2000; i++) {
                        char s[16];

                        snprintf(s, sizeof(s), "%d", i);
                        expect_echo(&t, &c, s);
                }
        }
        client_close(&c);
        test_teardown(&t);
}

static void test_oneway(void) {
        Test t;
        Client c;

        test_setup(&t);
        client_pair(&t, &c);
        client_send(&t, &c, "{\"method\":\"org.example.test.Note\",\"parameters\":{\"s\":\"x\"},\"oneway\":true}");
        client_send(&t, &c, "{\"method\":\"org.example.test.Nope\",\"oneway\":true}");
        client_send(&t, &c, "{\"method\":\"org.example.test.Fail\",\"oneway\":true}");
        client_send(&t, &c, "{\"method\":\"org.example.test.Park\",\"oneway\":true}");
        client_send(&t, &c, "{\"method\":\"org.example.test.Note\",\"parameters\":{\"s\":\"x\"},\"oneway\":false}");
        /* The first reply is the one to the last (not oneway) call. */
        {
                _cleanup_json_ json_object *m = client_expect(&t, &c);
                ASSERT_TRUE(!msg_error(m));
                ASSERT_TRUE(json_object_object_length(msg_parameters(m)) == 0);
        }
        ASSERT_TRUE(t.notes == 2);
        ASSERT_TRUE(stats(&t).calls == 5);
        echo(&t, &c, "x");
        client_close(&c);
        test_teardown(&t);
}

static void test_protocol_violations(void) {
        static const struct {
                const char *data;
                size_t len;
        } cases[] = {
#define C(s) { s, sizeof(s) }
                C("hello"),
                C("[1,2,3]"),
                C("{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"\xff\xfe\"}}"),
                C("{\"method\":\"org.example.test.Echo\",\"parameters\":[]}"),
                C("{\"method\":\"Echo\"}"),
                C("{\"method\":\"org.example.test.Echo\",\"more\":1}"),
                C("{\"method\":\"org.example.test.Echo\"}trailing"),
                C(""),
#undef C
        };
        Test t;

        test_setup(&t);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Client c;

                client_pair(&t, &c);
                /* A good call before the bad one is still answered. */
                client_send(&t, &c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"ok\"}}");
                client_send_raw(&t, &c, cases[i].data, cases[i].len);
                expect_echo(&t, &c, "ok");
                client_expect_eof(&t, &c);
                client_close(&c);
                ASSERT_TRUE(stats(&t).protocol_errors == i + 1);
        }
        pump_idle(&t);
        ASSERT_TRUE(varlink_server_n_connections(t.server) == 0);
        test_teardown(&t);
}

static void test_message_size(void) {
        VarlinkLimits limits;
        Test t;
        Client c;
        char *big;
        size_t l;

        test_setup(&t);
        varlink_server_get_limits(t.server, &limits);
        ASSERT_TRUE(limits.max_message_size == 1024 * 1024);
        limits.max_message_size = 4096;
        ASSERT_OK(varlink_server_set_limits(t.server, &limits));
        limits.max_connections = 0;
        ASSERT_TRUE(varlink_server_set_limits(t.server, &limits) == -EINVAL);

        /* Exactly at the limit (with its NUL): accepted. */
        big = malloc(8192);
        ASSERT_TRUE(big);
        strcpy(big, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"");
        l = strlen(big);
        memset(big + l, 'x', 4095 - l - 3);
        strcpy(big + 4095 - 3, "\"}}");
        ASSERT_TRUE(strlen(big) == 4095);
        client_pair(&t, &c);
        client_send(&t, &c, big);
        {
                _cleanup_json_ json_object *m = client_expect(&t, &c);
                ASSERT_TRUE(!msg_error(m));
                ASSERT_TRUE(strlen(msg_string(m, "s")) == 4095 - l - 3);
        }
        /* One byte more: disconnected. */
        memmove(big + 1, big, 4096);
        big[0] = ' ';
        ASSERT_TRUE(strlen(big) == 4096);
        client_send(&t, &c, big);
        client_expect_eof(&t, &c);
        client_close(&c);
        ASSERT_TRUE(stats(&t).protocol_errors == 1);

        /* JSON that never ends, without a NUL: disconnected once past the limit. */
        client_pair(&t, &c);
        memset(big, ' ', 8192);
        memcpy(big, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"", l);
        client_send_raw(&t, &c, big, 4000);
        client_expect_nothing(&t, &c);
        client_send_raw(&t, &c, big + 4000, 200);
        client_expect_eof(&t, &c);
        client_close(&c);
        ASSERT_TRUE(stats(&t).protocol_errors == 2);
        free(big);
        pump_idle(&t);
        ASSERT_TRUE(varlink_server_n_connections(t.server) == 0);
        test_teardown(&t);
}

static void test_big_reply(void) {
        _cleanup_free_ char *msg = NULL, *s = NULL;
        Test t;
        Client c;
        size_t n = 600 * 1024;

        test_setup(&t);
        s = malloc(n + 1);
        msg = malloc(n + 128);
        ASSERT_TRUE(s && msg);
        memset(s, 'y', n);
        s[n] = 0;
        sprintf(msg, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"%s\"}}", s);
        client_pair(&t, &c);
        client_send(&t, &c, msg);
        client_send(&t, &c, msg);
        expect_echo(&t, &c, s);
        expect_echo(&t, &c, s);
        echo(&t, &c, "small");
        client_close(&c);
        test_teardown(&t);
}

/* A reply in pieces, bigger than the socket buffer, behind a pending call and ahead of a pipelined one. */
static void test_reply_iov(void) {
        _cleanup_free_ char *msg = NULL, *s = NULL;
        VarlinkLimits limits;
        char buf[4096];
        size_t n = 600 * 1024, len = 0;
        Test t;
        Client c;

        test_setup(&t);
        s = malloc(n + 1);
        msg = malloc(n + 256);
        ASSERT_TRUE(s && msg);
        for (size_t i = 0; i < n; i++)
                s[i] = (char) ('a' + i % 26);
        s[n] = 0;
        client_pair(&t, &c);
        client_send(&t, &c, "{\"method\":\"org.example.test.Hold\"}");
        len = (size_t) sprintf(msg, "{\"method\":\"org.example.test.Pieces\",\"parameters\":{\"s\":\"%s\"}}", s) + 1;
        len += (size_t) sprintf(msg + len, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"after\"}}") + 1;
        client_send_raw(&t, &c, msg, len);
        client_expect_nothing(&t, &c);
        ASSERT_TRUE(t.held);
        ASSERT_OK(varlink_call_reply(t.held, NULL));
        t.held = varlink_call_unref(t.held);
        {
                _cleanup_json_ json_object *m = client_expect(&t, &c);
                ASSERT_TRUE(!msg_error(m));
        }
        expect_echo(&t, &c, s);
        expect_echo(&t, &c, "after");

        /* Above max_reply_size: not sent, the call fails (InternalError) and the connection goes on. */
        varlink_server_get_limits(t.server, &limits);
        limits.max_reply_size = 1000;
        ASSERT_OK(varlink_server_set_limits(t.server, &limits));
        snprintf(buf, sizeof(buf), "{\"method\":\"org.example.test.Pieces\",\"parameters\":{\"s\":\"%.*s\"}}", 2000, s);
        client_send(&t, &c, buf);
        expect_error(&t, &c, VARLINK_ERROR_INTERNAL, NULL, NULL);
        echo(&t, &c, "still here");
        client_close(&c);
        test_teardown(&t);
}

static void test_half_close(void) {
        Test t;
        Client c;

        test_setup(&t);
        client_pair(&t, &c);
        client_send(&t, &c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"1\"}}");
        client_send(&t, &c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"2\"}}");
        ASSERT_TRUE(shutdown(c.fd, SHUT_WR) == 0);
        expect_echo(&t, &c, "1");
        expect_echo(&t, &c, "2");
        client_expect_eof(&t, &c);
        client_close(&c);
        ASSERT_TRUE(varlink_server_n_connections(t.server) == 0);

        /* A stream outlives the client's half-close; the connection ends after its final reply. */
        client_pair(&t, &c);
        client_send(&t, &c, "{\"method\":\"org.example.test.Hold\",\"more\":true}");
        ASSERT_TRUE(shutdown(c.fd, SHUT_WR) == 0);
        client_expect_nothing(&t, &c);
        ASSERT_TRUE(t.held && varlink_call_is_pending(t.held));
        ASSERT_OK(varlink_call_notify(t.held, NULL));
        {
                _cleanup_json_ json_object *m = client_expect(&t, &c);
                ASSERT_TRUE(msg_continues(m));
        }
        ASSERT_OK(varlink_call_reply(t.held, NULL));
        {
                _cleanup_json_ json_object *m = client_expect(&t, &c);
                ASSERT_TRUE(!msg_continues(m) && !msg_error(m));
        }
        client_expect_eof(&t, &c);
        client_close(&c);
        ASSERT_TRUE(t.cancelled == 0);
        ASSERT_TRUE(varlink_server_n_connections(t.server) == 0);
        ASSERT_TRUE(stats(&t).protocol_errors == 0);
        test_teardown(&t);
}

static void test_credentials(void) {
        Test t;
        Client c;

        test_setup(&t);
        client_pair(&t, &c);
        client_send(&t, &c, "{\"method\":\"org.example.test.Creds\"}");
        {
                _cleanup_json_ json_object *m = client_expect(&t, &c);
                ASSERT_TRUE(!msg_error(m));
                ASSERT_TRUE(msg_int(m, "uid") == (int64_t) getuid());
                ASSERT_TRUE(msg_int(m, "pid") == (int64_t) getpid());
        }
        client_close(&c);
        test_teardown(&t);
}

static void test_disconnect_mid_stream(void) {
        _cleanup_json_ json_object *p = json_object_new_object();
        Test t;
        Client c;

        test_setup(&t);
        client_pair(&t, &c);
        client_send(&t, &c, "{\"method\":\"org.example.test.Hold\",\"more\":true}");
        client_send(&t, &c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"s\":\"queued\"}}");
        pump_idle(&t);
        ASSERT_TRUE(t.held);
        ASSERT_TRUE(varlink_call_wants_more(t.held));
        ASSERT_OK(varlink_call_notify(t.held, p));
        {
                _cleanup_json_ json_object *m = client_expect(&t, &c);
                ASSERT_TRUE(msg_continues(m));
        }
        ASSERT_TRUE(t.cancelled == 0);
        client_close(&c);
        pump_idle(&t);
        ASSERT_TRUE(t.cancelled == 1);
        ASSERT_TRUE(!varlink_call_is_pending(t.held));
        ASSERT_TRUE(varlink_call_notify(t.held, p) == -ENOTCONN);
        ASSERT_TRUE(varlink_call_reply(t.held, p) == -ENOTCONN);
        ASSERT_TRUE(stats(&t).cancelled == 1);
        ASSERT_TRUE(varlink_server_n_connections(t.server) == 0);
        t.held = varlink_call_unref(t.held);

        /* A pending call nobody else references is released with its connection. */
        client_pair(&t, &c);
        client_send(&t, &c, "{\"method\":\"org.example.test.Park\",\"more\":true}");
        client_expect_nothing(&t, &c);
        client_close(&c);
        pump_idle(&t);
        ASSERT_TRUE(stats(&t).cancelled == 2);

        /* Freeing the server cancels what is still pending. */
        client_pair(&t, &c);
        client_send(&t, &c, "{\"method\":\"org.example.test.Hold\",\"more\":true}");
        client_expect_nothing(&t, &c);
        ASSERT_TRUE(t.held && t.cancelled == 1);
        t.server = varlink_server_free(t.server);
        ASSERT_TRUE(t.cancelled == 2);
        ASSERT_TRUE(varlink_call_notify(t.held, NULL) == -ENOTCONN);
        client_expect_eof(&t, &c);
        client_close(&c);
        test_teardown(&t);
}

static void test_slow_consumer(void) {
        _cleanup_json_ json_object *p = json_object_new_object();
        VarlinkLimits limits;
        char payload[1024];
        unsigned sent = 0, received = 0;
        int r = 0;
        Test t;
        Client c;

        test_setup(&t);
        varlink_server_get_limits(t.server, &limits);
        limits.max_output_buffer = 64 * 1024;
        ASSERT_OK(varlink_server_set_limits(t.server, &limits));
        memset(payload, 'z', sizeof(payload) - 1);
        payload[sizeof(payload) - 1] = 0;
        json_object_object_add(p, "data", json_object_new_string(payload));

        client_pair(&t, &c);
        client_send(&t, &c, "{\"method\":\"org.example.test.Hold\",\"more\":true}");
        pump_idle(&t);
        ASSERT_TRUE(t.held);
        /* The client reads nothing: the socket fills, then our buffer, then notify refuses. */
        for (unsigned i = 0; i < 100000; i++) {
                r = varlink_call_notify(t.held, p);
                if (r == -ENOBUFS)
                        break;
                ASSERT_OK(r);
                sent++;
                ASSERT_OK(sd_event_run(t.event, 0));
        }
        ASSERT_TRUE(r == -ENOBUFS);
        ASSERT_TRUE(sent >= 64);
        ASSERT_TRUE(sent < 64 + 4096); /* bounded: our 64 KiB plus what the kernel buffers */
        ASSERT_OK(varlink_call_reply_error(t.held, "org.example.test.Oops", NULL));
        t.held = varlink_call_unref(t.held);

        for (;;) {
                _cleanup_json_ json_object *m = client_expect(&t, &c);

                if (!msg_continues(m)) {
                        ASSERT_TRUE(streq_ptr(msg_error(m), "org.example.test.Oops"));
                        break;
                }
                ASSERT_TRUE(streq(msg_string(m, "data"), payload));
                received++;
        }
        ASSERT_TRUE(received == sent);
        echo(&t, &c, "recovered");
        client_close(&c);
        test_teardown(&t);
}

static void on_budget_overflow(VarlinkCall *call, void *userdata) {
        unsigned *n = userdata;

        (*n)++;
        ASSERT_TRUE(varlink_call_get_dropped(call) > 0);
        ASSERT_OK(varlink_call_reply_error(call, "org.example.test.Oops", NULL));
}

/* Takes a stream from Hold (with "more") as a call of our own. */
static VarlinkCall *hold_stream(Test *t, Client *c, unsigned *overflows) {
        VarlinkCall *call;

        client_send(t, c, "{\"method\":\"org.example.test.Hold\",\"more\":true}");
        pump_idle(t);
        ASSERT_TRUE(t->held);
        call = TAKE_PTR(t->held);
        varlink_call_set_cancel(call, NULL, NULL);
        varlink_call_set_overflow(call, on_budget_overflow, overflows);
        return call;
}

/* Reads all there is without the loop: a client that keeps up. */
static void client_drain(Client *c) {
        char buf[65536];

        while (recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                ;
}

/* Three streams of one uid over a 256 KiB budget: the two that do not read are dropped, the slowest
 * first, with their queued events freed; the one that reads keeps going; a reply that does not fit
 * is refused and one that fits goes. */
static void test_output_budget(void) {
        _cleanup_json_ json_object *p = json_object_new_object();
        const size_t budget = 256 * 1024;
        unsigned overflows = 0, sent[3] = {}, received;
        VarlinkCall *stream[3];
        VarlinkLimits limits;
        char payload[8192];
        int r[3] = {};
        Client c[3];
        Test t;

        test_setup(&t);
        varlink_server_get_limits(t.server, &limits);
        /* The test may run as root or not: the same budget either way. */
        limits.max_output_per_uid = limits.max_output_root = budget;
        ASSERT_OK(varlink_server_set_limits(t.server, &limits));
        memset(payload, 'b', sizeof(payload) - 1);
        payload[sizeof(payload) - 1] = 0;
        json_object_object_add(p, "data", json_object_new_string(payload));
        for (int k = 0; k < 3; k++) {
                client_pair(&t, &c[k]);
                stream[k] = hold_stream(&t, &c[k], &overflows);
        }

        for (unsigned i = 0; i < 2000 && (r[1] == 0 || r[2] == 0 || overflows < 1); i++) {
                for (int k = 0; k < 3; k++) {
                        if (r[k] < 0 || !varlink_call_is_pending(stream[k]))
                                continue;
                        /* Stream 2 gets twice the events: it is the slowest. */
                        for (int n = 0; n < (k == 2 ? 2 : 1) && r[k] == 0; n++) {
                                r[k] = varlink_call_notify(stream[k], p);
                                if (r[k] == 0)
                                        sent[k]++;
                        }
                }
                client_drain(&c[0]);
                ASSERT_OK(sd_event_run(t.event, 0));
                ASSERT_TRUE(stats(&t).output_queued <= budget + sizeof(payload) + 64);
        }
        pump_idle(&t);
        /* The slowest, stream 2, was dropped for stream 1's event; stream 1 then for its own. */
        ASSERT_TRUE(overflows == 1);
        ASSERT_TRUE(!varlink_call_is_pending(stream[2]));
        ASSERT_TRUE(r[1] == -ENOBUFS);
        ASSERT_TRUE(varlink_call_get_dropped(stream[1]) > 0);
        ASSERT_TRUE(r[0] == 0 && varlink_call_is_pending(stream[0]));
        ASSERT_TRUE(stats(&t).streams_dropped == 2);
        ASSERT_OK(varlink_call_reply_error(stream[1], "org.example.test.Oops", NULL));

        /* What the slow clients get: a prefix of their events, then the error. */
        for (int k = 1; k < 3; k++) {
                received = 0;
                for (;;) {
                        _cleanup_json_ json_object *m = client_expect(&t, &c[k]);

                        if (!msg_continues(m)) {
                                ASSERT_TRUE(streq_ptr(msg_error(m), "org.example.test.Oops"));
                                break;
                        }
                        received++;
                }
                ASSERT_TRUE(received + varlink_call_get_dropped(stream[k]) >= sent[k]);
                ASSERT_TRUE(received < sent[k]);
                echo(&t, &c[k], "after the drop");
        }
        ASSERT_TRUE(stats(&t).output_queued < 4096);

        /* The fast stream still flows; a plain reply over what is left of the budget is refused. */
        ASSERT_OK(varlink_call_notify(stream[0], p));
        client_send(&t, &c[1], "{\"method\":\"org.example.test.Hold\"}");
        pump_idle(&t);
        ASSERT_TRUE(t.held);
        {
                _cleanup_json_ json_object *big = json_object_new_object();
                _cleanup_free_ char *text = malloc(budget + 1);

                ASSERT_TRUE(text);
                memset(text, 'x', budget);
                text[budget] = 0;
                json_object_object_add(big, "data", json_object_new_string(text));
                ASSERT_TRUE(varlink_call_output_room(t.held) <= budget);
                ASSERT_TRUE(varlink_call_reply(t.held, big) == -ENOBUFS);
                ASSERT_TRUE(varlink_call_is_pending(t.held));
                ASSERT_TRUE(stats(&t).replies_refused == 1);
                ASSERT_OK(varlink_call_reply(t.held, NULL));
        }
        t.held = varlink_call_unref(t.held);
        {
                _cleanup_json_ json_object *m = client_expect(&t, &c[1]);

                ASSERT_TRUE(!msg_error(m));
        }
        ASSERT_OK(varlink_call_reply(stream[0], NULL));
        for (int k = 0; k < 3; k++) {
                varlink_call_unref(stream[k]);
                client_close(&c[k]);
        }
        test_teardown(&t);
}

static void test_connection_limit(void) {
        VarlinkLimits limits;
        Client c[4];
        Test t;

        test_setup(&t);
        ASSERT_OK(varlink_server_listen_path(t.server, t.path, 0666));
        varlink_server_get_limits(t.server, &limits);
        limits.max_connections = 3;
        ASSERT_TRUE(varlink_server_set_limits(t.server, &limits) == -EINVAL); /* the root reserve must be less */
        limits.root_connections = 0;
        ASSERT_OK(varlink_server_set_limits(t.server, &limits));
        for (int i = 0; i < 3; i++) {
                client_connect(&t, &c[i]);
                echo(&t, &c[i], "in");
        }
        client_connect(&t, &c[3]);
        client_expect_eof(&t, &c[3]);
        client_close(&c[3]);
        ASSERT_TRUE(stats(&t).connections_refused == 1);
        ASSERT_TRUE(varlink_server_n_connections(t.server) == 3);
        client_close(&c[0]);
        pump_idle(&t);
        ASSERT_TRUE(varlink_server_n_connections(t.server) == 2);
        client_connect(&t, &c[0]);
        echo(&t, &c[0], "again");
        for (int i = 0; i < 3; i++)
                client_close(&c[i]);
        test_teardown(&t);
}

/* In a child with another uid: the third connection of that uid must be refused. */
static int per_uid_child(const char *path) {
        struct timeval tv = { .tv_sec = 10 };
        const char msg[] = "{\"method\":\"org.varlink.service.GetInfo\"}";
        int fds[3];

        if (getuid() == 0 && setuid(65534) < 0)
                return 10;
        for (int i = 0; i < 3; i++) {
                char buf[4096];
                ssize_t n;

                fds[i] = connect_path(path);
                if (fds[i] < 0)
                        return 11;
                (void) setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                if (send(fds[i], msg, sizeof(msg), MSG_NOSIGNAL) != sizeof(msg) && i < 2)
                        return 12;
                n = recv(fds[i], buf, sizeof(buf), 0);
                if (i < 2 && n <= 0)
                        return 13 + i;
                if (i == 2 && n != 0 && !(n < 0 && errno == ECONNRESET))
                        return 15;
        }
        return 0;
}

static void test_connection_limit_per_uid(void) {
        VarlinkLimits limits;
        Test t;
        pid_t pid;
        int status = 0;
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 20 * USEC_PER_SEC;

        test_setup(&t);
        ASSERT_OK(varlink_server_listen_path(t.server, t.path, 0666));
        ASSERT_TRUE(chmod(t.dir, 0755) == 0);
        varlink_server_get_limits(t.server, &limits);
        limits.max_connections_per_uid = 2;
        ASSERT_OK(varlink_server_set_limits(t.server, &limits));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0)
                _exit(per_uid_child(t.path));
        for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);

                ASSERT_TRUE(w >= 0);
                if (w == pid)
                        break;
                ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) < deadline);
                ASSERT_OK(sd_event_run(t.event, 10 * USEC_PER_MSEC));
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fprintf(stderr, "per-uid child failed: status %d\n", status);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_TRUE(stats(&t).connections_refused == 1);
        ASSERT_TRUE(stats(&t).connections_accepted == 2);
        test_teardown(&t);
}

static void test_many_connections(void) {
        enum { TOTAL = 2000, BATCH = 100 };
        Client c[BATCH];
        Test t;

        test_setup(&t);
        ASSERT_OK(varlink_server_listen_path(t.server, t.path, 0600));
        for (int done = 0; done < TOTAL; done += BATCH) {
                for (int i = 0; i < BATCH; i++) {
                        client_connect(&t, &c[i]);
                        switch (i % 5) {
                        case 0: /* idle */
                                break;
                        case 1: /* a pending call */
                                client_send(&t, &c[i], "{\"method\":\"org.example.test.Park\",\"more\":true}");
                                break;
                        case 2: /* half a message */
                                client_send_raw(&t, &c[i], "{\"method\":\"org.exa", 18);
                                break;
                        case 3: /* garbage */
                                client_send_raw(&t, &c[i], "\x01\x02\x03\0", 4);
                                break;
                        case 4: /* a call whose reply nobody reads */
                                client_send(&t, &c[i], "{\"method\":\"org.varlink.service.GetInfo\"}");
                                break;
                        }
                }
                pump_idle(&t);
                ASSERT_TRUE(varlink_server_n_connections(t.server) == BATCH - BATCH / 5); /* garbage is dropped at once */
                for (int i = 0; i < BATCH; i++)
                        client_close(&c[i]);
                pump_idle(&t);
                ASSERT_TRUE(varlink_server_n_connections(t.server) == 0);
        }
        ASSERT_TRUE(stats(&t).connections_accepted == TOTAL);
        ASSERT_TRUE(stats(&t).disconnects == TOTAL);
        ASSERT_TRUE(stats(&t).connections_refused == 0);
        ASSERT_TRUE(stats(&t).cancelled == TOTAL / 5);
        ASSERT_TRUE(stats(&t).protocol_errors == TOTAL / 5);
        test_teardown(&t);
}

static void test_listen(void) {
        struct stat st;
        Test t;
        Client c;
        int fd;

        test_setup(&t);
        /* Not a socket: refused, not unlinked. */
        fd = open(t.path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        ASSERT_TRUE(varlink_server_listen_path(t.server, t.path, 0666) == -EEXIST);
        ASSERT_TRUE(unlink(t.path) == 0);
        ASSERT_TRUE(varlink_server_listen_path(t.server, "", 0666) == -EINVAL);
        {
                char longpath[200];

                memset(longpath, 'a', sizeof(longpath) - 1);
                longpath[sizeof(longpath) - 1] = 0;
                ASSERT_TRUE(varlink_server_listen_path(t.server, longpath, 0666) == -ENAMETOOLONG);
        }

        /* A stale socket is replaced; the mode is applied. */
        ASSERT_OK(varlink_server_listen_path(t.server, t.path, 0600));
        t.server = varlink_server_free(t.server);
        ASSERT_TRUE(lstat(t.path, &st) < 0 && errno == ENOENT); /* unlinked when the server went away */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };

                strcpy(sa.sun_path, t.path);
                ASSERT_TRUE(bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0);
        }
        close(fd);
        ASSERT_OK(varlink_server_new(&t.server, t.event));
        ASSERT_OK(varlink_server_listen_path(t.server, t.path, 0666));
        ASSERT_TRUE(lstat(t.path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0666);
        client_connect(&t, &c);
        client_send(&t, &c, "{\"method\":\"org.varlink.service.GetInfo\"}");
        {
                _cleanup_json_ json_object *m = client_expect(&t, &c);
                ASSERT_TRUE(!msg_error(m));
        }
        client_close(&c);

        /* listen_fd wants a listening AF_UNIX stream socket. */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(varlink_server_listen_fd(t.server, fd) == -EINVAL);
        close(fd);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(varlink_server_listen_fd(t.server, fd) == -EINVAL);
        close(fd);

        /* Without LISTEN_FDS there is nothing to take. */
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_PID");
        ASSERT_TRUE(varlink_server_listen_systemd(t.server) == 0);
        test_teardown(&t);
}

static void test_listen_systemd(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char pid[32];
        Test t;
        Client c;
        int fd;

        if (fcntl(3, F_GETFD) >= 0) {
                fprintf(stderr, "fd 3 is in use, skipping the LISTEN_FDS test\n");
                return;
        }
        /* Keep fd 3 from the event loop's epoll fd; the socket replaces the placeholder below. */
        ASSERT_TRUE(open("/dev/null", O_RDONLY) == 3);
        test_setup(&t);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        strcpy(sa.sun_path, t.path);
        ASSERT_TRUE(bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0);
        ASSERT_TRUE(listen(fd, 16) == 0);
        ASSERT_TRUE(dup2(fd, 3) == 3);
        close(fd);
        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        setenv("LISTEN_PID", pid, 1);
        setenv("LISTEN_FDS", "1", 1);
        setenv("LISTEN_FDNAMES", "lineaged.socket", 1);
        ASSERT_TRUE(varlink_server_listen_systemd(t.server) == 1);
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        client_connect(&t, &c);
        echo(&t, &c, "activated");
        client_close(&c);
        test_teardown(&t);
        ASSERT_TRUE(fcntl(3, F_GETFD) < 0); /* owned and closed by the server */
}

int main(void) {
        log_setup();
        signal(SIGPIPE, SIG_IGN);

        test_parse();
        test_interfaces();
        test_call_reply();
        test_service();
        test_errors();
        test_more();
        test_pipelined();
        test_oneway();
        test_protocol_violations();
        test_message_size();
        test_big_reply();
        test_reply_iov();
        test_half_close();
        test_credentials();
        test_disconnect_mid_stream();
        test_slow_consumer();
        test_output_budget();
        test_connection_limit();
        test_connection_limit_per_uid();
        test_many_connections();
        test_listen();
        test_listen_systemd();
        printf("All varlink tests passed.\n");
        return 0;
}
