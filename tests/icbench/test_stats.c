/* test_stats.c -- icbench's percentiles (nearest rank) and size classes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stats.h"

static void test_percentile(void **state)
{
    assert_int_equal(stats_percentile(NULL, 0, 50), 0);
    uint64_t one[] = {42};
    assert_int_equal(stats_percentile(one, 1, 50), 42);
    assert_int_equal(stats_percentile(one, 1, 99.9), 42);

    uint64_t v[1000];
    for (int i = 0; i < 1000; i++)
        v[i] = (uint64_t)i + 1; /* 1..1000 */
    assert_int_equal(stats_percentile(v, 1000, 50), 500);
    assert_int_equal(stats_percentile(v, 1000, 90), 900);
    assert_int_equal(stats_percentile(v, 1000, 99), 990);
    assert_int_equal(stats_percentile(v, 1000, 99.9), 999);
    assert_int_equal(stats_percentile(v, 1000, 100), 1000);
    assert_int_equal(stats_percentile(v, 1000, 0.01), 1);

    /* Ten samples: p50 is the 5th, p90 the 9th, p99 and p99.9 the largest. */
    uint64_t t[] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
    assert_int_equal(stats_percentile(t, 10, 50), 50);
    assert_int_equal(stats_percentile(t, 10, 90), 90);
    assert_int_equal(stats_percentile(t, 10, 99), 100);
    assert_int_equal(stats_percentile(t, 10, 99.9), 100);
    assert_int_equal(stats_percentile(t, 10, 51), 60);
}

static void test_samples(void **state)
{
    stats_samples_t a = {0}, b = {0};
    for (uint64_t i = 0; i < 5000; i++) {
        assert_int_equal(stats_samples_add(&a, 10000 - i), 0);
        assert_int_equal(stats_samples_add(&b, i), 0);
    }
    assert_int_equal(stats_samples_merge(&a, &b), 0);
    assert_int_equal(a.n, 10000);
    stats_samples_sort(&a);
    for (size_t i = 1; i < a.n; i++)
        assert_true(a.v[i - 1] <= a.v[i]);
    assert_int_equal(a.v[0], 0);
    assert_int_equal(a.v[a.n - 1], 10000);
    assert_int_equal(stats_percentile(a.v, a.n, 50), 4999);
    stats_samples_free(&a);
    stats_samples_free(&b);
    assert_int_equal(a.n, 0);
    assert_null(a.v);
}

static void test_size_classes(void **state)
{
    const uint64_t MiB = 1 << 20;
    assert_int_equal(stats_size_class(0), 0);
    assert_int_equal(stats_size_class(MiB - 1), 0);
    assert_int_equal(stats_size_class(MiB), 1);
    assert_int_equal(stats_size_class(10 * MiB - 1), 1);
    assert_int_equal(stats_size_class(10 * MiB), 2);
    assert_int_equal(stats_size_class(100 * MiB - 1), 2);
    assert_int_equal(stats_size_class(100 * MiB), 3);
    assert_int_equal(stats_size_class(UINT64_MAX), 3);
    assert_string_equal(stats_size_class_name(0), "<1MiB");
    assert_string_equal(stats_size_class_name(3), ">=100MiB");
    assert_string_equal(stats_size_class_name(4), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentile),
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_size_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
