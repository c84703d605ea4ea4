/* test_policy.c -- the return policies (anticipatory and idle) on a fake clock, for 1 ms and
 * 100 ms billing, including the deadline edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy.h"

static const policy_config_t idle_cfg = {
    .kind = POLICY_IDLE, .idle_return_ms = 20, .deadline_margin_ms = 50};

/* The paper's setting: 100 ms cycles, automatic margin (10 ms). */
static policy_config_t anticipatory(uint64_t billing_ms)
{
    policy_config_t c = {.kind = POLICY_ANTICIPATORY,
                         .idle_return_ms = 20,
                         .deadline_margin_ms = 50,
                         .billing_ms = billing_ms,
                         .billing_idle_ms = 10};
    return c;
}

/* ---- configuration --------------------------------------------------------------------- */

static void test_kind_parse(void **state)
{
    policy_kind_t k = POLICY_IDLE;
    assert_int_equal(policy_kind_parse("anticipatory", &k), 0);
    assert_int_equal(k, POLICY_ANTICIPATORY);
    assert_int_equal(policy_kind_parse("idle", &k), 0);
    assert_int_equal(k, POLICY_IDLE);
    assert_int_equal(policy_kind_parse("", &k), -1);
    assert_int_equal(policy_kind_parse("Idle", &k), -1);
    assert_int_equal(policy_kind_parse("anticipatoryx", &k), -1);
    assert_int_equal(policy_kind_parse(NULL, &k), -1);
    assert_string_equal(policy_kind_name(POLICY_ANTICIPATORY), "anticipatory");
    assert_string_equal(policy_kind_name(POLICY_IDLE), "idle");
}

static void test_default_margin_scales(void **state)
{
    assert_int_equal(policy_default_margin(1), 2);
    assert_int_equal(policy_default_margin(20), 2);
    assert_int_equal(policy_default_margin(50), 5);
    assert_int_equal(policy_default_margin(100), 10);
    assert_int_equal(policy_default_margin(1000), 10);
}

static void test_mode_by_granularity(void **state)
{
    policy_t p;
    policy_config_t c = anticipatory(1);
    policy_init(&p, &c);
    assert_false(p.boundary_mode); /* 1 ms: every ms is billed */
    c = anticipatory(4);
    policy_init(&p, &c);
    assert_false(p.boundary_mode); /* a 2 ms margin would leave 2 ms */
    c = anticipatory(5);
    policy_init(&p, &c);
    assert_true(p.boundary_mode);
    c = anticipatory(100);
    policy_init(&p, &c);
    assert_true(p.boundary_mode);
    assert_int_equal(p.margin, 10);
    c.billing_margin_ms = 50; /* a margin of half the cycle leaves nothing to aim at */
    policy_init(&p, &c);
    assert_false(p.boundary_mode);
    c = anticipatory(0); /* taken as 1 */
    policy_init(&p, &c);
    assert_false(p.boundary_mode);
    policy_init(&p, &idle_cfg);
    assert_false(p.boundary_mode);
}

/* ---- idle (the baseline) --------------------------------------------------------------- */

static void test_idle_return(void **state)
{
    policy_t p;
    policy_init(&p, &idle_cfg);
    policy_begin(&p, 1000, 0);
    assert_int_equal(policy_should_return(&p, 1000, 0), 0);
    assert_int_equal(policy_wait_ms(&p, 1000, 0), 20);
    assert_int_equal(policy_wait_ms(&p, 1015, 0), 5);
    assert_int_equal(policy_should_return(&p, 1019, 0), 0);
    assert_int_equal(policy_should_return(&p, 1020, 0), 1);
    assert_int_equal(policy_wait_ms(&p, 1020, 0), 0);
}

static void test_idle_requests_extend(void **state)
{
    policy_t p;
    policy_init(&p, &idle_cfg);
    policy_begin(&p, 0, 0);
    policy_on_request(&p, 15, POLICY_REQ_DATA);
    assert_int_equal(policy_should_return(&p, 25, 0), 0);
    assert_int_equal(policy_wait_ms(&p, 25, 0), 10);
    policy_on_done(&p, 30);
    assert_int_equal(policy_should_return(&p, 45, 0), 0);
    assert_int_equal(policy_should_return(&p, 50, 0), 1);
    assert_int_equal(p.requests, 1);
    /* A PING is just another request to it. */
    policy_on_request(&p, 60, POLICY_REQ_PING);
    assert_int_equal(policy_should_return(&p, 79, 0), 0);
    assert_int_equal(policy_should_return(&p, 80, 0), 1);
    /* A new invocation starts afresh. */
    policy_begin(&p, 100, 0);
    assert_int_equal(p.requests, 0);
    assert_int_equal(policy_should_return(&p, 119, 0), 0);
    assert_int_equal(policy_should_return(&p, 120, 0), 1);
}

static void test_idle_ignores_billing(void **state)
{
    /* The baseline returns after its quiet spell whatever the billing: at 100 ms billing that
     * pays for a whole cycle and uses a fifth of it. */
    policy_config_t c = idle_cfg;
    c.billing_ms = 100;
    policy_t p;
    policy_init(&p, &c);
    policy_begin(&p, 0, 0);
    policy_on_request(&p, 1, POLICY_REQ_PING);
    policy_on_request(&p, 2, POLICY_REQ_DATA);
    policy_on_request(&p, 3, POLICY_REQ_DATA);
    assert_int_equal(policy_should_return(&p, 22, 0), 0);
    assert_int_equal(policy_should_return(&p, 23, 0), 1);
}

static void test_idle_inflight_holds_until_deadline(void **state)
{
    policy_t p;
    policy_init(&p, &idle_cfg);
    policy_begin(&p, 0, 1000);
    assert_int_equal(policy_should_return(&p, 500, 1), 0);
    assert_int_equal(policy_wait_ms(&p, 500, 1), 450); /* until deadline - margin */
    assert_int_equal(policy_should_return(&p, 949, 1), 0);
    assert_int_equal(policy_should_return(&p, 950, 1), 1);
    assert_int_equal(policy_wait_ms(&p, 960, 1), 0);
}

static void test_idle_deadline_before_idle(void **state)
{
    policy_t p;
    policy_init(&p, &idle_cfg);
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
    policy_init(&p, &idle_cfg);
    policy_begin(&p, 0, 0);
    int w = policy_wait_ms(&p, 0, 1);
    assert_true(w > 0 && w <= 60000);
    assert_int_equal(policy_should_return(&p, 10000000, 1), 0);
    policy_config_t c = anticipatory(100);
    policy_init(&p, &c);
    policy_begin(&p, 0, 0);
    w = policy_wait_ms(&p, 0, 1);
    assert_true(w > 0 && w <= 60000);
    assert_int_equal(policy_should_return(&p, 10000000, 1), 0);
}

/* ---- anticipatory, 100 ms billing ------------------------------------------------------ */

static void test_returns_before_first_boundary(void **state)
{
    policy_config_t c = anticipatory(100);
    policy_t p;
    policy_init(&p, &c);
    policy_begin(&p, 1000, 0); /* cycles are counted from the start of the invocation */
    assert_int_equal(policy_wait_ms(&p, 1000, 0), 90);
    assert_int_equal(policy_should_return(&p, 1089, 0), 0);
    assert_int_equal(policy_should_return(&p, 1090, 0), 1);
    assert_int_equal(policy_wait_ms(&p, 1090, 0), 0);
    /* Unaligned start: the boundary is 100 ms after it, not at a round clock value. */
    policy_begin(&p, 1037, 0);
    assert_int_equal(policy_should_return(&p, 1126, 0), 0);
    assert_int_equal(policy_should_return(&p, 1127, 0), 1);
}

static void test_first_request_stays_in_cycle(void **state)
{
    policy_config_t c = anticipatory(100);
    policy_t p;
    policy_init(&p, &c);
    policy_begin(&p, 0, 0);
    policy_on_request(&p, 5, POLICY_REQ_DATA);
    policy_on_done(&p, 6);
    /* The single request of a sparse stream costs one cycle, as with the idle policy, but the
     * node stays for the rest of the cycle that is paid for. */
    assert_int_equal(policy_should_return(&p, 26, 0), 0);
    assert_int_equal(policy_wait_ms(&p, 26, 0), 64);
    assert_int_equal(policy_should_return(&p, 90, 0), 1);
}

static void test_another_request_extends_one_cycle(void **state)
{
    policy_config_t c = anticipatory(100);
    policy_t p;
    policy_init(&p, &c);
    policy_begin(&p, 0, 0);
    policy_on_request(&p, 5, POLICY_REQ_DATA);
    policy_on_request(&p, 40, POLICY_REQ_DATA); /* another within the cycle */
    assert_int_equal(policy_should_return(&p, 90, 0), 0);
    assert_int_equal(policy_wait_ms(&p, 90, 0), 100);
    assert_int_equal(policy_should_return(&p, 189, 0), 0);
    assert_int_equal(policy_should_return(&p, 190, 0), 1);
    /* More requests in the same cycle do not add more: one cycle, not one per request. */
    policy_on_request(&p, 50, POLICY_REQ_DATA);
    policy_on_request(&p, 60, POLICY_REQ_OTHER);
    assert_int_equal(policy_should_return(&p, 190, 0), 1);
    /* A request in the next cycle moves the plan to the end of the cycle after it. */
    policy_on_request(&p, 150, POLICY_REQ_DATA);
    assert_int_equal(policy_should_return(&p, 289, 0), 0);
    assert_int_equal(policy_should_return(&p, 290, 0), 1);
    assert_int_equal(p.requests, 5);
    /* A new invocation forgets the requests of the last one. */
    policy_begin(&p, 1000, 0);
    policy_on_request(&p, 1005, POLICY_REQ_DATA);
    assert_int_equal(policy_should_return(&p, 1090, 0), 1);
}

static void test_request_in_margin_moves_to_next_cycle(void **state)
{
    policy_config_t c = anticipatory(100);
    policy_t p;
    policy_init(&p, &c);
    policy_begin(&p, 0, 0);
    /* Inside the margin the reply and the return would straddle the boundary: the next cycle is
     * as good as paid for, so it is used. */
    policy_on_request(&p, 95, POLICY_REQ_DATA);
    assert_int_equal(policy_should_return(&p, 95, 0), 0);
    assert_int_equal(policy_should_return(&p, 189, 0), 0);
    assert_int_equal(policy_should_return(&p, 190, 0), 1);
    /* Another request inside the margin: one cycle more than that. */
    policy_begin(&p, 0, 0);
    policy_on_request(&p, 10, POLICY_REQ_DATA);
    policy_on_request(&p, 92, POLICY_REQ_DATA);
    assert_int_equal(policy_should_return(&p, 289, 0), 0);
    assert_int_equal(policy_should_return(&p, 290, 0), 1);
    /* A completion inside the margin, too. */
    policy_begin(&p, 0, 0);
    policy_on_request(&p, 85, POLICY_REQ_DATA);
    policy_on_done(&p, 89);
    assert_int_equal(policy_should_return(&p, 90, 0), 1);
    policy_on_done(&p, 91);
    assert_int_equal(policy_should_return(&p, 91, 0), 0);
    assert_int_equal(policy_should_return(&p, 190, 0), 1);
}

static void test_ping_extends_when_return_is_near(void **state)
{
    policy_config_t c = anticipatory(100);
    policy_t p;
    policy_init(&p, &c);
    policy_begin(&p, 0, 0);
    /* A pre-flight early in the cycle: the request it announces arrives long before the return. */
    policy_on_request(&p, 1, POLICY_REQ_PING);
    assert_int_equal(policy_should_return(&p, 90, 0), 1);
    /* Exactly one margin before the return is still enough. */
    policy_on_request(&p, 80, POLICY_REQ_PING);
    assert_int_equal(policy_should_return(&p, 90, 0), 1);
    /* Closer than that: the return would race the request, so one more cycle. */
    policy_on_request(&p, 85, POLICY_REQ_PING);
    assert_int_equal(policy_should_return(&p, 90, 0), 0);
    assert_int_equal(policy_should_return(&p, 189, 0), 0);
    assert_int_equal(policy_should_return(&p, 190, 0), 1);
}

static void test_ping_is_not_another_request(void **state)
{
    policy_config_t c = anticipatory(100);
    policy_t p;
    policy_init(&p, &c);
    policy_begin(&p, 0, 0);
    /* The proxy pings before its first request after a quiet spell: that request is still the
     * first of the invocation, not a sign of a burst. */
    policy_on_request(&p, 1, POLICY_REQ_PING);
    policy_on_request(&p, 1, POLICY_REQ_DATA);
    policy_on_done(&p, 2);
    assert_int_equal(policy_should_return(&p, 90, 0), 1);
    assert_int_equal(p.requests, 2);
    assert_int_equal(p.work_requests, 1);
    policy_on_request(&p, 50, POLICY_REQ_DATA);
    assert_int_equal(policy_should_return(&p, 190, 0), 1);
    assert_int_equal(policy_should_return(&p, 189, 0), 0);
}

static void test_never_returns_inflight(void **state)
{
    policy_config_t c = anticipatory(100);
    policy_t p;
    policy_init(&p, &c);
    policy_begin(&p, 0, 0);
    assert_int_equal(policy_should_return(&p, 90, 1), 0);
    assert_int_equal(policy_should_return(&p, 99, 1), 0);
    /* Work that ended inside the margin without a completion report: return now, the boundary
     * may still be made. */
    assert_int_equal(policy_should_return(&p, 95, 0), 1);
    /* Work that ran past the boundary: that cycle is billed, stay until its end. */
    assert_int_equal(policy_should_return(&p, 100, 0), 0);
    assert_int_equal(policy_should_return(&p, 120, 0), 0);
    assert_int_equal(policy_wait_ms(&p, 120, 0), 70);
    assert_int_equal(policy_should_return(&p, 190, 0), 1);
    /* ... and past several. */
    assert_int_equal(policy_should_return(&p, 395, 0), 0);
    assert_int_equal(policy_wait_ms(&p, 395, 0), 95);
    assert_int_equal(policy_should_return(&p, 490, 0), 1);
}

static void test_explicit_margin(void **state)
{
    policy_config_t c = anticipatory(100);
    c.billing_margin_ms = 3;
    policy_t p;
    policy_init(&p, &c);
    policy_begin(&p, 0, 0);
    assert_int_equal(policy_should_return(&p, 96, 0), 0);
    assert_int_equal(policy_should_return(&p, 97, 0), 1);
    policy_on_request(&p, 98, POLICY_REQ_DATA);
    assert_int_equal(policy_should_return(&p, 196, 0), 0);
    assert_int_equal(policy_should_return(&p, 197, 0), 1);
}

static void test_anticipatory_deadline(void **state)
{
    policy_config_t c = anticipatory(100);
    policy_t p;
    policy_init(&p, &c);
    /* Deadline inside the first cycle: hard stop at deadline - 50 = 70, before the boundary. */
    policy_begin(&p, 0, 120);
    assert_int_equal(policy_wait_ms(&p, 0, 0), 70);
    assert_int_equal(policy_should_return(&p, 69, 0), 0);
    assert_int_equal(policy_should_return(&p, 70, 0), 1);
    assert_int_equal(policy_should_return(&p, 70, 1), 1); /* even inflight */
    /* Hard stop exactly at the planned return. */
    policy_begin(&p, 0, 140);
    assert_int_equal(policy_wait_ms(&p, 0, 0), 90);
    assert_int_equal(policy_should_return(&p, 90, 0), 1);
    /* Extensions stop at the deadline. */
    policy_begin(&p, 0, 500); /* hard stop 450 */
    policy_on_request(&p, 10, POLICY_REQ_DATA);
    policy_on_request(&p, 420, POLICY_REQ_DATA); /* would plan 590 */
    assert_int_equal(policy_should_return(&p, 449, 0), 0);
    assert_int_equal(policy_wait_ms(&p, 440, 0), 10);
    assert_int_equal(policy_should_return(&p, 450, 0), 1);
    /* A ping near the hard stop does not move it either. */
    policy_begin(&p, 0, 130); /* hard stop 80 */
    policy_on_request(&p, 75, POLICY_REQ_PING);
    assert_int_equal(policy_should_return(&p, 80, 0), 1);
    /* Work past the boundary still stops at the deadline. */
    policy_begin(&p, 0, 200); /* hard stop 150 */
    assert_int_equal(policy_should_return(&p, 120, 0), 0);
    assert_int_equal(policy_wait_ms(&p, 120, 0), 30);
    assert_int_equal(policy_should_return(&p, 150, 0), 1);
    /* A deadline already passed, or inside the deadline margin, returns at once. */
    policy_begin(&p, 1000, 1000);
    assert_int_equal(policy_should_return(&p, 1000, 1), 1);
    assert_int_equal(policy_wait_ms(&p, 1000, 0), 0);
    policy_begin(&p, 5, 30); /* deadline < deadline margin */
    assert_int_equal(policy_should_return(&p, 5, 0), 1);
}

/* ---- anticipatory, 1 ms billing: the boundary logic degenerates to a short idle spell ---- */

static void test_fine_billing_idle_spell(void **state)
{
    policy_config_t c = anticipatory(1);
    policy_t p;
    policy_init(&p, &c);
    policy_begin(&p, 0, 0);
    assert_int_equal(policy_wait_ms(&p, 0, 0), 10);
    assert_int_equal(policy_should_return(&p, 9, 0), 0);
    assert_int_equal(policy_should_return(&p, 10, 0), 1);
    policy_begin(&p, 100, 0);
    policy_on_request(&p, 101, POLICY_REQ_PING);
    policy_on_request(&p, 101, POLICY_REQ_DATA);
    policy_on_done(&p, 102);
    assert_int_equal(policy_should_return(&p, 111, 0), 0);
    assert_int_equal(policy_should_return(&p, 112, 0), 1);
    /* Requests keep it up one spell each; no whole-cycle anticipation (a cycle is 1 ms). */
    policy_on_request(&p, 105, POLICY_REQ_DATA);
    policy_on_request(&p, 108, POLICY_REQ_DATA);
    assert_int_equal(policy_should_return(&p, 117, 0), 0);
    assert_int_equal(policy_should_return(&p, 118, 0), 1);
    /* A PING late in the spell extends it. */
    policy_on_request(&p, 117, POLICY_REQ_PING);
    assert_int_equal(policy_should_return(&p, 126, 0), 0);
    assert_int_equal(policy_should_return(&p, 127, 0), 1);
    /* Inflight: never; and no "past the boundary" rule with every ms billed. */
    assert_int_equal(policy_should_return(&p, 200, 1), 0);
    assert_int_equal(policy_should_return(&p, 200, 0), 1);
}

static void test_fine_billing_spell_is_configurable(void **state)
{
    policy_config_t c = anticipatory(1);
    c.billing_idle_ms = 3;
    policy_t p;
    policy_init(&p, &c);
    policy_begin(&p, 0, 0);
    policy_on_request(&p, 1, POLICY_REQ_DATA);
    assert_int_equal(policy_should_return(&p, 3, 0), 0);
    assert_int_equal(policy_should_return(&p, 4, 0), 1);
    /* 0: return as soon as nothing is in flight. */
    c.billing_idle_ms = 0;
    policy_init(&p, &c);
    policy_begin(&p, 0, 0);
    assert_int_equal(policy_should_return(&p, 0, 1), 0);
    assert_int_equal(policy_should_return(&p, 0, 0), 1);
    /* The idle policy's knob does not apply to it. */
    c = anticipatory(1);
    c.idle_return_ms = 500;
    policy_init(&p, &c);
    policy_begin(&p, 0, 0);
    assert_int_equal(policy_should_return(&p, 10, 0), 1);
}

static void test_fine_billing_deadline(void **state)
{
    policy_config_t c = anticipatory(1);
    policy_t p;
    policy_init(&p, &c);
    policy_begin(&p, 0, 55); /* hard stop 5 < spell 10 */
    assert_int_equal(policy_wait_ms(&p, 0, 0), 5);
    assert_int_equal(policy_should_return(&p, 4, 1), 0);
    assert_int_equal(policy_should_return(&p, 5, 1), 1);
    policy_begin(&p, 0, 1000);
    policy_on_request(&p, 945, POLICY_REQ_DATA); /* spell would end at 955 */
    assert_int_equal(policy_should_return(&p, 949, 0), 0);
    assert_int_equal(policy_should_return(&p, 950, 0), 1);
    policy_begin(&p, 10, 0);
    assert_int_equal(policy_should_return(&p, 20, 0), 1); /* no deadline: the spell rules */
}

static void test_idle_at_one_ms(void **state)
{
    /* The baseline at AWS's 1 ms billing: its 20 ms spell, not the anticipatory 10 ms. */
    policy_config_t c = idle_cfg;
    c.billing_ms = 1;
    c.billing_idle_ms = 10;
    policy_t p;
    policy_init(&p, &c);
    policy_begin(&p, 0, 0);
    policy_on_request(&p, 2, POLICY_REQ_DATA);
    assert_int_equal(policy_should_return(&p, 21, 0), 0);
    assert_int_equal(policy_should_return(&p, 22, 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_parse),
        cmocka_unit_test(test_default_margin_scales),
        cmocka_unit_test(test_mode_by_granularity),
        cmocka_unit_test(test_idle_return),
        cmocka_unit_test(test_idle_requests_extend),
        cmocka_unit_test(test_idle_ignores_billing),
        cmocka_unit_test(test_idle_inflight_holds_until_deadline),
        cmocka_unit_test(test_idle_deadline_before_idle),
        cmocka_unit_test(test_no_deadline_waits_bounded),
        cmocka_unit_test(test_returns_before_first_boundary),
        cmocka_unit_test(test_first_request_stays_in_cycle),
        cmocka_unit_test(test_another_request_extends_one_cycle),
        cmocka_unit_test(test_request_in_margin_moves_to_next_cycle),
        cmocka_unit_test(test_ping_extends_when_return_is_near),
        cmocka_unit_test(test_ping_is_not_another_request),
        cmocka_unit_test(test_never_returns_inflight),
        cmocka_unit_test(test_explicit_margin),
        cmocka_unit_test(test_anticipatory_deadline),
        cmocka_unit_test(test_fine_billing_idle_spell),
        cmocka_unit_test(test_fine_billing_spell_is_configurable),
        cmocka_unit_test(test_fine_billing_deadline),
        cmocka_unit_test(test_idle_at_one_ms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
