/* fuzz_node_challenge.c -- feeds arbitrary bytes to icnode as the first words of the proxy (or
 * relay) on a new connection: only a well-formed CHALLENGE of 32 characters is taken, nothing is
 * read past it, and anything else closes the connection without a crash or a hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve.h"
#include "log.h"
#include "net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static store_t store;
    static int init;
    if (!init) {
        log_set_level(LOG_LEVEL_ERROR);
        store_init(&store, 1 << 20);
        init = 1;
    }
    if (size > 4096) return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 0;
    if (write(sv[1], data, size) != (ssize_t)size) abort();
    close(sv[1]); /* an end of file ends the wait at once */
    node_conn_t c;
    node_conn_init(&c, &store, NULL, NULL);
    c.role = "proxy";
    c.fd = sv[0];
    net_set_nonblock(sv[0], 1);
    int rc = node_conn_await_challenge(&c, 1000);
    if (rc == 0) {
        if (strlen(c.challenge) != NODEAUTH_NONCE_HEX || c.fd < 0) abort();
        if (buf_len(&c.in) > size) abort();
    } else if (c.fd >= 0) {
        abort(); /* a failed wait closes the connection */
    }
    node_conn_free(&c);
    return 0;
}
