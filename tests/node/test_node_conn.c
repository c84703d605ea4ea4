/* test_node_conn.c -- request handling without a socket: bytes into the input buffer, exact
 * reply bytes out, pipelining, NOMEM with the stream kept in sync, protocol errors, CSET's object
 * fields, INVENTORY and SYNCDONE, and a backup peer holding SYNCDONE's answer for its caller. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "serve.h"

typedef struct {
    store_t store;
    node_conn_t conn;
    uint64_t invocations;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    store_init(&f->store, 4096);
    f->invocations = 5;
    node_conn_init(&f->conn, &f->store, NULL, &f->invocations);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    node_conn_free(&f->conn);
    store_free(&f->store);
    free(f);
    return 0;
}

/* Feeds bytes and returns everything queued as output (segments then small), which is then
 * dropped as if written. The result is malloc'ed; *len receives its length. */
static char *feed(fixture_t *f, const void *p, size_t n, int *rc, size_t *len)
{
    buf_append(&f->conn.in, p, n);
    *rc = node_conn_process(&f->conn);
    buf_t out;
    buf_init(&out);
    outq_take_all(&f->conn.out, &out);
    buf_append(&out, "", 1);
    *len = buf_len(&out) - 1;
    return out.data;
}

static void expect_n(fixture_t *f, const char *in, size_t in_len, const char *want, size_t want_len)
{
    int rc;
    size_t len;
    char *got = feed(f, in, in_len, &rc, &len);
    assert_int_equal(rc, 0);
    if (len != want_len || memcmp(got, want, len) != 0)
        fail_msg("for %s\nwant %s\ngot  %.*s", in, want, (int)len, got);
    free(got);
}

/* Literals may hold NUL bytes, so their lengths come from sizeof. */
#define expect(f, in, want) expect_n(f, in, sizeof(in) - 1, want, sizeof(want) - 1)

/* CSET's object fields after the crc: size 100, RS(2+1), no expiry. */
#define OBJ "$3\r\n100\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n0\r\n"

static void test_ping_stats_unknown(void **state)
{
    fixture_t *f = *state;
    expect(f, "*1\r\n$4\r\nPING\r\n", "+PONG\r\n");
    expect(f, "*1\r\n$4\r\nping\r\n", "+PONG\r\n");
    expect(f, "*1\r\n$5\r\nSTATS\r\n", "*4\r\n:4096\r\n:0\r\n:0\r\n:5\r\n");
    expect(f, "*2\r\n$3\r\nFOO\r\n$1\r\nx\r\n", "-ERR unknown command 'FOO'\r\n");
    expect(f, "*2\r\n$4\r\nPING\r\n$1\r\nx\r\n", "-ERR wrong number of arguments for 'PING'\r\n");
    expect(f, "*0\r\n", "-ERR empty command\r\n");
    assert_int_equal(f->conn.served, 6);
}

static void test_set_get_del(void **state)
{
    fixture_t *f = *state;
    static const char set[] = "*10\r\n$4\r\nCSET\r\n$3\r\nk\0y\r\n$1\r\n2\r\n$2\r\n10\r\n"
                              "$10\r\n4294967295\r\n" OBJ "$5\r\na\r\n\0z\r\n";
    int rc;
    size_t len;
    char *got = feed(f, set, sizeof set - 1, &rc, &len);
    assert_int_equal(rc, 0);
    assert_int_equal(len, 5);
    assert_memory_equal(got, "+OK\r\n", 5);
    free(got);
    static const char get[] = "*4\r\n$4\r\nCGET\r\n$3\r\nk\0y\r\n$1\r\n2\r\n$2\r\n10\r\n";
    got = feed(f, get, sizeof get - 1, &rc, &len);
    static const char want[] = "*2\r\n:4294967295\r\n$5\r\na\r\n\0z\r\n";
    assert_int_equal(len, sizeof want - 1);
    assert_memory_equal(got, want, len);
    free(got);
    expect(f, "*4\r\n$4\r\nCGET\r\n$3\r\nkey\r\n$1\r\n2\r\n$2\r\n10\r\n", "$-1\r\n");
    expect(f, "*4\r\n$4\r\nCGET\r\n$3\r\nk\0y\r\n$1\r\n2\r\n$2\r\n11\r\n", "$-1\r\n");
    static const char del[] = "*4\r\n$4\r\nCDEL\r\n$3\r\nk\0y\r\n$1\r\n2\r\n$2\r\n10\r\n";
    got = feed(f, del, sizeof del - 1, &rc, &len);
    assert_memory_equal(got, ":1\r\n", 4);
    free(got);
    got = feed(f, del, sizeof del - 1, &rc, &len);
    assert_memory_equal(got, ":0\r\n", 4);
    free(got);
    assert_int_equal(f->store.used, 0);
}

static void test_pipelined_and_split(void **state)
{
    fixture_t *f = *state;
    static const char in[] =
        "*10\r\n$4\r\nCSET\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n9\r\n" OBJ "$0\r\n\r\n"
        "*4\r\n$4\r\nCGET\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n"
        "*1\r\n$4\r\nPING\r\n"
        "*4\r\n$4\r\nCDEL\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n";
    static const char want[] = "+OK\r\n*2\r\n:9\r\n$0\r\n\r\n+PONG\r\n:1\r\n";
    expect(f, in, want);
    /* The same bytes one at a time give the same answer. */
    buf_t all;
    buf_init(&all);
    for (size_t i = 0; i < strlen(in); i++) {
        int rc;
        size_t len;
        char *got = feed(f, in + i, 1, &rc, &len);
        assert_int_equal(rc, 0);
        if (len) buf_append(&all, got, len);
        free(got);
    }
    assert_int_equal(buf_len(&all), strlen(want));
    assert_memory_equal(buf_head(&all), want, strlen(want));
    buf_free(&all);
}

static void test_nomem_keeps_sync(void **state)
{
    fixture_t *f = *state;
    char big[8000];
    memset(big, 'b', sizeof big);
    buf_t in;
    buf_init(&in);
    buf_printf(&in,
               "*10\r\n$4\r\nCSET\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n0\r\n" OBJ "$%zu\r\n",
               sizeof big);
    buf_append(&in, big, sizeof big);
    buf_printf(&in, "\r\n*1\r\n$4\r\nPING\r\n");
    int rc;
    size_t len;
    char *got = feed(f, buf_head(&in), buf_len(&in), &rc, &len);
    buf_free(&in);
    assert_int_equal(rc, 0);
    const char *want =
        "-NOMEM chunk of 8000 bytes (footprint 8129) does not fit: used 0 of 4096\r\n+PONG\r\n";
    if (len != strlen(want) || memcmp(got, want, len)) fail_msg("got %.*s", (int)len, got);
    free(got);
    assert_int_equal(f->store.used, 0);
    assert_int_equal(f->store.count, 0);
}

static void test_bad_arguments(void **state)
{
    fixture_t *f = *state;
    expect(f, "*4\r\n$4\r\nCGET\r\n$1\r\nk\r\n$1\r\nx\r\n$1\r\n1\r\n",
           "-ERR invalid chunk index\r\n");
    expect(f, "*4\r\n$4\r\nCGET\r\n$1\r\nk\r\n$10\r\n4294967296\r\n$1\r\n1\r\n",
           "-ERR invalid chunk index\r\n");
    expect(f, "*4\r\n$4\r\nCDEL\r\n$1\r\nk\r\n$1\r\n0\r\n$2\r\n-1\r\n", "-ERR invalid version\r\n");
#define CSET_HEAD "*10\r\n$4\r\nCSET\r\n$1\r\nk\r\n"
#define ARITY                                                                                      \
    "-ERR wrong number of arguments for 'CSET' (CSET key index version crc size d p "              \
    "expire_ms chunk)\r\n"
    expect(f, CSET_HEAD "$1\r\n0\r\n$1\r\n1\r\n$1\r\nz\r\n" OBJ "$2\r\nab\r\n",
           "-ERR invalid crc\r\n");
    expect(f, CSET_HEAD "$1\r\nx\r\n$1\r\n1\r\n$1\r\n0\r\n" OBJ "$2\r\nab\r\n",
           "-ERR invalid chunk index\r\n");
    expect(f, CSET_HEAD "$1\r\n0\r\n$1\r\nv\r\n$1\r\n0\r\n" OBJ "$2\r\nab\r\n",
           "-ERR invalid version\r\n");
    expect(f,
           CSET_HEAD
           "$1\r\n0\r\n$1\r\n1\r\n$1\r\n0\r\n$2\r\n-1\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n0\r\n"
           "$2\r\nab\r\n",
           "-ERR invalid object size\r\n");
    expect(f,
           CSET_HEAD
           "$1\r\n0\r\n$1\r\n1\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n1\r\n$2\r\nxx\r\n"
           "$2\r\nab\r\n",
           "-ERR invalid expiry\r\n");
    /* Coding: d >= 1, d + p <= 48, index < d + p (what an inventory line must meet). */
#define CODING "-ERR invalid coding (need 1 <= d, d + p <= 48, index < d + p)\r\n"
    expect(f,
           CSET_HEAD "$1\r\n0\r\n$1\r\n1\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n0\r\n"
                     "$2\r\nab\r\n",
           CODING);
    expect(f,
           CSET_HEAD
           "$1\r\n0\r\n$1\r\n1\r\n$1\r\n0\r\n$1\r\n1\r\n$2\r\n40\r\n$1\r\n9\r\n$1\r\n0\r\n"
           "$2\r\nab\r\n",
           CODING);
    expect(f,
           CSET_HEAD "$1\r\n3\r\n$1\r\n1\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n0\r\n"
                     "$2\r\nab\r\n",
           CODING);
    expect(f,
           CSET_HEAD "$1\r\n0\r\n$1\r\n1\r\n$1\r\n0\r\n$1\r\n1\r\n$10\r\n4294967296\r\n$1\r\n1\r\n"
                     "$1\r\n0\r\n$2\r\nab\r\n",
           "-ERR invalid coding\r\n");
    /* The old 6-element form is refused with the new form in the message, its chunk skipped. */
    expect(f,
           "*6\r\n$4\r\nCSET\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n0\r\n$2\r\nab\r\n"
           "*1\r\n$4\r\nPING\r\n",
           ARITY "+PONG\r\n");
    expect(f, "*5\r\n$4\r\nCSET\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n0\r\n", ARITY);
    expect(f, "*9\r\n$4\r\nCSET\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n0\r\n" OBJ, ARITY);
    assert_int_equal(f->store.count, 0);
    assert_int_equal(f->store.used, 0);
}

static void test_old_cset_with_big_chunk(void **state)
{
    /* A 6-element CSET whose chunk is over the argument limit: read and dropped as a body. */
    fixture_t *f = *state;
    size_t n = 70000;
    buf_t in;
    buf_init(&in);
    buf_printf(&in, "*6\r\n$4\r\nCSET\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n0\r\n$%zu\r\n", n);
    for (size_t i = 0; i < n; i++)
        buf_append(&in, "x", 1);
    buf_printf(&in, "\r\n*1\r\n$4\r\nPING\r\n");
    int rc;
    size_t len;
    char *got = feed(f, buf_head(&in), buf_len(&in), &rc, &len);
    buf_free(&in);
    assert_int_equal(rc, 0);
    const char *want = ARITY "+PONG\r\n";
    if (len != strlen(want) || memcmp(got, want, len)) fail_msg("got %.*s", (int)len, got);
    free(got);
    assert_int_equal(f->store.count, 0);
}

static void test_inventory_syncdone_backup(void **state)
{
    fixture_t *f = *state;
    expect(f, "*1\r\n$9\r\nINVENTORY\r\n", "$0\r\n\r\n");
    /* Two chunks with object fields; the list has one line each (order is the table's). */
    expect(f,
           "*10\r\n$4\r\nCSET\r\n$3\r\nk\0y\r\n$1\r\n2\r\n$2\r\n10\r\n$2\r\n77\r\n$4\r\n1000\r\n"
           "$2\r\n10\r\n$1\r\n2\r\n$13\r\n1700000000000\r\n$3\r\nabc\r\n",
           "+OK\r\n");
    expect(f, "*10\r\n$4\r\nCSET\r\n$1\r\nb\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n5\r\n" OBJ "$0\r\n\r\n",
           "+OK\r\n");
    int rc;
    size_t len;
    char *got = feed(f, "*1\r\n$9\r\nINVENTORY\r\n", 19, &rc, &len);
    assert_int_equal(rc, 0);
    static const char l1[] = "2 10 77 3 1000 10 2 1700000000000 3:k\0y\n";
    static const char l2[] = "0 1 5 0 100 2 1 0 1:b\n";
    size_t body = sizeof l1 - 1 + sizeof l2 - 1;
    char head[16];
    int hl = snprintf(head, sizeof head, "$%zu\r\n", body);
    assert_int_equal(len, (size_t)hl + body + 2);
    assert_memory_equal(got, head, (size_t)hl);
    const char *lines = got + hl;
    int first = memcmp(lines, l1, sizeof l1 - 1) == 0;
    assert_memory_equal(lines, first ? l1 : l2, first ? sizeof l1 - 1 : sizeof l2 - 1);
    assert_memory_equal(lines + (first ? sizeof l1 - 1 : sizeof l2 - 1), first ? l2 : l1,
                        first ? sizeof l2 - 1 : sizeof l1 - 1);
    assert_memory_equal(got + len - 2, "\r\n", 2);
    free(got);
    /* SYNCDONE is answered and remembered; BACKUP needs a sync to start. */
    assert_int_equal(f->conn.sync_done, 0);
    expect(f, "*1\r\n$8\r\nSYNCDONE\r\n", "+OK\r\n");
    assert_int_equal(f->conn.sync_done, 1);
    expect(f, "*4\r\n$6\r\nBACKUP\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
           "-ERR BACKUP is not served on this connection\r\n");
    expect(f, "*5\r\n$6\r\nBACKUP\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n",
           "-ERR BACKUP is not served on this connection\r\n"); /* with the signing spec */
    expect(f, "*6\r\n$6\r\nBACKUP\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
           "-ERR wrong number of arguments for 'BACKUP' (BACKUP relay token endpoint [sigv4])\r\n");
    expect(f, "*2\r\n$6\r\nBACKUP\r\n$1\r\na\r\n",
           "-ERR wrong number of arguments for 'BACKUP' (BACKUP relay token endpoint [sigv4])\r\n");
    expect(f, "*2\r\n$9\r\nINVENTORY\r\n$1\r\na\r\n",
           "-ERR wrong number of arguments for 'INVENTORY'\r\n");
    assert_int_equal(f->conn.stored, 2);
}

/* CDEL ... TOMB deletes the chunk and leaves the key's tombstone, listed by INVENTORY; a newer
 * chunk of the key drops it; a wrong fifth argument is refused and changes nothing. */
static void test_cdel_tombstone(void **state)
{
    fixture_t *f = *state;
    expect(f,
           "*10\r\n$4\r\nCSET\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n7\r\n$1\r\n5\r\n" OBJ "$2\r\nab\r\n",
           "+OK\r\n");
    expect(f, "*5\r\n$4\r\nCDEL\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n7\r\n$4\r\nGONE\r\n",
           "-ERR syntax error (CDEL key index version [TOMB])\r\n");
    expect(f, "*6\r\n$4\r\nCDEL\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n7\r\n$4\r\nTOMB\r\n$1\r\nx\r\n",
           "-ERR wrong number of arguments for 'CDEL' (CDEL key index version [TOMB])\r\n");
    assert_int_equal(f->store.count, 1);
    expect(f, "*5\r\n$4\r\nCDEL\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n7\r\n$4\r\ntomb\r\n", ":1\r\n");
    assert_int_equal(f->store.count, 0);
    assert_int_equal(f->store.used, chunk_footprint(1, 0));
    /* Not held here: still a tombstone (the highest version is kept). */
    expect(f, "*5\r\n$4\r\nCDEL\r\n$1\r\nk\r\n$1\r\n1\r\n$1\r\n6\r\n$4\r\nTOMB\r\n", ":0\r\n");
    int rc;
    size_t len;
    char *got = feed(f, "*1\r\n$9\r\nINVENTORY\r\n", 19, &rc, &len);
    assert_int_equal(rc, 0);
    assert_true(len > 12 && memcmp(got, "$", 1) == 0);
    const char *line = memchr(got, '\n', len) + 1;
    assert_memory_equal(line, "T 7 ", 4);
    assert_memory_equal(got + len - 7, " 1:k\n\r\n", 7);
    free(got);
    /* A newer chunk of the key: the tombstone goes. */
    expect(f,
           "*10\r\n$4\r\nCSET\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n8\r\n$1\r\n5\r\n" OBJ "$2\r\nab\r\n",
           "+OK\r\n");
    assert_int_equal(f->store.ntombs, 0);
    assert_int_equal(f->store.used, chunk_footprint(1, 2));
}

/* A backup peer answers what comes before SYNCDONE, but SYNCDONE's +OK goes out only when the
 * caller flushes (after posting its invocation response), never from inside the serving loop:
 * the source must not report the backup done while the peer is still busy. */
static void test_peer_holds_syncdone_answer(void **state)
{
    fixture_t *f = *state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    f->conn.fd = sv[0];
    f->conn.role = "relay";
    static const char req[] = "*1\r\n$4\r\nPING\r\n*1\r\n$8\r\nSYNCDONE\r\n";
    assert_int_equal(write(sv[1], req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    assert_int_equal(node_conn_serve_peer(&f->conn, 0, 5000), NODE_PEER_SYNCED);
    char got[64];
    assert_int_equal(recv(sv[1], got, sizeof got, MSG_DONTWAIT), -1); /* nothing written yet */
    assert_int_equal(node_conn_flush(&f->conn, 5000), 0);
    static const char want[] = "+PONG\r\n+OK\r\n";
    ssize_t n = recv(sv[1], got, sizeof got, MSG_DONTWAIT);
    assert_int_equal(n, (ssize_t)(sizeof want - 1));
    assert_memory_equal(got, want, sizeof want - 1);
    close(sv[1]);
}

static void test_protocol_errors(void **state)
{
    static const char *bad[] = {
        "PING\r\n",               /* inline */
        "*1\r\n:1\r\n",           /* not a bulk */
        "*-1\r\n",                /* null array */
        "*1\r\n$4\r\nPINGxx",     /* missing CRLF after bulk */
        "*1\r\n$-1\r\n",          /* null bulk */
        "*99999999\r\n",          /* too many elements */
        "*1\r\n$99999999999\r\n", /* bulk over the limit */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fixture_t *f = NULL;
        setup((void **)&f);
        int rc;
        size_t len;
        char *got = feed(f, bad[i], strlen(bad[i]), &rc, &len);
        free(got);
        if (rc >= 0) fail_msg("case %zu accepted", i);
        teardown((void **)&f);
    }
}

/* On an extra lane the node serves chunk requests as on lane 0, and refuses, each with its own
 * error and the stream kept in sync, what concerns the node as a whole; LANES itself needs lane
 * 0's lanes (none on this connection) and a count 1..64. */
static void test_lane_refuses_lane0_commands(void **state)
{
    fixture_t *f = *state;
    expect(f, "*2\r\n$5\r\nLANES\r\n$2\r\n65\r\n", "-ERR invalid lane count\r\n");
    expect(f, "*2\r\n$5\r\nLANES\r\n$1\r\n0\r\n", "-ERR invalid lane count\r\n");
    expect(f, "*1\r\n$5\r\nLANES\r\n", "-ERR wrong number of arguments for 'LANES' (LANES n)\r\n");
    expect(f, "*2\r\n$5\r\nLANES\r\n$1\r\n4\r\n",
           "-ERR LANES is not served on this connection\r\n");
    f->conn.lane = 2;
    expect(f,
           "*2\r\n$5\r\nLANES\r\n$1\r\n4\r\n"
           "*1\r\n$9\r\nINVENTORY\r\n"
           "*1\r\n$8\r\nSYNCDONE\r\n"
           "*1\r\n$6\r\nGOAWAY\r\n"
           "*4\r\n$6\r\nBACKUP\r\n$3\r\nr:1\r\n$1\r\nt\r\n$3\r\nh:1\r\n"
           "*1\r\n$4\r\nPING\r\n",
           "-ERR LANES is served on lane 0 only\r\n"
           "-ERR INVENTORY is served on lane 0 only\r\n"
           "-ERR SYNCDONE is served on lane 0 only\r\n"
           "-ERR GOAWAY is served on lane 0 only\r\n"
           "-ERR BACKUP is served on lane 0 only\r\n"
           "+PONG\r\n");
    assert_false(f->conn.sync_done);
    assert_false(f->conn.goaway);
    /* The chunk requests are served: CSET, CGET, CDEL. */
    expect(f,
           "*10\r\n$4\r\nCSET\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n7\r\n" OBJ "$2\r\nab\r\n"
           "*4\r\n$4\r\nCGET\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n"
           "*4\r\n$4\r\nCDEL\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n",
           "+OK\r\n*2\r\n:7\r\n$2\r\nab\r\n:1\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ping_stats_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_get_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_and_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nomem_keeps_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_cset_with_big_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cdel_tombstone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inventory_syncdone_backup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_holds_syncdone_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lane_refuses_lane0_commands, setup, teardown),
        cmocka_unit_test(test_protocol_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
