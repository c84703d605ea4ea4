/* fuzz_node_request.c -- libFuzzer driver for the node's request path: arbitrary proxy bytes,
 * fed in pieces, go through the reader and dispatch against a small store; memory accounting
 * must stay within its limit and return to zero when everything is freed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    store_t store;
    node_conn_t c;
    uint64_t invocations = 1;
    store_init(&store, 64 * 1024);
    node_conn_init(&c, &store, NULL, &invocations);
    /* The first byte picks the piece size, so splits at odd places get explored. */
    size_t step = size ? (size_t)data[0] % 64 + 1 : 1;
    for (size_t off = size ? 1 : 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        buf_append(&c.in, data + off, n);
        if (node_conn_process(&c) < 0) break;
        if (store.used > store.limit) abort();
        outq_take_all(&c.out, NULL); /* drop queued output as if it was written */
    }
    node_conn_free(&c);
    store_free(&store);
    if (store.used != 0) abort();
    return 0;
}
