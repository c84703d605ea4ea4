/* test_cmdstats.c -- the latency histogram of INFO latencystats: every value falls in a bucket
 * whose range holds it, bucket ranges tile the numbers with no gap, percentiles are within the
 * promised precision of an exact sort; and the counters of INFO commandstats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmdstats.h"
#include "command.h"

static void test_buckets_tile_the_values(void **state)
{
    (void)state;
    for (int b = 0; b < CMDSTATS_BUCKETS - 1; b++) {
        assert_int_equal(cmdstats_bucket(cmdstats_bucket_max(b)), b);
        assert_int_equal(cmdstats_bucket(cmdstats_bucket_max(b) + 1), b + 1);
    }
    uint64_t values[] = {0, 1, 31, 32, 33, 63, 64, 65, 1000, 123456, 1ull << 30, (1ull << 41) - 1};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        int b = cmdstats_bucket(values[i]);
        assert_true(values[i] <= cmdstats_bucket_max(b));
        if (b) assert_true(values[i] > cmdstats_bucket_max(b - 1));
        /* Within 1/32 of the value. */
        assert_true(cmdstats_bucket_max(b) - values[i] <= values[i] / CMDSTATS_SUB_BUCKETS);
    }
    assert_int_equal(cmdstats_bucket(UINT64_MAX), CMDSTATS_BUCKETS - 1);
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_percentiles_match_a_sort(void **state)
{
    (void)state;
    static cmdstats_hist_t h;
    enum { N = 10000 };
    static uint64_t v[N];
    srand(7);
    for (int i = 0; i < N; i++) {
        v[i] = (uint64_t)(rand() % 100000) * (uint64_t)(1 + rand() % 3);
        h.counts[cmdstats_bucket(v[i])]++;
        h.total++;
    }
    qsort(v, N, sizeof *v, by_value);
    double ps[] = {50, 99, 99.9, 100};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) {
        size_t rank = (size_t)(ps[i] / 100 * N + 0.999999);
        uint64_t exact = v[rank - 1], got = cmdstats_percentile(&h, ps[i]);
        assert_true(got >= exact);
        assert_true(got - exact <= exact / CMDSTATS_SUB_BUCKETS + 1);
    }
    cmdstats_hist_t empty = {0};
    assert_int_equal(cmdstats_percentile(&empty, 50), 0);
}

static void test_counters_and_reset(void **state)
{
    (void)state;
    const command_t *get = command_find("get", 3);
    cmdstats_done(get, 100, 0);
    cmdstats_done(get, 300, 1);
    cmdstats_rejected(get);
    buf_t b;
    buf_init(&b);
    cmdstats_info_commandstats(&b);
    buf_append(&b, "", 1);
    assert_non_null(strstr(buf_head(&b), "cmdstat_get:calls=2,usec=400,usec_per_call=200.00,"
                                         "rejected_calls=1,failed_calls=1\r\n"));
    buf_free(&b);
    buf_init(&b);
    cmdstats_info_latencystats(&b);
    buf_append(&b, "", 1);
    assert_non_null(strstr(buf_head(&b), "latency_percentiles_usec_get:p50=101.000,p99=303.000,"
                                         "p99.9=303.000\r\n"));
    buf_free(&b);
    cmdstats_reset();
    buf_init(&b);
    cmdstats_info_commandstats(&b);
    assert_int_equal(buf_len(&b), 0);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_tile_the_values),
        cmocka_unit_test(test_percentiles_match_a_sort),
        cmocka_unit_test(test_counters_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
