/* test_prices.c -- the price files: the shipped sets load with the values the docs quote, names
 * resolve from $IC_PRICES_DIR and the source tree, and malformed files are refused with the file
 * and key named (unknown and repeated keys, wrong units, values out of range, bad dates and
 * sources, truncations at every length, size limits). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "prices.h"

#define NEAR(a, b) assert_true(fabs_((a) - (b)) <= 1e-12 * (1 + fabs_(b)))

static double fabs_(double x)
{
    return x < 0 ? -x : x;
}

#define PRICE(v, unit)                                                                             \
    "{\"value\": " v ", \"unit\": \"" unit "\", \"recorded\": \"2026-12-05\", \"source\": "        \
    "\"https://aws.amazon.com/x/\", \"checked\": \"knowledge\"}"

/* The smallest complete file, and a few optional sections; the tests below break it. */
static const char
    minimal[] =
        "{\"format\": \"infinicache-prices 1\", \"name\": \"mini\", \"region\": \"us-east-1\", "
        "\"currency\": \"USD\", \"recorded\": \"2026-12-05\",\n"
        "\"lambda\": {\"billing_ms\": " PRICE(
            "1",
            "ms") ",\n"
                  "  \"x86_64\": {\"gb_second\": " PRICE(
                      "0.0000166667",
                      "USD per GB-second") ",\n"
                                           "             \"requests\": " PRICE(
                                               "0.20",
                                               "USD per million requests") "}},\n"
                                                                           "\"elasticache_"
                                                                           "serverless\": "
                                                                           "{\"valkey\": "
                                                                           "{\"data_stored\":"
                                                                           " " PRICE("0.084", "USD "
                                                                                              "per "
                                                                                              "GB-"
                                                                                              "hou"
                                                                                              "r") ", \"ecpu\": " PRICE("0.0023", "USD per million ECPUs") ", \"minimum_data\": " PRICE(
                                                                               "0.1",
                                                                               "GB") ", "
                                                                                     "\"maximum_"
                                                                                     "data\":"
                                                                                     " " PRICE("500"
                                                                                               "0",
                                                                                               "GB") "}},\n"
                                                                                                     "\"elasticache_nodes\": [{\"type\": \"cache.r6g.large\", \"engine\": \"redis\", "
                                                                                                     "\"memory_gib\": 13.07, \"price\": " PRICE(
                                                                                                         "0.206",
                                                                                                         "USD per node-hour") "}],\n"
                                                                                                                              "\"ec2_instances\": [{\"type\": \"c5n.large\", \"arch\": \"x86_64\", \"baseline_gbps\": 3, "
                                                                                                                              "\"burst_gbps\": 25, \"price\": " PRICE(
                                                                                                                                  "0.108",
                                                                                                                                  "USD per instance-hour") "}]}\n";

/* minimal with the first occurrence of from replaced by to (the caller frees). */
static char *edit(const char *from, const char *to)
{
    const char *at = strstr(minimal, from);
    assert_non_null(at);
    size_t head = (size_t)(at - minimal), fl = strlen(from), tl = strlen(to);
    char *out = malloc(sizeof minimal + tl);
    assert_non_null(out);
    memcpy(out, minimal, head);
    memcpy(out + head, to, tl);
    strcpy(out + head + tl, at + fl);
    return out;
}

/* The edited file must be refused with an error containing want (and the origin). */
static void refused(const char *from, const char *to, const char *want)
{
    char *text = edit(from, to);
    price_set_t s;
    char err[512] = "";
    int rc = prices_parse(text, strlen(text), "mini.json", &s, err, sizeof err);
    if (rc != -1 || !strstr(err, want) || strncmp(err, "mini.json: ", 11))
        fail_msg("'%s' -> '%s': rc %d, err '%s', wanted '%s'", from, to, rc, err, want);
    free(text);
}

static void test_minimal(void **state)
{
    (void)state;
    price_set_t s;
    char err[512] = "";
    int rc = prices_parse(minimal, strlen(minimal), "mini.json", &s, err, sizeof err);
    if (rc) fail_msg("%s", err);
    assert_string_equal(s.name, "mini");
    assert_string_equal(s.region, "us-east-1");
    assert_string_equal(s.recorded, "2026-12-05");
    NEAR(s.lambda_billing_ms.value, 1);
    assert_true(s.lambda[PRICE_ARCH_X86_64].present);
    assert_false(s.lambda[PRICE_ARCH_ARM64].present);
    NEAR(s.lambda[PRICE_ARCH_X86_64].usd_per_gb_second.value, 0.0000166667);
    assert_int_equal(s.lambda[PRICE_ARCH_X86_64].usd_per_gb_second.checked,
                     PRICE_CHECKED_KNOWLEDGE);
    assert_false(s.s3_standard.present);
    assert_false(s.s3_express.present);
    assert_false(s.serverless[PRICE_ENGINE_REDIS].present);
    assert_true(s.serverless[PRICE_ENGINE_VALKEY].present);
    NEAR(s.serverless[PRICE_ENGINE_VALKEY].minimum_gb.value, 0.1);
    assert_int_equal(s.nnodes, 1);
    assert_int_equal(s.nodes[0].engine, PRICE_ENGINE_REDIS);
    NEAR(s.nodes[0].memory_gib, 13.07);
    assert_int_equal(s.ninstances, 1);
    NEAR(s.instances[0].baseline_gbps, 3);
    NEAR(s.instances[0].usd_per_hour.value, 0.108);
}

static void test_malformed(void **state)
{
    (void)state;
    /* Keys: unknown, repeated, missing. */
    refused("\"currency\"", "\"colour\": 1, \"currency\"", ": unknown key \"colour\"");
    refused("\"requests\": {\"value\": 0.20,", "\"requests\": {\"value\": 0.20, \"vat\": 1,",
            "lambda.x86_64.requests: unknown key \"vat\"");
    refused("\"currency\"", "\"name\": \"again\", \"currency\"", "\"name\" appears twice");
    refused("\"x86_64\"", "\"arm65\"", "lambda: unknown key \"arm65\"");
    refused("\"x86_64\"", "\"arm64\"", "lambda.x86_64: missing");
    refused("\"billing_ms\"", "\"billing\"", "unknown key \"billing\"");
    refused("\"ec2_instances\"", "\"ec2\"", "unknown key \"ec2\"");
    refused("\"memory_gib\": 13.07, ", "",
            "elasticache_nodes[0] (cache.r6g.large).memory_gib: "
            "missing");
    refused("\"ecpu\"", "\"ecpus\"", "elasticache_serverless.valkey: unknown key \"ecpus\"");
    refused("\"source\": \"https://aws.amazon.com/x/\", \"checked\": \"knowledge\"}",
            "\"checked\": \"knowledge\"}", "lambda.billing_ms.source: missing");
    /* Units and ranges. */
    refused("\"USD per GB-second\"", "\"USD per GB-hour\"",
            "lambda.x86_64.gb_second: unit \"USD per GB-hour\"; this price is in \"USD per "
            "GB-second\"");
    refused("0.0000166667", "16.6667", "lambda.x86_64.gb_second.value: 16.6667 is outside");
    refused("0.0000166667", "-0.0000166667", "is outside");
    refused("0.0000166667", "\"0.0000166667\"", "gb_second.value: not a number");
    refused("\"value\": 1,", "\"value\": 1e999,", "is outside");
    refused("13.07", "0", "memory_gib: 0 is outside");
    refused("\"burst_gbps\": 25", "\"burst_gbps\": 2", "burst_gbps 2 is below baseline_gbps 3");
    refused("\"value\": 0.1,", "\"value\": 6000,", "minimum_data.value: 6000 is outside");
    /* Dates, sources, how it was checked, names. */
    refused("\"recorded\": \"2026-12-05\", \"source\"", "\"recorded\": \"2026-13-05\", \"source\"",
            "lambda.billing_ms.recorded: \"2026-13-05\" is not a date");
    refused("\"recorded\": \"2026-12-05\",\n", "\"recorded\": \"yesterday\",\n", "not a date");
    refused("https://aws.amazon.com/x/", "http://aws.amazon.com/x/", "is not an https:// address");
    refused("\"knowledge\"", "\"rumour\"", "checked \"rumour\"");
    refused("\"cache.r6g.large\"", "\"Cache R6G\"", "only a-z");
    refused("\"engine\": \"redis\"", "\"engine\": \"memcached\"", "engine \"memcached\"");
    refused("\"arch\": \"x86_64\"", "\"arch\": \"sparc\"", "arch \"sparc\"");
    refused("\"USD\"", "\"EUR\"", "currency: \"EUR\": only USD");
    refused("infinicache-prices 1", "infinicache-prices 2", "format: \"infinicache-prices 2\"");
    refused("\"name\": \"mini\"", "\"name\": \"\"", "name: 0 bytes");
    /* Tables. */
    refused("[{\"type\": \"cache.r6g.large\", \"engine\": \"redis\", \"memory_gib\": 13.07, "
            "\"price\": " PRICE("0.206", "USD per node-hour") "}]",
            "[]", "elasticache_nodes: no node types");
    refused("[{\"type\": \"cache.r6g.large\", \"engine\": \"redis\", \"memory_gib\": 13.07, "
            "\"price\": " PRICE("0.206", "USD per node-hour") "}]",
            "{\"a\": 1}", "elasticache_nodes: not an array");
    refused("}],\n\"ec2_instances\"",
            "}, {\"type\": \"cache.r6g.large\", \"engine\": \"redis\", \"memory_gib\": 1, "
            "\"price\": " PRICE("0.2", "USD per node-hour") "}],\n\"ec2_instances\"",
            "elasticache_nodes[1] (cache.r6g.large): listed twice");
    /* Not JSON: the line is named. */
    refused("\"ec2_instances\": [", "\"ec2_instances\": [,", "not valid JSON (line 7");
}

static void test_limits(void **state)
{
    (void)state;
    price_set_t s;
    char err[512];
    /* Every truncation is refused (and ASan checks nothing reads past the end). */
    size_t n = strlen(minimal);
    for (size_t len = 0; len + 1 < n; len++) {
        char *t = malloc(len ? len : 1);
        memcpy(t, minimal, len);
        assert_int_equal(prices_parse(t, len, "cut.json", &s, err, sizeof err), -1);
        assert_non_null(strstr(err, "cut.json"));
        free(t);
    }
    /* A 0 byte inside, and a file over the size limit. */
    char *z = strdup(minimal);
    z[100] = 0;
    assert_int_equal(prices_parse(z, n, "z.json", &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "0 byte"));
    free(z);
    char *big = malloc(PRICES_FILE_MAX + 2);
    memset(big, ' ', PRICES_FILE_MAX + 2);
    memcpy(big, minimal, n);
    assert_int_equal(prices_parse(big, PRICES_FILE_MAX + 1, "big.json", &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "at most"));
    /* The same through a file: the limit is checked before parsing. */
    char path[] = "/tmp/test_prices_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, big, PRICES_FILE_MAX + 1), PRICES_FILE_MAX + 1);
    close(fd);
    assert_int_equal(prices_load_file(path, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "larger than"));
    /* Exactly at the limit (the file padded with spaces) still loads. */
    assert_int_equal(truncate(path, PRICES_FILE_MAX), 0);
    if (prices_load_file(path, &s, err, sizeof err)) fail_msg("%s", err);
    unlink(path);
    free(big);
    /* Too many node types. */
    size_t cap = 300000, len = 0;
    char *many = malloc(cap);
    len += (size_t)snprintf(many + len, cap - len, "%.*s", (int)(strstr(minimal, "[{") - minimal),
                            minimal);
    len += (size_t)snprintf(many + len, cap - len, "[");
    for (int i = 0; i <= PRICES_NODES_MAX; i++)
        len += (size_t)snprintf(many + len, cap - len,
                                "%s{\"type\": \"n%d\", \"engine\": \"redis\", \"memory_gib\": 1, "
                                "\"price\": " PRICE("0.2", "USD per node-hour") "}",
                                i ? "," : "", i);
    snprintf(many + len, cap - len, "%s", strstr(minimal, "],\n\"ec2_instances\""));
    assert_int_equal(prices_parse(many, strlen(many), "many.json", &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than 128 node types"));
    free(many);
    assert_int_equal(prices_load_file("/nonexistent/prices.json", &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/prices.json"));
}

static void test_shipped(void **state)
{
    (void)state;
    price_set_t s;
    char err[512] = "";
    char path[512];
    /* By name: found in the source tree from a build directory. */
    unsetenv("IC_PRICES_DIR");
    if (prices_load("current", &s, err, sizeof err)) fail_msg("%s", err);
    assert_string_equal(s.name, "current");
    NEAR(s.lambda_billing_ms.value, 1);
    NEAR(s.lambda[PRICE_ARCH_X86_64].usd_per_gb_second.value, 0.0000166667);
    NEAR(s.lambda[PRICE_ARCH_ARM64].usd_per_gb_second.value, 0.0000133334);
    NEAR(s.lambda[PRICE_ARCH_ARM64].usd_per_million_requests.value, 0.20);
    NEAR(s.s3_standard.put_usd_per_thousand.value, 0.005);
    NEAR(s.s3_express.storage_usd_per_gb_month.value, 0.11);
    NEAR(s.s3_express.upload_usd_per_gb.value, 0.0032);
    NEAR(s.serverless[PRICE_ENGINE_REDIS].data_usd_per_gb_hour.value, 0.125);
    NEAR(s.serverless[PRICE_ENGINE_REDIS].minimum_gb.value, 1);
    NEAR(s.serverless[PRICE_ENGINE_VALKEY].usd_per_million_ecpu.value, 0.0023);
    int r5 = 0, valkey = 0, c7gn = 0;
    for (size_t i = 0; i < s.nnodes; i++) {
        r5 += !strcmp(s.nodes[i].type, "cache.r5.24xlarge");
        valkey += s.nodes[i].engine == PRICE_ENGINE_VALKEY;
    }
    for (size_t i = 0; i < s.ninstances; i++)
        c7gn += !strncmp(s.instances[i].type, "c7gn.", 5);
    assert_int_equal(r5, 1);
    assert_true(valkey > 0 && c7gn > 0);

    if (prices_load("2020", &s, err, sizeof err)) fail_msg("%s", err);
    NEAR(s.lambda_billing_ms.value, 100);
    assert_false(s.lambda[PRICE_ARCH_ARM64].present);
    assert_false(s.s3_express.present);
    assert_false(s.serverless[PRICE_ENGINE_REDIS].present);
    assert_int_equal(s.lambda[PRICE_ARCH_X86_64].usd_per_gb_second.checked, PRICE_CHECKED_PAPER);
    assert_string_equal(s.nodes[s.nnodes - 1].type, "cache.r5.24xlarge");
    NEAR(s.nodes[s.nnodes - 1].usd_per_hour.value, 10.368);

    /* A path is taken as it is; $IC_PRICES_DIR comes first for names. */
    assert_int_equal(
        prices_resolve(IC_PRICES_SOURCE "/2020.json", path, sizeof path, err, sizeof err), 0);
    assert_string_equal(path, IC_PRICES_SOURCE "/2020.json");
    assert_int_equal(prices_resolve("mine.json", path, sizeof path, err, sizeof err), 0);
    assert_string_equal(path, "mine.json");
    char dir[] = "/tmp/test_prices_dir_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[600];
    snprintf(file, sizeof file, "%s/current.json", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(minimal, f);
    fclose(f);
    setenv("IC_PRICES_DIR", dir, 1);
    if (prices_load("current", &s, err, sizeof err)) fail_msg("%s", err);
    assert_string_equal(s.name, "mini");
    /* A name found nowhere lists where it looked. */
    assert_int_equal(prices_load("1999", &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "no set '1999'"));
    assert_non_null(strstr(err, dir));
    unsetenv("IC_PRICES_DIR");
    unlink(file);
    rmdir(dir);
    assert_int_equal(prices_resolve("Current!", path, sizeof path, err, sizeof err), -1);
    assert_non_null(strstr(err, "neither"));
    assert_int_equal(prices_resolve("", path, sizeof path, err, sizeof err), -1);

    assert_string_equal(price_arch_name(PRICE_ARCH_ARM64), "arm64");
    assert_int_equal(price_arch_parse("x86_64"), PRICE_ARCH_X86_64);
    assert_int_equal(price_arch_parse("ppc"), -1);
    assert_string_equal(price_engine_title(PRICE_ENGINE_VALKEY), "Valkey");
    assert_string_equal(price_checked_name(PRICE_CHECKED_STORED_THIRD_PARTY), "stored-third-party");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_shipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
