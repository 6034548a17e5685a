/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* query-bench: latency of one varlink method of lineaged, call after call on one connection.
 *
 *   query-bench SOCKET METHOD PARAMS_FILE [CALLS] [WARMUP] [CALLS_PER_CONNECTION]
 *
 * CALLS_PER_CONNECTION (default 32, 0 = one connection for everything): reconnect (outside the timed
 * part) after that many calls. Before d47241f lineaged's varlink server could leave a client that sends
 * its next call as soon as a reply arrives waiting forever after ~64 calls on one connection; the
 * default still reconnects, so that figures stay comparable with older runs.
 *
 * PARAMS_FILE holds one JSON object per line (the call's parameters); call k uses line k mod lines.
 * Each call is timed from the first byte sent to the reply's terminating NUL. Replies are parsed (after
 * the clock stopped) and counted as errors when they carry "error"; a call unanswered for 30 s fails
 * the run (exit 3). Prints one line:
 *   query method=M calls=N errors=E p50_us=.. p90_us=.. p99_us=.. max_us=.. mean_us=.. reply_bytes=..
 *   items=..   (items: the largest descendants/ancestors/processes array seen) */
#include <errno.h>
#include <signal.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "latency.h"

static void die(const char *what) {
        fprintf(stderr, "query-bench: %s: %s\n", what, strerror(errno));
        exit(1);
}

static const char *current; /* the call waiting for its reply */
static long current_k;

static void on_alarm(int sig) {
        char msg[512];
        int n = snprintf(msg, sizeof(msg), "query-bench: no reply within 30 s to call %ld: %.300s\n", current_k, current);

        (void) !write(STDERR_FILENO, msg, (size_t) n);
        _exit(3);
}

static char *buf;
static size_t buf_size, buf_len; /* bytes held; a reply ends at the first NUL */

/* Reads one NUL-terminated reply; returns its length (without the NUL); leftover bytes stay. */
static size_t read_reply(int fd) {
        size_t scanned = 0;

        for (;;) {
                char *z = memchr(buf + scanned, 0, buf_len - scanned);
                ssize_t n;

                if (z)
                        return (size_t) (z - buf);
                scanned = buf_len;
                if (buf_size - buf_len < 65536) {
                        buf_size = buf_size * 2 + 65536;
                        buf = realloc(buf, buf_size);
                        if (!buf)
                                die("realloc");
                }
                n = read(fd, buf + buf_len, buf_size - buf_len);
                if (n == 0) {
                        fprintf(stderr, "query-bench: the daemon closed the connection\n");
                        exit(1);
                }
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        die("read");
                }
                buf_len += (size_t) n;
        }
}

static void send_all(int fd, const char *p, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        die("write");
                }
                p += n;
                len -= (size_t) n;
        }
}

int main(int argc, char **argv) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char **msgs = NULL, *line = NULL;
        size_t n_msgs = 0, cap = 0, line_size = 0, bytes = 0, items = 0;
        long calls, warmup, per_conn, on_conn = 0;
        uint64_t *lat, sum = 0;
        unsigned errors = 0;
        FILE *f;
        int fd;

        if (argc < 4) {
                fprintf(stderr, "usage: query-bench SOCKET METHOD PARAMS_FILE [CALLS] [WARMUP]\n");
                return 2;
        }
        calls = argc > 4 ? atol(argv[4]) : 20000;
        warmup = argc > 5 ? atol(argv[5]) : 100;
        per_conn = argc > 6 ? atol(argv[6]) : 32;
        if (calls < 1 || warmup < 0 || per_conn < 0)
                return 2;

        f = fopen(argv[3], "re");
        if (!f)
                die(argv[3]);
        while (getline(&line, &line_size, f) > 0) {
                size_t l = strcspn(line, "\n");
                char *m;

                if (l == 0)
                        continue;
                line[l] = 0;
                if (asprintf(&m, "{\"method\":\"org.lineaged.Lineage.%s\",\"parameters\":%s}", argv[2], line) < 0)
                        die("asprintf");
                if (n_msgs == cap) {
                        cap = cap ? cap * 2 : 1024;
                        msgs = realloc(msgs, cap * sizeof(char *));
                        if (!msgs)
                                die("realloc");
                }
                msgs[n_msgs++] = m;
        }
        fclose(f);
        free(line);
        if (n_msgs == 0) {
                fprintf(stderr, "query-bench: no parameters in %s\n", argv[3]);
                return 1;
        }

        if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "query-bench: socket path too long\n");
                return 1;
        }
        strcpy(sa.sun_path, argv[1]);
        fd = -1;

        signal(SIGALRM, on_alarm);
        lat = calloc((size_t) calls, sizeof(uint64_t));
        if (!lat)
                die("calloc");
        for (long k = -warmup; k < calls; k++) {
                const char *m = msgs[(size_t) (k + warmup) % n_msgs];
                uint64_t t0, t;
                size_t len;

                if (fd < 0 || (per_conn > 0 && on_conn >= per_conn)) {
                        if (fd >= 0)
                                close(fd);
                        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                                die("connect");
                        on_conn = 0;
                        buf_len = 0;
                }
                on_conn++;
                current = m;
                current_k = k;
                alarm(30);
                t0 = now_ns();
                send_all(fd, m, strlen(m) + 1);
                len = read_reply(fd);
                t = now_ns() - t0;
                alarm(0);
                if (k >= 0) {
                        json_object *reply = json_tokener_parse(buf), *v, *params;

                        lat[k] = t;
                        sum += t;
                        bytes += len;
                        if (!reply || json_object_object_get_ex(reply, "error", &v)) {
                                if (errors++ == 0)
                                        fprintf(stderr, "query-bench: %s -> %.300s\n", m, buf);
                        } else if (json_object_object_get_ex(reply, "parameters", &params)) {
                                if ((json_object_object_get_ex(params, "descendants", &v) ||
                                     json_object_object_get_ex(params, "processes", &v) ||
                                     json_object_object_get_ex(params, "ancestors", &v)) &&
                                    json_object_array_length(v) > items)
                                        items = json_object_array_length(v);
                        }
                        json_object_put(reply);
                }
                /* Drop this reply and its NUL, keep anything after it. */
                memmove(buf, buf + len + 1, buf_len - len - 1);
                buf_len -= len + 1;
        }
        close(fd);
        latency_print(argv[2], calls, errors, lat, sum);
        printf(" reply_bytes=%zu items=%zu\n", bytes / (size_t) calls, items);
        return errors ? 1 : 0;
}
