/* test_clock.c -- the shared monotonic clock: never goes back, and every unit reads the same instant. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"

#define READINGS 10000 /* enough back-to-back reads to catch a unit that wraps or steps back */

static void test_never_goes_back(void **state)
{
    uint64_t ns = clock_mono_ns(), us = clock_mono_us(), ms = clock_mono_ms();
    double s_d = clock_mono_s_double(), ms_d = clock_mono_ms_double();
    for (int i = 0; i < READINGS; i++) {
        uint64_t ns2 = clock_mono_ns(), us2 = clock_mono_us(), ms2 = clock_mono_ms();
        double s_d2 = clock_mono_s_double(), ms_d2 = clock_mono_ms_double();
        assert_true(ns2 >= ns);
        assert_true(us2 >= us);
        assert_true(ms2 >= ms);
        assert_true(s_d2 >= s_d);
        assert_true(ms_d2 >= ms_d);
        ns = ns2, us = us2, ms = ms2, s_d = s_d2, ms_d = ms_d2;
    }
}

/* Readings taken between two nanosecond readings must fall between them once converted:
 * exactly for the truncated integers, within rounding for the doubles. */
static void test_units_agree(void **state)
{
    uint64_t before = clock_mono_ns();
    uint64_t us = clock_mono_us(), ms = clock_mono_ms();
    double s_d = clock_mono_s_double(), ms_d = clock_mono_ms_double();
    uint64_t after = clock_mono_ns();

    assert_true(before / 1000u <= us && us <= after / 1000u);
    assert_true(before / 1000000u <= ms && ms <= after / 1000000u);
    assert_true((double)before / 1e9 - 1e-6 <= s_d && s_d <= (double)after / 1e9 + 1e-6);
    assert_true((double)before / 1e6 - 1e-3 <= ms_d && ms_d <= (double)after / 1e6 + 1e-3);
}

/* A sleep on the same clock shows up as at least that much elapsed time in every unit. */
static void test_elapsed_matches_sleep(void **state)
{
    const long sleep_ns = 20 * 1000000L;
    uint64_t ns0 = clock_mono_ns(), us0 = clock_mono_us(), ms0 = clock_mono_ms();
    double ms_d0 = clock_mono_ms_double();
    struct timespec req = {0, sleep_ns};
    int rc;
    while ((rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &req)) == EINTR) {
    }
    assert_int_equal(rc, 0);
    uint64_t ns1 = clock_mono_ns(), us1 = clock_mono_us(), ms1 = clock_mono_ms();
    double ms_d1 = clock_mono_ms_double();

    assert_true(ns1 - ns0 >= (uint64_t)sleep_ns);
    assert_true(ns1 - ns0 < 10ull * 1000000000u); /* a unit mix-up would be off by 1000x */
    /* Truncating both ends cannot shrink a whole number of units. */
    assert_true(us1 - us0 >= (uint64_t)sleep_ns / 1000u);
    assert_true(ms1 - ms0 >= (uint64_t)sleep_ns / 1000000u);
    assert_true(ms_d1 - ms_d0 >= 20.0 - 1e-3);
    assert_true(ms_d1 - ms_d0 < 10000.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_never_goes_back),
        cmocka_unit_test(test_units_agree),
        cmocka_unit_test(test_elapsed_matches_sleep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
