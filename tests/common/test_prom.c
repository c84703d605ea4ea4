/* test_prom.c -- the Prometheus text writer: histogram buckets, label and HELP escaping, values. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "prom.h"

static const uint64_t bounds[] = {10, 100, 1000};

/* The buffer's text as a NUL-terminated string (the buffer keeps it until freed). */
static const char *text(buf_t *b)
{
    buf_append(b, "", 1);
    b->end--;
    return buf_head(b);
}

static void test_hist_buckets_by_inclusive_bound(void **state)
{
    prom_hist_t h;
    assert_int_equal(prom_hist_init(&h, bounds, 3), 0);
    uint64_t values[] = {0, 10, 11, 100, 1000, 1001, 5000};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++)
        prom_hist_observe(&h, values[i]);
    assert_int_equal(h.counts[0], 2); /* 0, 10: le 10 includes its bound */
    assert_int_equal(h.counts[1], 2); /* 11, 100 */
    assert_int_equal(h.counts[2], 1); /* 1000 */
    assert_int_equal(h.counts[3], 2); /* above every bound */
    assert_int_equal(h.count, 7);
    assert_int_equal(h.sum, 0 + 10 + 11 + 100 + 1000 + 1001 + 5000);
}

static void test_hist_init_refuses_bad_bounds(void **state)
{
    prom_hist_t h;
    static const uint64_t down[] = {10, 5};
    static const uint64_t same[] = {10, 10};
    assert_int_equal(prom_hist_init(&h, down, 2), -EINVAL);
    assert_int_equal(prom_hist_init(&h, same, 2), -EINVAL);
    assert_int_equal(prom_hist_init(&h, bounds, PROM_HIST_MAX_BOUNDS + 1), -EINVAL);
    assert_int_equal(prom_hist_init(&h, bounds, 0), 0); /* only +Inf */
    prom_hist_observe(&h, 7);
    assert_int_equal(h.counts[0], 1);
}

static void test_hist_write_is_cumulative_and_scaled(void **state)
{
    prom_hist_t h;
    prom_hist_init(&h, bounds, 3);
    prom_hist_observe(&h, 5);
    prom_hist_observe(&h, 50);
    prom_hist_observe(&h, 50000);
    buf_t b;
    buf_init(&b);
    prom_label_t cmd = {"command", "get"}, size = {"size_class", "<=1KiB"};
    prom_hist_write(&b, "x_seconds", &cmd, &size, &h, 1e-3);
    assert_string_equal(text(&b),
                        "x_seconds_bucket{command=\"get\",size_class=\"<=1KiB\",le=\"0.01\"} 1\n"
                        "x_seconds_bucket{command=\"get\",size_class=\"<=1KiB\",le=\"0.1\"} 2\n"
                        "x_seconds_bucket{command=\"get\",size_class=\"<=1KiB\",le=\"1\"} 2\n"
                        "x_seconds_bucket{command=\"get\",size_class=\"<=1KiB\",le=\"+Inf\"} 3\n"
                        "x_seconds_sum{command=\"get\",size_class=\"<=1KiB\"} 50.055\n"
                        "x_seconds_count{command=\"get\",size_class=\"<=1KiB\"} 3\n");
    buf_free(&b);

    /* Without labels: le alone, and no braces on _sum and _count. */
    buf_init(&b);
    prom_hist_init(&h, bounds, 1);
    prom_hist_write(&b, "y", NULL, NULL, &h, 1);
    assert_string_equal(text(&b), "y_bucket{le=\"10\"} 0\ny_bucket{le=\"+Inf\"} 0\ny_sum 0\n"
                                  "y_count 0\n");
    buf_free(&b);
}

static void test_label_values_are_escaped(void **state)
{
    buf_t b;
    buf_init(&b);
    prom_label_t l = {"k", "a\\b\"c\nd{}=,"};
    prom_sample_u64(&b, "m_total", &l, 18446744073709551615ull);
    assert_string_equal(text(&b), "m_total{k=\"a\\\\b\\\"c\\nd{}=,\"} 18446744073709551615\n");
    buf_free(&b);
}

static void test_help_is_escaped_and_type_follows(void **state)
{
    buf_t b;
    buf_init(&b);
    prom_family(&b, "m", "gauge", "one \\ two\nthree \"quoted\"");
    /* HELP escapes backslash and newline, not quotes. */
    assert_string_equal(text(&b), "# HELP m one \\\\ two\\nthree \"quoted\"\n# TYPE m gauge\n");
    buf_free(&b);
}

static void test_doubles(void **state)
{
    buf_t b;
    buf_init(&b);
    prom_sample_double(&b, "a", NULL, 0.4435);
    prom_sample_double(&b, "b", NULL, INFINITY);
    prom_sample_double(&b, "c", NULL, -INFINITY);
    prom_sample_double(&b, "d", NULL, NAN);
    prom_sample_double(&b, "e", NULL, 12);
    assert_string_equal(text(&b), "a 0.4435\nb +Inf\nc -Inf\nd NaN\ne 12\n");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_buckets_by_inclusive_bound),
        cmocka_unit_test(test_hist_init_refuses_bad_bounds),
        cmocka_unit_test(test_hist_write_is_cumulative_and_scaled),
        cmocka_unit_test(test_label_values_are_escaped),
        cmocka_unit_test(test_help_is_escaped_and_type_follows),
        cmocka_unit_test(test_doubles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
