/* proxy_harness.h -- what the icproxy fuzz targets share: bounded runs of the real event loop. */
#ifndef IC_FUZZ_PROXY_HARNESS_H
#define IC_FUZZ_PROXY_HARNESS_H

#include <stdio.h>
#include <stdlib.h>

#include <sys/socket.h>

#include "log.h"
#include "net.h"
#include "proxy.h"

/* A server as main() would set it up, from icproxy flags, without sockets or a platform: nodes
 * are idle until a target connects one. The invoker is the target's own stand-in. */
static server_t *harness_server(server_t *srv, int argc, char **argv)
{
    char err[256];
    if (proxy_config_load(&srv->cfg, argc, argv, err, sizeof err) != 0) abort();
    if (auth_load(&srv->auth, srv->cfg.requirepass, srv->cfg.aclfile, err, sizeof err) < 0) abort();
    log_set_level(LOG_LEVEL_ERROR);
    srv->loop = ev_create(4096);
    ev_set_after_io(srv->loop, server_after_io, srv);
    meta_table_init(&srv->meta);
    srv->nnodes = (int)srv->cfg.pool_size;
    srv->nodes = calloc((size_t)srv->nnodes, sizeof *srv->nodes);
    for (int i = 0; i < srv->nnodes; i++)
        node_init(srv, &srv->nodes[i], i);
    snprintf(srv->node_addr, sizeof srv->node_addr, "127.0.0.1:1");
    srv->invoker = invoker_start(srv, "", "", 1000);
    return srv;
}

static void harness_stop_cb(ev_loop_t *loop, void *arg)
{
    ev_stop(loop);
}

/* A connected, non-blocking socket pair: sv[0] for the proxy, sv[1] for the target. */
static int harness_socketpair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return -1;
    net_set_nonblock(sv[0], 1);
    net_set_nonblock(sv[1], 1);
    return 0;
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
