/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl origin, ancestors, descendants, tree and caba: a process's lineage up and down. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>

#include "glyph.h"
#include "lineagectl.h"

int verb_origin(const Target *t) {
        _cleanup_json_ json_object *reply = NULL;
        json_object *ancestors;
        Widths w = {};
        int r;

        r = request_process("GetOrigin", t, true, NULL, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        print_login(jobj(reply, "login"), jstr(reply, "loginReason"));
        printf("\n%sChain, nearest first:%s\n", ANSI_HIGHLIGHT, ANSI_NORMAL);
        ancestors = jarr(reply, "ancestors");
        widths_add(&w, jobj(reply, "process"));
        for (size_t i = 0; i < jarr_len(ancestors); i++)
                widths_add(&w, json_object_array_get_idx(ancestors, i));
        /* Nearest first: each line's parent is the next one; the user shows where it changes. */
        r = print_process_line(jobj(reply, "process"), "  ", &w,
                               user_mark(jobj(reply, "process"), json_object_array_get_idx(ancestors, 0)));
        for (size_t i = 0; r >= 0 && i < jarr_len(ancestors); i++)
                r = print_process_line(json_object_array_get_idx(ancestors, i), "  ", &w,
                                       user_mark(json_object_array_get_idx(ancestors, i),
                                                 i + 1 < jarr_len(ancestors) ?
                                                 json_object_array_get_idx(ancestors, i + 1) : NULL));
        if (r < 0)
                return r;
        if (!jbool(reply, "complete"))
                printf("  %s the chain ends here: the next birth parent is not known\n", glyph(GLYPH_ELLIPSIS));
        print_gaps(reply);
        return 0;
}

/* The USER cell: the user of p, and "(from OLD)" where it differs from its parent's (the next row). */
static char *user_cell(json_object *p, json_object *parent) {
        const char *user, *from = NULL;
        int64_t uid;
        char *s;

        if (!jint(p, "uid", &uid))
                return strdup("-");
        user = user_name(uid);
        if (!user)
                return NULL;
        if (parent && user_mark(p, parent) && jint(parent, "uid", &uid))
                from = user_name(uid);
        if (!from)
                return strdup(user);
        return asprintf(&s, "%s (from %s)", user, from) < 0 ? NULL : s;
}

static int add_process_row(Table *t, json_object *p, json_object *parent) {
        char *cmd = process_command(p, arg_full ? SIZE_MAX : TABLE_COMMAND_MAX);
        int r;

        r = table_addf(t, "%" PRIi64, jint_or(p, "pid", 0));
        if (r >= 0)
                r = table_addf(t, "@%" PRIi64, jint_or(p, "instance", 0));
        if (r >= 0)
                r = table_add(t, user_cell(p, parent));
        if (r >= 0)
                r = table_add(t, process_state(p, true));
        if (r >= 0)
                r = table_add(t, strdup(TS(jint_or(p, "startTime", 0))));
        if (r >= 0)
                r = table_add(t, TAKE_PTR(cmd));
        if (r >= 0)
                r = table_add(t, strdup(jstr(p, "lineageSource") ?: "-"));
        free(cmd);
        return r;
}

int verb_ancestors(const Target *t) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_(table_done) Table table = { .n_columns = 7 };
        static const char *const header[] = { "PID", "INSTANCE", "USER", "STATE", "STARTED", "COMMAND", "SOURCE" };
        json_object *ancestors;
        int r = 0;

        r = request_process("GetAncestors", t, true, NULL, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(header); i++)
                r = table_add(&table, strdup(header[i]));
        ancestors = jarr(reply, "ancestors");
        if (r >= 0)
                r = add_process_row(&table, jobj(reply, "process"), json_object_array_get_idx(ancestors, 0));
        for (size_t i = 0; r >= 0 && i < jarr_len(ancestors); i++)
                r = add_process_row(&table, json_object_array_get_idx(ancestors, i),
                                    i + 1 < jarr_len(ancestors) ? json_object_array_get_idx(ancestors, i + 1) : NULL);
        if (r < 0)
                return log_oom();
        r = table_print(&table);
        if (r < 0)
                return r;
        if (!jbool(reply, "complete"))
                printf("%s the chain ends here: the next birth parent is not known\n", glyph(GLYPH_ELLIPSIS));
        print_gaps(reply);
        return 0;
}

/* GetDescendants with --alive/--limit; checks that depths pairs with descendants. */
static int request_descendants(const Target *t, json_object **ret) {
        _cleanup_json_ json_object *extra = json_object_new_object();
        int r;

        if (!extra)
                return log_oom();
        if (arg_limit_set && json_add(extra, "limit", json_object_new_int64((int64_t) arg_limit)) < 0)
                return log_oom();
        if (arg_alive && json_add(extra, "aliveOnly", json_object_new_boolean(true)) < 0)
                return log_oom();
        r = request_process("GetDescendants", t, true, extra, ret);
        if (r != 0)
                return r;
        if (jarr_len(jarr(*ret, "descendants")) != jarr_len(jarr(*ret, "depths"))) {
                json_object_put(*ret);
                *ret = NULL;
                return log_error_errno(EBADMSG, "Received a reply whose descendants and depths do not pair up.");
        }
        return 0;
}

/* How a depth-first list of descendants is drawn: depth[i] is the drawing depth (1 below the process),
 * left_out[i] the exited generations between entry i and the entry it is drawn under (--alive leaves them
 * out). parents[i] names that entry (-1: the process itself); without a usable parents array (an older
 * daemon) it is the nearest entry before i that is less deep, which is right when nothing is left out. */
typedef struct Layout {
        size_t *depth, *left_out;
} Layout;

static void layout_done(Layout *l) {
        free(l->depth);
        free(l->left_out);
        *l = (Layout) {};
}

static int64_t reply_depth(json_object *depths, size_t i) {
        int64_t d = json_object_get_int64(json_object_array_get_idx(depths, i));

        return d < 1 ? 1 : MIN(d, (int64_t) INT32_MAX);
}

/* The listed entry that i is drawn under, or -1; never a later entry nor one as deep (bad replies). */
static int64_t layout_parent(json_object *reply, size_t i) {
        json_object *depths = jarr(reply, "depths"), *parents = jarr(reply, "parents");
        int64_t d = reply_depth(depths, i), p;

        if (jarr_len(parents) == jarr_len(depths)) {
                p = json_object_get_int64(json_object_array_get_idx(parents, i));
                if (p >= 0 && (size_t) p < i && reply_depth(depths, (size_t) p) < d)
                        return p;
                return -1;
        }
        for (size_t j = i; j-- > 0;)
                if (reply_depth(depths, j) < d)
                        return (int64_t) j;
        return -1;
}

static int layout_new(json_object *reply, Layout *ret) {
        json_object *depths = jarr(reply, "depths");
        size_t n = jarr_len(depths);
        Layout l = {
                .depth = calloc(n + 1, sizeof(size_t)),
                .left_out = calloc(n + 1, sizeof(size_t)),
        };

        if (!l.depth || !l.left_out) {
                layout_done(&l);
                return log_oom();
        }
        for (size_t i = 0; i < n; i++) {
                int64_t p = layout_parent(reply, i);
                int64_t above = p < 0 ? 0 : reply_depth(depths, (size_t) p);

                l.depth[i] = (p < 0 ? 0 : l.depth[p]) + 1;
                l.left_out[i] = (size_t) (reply_depth(depths, i) - above - 1);
        }
        *ret = l;
        return 0;
}

/* The process entry i is drawn under: the one the reader compares its user with. */
static json_object *drawn_parent(json_object *reply, size_t i) {
        int64_t p = layout_parent(reply, i);

        return p < 0 ? jobj(reply, "process") : json_object_array_get_idx(jarr(reply, "descendants"), (size_t) p);
}

int verb_descendants(const Target *t) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_(layout_done) Layout layout = {};
        json_object *list;
        int r;

        r = request_descendants(t, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        r = layout_new(reply, &layout);
        if (r < 0)
                return r;
        r = print_process_line(jobj(reply, "process"), "", NULL, user_mark(jobj(reply, "process"), NULL));
        list = jarr(reply, "descendants");
        for (size_t i = 0; r >= 0 && i < jarr_len(list); i++) {
                char indent[2 * INDENT_DEPTH_MAX + 32];
                size_t depth = layout.depth[i];
                json_object *p = json_object_array_get_idx(list, i);

                if (depth <= INDENT_DEPTH_MAX)
                        snprintf(indent, sizeof(indent), "%*s", (int) (2 * depth), "");
                else
                        snprintf(indent, sizeof(indent), "%*s[depth %zu] ", 2 * INDENT_DEPTH_MAX, "", depth);
                r = print_process_line_left_out(p, indent, NULL, user_mark(p, drawn_parent(reply, i)),
                                                layout.left_out[i]);
        }
        if (r < 0)
                return r;
        print_truncated(reply);
        print_gaps(reply);
        return 0;
}

/* One tree entry after its box-drawing prefix: "1234 @56 (alice) sleep 10 (exited … status 0) [reparented
 * to 1]"; user as user_mark(). */
static int print_tree_entry(json_object *p, const char *user, size_t left_out) {
        _cleanup_free_ char *cmd = process_command(p, arg_full ? SIZE_MAX : LINE_COMMAND_MAX);
        int64_t parent, birth;

        if (!cmd)
                return log_oom();
        printf("%s%" PRIi64 "%s @%" PRIi64 " %s%s%s%s", ANSI_HIGHLIGHT, jint_or(p, "pid", 0), ANSI_NORMAL,
               jint_or(p, "instance", 0), user ? "(" : "", user ?: "", user ? ") " : "", cmd);
        if (!jbool(p, "alive")) {
                _cleanup_free_ char *state = process_state(p, false);

                if (!state)
                        return log_oom();
                printf(" %s(%s)%s", ANSI_GREY, state, ANSI_NORMAL);
        }
        if (jint(p, "parentPid", &parent) && jint(p, "birthParentPid", &birth) && parent != birth)
                printf(" [reparented to %" PRIi64 "]", parent);
        print_left_out(left_out);
        putchar('\n');
        return 0;
}

/* Marks each entry of a depth-first list that is the last child of its parent (one pass, backwards). */
static int tree_last_flags(const size_t *depth, size_t n, bool **ret_last) {
        _cleanup_free_ bool *last = calloc(n + 1, sizeof(bool));
        _cleanup_free_ bool *seen = calloc(n + 2, sizeof(bool));
        size_t top = 0;

        if (!last || !seen)
                return log_oom();
        for (size_t i = n; i-- > 0;) {
                size_t d = depth[i];

                last[i] = !seen[d];
                seen[d] = true;
                for (size_t k = d + 1; k <= top; k++)
                        seen[k] = false;
                top = d;
        }
        *ret_last = TAKE_PTR(last);
        return 0;
}

/* A DOT string: quotes and backslashes escaped, our line breaks as \n (control characters from the
 * daemon were escaped already by json_sanitize). */
static void dot_string(FILE *f, const char *s) {
        fputc('"', f);
        for (; *s; s++) {
                if (*s == '\n') {
                        fputs("\\n", f);
                        continue;
                }
                if (*s == '"' || *s == '\\')
                        fputc('\\', f);
                fputc(*s, f);
        }
        fputc('"', f);
}

/* One node: "comm[pid]", then the exit (dashed) and where it was reparented to, on lines of their own. */
static int print_dot_node(json_object *p) {
        _cleanup_free_ char *label = NULL;
        int64_t v, parent, birth;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&label, &size);
        if (!f)
                return log_oom();
        fprintf(f, "%s[%" PRIi64 "]", jstr(p, "comm") ?: "?", jint_or(p, "pid", 0));
        if (!jbool(p, "alive")) {
                if (jbool(p, "exitUnknown"))
                        fputs("\nexited, not observed", f);
                else if (jint(p, "exitSignal", &v))
                        fprintf(f, "\nkilled by %s", SIGNAME(v));
                else if (jint(p, "exitStatus", &v))
                        fprintf(f, "\nexited, status %" PRIi64, v);
                else
                        fputs("\nexited", f);
        }
        if (jint(p, "parentPid", &parent) && jint(p, "birthParentPid", &birth) && parent != birth)
                fprintf(f, "\nreparented to %" PRIi64, parent);
        if (fclose(f) != 0)
                return log_oom();
        printf("        i%" PRIi64 " [label=", jint_or(p, "instance", 0));
        dot_string(stdout, label);
        printf("%s];\n", jbool(p, "alive") ? "" : ", style=dashed");
        return 0;
}

/* The login as the graph's title. */
static void print_dot_title(json_object *login) {
        _cleanup_free_ char *title = NULL;
        const char *s, *addr = jstr(login, "remoteAddress");
        size_t size = 0;
        int64_t v;
        FILE *f = open_memstream(&title, &size);

        if (!f)
                return;
        fprintf(f, "login: session %" PRIi64 " of %s (uid %" PRIi64 ")", jint_or(login, "auditSession", 0),
                jstr(login, "user") ?: "unknown user", jint_or(login, "loginUid", -1));
        if ((s = jstr(login, "service")))
                fprintf(f, " via %s%s", s, claimed(login));
        if (addr && jint(login, "remotePort", &v))
                fprintf(f, strchr(addr, ':') ? " from [%s]:%" PRIi64 : " from %s:%" PRIi64, addr, v);
        else if (addr)
                fprintf(f, " from %s", addr);
        if (addr)
                fputs(claimed(login), f);
        if (self_declared(login))
                fputs(", self-declared", f);
        fprintf(f, ", started %s", TS(jint_or(login, "startTime", 0)));
        if (jint(login, "endTime", &v))
                fprintf(f, ", ended %s", TS(v));
        else if (jbool(login, "alive"))
                fputs(", still active", f);
        if (fclose(f) != 0 || !title)
                return;
        fputs("        graph [labelloc=t, label=", stdout);
        dot_string(stdout, title);
        fputs("];\n", stdout);
}

/* Graphviz: one node per process, an edge from each birth parent to its child. An edge is dotted when
 * the parent drawn is not the birth parent itself (the processes between are not in the answer). */
static int print_tree_dot(json_object *reply, json_object *login) {
        json_object *list = jarr(reply, "descendants"), *root = jobj(reply, "process");
        size_t n = jarr_len(list), depth;
        _cleanup_free_ int64_t *stack = calloc(n + 2, sizeof(int64_t));
        _cleanup_(layout_done) Layout layout = {};
        int r;

        if (!stack)
                return log_oom();
        r = layout_new(reply, &layout);
        if (r < 0)
                return r;
        puts("digraph lineage {");
        if (login)
                print_dot_title(login);
        puts("        node [shape=box, fontname=\"monospace\"];");
        r = print_dot_node(root);
        stack[0] = jint_or(root, "instance", 0);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                json_object *p = json_object_array_get_idx(list, i);
                int64_t birth;

                depth = layout.depth[i];
                stack[depth] = jint_or(p, "instance", 0);
                r = print_dot_node(p);
                if (r < 0)
                        break;
                printf("        i%" PRIi64 " -> i%" PRIi64 "%s;\n", stack[depth - 1], stack[depth],
                       jint(p, "birthParentInstance", &birth) && birth == stack[depth - 1] ? "" : " [style=dotted]");
        }
        if (r < 0)
                return r;
        puts("}");
        if (jbool(reply, "truncated"))
                log_warning("More descendants exist than --limit allowed (%" PRIu64 "); the graph is cut short.",
                            arg_limit_set ? arg_limit : (uint64_t) 10000);
        return 0;
}

/* The login that began at instance id (tree --login): its GetOrigin answer names it. */
static int request_login(int64_t id, json_object **ret) {
        _cleanup_json_ json_object *params = json_object_new_object(), *reply = NULL;
        json_object *login;
        int r;

        if (!params || json_add(params, "instance", json_object_new_int64(id)) < 0)
                return log_oom();
        r = call_method("GetOrigin", params, &reply);
        if (r < 0)
                return r;
        login = jobj(reply, "login");
        if (!login || jint_or(login, "instance", 0) != id) {
                log_error("No login began at @%" PRIi64 " (the Started: line of lineagectl origin names where one did).",
                          id);
                return -ESRCH;
        }
        *ret = json_object_get(login);
        return 0;
}

int verb_tree(const Target *t) {
        _cleanup_json_ json_object *reply = NULL, *login = NULL, *extra = NULL;
        _cleanup_(layout_done) Layout layout = {};
        _cleanup_free_ bool *last = NULL, *open_level = NULL;
        json_object *list;
        size_t n;
        int r;

        if (t->login) {
                r = request_login(t->instance, &login);
                if (r < 0)
                        return r;
                extra = json_object_new_object();
                if (!extra || json_add(extra, "login", json_object_get(login)) < 0)
                        return log_oom();
                json_extra = extra;
        }
        r = request_descendants(t, &reply);
        json_extra = NULL;
        if (r != 0)
                return r < 0 ? r : 0;
        if (login && json_sanitize(login, 0) < 0)
                return log_error_errno(EBADMSG, "Received a malformed reply from lineaged.");
        if (arg_format_dot)
                return print_tree_dot(reply, login);
        if (login) {
                print_login(login, NULL);
                putchar('\n');
        }
        list = jarr(reply, "descendants");
        n = jarr_len(list);
        r = layout_new(reply, &layout);
        if (r < 0)
                return r;
        r = tree_last_flags(layout.depth, n, &last);
        if (r < 0)
                return r;
        open_level = calloc(INDENT_DEPTH_MAX + 2, sizeof(bool));
        if (!open_level)
                return log_oom();
        r = print_tree_entry(jobj(reply, "process"), user_mark(jobj(reply, "process"), NULL), 0);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                size_t d = layout.depth[i];

                /* open_level[k]: the ancestor at depth k has siblings still to come, so draw its line. */
                for (size_t k = 1; k < d && k <= INDENT_DEPTH_MAX; k++)
                        fputs(open_level[k] ? glyph(GLYPH_TREE_VERTICAL) : "  ", stdout);
                if (d > INDENT_DEPTH_MAX)
                        printf("%s[depth %zu]", glyph(GLYPH_ELLIPSIS), d);
                fputs(last[i] ? glyph(GLYPH_TREE_RIGHT) : glyph(GLYPH_TREE_BRANCH), stdout);
                if (d <= INDENT_DEPTH_MAX)
                        open_level[d] = !last[i];
                r = print_tree_entry(json_object_array_get_idx(list, i),
                                     user_mark(json_object_array_get_idx(list, i), drawn_parent(reply, i)),
                                     layout.left_out[i]);
        }
        if (r < 0)
                return r;
        print_truncated(reply);
        print_gaps(reply);
        return 0;
}

static void print_caba_process(const char *label, json_object *p) {
        _cleanup_free_ char *cmd = process_command(p, LINE_COMMAND_MAX);
        _cleanup_free_ char *state = process_state(p, false);

        printf("%s: pid %" PRIi64 " @%" PRIi64 " %s (%s)", label, jint_or(p, "pid", 0), jint_or(p, "instance", 0),
               strna(cmd), strna(state));
}

int verb_caba(const Target *t) {
        _cleanup_json_ json_object *reply = NULL;
        json_object *caba, *kernel, *agree;
        int64_t kpid;
        int r;

        r = request_process("GetCaba", t, false, NULL, &reply);
        if (r != 0)
                return r < 0 ? r : 0;
        r = print_process_line(jobj(reply, "process"), "Process: ", NULL, NULL);
        if (r < 0)
                return r;
        caba = jobj(reply, "caba");
        if (caba)
                print_caba_process("CABA (userspace, from events)", caba);
        else
                fputs("CABA (userspace, from events): none", stdout);
        printf(", nearest edge known from: %s\n", strna(jstr(reply, "source")));
        kernel = jobj(reply, "kernelCaba");
        if (!jbool(reply, "kernelSupported"))
                puts("CABA (kernel NScaba): not available on this kernel");
        else if (kernel) {
                print_caba_process("CABA (kernel NScaba)", kernel);
                putchar('\n');
        } else if (jint(reply, "kernelCabaPid", &kpid))
                printf("CABA (kernel NScaba): pid %" PRIi64 " (not recorded)\n", kpid);
        else
                puts("CABA (kernel NScaba): none");
        agree = jget(reply, "agree");
        if (json_object_is_type(agree, json_type_boolean))
                printf("Agree: %s\n", json_object_get_boolean(agree) ? "yes" : "NO, they differ");
        else
                puts("Agree: n/a");
        return 0;
}
