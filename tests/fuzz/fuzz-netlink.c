/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzer for the proc connector datagram decoder and the per-CPU sequence tracking behind it. */
#include <stdint.h>

#include "lineage/util.h"
#include "cnproc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void noop_event(const CnprocEvent *ev, void *userdata) {
        /* Touch the comm so a missing terminator would show up under ASan. */
        if (ev->type == LINEAGE_EVENT_COMM)
                *(size_t *) userdata += strlen(ev->comm.comm);
}

static void noop_loss(const CnprocLoss *loss, void *userdata) {
        *(size_t *) userdata += loss->lost;
}

/* Static: the object below outlives a single input and keeps a pointer to it. */
static size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnprocCallbacks cb = { .event = noop_event, .loss = noop_loss };
        static Cnproc *c = NULL;
        int r;

        /* Real datagrams beyond the 4 KiB receive buffer are rejected as truncated before decoding. */
        if (size > 65536)
                return 0;

        /* The decoder reports a count or one of its two errors, nothing else. */
        r = cnproc_decode(data, size, 0, noop_event, &sink);
        if (r < 0 && r != -EBADMSG)
                abort();

        /* Keep one object across inputs so sequence state carries over, as it does in the daemon. */
        if (!c && cnproc_new(&c, &cb, &sink) < 0)
                return 0;
        (void) cnproc_process_datagram(c, data, size, 0);
        return 0;
}
