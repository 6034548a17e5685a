/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The shared LINEAGE_* field definition: order, formats, the ancestry bound and no empty field. */
#include "lineage/fields.h"
#include "tests.h"

/* The fields as one "NAME=value\n" text, as both writers would receive them. */
static char out[4096];

static void collect(const char *name, const char *value, void *userdata) {
        size_t o = strlen(out);

        (void) userdata;
        ASSERT_TRUE(value && value[0]);
        snprintf(out + o, sizeof(out) - o, "%s=%s\n", name, value);
}

static const char *fields(const LineageFieldValues *v) {
        out[0] = 0;
        lineage_fields_foreach(v, collect, NULL);
        return out;
}

static void test_no_login(void) {
        /* Outside a login: no LINEAGE_LOGIN_* at all, and no empty ancestry. */
        ASSERT_STREQ(fields(&(LineageFieldValues) { .instance = 7 }), "LINEAGE_INSTANCE=7\n");
        ASSERT_STREQ(fields(&(LineageFieldValues) { .instance = 7, .ancestry = "" }), "LINEAGE_INSTANCE=7\n");
}

static void test_login(void) {
        LineageFieldLogin l = {
                .user = "alice", .uid = 1000, .service = "sshd", .remote_address = "2001:db8::1",
                .remote_port = 40404, .session = 12, .tty = "pts/0",
        };

        ASSERT_STREQ(fields(&(LineageFieldValues) { .instance = 9, .ancestry = "sshd[1] > bash[2]", .login = &l }),
                     "LINEAGE_INSTANCE=9\nLINEAGE_ANCESTRY=sshd[1] > bash[2]\nLINEAGE_LOGIN_USER=alice\n"
                     "LINEAGE_LOGIN_UID=1000\nLINEAGE_LOGIN_SERVICE=sshd\nLINEAGE_LOGIN_REMOTE=[2001:db8::1]:40404\n"
                     "LINEAGE_LOGIN_SESSION=12\nLINEAGE_LOGIN_TTY=pts/0\nLINEAGE_LOGIN_SELF_DECLARED=0\n");
        /* Unknown parts are left out; a user without a name is its uid. */
        l = (LineageFieldLogin) { .user = "", .uid = 65534, .service = "", .remote_address = "192.0.2.1",
                                  .session = -1, .tty = "", .self_declared = true };
        ASSERT_STREQ(fields(&(LineageFieldValues) { .instance = 9, .login = &l }),
                     "LINEAGE_INSTANCE=9\nLINEAGE_LOGIN_USER=65534\nLINEAGE_LOGIN_UID=65534\n"
                     "LINEAGE_LOGIN_REMOTE=192.0.2.1\nLINEAGE_LOGIN_SELF_DECLARED=1\n");
        l.remote_port = 22;
        l.uid = -1;
        l.user = NULL;
        ASSERT_STREQ(fields(&(LineageFieldValues) { .instance = 9, .login = &l }),
                     "LINEAGE_INSTANCE=9\nLINEAGE_LOGIN_REMOTE=192.0.2.1:22\nLINEAGE_LOGIN_SELF_DECLARED=1\n");
}

static void test_ancestry(void) {
        LineageAncestor chain[10];
        char buf[LINEAGE_ANCESTRY_SIZE];

        for (int k = 0; k < 10; k++)
                chain[k] = (LineageAncestor) { .pid = 100 + k, .comm = k == 1 ? "" : "p" };
        /* The process first in the chain, last in the text. */
        lineage_ancestry_format(chain, 3, buf, sizeof(buf));
        ASSERT_STREQ(buf, "p[102] > ?[101] > p[100]");
        /* Never more than LINEAGE_ANCESTRY_MAX, the nearest ones. */
        lineage_ancestry_format(chain, 10, buf, sizeof(buf));
        ASSERT_STREQ(buf, "p[107] > p[106] > p[105] > p[104] > p[103] > p[102] > ?[101] > p[100]");
        lineage_ancestry_format(chain, 0, buf, sizeof(buf));
        ASSERT_STREQ(buf, "");
        /* A short buffer is cut, still terminated. */
        lineage_ancestry_format(chain, 3, buf, 8);
        ASSERT_STREQ(buf, "p[102] ");
}

int main(void) {
        test_no_login();
        test_login();
        test_ancestry();
        printf("fields: all checks passed\n");
        return 0;
}
