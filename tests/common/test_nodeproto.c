/* test_nodeproto.c -- unit tests for the proxy<->node codec: every message encoded, decoded back
 * to its fields, cut at every byte, and malformed input refused with a clear error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nodeproto.h"

/* ---- helpers ---- */

/* Feeds the request reader from `in` one byte at a time (bodies skipped as the node skips them).
 * Returns the final NODEPROTO_REQ_DONE or error, and the body length seen (-1 if none). */
static int read_request_bytewise(nodeproto_req_t *r, const char *in, size_t len, int64_t *body)
{
    buf_t b;
    buf_init(&b);
    size_t off = 0, body_left = 0;
    *body = -1;
    int rc = NODEPROTO_REQ_NEED_MORE;
    for (;;) {
        if (body_left) {
            size_t take = buf_len(&b) < body_left ? buf_len(&b) : body_left;
            buf_consume(&b, take);
            body_left -= take;
            if (!body_left) nodeproto_req_body_done(r);
        }
        if (!body_left) {
            rc = nodeproto_req_feed(r, &b);
            if (rc == NODEPROTO_REQ_BODY) {
                *body = r->body_len;
                body_left = (size_t)r->body_len;
                if (!body_left) nodeproto_req_body_done(r);
                continue;
            }
            if (rc != NODEPROTO_REQ_NEED_MORE) break;
        }
        if (off == len) break;
        buf_append(&b, in + off++, 1);
    }
    assert_int_equal(buf_len(&b), 0); /* nothing left over, nothing taken from beyond */
    buf_free(&b);
    return rc;
}

/* Every proper prefix of a reply needs more; the whole parses to exactly its length. */
static void reply_whole(const char *p, size_t len, nodeproto_cmd_t cmd, nodeproto_reply_t *out)
{
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(nodeproto_parse_reply(p, cut, cmd, out), 0);
    assert_int_equal(nodeproto_parse_reply(p, len, cmd, out), (ssize_t)len);
}

static void message_whole(const char *p, size_t len, nodeproto_msg_t *m)
{
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(nodeproto_parse_message(p, cut, m), 0);
    assert_int_equal(nodeproto_parse_message(p, len, m), (ssize_t)len);
}

#define LIT(s) s, sizeof(s) - 1
#define PROOF_LEN 64 /* hex HMAC-SHA256, as nodeauth makes it */

/* ---- requests ---- */

static void test_cset_roundtrip(void **state)
{
    (void)state;
    nodeproto_cset_t c = {.key = "k\0ey",
                          .keylen = 4,
                          .index = 2,
                          .version = UINT64_MAX,
                          .crc = UINT32_MAX,
                          .size = 1000,
                          .d = 2,
                          .p = 1,
                          .expire_ms = 1764892800123ull,
                          .body_len = 5};
    buf_t b;
    buf_init(&b);
    assert_int_equal(nodeproto_put_cset(&b, &c), 0);
    buf_append(&b, "hello", 5);
    assert_int_equal(nodeproto_put_body_end(&b), 0);
    const char want[] =
        "*10\r\n$4\r\nCSET\r\n$4\r\nk\0ey\r\n$1\r\n2\r\n$20\r\n18446744073709551615\r\n"
        "$10\r\n4294967295\r\n$4\r\n1000\r\n$1\r\n2\r\n$1\r\n1\r\n$13\r\n1764892800123\r\n"
        "$5\r\nhello\r\n";
    assert_int_equal(buf_len(&b), sizeof want - 1);
    assert_memory_equal(buf_head(&b), want, sizeof want - 1);

    nodeproto_req_t r;
    nodeproto_req_init(&r);
    int64_t body;
    assert_int_equal(read_request_bytewise(&r, buf_head(&b), buf_len(&b), &body),
                     NODEPROTO_REQ_DONE);
    assert_int_equal(body, 5);
    assert_true(r.is_cset);
    assert_int_equal(r.argc, NODEPROTO_CSET_ELEMENTS);
    assert_int_equal(r.nargs, NODEPROTO_CSET_BODY);
    nodeproto_cset_t d;
    assert_null(nodeproto_cset_decode(&r, &d));
    assert_int_equal(d.keylen, 4);
    assert_memory_equal(d.key, "k\0ey", 4);
    assert_int_equal(d.index, c.index);
    assert_true(d.version == c.version);
    assert_int_equal(d.crc, c.crc);
    assert_true(d.size == c.size && d.d == c.d && d.p == c.p && d.expire_ms == c.expire_ms);
    nodeproto_req_free(&r);
    buf_free(&b);
}

static void test_cexpire_roundtrip(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    nodeproto_put_cexpire(&b, "k\0y", 3, 5, 42, 1767225600123ull);
    nodeproto_req_t r;
    nodeproto_req_init(&r);
    int64_t body;
    assert_int_equal(read_request_bytewise(&r, buf_head(&b), buf_len(&b), &body),
                     NODEPROTO_REQ_DONE);
    assert_int_equal(body, -1);
    assert_true(nodeproto_req_is(&r, "cexpire"));
    assert_int_equal(r.argc, 5);
    uint32_t index;
    uint64_t version, expire_ms;
    assert_null(nodeproto_cexpire_decode(&r, &index, &version, &expire_ms));
    assert_int_equal(r.argl[1], 3);
    assert_memory_equal(r.argv[1], "k\0y", 3);
    assert_int_equal(index, 5);
    assert_true(version == 42 && expire_ms == 1767225600123ull);
    nodeproto_req_free(&r);
    /* A bad expiry is refused with its own error. */
    buf_clear(&b);
    static const char bad[] =
        "*5\r\n$7\r\nCEXPIRE\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$2\r\n-1\r\n";
    buf_append(&b, bad, sizeof bad - 1);
    nodeproto_req_init(&r);
    assert_int_equal(read_request_bytewise(&r, buf_head(&b), buf_len(&b), &body),
                     NODEPROTO_REQ_DONE);
    assert_string_equal(nodeproto_cexpire_decode(&r, &index, &version, &expire_ms),
                        "ERR invalid expiry");
    nodeproto_req_free(&r);
    buf_free(&b);
}

static void test_crename_roundtrip(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    nodeproto_put_crename(&b, "o\0ld", 4, 11, 42, "new", 3, 1767225600123000ull);
    nodeproto_req_t r;
    nodeproto_req_init(&r);
    int64_t body;
    assert_int_equal(read_request_bytewise(&r, buf_head(&b), buf_len(&b), &body),
                     NODEPROTO_REQ_DONE);
    assert_int_equal(body, -1);
    assert_true(nodeproto_req_is(&r, "crename"));
    assert_int_equal(r.argc, 6);
    nodeproto_crename_t c;
    assert_null(nodeproto_crename_decode(&r, &c));
    assert_int_equal(c.keylen, 4);
    assert_memory_equal(c.key, "o\0ld", 4);
    assert_int_equal(c.newkeylen, 3);
    assert_memory_equal(c.newkey, "new", 3);
    assert_int_equal(c.index, 11);
    assert_true(c.version == 42 && c.newversion == 1767225600123000ull);
    nodeproto_req_free(&r);

    /* Each field is checked: the index, the version, the new version (never 0), the count. */
    static const struct {
        const char *req, *err;
    } bad[] = {
        {"*6\r\n$7\r\nCRENAME\r\n$1\r\nk\r\n$2\r\n-1\r\n$1\r\n1\r\n$1\r\nn\r\n$1\r\n2\r\n",
         "ERR invalid chunk index"},
        {"*6\r\n$7\r\nCRENAME\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\nx\r\n$1\r\nn\r\n$1\r\n2\r\n",
         "ERR invalid version"},
        {"*6\r\n$7\r\nCRENAME\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\nn\r\n$1\r\n0\r\n",
         "ERR invalid new version"},
        {"*6\r\n$7\r\nCRENAME\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\nn\r\n$21\r\n"
         "184467440737095516160\r\n",
         "ERR invalid new version"},
        {"*5\r\n$7\r\nCRENAME\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\nn\r\n",
         "ERR wrong number of arguments for 'CRENAME'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf_clear(&b);
        buf_append(&b, bad[i].req, strlen(bad[i].req));
        nodeproto_req_init(&r);
        assert_int_equal(read_request_bytewise(&r, buf_head(&b), buf_len(&b), &body),
                         NODEPROTO_REQ_DONE);
        assert_string_equal(nodeproto_crename_decode(&r, &c), bad[i].err);
        nodeproto_req_free(&r);
    }
    /* A new key over the argument limit is not kept: the reader hands it over as a body, which
     * the node drains and refuses. */
    buf_clear(&b);
    size_t big = NODEPROTO_MAX_ARG + 1;
    char *k = malloc(big);
    assert_non_null(k);
    memset(k, 'k', big);
    nodeproto_put_crename(&b, "k", 1, 0, 1, k, big, 2);
    free(k);
    nodeproto_req_init(&r);
    assert_int_equal(nodeproto_req_feed(&r, &b), NODEPROTO_REQ_BODY);
    assert_int_equal(r.argi, 4);
    assert_true(r.body_len == (int64_t)big);
    nodeproto_req_free(&r);
    buf_free(&b);
}

static void test_chunk_requests_roundtrip(void **state)
{
    (void)state;
    for (int kind = 0; kind < 3; kind++) {
        buf_t b;
        buf_init(&b);
        if (kind == 0)
            nodeproto_put_cget(&b, "key", 3, 7, 42);
        else
            nodeproto_put_cdel(&b, "key", 3, 7, 42, kind == 2);
        nodeproto_req_t r;
        nodeproto_req_init(&r);
        int64_t body;
        assert_int_equal(read_request_bytewise(&r, buf_head(&b), buf_len(&b), &body),
                         NODEPROTO_REQ_DONE);
        assert_int_equal(body, -1);
        assert_true(nodeproto_req_is(&r, kind == 0 ? "CGET" : "cdel"));
        assert_int_equal(r.argc, kind == 2 ? 5 : 4);
        uint32_t index;
        uint64_t version;
        assert_null(nodeproto_chunk_id_decode(&r, &index, &version));
        assert_int_equal(index, 7);
        assert_int_equal(version, 42);
        if (kind == 2) assert_string_equal(r.argv[4], "TOMB");
        nodeproto_req_free(&r);
        buf_free(&b);
    }
}

static void test_cgetr_roundtrip(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    nodeproto_put_cgetr(&b, "key", 3, 7, 42, 1000, 1048576);
    nodeproto_req_t r;
    nodeproto_req_init(&r);
    int64_t body;
    assert_int_equal(read_request_bytewise(&r, buf_head(&b), buf_len(&b), &body),
                     NODEPROTO_REQ_DONE);
    assert_true(nodeproto_req_is(&r, "cgetr"));
    assert_int_equal(r.argc, 6);
    uint32_t index;
    uint64_t version, offset, length;
    assert_null(nodeproto_cgetr_decode(&r, &index, &version, &offset, &length));
    assert_true(index == 7 && version == 42 && offset == 1000 && length == 1048576);
    nodeproto_req_free(&r);
    /* Lengths past the largest chunk, and missing or non-numeric bounds, are refused. */
    static const char *const bad[] = {
        "*6\r\n$5\r\nCGETR\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n0\r\n"
        "$10\r\n1073741825\r\n",
        "*6\r\n$5\r\nCGETR\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$2\r\n-1\r\n$1\r\n1\r\n",
        "*5\r\n$5\r\nCGETR\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n0\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf_clear(&b);
        buf_append(&b, bad[i], strlen(bad[i]));
        nodeproto_req_init(&r);
        assert_int_equal(read_request_bytewise(&r, buf_head(&b), buf_len(&b), &body),
                         NODEPROTO_REQ_DONE);
        assert_string_equal(nodeproto_cgetr_decode(&r, &index, &version, &offset, &length),
                            "ERR invalid range");
        nodeproto_req_free(&r);
    }
    buf_free(&b);
}

static void test_simple_and_backup_requests(void **state)
{
    (void)state;
    static const struct {
        nodeproto_cmd_t cmd;
        const char *name;
    } simple[] = {{NODEPROTO_PING, "PING"},
                  {NODEPROTO_STATS, "STATS"},
                  {NODEPROTO_INVENTORY, "INVENTORY"},
                  {NODEPROTO_SYNCDONE, "SYNCDONE"},
                  {NODEPROTO_GOAWAY, "GOAWAY"}};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        buf_t b;
        buf_init(&b);
        nodeproto_put_simple(&b, simple[i].cmd);
        nodeproto_req_t r;
        nodeproto_req_init(&r);
        int64_t body;
        assert_int_equal(read_request_bytewise(&r, buf_head(&b), buf_len(&b), &body),
                         NODEPROTO_REQ_DONE);
        assert_int_equal(r.argc, 1);
        assert_true(nodeproto_req_is(&r, simple[i].name));
        nodeproto_req_free(&r);
        buf_free(&b);
    }
    for (int signed_ = 0; signed_ < 2; signed_++) {
        buf_t b;
        buf_init(&b);
        nodeproto_put_backup(&b, LIT("127.0.0.1:6389"), LIT("tok"), LIT("http://x:1"),
                             signed_ ? "aws:amz:us-east-1:lambda" : NULL, signed_ ? 24 : 0);
        nodeproto_req_t r;
        nodeproto_req_init(&r);
        int64_t body;
        assert_int_equal(read_request_bytewise(&r, buf_head(&b), buf_len(&b), &body),
                         NODEPROTO_REQ_DONE);
        assert_int_equal(r.argc, signed_ ? 5 : 4);
        assert_true(nodeproto_req_is(&r, "BACKUP"));
        assert_string_equal(r.argv[1], "127.0.0.1:6389");
        assert_string_equal(r.argv[2], "tok");
        assert_string_equal(r.argv[3], "http://x:1");
        if (signed_) assert_string_equal(r.argv[4], "aws:amz:us-east-1:lambda");
        nodeproto_req_free(&r);
        buf_free(&b);
    }
}

/* LANES n: every count 1..64 reads back; anything else is refused with the node's error. */
static void test_lanes_request(void **state)
{
    (void)state;
    for (unsigned n = 1; n <= NODEPROTO_MAX_LANES; n++) {
        buf_t b;
        buf_init(&b);
        assert_int_equal(nodeproto_put_lanes(&b, n), 0);
        nodeproto_req_t r;
        nodeproto_req_init(&r);
        int64_t body;
        assert_int_equal(read_request_bytewise(&r, buf_head(&b), buf_len(&b), &body),
                         NODEPROTO_REQ_DONE);
        assert_int_equal(r.argc, 2);
        assert_true(nodeproto_req_is(&r, "lanes"));
        unsigned got = 0;
        assert_null(nodeproto_lanes_decode(&r, &got));
        assert_int_equal(got, n);
        nodeproto_req_free(&r);
        buf_free(&b);
    }
    static const char *const bad[] = {
        "0", "65", "-1", "+2", "02", "", "4x", "18446744073709551617", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf_t b;
        buf_init(&b);
        const char *argv[] = {"LANES", bad[i]};
        resp_add_command(&b, 2, argv, NULL);
        nodeproto_req_t r;
        nodeproto_req_init(&r);
        int64_t body;
        assert_int_equal(read_request_bytewise(&r, buf_head(&b), buf_len(&b), &body),
                         NODEPROTO_REQ_DONE);
        unsigned got = 7;
        const char *err = nodeproto_lanes_decode(&r, &got);
        if (!err) fail_msg("LANES '%s' was accepted", bad[i]);
        assert_string_equal(err, "ERR invalid lane count");
        assert_int_equal(got, 7);
        nodeproto_req_free(&r);
        buf_free(&b);
    }
    /* Its reply is a simple string, or an error. */
    nodeproto_reply_t rep;
    reply_whole(LIT("+OK\r\n"), NODEPROTO_LANES, &rep);
    assert_int_equal(rep.kind, NODEPROTO_REPLY_SIMPLE);
    reply_whole(LIT("-ERR invalid lane count\r\n"), NODEPROTO_LANES, &rep);
    assert_int_equal(rep.kind, NODEPROTO_REPLY_ERROR);
    assert_int_equal(nodeproto_parse_reply(LIT(":1\r\n"), NODEPROTO_LANES, &rep),
                     NODEPROTO_EUNEXPECTED);
}

static void test_request_limits(void **state)
{
    (void)state;
    nodeproto_req_t r;
    nodeproto_req_init(&r);
    buf_t b;
    buf_init(&b);
    /* A chunk of exactly the limit is a body; one byte more is refused on its header. */
    char line[64];
    snprintf(line, sizeof line, "*10\r\n$4\r\nCSET\r\n$1\r\nk\r\n");
    buf_append(&b, line, strlen(line));
    for (int i = 0; i < 7; i++)
        buf_append(&b, "$1\r\n1\r\n", 7);
    snprintf(line, sizeof line, "$%lld\r\n", (long long)NODEPROTO_MAX_BODY);
    buf_append(&b, line, strlen(line));
    assert_int_equal(nodeproto_req_feed(&r, &b), NODEPROTO_REQ_BODY);
    assert_true(r.body_len == NODEPROTO_MAX_BODY);
    nodeproto_req_reset(&r);
    buf_clear(&b);
    snprintf(line, sizeof line, "*2\r\n$4\r\nCGET\r\n$%lld\r\n", (long long)NODEPROTO_MAX_BODY + 1);
    buf_append(&b, line, strlen(line));
    int rc = nodeproto_req_feed(&r, &b);
    assert_int_equal(rc, NODEPROTO_ETOOBIG);
    assert_string_equal(nodeproto_strerror(rc), "length over the node protocol's limits");
    /* An argument over NODEPROTO_MAX_ARG stops the reader as a body (answered with an error). */
    nodeproto_req_reset(&r);
    buf_clear(&b);
    snprintf(line, sizeof line, "*2\r\n$4\r\nCGET\r\n$%d\r\n", NODEPROTO_MAX_ARG + 1);
    buf_append(&b, line, strlen(line));
    assert_int_equal(nodeproto_req_feed(&r, &b), NODEPROTO_REQ_BODY);
    assert_int_equal(r.body_len, NODEPROTO_MAX_ARG + 1);
    /* Elements: the limit is fine, one more is refused. */
    nodeproto_req_reset(&r);
    buf_clear(&b);
    snprintf(line, sizeof line, "*%d\r\n", NODEPROTO_MAX_ELEMENTS);
    buf_append(&b, line, strlen(line));
    for (int i = 0; i < NODEPROTO_MAX_ELEMENTS; i++)
        buf_append(&b, "$1\r\nx\r\n", 7);
    assert_int_equal(nodeproto_req_feed(&r, &b), NODEPROTO_REQ_DONE);
    assert_int_equal(r.nargs, NODEPROTO_REQ_KEEP_ARGS); /* later ones are read and dropped */
    nodeproto_req_reset(&r);
    buf_clear(&b);
    snprintf(line, sizeof line, "*%d\r\n", NODEPROTO_MAX_ELEMENTS + 1);
    buf_append(&b, line, strlen(line));
    assert_int_equal(nodeproto_req_feed(&r, &b), NODEPROTO_ETOOBIG);
    /* A header line over NODEPROTO_MAX_LINE is garbage, not a slow sender. */
    nodeproto_req_reset(&r);
    buf_clear(&b);
    buf_append(&b, "*1\r\n$", 5);
    for (int i = 0; i < NODEPROTO_MAX_LINE; i++)
        buf_append(&b, "0", 1);
    assert_true(nodeproto_req_feed(&r, &b) < 0);
    buf_free(&b);
    nodeproto_req_free(&r);
}

static void test_request_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int err;
    } bad[] = {
        {"PING\r\n", NODEPROTO_ENOTARRAY},       {"*-1\r\n", NODEPROTO_ENOTARRAY},
        {"*1\r\n:1\r\n", NODEPROTO_ENOTBULK},    {"*1\r\n$-1\r\n", NODEPROTO_ENOTBULK},
        {"*1\r\n$4\r\nPINGxx", NODEPROTO_ECRLF}, {"*x\r\n", NODEPROTO_EHEADER},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nodeproto_req_t r;
        nodeproto_req_init(&r);
        buf_t b;
        buf_init(&b);
        buf_append(&b, bad[i].in, strlen(bad[i].in));
        int rc = nodeproto_req_feed(&r, &b);
        if (rc != bad[i].err) fail_msg("%zu: %s gave %d", i, bad[i].in, rc);
        assert_true(strlen(nodeproto_strerror(rc)) > 5);
        buf_free(&b);
        nodeproto_req_free(&r);
    }
    /* A body's CRLF is checked after the body. */
    nodeproto_req_t r;
    nodeproto_req_init(&r);
    buf_t b;
    buf_init(&b);
    buf_append(&b, "*10\r\n$4\r\nCSET\r\n", 15);
    for (int i = 0; i < 8; i++)
        buf_append(&b, "$1\r\n1\r\n", 7);
    buf_append(&b, "$2\r\nabXY", 8);
    assert_int_equal(nodeproto_req_feed(&r, &b), NODEPROTO_REQ_BODY);
    buf_consume(&b, 2);
    nodeproto_req_body_done(&r);
    assert_int_equal(nodeproto_req_feed(&r, &b), NODEPROTO_ECRLF);
    buf_free(&b);
    nodeproto_req_free(&r);
}

static void test_cset_argument_errors(void **state)
{
    (void)state;
    static const struct {
        const char *args[8]; /* index version crc size d p expire */
        const char *err;
    } cases[] = {
        {{"x", "1", "1", "1", "1", "1", "0"}, "ERR invalid chunk index"},
        {{"4294967296", "1", "1", "1", "1", "1", "0"}, "ERR invalid chunk index"},
        {{"0", "-1", "1", "1", "1", "1", "0"}, "ERR invalid version"},
        {{"0", "1", "4294967296", "1", "1", "1", "0"}, "ERR invalid crc"},
        {{"0", "1", "1", "z", "1", "1", "0"}, "ERR invalid object size"},
        {{"0", "1", "1", "1", "q", "1", "0"}, "ERR invalid coding"},
        {{"0", "1", "1", "1", "1", "1", "1.5"}, "ERR invalid expiry"},
        {{"0", "1", "1", "1", "0", "1", "0"},
         "ERR invalid coding (need 1 <= d, d + p <= 48, index < d + p)"},
        {{"0", "1", "1", "1", "40", "9", "0"},
         "ERR invalid coding (need 1 <= d, d + p <= 48, index < d + p)"},
        {{"3", "1", "1", "1", "2", "1", "0"},
         "ERR invalid coding (need 1 <= d, d + p <= 48, index < d + p)"},
        {{"47", "1", "1", "1", "40", "8", "0"}, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[10] = {"CSET", "key"};
        for (int a = 0; a < 7; a++)
            argv[2 + a] = cases[i].args[a];
        buf_t b;
        buf_init(&b);
        resp_add_command(&b, 9, argv, NULL);
        nodeproto_req_t r;
        nodeproto_req_init(&r);
        assert_int_equal(nodeproto_req_feed(&r, &b), NODEPROTO_REQ_DONE);
        nodeproto_cset_t c;
        const char *err = nodeproto_cset_decode(&r, &c);
        if (cases[i].err)
            assert_string_equal(err, cases[i].err);
        else
            assert_null(err);
        nodeproto_req_free(&r);
        buf_free(&b);
    }
}

/* ---- replies ---- */

static void test_replies_roundtrip(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    nodeproto_reply_t rep;

    nodeproto_put_chunk_header(&b, 4000000000u, 3);
    size_t hdr = buf_len(&b);
    buf_append(&b, "abc", 3);
    nodeproto_put_body_end(&b);
    reply_whole(buf_head(&b), hdr, NODEPROTO_CGET, &rep);
    assert_int_equal(rep.kind, NODEPROTO_REPLY_CHUNK);
    assert_int_equal(rep.crc, 4000000000u);
    assert_int_equal(rep.body_len, 3);
    /* The codec never touches the body: it only says when body and CRLF are in the buffer. */
    for (size_t avail = 0; avail < 5; avail++)
        assert_int_equal(nodeproto_body_in_buffer(buf_head(&b) + hdr, avail, 3), 0);
    assert_int_equal(nodeproto_body_in_buffer(buf_head(&b) + hdr, 5, 3), 5);
    assert_int_equal(nodeproto_body_in_buffer("abcXY", 5, 3), NODEPROTO_ECRLF);

    buf_clear(&b);
    resp_add_null(&b);
    reply_whole(buf_head(&b), buf_len(&b), NODEPROTO_CGET, &rep);
    assert_int_equal(rep.kind, NODEPROTO_REPLY_NULL);
    reply_whole(buf_head(&b), buf_len(&b), NODEPROTO_CGETR, &rep);
    assert_int_equal(rep.kind, NODEPROTO_REPLY_NULL);

    /* CGETR: the CRCs of the bytes before and after the piece, then the piece. */
    buf_clear(&b);
    nodeproto_put_piece_header(&b, 4000000000u, 7, 1048576);
    reply_whole(buf_head(&b), buf_len(&b), NODEPROTO_CGETR, &rep);
    assert_int_equal(rep.kind, NODEPROTO_REPLY_PIECE);
    assert_int_equal(rep.crc, 4000000000u);
    assert_int_equal(rep.tail_crc, 7);
    assert_int_equal(rep.body_len, 1048576);

    buf_clear(&b);
    nodeproto_put_inventory_header(&b, 12);
    reply_whole(buf_head(&b), buf_len(&b), NODEPROTO_INVENTORY, &rep);
    assert_int_equal(rep.kind, NODEPROTO_REPLY_BULK);
    assert_int_equal(rep.body_len, 12);

    buf_clear(&b);
    nodeproto_put_stats(&b, 1ull << 40, 5, 6, 7);
    reply_whole(buf_head(&b), buf_len(&b), NODEPROTO_STATS, &rep);
    assert_int_equal(rep.kind, NODEPROTO_REPLY_STATS);
    assert_true(rep.stats[0] == (int64_t)1 << 40 && rep.stats[1] == 5 && rep.stats[2] == 6 &&
                rep.stats[3] == 7);

    buf_clear(&b);
    resp_add_int(&b, 1);
    reply_whole(buf_head(&b), buf_len(&b), NODEPROTO_CDEL, &rep);
    assert_int_equal(rep.kind, NODEPROTO_REPLY_INT);
    assert_int_equal(rep.n, 1);

    buf_clear(&b);
    resp_add_int(&b, 0);
    reply_whole(buf_head(&b), buf_len(&b), NODEPROTO_CEXPIRE, &rep);
    assert_int_equal(rep.kind, NODEPROTO_REPLY_INT);
    assert_int_equal(rep.n, 0);

    buf_clear(&b);
    resp_add_int(&b, 1);
    reply_whole(buf_head(&b), buf_len(&b), NODEPROTO_CRENAME, &rep);
    assert_int_equal(rep.kind, NODEPROTO_REPLY_INT);
    assert_int_equal(rep.n, 1);
    buf_clear(&b);
    resp_add_simple(&b, "OK");
    assert_int_equal(nodeproto_parse_reply(buf_head(&b), buf_len(&b), NODEPROTO_CRENAME, &rep),
                     NODEPROTO_EUNEXPECTED);

    for (int cmd = NODEPROTO_PING; cmd <= NODEPROTO_CRENAME; cmd++) {
        buf_clear(&b);
        resp_add_error(&b, "NOMEM chunk of %d bytes", 10);
        reply_whole(buf_head(&b), buf_len(&b), (nodeproto_cmd_t)cmd, &rep);
        assert_int_equal(rep.kind, NODEPROTO_REPLY_ERROR);
        assert_int_equal(rep.len, strlen("NOMEM chunk of 10 bytes"));
        assert_memory_equal(rep.str, "NOMEM chunk of 10 bytes", rep.len);
    }
    static const nodeproto_cmd_t ok_cmds[] = {NODEPROTO_PING, NODEPROTO_CSET, NODEPROTO_BACKUP,
                                              NODEPROTO_SYNCDONE, NODEPROTO_GOAWAY};
    for (size_t i = 0; i < sizeof ok_cmds / sizeof ok_cmds[0]; i++) {
        buf_clear(&b);
        resp_add_simple(&b, "OK");
        reply_whole(buf_head(&b), buf_len(&b), ok_cmds[i], &rep);
        assert_int_equal(rep.kind, NODEPROTO_REPLY_SIMPLE);
        assert_int_equal(rep.len, 2);
    }
    buf_free(&b);
}

static void test_reply_limits_and_shapes(void **state)
{
    (void)state;
    nodeproto_reply_t rep;
    char line[128];
    /* A chunk of the limit is accepted, one byte more is not. */
    int n = snprintf(line, sizeof line, "*2\r\n:1\r\n$%lld\r\n", (long long)NODEPROTO_MAX_BODY);
    assert_int_equal(nodeproto_parse_reply(line, (size_t)n, NODEPROTO_CGET, &rep), n);
    n = snprintf(line, sizeof line, "*2\r\n:1\r\n$%lld\r\n", (long long)NODEPROTO_MAX_BODY + 1);
    assert_int_equal(nodeproto_parse_reply(line, (size_t)n, NODEPROTO_CGET, &rep),
                     NODEPROTO_ETOOBIG);
    n = snprintf(line, sizeof line, "$%zu\r\n", NODEPROTO_INVENTORY_MAX);
    assert_int_equal(nodeproto_parse_reply(line, (size_t)n, NODEPROTO_INVENTORY, &rep), n);
    n = snprintf(line, sizeof line, "$%zu\r\n", NODEPROTO_INVENTORY_MAX + 1);
    assert_int_equal(nodeproto_parse_reply(line, (size_t)n, NODEPROTO_INVENTORY, &rep),
                     NODEPROTO_ETOOBIG);
    /* A reply of another request's shape. */
    static const struct {
        nodeproto_cmd_t cmd;
        const char *in;
    } unexpected[] = {
        {NODEPROTO_CGET, "+OK\r\n"},
        {NODEPROTO_CGET, "*3\r\n"},
        {NODEPROTO_CGET, "*2\r\n$1\r\n"},
        {NODEPROTO_CGET, "*2\r\n:-1\r\n"},
        {NODEPROTO_CGET, "*2\r\n:4294967296\r\n"},
        {NODEPROTO_CGET, "*2\r\n:1\r\n:2\r\n"},
        {NODEPROTO_CGET, "*2\r\n:1\r\n$-1\r\n"},
        {NODEPROTO_CGETR, "*2\r\n"},
        {NODEPROTO_CGETR, "*3\r\n:1\r\n$2\r\n"},
        {NODEPROTO_CGETR, "*3\r\n:1\r\n:-2\r\n"},
        {NODEPROTO_CGETR, "*3\r\n:1\r\n:4294967296\r\n"},
        {NODEPROTO_CGETR, "*3\r\n:1\r\n:2\r\n$-1\r\n"},
        {NODEPROTO_CDEL, "+OK\r\n"},
        {NODEPROTO_CSET, ":1\r\n"},
        {NODEPROTO_PING, "$4\r\n"},
        {NODEPROTO_INVENTORY, "$-1\r\n"},
        {NODEPROTO_INVENTORY, "*1\r\n"},
        {NODEPROTO_STATS, "*3\r\n"},
        {NODEPROTO_STATS, "*4\r\n:1\r\n+x\r\n"},
    };
    for (size_t i = 0; i < sizeof unexpected / sizeof unexpected[0]; i++) {
        ssize_t rc = nodeproto_parse_reply(unexpected[i].in, strlen(unexpected[i].in),
                                           unexpected[i].cmd, &rep);
        if (rc != NODEPROTO_EUNEXPECTED) fail_msg("%zu: %s gave %zd", i, unexpected[i].in, rc);
    }
    assert_int_equal(nodeproto_parse_reply("?x\r\n", 4, NODEPROTO_PING, &rep), NODEPROTO_EHEADER);
    assert_string_equal(nodeproto_strerror(NODEPROTO_EUNEXPECTED),
                        "reply of another shape than its request's");
    assert_string_equal(nodeproto_strerror(NODEPROTO_ECRLF), "bulk not followed by CRLF");
}

/* ---- unsolicited messages ---- */

static void test_hello_roundtrip(void **state)
{
    (void)state;
    char proof[PROOF_LEN + 1];
    memset(proof, 'a', PROOF_LEN);
    proof[PROOF_LEN] = 0;
    nodeproto_hello_t h = {.node_id = 31,
                           .instance = "9f2c",
                           .instance_len = 4,
                           .proof = proof,
                           .proof_len = PROOF_LEN,
                           .mem_limit = 1 << 30,
                           .mem_used = 12,
                           .chunks = 3,
                           .invocation = 9};
    buf_t b;
    buf_init(&b);
    nodeproto_put_hello(&b, &h);
    assert_int_equal(nodeproto_is_message(buf_head(&b), buf_len(&b)), 1);
    nodeproto_msg_t m;
    message_whole(buf_head(&b), buf_len(&b), &m);
    assert_true(nodeproto_msg_is(&m, "hello"));
    nodeproto_hello_t d;
    assert_int_equal(nodeproto_hello_decode(&m, &d), 0);
    assert_int_equal(d.node_id, 31);
    assert_int_equal(d.node_id_len, 2);
    assert_memory_equal(d.node_id_text, "31", 2);
    assert_int_equal(d.instance_len, 4);
    assert_memory_equal(d.instance, "9f2c", 4);
    assert_int_equal(d.proof_len, PROOF_LEN);
    assert_true(d.mem_limit == 1 << 30 && d.mem_used == 12 && d.chunks == 3 && d.invocation == 9);
    buf_free(&b);

    /* No proof, and numbers that are not: the strings still come out for the proof check. */
    const char *short_hello[] = {"HELLO", "1", "i", "1", "1", "1", "1"};
    buf_init(&b);
    resp_add_command(&b, 7, short_hello, NULL);
    message_whole(buf_head(&b), buf_len(&b), &m);
    assert_int_equal(nodeproto_hello_decode(&m, &d), NODEPROTO_EUNEXPECTED);
    buf_clear(&b);
    const char *bad_hello[] = {"HELLO", "1", "inst", "lots", "1", "1", "1", "proof"};
    resp_add_command(&b, 8, bad_hello, NULL);
    message_whole(buf_head(&b), buf_len(&b), &m);
    assert_int_equal(nodeproto_hello_decode(&m, &d), NODEPROTO_EHEADER);
    assert_memory_equal(d.instance, "inst", 4);
    assert_memory_equal(d.proof, "proof", 5);
    buf_free(&b);
}

/* The epoch a node reports (docs/STANDBY.md): the ninth element, before the proof, which stays
 * last; without it a HELLO reads as epoch 0. */
static void test_hello_epoch(void **state)
{
    (void)state;
    char proof[PROOF_LEN + 1];
    memset(proof, 'b', PROOF_LEN);
    proof[PROOF_LEN] = 0;
    nodeproto_hello_t h = {.node_id = 7,
                           .instance = "abcd",
                           .instance_len = 4,
                           .proof = proof,
                           .proof_len = PROOF_LEN,
                           .mem_limit = 100,
                           .invocation = 2,
                           .has_epoch = 1,
                           .epoch = 1764892800123456LL};
    buf_t b;
    buf_init(&b);
    nodeproto_put_hello(&b, &h);
    nodeproto_msg_t m;
    message_whole(buf_head(&b), buf_len(&b), &m);
    assert_int_equal(m.argc, 9);
    nodeproto_hello_t d;
    assert_int_equal(nodeproto_hello_decode(&m, &d), 0);
    assert_true(d.has_epoch);
    assert_true(d.epoch == 1764892800123456LL);
    assert_int_equal(d.epoch_len, 16);
    assert_memory_equal(d.epoch_text, "1764892800123456", 16);
    assert_int_equal(d.proof_len, PROOF_LEN);
    assert_memory_equal(d.proof, proof, PROOF_LEN);
    assert_true(d.invocation == 2);

    /* The form without an epoch. */
    buf_clear(&b);
    h.has_epoch = 0;
    nodeproto_put_hello(&b, &h);
    message_whole(buf_head(&b), buf_len(&b), &m);
    assert_int_equal(m.argc, 8);
    assert_int_equal(nodeproto_hello_decode(&m, &d), 0);
    assert_false(d.has_epoch);
    assert_true(d.epoch == 0);
    assert_memory_equal(d.proof, proof, PROOF_LEN);

    /* An epoch that is not a number, a negative one, and a tenth element. */
    const char *bad[][10] = {
        {"HELLO", "1", "i", "1", "1", "1", "1", "soon", "proof"},
        {"HELLO", "1", "i", "1", "1", "1", "1", "-5", "proof"},
        {"HELLO", "1", "i", "1", "1", "1", "1", "5", "x", "proof"},
    };
    const int argc[] = {9, 9, 10};
    const int want[] = {NODEPROTO_EHEADER, NODEPROTO_EHEADER, NODEPROTO_EUNEXPECTED};
    for (int i = 0; i < 3; i++) {
        buf_clear(&b);
        resp_add_command(&b, argc[i], bad[i], NULL);
        message_whole(buf_head(&b), buf_len(&b), &m);
        assert_int_equal(nodeproto_hello_decode(&m, &d), want[i]);
    }
    buf_free(&b);
}

static void test_other_messages(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    nodeproto_msg_t m;

    nodeproto_put_bye(&b);
    message_whole(buf_head(&b), buf_len(&b), &m);
    assert_true(nodeproto_msg_is(&m, "BYE") && m.argc == 1);

    buf_clear(&b);
    nodeproto_put_backupdone(&b, "tok", "ok", 3, 4096, 1);
    message_whole(buf_head(&b), buf_len(&b), &m);
    nodeproto_backupdone_t d;
    assert_int_equal(nodeproto_backupdone_decode(&m, &d), 0);
    assert_true(d.ok && d.chunks_sent == 3 && d.bytes_sent == 4096 && d.chunks_deleted == 1);
    assert_memory_equal(d.token, "tok", 3);
    buf_clear(&b);
    nodeproto_put_backupdone(&b, "tok", "failed:timeout", 0, 0, 0);
    message_whole(buf_head(&b), buf_len(&b), &m);
    assert_int_equal(nodeproto_backupdone_decode(&m, &d), 0);
    assert_false(d.ok);
    assert_int_equal(d.status_len, strlen("failed:timeout"));

    buf_clear(&b);
    nodeproto_put_challenge(&b, "0123456789abcdef0123456789abcdef");
    const char want[] = "*2\r\n$9\r\nCHALLENGE\r\n$32\r\n0123456789abcdef0123456789abcdef\r\n";
    assert_int_equal(buf_len(&b), sizeof want - 1);
    assert_memory_equal(buf_head(&b), want, sizeof want - 1);

    buf_clear(&b);
    nodeproto_put_refused(&b, "bad_proof");
    message_whole(buf_head(&b), buf_len(&b), &m);
    assert_true(nodeproto_msg_is(&m, "REFUSED") && m.argc == 2);

    for (int with_proof = 0; with_proof < 2; with_proof++) {
        buf_clear(&b);
        nodeproto_put_relay(&b, "tok", "source", with_proof ? "pr" : NULL);
        for (size_t cut = 0; cut < buf_len(&b); cut++)
            assert_int_equal(nodeproto_parse_relay(buf_head(&b), cut, &m), 0);
        assert_int_equal(nodeproto_parse_relay(buf_head(&b), buf_len(&b), &m),
                         (ssize_t)buf_len(&b));
        assert_int_equal(m.argc, with_proof ? 4 : 3);
        assert_true(nodeproto_msg_is(&m, "RELAY"));
    }
    buf_free(&b);
}

/* BILL: round trip at every cut, then each field out of its bounds refused with nothing kept. */
static void test_bill_message(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    nodeproto_msg_t m;
    nodeproto_bill_t in = {.seq = 7,
                           .kind = 2,
                           .duration_us = 12001,
                           .billed_ms = 13,
                           .memory_mb = 1536,
                           .max_rss_kb = 40960,
                           .dropped = 3};
    nodeproto_bill_t out;
    assert_int_equal(nodeproto_put_bill(&b, &in), 0);
    message_whole(buf_head(&b), buf_len(&b), &m);
    assert_true(nodeproto_msg_is(&m, "BILL"));
    assert_int_equal(nodeproto_bill_decode(&m, &out), 0);
    assert_true(out.seq == 7 && out.kind == 2 && out.duration_us == 12001 && out.billed_ms == 13 &&
                out.memory_mb == 1536 && out.max_rss_kb == 40960 && out.dropped == 3);
    /* The shortest invocation still bills one millisecond; 100 ms units are within the slack. */
    in.duration_us = 0;
    in.billed_ms = 1;
    buf_clear(&b);
    nodeproto_put_bill(&b, &in);
    message_whole(buf_head(&b), buf_len(&b), &m);
    assert_int_equal(nodeproto_bill_decode(&m, &out), 0);
    in.duration_us = 12001;
    in.billed_ms = 100;
    buf_clear(&b);
    nodeproto_put_bill(&b, &in);
    message_whole(buf_head(&b), buf_len(&b), &m);
    assert_int_equal(nodeproto_bill_decode(&m, &out), 0);
    assert_int_equal(out.billed_ms, 100);
    buf_free(&b);

    /* Malformed and out-of-bounds records: each is refused whole. */
    static const struct {
        const char *wire;
        int want;
    } bad[] = {
        {"*7\r\n$4\r\nBILL\r\n$1\r\n1\r\n$8\r\nactivate\r\n$1\r\n5\r\n$1\r\n1\r\n"
         "$3\r\n128\r\n$1\r\n0\r\n",
         NODEPROTO_EUNEXPECTED}, /* an element short */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n0\r\n$8\r\nactivate\r\n$1\r\n5\r\n$1\r\n1\r\n"
         "$3\r\n128\r\n$1\r\n0\r\n$1\r\n0\r\n",
         NODEPROTO_EHEADER}, /* seq 0 */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n1\r\n$6\r\nrepair\r\n$1\r\n5\r\n$1\r\n1\r\n"
         "$3\r\n128\r\n$1\r\n0\r\n$1\r\n0\r\n",
         NODEPROTO_EHEADER}, /* unknown kind */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n1\r\n$8\r\nACTIVATE\r\n$1\r\n5\r\n$1\r\n1\r\n"
         "$3\r\n128\r\n$1\r\n0\r\n$1\r\n0\r\n",
         NODEPROTO_EHEADER}, /* kinds are lower case */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n1\r\n$8\r\nactivate\r\n$2\r\n-5\r\n$1\r\n1\r\n"
         "$3\r\n128\r\n$1\r\n0\r\n$1\r\n0\r\n",
         NODEPROTO_EHEADER}, /* negative duration */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n1\r\n$8\r\nactivate\r\n$10\r\n9600000001\r\n"
         "$7\r\n9600001\r\n$3\r\n128\r\n$1\r\n0\r\n$1\r\n0\r\n",
         NODEPROTO_EHEADER}, /* longer than any Lambda invocation */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n1\r\n$8\r\nactivate\r\n$4\r\n5001\r\n$1\r\n5\r\n"
         "$3\r\n128\r\n$1\r\n0\r\n$1\r\n0\r\n",
         NODEPROTO_EHEADER}, /* billed less than the duration */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n1\r\n$8\r\nactivate\r\n$1\r\n5\r\n$4\r\n1002\r\n"
         "$3\r\n128\r\n$1\r\n0\r\n$1\r\n0\r\n",
         NODEPROTO_EHEADER}, /* billed far more than the duration */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n1\r\n$8\r\nactivate\r\n$1\r\n5\r\n$1\r\n0\r\n"
         "$3\r\n128\r\n$1\r\n0\r\n$1\r\n0\r\n",
         NODEPROTO_EHEADER}, /* nothing billed */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n1\r\n$8\r\nactivate\r\n$1\r\n5\r\n$1\r\n1\r\n"
         "$5\r\n10241\r\n$1\r\n0\r\n$1\r\n0\r\n",
         NODEPROTO_EHEADER}, /* more memory than Lambda has */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n1\r\n$8\r\nactivate\r\n$1\r\n5\r\n$1\r\n1\r\n"
         "$1\r\n0\r\n$1\r\n0\r\n$1\r\n0\r\n",
         NODEPROTO_EHEADER}, /* no memory */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n1\r\n$8\r\nactivate\r\n$1\r\n5\r\n$1\r\n1\r\n"
         "$4\r\n0128\r\n$1\r\n0\r\n$1\r\n0\r\n",
         NODEPROTO_EHEADER}, /* a leading zero */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n1\r\n$8\r\nactivate\r\n$1\r\n5\r\n$1\r\n1\r\n"
         "$3\r\n128\r\n$10\r\n9999999999\r\n$1\r\n0\r\n",
         NODEPROTO_EHEADER}, /* an absurd peak RSS */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n1\r\n$8\r\nactivate\r\n$1\r\n5\r\n$1\r\n1\r\n"
         "$3\r\n128\r\n$1\r\n0\r\n$19\r\n9999999999999999999\r\n",
         NODEPROTO_EHEADER}, /* a count past 18 digits */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n1\r\n$8\r\nactivate\r\n$1\r\nx\r\n$1\r\n1\r\n"
         "$3\r\n128\r\n$1\r\n0\r\n$1\r\n0\r\n",
         NODEPROTO_EHEADER}, /* not a number */
        {"*8\r\n$4\r\nBILL\r\n$1\r\n1\r\n$8\r\nactivate\r\n$0\r\n\r\n$1\r\n1\r\n"
         "$3\r\n128\r\n$1\r\n0\r\n$1\r\n0\r\n",
         NODEPROTO_EHEADER}, /* an empty field */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t len = strlen(bad[i].wire);
        assert_int_equal(nodeproto_parse_message(bad[i].wire, len, &m), (ssize_t)len);
        out.seq = 99;
        assert_int_equal(nodeproto_bill_decode(&m, &out), bad[i].want);
        assert_int_equal(out.seq, 0);
    }
}

/* LANE node_id instance lane proof: round trip, every cut, and the fields checked. */
static void test_lane_message(void **state)
{
    (void)state;
    char proof[PROOF_LEN + 1];
    memset(proof, 'b', PROOF_LEN);
    proof[PROOF_LEN] = 0;
    for (unsigned lane = 1; lane < NODEPROTO_MAX_LANES; lane++) {
        nodeproto_lane_t l = {.node_id = 31,
                              .lane = lane,
                              .instance = "9f2c",
                              .instance_len = 4,
                              .proof = proof,
                              .proof_len = PROOF_LEN};
        buf_t b;
        buf_init(&b);
        assert_int_equal(nodeproto_put_lane(&b, &l), 0);
        assert_int_equal(nodeproto_is_message(buf_head(&b), buf_len(&b)), 1);
        nodeproto_msg_t m;
        message_whole(buf_head(&b), buf_len(&b), &m);
        assert_true(nodeproto_msg_is(&m, "LANE"));
        nodeproto_lane_t d;
        assert_int_equal(nodeproto_lane_decode(&m, &d), 0);
        assert_int_equal(d.node_id, 31);
        assert_int_equal(d.lane, lane);
        char text[8];
        int n = snprintf(text, sizeof text, "%u", lane);
        assert_int_equal(d.lane_len, (size_t)n);
        assert_memory_equal(d.lane_text, text, (size_t)n);
        assert_memory_equal(d.node_id_text, "31", 2);
        assert_memory_equal(d.instance, "9f2c", 4);
        assert_int_equal(d.proof_len, PROOF_LEN);
        buf_free(&b);
    }
    /* Lane 0 is the HELLO connection, 64 is past the last; leading zeros would give one lane two
     * texts; a node id that is not a number; the wrong element count. */
    static const char *const bad_lane[] = {"0", "64", "01", "x", "", "-1"};
    nodeproto_msg_t m;
    nodeproto_lane_t d;
    buf_t b;
    buf_init(&b);
    for (size_t i = 0; i < sizeof bad_lane / sizeof bad_lane[0]; i++) {
        const char *argv[] = {"LANE", "3", "inst", bad_lane[i], "proof"};
        buf_clear(&b);
        resp_add_command(&b, 5, argv, NULL);
        message_whole(buf_head(&b), buf_len(&b), &m);
        assert_int_equal(nodeproto_lane_decode(&m, &d), NODEPROTO_EHEADER);
        assert_memory_equal(d.instance, "inst", 4); /* still there for the proof check */
        assert_memory_equal(d.proof, "proof", 5);
    }
    const char *bad_id[] = {"LANE", "three", "inst", "1", "proof"};
    buf_clear(&b);
    resp_add_command(&b, 5, bad_id, NULL);
    message_whole(buf_head(&b), buf_len(&b), &m);
    assert_int_equal(nodeproto_lane_decode(&m, &d), NODEPROTO_EHEADER);
    const char *four[] = {"LANE", "3", "inst", "1"};
    buf_clear(&b);
    resp_add_command(&b, 4, four, NULL);
    message_whole(buf_head(&b), buf_len(&b), &m);
    assert_int_equal(nodeproto_lane_decode(&m, &d), NODEPROTO_EUNEXPECTED);
    const char *six[] = {"LANE", "3", "inst", "1", "proof", "more"};
    buf_clear(&b);
    resp_add_command(&b, 6, six, NULL);
    message_whole(buf_head(&b), buf_len(&b), &m);
    assert_int_equal(nodeproto_lane_decode(&m, &d), NODEPROTO_EUNEXPECTED);
    buf_free(&b);
}

static void test_message_limits(void **state)
{
    (void)state;
    nodeproto_msg_t m;
    /* Replies are never messages: their first element is not a bulk. */
    assert_int_equal(nodeproto_is_message("*2\r\n:5\r\n", 8), 0);
    assert_int_equal(nodeproto_is_message("+OK\r\n", 5), 0);
    assert_int_equal(nodeproto_is_message("*2\r\n", 4), -1);
    assert_int_equal(nodeproto_is_message("", 0), -1);
    char line[64];
    int n = snprintf(line, sizeof line, "*1\r\n$%d\r\n", NODEPROTO_MSG_MAX_ARG + 1);
    assert_int_equal(nodeproto_parse_message(line, (size_t)n, &m), NODEPROTO_ETOOBIG);
    n = snprintf(line, sizeof line, "*%d\r\n", NODEPROTO_MSG_MAX_ARGS + 1);
    assert_true(nodeproto_parse_message(line, (size_t)n, &m) < 0);
    n = snprintf(line, sizeof line, "*5\r\n");
    assert_true(nodeproto_parse_relay(line, (size_t)n, &m) < 0);
    n = snprintf(line, sizeof line, "*4\r\n$%d\r\n", NODEPROTO_RELAY_MAX_ARG + 1);
    assert_int_equal(nodeproto_parse_relay(line, (size_t)n, &m), NODEPROTO_ETOOBIG);
    assert_true(nodeproto_parse_message("*1\r\n:1\r\n", 8, &m) < 0);
    assert_true(nodeproto_parse_message("$3\r\nBYE\r\n", 9, &m) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cset_roundtrip),    cmocka_unit_test(test_chunk_requests_roundtrip),
        cmocka_unit_test(test_cgetr_roundtrip),   cmocka_unit_test(test_cexpire_roundtrip),
        cmocka_unit_test(test_crename_roundtrip), cmocka_unit_test(test_simple_and_backup_requests),
        cmocka_unit_test(test_lanes_request),     cmocka_unit_test(test_request_limits),
        cmocka_unit_test(test_request_malformed), cmocka_unit_test(test_cset_argument_errors),
        cmocka_unit_test(test_replies_roundtrip), cmocka_unit_test(test_reply_limits_and_shapes),
        cmocka_unit_test(test_hello_roundtrip),   cmocka_unit_test(test_hello_epoch),
        cmocka_unit_test(test_other_messages),    cmocka_unit_test(test_lane_message),
        cmocka_unit_test(test_bill_message),      cmocka_unit_test(test_message_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
