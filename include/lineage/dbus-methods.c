/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The table of dbus-methods.h. */
#include <string.h>

#include "lineage/dbus-methods.h"

static const LineageDbusMethod methods[] = {
        { "GetOrigin", "utx", { "pid", "instance", "at" } },
        { "GetAncestors", "utx", { "pid", "instance", "at" } },
        { "GetDescendants", "utxub", { "pid", "instance", "at", "limit", "aliveOnly" } },
        { "GetCaba", "ut", { "pid", "instance" } },
        { "GetHistory", "utxu", { "pid", "instance", "at", "limit" } },
        { "Resolve", "uxs", { "pid", "at", "bootId" } },
        { "ResolveBatch", "Q", { "queries" } },
        { "ListLogins", "xxxbu", { "loginUid", "since", "until", "aliveOnly", "limit" } },
        { "Search", "sssxtusxxbu", { "exe", "comm", "argv", "uid", "loginInstance", "auditSession", "bootId",
                                     "since", "until", "aliveOnly", "limit" } },
        { "GetStatus", "", {} },
        { "Watch", "utas", { "pid", "instance", "types" }, .watch = true },
        { "Unwatch", "o", { "subscription" } }, /* answered by lineaged itself, not a query */
};

const LineageDbusMethod *lineage_dbus_method(const char *name) {
        for (size_t i = 0; name && i < sizeof(methods) / sizeof(methods[0]); i++)
                if (strcmp(methods[i].name, name) == 0)
                        return &methods[i];
        return NULL;
}

bool lineage_dbus_param_minus_one(const char *param) {
        return strcmp(param, "loginUid") == 0 || strcmp(param, "uid") == 0;
}
