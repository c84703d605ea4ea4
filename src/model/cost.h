/* cost.h -- icbench's pricing: AWS price sets, icproxy INFO billing counters, the same-capacity
 * ElastiCache cluster and the InfiniCache-vs-ElastiCache comparison. No I/O. */
#ifndef IC_COST_H
#define IC_COST_H

#include <stddef.h>
#include <stdint.h>

/* One ElastiCache node type: usable memory and the on-demand hourly price. */
typedef struct {
    const char *name;
    double memory_gib;
    double usd_per_hour;
} cost_node_type_t;

/* A price set. The built-in ones are "current" and "2020" (cost_prices_named); icbench copies one
 * and applies its --price-* overrides. */
typedef struct {
    const char *name;
    const char *as_of; /* when the prices were recorded, for the report */
    double usd_per_gb_second;
    double usd_per_million_requests;
    char vm_type[64]; /* the proxy's VM */
    double vm_usd_per_hour;
    const cost_node_type_t *nodes;
    size_t nnodes;
} cost_prices_t;

/* The built-in set named "current" or "2020"; NULL for any other name. */
const cost_prices_t *cost_prices_named(const char *name);

/* Fills out from the set named set_name, then applies the overrides that are not "": gb_s (USD
 * per GB-second), per_million (USD per million requests), vm ("TYPE:USD_PER_HOUR", or "none" for
 * no VM). 0, or -1 with err naming the bad option. */
int cost_prices_configure(cost_prices_t *out, const char *set_name, const char *gb_s,
                          const char *per_million, const char *vm, char *err, size_t errlen);

/* Kinds of invocation the platform bills apart (its requests_by_kind / gb_seconds_by_kind). */
enum { COST_SERVING, COST_WARMUP, COST_BACKUP, COST_OTHER, COST_KINDS };
const char *cost_kind_name(int kind);      /* "serving", "warmup", "backup", "other" */
const char *cost_kind_info_name(int kind); /* INFO's suffix: "activate", "warmup", ... */

/* The figures of one INFO reply that cost is computed from. */
typedef struct {
    int has_pool;     /* a "pool_size" line: the server is an icproxy */
    int has_platform; /* "platform_*" lines: its platform reports billing */
    double requests, gb_seconds;
    double requests_by_kind[COST_KINDS], gb_seconds_by_kind[COST_KINDS];
    int64_t pool_size, node_memory_mb, billing_ms; /* billing_ms 0: not reported */
    int64_t nodes_awake, nodes_invoking;
    uint64_t capacity_bytes;
} cost_counters_t;

/* Parses an INFO reply ("name:value" lines, CRLF or LF). Unknown lines are ignored; a line
 * longer than 256 bytes or a value that is not a number from 0 to 1e15 is skipped. 0 if it has a pool section,
 * -1 if not (not an icproxy). */
int cost_counters_parse(const char *info, size_t len, cost_counters_t *out);

/* Cumulative figures after - before (requests and GB-seconds); the pool figures are after's. */
void cost_counters_diff(const cost_counters_t *after, const cost_counters_t *before,
                        cost_counters_t *out);

/* The cheapest single node type of the table holding need_gib; if none does, as many nodes of
 * the largest type as it takes (at most a million). count 0 only for an empty table. */
typedef struct {
    const cost_node_type_t *type;
    int count;
    double usd_per_hour; /* count x the type's price */
} cost_cluster_t;
void cost_elasticache_choose(const cost_prices_t *p, double need_gib, cost_cluster_t *out);

/* Lambda (by kind), VM and ElastiCache dollars over a window of the given seconds. */
typedef struct {
    double seconds;
    double gb_second_usd[COST_KINDS], request_usd[COST_KINDS];
    double lambda_usd, vm_usd, infinicache_usd, elasticache_usd;
    cost_cluster_t cluster;
    double pool_gib;
} cost_report_t;

/* delta: the window's counters (cost_counters_diff). The ElastiCache cluster holds the pool's
 * function memory, pool_size x node_memory_mb, as the paper sized its ElastiCache. */
void cost_compute(const cost_prices_t *p, const cost_counters_t *delta, double seconds,
                  cost_report_t *out);

/* Dollars per hour at the window's rate (0 for an empty window). */
double cost_per_hour(double usd, double seconds);

/* "X times cheaper" (returns X >= 1, *cheaper 1) or "X times more expensive" (*cheaper 0) of
 * InfiniCache against ElastiCache; 0 if either cost is 0. */
double cost_ratio(double infinicache_usd, double elasticache_usd, int *cheaper);

#endif
