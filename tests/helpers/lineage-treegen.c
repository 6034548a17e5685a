/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineage-treegen: builds real process trees for the integration tests, reports their pids, holds them, cleans up. */
#include <assert.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "lineage/util.h"

/*
 * How it works. Every process treegen creates is a "puppet": it runs a tiny command loop on its own
 * SOCK_SEQPACKET control socket, whose other end only treegen holds. treegen sends one command at a time
 * (fork, setsid, become a subreaper, exit, reap a child, start a thread that forks or execs) and waits
 * for the reply, so every step happens strictly after the previous one without any sleeps.
 *
 * - The control socket is the puppet's lifeline: when treegen goes away for any reason, the puppet reads
 *   EOF and exits. This also works after reparenting, where PR_SET_PDEATHSIG would not.
 * - treegen's end has SO_PASSCRED, so the kernel attaches the sender's pid translated into treegen's pid
 *   namespace: that is how the outer pid of a process inside a new pid namespace is learned.
 * - A puppet that forks replies with a pidfd of the new child, opened before anyone can reap it, so
 *   treegen can kill and wait for every process it made, whoever its parent is by then, without any risk
 *   of hitting a reused pid.
 */

#define COMM_PREFIX "tg-"
#define PROCS_MAX 32
#define PUPPET_FD 3
#define SETUP_TIMEOUT_SEC_DEFAULT 120U
#define CLEANUP_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define CHURN_MAX 10000000ULL
#define CHURN_PARALLEL 32
#define EXIT_SKIP 77

extern char **environ;

enum {
        OP_HELLO = 1,      /* puppet -> treegen, first message: I am running (pid, tid) */
        OP_FORK,           /* fork a puppet named name on the passed socket; reply value=pid, fd=pidfd */
        OP_SETSID,         /* reply value=sid */
        OP_SUBREAPER,      /* PR_SET_CHILD_SUBREAPER value */
        OP_WAIT,           /* waitpid(value); reply value=status */
        OP_EXIT,           /* reply, then _exit(value) */
        OP_THREAD_FORK,    /* thread name forks puppet name2 on the passed socket; reply tid, value=pid, fd=pidfd */
        OP_EXEC_THREAD,    /* thread name execs "__sleep tg-name2 3"; reply tid; the new image says HELLO */
};

/* One message, in both directions. Commands use op, value, name, name2; replies op, error, pid, tid, value. */
typedef struct Msg {
        int32_t op;
        int32_t error;          /* reply: 0 or -errno */
        int32_t pid;            /* reply: getpid() of the sender, in the sender's own pid namespace */
        int32_t tid;            /* reply: gettid() of the sender, or of the thread the command started */
        int64_t value;
        char name[16];
        char name2[16];
} Msg;

/* A process treegen made, as treegen sees it. */
typedef struct Proc {
        char name[32];
        pid_t pid;              /* in treegen's pid namespace */
        pid_t inner;            /* in the process's own pid namespace (== pid outside complex-sessions) */
        int pidfd;
        int sock;               /* treegen's end of the control socket, -1 once closed */
        bool child;             /* a child of treegen itself, so treegen reaps it */
        bool reaped;
} Proc;

static Proc procs[PROCS_MAX];
static size_t n_procs;
static int sigfd = -1;

static int pidfd_open_(pid_t pid) {
        return (int) syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_kill(int pidfd, int sig) {
        return (int) syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* comm is "tg-NAME", cut to the kernel's 15 characters. */
static void make_comm(char ret[static 16], const char *name) {
        size_t p = strlen(COMM_PREFIX), n = strnlen(name, 15 - p);

        memcpy(ret, COMM_PREFIX, p);
        memcpy(ret + p, name, n);
        ret[p + n] = 0;
}

static const char *op_to_string(int op) {
        static const char *const table[] = {
                [OP_HELLO] = "start",           [OP_FORK] = "fork",
                [OP_SETSID] = "setsid",         [OP_SUBREAPER] = "set subreaper",
                [OP_WAIT] = "reap a child",     [OP_EXIT] = "exit",
                [OP_THREAD_FORK] = "fork from a thread", [OP_EXEC_THREAD] = "exec from a thread",
        };

        if (op <= 0 || (size_t) op >= ELEMENTSOF(table))
                return "?";
        return table[op];
}

/* ---- messages ---------------------------------------------------------------------------------------- */

static int msg_send(int sock, const Msg *m, int fd) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = (void *) m, .iov_len = sizeof(*m) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (fd >= 0) {
                struct cmsghdr *c;

                mh.msg_control = &control;
                mh.msg_controllen = sizeof(control.buf);
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n < 0)
                return -errno;
        if ((size_t) n != sizeof(*m))
                return -EIO;
        return 0;
}

/* Receives one message. ret_cred (optional) gets the sender's credentials; ret_fd (optional) a passed fd or
 * -1, any other passed fd is closed. Returns -ECONNRESET when the peer is gone. */
static int msg_recv(int sock, Msg *ret, struct ucred *ret_cred, int *ret_fd) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(4 * sizeof(int))];
        } control;
        Msg m;
        struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
        struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1,
                .msg_control = &control, .msg_controllen = sizeof(control),
        };
        struct ucred cred = {};
        bool have_cred = false;
        _cleanup_close_ int fd = -1;
        ssize_t n;

        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET)
                        continue;
                if (c->cmsg_type == SCM_RIGHTS) {
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

                        for (size_t i = 0; i < k; i++) {
                                int x;

                                memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                                if (fd < 0)
                                        fd = x;
                                else
                                        close(x);
                        }
                } else if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(cred))) {
                        memcpy(&cred, CMSG_DATA(c), sizeof(cred));
                        have_cred = true;
                }
        }
        if (n == 0)
                return -ECONNRESET;
        if ((size_t) n != sizeof(m) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
                return -EBADMSG;
        if (ret_cred && !have_cred)
                return -EBADMSG;

        m.name[sizeof(m.name) - 1] = 0;
        m.name2[sizeof(m.name2) - 1] = 0;
        *ret = m;
        if (ret_cred)
                *ret_cred = cred;
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}

/* ---- the puppet side: runs in every process treegen creates ------------------------------------------ */

typedef struct ThreadJob {
        char comm[16];          /* of the thread */
        char child_name[16];    /* fork: the child's name; exec: the comm of the new image */
        int child_sock;         /* fork: the child's control socket */
        bool exec;
        pid_t tid;
        pid_t child;
        int child_pidfd;
        int error;
        sem_t done;             /* thread -> puppet: tid (and child) are known */
        sem_t go;               /* puppet -> thread: the reply is sent, exec now */
} ThreadJob;

static _Noreturn void puppet_main(int sock);

static _Noreturn void puppet_child(int sock, const char *name) {
        char comm[16];
        sigset_t none;
        int null;

        /* treegen blocks the signals it reads from its signalfd and ignores SIGPIPE; undo both. */
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) signal(SIGPIPE, SIG_DFL);

        make_comm(comm, name);
        if (prctl(PR_SET_NAME, comm) < 0) {
                log_error_errno(errno, "%s: Failed to set comm: %m", name);
                _exit(EXIT_FAILURE);
        }
        /* Keep stderr for diagnostics, but never hold the test's stdin or stdout. */
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0) {
                log_error_errno(errno, "%s: Failed to open /dev/null: %m", name);
                _exit(EXIT_FAILURE);
        }
        if (dup2(sock, PUPPET_FD) < 0 || fcntl(PUPPET_FD, F_SETFD, 0) < 0 ||
            close_range(PUPPET_FD + 1, ~0U, 0) < 0) {
                log_error_errno(errno, "%s: Failed to set up file descriptors: %m", name);
                _exit(EXIT_FAILURE);
        }
        puppet_main(PUPPET_FD);
}

static void *puppet_thread(void *userdata) {
        ThreadJob *job = userdata;
        char *argv[] = { (char *) "lineage-treegen", (char *) "__sleep", job->child_name, (char *) "3", NULL };
        Msg m;

        (void) prctl(PR_SET_NAME, job->comm);
        job->tid = gettid();

        if (!job->exec) {
                pid_t pid = fork();

                if (pid == 0)
                        puppet_child(job->child_sock, job->child_name);
                if (pid < 0)
                        job->error = -errno;
                else {
                        job->child = pid;
                        job->child_pidfd = pidfd_open_(pid);
                        if (job->child_pidfd < 0) {
                                job->error = -errno;
                                (void) kill(pid, SIGKILL);
                        }
                }
                sem_post(&job->done);
                if (job->error < 0)
                        return NULL;
                for (;;)
                        pause();
        }

        sem_post(&job->done);
        while (sem_wait(&job->go) < 0)
                ;
        /* From a non-leader thread: the kernel kills the other threads, and this one takes over the pid. */
        execve("/proc/self/exe", argv, environ);
        m = (Msg) { .op = OP_HELLO, .error = -errno, .pid = getpid(), .tid = gettid() };
        (void) msg_send(PUPPET_FD, &m, -1);
        for (;;)
                pause();
}

/* Starts a thread that forks a puppet child (or gets ready to exec); returns once the thread's tid is known. */
static int puppet_start_thread(const Msg *m, int child_sock, ThreadJob **ret) {
        ThreadJob *job;
        pthread_attr_t attr;
        pthread_t t;
        int r;

        job = calloc(1, sizeof(*job));
        if (!job)
                return -ENOMEM;
        make_comm(job->comm, m->name);
        if (m->op == OP_EXEC_THREAD)
                make_comm(job->child_name, m->name2);
        else
                snprintf(job->child_name, sizeof(job->child_name), "%s", m->name2);
        job->exec = m->op == OP_EXEC_THREAD;
        job->child_sock = child_sock;
        job->child_pidfd = -1;
        sem_init(&job->done, 0, 0);
        sem_init(&job->go, 0, 0);

        r = pthread_attr_init(&attr);
        if (r == 0)
                r = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (r == 0)
                r = pthread_create(&t, &attr, puppet_thread, job);
        (void) pthread_attr_destroy(&attr);
        if (r != 0) {
                free(job);
                return -r;
        }
        while (sem_wait(&job->done) < 0)
                ;
        if (job->error < 0)
                return job->error;      /* the thread has exited; the job is leaked, the puppet is failing */
        *ret = job;
        return 0;
}

static int puppet_fork(int child_sock, const char *name, Msg *reply, int *ret_pidfd) {
        pid_t pid;
        int pidfd;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                puppet_child(child_sock, name);
        /* Nobody can reap the child before we do, so this pidfd is surely the child's. */
        pidfd = pidfd_open_(pid);
        if (pidfd < 0) {
                int r = -errno;

                (void) kill(pid, SIGKILL);
                return r;
        }
        reply->value = pid;
        *ret_pidfd = pidfd;
        return 0;
}

/* Handles one command; fills reply and ret_fd, sets *ret_job when a thread waits for the go-ahead. */
static int puppet_handle(const Msg *m, int fd, Msg *reply, int *ret_fd, ThreadJob **ret_job) {
        ThreadJob *job = NULL;
        int status, r;

        switch (m->op) {
        case OP_FORK:
                if (fd < 0)
                        return -EBADMSG;
                return puppet_fork(fd, m->name, reply, ret_fd);
        case OP_SETSID:
                reply->value = setsid();
                return reply->value < 0 ? -errno : 0;
        case OP_SUBREAPER:
                return prctl(PR_SET_CHILD_SUBREAPER, (unsigned long) !!m->value) < 0 ? -errno : 0;
        case OP_WAIT:
                if (waitpid((pid_t) m->value, &status, 0) < 0)
                        return -errno;
                reply->value = status;
                return 0;
        case OP_EXIT:
                return 0;
        case OP_THREAD_FORK:
        case OP_EXEC_THREAD:
                if ((m->op == OP_THREAD_FORK) != (fd >= 0))
                        return -EBADMSG;
                r = puppet_start_thread(m, fd, &job);
                if (r < 0)
                        return r;
                reply->tid = job->tid;
                reply->value = job->child;
                *ret_fd = job->child_pidfd;
                if (job->exec)
                        *ret_job = job;
                return 0;
        default:
                return -EOPNOTSUPP;
        }
}

static _Noreturn void puppet_main(int sock) {
        Msg hello = { .op = OP_HELLO, .pid = getpid(), .tid = gettid() };

        if (msg_send(sock, &hello, -1) < 0)
                _exit(EXIT_FAILURE);

        for (;;) {
                ThreadJob *job = NULL;
                int fd = -1, reply_fd = -1, r;
                Msg m, reply;

                r = msg_recv(sock, &m, NULL, &fd);
                if (r == -EINTR)
                        continue;
                if (r < 0)      /* EOF: treegen is gone, so are we */
                        _exit(r == -ECONNRESET ? EXIT_SUCCESS : EXIT_FAILURE);

                reply = (Msg) { .op = m.op, .pid = getpid(), .tid = gettid() };
                reply.error = puppet_handle(&m, fd, &reply, &reply_fd, &job);
                if (fd >= 0)
                        close(fd);      /* a child forked on it has its own copy by now */
                r = msg_send(sock, &reply, reply_fd);
                if (reply_fd >= 0)
                        close(reply_fd);
                if (r < 0)
                        _exit(EXIT_FAILURE);
                if (job)
                        sem_post(&job->go);
                if (m.op == OP_EXIT)
                        _exit((int) m.value);
        }
}

/* "__sleep NAME [FD]": the image a thread execs into (FD: become a puppet again), or a plain sleeper. */
static int run_sleep(int argc, char *argv[]) {
        sigset_t none;
        pid_t ppid;
        int32_t fd;
        struct stat st;

        if (argc < 3 || argc > 4) {
                log_error("Usage: lineage-treegen __sleep NAME [FD]");
                return EXIT_FAILURE;
        }
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        if (prctl(PR_SET_NAME, argv[2]) < 0) {
                log_error_errno(errno, "Failed to set comm: %m");
                return EXIT_FAILURE;
        }
        if (argc == 4) {
                if (safe_atoi32(argv[3], &fd) < 0 || fd < 0 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
                        log_error("__sleep: %s is not a socket file descriptor", argv[3]);
                        return EXIT_FAILURE;
                }
                puppet_main(fd);
        }

        ppid = getppid();
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != ppid)
                return EXIT_SUCCESS;
        for (;;)
                pause();
}

/* ---- the treegen side --------------------------------------------------------------------------------- */

static int emit(const char *fmt, ...) _printf_(1, 2);
static int emit(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        if (fflush(stdout) != 0 || ferror(stdout))
                return log_error_errno(errno ?: EIO, "Failed to write to stdout: %m");
        return 0;
}

/* Reads one pending signal: -ETIME for the setup timeout, -EINTR for a termination request, 0 otherwise. */
static int read_signal(void) {
        struct signalfd_siginfo si;
        ssize_t n;

        n = read(sigfd, &si, sizeof(si));
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if ((size_t) n != sizeof(si))
                return -EIO;
        switch (si.ssi_signo) {
        case SIGALRM:
                return -ETIME;
        case SIGTERM:
        case SIGINT:
        case SIGHUP:
                return -EINTR;
        default:
                return 0;
        }
}

static int log_signal_result(int r) {
        if (r == -ETIME)
                return log_error_errno(r, "Timed out while building the scenario.");
        if (r == -EINTR)
                return log_error_errno(r, "Interrupted by a signal while building the scenario.");
        return log_error_errno(r, "Failed to read signalfd: %m");
}

/* Consumes pending signals without waiting; for loops that may never need to wait. */
static int check_signals(void) {
        for (;;) {
                struct pollfd p = { .fd = sigfd, .events = POLLIN };
                int r;

                if (poll(&p, 1, 0) <= 0)
                        return 0;
                r = read_signal();
                if (r < 0)
                        return log_signal_result(r);
        }
}

/* Waits until fd has one of events (fd < 0: until SIGCHLD), or until the timeout or a termination signal. */
static int wait_fd(int fd, short events) {
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = sigfd, .events = POLLIN },
                        { .fd = fd, .events = events },
                };
                int r;

                if (poll(p, ELEMENTSOF(p), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "poll() failed: %m");
                }
                if (p[0].revents) {
                        r = read_signal();
                        if (r < 0)
                                return log_signal_result(r);
                        if (fd < 0)
                                return 0;
                }
                if (fd >= 0 && p[1].revents)
                        return 0;
        }
}

static int socket_pair(int ret[2]) {
        int one = 1;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ret) < 0)
                return log_error_errno(errno, "Failed to create a socket pair: %m");
        if (setsockopt(ret[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
                int r = -errno;

                close(ret[0]);
                close(ret[1]);
                return log_error_errno(r, "Failed to set SO_PASSCRED: %m");
        }
        return 0;
}

/* Takes ownership of pidfd and sock at once, so cleanup kills the process whatever happens next. */
static Proc *proc_add(const char *name, pid_t pid, int pidfd, int sock, bool child) {
        Proc *p;

        assert(n_procs < PROCS_MAX);
        p = &procs[n_procs++];
        *p = (Proc) { .pid = pid, .inner = pid, .pidfd = pidfd, .sock = sock, .child = child };
        snprintf(p->name, sizeof(p->name), "%s", name);
        return p;
}

/* Reads the pid a pidfd refers to, in the pid namespace of /proc, from its fdinfo. */
static int pidfd_get_pid(int pidfd, pid_t *ret) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        char path[64];
        size_t size = 0;
        int32_t v;

        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (getline(&line, &size, f) > 0) {
                if (strncmp(line, "Pid:", 4) != 0)
                        continue;
                line[strcspn(line, "\n")] = 0;
                if (safe_atoi32(line + 4 + strspn(line + 4, " \t"), &v) < 0)
                        return -EBADMSG;
                *ret = v;
                return 0;
        }
        return -ENOENT;
}

/* Parses the tab-separated numbers of "KEY:" in /proc/PID/status (e.g. PPid, NSpid, NSsid). */
static int status_numbers(pid_t pid, const char *key, pid_t *ret, size_t max, size_t *ret_n) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        char path[64];
        size_t size = 0, klen = strlen(key);

        snprintf(path, sizeof(path), "/proc/%d/status", pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (getline(&line, &size, f) > 0) {
                size_t n = 0;

                if (strncmp(line, key, klen) != 0 || line[klen] != ':')
                        continue;
                for (char *save, *s = strtok_r(line + klen + 1, " \t\n", &save); s; s = strtok_r(NULL, " \t\n", &save)) {
                        int32_t v;

                        if (n >= max)
                                return -E2BIG;
                        if (safe_atoi32(s, &v) < 0)
                                return -EBADMSG;
                        ret[n++] = v;
                }
                if (n == 0)
                        return -EBADMSG;
                *ret_n = n;
                return 0;
        }
        return -ENOENT;
}

static int status_first(pid_t pid, const char *key, pid_t *ret) {
        pid_t v[8];
        size_t n;
        int r;

        r = status_numbers(pid, key, v, ELEMENTSOF(v), &n);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s of pid %d from /proc: %m", key, pid);
        *ret = v[0];
        return 0;
}

/* Receives the HELLO a new puppet sends, learns its pids, and (if announce) prints "NAME PID". */
static int proc_hello(Proc *p, bool announce) {
        struct ucred cred;
        pid_t pidfd_pid = 0;
        Msg m;
        int r;

        r = wait_fd(p->sock, POLLIN);
        if (r < 0)
                return r;
        r = msg_recv(p->sock, &m, &cred, NULL);
        if (r == -ECONNRESET)
                return log_error_errno(EIO, "%s exited before it started.", p->name);
        if (r < 0)
                return log_error_errno(r, "Failed to receive from %s: %m", p->name);
        if (m.op != OP_HELLO)
                return log_error_errno(EBADMSG, "%s sent %d instead of its start message.", p->name, m.op);
        if (m.error < 0)
                return log_error_errno(m.error, "%s failed to start: %m", p->name);

        r = pidfd_get_pid(p->pidfd, &pidfd_pid);
        if (r < 0)
                return log_error_errno(r, "Failed to read the pid of %s's pidfd: %m", p->name);
        if (pidfd_pid != cred.pid)
                return log_error_errno(ESRCH, "%s: pidfd refers to pid %d, but the sender is pid %d.",
                                       p->name, pidfd_pid, cred.pid);
        p->pid = cred.pid;
        p->inner = m.pid;
        if (!announce)
                return 0;
        return emit("%s %d", p->name, p->pid);
}

/* Sends a command and waits for the reply to it; ret_fd (optional) gets a passed fd. */
static int proc_call(Proc *p, const Msg *m, int fd, Msg *ret, int *ret_fd) {
        Msg reply;
        int r;

        r = msg_send(p->sock, m, fd);
        if (r < 0)
                return log_error_errno(r, "Failed to send a command to %s: %m", p->name);
        r = wait_fd(p->sock, POLLIN);
        if (r < 0)
                return r;
        r = msg_recv(p->sock, &reply, NULL, ret_fd);
        if (r == -ECONNRESET)
                return log_error_errno(EIO, "%s died while asked to %s.", p->name, op_to_string(m->op));
        if (r < 0)
                return log_error_errno(r, "Failed to receive from %s: %m", p->name);
        if (reply.op != m->op || reply.error < 0) {
                if (ret_fd && *ret_fd >= 0)
                        close(TAKE_FD(*ret_fd));
                if (reply.op != m->op)
                        return log_error_errno(EBADMSG, "%s answered %d to %d.", p->name, reply.op, m->op);
                return log_error_errno(reply.error, "%s failed to %s: %m", p->name, op_to_string(m->op));
        }
        if (ret)
                *ret = reply;
        return 0;
}

static int proc_simple(Proc *p, int op, int64_t value, Msg *ret) {
        Msg m = { .op = op, .value = value };

        return proc_call(p, &m, -1, ret, NULL);
}

/* Forks a puppet from treegen itself. */
static int proc_spawn(const char *name, Proc **ret) {
        int sv[2], pidfd, r;
        pid_t pid;
        Proc *p;

        r = socket_pair(sv);
        if (r < 0)
                return r;
        fflush(stdout);
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(sv[0]);
                close(sv[1]);
                return log_error_errno(r, "Failed to fork %s: %m", name);
        }
        if (pid == 0)
                puppet_child(sv[1], name);
        close(sv[1]);
        pidfd = pidfd_open_(pid);
        if (pidfd < 0) {
                r = -errno;
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                close(sv[0]);
                return log_error_errno(r, "Failed to open a pidfd for %s: %m", name);
        }
        p = proc_add(name, pid, pidfd, sv[0], true);
        r = proc_hello(p, true);
        if (r < 0)
                return r;
        *ret = p;
        return 0;
}

/* Asks parent to fork a puppet (op OP_FORK), or to start thread tname that forks it (OP_THREAD_FORK). */
static int proc_fork_full(Proc *parent, int op, const char *tname, const char *name, pid_t *ret_tid, Proc **ret) {
        Msg m = { .op = op }, reply;
        int sv[2], pidfd = -1, r;
        Proc *p;

        snprintf(m.name, sizeof(m.name), "%s", op == OP_FORK ? name : tname);
        snprintf(m.name2, sizeof(m.name2), "%s", name);
        r = socket_pair(sv);
        if (r < 0)
                return r;
        r = proc_call(parent, &m, sv[1], &reply, &pidfd);
        close(sv[1]);
        if (r < 0) {
                close(sv[0]);
                return r;
        }
        if (pidfd < 0) {
                close(sv[0]);
                return log_error_errno(EBADMSG, "%s did not pass a pidfd for %s.", parent->name, name);
        }
        p = proc_add(name, -1, pidfd, sv[0], false);
        if (ret_tid) {
                *ret_tid = reply.tid;
                r = emit("%s %d", tname, reply.tid);
                if (r < 0)
                        return r;
        }
        r = proc_hello(p, true);
        if (r < 0)
                return r;
        *ret = p;
        return 0;
}

static int proc_fork(Proc *parent, const char *name, Proc **ret) {
        return proc_fork_full(parent, OP_FORK, NULL, name, NULL, ret);
}

static int proc_setsid(Proc *p) {
        return proc_simple(p, OP_SETSID, 0, NULL);
}

static int proc_subreaper(Proc *p, bool b) {
        return proc_simple(p, OP_SUBREAPER, b, NULL);
}

/* Makes p exit with status and returns once it has exited (is a zombie or gone). */
static int proc_exit(Proc *p, int status) {
        int r;

        r = proc_simple(p, OP_EXIT, status, NULL);
        if (r < 0)
                return r;
        return wait_fd(p->pidfd, POLLIN);
}

/* Reaps p, which has exited: treegen's own child directly, anyone else by its parent puppet. */
static int proc_reap(Proc *parent, Proc *p, int *ret_status) {
        Msg reply;
        int status, r;

        if (!parent) {
                assert(p->child);
                r = waitpid(p->pid, &status, WNOHANG);
                if (r < 0)
                        return log_error_errno(errno, "Failed to reap %s: %m", p->name);
                if (r == 0)
                        return log_error_errno(EBUSY, "%s has not exited.", p->name);
        } else {
                r = proc_simple(parent, OP_WAIT, p->inner, &reply);
                if (r < 0)
                        return r;
                status = (int) reply.value;
        }
        p->reaped = true;
        if (ret_status)
                *ret_status = status;
        return 0;
}

/* Checks that p's pid inside its namespace is expected, from both its own word and /proc's NSpid. */
static int proc_check_inner(Proc *p, pid_t expected) {
        pid_t v[8];
        size_t n;
        int r;

        r = status_numbers(p->pid, "NSpid", v, ELEMENTSOF(v), &n);
        if (r < 0)
                return log_error_errno(r, "Failed to read NSpid of %s: %m", p->name);
        if (n < 2 || v[0] != p->pid || v[n - 1] != expected || p->inner != expected)
                return log_error_errno(EBADMSG, "%s: expected inner pid %d, got %d (NSpid ends with %d, %zu levels).",
                                       p->name, expected, p->inner, v[n - 1], n);
        return 0;
}

static int check_ppid(Proc *p, pid_t expected, pid_t *ret) {
        pid_t ppid = 0;
        int r;

        r = status_first(p->pid, "PPid", &ppid);
        if (r < 0)
                return r;
        if (expected > 0 && ppid != expected)
                return log_error_errno(EBADMSG, "%s (pid %d): PPid is %d, expected %d.", p->name, p->pid, ppid, expected);
        if (ret)
                *ret = ppid;
        return 0;
}

static int check_sid(Proc *p, pid_t expected) {
        pid_t sid = 0;
        int r;

        r = status_first(p->pid, "NSsid", &sid);
        if (r < 0)
                return r;
        if (sid != expected)
                return log_error_errno(EBADMSG, "%s (pid %d): session is %d, expected %d.", p->name, p->pid, sid, expected);
        return 0;
}

/* ---- scenarios ----------------------------------------------------------------------------------------- */

static int scenario_chain(_unused_ const char *arg) {
        Proc *a, *b, *c;
        int r;

        r = proc_spawn("chain-a", &a);
        if (r >= 0)
                r = proc_fork(a, "chain-b", &b);
        if (r >= 0)
                r = proc_fork(b, "chain-c", &c);
        if (r >= 0)
                r = check_ppid(c, b->pid, NULL);
        return r;
}

static int scenario_double_fork(_unused_ const char *arg) {
        Proc *p, *c, *d;
        pid_t ppid;
        int r;

        r = proc_spawn("df-parent", &p);
        if (r < 0)
                return r;
        r = proc_fork(p, "df-child", &c);
        if (r < 0)
                return r;
        r = proc_setsid(c);
        if (r < 0)
                return r;
        r = proc_fork(c, "df-daemon", &d);
        if (r < 0)
                return r;
        r = proc_exit(c, 0);
        if (r < 0)
                return r;
        r = proc_reap(p, c, NULL);
        if (r < 0)
                return r;
        r = proc_exit(p, 0);
        if (r < 0)
                return r;
        r = proc_reap(NULL, p, NULL);
        if (r < 0)
                return r;
        r = check_ppid(d, 0, &ppid);
        if (r < 0)
                return r;
        if (ppid == c->pid || ppid == p->pid)
                return log_error_errno(EBADMSG, "df-daemon was not reparented (PPid %d).", ppid);
        return emit("df-daemon-ppid %d", ppid);
}

static int scenario_subreaper(_unused_ const char *arg) {
        Proc *rp, *m, *o;
        int r;

        r = proc_spawn("sr-reaper", &rp);
        if (r < 0)
                return r;
        r = proc_subreaper(rp, true);
        if (r < 0)
                return r;
        r = proc_fork(rp, "sr-middle", &m);
        if (r < 0)
                return r;
        r = proc_fork(m, "sr-orphan", &o);
        if (r < 0)
                return r;
        r = proc_exit(m, 0);
        if (r < 0)
                return r;
        r = proc_reap(rp, m, NULL);
        if (r < 0)
                return r;
        r = check_ppid(o, rp->pid, NULL);
        if (r < 0)
                return r;
        return emit("sr-orphan-ppid %d", rp->pid);
}

static int scenario_setsid(_unused_ const char *arg) {
        Proc *s1, *s2, *s3;
        int r;

        r = proc_spawn("ss-leader1", &s1);
        if (r < 0)
                return r;
        r = proc_setsid(s1);
        if (r < 0)
                return r;
        r = proc_fork(s1, "ss-leader2", &s2);
        if (r < 0)
                return r;
        r = proc_setsid(s2);
        if (r < 0)
                return r;
        r = proc_fork(s2, "ss-member", &s3);
        if (r < 0)
                return r;
        r = check_sid(s1, s1->pid);
        if (r >= 0)
                r = check_sid(s2, s2->pid);
        if (r >= 0)
                r = check_sid(s3, s2->pid);
        return r;
}

static int scenario_threads(_unused_ const char *arg) {
        static const char *const names[][2] = { { "th-thread1", "th-child1" }, { "th-thread2", "th-child2" } };
        char path[64];
        Proc *t, *c;
        pid_t tid;
        int r;

        r = proc_spawn("th-proc", &t);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                r = proc_fork_full(t, OP_THREAD_FORK, names[i][0], names[i][1], &tid, &c);
                if (r < 0)
                        return r;
                snprintf(path, sizeof(path), "/proc/%d/task/%d", t->pid, tid);
                if (tid == t->pid || access(path, F_OK) < 0)
                        return log_error_errno(ESRCH, "%s (tid %d) is not a thread of th-proc.", names[i][0], tid);
                r = check_ppid(c, t->pid, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* After E's non-leader thread exec'd: E keeps its pid, has the new cmdline, and the thread's tid is gone. */
static int check_exec_thread(Proc *e, pid_t tid) {
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], buf[256] = {};
        size_t n;

        snprintf(path, sizeof(path), "/proc/%d/cmdline", e->pid);
        f = fopen(path, "re");
        if (!f)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        if (n == 0 || strlen(buf) + 1 >= n || !streq(buf + strlen(buf) + 1, "__sleep"))
                return log_error_errno(EBADMSG, "et-proc (pid %d) does not run the new image.", e->pid);
        snprintf(path, sizeof(path), "/proc/%d/task/%d", e->pid, tid);
        if (access(path, F_OK) >= 0)
                return log_error_errno(EBADMSG, "et-thread (tid %d) still exists after the exec.", tid);
        return 0;
}

static int scenario_exec_thread(_unused_ const char *arg) {
        Msg m = { .op = OP_EXEC_THREAD, .name = "et-thread", .name2 = "et-proc" }, reply;
        pid_t pid;
        Proc *e;
        int r;

        r = proc_spawn("et-proc", &e);
        if (r < 0)
                return r;
        pid = e->pid;
        r = proc_call(e, &m, -1, &reply, NULL);
        if (r < 0)
                return r;
        r = emit("et-thread %d", reply.tid);
        if (r < 0)
                return r;
        /* The new image says HELLO on the same control socket, which it kept across the exec. */
        r = proc_hello(e, false);
        if (r < 0)
                return r;
        if (e->pid != pid || e->inner != pid)
                return log_error_errno(EBADMSG, "After the exec, et-proc is pid %d, not %d.", e->pid, pid);
        return check_exec_thread(e, reply.tid);
}

/* The "complex sessions" tree of the kernel's CABA selftest, built for real in a new pid namespace. */
static int scenario_complex_sessions(_unused_ const char *arg) {
        /* 1 forks 2, 2 calls setsid, 2 forks 3, 3 forks 4, 4 forks 5. */
        static const struct { int parent, child; } forks[] = { { 1, 2 }, { 2, 3 }, { 3, 4 }, { 4, 5 } };
        /* The final tree by PPid: 1 -> {2 -> 7, 4 -> 5}. */
        static const struct { int n, parent; } tree[] = { { 2, 1 }, { 4, 1 }, { 5, 4 }, { 7, 2 } };
        Proc *p[8] = {};
        pid_t ppid;
        int r;

        /* Our next child becomes pid 1 of a new namespace; treegen never forks anything else here. */
        if (unshare(CLONE_NEWPID) < 0) {
                r = -errno;
                if (r == -EPERM || r == -EINVAL || r == -ENOSYS)
                        return log_error_errno(EOPNOTSUPP, "Cannot create a pid namespace (%s), skipping.", strerror(-r));
                return log_error_errno(r, "Failed to create a pid namespace: %m");
        }

        r = proc_spawn("cs-1", &p[1]);
        if (r < 0)
                return r;
        r = proc_check_inner(p[1], 1);
        if (r < 0)
                return r;
        r = proc_setsid(p[1]);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(forks); i++) {
                char name[8];
                int c = forks[i].child;

                snprintf(name, sizeof(name), "cs-%d", c);
                r = proc_fork(p[forks[i].parent], name, &p[c]);
                if (r < 0)
                        return r;
                r = proc_check_inner(p[c], c);
                if (r < 0)
                        return r;
                if (c == 2) {
                        r = proc_setsid(p[2]);
                        if (r < 0)
                                return r;
                }
        }
        /* 4 calls setsid, 4 forks 6, 6 forks 7. */
        r = proc_setsid(p[4]);
        if (r < 0)
                return r;
        r = proc_fork(p[4], "cs-6", &p[6]);
        if (r >= 0)
                r = proc_check_inner(p[6], 6);
        if (r >= 0)
                r = proc_fork(p[6], "cs-7", &p[7]);
        if (r >= 0)
                r = proc_check_inner(p[7], 7);
        if (r < 0)
                return r;
        /* 2 becomes a subreaper, 6 exits (7 goes to 2), 2 stops being one, 3 exits (4 goes to 1). */
        r = proc_subreaper(p[2], true);
        if (r >= 0)
                r = proc_exit(p[6], 0);
        if (r >= 0)
                r = check_ppid(p[7], p[2]->pid, NULL);
        if (r >= 0)
                r = proc_reap(p[4], p[6], NULL);
        if (r >= 0)
                r = proc_subreaper(p[2], false);
        if (r >= 0)
                r = proc_exit(p[3], 0);
        if (r >= 0)
                r = proc_reap(p[2], p[3], NULL);
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(tree); i++) {
                r = check_ppid(p[tree[i].n], p[tree[i].parent]->pid, &ppid);
                if (r < 0)
                        return r;
                r = emit("cs-ppid-%d %d", tree[i].n, ppid);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int scenario_exit_codes(_unused_ const char *arg) {
        Proc *seven, *killed;
        int status, r;

        r = proc_spawn("ec-seven", &seven);
        if (r >= 0)
                r = proc_exit(seven, 7);
        if (r >= 0)
                r = proc_reap(NULL, seven, &status);
        if (r < 0)
                return r;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 7)
                return log_error_errno(EBADMSG, "ec-seven ended with wait status 0x%x.", (unsigned) status);
        r = emit("ec-seven-exit %d", WEXITSTATUS(status));
        if (r < 0)
                return r;

        r = proc_spawn("ec-killed", &killed);
        if (r < 0)
                return r;
        if (pidfd_kill(killed->pidfd, SIGKILL) < 0)
                return log_error_errno(errno, "Failed to kill ec-killed: %m");
        r = wait_fd(killed->pidfd, POLLIN);
        if (r >= 0)
                r = proc_reap(NULL, killed, &status);
        if (r < 0)
                return r;
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
                return log_error_errno(EBADMSG, "ec-killed ended with wait status 0x%x.", (unsigned) status);
        return emit("ec-killed-signal %d", WTERMSIG(status));
}

static void churn_abort(pid_t *inflight, size_t n) {
        /* Our unreaped children: their pids cannot have been reused. */
        for (size_t i = 0; i < n; i++) {
                (void) kill(inflight[i], SIGKILL);
                (void) waitpid(inflight[i], NULL, 0);
        }
}

static int churn_run(uint64_t total, const posix_spawnattr_t *attr) {
        char *argv[] = { (char *) "true", NULL };
        pid_t inflight[CHURN_PARALLEL];
        size_t n_inflight = 0;
        uint64_t started = 0, finished = 0;
        int r;

        while (finished < total) {
                pid_t pid;
                int status;

                /* With children exiting all the time we may never wait below, so look for SIGALRM here. */
                r = check_signals();
                if (r < 0) {
                        churn_abort(inflight, n_inflight);
                        return r;
                }
                while (started < total && n_inflight < CHURN_PARALLEL) {
                        r = posix_spawn(&pid, "/bin/true", NULL, attr, argv, environ);
                        if (r != 0) {
                                churn_abort(inflight, n_inflight);
                                return log_error_errno(r, "Failed to spawn /bin/true: %m");
                        }
                        inflight[n_inflight++] = pid;
                        started++;
                }
                pid = waitpid(-1, &status, WNOHANG);
                if (pid < 0) {
                        r = -errno;
                        churn_abort(inflight, n_inflight);
                        return log_error_errno(r, "waitpid() failed: %m");
                }
                if (pid == 0) {
                        r = wait_fd(-1, 0);     /* until SIGCHLD */
                        if (r < 0) {
                                churn_abort(inflight, n_inflight);
                                return r;
                        }
                        continue;
                }
                for (size_t i = 0; i < n_inflight; i++)
                        if (inflight[i] == pid) {
                                inflight[i] = inflight[--n_inflight];
                                break;
                        }
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        churn_abort(inflight, n_inflight);
                        return log_error_errno(EBADMSG, "/bin/true (pid %d) failed with wait status 0x%x.",
                                               pid, (unsigned) status);
                }
                finished++;
        }
        return 0;
}

static int scenario_churn(const char *arg) {
        posix_spawnattr_t attr;
        sigset_t none, dfl;
        uint64_t total;
        int r;

        if (!arg || safe_atou64(arg, &total) < 0 || total == 0 || total > CHURN_MAX)
                return log_error_errno(EINVAL, "churn needs a count between 1 and %llu.", CHURN_MAX);

        sigemptyset(&none);
        sigemptyset(&dfl);
        sigaddset(&dfl, SIGPIPE);
        r = posix_spawnattr_init(&attr);
        if (r == 0)
                r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &dfl);
        if (r != 0) {
                (void) posix_spawnattr_destroy(&attr);
                return log_error_errno(r, "Failed to set up posix_spawn attributes: %m");
        }
        r = churn_run(total, &attr);
        (void) posix_spawnattr_destroy(&attr);
        if (r < 0)
                return r;
        return emit("churn-done %" PRIu64, total);
}

typedef struct Scenario {
        const char *name;
        bool takes_arg;
        int (*run)(const char *arg);
} Scenario;

static const Scenario scenarios[] = {
        { "chain", false, scenario_chain },
        { "double-fork", false, scenario_double_fork },
        { "subreaper", false, scenario_subreaper },
        { "setsid", false, scenario_setsid },
        { "threads", false, scenario_threads },
        { "exec-thread", false, scenario_exec_thread },
        { "complex-sessions", false, scenario_complex_sessions },
        { "exit-codes", false, scenario_exit_codes },
        { "churn", true, scenario_churn },
};

/* ---- hold and cleanup ---------------------------------------------------------------------------------- */

/* Keeps everything alive until stdin EOF (if watched), hold_sec passes (if >= 0), a termination signal,
 * or the reader of stdout goes away. */
static void hold(int64_t hold_sec, bool watch_stdin) {
        uint64_t deadline = hold_sec >= 0 ? now_usec(CLOCK_MONOTONIC) + (uint64_t) hold_sec * USEC_PER_SEC : 0;

        for (;;) {
                struct pollfd p[3] = {
                        { .fd = sigfd, .events = POLLIN },
                        { .fd = STDOUT_FILENO, .events = 0 },   /* POLLERR: a pipe's reader is gone */
                        { .fd = watch_stdin ? STDIN_FILENO : -1, .events = POLLIN },
                };
                int timeout = -1, n;

                if (hold_sec >= 0) {
                        uint64_t t = now_usec(CLOCK_MONOTONIC);

                        if (t >= deadline)
                                return;
                        timeout = (int) MIN((deadline - t + USEC_PER_MSEC - 1) / USEC_PER_MSEC, (uint64_t) INT32_MAX);
                }
                n = poll(p, ELEMENTSOF(p), timeout);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        log_error_errno(errno, "poll() failed, finishing: %m");
                        return;
                }
                if (p[0].revents && read_signal() == -EINTR)
                        return;
                if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL))
                        return;
                if (p[2].revents) {
                        char buf[256];
                        ssize_t k = read(STDIN_FILENO, buf, sizeof(buf));

                        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
                                return;
                }
        }
}

/* Kills everything treegen made, wherever it was reparented to, and waits until it is all gone. */
static int cleanup(void) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + CLEANUP_TIMEOUT_USEC;
        int r = 0;

        /* Orphans of our own subtree now come back to us instead of init, so we can reap them. */
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1UL);

        for (size_t i = 0; i < n_procs; i++)
                if (pidfd_kill(procs[i].pidfd, SIGKILL) < 0 && errno != ESRCH)
                        log_warning_errno(errno, "Failed to kill %s (pid %d), ignoring: %m", procs[i].name, procs[i].pid);
        /* Puppets that never said HELLO see EOF on their control socket and exit. */
        for (size_t i = 0; i < n_procs; i++)
                if (procs[i].sock >= 0)
                        close(TAKE_FD(procs[i].sock));

        for (size_t i = 0; i < n_procs; i++) {
                struct pollfd p = { .fd = procs[i].pidfd, .events = POLLIN };
                uint64_t t = now_usec(CLOCK_MONOTONIC);
                int n;

                n = poll(&p, 1, t >= deadline ? 0 : (int) ((deadline - t) / USEC_PER_MSEC));
                if (n < 0 && errno == EINTR) {
                        i--;
                        continue;
                }
                if (n <= 0) {
                        r = log_error_errno(n < 0 ? errno : ETIME, "%s (pid %d) did not go away: %m",
                                            procs[i].name, procs[i].pid);
                        break;
                }
        }

        for (;;) {
                pid_t pid = waitpid(-1, NULL, WNOHANG);

                if (pid > 0)
                        continue;
                if (pid < 0 && errno == ECHILD)
                        break;
                if (pid < 0 && errno != EINTR) {
                        r = log_error_errno(errno, "waitpid() failed: %m");
                        break;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                        r = log_error_errno(ETIME, "Timed out waiting for child processes to exit.");
                        break;
                }
                (void) poll(NULL, 0, 10);
        }

        for (size_t i = 0; i < n_procs; i++)
                close(TAKE_FD(procs[i].pidfd));
        n_procs = 0;
        return r;
}

/* ---- main ------------------------------------------------------------------------------------------------ */

static void help(void) {
        printf("Usage: lineage-treegen SCENARIO [ARG] [--hold=SECONDS] [--timeout=SECONDS]\n"
               "Builds a real process tree, prints \"NAME PID\" lines, READY, holds it, kills it, prints DONE.\n"
               "Scenarios:");
        for (size_t i = 0; i < ELEMENTSOF(scenarios); i++)
                printf(" %s%s", scenarios[i].name, scenarios[i].takes_arg ? " N" : "");
        printf("\nSee tests/helpers/README.md.\n");
}

static int parse_seconds(const char *s, int64_t *ret) {
        int32_t v;

        if (safe_atoi32(s, &v) < 0 || v < 0)
                return log_error_errno(EINVAL, "Invalid number of seconds: %s", s);
        *ret = v;
        return 0;
}

static int ensure_std_fds(void) {
        for (int fd = 0; fd < 3; fd++) {
                int k;

                if (fcntl(fd, F_GETFD) >= 0)
                        continue;
                k = open("/dev/null", O_RDWR);
                if (k < 0)
                        return -errno;
                if (k != fd)
                        return -EBADF;
        }
        return 0;
}

static int setup_signals(void) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGALRM);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sigfd < 0)
                return log_error_errno(errno, "Failed to create signalfd: %m");
        /* A reader of stdout that went away must not kill us before we clean up. */
        (void) signal(SIGPIPE, SIG_IGN);
        return 0;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "hold", required_argument, NULL, 'H' },
                { "timeout", required_argument, NULL, 'T' },
                {}
        };
        const Scenario *scenario = NULL;
        const char *arg = NULL;
        int64_t hold_sec = -1, timeout_sec = SETUP_TIMEOUT_SEC_DEFAULT;
        bool watch_stdin;
        struct stat st;
        int c, r, k;

        log_setup();
        if (argc >= 2 && streq(argv[1], "__sleep"))
                return run_sleep(argc, argv);

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'H':
                        if (parse_seconds(optarg, &hold_sec) < 0)
                                return EXIT_FAILURE;
                        break;
                case 'T':
                        if (parse_seconds(optarg, &timeout_sec) < 0)
                                return EXIT_FAILURE;
                        break;
                default:
                        return EXIT_FAILURE;
                }
        if (optind >= argc) {
                log_error("No scenario given; try --help.");
                return EXIT_FAILURE;
        }
        for (size_t i = 0; i < ELEMENTSOF(scenarios); i++)
                if (streq(scenarios[i].name, argv[optind]))
                        scenario = &scenarios[i];
        if (!scenario) {
                log_error("Unknown scenario: %s; try --help.", argv[optind]);
                return EXIT_FAILURE;
        }
        if (argc - optind != 1 + scenario->takes_arg) {
                log_error("Scenario %s takes %s argument.", scenario->name, scenario->takes_arg ? "one" : "no");
                return EXIT_FAILURE;
        }
        arg = scenario->takes_arg ? argv[optind + 1] : NULL;

        r = ensure_std_fds();
        if (r < 0) {
                log_error_errno(r, "Failed to open standard file descriptors: %m");
                return EXIT_FAILURE;
        }
        /* Without --hold, stdin EOF ends the hold. With --hold, only a pipe or socket on stdin is watched, so
         * "lineage-treegen chain --hold=60 &" works in a script, where stdin is /dev/null. */
        watch_stdin = hold_sec < 0 ||
                      (fstat(STDIN_FILENO, &st) >= 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)));
        if (setup_signals() < 0)
                return EXIT_FAILURE;
        /* The double-fork scenario must see its daemon go to the real reaper, not to us. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 0UL) < 0)
                log_warning_errno(errno, "Failed to clear the child subreaper flag, ignoring: %m");
        if (timeout_sec > 0)
                alarm((unsigned) timeout_sec);

        r = scenario->run(arg);
        if (r >= 0)
                r = emit("READY");
        alarm(0);
        if (r >= 0)
                hold(hold_sec, watch_stdin);

        k = cleanup();
        if (r < 0)
                return r == -EOPNOTSUPP ? EXIT_SKIP : EXIT_FAILURE;
        if (k < 0 || emit("DONE") < 0)
                return EXIT_FAILURE;
        return EXIT_SUCCESS;
}
