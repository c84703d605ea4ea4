/* test_workload.c -- icbench's generators: reproducible with a seed, Zipf and size distributions
 * statistically sane, object bytes verifiable. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "workload.h"

static void test_rng_reproducible(void **state)
{
    workload_rng_t a, b, c;
    workload_rng_seed(&a, 42, 7);
    workload_rng_seed(&b, 42, 7);
    workload_rng_seed(&c, 42, 8);
    int same_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = workload_rng_next(&a), y = workload_rng_next(&b), z = workload_rng_next(&c);
        assert_true(x == y);
        same_c += x == z;
    }
    assert_true(same_c < 2);
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; i++) {
        double u = workload_rng_double(&a);
        assert_true(u >= 0 && u < 1);
        double n = workload_rng_normal(&b);
        sum += n;
        sq += n * n;
    }
    assert_true(sum / 100000 > -0.02 && sum / 100000 < 0.02);
    assert_true(sq / 100000 > 0.97 && sq / 100000 < 1.03);
}

static void test_zipf(void **state)
{
    workload_zipf_t z;
    assert_int_equal(workload_zipf_init(&z, 100, 1.0), 0);
    workload_rng_t r;
    workload_rng_seed(&r, 1, 0);
    static uint64_t count[100];
    const int N = 400000;
    for (int i = 0; i < N; i++) {
        uint64_t k = workload_zipf_draw(&z, &r);
        assert_true(k < 100);
        count[k]++;
    }
    /* P(k) = 1/((k+1) H_100), H_100 = 5.187: rank 1 gets 19.3%, rank 2 half of that. */
    double p0 = (double)count[0] / N;
    assert_true(p0 > 0.185 && p0 < 0.201);
    double ratio = (double)count[0] / count[1];
    assert_true(ratio > 1.9 && ratio < 2.1);
    ratio = (double)count[0] / count[9];
    assert_true(ratio > 9.0 && ratio < 11.0);
    workload_zipf_free(&z);

    /* Exponent 0 is uniform. */
    assert_int_equal(workload_zipf_init(&z, 10, 0.0), 0);
    memset(count, 0, sizeof count);
    for (int i = 0; i < 100000; i++)
        count[workload_zipf_draw(&z, &r)]++;
    for (int k = 0; k < 10; k++)
        assert_true(count[k] > 9400 && count[k] < 10600);
    workload_zipf_free(&z);

    /* Same seed, same sequence. */
    workload_zipf_t z2;
    assert_int_equal(workload_zipf_init(&z2, 1000, 0.99), 0);
    workload_rng_t a, b;
    workload_rng_seed(&a, 5, 0);
    workload_rng_seed(&b, 5, 0);
    for (int i = 0; i < 1000; i++)
        assert_true(workload_zipf_draw(&z2, &a) == workload_zipf_draw(&z2, &b));
    workload_zipf_free(&z2);

    assert_int_equal(workload_zipf_init(&z, 0, 1.0), -EINVAL);
    assert_int_equal(workload_zipf_init(&z, WORKLOAD_KEYS_MAX + 1, 1.0), -EINVAL);
    assert_int_equal(workload_zipf_init(&z, 10, -1.0), -EINVAL);
}

static void test_sizes(void **state)
{
    workload_size_t s;
    char err[256];
    workload_rng_t r;
    workload_rng_seed(&r, 3, 0);

    assert_int_equal(workload_size_parse("fixed:1m", &s, err, sizeof err), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(workload_size_draw(&s, &r, 0), 1 << 20);
    assert_int_equal(workload_size_draw(&s, &r, 1000), 1000);
    assert_int_equal(workload_size_bound(&s, 0), 1 << 20);

    assert_int_equal(workload_size_parse("uniform:1k-3k", &s, err, sizeof err), 0);
    double sum = 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t v = workload_size_draw(&s, &r, 0);
        assert_true(v >= 1024 && v <= 3072);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += (double)v;
    }
    assert_true(sum / 100000 > 2030 && sum / 100000 < 2066);
    assert_true(lo < 1040 && hi > 3056);
    assert_int_equal(workload_size_bound(&s, 0), 3072);

    assert_int_equal(workload_size_parse("lognormal:4m,1.0", &s, err, sizeof err), 0);
    int below = 0;
    for (int i = 0; i < 100000; i++)
        below += workload_size_draw(&s, &r, 0) < (4u << 20);
    assert_true(below > 49000 && below < 51000); /* the median */
    assert_int_equal(workload_size_bound(&s, 0), 0);
    assert_int_equal(workload_size_bound(&s, 100), 100);

    const char *bad[] = {"",
                         "fixed",
                         "fixed:",
                         "fixed:0",
                         "fixed:-1",
                         "uniform:5k-1k",
                         "uniform:1k",
                         "lognormal:1m",
                         "lognormal:1m,x",
                         "lognormal:1m,-1",
                         "gauss:1m",
                         "fixed:2t"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(workload_size_parse(bad[i], &s, err, sizeof err), -1);
        assert_true(err[0] != 0);
    }
}

static void test_objects(void **state)
{
    size_t sizes[] = {0, 1, 7, 23, 24, 25, 31, 32, 1000, 65537};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *a = malloc(n + 1), *b = malloc(n + 1);
        workload_object_fill(a, n, 77, 3);
        workload_object_fill(b, n, 77, 3);
        assert_memory_equal(a, b, n);
        assert_int_equal(workload_object_verify(a, n, 77), 0);
        if (n > 0) {
            assert_int_equal(workload_object_verify(a, n, 78), -1); /* another key */
            a[n - 1] ^= 1;
            assert_int_equal(workload_object_verify(a, n, 77), -1); /* one bit flipped */
            a[n - 1] ^= 1;
            a[n / 2] ^= 0x80;
            assert_int_equal(workload_object_verify(a, n, 77), -1);
        }
        if (n >= WORKLOAD_HEADER) {
            /* Another version is also right; a truncated copy is not. */
            workload_object_fill(b, n, 77, 4);
            assert_int_equal(workload_object_verify(b, n, 77), 0);
            if (n > WORKLOAD_HEADER)
                assert_memory_not_equal(b + WORKLOAD_HEADER, a + WORKLOAD_HEADER,
                                        n - WORKLOAD_HEADER);
            assert_int_equal(workload_object_verify(b, n - 1, 77), -1);
        }
        free(a);
        free(b);
    }
}

/* The reference check, for the runs that compare it with the fast one picked by default. */
static int use_plain_check(void **state)
{
    (void)state;
    workload_verify_use_plain(1);
    return 0;
}

/* Piecewise verification, fed in steps of every size, agrees with the whole check. */
static int verify_in_steps(const unsigned char *p, size_t n, uint64_t key, size_t step)
{
    workload_verify_t v;
    workload_verify_begin(&v, key);
    for (size_t have = 0; have < n; have += step)
        workload_verify_update(&v, p, n, have);
    workload_verify_update(&v, p, n, n);
    return workload_verify_end(&v, p, n);
}

static void test_verify_in_steps(void **state)
{
    (void)state;
    size_t sizes[] = {0, 5, 23, 24, 25, 33, 1000, 4099};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *a = malloc(n + 1);
        workload_object_fill(a, n, 9, 2);
        for (size_t step = 1; step <= 17; step++) {
            assert_int_equal(verify_in_steps(a, n, 9, step), 0);
            assert_int_equal(verify_in_steps(a, n, 10, step), n ? -1 : 0);
            for (size_t at = 0; at < n; at += 1 + n / 7) {
                if (n == WORKLOAD_HEADER && at >= 4 && at < 8) continue; /* any version is right */
                a[at] ^= 4;
                assert_int_equal(verify_in_steps(a, n, 9, step), -1);
                a[at] ^= 4;
            }
        }
        /* A value whose length changes between calls is wrong. */
        if (n > 1) {
            workload_verify_t v;
            workload_verify_begin(&v, 9);
            workload_verify_update(&v, a, n, n / 2);
            assert_int_equal(workload_verify_end(&v, a, n - 1), -1);
        }
        free(a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_reproducible),
        cmocka_unit_test(test_zipf),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_verify_in_steps),
        cmocka_unit_test_setup(test_objects, use_plain_check),
        cmocka_unit_test_setup(test_verify_in_steps, use_plain_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
