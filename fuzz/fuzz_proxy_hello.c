/* fuzz_proxy_hello.c -- feeds arbitrary bytes to icproxy as the first words of a node connection
 * (after the proxy's CHALLENGE): whatever they are, without the node secret they must never make
 * the connection a node's, never draw an INVENTORY or a chunk request, and never crash or hang. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "nodepool.h"
#include "repair.h"
#define HARNESS_INVOKER_SUCCEEDS
#include "proxy_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static server_t srv;
    if (!srv.loop) {
        char *argv[] = {"fuzz", "--pool-size", "2", "--d", "1", "--p", "1", "--log-level", "error"};
        harness_server(&srv, (int)(sizeof argv / sizeof *argv), argv);
        if (repair_init(&srv) < 0) abort();
        repair_rebuild_done(&srv);
    }
    int sv[2];
    if (harness_socketpair(sv) < 0) return 0;
    node_accept(&srv, sv[0]);
    run_passes(&srv, 1);
    char challenge[NODEAUTH_NONCE_HEX + 1];
    if (harness_read_challenge(sv[1], challenge) < 0) abort();
    char sink[65536];
    size_t off = 0;
    for (int round = 0; round < 16 && off < size; round++) {
        ssize_t w = write(sv[1], data + off, size - off);
        if (w > 0) off += (size_t)w;
        run_passes(&srv, 1);
        ssize_t n;
        while ((n = read(sv[1], sink, sizeof sink - 1)) > 0) {
            sink[n] = 0;
            if (memmem(sink, (size_t)n, "INVENTORY", 9) || memmem(sink, (size_t)n, "CGET", 4))
                abort();
        }
    }
    for (int i = 0; i < srv.nnodes; i++)
        if (srv.nodes[i].conn) abort(); /* an unproven connection became a node */
    if (srv.fenced) abort();            /* an unproven HELLO claimed a higher takeover epoch */
    close(sv[1]);
    run_passes(&srv, 2);
    return 0;
}
