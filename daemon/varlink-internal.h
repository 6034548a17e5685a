/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* varlink-internal: the server object shared by varlink.c (connections, calls) and varlink-message.c (parsing). */
#pragma once

#include "hashmap.h"
#include "varlink.h"

typedef struct VarlinkListener VarlinkListener;
typedef struct VarlinkConnection VarlinkConnection;

typedef struct VarlinkInterface {
        char *name;
        char *description;
        char **methods; /* member names ("GetInfo"), as declared */
        size_t n_methods;
} VarlinkInterface;

typedef struct VarlinkBinding {
        char *method; /* full name */
        VarlinkMethod callback;
        void *userdata;
} VarlinkBinding;

struct VarlinkServer {
        sd_event *event;
        VarlinkLimits limits;
        char *vendor, *product, *version, *url;
        VarlinkInterface *interfaces;
        size_t n_interfaces;
        VarlinkBinding *bindings;
        size_t n_bindings;
        VarlinkListener **listeners;
        size_t n_listeners;
        sd_event_source *resume_source; /* re-enables accepting after EMFILE & co */
        VarlinkConnection *connections;
        Hashmap *users;                 /* key -> VarlinkUser, while it has connections */
        unsigned n_unprivileged;        /* connections of uids other than 0 */
        size_t output_unprivileged;     /* bytes queued for them */
        size_t output_root;
        VarlinkStats stats;
};

/* varlink-message.c */
/* Splits "iface.Member"; returns the length of the interface part, 0 when invalid. */
size_t method_name_split(const char *s, size_t n);
void interface_done(VarlinkInterface *i);
VarlinkInterface *server_find_interface(VarlinkServer *s, const char *name, size_t n);
bool interface_has_method(VarlinkInterface *i, const char *member);
VarlinkBinding *server_find_binding(VarlinkServer *s, const char *method);
