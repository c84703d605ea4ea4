/* test_cluster_config.c -- the cluster config parser (src/proxy/cluster.c): good files, every
 * malformed line it must refuse with the line's number, and slots left uncovered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster.h"

static cluster_map_t map;
static char err[512];

static int parse(const char *text)
{
    err[0] = 0;
    return cluster_parse(&map, text, strlen(text), err, sizeof err);
}

/* Refused, with a reason that contains want. */
static void refused(const char *text, const char *want)
{
    assert_int_equal(parse(text), -1);
    if (!strstr(err, want)) fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_good(void **state)
{
    (void)state;
    assert_int_equal(parse("# three proxies\n\n"
                           "proxy a 127.0.0.1:7001 SLOTS 0-5460\n"
                           "proxy b 127.0.0.1:7002 SLOTS 5461-10922\r\n"
                           "  proxy   c\tlocalhost:7003 slots 10923-16382 16383"),
                     0);
    assert_int_equal(map.nproxies, 3);
    assert_int_equal(map.self, -1);
    assert_int_equal(map.owner[0], 0);
    assert_int_equal(map.owner[5461], 1);
    assert_int_equal(map.owner[16383], 2);
    assert_string_equal(map.proxies[2].host, "localhost");
    assert_int_equal(map.proxies[2].port, 7003);
    /* The id is SHA-1 of the name: the same on every proxy. */
    assert_string_equal(map.proxies[0].id, "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8");
    assert_int_equal(cluster_find(&map, "b", 1), 1);
    assert_int_equal(cluster_find(&map, map.proxies[2].id, 40), 2);
    assert_int_equal(cluster_find(&map, "d", 1), -1);
    assert_int_equal(map.migrating[7], -1);
    assert_int_equal(map.importing[7], -1);
}

static void test_malformed(void **state)
{
    (void)state;
    refused("", "no proxy lines");
    refused("# nothing\n", "no proxy lines");
    refused("node a h:1 SLOTS 0-16383\n", "line 1: unknown directive 'node'");
    refused("proxy a h:1 SLOTS 0-16383\nproxy a h:2 SLOTS 0\n",
            "line 2: proxy 'a' is defined twice");
    refused("proxy a/b h:1 SLOTS 0-16383\n", "line 1: proxy name");
    refused("proxy\n", "line 1: proxy name");
    refused("proxy a h SLOTS 0-16383\n", "line 1: expected HOST:PORT");
    refused("proxy a h:0 SLOTS 0-16383\n", "expected HOST:PORT");
    refused("proxy a h:65536 SLOTS 0-16383\n", "expected HOST:PORT");
    refused("proxy a :1 SLOTS 0-16383\n", "expected HOST:PORT");
    refused("proxy a h:x SLOTS 0-16383\n", "expected HOST:PORT");
    refused("proxy a h:1 0-16383\n", "line 1: expected SLOTS");
    refused("proxy a h:1 SLOTS\n", "line 1: proxy 'a' has no slots");
    refused("proxy a h:1 SLOTS 0-16384\n", "line 1: bad slot range '0-16384'");
    refused("proxy a h:1 SLOTS 10-5\n", "bad slot range");
    refused("proxy a h:1 SLOTS -5\n", "bad slot range");
    refused("proxy a h:1 SLOTS 0-\n", "bad slot range");
    refused("proxy a h:1 SLOTS +1\n", "bad slot range");
    refused("proxy a h:1 SLOTS 0-16383\nproxy b h:2 SLOTS 100-200\n",
            "line 2: slot 100 is already owned by proxy 'a'");
    refused("proxy a h:1 SLOTS 0-100\n", "slots 101-16383 are owned by no proxy");
    refused("proxy a h:1 SLOTS 1-16383\n", "slots 0-0 are owned by no proxy");
    refused("proxy a h:1 SLOTS 0-100 200-16383\n", "slots 101-199");
    /* NUL bytes and lines too long are refused, not truncated. */
    assert_int_equal(cluster_parse(&map, "proxy a h:1 SLOTS 0-16383\0x", 27, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 1: NUL byte"));
    char *longline = malloc(CLUSTER_LINE_MAX + 64);
    memset(longline, ' ', CLUSTER_LINE_MAX + 10);
    strcpy(longline + CLUSTER_LINE_MAX + 10, "x\n");
    refused(longline, "line 1: longer than");
    free(longline);
}

static void test_limits(void **state)
{
    (void)state;
    /* CLUSTER_PROXIES_MAX proxies fit; one more is refused. */
    size_t cap = 64 * (CLUSTER_PROXIES_MAX + 2);
    char *text = malloc(cap);
    size_t off = 0;
    int per = SLOT_COUNT / CLUSTER_PROXIES_MAX;
    for (int i = 0; i < CLUSTER_PROXIES_MAX; i++)
        off += (size_t)snprintf(text + off, cap - off, "proxy p%d h:%d SLOTS %d-%d\n", i, 1000 + i,
                                i * per,
                                i == CLUSTER_PROXIES_MAX - 1 ? SLOT_COUNT - 1 : (i + 1) * per - 1);
    assert_int_equal(parse(text), 0);
    assert_int_equal(map.nproxies, CLUSTER_PROXIES_MAX);
    snprintf(text + off, cap - off, "proxy extra h:1 SLOTS 0\n");
    refused(text, "more than 64 proxies");
    free(text);
    /* A name at its limit, and one past it. */
    char line[256];
    snprintf(line, sizeof line, "proxy %0*d h:1 SLOTS 0-16383\n", CLUSTER_NAME_MAX, 0);
    assert_int_equal(parse(line), 0);
    snprintf(line, sizeof line, "proxy %0*d h:1 SLOTS 0-16383\n", CLUSTER_NAME_MAX + 1, 0);
    refused(line, "proxy name");
}

static void test_load(void **state)
{
    (void)state;
    char path[] = "/tmp/test_cluster_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text =
        "proxy a 127.0.0.1:7001 SLOTS 0-8191\nproxy b 127.0.0.1:7002 SLOTS 8192-16383\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    cluster_map_t *m = NULL;
    assert_int_equal(cluster_load(&m, path, "b", err, sizeof err), 0);
    assert_int_equal(m->self, 1);
    free(m);
    assert_int_equal(cluster_load(&m, path, "z", err, sizeof err), -1);
    assert_non_null(strstr(err, "no proxy named 'z'"));
    assert_int_equal(cluster_load(&m, path, "", err, sizeof err), -1);
    unlink(path);
    assert_int_equal(cluster_load(&m, path, "a", err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
