/* test_platform_units.c -- unit tests for the platform's own pure logic: routing and decimal
 * options (its billing, placement and reclaim decisions are tested in tests/model). */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "route.h"

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

/* The control plane's paths, as the AWS CLI sends them (collections with a trailing slash). */
static void test_route_control(void **state)
{
    (void)state;
    route_t r;
    assert_int_equal(parse("GET", "/2015-03-31/functions/", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_LIST);
    assert_int_equal(parse("POST", "/2015-03-31/functions", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_CREATE);
    assert_int_equal(parse("PUT", "/2015-03-31/functions/", &r), ROUTE_BAD_METHOD);
    assert_int_equal(parse("GET", "/2015-03-31/functions/f1", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_GET);
    assert_int_equal(r.name_len, 2);
    assert_int_equal(parse("DELETE", "/2015-03-31/functions/f1?Qualifier=x", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_DELETE);
    assert_int_equal(parse("PUT", "/2015-03-31/functions/f1/code", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_CODE_PUT);
    assert_int_equal(parse("GET", "/2015-03-31/functions/f1/code", &r), ROUTE_BAD_METHOD);
    assert_int_equal(parse("PUT", "/2015-03-31/functions/f1/configuration", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_CONFIG_PUT);
    assert_int_equal(parse("GET", "/2015-03-31/functions/f1/configuration", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_CONFIG_GET);
    assert_int_equal(parse("PUT", "/2017-10-31/functions/f1/concurrency", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_CONCURRENCY_PUT);
    assert_int_equal(parse("DELETE", "/2017-10-31/functions/f1/concurrency", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_CONCURRENCY_DELETE);
    assert_int_equal(parse("PUT", "/2019-09-25/functions/f1/event-invoke-config", &r),
                     ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_EVENT_CONFIG_PUT);
    assert_int_equal(parse("GET", "/2019-09-25/functions/f1/event-invoke-config", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_EVENT_CONFIG_GET);
    assert_int_equal(parse("POST", "/2019-09-25/functions/f1/event-invoke-config", &r),
                     ROUTE_BAD_METHOD);
    assert_int_equal(parse("GET", "/2016-08-19/account-settings/", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_ACCOUNT_SETTINGS);
    assert_int_equal(parse("GET", "/2017-03-31/tags/arn:aws:lambda:us-east-1:1:function:f1", &r),
                     ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_FN_TAGS_GET);
    assert_int_equal(r.name_len, 2);
    assert_int_equal(parse("GET", "/2015-03-31/functions/bad name", &r), ROUTE_BAD_REQUEST);
    assert_int_equal(parse("GET", "/2015-03-31/functions/f1/nothing", &r), ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "/2015-03-31/functions//", &r), ROUTE_NOT_FOUND);
    /* Invoke is still Invoke. */
    assert_int_equal(parse("POST", "/2015-03-31/functions/f1/invocations", &r), ROUTE_MATCH);
    assert_int_equal(r.kind, ROUTE_INVOKE);
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

static void test_route_sigv4(void **state)
{
    const char *date = "20261124T052100Z";
    const char *sig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char a[512];
#define AUTH(key, day, scope, headers, s)                                                          \
    (snprintf(a, sizeof a, "AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/%s, SignedHeaders=%s, "   \
                           "Signature=%s",                                                     \
              key, day, scope, headers, s),                                                    \
     a)
    assert_true(route_sigv4_ok(AUTH("AKID", "20261124", "lambda/aws4_request",
                                    "content-type;host;x-amz-date", sig),
                               date, "AKID"));
    /* Another key, another day, another service, unsigned host or date, a short signature. */
    assert_false(route_sigv4_ok(a, date, "AKIDX"));
    assert_false(route_sigv4_ok(AUTH("AKID", "20261123", "lambda/aws4_request",
                                     "host;x-amz-date", sig),
                                date, "AKID"));
    assert_false(
        route_sigv4_ok(AUTH("AKID", "20261124", "s3/aws4_request", "host;x-amz-date", sig), date,
                       "AKID"));
    assert_false(route_sigv4_ok(AUTH("AKID", "20261124", "lambda/aws4_request", "x-amz-date", sig),
                                date, "AKID"));
    assert_false(route_sigv4_ok(AUTH("AKID", "20261124", "lambda/aws4_request", "host;x-amz-dat",
                                     sig),
                                date, "AKID"));
    assert_false(route_sigv4_ok(AUTH("AKID", "20261124", "lambda/aws4_request", "host;x-amz-date",
                                     "0123"),
                                date, "AKID"));
    assert_true(route_sigv4_ok(AUTH("AKID", "20261124", "lambda/aws4_request", "host;x-amz-date",
                                    sig),
                               date, "AKID"));
    /* Missing or malformed headers. */
    assert_false(route_sigv4_ok(NULL, date, "AKID"));
    assert_false(route_sigv4_ok(a, NULL, "AKID"));
    assert_false(route_sigv4_ok(a, "20261124", "AKID"));
    assert_false(route_sigv4_ok(a, "2026112XT052100Z", "AKID"));
    assert_false(route_sigv4_ok("Basic dXNlcjpwYXNz", date, "AKID"));
    assert_false(route_sigv4_ok("", date, "AKID"));
    assert_false(route_sigv4_ok(a, date, ""));
#undef AUTH
}

static void test_conf_parse_decimal(void **state)
{
    double v = -1;
    assert_int_equal(conf_parse_decimal("0", 0, 10, &v), 0);
    assert_true(v == 0);
    assert_int_equal(conf_parse_decimal("0.5", 0, 10, &v), 0);
    assert_true(v == 0.5);
    assert_int_equal(conf_parse_decimal("1e3", 0, 1e6, &v), 0);
    assert_true(v == 1000);
    assert_int_equal(conf_parse_decimal("1000000", 1, 1e6, &v), 0);
    assert_int_equal(conf_parse_decimal(".25", 0, 1, &v), 0);
    assert_true(v == 0.25);

    v = 123;
    const char *bad[] = {"",     " 1",  "1 ",  "abc", "1.5x", "nan", "inf", "-inf",
                         "0x10", "1,5", "--1", "1e",  ".",    "+",   "e5",  NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(conf_parse_decimal(bad[i], 0, 1e6, &v), -EINVAL);
    assert_true(v == 123); /* untouched on error */
    assert_int_equal(conf_parse_decimal(NULL, 0, 1, &v), -EINVAL);
    assert_int_equal(conf_parse_decimal("-1", 0, 10, &v), -ERANGE);
    assert_int_equal(conf_parse_decimal("0.5", 1, 10, &v), -ERANGE);
    assert_int_equal(conf_parse_decimal("1000001", 1, 1e6, &v), -ERANGE);
    assert_int_equal(conf_parse_decimal("1e999", 0, 1e6, &v), -ERANGE);
    char longtext[64];
    memset(longtext, '1', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = 0;
    assert_int_equal(conf_parse_decimal(longtext, 0, 1e300, &v), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_sigv4),
        cmocka_unit_test(test_route_invoke),
        cmocka_unit_test(test_route_runtime),
        cmocka_unit_test(test_route_admin_and_junk),
        cmocka_unit_test(test_route_control),
        cmocka_unit_test(test_conf_parse_decimal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
