/* sim_options.h -- icsim's option table and the configuration it fills (the pool, platform, node
 * policy, lifecycle, workload, trace and price groups are src/model/options.h's, shared with
 * icproxy and icbench). */
#ifndef IC_SIM_OPTIONS_H
#define IC_SIM_OPTIONS_H

#include <stdint.h>

#include "config.h"

#define ICSIM_REQUESTS_MAX 100000000 /* requests of one run: the whole array is in memory */

typedef struct {
    /* the workload and the trace (icbench's groups) */
    char *trace, *trace_format;
    int64_t min_size, max_size;
    char *size_scale, *time_compress, *hours;
    char *size_dist, *zipf, *get_ratio, *rate;
    int64_t keys, requests, seed, clients;
    char *key_prefix;
    /* the pool, the platform, the node's policy and the lifecycle (icproxy's groups) */
    int64_t pool_size, node_memory_mb, node_reserved_mb, d, p, small_object_max, max_instances;
    int64_t backup_concurrency;
    int64_t warmup_interval_ms, backup_interval_ms, idle_reclaim_ms, function_timeout_ms;
    char *billing, *reclaim_rate, *node_return_policy;
    int64_t node_idle_return_ms, billing_margin_ms;
    int64_t node_bandwidth;
    /* the timing model (icsim's own) */
    int64_t upload_bandwidth, sync_bandwidth, rtt_us, warm_invoke_us, cold_invoke_us, hello_us,
        warmup_run_us, post_us;
    /* durability: the object store, repair and the backup policy (icsim's own) */
    char *backing, *repair, *kill;
    int64_t backing_part, repair_hot_ms;
    char *json;
    /* prices (icbench's group) */
    char *prices, *lambda_arch, *price_gb_s, *price_requests, *proxy_vm;
} icsim_config_t;

extern const conf_option_t icsim_options[];

#endif
