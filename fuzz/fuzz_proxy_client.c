/* fuzz_proxy_client.c -- feeds arbitrary bytes to icproxy as one client connection and runs the
 * real command path (parsing, dispatch, SET/GET/IC* handling, errors) for a bounded number of
 * loop passes. Nodes are never reachable: this invoker fails every invocation, so commands that
 * need nodes end with an error, as when the platform refuses. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "net.h"
#include "client.h"
#include "invoker.h"
#include "nodepool.h"
#include "server.h"
#include "proxy_harness.h"

/* ---- an invoker that refuses everything, asynchronously (as a real one would) ---- */
struct invoker {
    server_t *srv;
};

typedef struct {
    server_t *srv;
    int node_id;
} refusal_t;

static void refuse_cb(ev_loop_t *loop, void *arg)
{
    refusal_t *r = arg;
    node_invoke_result(r->srv, r->node_id, 0, "fuzz: no platform");
    free(r);
}

invoker_t *invoker_start(server_t *srv, const char *endpoint, const char *sigv4, int64_t timeout_ms,
                         const char *admin_token)
{
    invoker_t *inv = calloc(1, sizeof *inv);
    inv->srv = srv;
    return inv;
}

void invoker_invoke(invoker_t *inv, int node_id, const char *function, const char *payload)
{
    refusal_t *r = malloc(sizeof *r);
    r->srv = inv->srv;
    r->node_id = node_id;
    ev_timer_add(inv->srv->loop, 0, refuse_cb, r);
}

void invoker_platform_stats(invoker_t *inv, char *out, size_t cap)
{
    snprintf(out, cap, "{\"requests\":1}");
}

void invoker_stop(invoker_t *inv)
{
    free(inv);
}

void invoker_counters(invoker_t *inv, uint64_t *throttled, uint64_t *retries)
{
    *throttled = *retries = 0;
}

static server_t *g_srv;

static server_t *make_server(void)
{
    static server_t srv;
    char *argv[] = {
        "fuzz",  "--pool-size",       "14",   "--max-object-size",      "1m",  "--log-level",
        "error", "--request-timeout", "10ms", "--node-connect-timeout", "10ms"};
    return harness_server(&srv, (int)(sizeof argv / sizeof *argv), argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_srv) g_srv = make_server();
    server_t *srv = g_srv;
    int sv[2];
    if (harness_socketpair(sv) < 0) return 0;
    client_accept(srv, sv[0], NULL);
    client_t *c = srv->clients;
    size_t off = 0;
    char sink[65536];
    for (int round = 0; round < 64 && (off < size || round < 4); round++) {
        if (off < size) {
            ssize_t w = write(sv[1], data + off, size - off);
            if (w > 0) off += (size_t)w;
        }
        run_passes(srv, 2);
        while (read(sv[1], sink, sizeof sink) > 0) {
        }
    }
    run_passes(srv, 8); /* refused invocations fail what was waiting for nodes */
    if (srv->clients == c && c) client_conn_failed(c->conn, "fuzz done");
    run_passes(srv, 2);
    close(sv[1]);
    return 0;
}
