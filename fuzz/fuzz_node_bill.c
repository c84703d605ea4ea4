/* fuzz_node_bill.c -- libFuzzer driver for a node's billing record (BILL, nodeproto.c): the bytes
 * as the proxy reads an unsolicited message, then decoded as a BILL. Whatever decodes must be
 * within the documented bounds and encode again to bytes that decode to the same fields. Seeds:
 * fuzz/corpus/node_bill. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodeproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_bounds(const nodeproto_bill_t *r)
{
    int64_t floor_ms = (r->duration_us + 999) / 1000;
    if (floor_ms < 1) floor_ms = 1;
    if (r->seq < 1 || r->seq > NODEPROTO_BILL_MAX_COUNT || r->kind < 0 ||
        r->kind >= NODEPROTO_BILL_KINDS || r->duration_us < 0 ||
        r->duration_us > NODEPROTO_BILL_MAX_DURATION_US || r->billed_ms < floor_ms ||
        r->billed_ms > floor_ms + NODEPROTO_BILL_SLACK_MS || r->memory_mb < 1 ||
        r->memory_mb > NODEPROTO_BILL_MAX_MEMORY_MB || r->max_rss_kb < 0 ||
        r->max_rss_kb > NODEPROTO_BILL_MAX_RSS_KB || r->dropped < 0 ||
        r->dropped > NODEPROTO_BILL_MAX_COUNT)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nodeproto_msg_t m;
    ssize_t used = nodeproto_parse_message((const char *)data, size, &m);
    if (used <= 0) return 0;
    if ((size_t)used > size) __builtin_trap();
    nodeproto_bill_t r;
    if (nodeproto_bill_decode(&m, &r) != 0) {
        if (r.seq != 0 || r.billed_ms != 0) __builtin_trap(); /* a refused record keeps nothing */
        return 0;
    }
    check_bounds(&r);
    buf_t b;
    buf_init(&b);
    if (nodeproto_put_bill(&b, &r) == 0) {
        nodeproto_msg_t z;
        nodeproto_bill_t y;
        if (nodeproto_parse_message(buf_head(&b), buf_len(&b), &z) != (ssize_t)buf_len(&b) ||
            !nodeproto_msg_is(&z, "BILL") || nodeproto_bill_decode(&z, &y) != 0 || y.seq != r.seq ||
            y.kind != r.kind || y.duration_us != r.duration_us || y.billed_ms != r.billed_ms ||
            y.memory_mb != r.memory_mb || y.max_rss_kb != r.max_rss_kb || y.dropped != r.dropped)
            __builtin_trap();
    }
    buf_free(&b);
    return 0;
}
