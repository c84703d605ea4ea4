/* bill.h -- what the pool costs: the nodes' own billing records (BILL), and the figures INFO, the
 * metrics endpoint and icbench's cost report show, from the platform or from the nodes. */
#ifndef PROXY_BILL_H
#define PROXY_BILL_H

#include "billing.h"
#include "nodeproto.h"

typedef struct server server_t;
typedef struct node node_t;

/* A BILL from node n's connection, which has proven the node secret (HELLO): counted in
 * srv->stats.node_billing unless malformed or out of bounds (bills_refused) or a seq of this
 * instance already counted (bills_duplicate). */
void bill_from_node(node_t *n, const nodeproto_msg_t *m);

typedef enum { BILL_SOURCE_NODES, BILL_SOURCE_PLATFORM } bill_source_t;
const char *bill_source_name(bill_source_t s); /* "nodes", "platform" */

/* The billing figures to report, by kind (billing_kind_t). */
typedef struct {
    bill_source_t source;
    double requests, billed_ms, gb_seconds;
    double requests_by_kind[BILLING_KIND_COUNT];
    double billed_ms_by_kind[BILLING_KIND_COUNT];
    double gb_seconds_by_kind[BILLING_KIND_COUNT];
    int64_t unit_ms; /* the rounding unit: the platform's, or the configured --billing */
} bill_view_t;

/* The platform's figures when its admin stats are there (the local platform: it is what bills,
 * and it also sees what no node reports: start-up time, invocations that crashed or timed out),
 * else the nodes' records (AWS Lambda, or a platform without an admin API). */
void bill_view(server_t *srv, bill_view_t *out);

#endif
