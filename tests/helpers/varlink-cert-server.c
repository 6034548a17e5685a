/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* varlink-cert-server: the org.varlink.certification service on daemon/varlink.c, for certification clients. */
#include <signal.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>

#include "varlink.h"

/* The interface text exactly as the reference implementations serve it. */
static const char certification_idl[] =
        "# Interface to test varlink implementations against.\n"
        "# First you write a varlink client calling:\n"
        "# Start, Test01, Test02, …, Test09, End\n"
        "# The return value of the previous call should be the argument of the next call.\n"
        "# Then you test this client against well known servers like python or rust from\n"
        "# https://github.com/varlink/\n"
        "#\n"
        "# Next you write a varlink server providing the same service as the well known ones.\n"
        "# Now run your client against it and run well known clients like python or rust\n"
        "# from https://github.com/varlink/ against your server. If all works out, then\n"
        "# your new language bindings should be varlink certified.\n"
        "interface org.varlink.certification\n"
        "\n"
        "type Interface (\n"
        "  foo: ?[]?[string](foo, bar, baz),\n"
        "  anon: (foo: bool, bar: bool)\n"
        ")\n"
        "\n"
        "type MyType (\n"
        "  object: object,\n"
        "  enum: (one, two, three),\n"
        "  struct: (first: int, second: string),\n"
        "  array: []string,\n"
        "  dictionary: [string]string,\n"
        "  stringset: [string](),\n"
        "  nullable: ?string,\n"
        "  nullable_array_struct: ?[](first: int, second: string),\n"
        "  interface: Interface\n"
        ")\n"
        "\n"
        "method Start() -> (client_id: string)\n"
        "\n"
        "method Test01(client_id: string) -> (bool: bool)\n"
        "\n"
        "method Test02(client_id: string, bool: bool) -> (int: int)\n"
        "\n"
        "method Test03(client_id: string, int: int) -> (float: float)\n"
        "\n"
        "method Test04(client_id: string, float: float) -> (string: string)\n"
        "\n"
        "method Test05(client_id: string, string: string) -> (\n"
        "  bool: bool,\n"
        "  int: int,\n"
        "  float: float,\n"
        "  string: string\n"
        ")\n"
        "\n"
        "method Test06(\n"
        "  client_id: string,\n"
        "  bool: bool,\n"
        "  int: int,\n"
        "  float: float,\n"
        "  string: string\n"
        ") -> (\n"
        "  struct: (\n"
        "    bool: bool,\n"
        "    int: int,\n"
        "    float: float,\n"
        "    string: string\n"
        "  )\n"
        ")\n"
        "\n"
        "method Test07(\n"
        "  client_id: string,\n"
        "  struct: (\n"
        "    bool: bool,\n"
        "    int: int,\n"
        "    float: float,\n"
        "    string: string\n"
        "  )\n"
        ") -> (map: [string]string)\n"
        "\n"
        "method Test08(client_id: string, map: [string]string) -> (set: [string]())\n"
        "\n"
        "method Test09(client_id: string, set: [string]()) -> (mytype: MyType)\n"
        "\n"
        "# returns more than one reply with \"continues\"\n"
        "method Test10(client_id: string, mytype: MyType) -> (string: string)\n"
        "\n"
        "method Test11(\n"
        "  client_id: string,\n"
        "  last_more_replies: []string\n"
        ") -> ()\n"
        "\n"
        "method End(client_id: string) -> (all_ok: bool)\n"
        "\n"
        "error ClientIdError ()\n"
        "\n"
        "error CertificationError (wants: object, got: object)\n";

#define STRUCT_JSON "{\"bool\":false,\"int\":2,\"float\":3.141592653589793,\"string\":\"a lot of string\"}"
#define MAP_JSON "{\"foo\":\"Foo\",\"bar\":\"Bar\"}"
#define SET_JSON "{\"one\":{},\"two\":{},\"three\":{}}"
#define MYTYPE_JSON                                                                                        \
        "{\"object\":{\"method\":\"org.varlink.certification.Test09\",\"parameters\":{\"map\":" MAP_JSON "}},"  \
        "\"enum\":\"two\",\"struct\":{\"first\":1,\"second\":\"2\"},\"array\":[\"one\",\"two\",\"three\"],"      \
        "\"dictionary\":" MAP_JSON ",\"stringset\":" SET_JSON ","                                            \
        "\"interface\":{\"foo\":[null,{\"Foo\":\"foo\",\"Bar\":\"bar\"},null,{\"one\":\"foo\",\"two\":\"bar\"}],"   \
        "\"anon\":{\"foo\":true,\"bar\":false}}}"
#define REPLIES_JSON                                                                                       \
        "[\"Reply number 1\",\"Reply number 2\",\"Reply number 3\",\"Reply number 4\",\"Reply number 5\","  \
        "\"Reply number 6\",\"Reply number 7\",\"Reply number 8\",\"Reply number 9\",\"Reply number 10\"]"
#define N_STREAM_REPLIES 10

/* Each step: what the client must send (besides client_id) and what it gets back. */
typedef struct CertStep {
        const char *method;
        const char *wants;
        const char *reply; /* NULL: handled specially */
} CertStep;

static const CertStep steps[] = {
        { "Start", "{}", NULL },
        { "Test01", "{}", "{\"bool\":true}" },
        { "Test02", "{\"bool\":true}", "{\"int\":1}" },
        { "Test03", "{\"int\":1}", "{\"float\":1.0}" },
        { "Test04", "{\"float\":1.0}", "{\"string\":\"ping\"}" },
        { "Test05", "{\"string\":\"ping\"}", STRUCT_JSON },
        { "Test06", STRUCT_JSON, "{\"struct\":" STRUCT_JSON "}" },
        { "Test07", "{\"struct\":" STRUCT_JSON "}", "{\"map\":" MAP_JSON "}" },
        { "Test08", "{\"map\":" MAP_JSON "}", "{\"set\":" SET_JSON "}" },
        { "Test09", "{\"set\":" SET_JSON "}", "{\"mytype\":" MYTYPE_JSON "}" },
        { "Test10", "{\"mytype\":" MYTYPE_JSON "}", NULL },
        { "Test11", "{\"last_more_replies\":" REPLIES_JSON "}", NULL },
        { "End", "{}", "{\"all_ok\":true}" },
};

#define MAX_CLIENTS 64U

typedef struct CertClient {
        char id[SD_ID128_STRING_MAX];
        size_t next;      /* index into steps[] of the call expected next; 0 = slot free */
        uint64_t used;    /* for evicting the least recently used */
} CertClient;

static CertClient clients[MAX_CLIENTS];
static uint64_t use_counter;

static json_object *json_parse_literal(const char *s) {
        json_object *o = json_tokener_parse(s);

        if (!o) {
                fprintf(stderr, "Bad built-in JSON: %s\n", s);
                abort();
        }
        return o;
}

static bool json_is_number(json_type t) {
        return t == json_type_int || t == json_type_double;
}

/* Deep equality where an absent member equals null and 1 equals 1.0: clients differ there legitimately. */
static bool json_equal_loose(json_object *a, json_object *b, const char *skip_key) {
        json_type ta = json_object_get_type(a), tb = json_object_get_type(b);

        if (json_is_number(ta) && json_is_number(tb))
                return json_object_get_double(a) == json_object_get_double(b);
        if (ta != tb)
                return false;
        switch (ta) {
        case json_type_null:
                return true;
        case json_type_boolean:
                return json_object_get_boolean(a) == json_object_get_boolean(b);
        case json_type_string:
                return json_object_get_string_len(a) == json_object_get_string_len(b) &&
                       memcmp(json_object_get_string(a), json_object_get_string(b),
                              (size_t) json_object_get_string_len(a)) == 0;
        case json_type_array:
                if (json_object_array_length(a) != json_object_array_length(b))
                        return false;
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        if (!json_equal_loose(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i), NULL))
                                return false;
                return true;
        case json_type_object: {
                json_object_object_foreach(a, ka, va) {
                        if (skip_key && streq(ka, skip_key))
                                continue;
                        if (!json_equal_loose(va, json_object_object_get(b, ka), NULL))
                                return false;
                }
                json_object_object_foreach(b, kb, vb) {
                        if (skip_key && streq(kb, skip_key))
                                continue;
                        if (!json_object_object_get_ex(a, kb, NULL) && !json_object_is_type(vb, json_type_null))
                                return false;
                }
                return true;
        }
        default:
                return false;
        }
}

static int reply_certification_error(VarlinkCall *call, json_object *wants, json_object *got) {
        _cleanup_json_ json_object *p = json_object_new_object();

        if (!p || json_object_object_add(p, "wants", json_object_get(wants)) < 0 ||
            json_object_object_add(p, "got", json_object_get(got)) < 0)
                return -ENOMEM;
        fprintf(stderr, "Certification error in %s: wants %s, got %s\n", varlink_call_get_method(call),
                json_object_to_json_string(wants), json_object_to_json_string(got));
        return varlink_call_reply_error(call, "org.varlink.certification.CertificationError", p);
}

static int reply_literal(VarlinkCall *call, const char *text) {
        _cleanup_json_ json_object *p = json_parse_literal(text);

        return varlink_call_reply(call, p);
}

static CertClient *client_new(void) {
        CertClient *c = &clients[0];
        sd_id128_t id;

        for (size_t i = 0; i < MAX_CLIENTS; i++) {
                if (clients[i].next == 0) {
                        c = &clients[i];
                        break;
                }
                if (clients[i].used < c->used)
                        c = &clients[i];
        }
        if (sd_id128_randomize(&id) < 0)
                return NULL;
        sd_id128_to_string(id, c->id);
        c->next = 1;
        c->used = ++use_counter;
        return c;
}

static CertClient *client_find(json_object *parameters) {
        json_object *v;

        if (!json_object_object_get_ex(parameters, "client_id", &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                if (clients[i].next != 0 && streq(clients[i].id, json_object_get_string(v))) {
                        clients[i].used = ++use_counter;
                        return &clients[i];
                }
        return NULL;
}

static int method_start(VarlinkCall *call, json_object *parameters) {
        _cleanup_json_ json_object *p = json_object_new_object();
        CertClient *c = client_new();

        if (!c || !p || json_object_object_add(p, "client_id", json_object_new_string(c->id)) < 0)
                return -ENOMEM;
        return varlink_call_reply(call, p);
}

static int method_test10(VarlinkCall *call) {
        char text[64];
        int r;

        for (unsigned i = 1; i <= N_STREAM_REPLIES; i++) {
                _cleanup_json_ json_object *p = json_object_new_object();

                snprintf(text, sizeof(text), "Reply number %u", i);
                if (!p || json_object_object_add(p, "string", json_object_new_string(text)) < 0)
                        return -ENOMEM;
                r = i < N_STREAM_REPLIES ? varlink_call_notify(call, p) : varlink_call_reply(call, p);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Checks that a flag the step needs was set; replies a CertificationError and returns 1 if not. */
static int check_flag(VarlinkCall *call, const char *flag, bool value) {
        _cleanup_json_ json_object *wants = json_object_new_object(), *got = json_object_new_object();

        if (value)
                return 0;
        if (!wants || !got || json_object_object_add(wants, flag, json_object_new_boolean(true)) < 0 ||
            json_object_object_add(got, flag, json_object_new_boolean(false)) < 0)
                return -ENOMEM;
        return reply_certification_error(call, wants, got) ?: 1;
}

static int method_step(VarlinkCall *call, json_object *parameters, void *userdata) {
        const CertStep *step = userdata;
        size_t index = (size_t) (step - steps);
        _cleanup_json_ json_object *wants = json_parse_literal(step->wants);
        CertClient *c;
        int r;

        if (index == 0) {
                if (!json_equal_loose(wants, parameters, NULL))
                        return reply_certification_error(call, wants, parameters);
                return method_start(call, parameters);
        }
        c = client_find(parameters);
        if (!c)
                return varlink_call_reply_error(call, "org.varlink.certification.ClientIdError", NULL);
        if (c->next != index) {
                _cleanup_json_ json_object *w = json_object_new_object(), *g = json_object_new_object();

                if (!w || !g ||
                    json_object_object_add(w, "method", json_object_new_string(steps[c->next].method)) < 0 ||
                    json_object_object_add(g, "method", json_object_new_string(step->method)) < 0)
                        return -ENOMEM;
                c->next = 0;
                return reply_certification_error(call, w, g);
        }
        if (!json_equal_loose(wants, parameters, "client_id")) {
                c->next = 0;
                return reply_certification_error(call, wants, parameters);
        }
        c->next = index + 1 < ELEMENTSOF(steps) ? index + 1 : 0;

        if (streq(step->method, "Test10")) {
                r = check_flag(call, "more", varlink_call_wants_more(call));
                return r != 0 ? r : method_test10(call);
        }
        if (streq(step->method, "Test11"))
                return check_flag(call, "oneway", varlink_call_is_oneway(call));
        return reply_literal(call, step->reply);
}

static int parse_address(const char *arg, const char **ret_path) {
        if (strncmp(arg, "unix:", 5) == 0)
                arg += 5;
        /* varlink addresses may carry ";mode=0666" and the like: not needed here. */
        if (strchr(arg, ';') || arg[0] == 0)
                return -EINVAL;
        *ret_path = arg;
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_(varlink_server_freep) VarlinkServer *server = NULL;
        sd_event *event = NULL;
        const char *path = NULL;
        sigset_t mask;
        int r;

        log_setup();
        if (argc > 2 || (argc == 2 && (streq(argv[1], "--help") || parse_address(argv[1], &path) < 0))) {
                fprintf(stderr, "Usage: %s [unix:PATH|PATH|@ABSTRACT]  (no address: use LISTEN_FDS)\n", argv[0]);
                return argc == 2 && streq(argv[1], "--help") ? 0 : 2;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        r = sd_event_default(&event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m"), 1;
        (void) sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        (void) sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);

        r = varlink_server_new(&server, event);
        if (r >= 0)
                r = varlink_server_set_info(server, "lineaged", "lineaged varlink certification server", "1",
                                            "https://varlink.org");
        if (r >= 0)
                r = varlink_server_add_interface(server, certification_idl);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(steps); i++) {
                char method[128];

                snprintf(method, sizeof(method), "org.varlink.certification.%s", steps[i].method);
                r = varlink_server_bind_method(server, method, method_step, (void *) &steps[i]);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to set up the varlink server: %m"), 1;

        r = path ? varlink_server_listen_path(server, path, 0600) : varlink_server_listen_systemd(server);
        if (r == 0 && !path)
                r = -EBADF;
        if (r < 0)
                return log_error_errno(r, "Failed to listen on %s: %m", path ?: "LISTEN_FDS"), 1;

        printf("ready\n");
        fflush(stdout);
        r = sd_event_loop(event);
        server = varlink_server_free(server);
        sd_event_unref(event);
        return r < 0 ? 1 : 0;
}
