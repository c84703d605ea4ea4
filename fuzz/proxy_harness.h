/* proxy_harness.h -- what the icproxy fuzz targets share: bounded runs of the real event loop. */
#ifndef IC_FUZZ_PROXY_HARNESS_H
#define IC_FUZZ_PROXY_HARNESS_H

#include "proxy.h"

static void harness_stop_cb(ev_loop_t *loop, void *arg)
{
    ev_stop(loop);
}

/* Runs `passes` iterations of the loop (I/O, housekeeping, due timers), then returns. */
static void run_passes(server_t *srv, int passes)
{
    for (int i = 0; i < passes; i++) {
        ev_timer_add(srv->loop, 0, harness_stop_cb, NULL);
        ev_run(srv->loop);
    }
}

#endif
