/* cost.h -- the cost model of a run: Lambda by kind and architecture, the S3 backing store, the
 * proxy VM chosen by bandwidth, and what the same workload would cost on ElastiCache on-demand
 * nodes, ElastiCache Serverless and S3 Express One Zone, at the prices of a price set (prices.h).
 * Also icproxy's INFO billing counters, which icbench reads. No I/O except loading the prices. */
#ifndef IC_COST_H
#define IC_COST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "prices.h"

/* What a report prices with: a loaded set, the Lambda architecture of the headline figure, and the
 * --price-* and --proxy-vm overrides. Plain data: copy it freely (about 30 KB). */
typedef struct {
    price_set_t set;
    char name[PRICES_NAME_MAX]; /* the set's name */
    char as_of[11];             /* the set's "recorded" date */
    int arch;                   /* PRICE_ARCH_*: the Lambda prices of the headline figure */
    double usd_per_gb_second, usd_per_million_requests; /* arch's, after the overrides */
    char vm_type[PRICES_NAME_MAX]; /* --proxy-vm: a fixed VM, "none", or "" (chosen by bandwidth) */
    double vm_usd_per_hour;        /* the fixed VM's */
} cost_prices_t;

/* Prices from a loaded set with no overrides; arch PRICE_ARCH_* (x86_64 if the set has no arm64
 * prices). */
void cost_prices_from_set(cost_prices_t *out, const price_set_t *set, int arch);

/* Loads the set spec names (prices_load: "current", "2020" or a file) and applies the overrides
 * that are not "": arch ("x86_64" or "arm64"), gb_s (USD per GB-second), per_million (USD per
 * million requests), vm ("TYPE:USD_PER_HOUR", or "none" for no VM). 0, or -1 with err naming the
 * bad option or the file and key. */
int cost_prices_configure(cost_prices_t *out, const char *spec, const char *arch, const char *gb_s,
                          const char *per_million, const char *vm, char *err, size_t errlen);

/* Kinds of invocation the platform bills apart (its requests_by_kind / gb_seconds_by_kind). A
 * repair of lost chunks runs inside the nodes' ordinary serving invocations (the proxy re-SETs the
 * rebuilt chunks through "activate"), so the billing cannot tell it apart: it is in serving. */
enum { COST_SERVING, COST_WARMUP, COST_BACKUP, COST_OTHER, COST_KINDS };
const char *cost_kind_name(int kind);      /* "serving", "warmup", "backup", "other" */
const char *cost_kind_info_name(int kind); /* INFO's suffix: "activate", "warmup", ... */

/* The figures of one INFO reply that cost is computed from. */
typedef struct {
    int has_pool;            /* a "pool_size" line: the server is an icproxy */
    int has_platform;        /* billing figures: a "billing" section, or "platform_*" lines */
    char billing_source[16]; /* the section's billing_source ("platform", "nodes"); "" for an
                              * older proxy's platform_* lines */
    double requests, gb_seconds;
    double requests_by_kind[COST_KINDS], gb_seconds_by_kind[COST_KINDS];
    int64_t pool_size, node_memory_mb, billing_ms; /* billing_ms 0: not reported */
    int64_t nodes_awake, nodes_invoking;
    uint64_t capacity_bytes;
    uint64_t placed_bytes;              /* chunk bytes held by the nodes (data and parity) */
    int64_t ec_d, ec_p;                 /* the object layout, to tell data from parity */
    double net_in_bytes, net_out_bytes; /* the proxy's sockets, all peers (cumulative) */
} cost_counters_t;

/* Parses an INFO reply ("name:value" lines, CRLF or LF). Unknown lines are ignored; a line
 * longer than 256 bytes or a value that is not a number from 0 to 1e15 is skipped. The billing
 * figures are the billing section's (billing_*, from the platform or the nodes as
 * billing_source says) when there is one, else the pool section's platform_* lines. 0 if it has
 * a pool section, -1 if not (not an icproxy). */
int cost_counters_parse(const char *info, size_t len, cost_counters_t *out);

/* Cumulative figures after - before (requests, GB-seconds, network bytes); the levels (pool,
 * placed bytes) are after's. */
void cost_counters_diff(const cost_counters_t *after, const cost_counters_t *before,
                        cost_counters_t *out);

/* One INFO reading t_s seconds after the first. */
typedef struct {
    double t_s;
    cost_counters_t c;
} cost_sample_t;

/* What the workload did, beyond Lambda's billing: what the comparisons serve and what the
 * backing store and the VM cost. Zero means none (or unknown). */
typedef struct {
    double gets, sets;           /* requests the cache served */
    double get_bytes, set_bytes; /* their value bytes */
    double data_bytes;           /* mean bytes of objects held over the window (no parity) */
    double peak_bytes_per_s;     /* the proxy's busiest direction at its peak (picks the VM) */
    double s3_puts, s3_gets;     /* the backing store's requests (S3 Standard) */
    double s3_stored_bytes;      /* mean bytes in the backing store over the window */
} cost_usage_t;

/* From INFO samples (oldest first, at least 2): the peak of the proxy's network bytes per second
 * over consecutive samples, in its busier direction (EC2's bandwidth is per direction), and the
 * time-weighted mean of the data held (placed bytes x d / (d + p)). Other fields are left alone. */
void cost_usage_from_samples(const cost_sample_t *s, size_t n, cost_usage_t *usage);

/* An ElastiCache on-demand cluster: count nodes of one type. */
typedef struct {
    const price_node_t *type; /* into the prices' set; NULL if the set has none of the engine */
    int count;
    double usd_per_hour; /* count x the type's price */
} cost_cluster_t;

/* The cheapest single node type of the engine (-1: any) holding need_gib; if none does, as many
 * nodes of the engine's largest type as it takes (at most a million). */
void cost_elasticache_choose(const cost_prices_t *p, double need_gib, int engine,
                             cost_cluster_t *out);

/* The proxy's VM. */
enum {
    COST_VM_NONE,   /* --proxy-vm none */
    COST_VM_FIXED,  /* --proxy-vm TYPE:USD */
    COST_VM_CHOSEN, /* the cheapest listed instance whose baseline carries the peak */
    COST_VM_SHORT   /* no listed instance's baseline does: the one with the largest */
};
typedef struct {
    int how; /* COST_VM_* */
    char type[PRICES_NAME_MAX];
    double usd_per_hour;
    double need_gbps;     /* the peak, in Gbit/s */
    double baseline_gbps; /* the chosen instance's (0 for none or fixed) */
    double burst_gbps;
} cost_vm_t;
void cost_vm_choose(const cost_prices_t *p, double peak_bytes_per_s, cost_vm_t *out);

/* Bytes per GB as the price lists count them: ElastiCache bills GiB-hours and S3's examples
 * divide by 1024^3; a month of storage is 730 hours, as AWS's pricing calculator takes it. */
#define COST_BYTES_PER_GB 1073741824.0
#define COST_HOURS_PER_MONTH 730.0
#define COST_BYTES_PER_ECPU 1024.0

typedef struct {
    int present; /* the price set has the prices */
    double billed_gb, gb_hours, ecpus;
    double storage_usd, ecpu_usd, usd;
    int over_maximum; /* the data exceeds what one serverless cache holds */
} cost_serverless_t;

typedef struct {
    int present;
    double gb_months;
    double storage_usd, request_usd, transfer_usd, usd;
} cost_express_t;

/* One window's costs. */
typedef struct {
    double seconds;
    /* Lambda at the headline architecture's prices, by kind */
    double gb_second_usd[COST_KINDS], request_usd[COST_KINDS];
    double lambda_usd;
    /* the same GB-seconds and requests at each architecture's list prices (no overrides) */
    int lambda_arch_present[PRICE_ARCHS];
    double lambda_usd_by_arch[PRICE_ARCHS];
    /* the backing store, S3 Standard */
    int s3_unpriced; /* S3 was used but the set has no S3 Standard prices */
    double s3_storage_usd, s3_request_usd, s3_usd;
    cost_vm_t vm;
    double vm_usd;
    double infinicache_usd; /* Lambda + S3 + VM */
    /* the comparisons */
    double pool_gib;
    cost_cluster_t cluster; /* the cheapest engine's on-demand cluster for the pool */
    double elasticache_usd;
    cost_cluster_t cluster_by_engine[PRICE_ENGINES];
    double elasticache_usd_by_engine[PRICE_ENGINES];
    double data_gib;
    cost_serverless_t serverless[PRICE_ENGINES];
    cost_express_t express;
} cost_report_t;

/* delta: the window's counters (cost_counters_diff); usage: what cost_usage_t says (NULL: none).
 * The ElastiCache clusters hold the pool's function memory, pool_size x node_memory_mb, as the
 * paper sized its ElastiCache; Serverless and S3 Express hold usage->data_bytes and serve its
 * GETs, SETs and bytes. */
void cost_compute(const cost_prices_t *p, const cost_counters_t *delta, const cost_usage_t *usage,
                  double seconds, cost_report_t *out);

/* Dollars per hour at the window's rate (0 for an empty window). */
double cost_per_hour(double usd, double seconds);

/* "X times cheaper" (returns X >= 1, *cheaper 1) or "X times more expensive" (*cheaper 0) of
 * ours against theirs; 0 if either cost is 0. */
double cost_ratio(double ours_usd, double theirs_usd, int *cheaper);

/* The part of the cost report icbench and icsim share: lines for Lambda by architecture, the S3
 * backing store, the VM and the comparisons, each starting with indent (print_comparisons), and
 * their key=value fields, each preceded by a space and with no newline, for the caller to append
 * to its own key=value line (print_fields). docs/EVALUATION.md, "Cost report". */
void cost_print_comparisons(FILE *out, const cost_prices_t *p, const cost_report_t *r,
                            const cost_usage_t *usage, const char *indent);
void cost_print_fields(FILE *out, const cost_prices_t *p, const cost_report_t *r);

#endif
