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
#include "options.h"
#include "sim_options.h"
#include "trace.h"
#include "workload.h"

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
    for (const conf_option_t *o = icsim_options; o->name; o++)
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
    if (n == 0 || n > ICSIM_REQUESTS_MAX) {
        snprintf(err, errlen, "%" PRIu64 " requests: 1..%d", n, ICSIM_REQUESTS_MAX);
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
    static const int kind_of[BILLING_KIND_COUNT] = {[BILLING_KIND_ACTIVATE] = COST_SERVING,
                                                    [BILLING_KIND_WARMUP] = COST_WARMUP,
                                                    [BILLING_KIND_BACKUP] = COST_BACKUP,
                                                    [BILLING_KIND_OTHER] = COST_OTHER};
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

/* A set of keys with their sizes: open addressing over a power-of-two table (key 0 is stored
 * apart, as the table's empty mark). */
typedef struct {
    uint64_t *keys, *sizes;
    size_t mask;
    int has_zero;
    uint64_t zero_size;
} keyset_t;

static int keyset_init(keyset_t *k, size_t expect)
{
    size_t cap = 16;
    while (cap < 2 * expect + 16)
        cap *= 2;
    memset(k, 0, sizeof *k);
    k->keys = calloc(cap, sizeof *k->keys);
    k->sizes = calloc(cap, sizeof *k->sizes);
    k->mask = cap - 1;
    return k->keys && k->sizes ? 0 : -1;
}

static void keyset_free(keyset_t *k)
{
    free(k->keys);
    free(k->sizes);
}

/* Sets key's size; returns the size it had (0 if it was not there). The table is sized for
 * every request's key, so it never fills. */
static uint64_t keyset_put(keyset_t *k, uint64_t key, uint64_t size)
{
    uint64_t old;
    if (key == 0) {
        old = k->has_zero ? k->zero_size : 0;
        k->has_zero = 1;
        k->zero_size = size;
        return old;
    }
    size_t i = (size_t)workload_mix64(key) & k->mask;
    while (k->keys[i] && k->keys[i] != key)
        i = (i + 1) & k->mask;
    old = k->keys[i] ? k->sizes[i] : 0;
    k->keys[i] = key;
    k->sizes[i] = size;
    return old;
}

/* What the requests ask of the comparisons, from the request stream: the application's GETs and
 * SETs and their bytes (every GET answered, from the cache or the store); the data held, as the
 * distinct objects written or read so far (a GET that misses fills the cache), at most what the
 * pool holds after parity, averaged over the run; and the proxy's peak bytes per second in its
 * busier direction over one-second buckets (a GET brings d + p chunks in and sends the object out,
 * a SET the reverse). An estimate: evictions below capacity, losses and backups' relayed bytes are
 * not in it. */
static void requests_usage(const sim_config_t *s, const sim_request_t *reqs, size_t n, double end_s,
                           cost_usage_t *u)
{
    memset(u, 0, sizeof *u);
    double spread = s->d > 0 ? (double)(s->d + s->p) / (double)s->d : 1;
    double room = (double)s->pool_size * (double)(s->node_memory_mb - s->node_reserved_mb) *
                  1048576.0 / spread;
    keyset_t keys;
    int have_keys = keyset_init(&keys, n) == 0;
    if (!have_keys)
        fprintf(stderr, "icsim: out of memory for the key table: the data held is priced as "
                        "none\n");
    double held = 0, area = 0, stored_area = 0, last_t = 0;
    double bucket_in = 0, bucket_out = 0, peak = 0;
    int64_t bucket = -1;
    for (size_t i = 0; i < n; i++) {
        const sim_request_t *r = &reqs[i];
        double size = (double)r->size;
        if (r->op == TRACE_OP_GET) {
            u->gets++;
            u->get_bytes += size;
        } else {
            u->sets++;
            u->set_bytes += size;
        }
        double t = r->at > last_t ? r->at : last_t;
        area += (held < room ? held : room) * (t - last_t);
        stored_area += held * (t - last_t);
        last_t = t;
        if (have_keys) held += size - (double)keyset_put(&keys, r->key, r->size);
        int64_t b = (int64_t)t;
        if (b != bucket) {
            bucket = b;
            bucket_in = bucket_out = 0;
        }
        bucket_in += r->op == TRACE_OP_GET ? size * spread : size;
        bucket_out += r->op == TRACE_OP_GET ? size : size * spread;
        double busier = bucket_in > bucket_out ? bucket_in : bucket_out;
        if (busier > peak) peak = busier;
    }
    if (end_s > last_t) {
        area += (held < room ? held : room) * (end_s - last_t);
        stored_area += held * (end_s - last_t);
    }
    keyset_free(&keys); /* also after a half-failed init */
    u->data_bytes = end_s > 0 ? area / end_s : 0;
    /* The bucket holds every object the workload touched (what a cache in front of an existing
     * bucket reads from), not only what fits the pool. */
    if (s->store) u->s3_stored_bytes = end_s > 0 ? stored_area / end_s : 0;
    u->peak_bytes_per_s = peak;
}

/* The cost report of the whole run: Lambda by kind, the proxy VM, the same-capacity ElastiCache,
 * ElastiCache Serverless and S3 Express One Zone over the virtual time, as icbench prints it for a
 * real run (the shared lines come from cost_print_comparisons). */
static void print_cost(const sim_config_t *s, const sim_counts_t *t, const sim_request_t *reqs,
                       size_t n, double seconds)
{
    const billing_totals_t *b = &t->bill;
    cost_counters_t counters;
    cost_usage_t usage;
    cost_report_t r;
    to_counters(s, b, &counters);
    requests_usage(s, reqs, n, seconds, &usage);
    usage.s3_gets = (double)t->store_gets;
    usage.s3_puts = (double)t->store_puts;
    cost_compute(&prices, &counters, &usage, seconds, &r);
    int cheaper = 0, cheaper_lambda = 0;
    double x = cost_ratio(r.infinicache_usd, r.elasticache_usd, &cheaper);
    double xl = cost_ratio(r.lambda_usd, r.elasticache_usd, &cheaper_lambda);
    printf("cost prices=%s billing_ms=%" PRId64 " hours=%.3f", prices.name, s->billing_ms,
           seconds / 3600);
    for (int k = 0; k < COST_KINDS; k++)
        printf(" %s_usd=%.4f", cost_kind_name(k), r.gb_second_usd[k] + r.request_usd[k]);
    printf(" lambda_usd=%.4f vm_usd=%.4f infinicache_usd=%.4f elasticache_usd=%.4f"
           " elasticache_node=%s elasticache_nodes=%d peak_bytes_per_s=%.0f",
           r.lambda_usd, r.vm_usd, r.infinicache_usd, r.elasticache_usd,
           r.cluster.type ? r.cluster.type->type : "none", r.cluster.count, usage.peak_bytes_per_s);
    cost_print_fields(stdout, &prices, &r);
    printf(" ratio=%.2f %s\n", x, cheaper ? "cheaper" : "more_expensive");
    if (x > 0)
        printf("InfiniCache $%.2f (Lambda $%.2f + S3 $%.2f + VM %s $%.2f) against ElastiCache %d x "
               "%s $%.2f over %.1f h: %.2f times %s (Lambda alone: %.2f times %s)\n",
               r.infinicache_usd, r.lambda_usd, r.s3_usd, r.vm.type, r.vm_usd, r.cluster.count,
               r.cluster.type ? r.cluster.type->type : "none", r.elasticache_usd, seconds / 3600, x,
               cheaper ? "cheaper" : "more expensive", xl,
               cheaper_lambda ? "cheaper" : "more expensive");
    cost_print_comparisons(stdout, &prices, &r, &usage, "  ");
}

/* GETs of stored objects answered with the object, from the cache or the store, over all of
 * them (the simulated store never fails). */
static double answered_ratio(const sim_counts_t *c)
{
    if (!c->gets_of_stored) return 1;
    return (double)(c->hits_of_stored + c->store_answers_of_stored) / (double)c->gets_of_stored;
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
            ", \"cost_usd\": %.6f, \"answered\": %.6f, \"store_answers\": %" PRIu64
            ", \"store_gets\": %" PRIu64 ", \"store_puts\": %" PRIu64
            ", \"repairs_from_store\": %" PRIu64 ", \"repairs_from_cache\": %" PRIu64
            ", \"by_kind\": {",
            c->gets, c->hits, c->misses, c->sets, c->fills, c->set_errors,
            c->gets ? (double)c->hits / (double)c->gets : 0, c->gets_of_stored, c->hits_of_stored,
            c->gets_of_stored ? (double)c->hits_of_stored / (double)c->gets_of_stored : 1,
            c->evictions, c->objects_lost, c->chunks_lost, c->chunks_restored, c->cold_starts,
            c->reclaims_random, c->reclaims_idle, c->warmups, c->backups, c->bill.requests,
            c->bill.billed_ms, c->bill.gb_seconds, cost_usd(&c->bill), answered_ratio(c),
            c->store_answers, c->store_gets, c->store_puts, c->repairs_from_store,
            c->repairs_from_cache);
    print_kinds(f, &c->bill, "");
    fprintf(f, "}}");
}

/* --kill TIME:NODE[,TIME:NODE...] into s->kills. 0, or -1 with err. */
static int parse_kills(const char *text, sim_config_t *s, char *err, size_t errlen)
{
    s->nkills = 0;
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, ",");
        char item[64];
        const char *colon = memchr(p, ':', len);
        int64_t at_ms, node;
        int ok = len < sizeof item && colon && s->nkills < SIM_KILLS_MAX &&
                 !(p[len] == ',' && !p[len + 1]); /* no empty item after a last comma */
        if (ok) {
            memcpy(item, p, (size_t)(colon - p));
            item[colon - p] = 0;
            ok = conf_parse_ms(item, &at_ms) == 0;
        }
        if (ok) {
            size_t nlen = len - (size_t)(colon + 1 - p);
            memcpy(item, colon + 1, nlen);
            item[nlen] = 0;
            char *end;
            node = strtoll(item, &end, 10);
            ok = nlen && !*end && node >= 0 && node < s->pool_size;
        }
        if (!ok) {
            snprintf(err, errlen,
                     "option kill: '%.*s' is not TIME:NODE with a node below pool-size (at most "
                     "%d kills)",
                     (int)(len < 64 ? len : 64), p, SIM_KILLS_MAX);
            return -1;
        }
        s->kills[s->nkills].at_ms = at_ms;
        s->kills[s->nkills].node = (int)node;
        s->nkills++;
        p += len + (p[len] == ',');
    }
    return 0;
}

static int to_sim_config(const icsim_config_t *c, sim_config_t *s, char *err, size_t errlen)
{
    sim_config_defaults(s);
    s->pool_size = (int)c->pool_size;
    s->node_memory_mb = c->node_memory_mb;
    s->node_reserved_mb = c->node_reserved_mb;
    s->d = (int)c->d;
    s->p = (int)c->p;
    s->small_object_max = (uint64_t)c->small_object_max;
    /* Keys as icbench's first target names them: PREFIX0:<16 hex digits>. */
    static char prefix[40];
    if (strlen(c->key_prefix) > 30) {
        snprintf(err, errlen, "option key-prefix: at most 30 characters");
        return -1;
    }
    snprintf(prefix, sizeof prefix, "%s0:", c->key_prefix);
    s->key_prefix = prefix;
    s->warmup_interval_ms = (uint64_t)c->warmup_interval_ms;
    s->backup_interval_ms = (uint64_t)c->backup_interval_ms;
    s->backup_concurrency = (int)c->backup_concurrency;
    if (model_billing_parse(c->billing, &s->billing_ms) < 0) {
        snprintf(err, errlen, "option billing: '%s' is not 1ms or 100ms", c->billing);
        return -1;
    }
    /* The shared row allows what the local platform does; the simulator keeps each function's
     * instances in an array, and a backup needs a second instance. */
    if (c->max_instances < 2 || c->max_instances > SIM_MAX_INSTANCES) {
        snprintf(err, errlen, "option max-instances: icsim simulates 2..%d instances per function",
                 SIM_MAX_INSTANCES);
        return -1;
    }
    s->max_instances = c->max_instances;
    s->idle_reclaim_ms = c->idle_reclaim_ms;
    s->function_timeout_ms = c->function_timeout_ms;
    s->seed = (uint64_t)c->seed;
    if (parse_decimal("reclaim-rate", c->reclaim_rate, 0, RECLAIM_MAX_RECLAIM_RATE,
                      &s->reclaim_rate, err, errlen) < 0)
        return -1;
    if (policy_kind_parse(c->node_return_policy, &s->policy.kind) < 0) {
        snprintf(err, errlen, "option node-return-policy: '%s' is not anticipatory or idle",
                 c->node_return_policy);
        return -1;
    }
    s->policy.billing_ms = (uint64_t)s->billing_ms;
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
    if (strcmp(c->backing, "none") && strcmp(c->backing, "s3")) {
        snprintf(err, errlen, "option backing: '%s' is not none or s3", c->backing);
        return -1;
    }
    s->store = !strcmp(c->backing, "s3");
    s->store_part = (uint64_t)c->backing_part;
    static const char *const repairs[] = {
        [SIM_REPAIR_LAZY] = "lazy", [SIM_REPAIR_EAGER] = "eager", [SIM_REPAIR_HOT] = "hot"};
    s->repair = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(c->repair, repairs[i])) s->repair = i;
    if (s->repair < 0) {
        snprintf(err, errlen, "option repair-policy: '%s' is not lazy, eager or hot", c->repair);
        return -1;
    }
    s->repair_hot_ms = (uint64_t)c->repair_hot_ms;
    return parse_kills(c->kill, s, err, errlen);
}

int main(int argc, char **argv)
{
    icsim_config_t c;
    memset(&c, 0, sizeof c);
    char err[512];
    int rc = conf_parse_args(icsim_options, &c, argc, argv, usage, err, sizeof err);
    if (rc != 0) {
        if (rc < 0) fprintf(stderr, "icsim: %s\n", err);
        free_strings(&c);
        return rc == 1 ? 0 : 2;
    }
    sim_config_t sc;
    sim_request_t *reqs = NULL;
    size_t n = 0;
    if (cost_prices_configure(&prices, c.prices, c.lambda_arch, c.price_gb_s, c.price_requests,
                              c.proxy_vm, err, sizeof err) < 0 ||
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
    printf("durability backing=%s repair=%s answered=%.6f from_cache=%.6f"
           " store_answers=%" PRIu64 " store_gets=%" PRIu64 " store_puts=%" PRIu64
           " repairs_from_store=%" PRIu64 " repairs_from_cache=%" PRIu64 " chunks_restored=%" PRIu64
           "\n",
           sc.store ? "s3" : "none", c.repair, answered_ratio(t),
           t->gets_of_stored ? (double)t->hits_of_stored / (double)t->gets_of_stored : 1,
           t->store_answers, t->store_gets, t->store_puts, t->repairs_from_store,
           t->repairs_from_cache, t->chunks_restored);
    print_cost(&sc, t, reqs, n, res.end_s);
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
