/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* record: the tracker's input stream (events, losses, /proc facts) written to a file and read back. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cnproc.h"
#include "procfs.h"
#include "tracker.h"

#define RECORD_MAGIC "LNGREC01"
#define RECORD_PAYLOAD_MAX (1U << 20) /* no record is bigger: argv and exe are bounded by procfs */

typedef enum RecordKind {
        RECORD_CLOCK = 1,       /* RecordClock */
        RECORD_EVENT = 2,       /* CnprocEvent */
        RECORD_LOSS = 3,        /* CnprocLoss */
        RECORD_SCAN_BEGIN = 4,  /* uint64_t monotonic ns */
        RECORD_SCAN = 5,        /* a scanned thread group: ProcInfo, thread ids, kernel CABA */
        RECORD_SCAN_END = 6,    /* empty */
        RECORD_INFO = 7,        /* facts read after an exec: ProcInfo */
        RECORD_LOGIN = 8,       /* a login began at pid, or its details were read: RecordLogin */
        RECORD_RECONCILE = 9,   /* after a scan: instances it did not find exited by then: uint64_t realtime µs */
        RECORD_BPF_EXEC = 10,   /* the image of an exec from the eBPF exec source, path resolved: ProcInfo */
        RECORD_BPF_LOSS = 11,   /* the eBPF ring buffer dropped records: RecordBpfLoss */
} RecordKind;

typedef struct RecordLogin {
        int32_t pid;            /* the login instance (begin) or any instance of the session (details) */
        uint32_t audit_session;
        uint32_t begin;         /* 1: the login begins at pid */
        int32_t remote_port;
        char service[64];
        char remote_address[64];
        char tty[32];
        char logind_session[32];
        char unit[128];
        /* Added later: records written before it are shorter and read as RECORD_LOGIN_TRUST_UNKNOWN. */
        uint32_t trust;         /* RecordLoginTrust: whether the login process was found privileged */
} RecordLogin;

typedef enum RecordLoginTrust {
        RECORD_LOGIN_TRUST_UNKNOWN = 0, /* not decided in this record */
        RECORD_LOGIN_TRUSTED = 1,
        RECORD_LOGIN_SELF_DECLARED = 2,
} RecordLoginTrust;

/* The size of a RecordLogin before it had trust. */
#define RECORD_LOGIN_SIZE_V1 offsetof(RecordLogin, trust)

typedef struct RecordBpfLoss {
        uint64_t lost;          /* records dropped since the last loss record */
        uint64_t at_ns;         /* CLOCK_MONOTONIC when it was noticed */
} RecordBpfLoss;

typedef struct RecordClock {
        TrackerClock clock;
        char boot_id[33];
        char _pad[7];
} RecordClock;

typedef struct RecordWriter RecordWriter;

int record_writer_open(RecordWriter **ret, const char *path);
RecordWriter *record_writer_close(RecordWriter *w);
int record_write_clock(RecordWriter *w, const RecordClock *c);
int record_write_event(RecordWriter *w, const CnprocEvent *ev);
int record_write_loss(RecordWriter *w, const CnprocLoss *loss);
int record_write_scan_begin(RecordWriter *w, uint64_t at_ns);
int record_write_scan(RecordWriter *w, const ProcInfo *info, const int32_t *tids, size_t n_tids, int32_t caba_tgid);
int record_write_scan_end(RecordWriter *w);
int record_write_info(RecordWriter *w, const ProcInfo *info);
int record_write_login(RecordWriter *w, const RecordLogin *l);
int record_write_reconcile(RecordWriter *w, uint64_t exit_time);
int record_write_bpf_exec(RecordWriter *w, const ProcInfo *info);
int record_write_bpf_loss(RecordWriter *w, const RecordBpfLoss *loss);
int record_writer_flush(RecordWriter *w);

/* What a reader hands out. Pointers are valid only during the callback. */
typedef struct RecordHandlers {
        int (*clock)(const RecordClock *c, void *userdata);
        int (*event)(const CnprocEvent *ev, void *userdata);
        int (*loss)(const CnprocLoss *loss, void *userdata);
        int (*scan_begin)(uint64_t at_ns, void *userdata);
        int (*scan)(const ProcInfo *info, const int32_t *tids, size_t n_tids, int32_t caba_tgid, void *userdata);
        int (*scan_end)(void *userdata);
        int (*info)(const ProcInfo *info, void *userdata);
        int (*login)(const RecordLogin *l, void *userdata);
        int (*reconcile)(uint64_t exit_time, void *userdata);
        int (*bpf_exec)(const ProcInfo *info, void *userdata);
        int (*bpf_loss)(const RecordBpfLoss *loss, void *userdata);
} RecordHandlers;

/* Decodes a whole record stream held in memory; every length is checked. Returns the number of records,
 * -EBADMSG on malformed input (records before it were delivered), or a handler's error. */
int record_parse(const uint8_t *buf, size_t len, const RecordHandlers *h, void *userdata);
/* Maps a file and parses it. */
int record_read_file(const char *path, const RecordHandlers *h, void *userdata);

DEFINE_TRIVIAL_CLEANUP_FUNC(RecordWriter *, record_writer_close);
