/* proxy_harness.h -- what the icproxy fuzz targets share: bounded runs of the real event loop. */
#ifndef IC_FUZZ_PROXY_HARNESS_H
#define IC_FUZZ_PROXY_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include "log.h"
#include "net.h"
#include "auth.h"
#include "auth.h"
#include "invoker.h"
#include "nodepool.h"
#include "op.h"
#include "proxy_config.h"
#include "server.h"
#include "transport.h"

#ifdef HARNESS_INVOKER_SUCCEEDS
/* The invoker of targets whose node is already connected: an invocation only has to succeed. */
struct invoker {
    server_t *srv;
};

invoker_t *invoker_start(server_t *srv, const char *endpoint, const char *sigv4, int64_t timeout_ms,
                         const char *admin_token)
{
    invoker_t *inv = calloc(1, sizeof *inv);
    inv->srv = srv;
    return inv;
}

void invoker_invoke(invoker_t *inv, int node_id, const char *function, const char *payload)
{
    node_invoke_result(inv->srv, node_id, 1, NULL);
}

void invoker_platform_stats(invoker_t *inv, char *out, size_t cap)
{
    out[0] = 0;
}

void invoker_stop(invoker_t *inv)
{
    free(inv);
}

void invoker_counters(invoker_t *inv, uint64_t *throttled, uint64_t *retries)
{
    *throttled = *retries = 0;
}
#endif

#define HARNESS_NODE_SECRET "fuzz-node-secret-0123456789abcdef"

static void harness_send_staged(void *arg)
{
    ops_start_staged(arg);
}

/* A server as main() would set it up, from icproxy flags, without sockets or a platform: nodes
 * are idle until a target connects one. The invoker is the target's own stand-in. */
static server_t *harness_server(server_t *srv, int argc, char **argv)
{
    char err[256];
    if (proxy_config_load(&srv->cfg, argc, argv, err, sizeof err) != 0) abort();
    if (auth_load(&srv->auth, srv->cfg.requirepass, srv->cfg.aclfile, err, sizeof err) < 0) abort();
    log_set_level(LOG_LEVEL_ERROR);
    srv->loop = ev_create(4096);
    transport_init(&srv->tp, srv->loop);
    transport_add_hook(&srv->tp, harness_send_staged, srv);
    meta_table_init(&srv->meta);
    srv->nnodes = (int)srv->cfg.pool_size;
    srv->nodes = calloc((size_t)srv->nnodes, sizeof *srv->nodes);
    for (int i = 0; i < srv->nnodes; i++)
        node_init(srv, &srv->nodes[i], i);
    snprintf(srv->node_addr, sizeof srv->node_addr, "127.0.0.1:1");
    snprintf(srv->node_secrets.current, sizeof srv->node_secrets.current, "%s",
             HARNESS_NODE_SECRET);
    srv->invoker = invoker_start(srv, "", "", 1000, "");
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

/* Reads the CHALLENGE the proxy sent on a new node connection (sv[1] side) into out; 0 or -1. */
static inline int harness_read_challenge(int fd, char out[NODEAUTH_NONCE_HEX + 1])
{
    char msg[128];
    ssize_t n = read(fd, msg, sizeof msg - 1);
    if (n <= 0) return -1;
    msg[n] = 0;
    const char *at = strstr(msg, "$32\r\n");
    if (!at || strlen(at) < 5 + NODEAUTH_NONCE_HEX) return -1;
    memcpy(out, at + 5, NODEAUTH_NONCE_HEX);
    out[NODEAUTH_NONCE_HEX] = 0;
    return 0;
}

/* Writes a proven HELLO for node_id as instance "fuzz" answering challenge. 0 or -1. */
static inline int harness_send_hello(int fd, int node_id, const char *challenge)
{
    char id[16], proof[NODEAUTH_MAC_HEX + 1], msg[256];
    snprintf(id, sizeof id, "%d", node_id);
    nodeauth_hello_proof(HARNESS_NODE_SECRET, challenge, strlen(challenge), id, strlen(id), "fuzz", 4,
                     proof);
    int len = snprintf(msg, sizeof msg,
                       "*8\r\n$5\r\nHELLO\r\n$%zu\r\n%s\r\n$4\r\nfuzz\r\n$8\r\n67108864\r\n"
                       "$1\r\n0\r\n$1\r\n0\r\n$1\r\n1\r\n$64\r\n%s\r\n",
                       strlen(id), id, proof);
    return write(fd, msg, (size_t)len) == len ? 0 : -1;
}

#endif
