/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* churn: process creation flat out, for measuring what a process monitor costs.
 *
 *   churn [-j JOBS] [-t SECONDS] [-m spawn|vfork|fork|shell] [-p PROGRAM]
 *       JOBS parallel loops (default 2), each creating a process running PROGRAM (default /bin/true) and
 *       waiting for it, until SECONDS (default 3) have passed. spawn: posix_spawn (clone(CLONE_VM|
 *       CLONE_VFORK) in glibc); vfork: vfork+execve; fork: fork+execve; shell: each loop is one
 *       `sh -c 'while :; do PROGRAM; done'`, stopped with SIGTERM, which reports its count.
 *       Killing churn (SIGTERM) stops its loops with it.
 *       Prints one line: "churn mode=M jobs=J processes=N seconds=S rate=R" (processes per second).
 *
 *   churn --hold N
 *       Forks N children that sleep, prints "ready N", and waits until stdin is closed or it gets
 *       SIGTERM/SIGINT; then kills and reaps exactly those children. For startup-scan measurements.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void die(const char *what) {
        fprintf(stderr, "churn: %s: %s\n", what, strerror(errno));
        exit(1);
}

typedef struct Result {
        uint64_t count;
        double end;
} Result;

/* Starts one process; the child never returns from here. */
static __attribute__((noinline)) pid_t start_one(const char *mode, const char *prog, char **argv, char **envp) {
        pid_t pid;

        if (strcmp(mode, "spawn") == 0) {
                int r = posix_spawn(&pid, prog, NULL, NULL, argv, envp);

                if (r != 0) {
                        errno = r;
                        die("posix_spawn");
                }
                return pid;
        }
        pid = strcmp(mode, "vfork") == 0 ? vfork() : fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                execve(prog, argv, envp);
                _exit(127);
        }
        return pid;
}

/* One loop of the spawn, vfork or fork modes; returns how many processes ran. */
static uint64_t loop_exec(const char *mode, const char *prog, double deadline) {
        char *argv[] = { (char *) prog, NULL };
        char *envp[] = { "PATH=/usr/bin:/bin", NULL };
        uint64_t n = 0;

        while (now() < deadline) {
                pid_t pid = start_one(mode, prog, argv, envp);
                int status;

                if (waitpid(pid, &status, 0) < 0)
                        die("waitpid");
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "churn: %s failed (status 0x%x)\n", prog, status);
                        exit(1);
                }
                n++;
        }
        return n;
}

/* One loop of the shell mode: a shell that runs PROG until told to stop, then says how often it did. */
static uint64_t loop_shell(const char *prog, double deadline) {
        char script[512];
        char buf[64] = "";
        int p[2];
        pid_t pid;
        ssize_t k;
        size_t got = 0;
        int status;

        snprintf(script, sizeof(script),
                 "i=0; trap 'echo $i >&3; exit 0' TERM; while :; do %s; i=$((i+1)); done", prog);
        if (pipe(p) < 0)
                die("pipe");
        pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                /* The loop ends (and reports) when its worker is killed with churn. */
                if (dup2(p[1], 3) < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
                        _exit(127);
                execl("/bin/sh", "sh", "-c", script, (char *) NULL);
                _exit(127);
        }
        close(p[1]);
        while (now() < deadline) {
                double left = deadline - now();
                struct timespec ts = { (time_t) left, (long) ((left - (double) (time_t) left) * 1e9) };

                if (left > 0)
                        nanosleep(&ts, NULL);
        }
        kill(pid, SIGTERM);
        while ((k = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
                got += (size_t) k;
        buf[got] = 0;
        close(p[0]);
        if (waitpid(pid, &status, 0) < 0)
                die("waitpid");
        if (got == 0) {
                fprintf(stderr, "churn: the shell loop did not report a count (status 0x%x)\n", status);
                exit(1);
        }
        return strtoull(buf, NULL, 10) + 1; /* the shell itself too */
}

static int churn(int jobs, double seconds, const char *mode, const char *prog) {
        pid_t workers[256];
        int go[2], res[2];
        double start, end = 0;
        uint64_t total = 0;
        int failed = 0;
        pid_t self;

        if (pipe(go) < 0 || pipe(res) < 0)
                die("pipe");
        self = getpid();
        for (int j = 0; j < jobs; j++) {
                workers[j] = fork();
                if (workers[j] < 0)
                        die("fork");
                if (workers[j] == 0) {
                        Result r;
                        double t0;
                        char c;

                        /* Stopping churn (SIGTERM, its default action) stops its loops too. */
                        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != self)
                                _exit(1);
                        close(go[1]);
                        close(res[0]);
                        /* All loops start together, when the parent closes the pipe. */
                        if (read(go[0], &c, 1) < 0)
                                _exit(1);
                        t0 = now();
                        r.count = strcmp(mode, "shell") == 0 ? loop_shell(prog, t0 + seconds)
                                                             : loop_exec(mode, prog, t0 + seconds);
                        r.end = now();
                        if (write(res[1], &r, sizeof(r)) != (ssize_t) sizeof(r))
                                _exit(1);
                        _exit(0);
                }
        }
        close(go[0]);
        close(res[1]);
        start = now();
        close(go[1]);
        for (int j = 0; j < jobs; j++) {
                Result r;
                int status;

                if (read(res[0], &r, sizeof(r)) != (ssize_t) sizeof(r)) {
                        failed = 1;
                        continue;
                }
                total += r.count;
                if (r.end > end)
                        end = r.end;
                (void) status;
        }
        for (int j = 0; j < jobs; j++) {
                int status;

                if (waitpid(workers[j], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        failed = 1;
        }
        if (failed) {
                fprintf(stderr, "churn: a loop failed\n");
                return 1;
        }
        printf("churn mode=%s jobs=%d processes=%llu seconds=%.4f rate=%.1f\n", mode, jobs,
               (unsigned long long) total, end - start, (double) total / (end - start));
        return 0;
}

static volatile sig_atomic_t stop;

static void on_stop(int sig) {
        stop = 1;
}

static int hold(long n) {
        pid_t *kids = calloc((size_t) n, sizeof(pid_t));
        struct sigaction sa = { .sa_handler = on_stop };
        long made = 0;
        char c;

        if (!kids)
                die("calloc");
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        for (; made < n && !stop; made++) {
                pid_t pid = fork();

                if (pid < 0) {
                        fprintf(stderr, "churn: fork %ld of %ld failed: %s\n", made + 1, n, strerror(errno));
                        break;
                }
                if (pid == 0) {
                        /* Go away with the holder, whatever happens to it. */
                        prctl(PR_SET_PDEATHSIG, SIGKILL);
                        if (getppid() == 1)
                                _exit(0);
                        for (;;)
                                pause();
                }
                kids[made] = pid;
        }
        printf("ready %ld\n", made);
        fflush(stdout);
        while (!stop && made == n) {
                ssize_t k = read(STDIN_FILENO, &c, 1);

                if (k == 0 || (k < 0 && errno != EINTR))
                        break;
        }
        for (long k = 0; k < made; k++)
                kill(kids[k], SIGKILL);
        for (long k = 0; k < made; k++)
                waitpid(kids[k], NULL, 0);
        free(kids);
        return made == n ? 0 : 1;
}

static void usage(void) {
        fprintf(stderr, "usage: churn [-j JOBS] [-t SECONDS] [-m spawn|vfork|fork|shell] [-p PROGRAM]\n"
                        "       churn --hold N\n");
        exit(2);
}

int main(int argc, char **argv) {
        const char *mode = "spawn", *prog = "/bin/true";
        double seconds = 3;
        int jobs = 2;

        if (argc == 3 && strcmp(argv[1], "--hold") == 0)
                return hold(strtol(argv[2], NULL, 10));
        for (int k = 1; k < argc; k++) {
                if (k + 1 >= argc)
                        usage();
                if (strcmp(argv[k], "-j") == 0)
                        jobs = atoi(argv[++k]);
                else if (strcmp(argv[k], "-t") == 0)
                        seconds = atof(argv[++k]);
                else if (strcmp(argv[k], "-m") == 0)
                        mode = argv[++k];
                else if (strcmp(argv[k], "-p") == 0)
                        prog = argv[++k];
                else
                        usage();
        }
        if (jobs < 1 || jobs > 256 || seconds <= 0 ||
            (strcmp(mode, "spawn") && strcmp(mode, "vfork") && strcmp(mode, "fork") && strcmp(mode, "shell")))
                usage();
        setvbuf(stdout, NULL, _IOLBF, 0);
        return churn(jobs, seconds, mode, prog);
}
