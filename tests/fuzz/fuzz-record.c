/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the record file parser (--replay input) and the tracker behind it. */
#include "record.h"

static int on_event(const CnprocEvent *ev, void *userdata) {
        tracker_handle_event(userdata, ev);
        return 0;
}

static int on_loss(const CnprocLoss *l, void *userdata) {
        tracker_handle_loss(userdata, l);
        return 0;
}

static int on_scan_begin(uint64_t at, void *userdata) {
        tracker_scan_begin(userdata, at);
        return 0;
}

static int on_scan(const ProcInfo *i, const int32_t *tids, size_t n, int32_t caba, void *userdata) {
        (void) tracker_scan_add(userdata, i, tids, n, caba);
        return 0;
}

static int on_scan_end(void *userdata) {
        tracker_scan_end(userdata);
        return 0;
}

static int on_info(const ProcInfo *i, void *userdata) {
        Instance *inst = tracker_get(userdata, i->pid);

        if (inst)
                tracker_apply_info(userdata, inst, i);
        return 0;
}

static int sink_instance(const Instance *i, void *userdata) {
        return 0;
}
static int sink_event(const TrackerEvent *e, void *userdata) {
        return 0;
}
static int sink_gap(const TrackerGap *g, void *userdata) {
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const RecordHandlers h = {
                .event = on_event, .loss = on_loss, .scan_begin = on_scan_begin,
                .scan = on_scan, .scan_end = on_scan_end, .info = on_info,
        };
        static const TrackerSink sink = { .instance = sink_instance, .event = sink_event, .gap = sink_gap };
        TrackerClock clock = { .clock_ticks = 100 };
        _cleanup_(tracker_freep) Tracker *t = NULL;

        if (tracker_new(&t, &clock, 1) < 0)
                return 0;
        (void) record_parse(data, size, &h, t);
        (void) tracker_flush(t, &sink, NULL);
        tracker_flush_complete(t);
        return 0;
}
