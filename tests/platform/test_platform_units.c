/* test_platform_units.c -- unit tests for the platform's pure logic: billing, routing, placement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "billing.h"
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

    s[1].free = s[2].free = 0;
    assert_int_equal(placement_choose(s, 4, 4, &pick), PLACEMENT_COLD_START);
    assert_int_equal(placement_choose(s, 4, 3, &pick), PLACEMENT_AT_CAPACITY);
    assert_int_equal(placement_choose(s, 4, 1, &pick), PLACEMENT_AT_CAPACITY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_billing_round_1ms),
        cmocka_unit_test(test_billing_round_100ms),
        cmocka_unit_test(test_billing_kind),
        cmocka_unit_test(test_billing_totals_and_format),
        cmocka_unit_test(test_route_invoke),
        cmocka_unit_test(test_route_runtime),
        cmocka_unit_test(test_route_admin_and_junk),
        cmocka_unit_test(test_placement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
