/* test_platform_units.c -- unit tests for the platform's pure logic: billing, routing, placement,
 * and the reclaim model (PRNG, exponential reclaim times, time compression). */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "billing.h"
#include "config.h"
#include "reclaim.h"
#include "placement.h"
#include "route.h"

static void test_billing_round_1ms(void **state)
{
    assert_int_equal(billing_round_ms(0, 1), 1);
    assert_int_equal(billing_round_ms(1, 1), 1);
    assert_int_equal(billing_round_ms(1000, 1), 1);
    assert_int_equal(billing_round_ms(1001, 1), 2);
    assert_int_equal(billing_round_ms(2500000, 1), 2500);
    assert_int_equal(billing_round_ms(-5, 1), 1);
}

static void test_billing_round_100ms(void **state)
{
    assert_int_equal(billing_round_ms(1, 100), 100);
    assert_int_equal(billing_round_ms(100000, 100), 100);
    assert_int_equal(billing_round_ms(100001, 100), 200);
    assert_int_equal(billing_round_ms(950000, 100), 1000);
    assert_int_equal(billing_round_ms(0, 100), 100);
}

static void test_billing_kind(void **state)
{
    const char *a = "{\"cmd\":\"activate\",\"node_id\":3}";
    assert_int_equal(billing_kind_of_event(a, strlen(a)), BILLING_KIND_ACTIVATE);
    const char *w = "{\"cmd\":\"warmup\"}";
    assert_int_equal(billing_kind_of_event(w, strlen(w)), BILLING_KIND_WARMUP);
    const char *b = "{\"x\":1,\"cmd\":\"backup\"}";
    assert_int_equal(billing_kind_of_event(b, strlen(b)), BILLING_KIND_BACKUP);
    const char *bp = "{\"cmd\":\"backup-peer\",\"peer\":2}";
    assert_int_equal(billing_kind_of_event(bp, strlen(bp)), BILLING_KIND_BACKUP);
    const char *bx = "{\"cmd\":\"backup-peerx\"}";
    assert_int_equal(billing_kind_of_event(bx, strlen(bx)), BILLING_KIND_OTHER);
    const char *o = "{\"cmd\":\"other\"}";
    assert_int_equal(billing_kind_of_event(o, strlen(o)), BILLING_KIND_OTHER);
    const char *n = "{\"cmd\":3}";
    assert_int_equal(billing_kind_of_event(n, strlen(n)), BILLING_KIND_OTHER);
    const char *bad = "{\"cmd\":\"activate\"";
    assert_int_equal(billing_kind_of_event(bad, strlen(bad)), BILLING_KIND_OTHER);
    assert_int_equal(billing_kind_of_event("[]", 2), BILLING_KIND_OTHER);
    assert_int_equal(billing_kind_of_event(NULL, 0), BILLING_KIND_OTHER);
    assert_string_equal(billing_kind_name(BILLING_KIND_BACKUP), "backup");
}

static void test_billing_totals_and_format(void **state)
{
    billing_totals_t t;
    memset(&t, 0, sizeof t);
    billing_record_t r = {.function = "icnode0",
                          .instance = 7,
                          .request_id = "abc",
                          .kind = BILLING_KIND_WARMUP,
                          .start_ms = 1000,
                          .end_ms = 1003,
                          .duration_us = 2500,
                          .billed_ms = 3,
                          .memory_mb = 1024,
                          .outcome = BILLING_OK};
    billing_totals_add(&t, &r);
    r.outcome = BILLING_TIMEOUT;
    r.billed_ms = 1000;
    billing_totals_add(&t, &r);
    r.outcome = BILLING_ERROR;
    r.kind = BILLING_KIND_OTHER;
    billing_totals_add(&t, &r);
    assert_int_equal(t.requests, 3);
    assert_int_equal(t.requests_by_kind[BILLING_KIND_WARMUP], 2);
    assert_int_equal(t.requests_by_kind[BILLING_KIND_OTHER], 1);
    assert_int_equal(t.billed_ms, 2003);
    assert_int_equal(t.billed_ms_by_kind[BILLING_KIND_WARMUP], 1003);
    assert_int_equal(t.billed_ms_by_kind[BILLING_KIND_OTHER], 1000);
    assert_int_equal(t.billed_ms_by_kind[BILLING_KIND_BACKUP], 0);
    assert_true(fabs(t.gb_seconds_by_kind[BILLING_KIND_WARMUP] - 1.003) < 1e-9);
    assert_true(fabs(t.gb_seconds_by_kind[BILLING_KIND_OTHER] - 1.0) < 1e-9);
    assert_int_equal(t.timeouts, 1);
    assert_int_equal(t.errors, 1);
    assert_true(t.gb_seconds > 2.002 && t.gb_seconds < 2.004); /* 1 GiB x 2.003 s */
    assert_true(billing_gb_seconds(1000, 512) == 0.5);

    char line[512];
    int n = billing_record_format(&r, line, sizeof line);
    assert_true(n > 0);
    assert_int_equal(line[n - 1], '\n');
    assert_non_null(strstr(line, "\"function\":\"icnode0\""));
    assert_non_null(strstr(line, "\"outcome\":\"error\""));
    assert_non_null(strstr(line, "\"duration_ms\":2.500"));
    assert_int_equal(billing_record_format(&r, line, 10), -ENOSPC);
}

static route_result_t parse(const char *method, const char *path, route_t *r)
{
    return route_parse(method, path, strlen(path), r);
}

static void test_route_invoke(void **state)
{
    route_t r;
    assert_int_equal(parse("POST", "/2015-03-31/functions/icnode0/invocations", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_INVOKE);
    assert_int_equal(r.name_len, 7);
    assert_memory_equal(r.name, "icnode0", 7);
    assert_null(r.qualifier);

    assert_int_equal(parse("POST", "/2015-03-31/functions/icnode3:$LATEST/invocations?x=1", &r),
                     ROUTE_MATCH);
    assert_memory_equal(r.name, "icnode3", 7);
    assert_int_equal(r.qualifier_len, 7);

    assert_int_equal(
        parse(
            "POST",
            "/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:fn12/invocations",
            &r),
        ROUTE_MATCH);
    assert_int_equal(r.name_len, 4);
    assert_memory_equal(r.name, "fn12", 4);

    assert_int_equal(parse("GET", "/2015-03-31/functions/icnode0/invocations", &r),
                     ROUTE_BAD_METHOD);
    assert_int_equal(parse("POST", "/2015-03-31/functions/ic node/invocations", &r),
                     ROUTE_BAD_REQUEST);
    assert_int_equal(parse("POST", "/2015-03-31/functions/icnode0:/invocations", &r),
                     ROUTE_BAD_REQUEST);
    assert_int_equal(parse("POST", "/2015-03-31/functions//invocations", &r), ROUTE_NOT_FOUND);
    assert_int_equal(parse("POST", "/2015-03-31/functions/icnode0/invocations/", &r),
                     ROUTE_NOT_FOUND);
    char longname[200] = "/2015-03-31/functions/";
    memset(longname + strlen(longname), 'a', 70);
    strcat(longname, "/invocations");
    assert_int_equal(parse("POST", longname, &r), ROUTE_BAD_REQUEST);
}

static void test_route_runtime(void **state)
{
    route_t r;
    assert_int_equal(parse("GET", "/i/42/2018-06-01/runtime/invocation/next", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_RUNTIME_NEXT);
    assert_int_equal(r.instance, 42);

    assert_int_equal(parse("POST", "/i/7/2018-06-01/runtime/invocation/abc-123/response", &r),
                     ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_RUNTIME_RESPONSE);
    assert_int_equal(r.instance, 7);
    assert_int_equal(r.request_id_len, 7);
    assert_memory_equal(r.request_id, "abc-123", 7);

    assert_int_equal(parse("POST", "/i/7/2018-06-01/runtime/invocation/abc/error", &r),
                     ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_RUNTIME_ERROR);
    assert_int_equal(parse("POST", "/i/7/2018-06-01/runtime/init/error", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_RUNTIME_INIT_ERROR);

    assert_int_equal(parse("POST", "/i/7/2018-06-01/runtime/invocation/next", &r),
                     ROUTE_BAD_METHOD);
    assert_int_equal(parse("GET", "/i/x7/2018-06-01/runtime/invocation/next", &r),
                     ROUTE_BAD_REQUEST);
    assert_int_equal(parse("GET", "/i/99999999999999999999/2018-06-01/runtime/invocation/next", &r),
                     ROUTE_BAD_REQUEST);
    assert_int_equal(parse("POST", "/i/7/2018-06-01/runtime/invocation/a%22b/response", &r),
                     ROUTE_BAD_REQUEST);
    assert_int_equal(parse("GET", "/i/7/2018-06-01/runtime/invocation/later", &r), ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "/i/7/2019-01-01/runtime/invocation/next", &r), ROUTE_NOT_FOUND);
}

/* The control plane's paths, as the AWS CLI sends them (collections with a trailing slash). */
static void test_route_control(void **state)
{
    (void)state;
    route_t r;
    assert_int_equal(parse("GET", "/2015-03-31/functions/", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_LIST);
    assert_int_equal(parse("POST", "/2015-03-31/functions", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_CREATE);
    assert_int_equal(parse("PUT", "/2015-03-31/functions/", &r), ROUTE_BAD_METHOD);
    assert_int_equal(parse("GET", "/2015-03-31/functions/f1", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_GET);
    assert_int_equal(r.name_len, 2);
    assert_int_equal(parse("DELETE", "/2015-03-31/functions/f1?Qualifier=x", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_DELETE);
    assert_int_equal(parse("PUT", "/2015-03-31/functions/f1/code", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_CODE_PUT);
    assert_int_equal(parse("GET", "/2015-03-31/functions/f1/code", &r), ROUTE_BAD_METHOD);
    assert_int_equal(parse("PUT", "/2015-03-31/functions/f1/configuration", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_CONFIG_PUT);
    assert_int_equal(parse("GET", "/2015-03-31/functions/f1/configuration", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_CONFIG_GET);
    assert_int_equal(parse("PUT", "/2017-10-31/functions/f1/concurrency", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_CONCURRENCY_PUT);
    assert_int_equal(parse("DELETE", "/2017-10-31/functions/f1/concurrency", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_CONCURRENCY_DELETE);
    assert_int_equal(parse("PUT", "/2019-09-25/functions/f1/event-invoke-config", &r),
                     ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_EVENT_CONFIG_PUT);
    assert_int_equal(parse("GET", "/2019-09-25/functions/f1/event-invoke-config", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_EVENT_CONFIG_GET);
    assert_int_equal(parse("POST", "/2019-09-25/functions/f1/event-invoke-config", &r),
                     ROUTE_BAD_METHOD);
    assert_int_equal(parse("GET", "/2016-08-19/account-settings/", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_ACCOUNT_SETTINGS);
    assert_int_equal(parse("GET", "/2017-03-31/tags/arn:aws:lambda:us-east-1:1:function:f1", &r),
                     ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_TAGS_GET);
    assert_int_equal(r.name_len, 2);
    assert_int_equal(parse("GET", "/2015-03-31/functions/bad name", &r), ROUTE_BAD_REQUEST);
    assert_int_equal(parse("GET", "/2015-03-31/functions/f1/nothing", &r), ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "/2015-03-31/functions//", &r), ROUTE_NOT_FOUND);
    /* Invoke is still Invoke. */
    assert_int_equal(parse("POST", "/2015-03-31/functions/f1/invocations", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_INVOKE);
}

static void test_route_admin_and_junk(void **state)
{
    route_t r;
    assert_int_equal(parse("GET", "/admin/stats", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_ADMIN_STATS);
    assert_int_equal(parse("GET", "/admin/instances", &r), ROUTE_MATCH);
    assert_int_equal(parse("POST", "/admin/reclaim?instance=3", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_ADMIN_RECLAIM);
    assert_int_equal(parse("POST", "/admin/freeze", &r), ROUTE_MATCH);
    assert_int_equal(parse("POST", "/admin/thaw", &r), ROUTE_MATCH);
    assert_int_equal(parse("POST", "/admin/stats", &r), ROUTE_BAD_METHOD);
    assert_int_equal(parse("GET", "/admin/nothing", &r), ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "", &r), ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "/", &r), ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "relative", &r), ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "//admin/stats", &r), ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "/a/b/c/d/e/f/g/h/i/j/k/l", &r), ROUTE_NOT_FOUND);
}

static void test_route_sigv4(void **state)
{
    const char *date = "20261124T052100Z";
    const char *sig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char a[512];
#define AUTH(key, day, scope, headers, s)                                                          \
    (snprintf(a, sizeof a, "AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/%s, SignedHeaders=%s, "   \
                           "Signature=%s",                                                     \
              key, day, scope, headers, s),                                                    \
     a)
    assert_true(route_sigv4_ok(AUTH("AKID", "20261124", "lambda/aws4_request",
                                    "content-type;host;x-amz-date", sig),
                               date, "AKID"));
    /* Another key, another day, another service, unsigned host or date, a short signature. */
    assert_false(route_sigv4_ok(a, date, "AKIDX"));
    assert_false(route_sigv4_ok(AUTH("AKID", "20261123", "lambda/aws4_request",
                                     "host;x-amz-date", sig),
                                date, "AKID"));
    assert_false(
        route_sigv4_ok(AUTH("AKID", "20261124", "s3/aws4_request", "host;x-amz-date", sig), date,
                       "AKID"));
    assert_false(route_sigv4_ok(AUTH("AKID", "20261124", "lambda/aws4_request", "x-amz-date", sig),
                                date, "AKID"));
    assert_false(route_sigv4_ok(AUTH("AKID", "20261124", "lambda/aws4_request", "host;x-amz-dat",
                                     sig),
                                date, "AKID"));
    assert_false(route_sigv4_ok(AUTH("AKID", "20261124", "lambda/aws4_request", "host;x-amz-date",
                                     "0123"),
                                date, "AKID"));
    assert_true(route_sigv4_ok(AUTH("AKID", "20261124", "lambda/aws4_request", "host;x-amz-date",
                                    sig),
                               date, "AKID"));
    /* Missing or malformed headers. */
    assert_false(route_sigv4_ok(NULL, date, "AKID"));
    assert_false(route_sigv4_ok(a, NULL, "AKID"));
    assert_false(route_sigv4_ok(a, "20261124", "AKID"));
    assert_false(route_sigv4_ok(a, "2026112XT052100Z", "AKID"));
    assert_false(route_sigv4_ok("Basic dXNlcjpwYXNz", date, "AKID"));
    assert_false(route_sigv4_ok("", date, "AKID"));
    assert_false(route_sigv4_ok(a, date, ""));
#undef AUTH
}

static void test_placement(void **state)
{
    size_t pick = 99;
    assert_int_equal(placement_choose(NULL, 0, 4, &pick), PLACEMENT_COLD_START);
    assert_int_equal(placement_choose(NULL, 0, 0, &pick), PLACEMENT_AT_CAPACITY);

    placement_slot_t s[4] = {
        {.alive = 1, .free = 0, .last_used_us = 50},
        {.alive = 1, .free = 1, .last_used_us = 10},
        {.alive = 1, .free = 1, .last_used_us = 30},
        {.alive = 0, .free = 1, .last_used_us = 90}, /* dying: never picked, not counted */
    };
    assert_int_equal(placement_choose(s, 4, 4, &pick), PLACEMENT_WARM);
    assert_int_equal(pick, 2); /* most recently used free instance */

    /* LIFO whatever the order of the list: the instance that finished last wins. */
    placement_slot_t lifo[3] = {
        {.alive = 1, .free = 1, .last_used_us = 700}, /* the backup's primary: finished last */
        {.alive = 1, .free = 1, .last_used_us = 650}, /* its peer */
        {.alive = 1, .free = 1, .last_used_us = 100},
    };
    assert_int_equal(placement_choose(lifo, 3, 4, &pick), PLACEMENT_WARM);
    assert_int_equal(pick, 0);
    lifo[0].last_used_us = 600;
    assert_int_equal(placement_choose(lifo, 3, 4, &pick), PLACEMENT_WARM);
    assert_int_equal(pick, 1);
    lifo[2].last_used_us = 900;
    assert_int_equal(placement_choose(lifo, 3, 3, &pick), PLACEMENT_WARM); /* full, still warm */
    assert_int_equal(pick, 2);

    s[1].free = s[2].free = 0;
    assert_int_equal(placement_choose(s, 4, 4, &pick), PLACEMENT_COLD_START);
    assert_int_equal(placement_choose(s, 4, 3, &pick), PLACEMENT_AT_CAPACITY);
    assert_int_equal(placement_choose(s, 4, 1, &pick), PLACEMENT_AT_CAPACITY);
}

static void test_reclaim_rng_repeatable(void **state)
{
    reclaim_rng_t a, b, c, d;
    reclaim_rng_seed(&a, 42, 1);
    reclaim_rng_seed(&b, 42, 1);
    reclaim_rng_seed(&c, 43, 1);
    reclaim_rng_seed(&d, 42, 2);
    int same_c = 0, same_d = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = reclaim_rng_next(&a);
        assert_true(x == reclaim_rng_next(&b)); /* same seed and stream: same sequence */
        same_c += x == reclaim_rng_next(&c);
        same_d += x == reclaim_rng_next(&d);
    }
    assert_int_equal(same_c, 0);
    assert_int_equal(same_d, 0);

    /* Seed 0 is a valid seed, not a degenerate all-zero state. */
    reclaim_rng_t z;
    reclaim_rng_seed(&z, 0, 0);
    uint64_t any = 0;
    for (int i = 0; i < 4; i++)
        any |= reclaim_rng_next(&z);
    assert_true(any != 0);

    /* Uniform draws stay in (0, 1] and average one half. */
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = reclaim_rng_uniform(&a);
        assert_true(u > 0 && u <= 1);
        sum += u;
    }
    assert_true(fabs(sum / 100000 - 0.5) < 0.01);
}

/* The exponential sampler, with a fixed seed: positive draws, mean 1/rate, P(X > mean) = 1/e. */
static void test_reclaim_exponential(void **state)
{
    reclaim_rng_t rng;
    reclaim_rng_seed(&rng, 7, 0);
    const double rate = 1.0 / 250000.0; /* one event per 250 ms */
    const int n = 200000;
    double sum = 0;
    int above_mean = 0;
    for (int i = 0; i < n; i++) {
        int64_t w = reclaim_exponential_us(&rng, rate);
        assert_true(w >= 0 && w < RECLAIM_NEVER_US);
        sum += (double)w;
        above_mean += w > 250000;
    }
    double mean = sum / n;
    assert_true(fabs(mean - 250000) < 250000 * 0.02);
    assert_true(fabs((double)above_mean / n - exp(-1)) < 0.01);

    /* A fixed seed gives the same waiting times again. */
    reclaim_rng_t r1, r2;
    reclaim_rng_seed(&r1, 99, 5);
    reclaim_rng_seed(&r2, 99, 5);
    for (int i = 0; i < 100; i++)
        assert_int_equal(reclaim_exponential_us(&r1, rate), reclaim_exponential_us(&r2, rate));

    /* Rate 0 (off), negative, NaN, and a rate so small the draw overflows: never. */
    assert_int_equal(reclaim_exponential_us(&rng, 0), RECLAIM_NEVER_US);
    assert_int_equal(reclaim_exponential_us(&rng, -1), RECLAIM_NEVER_US);
    assert_int_equal(reclaim_exponential_us(&rng, NAN), RECLAIM_NEVER_US);
    assert_int_equal(reclaim_exponential_us(&rng, 1e-300), RECLAIM_NEVER_US);
}

static void test_reclaim_scaling(void **state)
{
    /* Rates are per simulated instance-hour: 3600/h is one per real second; compression x10
     * makes ten. */
    assert_true(fabs(reclaim_rate_per_us(3600, 1) - 1e-6) < 1e-15);
    assert_true(fabs(reclaim_rate_per_us(3600, 10) - 1e-5) < 1e-15);
    assert_true(fabs(reclaim_rate_per_us(0.5, 1) - 0.5 / 3.6e9) < 1e-20);
    assert_true(reclaim_rate_per_us(0, 100) == 0);
    assert_true(reclaim_rate_per_us(-1, 100) == 0);

    /* Idle limits are divided: 27 min at x60 is 27 s. */
    assert_int_equal(reclaim_idle_limit_us(27 * 60 * 1000, 60), 27 * 1000000LL);
    assert_int_equal(reclaim_idle_limit_us(400, 1), 400000);
    assert_int_equal(reclaim_idle_limit_us(10000, 2.5), 4000000);
    assert_int_equal(reclaim_idle_limit_us(1, 1e6), 1);          /* never below 1 us */
    assert_int_equal(reclaim_idle_limit_us(1000, 0.5), 1000000); /* below 1: treated as 1 */
}

static void test_conf_parse_decimal(void **state)
{
    double v = -1;
    assert_int_equal(conf_parse_decimal("0", 0, 10, &v), 0);
    assert_true(v == 0);
    assert_int_equal(conf_parse_decimal("0.5", 0, 10, &v), 0);
    assert_true(v == 0.5);
    assert_int_equal(conf_parse_decimal("1e3", 0, 1e6, &v), 0);
    assert_true(v == 1000);
    assert_int_equal(conf_parse_decimal("1000000", 1, 1e6, &v), 0);
    assert_int_equal(conf_parse_decimal(".25", 0, 1, &v), 0);
    assert_true(v == 0.25);

    v = 123;
    const char *bad[] = {"",     " 1",  "1 ",  "abc", "1.5x", "nan", "inf", "-inf",
                         "0x10", "1,5", "--1", "1e",  ".",    "+",   "e5",  NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(conf_parse_decimal(bad[i], 0, 1e6, &v), -EINVAL);
    assert_true(v == 123); /* untouched on error */
    assert_int_equal(conf_parse_decimal(NULL, 0, 1, &v), -EINVAL);
    assert_int_equal(conf_parse_decimal("-1", 0, 10, &v), -ERANGE);
    assert_int_equal(conf_parse_decimal("0.5", 1, 10, &v), -ERANGE);
    assert_int_equal(conf_parse_decimal("1000001", 1, 1e6, &v), -ERANGE);
    assert_int_equal(conf_parse_decimal("1e999", 0, 1e6, &v), -ERANGE);
    char longtext[64];
    memset(longtext, '1', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = 0;
    assert_int_equal(conf_parse_decimal(longtext, 0, 1e300, &v), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_sigv4),
        cmocka_unit_test(test_billing_round_1ms),
        cmocka_unit_test(test_billing_round_100ms),
        cmocka_unit_test(test_billing_kind),
        cmocka_unit_test(test_billing_totals_and_format),
        cmocka_unit_test(test_route_invoke),
        cmocka_unit_test(test_route_runtime),
        cmocka_unit_test(test_route_admin_and_junk),
        cmocka_unit_test(test_route_control),
        cmocka_unit_test(test_placement),
        cmocka_unit_test(test_reclaim_rng_repeatable),
        cmocka_unit_test(test_reclaim_exponential),
        cmocka_unit_test(test_reclaim_scaling),
        cmocka_unit_test(test_conf_parse_decimal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
