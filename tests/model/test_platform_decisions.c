/* test_platform_decisions.c -- the platform's decisions in src/model: billing rounding and records,
 * instance placement, and the reclaim model (PRNG, exponential reclaim times, time compression). */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "billing.h"
#include "placement.h"
#include "reclaim.h"

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

/* The proxy's commands as the platform bills them (the simulator bills its invocations so too). */
static void test_billing_kind_of_command(void **state)
{
    assert_int_equal(billing_kind_of_command("activate"), BILLING_KIND_ACTIVATE);
    assert_int_equal(billing_kind_of_command("warmup"), BILLING_KIND_WARMUP);
    assert_int_equal(billing_kind_of_command("backup"), BILLING_KIND_BACKUP);
    assert_int_equal(billing_kind_of_command("backup-peer"), BILLING_KIND_BACKUP);
    assert_int_equal(billing_kind_of_command("Activate"), BILLING_KIND_OTHER);
    assert_int_equal(billing_kind_of_command(""), BILLING_KIND_OTHER);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_billing_round_1ms),
        cmocka_unit_test(test_billing_round_100ms),
        cmocka_unit_test(test_billing_kind),
        cmocka_unit_test(test_billing_totals_and_format),
        cmocka_unit_test(test_billing_kind_of_command),
        cmocka_unit_test(test_placement),
        cmocka_unit_test(test_reclaim_rng_repeatable),
        cmocka_unit_test(test_reclaim_exponential),
        cmocka_unit_test(test_reclaim_scaling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
