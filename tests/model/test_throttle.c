/* test_throttle.c -- the node's network emulation decisions (src/model/throttle.c): the token
 * bucket on a fake clock and the seeded straggler choice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "throttle.h"

static void test_bucket_basics(void **state)
{
    (void)state;
    throttle_bucket_t b;
    throttle_bucket_init(&b, 100000, 1000, 0);            /* 100 bytes per ms */
    assert_int_equal(throttle_bucket_allow(&b, 0), 1000); /* starts full */
    assert_int_equal(throttle_bucket_wait_ms(&b, 0), 0);
    throttle_bucket_consume(&b, 1000);
    assert_int_equal(throttle_bucket_allow(&b, 0), 0);
    assert_int_equal(throttle_bucket_wait_ms(&b, 0), 1);
    assert_int_equal(throttle_bucket_allow(&b, 5), 500);
    throttle_bucket_consume(&b, 400);
    assert_int_equal(throttle_bucket_allow(&b, 5), 100);
    /* A long pause fills the bucket to its burst, no further. */
    assert_int_equal(throttle_bucket_allow(&b, 1000000000), 1000);
    /* Time going backwards changes nothing. */
    throttle_bucket_consume(&b, 1000);
    assert_int_equal(throttle_bucket_allow(&b, 10), 0);
    assert_int_equal(throttle_bucket_allow(&b, 1000000001), 100);
    /* Consuming more than there is (never done by serve.c) empties the bucket. */
    throttle_bucket_consume(&b, 5000);
    assert_int_equal(throttle_bucket_allow(&b, 1000000001), 0);
}

static void test_bucket_slow_rate_and_defaults(void **state)
{
    (void)state;
    throttle_bucket_t b;
    throttle_bucket_init(&b, 10, 0, 7); /* 10 bytes per second */
    assert_int_equal(b.burst, 4096);
    throttle_bucket_consume(&b, throttle_bucket_allow(&b, 7));
    assert_int_equal(throttle_bucket_wait_ms(&b, 7), 100); /* one byte per 100 ms */
    assert_int_equal(throttle_bucket_wait_ms(&b, 57), 50);
    assert_int_equal(throttle_bucket_allow(&b, 56), 0);
    assert_int_equal(throttle_bucket_allow(&b, 107), 1);
    assert_int_equal(throttle_default_burst(20 << 20), (20 << 20) / 100);
    assert_int_equal(throttle_default_burst(1000), 4096);

    throttle_bucket_init(&b, 0, 0, 0); /* unlimited */
    assert_true(throttle_bucket_allow(&b, 0) == SIZE_MAX);
    throttle_bucket_consume(&b, 1 << 30);
    assert_int_equal(throttle_bucket_wait_ms(&b, 0), 0);

    /* The largest rates and clocks do not overflow. */
    throttle_bucket_init(&b, UINT64_MAX, UINT64_MAX, 0);
    assert_true(b.rate == THROTTLE_RATE_MAX);
    throttle_bucket_consume(&b, throttle_bucket_allow(&b, 0));
    assert_true(throttle_bucket_allow(&b, UINT64_MAX / 2) == b.burst);
}

/* Sending 1 MB at 100 kB/s, waking when told: takes (1 MB - burst) / rate, to the ms. */
static void test_bucket_paces_a_transfer(void **state)
{
    (void)state;
    const uint64_t rate = 100000, total = 1000000;
    throttle_bucket_t b;
    throttle_bucket_init(&b, rate, 0, 0);
    uint64_t now = 0, sent = 0, wakes = 0;
    while (sent < total) {
        size_t n = throttle_bucket_allow(&b, now);
        if (n > total - sent) n = (size_t)(total - sent);
        throttle_bucket_consume(&b, n);
        sent += n;
        if (sent == total) break;
        uint64_t w = throttle_bucket_wait_ms(&b, now);
        assert_true(w >= 1); /* nothing left: never a busy loop */
        now += w;
        wakes++;
    }
    uint64_t ideal = (total - b.burst) * 1000 / rate;
    assert_true(now >= ideal && now <= ideal + 1);
    assert_true(wakes <= ideal + 1);
}

static void test_straggler_choice(void **state)
{
    (void)state;
    throttle_straggler_t a, b;
    throttle_straggler_init(&a, 0.25, 300, 42);
    throttle_straggler_init(&b, 0.25, 300, 42);
    int held = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t d = throttle_straggler_next(&a);
        assert_true(d == 0 || d == 300);
        assert_true(d == throttle_straggler_next(&b)); /* same seed, same choices */
        held += d != 0;
    }
    assert_true(held > 2200 && held < 2800);

    throttle_straggler_init(&a, 1, 300, 7);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(throttle_straggler_next(&a), 300);
    throttle_straggler_init(&a, 0, 300, 7);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(throttle_straggler_next(&a), 0);
    throttle_straggler_init(&a, 1, 0, 7); /* no delay: nothing to hold */
    assert_int_equal(throttle_straggler_next(&a), 0);
    throttle_straggler_init(&a, 5, 10, 7); /* clamped to 1 */
    assert_int_equal(throttle_straggler_next(&a), 10);
    throttle_straggler_init(&a, -1, 10, 7); /* clamped to 0 */
    assert_int_equal(throttle_straggler_next(&a), 0);

    /* Nodes sharing a seed get different, repeatable sequences. */
    assert_true(throttle_seed_mix(1, "icnode0") == throttle_seed_mix(1, "icnode0"));
    assert_true(throttle_seed_mix(1, "icnode0") != throttle_seed_mix(1, "icnode1"));
    assert_true(throttle_seed_mix(1, NULL) == throttle_seed_mix(1, ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_basics),
        cmocka_unit_test(test_bucket_slow_rate_and_defaults),
        cmocka_unit_test(test_bucket_paces_a_transfer),
        cmocka_unit_test(test_straggler_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
