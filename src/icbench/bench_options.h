/* bench_options.h -- icbench's option table and the configuration it fills (the workload, trace
 * and price groups are src/model/options.h's, shared with icsim). */
#ifndef IC_BENCH_OPTIONS_H
#define IC_BENCH_OPTIONS_H

#include <stdint.h>

#include "config.h"

#define ICBENCH_MAX_CLIENTS 1024

typedef struct {
    char *target; /* only from a config file; --target on the command line repeats */
    char *trace;
    char *trace_format;
    int strict;
    int64_t min_size, max_size;
    char *size_scale, *time_compress, *hours;
    char *size_dist;
    int64_t keys;
    char *zipf, *get_ratio, *rate;
    int64_t clients, requests, duration_ms, seed, timeout_ms;
    char *csv;
    char *key_prefix;
    int cost;
    int64_t cost_interval_ms, cost_settle_ms;
    char *prices, *lambda_arch, *price_gb_s, *price_requests, *proxy_vm, *plot;
    char *backing;
    char *generate_trace;
} icbench_config_t;

extern const conf_option_t icbench_options[];

#endif
