/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* varlink-message: what the varlink server parses: names, messages, interface descriptions, and method bindings. */
#include <limits.h>

#include "varlink-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

/* ---- names ---- */

static bool char_is_lower_or_digit(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool char_is_alnum(char c) {
        return char_is_lower_or_digit(c) || (c >= 'A' && c <= 'Z');
}

/* [a-z]([-]*[a-z0-9])*(\.[a-zA-Z0-9]([-]*[a-zA-Z0-9])*)+ — the spec's grammar is lowercase, but
 * capitals after the first component are widely used (io.systemd.Resolve, org.lineaged.Lineage). */
static bool interface_name_is_valid(const char *s, size_t n) {
        bool component_start = true;
        size_t dots = 0;

        if (n == 0 || !(s[0] >= 'a' && s[0] <= 'z'))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (c == '.') {
                        if (component_start || s[i - 1] == '-')
                                return false;
                        dots++;
                        component_start = true;
                } else if (c == '-') {
                        if (component_start)
                                return false;
                } else if (char_is_alnum(c))
                        component_start = false;
                else
                        return false;
        }
        return !component_start && s[n - 1] != '-' && dots > 0;
}

/* [A-Z][A-Za-z0-9]* */
static bool member_name_is_valid(const char *s, size_t n) {
        if (n == 0 || !(s[0] >= 'A' && s[0] <= 'Z'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!char_is_alnum(s[i]))
                        return false;
        return true;
}

/* Splits "iface.Member"; returns the length of the interface part, 0 when invalid. */
size_t method_name_split(const char *s, size_t n) {
        const char *dot = memrchr(s, '.', n);
        size_t ilen;

        if (!dot)
                return 0;
        ilen = (size_t) (dot - s);
        if (!interface_name_is_valid(s, ilen) || !member_name_is_valid(dot + 1, n - ilen - 1))
                return 0;
        return ilen;
}

/* ---- messages ---- */

void varlink_message_done(VarlinkMessage *m) {
        if (!m)
                return;
        json_object_put(m->object);
        *m = (VarlinkMessage) {};
}

static int message_check_bool(json_object *v, bool *ret) {
        if (!json_object_is_type(v, json_type_boolean))
                return -EBADMSG;
        *ret = json_object_get_boolean(v);
        return 0;
}

int varlink_message_parse(const char *buf, size_t len, VarlinkMessage *ret) {
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        _cleanup_json_ json_object *obj = NULL;
        VarlinkMessage m = {};
        json_object *method = NULL, *parameters = NULL;
        size_t end;

        if (!buf || !ret)
                return -EINVAL;
        if (len > INT_MAX)
                return -EMSGSIZE;
        if (len == 0 || memchr(buf, 0, len))
                return -EBADMSG;

        tok = json_tokener_new_ex(VARLINK_MAX_DEPTH);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        obj = json_tokener_parse_ex(tok, buf, (int) len);
        if (!obj || json_tokener_get_error(tok) != json_tokener_success)
                return -EBADMSG;
        end = json_tokener_get_parse_end(tok);
        for (size_t i = end; i < len; i++)
                if (!strchr(" \t\r\n", buf[i]))
                        return -EBADMSG;
        if (!json_object_is_type(obj, json_type_object))
                return -EBADMSG;

        json_object_object_foreach(obj, key, value) {
                int r = 0;

                if (streq(key, "method"))
                        method = value;
                else if (streq(key, "parameters"))
                        parameters = value;
                else if (streq(key, "oneway"))
                        r = message_check_bool(value, &m.oneway);
                else if (streq(key, "more"))
                        r = message_check_bool(value, &m.more);
                else if (streq(key, "upgrade"))
                        r = message_check_bool(value, &m.upgrade);
                if (r < 0)
                        return r;
        }

        if (!json_object_is_type(method, json_type_string))
                return -EBADMSG;
        if (method_name_split(json_object_get_string(method), (size_t) json_object_get_string_len(method)) == 0)
                return -EBADMSG;
        if (parameters && !json_object_is_type(parameters, json_type_object)) {
                if (!json_object_is_type(parameters, json_type_null))
                        return -EBADMSG;
                parameters = NULL;
        }
        if (!parameters) {
                parameters = json_object_new_object();
                if (!parameters || json_object_object_add(obj, "parameters", parameters) < 0) {
                        json_object_put(parameters);
                        return -ENOMEM;
                }
        }

        m.method = json_object_get_string(method);
        m.parameters = parameters;
        m.object = TAKE_PTR(obj);
        *ret = m;
        return 0;
}

/* ---- interfaces ---- */

void interface_done(VarlinkInterface *i) {
        free(i->name);
        free(i->description);
        for (size_t k = 0; k < i->n_methods; k++)
                free(i->methods[k]);
        free(i->methods);
}

static const char *skip_blank(const char *p) {
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

/* Returns the word following keyword+blank at p, or NULL when p does not start with that keyword. */
static const char *idl_keyword(const char *p, const char *keyword) {
        size_t l = strlen(keyword);

        if (strncmp(p, keyword, l) != 0 || (p[l] != ' ' && p[l] != '\t'))
                return NULL;
        return skip_blank(p + l);
}

static int interface_add_method(VarlinkInterface *i, const char *name, size_t n) {
        char **m;

        for (size_t k = 0; k < i->n_methods; k++)
                if (strlen(i->methods[k]) == n && strncmp(i->methods[k], name, n) == 0)
                        return 0;
        m = reallocarray(i->methods, i->n_methods + 1, sizeof(char *));
        if (!m)
                return -ENOMEM;
        i->methods = m;
        i->methods[i->n_methods] = strndup(name, n);
        if (!i->methods[i->n_methods])
                return -ENOMEM;
        i->n_methods++;
        return 0;
}

/* Reads the interface name and method names from IDL text. Declarations start lines by convention. */
static int interface_parse(VarlinkInterface *i, const char *description) {
        for (const char *line = description; line && *line;) {
                const char *eol = strchrnul(line, '\n'), *p = skip_blank(line), *w;
                size_t n = 0;
                int r;

                if ((w = idl_keyword(p, "interface"))) {
                        while (w + n < eol && (char_is_alnum(w[n]) || w[n] == '.' || w[n] == '-'))
                                n++;
                        if (i->name || !interface_name_is_valid(w, n) || *skip_blank(w + n) != *eol)
                                return -EINVAL;
                        i->name = strndup(w, n);
                        if (!i->name)
                                return -ENOMEM;
                } else if ((w = idl_keyword(p, "method"))) {
                        while (w + n < eol && char_is_alnum(w[n]))
                                n++;
                        if (!i->name || !member_name_is_valid(w, n))
                                return -EINVAL;
                        r = interface_add_method(i, w, n);
                        if (r < 0)
                                return r;
                }
                line = *eol ? eol + 1 : NULL;
        }
        return i->name ? 0 : -EINVAL;
}

VarlinkInterface *server_find_interface(VarlinkServer *s, const char *name, size_t n) {
        for (size_t k = 0; k < s->n_interfaces; k++)
                if (strlen(s->interfaces[k].name) == n && strncmp(s->interfaces[k].name, name, n) == 0)
                        return &s->interfaces[k];
        return NULL;
}

bool interface_has_method(VarlinkInterface *i, const char *member) {
        for (size_t k = 0; k < i->n_methods; k++)
                if (streq(i->methods[k], member))
                        return true;
        return false;
}

VarlinkBinding *server_find_binding(VarlinkServer *s, const char *method) {
        for (size_t k = 0; k < s->n_bindings; k++)
                if (streq(s->bindings[k].method, method))
                        return &s->bindings[k];
        return NULL;
}

int varlink_server_add_interface(VarlinkServer *s, const char *description) {
        VarlinkInterface i = {}, *a;
        int r;

        if (!s || !description)
                return -EINVAL;
        r = interface_parse(&i, description);
        if (r < 0)
                goto fail;
        if (server_find_interface(s, i.name, strlen(i.name))) {
                r = -EEXIST;
                goto fail;
        }
        i.description = strdup(description);
        a = reallocarray(s->interfaces, s->n_interfaces + 1, sizeof(VarlinkInterface));
        if (!i.description || !a) {
                if (a)
                        s->interfaces = a;
                r = -ENOMEM;
                goto fail;
        }
        s->interfaces = a;
        s->interfaces[s->n_interfaces++] = i;
        return 0;
fail:
        interface_done(&i);
        return r;
}

int varlink_server_bind_method(VarlinkServer *s, const char *method, VarlinkMethod callback, void *userdata) {
        VarlinkInterface *i;
        VarlinkBinding *b;
        size_t ilen;

        if (!s || !method || !callback)
                return -EINVAL;
        ilen = method_name_split(method, strlen(method));
        if (ilen == 0)
                return -EINVAL;
        i = server_find_interface(s, method, ilen);
        if (!i || !interface_has_method(i, method + ilen + 1))
                return -ENOENT;
        if (server_find_binding(s, method))
                return -EEXIST;
        b = reallocarray(s->bindings, s->n_bindings + 1, sizeof(VarlinkBinding));
        if (!b)
                return -ENOMEM;
        s->bindings = b;
        b = &s->bindings[s->n_bindings];
        *b = (VarlinkBinding) { .method = strdup(method), .callback = callback, .userdata = userdata };
        if (!b->method)
                return -ENOMEM;
        s->n_bindings++;
        return 0;
}
