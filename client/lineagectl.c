/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl: the command-line client of lineaged, speaking varlink (default) or D-Bus. The options
 * and the verb table are here; the transport, the output and the verbs are in lineagectl-*.c. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pwd.h>
#include <signal.h>
#include <time.h>

#include "glyph.h"
#include "journal-read.h"
#include "lineagectl.h"
#include "offline.h"
#include "pager.h"
#include "time-parse.h"
#include "lineage/names.h"
#include "lineage/util.h"

#ifndef PROJECT_VERSION
#define PROJECT_VERSION "unknown"
#endif

/* Exit codes; documented in --help and docs/lineagectl.md. Verbs return -errno, main() maps:
 * -EINVAL -> usage, -ESRCH -> no such process, -EACCES -> permission, -EHOSTDOWN -> not reachable. */
enum {
        EXIT_USAGE = 2,
        EXIT_NO_SUCH_PROCESS = 3,
        EXIT_PERMISSION = 4,
        EXIT_NOT_RUNNING = 5,
};

enum {
        VERB_AT = 1 << 0,     /* takes --at */
        VERB_ALIVE = 1 << 1,  /* takes --alive */
        VERB_LIMIT = 1 << 2,  /* takes --limit */
        VERB_LOGINS = 1 << 3, /* takes --user, --since, --until */
        VERB_TYPES = 1 << 4,  /* takes --type */
        VERB_BOOT = 1 << 5,   /* takes --boot */
        VERB_TREE = 1 << 6,   /* takes --format */
        VERB_LOGIN = 1 << 7,  /* takes --login */
        VERB_SEARCH = 1 << 8, /* takes --exe, --comm, --argv */
};

const char *arg_varlink = LINEAGE_DEFAULT_VARLINK;
const char *arg_bus = NULL; /* NULL: varlink */
const char *arg_database = NULL; /* --database: answers from this file, without the daemon */
static const char *arg_journal = NULL, *arg_machine = NULL; /* --journal: "" the local one; --machine */
int arg_json = JSON_OFF;
bool arg_full = false;
bool arg_utc = false;            /* --utc: print times in UTC */
bool arg_no_pager = false;
bool arg_no_legend = false;      /* no table headers, no "N listed" lines */
bool arg_quiet = false;          /* no legend lines, hints or warnings */
bool arg_at_set = false;
int64_t arg_at = 0;
bool arg_alive = false;
bool arg_limit_set = false;
uint64_t arg_limit = 0;
bool arg_user_set = false;
int64_t arg_user = 0;
bool arg_since_set = false, arg_until_set = false;
int64_t arg_since = 0, arg_until = 0;
json_object *arg_types = NULL;
const char *arg_boot = NULL;
const char *arg_login = NULL;     /* tree --login=INSTANCE, search --login=@INSTANCE|SESSION */
const char *arg_exe = NULL, *arg_comm = NULL, *arg_argv = NULL; /* search */
bool arg_format_dot = false;      /* tree --format=dot */

bool use_color = false;
volatile sig_atomic_t quit_requested = 0;
sigset_t wait_sigmask;
bool wait_sigmask_set = false;

/* ---- parsing of command-line values ---------------------------------------------------------- */

/* TIME in systemd.time(7) syntax (see time-parse.h), relative to now. */
int parse_time(const char *s, int64_t *ret) {
        return time_parse(s, (int64_t) now_usec(CLOCK_REALTIME), ret);
}

/* "PID" or "@INSTANCE". */
static int parse_target(const char *s, Target *ret) {
        uint64_t v;

        if (safe_atou64(s[0] == '@' ? s + 1 : s, &v) < 0 || v == 0 || v > (s[0] == '@' ? INT64_MAX : INT32_MAX))
                return log_error_errno(EINVAL, "Invalid process \"%s\": expected a pid or @INSTANCE.", s);
        *ret = (Target) {
                .name = s,
                .pid = s[0] == '@' ? 0 : (int64_t) v,
                .instance = s[0] == '@' ? (int64_t) v : 0,
        };
        return 0;
}

static int parse_user(const char *s, int64_t *ret) {
        struct passwd *pw;
        uint64_t v;

        if (safe_atou64(s, &v) >= 0) {
                if (v >= UINT32_MAX)
                        return log_error_errno(EINVAL, "Invalid user id: %s", s);
                *ret = (int64_t) v;
                return 0;
        }
        errno = 0;
        pw = getpwnam(s);
        if (!pw)
                return log_error_errno(EINVAL, "Unknown user: %s", s);
        *ret = (int64_t) pw->pw_uid;
        return 0;
}

static int add_types(const char *list) {
        _cleanup_free_ char *copy = strdup(list);
        char *save = NULL;

        if (!copy)
                return log_oom();
        if (!arg_types) {
                arg_types = json_object_new_array();
                if (!arg_types)
                        return log_oom();
        }
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if ((int) lineage_event_type_from_string(t) <= 0)
                        return log_error_errno(EINVAL,
                                               "Unknown event type \"%s\" (expected fork, exec, uid, gid, sid, "
                                               "ptrace, comm, coredump, exit).", t);
                if (json_object_array_add(arg_types, json_object_new_string(t)) < 0)
                        return log_oom();
        }
        return 0;
}

/* ---- command line ---------------------------------------------------------------------------- */

static void help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Ask lineaged where processes came from.\n\n"
               "Commands:\n"
               "  origin PID              Login and birth ancestors of a process\n"
               "  ancestors PID           Birth ancestors as a table, nearest first\n"
               "  descendants PID         Everything born under a process, alive and exited\n"
               "  tree PID|--login=ID     The same, drawn as a tree (of a login's processes)\n"
               "  caba PID                Closest alive born ancestor, from events and the kernel\n"
               "  history PID             Events of one process instance\n"
               "  resolve PID TIME        Which process held PID at TIME\n"
               "  logins                  Recorded logins, newest first\n"
               "  search                  Processes by what they ran, who, when, newest first\n"
               "  status                  Counters of the daemon\n"
               "  watch [PID]             Print events as they are recorded, until interrupted\n"
               "  enrich                  Add LINEAGE_* fields to journalctl -o json lines\n"
               "                          from standard input\n"
               "  help [COMMAND]          Show this help, or what one command takes\n\n"
               "PID is a pid (its live holder, else its latest, or with --at the holder then) or\n"
               "@INSTANCE, an instance id (never reused). TIME is as in systemd.time(7):\n"
               "\"YYYY-MM-DD [HH:MM[:SS[.ffffff]]] [ZONE]\" (local time unless ZONE: UTC, Z, +HH:MM,\n"
               "Europe/Berlin...), \"HH:MM[:SS]\" (today), now, today, yesterday, tomorrow,\n"
               "@SECONDS, relative like -5min, +1h30min, \"1h ago\", \"2 days ago\", or usec since the epoch.\n\n"
               "Options:\n"
               "  -h --help               Show this help\n"
               "     --version            Show the version\n"
               "     --varlink=PATH       Talk varlink to PATH (default %s)\n"
               "     --dbus[=BUS]         Talk D-Bus: system (default), session, or an ADDRESS\n"
               "     --journal[=DIR]      Answer from lineaged's journal entries, without the\n"
               "                          daemon: the local journal, or the files in DIR\n"
               "     --machine=ID|HOSTNAME\n"
               "                          With --journal: the machine whose entries to read\n"
               "     --database=PATH      Answer from a lineage database file, without the\n"
               "                          daemon (read-only: a private copy is read)\n"
               "  -j --json[=pretty|short] Print the reply's parameters as JSON (-j: pretty on a\n"
               "                          terminal, else short)\n"
               "     --no-pager           Do not pipe the output into a pager\n"
               "     --no-legend          Do not print table headers and the \"N listed\" lines\n"
               "  -q --quiet              Do not print legends, hints and warnings\n"
               "  -l --full               Do not shorten command lines\n"
               "     --utc                Print times in UTC rather than local time\n"
               "     --at=TIME            Name the process that held PID at TIME\n"
               "                          (origin, ancestors, descendants, tree, history)\n"
               "     --alive              Only alive processes / logins (descendants, tree, logins)\n"
               "     --limit=N            At most N entries (descendants, tree, history, logins)\n"
               "     --user=USER          Logins of this user (logins), processes of this real\n"
               "                          user (search); a name or uid\n"
               "     --since=TIME         Logins active at or begun after TIME (logins),\n"
               "                          processes begun at or after TIME (search)\n"
               "     --until=TIME         Logins / processes that began at or before TIME\n"
               "                          (logins, search)\n"
               "     --boot=ID            Boot id for resolve and search --login=SESSION\n"
               "                          (default: the current boot)\n"
               "     --exe=PATTERN        search: the executable, a shell pattern; without /\n"
               "                          the file name in any directory\n"
               "     --comm=PATTERN       search: the process name, a shell pattern\n"
               "     --argv=TEXT          search: text anywhere in the command line\n"
               "     --type=TYPE[,TYPE...] Event types for watch: fork, exec, uid, gid, sid,\n"
               "                          ptrace, comm, coredump, exit\n"
               "     --login=INSTANCE     tree: the processes of the login that began there\n"
               "     --login=@INSTANCE|SESSION\n"
               "                          search: processes of that login, or audit session\n"
               "     --format=text|dot    tree: box-drawing text (default) or Graphviz dot\n\n"
               "Exit status:\n"
               "  0 success, 1 other failure, 2 bad usage, 3 no such process,\n"
               "  4 permission denied, 5 lineaged not reachable\n",
               program_invocation_short_name, LINEAGE_DEFAULT_VARLINK);
}

typedef struct Verb {
        const char *name;
        unsigned min_args, max_args; /* after the verb */
        unsigned flags;
        int (*run)(char **args, unsigned n);
        bool offline;                /* can be answered from a --database file */
} Verb;

/* `lineagectl help VERB`: what one command takes, from the lines of help() and the verb's flags. */
static const struct {
        const char *name, *usage, *text;
} verb_help[] = {
        { "origin", "origin PID", "The login and the birth ancestors of a process, nearest first." },
        { "ancestors", "ancestors PID", "The birth ancestors as a table, nearest first." },
        { "descendants", "descendants PID", "Everything born under a process, alive and exited, by depth." },
        { "tree", "tree PID|@INSTANCE|--login=INSTANCE", "The descendants drawn as a tree; with --login, the\n"
          "processes of the login that began at INSTANCE, the login as the header." },
        { "caba", "caba PID", "The closest alive born ancestor, from the events and from the kernel." },
        { "history", "history PID", "The events of one process instance: fork, exec, uid, gid, sid, ptrace,\n"
          "comm, coredump, exit." },
        { "resolve", "resolve PID TIME", "Which process held PID at TIME (in this boot, or --boot=ID)." },
        { "logins", "logins", "Recorded logins, newest first." },
        { "search", "search [--exe=PATTERN] [--comm=PATTERN] [--argv=TEXT] [--user=USER] [--login=@INSTANCE|SESSION]",
          "Processes by what they ran, who ran them, in which login and when, newest first." },
        { "status", "status", "The counters of the daemon." },
        { "watch", "watch [PID]", "Print events as they are recorded (under PID: of it and of what it starts\n"
          "later), until interrupted." },
        { "enrich", "enrich", "Read journalctl -o json lines on standard input and write them with LINEAGE_*\n"
          "fields added." },
        { "help", "help [COMMAND]", "Show the help, or what one command takes." },
};

static const struct {
        unsigned flag;
        const char *lines;
} flag_help[] = {
        { VERB_AT, "     --at=TIME            Name the process that held PID at TIME\n" },
        { VERB_ALIVE, "     --alive              Only alive processes / logins\n" },
        { VERB_LIMIT, "     --limit=N            At most N entries\n" },
        { VERB_LOGINS, "     --user=USER          Logins of this user (logins), processes of this real\n"
                       "                          user (search); a name or uid\n"
                       "     --since=TIME         Logins active at or begun after TIME (logins),\n"
                       "                          processes begun at or after TIME (search)\n"
                       "     --until=TIME         Logins / processes begun at or before TIME\n" },
        { VERB_SEARCH, "     --exe=PATTERN        The executable, a shell pattern; without / the file\n"
                       "                          name in any directory\n"
                       "     --comm=PATTERN       The process name, a shell pattern\n"
                       "     --argv=TEXT          Text anywhere in the command line\n" },
        { VERB_LOGIN, "     --login=INSTANCE     tree: the processes of the login that began there;\n"
                      "                          search: @INSTANCE, or an audit SESSION id\n" },
        { VERB_BOOT, "     --boot=ID            Boot id (default: the current boot)\n" },
        { VERB_TYPES, "     --type=TYPE[,TYPE...] Event types: fork, exec, uid, gid, sid, ptrace, comm,\n"
                      "                          coredump, exit\n" },
        { VERB_TREE, "     --format=text|dot    Box-drawing text (default) or Graphviz dot\n" },
};

static int help_verb(const char *name, unsigned flags) {
        for (size_t i = 0; i < ELEMENTSOF(verb_help); i++) {
                if (!streq(verb_help[i].name, name))
                        continue;
                printf("%s [OPTIONS...] %s\n\n%s\n", program_invocation_short_name, verb_help[i].usage,
                       verb_help[i].text);
                if (flags != 0)
                        printf("\nOptions of %s:\n", name);
                for (size_t k = 0; k < ELEMENTSOF(flag_help); k++)
                        if (flags & flag_help[k].flag)
                                fputs(flag_help[k].lines, stdout);
                printf("\nSee %s --help for the options of every command, TIME and the exit status,\n"
                       "and lineagectl(1).\n", program_invocation_short_name);
                return 0;
        }
        return log_error_errno(EINVAL, "Unknown command \"%s\"; see %s --help.", name, program_invocation_short_name);
}

static int run_target(char **args, int (*fn)(const Target *)) {
        Target t;
        int r;

        r = parse_target(args[0], &t);
        if (r < 0)
                return r;
        return fn(&t);
}

static int run_origin(char **args, _unused_ unsigned n) {
        return run_target(args, verb_origin);
}
static int run_ancestors(char **args, _unused_ unsigned n) {
        return run_target(args, verb_ancestors);
}
static int run_descendants(char **args, _unused_ unsigned n) {
        return run_target(args, verb_descendants);
}
/* --login=[@]INSTANCE of tree: the instance where the login began. */
static int parse_login_instance(const char *s, int64_t *ret) {
        uint64_t u;

        if (safe_atou64(s[0] == '@' ? s + 1 : s, &u) < 0 || u == 0 || u > INT64_MAX)
                return log_error_errno(EINVAL, "Invalid login: %s (expected the INSTANCE where it began)", s);
        *ret = (int64_t) u;
        return 0;
}

static int run_tree(char **args, unsigned n) {
        Target t = { .name = "--login", .login = true };
        int r;

        if (arg_format_dot && arg_json != JSON_OFF)
                return log_error_errno(EINVAL, "--format=dot and --json cannot be used together.");
        if (arg_login) {
                r = parse_login_instance(arg_login, &t.instance);
                if (r < 0)
                        return r;
        }
        if ((n > 0) == !!arg_login)
                return log_error_errno(EINVAL, "tree takes %s: lineagectl tree PID|@INSTANCE|--login=INSTANCE",
                                       n > 0 ? "a PID or --login, not both" : "a PID, @INSTANCE or --login=INSTANCE");
        if (n > 0) {
                r = parse_target(args[0], &t);
                if (r < 0)
                        return r;
        }
        return verb_tree(&t);
}
static int run_caba(char **args, _unused_ unsigned n) {
        return run_target(args, verb_caba);
}
static int run_history(char **args, _unused_ unsigned n) {
        return run_target(args, verb_history);
}
static int run_logins(_unused_ char **args, _unused_ unsigned n) {
        return verb_logins();
}
static int run_search(_unused_ char **args, _unused_ unsigned n) {
        return verb_search();
}
static int run_status(_unused_ char **args, _unused_ unsigned n) {
        return verb_status();
}
static int run_enrich(_unused_ char **args, _unused_ unsigned n) {
        if (arg_json != JSON_OFF)
                return log_error_errno(EINVAL, "--json does not apply to enrich: it writes journal JSON already.");
        return verb_enrich();
}

static int run_watch(char **args, unsigned n) {
        Target t;
        int r;

        if (n == 0)
                return verb_watch(NULL);
        r = parse_target(args[0], &t);
        if (r < 0)
                return r;
        return verb_watch(&t);
}

static int run_resolve(char **args, unsigned n) {
        Target t;
        int64_t at = arg_at;
        int r;

        r = parse_target(args[0], &t);
        if (r < 0)
                return r;
        if (t.pid == 0)
                return log_error_errno(EINVAL, "resolve needs a pid, not an instance: an instance names one process already.");
        if (n < 2 && !arg_at_set)
                return log_error_errno(EINVAL, "resolve needs a TIME: lineagectl resolve PID TIME");
        if (n >= 2 && parse_time(args[1], &at) < 0)
                return log_error_errno(EINVAL, "Invalid time: %s (see systemd.time(7))", args[1]);
        return verb_resolve(&t, at);
}

static int run_help(char **args, unsigned n);

static const Verb verbs[] = {
        { "origin", 1, 1, VERB_AT, run_origin, true },
        { "ancestors", 1, 1, VERB_AT, run_ancestors, true },
        { "descendants", 1, 1, VERB_AT | VERB_ALIVE | VERB_LIMIT, run_descendants, true },
        { "tree", 0, 1, VERB_AT | VERB_ALIVE | VERB_LIMIT | VERB_TREE | VERB_LOGIN, run_tree, true },
        { "caba", 1, 1, 0, run_caba, true },
        { "history", 1, 1, VERB_AT | VERB_LIMIT, run_history, true },
        { "resolve", 1, 2, VERB_AT | VERB_BOOT, run_resolve, true },
        { "logins", 0, 0, VERB_ALIVE | VERB_LIMIT | VERB_LOGINS, run_logins, true },
        { "search", 0, 0, VERB_ALIVE | VERB_LIMIT | VERB_LOGINS | VERB_LOGIN | VERB_SEARCH | VERB_BOOT, run_search, true },
        { "status", 0, 0, 0, run_status },
        { "watch", 0, 1, VERB_TYPES, run_watch },
        { "enrich", 0, 0, 0, run_enrich },
        { "help", 0, 1, 0, run_help },
};

static int run_help(char **args, unsigned n) {
        if (n == 0) {
                help();
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, args[0]))
                        return help_verb(args[0], verbs[i].flags);
        return help_verb(args[0], 0); /* unknown: says so */
}

/* getopt would read a relative TIME such as "-5min" as short options: such words are marked with
 * HIDDEN before parsing and unmarked when used. */
#define HIDDEN '\x1f'

static const char *unhide(const char *s) {
        return s && s[0] == HIDDEN ? s + 1 : s;
}

static char **hide_relative_times(int argc, char *argv[]) {
        char **copy = calloc((size_t) argc + 1, sizeof(char *));
        bool dashdash = false;

        if (!copy)
                return NULL;
        for (int i = 0; i < argc; i++) {
                dashdash = dashdash || streq(argv[i], "--");
                if (i > 0 && !dashdash && argv[i][0] == '-' && argv[i][1] >= '0' && argv[i][1] <= '9') {
                        if (asprintf(&copy[i], "%c%s", HIDDEN, argv[i]) < 0)
                                copy[i] = NULL;
                } else
                        copy[i] = strdup(argv[i]);
                if (!copy[i]) {
                        for (int k = 0; k < i; k++)
                                free(copy[k]);
                        free(copy);
                        return NULL;
                }
        }
        return copy;
}

enum {
        ARG_VERSION = 0x100,
        ARG_VARLINK,
        ARG_DBUS,
        ARG_JSON,
        ARG_AT,
        ARG_ALIVE,
        ARG_LIMIT,
        ARG_USER,
        ARG_SINCE,
        ARG_UNTIL,
        ARG_BOOT,
        ARG_TYPE,
        ARG_LOGIN,
        ARG_FORMAT,
        ARG_UTC,
        ARG_NO_PAGER,
        ARG_NO_LEGEND,
        ARG_EXE,
        ARG_COMM,
        ARG_ARGV,
        ARG_DATABASE,
        ARG_JOURNAL,
        ARG_MACHINE,
};

static int parse_option(int c, const char *value, unsigned *used_flags) {
        uint64_t u;

        switch (c) {
        case ARG_VARLINK:
                arg_varlink = value;
                return 0;
        case ARG_DBUS:
                arg_bus = value && value[0] ? value : "system";
                return 0;
        case ARG_DATABASE:
                if (!value[0])
                        return log_error_errno(EINVAL, "--database= needs the path of a lineage database.");
                arg_database = value;
                return 0;
        case ARG_JOURNAL: /* a database rebuilt from the journal's LINEAGE_* entries (journal-read.c) */
                arg_journal = value ?: "";
                return 0;
        case ARG_MACHINE:
                arg_machine = value;
                return 0;
        case 'j':
        case ARG_JSON:
                if (!value)
                        arg_json = isatty(STDOUT_FILENO) ? JSON_PRETTY : JSON_SHORT;
                else if (streq(value, "pretty") || streq(value, "short"))
                        arg_json = streq(value, "pretty") ? JSON_PRETTY : JSON_SHORT;
                else
                        return log_error_errno(EINVAL, "Invalid --json= mode: %s (expected pretty or short)", value);
                return 0;
        case 'l':
                arg_full = true;
                return 0;
        case ARG_UTC:
                arg_utc = true;
                return 0;
        case ARG_NO_PAGER:
                arg_no_pager = true;
                return 0;
        case ARG_NO_LEGEND:
                arg_no_legend = true;
                return 0;
        case 'q':
                arg_quiet = arg_no_legend = true;
                (void) log_set_max_level_from_string("err");
                return 0;
        case ARG_AT:
                *used_flags |= VERB_AT;
                arg_at_set = true;
                if (parse_time(value, &arg_at) < 0)
                        return log_error_errno(EINVAL, "Invalid time: %s (see systemd.time(7))", value);
                return 0;
        case ARG_ALIVE:
                *used_flags |= VERB_ALIVE;
                arg_alive = true;
                return 0;
        case ARG_LIMIT:
                *used_flags |= VERB_LIMIT;
                arg_limit_set = true;
                if (safe_atou64(value, &u) < 0 || u == 0 || u > UINT32_MAX)
                        return log_error_errno(EINVAL, "Invalid limit: %s", value);
                arg_limit = u;
                return 0;
        case ARG_USER:
                *used_flags |= VERB_LOGINS;
                arg_user_set = true;
                return parse_user(value, &arg_user);
        case ARG_SINCE:
        case ARG_UNTIL:
                *used_flags |= VERB_LOGINS;
                *(c == ARG_SINCE ? &arg_since_set : &arg_until_set) = true;
                if (parse_time(value, c == ARG_SINCE ? &arg_since : &arg_until) < 0)
                        return log_error_errno(EINVAL, "Invalid time: %s (see systemd.time(7))", value);
                return 0;
        case ARG_BOOT:
                *used_flags |= VERB_BOOT;
                arg_boot = value;
                return 0;
        case ARG_TYPE:
                *used_flags |= VERB_TYPES;
                return add_types(value);
        case ARG_LOGIN:
                *used_flags |= VERB_LOGIN;
                arg_login = value;
                return 0;
        case ARG_EXE:
        case ARG_COMM:
        case ARG_ARGV:
                *used_flags |= VERB_SEARCH;
                if (!value[0])
                        return log_error_errno(EINVAL, "--%s= needs a value.",
                                               c == ARG_EXE ? "exe" : c == ARG_COMM ? "comm" : "argv");
                *(c == ARG_EXE ? &arg_exe : c == ARG_COMM ? &arg_comm : &arg_argv) = value;
                return 0;
        case ARG_FORMAT:
                *used_flags |= VERB_TREE;
                if (!streq(value, "dot") && !streq(value, "text"))
                        return log_error_errno(EINVAL, "Invalid --format=: %s (expected text or dot)", value);
                arg_format_dot = streq(value, "dot");
                return 0;
        }
        return -EINVAL;
}

static const char *option_name(unsigned flags) {
        if (flags & VERB_AT)
                return "--at";
        if (flags & VERB_ALIVE)
                return "--alive";
        if (flags & VERB_LIMIT)
                return "--limit";
        if (flags & VERB_LOGINS)
                return "--user/--since/--until";
        if (flags & VERB_TYPES)
                return "--type";
        if (flags & VERB_TREE)
                return "--format";
        if (flags & VERB_LOGIN)
                return "--login";
        if (flags & VERB_SEARCH)
                return "--exe/--comm/--argv";
        return "--boot";
}

/* Returns 1 to go on with *ret_verb and the words after it, 0 to exit successfully, < 0 on bad usage. */
static int parse_argv(int argc, char *argv[], const Verb **ret_verb) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "varlink", required_argument, NULL, ARG_VARLINK },
                { "dbus", optional_argument, NULL, ARG_DBUS },
                { "json", optional_argument, NULL, ARG_JSON },
                { "full", no_argument, NULL, 'l' },
                { "utc", no_argument, NULL, ARG_UTC },
                { "no-pager", no_argument, NULL, ARG_NO_PAGER },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "quiet", no_argument, NULL, 'q' },
                { "at", required_argument, NULL, ARG_AT },
                { "alive", no_argument, NULL, ARG_ALIVE },
                { "limit", required_argument, NULL, ARG_LIMIT },
                { "user", required_argument, NULL, ARG_USER },
                { "since", required_argument, NULL, ARG_SINCE },
                { "until", required_argument, NULL, ARG_UNTIL },
                { "boot", required_argument, NULL, ARG_BOOT },
                { "type", required_argument, NULL, ARG_TYPE },
                { "login", required_argument, NULL, ARG_LOGIN },
                { "format", required_argument, NULL, ARG_FORMAT },
                { "exe", required_argument, NULL, ARG_EXE },
                { "comm", required_argument, NULL, ARG_COMM },
                { "argv", required_argument, NULL, ARG_ARGV },
                { "database", required_argument, NULL, ARG_DATABASE },
                { "journal", optional_argument, NULL, ARG_JOURNAL },
                { "machine", required_argument, NULL, ARG_MACHINE },
                {}
        };
        unsigned used_flags = 0, n;
        bool varlink_given = false;
        const Verb *verb = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "hljq", options, NULL)) >= 0) {
                if (c == 'h') {
                        help();
                        return 0;
                }
                if (c == ARG_VERSION) {
                        puts("lineagectl " PROJECT_VERSION);
                        return 0;
                }
                if (c == '?')
                        return -EINVAL;
                varlink_given = varlink_given || c == ARG_VARLINK;
                r = parse_option(c, unhide(optarg), &used_flags);
                if (r < 0)
                        return r;
        }
        if (varlink_given + !!arg_bus + !!arg_database + !!arg_journal > 1)
                return log_error_errno(EINVAL, "--varlink=, --dbus, --database= and --journal cannot be used together.");
        if (arg_machine && !arg_journal)
                return log_error_errno(EINVAL, "--machine= picks the machine of --journal entries: it needs --journal.");
        if (optind >= argc) { /* a bare lineagectl is asking what it can do */
                help();
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs) && !verb; i++)
                if (streq(verbs[i].name, argv[optind]))
                        verb = &verbs[i];
        if (!verb)
                return log_error_errno(EINVAL, "Unknown command \"%s\"; see %s --help.", argv[optind],
                                       program_invocation_short_name);
        n = (unsigned) (argc - optind - 1);
        if (n < verb->min_args || n > verb->max_args)
                return log_error_errno(EINVAL, "%s: %s arguments; see %s --help.", verb->name,
                                       n < verb->min_args ? "missing" : "too many", program_invocation_short_name);
        if (used_flags & ~verb->flags)
                return log_error_errno(EINVAL, "%s does not apply to %s; see %s --help.",
                                       option_name(used_flags & ~verb->flags), verb->name,
                                       program_invocation_short_name);
        if ((arg_database || arg_journal) && !verb->offline)
                return log_error_errno(EINVAL, "%s needs the running daemon: it cannot be answered from a database file.",
                                       verb->name);
        *ret_verb = verb;
        return 1;
}

static int exit_status(int r) {
        switch (r) {
        case 0:
                return EXIT_SUCCESS;
        case -EINVAL:
                return EXIT_USAGE;
        case -ESRCH:
                return EXIT_NO_SUCH_PROCESS;
        case -EACCES:
                return EXIT_PERMISSION;
        case -EHOSTDOWN:
                return EXIT_NOT_RUNNING;
        default:
                return EXIT_FAILURE;
        }
}

static void free_strv(char ***p) {
        if (!*p)
                return;
        for (char **s = *p; *s; s++)
                free(*s);
        free(*p);
}

int main(int argc, char *argv[]) {
        _cleanup_(free_strv) char **args = NULL;
        const Verb *verb = NULL;
        const char *term = getenv("TERM");
        char *words[2] = {}; /* no verb takes more */
        unsigned n;
        int r;

        log_setup();
        glyph_init();
        tzset();
        use_color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(term && streq(term, "dumb"));
        args = hide_relative_times(argc, argv);
        if (!args) {
                log_oom();
                return EXIT_FAILURE;
        }
        r = parse_argv(argc, args, &verb);
        if (r <= 0) {
                json_object_put(arg_types);
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;
        }
        n = (unsigned) (argc - optind - 1);
        for (unsigned i = 0; i < n && i < ELEMENTSOF(words); i++)
                words[i] = (char *) unhide(args[optind + 1 + i]);
        if (arg_journal && (r = journal_read_build(arg_journal[0] ? arg_journal : NULL, arg_machine, &arg_database)) < 0) {
                journal_read_close();
                json_object_put(arg_types);
                return r == -ENOENT ? EXIT_NO_SUCH_PROCESS : r == -EINVAL ? EXIT_USAGE : EXIT_FAILURE;
        }
        if (arg_database) {
                r = offline_open(arg_database, NULL);
                if (r < 0) {
                        offline_close();
                        journal_read_close();
                        json_object_put(arg_types);
                        return r == -EACCES ? EXIT_PERMISSION : r == -ENOENT ? EXIT_NO_SUCH_PROCESS : EXIT_FAILURE;
                }
        }
        /* A live stream and a filter are not paged; everything else is, on a terminal. */
        if (!streq(verb->name, "watch") && !streq(verb->name, "enrich"))
                (void) pager_open(arg_no_pager);
        r = verb->run(words, n);
        offline_close();
        journal_read_close();
        json_object_put(arg_types);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                log_error("Failed to write the output.");
                pager_close();
                return EXIT_FAILURE;
        }
        pager_close();
        return exit_status(r < 0 ? r : 0);
}
