/* cost.c -- icbench's pricing: AWS price sets, icproxy INFO billing counters, the same-capacity
 * ElastiCache cluster and the InfiniCache-vs-ElastiCache comparison. */
#include "cost.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* ElastiCache on-demand node prices, us-east-1, memory-optimized types (Redis OSS engine), AWS
 * list prices written down on 2026-11-24 without network access to re-check them (the paper's
 * node, cache.r5.24xlarge at $10.368/h, is one of them). They are configuration: check them
 * against the pricing page before quoting a result (docs/EVALUATION.md, "Cost report"). */
static const cost_node_type_t nodes_current[] = {
    {"cache.r6g.large", 13.07, 0.206},     {"cache.r6g.xlarge", 26.32, 0.411},
    {"cache.r6g.2xlarge", 52.82, 0.821},   {"cache.r6g.4xlarge", 105.81, 1.642},
    {"cache.r6g.8xlarge", 209.55, 3.284},  {"cache.r6g.12xlarge", 317.77, 4.925},
    {"cache.r6g.16xlarge", 419.09, 6.566}, {"cache.r5.large", 13.07, 0.216},
    {"cache.r5.xlarge", 26.32, 0.431},     {"cache.r5.2xlarge", 52.82, 0.862},
    {"cache.r5.4xlarge", 105.81, 1.724},   {"cache.r5.12xlarge", 317.77, 5.184},
    {"cache.r5.24xlarge", 635.61, 10.368},
};

/* The paper (2020) priced ElastiCache with the r5 family; r6g came later that year. */
static const cost_node_type_t nodes_2020[] = {
    {"cache.r5.large", 13.07, 0.216},     {"cache.r5.xlarge", 26.32, 0.431},
    {"cache.r5.2xlarge", 52.82, 0.862},   {"cache.r5.4xlarge", 105.81, 1.724},
    {"cache.r5.12xlarge", 317.77, 5.184}, {"cache.r5.24xlarge", 635.61, 10.368},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Lambda x86 on-demand, us-east-1, first tier: the GB-second and request prices have not changed
 * since 2020; what changed (2020-12-01) is the rounding, 1 ms instead of 100 ms, which is the
 * platform's --billing and is reported from INFO, not assumed here. */
static const cost_prices_t prices_current = {
    .name = "current",
    .as_of = "2026-11-24",
    .usd_per_gb_second = 0.0000166667,
    .usd_per_million_requests = 0.20,
    .vm_type = "c5n.xlarge",
    .vm_usd_per_hour = 0.216,
    .nodes = nodes_current,
    .nnodes = COUNT(nodes_current),
};

static const cost_prices_t prices_2020 = {
    .name = "2020",
    .as_of = "2020 (the paper)",
    .usd_per_gb_second = 0.0000166667,
    .usd_per_million_requests = 0.20,
    .vm_type = "c5n.xlarge",
    .vm_usd_per_hour = 0.216,
    .nodes = nodes_2020,
    .nnodes = COUNT(nodes_2020),
};

const cost_prices_t *cost_prices_named(const char *name)
{
    if (!name) return NULL;
    if (!strcmp(name, "current")) return &prices_current;
    if (!strcmp(name, "2020")) return &prices_2020;
    return NULL;
}

static int parse_price(const char *name, const char *s, double *out, char *err, size_t errlen)
{
    if (conf_parse_decimal(s, 0, 1e6, out) < 0) {
        snprintf(err, errlen, "option %s: '%s' is not a price in USD (0 to 1e6)", name, s);
        return -1;
    }
    return 0;
}

int cost_prices_configure(cost_prices_t *out, const char *set_name, const char *gb_s,
                          const char *per_million, const char *vm, char *err, size_t errlen)
{
    const cost_prices_t *set = cost_prices_named(set_name);
    if (!set) {
        snprintf(err, errlen, "option prices: '%s' is not current or 2020", set_name);
        return -1;
    }
    *out = *set;
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
/* The ElastiCache choice counts nodes in an int; a pool needing more is capped (and absurd). */
#define CLUSTER_NODES_MAX 1000000

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

/* Applies one "name:value" line to out. */
static void apply_line(const char *name, size_t nlen, const char *val, size_t vlen,
                       cost_counters_t *out)
{
    double v;
    /* Every figure is a count or an amount: negative or absurd values are not from an icproxy,
     * and keeping them bounded keeps the integer conversions below defined. */
    if (parse_number(val, vlen, &v) < 0 || !(v >= 0 && v <= INFO_VALUE_MAX)) return;
#define IS(lit) (nlen == sizeof(lit) - 1 && !memcmp(name, lit, nlen))
    if (IS("pool_size")) {
        out->has_pool = 1;
        out->pool_size = (int64_t)v;
    } else if (IS("node_memory_mb")) {
        out->node_memory_mb = (int64_t)v;
    } else if (IS("capacity_bytes")) {
        out->capacity_bytes = (uint64_t)v;
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
        apply_line(line, nlen, colon + 1, llen - nlen - 1, out);
    }
    return out->has_pool ? 0 : -1;
}

void cost_counters_diff(const cost_counters_t *after, const cost_counters_t *before,
                        cost_counters_t *out)
{
    *out = *after;
    out->requests = after->requests - before->requests;
    out->gb_seconds = after->gb_seconds - before->gb_seconds;
    for (int k = 0; k < COST_KINDS; k++) {
        out->requests_by_kind[k] = after->requests_by_kind[k] - before->requests_by_kind[k];
        out->gb_seconds_by_kind[k] = after->gb_seconds_by_kind[k] - before->gb_seconds_by_kind[k];
    }
}

void cost_elasticache_choose(const cost_prices_t *p, double need_gib, cost_cluster_t *out)
{
    memset(out, 0, sizeof *out);
    if (!(need_gib >= 0)) need_gib = 0; /* NaN or negative */
    const cost_node_type_t *best = NULL, *largest = NULL;
    for (size_t i = 0; i < p->nnodes; i++) {
        const cost_node_type_t *t = &p->nodes[i];
        if (!largest || t->memory_gib > largest->memory_gib ||
            (t->memory_gib == largest->memory_gib && t->usd_per_hour < largest->usd_per_hour))
            largest = t;
        if (t->memory_gib < need_gib) continue;
        if (!best || t->usd_per_hour < best->usd_per_hour ||
            (t->usd_per_hour == best->usd_per_hour && t->memory_gib < best->memory_gib))
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
    out->usd_per_hour = out->count * out->type->usd_per_hour;
}

void cost_compute(const cost_prices_t *p, const cost_counters_t *delta, double seconds,
                  cost_report_t *out)
{
    memset(out, 0, sizeof *out);
    out->seconds = seconds;
    for (int k = 0; k < COST_KINDS; k++) {
        out->gb_second_usd[k] = delta->gb_seconds_by_kind[k] * p->usd_per_gb_second;
        out->request_usd[k] = delta->requests_by_kind[k] * p->usd_per_million_requests / 1e6;
        out->lambda_usd += out->gb_second_usd[k] + out->request_usd[k];
    }
    out->vm_usd = p->vm_usd_per_hour * seconds / 3600.0;
    out->infinicache_usd = out->lambda_usd + out->vm_usd;
    out->pool_gib = (double)delta->pool_size * (double)delta->node_memory_mb / 1024.0;
    cost_elasticache_choose(p, out->pool_gib, &out->cluster);
    out->elasticache_usd = out->cluster.usd_per_hour * seconds / 3600.0;
}

double cost_per_hour(double usd, double seconds)
{
    return seconds > 0 ? usd * 3600.0 / seconds : 0;
}

double cost_ratio(double infinicache_usd, double elasticache_usd, int *cheaper)
{
    *cheaper = 0;
    if (infinicache_usd <= 0 || elasticache_usd <= 0) return 0;
    if (elasticache_usd >= infinicache_usd) {
        *cheaper = 1;
        return elasticache_usd / infinicache_usd;
    }
    return infinicache_usd / elasticache_usd;
}
