/* test_node_event.c -- invocation payload decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"

static int parse(const char *s, node_event_t *ev, char *err)
{
    return node_event_parse(s, strlen(s), ev, err, 200);
}

static void test_activate(void **state)
{
    node_event_t ev;
    char err[200];
    assert_int_equal(parse("{\"cmd\":\"activate\",\"node_id\":3,\"proxy\":\"127.0.0.1:6388\","
                           "\"extra\":[1,2]}",
                           &ev, err),
                     0);
    assert_int_equal(ev.cmd, NODE_EVENT_ACTIVATE);
    assert_int_equal(ev.node_id, 3);
    assert_string_equal(ev.proxy_host, "127.0.0.1");
    assert_int_equal(ev.proxy_port, 6388);
    assert_int_equal(parse("{\"cmd\":\"activate\",\"node_id\":0,\"proxy\":\"[::1]:1\"}", &ev, err),
                     0);
    assert_string_equal(ev.proxy_host, "::1");
}

static void test_warmup(void **state)
{
    node_event_t ev;
    char err[200];
    assert_int_equal(parse("{\"cmd\":\"warmup\"}", &ev, err), 0);
    assert_int_equal(ev.cmd, NODE_EVENT_WARMUP);
    assert_int_equal(parse("{\"cmd\":\"warmup\",\"node_id\":7,\"proxy\":\"h:1\"}", &ev, err), 0);
    assert_int_equal(ev.node_id, 7);
}

static void test_bad(void **state)
{
    static const char *bad[] = {
        "",
        "not json",
        "[1,2]",
        "\"activate\"",
        "{}",
        "{\"cmd\":1}",
        "{\"cmd\":\"migrate\"}",
        "{\"cmd\":\"activate\",\"proxy\":\"h:1\"}",
        "{\"cmd\":\"activate\",\"node_id\":3}",
        "{\"cmd\":\"activate\",\"node_id\":-1,\"proxy\":\"h:1\"}",
        "{\"cmd\":\"activate\",\"node_id\":1.5,\"proxy\":\"h:1\"}",
        "{\"cmd\":\"activate\",\"node_id\":\"3\",\"proxy\":\"h:1\"}",
        "{\"cmd\":\"activate\",\"node_id\":1e20,\"proxy\":\"h:1\"}",
        "{\"cmd\":\"activate\",\"node_id\":3,\"proxy\":\"nocolon\"}",
        "{\"cmd\":\"activate\",\"node_id\":3,\"proxy\":\"h:0\"}",
        "{\"cmd\":\"activate\",\"node_id\":3,\"proxy\":\"h:99999\"}",
        "{\"cmd\":\"activate\",\"node_id\":3,\"proxy\":\":80\"}",
        "{\"cmd\":\"activate\",\"node_id\":3,\"proxy\":5}",
        "{\"cmd\":\"warmup\",\"node_id\":-4}",
        "{\"cmd\":\"activate\",\"node_id\":3,\"proxy\":\"h:1\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        node_event_t ev;
        char err[200] = "";
        if (parse(bad[i], &ev, err) == 0) fail_msg("case %zu accepted: %s", i, bad[i]);
        assert_true(strlen(err) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activate),
        cmocka_unit_test(test_warmup),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
