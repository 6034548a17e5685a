/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GetDescendants: a subtree straight from the database rows to the JSON text of its reply. */
#include "query-internal.h"

/* ---- GetDescendants: rows straight to JSON text ----
 *
 * A big subtree (a login with 100 000 descendants: a 50 MB answer) costs too much as a json-c tree: one
 * statement per row, argv parsed again, the tree built, serialized and freed. Instead, inside one read
 * transaction, the rows are fetched with as few statements as possible and each is rendered once, as
 * JSON text, into an arena; the answer is then the concatenation of those texts in depth-first order.
 *
 * Fetching: a recursive walk over the birth_parent index (exact, but a B-tree search per process and
 * rows in random order). When the subtree turns out to be big, the rows of the target's audit session
 * are read instead with one range scan (they are stored next to each other), each with its number of
 * children; a process with more children than the scan found had some leave the session (a nested
 * login, a damaged row): those are walked the exact way. Every descendant is either in the session or
 * below such a child, so the answer stays exact.
 *
 * Memory: rows are rendered when fetched only if they hang below the target and the arena is under the
 * reply's size (plus a quarter); others are read again when the walk emits them. The reply is sent
 * from the arena in pieces (varlink_call_reply_iov()), or copied together for json-c (D-Bus). */

#define COL_N_CHILDREN (COL_CONTAINER_ID + 1) /* DESC_SQL_SESSION only */
#define DESC_SMALL_WALK 1024U           /* rows walked the exact way before trying the session's range */
#define DESC_ROWS_MAX (DESCENDANTS_MAX * 4U) /* rows fetched at most (a cyclic, corrupt tree ends here) */

/* One fetched row: its rendering in the arena and what the walk needs. */
typedef struct DescNode {
        uint64_t id, parent;
        int64_t start, exit;            /* exit 0: alive */
        size_t off, split, end;         /* [off, end) in the arena (SIZE_MAX: not rendered); split: see
                                         * text_process() (absolute) */
        uint32_t first_child, n_children; /* a range of DescWalk.children */
        uint32_t n_children_all;        /* children in the database; UINT32_MAX: not counted */
        int32_t pid;
        bool visible, visited, reach;
} DescNode;

typedef struct DescWalk {
        Query *query;
        const QueryCaller *caller;
        Hashmap *index;                 /* id -> node index + 1 */
        DescNode *nodes;
        size_t n_nodes, n_alloc;
        uint32_t *children;
        JsonText arena;
        size_t fetched;                 /* rows read, duplicates included */
        size_t arena_max;               /* no rows rendered past this size (they are rendered when emitted) */
        uint64_t root;                  /* the target */
        bool linked;                    /* children lists are up to date */
        bool cut;                       /* DESC_ROWS_MAX reached: the answer is truncated */
} DescWalk;

static void desc_walk_done(DescWalk *w) {
        hashmap_free(w->index);
        free(w->nodes);
        free(w->children);
        json_text_done(&w->arena);
        w->index = NULL;
        w->nodes = NULL;
        w->children = NULL;
        w->n_nodes = w->n_alloc = 0;
}

static int desc_walk_reset(DescWalk *w) {
        desc_walk_done(w);
        w->fetched = 0;
        w->cut = w->linked = false;
        return hashmap_new(&w->index);
}

static DescNode *desc_node(DescWalk *w, uint64_t id);

/* Adds st's current row (once per id). */
static int desc_add_row(DescWalk *w, sqlite3_stmt *st) {
        DescNode *n, *p;
        size_t split;
        bool reach;
        Row r;
        int k;

        /* row_from_stmt() without the lineage source, which only access checks of targets need. */
        r = (Row) {
                .id = (uint64_t) sqlite3_column_int64(st, COL_ID),
                .pid = sqlite3_column_int(st, COL_PID),
                .start = sqlite3_column_int64(st, COL_START),
                .exit = sqlite3_column_type(st, COL_EXIT) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, COL_EXIT),
                .birth_parent = (uint64_t) sqlite3_column_int64(st, COL_BIRTH_PARENT),
                .uid = (uint32_t) sqlite3_column_int64(st, COL_UID),
                .login_uid = sqlite3_column_type(st, COL_LOGIN_UID) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, COL_LOGIN_UID),
                .image_uid = column_id(st, COL_IMAGE_UID),
                .image_login_uid = column_id(st, COL_IMAGE_LOGIN_UID),
        };
        if (hashmap_get(w->index, r.id))
                return 0;
        /* Rows mostly come parents first (ids grow with time): render only what hangs below the target. */
        p = r.birth_parent > 0 ? desc_node(w, r.birth_parent) : NULL;
        reach = r.id == w->root || (p && p->reach);
        if (w->n_nodes == w->n_alloc) {
                size_t a = MAX(w->n_alloc * 2, (size_t) 256);
                DescNode *grown = reallocarray(w->nodes, a, sizeof(DescNode));

                if (!grown)
                        return -ENOMEM;
                w->nodes = grown;
                w->n_alloc = a;
        }
        k = hashmap_put(w->index, r.id, (void *) (uintptr_t) (w->n_nodes + 1));
        if (k < 0)
                return k;
        w->linked = false;
        n = &w->nodes[w->n_nodes++];
        *n = (DescNode) {
                .id = r.id, .parent = r.birth_parent, .start = r.start, .exit = r.exit, .pid = r.pid,
                .visible = caller_may_see(w->caller, &r), .off = w->arena.len, .reach = reach,
                .n_children_all = sqlite3_column_count(st) > COL_N_CHILDREN
                                          ? (uint32_t) MIN(sqlite3_column_int64(st, COL_N_CHILDREN), (int64_t) UINT32_MAX - 1)
                                          : UINT32_MAX,
        };
        if (!reach || w->arena.len > w->arena_max) {
                /* Rows not (yet) known to be below the target, or past the arena's bound: only if the
                 * walk emits them, they are read again and rendered then (desc_render_late()). */
                n->off = n->end = n->split = SIZE_MAX;
                return 0;
        }
        text_process(&w->arena, w->caller, st, &r, &split);
        n->split = split;
        n->end = w->arena.len;
        return w->arena.oom ? -ENOMEM : 0;
}

/* Reads all rows of a prepared, bound statement into the walk. */
static int desc_fetch(DescWalk *w, sqlite3_stmt *st) {
        int rc, r;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (++w->fetched > DESC_ROWS_MAX) {
                        w->cut = true;
                        return 0;
                }
                r = desc_add_row(w, st);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : -EIO;
}

/* The exact walk below root, at most max rows (root included); 1 if it stopped at max. */
static int desc_walk_below(DescWalk *w, uint64_t root, size_t max) {
        sqlite3_stmt *st = w->query->desc_sql[DESC_SQL_WALK];
        size_t before = w->fetched;
        int r;

        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (int64_t) root);
        sqlite3_bind_int64(st, 2, (int64_t) max);
        r = desc_fetch(w, st);
        sqlite3_reset(st);
        if (r < 0)
                return r;
        return w->fetched - before >= max;
}

/* The big case: the session's rows in one range scan. */
static int desc_fetch_session(DescWalk *w, uint64_t boot, int64_t session) {
        sqlite3_stmt *st = w->query->desc_sql[DESC_SQL_SESSION];
        int r;

        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (int64_t) boot);
        sqlite3_bind_int64(st, 2, session);
        r = desc_fetch(w, st);
        sqlite3_reset(st);
        return r;
}

/* Children of a session's process that are not in the session (a nested login, a damaged row): each
 * is walked the exact way. Returns 1 if any was added (the children lists must be linked again). */
static int desc_fetch_leavers(DescWalk *w) {
        sqlite3_stmt *st = w->query->desc_sql[DESC_SQL_CHILD_IDS];
        _cleanup_free_ uint64_t *leavers = NULL;
        size_t n_leavers = 0, a_leavers = 0;
        int rc, r;

        for (size_t k = 0; k < w->n_nodes; k++) {
                if (w->nodes[k].n_children_all == UINT32_MAX || w->nodes[k].n_children_all <= w->nodes[k].n_children)
                        continue;
                sqlite3_reset(st);
                sqlite3_bind_int64(st, 1, (int64_t) w->nodes[k].id);
                while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                        uint64_t id = (uint64_t) sqlite3_column_int64(st, 0);

                        if (hashmap_get(w->index, id))
                                continue;
                        if (n_leavers == a_leavers) {
                                size_t a = MAX(a_leavers * 2, (size_t) 16);
                                uint64_t *p = reallocarray(leavers, a, sizeof(uint64_t));

                                if (!p) {
                                        sqlite3_reset(st);
                                        return -ENOMEM;
                                }
                                leavers = p;
                                a_leavers = a;
                        }
                        leavers[n_leavers++] = id;
                }
                sqlite3_reset(st);
                if (rc != SQLITE_DONE)
                        return -EIO;
        }
        for (size_t k = 0; k < n_leavers && !w->cut; k++) {
                if (hashmap_get(w->index, leavers[k]))
                        continue; /* below an earlier one */
                r = desc_walk_below(w, leavers[k], DESC_ROWS_MAX + 1 - MIN(w->fetched, (size_t) DESC_ROWS_MAX));
                if (r < 0)
                        return r;
        }
        return n_leavers > 0;
}

static DescNode *desc_node(DescWalk *w, uint64_t id) {
        uintptr_t k = (uintptr_t) hashmap_get(w->index, id);

        return k > 0 ? &w->nodes[k - 1] : NULL;
}

static int desc_child_cmp(const void *a, const void *b, void *userdata) {
        const DescNode *nodes = userdata, *x = &nodes[*(const uint32_t *) a], *y = &nodes[*(const uint32_t *) b];

        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        return x->id < y->id ? -1 : x->id > y->id;
}

/* Children lists, each in birth order (start time, then id), as one array of ranges. */
static int desc_link(DescWalk *w) {
        _cleanup_free_ uint32_t *parent_of = NULL;
        _cleanup_free_ uint32_t *fill = NULL;

        free(w->children);
        for (size_t k = 0; k < w->n_nodes; k++)
                w->nodes[k].n_children = 0;
        w->children = malloc(sizeof(uint32_t) * MAX(w->n_nodes, (size_t) 1));
        parent_of = malloc(sizeof(uint32_t) * MAX(w->n_nodes, (size_t) 1));
        fill = calloc(MAX(w->n_nodes, (size_t) 1), sizeof(uint32_t));
        if (!w->children || !parent_of || !fill)
                return -ENOMEM;
        for (size_t k = 0; k < w->n_nodes; k++) {
                DescNode *p = w->nodes[k].parent > 0 ? desc_node(w, w->nodes[k].parent) : NULL;

                parent_of[k] = p ? (uint32_t) (p - w->nodes) : UINT32_MAX;
                if (p)
                        p->n_children++;
        }
        for (size_t k = 0, off = 0; k < w->n_nodes; k++) {
                w->nodes[k].first_child = (uint32_t) off;
                off += w->nodes[k].n_children;
        }
        for (size_t k = 0; k < w->n_nodes; k++)
                if (parent_of[k] != UINT32_MAX) {
                        DescNode *p = &w->nodes[parent_of[k]];

                        w->children[p->first_child + fill[parent_of[k]]++] = (uint32_t) k;
                }
        /* Rows mostly come in id order, which is mostly birth order: sort only what is not sorted yet. */
        for (size_t k = 0; k < w->n_nodes; k++) {
                uint32_t *c = w->children + w->nodes[k].first_child;
                size_t n = w->nodes[k].n_children;

                for (size_t i = 1; i < n; i++)
                        if (desc_child_cmp(&c[i - 1], &c[i], w->nodes) > 0) {
                                qsort_r(c, n, sizeof(uint32_t), desc_child_cmp, w->nodes);
                                break;
                        }
        }
        w->linked = true;
        return 0;
}

/* Fetches the target's subtree (and maybe more) into w. */
static int desc_collect(Query *q, DescWalk *w, const Row *t) {
        bool have_session = false;
        int64_t session = 0;
        sqlite3_stmt *st;
        int r;

        r = desc_walk_reset(w);
        if (r < 0)
                return r;
        r = desc_walk_below(w, t->id, DESC_SMALL_WALK);
        if (r <= 0)
                return r; /* all of it */

        /* Big: the target's audit session in one range scan, if it has one. */
        st = stmt(q, SQL_BY_ID);
        sqlite3_bind_int64(st, 1, (int64_t) t->id);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, COL_AUDIT_SESSION) != SQLITE_NULL) {
                have_session = true;
                session = sqlite3_column_int64(st, COL_AUDIT_SESSION);
        }
        sqlite3_reset(st);
        if (have_session) {
                /* Not when the session is far bigger than anything we answer: its scan would be cut. */
                st = w->query->desc_sql[DESC_SQL_SESSION_SIZE];
                sqlite3_reset(st);
                sqlite3_bind_int64(st, 1, (int64_t) t->boot);
                sqlite3_bind_int64(st, 2, session);
                if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) >= (int64_t) DESC_ROWS_MAX)
                        have_session = false;
                sqlite3_reset(st);
        }
        r = desc_walk_reset(w);
        if (r < 0)
                return r;
        if (have_session) {
                r = desc_fetch_session(w, t->boot, session);
                if (r < 0)
                        return r;
                if (desc_node(w, t->id)) {
                        r = desc_link(w);
                        if (r < 0)
                                return r;
                        r = desc_fetch_leavers(w);
                        return MIN(r, 0);
                }
        }
        r = desc_walk_below(w, t->id, DESC_ROWS_MAX + 1 - MIN(w->fetched, (size_t) DESC_ROWS_MAX));
        return MIN(r, 0);
}

/* Renders a row that was fetched but not rendered, now that the walk emits it: 1, or 0 if it is gone. */
static int desc_render_late(DescWalk *w, DescNode *n) {
        sqlite3_stmt *st = stmt(w->query, SQL_BY_ID);
        size_t split;
        Row r;
        int rc;

        sqlite3_bind_int64(st, 1, (int64_t) n->id);
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
                sqlite3_reset(st);
                return rc == SQLITE_DONE ? 0 : -EIO;
        }
        row_from_stmt(st, &r);
        n->off = w->arena.len;
        text_process(&w->arena, w->caller, st, &r, &split);
        n->split = split;
        n->end = w->arena.len;
        sqlite3_reset(st);
        return w->arena.oom ? -ENOMEM : 1;
}

typedef struct DescFrame {
        uint32_t node, next;            /* next: the next child of node to visit */
        uint32_t depth;
        int32_t shown;                  /* index in descendants of the nearest listed ancestor-or-self, -1: root */
} DescFrame;

/* The reply as pieces of the arena, in order. */
typedef struct DescPieces {
        struct DescPiece {
                size_t off, len;
        } *p;
        size_t n, alloc, size;
} DescPieces;

static void desc_pieces_done(DescPieces *d) {
        free(d->p);
        *d = (DescPieces) {};
}

static int desc_piece(DescPieces *d, size_t off, size_t len) {
        if (len == 0)
                return 0;
        if (d->n > 0 && d->p[d->n - 1].off + d->p[d->n - 1].len == off) {
                d->p[d->n - 1].len += len; /* adjacent in the arena: one piece */
                d->size += len;
                return 0;
        }
        if (d->n == d->alloc) {
                size_t a = MAX(d->alloc * 2, (size_t) 64);
                struct DescPiece *p = reallocarray(d->p, a, sizeof(struct DescPiece));

                if (!p)
                        return -ENOMEM;
                d->p = p;
                d->alloc = a;
        }
        d->p[d->n++] = (struct DescPiece) { off, len };
        d->size += len;
        return 0;
}

/* Appends text to the arena and makes it the next piece. */
static int desc_piece_text(DescWalk *w, DescPieces *d, const char *s, size_t n) {
        size_t off = w->arena.len;
        int r;

        r = json_text_append(&w->arena, s, n);
        return r < 0 ? r : desc_piece(d, off, n);
}

/* A rendered row as pieces; for a live one with its current parent from /proc if lookup. */
static int desc_piece_node(DescWalk *w, DescPieces *d, const DescNode *n, bool lookup) {
        ProcInfo pi = {};
        size_t off;
        int r;

        if (n->split == SIZE_MAX || !lookup)
                return desc_piece(d, n->off, n->end - n->off);
        r = desc_piece(d, n->off, n->split - n->off);
        if (r < 0)
                return r;
        off = w->arena.len;
        if (procfs_read(w->query->source.proc_root, n->pid, PROCFS_STAT, &pi) >= 0)
                text_field_int(&w->arena, "parentPid", pi.ppid);
        proc_info_done(&pi);
        r = desc_piece(d, off, w->arena.len - off);
        if (r >= 0)
                r = desc_piece(d, n->split, n->end - n->split);
        return w->arena.oom ? -ENOMEM : r;
}

static int descendants_build(Query *q, const QueryCaller *c, json_object *params, size_t max_size, DescWalk *w,
                             DescPieces *out, QueryError *e) {
        _cleanup_(json_text_done) JsonText depths = {}, parents = {};
        _cleanup_(json_object_putp) json_object *gaps = NULL;
        _cleanup_free_ DescFrame *stack = NULL;
        sqlite3 *db = store_db(q->source.store);
        size_t n_stack = 0, a_stack = 0, n_emitted = 0, comma;
        int64_t limit = DESCENDANTS_DEFAULT, last_exit;
        bool alive_only = false, truncated = false, in_tx = false;
        unsigned live_lookups = 0;
        DescNode *root;
        Row t;
        int r;

        r = check_known_params(params, e, "pid", "instance", "at", "limit", "aliveOnly", NULL);
        if (r < 0)
                return r;
        if (param_int(params, "limit", 1, DESCENDANTS_MAX, &limit) < 0)
                return invalid_parameter(e, "limit");
        if (param_bool(params, "aliveOnly", &alive_only) < 0)
                return invalid_parameter(e, "aliveOnly");
        query_sync(q);
        r = find_target(q, c, params, true, query_boot(q), 0, &t, e);
        if (r < 0)
                return r;

        /* One read transaction for the whole walk: one snapshot, and no lock taken per statement. */
        if (sqlite3_get_autocommit(db)) {
                sqlite3_reset(q->desc_sql[DESC_SQL_BEGIN]);
                if (sqlite3_step(q->desc_sql[DESC_SQL_BEGIN]) != SQLITE_DONE)
                        return database_error(q, e);
                in_tx = true;
        }
        /* Rows beyond the reply's size are not rendered; some slack, as not all of them get emitted. */
        w->arena_max = max_size + max_size / 4;
        w->root = t.id;
        r = desc_collect(q, w, &t);
        if (in_tx) {
                sqlite3_reset(q->desc_sql[DESC_SQL_COMMIT]);
                if (sqlite3_step(q->desc_sql[DESC_SQL_COMMIT]) != SQLITE_DONE)
                        r = r < 0 ? r : -EIO;
                sqlite3_reset(q->desc_sql[DESC_SQL_COMMIT]);
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return database_error(q, e);
        root = desc_node(w, t.id);
        if (!root)
                return no_such_process(e, 0, (int64_t) t.id); /* its boot is not recorded */
        if (root->off == SIZE_MAX) {
                r = desc_render_late(w, root);
                if (r == 0)
                        return no_such_process(e, 0, (int64_t) t.id);
                if (r < 0)
                        return r == -ENOMEM ? r : database_error(q, e);
        }
        if (!w->linked) {
                r = desc_link(w);
                if (r < 0)
                        return r;
        }
        truncated = w->cut;
        last_exit = t.exit > 0 ? t.exit : (int64_t) now_us();

        /* Depth first, children in birth order, each process once. */
        r = desc_piece_text(w, out, "{\"descendants\":[", strlen("{\"descendants\":["));
        if (r < 0)
                return r;
        comma = w->arena.len;
        text_literal(&w->arena, ",");
        text_literal(&depths, "],\"depths\":[");
        text_literal(&parents, "],\"parents\":[");
        stack = malloc(sizeof(DescFrame) * 64);
        if (!stack)
                return -ENOMEM;
        a_stack = 64;
        stack[n_stack++] = (DescFrame) { (uint32_t) (root - w->nodes), 0, 0, -1 };
        root->visited = true;
        while (n_stack > 0) {
                DescFrame *f = &stack[n_stack - 1];
                DescNode *p = &w->nodes[f->node], *n;

                if (f->next >= p->n_children) {
                        n_stack--;
                        continue;
                }
                n = &w->nodes[w->children[p->first_child + f->next++]];
                if (n->visited)
                        continue; /* a cycle (corrupt rows) */
                n->visited = true;
                if (n_stack == a_stack) {
                        DescFrame *s = reallocarray(stack, a_stack * 2, sizeof(DescFrame));

                        if (!s)
                                return -ENOMEM;
                        stack = s;
                        a_stack *= 2;
                }
                stack[n_stack] = (DescFrame) { (uint32_t) (n - w->nodes), 0, stack[n_stack - 1].depth + 1,
                                               stack[n_stack - 1].shown };
                n_stack++;

                if ((alive_only && n->exit > 0) || !n->visible)
                        continue;
                if ((int64_t) n_emitted < limit && n->off == SIZE_MAX) {
                        r = desc_render_late(w, n);
                        if (r < 0)
                                return r == -ENOMEM ? r : database_error(q, e);
                        if (r == 0)
                                continue; /* gone meanwhile (retention) */
                }
                if ((int64_t) n_emitted >= limit ||
                    out->size + depths.len + parents.len + (n->end - n->off) + 48 > max_size) {
                        truncated = true;
                        break;
                }
                if (n_emitted > 0) {
                        r = desc_piece(out, comma, 1);
                        if (r < 0)
                                return r;
                        text_literal(&depths, ",");
                        text_literal(&parents, ",");
                }
                r = desc_piece_node(w, out, n, live_lookups < LIVE_PARENT_LOOKUPS_MAX);
                if (r < 0)
                        return r;
                if (n->exit == 0)
                        live_lookups++;
                json_text_int(&depths, stack[n_stack - 1].depth);
                /* With aliveOnly the exited ones between are left out: the nearest listed ancestor. */
                json_text_int(&parents, stack[n_stack - 2].shown);
                stack[n_stack - 1].shown = (int32_t) n_emitted;
                last_exit = MAX(last_exit, n->exit > 0 ? n->exit : (int64_t) now_us());
                n_emitted++;
        }
        text_literal(&parents, "],\"process\":");
        if (depths.oom || parents.oom)
                return -ENOMEM;
        r = desc_piece_text(w, out, depths.data, depths.len);
        if (r >= 0)
                r = desc_piece_text(w, out, parents.data, parents.len);
        if (r >= 0)
                r = desc_piece_node(w, out, root, true);
        if (r < 0)
                return r;
        json_text_done(&depths);
        text_field_bool(&depths, "truncated", truncated);
        gaps = gaps_json(q, t.boot, t.start, last_exit, NULL);
        if (gaps) {
                const char *g = json_object_to_json_string_ext(gaps, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

                if (!g)
                        return -ENOMEM;
                text_key(&depths, "gaps");
                (void) json_text_append(&depths, g, strlen(g));
        }
        text_literal(&depths, "}");
        if (depths.oom)
                return -ENOMEM;
        return desc_piece_text(w, out, depths.data, depths.len);
}

/* Fills the named error for failures without one, as query_call() does. */
static int desc_error(Query *q, int r, QueryError *e, QueryError *ret_error) {
        if (!e->error) {
                if (r == -ENOMEM)
                        log_oom();
                database_error(q, e);
        }
        *ret_error = *e;
        return r;
}

int query_get_descendants_iov(Query *q, const QueryCaller *c, json_object *params, size_t max_size,
                              const char *prefix, const char *suffix, char **ret_base, struct iovec **ret_iov,
                              size_t *ret_n_iov, QueryError *ret_error) {
        _cleanup_(desc_walk_done) DescWalk w = { .query = q, .caller = c };
        _cleanup_(desc_pieces_done) DescPieces d = {};
        struct iovec *iov;
        QueryError e = {};
        int r;

        size_t prefix_off;

        r = descendants_build(q, c, params, max_size, &w, &d, &e);
        if (r >= 0)
                r = desc_piece_text(&w, &d, suffix, strlen(suffix));
        /* The envelope's text goes into the arena too: pieces refer to it like to the rows. */
        prefix_off = w.arena.len;
        if (r >= 0)
                r = json_text_append(&w.arena, prefix, strlen(prefix));
        if (r < 0)
                return desc_error(q, r, &e, ret_error);
        iov = reallocarray(NULL, d.n + 1, sizeof(struct iovec));
        if (!iov)
                return desc_error(q, -ENOMEM, &e, ret_error);
        iov[0] = (struct iovec) { .iov_base = w.arena.data + prefix_off, .iov_len = strlen(prefix) };
        for (size_t k = 0; k < d.n; k++)
                iov[k + 1] = (struct iovec) { .iov_base = w.arena.data + d.p[k].off, .iov_len = d.p[k].len };
        *ret_base = TAKE_PTR(w.arena.data);
        *ret_iov = iov;
        *ret_n_iov = d.n + 1;
        return 0;
}

int query_get_descendants_text(Query *q, const QueryCaller *c, json_object *params, size_t max_size, JsonText *out,
                               QueryError *ret_error) {
        _cleanup_(desc_walk_done) DescWalk w = { .query = q, .caller = c };
        _cleanup_(desc_pieces_done) DescPieces d = {};
        QueryError e = {};
        int r;

        r = descendants_build(q, c, params, max_size, &w, &d, &e);
        if (r < 0)
                return desc_error(q, r, &e, ret_error);
        if (!json_text_reserve(out, d.size))
                return desc_error(q, -ENOMEM, &e, ret_error);
        for (size_t k = 0; k < d.n; k++)
                (void) json_text_append(out, w.arena.data + d.p[k].off, d.p[k].len);
        return 0;
}

int query_get_descendants(Query *q, const QueryCaller *c, json_object *params, size_t max_size, json_object **ret,
                          QueryError *ret_error) {
        _cleanup_(json_text_done) JsonText text = {};
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        json_object *o;
        int r;

        r = query_get_descendants_text(q, c, params, max_size, &text, ret_error);
        if (r < 0)
                return r;
        if (text.len > INT_MAX)
                return -E2BIG;
        tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, text.data, (int) text.len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success) {
                json_object_put(o);
                return log_error_errno(EIO, "GetDescendants built invalid JSON, refusing it.");
        }
        *ret = o;
        return 0;
}

int method_get_descendants(Query *q, const QueryCaller *c, json_object *params, json_object **ret, QueryError *e) {
        return query_get_descendants(q, c, params, QUERY_REPLY_SIZE_MAX, ret, e);
}
