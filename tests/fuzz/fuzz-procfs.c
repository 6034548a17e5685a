/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzer for the procfs parsers (stat, status, NScaba value, comm sanitizer), checking their invariants. */
#include <inttypes.h>

#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_MAX (256U * 1024U)

static void check(bool ok, const char *what) {
        if (!ok) {
                fprintf(stderr, "fuzz-procfs invariant broken: %s\n", what);
                abort();
        }
}

static void check_comm(const char *comm, size_t size) {
        const char *end = memchr(comm, '\0', size);

        check(end != NULL, "comm is NUL-terminated");
        for (const char *c = comm; c < end; c++) {
                check(*c >= 0x20 && *c < 0x7f, "comm is printable ASCII");
                if (*c == '\\')
                        check(end - c >= 4 && c[1] == 'x', "a backslash in comm starts a whole \\xNN escape");
        }
}

static void check_nscaba(const ProcNscaba *c) {
        check(c->present, "a parsed NScaba is present");
        check(c->n_levels <= PROCFS_NSCABA_LEVELS_MAX, "NScaba levels bounded");
        check(!(c->malformed && (c->bare || c->n_levels > 0)), "malformed NScaba carries no levels");
        check(!(c->bare && c->n_levels > 0), "bare NScaba carries no levels");
        for (unsigned i = 0; i < c->n_levels; i++)
                check(c->levels[i] >= 0, "NScaba levels are not negative");
}

/* An accepted NScaba value must print back to exactly the input: nothing was guessed or skipped. */
static void check_nscaba_roundtrip(const char *v, size_t len, const ProcNscaba *c) {
        char out[PROCFS_NSCABA_LEVELS_MAX * 12 + 1];
        size_t n = 0;

        if (len > 0 && v[len - 1] == '\n')
                len--;
        for (unsigned i = 0; i < c->n_levels; i++)
                n += (size_t) snprintf(out + n, sizeof(out) - n, "\t%" PRIi32, c->levels[i]);
        check(c->bare == (len == 0), "bare exactly when the value is empty");
        check(n == len && memcmp(out, v, len) == 0, "accepted NScaba value round-trips");
}

/* The input as the NScaba line of an otherwise good status: the status must parse regardless, and
 * agree with procfs_parse_nscaba on the value. */
static void check_status_with_nscaba(const char *v, size_t len, int nscaba_r, const ProcNscaba *c) {
        static const char head[] = "Tgid:\t5\nPPid:\t1\nUid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\nNScaba:";
        _cleanup_free_ char *buf = NULL;
        ProcInfo p = {};

        if (memchr(v, '\n', len) && memchr(v, '\n', len) != v + len - 1)
                return; /* more lines: a different test */
        buf = malloc(sizeof(head) + len);
        if (!buf)
                return;
        memcpy(buf, head, sizeof(head) - 1);
        memcpy(buf + sizeof(head) - 1, v, len);
        check(procfs_parse_status(buf, sizeof(head) - 1 + len, &p) == 0, "a bad NScaba does not fail status");
        check(p.tgid == 5 && p.ppid == 1 && p.ruid == 1 && p.euid == 2 && p.rgid == 5 && p.egid == 6,
              "status fields around NScaba");
        check(p.nscaba.present, "NScaba line seen");
        check(p.nscaba.malformed == (nscaba_r < 0), "status flags exactly the values the parser rejects");
        if (nscaba_r == 0)
                check(memcmp(&p.nscaba, c, sizeof(*c)) == 0, "status and parser agree on NScaba");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *buf = (const char *) data;
        ProcInfo p = {};
        ProcNscaba c = {};
        char small[9];
        int r;

        if (size > FUZZ_INPUT_MAX)
                return 0;

        if (procfs_parse_stat(buf, size, &p) == 0) {
                check_comm(p.comm, sizeof(p.comm));
                check(p.pid >= 0 && p.ppid >= 0 && p.pgid >= 0 && p.sid >= 0, "stat ids not negative");
        }
        if (procfs_parse_status(buf, size, &p) == 0) {
                check(p.tgid >= 0 && p.ppid >= 0, "status ids not negative");
                if (p.nscaba.present)
                        check_nscaba(&p.nscaba);
        }
        r = procfs_parse_nscaba(buf, size, &c);
        check(r == 0 || r == -EBADMSG, "NScaba parser returns 0 or -EBADMSG");
        if (r == 0) {
                check_nscaba(&c);
                check(!c.malformed, "accepted NScaba is not malformed");
                check_nscaba_roundtrip(buf, size, &c);
        }
        check_status_with_nscaba(buf, size, r, &c);

        procfs_sanitize_comm(buf, size, small, sizeof(small));
        check_comm(small, sizeof(small));

        proc_info_done(&p);
        check(!p.exe && !p.argv, "proc_info_done resets");
        return 0;
}
