/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineage-execgen: the exec cases the exec-source tests need: many unique execs, exec from a thread, fexecve. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void die(const char *what) {
        fprintf(stderr, "lineage-execgen: %s: %s\n", what, strerror(errno));
        exit(1);
}

/* spawn N PREFIX PROGRAM: runs "PROGRAM PREFIX-i" for i = 1..N, one at a time, each waited for. */
static int do_spawn(unsigned long n, const char *prefix, const char *program) {
        for (unsigned long i = 1; i <= n; i++) {
                char arg[256];
                char *argv[] = { (char *) program, arg, NULL };
                pid_t pid;
                int status, r;

                snprintf(arg, sizeof(arg), "%s-%lu", prefix, i);
                r = posix_spawn(&pid, program, NULL, NULL, argv, environ);
                if (r != 0) {
                        errno = r;
                        die("posix_spawn");
                }
                if (waitpid(pid, &status, 0) < 0)
                        die("waitpid");
        }
        return 0;
}

static char *const *thread_argv;

static void *exec_thread(void *arg) {
        execv(thread_argv[0], thread_argv);
        die("execv from a thread");
        return NULL;
}

/* thread-exec PROGRAM ARGS...: a second thread execs; the thread group's leader is then replaced. */
static int do_thread_exec(char **argv) {
        pthread_t t;

        thread_argv = argv;
        printf("%d\n", getpid());
        fflush(stdout);
        if (pthread_create(&t, NULL, exec_thread, NULL) != 0)
                die("pthread_create");
        pause();
        return 1;
}

/* fexecve PROGRAM ARGS...: runs PROGRAM through a descriptor closed on exec (/dev/fd/N names nothing after). */
static int do_fexecve(char **argv) {
        int fd = open(argv[0], O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                die("open");
        printf("%d\n", getpid());
        fflush(stdout);
        fexecve(fd, argv, environ);
        die("fexecve");
        return 1;
}

int main(int argc, char **argv) {
        if (argc == 5 && strcmp(argv[1], "spawn") == 0)
                return do_spawn(strtoul(argv[2], NULL, 10), argv[3], argv[4]);
        if (argc >= 3 && strcmp(argv[1], "thread-exec") == 0)
                return do_thread_exec(argv + 2);
        if (argc >= 3 && strcmp(argv[1], "fexecve") == 0)
                return do_fexecve(argv + 2);
        fprintf(stderr, "usage: lineage-execgen spawn N PREFIX PROGRAM | thread-exec PROGRAM ARGS... | fexecve PROGRAM ARGS...\n");
        return 2;
}
