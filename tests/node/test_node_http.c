/* test_node_http.c -- HTTP response parser: good, split at every byte, chunked, malformed, big. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_response.h"

static ssize_t parse(const char *s, http_response_t *r)
{
    return http_parse_response(s, strlen(s), &http_default_limits, r);
}

/* Every proper prefix must ask for more; the whole input must give `want`. */
static void check_split(const char *s, ssize_t want)
{
    http_response_t r;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        /* A copy of exactly i bytes, so reading past the end shows up under a sanitizer. */
        char *p = malloc(i ? i : 1);
        memcpy(p, s, i);
        ssize_t got = http_parse_response(p, i, &http_default_limits, &r);
        free(p);
        if (got != HTTP_NEED_MORE) fail_msg("prefix of %zu/%zu bytes gave %zd", i, n, got);
    }
    assert_int_equal(http_parse_response(s, n, &http_default_limits, &r), want);
}

static const char next_ok[] = "HTTP/1.1 200 OK\r\n"
                              "Content-Type: application/json\r\n"
                              "Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4\r\n"
                              "lambda-runtime-deadline-ms:   1700000000123  \r\n"
                              "Content-Length: 13\r\n"
                              "\r\n"
                              "{\"cmd\":\"x\"}\r\n";

static void test_content_length(void **state)
{
    http_response_t r;
    assert_int_equal(parse(next_ok, &r), (ssize_t)strlen(next_ok));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 13);
    assert_false(r.chunked);
    size_t n;
    const char *v = http_header(&r, "LAMBDA-RUNTIME-AWS-REQUEST-ID", &n);
    assert_non_null(v);
    assert_memory_equal(v, "8476a536-e9f4", n);
    v = http_header(&r, "Lambda-Runtime-Deadline-Ms", &n);
    assert_int_equal(n, 13);
    assert_memory_equal(v, "1700000000123", 13);
    assert_null(http_header(&r, "X-Missing", &n));
    char body[32];
    http_copy_body(next_ok, &r, body);
    assert_memory_equal(body, "{\"cmd\":\"x\"}\r\n", 13);
    check_split(next_ok, (ssize_t)strlen(next_ok));
}

static void test_trailing_bytes_not_consumed(void **state)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%sHTTP/1.1 202", next_ok);
    http_response_t r;
    assert_int_equal(parse(buf, &r), (ssize_t)strlen(next_ok));
}

static void test_no_body_statuses(void **state)
{
    http_response_t r;
    const char *s = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(parse(s, &r), (ssize_t)strlen(s));
    assert_int_equal(r.status, 202);
    assert_int_equal(r.body_len, 0);
    s = "HTTP/1.1 204 No Content\r\n\r\n";
    assert_int_equal(parse(s, &r), (ssize_t)strlen(s));
    s = "HTTP/1.0 200\r\nContent-Length: 2\r\n\r\nok";
    check_split(s, (ssize_t)strlen(s));
}

static void test_chunked(void **state)
{
    const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                    "Lambda-Runtime-Aws-Request-Id: abc\r\n\r\n"
                    "5\r\nhello\r\n"
                    "1;ext=1\r\n \r\n"
                    "A\r\n0123456789\r\n"
                    "0\r\nX-Trailer: yes\r\n\r\n";
    http_response_t r;
    assert_int_equal(parse(s, &r), (ssize_t)strlen(s));
    assert_true(r.chunked);
    assert_int_equal(r.body_len, 16);
    char body[32];
    http_copy_body(s, &r, body);
    assert_memory_equal(body, "hello 0123456789", 16);
    check_split(s, (ssize_t)strlen(s));
    const char *empty = "HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED\r\n\r\n0\r\n\r\n";
    assert_int_equal(parse(empty, &r), (ssize_t)strlen(empty));
    assert_int_equal(r.body_len, 0);
}

static void test_malformed(void **state)
{
    static const char *bad[] = {
        "HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 099 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\n",
        "HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
        "XTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\n\r\n", /* no framing */
        "HTTP/1.1 200 OK\r\nNo Colon Here\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: empty name\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\x01b\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZ\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 x\r\nab\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_response_t r;
        ssize_t got = parse(bad[i], &r);
        if (got >= 0) fail_msg("case %zu accepted: %zd", i, got);
    }
}

static void test_oversized(void **state)
{
    http_response_t r;
    http_limits_t lim = {.max_header = 64, .max_body = 10};
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n";
    assert_int_equal(http_parse_response(s, strlen(s), &lim, &r), HTTP_ETOOBIG);
    s = "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999999\r\n\r\n";
    assert_int_equal(parse(s, &r), HTTP_ETOOBIG);
    s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\nabcde\r\n0\r\n\r\n";
    assert_int_equal(http_parse_response(s, strlen(s), &lim, &r), HTTP_ETOOBIG);
    s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n";
    assert_int_equal(parse(s, &r), HTTP_ETOOBIG);
    /* A header block that never ends is refused once it passes the limit. */
    char big[200];
    memset(big, 'a', sizeof big);
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    assert_int_equal(http_parse_response(big, sizeof big, &lim, &r), HTTP_ETOOBIG);
    assert_int_equal(http_parse_response(big, 63, &lim, &r), HTTP_NEED_MORE);
    /* Too many header fields. */
    char many[4096] = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++) strcat(many, "X-A: b\r\n");
    strcat(many, "Content-Length: 0\r\n\r\n");
    assert_int_equal(parse(many, &r), HTTP_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_trailing_bytes_not_consumed),
        cmocka_unit_test(test_no_body_statuses),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_oversized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
