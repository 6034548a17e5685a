/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The --json form of an error lineaged answered: the varlink error object, whichever transport. */
#pragma once

#include <json-c/json.h>

/* Builds {"error": NAME, "parameters": {…}} as varlink carries it, from an error received over
 * varlink (name and its parameters) or over D-Bus (name and message, parameters NULL; the call's
 * parameters fill in what the message does not carry). D-Bus names are mapped to their varlink twins
 * (org.lineaged.Lineage1.Error.X -> org.lineaged.Lineage.X, InvalidArgs -> InvalidParameter,
 * AccessDenied -> PermissionDenied, UnknownMethod -> MethodNotFound), so a script sees one object.
 * Returns 0 or -ENOMEM. */
int json_error_new(const char *name, json_object *parameters, const char *message, const char *method,
                   json_object *call, json_object **ret);
