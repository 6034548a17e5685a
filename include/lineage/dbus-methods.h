/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The in-arguments of every method of org.lineaged.Lineage1, one table for lineaged (which reads them)
 * and lineagectl (which writes them); schema/org.lineaged.Lineage1.xml says the same, and
 * integration-dbus compares the daemon's introspection with it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define LINEAGE_DBUS_PARAMS_MAX 11U

typedef struct LineageDbusMethod {
        const char *name;
        /* D-Bus types in order, named by params like the varlink parameters they become. "as" is an
         * array of strings; "Q" stands for ResolveBatch's a(suxx) queries. A zero number, false, "" and
         * an empty array mean "not given", except loginUid and uid, where -1 does (0 is root). A pid is
         * "u", as logind takes it; "o" an object path. */
        const char *signature;
        const char *params[LINEAGE_DBUS_PARAMS_MAX];
        bool watch;                     /* the reply is a subscription, not an a{sv} */
} LineageDbusMethod;

/* One ResolveBatch query, the element of "Q": bootId ("" = the current boot), pid, realtime (0 = not
 * given), monotonic (-1 = not given). */
#define LINEAGE_DBUS_QUERY_SIGNATURE "(suxx)"
/* What is not an a{sv}: Watch's out-argument (the subscription) and the Ended signal's error name. */
#define LINEAGE_DBUS_SUBSCRIPTION_SIGNATURE "o"
#define LINEAGE_DBUS_ENDED_SIGNATURE "s"

/* The method called name, NULL if there is none. */
const LineageDbusMethod *lineage_dbus_method(const char *name);

/* Is param a number for which -1, not 0, means "not given"? */
bool lineage_dbus_param_minus_one(const char *param);
