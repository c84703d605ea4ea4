/* test_node_policy.c -- the idle-return policy on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy.h"

static const policy_config_t cfg = {.idle_return_ms = 20, .deadline_margin_ms = 50};

static void test_idle_return(void **state)
{
    policy_t p;
    policy_init(&p, &cfg);
    policy_begin(&p, 1000, 0);
    assert_int_equal(policy_should_return(&p, 1000, 0), 0);
    assert_int_equal(policy_wait_ms(&p, 1000, 0), 20);
    assert_int_equal(policy_wait_ms(&p, 1015, 0), 5);
    assert_int_equal(policy_should_return(&p, 1019, 0), 0);
    assert_int_equal(policy_should_return(&p, 1020, 0), 1);
    assert_int_equal(policy_wait_ms(&p, 1020, 0), 0);
}

static void test_requests_extend(void **state)
{
    policy_t p;
    policy_init(&p, &cfg);
    policy_begin(&p, 0, 0);
    policy_on_request(&p, 15, POLICY_REQ_DATA);
    assert_int_equal(policy_should_return(&p, 25, 0), 0);
    assert_int_equal(policy_wait_ms(&p, 25, 0), 10);
    policy_on_done(&p, 30);
    assert_int_equal(policy_should_return(&p, 45, 0), 0);
    assert_int_equal(policy_should_return(&p, 50, 0), 1);
    assert_int_equal(p.requests, 1);
    /* A new invocation starts afresh. */
    policy_begin(&p, 100, 0);
    assert_int_equal(p.requests, 0);
    assert_int_equal(policy_should_return(&p, 119, 0), 0);
}

static void test_inflight_holds_until_deadline(void **state)
{
    policy_t p;
    policy_init(&p, &cfg);
    policy_begin(&p, 0, 1000);
    assert_int_equal(policy_should_return(&p, 500, 1), 0);
    assert_int_equal(policy_wait_ms(&p, 500, 1), 450); /* until deadline - margin */
    assert_int_equal(policy_should_return(&p, 949, 1), 0);
    assert_int_equal(policy_should_return(&p, 950, 1), 1);
    assert_int_equal(policy_wait_ms(&p, 960, 1), 0);
}

static void test_deadline_before_idle(void **state)
{
    policy_t p;
    policy_init(&p, &cfg);
    policy_begin(&p, 0, 60); /* deadline - margin = 10 < idle end 20 */
    assert_int_equal(policy_wait_ms(&p, 0, 0), 10);
    assert_int_equal(policy_should_return(&p, 10, 0), 1);
    /* A deadline already inside the margin returns at once. */
    policy_begin(&p, 100, 120);
    assert_int_equal(policy_should_return(&p, 100, 1), 1);
    assert_int_equal(policy_wait_ms(&p, 100, 1), 0);
}

static void test_no_deadline_waits_bounded(void **state)
{
    policy_t p;
    policy_init(&p, &cfg);
    policy_begin(&p, 0, 0);
    int w = policy_wait_ms(&p, 0, 1);
    assert_true(w > 0 && w <= 60000);
    assert_int_equal(policy_should_return(&p, 10000000, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_return),
        cmocka_unit_test(test_requests_extend),
        cmocka_unit_test(test_inflight_holds_until_deadline),
        cmocka_unit_test(test_deadline_before_idle),
        cmocka_unit_test(test_no_deadline_waits_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
