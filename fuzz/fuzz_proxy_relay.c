/* fuzz_proxy_relay.c -- feeds arbitrary bytes to icproxy's relay port as a connection's
 * introduction (RELAY token source|peer): the bounded intro parser must never crash or hang, and
 * a bad or unknown introduction only closes that connection. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "invoker.h"
#include "lifecycle.h"
#include "proxy_harness.h"

/* The relay port needs no platform: nothing here invokes a function. */
struct invoker {
    int unused;
};

invoker_t *invoker_start(server_t *srv, const char *endpoint, const char *sigv4, int64_t timeout_ms,
                         const char *admin_token)
{
    return calloc(1, sizeof(invoker_t));
}

void invoker_invoke(invoker_t *inv, int node_id, const char *function, const char *payload)
{
    abort(); /* the relay must never invoke */
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

static server_t *make_server(void)
{
    static server_t srv;
    char *argv[] = {"fuzz", "--pool-size", "2", "--d", "1", "--p", "1", "--log-level", "error",
                    "--node-connect-timeout", "50ms"};
    harness_server(&srv, (int)(sizeof argv / sizeof *argv), argv);
    /* A backup of node 0 is waiting for its source and peer under this token. */
    snprintf(srv.nodes[0].backup_token, sizeof srv.nodes[0].backup_token, "feedc0de");
    return &srv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static server_t *srv;
    if (!srv) srv = make_server();
    int sv[2];
    if (harness_socketpair(sv) < 0) return 0;
    lifecycle_relay_adopt(srv, sv[0]);
    /* The first byte picks whether a proven introduction comes first (so the pairing and the
     * bytes after it are reached) and for which role; the rest is the fuzzer's. */
    char challenge[NODEAUTH_NONCE_HEX + 1];
    if (harness_read_challenge(sv[1], challenge) < 0) abort();
    size_t off = 0;
    if (size > 0 && (data[0] & 1)) {
        const char *role = data[0] & 2 ? "peer" : "source";
        char proof[NODEAUTH_MAC_HEX + 1], intro[256];
        nodeauth_relay_proof(HARNESS_NODE_SECRET, challenge, NODEAUTH_NONCE_HEX, "feedc0de", 8, role,
                         strlen(role), proof);
        int len = snprintf(intro, sizeof intro,
                           "*4\r\n$5\r\nRELAY\r\n$8\r\nfeedc0de\r\n$%zu\r\n%s\r\n$64\r\n%s\r\n",
                           strlen(role), role, proof);
        if (write(sv[1], intro, (size_t)len) != len) abort();
        off = 1;
    }
    for (int round = 0; round < 16 && off < size; round++) {
        ssize_t w = write(sv[1], data + off, size - off);
        if (w > 0) off += (size_t)w;
        run_passes(srv, 1);
    }
    close(sv[1]);
    run_passes(srv, 3);
    return 0;
}
