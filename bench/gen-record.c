/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gen-record: writes a synthetic --record file shaped like a busy multi-user machine, for replay
 * benchmarks (lineaged --replay=FILE).
 *
 *   gen-record -o FILE [-n INSTANCES] [-p PID_MAX] [-c CONCURRENT] [-s SEED] [-L SUBTREE] [-P POOL]
 *   gen-record -o FILE --flat N [--exit] [-p PID_MAX]
 *
 * Default mode: pid 1 (found by a scan), daemons it forks (sshd, cron, services), then sessions until
 * INSTANCES processes were created, CONCURRENT of them in progress at any time with their events
 * interleaved: ssh logins (sshd [priv] -> sshd user@pts -> bash -> commands), cron jobs (also logins),
 * service runs without a login. Commands are simple ones, pipelines, git with a pager, builds
 * (make -> sh -> gcc -> cc1/as/collect2 -> ld), subshells, scripts with children, and background
 * processes (sleep &, double-forking daemons) that outlive their session; POOL of those live at most.
 * Every process forks, execs (followed by the facts an exec makes the daemon read: RECORD_INFO) and
 * exits; pids are allocated like the kernel's (cyclic from 300, reused after wrapping at PID_MAX).
 * -L N adds one ssh login with N descendants (printed as "subtree-login pid=P start_ticks=T").
 *
 * --flat N: pid 1 forks a shell that forks N `sleep infinity` processes which stay alive (with --exit
 * each exits right after its exec: the same rows, nothing alive at the end).
 *
 * Prints "records=R events=E instances=I alive=A logins=L" to stdout. */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnproc.h"
#include "procfs.h"
#include "record.h"

/* The file format is part of the benchmark's meaning: pin the layouts it was written against. */
_Static_assert(sizeof(CnprocEvent) == 48, "CnprocEvent layout changed");
_Static_assert(sizeof(RecordClock) == 64, "RecordClock layout changed");
_Static_assert(RECORD_LOGIN_SIZE_V1 == 336 && sizeof(RecordLogin) == 340, "RecordLogin layout changed");

#define CLOCK_TICKS 100ULL
#define NS_PER_TICK (1000000000ULL / CLOCK_TICKS)
#define REALTIME_OFFSET_NS 1700000000000000000LL /* Nov 2023 */
#define RESERVED_PIDS 300
#define SIGCHLD_NR 17

typedef struct Prog {
        const char *exe;
        const char *argv; /* space-separated; turned into NUL-separated */
} Prog;

enum {
        P_SSHD_LISTEN, P_SSHD_PRIV, P_BASH, P_CRON, P_SH_C, P_SERVICE, P_LS, P_CAT, P_GREP, P_PS, P_GIT, P_LESS,
        P_MAKE, P_SH_GCC, P_GCC, P_CC1, P_AS, P_COLLECT2, P_LD, P_DATE, P_PYTHON, P_UNAME, P_SLEEP, P_DAEMON,
        P_VIM, P_CURL, P_SYSTEMCTL, P_RUNPARTS, P_LOGROTATE, P_JOURNALD, P_HOLDER, P_SLEEP_INF, _P_MAX
};

static const Prog progs[_P_MAX] = {
        [P_SSHD_LISTEN] = { "/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups" },
        [P_SSHD_PRIV] = { "/usr/sbin/sshd", "sshd: alice [priv]" },
        [P_BASH] = { "/usr/bin/bash", "-bash" },
        [P_CRON] = { "/usr/sbin/cron", "/usr/sbin/cron -f" },
        [P_SH_C] = { "/usr/bin/dash", "/bin/sh -c cd / && run-parts --report /etc/cron.hourly" },
        [P_SERVICE] = { "/usr/lib/apt/apt.systemd.daily", "/bin/sh /usr/lib/apt/apt.systemd.daily update" },
        [P_LS] = { "/usr/bin/ls", "ls --color=auto -la" },
        [P_CAT] = { "/usr/bin/cat", "cat /etc/os-release" },
        [P_GREP] = { "/usr/bin/grep", "grep --color=auto -n TODO src/main.c" },
        [P_PS] = { "/usr/bin/ps", "ps aux" },
        [P_GIT] = { "/usr/bin/git", "git log --oneline" },
        [P_LESS] = { "/usr/bin/less", "less" },
        [P_MAKE] = { "/usr/bin/make", "make -j2" },
        [P_SH_GCC] = { "/usr/bin/dash", "/bin/sh -c gcc -O2 -c foo.c -o foo.o" },
        [P_GCC] = { "/usr/bin/x86_64-linux-gnu-gcc-12", "gcc -O2 -c foo.c -o foo.o" },
        [P_CC1] = { "/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "/usr/lib/gcc/x86_64-linux-gnu/12/cc1 -quiet foo.c -O2 -o /tmp/ccX.s" },
        [P_AS] = { "/usr/bin/x86_64-linux-gnu-as", "as --64 -o foo.o /tmp/ccX.s" },
        [P_COLLECT2] = { "/usr/lib/gcc/x86_64-linux-gnu/12/collect2", "/usr/lib/gcc/x86_64-linux-gnu/12/collect2 -o prog" },
        [P_LD] = { "/usr/bin/x86_64-linux-gnu-ld.bfd", "/usr/bin/ld -o prog foo.o" },
        [P_DATE] = { "/usr/bin/date", "date +%s" },
        [P_PYTHON] = { "/usr/bin/python3.11", "python3 tools/report.py --since yesterday" },
        [P_UNAME] = { "/usr/bin/uname", "uname -r" },
        [P_SLEEP] = { "/usr/bin/sleep", "sleep 3600" },
        [P_DAEMON] = { "/usr/local/bin/worker", "worker --daemon --config /etc/worker.conf" },
        [P_VIM] = { "/usr/bin/vim.basic", "vim notes.txt" },
        [P_CURL] = { "/usr/bin/curl", "curl -s https://example.org/status" },
        [P_SYSTEMCTL] = { "/usr/bin/systemctl", "systemctl status nginx" },
        [P_RUNPARTS] = { "/usr/bin/run-parts", "run-parts --report /etc/cron.hourly" },
        [P_LOGROTATE] = { "/usr/sbin/logrotate", "/usr/sbin/logrotate /etc/logrotate.conf" },
        [P_JOURNALD] = { "/usr/lib/systemd/systemd-journald", "/lib/systemd/systemd-journald" },
        [P_HOLDER] = { "/usr/bin/bash", "bash holder.sh" },
        [P_SLEEP_INF] = { "/usr/bin/sleep", "sleep infinity" },
};

typedef struct Proc Proc;
struct Proc {
        int32_t pid;
        uint64_t ticks;
        Proc *parent;
        bool alive, longlived, orphaned;
        uint32_t uid, loginuid, sessionid;
        int32_t sid, pgid;
        int prog;
        char *argv_override; /* NUL-separated, for sshd [priv] of the subtree login */
        size_t argv_override_len;
};

typedef enum OpKind { OP_FORK, OP_EXEC, OP_EXIT, OP_LOGIN, OP_UID, OP_SID } OpKind;

typedef struct Op {
        uint8_t kind;
        int32_t proc;   /* index into the session's procs; < 0: a global (below) */
        int32_t parent; /* OP_FORK */
        int32_t arg;    /* OP_EXEC: prog; OP_EXIT: status; OP_UID: uid; OP_LOGIN: service kind */
} Op;

enum { G_INIT = -1, G_SSHD = -2, G_CRON = -3 };

typedef struct Session {
        Proc **procs;
        size_t n_procs, n_procs_alloc;
        Op *ops;
        size_t n_ops, n_ops_alloc, cursor;
        size_t burst;
        uint32_t uid;
} Session;

static struct {
        RecordWriter *w;
        uint64_t mono_ns;
        uint32_t seq[2];
        uint8_t *used;
        int32_t pid_max, next_pid;
        uint64_t rng;
        uint64_t records, events, instances, alive, logins;
        uint32_t next_session;
        Proc init, sshd, cron;
        Proc **pool;
        size_t n_pool, pool_max;
} g;

static uint64_t rnd(void) {
        /* xorshift64* */
        g.rng ^= g.rng >> 12;
        g.rng ^= g.rng << 25;
        g.rng ^= g.rng >> 27;
        return g.rng * 2685821657736338717ULL;
}

static uint32_t below(uint32_t n) {
        return (uint32_t) (rnd() % n);
}

static double unit(void) {
        return (double) (rnd() >> 11) / 9007199254740992.0;
}

static void *xrealloc(void *p, size_t n) {
        p = realloc(p, n ? n : 1);
        if (!p) {
                fprintf(stderr, "gen-record: out of memory\n");
                exit(1);
        }
        return p;
}

static void check(int r, const char *what) {
        if (r < 0) {
                fprintf(stderr, "gen-record: %s: %s\n", what, strerror(-r));
                exit(1);
        }
}

static int32_t alloc_pid(void) {
        for (int32_t tries = 0; tries < g.pid_max; tries++) {
                int32_t p = g.next_pid++;

                if (g.next_pid >= g.pid_max)
                        g.next_pid = RESERVED_PIDS;
                if (!g.used[p]) {
                        g.used[p] = 1;
                        return p;
                }
        }
        fprintf(stderr, "gen-record: out of pids (pid_max %d too small for the live set)\n", g.pid_max);
        exit(1);
}

static void tick(void) {
        g.mono_ns += 1000 + rnd() % 99000; /* 1-100 µs between events */
}

static void put_event(CnprocEvent *ev) {
        uint32_t cpu = below(2);

        tick();
        ev->cpu = cpu;
        ev->seq = g.seq[cpu]++;
        ev->timestamp_ns = g.mono_ns;
        check(record_write_event(g.w, ev), "write");
        g.records++;
        g.events++;
}

static size_t argv_of(const char *spaced, char *buf, size_t size) {
        size_t n = 0;

        for (const char *s = spaced; *s && n + 2 < size; s++)
                buf[n++] = *s == ' ' ? '\0' : *s;
        buf[n++] = '\0';
        return n;
}

static void put_info(Proc *p, unsigned have) {
        const Prog *pr = &progs[p->prog];
        const char *base = strrchr(pr->exe, '/');
        char argv[512];
        ProcInfo i = {
                .have = have, .pid = p->pid, .tgid = p->pid, .state = 'R',
                .ppid = p->parent ? p->parent->pid : 0, .pgid = p->pgid, .sid = p->sid,
                .start_ticks = p->ticks, .threads = 1,
                .ruid = p->uid, .euid = p->uid, .rgid = p->uid, .egid = p->uid,
                .loginuid = p->loginuid, .sessionid = p->sessionid,
        };

        snprintf(i.comm, 16, "%s", base ? base + 1 : pr->exe);
        if (have & PROCFS_EXE)
                i.exe = (char *) pr->exe;
        if (have & PROCFS_ARGV) {
                if (p->argv_override) {
                        i.argv = p->argv_override;
                        i.argv_len = p->argv_override_len;
                } else {
                        i.argv = argv;
                        i.argv_len = argv_of(pr->argv, argv, sizeof(argv));
                }
        }
        check(record_write_info(g.w, &i), "write");
        g.records++;
}

static void do_fork(Proc *child, Proc *parent) {
        CnprocEvent ev = { .type = LINEAGE_EVENT_FORK };

        child->pid = alloc_pid();
        child->parent = parent;
        child->alive = true;
        child->uid = parent->uid;
        child->loginuid = parent->loginuid;
        child->sessionid = parent->sessionid;
        child->sid = parent->sid;
        child->pgid = parent->pgid;
        child->prog = parent->prog;
        ev.pid = ev.tgid = child->pid;
        ev.fork.parent_pid = ev.fork.parent_tgid = parent->pid;
        put_event(&ev);
        child->ticks = g.mono_ns / NS_PER_TICK;
        g.instances++;
        g.alive++;
}

static void do_exec(Proc *p, int prog) {
        CnprocEvent ev = { .type = LINEAGE_EVENT_EXEC };

        p->prog = prog;
        ev.pid = ev.tgid = p->pid;
        put_event(&ev);
        put_info(p, PROCFS_STAT | PROCFS_STATUS | PROCFS_LOGIN | PROCFS_EXE | PROCFS_ARGV);
}

static void do_exit(Proc *p, int status) {
        CnprocEvent ev = { .type = LINEAGE_EVENT_EXIT };
        bool parent_alive = p->parent && p->parent->alive && !p->orphaned;

        ev.pid = ev.tgid = p->pid;
        ev.exit.code = (uint32_t) (status & 0xff) << 8;
        ev.exit.signal = SIGCHLD_NR;
        ev.exit.parent_pid = ev.exit.parent_tgid = parent_alive ? p->parent->pid : 1;
        put_event(&ev);
        p->alive = false;
        g.used[p->pid] = 0;
        g.alive--;
}

static void do_uid(Proc *p, uint32_t uid) {
        CnprocEvent ev = { .type = LINEAGE_EVENT_UID };

        p->uid = uid;
        ev.pid = ev.tgid = p->pid;
        ev.id.r = ev.id.e = uid;
        put_event(&ev);
}

static void do_sid(Proc *p) {
        CnprocEvent ev = { .type = LINEAGE_EVENT_SID };

        p->sid = p->pgid = p->pid;
        ev.pid = ev.tgid = p->pid;
        put_event(&ev);
}

/* pam_loginuid wrote loginuid and the kernel handed out a session: the daemon reads it, then the login. */
static void do_login(Proc *p, uint32_t uid, int service) {
        RecordLogin l = { .pid = p->pid, .begin = 1 };
        uint32_t session = ++g.next_session;

        p->loginuid = uid;
        p->sessionid = session;
        put_info(p, PROCFS_STAT | PROCFS_LOGIN);
        l.audit_session = session;
        if (service == P_CRON) {
                snprintf(l.service, sizeof(l.service), "cron");
                snprintf(l.unit, sizeof(l.unit), "cron.service");
        } else {
                snprintf(l.service, sizeof(l.service), "sshd");
                snprintf(l.remote_address, sizeof(l.remote_address), "10.%u.%u.%u", below(256), below(256), 1 + below(254));
                l.remote_port = (int32_t) (32768 + below(28000));
                snprintf(l.tty, sizeof(l.tty), "pts/%u", below(32));
                snprintf(l.logind_session, sizeof(l.logind_session), "%u", session);
                snprintf(l.unit, sizeof(l.unit), "session-%u.scope", session);
        }
        check(record_write_login(g.w, &l), "write");
        g.records++;
        g.logins++;
}

/* Session building: ops over session-local process indexes. */
static int32_t new_proc(Session *s) {
        if (s->n_procs == s->n_procs_alloc) {
                s->n_procs_alloc = s->n_procs_alloc ? s->n_procs_alloc * 2 : 32;
                s->procs = xrealloc(s->procs, s->n_procs_alloc * sizeof(Proc *));
        }
        s->procs[s->n_procs] = calloc(1, sizeof(Proc));
        if (!s->procs[s->n_procs])
                check(-12, "calloc");
        return (int32_t) s->n_procs++;
}

static void op(Session *s, OpKind kind, int32_t proc, int32_t parent, int32_t arg) {
        if (s->n_ops == s->n_ops_alloc) {
                s->n_ops_alloc = s->n_ops_alloc ? s->n_ops_alloc * 2 : 64;
                s->ops = xrealloc(s->ops, s->n_ops_alloc * sizeof(Op));
        }
        s->ops[s->n_ops++] = (Op) { .kind = (uint8_t) kind, .proc = proc, .parent = parent, .arg = arg };
}

/* fork + exec of prog under parent; returns the child. */
static int32_t spawn(Session *s, int32_t parent, int prog) {
        int32_t c = new_proc(s);

        op(s, OP_FORK, c, parent, 0);
        op(s, OP_EXEC, c, 0, prog);
        return c;
}

static void run(Session *s, int32_t parent, int prog) {
        int32_t c = spawn(s, parent, prog);

        op(s, OP_EXIT, c, 0, 0);
}

static const int simple[] = { P_LS, P_CAT, P_GREP, P_PS, P_DATE, P_UNAME, P_VIM, P_CURL, P_SYSTEMCTL };

/* One shell command line; returns how many processes it created. */
static size_t command(Session *s, int32_t sh) {
        double r = unit();
        size_t before = s->n_procs;

        if (r < 0.50) {
                run(s, sh, simple[below(sizeof(simple) / sizeof(simple[0]))]);
        } else if (r < 0.65) {
                /* A pipeline: all forked, then all exec, then they finish. */
                int32_t a = new_proc(s), b = new_proc(s);

                op(s, OP_FORK, a, sh, 0);
                op(s, OP_FORK, b, sh, 0);
                op(s, OP_EXEC, a, 0, P_PS);
                op(s, OP_EXEC, b, 0, P_GREP);
                op(s, OP_EXIT, a, 0, 0);
                op(s, OP_EXIT, b, 0, 1);
        } else if (r < 0.75) {
                int32_t git = spawn(s, sh, P_GIT);

                run(s, git, P_LESS);
                op(s, OP_EXIT, git, 0, 0);
        } else if (r < 0.83) {
                /* A build: make -> sh -c -> gcc -> cc1, as; then a link. */
                int32_t make = spawn(s, sh, P_MAKE);
                unsigned units = 1 + below(6);

                for (unsigned k = 0; k < units; k++) {
                        int32_t shc = spawn(s, make, P_SH_GCC), gcc = spawn(s, shc, P_GCC);

                        run(s, gcc, P_CC1);
                        run(s, gcc, P_AS);
                        op(s, OP_EXIT, gcc, 0, 0);
                        op(s, OP_EXIT, shc, 0, 0);
                }
                int32_t gcc = spawn(s, make, P_GCC), col = spawn(s, gcc, P_COLLECT2);

                run(s, col, P_LD);
                op(s, OP_EXIT, col, 0, 0);
                op(s, OP_EXIT, gcc, 0, 0);
                op(s, OP_EXIT, make, 0, 0);
        } else if (r < 0.91) {
                /* $(date): a subshell (fork without exec) running a command. */
                int32_t sub = new_proc(s);

                op(s, OP_FORK, sub, sh, 0);
                run(s, sub, P_DATE);
                op(s, OP_EXIT, sub, 0, 0);
        } else if (r < 0.985) {
                int32_t py = spawn(s, sh, P_PYTHON);
                unsigned kids = 1 + below(3);

                for (unsigned k = 0; k < kids; k++)
                        run(s, py, k % 2 ? P_UNAME : P_GIT);
                op(s, OP_EXIT, py, 0, 0);
        } else if (r < 0.993) {
                /* sleep 3600 &: outlives the session. */
                int32_t c = spawn(s, sh, P_SLEEP);

                s->procs[c]->longlived = true;
        } else {
                /* A daemon: forks, the child calls setsid, the parent exits; the child lives on. */
                int32_t d = spawn(s, sh, P_DAEMON), c = new_proc(s);

                op(s, OP_FORK, c, d, 0);
                op(s, OP_SID, c, 0, 0);
                op(s, OP_EXIT, d, 0, 0);
                s->procs[c]->longlived = true;
        }
        return s->n_procs - before;
}

static void build_ssh(Session *s, size_t subtree) {
        int32_t priv, user, sh;
        size_t n = 0, commands;

        s->uid = 1000 + below(50);
        priv = spawn(s, G_SSHD, P_SSHD_PRIV);
        op(s, OP_LOGIN, priv, 0, P_SSHD_PRIV);
        user = new_proc(s);
        op(s, OP_FORK, user, priv, 0);
        op(s, OP_UID, user, 0, (int32_t) s->uid);
        sh = spawn(s, user, P_BASH);
        n = 2;
        if (subtree) {
                /* Commands create at most 29 processes each; near the count, one process each. */
                while (n < subtree) {
                        if (subtree - n < 40) {
                                run(s, sh, P_LS);
                                n++;
                        } else
                                n += command(s, sh);
                }
        } else {
                commands = 1;
                while (unit() < 14.0 / 15.0 && commands < 500) /* geometric, mean 15 */
                        commands++;
                for (size_t k = 0; k < commands; k++)
                        command(s, sh);
        }
        op(s, OP_EXIT, sh, 0, 0);
        op(s, OP_EXIT, user, 0, 255);
        op(s, OP_EXIT, priv, 0, 0);
}

static void build_cron(Session *s) {
        int32_t job = new_proc(s), sh;
        unsigned k, cmds = 1 + below(4);

        op(s, OP_FORK, job, G_CRON, 0);
        op(s, OP_LOGIN, job, 0, P_CRON);
        sh = spawn(s, job, P_SH_C);
        for (k = 0; k < cmds; k++) {
                int32_t rp = spawn(s, sh, k ? P_LOGROTATE : P_RUNPARTS);

                if (k == 0)
                        run(s, rp, P_DATE);
                op(s, OP_EXIT, rp, 0, 0);
        }
        op(s, OP_EXIT, sh, 0, 0);
        op(s, OP_EXIT, job, 0, 0);
}

static void build_service(Session *s) {
        int32_t svc = spawn(s, G_INIT, P_SERVICE);
        unsigned k, cmds = 1 + below(5);

        for (k = 0; k < cmds; k++)
                command(s, svc);
        op(s, OP_EXIT, svc, 0, 0);
}

static Proc *get(Session *s, int32_t idx) {
        switch (idx) {
        case G_INIT:
                return &g.init;
        case G_SSHD:
                return &g.sshd;
        case G_CRON:
                return &g.cron;
        default:
                return s->procs[idx];
        }
}

static void step(Session *s) {
        Op *o = &s->ops[s->cursor++];
        Proc *p = get(s, o->proc);

        switch (o->kind) {
        case OP_FORK:
                do_fork(p, get(s, o->parent));
                break;
        case OP_EXEC:
                do_exec(p, o->arg);
                break;
        case OP_EXIT:
                do_exit(p, o->arg);
                break;
        case OP_LOGIN:
                do_login(p, s->uid ? s->uid : 0, o->arg);
                break;
        case OP_UID:
                do_uid(p, (uint32_t) o->arg);
                break;
        case OP_SID:
                do_sid(p);
                break;
        }
}

static void pool_exit_one(void) {
        size_t k = below((uint32_t) g.n_pool);
        Proc *p = g.pool[k];

        do_exit(p, 0);
        free(p->argv_override);
        free(p);
        g.pool[k] = g.pool[--g.n_pool];
}

/* A finished session: its processes are gone, except those that outlive it (now orphans of init). */
static void session_end(Session *s) {
        for (size_t k = 0; k < s->n_procs; k++) {
                Proc *p = s->procs[k];

                if (p->alive && p->longlived) {
                        p->orphaned = true;
                        p->parent = NULL;
                        g.pool = xrealloc(g.pool, (g.n_pool + 1) * sizeof(Proc *));
                        g.pool[g.n_pool++] = p;
                } else {
                        free(p->argv_override);
                        free(p);
                }
        }
        free(s->procs);
        free(s->ops);
        memset(s, 0, sizeof(*s));
        while (g.n_pool > g.pool_max)
                pool_exit_one();
}

static void session_new(Session *s) {
        double r = unit();

        memset(s, 0, sizeof(*s));
        s->burst = 1;
        if (r < 0.6)
                build_ssh(s, 0);
        else if (r < 0.9)
                build_cron(s);
        else
                build_service(s);
}

static void start_daemon(Proc *p, int prog, int32_t uid) {
        do_fork(p, &g.init);
        do_sid(p);
        do_exec(p, prog);
        (void) uid;
}

static void usage(void) {
        fprintf(stderr, "usage: gen-record -o FILE [-n INSTANCES] [-p PID_MAX] [-c CONCURRENT] [-s SEED] [-L SUBTREE] [-P POOL]\n"
                        "       gen-record -o FILE --flat N [--exit] [-p PID_MAX]\n");
        exit(2);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "flat", required_argument, NULL, 'F' },
                { "exit", no_argument, NULL, 'X' },
                {},
        };
        const char *out = NULL;
        size_t target = 100000, concurrent = 64, subtree = 0, flat = 0;
        bool flat_exit = false;
        int c;

        g.pid_max = 32768;
        g.rng = 0x9e3779b97f4a7c15ULL;
        g.pool_max = 2000;
        while ((c = getopt_long(argc, argv, "o:n:p:c:s:L:P:", options, NULL)) >= 0)
                switch (c) {
                case 'o':
                        out = optarg;
                        break;
                case 'n':
                        target = strtoull(optarg, NULL, 10);
                        break;
                case 'p':
                        g.pid_max = (int32_t) strtol(optarg, NULL, 10);
                        break;
                case 'c':
                        concurrent = strtoull(optarg, NULL, 10);
                        break;
                case 's':
                        g.rng ^= strtoull(optarg, NULL, 10) * 0x2545F4914F6CDD1DULL;
                        break;
                case 'L':
                        subtree = strtoull(optarg, NULL, 10);
                        break;
                case 'P':
                        g.pool_max = strtoull(optarg, NULL, 10);
                        break;
                case 'F':
                        flat = strtoull(optarg, NULL, 10);
                        break;
                case 'X':
                        flat_exit = true;
                        break;
                default:
                        usage();
                }
        if (!out || optind < argc || g.pid_max < 1024 || g.pid_max > 4194304 || concurrent < 1 || !g.rng)
                usage();
        g.used = calloc((size_t) g.pid_max, 1);
        if (!g.used)
                check(-12, "calloc");
        g.next_pid = RESERVED_PIDS;
        g.mono_ns = 1000ULL * 1000000000ULL; /* the record starts 1000 s after boot */

        check(record_writer_open(&g.w, out), out);
        {
                RecordClock clk = {
                        .clock = { .realtime_offset_ns = REALTIME_OFFSET_NS, .boottime_offset_ns = 0,
                                   .clock_ticks = CLOCK_TICKS },
                };
                ProcInfo init = {
                        .have = PROCFS_ALL, .pid = 1, .tgid = 1, .state = 'S', .ppid = 0, .pgid = 1, .sid = 1,
                        .start_ticks = 1, .threads = 1, .loginuid = PROCFS_UNSET_ID, .sessionid = PROCFS_UNSET_ID,
                        .exe = "/usr/lib/systemd/systemd", .argv = "/sbin/init\0", .argv_len = 11,
                };

                memcpy(clk.boot_id, "0123456789abcdef0123456789abcdef", 33);
                snprintf(init.comm, sizeof(init.comm), "systemd");
                check(record_write_clock(g.w, &clk), "write");
                check(record_write_scan_begin(g.w, g.mono_ns), "write");
                check(record_write_scan(g.w, &init, NULL, 0, -1), "write");
                check(record_write_scan_end(g.w), "write");
                g.records += 4;
        }
        g.init = (Proc) { .pid = 1, .ticks = 1, .alive = true, .loginuid = PROCFS_UNSET_ID,
                          .sessionid = PROCFS_UNSET_ID, .sid = 1, .pgid = 1, .prog = P_JOURNALD };
        g.used[1] = 1;
        g.instances = g.alive = 1;

        if (flat) {
                Proc holder = {};

                start_daemon(&holder, P_HOLDER, 0);
                for (size_t k = 0; k < flat; k++) {
                        Proc p = {};

                        do_fork(&p, &holder);
                        do_exec(&p, P_SLEEP_INF);
                        if (flat_exit)
                                do_exit(&p, 0);
                }
        } else {
                Proc journald = {};
                Session *act = calloc(concurrent, sizeof(Session));
                size_t n_act = 0, big = SIZE_MAX;

                if (!act)
                        check(-12, "calloc");
                start_daemon(&journald, P_JOURNALD, 0);
                start_daemon(&g.sshd, P_SSHD_LISTEN, 0);
                start_daemon(&g.cron, P_CRON, 0);
                if (subtree) {
                        /* The big login goes first and is driven in bursts so that it ends well within
                         * the record; its [priv] process is the login with SUBTREE descendants. */
                        Session *s = &act[n_act++];
                        size_t est_ops = target * 4;

                        memset(s, 0, sizeof(*s));
                        build_ssh(s, subtree);
                        s->burst = MAX((size_t) 1, s->n_ops * concurrent * 2 / MAX(est_ops, (size_t) 1));
                        big = 0;
                        step(s); /* its fork: the pid is known now */
                        printf("subtree-login pid=%d start_ticks=%llu\n", s->procs[0]->pid,
                               (unsigned long long) s->procs[0]->ticks);
                }
                while (n_act < concurrent && g.instances < target)
                        session_new(&act[n_act++]);
                while (n_act > 0) {
                        size_t k = below((uint32_t) n_act);
                        Session *s = &act[k];

                        for (size_t b = 0; b < s->burst && s->cursor < s->n_ops; b++)
                                step(s);
                        if (s->cursor < s->n_ops)
                                continue;
                        if (k == big)
                                big = SIZE_MAX;
                        session_end(s);
                        if (g.instances < target) {
                                session_new(s);
                                continue;
                        }
                        /* Keep the array dense. */
                        if (k != n_act - 1) {
                                act[k] = act[n_act - 1];
                                if (big == n_act - 1)
                                        big = k;
                        }
                        n_act--;
                }
                free(act);
        }
        check(record_writer_flush(g.w), "flush");
        record_writer_close(g.w);
        printf("records=%llu events=%llu instances=%llu alive=%llu logins=%llu\n", (unsigned long long) g.records,
               (unsigned long long) g.events, (unsigned long long) g.instances, (unsigned long long) g.alive,
               (unsigned long long) g.logins);
        return 0;
}
