/* options.h -- the option groups that icproxy, icsim and icbench share, declared once: each row's
 * name, type, bounds, default and help text live here, and each program puts a group in its own
 * option table with a macro that names where it keeps each value:
 *
 *     #define FIELD(f) offsetof(proxy_config_t, f)
 *     MODEL_OPTIONS_POOL(FIELD),
 *
 * (the program's config struct has a field of each name the group uses, of the type its conf
 * type writes: int64_t for numbers, sizes and times, char * for text). So the same option cannot
 * mean, default to or be bounded differently in two programs; tests/model/test_options.c checks
 * that each program's rows are these. Options whose meaning differs between programs (seed,
 * clients, requests, hours, time-compress) stay in each program's own table. */
#ifndef IC_MODEL_OPTIONS_H
#define IC_MODEL_OPTIONS_H

#include <stdint.h>

#include "config.h"
#include "ec.h"
#include "workload.h"

/* One row: F maps the field's name to its offset in the program's config struct. */
#define MODEL_OPT(F, name, type, field, min, max, def, help)                                       \
    {                                                                                              \
        name, type, F(field), min, max, def, help, 0                                               \
    }

#define MODEL_GiB ((int64_t)1 << 30)
#define MODEL_TiB ((int64_t)1 << 40)

/* The pool and the object layout (icproxy, icsim). */
#define MODEL_OPTIONS_POOL(F)                                                                      \
    MODEL_OPT(F, "pool-size", CONF_INT, pool_size, 1, 4096, "32",                                  \
              "number of functions (cache nodes) in the pool"),                                    \
        MODEL_OPT(F, "node-memory", CONF_INT, node_memory_mb, 128, 10240, "256",                   \
                  "memory of each function in MiB (Lambda: 128..10240)"),                          \
        MODEL_OPT(F, "node-reserved", CONF_INT, node_reserved_mb, 8, 4096, "32",                   \
                  "MiB of each function kept for the runtime, not for chunks"),                    \
        MODEL_OPT(F, "d", CONF_INT, d, 1, EC_MAX_DATA, "10",                                       \
                  "data chunks per object (Redis path)"),                                          \
        MODEL_OPT(F, "p", CONF_INT, p, 0, EC_MAX_CHUNKS - 1, "2",                                  \
                  "parity chunks per object (Redis path)"),                                        \
        MODEL_OPT(F, "small-object-max", CONF_BYTES, small_object_max, 0, MODEL_GiB, "64k",        \
                  "objects up to this size are stored as 1 chunk + p replicas")

/* The function platform: the local platform icproxy starts, and the one icsim simulates. */
#define MODEL_OPTIONS_PLATFORM(F)                                                                  \
    MODEL_OPT(F, "function-timeout", CONF_MS, function_timeout_ms, 1000, 900000, "900s",           \
              "function timeout given to the local platform"),                                     \
        MODEL_OPT(F, "idle-reclaim", CONF_MS, idle_reclaim_ms, 1000, 86400000, "27m",              \
                  "local platform: kill instances idle this long"),                                \
        MODEL_OPT(F, "billing", CONF_STRING, billing, 0, 0, "1ms",                                 \
                  "local platform billing granularity: 1ms (AWS today) or 100ms (2020)"),          \
        MODEL_OPT(F, "max-instances", CONF_INT, max_instances, 1, 1000, "4",                       \
                  "local platform: most instances per function"),                                  \
        MODEL_OPT(F, "reclaim-rate", CONF_STRING, reclaim_rate, 0, 0, "0",                         \
                  "local platform: random reclaims per instance-hour (before time compression)"),  \
        MODEL_OPT(                                                                                 \
            F, "node-bandwidth", CONF_BYTES, node_bandwidth, 0, 64 * MODEL_GiB, "0",               \
            "local platform: bytes per second each node sends the proxy, emulating a function's "  \
            "network (0: unlimited)")

/* When a node returns its invocation (icproxy passes it to the nodes of its local platform). */
#define MODEL_OPTIONS_NODE_POLICY(F)                                                               \
    MODEL_OPT(F, "node-return-policy", CONF_STRING, node_return_policy, 0, 0, "anticipatory",      \
              "when a node returns an invocation: anticipatory (just before a billing boundary) "  \
              "or idle "                                                                           \
              "(after node-idle-return without requests)"),                                        \
        MODEL_OPT(                                                                                 \
            F, "node-idle-return", CONF_MS, node_idle_return_ms, 1, 900000, "10ms",                \
            "local platform: a node returns its invocation after this long without requests "      \
            "(with "                                                                               \
            "1ms billing; with 100ms billing the anticipatory policy aims at the cycle's end)")

/* Keeping data alive: warm-ups and backups (icproxy, icsim). */
#define MODEL_OPTIONS_LIFECYCLE(F)                                                                 \
    MODEL_OPT(                                                                                     \
        F, "warmup-interval", CONF_MS, warmup_interval_ms, 0, 86400000, "1m",                      \
        "invoke every idle function this often so its instance is not reclaimed (0: never)"),      \
        MODEL_OPT(F, "backup-interval", CONF_MS, backup_interval_ms, 0, 86400000, "5m",            \
                  "a node holding data syncs it to a peer instance this often (0: never)"),        \
        MODEL_OPT(                                                                                 \
            F, "backup-concurrency", CONF_INT, backup_concurrency, 1, 4096, "2",                   \
            "most backups running at once (each one starts a second instance of its function)"),  \
        MODEL_OPT(F, "repair-hot-window", CONF_MS, repair_hot_ms, 1, 86400000 * 30LL, "1h",        \
                  "hot repair (icproxy --repair hot, icsim --repair-policy hot): lost chunks of "  \
                  "an object read or written this recently are rebuilt at once, the others at "   \
                  "its next GET (or it is answered from the backing store)")

/* The synthetic workload (icbench, icsim). */
#define MODEL_OPTIONS_WORKLOAD(F)                                                                  \
    MODEL_OPT(F, "size-dist", CONF_STRING, size_dist, 0, 0, "fixed:1m",                            \
              "synthetic object sizes: fixed:SIZE, uniform:MIN-MAX or lognormal:MEDIAN,SIGMA"),    \
        MODEL_OPT(F, "keys", CONF_INT, keys, 1, WORKLOAD_KEYS_MAX, "1000",                         \
                  "synthetic: number of distinct keys"),                                           \
        MODEL_OPT(F, "zipf", CONF_STRING, zipf, 0, 0, "0.99",                                      \
                  "synthetic: Zipf exponent of key popularity (0: uniform)"),                      \
        MODEL_OPT(F, "get-ratio", CONF_STRING, get_ratio, 0, 0, "0.9",                             \
                  "synthetic: fraction of requests that are GETs (the rest are SETs)"),            \
        MODEL_OPT(F, "key-prefix", CONF_STRING, key_prefix, 0, 0, "icb",                           \
                  "keys are PREFIX<target number>:<16 hex digits> (icsim: as icbench's target 0)")

/* A registry trace to replay instead (icbench, icsim). */
#define MODEL_OPTIONS_TRACE(F)                                                                     \
    MODEL_OPT(                                                                                     \
        F, "trace", CONF_STRING, trace, 0, 0, "",                                                  \
        "replay this trace (IBM Docker registry: JSON array, JSON lines or CSV with a header) "    \
        "instead of the synthetic workload"),                                                      \
        MODEL_OPT(F, "trace-format", CONF_STRING, trace_format, 0, 0, "auto",                      \
                  "auto, json or csv"),                                                            \
        MODEL_OPT(F, "min-size", CONF_BYTES, min_size, 0, MODEL_TiB, "0",                          \
                  "trace: keep only objects larger than this (after --size-scale; 0 keeps all)"),  \
        MODEL_OPT(F, "size-scale", CONF_STRING, size_scale, 0, 0, "1",                             \
                  "trace: multiply object sizes by this"),                                         \
        MODEL_OPT(F, "max-size", CONF_BYTES, max_size, 0, MODEL_TiB, "0",                          \
                  "cap object sizes at this (trace and synthetic; 0: no cap)")

/* The cost report's prices (icbench, icsim): a price file (data/prices/, docs/EVALUATION.md "Cost
 * report") and overrides of single figures. */
#define MODEL_OPTIONS_PRICES(F)                                                                    \
    MODEL_OPT(F, "prices", CONF_STRING, prices, 0, 0, "current",                                   \
              "price set: current (us-east-1, recorded 2026-12-05), 2020 (the paper's), or a "     \
              "price file (a path with '/' or ending in .json)"),                                  \
        MODEL_OPT(F, "lambda-arch", CONF_STRING, lambda_arch, 0, 0, "x86_64",                      \
                  "Lambda architecture of the report's headline figure: x86_64 or arm64 (both "    \
                  "are printed)"),                                                                 \
        MODEL_OPT(F, "price-gb-s", CONF_STRING, price_gb_s, 0, 0, "",                              \
                  "USD per Lambda GB-second (empty: the price set's for lambda-arch)"),            \
        MODEL_OPT(F, "price-requests", CONF_STRING, price_requests, 0, 0, "",                      \
                  "USD per million Lambda requests (empty: the price set's)"),                     \
        MODEL_OPT(F, "proxy-vm", CONF_STRING, proxy_vm, 0, 0, "",                                  \
                  "the proxy's VM as TYPE:USD_PER_HOUR, or none (empty: the cheapest instance of " \
                  "the price set whose sustained bandwidth carries the measured peak)")

/* Every group, its rows at offset 0, for tests and tools: model_option_groups ends with a NULL
 * name, each group's rows with CONF_END. */
typedef struct {
    const char *name;
    const conf_option_t *rows;
} model_option_group_t;

extern const model_option_group_t model_option_groups[];

/* The billing option's text as a granularity: "1ms" or "100ms" (what AWS has billed by, today and
 * in 2020). 0, or -1 if it is neither. */
int model_billing_parse(const char *text, int64_t *billing_ms);

#endif
