/* bill.c -- per-invocation billing records of the node, queued (bounded) until a proxy
 * connection carries them. */
#include "bill.h"

#include <string.h>
#include <sys/resource.h>

#include "billing.h"

void node_bill_init(node_bill_t *b, int64_t memory_mb, int64_t billing_ms)
{
    memset(b, 0, sizeof *b);
    b->memory_mb = memory_mb;
    b->billing_ms = billing_ms > 0 ? billing_ms : 1;
    b->recorded = 1; /* nothing under way */
}

void node_bill_begin(node_bill_t *b, int64_t seq, uint64_t started_us)
{
    b->seq = seq;
    b->kind = BILLING_KIND_OTHER;
    b->started_us = started_us;
    b->recorded = 0;
}

void node_bill_kind(node_bill_t *b, int kind)
{
    b->kind = kind >= 0 && kind < NODEPROTO_BILL_KINDS ? kind : BILLING_KIND_OTHER;
}

void node_bill_end(node_bill_t *b, uint64_t ended_us, int64_t max_rss_kb)
{
    if (b->recorded) return;
    b->recorded = 1;
    if (b->count == NODE_BILL_PENDING) {
        /* Full: the oldest goes, and is counted so that the proxy can say how much it misses. */
        b->head = (b->head + 1) % NODE_BILL_PENDING;
        b->count--;
        b->dropped++;
    }
    int64_t us = ended_us > b->started_us ? (int64_t)(ended_us - b->started_us) : 0;
    if (us > NODEPROTO_BILL_MAX_DURATION_US) us = NODEPROTO_BILL_MAX_DURATION_US;
    if (max_rss_kb < 0 || max_rss_kb > NODEPROTO_BILL_MAX_RSS_KB) max_rss_kb = 0;
    nodeproto_bill_t *r = &b->pending[(b->head + b->count) % NODE_BILL_PENDING];
    *r = (nodeproto_bill_t){.seq = b->seq,
                            .kind = b->kind,
                            .duration_us = us,
                            .billed_ms = billing_round_ms(us, b->billing_ms),
                            .memory_mb = b->memory_mb,
                            .max_rss_kb = max_rss_kb};
    b->count++;
}

int node_bill_put(const node_bill_t *b, buf_t *out)
{
    for (unsigned i = 0; i < b->count; i++) {
        nodeproto_bill_t r = b->pending[(b->head + i) % NODE_BILL_PENDING];
        r.dropped = b->dropped; /* the count as of now: the proxy takes the highest it saw */
        int rc = nodeproto_put_bill(out, &r);
        if (rc < 0) return rc;
    }
    return (int)b->count;
}

void node_bill_sent(node_bill_t *b, unsigned n)
{
    if (n > b->count) n = b->count;
    b->head = (b->head + n) % NODE_BILL_PENDING;
    b->count -= n;
}

int64_t node_bill_max_rss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0) return 0;
    return (int64_t)ru.ru_maxrss; /* KiB on Linux */
}
