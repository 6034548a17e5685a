/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl's pager: a child reading a pipe that replaces standard output, waited for at the end. */
#include "pager.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t pager_pid = 0;

/* The pager command from the environment, NULL for the default, "" for none. */
static const char *pager_command(void) {
        const char *e = getenv("SYSTEMD_PAGER");

        if (!e)
                e = getenv("PAGER");
        if (e && (e[0] == 0 || strcmp(e, "cat") == 0))
                return "";
        return e;
}

static _Noreturn void pager_exec(const char *command) {
        /* less -F quits when everything fits one screen, -R passes colors, -S chops long lines, -X does
         * not clear the screen, -M is the long prompt, -K quits on Ctrl-C: systemd's choice. */
        if (setenv("LESS", "FRSXMK", 0) < 0)
                _exit(EXIT_FAILURE);
        if (command) {
                execl("/bin/sh", "sh", "-c", command, (char *) NULL);
                _exit(EXIT_FAILURE);
        }
        execlp("less", "less", (char *) NULL);
        execlp("more", "more", (char *) NULL);
        /* No pager here: copy the input through, so that nothing is lost. */
        execlp("cat", "cat", (char *) NULL);
        _exit(EXIT_FAILURE);
}

int pager_open(bool disabled) {
        const char *command;
        int fd[2];
        pid_t pid;

        if (disabled || pager_pid > 0 || !isatty(STDOUT_FILENO))
                return 0;
        command = pager_command();
        if (command && command[0] == 0)
                return 0;
        if (pipe2(fd, O_CLOEXEC) < 0)
                return -errno;
        fflush(stdout);
        pid = fork();
        if (pid < 0) {
                int r = -errno;

                close(fd[0]);
                close(fd[1]);
                return r;
        }
        if (pid == 0) {
                if (dup2(fd[0], STDIN_FILENO) < 0)
                        _exit(EXIT_FAILURE);
                (void) signal(SIGPIPE, SIG_DFL);
                pager_exec(command);
        }
        close(fd[0]);
        if (dup2(fd[1], STDOUT_FILENO) < 0) {
                int r = -errno;

                close(fd[1]);
                pager_pid = pid; /* it sees the end of its input and ends; wait for it */
                pager_close();
                return r;
        }
        close(fd[1]);
        pager_pid = pid;
        return 1;
}

void pager_close(void) {
        pid_t pid = pager_pid;

        if (pid <= 0)
                return;
        pager_pid = 0;
        fflush(stdout);
        /* The pager sees the end of its input only when the last write end is gone. */
        (void) fclose(stdout);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}
