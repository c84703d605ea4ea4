/* bill.h -- the node's account of its own invocations (Lambda's REPORT line: duration, billed
 * duration, memory size, peak memory), kept until a proxy connection can carry it as BILL. */
#ifndef NODE_BILL_H
#define NODE_BILL_H

#include <stdint.h>

#include "buf.h"
#include "nodeproto.h"

/* Records that wait for a connection: a warm-up or backup-peer invocation has none, and a
 * connection can be lost. One per invocation, so 64 covers a minute-long warm-up cycle for an
 * hour; past it the oldest is dropped and counted (BILL's `dropped`). */
#define NODE_BILL_PENDING 64

typedef struct {
    nodeproto_bill_t pending[NODE_BILL_PENDING]; /* oldest first, from head, count of them */
    unsigned head, count;
    int64_t dropped;    /* records dropped for lack of room since the instance started */
    int64_t memory_mb;  /* AWS_LAMBDA_FUNCTION_MEMORY_SIZE */
    int64_t billing_ms; /* the unit billed durations are rounded up to (1 on AWS) */
    /* The invocation under way: its number, kind, and when /next answered (monotonic us). */
    int64_t seq;
    int kind;
    uint64_t started_us;
    int recorded; /* its record is taken (at most one per invocation) */
} node_bill_t;

void node_bill_init(node_bill_t *b, int64_t memory_mb, int64_t billing_ms);
/* An invocation starts: number seq, /next answered at started_us; its kind is "other" until
 * node_bill_kind names it from the event. */
void node_bill_begin(node_bill_t *b, int64_t seq, uint64_t started_us);
void node_bill_kind(node_bill_t *b, int kind);
/* The invocation ended at ended_us (its /response or /error post answered): its record is
 * queued with the process's peak RSS (max_rss_kb). Only the first call per invocation counts. */
void node_bill_end(node_bill_t *b, uint64_t ended_us, int64_t max_rss_kb);
/* Appends every waiting record as BILL to out, oldest first, and returns how many (a negative
 * errno if out of memory; the records are then still waiting). They stay queued until
 * node_bill_sent(n) says the connection took them; if it failed they go out again on the next
 * (the proxy ignores a seq it has seen). */
int node_bill_put(const node_bill_t *b, buf_t *out);
void node_bill_sent(node_bill_t *b, unsigned n);
/* The process's peak resident set in KiB (getrusage), 0 if unknown. */
int64_t node_bill_max_rss_kb(void);

#endif
