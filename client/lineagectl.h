/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the files of lineagectl share: its options, the transport, the output helpers and the verbs. */
#pragma once

#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "glyph.h"
#include "time-parse.h"
#include "lineage/util.h"

#define REPLY_MAX (64U * 1024U * 1024U)            /* one reply, bytes */
#define CALL_TIMEOUT_USEC (30 * (int64_t) USEC_PER_SEC)
#define JSON_DEPTH_MAX 64
#define BUS_DEPTH_MAX 64
#define TABLE_COMMAND_MAX 64                        /* characters of a command in tables */
#define LINE_COMMAND_MAX 128                        /* characters of a command elsewhere */
#define INDENT_DEPTH_MAX 64                         /* deeper levels are drawn as a count */
#define USEC_PER_SEC_I ((int64_t) USEC_PER_SEC)

enum { JSON_OFF, JSON_SHORT, JSON_PRETTY };

/* ---- options (lineagectl.c) ------------------------------------------------------------------- */

extern const char *arg_varlink;
extern const char *arg_bus;             /* NULL: varlink */
extern const char *arg_database;        /* --database: answers from this file, without the daemon */
extern int arg_json;
extern bool arg_full;
extern bool arg_utc;                    /* --utc: print times in UTC */
extern bool arg_no_pager;
extern bool arg_no_legend;              /* no table headers, no "N listed" lines */
extern bool arg_quiet;                  /* no legend lines, hints or warnings */
extern bool arg_at_set;
extern int64_t arg_at;
extern bool arg_alive;
extern bool arg_limit_set;
extern uint64_t arg_limit;
extern bool arg_user_set;
extern int64_t arg_user;
extern bool arg_since_set, arg_until_set;
extern int64_t arg_since, arg_until;
extern json_object *arg_types;
extern const char *arg_boot;
extern const char *arg_login;           /* tree --login=INSTANCE, search --login=@INSTANCE|SESSION */
extern const char *arg_exe, *arg_comm, *arg_argv; /* search */
extern bool arg_format_dot;             /* tree --format=dot */

extern bool use_color;
extern volatile sig_atomic_t quit_requested;
extern sigset_t wait_sigmask;
extern bool wait_sigmask_set;

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
#define _cleanup_json_ _cleanup_(json_object_putp)
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

typedef struct Target {
        const char *name; /* as typed */
        int64_t pid;      /* 0 when an instance was given */
        int64_t instance; /* 0 when a pid was given */
        bool login;       /* tree --login: instance is where a login began */
} Target;

int parse_time(const char *s, int64_t *ret);

/* ---- small helpers and output (lineagectl-output.c) ------------------------------------------- */

const char *ansi(const char *seq);
#define ANSI_HIGHLIGHT ansi("\033[1m")
#define ANSI_GREY ansi("\033[38;5;245m")
#define ANSI_RED ansi("\033[1;31m")
#define ANSI_NORMAL ansi("\033[0m")

bool startswith(const char *s, const char *prefix);
json_object *jget(json_object *o, const char *key);
const char *jstr(json_object *o, const char *key);
bool jint(json_object *o, const char *key, int64_t *ret);
int64_t jint_or(json_object *o, const char *key, int64_t def);
bool jbool(json_object *o, const char *key);
json_object *jobj(json_object *o, const char *key);
json_object *jarr(json_object *o, const char *key);
size_t jarr_len(json_object *a);
int json_add(json_object *o, const char *key, json_object *v);
char *escape_controls(const char *s, bool backslash);
bool needs_escape(const char *s, bool backslash);
int json_sanitize(json_object *o, unsigned depth);

/* Local time (UTC with --utc) with microseconds and the zone, a form parse_time() takes back. */
#define TS(t) time_format((char[TIME_FORMAT_MAX]){ 0 }, TIME_FORMAT_MAX, (t), arg_utc)
/* "2h 5min ago", as systemd prints it beside a timestamp in lists. */
#define AGO(t) time_format_relative((char[TIME_FORMAT_MAX]){ 0 }, TIME_FORMAT_MAX, (t), (int64_t) now_usec(CLOCK_REALTIME))

const char *format_timespan(char *buf, size_t size, int64_t usec);
const char *format_bytes(char *buf, size_t size, int64_t bytes);
const char *signal_name(char *buf, size_t size, int64_t sig);
#define SIGNAME(s) signal_name((char[32]){ 0 }, 32, (s))

/* Widths that align the pid and instance columns of a list of processes. */
typedef struct Widths {
        int pid, instance;
} Widths;

/* A table: header row plus rows of owned cells; the last column is not padded. */
typedef struct Table {
        size_t n_columns, n_cells;
        char **cells;
} Table;

int print_json(json_object *o);
char *process_command(json_object *p, size_t max);
char *process_state(json_object *p, bool compact);
void widths_add(Widths *w, json_object *p);
const char *user_name(int64_t uid);
const char *user_mark(json_object *p, json_object *parent);
void print_left_out(size_t n);
int print_process_line_left_out(json_object *p, const char *prefix, const Widths *w, const char *user,
                                size_t left_out);
int print_process_line(json_object *p, const char *prefix, const Widths *w, const char *user);
void print_gaps(json_object *reply);
void table_done(Table *t);
int table_add(Table *t, char *cell);
int table_addf(Table *t, const char *fmt, ...) _printf_(2, 3);
int table_print(Table *t);
void print_field(int width, const char *key, const char *fmt, ...) _printf_(3, 4);
bool self_declared(json_object *login);
const char *claimed(json_object *login);
void print_login(json_object *login, const char *reason);
void print_truncated_default(json_object *reply, uint64_t limit_default);
void print_truncated(json_object *reply);
char *event_details(json_object *e, json_object *p);

/* ---- transport (lineagectl-transport.c) ------------------------------------------------------- */

typedef struct CtlVarlink {
        int fd;
        char *buf;
        size_t used, scanned, allocated;
} CtlVarlink;

/* Keys added to the next reply printed with --json (tree --login adds "login"). */
extern json_object *json_extra;

int report_error(const char *method, json_object *call, const char *name, json_object *eparams,
                 const char *message);
void ctl_varlink_done(CtlVarlink *v);
void on_quit_signal(_unused_ int sig);
int fd_wait(int fd, short events, int64_t deadline);
int ctl_varlink_connect(CtlVarlink *v, const char *path);
int ctl_varlink_send(CtlVarlink *v, const char *method, json_object *params, bool more, int64_t deadline);
int json_parse_message(const char *s, size_t len, json_object **ret);
int ctl_varlink_read_text(CtlVarlink *v, int64_t deadline, size_t *ret_len);
void ctl_varlink_drop(CtlVarlink *v, size_t len);
int ctl_varlink_read(CtlVarlink *v, int64_t deadline, json_object **ret);
int ctl_varlink_reply(const char *method, json_object *call, json_object *msg, json_object **ret,
                      bool *ret_continues);
int ctl_bus_read_value(sd_bus_message *m, unsigned depth, json_object **ret);
const char *ctl_bus_description(void);
int ctl_bus_connect(sd_bus **ret);
int ctl_bus_report_error(const char *method, json_object *params, const sd_bus_error *error, int r);
int ctl_bus_new_call(sd_bus *bus, const char *method, json_object *params, sd_bus_message **ret);
int ctl_bus_reply_to_json(sd_bus_message *reply, json_object **ret);
int call_method(const char *method, json_object *params, json_object **ret);
int target_params(const Target *t, bool with_at, json_object **ret);
int request(const char *method, json_object *params, json_object **ret);
int request_process(const char *method, const Target *t, bool with_at, json_object *extra,
                    json_object **ret);

/* ---- verbs ------------------------------------------------------------------------------------ */

/* lineagectl-origin.c */
int verb_origin(const Target *t);
int verb_ancestors(const Target *t);
int verb_descendants(const Target *t);
int verb_tree(const Target *t);
int verb_caba(const Target *t);

/* lineagectl-history.c */
int verb_history(const Target *t);
int verb_resolve(const Target *t, int64_t at);
int verb_logins(void);
int verb_search(void);
int verb_status(void);

/* lineagectl-watch.c */
int verb_watch(const Target *t);

/* lineagectl-enrich.c */
int verb_enrich(void);
