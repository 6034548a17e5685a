/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineaged: command line parsing; the work is in daemon.c. */
#include <getopt.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "daemon.h"
#include "journal-export.h"
#include "lineage/names.h"
#include "varlink.h"

/* Every varlink connection is a descriptor: a soft limit of 1024 (the usual one outside the unit) would
 * run out before the connection limit, and then nobody, root included, gets in. sd-event uses epoll, so
 * the hard limit is safe to take. */
static void raise_fd_limit(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        (void) getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur < VARLINK_MAX_CONNECTIONS + 64U)
                log_warning("The file descriptor limit (%llu) is below the varlink connection limit (%u) and what "
                            "the daemon needs besides: connections may be refused early, ignoring.",
                            (unsigned long long) rl.rlim_cur, VARLINK_MAX_CONNECTIONS);
}

static void help(void) {
        printf("lineaged — remembers where every process came from.\n\n"
               "Usage: lineaged [OPTIONS]\n\n"
               "  --database=PATH        SQLite database (default " LINEAGE_DEFAULT_DATABASE ")\n"
               "  --varlink=PATH         varlink socket (default " LINEAGE_DEFAULT_VARLINK ")\n"
               "  --dbus=system|session|none|ADDRESS\n"
               "                         D-Bus bus to serve on (default system)\n"
               "  --proc=DIR             procfs root (default " LINEAGE_DEFAULT_PROC ")\n"
               "  --record=FILE          also write the decoded event stream to FILE\n"
               "  --replay=FILE          read events from FILE instead of the kernel, then exit\n"
               "  --commit-interval=MS   commit pending rows this often (default 200); with --replay,\n"
               "                         commit at this interval of the record's event times\n"
               "  --batch-interval=MS    while events flow, drain the kernel socket this often (default 4)\n"
               "  --keep=DURATION        prune exited processes older than this (90s, 15min, 12h, 30d)\n"
               "                         — never an ancestor or login of anything kept\n"
               "  --max-size=BYTES       prune the oldest exited processes while the database uses\n"
               "                         more than this (512K, 64M, 2G)\n"
               "  --receive-buffer=BYTES kernel socket buffer for events (default 64 MiB)\n"
               "  --exec-source=bpf|procfs\n"
               "                         where an exec's executable and argv come from: the eBPF\n"
               "                         program, or /proc read after the event (default: bpf where\n"
               "                         it loads, else procfs)\n"
               "  --journal-export[=logins|execs]\n"
               "                         write journal entries with LINEAGE_* fields: logins, one\n"
               "                         per login start/end; execs (the default), those and one per\n"
               "                         exec and per ancestor that never exec'd\n"
               "  --log-level=LEVEL      err, warning, notice, info or debug (default info)\n"
               "  -h --help              show this help\n"
               "  --version              show the version\n");
}

/* "90", "90s", "15min", "12h", "30d", "2w": a duration in µs. */
static int parse_duration(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                { "s", USEC_PER_SEC }, { "min", 60 * USEC_PER_SEC }, { "h", 3600 * USEC_PER_SEC },
                { "d", 86400 * USEC_PER_SEC }, { "w", 7 * 86400 * USEC_PER_SEC }, { "", USEC_PER_SEC },
        };
        size_t n = strspn(s, "0123456789");
        uint64_t v;

        if (n == 0 || safe_atou64_n(s, n, &v) < 0)
                return -EINVAL;
        for (size_t k = 0; k < ELEMENTSOF(units); k++)
                if (streq(s + n, units[k].suffix)) {
                        if (v == 0 || v > UINT64_MAX / units[k].usec)
                                return -ERANGE;
                        *ret = v * units[k].usec;
                        return 0;
                }
        return -EINVAL;
}

/* "1048576", "512K", "64M", "2G": bytes. */
static int parse_size(const char *s, uint64_t *ret) {
        size_t n = strspn(s, "0123456789");
        uint64_t v, m = 1;

        if (n == 0 || safe_atou64_n(s, n, &v) < 0)
                return -EINVAL;
        if (streq(s + n, "K"))
                m = 1024;
        else if (streq(s + n, "M"))
                m = 1024 * 1024;
        else if (streq(s + n, "G"))
                m = 1024 * 1024 * 1024;
        else if (s[n])
                return -EINVAL;
        if (v == 0 || v > UINT64_MAX / m)
                return -ERANGE;
        *ret = v * m;
        return 0;
}

static int parse_ms(const char *s, uint64_t *ret) {
        uint64_t v;

        if (safe_atou64(s, &v) < 0 || v == 0 || v > 60000)
                return -EINVAL;
        *ret = v * USEC_PER_MSEC;
        return 0;
}

int main(int argc, char **argv) {
        enum {
                ARG_DATABASE = 0x100, ARG_VARLINK, ARG_DBUS, ARG_PROC, ARG_RECORD, ARG_REPLAY,
                ARG_COMMIT_INTERVAL, ARG_BATCH_INTERVAL, ARG_LOG_LEVEL, ARG_VERSION, ARG_JOURNAL_EXPORT, ARG_RECEIVE_BUFFER, ARG_KEEP, ARG_MAX_SIZE,
                ARG_EXEC_SOURCE,
        };
        static const struct option options[] = {
                { "database", required_argument, NULL, ARG_DATABASE },
                { "varlink", required_argument, NULL, ARG_VARLINK },
                { "dbus", required_argument, NULL, ARG_DBUS },
                { "proc", required_argument, NULL, ARG_PROC },
                { "record", required_argument, NULL, ARG_RECORD },
                { "replay", required_argument, NULL, ARG_REPLAY },
                { "commit-interval", required_argument, NULL, ARG_COMMIT_INTERVAL },
                { "batch-interval", required_argument, NULL, ARG_BATCH_INTERVAL },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "journal-export", optional_argument, NULL, ARG_JOURNAL_EXPORT },
                { "receive-buffer", required_argument, NULL, ARG_RECEIVE_BUFFER },
                { "keep", required_argument, NULL, ARG_KEEP },
                { "max-size", required_argument, NULL, ARG_MAX_SIZE },
                { "exec-source", required_argument, NULL, ARG_EXEC_SOURCE },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        DaemonConfig config = {
                .database = LINEAGE_DEFAULT_DATABASE,
                .varlink = LINEAGE_DEFAULT_VARLINK,
                .dbus = "system",
                .proc = LINEAGE_DEFAULT_PROC,
        };
        _cleanup_(daemon_freep) Daemon *d = NULL;
        int c, r;

        log_setup();
        /* What lineaged writes (the database, its WAL and shared memory, directories, the lock, a
         * record) is every user's command lines: private whatever umask it was started with. */
        (void) umask(0077);
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_DATABASE:
                        config.database = optarg;
                        break;
                case ARG_VARLINK:
                        config.varlink = optarg;
                        break;
                case ARG_DBUS:
                        config.dbus = optarg;
                        break;
                case ARG_PROC:
                        config.proc = optarg;
                        break;
                case ARG_RECORD:
                        config.record = optarg;
                        break;
                case ARG_REPLAY:
                        config.replay = optarg;
                        break;
                case ARG_COMMIT_INTERVAL:
                        if (parse_ms(optarg, &config.commit_interval_usec) < 0) {
                                log_error("Invalid --commit-interval=%s: milliseconds from 1 to 60000 expected.", optarg);
                                return 2;
                        }
                        break;
                case ARG_BATCH_INTERVAL:
                        if (parse_ms(optarg, &config.batch_interval_usec) < 0) {
                                log_error("Invalid --batch-interval=%s: milliseconds from 1 to 60000 expected.", optarg);
                                return 2;
                        }
                        break;
                case ARG_KEEP:
                        if (parse_duration(optarg, &config.keep_usec) < 0) {
                                log_error("Invalid --keep=%s: a duration like 90s, 15min, 12h, 30d expected.", optarg);
                                return 2;
                        }
                        break;
                case ARG_MAX_SIZE:
                        if (parse_size(optarg, &config.max_size) < 0) {
                                log_error("Invalid --max-size=%s: bytes, or with K, M, G expected.", optarg);
                                return 2;
                        }
                        break;
                case ARG_RECEIVE_BUFFER: {
                        uint64_t v;

                        if (safe_atou64(optarg, &v) < 0 || v < 4096 || v > (1U << 30)) {
                                log_error("Invalid --receive-buffer=%s: bytes from 4096 to 1 GiB expected.", optarg);
                                return 2;
                        }
                        config.receive_buffer = (int) v;
                        break;
                }
                case ARG_EXEC_SOURCE:
                        config.exec_source = optarg;
                        if ((int) lineage_exec_source_from_string(optarg) < 0) {
                                log_error("Invalid --exec-source=%s: bpf or procfs expected.", optarg);
                                return 2;
                        }
                        break;
                case ARG_JOURNAL_EXPORT:
                        config.journal_export = optarg ? journal_export_mode_from_string(optarg) : JOURNAL_EXPORT_EXECS;
                        if (config.journal_export < 0) {
                                log_error("Invalid --journal-export=%s: logins or execs expected.", optarg);
                                return 2;
                        }
                        break;
                case ARG_LOG_LEVEL:
                        if (log_set_max_level_from_string(optarg) < 0) {
                                log_error("Invalid --log-level=%s.", optarg);
                                return 2;
                        }
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("lineaged %s\n", PROJECT_VERSION);
                        return 0;
                default:
                        return 2;
                }
        if (optind < argc) {
                log_error("Unexpected argument: %s", argv[optind]);
                return 2;
        }
        if (config.record && config.replay) {
                log_error("--record and --replay cannot be combined.");
                return 2;
        }

        raise_fd_limit();
        /* Output buffers of slow clients come and go by the megabyte: a fixed threshold keeps them mapped
         * on their own and given back when freed, where glibc's sliding one would move them into the heap
         * and leave holes that count against the output budgets' purpose. */
        (void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        r = daemon_new(&d, &config);
        if (r < 0)
                return 1;
        r = config.replay ? daemon_replay(d) : daemon_run(d);
        return r < 0 ? 1 : 0;
}
