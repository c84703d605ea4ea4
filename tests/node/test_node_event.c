/* test_node_event.c -- invocation payload decoding. */
#include <errno.h>
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

static void test_tls_field(void **state)
{
    node_event_t ev;
    char err[200];
    assert_int_equal(parse("{\"cmd\":\"activate\",\"node_id\":1,\"proxy\":\"h:1\"}", &ev, err), 0);
    assert_int_equal(ev.tls, 0);
    assert_int_equal(
        parse("{\"cmd\":\"activate\",\"node_id\":1,\"proxy\":\"h:1\",\"tls\":true}", &ev, err), 0);
    assert_int_equal(ev.tls, 1);
    assert_int_equal(
        parse("{\"cmd\":\"backup\",\"node_id\":1,\"proxy\":\"h:1\",\"tls\":false}", &ev, err), 0);
    assert_int_equal(ev.tls, 0);
    /* Only a boolean: a string or number would let a typo turn verification off. */
    assert_int_equal(
        parse("{\"cmd\":\"activate\",\"node_id\":1,\"proxy\":\"h:1\",\"tls\":\"yes\"}", &ev, err),
        -EINVAL);
    assert_non_null(strstr(err, "tls"));
    assert_int_equal(
        parse("{\"cmd\":\"activate\",\"node_id\":1,\"proxy\":\"h:1\",\"tls\":1}", &ev, err),
        -EINVAL);
}

/* The takeover epoch (docs/STANDBY.md): absent is 0; only a non-negative integer JSON numbers
 * hold exactly. */
static void test_epoch_field(void **state)
{
    node_event_t ev;
    char err[200];
    assert_int_equal(parse("{\"cmd\":\"activate\",\"node_id\":1,\"proxy\":\"h:1\"}", &ev, err), 0);
    assert_true(ev.epoch == 0);
    assert_int_equal(parse("{\"cmd\":\"activate\",\"node_id\":1,\"proxy\":\"h:1\","
                           "\"epoch\":1764892800123}",
                           &ev, err),
                     0);
    assert_true(ev.epoch == 1764892800123LL);
    assert_int_equal(parse("{\"cmd\":\"warmup\",\"epoch\":9007199254740991}", &ev, err), 0);
    assert_true(ev.epoch == 9007199254740991LL);
    const char *bad[] = {
        "{\"cmd\":\"activate\",\"node_id\":1,\"proxy\":\"h:1\",\"epoch\":-1}",
        "{\"cmd\":\"activate\",\"node_id\":1,\"proxy\":\"h:1\",\"epoch\":1.5}",
        "{\"cmd\":\"activate\",\"node_id\":1,\"proxy\":\"h:1\",\"epoch\":\"7\"}",
        "{\"cmd\":\"activate\",\"node_id\":1,\"proxy\":\"h:1\",\"epoch\":1e300}",
        "{\"cmd\":\"backup-peer\",\"node_id\":1,\"relay\":\"h:1\",\"token\":\"t\",\"epoch\":null}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(bad[i], &ev, err), -EINVAL);
        assert_non_null(strstr(err, "epoch"));
    }
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

static void test_backup(void **state)
{
    node_event_t ev;
    char err[200];
    /* "backup" is an activate the proxy bills apart; it needs what activate needs. */
    assert_int_equal(parse("{\"cmd\":\"backup\",\"node_id\":2,\"proxy\":\"h:9\"}", &ev, err), 0);
    assert_int_equal(ev.cmd, NODE_EVENT_BACKUP);
    assert_string_equal(ev.proxy_host, "h");
    assert_int_equal(parse("{\"cmd\":\"backup\",\"node_id\":2}", &ev, err), -EINVAL);
    /* "backup-peer": relay and token, no proxy needed. */
    assert_int_equal(parse("{\"cmd\":\"backup-peer\",\"node_id\":5,\"relay\":\"127.0.0.1:6389\","
                           "\"token\":\"9f2c01ab\"}",
                           &ev, err),
                     0);
    assert_int_equal(ev.cmd, NODE_EVENT_BACKUP_PEER);
    assert_int_equal(ev.node_id, 5);
    assert_string_equal(ev.relay_host, "127.0.0.1");
    assert_int_equal(ev.relay_port, 6389);
    assert_string_equal(ev.token, "9f2c01ab");
    assert_string_equal(ev.proxy_host, "");
    char tok[200] = "{\"cmd\":\"backup-peer\",\"node_id\":5,\"relay\":\"h:1\",\"token\":\"";
    size_t n = strlen(tok);
    memset(tok + n, 't', 128);
    strcpy(tok + n + 128, "\"}");
    assert_int_equal(parse(tok, &ev, err), 0); /* 128 characters: the limit */
    assert_int_equal(strlen(ev.token), 128);
    strcpy(tok + n + 128, "t\"}");
    assert_int_equal(parse(tok, &ev, err), -EINVAL);
    static const char *bad[] = {
        "{\"cmd\":\"backup-peer\",\"relay\":\"h:1\",\"token\":\"t\"}",
        "{\"cmd\":\"backup-peer\",\"node_id\":1,\"token\":\"t\"}",
        "{\"cmd\":\"backup-peer\",\"node_id\":1,\"relay\":\"h:1\"}",
        "{\"cmd\":\"backup-peer\",\"node_id\":1,\"relay\":\"h\",\"token\":\"t\"}",
        "{\"cmd\":\"backup-peer\",\"node_id\":1,\"relay\":\"h:0\",\"token\":\"t\"}",
        "{\"cmd\":\"backup-peer\",\"node_id\":1,\"relay\":1,\"token\":\"t\"}",
        "{\"cmd\":\"backup-peer\",\"node_id\":1,\"relay\":\"h:1\",\"token\":\"\"}",
        "{\"cmd\":\"backup-peer\",\"node_id\":1,\"relay\":\"h:1\",\"token\":\"a b\"}",
        "{\"cmd\":\"backup-peer\",\"node_id\":1,\"relay\":\"h:1\",\"token\":\"a\\\"b\"}",
        "{\"cmd\":\"backup-peer\",\"node_id\":1,\"relay\":\"h:1\",\"token\":\"\\u00e9\"}",
        "{\"cmd\":\"backup-peer\",\"node_id\":1,\"relay\":\"h:1\",\"token\":7}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        if (parse(bad[i], &ev, err) != -EINVAL) fail_msg("accepted: %s", bad[i]);
        assert_true(err[0] != 0);
    }
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
        cmocka_unit_test(test_activate),  cmocka_unit_test(test_warmup),
        cmocka_unit_test(test_tls_field), cmocka_unit_test(test_epoch_field),
        cmocka_unit_test(test_backup),    cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
