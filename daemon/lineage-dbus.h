/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineage-dbus: the D-Bus front end (org.lineaged.Lineage1), which only translates to and from query. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "lineage/util.h"
#include "query.h"

typedef struct LineageDbus LineageDbus;

/* D-Bus error names of the query errors (org.varlink.service.InvalidParameter becomes
 * org.freedesktop.DBus.Error.InvalidArgs, naming the parameter in its message). */
#define LINEAGE_DBUS_ERROR_NO_SUCH_PROCESS "org.lineaged.Lineage1.Error.NoSuchProcess"
#define LINEAGE_DBUS_ERROR_PERMISSION_DENIED "org.lineaged.Lineage1.Error.PermissionDenied"
#define LINEAGE_DBUS_ERROR_DATABASE "org.lineaged.Lineage1.Error.DatabaseError"
#define LINEAGE_DBUS_ERROR_TOO_MANY_WATCHERS "org.lineaged.Lineage1.Error.TooManyWatchers"
#define LINEAGE_DBUS_ERROR_TOO_SLOW "org.lineaged.Lineage1.Error.TooSlow"

/* Watch subscriptions one bus connection (unique name) may hold at once. */
#define LINEAGE_DBUS_WATCHES_PER_CALLER 16U
/* Calls waiting for the bus to tell who sent them. */
#define LINEAGE_DBUS_PENDING_CALLS_MAX 1024U
/* Event type names accepted in one Watch call. */
#define LINEAGE_DBUS_WATCH_TYPES_MAX 32U
/* Replies are refused (LimitsExceeded) above this estimated size: the system bus allows 32 MiB and
 * disconnects a sender that exceeds it, which would end the service for everybody. */
#define LINEAGE_DBUS_REPLY_SIZE_MAX (16U * 1024U * 1024U)
/* GetDescendants stops adding descendants (truncated: true) before its JSON text passes this. The size
 * estimate of the D-Bus form (with alignment and signatures) is up to about 3.5 times the JSON text, so
 * this stays under LINEAGE_DBUS_REPLY_SIZE_MAX, which remains the backstop (LimitsExceeded). About 8 000
 * descendants with typical command lines. */
#define LINEAGE_DBUS_DESCENDANTS_TEXT_MAX (4U * 1024U * 1024U)

/* Connects to bus ("system", "session", "none" or a D-Bus address such as "unix:path=/run/x"), takes
 * the name org.lineaged.Lineage1 and serves /org/lineaged/Lineage1 on the event loop e. "none", an
 * unreachable bus or a name that cannot be taken are not errors: a warning is logged and *ret is set
 * to NULL, so the daemon keeps serving varlink. Returns < 0 only on allocation failures. q must
 * outlive the returned object. */
int lineage_dbus_new(LineageDbus **ret, sd_event *e, Query *q, const char *bus);
LineageDbus *lineage_dbus_free(LineageDbus *d);

DEFINE_TRIVIAL_CLEANUP_FUNC(LineageDbus *, lineage_dbus_free);

/* Appends a json object as one a{sv} to m: objects become a{sv}, arrays of objects aa{sv}, of strings
 * as, of integers ax, of booleans ab, of doubles ad (empty or mixed arrays: the known varlink field's
 * type, else av), integers x, booleans b, doubles d, strings s (invalid UTF-8 and NUL bytes replaced by
 * U+FFFD), null members are left out. Returns -E2BIG when the estimated encoding exceeds max_size.
 * Exposed for the tests. */
int lineage_dbus_append_json(sd_bus_message *m, json_object *obj, size_t max_size);

/* Returns a copy of the n bytes at s that is valid D-Bus UTF-8 (what sd-bus accepts in an "s"):
 * invalid sequences, NUL bytes, surrogates and non-characters are replaced by U+FFFD. */
int lineage_dbus_utf8_sanitize(const char *s, size_t n, char **ret);
