/* cost.c -- the cost model: Lambda by kind and architecture, the S3 backing store, the proxy VM
 * chosen by bandwidth, and ElastiCache on-demand, ElastiCache Serverless and S3 Express One Zone
 * for the same workload, at a loaded price set; icproxy's INFO billing counters. */
#include "cost.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

void cost_prices_from_set(cost_prices_t *out, const price_set_t *set, int arch)
{
    memset(out, 0, sizeof *out);
    out->set = *set;
    snprintf(out->name, sizeof out->name, "%s", set->name);
    memcpy(out->as_of, set->recorded, sizeof out->as_of);
    if (arch < 0 || arch >= PRICE_ARCHS || !set->lambda[arch].present) arch = PRICE_ARCH_X86_64;
    out->arch = arch;
    out->usd_per_gb_second = set->lambda[arch].usd_per_gb_second.value;
    out->usd_per_million_requests = set->lambda[arch].usd_per_million_requests.value;
}

static int parse_price(const char *name, const char *s, double *out, char *err, size_t errlen)
{
    if (conf_parse_decimal(s, 0, 1e6, out) < 0) {
        snprintf(err, errlen, "option %s: '%s' is not a price in USD (0 to 1e6)", name, s);
        return -1;
    }
    return 0;
}

int cost_prices_configure(cost_prices_t *out, const char *spec, const char *arch, const char *gb_s,
                          const char *per_million, const char *vm, char *err, size_t errlen)
{
    /* About 30 KB: not on the caller's stack. */
    price_set_t *set = malloc(sizeof *set);
    if (!set) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char why[512];
    int rc = prices_load(spec, set, why, sizeof why);
    /* why names the option ("prices: no set ...") or the file and key ("x.json: lambda...") */
    if (rc < 0)
        snprintf(err, errlen, "option %s%s", strncmp(why, "prices: ", 8) ? "prices: " : "", why);
    int a = PRICE_ARCH_X86_64;
    if (rc == 0 && arch && arch[0]) {
        a = price_arch_parse(arch);
        if (a < 0) {
            snprintf(err, errlen, "option lambda-arch: '%.40s' is not x86_64 or arm64", arch);
            rc = -1;
        } else if (!set->lambda[a].present) {
            snprintf(err, errlen, "option lambda-arch: the price set '%s' has no %s Lambda prices",
                     set->name, arch);
            rc = -1;
        }
    }
    if (rc == 0) cost_prices_from_set(out, set, a);
    free(set);
    if (rc < 0) return -1;
    if (gb_s[0] && parse_price("price-gb-s", gb_s, &out->usd_per_gb_second, err, errlen) < 0)
        return -1;
    if (per_million[0] &&
        parse_price("price-requests", per_million, &out->usd_per_million_requests, err, errlen) < 0)
        return -1;
    if (!vm[0]) return 0;
    if (!strcmp(vm, "none")) {
        snprintf(out->vm_type, sizeof out->vm_type, "none");
        out->vm_usd_per_hour = 0;
        return 0;
    }
    const char *colon = strrchr(vm, ':');
    size_t tlen = colon ? (size_t)(colon - vm) : 0;
    if (!colon || tlen == 0 || tlen >= sizeof out->vm_type) {
        snprintf(err, errlen, "option proxy-vm: '%s' is not TYPE:USD_PER_HOUR or none", vm);
        return -1;
    }
    if (parse_price("proxy-vm", colon + 1, &out->vm_usd_per_hour, err, errlen) < 0) return -1;
    memcpy(out->vm_type, vm, tlen);
    out->vm_type[tlen] = 0;
    return 0;
}

static const char *const kind_names[COST_KINDS] = {"serving", "warmup", "backup", "other"};
static const char *const kind_info_names[COST_KINDS] = {"activate", "warmup", "backup", "other"};

const char *cost_kind_name(int kind)
{
    return kind >= 0 && kind < COST_KINDS ? kind_names[kind] : "?";
}

const char *cost_kind_info_name(int kind)
{
    return kind >= 0 && kind < COST_KINDS ? kind_info_names[kind] : "?";
}

#define INFO_LINE_MAX 256
#define INFO_VALUE_MAX 1e15

static int parse_number(const char *s, size_t len, double *out)
{
    char tmp[64];
    if (len == 0 || len >= sizeof tmp) return -1;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* The billing section's figures, kept apart while parsing: they replace the platform_* ones
 * when present. */
typedef struct {
    int present;
    double requests, gb_seconds;
    double requests_by_kind[COST_KINDS], gb_seconds_by_kind[COST_KINDS];
    int64_t unit_ms;
} billing_lines_t;

/* A billing section line (billing_*): 1 if it was one. */
static int apply_billing_line(const char *name, size_t nlen, double v, billing_lines_t *bl)
{
#define IS(lit) (nlen == sizeof(lit) - 1 && !memcmp(name, lit, nlen))
    if (IS("billing_requests")) {
        bl->requests = v;
    } else if (IS("billing_gb_seconds")) {
        bl->gb_seconds = v;
    } else if (IS("billing_unit_ms")) {
        bl->unit_ms = (int64_t)v;
    } else {
        for (int k = 0; k < COST_KINDS; k++) {
            char want[64];
            int wl = snprintf(want, sizeof want, "billing_requests_%s", kind_info_names[k]);
            if ((size_t)wl == nlen && !memcmp(name, want, nlen)) {
                bl->requests_by_kind[k] = v;
                return 1;
            }
            wl = snprintf(want, sizeof want, "billing_gb_seconds_%s", kind_info_names[k]);
            if ((size_t)wl == nlen && !memcmp(name, want, nlen)) {
                bl->gb_seconds_by_kind[k] = v;
                return 1;
            }
        }
        return 0;
    }
    return 1;
#undef IS
}

/* Applies one "name:value" line to out (billing section lines to bl). */
static void apply_line(const char *name, size_t nlen, const char *val, size_t vlen,
                       cost_counters_t *out, billing_lines_t *bl)
{
    /* The one line whose value is a word: where the billing figures come from. */
    static const char source[] = "billing_source";
    if (nlen == sizeof source - 1 && !memcmp(name, source, nlen)) {
        if ((vlen == 5 && !memcmp(val, "nodes", 5)) || (vlen == 8 && !memcmp(val, "platform", 8))) {
            memcpy(out->billing_source, val, vlen);
            out->billing_source[vlen] = 0;
            bl->present = 1;
        }
        return;
    }
    double v;
    /* Every figure is a count or an amount: negative or absurd values are not from an icproxy,
     * and keeping them bounded keeps the integer conversions below defined. */
    if (parse_number(val, vlen, &v) < 0 || !(v >= 0 && v <= INFO_VALUE_MAX)) return;
    if (nlen > 8 && !memcmp(name, "billing_", 8) && apply_billing_line(name, nlen, v, bl)) return;
#define IS(lit) (nlen == sizeof(lit) - 1 && !memcmp(name, lit, nlen))
    if (IS("pool_size")) {
        out->has_pool = 1;
        out->pool_size = (int64_t)v;
    } else if (IS("node_memory_mb")) {
        out->node_memory_mb = (int64_t)v;
    } else if (IS("capacity_bytes")) {
        out->capacity_bytes = (uint64_t)v;
    } else if (IS("placed_bytes")) {
        out->placed_bytes = (uint64_t)v;
    } else if (IS("ec_d")) {
        out->ec_d = (int64_t)v;
    } else if (IS("ec_p")) {
        out->ec_p = (int64_t)v;
    } else if (IS("total_net_input_bytes")) {
        out->net_in_bytes = v;
    } else if (IS("total_net_output_bytes")) {
        out->net_out_bytes = v;
    } else if (IS("nodes_awake")) {
        out->nodes_awake = (int64_t)v;
    } else if (IS("nodes_invoking")) {
        out->nodes_invoking = (int64_t)v;
    } else if (IS("platform_requests")) {
        out->has_platform = 1;
        out->requests = v;
    } else if (IS("platform_gb_seconds")) {
        out->has_platform = 1;
        out->gb_seconds = v;
    } else if (IS("platform_billing_ms")) {
        out->billing_ms = (int64_t)v;
    } else {
        for (int k = 0; k < COST_KINDS; k++) {
            char want[64];
            int wl = snprintf(want, sizeof want, "platform_requests_%s", kind_info_names[k]);
            if ((size_t)wl == nlen && !memcmp(name, want, nlen)) out->requests_by_kind[k] = v;
            wl = snprintf(want, sizeof want, "platform_gb_seconds_%s", kind_info_names[k]);
            if ((size_t)wl == nlen && !memcmp(name, want, nlen)) out->gb_seconds_by_kind[k] = v;
        }
    }
#undef IS
}

int cost_counters_parse(const char *info, size_t len, cost_counters_t *out)
{
    memset(out, 0, sizeof *out);
    billing_lines_t bl;
    memset(&bl, 0, sizeof bl);
    size_t pos = 0;
    while (pos < len) {
        const char *line = info + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos;
        pos += llen + (nl ? 1 : 0);
        if (llen > 0 && line[llen - 1] == '\r') llen--;
        if (llen == 0 || llen > INFO_LINE_MAX || line[0] == '#') continue;
        const char *colon = memchr(line, ':', llen);
        if (!colon) continue;
        size_t nlen = (size_t)(colon - line);
        apply_line(line, nlen, colon + 1, llen - nlen - 1, out, &bl);
    }
    if (bl.present) {
        out->has_platform = 1;
        out->requests = bl.requests;
        out->gb_seconds = bl.gb_seconds;
        memcpy(out->requests_by_kind, bl.requests_by_kind, sizeof out->requests_by_kind);
        memcpy(out->gb_seconds_by_kind, bl.gb_seconds_by_kind, sizeof out->gb_seconds_by_kind);
        if (bl.unit_ms > 0) out->billing_ms = bl.unit_ms;
    }
    return out->has_pool ? 0 : -1;
}

void cost_counters_diff(const cost_counters_t *after, const cost_counters_t *before,
                        cost_counters_t *out)
{
    *out = *after;
    out->requests = after->requests - before->requests;
    out->gb_seconds = after->gb_seconds - before->gb_seconds;
    out->net_in_bytes = after->net_in_bytes - before->net_in_bytes;
    out->net_out_bytes = after->net_out_bytes - before->net_out_bytes;
    for (int k = 0; k < COST_KINDS; k++) {
        out->requests_by_kind[k] = after->requests_by_kind[k] - before->requests_by_kind[k];
        out->gb_seconds_by_kind[k] = after->gb_seconds_by_kind[k] - before->gb_seconds_by_kind[k];
    }
}

/* Data bytes of what the nodes hold: placed bytes carry p parity chunks for every d data chunks
 * (small objects' replicas are counted as parity too: an approximation). */
static double data_of_placed(const cost_counters_t *c)
{
    if (c->ec_d <= 0 || c->ec_p < 0) return (double)c->placed_bytes;
    return (double)c->placed_bytes * (double)c->ec_d / (double)(c->ec_d + c->ec_p);
}

void cost_usage_from_samples(const cost_sample_t *s, size_t n, cost_usage_t *usage)
{
    if (n < 2) return;
    double peak = 0, area = 0;
    for (size_t i = 1; i < n; i++) {
        double dt = s[i].t_s - s[i - 1].t_s;
        if (!(dt > 0)) continue;
        double in = s[i].c.net_in_bytes - s[i - 1].c.net_in_bytes;
        double out = s[i].c.net_out_bytes - s[i - 1].c.net_out_bytes;
        double rate = (in > out ? in : out) / dt;
        if (rate > peak) peak = rate;
        /* trapezoids: the data held moves between readings */
        area += (data_of_placed(&s[i - 1].c) + data_of_placed(&s[i].c)) / 2 * dt;
    }
    double span = s[n - 1].t_s - s[0].t_s;
    usage->peak_bytes_per_s = peak;
    usage->data_bytes = span > 0 ? area / span : data_of_placed(&s[n - 1].c);
}

/* The ElastiCache choice counts nodes in an int; a pool needing more is capped (and absurd). */
#define CLUSTER_NODES_MAX 1000000

void cost_elasticache_choose(const cost_prices_t *p, double need_gib, int engine,
                             cost_cluster_t *out)
{
    memset(out, 0, sizeof *out);
    if (!(need_gib >= 0)) need_gib = 0; /* NaN or negative */
    const price_node_t *best = NULL, *largest = NULL;
    for (size_t i = 0; i < p->set.nnodes; i++) {
        const price_node_t *t = &p->set.nodes[i];
        if (engine >= 0 && t->engine != engine) continue;
        double price = t->usd_per_hour.value;
        if (!largest || t->memory_gib > largest->memory_gib ||
            (t->memory_gib == largest->memory_gib && price < largest->usd_per_hour.value))
            largest = t;
        if (t->memory_gib < need_gib) continue;
        if (!best || price < best->usd_per_hour.value ||
            (price == best->usd_per_hour.value && t->memory_gib < best->memory_gib))
            best = t;
    }
    if (!largest) return;
    if (best) {
        out->type = best;
        out->count = 1;
    } else {
        out->type = largest;
        double count = ceil(need_gib / largest->memory_gib);
        out->count = count < CLUSTER_NODES_MAX ? (int)count : CLUSTER_NODES_MAX;
    }
    out->usd_per_hour = out->count * out->type->usd_per_hour.value;
}

void cost_vm_choose(const cost_prices_t *p, double peak_bytes_per_s, cost_vm_t *out)
{
    memset(out, 0, sizeof *out);
    if (!(peak_bytes_per_s >= 0)) peak_bytes_per_s = 0;
    out->need_gbps = peak_bytes_per_s * 8 / 1e9;
    if (!strcmp(p->vm_type, "none")) {
        out->how = COST_VM_NONE;
        snprintf(out->type, sizeof out->type, "none");
        return;
    }
    if (p->vm_type[0]) {
        out->how = COST_VM_FIXED;
        snprintf(out->type, sizeof out->type, "%s", p->vm_type);
        out->usd_per_hour = p->vm_usd_per_hour;
        return;
    }
    /* The sustained (baseline) bandwidth must carry the peak: a burst allowance runs out within
     * minutes, and a cache's peak is what its users wait on. */
    const price_instance_t *best = NULL, *widest = NULL;
    for (size_t i = 0; i < p->set.ninstances; i++) {
        const price_instance_t *t = &p->set.instances[i];
        double price = t->usd_per_hour.value;
        if (!widest || t->baseline_gbps > widest->baseline_gbps ||
            (t->baseline_gbps == widest->baseline_gbps && price < widest->usd_per_hour.value))
            widest = t;
        if (t->baseline_gbps < out->need_gbps) continue;
        if (!best || price < best->usd_per_hour.value ||
            (price == best->usd_per_hour.value && t->baseline_gbps < best->baseline_gbps))
            best = t;
    }
    const price_instance_t *t = best ? best : widest;
    if (!t) { /* a set always has one instance; a hand-built one may not */
        out->how = COST_VM_NONE;
        snprintf(out->type, sizeof out->type, "none");
        return;
    }
    out->how = best ? COST_VM_CHOSEN : COST_VM_SHORT;
    snprintf(out->type, sizeof out->type, "%s", t->type);
    out->usd_per_hour = t->usd_per_hour.value;
    out->baseline_gbps = t->baseline_gbps;
    out->burst_gbps = t->burst_gbps;
}

static double nonneg(double x)
{
    return x >= 0 ? x : 0; /* also turns NaN into 0 */
}

void cost_compute(const cost_prices_t *p, const cost_counters_t *delta, const cost_usage_t *usage,
                  double seconds, cost_report_t *out)
{
    static const cost_usage_t no_usage;
    if (!usage) usage = &no_usage;
    memset(out, 0, sizeof *out);
    out->seconds = seconds;
    double hours = seconds / 3600.0;
    const price_set_t *set = &p->set;

    /* Lambda: the headline at the configured prices, and each architecture at its list price. */
    double requests = 0, gb_seconds = 0;
    for (int k = 0; k < COST_KINDS; k++) {
        out->gb_second_usd[k] = delta->gb_seconds_by_kind[k] * p->usd_per_gb_second;
        out->request_usd[k] = delta->requests_by_kind[k] * p->usd_per_million_requests / 1e6;
        out->lambda_usd += out->gb_second_usd[k] + out->request_usd[k];
        requests += delta->requests_by_kind[k];
        gb_seconds += delta->gb_seconds_by_kind[k];
    }
    for (int a = 0; a < PRICE_ARCHS; a++) {
        if (!set->lambda[a].present) continue;
        out->lambda_arch_present[a] = 1;
        out->lambda_usd_by_arch[a] = gb_seconds * set->lambda[a].usd_per_gb_second.value +
                                     requests * set->lambda[a].usd_per_million_requests.value / 1e6;
    }

    /* The backing store: S3 Standard. */
    double s3_puts = nonneg(usage->s3_puts), s3_gets = nonneg(usage->s3_gets);
    double s3_stored = nonneg(usage->s3_stored_bytes);
    if (set->s3_standard.present) {
        const price_s3_standard_t *s3 = &set->s3_standard;
        out->s3_storage_usd = s3_stored / COST_BYTES_PER_GB * hours / COST_HOURS_PER_MONTH *
                              s3->storage_usd_per_gb_month.value;
        out->s3_request_usd = s3_puts / 1000 * s3->put_usd_per_thousand.value +
                              s3_gets / 1000 * s3->get_usd_per_thousand.value;
        out->s3_usd = out->s3_storage_usd + out->s3_request_usd;
    } else {
        out->s3_unpriced = s3_puts > 0 || s3_gets > 0 || s3_stored > 0;
    }

    cost_vm_choose(p, usage->peak_bytes_per_s, &out->vm);
    out->vm_usd = out->vm.usd_per_hour * hours;
    out->infinicache_usd = out->lambda_usd + out->s3_usd + out->vm_usd;

    /* ElastiCache on-demand for the pool's capacity: the cheapest engine. */
    out->pool_gib = (double)delta->pool_size * (double)delta->node_memory_mb / 1024.0;
    for (int e = 0; e < PRICE_ENGINES; e++) {
        cost_elasticache_choose(p, out->pool_gib, e, &out->cluster_by_engine[e]);
        out->elasticache_usd_by_engine[e] = out->cluster_by_engine[e].usd_per_hour * hours;
        const cost_cluster_t *c = &out->cluster_by_engine[e];
        if (c->type && (!out->cluster.type || c->usd_per_hour < out->cluster.usd_per_hour)) {
            out->cluster = *c;
            out->elasticache_usd = out->elasticache_usd_by_engine[e];
        }
    }

    /* Serverless and S3 Express One Zone hold the data and serve the same requests and bytes. */
    double gets = nonneg(usage->gets), sets = nonneg(usage->sets);
    double get_bytes = nonneg(usage->get_bytes), set_bytes = nonneg(usage->set_bytes);
    out->data_gib = nonneg(usage->data_bytes) / COST_BYTES_PER_GB;
    for (int e = 0; e < PRICE_ENGINES; e++) {
        const price_serverless_t *sv = &set->serverless[e];
        cost_serverless_t *r = &out->serverless[e];
        if (!sv->present) continue;
        r->present = 1;
        /* At least the minimum is metered; every request takes at least one ECPU, and reads and
         * writes one per KB transferred (exact when each request moves 1 KB or more). */
        r->billed_gb = out->data_gib > sv->minimum_gb.value ? out->data_gib : sv->minimum_gb.value;
        r->gb_hours = r->billed_gb * hours;
        double by_bytes = (get_bytes + set_bytes) / COST_BYTES_PER_ECPU;
        r->ecpus = by_bytes > gets + sets ? by_bytes : gets + sets;
        r->storage_usd = r->gb_hours * sv->data_usd_per_gb_hour.value;
        r->ecpu_usd = r->ecpus / 1e6 * sv->usd_per_million_ecpu.value;
        r->usd = r->storage_usd + r->ecpu_usd;
        r->over_maximum = out->data_gib > sv->maximum_gb.value;
    }
    if (set->s3_express.present) {
        const price_s3_express_t *x = &set->s3_express;
        cost_express_t *r = &out->express;
        r->present = 1;
        r->gb_months = out->data_gib * hours / COST_HOURS_PER_MONTH;
        r->storage_usd = r->gb_months * x->storage_usd_per_gb_month.value;
        r->request_usd = sets / 1000 * x->put_usd_per_thousand.value +
                         gets / 1000 * x->get_usd_per_thousand.value;
        r->transfer_usd = set_bytes / COST_BYTES_PER_GB * x->upload_usd_per_gb.value +
                          get_bytes / COST_BYTES_PER_GB * x->retrieval_usd_per_gb.value;
        r->usd = r->storage_usd + r->request_usd + r->transfer_usd;
    }
}

double cost_per_hour(double usd, double seconds)
{
    return seconds > 0 ? usd * 3600.0 / seconds : 0;
}

double cost_ratio(double ours_usd, double theirs_usd, int *cheaper)
{
    *cheaper = 0;
    if (ours_usd <= 0 || theirs_usd <= 0) return 0;
    if (theirs_usd >= ours_usd) {
        *cheaper = 1;
        return theirs_usd / ours_usd;
    }
    return ours_usd / theirs_usd;
}

/* " X times cheaper" / " X times more expensive" / " (no ratio: ...)" against one alternative. */
static void print_ratio(FILE *out, double ours, double theirs)
{
    int cheaper;
    double x = cost_ratio(ours, theirs, &cheaper);
    if (x > 0)
        fprintf(out, "%.2f times %s", x, cheaper ? "cheaper" : "more expensive");
    else
        fprintf(out, "no ratio ($%.8f against $%.8f)", ours, theirs);
}

static const char *const vm_how_names[] = {"none", "fixed", "chosen", "short"};

void cost_print_comparisons(FILE *out, const cost_prices_t *p, const cost_report_t *r,
                            const cost_usage_t *usage, const char *in)
{
    static const cost_usage_t no_usage;
    if (!usage) usage = &no_usage;
    double hours = r->seconds / 3600.0;
    /* Lambda by architecture: the same GB-seconds and requests at each list price. */
    fprintf(out, "%sLambda by architecture (list prices, the same GB-s and requests):", in);
    for (int a = 0; a < PRICE_ARCHS; a++) {
        if (r->lambda_arch_present[a])
            fprintf(out, " %s $%.8f%s", price_arch_name(a), r->lambda_usd_by_arch[a],
                    a == p->arch ? " (the report's)" : "");
        else
            fprintf(out, " %s not in the price set", price_arch_name(a));
        fprintf(out, a + 1 < PRICE_ARCHS ? ";" : "\n");
    }
    if (r->s3_unpriced)
        fprintf(out,
                "%sS3 backing store: %.0f PUTs, %.0f GETs, not priced (the set has no S3 "
                "Standard prices)\n",
                in, usage->s3_puts, usage->s3_gets);
    else if (usage->s3_puts > 0 || usage->s3_gets > 0 || usage->s3_stored_bytes > 0)
        fprintf(out,
                "%sS3 Standard backing store: %.0f PUTs, %.0f GETs, %.3f GiB held: $%.8f "
                "(requests $%.8f + storage $%.8f)\n",
                in, usage->s3_puts, usage->s3_gets, usage->s3_stored_bytes / COST_BYTES_PER_GB,
                r->s3_usd, r->s3_request_usd, r->s3_storage_usd);
    else
        fprintf(out, "%sS3 backing store: none in this run\n", in);
    const cost_vm_t *vm = &r->vm;
    switch (vm->how) {
    case COST_VM_NONE:
        fprintf(out, "%sproxy VM: none (--proxy-vm none)\n", in);
        break;
    case COST_VM_FIXED:
        fprintf(out, "%sproxy VM %s (--proxy-vm) at $%.4f/h for %.3f s: $%.8f\n", in, vm->type,
                vm->usd_per_hour, r->seconds, r->vm_usd);
        break;
    default:
        fprintf(out,
                "%sproxy VM %s, %s: %.3g Gbit/s sustained (up to %.3g) for a measured peak of "
                "%.3g Gbit/s, at $%.4f/h for %.3f s: $%.8f\n",
                in, vm->type,
                vm->how == COST_VM_CHOSEN ? "the cheapest listed instance that carries the peak"
                                          : "NO listed instance carries the peak; the widest",
                vm->baseline_gbps, vm->burst_gbps, vm->need_gbps, vm->usd_per_hour, r->seconds,
                r->vm_usd);
    }
    fprintf(out, "%sInfiniCache $%.8f (Lambda + S3 + VM), $%.4f per hour at this rate\n", in,
            r->infinicache_usd, cost_per_hour(r->infinicache_usd, r->seconds));
    /* ElastiCache on-demand: each engine's cluster, then the headline against the cheapest. */
    for (int e = 0; e < PRICE_ENGINES; e++) {
        const cost_cluster_t *c = &r->cluster_by_engine[e];
        if (!c->type) continue;
        fprintf(out,
                "%sElastiCache %s on-demand for the pool's %.2f GiB: %d x %s (%.2f GiB, $%.4f/h "
                "each): $%.8f, $%.4f per hour%s\n",
                in, price_engine_title(e), r->pool_gib, c->count, c->type->type,
                c->type->memory_gib, c->type->usd_per_hour.value, r->elasticache_usd_by_engine[e],
                c->usd_per_hour, c->type == r->cluster.type ? " (the cheapest)" : "");
    }
    if (!r->cluster.type) {
        fprintf(out, "%sElastiCache: no node types configured\n", in);
    } else {
        fprintf(out, "%sInfiniCache is ", in);
        print_ratio(out, r->infinicache_usd, r->elasticache_usd);
        fprintf(out, " than ElastiCache (Lambda alone, as the paper compared: ");
        print_ratio(out, r->lambda_usd, r->elasticache_usd);
        fprintf(out, ")\n");
    }
    double ecpu_gets = usage->gets, ecpu_sets = usage->sets;
    for (int e = 0; e < PRICE_ENGINES; e++) {
        const cost_serverless_t *s = &r->serverless[e];
        if (!s->present) continue;
        fprintf(out,
                "%sElastiCache Serverless %s for %.3f GiB held (%.3f GB billed, %.3f GB-h) and "
                "%.0f ECPUs (%.0f GETs, %.0f SETs, 1 per KB): $%.8f (storage $%.8f + ECPUs "
                "$%.8f)%s; InfiniCache is ",
                in, price_engine_title(e), r->data_gib, s->billed_gb, s->gb_hours, s->ecpus,
                ecpu_gets, ecpu_sets, s->usd, s->storage_usd, s->ecpu_usd,
                s->over_maximum ? " [more data than one serverless cache holds]" : "");
        print_ratio(out, r->infinicache_usd, s->usd);
        fprintf(out, "\n");
    }
    if (r->express.present) {
        const cost_express_t *x = &r->express;
        fprintf(out,
                "%sS3 Express One Zone alone for %.3f GiB held, %.0f GETs of %.3f GiB and %.0f "
                "PUTs of %.3f GiB: $%.8f (storage $%.8f + requests $%.8f + transfer $%.8f); "
                "InfiniCache is ",
                in, r->data_gib, usage->gets, usage->get_bytes / COST_BYTES_PER_GB, usage->sets,
                usage->set_bytes / COST_BYTES_PER_GB, x->usd, x->storage_usd, x->request_usd,
                x->transfer_usd);
        print_ratio(out, r->infinicache_usd, x->usd);
        fprintf(out, "\n");
    }
    (void)hours;
}

void cost_print_fields(FILE *out, const cost_prices_t *p, const cost_report_t *r)
{
    fprintf(out, " lambda_arch=%s", price_arch_name(p->arch));
    for (int a = 0; a < PRICE_ARCHS; a++)
        if (r->lambda_arch_present[a])
            fprintf(out, " lambda_%s_usd=%.8f", price_arch_name(a), r->lambda_usd_by_arch[a]);
    fprintf(out, " s3_usd=%.8f s3_requests_usd=%.8f s3_storage_usd=%.8f", r->s3_usd,
            r->s3_request_usd, r->s3_storage_usd);
    fprintf(out, " vm=%s vm_how=%s vm_usd_per_h=%.6f vm_need_gbps=%.6f vm_baseline_gbps=%.3f",
            r->vm.type, vm_how_names[r->vm.how], r->vm.usd_per_hour, r->vm.need_gbps,
            r->vm.baseline_gbps);
    if (r->cluster.type)
        fprintf(out, " elasticache_engine=%s", price_engine_name(r->cluster.type->engine));
    for (int e = 0; e < PRICE_ENGINES; e++) {
        const cost_cluster_t *c = &r->cluster_by_engine[e];
        if (c->type)
            fprintf(out, " elasticache_%s_node=%s elasticache_%s_nodes=%d elasticache_%s_usd=%.8f",
                    price_engine_name(e), c->type->type, price_engine_name(e), c->count,
                    price_engine_name(e), r->elasticache_usd_by_engine[e]);
    }
    fprintf(out, " data_gib=%.6f", r->data_gib);
    for (int e = 0; e < PRICE_ENGINES; e++) {
        const cost_serverless_t *s = &r->serverless[e];
        if (s->present)
            fprintf(out, " serverless_%s_usd=%.8f serverless_%s_ecpus=%.0f serverless_%s_gb_h=%.6f",
                    price_engine_name(e), s->usd, price_engine_name(e), s->ecpus,
                    price_engine_name(e), s->gb_hours);
    }
    if (r->express.present) fprintf(out, " express_usd=%.8f", r->express.usd);
}
