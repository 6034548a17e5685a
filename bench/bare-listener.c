/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bare-listener: the naive floor of a proc connector monitor. Subscribes to every event (plain form),
 * blocks in recv() once per message and only counts. Prints "ready" once subscribed; on SIGTERM or
 * SIGINT prints "events=N lost=L enobufs=E" (lost: per-CPU sequence gaps) and exits.
 *
 *   bare-listener [RCVBUF_BYTES]     (default: the kernel's default receive buffer)
 * BARE_DEBUG=1 in the environment prints each sequence gap to stderr. */
#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CPUS 4096

static volatile sig_atomic_t stop;

static void on_stop(int sig) {
        stop = 1;
}

static int send_op(int fd, enum proc_cn_mcast_op op) {
        struct {
                struct nlmsghdr nl;
                struct cn_msg cn;
                enum proc_cn_mcast_op op;
        } __attribute__((packed)) m = {
                .nl = { .nlmsg_len = sizeof(m), .nlmsg_type = NLMSG_DONE, .nlmsg_pid = (uint32_t) getpid() },
                .cn = { .id = { .idx = CN_IDX_PROC, .val = CN_VAL_PROC }, .len = sizeof(enum proc_cn_mcast_op) },
                .op = op,
        };

        return send(fd, &m, sizeof(m), 0) == (ssize_t) sizeof(m) ? 0 : -1;
}

int main(int argc, char **argv) {
        static uint32_t last_seq[MAX_CPUS];
        static uint8_t seen[MAX_CPUS];
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = (uint32_t) getpid() };
        struct sigaction act = { .sa_handler = on_stop }; /* no SA_RESTART: recv() returns EINTR */
        uint64_t events = 0, lost = 0, enobufs = 0;
        char buf[4096] __attribute__((aligned(NLMSG_ALIGNTO)));
        int fd;

        sigaction(SIGTERM, &act, NULL);
        sigaction(SIGINT, &act, NULL);
        fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                fprintf(stderr, "bare-listener: socket: %s\n", strerror(errno));
                return 1;
        }
        if (argc > 1) {
                int size = atoi(argv[1]);

                if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
                        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        }
        if (send_op(fd, PROC_CN_MCAST_LISTEN) < 0) {
                fprintf(stderr, "bare-listener: subscribe: %s\n", strerror(errno));
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        while (!stop) {
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                struct nlmsghdr *nl = (struct nlmsghdr *) buf;

                if (n < 0) {
                        if (errno == ENOBUFS)
                                enobufs++;
                        else if (errno != EINTR) {
                                fprintf(stderr, "bare-listener: recv: %s\n", strerror(errno));
                                return 1;
                        }
                        continue;
                }
                for (; NLMSG_OK(nl, (size_t) n); nl = NLMSG_NEXT(nl, n)) {
                        struct cn_msg *cn = NLMSG_DATA(nl);
                        struct proc_event *ev = (struct proc_event *) cn->data;
                        uint32_t cpu;

                        if (nl->nlmsg_len < NLMSG_LENGTH(sizeof(*cn) + sizeof(*ev)) - sizeof(ev->event_data) ||
                            ev->what == PROC_EVENT_NONE)
                                continue;
                        events++;
                        cpu = ev->cpu < MAX_CPUS ? ev->cpu : MAX_CPUS - 1;
                        if (seen[cpu] && cn->seq != last_seq[cpu] + 1) {
                                if (getenv("BARE_DEBUG"))
                                        fprintf(stderr, "gap cpu %u: %u -> %u (what 0x%x)\n", cpu, last_seq[cpu], cn->seq, ev->what);
                                lost += cn->seq - last_seq[cpu] - 1;
                        }
                        seen[cpu] = 1;
                        last_seq[cpu] = cn->seq;
                }
        }
        (void) send_op(fd, PROC_CN_MCAST_IGNORE);
        printf("events=%llu lost=%llu enobufs=%llu\n", (unsigned long long) events, (unsigned long long) lost,
               (unsigned long long) enobufs);
        return 0;
}
