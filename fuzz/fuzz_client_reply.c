/* fuzz_client_reply.c -- libFuzzer driver: arbitrary bytes as the proxy's ICGET reply, through the
 * whole ic_get/ic_get_into path over a socketpair (the reply decoder alone: fuzz_icproto.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "icc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ic_client_t *client;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 200000) return 0; /* must fit the socket buffer: the driver writes it all first */
    if (!client) {
        ic_options_t o;
        ic_options_init(&o);
        o.max_object_size = 1 << 16; /* bounds what a reply can make the client allocate */
        o.op_timeout_ms = 1000;
        o.chunk_deadline_ms = 50;
        client = ic_client_new(&o, NULL);
        if (!client) abort();
    }
    for (int variant = 0; variant < 2; variant++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 0;
        int big = 1 << 20;
        setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
        setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
        size_t w = 0;
        while (w < size) {
            ssize_t n = write(sv[1], data + w, size - w);
            if (n <= 0) break;
            w += (size_t)n;
        }
        shutdown(sv[1], SHUT_WR); /* EOF after the reply: no waiting for the deadline */
        icc_client_adopt_fd(client, 0, sv[0]);
        size_t len = 0;
        int rc;
        if (variant == 0) {
            void *v = NULL;
            rc = ic_get(client, "k", 1, &v, &len);
            if (rc == IC_HIT && !v) __builtin_trap();
            if (rc != IC_HIT && v) __builtin_trap();
            ic_free(v);
        } else {
            static uint8_t buf[1 << 16];
            rc = ic_get_into(client, "k", 1, buf, sizeof buf / 2, &len);
            if (rc == IC_HIT && len > sizeof buf / 2) __builtin_trap();
        }
        if (rc > IC_HIT) __builtin_trap();
        close(sv[1]);
        /* The client closes sv[0] itself on errors; adopt_fd closes it on the next round. */
    }
    return 0;
}
