/* main.c -- icsim: replays an icbench workload (a registry trace or the synthetic generator) on the
 * simulator and prints hit ratio, invocations, billed time and GB-seconds by kind, reclaims,
 * losses, per-hour availability and cost. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "cost.h"
#include "reclaim.h"
#include "sim.h"
#include "trace.h"
#include "workload.h"

#define REQUESTS_MAX 100000000 /* requests of one run: the whole array is in memory */

typedef struct {
    char *trace, *trace_format;
    int64_t min_size, max_size;
    char *size_scale, *time_compress, *hours;
    char *size_dist, *zipf, *get_ratio, *rate;
    int64_t keys, requests, seed, clients;
    int64_t pool_size, node_memory, node_reserved, d, p, small_object_max, max_instances;
    int64_t backup_concurrency;
    int64_t warmup_interval_ms, backup_interval_ms, billing_ms, idle_reclaim_ms,
        function_timeout_ms;
    char *reclaim_rate, *return_policy;
    int64_t node_idle_return_ms, billing_margin_ms;
    int64_t node_bandwidth, upload_bandwidth, sync_bandwidth, rtt_us, warm_invoke_us,
        cold_invoke_us, hello_us, warmup_run_us, post_us;
    char *key_prefix, *json;
    char *prices, *price_gb_s, *price_requests, *proxy_vm;
} icsim_config_t;

#define OPT(name, type, field, min, max, def, help)                                                \
    {                                                                                              \
        name, type, offsetof(icsim_config_t, field), min, max, def, help                           \
    }
#define TiB ((int64_t)1 << 40)
#define GiB ((int64_t)1 << 30)

static const conf_option_t options[] = {
    /* the workload: icbench's options */
    OPT("trace", CONF_STRING, trace, 0, 0, "",
        "replay this trace (IBM Docker registry: JSON array, JSON lines or CSV) instead of the "
        "synthetic workload"),
    OPT("trace-format", CONF_STRING, trace_format, 0, 0, "auto", "auto, json or csv"),
    OPT("min-size", CONF_BYTES, min_size, 0, TiB, "0",
        "trace: keep only objects larger than this (after --size-scale; 0 keeps all)"),
    OPT("size-scale", CONF_STRING, size_scale, 0, 0, "1", "trace: multiply object sizes by this"),
    OPT("max-size", CONF_BYTES, max_size, 0, TiB, "0",
        "cap object sizes at this (trace and synthetic; 0: no cap)"),
    OPT("time-compress", CONF_STRING, time_compress, 0, 0, "1",
        "trace: divide the trace's times by this, as icbench --time-compress does"),
    OPT("hours", CONF_STRING, hours, 0, 0, "0",
        "trace: only the first N hours (0: all); synthetic: N hours at --hourly-rate"),
    OPT("size-dist", CONF_STRING, size_dist, 0, 0, "fixed:1m",
        "synthetic object sizes: fixed:SIZE, uniform:MIN-MAX or lognormal:MEDIAN,SIGMA"),
    OPT("keys", CONF_INT, keys, 1, WORKLOAD_KEYS_MAX, "1000", "synthetic: number of distinct keys"),
    OPT("zipf", CONF_STRING, zipf, 0, 0, "0.99", "synthetic: Zipf exponent of key popularity"),
    OPT("get-ratio", CONF_STRING, get_ratio, 0, 0, "0.9", "synthetic: fraction of GETs"),
    OPT("hourly-rate", CONF_STRING, rate, 0, 0, "3500",
        "synthetic: requests per hour of virtual time (Poisson arrivals)"),
    OPT("requests", CONF_INT, requests, 0, REQUESTS_MAX, "0",
        "requests (0: the whole trace, or rate x hours, or 1000 for a synthetic run)"),
    OPT("seed", CONF_INT, seed, 0, INT64_MAX, "1",
        "seed of the synthetic workload and of the random reclaims"),
    OPT("clients", CONF_INT, clients, 1, SIM_CLIENTS_MAX, "1", "closed-loop clients"),
    OPT("key-prefix", CONF_STRING, key_prefix, 0, 0, "icb0:",
        "keys are PREFIX<16 hex digits> (icbench's first target uses icb0:); placement hashes "
        "them"),
    /* the pool: icproxy's options */
    OPT("pool-size", CONF_INT, pool_size, 1, SIM_POOL_MAX, "32", "functions in the pool"),
    OPT("node-memory", CONF_INT, node_memory, 128, 10240, "256", "memory of each function, MiB"),
    OPT("node-reserved", CONF_INT, node_reserved, 0, 10240, "32",
        "MiB of each function kept for the runtime, not for chunks"),
    OPT("d", CONF_INT, d, 1, 32, "10", "data chunks per object"),
    OPT("p", CONF_INT, p, 0, 32, "2", "parity chunks per object"),
    OPT("small-object-max", CONF_BYTES, small_object_max, 0, GiB, "64k",
        "objects up to this size are 1 chunk + p replicas"),
    OPT("warmup-interval", CONF_MS, warmup_interval_ms, 0, 86400000, "1m",
        "warm-up of every idle function this often (0: never)"),
    OPT("backup-interval", CONF_MS, backup_interval_ms, 0, 86400000, "5m",
        "backup of a node holding data this often (0: never)"),
    OPT("backup-concurrency", CONF_INT, backup_concurrency, 1, 4096, "2",
        "most backups running at once"),
    /* the platform: icplatform's options */
    OPT("billing", CONF_MS, billing_ms, 1, 60000, "1ms", "billing granularity (1ms or 100ms)"),
    OPT("max-instances", CONF_INT, max_instances, 2, SIM_MAX_INSTANCES, "4",
        "most instances per function"),
    OPT("idle-reclaim", CONF_MS, idle_reclaim_ms, 0, 86400000, "27m",
        "instances idle this long are reclaimed (0: never)"),
    OPT("function-timeout", CONF_MS, function_timeout_ms, 1000, 900000, "900s",
        "function timeout (the policy returns before it)"),
    OPT("reclaim-rate", CONF_STRING, reclaim_rate, 0, 0, "0",
        "random reclaims per idle instance-hour"),
    /* the node: icnode's policy */
    OPT("node-return-policy", CONF_STRING, return_policy, 0, 0, "anticipatory",
        "anticipatory or idle"),
    OPT("node-idle-return", CONF_MS, node_idle_return_ms, 1, 60000, "100ms",
        "idle policy, and anticipatory with 1ms billing: return after this long without requests"),
    OPT("billing-margin", CONF_MS, billing_margin_ms, 0, 1000, "0",
        "anticipatory: return this long before a boundary (0: billing/10 within 2..10 ms)"),
    /* the timing model */
    OPT("node-bandwidth", CONF_BYTES, node_bandwidth, 0, 64 * GiB, "0",
        "bytes per second a node sends the proxy (GET chunks); 0: not limited"),
    OPT("upload-bandwidth", CONF_BYTES, upload_bandwidth, 0, 64 * GiB, "1g",
        "bytes per second the proxy sends a node (SET chunks); 0: not limited"),
    OPT("sync-bandwidth", CONF_BYTES, sync_bandwidth, 0, 64 * GiB, "0",
        "bytes per second of a backup's sync to the peer; 0: as node-bandwidth (the local "
        "platform does not limit it: pass e.g. 1g to model a local run)"),
    OPT("rtt-us", CONF_INT, rtt_us, 0, 10000000, "300", "round trip proxy <-> node, us"),
    OPT("warm-invoke-us", CONF_INT, warm_invoke_us, 0, 60000000, "3000",
        "invocation sent -> a warm instance starts it, us"),
    OPT("cold-invoke-us", CONF_INT, cold_invoke_us, 0, 60000000, "60000",
        "invocation sent -> a cold start starts it, us"),
    OPT("hello-us", CONF_INT, hello_us, 0, 60000000, "2000",
        "an invocation's start -> its HELLO at the proxy, us"),
    OPT("warmup-run-us", CONF_INT, warmup_run_us, 0, 60000000, "3000",
        "duration of a warm-up invocation, us"),
    OPT("post-us", CONF_INT, post_us, 0, 60000000, "2000",
        "a return: posting the response, inside the billed duration, us"),
    /* prices: icbench's cost report (src/bench/cost.c) */
    OPT("prices", CONF_STRING, prices, 0, 0, "current",
        "price set: current (us-east-1 on-demand, recorded 2026-11-24) or 2020 (the paper's)"),
    OPT("price-gb-s", CONF_STRING, price_gb_s, 0, 0, "",
        "USD per Lambda GB-second (empty: the price set's)"),
    OPT("price-requests", CONF_STRING, price_requests, 0, 0, "",
        "USD per million Lambda requests (empty: the price set's)"),
    OPT("proxy-vm", CONF_STRING, proxy_vm, 0, 0, "",
        "the proxy's VM as TYPE:USD_PER_HOUR, or none (empty: the price set's)"),
    OPT("json", CONF_STRING, json, 0, 0, "", "write the totals and per-hour series here"),
    CONF_END,
};

static const char usage[] =
    "usage: icsim [--trace FILE | synthetic options] [pool, platform and model options]\n"
    "\n"
    "Simulates an InfiniCache deployment on a virtual clock: the proxy's placement, CLOCK\n"
    "eviction, warm-up and backup decisions, the node's billed-duration policy and the\n"
    "platform's instance choice, billing and reclaims are the real code; bytes are not moved.\n"
    "Prints hit ratio, invocations, billed time, GB-seconds and cost by kind, reclaims, losses\n"
    "and per-hour availability (docs/EVALUATION.md, \"Simulation mode\").\n"
    "\n"
    "  icsim --trace dal09.json --min-size 10m --hours 50 --pool-size 400 --node-memory 1536 \\\n"
    "        --d 10 --p 2 --billing 100ms --reclaim-rate 1 --node-bandwidth 50m";

/* The option table owns its strings. */
static void free_strings(icsim_config_t *c)
{
    for (const conf_option_t *o = options; o->name; o++)
        if (o->type == CONF_STRING) {
            char **field = (char **)((char *)c + o->offset);
            free(*field);
            *field = NULL;
        }
}

static int parse_decimal(const char *name, const char *text, double lo, double hi, double *out,
                         char *err, size_t errlen)
{
    if (conf_parse_decimal(text, lo, hi, out) < 0) {
        snprintf(err, errlen, "option %s: '%.40s' is not a number in %g..%g", name, text, lo, hi);
        return -1;
    }
    return 0;
}

/* The requests, as icbench would issue them. 0, or -1 with err. */
static int load_requests(const icsim_config_t *c, sim_request_t **out, size_t *count, char *err,
                         size_t errlen)
{
    double hours, compress;
    if (parse_decimal("hours", c->hours, 0, 1e6, &hours, err, errlen) < 0 ||
        parse_decimal("time-compress", c->time_compress, 1e-6, 1e9, &compress, err, errlen) < 0)
        return -1;
    if (c->trace[0]) {
        trace_format_t fmt = !strcmp(c->trace_format, "json")  ? TRACE_FORMAT_JSON
                             : !strcmp(c->trace_format, "csv") ? TRACE_FORMAT_CSV
                                                               : TRACE_FORMAT_AUTO;
        if (fmt == TRACE_FORMAT_AUTO && strcmp(c->trace_format, "auto")) {
            snprintf(err, errlen, "option trace-format: '%s' is not auto, json or csv",
                     c->trace_format);
            return -1;
        }
        double scale;
        if (parse_decimal("size-scale", c->size_scale, 0, 1e6, &scale, err, errlen) < 0) return -1;
        trace_t t;
        if (trace_load(c->trace, fmt, 0, stderr, &t, err, errlen) < 0) return -1;
        t.count = trace_filter(t.records, t.count, scale, (uint64_t)c->min_size,
                               (uint64_t)c->max_size, hours);
        if (c->requests > 0 && (size_t)c->requests < t.count) t.count = (size_t)c->requests;
        if (t.count == 0) {
            free(t.records);
            snprintf(err, errlen, "trace %s: no records to replay", c->trace);
            return -1;
        }
        sim_request_t *r = calloc(t.count, sizeof *r);
        if (!r) {
            free(t.records);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < t.count; i++)
            r[i] = (sim_request_t){t.records[i].op, t.records[i].key, t.records[i].size,
                                   (t.records[i].time - t.records[0].time) / compress};
        free(t.records);
        *out = r;
        *count = t.count;
        return 0;
    }
    double zipf, get_ratio, rate;
    workload_size_t size;
    workload_zipf_t z;
    if (workload_size_parse(c->size_dist, &size, err, errlen) < 0 ||
        parse_decimal("zipf", c->zipf, 0, 10, &zipf, err, errlen) < 0 ||
        parse_decimal("get-ratio", c->get_ratio, 0, 1, &get_ratio, err, errlen) < 0 ||
        parse_decimal("hourly-rate", c->rate, 1e-3, 1e9, &rate, err, errlen) < 0)
        return -1;
    uint64_t n = c->requests > 0 ? (uint64_t)c->requests
                 : hours > 0     ? (uint64_t)(rate * hours + 0.5)
                                 : 1000;
    if (n == 0 || n > REQUESTS_MAX) {
        snprintf(err, errlen, "%" PRIu64 " requests: 1..%d", n, REQUESTS_MAX);
        return -1;
    }
    if (workload_zipf_init(&z, (uint64_t)c->keys, zipf) < 0) {
        snprintf(err, errlen, "out of memory for %" PRId64 " keys", c->keys);
        return -1;
    }
    sim_request_t *r = calloc(n, sizeof *r);
    if (!r) {
        workload_zipf_free(&z);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* The same draws as icbench's synthetic request_at, plus Poisson arrival times. */
    workload_rng_t clock;
    workload_rng_seed(&clock, (uint64_t)c->seed, UINT64_MAX);
    double at = 0;
    for (uint64_t idx = 0; idx < n; idx++) {
        workload_rng_t rng;
        workload_rng_seed(&rng, (uint64_t)c->seed, idx);
        r[idx].op = workload_rng_double(&rng) < get_ratio ? TRACE_OP_GET : TRACE_OP_SET;
        uint64_t k = workload_zipf_draw(&z, &rng);
        r[idx].key = workload_mix64((uint64_t)c->seed ^ workload_mix64(k + 1));
        workload_rng_t sizer;
        workload_rng_seed(&sizer, (uint64_t)c->seed, r[idx].key);
        r[idx].size = workload_size_draw(&size, &sizer, (uint64_t)c->max_size);
        r[idx].at = at;
        double u = 1.0 - workload_rng_double(&clock); /* (0, 1] */
        at += -log(u) * 3600.0 / rate;
    }
    workload_zipf_free(&z);
    *out = r;
    *count = n;
    return 0;
}

static cost_prices_t prices;

/* The billing totals as the cost report reads them from INFO: the platform's kinds map one to
 * one (activate is serving). */
static void to_counters(const sim_config_t *s, const billing_totals_t *b, cost_counters_t *out)
{
    static const int kind_of[BILLING_KIND_COUNT] = {
        [BILLING_KIND_ACTIVATE] = COST_SERVING, [BILLING_KIND_WARMUP] = COST_WARMUP,
        [BILLING_KIND_BACKUP] = COST_BACKUP, [BILLING_KIND_OTHER] = COST_OTHER};
    memset(out, 0, sizeof *out);
    out->has_pool = out->has_platform = 1;
    out->requests = (double)b->requests;
    out->gb_seconds = b->gb_seconds;
    for (int k = 0; k < BILLING_KIND_COUNT; k++) {
        out->requests_by_kind[kind_of[k]] += (double)b->requests_by_kind[k];
        out->gb_seconds_by_kind[kind_of[k]] += b->gb_seconds_by_kind[k];
    }
    out->pool_size = s->pool_size;
    out->node_memory_mb = s->node_memory_mb;
    out->billing_ms = s->billing_ms;
}

/* Lambda dollars of some billing totals at the configured prices. */
static double cost_usd(const billing_totals_t *b)
{
    return b->gb_seconds * prices.usd_per_gb_second +
           (double)b->requests * prices.usd_per_million_requests / 1e6;
}

/* The cost report of the whole run: Lambda by kind, the proxy VM and the same-capacity
 * ElastiCache over the virtual time, as icbench prints it for a real run. */
static void print_cost(const sim_config_t *s, const billing_totals_t *b, double seconds)
{
    cost_counters_t counters;
    cost_report_t r;
    to_counters(s, b, &counters);
    cost_compute(&prices, &counters, seconds, &r);
    int cheaper = 0, cheaper_lambda = 0;
    double x = cost_ratio(r.infinicache_usd, r.elasticache_usd, &cheaper);
    double xl = cost_ratio(r.lambda_usd, r.elasticache_usd, &cheaper_lambda);
    printf("cost prices=%s billing_ms=%" PRId64 " hours=%.3f", prices.name, s->billing_ms,
           seconds / 3600);
    for (int k = 0; k < COST_KINDS; k++)
        printf(" %s_usd=%.4f", cost_kind_name(k), r.gb_second_usd[k] + r.request_usd[k]);
    printf(" lambda_usd=%.4f vm_usd=%.4f infinicache_usd=%.4f elasticache_usd=%.4f"
           " elasticache_node=%s elasticache_nodes=%d ratio=%.2f %s\n",
           r.lambda_usd, r.vm_usd, r.infinicache_usd, r.elasticache_usd,
           r.cluster.type ? r.cluster.type->name : "none", r.cluster.count, x,
           cheaper ? "cheaper" : "more_expensive");
    if (x > 0)
        printf("InfiniCache $%.2f (Lambda $%.2f + VM %s $%.2f) against ElastiCache %d x %s $%.2f "
               "over %.1f h: %.2f times %s (Lambda alone: %.2f times %s)\n",
               r.infinicache_usd, r.lambda_usd, prices.vm_type, r.vm_usd, r.cluster.count,
               r.cluster.type ? r.cluster.type->name : "none", r.elasticache_usd, seconds / 3600,
               x, cheaper ? "cheaper" : "more expensive", xl,
               cheaper_lambda ? "cheaper" : "more expensive");
}

static void print_kinds(FILE *f, const billing_totals_t *b, const char *sep)
{
    for (int k = 0; k < BILLING_KIND_COUNT; k++)
        fprintf(f,
                "%s\"%s\": {\"requests\": %" PRIu64 ", \"billed_ms\": %" PRId64
                ", \"gb_seconds\": %.6f}",
                k ? ", " : sep, billing_kind_name((billing_kind_t)k), b->requests_by_kind[k],
                b->billed_ms_by_kind[k], b->gb_seconds_by_kind[k]);
}

static void print_counts_json(FILE *f, const sim_counts_t *c)
{
    fprintf(f,
            "{\"gets\": %" PRIu64 ", \"hits\": %" PRIu64 ", \"misses\": %" PRIu64
            ", \"sets\": %" PRIu64 ", \"fills\": %" PRIu64 ", \"set_errors\": %" PRIu64
            ", \"hit_ratio\": %.6f, \"gets_of_stored\": %" PRIu64 ", \"hits_of_stored\": %" PRIu64
            ", \"availability\": %.6f, \"evictions\": %" PRIu64 ", \"objects_lost\": %" PRIu64
            ", \"chunks_lost\": %" PRIu64 ", \"chunks_restored\": %" PRIu64
            ", \"cold_starts\": %" PRIu64 ", \"reclaims_random\": %" PRIu64
            ", \"reclaims_idle\": %" PRIu64 ", \"warmups\": %" PRIu64 ", \"backups\": %" PRIu64
            ", \"invocations\": %" PRIu64 ", \"billed_ms\": %" PRId64 ", \"gb_seconds\": %.6f"
            ", \"cost_usd\": %.6f, \"by_kind\": {",
            c->gets, c->hits, c->misses, c->sets, c->fills, c->set_errors,
            c->gets ? (double)c->hits / (double)c->gets : 0, c->gets_of_stored, c->hits_of_stored,
            c->gets_of_stored ? (double)c->hits_of_stored / (double)c->gets_of_stored : 1,
            c->evictions, c->objects_lost, c->chunks_lost, c->chunks_restored, c->cold_starts,
            c->reclaims_random, c->reclaims_idle, c->warmups, c->backups, c->bill.requests,
            c->bill.billed_ms, c->bill.gb_seconds, cost_usd(&c->bill));
    print_kinds(f, &c->bill, "");
    fprintf(f, "}}");
}

static int to_sim_config(const icsim_config_t *c, sim_config_t *s, char *err, size_t errlen)
{
    sim_config_defaults(s);
    s->pool_size = (int)c->pool_size;
    s->node_memory_mb = c->node_memory;
    s->node_reserved_mb = c->node_reserved;
    s->d = (int)c->d;
    s->p = (int)c->p;
    s->small_object_max = (uint64_t)c->small_object_max;
    s->key_prefix = c->key_prefix;
    s->warmup_interval_ms = (uint64_t)c->warmup_interval_ms;
    s->backup_interval_ms = (uint64_t)c->backup_interval_ms;
    s->backup_concurrency = (int)c->backup_concurrency;
    s->billing_ms = c->billing_ms;
    s->max_instances = c->max_instances;
    s->idle_reclaim_ms = c->idle_reclaim_ms;
    s->function_timeout_ms = c->function_timeout_ms;
    s->seed = (uint64_t)c->seed;
    if (parse_decimal("reclaim-rate", c->reclaim_rate, 0, RECLAIM_MAX_RECLAIM_RATE,
                      &s->reclaim_rate, err, errlen) < 0)
        return -1;
    if (policy_kind_parse(c->return_policy, &s->policy.kind) < 0) {
        snprintf(err, errlen, "option node-return-policy: '%s' is not anticipatory or idle",
                 c->return_policy);
        return -1;
    }
    s->policy.billing_ms = (uint64_t)c->billing_ms;
    s->policy.billing_margin_ms = (uint64_t)c->billing_margin_ms;
    s->policy.idle_return_ms = (uint64_t)c->node_idle_return_ms;
    s->policy.billing_idle_ms = (uint64_t)c->node_idle_return_ms;
    s->node_bandwidth = (uint64_t)c->node_bandwidth;
    s->upload_bandwidth = (uint64_t)c->upload_bandwidth;
    s->sync_bandwidth = (uint64_t)c->sync_bandwidth;
    s->rtt_us = c->rtt_us;
    s->warm_invoke_us = c->warm_invoke_us;
    s->cold_invoke_us = c->cold_invoke_us;
    s->hello_us = c->hello_us;
    s->warmup_run_us = c->warmup_run_us;
    s->post_us = c->post_us;
    s->clients = (int)c->clients;
    return 0;
}

int main(int argc, char **argv)
{
    icsim_config_t c;
    memset(&c, 0, sizeof c);
    char err[512];
    int rc = conf_parse_args(options, &c, argc, argv, usage, err, sizeof err);
    if (rc != 0) {
        if (rc < 0) fprintf(stderr, "icsim: %s\n", err);
        free_strings(&c);
        return rc == 1 ? 0 : 2;
    }
    sim_config_t sc;
    sim_request_t *reqs = NULL;
    size_t n = 0;
    if (cost_prices_configure(&prices, c.prices, c.price_gb_s, c.price_requests, c.proxy_vm, err,
                              sizeof err) < 0 ||
        to_sim_config(&c, &sc, err, sizeof err) < 0 ||
        load_requests(&c, &reqs, &n, err, sizeof err) < 0) {
        fprintf(stderr, "icsim: %s\n", err);
        free_strings(&c);
        return 2;
    }
    uint64_t t0_ns = clock_mono_ns();
    sim_result_t res;
    if (sim_run(&sc, reqs, n, &res, err, sizeof err) < 0) {
        fprintf(stderr, "icsim: %s\n", err);
        free(reqs);
        free_strings(&c);
        return 2;
    }
    double wall = (double)(clock_mono_ns() - t0_ns) / 1e9;
    const sim_counts_t *t = &res.total;
    printf("result requests=%zu virtual_s=%.3f wall_s=%.3f events=%" PRIu64 " gets=%" PRIu64
           " hits=%" PRIu64 " misses=%" PRIu64 " hit_ratio=%.4f sets=%" PRIu64 " fills=%" PRIu64
           " set_errors=%" PRIu64 " evictions=%" PRIu64 " availability=%.4f objects_lost=%" PRIu64
           " chunks_lost=%" PRIu64 " cold_starts=%" PRIu64 " reclaims_random=%" PRIu64
           " reclaims_idle=%" PRIu64 " warmups=%" PRIu64 " backups=%" PRIu64 " invocations=%" PRIu64
           " billed_ms=%" PRId64 " gb_seconds=%.6f cost_usd=%.6f\n",
           n, res.end_s, wall, res.events, t->gets, t->hits, t->misses,
           t->gets ? (double)t->hits / (double)t->gets : 0, t->sets, t->fills, t->set_errors,
           t->evictions,
           t->gets_of_stored ? (double)t->hits_of_stored / (double)t->gets_of_stored : 1,
           t->objects_lost, t->chunks_lost, t->cold_starts, t->reclaims_random, t->reclaims_idle,
           t->warmups, t->backups, t->bill.requests, t->bill.billed_ms, t->bill.gb_seconds,
           cost_usd(&t->bill));
    for (int k = 0; k < BILLING_KIND_COUNT; k++)
        printf("kind %s invocations=%" PRIu64 " billed_ms=%" PRId64 " gb_seconds=%.6f\n",
               billing_kind_name((billing_kind_t)k), t->bill.requests_by_kind[k],
               t->bill.billed_ms_by_kind[k], t->bill.gb_seconds_by_kind[k]);
    print_cost(&sc, &t->bill, res.end_s);
    int status = 0;
    if (c.json[0]) {
        FILE *f = fopen(c.json, "w");
        if (!f) {
            fprintf(stderr, "icsim: cannot write %s\n", c.json);
            status = 2;
        } else {
            fprintf(f, "{\"requests\": %zu, \"virtual_s\": %.3f, \"wall_s\": %.3f, \"total\": ", n,
                    res.end_s, wall);
            print_counts_json(f, t);
            fprintf(f, ", \"hours\": [");
            for (size_t h = 0; h < res.nhours; h++) {
                fprintf(f, h ? ",\n  " : "\n  ");
                print_counts_json(f, &res.hours[h]);
            }
            fprintf(f, "]}\n");
            if (fclose(f) != 0) status = 2;
        }
    }
    sim_result_free(&res);
    free(reqs);
    free_strings(&c);
    return status;
}
