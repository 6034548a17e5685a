/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon as query's source: the few facts and hooks query reads of it (query.h's QuerySource). */
#include "daemon.h"
#include "query.h"

static uint64_t source_boot(void *userdata) {
        return daemon_boot(userdata);
}

static int64_t source_realtime_offset(void *userdata) {
        return daemon_realtime_offset(userdata);
}

static int source_flush(void *userdata) {
        return daemon_flush(userdata);
}

static void source_status(void *userdata, QueryStatus *ret) {
        Daemon *d = userdata;
        DaemonBpfStats bs;

        daemon_get_bpf_stats(d, &bs);
        *ret = (QueryStatus) {
                .start_time = daemon_start_time(d),
                .exec_source = daemon_exec_source(d),
                .exec_source_reason = daemon_exec_source_reason(d),
                .bpf_records = bs.records,
                .bpf_lost = bs.lost,
                .bpf_only_execs = bs.only_bpf,
                .bpf_unmatched = bs.unmatched,
                .pruned = daemon_pruned(d),
                .store_error = daemon_store_error(d),
                .kernel_caba = daemon_kernel_has_caba(d),
                .caba_disagreements = daemon_caba_disagreements(d),
        };
        if (daemon_cnproc(d))
                cnproc_get_stats(daemon_cnproc(d), &ret->cnproc);
        daemon_varlink_stats(d, &ret->varlink);
}

static int source_kernel_caba(void *userdata, int32_t pid, int32_t *ret_tgid) {
        return daemon_kernel_caba(userdata, pid, ret_tgid);
}

static bool source_kernel_has_caba(void *userdata) {
        return daemon_kernel_has_caba(userdata);
}

static bool source_check_caba(void *userdata, Instance *live, int32_t kernel_tgid, const char **ret_difference) {
        CabaAgreement a = daemon_check_caba(userdata, live, kernel_tgid);

        *ret_difference = caba_agreement_to_string(a);
        return a != CABA_DISAGREE;
}

int query_new(Query **ret, Daemon *d) {
        QuerySource s = {
                .tracker = daemon_tracker(d),
                .store = daemon_store(d),
                .proc_root = daemon_proc_root(d),
                .boot_id = daemon_boot_id(d),
                .userdata = d,
                .boot = source_boot,
                .realtime_offset = source_realtime_offset,
                .flush = source_flush,
                .status = source_status,
                .kernel_caba = source_kernel_caba,
                .kernel_has_caba = source_kernel_has_caba,
                .check_caba = source_check_caba,
        };

        return query_new_source(ret, &s);
}
