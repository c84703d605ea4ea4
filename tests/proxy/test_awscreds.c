/* test_awscreds.c -- the pure half of the AWS credential provider: profiles in the shared
 * files, credential_process and IMDS JSON, expiry times, the container URI rule, and refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "awscreds_parse.h"

static int lookup(const char *text, const char *section, const char *key, char *out, size_t cap)
{
    return awscreds_ini_lookup(text, strlen(text), section, key, out, cap);
}

static const char credentials_file[] = "# a comment\n"
                                       "[default]\n"
                                       "aws_access_key_id = AKIDDEFAULT\n"
                                       "aws_secret_access_key=secretdefault\n"
                                       "\n"
                                       "[work]\r\n"
                                       "  ; indented comment\r\n"
                                       "AWS_ACCESS_KEY_ID =  AKIDWORK  \r\n"
                                       "aws_secret_access_key = secret=with=equals\r\n"
                                       "aws_session_token = tokenwork\r\n"
                                       "[empty]\n";

static const char config_file[] = "[default]\n"
                                  "region = us-east-1\n"
                                  "[profile   work]\n"
                                  "region = eu-west-3\n"
                                  "s3 =\n"
                                  "  region = not-this-one\n"
                                  "[profile tool]\n"
                                  "credential_process = /usr/bin/get-keys --role x\n"
                                  "[work]\n"
                                  "region = wrong-section\n";

static void test_ini_profiles(void **state)
{
    (void)state;
    char v[64];
    assert_int_equal(lookup(credentials_file, "default", "aws_access_key_id", v, sizeof v), 1);
    assert_string_equal(v, "AKIDDEFAULT");
    assert_int_equal(lookup(credentials_file, "default", "aws_secret_access_key", v, sizeof v), 1);
    assert_string_equal(v, "secretdefault");
    assert_int_equal(lookup(credentials_file, "default", "aws_session_token", v, sizeof v), 0);
    /* Key names without case, values trimmed, '=' inside a value kept, CRLF lines. */
    assert_int_equal(lookup(credentials_file, "work", "aws_access_key_id", v, sizeof v), 1);
    assert_string_equal(v, "AKIDWORK");
    assert_int_equal(lookup(credentials_file, "work", "aws_secret_access_key", v, sizeof v), 1);
    assert_string_equal(v, "secret=with=equals");
    assert_int_equal(lookup(credentials_file, "work", "aws_session_token", v, sizeof v), 1);
    assert_string_equal(v, "tokenwork");
    assert_int_equal(lookup(credentials_file, "nosuch", "aws_access_key_id", v, sizeof v), 0);
    assert_true(awscreds_ini_has_section(credentials_file, strlen(credentials_file), "empty"));
    assert_false(awscreds_ini_has_section(credentials_file, strlen(credentials_file), "nosuch"));
    /* The config file names profiles `[profile NAME]`, except default. */
    assert_int_equal(lookup(config_file, "default", "region", v, sizeof v), 1);
    assert_string_equal(v, "us-east-1");
    assert_int_equal(lookup(config_file, "profile work", "region", v, sizeof v), 1);
    assert_string_equal(v, "eu-west-3"); /* not the indented s3 one, nor [work]'s */
    assert_int_equal(lookup(config_file, "profile tool", "credential_process", v, sizeof v), 1);
    assert_string_equal(v, "/usr/bin/get-keys --role x");
    assert_int_equal(lookup(config_file, "work", "region", v, sizeof v), 1);
    assert_string_equal(v, "wrong-section");
}

static void test_ini_malformed(void **state)
{
    (void)state;
    char v[8];
    assert_int_equal(lookup("[default\nkey = a\n", "default", "key", v, sizeof v), 0);
    assert_int_equal(lookup("key = before any section\n", "default", "key", v, sizeof v), 0);
    assert_int_equal(lookup("[default]\nno equals sign\nkey\n", "default", "key", v, sizeof v), 0);
    assert_int_equal(lookup("[default]\nkey = 0123456789\n", "default", "key", v, sizeof v),
                     -E2BIG);
    assert_int_equal(lookup("[default]\nkey =\n", "default", "key", v, sizeof v), 1);
    assert_string_equal(v, "");
    assert_int_equal(lookup("[default]\nkey = a", "default", "key", v, sizeof v), 1); /* no \n */
    assert_string_equal(v, "a");
    char *huge = calloc(AWSCREDS_FILE_MAX + 2, 1);
    assert_non_null(huge);
    memset(huge, '#', AWSCREDS_FILE_MAX + 1);
    assert_int_equal(awscreds_ini_lookup(huge, AWSCREDS_FILE_MAX + 1, "default", "k", v, sizeof v),
                     -EINVAL);
    free(huge);
}

static int parse_json(const char *text, awscreds_t *c, char *err)
{
    return awscreds_parse_json(text, strlen(text), c, err, 200);
}

static void test_json_process(void **state)
{
    (void)state;
    awscreds_t c;
    char err[200];
    assert_int_equal(parse_json("{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", "
                                "\"SecretAccessKey\": \"s/ecret+\", \"SessionToken\": \"tok==\", "
                                "\"Expiration\": \"2026-12-05T03:00:00Z\"}",
                                &c, err),
                     0);
    assert_string_equal(c.access_key_id, "AKIDPROC");
    assert_string_equal(c.secret_access_key, "s/ecret+");
    assert_string_equal(c.session_token, "tok==");
    assert_int_equal(c.expires_ms, 1796439600000LL);
    /* Long-term keys: no token, no expiry. */
    assert_int_equal(
        parse_json("{\"Version\":1,\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"s\"}", &c, err),
        0);
    assert_string_equal(c.session_token, "");
    assert_int_equal(c.expires_ms, 0);
}

static void test_json_imds(void **state)
{
    (void)state;
    awscreds_t c;
    char err[200];
    assert_int_equal(parse_json("{\"Code\":\"Success\",\"LastUpdated\":\"2026-12-05T02:00:00Z\","
                                "\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIAIMDS\","
                                "\"SecretAccessKey\":\"sec\",\"Token\":\"imdstoken\","
                                "\"Expiration\":\"2026-12-05T08:00:00.250+01:00\"}",
                                &c, err),
                     0);
    assert_string_equal(c.session_token, "imdstoken");
    assert_int_equal(c.expires_ms, 1796439600250LL + 4 * 3600 * 1000LL);
}

static void expect_json_refused(const char *text, const char *needle)
{
    awscreds_t c;
    char err[200] = "";
    assert_int_equal(parse_json(text, &c, err), -EINVAL);
    if (!strstr(err, needle)) fail_msg("'%s' does not say '%s'", err, needle);
    assert_string_equal(c.secret_access_key, ""); /* wiped */
}

static void test_json_refused(void **state)
{
    (void)state;
    expect_json_refused("", "not a JSON object");
    expect_json_refused("[1]", "not a JSON object");
    expect_json_refused("{\"AccessKeyId\":\"A\"", "not a JSON object");
    expect_json_refused("{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}",
                        "Version");
    expect_json_refused("{\"Code\":\"Failure\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}",
                        "Code");
    expect_json_refused("{\"SecretAccessKey\":\"s\"}", "AccessKeyId is missing");
    expect_json_refused("{\"AccessKeyId\":\"A\"}", "SecretAccessKey is missing");
    expect_json_refused("{\"AccessKeyId\":\"\",\"SecretAccessKey\":\"s\"}", "empty");
    expect_json_refused("{\"AccessKeyId\":7,\"SecretAccessKey\":\"s\"}", "not a string");
    expect_json_refused("{\"AccessKeyId\":\"A:B\",\"SecretAccessKey\":\"s\"}", "letters");
    expect_json_refused("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s s\"}", "unprintable");
    expect_json_refused(
        "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Token\":\"a\\r\\nX: y\"}",
        "unprintable");
    expect_json_refused("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Expiration\":\"soon\"}",
                        "Expiration");
    char big[AWSCREDS_SECRET_MAX + 64];
    memset(big, 'x', sizeof big);
    char doc[sizeof big + 80];
    snprintf(doc, sizeof doc, "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"%.*s\"}",
             (int)sizeof big, big);
    expect_json_refused(doc, "too long");
    char *huge = malloc(AWSCREDS_BODY_MAX + 2);
    assert_non_null(huge);
    memset(huge, ' ', AWSCREDS_BODY_MAX + 1);
    huge[AWSCREDS_BODY_MAX + 1] = 0;
    expect_json_refused(huge, "limit");
    free(huge);
}

static void test_keys_check(void **state)
{
    (void)state;
    awscreds_t k = {.access_key_id = "AKID", .secret_access_key = "s/x+y=", .session_token = ""};
    char err[200];
    assert_int_equal(awscreds_keys_check(&k, err, sizeof err), 0);
    snprintf(k.session_token, sizeof k.session_token, "tok\r\nX-Injected: 1");
    assert_int_equal(awscreds_keys_check(&k, err, sizeof err), -EINVAL);
    k.session_token[0] = 0;
    snprintf(k.access_key_id, sizeof k.access_key_id, "AK:ID");
    assert_int_equal(awscreds_keys_check(&k, err, sizeof err), -EINVAL);
    k.access_key_id[0] = 0;
    assert_int_equal(awscreds_keys_check(&k, err, sizeof err), -EINVAL);
    assert_null(strstr(err, "s/x+y=")); /* the reason never quotes a key */
}

static void test_time(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(awscreds_parse_time("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(awscreds_parse_time("2026-12-05T03:00:00Z", &ms), 0);
    assert_int_equal(ms, 1796439600000LL);
    assert_int_equal(awscreds_parse_time("2026-12-05T03:00:00.5Z", &ms), 0);
    assert_int_equal(ms, 1796439600500LL);
    assert_int_equal(awscreds_parse_time("2026-12-05T03:00:00.123456789Z", &ms), 0);
    assert_int_equal(ms, 1796439600123LL);
    assert_int_equal(awscreds_parse_time("2026-12-05T03:00:00-0130", &ms), 0);
    assert_int_equal(ms, 1796439600000LL + 90 * 60 * 1000LL);
    const char *bad[] = {"",
                         "2026-12-05",
                         "2026-12-05T03:00:00",
                         "2026-13-05T03:00:00Z",
                         "2026-12-05T24:00:00Z",
                         "2026-12-05T03:00:00ZZ",
                         "2026-12-05T03:00:00.Z",
                         "1969-12-31T23:59:59Z",
                         "2026-12-05T03:00:00+25:00",
                         "x026-12-05T03:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (awscreds_parse_time(bad[i], &ms) != -EINVAL) fail_msg("accepted '%s'", bad[i]);
}

static void test_full_uri_and_addresses(void **state)
{
    (void)state;
    assert_true(awscreds_full_uri_allowed("https://creds.example.com/get"));
    assert_true(awscreds_full_uri_allowed("http://127.0.0.1:8080/creds"));
    assert_true(awscreds_full_uri_allowed("http://localhost/creds"));
    assert_true(awscreds_full_uri_allowed("http://[::1]:99/creds"));
    assert_true(awscreds_full_uri_allowed("http://169.254.170.2/v2/credentials"));
    assert_true(awscreds_full_uri_allowed("http://169.254.170.23/v1/credentials"));
    assert_false(awscreds_full_uri_allowed("http://10.0.0.1/creds"));
    assert_false(awscreds_full_uri_allowed("http://127.0.0.1.evil.example/creds"));
    assert_false(awscreds_full_uri_allowed("http://localhost.evil.example/"));
    assert_false(awscreds_full_uri_allowed("ftp://127.0.0.1/"));
    assert_false(awscreds_full_uri_allowed("https://"));
    assert_true(awscreds_is_ipv4("10.0.12.34"));
    assert_false(awscreds_is_ipv4("10.0.12"));
    assert_false(awscreds_is_ipv4("10.0.12.256"));
    assert_false(awscreds_is_ipv4("10.0.12.3\n"));
    assert_false(awscreds_is_ipv4("a.b.c.d"));
    assert_true(awscreds_region_valid("us-east-1"));
    assert_false(awscreds_region_valid(""));
    assert_false(awscreds_region_valid("us-east-1:x"));
    assert_false(awscreds_region_valid("US-EAST-1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ini_profiles),           cmocka_unit_test(test_ini_malformed),
        cmocka_unit_test(test_json_process),           cmocka_unit_test(test_json_imds),
        cmocka_unit_test(test_json_refused),           cmocka_unit_test(test_time),
        cmocka_unit_test(test_full_uri_and_addresses), cmocka_unit_test(test_keys_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
