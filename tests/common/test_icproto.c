/* test_icproto.c -- unit tests for the large-object codec: ICSET/ICGET/ICGETCHUNKS/ICREPAIR
 * requests encoded and decoded back, the ICGET reply encoded and fed to the decoder at every
 * byte boundary, limits, and malformed input refused with a clear reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "icproto.h"

/* Reads one whole command (small arguments only) from b into cmd. */
static void read_command(buf_t *b, resp_cmd_t *cmd)
{
    resp_cmd_init(cmd);
    assert_int_equal(resp_cmd_feed(cmd, b, &resp_default_limits, 1 << 20), RESP_CMD_DONE);
    assert_int_equal(buf_len(b), 0);
}

static void test_icset_roundtrip(void **state)
{
    (void)state;
    uint32_t crcs[3] = {0, 7, UINT32_MAX};
    buf_t b;
    buf_init(&b);
    assert_int_equal(icproto_put_icset(&b, "key", 3, 2, 1, 100, crcs), 0);
    for (int i = 0; i < 3; i++) {
        icproto_put_chunk_header(&b, 64);
        for (int k = 0; k < 64; k++)
            buf_append(&b, "x", 1);
        icproto_put_chunk_end(&b);
    }
    resp_cmd_t cmd;
    read_command(&b, &cmd);
    assert_int_equal(cmd.argc, 5 + 2 * 3);
    icproto_icset_t h;
    char err[128];
    assert_int_equal(icproto_icset_decode(cmd.nsmall, cmd.argv, cmd.argl, &h, err, sizeof err), 0);
    assert_int_equal(h.keylen, 3);
    assert_memory_equal(h.key, "key", 3);
    assert_true(h.d == 2 && h.p == 1 && h.n == 3 && h.size == 100);
    assert_memory_equal(h.crc, crcs, sizeof crcs);
    for (int i = 0; i < 3; i++)
        assert_int_equal(cmd.argl[8 + i], 64);
    resp_cmd_free(&cmd);
    buf_free(&b);
}

static void test_icset_errors(void **state)
{
    (void)state;
    static const struct {
        int argc;
        const char *argv[8];
        const char *err;
    } cases[] = {
        {4, {"ICSET", "k", "2", "1"}, "ERR ICSET: bad d or p"},
        {6, {"ICSET", "k", "0", "1", "10", "1"}, "ERR ICSET: bad d or p"},
        {6, {"ICSET", "k", "40", "9", "10", "1"}, "ERR ICSET: bad d or p"},
        {6, {"ICSET", "k", "4294967298", "1", "10", "1"}, "ERR ICSET: bad d or p"},
        {6, {"ICSET", "k", "1", "x", "10", "1"}, "ERR ICSET: bad d or p"},
        {6, {"ICSET", "k", "1", "1", "-1", "1"}, "ERR ICSET: bad size"},
        {6, {"ICSET", "k", "1", "1", "10", "1"}, "ERR ICSET: expected 2 checksums"},
        {7, {"ICSET", "k", "1", "1", "10", "1", "4294967296"}, "ERR ICSET: bad checksum 1"},
        {7, {"ICSET", "k", "1", "1", "10", "1", "2"}, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t argl[8];
        for (int a = 0; a < cases[i].argc; a++)
            argl[a] = strlen(cases[i].argv[a]);
        icproto_icset_t h;
        char err[128] = "";
        int rc = icproto_icset_decode(cases[i].argc, cases[i].argv, argl, &h, err, sizeof err);
        if (cases[i].err) {
            assert_int_equal(rc, ICPROTO_EPROTO);
            assert_string_equal(err, cases[i].err);
        } else {
            assert_int_equal(rc, 0);
        }
    }
    /* A key over 64 KiB. */
    static char big[ICPROTO_MAX_KEY + 1];
    const char *argv[7] = {"ICSET", big, "1", "1", "10", "1", "2"};
    size_t argl[7] = {5, sizeof big, 1, 1, 2, 1, 1};
    icproto_icset_t h;
    char err[128];
    assert_int_equal(icproto_icset_decode(7, argv, argl, &h, err, sizeof err), ICPROTO_EPROTO);
    assert_string_equal(err, "ERR ICSET: bad key");
}

static void test_get_requests_roundtrip(void **state)
{
    (void)state;
    char err[128];
    for (int all = 0; all < 2; all++) {
        buf_t b;
        buf_init(&b);
        icproto_put_icget(&b, "k", 1, all);
        resp_cmd_t cmd;
        read_command(&b, &cmd);
        int got = -1;
        assert_int_equal(
            icproto_icget_decode(cmd.nsmall, cmd.argv, cmd.argl, &got, err, sizeof err), 0);
        assert_int_equal(got, all);
        resp_cmd_free(&cmd);
        buf_free(&b);
    }
    const char *bad[] = {"ICGET", "k", "SOME"};
    size_t badl[] = {5, 1, 4};
    int all;
    assert_int_equal(icproto_icget_decode(3, bad, badl, &all, err, sizeof err), ICPROTO_EPROTO);
    assert_string_equal(err, "ERR syntax error: ICGET key [ALL]");

    int idx[3] = {4, 0, 2};
    buf_t b;
    buf_init(&b);
    icproto_put_icgetchunks(&b, "k", 1, 99, 2, idx, 3);
    resp_cmd_t cmd;
    read_command(&b, &cmd);
    uint64_t version, need, listed;
    assert_int_equal(icproto_icgetchunks_decode(cmd.nsmall, cmd.argv, cmd.argl, &version, &need,
                                                err, sizeof err),
                     0);
    assert_true(version == 99 && need == 2);
    assert_int_equal(icproto_icgetchunks_indexes(cmd.nsmall, cmd.argv, cmd.argl, 5, need, &listed,
                                                 err, sizeof err),
                     0);
    assert_int_equal(listed, (1u << 4) | 1u | (1u << 2));
    /* Index not below n, need over m. */
    assert_int_equal(icproto_icgetchunks_indexes(cmd.nsmall, cmd.argv, cmd.argl, 4, need, &listed,
                                                 err, sizeof err),
                     ICPROTO_EPROTO);
    assert_string_equal(err, "ERR ICGETCHUNKS: bad or repeated chunk index");
    assert_int_equal(
        icproto_icgetchunks_indexes(cmd.nsmall, cmd.argv, cmd.argl, 5, 4, &listed, err, sizeof err),
        ICPROTO_EPROTO);
    assert_string_equal(err, "ERR ICGETCHUNKS: need must be 1 to the number of indexes");
    resp_cmd_free(&cmd);
    const char *rep[] = {"ICGETCHUNKS", "k", "1", "1", "0", "0"};
    size_t repl[] = {11, 1, 1, 1, 1, 1};
    assert_int_equal(icproto_icgetchunks_indexes(6, rep, repl, 5, 1, &listed, err, sizeof err),
                     ICPROTO_EPROTO);
    const char *nan[] = {"ICGETCHUNKS", "k", "v", "1"};
    size_t nanl[] = {11, 1, 1, 1};
    assert_int_equal(icproto_icgetchunks_decode(4, nan, nanl, &version, &need, err, sizeof err),
                     ICPROTO_EPROTO);
    assert_string_equal(err, "ERR ICGETCHUNKS: bad version or need");

    buf_clear(&b);
    icproto_put_icrepair(&b, "k", 1, 5, 3, UINT32_MAX);
    icproto_put_chunk_header(&b, 2);
    buf_append(&b, "ab", 2);
    icproto_put_chunk_end(&b);
    read_command(&b, &cmd);
    uint64_t index;
    uint32_t crc;
    assert_int_equal(icproto_icrepair_decode(cmd.nsmall, cmd.argv, cmd.argl, &version, &index, &crc,
                                             err, sizeof err),
                     0);
    assert_true(version == 5 && index == 3 && crc == UINT32_MAX);
    assert_int_equal(cmd.argl[5], 2);
    resp_cmd_free(&cmd);
    const char *badrep[] = {"ICREPAIR", "k", "5", "3", "4294967296"};
    size_t badrepl[] = {8, 1, 1, 1, 10};
    assert_int_equal(
        icproto_icrepair_decode(5, badrep, badrepl, &version, &index, &crc, err, sizeof err),
        ICPROTO_EPROTO);
    assert_string_equal(err, "ERR ICREPAIR: bad arguments");
    buf_free(&b);
}

/* Feeds a reply one byte at a time; returns the events as letters (n m E M C D) or the error. */
static int feed_bytewise(const char *reply, size_t len, char *events, icproto_reply_t *r)
{
    icproto_reply_init(r, 1 << 20);
    size_t off = 0, have = 0, ne = 0, body_left = 0;
    events[0] = 0;
    while (off <= len) {
        if (body_left) {
            size_t take = have - off < body_left ? have - off : body_left;
            off += take;
            body_left -= take;
            if (body_left == 0)
                icproto_reply_body_done(r);
            else if (have < len)
                have++;
            else
                return -100;
            continue;
        }
        size_t used;
        icproto_reply_event_t ev;
        int e = icproto_reply_feed(r, reply + off, have - off, &used, &ev);
        off += used;
        if (e < 0) return e;
        if (e == ICPROTO_REPLY_NEED_MORE) {
            if (have == len) return -100;
            have++;
            continue;
        }
        events[ne++] = "nmEMCD"[e];
        events[ne] = 0;
        if (e == ICPROTO_REPLY_CHUNK && ev.state == ICPROTO_CHUNK_SENT) {
            body_left = r->meta.chunk_size;
            if (!body_left) icproto_reply_body_done(r);
        }
        if (e == ICPROTO_REPLY_DONE || e == ICPROTO_REPLY_MISS || e == ICPROTO_REPLY_ERROR)
            return off == len ? 0 : -101;
    }
    return -102;
}

static void test_reply_roundtrip(void **state)
{
    (void)state;
    icproto_meta_t m = {.version = 7, .size = 100, .d = 2, .p = 1, .n = 3, .chunk_size = 64};
    m.crc[0] = 1;
    m.crc[1] = 2;
    m.crc[2] = UINT32_MAX;
    buf_t b;
    buf_init(&b);
    assert_int_equal(icproto_put_meta(&b, &m), 0);
    icproto_put_entry(&b, 2, ICPROTO_CHUNK_SENT, 64);
    for (int k = 0; k < 64; k++)
        buf_append(&b, "z", 1);
    icproto_put_chunk_end(&b);
    icproto_put_entry(&b, 0, ICPROTO_CHUNK_NOT_SENT, 0);
    icproto_put_entry(&b, 1, ICPROTO_CHUNK_LOST, 0);
    char ev[16];
    icproto_reply_t r;
    assert_int_equal(feed_bytewise(buf_head(&b), buf_len(&b), ev, &r), 0);
    assert_string_equal(ev, "MCCCD");
    assert_memory_equal(&r.meta, &m, sizeof m);
    /* An empty object: chunk size 0, $0 bodies. */
    icproto_meta_t e = {.version = 1, .size = 0, .d = 1, .p = 1, .n = 2, .chunk_size = 0};
    buf_clear(&b);
    icproto_put_meta(&b, &e);
    icproto_put_entry(&b, 0, ICPROTO_CHUNK_SENT, 0);
    icproto_put_chunk_end(&b);
    icproto_put_entry(&b, 1, ICPROTO_CHUNK_NOT_SENT, 0);
    assert_int_equal(feed_bytewise(buf_head(&b), buf_len(&b), ev, &r), 0);
    assert_string_equal(ev, "MCCD");
    buf_free(&b);
    assert_int_equal(feed_bytewise("$-1\r\n", 5, ev, &r), 0);
    assert_string_equal(ev, "m");
    assert_int_equal(feed_bytewise("-STALE version 3 is not current\r\n", 33, ev, &r), 0);
    assert_string_equal(ev, "E");
}

static void test_reply_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *why;
    } bad[] = {
        {"+OK\r\n", "not $-1, an error or an array of 1 + n entries"},
        {"*50\r\n", "not $-1, an error or an array of 1 + n entries"},
        {"*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:2\r\n", "array lengths do not match d + p"},
        {"*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:128\r\n", "chunk size does not fit size and d"},
        {"*4\r\n*8\r\n:7\r\n:10\r\n:0\r\n:1\r\n", "invalid d or p"},
        {"*4\r\n*8\r\n:7\r\n:-10\r\n", "negative metadata number"},
        {"*4\r\n*8\r\n:7\r\n:2000000\r\n", "object size over max_object_size"},
        {"*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:64\r\n:1\r\n:2\r\n:4294967296\r\n",
         "checksum over 32 bits"},
        {"*4\r\n*8\r\n$1\r\n", "metadata element is not an integer"},
        {"*4\r\n*3\r\n", "metadata is not an array of 5 + n integers"},
        {"*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:64\r\n:1\r\n:2\r\n:3\r\n*2\r\n",
         "chunk entry is not an array of 3"},
        {"*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:64\r\n:1\r\n:2\r\n:3\r\n*3\r\n:3\r\n",
         "chunk index out of range or repeated"},
        {"*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:64\r\n:1\r\n:2\r\n:3\r\n*3\r\n:0\r\n:3\r\n",
         "chunk state not 0, 1 or 2"},
        {"*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:64\r\n:1\r\n:2\r\n:3\r\n*3\r\n:0\r\n:0\r\n$63\r\n",
         "chunk body length is not chunk_size"},
        {"*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:64\r\n:1\r\n:2\r\n:3\r\n*3\r\n:0\r\n:1\r\n$0\r\n",
         "a chunk not sent has a body"},
        {"*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:64\r\n:1\r\n:2\r\n:3\r\n*3\r\n:0\r\n:1\r\n:0\r\n",
         "chunk body is not a bulk"},
        {"*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:64\r\n:1\r\n:2\r\n:3\r\n*3\r\n:0\r\n:1\r\n$-1\r\n"
         "*3\r\n:0\r\n",
         "chunk index out of range or repeated"},
        {"*x\r\n", "Protocol error: malformed RESP"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char ev[16];
        icproto_reply_t r;
        int rc = feed_bytewise(bad[i].in, strlen(bad[i].in), ev, &r);
        if (rc != ICPROTO_EPROTO) fail_msg("bad reply %zu gave %d", i, rc);
        assert_non_null(r.err);
        if (strncmp(r.err, bad[i].why, strlen(bad[i].why)) != 0)
            fail_msg("bad reply %zu: want \"%s\", got \"%s\"", i, bad[i].why, r.err);
    }
    /* A chunk whose CRLF is wrong. */
    icproto_reply_t r;
    icproto_reply_init(&r, 1 << 20);
    const char *head =
        "*3\r\n*7\r\n:1\r\n:1\r\n:1\r\n:1\r\n:64\r\n:5\r\n:6\r\n*3\r\n:0\r\n:0\r\n$64\r\n";
    size_t used;
    icproto_reply_event_t ev;
    assert_int_equal(icproto_reply_feed(&r, head, strlen(head), &used, &ev), ICPROTO_REPLY_META);
    assert_int_equal(icproto_reply_feed(&r, head + used, strlen(head) - used, &used, &ev),
                     ICPROTO_REPLY_CHUNK);
    icproto_reply_body_done(&r);
    assert_int_equal(icproto_reply_feed(&r, "XY", 2, &used, &ev), ICPROTO_EPROTO);
    assert_string_equal(r.err, "chunk not followed by CRLF");
}

/* The library's reply parser test (from tests/client/test_client.c, where the parser lived), with
 * its cases unchanged. */
static void test_reply_parser(void **state)
{
    (void)state;
    char ev[64];
    icproto_reply_t r;
    /* size 10, d 2, p 1: chunk size 64. */
    char ok[512];
    char body[64];
    memset(body, 'x', sizeof body);
    int n = snprintf(
        ok, sizeof ok,
        "*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:64\r\n:1\r\n:2\r\n:3\r\n"
        "*3\r\n:2\r\n:0\r\n$64\r\n%.64s\r\n*3\r\n:0\r\n:1\r\n$-1\r\n*3\r\n:1\r\n:2\r\n$-1\r\n",
        body);
    assert_int_equal(feed_bytewise(ok, (size_t)n, ev, &r), 0);
    assert_string_equal(ev, "MCCCD");
    assert_int_equal(feed_bytewise("$-1\r\n", 5, ev, &r), 0);
    assert_string_equal(ev, "m");
    assert_int_equal(feed_bytewise("-ERR x\r\n", 8, ev, &r), 0);
    assert_string_equal(ev, "E");
    const char *bad[] = {
        "+OK\r\n",
        ":1\r\n",
        "*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:2\r\n:64\r\n",  /* n says 4 entries, d+p = 4 -> mismatch */
        "*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:128\r\n", /* wrong chunk size */
        "*4\r\n*8\r\n:7\r\n:10\r\n:0\r\n:1\r\n",         /* d = 0 */
        "*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:64\r\n:1\r\n:2\r\n:4294967296\r\n",
        "*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:64\r\n:1\r\n:2\r\n:3\r\n*3\r\n:3\r\n",
        "*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:64\r\n:1\r\n:2\r\n:3\r\n*3\r\n:0\r\n:3\r\n",
        "*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:64\r\n:1\r\n:2\r\n:3\r\n*3\r\n:0\r\n:0\r\n$63\r\n",
        "*4\r\n*8\r\n:7\r\n:10\r\n:2\r\n:1\r\n:64\r\n:1\r\n:2\r\n:3\r\n*3\r\n:0\r\n:1\r\n$-1\r\n*"
        "3\r\n:0\r\n",
        "*4\r\n*8\r\n:7\r\n:99999999\r\n", /* over max_object */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = feed_bytewise(bad[i], strlen(bad[i]), ev, &r);
        if (rc != ICPROTO_EPROTO) fail_msg("bad reply %zu gave %d", i, rc);
    }
}

static void test_reply_limits(void **state)
{
    (void)state;
    /* The largest coding: d + p = EC_MAX_CHUNKS entries. */
    icproto_meta_t m = {.version = 1, .size = 32, .d = EC_MAX_DATA, .p = 16, .n = EC_MAX_CHUNKS};
    m.chunk_size = ec_chunk_size(m.size, m.d);
    buf_t b;
    buf_init(&b);
    icproto_put_meta(&b, &m);
    for (int i = 0; i < m.n; i++)
        icproto_put_entry(&b, i, ICPROTO_CHUNK_LOST, 0);
    char ev[64];
    icproto_reply_t r;
    assert_int_equal(feed_bytewise(buf_head(&b), buf_len(&b), ev, &r), 0);
    assert_int_equal(strlen(ev), 1 + EC_MAX_CHUNKS + 1);
    /* One more element than any coding has is refused on its header. */
    char line[32];
    int n = snprintf(line, sizeof line, "*%d\r\n", 2 + EC_MAX_CHUNKS);
    assert_int_equal(feed_bytewise(line, (size_t)n, ev, &r), ICPROTO_EPROTO);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_icset_roundtrip),        cmocka_unit_test(test_icset_errors),
        cmocka_unit_test(test_get_requests_roundtrip), cmocka_unit_test(test_reply_roundtrip),
        cmocka_unit_test(test_reply_malformed),        cmocka_unit_test(test_reply_parser),
        cmocka_unit_test(test_reply_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
