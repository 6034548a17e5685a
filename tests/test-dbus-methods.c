/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one D-Bus argument table (lineage/dbus-methods.h) against schema/org.lineaged.Lineage1.xml: every
 * method's in-arguments, their names, types and order, and the signatures beside the table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lineage/dbus-methods.h"
#include "tests.h"

/* The value of attribute attr in the tag starting at tag (up to its '>'), copied into buf. */
static const char *attr(const char *tag, const char *attr, char *buf, size_t size) {
        const char *end = strchr(tag, '>'), *p;
        char key[64];
        size_t n;

        snprintf(key, sizeof(key), " %s=\"", attr);
        p = strstr(tag, key);
        if (!p || !end || p > end)
                return NULL;
        p += strlen(key);
        n = strcspn(p, "\"");
        if (n >= size)
                return NULL;
        memcpy(buf, p, n);
        buf[n] = 0;
        return buf;
}

/* A table signature as the XML writes it: "Q" is an array of LINEAGE_DBUS_QUERY_SIGNATURE. */
static void expand(const char *sig, char *out, size_t size) {
        out[0] = 0;
        for (; *sig; sig++)
                strncat(out, *sig == 'Q' ? "a" LINEAGE_DBUS_QUERY_SIGNATURE : (char[2]) { *sig, 0 },
                        size - strlen(out) - 1);
}

/* The type of the argument called name in the element that starts with open (a method's out-argument
 * or a signal's argument); "" when there is none. */
static const char *out_type(const char *xml, const char *open, const char *name) {
        static char type[64];
        const char *m = strstr(xml, open), *end = m ? strstr(m, "</") : NULL;
        char arg[64];

        for (const char *a = m ? strstr(m, "<arg ") : NULL; a && a < end; a = strstr(a + 1, "<arg "))
                if (attr(a, "name", arg, sizeof(arg)) && strcmp(arg, name) == 0 &&
                    attr(a, "type", type, sizeof(type)))
                        return type;
        return "";
}

int main(int argc, char *argv[]) {
        char *xml = NULL, name[128], type[64], arg[64], want[128], got[128];
        size_t len = 0, methods = 0;
        FILE *f;

        ASSERT_TRUE(argc == 2);
        f = fopen(argv[1], "re");
        ASSERT_TRUE(f);
        ASSERT_TRUE(getdelim(&xml, &len, 0, f) > 0);
        fclose(f);
        for (const char *m = strstr(xml, "<method "); m; m = strstr(m + 1, "<method ")) {
                const char *end = strstr(m, "</method>");
                const LineageDbusMethod *method;
                size_t k = 0;

                ASSERT_TRUE(attr(m, "name", name, sizeof(name)) && end);
                method = lineage_dbus_method(name);
                if (!method)
                        TEST_FAIL("%s is in the XML but not in the table", name);
                got[0] = 0;
                for (const char *a = strstr(m, "<arg "); a && a < end; a = strstr(a + 1, "<arg ")) {
                        if (!attr(a, "direction", arg, sizeof(arg)) || strcmp(arg, "in") != 0)
                                continue;
                        ASSERT_TRUE(attr(a, "type", type, sizeof(type)) && attr(a, "name", arg, sizeof(arg)));
                        strncat(got, type, sizeof(got) - strlen(got) - 1);
                        ASSERT_TRUE(k < LINEAGE_DBUS_PARAMS_MAX);
                        ASSERT_STREQ(method->params[k], arg);
                        k++;
                }
                expand(method->signature, want, sizeof(want));
                ASSERT_STREQ(want, got);
                methods++;
        }
        ASSERT_TRUE(methods >= 12);
        ASSERT_STREQ(out_type(xml, "<method name=\"Watch\">", "subscription"), LINEAGE_DBUS_SUBSCRIPTION_SIGNATURE);
        ASSERT_STREQ(out_type(xml, "<signal name=\"Ended\">", "error"), LINEAGE_DBUS_ENDED_SIGNATURE);
        printf("dbus-methods: %zu methods as in the XML\n", methods);
        free(xml);
        return 0;
}
