/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gen-journal: writes journal entries as `journalctl -o json` prints them, logged by the process
 * instances of a lineaged database, for the enrichment benchmark (lineagectl enrich).
 *
 *   gen-journal -d DATABASE -o FILE [-n LINES] [-m realistic|worst] [-s SEED]
 *
 * realistic: most lines (75 %) from long-lived processes (alive for a minute or more, or a tenth of a
 *            short record: daemons, shells,
 *            pid 1), a few of them much chattier than the rest; a heavy tail (20 %) of short-lived
 *            processes that log 1 to 8 lines each; kernel lines without _PID (5 %).
 * worst:     every line from a different instance (as long as there are instances left).
 * Each line's time lies inside its instance's lifetime, and the lines come in time order, as in the
 * journal. Syslog and native lines carry _SOURCE_REALTIME_TIMESTAMP; stdout lines only the reception
 * time (so they are resolved by _BOOT_ID and __MONOTONIC_TIMESTAMP). Field set, order and sizes are
 * those of journald; a few messages have escapes, UTF-8, are binary (arrays of numbers) or long.
 *
 * Prints "lines=L instances=I pidless=K bytes=B" to stdout. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#define LONG_LIVED_USEC (60 * 1000000LL)

typedef struct Inst {
        int64_t id, start, end;
        int32_t pid, uid, gid;
        int32_t session;                /* audit session, -1: none */
        int32_t login_uid;              /* -1: unset */
        char *comm, *exe, *argv;        /* argv: the database's JSON array text */
} Inst;

typedef struct Line {
        int64_t time;                   /* realtime µs of the entry */
        uint32_t inst;                  /* index into the instances, UINT32_MAX: a kernel line */
        uint8_t transport;              /* 0 syslog, 1 stdout, 2 journal (native) */
} Line;

static struct {
        uint64_t rng;
        Inst *inst;
        size_t n_inst;
        char boot_id[33];
        int64_t realtime_offset;        /* µs: realtime = monotonic + this */
        int64_t first, last;
        char machine_id[33], seqnum_id[33];
        uint64_t seqnum;
} g;

static uint64_t next_rand(void) {
        /* splitmix64 */
        uint64_t z = (g.rng += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static uint64_t below(uint64_t n) {
        return n ? next_rand() % n : 0;
}

static double unit(void) {
        return (double) (next_rand() >> 11) / (double) (1ULL << 53);
}

static void die(const char *what) {
        fprintf(stderr, "gen-journal: %s\n", what);
        exit(1);
}

static void *xmalloc(size_t n) {
        void *p = malloc(n ? n : 1);

        if (!p)
                die("out of memory");
        return p;
}

static char *xstrdup(const char *s) {
        char *p = strdup(s ? s : "");

        if (!p)
                die("out of memory");
        return p;
}

static void hex_id(char out[static 33]) {
        for (int i = 0; i < 32; i++)
                out[i] = "0123456789abcdef"[below(16)];
        out[32] = 0;
}

static void load(const char *path) {
        sqlite3 *db;
        sqlite3_stmt *st;
        size_t allocated = 0;

        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
                die(sqlite3_errmsg(db));
        /* The boot most instances belong to: the recorded one. */
        if (sqlite3_prepare_v2(db, "SELECT b.boot_id, b.realtime_offset, b.id FROM boots b"
                                   " ORDER BY (SELECT count(*) FROM instances i WHERE i.boot = b.id) DESC LIMIT 1",
                               -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
                die(sqlite3_errmsg(db));
        snprintf(g.boot_id, sizeof(g.boot_id), "%s", (const char *) sqlite3_column_text(st, 0));
        g.realtime_offset = sqlite3_column_int64(st, 1) / 1000;
        int64_t boot = sqlite3_column_int64(st, 2);
        sqlite3_finalize(st);

        /* The journal covers the recorded activity: from the 1000th of the starts (not pid 1's boot-time
         * start, which may lie long before) to the last start or exit. */
        if (sqlite3_prepare_v2(db, "SELECT max(coalesce(exit_time, start_time)),"
                                   " (SELECT start_time FROM instances WHERE boot = ?1 ORDER BY start_time"
                                   "  LIMIT 1 OFFSET (SELECT count(*) / 1000 FROM instances WHERE boot = ?1))"
                                   " FROM instances WHERE boot = ?1", -1, &st, NULL) != SQLITE_OK)
                die(sqlite3_errmsg(db));
        sqlite3_bind_int64(st, 1, boot);
        if (sqlite3_step(st) != SQLITE_ROW)
                die(sqlite3_errmsg(db));
        g.last = sqlite3_column_int64(st, 0);
        g.first = sqlite3_column_int64(st, 1);
        sqlite3_finalize(st);

        if (sqlite3_prepare_v2(db, "SELECT id, pid, start_time, exit_time, comm, exe, argv, uid, gid, audit_session,"
                                   " login_uid FROM instances WHERE boot = ?1 AND comm IS NOT NULL ORDER BY id",
                               -1, &st, NULL) != SQLITE_OK)
                die(sqlite3_errmsg(db));
        sqlite3_bind_int64(st, 1, boot);
        while (sqlite3_step(st) == SQLITE_ROW) {
                Inst *i;

                if (g.n_inst == allocated) {
                        allocated = allocated ? allocated * 2 : 65536;
                        g.inst = realloc(g.inst, allocated * sizeof(Inst));
                        if (!g.inst)
                                die("out of memory");
                }
                i = &g.inst[g.n_inst++];
                *i = (Inst) {
                        .id = sqlite3_column_int64(st, 0),
                        .pid = sqlite3_column_int(st, 1),
                        .start = sqlite3_column_int64(st, 2),
                        .end = sqlite3_column_type(st, 3) == SQLITE_NULL ? g.last : sqlite3_column_int64(st, 3),
                        .comm = xstrdup((const char *) sqlite3_column_text(st, 4)),
                        .exe = xstrdup((const char *) sqlite3_column_text(st, 5)),
                        .argv = xstrdup((const char *) sqlite3_column_text(st, 6)),
                        .uid = sqlite3_column_int(st, 7),
                        .gid = sqlite3_column_int(st, 8),
                        .session = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 9),
                        .login_uid = sqlite3_column_type(st, 10) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 10),
                };
                if (i->end < i->start)
                        i->end = i->start;
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        if (g.n_inst == 0)
                die("no instances in the database");
}

/* ---- output ---- */

typedef struct Out {
        FILE *f;
        uint64_t bytes;
} Out;

/* A JSON string as journalctl writes it: '"' and '\' escaped, control characters as \n, \t or \u00XX,
 * everything else (UTF-8 included) as it is. */
static void put_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p == '\t')
                        fputs("\\t", f);
                else if (*p < 0x20)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

static void field(FILE *f, const char *key, const char *value) {
        fprintf(f, ",\"%s\":", key);
        put_string(f, value);
}

static void field_num(FILE *f, const char *key, int64_t v) {
        fprintf(f, ",\"%s\":\"%" PRIi64 "\"", key, v);
}

/* A field journalctl cannot print as text (not printable UTF-8): an array of its bytes. */
static void field_bytes(FILE *f, const char *key, const char *value) {
        fprintf(f, ",\"%s\":[", key);
        for (const unsigned char *p = (const unsigned char *) value; *p; p++)
                fprintf(f, "%s%u", p == (const unsigned char *) value ? "" : ",", *p);
        fputc(']', f);
}

/* The database's argv, a JSON array of strings written by lineaged, as the space-joined _CMDLINE. */
static void cmdline(const char *argv, char *buf, size_t size) {
        size_t k = 0;
        bool in = false, first = true;

        for (const char *p = argv; *p && k + 8 < size; p++) {
                if (!in) {
                        if (*p == '"') {
                                in = true;
                                if (!first)
                                        buf[k++] = ' ';
                                first = false;
                        }
                        continue;
                }
                if (*p == '"') {
                        in = false;
                        continue;
                }
                if (*p == '\\' && p[1]) {
                        p++;
                        buf[k++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
                        continue;
                }
                buf[k++] = *p;
        }
        buf[k] = 0;
}

static const char *unit_of(const Inst *i, char *buf, size_t size) {
        static const struct {
                const char *comm, *unit;
        } units[] = {
                { "sshd", "ssh.service" }, { "cron", "cron.service" }, { "worker", "worker.service" },
                { "systemd-journal", "systemd-journald.service" }, { "logrotate", "logrotate.service" },
                { "apt.systemd.dai", "apt-daily.service" }, { "run-parts", "cron.service" },
        };

        if (i->pid == 1)
                return "init.scope";
        if (i->session >= 0) {
                snprintf(buf, size, "session-%d.scope", i->session);
                return buf;
        }
        for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++)
                if (strcmp(i->comm, units[k].comm) == 0)
                        return units[k].unit;
        snprintf(buf, size, "%s.service", i->comm);
        return buf;
}

static const char *const words[] = {
        "connection", "request", "worker", "session", "timeout", "retrying", "cache", "update", "config",
        "socket", "handshake", "client", "server", "queue", "flushed", "accepted", "closed", "ready",
};

static void message(const Inst *i, char *buf, size_t size, int *ret_kind) {
        uint64_t r = below(1000);

        *ret_kind = 0;
        if (r < 5) { /* escapes: quotes, backslashes, a tab, a newline */
                snprintf(buf, size, "config \"/etc/%s.conf\" line %u: unknown key 'C:\\\\path\\tx'\n  at %s",
                         i->comm, (unsigned) below(400), i->exe);
                return;
        }
        if (r < 10) { /* UTF-8 */
                snprintf(buf, size, "Benutzer „jürgen“ angemeldet ✓ — 日本語のログ %u", (unsigned) below(100000));
                return;
        }
        if (r < 15) { /* a terminal color: not printable, so journalctl writes the bytes */
                snprintf(buf, size, "\033[1;31mERROR\033[0m %s failed with %u", i->comm, (unsigned) below(256));
                *ret_kind = 1;
                return;
        }
        if (r < 16) { /* a long one: a stack trace */
                size_t k = (size_t) snprintf(buf, size, "Traceback (most recent call last):");
                for (unsigned n = 0; n < 40 && k + 200 < size; n++)
                        k += (size_t) snprintf(buf + k, size - k, "\n  File \"/usr/lib/python3/dist-packages/%s/%s.py\", "
                                               "line %u, in %s", words[below(18)], words[below(18)],
                                               (unsigned) below(2000), words[below(18)]);
                return;
        }
        if (strcmp(i->comm, "sshd") == 0)
                snprintf(buf, size, "Accepted publickey for alice from 192.0.2.%u port %u ssh2: ED25519 "
                         "SHA256:Xk3q0v9wJ2bT8sQk1mJcE5nVh7RZpL4yFtaGdUoWi8c", (unsigned) below(255),
                         (unsigned) (1024 + below(60000)));
        else if (strcmp(i->comm, "cron") == 0)
                snprintf(buf, size, "(root) CMD (cd / && run-parts --report /etc/cron.hourly)");
        else
                snprintf(buf, size, "%s %s %s: %u items in %u ms (%s)", words[below(18)], words[below(18)],
                         words[below(18)], (unsigned) below(10000), (unsigned) below(5000), i->comm);
}

static void put_line(FILE *f, const Line *l) {
        const Inst *i = l->inst == UINT32_MAX ? NULL : &g.inst[l->inst];
        int64_t received = l->time + (l->transport == 1 ? 0 : 20 + (int64_t) below(400));
        int64_t mono = received - g.realtime_offset;
        char msg[8192], cmd[4096], ubuf[64], ts[32];
        static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
        int kind = 0;

        g.seqnum++;
        fprintf(f, "{\"__CURSOR\":\"s=%s;i=%" PRIx64 ";b=%s;m=%" PRIx64 ";t=%" PRIx64 ";x=%016" PRIx64 "\"",
                g.seqnum_id, g.seqnum, g.boot_id, (uint64_t) mono, (uint64_t) received, next_rand());
        field_num(f, "__REALTIME_TIMESTAMP", received);
        field_num(f, "__MONOTONIC_TIMESTAMP", mono);
        field(f, "_BOOT_ID", g.boot_id);
        if (!i) {
                field(f, "_TRANSPORT", "kernel");
                field(f, "PRIORITY", below(10) ? "6" : "4");
                field(f, "SYSLOG_FACILITY", "0");
                field(f, "SYSLOG_IDENTIFIER", "kernel");
                snprintf(msg, sizeof(msg), "audit: type=1400 audit(%" PRIi64 ".%03u:%u): apparmor=\"DENIED\" "
                         "operation=\"open\" profile=\"/usr/sbin/cupsd\" name=\"/etc/ssl/openssl.cnf\"",
                         l->time / 1000000, (unsigned) below(1000), (unsigned) below(100000));
                field(f, "MESSAGE", msg);
                field_num(f, "_SOURCE_MONOTONIC_TIMESTAMP", mono - 100);
        } else {
                const char *unit = unit_of(i, ubuf, sizeof(ubuf));

                message(i, msg, sizeof(msg), &kind);
                cmdline(i->argv, cmd, sizeof(cmd));
                field(f, "_TRANSPORT", l->transport == 0 ? "syslog" : l->transport == 1 ? "stdout" : "journal");
                if (l->transport == 1) {
                        char sid[33];

                        hex_id(sid);
                        field(f, "_STREAM_ID", sid);
                }
                field(f, "PRIORITY", below(8) ? "6" : "3");
                field(f, "SYSLOG_FACILITY", l->transport == 0 ? "4" : "3");
                field(f, "SYSLOG_IDENTIFIER", i->comm);
                if (l->transport == 0) {
                        time_t secs = (time_t) (l->time / 1000000);
                        struct tm tm;

                        field_num(f, "SYSLOG_PID", i->pid);
                        gmtime_r(&secs, &tm);
                        snprintf(ts, sizeof(ts), "%s %2d %02d:%02d:%02d ", months[tm.tm_mon], tm.tm_mday, tm.tm_hour,
                                 tm.tm_min, tm.tm_sec);
                        field(f, "SYSLOG_TIMESTAMP", ts);
                }
                if (l->transport == 2) {
                        field(f, "CODE_FILE", "src/main.c");
                        field_num(f, "CODE_LINE", (int64_t) below(3000));
                        field(f, "CODE_FUNC", words[below(18)]);
                }
                if (kind == 1)
                        field_bytes(f, "MESSAGE", msg);
                else
                        field(f, "MESSAGE", msg);
                field_num(f, "_PID", i->pid);
                field_num(f, "_UID", i->uid);
                field_num(f, "_GID", i->gid);
                field(f, "_COMM", i->comm);
                field(f, "_EXE", i->exe);
                field(f, "_CMDLINE", cmd);
                field(f, "_CAP_EFFECTIVE", i->uid == 0 ? "1ffffffffff" : "0");
                field(f, "_SELINUX_CONTEXT", "unconfined\n");
                if (i->session >= 0) {
                        field_num(f, "_AUDIT_SESSION", i->session);
                        field_num(f, "_AUDIT_LOGINUID", i->login_uid);
                }
                fprintf(f, ",\"_SYSTEMD_CGROUP\":\"/%s/%s\"", i->session >= 0 ? "user.slice/user-1000.slice" : "system.slice",
                        unit);
                field(f, "_SYSTEMD_UNIT", unit);
                field(f, "_SYSTEMD_SLICE", i->session >= 0 ? "user-1000.slice" : "system.slice");
                if (i->session < 0) {
                        char inv[33];

                        hex_id(inv);
                        field(f, "_SYSTEMD_INVOCATION_ID", inv);
                }
                if (l->transport != 1)
                        field_num(f, "_SOURCE_REALTIME_TIMESTAMP", l->time);
        }
        field(f, "_MACHINE_ID", g.machine_id);
        field(f, "_HOSTNAME", "build-7");
        fputs("}\n", f);
}

/* ---- the mixes ---- */

/* A time in the instance's life, within the journal's span where the two overlap. */
static int64_t time_in(const Inst *i) {
        int64_t from = i->start, to = i->end;

        if (from < g.first && to >= g.first)
                from = g.first;
        return from + (int64_t) below((uint64_t) (to - from) + 1);
}

static uint8_t transport(double stdout_share) {
        return unit() < stdout_share ? 1 : below(4) == 0 ? 2 : 0;
}

static int cmp_line(const void *a, const void *b) {
        const Line *x = a, *y = b;

        return x->time < y->time ? -1 : x->time > y->time;
}

static void shuffle(uint32_t *v, size_t n) {
        for (size_t k = n; k > 1; k--) {
                size_t j = below(k);
                uint32_t t = v[k - 1];

                v[k - 1] = v[j];
                v[j] = t;
        }
}

static size_t mix_worst(Line *lines, size_t n) {
        uint32_t *order = xmalloc(g.n_inst * sizeof(uint32_t));
        size_t used = 0;

        for (size_t k = 0; k < g.n_inst; k++)
                order[k] = (uint32_t) k;
        shuffle(order, g.n_inst);
        for (size_t k = 0; k < n; k++) {
                const Inst *i = &g.inst[order[k % g.n_inst]];

                lines[k] = (Line) { .time = time_in(i), .inst = order[k % g.n_inst], .transport = transport(0.5) };
        }
        used = n < g.n_inst ? n : g.n_inst;
        free(order);
        return used;
}

static size_t mix_realistic(Line *lines, size_t n) {
        uint32_t *lng = xmalloc(g.n_inst * sizeof(uint32_t)), *shrt = xmalloc(g.n_inst * sizeof(uint32_t));
        double *cum;
        size_t n_long = 0, n_short = 0, k = 0, used = 0, next_short = 0;
        /* A minute, or a tenth of a short record. */
        int64_t long_lived = (g.last - g.first) / 10 < LONG_LIVED_USEC ? (g.last - g.first) / 10 : LONG_LIVED_USEC;

        for (size_t j = 0; j < g.n_inst; j++) {
                if (g.inst[j].end - (g.inst[j].start > g.first ? g.inst[j].start : g.first) >= long_lived)
                        lng[n_long++] = (uint32_t) j;
                else
                        shrt[n_short++] = (uint32_t) j;
        }
        if (n_long == 0 || n_short == 0)
                die("the database has no long-lived or no short-lived instances");
        shuffle(lng, n_long);
        shuffle(shrt, n_short);
        /* Zipf-like weights: a few daemons are much chattier than the rest. */
        cum = xmalloc(n_long * sizeof(double));
        for (size_t j = 0; j < n_long; j++)
                cum[j] = (j ? cum[j - 1] : 0) + 1.0 / (double) (j + 1);
        while (k < n) {
                double r = unit();

                if (r < 0.05) {
                        lines[k++] = (Line) { .time = g.first + (int64_t) below((uint64_t) (g.last - g.first) + 1),
                                              .inst = UINT32_MAX };
                } else if (r < 0.80) {
                        double x = unit() * cum[n_long - 1];
                        size_t lo = 0, hi = n_long - 1;

                        while (lo < hi) {
                                size_t mid = (lo + hi) / 2;

                                if (cum[mid] < x)
                                        lo = mid + 1;
                                else
                                        hi = mid;
                        }
                        lines[k++] = (Line) { .time = time_in(&g.inst[lng[lo]]), .inst = lng[lo],
                                              .transport = transport(0.3) };
                } else {
                        uint32_t j = shrt[next_short++ % n_short];
                        unsigned m = 1;

                        while (m < 8 && below(2))
                                m++;
                        for (unsigned t = 0; t < m && k < n; t++)
                                lines[k++] = (Line) { .time = time_in(&g.inst[j]), .inst = j, .transport = transport(0.5) };
                        used++;
                }
        }
        free(cum);
        free(lng);
        free(shrt);
        return used + n_long;
}

static void usage(void) {
        fprintf(stderr, "usage: gen-journal -d DATABASE -o FILE [-n LINES] [-m realistic|worst] [-s SEED]\n");
        exit(2);
}

int main(int argc, char **argv) {
        const char *db = NULL, *out = NULL, *mix = "realistic";
        size_t n = 1000000, used;
        Line *lines;
        FILE *f;
        int c;

        g.rng = 0x2545F4914F6CDD1DULL;
        while ((c = getopt(argc, argv, "d:o:n:m:s:")) >= 0)
                switch (c) {
                case 'd':
                        db = optarg;
                        break;
                case 'o':
                        out = optarg;
                        break;
                case 'n':
                        n = strtoull(optarg, NULL, 10);
                        break;
                case 'm':
                        mix = optarg;
                        break;
                case 's':
                        g.rng ^= strtoull(optarg, NULL, 10) * 0x9e3779b97f4a7c15ULL;
                        break;
                default:
                        usage();
                }
        if (!db || !out || optind < argc || n == 0 || n > UINT32_MAX ||
            (strcmp(mix, "realistic") != 0 && strcmp(mix, "worst") != 0))
                usage();
        load(db);
        hex_id(g.machine_id);
        hex_id(g.seqnum_id);
        lines = xmalloc(n * sizeof(Line));
        used = strcmp(mix, "worst") == 0 ? mix_worst(lines, n) : mix_realistic(lines, n);
        qsort(lines, n, sizeof(Line), cmp_line);

        f = fopen(out, "we");
        if (!f)
                die(strerror(errno));
        setvbuf(f, NULL, _IOFBF, 1 << 20);
        for (size_t k = 0; k < n; k++)
                put_line(f, &lines[k]);
        if (fflush(f) != 0)
                die(strerror(errno));
        size_t pidless = 0;
        uint8_t *seen = calloc(g.n_inst, 1);
        if (!seen)
                die("out of memory");
        used = 0;
        for (size_t k = 0; k < n; k++) {
                if (lines[k].inst == UINT32_MAX)
                        pidless++;
                else if (!seen[lines[k].inst]) {
                        seen[lines[k].inst] = 1;
                        used++;
                }
        }
        free(seen);
        printf("lines=%zu instances=%zu pidless=%zu bytes=%ld\n", n, used, pidless, ftell(f));
        if (fclose(f) != 0)
                die(strerror(errno));
        free(lines);
        return 0;
}
