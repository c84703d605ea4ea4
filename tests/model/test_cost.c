/* test_cost.c -- icbench's pricing: INFO parsing, differences, ElastiCache node choice, exact
 * dollars on known inputs, the 2020 price set against the paper's figures. */
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
    "platform_gb_seconds_backup:0.3\r\nplatform_gb_seconds_other:0.03625\r\n\r\n";

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
    cost_counters_diff(&after, &before, &d);
    NEAR(d.requests, 20);
    NEAR(d.gb_seconds, 2.08625);
    NEAR(d.requests_by_kind[COST_SERVING], 12);
    NEAR(d.gb_seconds_by_kind[COST_SERVING], 2.0);
    NEAR(d.requests_by_kind[COST_WARMUP], 6);
    assert_int_equal(d.pool_size, 14);
}

static void test_choose(void **state)
{
    (void)state;
    const cost_prices_t *cur = cost_prices_named("current");
    const cost_prices_t *old = cost_prices_named("2020");
    assert_non_null(cur);
    assert_non_null(old);
    assert_null(cost_prices_named("2019"));
    assert_null(cost_prices_named(NULL));
    cost_cluster_t c;

    /* The paper: 400 x 1.5 GiB = 600 GiB fits one cache.r5.24xlarge in both sets. */
    cost_elasticache_choose(old, 600, &c);
    assert_string_equal(c.type->name, "cache.r5.24xlarge");
    assert_int_equal(c.count, 1);
    NEAR(c.usd_per_hour, 10.368);
    cost_elasticache_choose(cur, 600, &c);
    assert_string_equal(c.type->name, "cache.r5.24xlarge");

    /* A small pool: the cheapest type that holds it (r6g today, r5 in 2020). */
    cost_elasticache_choose(cur, 3.5, &c);
    assert_string_equal(c.type->name, "cache.r6g.large");
    NEAR(c.usd_per_hour, 0.206);
    cost_elasticache_choose(old, 3.5, &c);
    assert_string_equal(c.type->name, "cache.r5.large");
    NEAR(c.usd_per_hour, 0.216);
    /* Exactly the memory of a type fits it; a little more takes the next one. */
    cost_elasticache_choose(old, 13.07, &c);
    assert_string_equal(c.type->name, "cache.r5.large");
    cost_elasticache_choose(old, 13.08, &c);
    assert_string_equal(c.type->name, "cache.r5.xlarge");
    cost_elasticache_choose(cur, 300, &c);
    assert_string_equal(c.type->name, "cache.r6g.12xlarge");

    /* Larger than any node: several of the largest. */
    cost_elasticache_choose(old, 1500, &c);
    assert_string_equal(c.type->name, "cache.r5.24xlarge");
    assert_int_equal(c.count, 3);
    NEAR(c.usd_per_hour, 3 * 10.368);
    cost_elasticache_choose(old, 635.61 * 2, &c);
    assert_int_equal(c.count, 2);

    /* Absurd sizes stay defined: capped at a million nodes; NaN needs nothing. */
    cost_elasticache_choose(old, 1e15, &c);
    assert_int_equal(c.count, 1000000);
    cost_elasticache_choose(old, 0.0 / 0.0, &c);
    assert_string_equal(c.type->name, "cache.r5.large");

    cost_prices_t empty = *old;
    empty.nnodes = 0;
    cost_elasticache_choose(&empty, 1, &c);
    assert_int_equal(c.count, 0);
    assert_null(c.type);
}

static void test_compute(void **state)
{
    (void)state;
    cost_counters_t d;
    memset(&d, 0, sizeof d);
    d.pool_size = 400;
    d.node_memory_mb = 1536;
    d.gb_seconds_by_kind[COST_SERVING] = 1000;
    d.gb_seconds_by_kind[COST_WARMUP] = 200;
    d.gb_seconds_by_kind[COST_BACKUP] = 3000;
    d.requests_by_kind[COST_SERVING] = 2000000;
    d.requests_by_kind[COST_WARMUP] = 500000;
    d.requests_by_kind[COST_BACKUP] = 100000;
    d.requests_by_kind[COST_OTHER] = 0;
    cost_report_t r;
    cost_compute(cost_prices_named("2020"), &d, 3600, &r);
    NEAR(r.gb_second_usd[COST_SERVING], 1000 * 0.0000166667);
    NEAR(r.gb_second_usd[COST_BACKUP], 3000 * 0.0000166667);
    NEAR(r.request_usd[COST_SERVING], 0.40);
    NEAR(r.request_usd[COST_WARMUP], 0.10);
    NEAR(r.request_usd[COST_BACKUP], 0.02);
    NEAR(r.lambda_usd, 4200 * 0.0000166667 + 0.52);
    NEAR(r.vm_usd, 0.216);
    NEAR(r.infinicache_usd, 4200 * 0.0000166667 + 0.52 + 0.216);
    NEAR(r.pool_gib, 600);
    assert_string_equal(r.cluster.type->name, "cache.r5.24xlarge");
    NEAR(r.elasticache_usd, 10.368);

    /* Half an hour: VM and ElastiCache halve; the Lambda bill is what was billed. */
    cost_compute(cost_prices_named("current"), &d, 1800, &r);
    NEAR(r.vm_usd, 0.108);
    NEAR(r.elasticache_usd, 5.184);
    NEAR(r.lambda_usd, 4200 * 0.0000166667 + 0.52);

    /* The paper's 50 hours: ElastiCache $518.40. */
    cost_compute(cost_prices_named("2020"), &d, 50 * 3600.0, &r);
    NEAR(r.elasticache_usd, 518.4);

    NEAR(cost_per_hour(0.5, 60), 30);
    NEAR(cost_per_hour(1, 0), 0);
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
    char err[256];
    assert_int_equal(cost_prices_configure(&p, "current", "", "", "", err, sizeof err), 0);
    NEAR(p.usd_per_gb_second, 0.0000166667);
    NEAR(p.usd_per_million_requests, 0.20);
    assert_string_equal(p.vm_type, "c5n.xlarge");
    NEAR(p.vm_usd_per_hour, 0.216);
    assert_int_equal(
        cost_prices_configure(&p, "2020", "0.00002", "0.25", "c5n.4xlarge:0.864", err, sizeof err),
        0);
    assert_string_equal(p.name, "2020");
    NEAR(p.usd_per_gb_second, 0.00002);
    NEAR(p.usd_per_million_requests, 0.25);
    assert_string_equal(p.vm_type, "c5n.4xlarge");
    NEAR(p.vm_usd_per_hour, 0.864);
    assert_int_equal(cost_prices_configure(&p, "current", "", "", "none", err, sizeof err), 0);
    NEAR(p.vm_usd_per_hour, 0);

    assert_int_equal(cost_prices_configure(&p, "2021", "", "", "", err, sizeof err), -1);
    assert_non_null(strstr(err, "prices"));
    assert_int_equal(cost_prices_configure(&p, "current", "-1", "", "", err, sizeof err), -1);
    assert_non_null(strstr(err, "price-gb-s"));
    assert_int_equal(cost_prices_configure(&p, "current", "", "x", "", err, sizeof err), -1);
    assert_non_null(strstr(err, "price-requests"));
    assert_int_equal(cost_prices_configure(&p, "current", "", "", "c5n", err, sizeof err), -1);
    assert_int_equal(cost_prices_configure(&p, "current", "", "", ":1", err, sizeof err), -1);
    assert_int_equal(cost_prices_configure(&p, "current", "", "", "vm:abc", err, sizeof err), -1);
    assert_non_null(strstr(err, "proxy-vm"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),  cmocka_unit_test(test_diff),
        cmocka_unit_test(test_choose), cmocka_unit_test(test_compute),
        cmocka_unit_test(test_ratio),  cmocka_unit_test(test_configure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
