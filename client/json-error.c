/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl --json errors: one varlink-shaped object for an error from either transport. */
#include "json-error.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DBUS_ERROR_PREFIX "org.lineaged.Lineage1.Error."
#define VARLINK_ERROR_PREFIX "org.lineaged.Lineage."

static bool has_prefix(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int add(json_object *o, const char *key, json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* A positive integer member of the call, copied; 0 if there is none. */
static int copy_positive(json_object *to, json_object *call, const char *key) {
        json_object *v;

        if (!call || !json_object_object_get_ex(call, key, &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) <= 0)
                return 0;
        return add(to, key, json_object_new_int64(json_object_get_int64(v)));
}

/* The text after prefix in a D-Bus error message ("Invalid parameter: pid" -> "pid"), or NULL. */
static const char *after(const char *message, const char *prefix) {
        return message && has_prefix(message, prefix) ? message + strlen(prefix) : NULL;
}

/* What the varlink error would carry, rebuilt from a D-Bus error. */
static int dbus_parameters(const char *vname, const char *message, const char *method, json_object *call,
                           json_object *p) {
        const char *s;
        long long v;
        int r = 0;

        if (strcmp(vname, VARLINK_ERROR_PREFIX "NoSuchProcess") == 0) {
                r = copy_positive(p, call, "pid");
                if (r >= 0)
                        r = copy_positive(p, call, "instance");
        } else if (strcmp(vname, "org.varlink.service.InvalidParameter") == 0 &&
                   (s = after(message, "Invalid parameter: ")))
                r = add(p, "parameter", json_object_new_string(s));
        else if (strcmp(vname, VARLINK_ERROR_PREFIX "DatabaseError") == 0)
                r = add(p, "message", json_object_new_string(after(message, "The database could not answer: ") ?: message ?: ""));
        else if (strcmp(vname, VARLINK_ERROR_PREFIX "TooManyWatchers") == 0 && message &&
                 sscanf(message, "Too many watchers (at most %lld).", &v) == 1)
                r = add(p, "limit", json_object_new_int64(v));
        else if (strcmp(vname, "org.varlink.service.MethodNotFound") == 0 && method)
                r = add(p, "method", json_object_new_string(method));
        return r;
}

static int varlink_name(const char *name, char **ret) {
        static const struct {
                const char *dbus, *varlink;
        } map[] = {
                { "org.freedesktop.DBus.Error.InvalidArgs", "org.varlink.service.InvalidParameter" },
                { "org.freedesktop.DBus.Error.AccessDenied", VARLINK_ERROR_PREFIX "PermissionDenied" },
                { "org.freedesktop.DBus.Error.UnknownMethod", "org.varlink.service.MethodNotFound" },
        };

        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
                if (strcmp(name, map[i].dbus) == 0) {
                        *ret = strdup(map[i].varlink);
                        return *ret ? 0 : -ENOMEM;
                }
        if (has_prefix(name, DBUS_ERROR_PREFIX)) {
                if (asprintf(ret, VARLINK_ERROR_PREFIX "%s", name + strlen(DBUS_ERROR_PREFIX)) < 0)
                        return -ENOMEM;
                return 0;
        }
        *ret = strdup(name);
        return *ret ? 0 : -ENOMEM;
}

int json_error_new(const char *name, json_object *parameters, const char *message, const char *method,
                   json_object *call, json_object **ret) {
        json_object *o = json_object_new_object(), *p = NULL;
        char *vname = NULL;
        int r;

        if (!o)
                return -ENOMEM;
        r = varlink_name(name, &vname);
        if (r >= 0)
                r = add(o, "error", json_object_new_string(vname));
        if (r >= 0) {
                p = parameters ? json_object_get(parameters) : json_object_new_object();
                r = p ? 0 : -ENOMEM;
        }
        if (r >= 0 && !parameters)
                r = dbus_parameters(vname, message, method, call, p);
        if (r >= 0) {
                r = add(o, "parameters", p);
                p = NULL;
        }
        json_object_put(p);
        free(vname);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}
