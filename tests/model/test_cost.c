/* test_cost.c -- the cost model: INFO parsing, differences, usage from INFO samples, the
 * ElastiCache node choice, the VM choice by bandwidth, and every formula (Lambda by kind and
 * architecture, S3 Standard, ElastiCache Serverless, S3 Express One Zone) against dollars computed
 * by hand on a small hand-made price set; the shipped 2020 set against the paper's figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cost.h"

#define NEAR(a, b) assert_true(fabs_((a) - (b)) <= 1e-9 * (1 + fabs_(b)))

static double fabs_(double x)
{
    return x < 0 ? -x : x;
}

static const char info_text[] =
    "# Server\r\nredis_version:7.0.0\r\n\r\n"
    "# Pool\r\npool_size:14\r\nfunction_prefix:ic-node-\r\nnode_memory_mb:256\r\n"
    "nodes_awake:2\r\nnodes_asleep:12\r\nnodes_invoking:1\r\nnodes_down:0\r\n"
    "capacity_bytes:3288334336\r\nplaced_bytes:0\r\nec_d:10\r\nec_p:2\r\n"
    "platform_requests:30\r\nplatform_billed_ms:12345\r\nplatform_gb_seconds:3.086250\r\n"
    "platform_cold_starts:14\r\nplatform_instances:14\r\nplatform_timeouts:0\r\n"
    "platform_billing_ms:100\r\nplatform_memory_mb:256\r\n"
    "platform_requests_activate:20\r\nplatform_requests_warmup:6\r\n"
    "platform_requests_backup:3\r\nplatform_requests_other:1\r\n"
    "platform_gb_seconds_activate:2.5\r\nplatform_gb_seconds_warmup:0.25\r\n"
    "platform_gb_seconds_backup:0.3\r\nplatform_gb_seconds_other:0.03625\r\n\r\n"
    "# Stats\r\ntotal_net_input_bytes:123456\r\ntotal_net_output_bytes:654321\r\n";

static void test_parse(void **state)
{
    (void)state;
    cost_counters_t c;
    assert_int_equal(cost_counters_parse(info_text, strlen(info_text), &c), 0);
    assert_true(c.has_pool && c.has_platform);
    assert_int_equal(c.pool_size, 14);
    assert_int_equal(c.node_memory_mb, 256);
    assert_int_equal(c.capacity_bytes, 3288334336u);
    assert_int_equal(c.billing_ms, 100);
    assert_int_equal(c.nodes_awake, 2);
    assert_int_equal(c.nodes_invoking, 1);
    NEAR(c.requests, 30);
    NEAR(c.gb_seconds, 3.08625);
    NEAR(c.requests_by_kind[COST_SERVING], 20);
    NEAR(c.requests_by_kind[COST_WARMUP], 6);
    NEAR(c.requests_by_kind[COST_BACKUP], 3);
    NEAR(c.requests_by_kind[COST_OTHER], 1);
    NEAR(c.gb_seconds_by_kind[COST_SERVING], 2.5);
    NEAR(c.gb_seconds_by_kind[COST_OTHER], 0.03625);
    assert_int_equal(c.placed_bytes, 0);
    assert_int_equal(c.ec_d, 10);
    assert_int_equal(c.ec_p, 2);
    NEAR(c.net_in_bytes, 123456);
    NEAR(c.net_out_bytes, 654321);

    /* LF endings, garbage values and overlong lines are skipped, not fatal. */
    char buf[1024];
    char longline[400];
    memset(longline, 'x', sizeof longline - 1);
    longline[sizeof longline - 1] = 0;
    snprintf(buf, sizeof buf,
             "pool_size:3\nnode_memory_mb:abc\nplatform_requests:%s\n%s:1\n"
             "capacity_bytes:-5\nnodes_awake:1e300\nplatform_gb_seconds:nan\n",
             "1e999", longline);
    assert_int_equal(cost_counters_parse(buf, strlen(buf), &c), 0);
    assert_int_equal(c.pool_size, 3);
    assert_int_equal(c.node_memory_mb, 0);
    assert_int_equal(c.capacity_bytes, 0);
    assert_int_equal(c.nodes_awake, 0);
    assert_false(c.has_platform);

    /* redis-server's INFO has no pool: not an icproxy. */
    const char *redis = "# Server\r\nredis_version:7.0.15\r\n# Memory\r\nused_memory:1000\r\n";
    assert_int_equal(cost_counters_parse(redis, strlen(redis), &c), -1);
    assert_int_equal(cost_counters_parse("", 0, &c), -1);
}

/* A billing section (the nodes' records on AWS Lambda, or the platform's) replaces the
 * platform_* lines, and names its source; a source that is neither is not taken. */
static void test_parse_billing_section(void **state)
{
    (void)state;
    char buf[4096];
    snprintf(buf, sizeof buf,
             "%s\r\n# Billing\r\nbilling_source:nodes\r\nbilling_unit_ms:1\r\n"
             "billing_requests:7\r\nbilling_billed_ms:900\r\nbilling_gb_seconds:0.225\r\n"
             "billing_requests_activate:4\r\nbilling_gb_seconds_activate:0.2\r\n"
             "billing_requests_warmup:3\r\nbilling_gb_seconds_warmup:0.025\r\n"
             "billing_requests_backup:0\r\nbilling_gb_seconds_backup:0\r\n"
             "billing_requests_other:0\r\nbilling_gb_seconds_other:0\r\n"
             "node_billing_records:7\r\n",
             info_text);
    cost_counters_t c;
    assert_int_equal(cost_counters_parse(buf, strlen(buf), &c), 0);
    assert_true(c.has_platform);
    assert_string_equal(c.billing_source, "nodes");
    assert_int_equal(c.billing_ms, 1);
    NEAR(c.requests, 7);
    NEAR(c.gb_seconds, 0.225);
    NEAR(c.requests_by_kind[COST_SERVING], 4);
    NEAR(c.gb_seconds_by_kind[COST_WARMUP], 0.025);
    NEAR(c.requests_by_kind[COST_BACKUP], 0);

    /* Without platform_* lines (AWS Lambda) the section alone gives the figures. */
    const char aws[] = "pool_size:4\r\nbilling_source:nodes\r\nbilling_requests:2\r\n"
                       "billing_gb_seconds_activate:0.5\r\n";
    assert_int_equal(cost_counters_parse(aws, strlen(aws), &c), 0);
    assert_true(c.has_platform);
    NEAR(c.requests, 2);
    NEAR(c.gb_seconds_by_kind[COST_SERVING], 0.5);

    /* An unknown source word: the section is not taken; the older lines are. */
    snprintf(buf, sizeof buf, "%sbilling_source:guess\r\nbilling_requests:99\r\n", info_text);
    assert_int_equal(cost_counters_parse(buf, strlen(buf), &c), 0);
    assert_string_equal(c.billing_source, "");
    NEAR(c.requests, 30);
}

static void test_diff(void **state)
{
    (void)state;
    cost_counters_t before, after, d;
    assert_int_equal(cost_counters_parse(info_text, strlen(info_text), &after), 0);
    memset(&before, 0, sizeof before);
    before.requests = 10;
    before.gb_seconds = 1;
    before.requests_by_kind[COST_SERVING] = 8;
    before.gb_seconds_by_kind[COST_SERVING] = 0.5;
    before.net_in_bytes = 23456;
    cost_counters_diff(&after, &before, &d);
    NEAR(d.net_in_bytes, 100000);
    NEAR(d.net_out_bytes, 654321);
    NEAR(d.requests, 20);
    NEAR(d.gb_seconds, 2.08625);
    NEAR(d.requests_by_kind[COST_SERVING], 12);
    NEAR(d.gb_seconds_by_kind[COST_SERVING], 2.0);
    NEAR(d.requests_by_kind[COST_WARMUP], 6);
    assert_int_equal(d.pool_size, 14);
}

/* ---- a hand-made price set: round numbers, so the dollars below can be checked by hand ---- */

static price_t P(double v)
{
    price_t p = {.value = v, .recorded = "2026-12-05", .checked = PRICE_CHECKED_KNOWLEDGE};
    return p;
}

static void add_node(price_set_t *s, const char *type, int engine, double gib, double usd)
{
    price_node_t *n = &s->nodes[s->nnodes++];
    snprintf(n->type, sizeof n->type, "%s", type);
    n->engine = engine;
    n->memory_gib = gib;
    n->usd_per_hour = P(usd);
}

static void add_instance(price_set_t *s, const char *type, double base, double burst, double usd)
{
    price_instance_t *n = &s->instances[s->ninstances++];
    snprintf(n->type, sizeof n->type, "%s", type);
    n->arch = PRICE_ARCH_ARM64;
    n->baseline_gbps = base;
    n->burst_gbps = burst;
    n->usd_per_hour = P(usd);
}

static price_set_t hand_set;

static const cost_prices_t *hand(int arch)
{
    static cost_prices_t p;
    price_set_t *s = &hand_set;
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "hand");
    snprintf(s->recorded, sizeof s->recorded, "2026-12-05");
    s->lambda_billing_ms = P(1);
    s->lambda[PRICE_ARCH_X86_64] = (price_lambda_t){1, P(0.00001), P(0.2)};
    s->lambda[PRICE_ARCH_ARM64] = (price_lambda_t){1, P(0.000008), P(0.2)};
    s->s3_standard = (price_s3_standard_t){1, P(0.023), P(0.005), P(0.0004)};
    s->s3_express = (price_s3_express_t){1, P(0.11), P(0.00113), P(0.00003), P(0.0032), P(0.0006)};
    s->serverless[PRICE_ENGINE_REDIS] = (price_serverless_t){1, P(0.125), P(0.0034), P(1), P(5000)};
    s->serverless[PRICE_ENGINE_VALKEY] =
        (price_serverless_t){1, P(0.084), P(0.0023), P(0.1), P(5000)};
    add_node(s, "a", PRICE_ENGINE_REDIS, 10, 0.2);
    add_node(s, "b", PRICE_ENGINE_REDIS, 100, 1.5);
    add_node(s, "va", PRICE_ENGINE_VALKEY, 10, 0.16);
    add_node(s, "vc", PRICE_ENGINE_VALKEY, 50, 0.9);
    add_instance(s, "small", 1, 10, 0.05);
    add_instance(s, "mid", 5, 25, 0.2);
    add_instance(s, "big", 25, 25, 0.8);
    add_instance(s, "cheapbig", 25, 25, 0.7);
    cost_prices_from_set(&p, s, arch);
    return &p;
}

static cost_prices_t shipped[2]; /* "current", "2020" */

static const cost_prices_t *named(const char *name)
{
    int i = !strcmp(name, "2020");
    if (!shipped[i].name[0]) {
        char err[512];
        if (cost_prices_configure(&shipped[i], name, "", "", "", "", err, sizeof err))
            fail_msg("%s", err);
    }
    return &shipped[i];
}

static void test_usage_from_samples(void **state)
{
    (void)state;
    cost_sample_t s[3];
    memset(s, 0, sizeof s);
    double t[3] = {0, 1, 3}, in[3] = {0, 1000, 5000}, out[3] = {0, 3000, 4000};
    uint64_t placed[3] = {0, 1200, 1200};
    for (int i = 0; i < 3; i++) {
        s[i].t_s = t[i];
        s[i].c.net_in_bytes = in[i];
        s[i].c.net_out_bytes = out[i];
        s[i].c.placed_bytes = placed[i];
        s[i].c.ec_d = 10;
        s[i].c.ec_p = 2;
    }
    cost_usage_t u = {.gets = 7};
    cost_usage_from_samples(s, 3, &u);
    /* 3000 B out in the first second; 4000 B in over the next two: 2000 B/s. */
    NEAR(u.peak_bytes_per_s, 3000);
    /* data = placed x 10/12: 0, 1000, 1000; trapezoids 500 + 2000 over 3 s */
    NEAR(u.data_bytes, 2500.0 / 3);
    NEAR(u.gets, 7); /* left alone */
    cost_usage_t none = {0};
    cost_usage_from_samples(s, 1, &none);
    NEAR(none.peak_bytes_per_s, 0);
}

static void test_choose(void **state)
{
    (void)state;
    const cost_prices_t *h = hand(PRICE_ARCH_X86_64);
    cost_cluster_t c;
    /* The cheapest single node holding the need, per engine and of any engine. */
    cost_elasticache_choose(h, 5, PRICE_ENGINE_REDIS, &c);
    assert_string_equal(c.type->type, "a");
    NEAR(c.usd_per_hour, 0.2);
    cost_elasticache_choose(h, 5, -1, &c);
    assert_string_equal(c.type->type, "va");
    cost_elasticache_choose(h, 10, -1, &c); /* exactly its memory fits */
    assert_string_equal(c.type->type, "va");
    cost_elasticache_choose(h, 10.01, PRICE_ENGINE_VALKEY, &c);
    assert_string_equal(c.type->type, "vc");
    /* Larger than any node of the engine: several of its largest. */
    cost_elasticache_choose(h, 120, PRICE_ENGINE_VALKEY, &c);
    assert_string_equal(c.type->type, "vc");
    assert_int_equal(c.count, 3);
    NEAR(c.usd_per_hour, 2.7);
    cost_elasticache_choose(h, 1e15, PRICE_ENGINE_REDIS, &c);
    assert_int_equal(c.count, 1000000);
    cost_elasticache_choose(h, 0.0 / 0.0, PRICE_ENGINE_REDIS, &c);
    assert_string_equal(c.type->type, "a");
    cost_prices_t empty = *h;
    empty.set.nnodes = 0;
    cost_elasticache_choose(&empty, 1, -1, &c);
    assert_int_equal(c.count, 0);
    assert_null(c.type);

    /* The shipped sets: the paper's 600 GiB on one cache.r5.24xlarge in both. */
    const cost_prices_t *old = named("2020"), *cur = named("current");
    cost_elasticache_choose(old, 600, -1, &c);
    assert_string_equal(c.type->type, "cache.r5.24xlarge");
    NEAR(c.usd_per_hour, 10.368);
    cost_elasticache_choose(cur, 600, -1, &c);
    assert_string_equal(c.type->type, "cache.r5.24xlarge");
    cost_elasticache_choose(old, 1500, -1, &c);
    assert_int_equal(c.count, 3);
    NEAR(c.usd_per_hour, 3 * 10.368);
    cost_elasticache_choose(old, 3.5, -1, &c);
    assert_string_equal(c.type->type, "cache.r5.large");
    /* Today a small pool fits a burstable or general-purpose node; Valkey is 20% below. */
    cost_elasticache_choose(cur, 2, -1, &c);
    assert_string_equal(c.type->type, "cache.t4g.medium");
    assert_int_equal(c.type->engine, PRICE_ENGINE_VALKEY);
    NEAR(c.usd_per_hour, 0.052);
    cost_elasticache_choose(cur, 3.5, PRICE_ENGINE_REDIS, &c);
    assert_string_equal(c.type->type, "cache.m6g.large");
    NEAR(c.usd_per_hour, 0.149);
    cost_elasticache_choose(cur, 300, PRICE_ENGINE_REDIS, &c);
    assert_string_equal(c.type->type, "cache.r6g.12xlarge");
}

static void test_vm(void **state)
{
    (void)state;
    const cost_prices_t *h = hand(PRICE_ARCH_X86_64);
    cost_vm_t vm;
    cost_vm_choose(h, 0, &vm); /* nothing measured: the cheapest */
    assert_int_equal(vm.how, COST_VM_CHOSEN);
    assert_string_equal(vm.type, "small");
    cost_vm_choose(h, 0.5e9, &vm); /* 4 Gbit/s: above small's 1 sustained, within its burst */
    assert_string_equal(vm.type, "mid");
    NEAR(vm.need_gbps, 4);
    NEAR(vm.baseline_gbps, 5);
    NEAR(vm.burst_gbps, 25);
    cost_vm_choose(h, 5e9 / 8, &vm); /* exactly mid's baseline */
    assert_string_equal(vm.type, "mid");
    cost_vm_choose(h, 2e9, &vm); /* 16 Gbit/s: the cheaper of two equal ones */
    assert_string_equal(vm.type, "cheapbig");
    NEAR(vm.usd_per_hour, 0.7);
    cost_vm_choose(h, 30e9 / 8, &vm); /* none carries 30: the widest, flagged */
    assert_int_equal(vm.how, COST_VM_SHORT);
    assert_string_equal(vm.type, "cheapbig");
    cost_prices_t p = *h;
    snprintf(p.vm_type, sizeof p.vm_type, "c5n.9xlarge");
    p.vm_usd_per_hour = 1.944;
    cost_vm_choose(&p, 30e9 / 8, &vm);
    assert_int_equal(vm.how, COST_VM_FIXED);
    assert_string_equal(vm.type, "c5n.9xlarge");
    NEAR(vm.usd_per_hour, 1.944);
    snprintf(p.vm_type, sizeof p.vm_type, "none");
    cost_vm_choose(&p, 1e9, &vm);
    assert_int_equal(vm.how, COST_VM_NONE);
    NEAR(vm.usd_per_hour, 0);
    /* The shipped current set: a quiet proxy on the cheapest instance, 10 Gbit/s on a c7gn. */
    cost_vm_choose(named("current"), 0, &vm);
    assert_string_equal(vm.type, "m7g.medium");
    cost_vm_choose(named("current"), 10e9 / 8, &vm);
    assert_string_equal(vm.type, "c7gn.xlarge");
    NEAR(vm.usd_per_hour, 0.2496);
}

/* The example of docs/EVALUATION.md's formulas, by hand: two hours, 20 GiB of pool, 5 GiB held. */
static void window(cost_counters_t *d, cost_usage_t *u)
{
    memset(d, 0, sizeof *d);
    d->pool_size = 10;
    d->node_memory_mb = 2048;
    d->gb_seconds_by_kind[COST_SERVING] = 1000;
    d->gb_seconds_by_kind[COST_WARMUP] = 100;
    d->gb_seconds_by_kind[COST_BACKUP] = 400;
    d->requests_by_kind[COST_SERVING] = 100000;
    d->requests_by_kind[COST_WARMUP] = 20000;
    d->requests_by_kind[COST_BACKUP] = 5000;
    memset(u, 0, sizeof *u);
    u->gets = 1e6;
    u->sets = 1e5;
    u->get_bytes = 1e6 * 1048576.0;
    u->set_bytes = 1e5 * 1048576.0;
    u->data_bytes = 5 * COST_BYTES_PER_GB;
    u->peak_bytes_per_s = 0.5e9;
    u->s3_puts = 1e5;
    u->s3_gets = 2e5;
    u->s3_stored_bytes = 73 * COST_BYTES_PER_GB;
}

static void test_compute(void **state)
{
    (void)state;
    cost_counters_t d;
    cost_usage_t u;
    window(&d, &u);
    cost_report_t r;
    cost_compute(hand(PRICE_ARCH_X86_64), &d, &u, 7200, &r);
    /* Lambda, x86_64: 1500 GB-s x 0.00001 + 125,000 requests x 0.2 / 1e6 */
    NEAR(r.gb_second_usd[COST_SERVING], 0.01);
    NEAR(r.request_usd[COST_SERVING], 0.02);
    NEAR(r.gb_second_usd[COST_WARMUP], 0.001);
    NEAR(r.request_usd[COST_WARMUP], 0.004);
    NEAR(r.gb_second_usd[COST_BACKUP], 0.004);
    NEAR(r.request_usd[COST_BACKUP], 0.001);
    NEAR(r.lambda_usd, 0.04);
    assert_true(r.lambda_arch_present[PRICE_ARCH_ARM64]);
    NEAR(r.lambda_usd_by_arch[PRICE_ARCH_X86_64], 0.04);
    NEAR(r.lambda_usd_by_arch[PRICE_ARCH_ARM64], 1500 * 0.000008 + 0.025);
    /* S3 Standard: 73 GiB x 2/730 months x 0.023 + 100 x 0.005 + 200 x 0.0004 */
    NEAR(r.s3_storage_usd, 0.0046);
    NEAR(r.s3_request_usd, 0.58);
    NEAR(r.s3_usd, 0.5846);
    assert_false(r.s3_unpriced);
    /* VM: 4 Gbit/s needs mid, $0.2/h for 2 h */
    assert_string_equal(r.vm.type, "mid");
    NEAR(r.vm_usd, 0.4);
    NEAR(r.infinicache_usd, 0.04 + 0.5846 + 0.4);
    /* ElastiCache on-demand for 20 GiB: Redis b ($1.5/h), Valkey vc ($0.9/h): Valkey */
    NEAR(r.pool_gib, 20);
    assert_string_equal(r.cluster_by_engine[PRICE_ENGINE_REDIS].type->type, "b");
    NEAR(r.elasticache_usd_by_engine[PRICE_ENGINE_REDIS], 3.0);
    assert_string_equal(r.cluster.type->type, "vc");
    NEAR(r.elasticache_usd, 1.8);
    /* Serverless: 5 GiB x 2 h; ECPUs = (1e6 + 1e5) MiB / 1 KiB = 1,126,400,000 */
    NEAR(r.data_gib, 5);
    const cost_serverless_t *sr = &r.serverless[PRICE_ENGINE_REDIS];
    NEAR(sr->billed_gb, 5);
    NEAR(sr->gb_hours, 10);
    NEAR(sr->ecpus, 1126400000);
    NEAR(sr->storage_usd, 1.25);
    NEAR(sr->ecpu_usd, 3.82976);
    NEAR(sr->usd, 1.25 + 3.82976);
    assert_false(sr->over_maximum);
    const cost_serverless_t *sv = &r.serverless[PRICE_ENGINE_VALKEY];
    NEAR(sv->usd, 0.84 + 2.59072);
    /* S3 Express One Zone: 5 GiB x 2/730 months x 0.11; 100 x 0.00113 + 1000 x 0.00003;
     * 97.65625 GiB up x 0.0032 + 976.5625 GiB down x 0.0006 */
    NEAR(r.express.gb_months, 10.0 / 730);
    NEAR(r.express.storage_usd, 1.1 / 730);
    NEAR(r.express.request_usd, 0.143);
    NEAR(r.express.transfer_usd, 0.3125 + 0.5859375);
    NEAR(r.express.usd, 1.1 / 730 + 0.143 + 0.8984375);

    /* arm64 as the headline: the kinds at arm64's GB-s price. */
    cost_compute(hand(PRICE_ARCH_ARM64), &d, &u, 7200, &r);
    NEAR(r.gb_second_usd[COST_SERVING], 0.008);
    NEAR(r.lambda_usd, 0.037);

    /* Minimums: a tiny cache is metered at 1 GB (Redis OSS) or 0.1 GB (Valkey), and a request
     * takes at least one ECPU. Over the maximum is flagged. */
    memset(&u, 0, sizeof u);
    u.data_bytes = 0.01 * COST_BYTES_PER_GB;
    u.gets = 1000;
    u.get_bytes = 100000;
    cost_compute(hand(PRICE_ARCH_X86_64), &d, &u, 3600, &r);
    NEAR(r.serverless[PRICE_ENGINE_REDIS].billed_gb, 1);
    NEAR(r.serverless[PRICE_ENGINE_VALKEY].billed_gb, 0.1);
    NEAR(r.serverless[PRICE_ENGINE_REDIS].ecpus, 1000);
    NEAR(r.serverless[PRICE_ENGINE_REDIS].usd, 0.125 + 0.0000034);
    NEAR(r.s3_usd, 0);
    u.data_bytes = 6000 * COST_BYTES_PER_GB;
    cost_compute(hand(PRICE_ARCH_X86_64), &d, &u, 3600, &r);
    assert_true(r.serverless[PRICE_ENGINE_REDIS].over_maximum);

    /* A set without the sections: nothing priced, S3 use flagged. */
    cost_prices_t bare = *hand(PRICE_ARCH_X86_64);
    bare.set.s3_standard.present = bare.set.s3_express.present = 0;
    bare.set.serverless[0].present = bare.set.serverless[1].present = 0;
    bare.set.lambda[PRICE_ARCH_ARM64].present = 0;
    window(&d, &u);
    cost_compute(&bare, &d, &u, 7200, &r);
    assert_true(r.s3_unpriced);
    NEAR(r.s3_usd, 0);
    assert_false(r.express.present || r.serverless[0].present || r.lambda_arch_present[1]);
    NEAR(r.infinicache_usd, 0.04 + 0.4);
    /* No usage at all: defined, and the cheapest VM. */
    cost_compute(&bare, &d, NULL, 7200, &r);
    assert_string_equal(r.vm.type, "small");

    /* The paper's 50 hours at the 2020 prices: ElastiCache $518.40, Lambda as billed. */
    memset(&d, 0, sizeof d);
    d.pool_size = 400;
    d.node_memory_mb = 1536;
    d.gb_seconds_by_kind[COST_BACKUP] = 3000;
    d.requests_by_kind[COST_SERVING] = 2000000;
    cost_compute(named("2020"), &d, NULL, 50 * 3600.0, &r);
    NEAR(r.pool_gib, 600);
    assert_string_equal(r.cluster.type->type, "cache.r5.24xlarge");
    NEAR(r.elasticache_usd, 518.4);
    NEAR(r.lambda_usd, 3000 * 0.0000166667 + 0.4);
    assert_false(r.serverless[0].present || r.express.present);

    NEAR(cost_per_hour(0.5, 60), 30);
    NEAR(cost_per_hour(1, 0), 0);
}

static void test_print(void **state)
{
    (void)state;
    cost_counters_t d;
    cost_usage_t u;
    window(&d, &u);
    cost_report_t r;
    const cost_prices_t *h = hand(PRICE_ARCH_X86_64);
    cost_compute(h, &d, &u, 7200, &r);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cost_print_comparisons(f, h, &r, &u, "  ");
    fprintf(f, "\nFIELDS");
    cost_print_fields(f, h, &r);
    fclose(f);
    const char *want[] = {
        "  Lambda by architecture (list prices, the same GB-s and requests): x86_64 $0.04000000 "
        "(the report's); arm64 $0.03700000\n",
        "  S3 Standard backing store: 100000 PUTs, 200000 GETs, 73.000 GiB held: $0.58460000",
        "  proxy VM mid, the cheapest listed instance that carries the peak: 5 Gbit/s sustained "
        "(up to 25) for a measured peak of 4 Gbit/s",
        "  InfiniCache $1.02460000 (Lambda + S3 + VM)",
        "  ElastiCache Valkey on-demand for the pool's 20.00 GiB: 1 x vc (50.00 GiB, $0.9000/h "
        "each): $1.80000000, $0.9000 per hour (the cheapest)",
        "  InfiniCache is 1.76 times cheaper than ElastiCache (Lambda alone, as the paper "
        "compared: 45.00 times cheaper)\n",
        "  ElastiCache Serverless Valkey for 5.000 GiB held",
        "InfiniCache is 3.35 times cheaper\n",
        "  S3 Express One Zone alone for 5.000 GiB held, 1000000 GETs of 976.562 GiB and 100000 "
        "PUTs of 97.656 GiB: $1.04294435",
        " lambda_arch=x86_64 lambda_x86_64_usd=0.04000000 lambda_arm64_usd=0.03700000 "
        "s3_usd=0.58460000",
        " vm=mid vm_how=chosen",
        " elasticache_engine=valkey elasticache_redis_node=b",
        " serverless_redis_usd=5.07976000 serverless_redis_ecpus=1126400000",
        " express_usd=1.04294435"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(text, want[i])) fail_msg("missing '%s' in:\n%s", want[i], text);
    free(text);
}

static void test_ratio(void **state)
{
    (void)state;
    int cheaper;
    /* The paper: $518.4 against $16.51 is 31.4x cheaper. */
    NEAR(cost_ratio(16.51, 518.4, &cheaper), 518.4 / 16.51);
    assert_int_equal(cheaper, 1);
    NEAR(cost_ratio(2, 1, &cheaper), 2);
    assert_int_equal(cheaper, 0);
    NEAR(cost_ratio(1, 1, &cheaper), 1);
    assert_int_equal(cheaper, 1);
    NEAR(cost_ratio(0, 1, &cheaper), 0);
    assert_int_equal(cheaper, 0);
    assert_string_equal(cost_kind_name(COST_SERVING), "serving");
    assert_string_equal(cost_kind_info_name(COST_SERVING), "activate");
    assert_string_equal(cost_kind_name(COST_KINDS), "?");
}

static void test_configure(void **state)
{
    (void)state;
    cost_prices_t p;
    char err[512];
    assert_int_equal(cost_prices_configure(&p, "current", "", "", "", "", err, sizeof err), 0);
    assert_string_equal(p.name, "current");
    assert_int_equal(p.arch, PRICE_ARCH_X86_64);
    NEAR(p.usd_per_gb_second, 0.0000166667);
    NEAR(p.usd_per_million_requests, 0.20);
    assert_string_equal(p.vm_type, ""); /* chosen by bandwidth */
    assert_int_equal(cost_prices_configure(&p, "current", "arm64", "", "", "", err, sizeof err), 0);
    assert_int_equal(p.arch, PRICE_ARCH_ARM64);
    NEAR(p.usd_per_gb_second, 0.0000133334);
    assert_int_equal(cost_prices_configure(&p, "2020", "x86_64", "0.00002", "0.25",
                                           "c5n.4xlarge:0.864", err, sizeof err),
                     0);
    assert_string_equal(p.name, "2020");
    assert_string_equal(p.as_of, "2020-02-25");
    NEAR(p.usd_per_gb_second, 0.00002);
    NEAR(p.usd_per_million_requests, 0.25);
    assert_string_equal(p.vm_type, "c5n.4xlarge");
    NEAR(p.vm_usd_per_hour, 0.864);
    assert_int_equal(cost_prices_configure(&p, "current", "", "", "", "none", err, sizeof err), 0);
    assert_string_equal(p.vm_type, "none");

    assert_int_equal(cost_prices_configure(&p, "2021", "", "", "", "", err, sizeof err), -1);
    assert_non_null(strstr(err, "prices: no set '2021'"));
    assert_int_equal(cost_prices_configure(&p, "2020", "arm64", "", "", "", err, sizeof err), -1);
    assert_non_null(strstr(err, "lambda-arch: the price set '2020' has no arm64"));
    assert_int_equal(cost_prices_configure(&p, "current", "ppc", "", "", "", err, sizeof err), -1);
    assert_non_null(strstr(err, "lambda-arch"));
    assert_int_equal(cost_prices_configure(&p, "current", "", "-1", "", "", err, sizeof err), -1);
    assert_non_null(strstr(err, "price-gb-s"));
    assert_int_equal(cost_prices_configure(&p, "current", "", "", "x", "", err, sizeof err), -1);
    assert_non_null(strstr(err, "price-requests"));
    assert_int_equal(cost_prices_configure(&p, "current", "", "", "", "c5n", err, sizeof err), -1);
    assert_int_equal(cost_prices_configure(&p, "current", "", "", "", ":1", err, sizeof err), -1);
    assert_int_equal(cost_prices_configure(&p, "current", "", "", "", "vm:abc", err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "proxy-vm"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),   cmocka_unit_test(test_parse_billing_section),
        cmocka_unit_test(test_diff),    cmocka_unit_test(test_usage_from_samples),
        cmocka_unit_test(test_choose),  cmocka_unit_test(test_vm),
        cmocka_unit_test(test_compute), cmocka_unit_test(test_print),
        cmocka_unit_test(test_ratio),   cmocka_unit_test(test_configure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
