/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for procfs: stat/status/NScaba parsers, a synthetic procfs tree, and the real /proc. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "procfs.h"
#include "test-fs.h"
#include "tests.h"

static const char *arg0 = NULL;

/* A string literal with its exact size, NUL bytes included. */
#define LIT(s) (s), (sizeof(s) - 1)

/* ---- stat ---- */

/* Builds a stat line like the kernel's (52 fields); comm may hold any byte. */
static size_t make_stat(char *buf, size_t size, int32_t pid, const char *comm, size_t comm_len, const char *mid) {
        int n1, n2;

        n1 = snprintf(buf, size, "%" PRIi32 " (", pid);
        if (n1 < 0 || (size_t) n1 + comm_len >= size)
                die("make_stat");
        memcpy(buf + n1, comm, comm_len);
        n2 = snprintf(buf + n1 + comm_len, size - n1 - comm_len,
                      ") %s 8638464 1280 18446744073709551615 94556886482944 94556886502825 "
                      "140735356989824 0 0 0 65536 3670020 1266777851 1 0 0 17 1 0 0 0 0 0 94556886518832 "
                      "94556886520448 94557914144768 140735356996225 140735356996245 140735356996245 "
                      "140735356997611 0\n",
                      mid);
        if (n2 < 0 || (size_t) (n1 + n2) + comm_len >= size)
                die("make_stat");
        return (size_t) n1 + comm_len + (size_t) n2;
}

/* Fields 3..22: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
 * cutime cstime prio nice threads itreal starttime. */
#define MID_NORMAL "S 4259 4259 2878 34816 -1 4194304 101 0 0 0 5 3 0 0 20 0 3 0 39728"

static void test_stat_normal(void) {
        ProcInfo p = {};
        char buf[1024];
        size_t n = make_stat(buf, sizeof(buf), 4265, LIT("cat"), MID_NORMAL);

        ASSERT_EQ(procfs_parse_stat(buf, n, &p), 0);
        ASSERT_EQ(p.pid, 4265);
        ASSERT_STREQ(p.comm, "cat");
        ASSERT_EQ(p.state, 'S');
        ASSERT_EQ(p.ppid, 4259);
        ASSERT_EQ(p.pgid, 4259);
        ASSERT_EQ(p.sid, 2878);
        ASSERT_EQ(p.threads, 3);
        ASSERT_TRUE(p.start_ticks == 39728);

        /* A real kernel thread line, and one without the final newline. */
        static const char kthread[] = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 22 0 0 "
                                      "18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 0 1 0 0 0";
        ASSERT_EQ(procfs_parse_stat(kthread, sizeof(kthread) - 1, &p), 0);
        ASSERT_EQ(p.pid, 2);
        ASSERT_STREQ(p.comm, "kthreadd");
        ASSERT_EQ(p.ppid, 0);
        ASSERT_TRUE(p.start_ticks == 22);

        /* Ends right after starttime: enough. */
        static const char shortest[] = "9 (x) R 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 18446744073709551615\n";
        ASSERT_EQ(procfs_parse_stat(shortest, sizeof(shortest) - 1, &p), 0);
        ASSERT_TRUE(p.start_ticks == UINT64_MAX);
}

static void test_stat_hostile_comm(void) {
        ProcInfo p = {};
        char buf[1024];
        size_t n;

        /* ") (" spaces, a newline and \xff inside comm; the comm ends at the LAST ')'. */
        n = make_stat(buf, sizeof(buf), 42, LIT("a) (b c\n\xff) S 1 2 3"), MID_NORMAL);
        ASSERT_EQ(procfs_parse_stat(buf, n, &p), 0);
        ASSERT_STREQ(p.comm, "a) (b c\\x0a\\xff) S 1 2 3");
        ASSERT_EQ(p.ppid, 4259);
        ASSERT_EQ(p.pid, 42);

        /* Backslash, NUL and DEL are escaped too, so the result is unambiguous. */
        n = make_stat(buf, sizeof(buf), 43, LIT("a\\b\0c\x7f"), MID_NORMAL);
        ASSERT_EQ(procfs_parse_stat(buf, n, &p), 0);
        ASSERT_STREQ(p.comm, "a\\x5cb\\x00c\\x7f");

        /* Empty comm. */
        n = make_stat(buf, sizeof(buf), 44, LIT(""), MID_NORMAL);
        ASSERT_EQ(procfs_parse_stat(buf, n, &p), 0);
        ASSERT_STREQ(p.comm, "");

        /* A long comm of bytes to escape: truncated, never mid-escape, NUL-terminated. */
        char longcomm[100];
        memset(longcomm, 0xee, sizeof(longcomm));
        n = make_stat(buf, sizeof(buf), 45, longcomm, sizeof(longcomm), MID_NORMAL);
        ASSERT_EQ(procfs_parse_stat(buf, n, &p), 0);
        ASSERT_EQ(strlen(p.comm), 60); /* 15 escapes of 4 bytes fit in 63 */
        ASSERT_EQ(strncmp(p.comm, "\\xee\\xee", 8), 0);
}

static void test_stat_malformed(void) {
        static const char *const mids[] = {
                "S x4259 4259 2878 34816 -1 4194304 101 0 0 0 5 3 0 0 20 0 3 0 39728",   /* non-numeric ppid */
                "S 4259 4259 2878 34816 -1 4194304 1a 0 0 0 5 3 0 0 20 0 3 0 39728",     /* garbage in field 10 */
                "1 4259 4259 2878 34816 -1 4194304 101 0 0 0 5 3 0 0 20 0 3 0 39728",    /* state not a letter */
                "SS 4259 4259 2878 34816 -1 4194304 101 0 0 0 5 3 0 0 20 0 3 0 39728",   /* state two chars */
                "S -1 4259 2878 34816 -1 4194304 101 0 0 0 5 3 0 0 20 0 3 0 39728",      /* negative ppid */
                "S 2147483648 1 1 34816 -1 4194304 101 0 0 0 5 3 0 0 20 0 3 0 39728",    /* ppid > INT32_MAX */
                "S 1 1 1 34816 -1 4194304 101 0 0 0 5 3 0 0 20 0 4294967296 0 39728",    /* threads > UINT32_MAX */
                "S 1 1 1 34816 -1 4194304 101 0 0 0 5 3 0 0 20 0 3 0 18446744073709551616", /* starttime overflow */
                "S 1 1 1 34816 -1 4194304 101 0 0 0 5 3 0 0 20 0 3 0 99999999999999999999999", /* way over */
                "S 1  1 1 34816 -1 4194304 101 0 0 0 5 3 0 0 20 0 3 0 39728",            /* empty field */
                "S 1 1 1 34816 - 4194304 101 0 0 0 5 3 0 0 20 0 3 0 39728",              /* lone minus */
                "S 1 1 1 34816 -1 4194304 101 0 0 0 5 3 0 0 20 0 3 0 +39728",            /* plus sign */
                "S 1 1 1 34816 -1 4194304 101 0 0 0 5 3 0 0 20 0 3 0 39728x",            /* trailing garbage */
                "S 1 1 1 34816 -1 4194304 101 0 0 0 5 3 0 0 20 0 3 0",                   /* no starttime */
        };
        ProcInfo p = { .pid = 777, .ppid = 778 };
        char buf[1024];
        size_t n;

        for (size_t i = 0; i < ELEMENTSOF(mids); i++) {
                /* Field 22 directly followed by garbage must fail; so build without the tail for the last ones. */
                n = (size_t) snprintf(buf, sizeof(buf), "5 (x) %s", mids[i]);
                if (procfs_parse_stat(buf, n, &p) != -EBADMSG)
                        TEST_FAIL("stat mid %zu accepted: %s", i, mids[i]);
                n = make_stat(buf, sizeof(buf), 5, LIT("x"), mids[i]);
                if (i < ELEMENTSOF(mids) - 1 && procfs_parse_stat(buf, n, &p) != -EBADMSG)
                        TEST_FAIL("stat mid %zu (with tail) accepted: %s", i, mids[i]);
        }
        /* Failing parses leave p alone. */
        ASSERT_EQ(p.pid, 777);
        ASSERT_EQ(p.ppid, 778);

        /* Truncated at every length of a good line: only prefixes holding at least a digit of the
         * starttime may pass (a cut inside it looks like a smaller number; files are read whole). */
        n = make_stat(buf, sizeof(buf), 4265, LIT("cat"), MID_NORMAL);
        size_t good_from = (size_t) (strstr(buf, " 39728 ") - buf) + 2;
        for (size_t len = 0; len < n; len++) {
                int r = procfs_parse_stat(buf, len, &p);

                if (len < good_from && r != -EBADMSG)
                        TEST_FAIL("stat truncated to %zu bytes accepted", len);
                if (len >= good_from && r != 0)
                        TEST_FAIL("stat truncated to %zu bytes rejected", len);
        }

        p.pid = 777;
        ASSERT_EQ(procfs_parse_stat(LIT("(x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5"), &p), -EBADMSG);
        ASSERT_EQ(procfs_parse_stat(LIT("x5 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5"), &p), -EBADMSG);
        ASSERT_EQ(procfs_parse_stat(LIT("5(x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5"), &p), -EBADMSG);
        ASSERT_EQ(procfs_parse_stat(LIT("5 x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5"), &p), -EBADMSG);
        ASSERT_EQ(procfs_parse_stat(LIT("5 )x( S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5"), &p), -EBADMSG);
        ASSERT_EQ(procfs_parse_stat(LIT("5 (x)S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5"), &p), -EBADMSG);
        ASSERT_EQ(procfs_parse_stat(LIT("2147483648 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5"), &p),
                     -EBADMSG);
        ASSERT_EQ(procfs_parse_stat(LIT(""), &p), -EBADMSG);
        ASSERT_EQ(p.pid, 777);
}

static void test_sanitize_comm(void) {
        char small[8];

        procfs_sanitize_comm(LIT("abcdefghij"), small, sizeof(small));
        ASSERT_STREQ(small, "abcdefg");
        procfs_sanitize_comm(LIT("ab\x01"), small, sizeof(small));
        ASSERT_STREQ(small, "ab\\x01");
        procfs_sanitize_comm(LIT("abc\x01"), small, sizeof(small));
        ASSERT_STREQ(small, "abc\\x01"); /* exactly fills 8 bytes with the NUL */
        procfs_sanitize_comm(LIT("abcd\x01"), small, sizeof(small));
        ASSERT_STREQ(small, "abcd"); /* the escape would not fit whole */
        procfs_sanitize_comm(LIT("x"), small, 1);
        ASSERT_STREQ(small, "");
}

/* ---- NScaba ---- */

static void check_nscaba_ok(const char *v, size_t len, bool bare, unsigned n, const int32_t *levels) {
        ProcNscaba c;
        int r;

        memset(&c, 0xaa, sizeof(c));
        r = procfs_parse_nscaba(v, len, &c);
        if (r != 0 || !c.present || c.bare != bare || c.malformed || c.n_levels != n)
                TEST_FAIL("NScaba value of %zu bytes: r=%d present=%d bare=%d n=%u, expected bare=%d n=%u",
                          len, r, c.present, c.bare, c.n_levels, bare, n);
        for (unsigned i = 0; i < n; i++)
                ASSERT_EQ(c.levels[i], levels[i]);
}

static void check_nscaba_bad(const char *v, size_t len, const char *what) {
        ProcNscaba c = { .n_levels = 12345 };

        if (procfs_parse_nscaba(v, len, &c) != -EBADMSG)
                TEST_FAIL("NScaba hostile value accepted: %s", what);
        ASSERT_EQ(c.n_levels, 12345); /* untouched */
}

static void test_nscaba(void) {
        char big[PROCFS_NSCABA_LEVELS_MAX * 4 + 8];
        int32_t expect[PROCFS_NSCABA_LEVELS_MAX + 1];
        size_t n = 0;

        check_nscaba_ok(LIT("\t1"), false, 1, (const int32_t[]) { 1 });
        check_nscaba_ok(LIT("\t1\n"), false, 1, (const int32_t[]) { 1 });
        check_nscaba_ok(LIT("\t7\t3\t1"), false, 3, (const int32_t[]) { 7, 3, 1 });
        check_nscaba_ok(LIT("\t2147483647"), false, 1, (const int32_t[]) { INT32_MAX });
        check_nscaba_ok(LIT("\t0"), false, 1, (const int32_t[]) { 0 });
        check_nscaba_ok(LIT(""), true, 0, NULL);
        check_nscaba_ok(LIT("\n"), true, 0, NULL);
        check_nscaba_ok(NULL, 0, true, 0, NULL);

        /* Exactly the maximum number of levels passes, one more does not. */
        for (unsigned i = 0; i < PROCFS_NSCABA_LEVELS_MAX; i++) {
                n += (size_t) snprintf(big + n, sizeof(big) - n, "\t%u", i + 1);
                expect[i] = (int32_t) i + 1;
        }
        check_nscaba_ok(big, n, false, PROCFS_NSCABA_LEVELS_MAX, expect);
        n += (size_t) snprintf(big + n, sizeof(big) - n, "\t9");
        check_nscaba_bad(big, n, "one level too many");

        check_nscaba_bad(LIT("\tabc"), "non-numeric");
        check_nscaba_bad(LIT("\t5x"), "trailing garbage");
        check_nscaba_bad(LIT("\t5 "), "trailing space");
        check_nscaba_bad(LIT(" 5"), "space instead of tab");
        check_nscaba_bad(LIT("5"), "missing tab");
        check_nscaba_bad(LIT("\t\t5"), "empty field");
        check_nscaba_bad(LIT("\t5\t\t1"), "empty field in the middle");
        check_nscaba_bad(LIT("\t5\t"), "trailing tab");
        check_nscaba_bad(LIT("\t"), "lone tab");
        check_nscaba_bad(LIT("\t-5"), "negative");
        check_nscaba_bad(LIT("\t+5"), "plus sign");
        check_nscaba_bad(LIT("\t2147483648"), "2^31");
        check_nscaba_bad(LIT("\t4294967296"), "2^32");
        check_nscaba_bad(LIT("\t99999999999999999999999999"), "huge");
        check_nscaba_bad(LIT("\t05"), "leading zero");
        check_nscaba_bad(LIT("\t5\0"), "NUL after number");
        check_nscaba_bad(LIT("\t5\0003"), "NUL inside");
        check_nscaba_bad(LIT("\0"), "lone NUL");
        check_nscaba_bad(LIT("\t5\n\n"), "two newlines");
        check_nscaba_bad(LIT("\t5\n\t3"), "newline inside");
        check_nscaba_bad(LIT("\t5\r"), "carriage return");

        /* 100 KiB of valid-looking levels. */
        size_t huge_len = 100 * 1024;
        char *huge = malloc(huge_len);
        if (!huge)
                die("malloc");
        for (size_t i = 0; i < huge_len; i += 2) {
                huge[i] = '\t';
                huge[i + 1] = '1';
        }
        check_nscaba_bad(huge, huge_len, "100 KiB line");
        free(huge);
}

/* ---- status ---- */

/* The ids a status gave (a macro: a failure names the caller's line). */
#define ASSERT_IDS(p, want_tgid, want_ppid, want_ruid, want_euid, want_rgid, want_egid) \
        do {                                                                             \
                ASSERT_EQ((p).tgid, want_tgid);                                          \
                ASSERT_EQ((p).ppid, want_ppid);                                          \
                ASSERT_EQ((p).ruid, want_ruid);                                          \
                ASSERT_EQ((p).euid, want_euid);                                          \
                ASSERT_EQ((p).rgid, want_rgid);                                          \
                ASSERT_EQ((p).egid, want_egid);                                          \
        } while (0)

static size_t make_status(char *buf, size_t size, int32_t pid, int32_t ppid, uint32_t uid, const char *nscaba_line) {
        int n = snprintf(buf, size,
                         "Name:\tcat\nUmask:\t0022\nState:\tR (running)\nTgid:\t%" PRIi32 "\nNgid:\t0\n"
                         "Pid:\t%" PRIi32 "\nPPid:\t%" PRIi32 "\nTracerPid:\t0\n"
                         "Uid:\t%" PRIu32 "\t%" PRIu32 "\t0\t0\nGid:\t100\t101\t102\t103\n"
                         "FDSize:\t256\nGroups:\t \nNStgid:\t%" PRIi32 "\nNSpid:\t%" PRIi32 "\n"
                         "NSpgid:\t1\nNSsid:\t1\n%sKthread:\t0\nVmPeak:\t    3060 kB\n"
                         "Cpus_allowed_list:\t0-1\nvoluntary_ctxt_switches:\t0\n",
                         pid, pid, ppid, uid, uid + 1, pid, pid, nscaba_line);
        if (n < 0 || (size_t) n >= size)
                die("make_status");
        return (size_t) n;
}

static void test_status(void) {
        ProcInfo p = {};
        char buf[2048];
        size_t n;

        n = make_status(buf, sizeof(buf), 4263, 4259, 1000, "");
        ASSERT_EQ(procfs_parse_status(buf, n, &p), 0);
        ASSERT_IDS(p, 4263, 4259, 1000, 1001, 100, 101);
        ASSERT_TRUE(!p.nscaba.present);

        ASSERT_TRUE(p.cap_eff == 0); /* no CapEff line: no capabilities known */
        n = make_status(buf, sizeof(buf), 4263, 4259, 0, "CapEff:\t000001ffffffffff\n");
        ASSERT_EQ(procfs_parse_status(buf, n, &p), 0);
        ASSERT_TRUE(p.cap_eff == UINT64_C(0x000001ffffffffff));
        n = make_status(buf, sizeof(buf), 4263, 4259, 0, "CapEff:\t0000000040000000\n");
        ASSERT_EQ(procfs_parse_status(buf, n, &p), 0);
        ASSERT_TRUE(p.cap_eff == UINT64_C(1) << 30); /* CAP_AUDIT_CONTROL alone */

        n = make_status(buf, sizeof(buf), 4263, 4259, 0, "NScaba:\t7\t3\t1\n");
        ASSERT_EQ(procfs_parse_status(buf, n, &p), 0);
        ASSERT_TRUE(p.nscaba.present && !p.nscaba.bare && !p.nscaba.malformed);
        ASSERT_EQ(p.nscaba.n_levels, 3);
        ASSERT_EQ(p.nscaba.levels[0], 7);
        ASSERT_EQ(p.nscaba.levels[2], 1);

        n = make_status(buf, sizeof(buf), 4263, 4259, 0, "NScaba:\n");
        ASSERT_EQ(procfs_parse_status(buf, n, &p), 0);
        ASSERT_TRUE(p.nscaba.present && p.nscaba.bare && !p.nscaba.malformed && p.nscaba.n_levels == 0);

        n = make_status(buf, sizeof(buf), 4263, 4259, 0, "NScaba:\t0\n");
        ASSERT_EQ(procfs_parse_status(buf, n, &p), 0);
        ASSERT_TRUE(p.nscaba.present && !p.nscaba.bare && p.nscaba.n_levels == 1 && p.nscaba.levels[0] == 0);

        /* A bad NScaba line does not fail the status, it is flagged. */
        static const char *const bad[] = { "NScaba: 5\n", "NScaba:5\n", "NScaba:\t\t5\n", "NScaba:\t5\t\n",
                                           "NScaba:\t-1\n", "NScaba:\t2147483648\n", "NScaba:\t1\nNScaba:\t1\n" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                p.nscaba = (ProcNscaba) { .n_levels = 9 };
                n = make_status(buf, sizeof(buf), 4263, 4259, 0, bad[i]);
                ASSERT_EQ(procfs_parse_status(buf, n, &p), 0);
                ASSERT_TRUE(p.nscaba.present && p.nscaba.malformed && !p.nscaba.bare && p.nscaba.n_levels == 0);
                ASSERT_EQ(p.tgid, 4263);
        }

        /* Bare NScaba as the very last line, without a newline; minimal status. */
        static const char minimal[] = "Tgid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nNScaba:";
        ASSERT_EQ(procfs_parse_status(minimal, sizeof(minimal) - 1, &p), 0);
        ASSERT_TRUE(p.nscaba.present && p.nscaba.bare);
        ASSERT_EQ(p.ppid, 0);
}

static void test_status_malformed(void) {
        static const char *const bad[] = {
                "PPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n",                       /* no Tgid */
                "Tgid:\t1\nPPid:\t0\nGid:\t0\t0\t0\t0\n",                                /* no Uid */
                "Tgid:\t1\nPPid:\t0\nUid:\t0\t0\t0\nGid:\t0\t0\t0\t0\n",                 /* 3 uids */
                "Tgid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n",           /* 5 uids */
                "Tgid:\t-1\nPPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n",             /* negative */
                "Tgid:\t1\nPPid:\t0\nUid:\t4294967296\t0\t0\t0\nGid:\t0\t0\t0\t0\n",     /* uid overflow */
                "Tgid: 1\nPPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n",               /* space */
                "Tgid:\t1\nTgid:\t2\nPPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n",    /* duplicate */
                "Tgid:\t1x\nPPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n",             /* garbage */
                "Tgid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\tzz\n",   /* not hex */
                "Tgid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\t\n",     /* empty */
                "Tgid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\t00000000000000001\n", /* 17 digits */
                "Tgid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\t0\nCapEff:\t1\n", /* duplicate */
        };
        ProcInfo p = { .tgid = 555 };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (procfs_parse_status(bad[i], strlen(bad[i]), &p) != -EBADMSG)
                        TEST_FAIL("malformed status %zu accepted", i);
        ASSERT_EQ(p.tgid, 555);
        ASSERT_EQ(procfs_parse_status(LIT(""), &p), -EBADMSG);

        /* 1 MiB of binary junk around valid lines: the lines are still found. */
        size_t junk = 512 * 1024, len = 0;
        char *buf = malloc(2 * junk + 256);
        if (!buf)
                die("malloc");
        srand(4242);
        for (size_t i = 0; i < junk; i++)
                buf[len++] = (char) (rand() & 0xff);
        len += (size_t) sprintf(buf + len, "\nTgid:\t9\nPPid:\t8\nUid:\t7\t6\t0\t0\nGid:\t5\t4\t0\t0\nNScaba:\t3\n");
        for (size_t i = 0; i < junk; i++) {
                char c = (char) (rand() & 0xff);
                buf[len++] = c == '\n' ? 'x' : c; /* no line may start with a key by chance */
        }
        /* The first part is random too: make sure no spurious key line starts there. */
        for (size_t i = 0; i + 1 < junk; i++)
                if (buf[i] == '\n')
                        buf[i + 1] = buf[i + 1] == 'T' || buf[i + 1] == 'P' || buf[i + 1] == 'U' ||
                                                     buf[i + 1] == 'G' || buf[i + 1] == 'N'
                                             ? 'x'
                                             : buf[i + 1];
        ASSERT_EQ(procfs_parse_status(buf, len, &p), 0);
        ASSERT_IDS(p, 9, 8, 7, 6, 5, 4);
        ASSERT_TRUE(p.nscaba.present && p.nscaba.n_levels == 1 && p.nscaba.levels[0] == 3);
        /* Pure junk: rejected, not crashed. */
        ASSERT_EQ(procfs_parse_status(buf, junk, &p), -EBADMSG);
        free(buf);
}

/* ---- synthetic tree ---- */

static char tree[] = "/tmp/test-procfs-XXXXXX";

static void put(const char *rel, const void *data, size_t len) {
        put_at(tree, rel, data, len);
}

static void put_str(const char *rel, const char *s) {
        put(rel, s, strlen(s));
}

static void mkdir_rel(const char *rel) {
        mkdir_at(tree, rel);
}

static void symlink_rel(const char *target, const char *rel) {
        char path[PATH_MAX];

        fixture_path(path, tree, rel);
        if (symlink(target, path) < 0)
                die(path);
}

/* Creates tree/PID with stat and status (prefix is "" or "PID/task/" for threads). */
static void put_task(const char *dir, int32_t id, int32_t tgid, int32_t ppid, const char *nscaba) {
        char buf[2048], rel[PATH_MAX];
        size_t n;

        mkdir_rel(dir);
        n = make_stat(buf, sizeof(buf), id, LIT("synth"), "S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 2 0 1234");
        snprintf(rel, sizeof(rel), "%s/stat", dir);
        put(rel, buf, n);
        n = make_status(buf, sizeof(buf), tgid, ppid, 1000, nscaba);
        snprintf(rel, sizeof(rel), "%s/status", dir);
        put(rel, buf, n);
}

static void build_tree(void) {
        if (!mkdtemp(tree))
                die("mkdtemp");
        if (chmod(tree, 0755) < 0)
                die("chmod");

        /* 100: a full process with two threads. */
        put_task("100", 100, 100, 1, "NScaba:\t42\t1\n");
        put_str("100/loginuid", "1000");
        put_str("100/sessionid", "3\n");
        put("100/cmdline", LIT("bash\0-l\0"));
        symlink_rel("/usr/bin/bash (deleted)", "100/exe");
        mkdir_rel("100/task");
        put_task("100/task/100", 100, 100, 1, "NScaba:\t42\t1\n");
        put_task("100/task/101", 101, 100, 1, "NScaba:\n");

        /* 7: unset login ids, a 100 KiB argv. */
        put_task("7", 7, 7, 1, "");
        put_str("7/loginuid", "4294967295");
        put_str("7/sessionid", "4294967295");
        size_t big = 100 * 1024;
        char *argv = malloc(big);
        if (!argv)
                die("malloc");
        for (size_t i = 0; i < big; i++)
                argv[i] = i % 16 == 15 ? '\0' : (char) ('a' + i % 16); /* a NUL right at the cut */
        put("7/cmdline", argv, big);
        free(argv);
        symlink_rel("/bin/x", "7/exe");

        /* 12: kernel-thread-like: empty cmdline, no exe, no loginuid/sessionid. */
        put_task("12", 12, 12, 2, "");
        put("12/cmdline", "", 0);

        /* 13: argv rewritten without final NUL and with odd bytes. */
        put_task("13", 13, 13, 1, "NScaba: 5\n");
        put("13/cmdline", LIT("sshd: u@pts/0 \xff\x01\n"));
        put_str("13/loginuid", "0");
        put_str("13/sessionid", "1");

        /* 14: stat names another pid; 15: malformed loginuid; 16: no stat at all. */
        put_task("14", 15, 14, 1, "");
        put_task("15", 15, 15, 1, "");
        put_str("15/loginuid", "abc");
        put_str("15/sessionid", "1");
        mkdir_rel("16");
        put_str("16/loginuid", "1");
        put_str("16/sessionid", "1");

        /* 17: cmdline of exactly PROCFS_ARGV_MAX bytes; 18: one byte more, no final NUL. */
        char *exact = malloc(PROCFS_ARGV_MAX + 1);
        if (!exact)
                die("malloc");
        memset(exact, 'z', PROCFS_ARGV_MAX + 1);
        exact[PROCFS_ARGV_MAX - 1] = '\0';
        put_task("17", 17, 17, 1, "");
        put("17/cmdline", exact, PROCFS_ARGV_MAX);
        put_task("18", 18, 18, 1, "");
        memset(exact, 'y', PROCFS_ARGV_MAX + 1);
        put("18/cmdline", exact, PROCFS_ARGV_MAX);
        free(exact);

        /* 19: a status over the read cap (a huge last line), 20: a stat over it. */
        char *huge = malloc(40 * 1024);
        if (!huge)
                die("malloc");
        put_task("19", 19, 19, 1, "NScaba:\t9\n");
        size_t n = make_status(huge, 40 * 1024, 19, 1, 5, "NScaba:\t9\n");
        memcpy(huge + n, "Cpus_allowed:\t", 14);
        memset(huge + n + 14, 'f', 30 * 1024);
        put("19/status", huge, n + 14 + 30 * 1024);
        put_task("20", 20, 20, 1, "");
        char *longcomm = malloc(20 * 1024);
        if (!longcomm)
                die("malloc");
        memset(longcomm, '7', 20 * 1024);
        n = make_stat(huge, 40 * 1024, 20, longcomm, 20 * 1024, "S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 2 0 1234");
        put("20/stat", huge, n);
        free(longcomm);
        free(huge);

        /* 1000 and junk that is not a pid. */
        put_task("1000", 1000, 1000, 1, "");
        mkdir_rel("sys");
        mkdir_rel("0123");
        mkdir_rel("0");
        mkdir_rel("2x");
        mkdir_rel("99999999999");
        mkdir_rel("-5");
        put_str("55", "a regular file with a numeric name");
        symlink_rel("100", "self");
}

static void test_tree_read(void) {
        ProcInfo p = {};

        ASSERT_EQ(procfs_read(tree, 100, PROCFS_ALL, &p), 0);
        ASSERT_EQ(p.have, PROCFS_ALL);
        ASSERT_EQ(p.pid, 100);
        ASSERT_EQ(p.tgid, 100);
        ASSERT_STREQ(p.comm, "synth");
        ASSERT_TRUE(p.start_ticks == 1234);
        ASSERT_EQ(p.threads, 2);
        ASSERT_EQ(p.ruid, 1000);
        ASSERT_EQ(p.loginuid, 1000);
        ASSERT_EQ(p.sessionid, 3);
        ASSERT_STREQ(p.exe, "/usr/bin/bash (deleted)");
        ASSERT_EQ(p.argv_len, 8);
        ASSERT_TRUE(p.argv && memcmp(p.argv, "bash\0-l\0", 8) == 0);
        ASSERT_TRUE(!p.argv_truncated);
        ASSERT_TRUE(p.nscaba.present && p.nscaba.n_levels == 2 && p.nscaba.levels[0] == 42 && p.nscaba.levels[1] == 1);
        proc_info_done(&p);
        ASSERT_TRUE(!p.exe && !p.argv && p.argv_len == 0);
        proc_info_done(&p); /* twice is fine */

        /* Masks: only what was asked is read. */
        ASSERT_EQ(procfs_read(tree, 100, PROCFS_STAT, &p), 0);
        ASSERT_EQ(p.have, PROCFS_STAT);
        ASSERT_TRUE(!p.exe && !p.argv && !p.nscaba.present);
        ASSERT_EQ(p.loginuid, PROCFS_UNSET_ID);
        proc_info_done(&p);
        ASSERT_EQ(procfs_read(tree, 100, PROCFS_ARGV | PROCFS_EXE, &p), 0);
        ASSERT_EQ(p.have, PROCFS_ARGV | PROCFS_EXE);
        ASSERT_EQ(p.pid, 100);
        proc_info_done(&p);
        ASSERT_EQ(procfs_read(tree, 100, PROCFS_LOGIN | 0x100, &p), 0);
        ASSERT_EQ(p.have, PROCFS_LOGIN);
        proc_info_done(&p);

        /* Unset ids; a 100 KiB argv is truncated, with a final NUL. */
        ASSERT_EQ(procfs_read(tree, 7, PROCFS_ALL, &p), 0);
        ASSERT_EQ(p.have, PROCFS_ALL);
        ASSERT_EQ(p.loginuid, PROCFS_UNSET_ID);
        ASSERT_EQ(p.sessionid, PROCFS_UNSET_ID);
        ASSERT_TRUE(p.argv_truncated);
        ASSERT_EQ(p.argv_len, PROCFS_ARGV_MAX);
        ASSERT_TRUE(p.argv && memcmp(p.argv, "abcdefghijklmno\0abc", 19) == 0);
        ASSERT_TRUE(p.argv && p.argv[p.argv_len - 1] == '\0');
        ASSERT_TRUE(!p.nscaba.present);
        proc_info_done(&p);

        /* Kernel thread lookalike: no exe, empty cmdline, no login files. */
        ASSERT_EQ(procfs_read(tree, 12, PROCFS_ALL, &p), 0);
        ASSERT_EQ(p.have, PROCFS_STAT | PROCFS_STATUS);
        ASSERT_TRUE(!p.exe && !p.argv && p.argv_len == 0);
        ASSERT_EQ(p.loginuid, PROCFS_UNSET_ID);
        proc_info_done(&p);

        /* Odd argv bytes kept verbatim, final NUL added; malformed NScaba flagged. */
        ASSERT_EQ(procfs_read(tree, 13, PROCFS_ALL, &p), 0);
        ASSERT_EQ(p.have, PROCFS_ALL & ~PROCFS_EXE);
        ASSERT_EQ(p.argv_len, sizeof("sshd: u@pts/0 \xff\x01\n"));
        ASSERT_TRUE(p.argv && memcmp(p.argv, "sshd: u@pts/0 \xff\x01\n", p.argv_len) == 0);
        ASSERT_TRUE(!p.argv_truncated);
        ASSERT_TRUE(p.nscaba.present && p.nscaba.malformed);
        ASSERT_EQ(p.loginuid, 0);
        proc_info_done(&p);

        ASSERT_EQ(procfs_read(tree, 17, PROCFS_ARGV, &p), 0);
        ASSERT_EQ(p.argv_len, PROCFS_ARGV_MAX);
        ASSERT_TRUE(!p.argv_truncated);
        proc_info_done(&p);
        ASSERT_EQ(procfs_read(tree, 18, PROCFS_ARGV, &p), 0);
        ASSERT_EQ(p.argv_len, PROCFS_ARGV_MAX);
        ASSERT_TRUE(p.argv_truncated); /* the last byte made room for the NUL */
        ASSERT_TRUE(p.argv && p.argv[PROCFS_ARGV_MAX - 1] == '\0' && p.argv[PROCFS_ARGV_MAX - 2] == 'y');
        proc_info_done(&p);

        ASSERT_EQ(procfs_read(tree, 19, PROCFS_STATUS, &p), 0);
        ASSERT_EQ(p.ruid, 5);
        ASSERT_TRUE(p.nscaba.present && p.nscaba.n_levels == 1 && p.nscaba.levels[0] == 9);

        /* Failures leave ret untouched. */
        ProcInfo keep = { .pid = 4711, .comm = "keep" };
        ASSERT_EQ(procfs_read(tree, 20, PROCFS_STAT, &keep), -EBADMSG);
        ASSERT_EQ(procfs_read(tree, 14, PROCFS_STAT, &keep), -EBADMSG);
        ASSERT_EQ(procfs_read(tree, 15, PROCFS_LOGIN, &keep), -EBADMSG);
        ASSERT_EQ(procfs_read(tree, 16, PROCFS_STAT, &keep), -ESRCH);
        ASSERT_EQ(procfs_read(tree, 16, PROCFS_STATUS, &keep), -ESRCH);
        ASSERT_EQ(procfs_read(tree, 16, PROCFS_EXE, &keep), -ESRCH); /* no stat: gone, not "unreadable" */
        ASSERT_EQ(procfs_read(tree, 555, PROCFS_ALL, &keep), -ESRCH);
        ASSERT_EQ(procfs_read(tree, 0, PROCFS_ALL, &keep), -EINVAL);
        ASSERT_EQ(procfs_read(tree, -1, PROCFS_ALL, &keep), -EINVAL);
        ASSERT_EQ(procfs_read(NULL, 1, PROCFS_ALL, &keep), -EINVAL);
        ASSERT_EQ(keep.pid, 4711);
        ASSERT_STREQ(keep.comm, "keep");
        ASSERT_TRUE(!keep.exe && !keep.argv);
        /* ...and a dir with files present but no stat is fine when stat is not needed. */
        ASSERT_EQ(procfs_read(tree, 16, PROCFS_LOGIN, &p), 0);
        ASSERT_EQ(p.have, PROCFS_LOGIN);

        /* Threads: stat and status only. */
        ASSERT_EQ(procfs_read_task(tree, 100, 101, PROCFS_ALL, &p), 0);
        ASSERT_EQ(p.have, PROCFS_STAT | PROCFS_STATUS);
        ASSERT_EQ(p.pid, 101);
        ASSERT_EQ(p.tgid, 100);
        ASSERT_TRUE(p.nscaba.present && p.nscaba.bare);
        ASSERT_TRUE(!p.exe && !p.argv);
        ASSERT_EQ(procfs_read_task(tree, 100, 102, PROCFS_ALL, &keep), -ESRCH);
        ASSERT_EQ(procfs_read_task(tree, 7, 7, PROCFS_ALL, &keep), -ESRCH);
        ASSERT_EQ(keep.pid, 4711);
}

typedef struct Collect {
        int32_t ids[64];
        size_t n;
        size_t stop_after; /* 0 = never */
} Collect;

static int collect_cb(int32_t pid, void *userdata) {
        Collect *c = userdata;

        if (c->n >= ELEMENTSOF(c->ids))
                return -ENOBUFS;
        c->ids[c->n++] = pid;
        if (c->stop_after > 0 && c->n == c->stop_after)
                return -ENOENT; /* any error, passed through as is */
        return 0;
}

static void test_tree_foreach(void) {
        static const int32_t expected[] = { 7, 12, 13, 14, 15, 16, 17, 18, 19, 20, 100, 1000 };
        Collect c = {};

        ASSERT_EQ(procfs_foreach_pid(tree, collect_cb, &c), 0);
        ASSERT_EQ(c.n, ELEMENTSOF(expected));
        for (size_t i = 0; i < MIN(c.n, ELEMENTSOF(expected)); i++)
                ASSERT_EQ(c.ids[i], expected[i]);

        c = (Collect) { .stop_after = 3 };
        ASSERT_EQ(procfs_foreach_pid(tree, collect_cb, &c), -ENOENT);
        ASSERT_EQ(c.n, 3);

        c = (Collect) {};
        ASSERT_EQ(procfs_foreach_task(tree, 100, collect_cb, &c), 0);
        ASSERT_EQ(c.n, 2);
        ASSERT_EQ(c.ids[0], 100);
        ASSERT_EQ(c.ids[1], 101);
        c = (Collect) { .stop_after = 1 };
        ASSERT_EQ(procfs_foreach_task(tree, 100, collect_cb, &c), -ENOENT); /* not turned into -ESRCH */
        ASSERT_EQ(procfs_foreach_task(tree, 7, collect_cb, &c), -ESRCH);   /* no task dir */
        ASSERT_EQ(procfs_foreach_task(tree, 555, collect_cb, &c), -ESRCH);
        ASSERT_TRUE(procfs_foreach_pid("/nonexistent-procfs-root", collect_cb, &c) < 0);
}

/* ---- real /proc ---- */

static void *thread_fn(void *arg) {
        int32_t *tid = arg;

        __atomic_store_n(tid, (int32_t) gettid(), __ATOMIC_SEQ_CST);
        pause(); /* until main cancels us */
        return NULL;
}

static void test_real_self(void) {
        _cleanup_(proc_info_done) ProcInfo p = {};
        char exe[PATH_MAX];
        ssize_t n;

        ASSERT_EQ(procfs_read("/proc", getpid(), PROCFS_ALL, &p), 0);
        ASSERT_TRUE(p.have & PROCFS_STAT && p.have & PROCFS_STATUS && p.have & PROCFS_EXE && p.have & PROCFS_ARGV);
        ASSERT_EQ(p.pid, getpid());
        ASSERT_EQ(p.tgid, getpid());
        ASSERT_EQ(p.ppid, getppid());
        ASSERT_EQ(p.ruid, getuid());
        ASSERT_EQ(p.euid, geteuid());
        ASSERT_EQ(p.rgid, getgid());
        ASSERT_EQ(p.sid, getsid(0));
        ASSERT_EQ(p.pgid, getpgid(0));
        ASSERT_EQ(p.state, 'R');
        ASSERT_TRUE(p.start_ticks > 0);
        ASSERT_TRUE(p.threads >= 1);
        ASSERT_TRUE(p.argv && streq(p.argv, arg0));
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        ASSERT_TRUE(n > 0);
        if (n > 0) {
                exe[n] = '\0';
                ASSERT_STREQ(p.exe, exe);
        }
        /* comm is the executable's name, cut to TASK_COMM_LEN - 1 bytes. */
        const char *base = strrchr(arg0, '/') ? strrchr(arg0, '/') + 1 : arg0;
        ASSERT_EQ(strncmp(p.comm, base, 15), 0);
        ASSERT_EQ(strlen(p.comm), MIN(strlen(base), 15U));
        fprintf(stderr, "this kernel %s NScaba (%u levels%s)\n", p.nscaba.present ? "has" : "lacks",
                p.nscaba.n_levels, p.nscaba.bare ? ", bare" : "");
        ASSERT_TRUE(!p.nscaba.malformed);
        if (p.have & PROCFS_LOGIN)
                fprintf(stderr, "loginuid=%" PRIu32 " sessionid=%" PRIu32 "\n", p.loginuid, p.sessionid);
        ASSERT_TRUE(procfs_clock_ticks() > 0);
        ASSERT_EQ(procfs_clock_ticks(), sysconf(_SC_CLK_TCK));
}

static void test_real_threads(void) {
        pthread_t t;
        int32_t tid = 0;
        Collect c = {};
        ProcInfo p = {};
        bool found = false;

        if (pthread_create(&t, NULL, thread_fn, &tid) != 0)
                die("pthread_create");
        while (__atomic_load_n(&tid, __ATOMIC_SEQ_CST) == 0)
                usleep(1000);
        ASSERT_EQ(procfs_foreach_task("/proc", getpid(), collect_cb, &c), 0);
        ASSERT_TRUE(c.n >= 2);
        ASSERT_EQ(c.ids[0], getpid()); /* the leader has the lowest tid */
        for (size_t i = 0; i < c.n; i++)
                found = found || c.ids[i] == tid;
        ASSERT_TRUE(found);
        ASSERT_EQ(procfs_read_task("/proc", getpid(), tid, PROCFS_ALL, &p), 0);
        ASSERT_EQ(p.pid, tid);
        ASSERT_EQ(p.tgid, getpid());
        ASSERT_EQ(p.have, PROCFS_STAT | PROCFS_STATUS);
        /* Thread ids are readable as /proc/TID too, and report their thread group. */
        ASSERT_EQ(procfs_read("/proc", tid, PROCFS_STATUS, &p), 0);
        ASSERT_EQ(p.tgid, getpid());
        pthread_cancel(t);
        pthread_join(t, NULL);
}

typedef struct Find {
        int32_t want;
        bool found;
} Find;

static int find_cb(int32_t pid, void *userdata) {
        Find *f = userdata;

        f->found = f->found || pid == f->want;
        return 1; /* positive does not stop */
}

static int count_cb(int32_t pid, void *userdata) {
        int32_t *last = userdata;

        if (pid <= *last)
                return -EBADMSG; /* not ascending */
        *last = pid;
        return 0;
}

static void test_real_children(void) {
        ProcInfo keep = { .pid = 4711 }, p = {};
        siginfo_t si = {};
        int32_t last = 0, self = getpid();
        pid_t child;

        ASSERT_EQ(procfs_foreach_pid("/proc", count_cb, &last), 0);
        ASSERT_TRUE(last >= self);
        Find f = { .want = self };
        ASSERT_EQ(procfs_foreach_pid("/proc", find_cb, &f), 0);
        ASSERT_TRUE(f.found);
        f = (Find) { .want = 1 };
        ASSERT_EQ(procfs_foreach_pid("/proc", find_cb, &f), 0);
        ASSERT_TRUE(f.found);

        /* Exited and reaped: gone. */
        child = fork();
        if (child < 0)
                die("fork");
        if (child == 0)
                _exit(0);
        if (waitpid(child, NULL, 0) != child)
                die("waitpid");
        ASSERT_EQ(procfs_read("/proc", child, PROCFS_ALL, &keep), -ESRCH);
        ASSERT_EQ(procfs_foreach_task("/proc", child, collect_cb, &(Collect) {}), -ESRCH);
        ASSERT_EQ(keep.pid, 4711);

        /* Exited, not reaped: a zombie has stat but no exe and no argv. */
        child = fork();
        if (child < 0)
                die("fork");
        if (child == 0)
                _exit(0);
        if (waitid(P_PID, (id_t) child, &si, WEXITED | WNOWAIT) < 0)
                die("waitid");
        ASSERT_EQ(procfs_read("/proc", child, PROCFS_ALL, &p), 0);
        ASSERT_EQ(p.state, 'Z');
        ASSERT_EQ(p.ppid, getpid());
        ASSERT_TRUE(!(p.have & PROCFS_EXE) && !p.exe);
        ASSERT_TRUE(!(p.have & PROCFS_ARGV) && !p.argv);
        proc_info_done(&p);
        (void) waitpid(child, NULL, 0);

        /* A kernel thread, if this is a full system: no exe, no argv. */
        if (procfs_read("/proc", 2, PROCFS_ALL, &p) == 0 && streq(p.comm, "kthreadd")) {
                ASSERT_EQ(p.have & (PROCFS_EXE | PROCFS_ARGV), 0);
                ASSERT_TRUE(!p.exe && !p.argv);
        } else
                fprintf(stderr, "pid 2 is not kthreadd, kernel thread check skipped\n");
        proc_info_done(&p);
}

/* As nobody, another user's exe link is EACCES: left out, the rest is read. */
static void test_real_eacces(void) {
        pid_t child;
        int status;

        if (geteuid() != 0) {
                fprintf(stderr, "not root, EACCES check skipped\n");
                return;
        }
        child = fork();
        if (child < 0)
                die("fork");
        if (child == 0) {
                ProcInfo p = {};

                if (setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(2);
                if (procfs_read("/proc", 1, PROCFS_ALL, &p) != 0)
                        _exit(3);
                if (!(p.have & PROCFS_STAT) || !(p.have & PROCFS_STATUS) || (p.have & PROCFS_EXE) || p.exe)
                        _exit(4);
                /* A synthetic cmdline we may not read. */
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/100/cmdline", tree);
                if (access(path, R_OK) == 0)
                        _exit(5);
                if (procfs_read(tree, 100, PROCFS_ALL, &p) != 0)
                        _exit(6);
                if ((p.have & PROCFS_ARGV) || p.argv || !(p.have & PROCFS_EXE))
                        _exit(7);
                _exit(0);
        }
        if (waitpid(child, &status, 0) != child)
                die("waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                TEST_FAIL("EACCES child failed with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}


/* procfs_exe_root_owned() on a tree of its own: exe links to a file only its owner can write, to one
 * its group can write too, and to nothing. Files the test makes are root's only when it runs as root. */
static void test_exe_root_owned(void) {
        char dir[] = "/tmp/lineage-test-exe.XXXXXX", path[PATH_MAX], target[PATH_MAX];
        static const struct {
                const char *pid, *file;
                mode_t mode;
        } cases[] = { { "1", "ok", 0755 }, { "2", "group-writable", 0775 }, { "3", "other-writable", 0757 } };
        bool root = geteuid() == 0;

        if (!mkdtemp(dir))
                die("mkdtemp");
        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                int fd;

                snprintf(target, sizeof(target), "%s/%s", dir, cases[k].file);
                fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                if (fd < 0 || fchmod(fd, cases[k].mode) < 0)
                        die("create");
                close(fd);
                snprintf(path, sizeof(path), "%s/%s", dir, cases[k].pid);
                if (mkdir(path, 0755) < 0)
                        die("mkdir");
                snprintf(path, sizeof(path), "%s/%s/exe", dir, cases[k].pid);
                if (symlink(target, path) < 0)
                        die("symlink");
        }
        snprintf(path, sizeof(path), "%s/4", dir);
        if (mkdir(path, 0755) < 0)
                die("mkdir");
        snprintf(path, sizeof(path), "%s/4/exe", dir);
        if (symlink("/nonexistent/lineage-test (deleted)", path) < 0)
                die("symlink");

        ASSERT_EQ(procfs_exe_root_owned(dir, 1), root ? 1 : 0);
        ASSERT_EQ(procfs_exe_root_owned(dir, 2), 0);
        ASSERT_EQ(procfs_exe_root_owned(dir, 3), 0);
        ASSERT_EQ(procfs_exe_root_owned(dir, 4), -ESRCH);  /* gone */
        ASSERT_EQ(procfs_exe_root_owned(dir, 5), -ESRCH);  /* no such process */
        /* The real thing: this test runs its own binary, root's only if built by root. */
        {
                struct stat st;

                if (stat("/proc/self/exe", &st) == 0)
                        ASSERT_EQ(procfs_exe_root_owned("/proc", getpid()),
                                     st.st_uid == 0 && !(st.st_mode & (S_IWGRP | S_IWOTH)) ? 1 : 0);
        }
        remove_tree(dir);
}

/* Container ids from cgroup paths: each runtime's form, and paths that only look like one. */
static void check_container(const char *path, const char *want) {
        char id[PROCFS_CONTAINER_ID_LEN + 1] = "";
        int r = procfs_container_id(path, id);

        if (want) {
                if (r != 1 || strcmp(id, want) != 0)
                        TEST_FAIL("container id of %s: got %d \"%s\", want %s", path, r, id, want);
        } else if (r != 0)
                TEST_FAIL("container id of %s: got \"%s\", want none", path, id);
}

/* check_container() of a path made from fmt (the ids are too long to write out in each). */
static _printf_(2, 3) void check_container_f(const char *want, const char *fmt, ...) {
        char path[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(path, sizeof(path), fmt, ap);
        va_end(ap);
        check_container(path, want);
}

static void test_container_id(void) {
        const char *h = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        const char *g = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

        check_container_f(h, "/system.slice/docker-%s.scope", h);
        check_container_f(h, "/machine.slice/libpod-%s.scope/container", h);
        check_container_f(h, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b.slice/cri-containerd-%s.scope", h);
        check_container_f(h, "/kubepods.slice/kubepods-pod1a2b.slice/crio-%s.scope", h);
        check_container_f(h, "/docker/%s", h);
        check_container_f(h, "/kubepods/besteffort/pod5f3e-11/%s", h);
        /* Nested: the innermost names the container the process is in. */
        check_container_f(g, "/docker/%s/docker/%s", h, g);
        check_container_f(h, "/system.slice/docker-%s.scope/init.scope", h);

        check_container(NULL, NULL);
        check_container("", NULL);
        check_container("/", NULL);
        check_container("/user.slice/user-0.slice/session-3.scope", NULL);
        check_container("/system.slice/docker.service", NULL);
        check_container("/docker-.scope", NULL);
        check_container("/docker/", NULL);
        check_container_f(NULL, "/system.slice/docker-%s0.scope", h); /* 65 digits */
        check_container_f(NULL, "/system.slice/docker-%.63s.scope", h); /* 63 digits */
        check_container_f(NULL, "/system.slice/docker-%.63sg.scope", h); /* not hex */
        check_container_f(NULL, "/system.slice/docker-%.63sA.scope", h); /* upper case */
        check_container_f(NULL, "/system.slice/docker-%s.scopex", h);
        check_container_f(NULL, "/system.slice/docker-%s", h); /* no .scope */
        check_container_f(NULL, "/machine.slice/libpod-conmon-%s.scope", h); /* the monitor, not the container */
        check_container_f(NULL, "/user.slice/%s", h); /* bare hex, no runtime above */
        check_container_f(NULL, "/xdocker/%s", h);
        check_container_f(NULL, "/docker/%s\n", h); /* trailing junk */
        {
                char big[8192];

                memset(big, 'a', sizeof(big) - 1);
                big[sizeof(big) - 1] = 0;
                check_container(big, NULL);
                memcpy(big, "/docker/", 8);
                check_container(big, NULL);
        }
}

int main(int argc, char **argv) {
        char path[PATH_MAX];

        (void) argc;
        arg0 = argv[0];
        log_setup();

        test_stat_normal();
        test_stat_hostile_comm();
        test_stat_malformed();
        test_sanitize_comm();
        test_nscaba();
        test_status();
        test_status_malformed();
        test_exe_root_owned();
        test_container_id();

        build_tree();
        test_tree_read();
        test_tree_foreach();
        snprintf(path, sizeof(path), "%s/100/cmdline", tree);
        if (chmod(path, 0600) < 0)
                die("chmod");

        test_real_self();
        test_real_threads();
        test_real_children();
        test_real_eacces();
        remove_tree(tree);

        printf("all procfs tests passed\n");
        return EXIT_SUCCESS;
}
