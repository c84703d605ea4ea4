/* test_resp.c -- unit tests for the streaming RESP codec: headers, limits, commands, encoders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resp.h"

/* Every prefix of a complete header must say "need more"; the whole must parse exactly. */
static void check_header_split(const char *s, resp_type_t type, int64_t n, const char *str)
{
    size_t len = strlen(s);
    resp_header_t h;
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(resp_parse_header(s, cut, &resp_default_limits, &h), 0);
    assert_int_equal(resp_parse_header(s, len, &resp_default_limits, &h), (ssize_t)len);
    assert_int_equal(h.type, type);
    if (type == RESP_SIMPLE || type == RESP_ERROR) {
        assert_int_equal(h.len, strlen(str));
        assert_memory_equal(h.str, str, h.len);
    } else {
        assert_true(h.n == n);
    }
}

static void test_header_types(void **state)
{
    (void)state;
    check_header_split("+OK\r\n", RESP_SIMPLE, 0, "OK");
    check_header_split("+\r\n", RESP_SIMPLE, 0, "");
    check_header_split("-ERR bad\rthing\r\n", RESP_ERROR, 0, "ERR bad\rthing");
    check_header_split(":0\r\n", RESP_INTEGER, 0, NULL);
    check_header_split(":-42\r\n", RESP_INTEGER, -42, NULL);
    check_header_split(":9223372036854775807\r\n", RESP_INTEGER, INT64_MAX, NULL);
    check_header_split(":-9223372036854775808\r\n", RESP_INTEGER, INT64_MIN, NULL);
    check_header_split("$5\r\n", RESP_BULK, 5, NULL);
    check_header_split("$-1\r\n", RESP_BULK, -1, NULL);
    check_header_split("$0\r\n", RESP_BULK, 0, NULL);
    check_header_split("*3\r\n", RESP_ARRAY, 3, NULL);
    check_header_split("*-1\r\n", RESP_ARRAY, -1, NULL);
}

static void test_header_trailing_bytes(void **state)
{
    (void)state;
    resp_header_t h;
    const char *s = "$3\r\nabc\r\n";
    assert_int_equal(resp_parse_header(s, strlen(s), &resp_default_limits, &h), 4);
    assert_int_equal(h.n, 3);
}

static void test_header_malformed(void **state)
{
    (void)state;
    const char *bad[] = {"x\r\n",    ":abc\r\n", ":12a\r\n", "$-2\r\n", "*-5\r\n", "$\r\n",
                         ":\r\n",    "*1 \r\n",  "$ 1\r\n",  ":-\r\n",  "\r\n",    ":99999999999999999999\r\n",
                         ":9223372036854775808\r\n", "$+1\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resp_header_t h;
        ssize_t rc = resp_parse_header(bad[i], strlen(bad[i]), &resp_default_limits, &h);
        if (rc != RESP_EPROTO) fail_msg("'%s' gave %zd, want RESP_EPROTO", bad[i], rc);
    }
}

static void test_header_limits(void **state)
{
    (void)state;
    resp_limits_t lim = {.max_bulk = 100, .max_array = 10, .max_line = 8};
    resp_header_t h;
    assert_int_equal(resp_parse_header("$100\r\n", 6, &lim, &h), 6);
    assert_int_equal(resp_parse_header("$101\r\n", 6, &lim, &h), RESP_ETOOBIG);
    assert_int_equal(resp_parse_header("*10\r\n", 5, &lim, &h), 5);
    assert_int_equal(resp_parse_header("*11\r\n", 5, &lim, &h), RESP_ETOOBIG);
    /* A line of exactly max_line bytes (CRLF included) is fine, one more is not, whatever the
     * split: the answer must not depend on how the bytes arrived. */
    const char *ok = "+abcde\r\n";
    assert_int_equal(resp_parse_header(ok, 8, &lim, &h), 8);
    const char *over = "+abcdef\r\n";
    for (size_t cut = 1; cut <= strlen(over); cut++) {
        ssize_t rc = resp_parse_header(over, cut, &lim, &h);
        if (cut < 8) assert_int_equal(rc, 0);
        else if (rc != RESP_ETOOBIG) fail_msg("cut %zu gave %zd, want RESP_ETOOBIG", cut, rc);
    }
    char longline[100];
    memset(longline, 'a', sizeof longline);
    longline[0] = '+';
    assert_int_equal(resp_parse_header(longline, sizeof longline, &lim, &h), RESP_ETOOBIG);
}

static void test_parse_numbers(void **state)
{
    (void)state;
    int64_t v;
    uint64_t u;
    assert_int_equal(resp_parse_i64("123", 3, &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(resp_parse_i64("", 0, &v), -1);
    assert_int_equal(resp_parse_i64("-", 1, &v), -1);
    assert_int_equal(resp_parse_i64("1 ", 2, &v), -1);
    assert_int_equal(resp_parse_u64("18446744073709551615", 20, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(resp_parse_u64("18446744073709551616", 20, &u), -1);
    assert_int_equal(resp_parse_u64("-1", 2, &u), -1);
}

/* Feeds `wire` to a fresh reader, appending `step` bytes at a time. */
static int feed_in_steps(resp_cmd_t *c, buf_t *in, const char *wire, size_t len, size_t step,
                         size_t small_max)
{
    int rc = RESP_CMD_NEED_MORE;
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        assert_int_equal(buf_append(in, wire + off, n), 0);
        off += n;
        rc = resp_cmd_feed(c, in, &resp_default_limits, small_max);
        if (rc != RESP_CMD_NEED_MORE) break;
    }
    return rc;
}

static void test_cmd_small_args_every_split(void **state)
{
    (void)state;
    const char *wire = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$12\r\nhello\r\nworld\r\n";
    size_t len = strlen(wire);
    for (size_t cut = 0; cut <= len; cut++) {
        resp_cmd_t c;
        buf_t in;
        resp_cmd_init(&c);
        buf_init(&in);
        buf_append(&in, wire, cut);
        int rc = resp_cmd_feed(&c, &in, &resp_default_limits, 1024);
        if (cut < len) {
            assert_int_equal(rc, RESP_CMD_NEED_MORE);
            buf_append(&in, wire + cut, len - cut);
            rc = resp_cmd_feed(&c, &in, &resp_default_limits, 1024);
        }
        assert_int_equal(rc, RESP_CMD_DONE);
        assert_int_equal(c.argc, 3);
        assert_int_equal(c.nsmall, 3);
        assert_memory_equal(c.argv[0], "SET", 3);
        assert_memory_equal(c.argv[1], "key", 3);
        assert_int_equal(c.argl[2], 12);
        assert_memory_equal(c.argv[2], "hello\r\nworld", 12);
        assert_int_equal(buf_len(&in), 0);
        resp_cmd_free(&c);
        buf_free(&in);
    }
    /* Byte by byte. */
    resp_cmd_t c;
    buf_t in;
    resp_cmd_init(&c);
    buf_init(&in);
    assert_int_equal(feed_in_steps(&c, &in, wire, len, 1, 1024), RESP_CMD_DONE);
    assert_int_equal(c.argc, 3);
    resp_cmd_free(&c);
    buf_free(&in);
}

static void test_cmd_big_handoff(void **state)
{
    (void)state;
    char body[100];
    for (size_t i = 0; i < sizeof body; i++) body[i] = (char)('a' + i % 26);
    buf_t wire;
    buf_init(&wire);
    buf_printf(&wire, "*4\r\n$5\r\nICSET\r\n$1\r\nk\r\n$100\r\n");
    buf_append(&wire, body, sizeof body);
    buf_printf(&wire, "\r\n$2\r\nzz\r\n");
    size_t len = buf_len(&wire);
    for (size_t step = 1; step <= len; step++) {
        resp_cmd_t c;
        buf_t in;
        resp_cmd_init(&c);
        buf_init(&in);
        size_t off = 0, got_body = 0;
        int bigs = 0, in_body = 0;
        char out[100];
        for (;;) {
            if (in_body) {
                /* The caller takes the body bytes itself, as a server would. */
                size_t take = buf_len(&in) < 100 - got_body ? buf_len(&in) : 100 - got_body;
                memcpy(out + got_body, buf_head(&in), take);
                buf_consume(&in, take);
                got_body += take;
                if (got_body == 100) {
                    resp_cmd_big_done(&c);
                    in_body = 0;
                    continue;
                }
            } else {
                int rc = resp_cmd_feed(&c, &in, &resp_default_limits, 16);
                assert_true(rc >= 0);
                if (rc == RESP_CMD_DONE) break;
                if (rc == RESP_CMD_BIG) {
                    assert_int_equal(c.big_len, 100);
                    assert_int_equal(c.argi, 2);
                    bigs++;
                    in_body = 1;
                    continue;
                }
            }
            assert_true(off < len);
            size_t n = len - off < step ? len - off : step;
            buf_append(&in, buf_head(&wire) + off, n);
            off += n;
        }
        assert_int_equal(bigs, 1);
        assert_memory_equal(out, body, 100);
        assert_int_equal(c.nsmall, 3);
        assert_int_equal(c.argpos[0], 0);
        assert_int_equal(c.argpos[1], 1);
        assert_int_equal(c.argpos[2], 3);
        assert_memory_equal(c.argv[2], "zz", 2);
        resp_cmd_free(&c);
        buf_free(&in);
    }
    buf_free(&wire);
}

static void test_cmd_big_bad_crlf(void **state)
{
    (void)state;
    resp_cmd_t c;
    buf_t in;
    resp_cmd_init(&c);
    buf_init(&in);
    const char *w = "*2\r\n$3\r\nSET\r\n$20\r\n";
    buf_append(&in, w, strlen(w));
    assert_int_equal(resp_cmd_feed(&c, &in, &resp_default_limits, 4), RESP_CMD_BIG);
    buf_append(&in, "01234567890123456789XX", 22);
    buf_consume(&in, 20);
    resp_cmd_big_done(&c);
    assert_int_equal(resp_cmd_feed(&c, &in, &resp_default_limits, 4), RESP_EPROTO);
    resp_cmd_free(&c);
    buf_free(&in);
}

static void test_cmd_inline_and_pipelined(void **state)
{
    (void)state;
    resp_cmd_t c;
    buf_t in;
    resp_cmd_init(&c);
    buf_init(&in);
    const char *w = "PING\r\n  SET  k\tv  \n*1\r\n$4\r\nINFO\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n";
    buf_append(&in, w, strlen(w));
    assert_int_equal(resp_cmd_feed(&c, &in, &resp_default_limits, 64), RESP_CMD_DONE);
    assert_int_equal(c.argc, 1);
    assert_memory_equal(c.argv[0], "PING", 5);
    resp_cmd_reset(&c);
    assert_int_equal(resp_cmd_feed(&c, &in, &resp_default_limits, 64), RESP_CMD_DONE);
    assert_int_equal(c.argc, 3);
    assert_string_equal(c.argv[0], "SET");
    assert_string_equal(c.argv[1], "k");
    assert_string_equal(c.argv[2], "v");
    resp_cmd_reset(&c);
    assert_int_equal(resp_cmd_feed(&c, &in, &resp_default_limits, 64), RESP_CMD_DONE);
    assert_int_equal(c.argc, 1);
    assert_string_equal(c.argv[0], "INFO");
    resp_cmd_reset(&c);
    assert_int_equal(resp_cmd_feed(&c, &in, &resp_default_limits, 64), RESP_CMD_DONE);
    assert_int_equal(c.argc, 2);
    assert_string_equal(c.argv[1], "x");
    resp_cmd_reset(&c);
    assert_int_equal(resp_cmd_feed(&c, &in, &resp_default_limits, 64), RESP_CMD_NEED_MORE);
    resp_cmd_free(&c);
    buf_free(&in);
}

/* Argument arrays grow with the command (every argument kept in order across growth), a command
 * past RESP_CMD_MAX_SMALL_ARGS is refused, and reset gives large arrays back. */
static void test_cmd_many_args_grow_and_shrink(void **state)
{
    (void)state;
    resp_cmd_t c;
    buf_t in;
    resp_cmd_init(&c);
    buf_init(&in);
    assert_int_equal(c.cap, 0); /* an idle reader holds no arrays */
    buf_printf(&in, "*%d\r\n", RESP_CMD_MAX_SMALL_ARGS);
    for (int i = 0; i < RESP_CMD_MAX_SMALL_ARGS; i++) {
        char a[16];
        int n = snprintf(a, sizeof a, "a%d", i);
        buf_printf(&in, "$%d\r\n%s\r\n", n, a);
    }
    assert_int_equal(resp_cmd_feed(&c, &in, &resp_default_limits, 64), RESP_CMD_DONE);
    assert_int_equal(c.nsmall, RESP_CMD_MAX_SMALL_ARGS);
    for (int i = 0; i < RESP_CMD_MAX_SMALL_ARGS; i++) {
        char a[16];
        snprintf(a, sizeof a, "a%d", i);
        assert_string_equal(c.argv[i], a);
        assert_int_equal(c.argpos[i], i);
    }
    resp_cmd_reset(&c);
    assert_int_equal(c.cap, 0);
    buf_printf(&in, "*%d\r\n", RESP_CMD_MAX_SMALL_ARGS + 1);
    for (int i = 0; i <= RESP_CMD_MAX_SMALL_ARGS; i++) buf_printf(&in, "$1\r\nx\r\n");
    assert_int_equal(resp_cmd_feed(&c, &in, &resp_default_limits, 64), RESP_ETOOBIG);
    resp_cmd_free(&c);
    buf_free(&in);
}

static void test_cmd_errors(void **state)
{
    (void)state;
    const char *bad[] = {"*2\r\n:1\r\n:2\r\n", "*1\r\n$-1\r\n", "*1\r\n$3\r\nabcXY", "*x\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resp_cmd_t c;
        buf_t in;
        resp_cmd_init(&c);
        buf_init(&in);
        buf_append(&in, bad[i], strlen(bad[i]));
        int rc = resp_cmd_feed(&c, &in, &resp_default_limits, 64);
        if (rc != RESP_EPROTO) fail_msg("case %zu gave %d", i, rc);
        resp_cmd_free(&c);
        buf_free(&in);
    }
    /* Too many small arguments. */
    resp_cmd_t c;
    buf_t in;
    resp_cmd_init(&c);
    buf_init(&in);
    buf_printf(&in, "*%d\r\n", RESP_CMD_MAX_SMALL_ARGS + 1);
    for (int i = 0; i <= RESP_CMD_MAX_SMALL_ARGS; i++) buf_printf(&in, "$1\r\na\r\n");
    assert_int_equal(resp_cmd_feed(&c, &in, &resp_default_limits, 64), RESP_ETOOBIG);
    resp_cmd_free(&c);
    buf_free(&in);
    /* An inline line over the limit. */
    resp_limits_t lim = resp_default_limits;
    lim.max_line = 16;
    resp_cmd_init(&c);
    buf_init(&in);
    buf_printf(&in, "PING aaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(resp_cmd_feed(&c, &in, &lim, 64), RESP_ETOOBIG);
    resp_cmd_free(&c);
    buf_free(&in);
}

static void test_encoders_round_trip(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    const char *argv[] = {"ICSET", "key", "", "bin\r\n\0x"};
    size_t argl[] = {5, 3, 0, 8};
    assert_int_equal(resp_add_command(&b, 4, argv, argl), 0);
    resp_cmd_t c;
    resp_cmd_init(&c);
    assert_int_equal(resp_cmd_feed(&c, &b, &resp_default_limits, 64), RESP_CMD_DONE);
    assert_int_equal(c.argc, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(c.argl[i], argl[i]);
        assert_memory_equal(c.argv[i], argv[i], argl[i]);
    }
    resp_cmd_free(&c);

    buf_clear(&b);
    resp_add_int(&b, INT64_MIN);
    resp_add_int(&b, 0);
    resp_add_simple(&b, "OK");
    resp_add_error(&b, "ERR a\r\nb %d", 7);
    resp_add_null(&b);
    resp_add_array_header(&b, -1);
    resp_add_bulk(&b, "xy", 2);
    const char *want = ":-9223372036854775808\r\n:0\r\n+OK\r\n-ERR a  b 7\r\n$-1\r\n*-1\r\n$2\r\nxy\r\n";
    assert_int_equal(buf_len(&b), strlen(want));
    assert_memory_equal(buf_head(&b), want, strlen(want));
    /* And the header parser reads back what the encoders wrote. */
    resp_header_t h;
    ssize_t n = resp_parse_header(buf_head(&b), buf_len(&b), &resp_default_limits, &h);
    assert_true(n > 0);
    assert_true(h.type == RESP_INTEGER && h.n == INT64_MIN);
    buf_free(&b);
    assert_non_null(resp_strerror(RESP_EPROTO));
    assert_non_null(resp_strerror(12345));
}

static void test_bulk_array(void **state)
{
    (void)state;
    resp_limits_t lim = resp_default_limits;
    lim.max_bulk = 16;
    lim.max_array = 3;
    const char *argv[3];
    size_t argl[3];
    int argc = 0;
    static const char msg[] = "*2\r\n$5\r\nHELLO\r\n$0\r\n\r\nrest";
    size_t whole = sizeof msg - 1 - 4;
    assert_int_equal(resp_parse_bulk_array(msg, sizeof msg - 1, &lim, &argc, argv, argl),
                     (ssize_t)whole);
    assert_int_equal(argc, 2);
    assert_int_equal(argl[0], 5);
    assert_memory_equal(argv[0], "HELLO", 5);
    assert_int_equal(argl[1], 0);
    /* Every prefix is incomplete, never an error. */
    for (size_t n = 0; n < whole; n++)
        assert_int_equal(resp_parse_bulk_array(msg, n, &lim, &argc, argv, argl), 0);
    /* Shapes that are not an array of bulks, and limits. */
    static const char *const bad[] = {"$3\r\nabc\r\n", "*0\r\n", "*1\r\n:1\r\n",
                                      "*1\r\n$-1\r\n", "*1\r\n$3\r\nabcXY",
                                      "*4\r\n$1\r\na\r\n", "*1\r\n$17\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_true(resp_parse_bulk_array(bad[i], strlen(bad[i]), &lim, &argc, argv, argl) < 0);
}

/* A number as a bulk string: exact bytes at the edges, and what resp_parse_u64 reads back. */
static void test_add_bulk_u64(void **state)
{
    (void)state;
    static const uint64_t values[] = {0, 9, 10, 4294967295u, UINT64_MAX};
    static const char *const want[] = {"$1\r\n0\r\n", "$1\r\n9\r\n", "$2\r\n10\r\n",
                                       "$10\r\n4294967295\r\n", "$20\r\n18446744073709551615\r\n"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        buf_t b;
        buf_init(&b);
        assert_int_equal(resp_add_bulk_u64(&b, values[i]), 0);
        assert_int_equal(buf_len(&b), strlen(want[i]));
        assert_memory_equal(buf_head(&b), want[i], buf_len(&b));
        resp_header_t h;
        ssize_t n = resp_parse_header(buf_head(&b), buf_len(&b), &resp_default_limits, &h);
        assert_true(n > 0 && h.type == RESP_BULK);
        uint64_t v;
        assert_int_equal(resp_parse_u64(buf_head(&b) + n, (size_t)h.n, &v), 0);
        assert_true(v == values[i]);
        buf_free(&b);
    }
}

/* One inline line split as Redis's sdssplitargs splits it: returns the rc of the feed, and on
 * RESP_CMD_DONE checks each argument (lengths given, so embedded NULs and escapes count). */
static int split_one(const char *line, int want_argc, const char *const *want, const size_t *wantl)
{
    resp_cmd_t c;
    buf_t in;
    resp_cmd_init(&c);
    buf_init(&in);
    buf_append(&in, line, strlen(line));
    int rc = resp_cmd_feed(&c, &in, &resp_default_limits, 64);
    if (rc == RESP_CMD_DONE) {
        assert_int_equal(c.argc, want_argc);
        assert_int_equal(c.nsmall, want_argc);
        for (int i = 0; i < want_argc; i++) {
            assert_int_equal(c.argl[i], wantl[i]);
            assert_memory_equal(c.argv[i], want[i], wantl[i]);
            assert_int_equal(c.argv[i][c.argl[i]], 0);
        }
    }
    resp_cmd_free(&c);
    buf_free(&in);
    return rc;
}

static void test_inline_quotes_and_escapes(void **state)
{
    (void)state;
    {
        const char *w[] = {"SET", "a b", "x\ny\x41\t\\q"};
        const size_t l[] = {3, 3, 7};
        assert_int_equal(split_one("SET \"a b\" \"x\\ny\\x41\\t\\\\q\"\r\n", 3, w, l),
                         RESP_CMD_DONE);
    }
    {
        const char *w[] = {"ECHO", "it's", "a\\b"};
        const size_t l[] = {4, 4, 3};
        assert_int_equal(split_one("ECHO 'it\\'s' 'a\\b'\n", 3, w, l), RESP_CMD_DONE);
    }
    {
        /* A quote inside a word opens a quoted part; "" is an empty argument. */
        const char *w[] = {"SET", "kv w", ""};
        const size_t l[] = {3, 4, 0};
        assert_int_equal(split_one("SET k\"v w\" \"\"\r\n", 3, w, l), RESP_CMD_DONE);
    }
    {
        /* \x with one hex digit is not an escape: the x is taken literally. */
        const char *w[] = {"ECHO", "x4g", "\0"};
        const size_t l[] = {4, 3, 1};
        assert_int_equal(split_one("ECHO \"\\x4g\" \"\\x00\"\r\n", 3, w, l), RESP_CMD_DONE);
    }
    assert_int_equal(split_one("ECHO \"abc\"d\r\n", 0, NULL, NULL), RESP_EQUOTES);
    assert_int_equal(split_one("ECHO 'abc'd\r\n", 0, NULL, NULL), RESP_EQUOTES);
    assert_int_equal(split_one("ECHO \"abc\r\n", 0, NULL, NULL), RESP_EQUOTES);
    assert_int_equal(split_one("ECHO 'abc\r\n", 0, NULL, NULL), RESP_EQUOTES);
    assert_int_equal(split_one("ECHO \"abc\\\"\r\n", 0, NULL, NULL), RESP_EQUOTES);
    assert_string_equal(resp_strerror(RESP_EQUOTES),
                        "Protocol error: unbalanced quotes in request");
    {
        /* Blanks of every kind separate; a blank-only line is an empty command. */
        assert_int_equal(split_one(" \t\v\f \r\n", 0, NULL, NULL), RESP_CMD_DONE);
    }
}

/* The RESP3 encoders, and what each writes to a RESP2 buffer. */
static void test_resp3_encoders(void **state)
{
    (void)state;
    static const char *const want[2] = {
        "*4\r\n$1\r\nk\r\n$3\r\n1.5\r\n*1\r\n:1\r\n$-1\r\n*-1\r\n$3\r\ninf\r\n$2\r\nhi\r\n",
        "%2\r\n$1\r\nk\r\n,1.5\r\n~1\r\n:1\r\n_\r\n_\r\n,inf\r\n=6\r\ntxt:hi\r\n"};
    for (int v = 0; v < 2; v++) {
        buf_t b;
        buf_init(&b);
        b.resp_proto = v ? 3 : 2;
        assert_int_equal(resp_add_map_header(&b, 2), 0);
        assert_int_equal(resp_add_cstr(&b, "k"), 0);
        assert_int_equal(resp_add_double(&b, 1.5), 0);
        assert_int_equal(resp_add_set_header(&b, 1), 0);
        assert_int_equal(resp_add_int(&b, 1), 0);
        assert_int_equal(resp_add_null(&b), 0);
        assert_int_equal(resp_add_array_header(&b, -1), 0);
        assert_int_equal(resp_add_double(&b, 1.0 / 0.0), 0);
        assert_int_equal(resp_add_verbatim(&b, "txt", "hi", 2), 0);
        assert_int_equal(buf_len(&b), strlen(want[v]));
        assert_memory_equal(buf_head(&b), want[v], buf_len(&b));
        buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_types),
        cmocka_unit_test(test_header_trailing_bytes),
        cmocka_unit_test(test_header_malformed),
        cmocka_unit_test(test_header_limits),
        cmocka_unit_test(test_parse_numbers),
        cmocka_unit_test(test_cmd_small_args_every_split),
        cmocka_unit_test(test_cmd_big_handoff),
        cmocka_unit_test(test_cmd_big_bad_crlf),
        cmocka_unit_test(test_cmd_inline_and_pipelined),
        cmocka_unit_test(test_cmd_errors),
        cmocka_unit_test(test_cmd_many_args_grow_and_shrink),
        cmocka_unit_test(test_encoders_round_trip),
        cmocka_unit_test(test_add_bulk_u64),
        cmocka_unit_test(test_bulk_array),
        cmocka_unit_test(test_inline_quotes_and_escapes),
        cmocka_unit_test(test_resp3_encoders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
