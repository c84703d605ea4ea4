/* fuzz_proxy_node.c -- feeds arbitrary bytes to icproxy as the replies and messages of a cache
 * node (after its proven HELLO), with a mix of requests in flight: the proxy's node-protocol parser
 * (HELLO/BYE/BACKUPDONE, +OK/-ERR, CGET headers and bodies, CDEL counts, INVENTORY blobs) must
 * never crash or hang. */
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
#include "server.h"
#include "transport.h"
#define HARNESS_INVOKER_SUCCEEDS
#include "proxy_harness.h"

static void request_done(nreq_t *q, nres_t res, const char *err)
{
    nreq_free(q);
}

static void body_drained(relay_t *r, relay_status_t st, void *arg)
{
    nreq_free(arg);
}

static void body_arrived(nreq_t *q, uint32_t crc, size_t len)
{
    relay_start(q->node->conn, RELAY_DISCARD, NULL, NULL, len, body_drained, q);
}

static server_t *make_server(void)
{
    static server_t srv;
    char *argv[] = {"fuzz",  "--pool-size",         "2",    "--d",
                    "1",     "--p",                 "1",    "--log-level",
                    "error", "--request-timeout",   "50ms", "--node-connect-timeout",
                    "50ms"};
    harness_server(&srv, (int)(sizeof argv / sizeof *argv), argv);
    /* Inventories are reconciled as in normal service (the start-up rebuild is over). */
    if (repair_init(&srv) < 0) abort();
    repair_rebuild_done(&srv);
    return &srv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static server_t *srv;
    if (!srv) srv = make_server();
    int sv[2];
    if (harness_socketpair(sv) < 0) return 0;
    node_accept(srv, sv[0]);
    run_passes(srv, 1);
    char challenge[NODEAUTH_NONCE_HEX + 1];
    if (harness_read_challenge(sv[1], challenge) < 0 || harness_send_hello(sv[1], 0, challenge) < 0)
        abort();
    run_passes(srv, 2);
    if (!srv->nodes[0].conn) abort(); /* a proven HELLO is accepted */
    node_t *n = &srv->nodes[0];
    /* A request of every kind in flight, in the order the replies are expected (the HELLO of
     * an instance the proxy does not know has queued an INVENTORY first). */
    static const nreq_kind_t kinds[] = {NREQ_PING, NREQ_CGET,      NREQ_CSET, NREQ_CDEL,
                                        NREQ_CGET, NREQ_INVENTORY, NREQ_BACKUP};
    static char body[8] = "chunkxx";
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        nreq_t *q = nreq_new(kinds[i], NULL, 0, "key", 3, (int)i, 7);
        if (!q) break;
        q->done = request_done;
        q->on_body = body_arrived;
        if (kinds[i] == NREQ_CSET) {
            q->body_ref = objbuf_new(sizeof body);
            memcpy(q->body_ref->data, body, sizeof body);
            q->body_ptr = q->body_ref->data;
            q->body_len = sizeof body;
        }
        node_submit(n, q);
    }
    char sink[65536];
    size_t off = 0;
    for (int round = 0; round < 32 && (off < size || round < 2); round++) {
        run_passes(srv, 1);
        while (read(sv[1], sink, sizeof sink) > 0) {
        }
        if (off < size) {
            ssize_t w = write(sv[1], data + off, size - off);
            if (w > 0) off += (size_t)w;
        }
        run_passes(srv, 1);
    }
    /* The node goes away: everything still in flight fails cleanly. */
    close(sv[1]);
    run_passes(srv, 4);
    return 0;
}
