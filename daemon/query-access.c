/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who may see what: a process, its image and its events are shown by who owned them then (real uid or
 * loginuid), never by anything in the request. */
#include "query-internal.h"

/* Was a process with real uid uid and loginuid login_uid (-1: unset) the caller's? Real uid or loginuid,
 * not the effective uid: a root process half-way through setuid (runuser, su) must not hand its argv to
 * the user it is becoming. */
bool owner_is(const QueryCaller *c, int64_t uid, int64_t login_uid) {
        return c->uid == 0 || uid == (int64_t) c->uid || (login_uid >= 0 && login_uid == (int64_t) c->uid);
}

/* Is the process the caller's now? Its current facts (exit, login ids) are then theirs. */
static bool caller_sees(const QueryCaller *c, const Row *r) {
        return owner_is(c, r->uid, r->login_uid);
}

/* Was it the caller's when its image (comm, exe, argv) was taken? Each part of a process is shown by who
 * the process was then, not now: root's command line stays root's after a drop to another user. */
bool caller_sees_image(const QueryCaller *c, const Row *r) {
        if (r->image_uid < 0)
                return caller_sees(c, r);
        return owner_is(c, r->image_uid, r->image_login_uid);
}

/* May the caller name it and see it in chains unredacted in part: theirs now, or its image is theirs (a
 * process of theirs that became root's by a setuid binary shows what it ran while it was theirs). */
bool caller_may_see(const QueryCaller *c, const Row *r) {
        return caller_sees(c, r) || caller_sees_image(c, r);
}

/* Was the process the caller's at the event of st's row, whose owner (real uid, loginuid) is in columns
 * col and col + 1? Rows from before schema version 8 have none: judged by who it is now, as then. */
bool caller_sees_event(const QueryCaller *c, const Row *t, sqlite3_stmt *st, int col) {
        if (sqlite3_column_type(st, col) == SQLITE_NULL)
                return caller_sees(c, t);
        return owner_is(c, sqlite3_column_int64(st, col), column_id(st, col + 1));
}
