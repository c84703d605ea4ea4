/* test_node_sync.c -- a backup between two stores in one process: the source's sync_t on one end
 * of a socketpair, the peer's request machinery (node_conn_t) on the other, driven turn by turn.
 * The delta (only missing or damaged chunks move, stale ones are deleted), the journal (changes
 * made during the sync reach the peer), and the failures (journal overflow, a peer error, a peer
 * that closes or goes silent, bad BACKUP arguments). */
#include <errno.h>
#include <poll.h>
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

#include "clock.h"
#include "serve.h"
#include "ev.h"
#include "inventory.h"
#include "net.h"
#include "sync.h"

typedef struct {
    store_t a, b; /* source, peer */
    sync_t s;
    node_conn_t peer;
    int fds[2];
} pair_t;

static const char intro[] = "*3\r\n$5\r\nRELAY\r\n$3\r\ntok\r\n$6\r\nsource\r\n";

static void put(store_t *st, const char *key, uint32_t index, uint64_t version, size_t len,
                uint32_t crc)
{
    store_entry_t *e = NULL;
    assert_int_equal(store_reserve(st, key, strlen(key), index, version, len, &e), 0);
    for (size_t i = 0; i < len; i++)
        e->body[i] = (char)(version * 31 + index + i);
    e->obj_size = len * 2;
    e->d = 2;
    e->p = 1;
    e->expire_ms = version * 1000;
    store_commit(st, e, crc);
}

static void pair_init(pair_t *x, uint64_t peer_limit, uint64_t timeout_ms)
{
    memset(x, 0, sizeof *x);
    store_init(&x->a, 64 << 20);
    store_init(&x->b, peer_limit);
    sync_config_t cfg = {
        .function = "icnode0", .timeout_ms = timeout_ms, .connect_timeout_ms = 100};
    sync_init(&x->s, &x->a, &cfg);
    node_conn_init(&x->peer, &x->b, NULL, NULL);
    x->peer.role = "relay";
}

/* Connects the two ends and takes the RELAY introduction off the peer's side, as the relay would.
 */
static void pair_start(pair_t *x)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, x->fds), 0);
    assert_int_equal(sync_attach(&x->s, x->fds[0], "tok", NULL), 0);
    assert_true(sync_active(&x->s));
    sync_step(&x->s, 0, ev_now_ms()); /* writes the introduction and INVENTORY */
    char got[sizeof intro - 1];
    assert_int_equal(read(x->fds[1], got, sizeof got), (ssize_t)sizeof got);
    assert_memory_equal(got, intro, sizeof got);
    net_set_nonblock(x->fds[1], 1);
    x->peer.fd = x->fds[1];
}

typedef void turn_hook_t(pair_t *x, int turn);

/* Drives both ends until the sync finishes (or max_turns). */
static void pair_run(pair_t *x, int max_turns, turn_hook_t *hook)
{
    for (int turn = 0; turn < max_turns && !sync_finished(&x->s); turn++) {
        if (hook) hook(x, turn);
        sync_step(&x->s, POLLIN, ev_now_ms());
        if (x->peer.fd >= 0) node_conn_handle(&x->peer, POLLIN);
    }
    assert_true(sync_finished(&x->s));
}

static void pair_free(pair_t *x)
{
    sync_free(&x->s);
    node_conn_free(&x->peer);
    store_free(&x->a);
    store_free(&x->b);
}

typedef struct {
    const store_t *other;
    int mismatches;
} compare_t;

static void compare_visit(store_entry_t *e, void *arg)
{
    compare_t *c = arg;
    store_entry_t *o = store_get(c->other, e->key, e->key_len, e->index, e->version);
    if (!o || o->crc != e->crc || o->body_len != e->body_len ||
        memcmp(o->body, e->body, e->body_len) != 0 || o->obj_size != e->obj_size || o->d != e->d ||
        o->p != e->p || o->expire_ms != e->expire_ms)
        c->mismatches++;
}

/* Entries of `from` that `to` lacks or holds differently. */
static int missing(const store_t *from, const store_t *to)
{
    compare_t c = {to, 0};
    uint64_t cursor = 0;
    do
        cursor = store_scan(from, cursor, compare_visit, &c);
    while (cursor != 0);
    return c.mismatches;
}

static void assert_same(const store_t *a, const store_t *b)
{
    assert_int_equal(missing(a, b), 0);
    assert_int_equal(missing(b, a), 0);
    assert_int_equal(a->count, b->count);
}

static void test_delta(void **state)
{
    (void)state;
    pair_t x;
    pair_init(&x, 64 << 20, 5000);
    char key[32];
    uint64_t want_bytes = 0;
    for (int i = 0; i < 600; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        size_t len = (size_t)(i % 7) * 1000 + (size_t)i;
        put(&x.a, key, (uint32_t)(i % 3), 5, len, (uint32_t)i);
        if (i % 2 == 0) {
            put(&x.b, key, (uint32_t)(i % 3), 5, len, (uint32_t)i); /* the peer has it already */
        } else {
            want_bytes += len;
        }
    }
    /* A damaged copy (other crc) is sent again; stale chunks are deleted. */
    put(&x.b, "key-0", 0, 5, 0, 12345);
    want_bytes += 0;
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "stale-%d", i);
        put(&x.b, key, 0, 1, 100, 1);
    }
    pair_start(&x);
    pair_run(&x, 100000, NULL);
    assert_string_equal(x.s.status, "ok");
    assert_int_equal(x.s.chunks_sent, 301);
    assert_int_equal(x.s.bytes_sent, want_bytes);
    assert_int_equal(x.s.chunks_deleted, 40);
    assert_null(x.a.journal);
    assert_int_equal(x.peer.sync_done, 1);
    assert_int_equal(x.peer.stored, 301);
    assert_same(&x.a, &x.b);
    /* A second run with nothing changed moves nothing. */
    sync_reset(&x.s);
    node_conn_close(&x.peer);
    pair_start(&x);
    pair_run(&x, 100000, NULL);
    assert_string_equal(x.s.status, "ok");
    assert_int_equal(x.s.chunks_sent, 0);
    assert_int_equal(x.s.chunks_deleted, 0);
    assert_same(&x.a, &x.b);
    pair_free(&x);
}

static int mutated;

/* Once the inventory is in and the walk has begun: a new chunk, a delete of a chunk the peer
 * holds, an overwrite (new version, old deleted) and a delete of a chunk not sent yet. */
static void mutate_during_scan(pair_t *x, int turn)
{
    (void)turn;
    if (mutated || (x->s.phase != SYNC_SCAN && x->s.phase != SYNC_DELETE)) return;
    mutated = 1;
    put(&x->a, "new", 0, 9, 500, 99);
    assert_int_equal(store_del(&x->a, "key-0", 5, 0, 5), 1);
    put(&x->a, "key-3", 0, 6, 300, 77);
    assert_int_equal(store_del(&x->a, "key-3", 5, 0, 5), 1);
    assert_int_equal(store_del(&x->a, "key-999", 7, 0, 5), 1);
}

static void test_journal_during_sync(void **state)
{
    (void)state;
    pair_t x;
    pair_init(&x, 64 << 20, 5000);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        put(&x.a, key, 0, 5, 2000, (uint32_t)i);
        if (i < 10) put(&x.b, key, 0, 5, 2000, (uint32_t)i);
    }
    mutated = 0;
    pair_start(&x);
    pair_run(&x, 100000, mutate_during_scan);
    assert_true(mutated);
    assert_string_equal(x.s.status, "ok");
    assert_same(&x.a, &x.b);
    assert_null(store_get(&x.b, "key-0", 5, 0, 5));
    assert_non_null(store_get(&x.b, "key-3", 5, 0, 6));
    assert_non_null(store_get(&x.b, "new", 3, 0, 9));
    pair_free(&x);
}

/* A tombstone made while the sync runs (a DEL reaching the source mid-backup). */
static void tomb_during_scan(pair_t *x, int turn)
{
    (void)turn;
    if (mutated || (x->s.phase != SYNC_SCAN && x->s.phase != SYNC_DELETE)) return;
    mutated = 1;
    assert_int_equal(store_del(&x->a, "key-5", 5, 0, 5), 1);
    assert_int_equal(store_tomb_put(&x->a, "key-5", 5, 5, clock_wall_ms()), 0);
}

/* The source's tombstones reach the peer (those it had, and one made during the sync); the
 * peer's old copies of deleted chunks go; the peer's own tombstones do not confuse the diff. */
static void test_tombstones_carried(void **state)
{
    (void)state;
    pair_t x;
    pair_init(&x, 64 << 20, 5000);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        put(&x.a, key, 0, 5, 2000, (uint32_t)i);
        if (i < 10) put(&x.b, key, 0, 5, 2000, (uint32_t)i);
    }
    /* Deleted on the source since the last backup: the peer still holds the chunk. */
    put(&x.b, "gone", 0, 3, 300, 1);
    assert_int_equal(store_tomb_put(&x.a, "gone", 4, 3, clock_wall_ms()), 0);
    assert_int_equal(store_tomb_put(&x.b, "peer-only", 9, 8, clock_wall_ms()), 0);
    mutated = 0;
    pair_start(&x);
    pair_run(&x, 100000, tomb_during_scan);
    assert_true(mutated);
    assert_string_equal(x.s.status, "ok");
    assert_same(&x.a, &x.b);
    assert_null(store_get(&x.b, "gone", 4, 0, 3));
    const store_tomb_t *t = store_tomb_get(&x.b, "gone", 4);
    assert_non_null(t);
    assert_int_equal(t->version, 3);
    assert_non_null(store_tomb_get(&x.b, "key-5", 5));
    assert_null(store_get(&x.b, "key-5", 5, 0, 5));
    assert_non_null(store_tomb_get(&x.b, "peer-only", 9));
    pair_free(&x);
}

/* A rename made while the sync runs (CRENAME reaching the source mid-backup): the peer gets the
 * chunk under its new name, loses the old one and keeps the old name's tombstone. */
static void rename_during_scan(pair_t *x, int turn)
{
    (void)turn;
    if (mutated || (x->s.phase != SYNC_SCAN && x->s.phase != SYNC_DELETE)) return;
    mutated = 1;
    assert_int_equal(store_rename(&x->a, "key-4", 5, 0, 5, "renamed", 7, 12, clock_wall_ms()), 1);
}

static void test_rename_carried(void **state)
{
    (void)state;
    pair_t x;
    pair_init(&x, 64 << 20, 5000);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        put(&x.a, key, 0, 5, 2000, (uint32_t)i);
        if (i < 10) put(&x.b, key, 0, 5, 2000, (uint32_t)i);
    }
    /* Renamed since the last backup, too: the peer has the old name only. */
    assert_int_equal(store_rename(&x.a, "key-7", 5, 0, 5, "moved", 5, 13, clock_wall_ms()), 1);
    mutated = 0;
    pair_start(&x);
    pair_run(&x, 100000, rename_during_scan);
    assert_true(mutated);
    assert_string_equal(x.s.status, "ok");
    assert_same(&x.a, &x.b);
    assert_null(store_get(&x.b, "key-4", 5, 0, 5));
    assert_null(store_get(&x.b, "key-7", 5, 0, 5));
    assert_non_null(store_get(&x.b, "renamed", 7, 0, 12));
    assert_non_null(store_get(&x.b, "moved", 5, 0, 13));
    assert_non_null(store_tomb_get(&x.b, "key-4", 5));
    assert_non_null(store_tomb_get(&x.b, "key-7", 5));
    pair_free(&x);
}

static void shrink_journal(pair_t *x, int turn)
{
    (void)turn;
    if (mutated || (x->s.phase != SYNC_DELETE && x->s.phase != SYNC_SCAN)) return;
    mutated = 1;
    assert_ptr_equal(x->a.journal, &x->s.journal);
    x->s.journal.max_recs = 2;
    put(&x->a, "j1", 0, 1, 1, 1);
    put(&x->a, "j2", 0, 1, 1, 1);
    put(&x->a, "j3", 0, 1, 1, 1);
}

static void test_journal_overflow(void **state)
{
    (void)state;
    pair_t x;
    pair_init(&x, 64 << 20, 5000);
    char key[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        put(&x.a, key, 0, 5, 10, 1);
    }
    mutated = 0;
    pair_start(&x);
    pair_run(&x, 100000, shrink_journal);
    assert_true(mutated);
    assert_string_equal(x.s.status, "failed:journal_overflow");
    assert_null(x.a.journal);
    assert_int_equal(x.s.fd, -1);
    assert_int_equal(x.a.count, 2003); /* the source is untouched */
    pair_free(&x);
}

static void test_peer_error_keeps_whole_chunks(void **state)
{
    (void)state;
    pair_t x;
    size_t one = store_entry_cost(6, 10000);
    pair_init(&x, 5 * one, 5000);
    char key[32];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "key-%02d", i);
        put(&x.a, key, 0, 5, 10000, 1);
    }
    pair_start(&x);
    pair_run(&x, 100000, NULL);
    assert_true(strncmp(x.s.status, "failed:peer_error:NOMEM_chunk_of_10000_bytes", 44) == 0);
    /* The peer holds at most what fits, each a whole and correct chunk. */
    assert_int_equal(x.b.count, 5);
    assert_int_equal(missing(&x.b, &x.a), 0);
    assert_true(x.b.used <= x.b.limit);
    pair_free(&x);
}

static void close_peer(pair_t *x, int turn)
{
    (void)turn;
    if (mutated || x->s.phase != SYNC_SCAN) return;
    mutated = 1;
    node_conn_close(&x->peer);
}

static void test_peer_closes(void **state)
{
    (void)state;
    pair_t x;
    pair_init(&x, 64 << 20, 5000);
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        put(&x.a, key, 0, 5, 100, 1);
    }
    mutated = 0;
    pair_start(&x);
    pair_run(&x, 100000, close_peer);
    assert_true(strncmp(x.s.status, "failed:relay_", 13) == 0);
    assert_null(x.a.journal);
    assert_int_equal(x.a.count, 3000);
    assert_int_equal(missing(&x.b, &x.a), 0); /* what arrived is whole */
    pair_free(&x);
}

static void test_silent_peer_times_out(void **state)
{
    (void)state;
    pair_t x;
    pair_init(&x, 64 << 20, 30);
    put(&x.a, "k", 0, 1, 10, 1);
    pair_start(&x);
    /* Nobody answers INVENTORY. */
    sync_step(&x.s, POLLIN, ev_now_ms());
    assert_true(sync_active(&x.s));
    assert_true(sync_wait_ms(&x.s, ev_now_ms()) <= 30);
    sync_step(&x.s, 0, ev_now_ms() + 31);
    assert_string_equal(x.s.status, "failed:timeout");
    sync_abort(&x.s, "ignored"); /* finished already: no change */
    assert_string_equal(x.s.status, "failed:timeout");
    sync_reset(&x.s);
    assert_int_equal(x.s.phase, SYNC_IDLE);
    pair_free(&x);
}

static void test_bad_inventory(void **state)
{
    (void)state;
    pair_t x;
    pair_init(&x, 64 << 20, 5000);
    put(&x.a, "k", 0, 1, 10, 1);
    pair_start(&x);
    static const char reply[] = "$10\r\n0 1 1 1 1\n\r\n";
    assert_int_equal(write(x.fds[1], reply, sizeof reply - 1), (ssize_t)sizeof reply - 1);
    for (int i = 0; i < 10 && sync_active(&x.s); i++)
        sync_step(&x.s, POLLIN, ev_now_ms());
    assert_string_equal(x.s.status, "failed:malformed_inventory_at_byte_0");
    sync_reset(&x.s);
    node_conn_close(&x.peer);
    /* An error instead of the list. */
    pair_start(&x);
    static const char err[] = "-ERR inventory over 512 MiB\r\n";
    assert_int_equal(write(x.fds[1], err, sizeof err - 1), (ssize_t)sizeof err - 1);
    for (int i = 0; i < 10 && sync_active(&x.s); i++)
        sync_step(&x.s, POLLIN, ev_now_ms());
    assert_string_equal(x.s.status, "failed:peer_error:ERR_inventory_over_512_MiB");
    pair_free(&x);
}

static void test_start_arguments(void **state)
{
    (void)state;
    store_t st;
    store_init(&st, 1 << 20);
    sync_t s;
    sync_config_t cfg = {.function = "icnode0", .timeout_ms = 1000, .connect_timeout_ms = 100,
                         .secret = "a-test-node-secret-0123456789"};
    sync_init(&s, &st, &cfg);
    char err[256];
#define START_SIGNED(relay, token, endpoint, sigv4)                                                \
    sync_start(&s, relay, strlen(relay), token, strlen(token), endpoint, strlen(endpoint), sigv4,  \
               strlen(sigv4), NULL, err, sizeof err)
#define START(relay, token, endpoint) START_SIGNED(relay, token, endpoint, "")
    assert_int_equal(START("nocolon", "t", "http://127.0.0.1:1"), -EINVAL);
    assert_string_equal(err, "relay must be host:port");
    assert_int_equal(START("h:0", "t", "http://127.0.0.1:1"), -EINVAL);
    assert_int_equal(START("h:1", "", "http://127.0.0.1:1"), -EINVAL);
    assert_int_equal(START("h:1", "a\"b", "http://127.0.0.1:1"), -EINVAL);
    assert_int_equal(START("h:1", "t", "ftp://x/y"), -EINVAL);
    assert_true(strstr(err, "not http://host:port") != NULL);
    /* HTTPS and signing go through libcurl: nothing listens on port 1 either. */
    assert_true(START("127.0.0.1:1", "t", "https://127.0.0.1:1") < 0);
    assert_true(strstr(err, "invoke https://127.0.0.1:1/2015-03-31/functions/icnode0") != NULL);
    unsetenv("AWS_ACCESS_KEY_ID");
    assert_int_equal(START_SIGNED("127.0.0.1:1", "t", "http://127.0.0.1:1", "aws:amz:r:lambda"),
                     -EINVAL);
    assert_true(strstr(err, "needs AWS_ACCESS_KEY_ID") != NULL);
    setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    assert_true(START_SIGNED("127.0.0.1:1", "t", "http://127.0.0.1:1", "aws:amz:r:lambda") < 0);
    assert_true(strstr(err, "invoke http://127.0.0.1:1/") != NULL);
    assert_int_equal(START_SIGNED("127.0.0.1:1", "t", "http://127.0.0.1:1", "bad\"sig"), -EINVAL);
    assert_int_equal(s.phase, SYNC_IDLE);
    /* Nothing listens on port 1: the invocation fails and nothing starts. */
    assert_true(START("127.0.0.1:1", "t", "http://127.0.0.1:1") < 0);
    assert_true(strstr(err, "invoke icnode0") != NULL);
    assert_int_equal(s.phase, SYNC_IDLE);
    s.cfg.function = NULL;
    assert_int_equal(START("127.0.0.1:1", "t", "http://127.0.0.1:1"), -EINVAL);
    assert_true(strstr(err, "AWS_LAMBDA_FUNCTION_NAME") != NULL);
    s.phase = SYNC_SCAN; /* as if one were running */
    assert_int_equal(START("127.0.0.1:1", "t", "http://127.0.0.1:1"), -EBUSY);
    assert_string_equal(err, "a backup is already running");
    s.phase = SYNC_IDLE;
    sync_free(&s);
    store_free(&st);
}

static void test_index(void **state)
{
    (void)state;
    static const char blob[] = "0 5 7 3 6 2 1 0 1:a\n1 5 8 3 6 2 1 0 1:a\n0 6 9 4 8 2 1 0 2:bb\n";
    sync_index_t x;
    sync_index_init(&x, blob, sizeof blob - 1);
    size_t pos = 0, at = 0;
    inv_entry_t e;
    int n = 0;
    while (at = pos, inv_next(blob, sizeof blob - 1, &pos, &e) == 1) {
        assert_int_equal(sync_index_add(&x, at, e.key, e.keylen, e.index, e.version), 0);
        n++;
    }
    assert_int_equal(n, 3);
    store_t st;
    store_init(&st, 1 << 20);
    store_entry_t *a0, *bb;
    assert_int_equal(store_reserve(&st, "a", 1, 0, 5, 3, &a0), 0);
    a0->crc = 7;
    assert_true(sync_index_has(&x, a0));
    a0->crc = 70; /* damaged copy on the peer */
    assert_false(sync_index_has(&x, a0));
    assert_int_equal(store_reserve(&st, "bb", 2, 0, 6, 5, &bb), 0);
    bb->crc = 9;
    assert_false(sync_index_has(&x, bb)); /* other length */
    store_abort(&st, a0);
    store_abort(&st, bb);
    assert_int_equal(store_reserve(&st, "a", 1, 2, 5, 3, &a0), 0);
    a0->crc = 7;
    assert_false(sync_index_has(&x, a0)); /* other index */
    store_abort(&st, a0);
    /* Growth keeps every entry findable. */
    buf_t big;
    buf_init(&big);
    for (int i = 0; i < 5000; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "k%d", i);
        inv_entry_t ie = {.key = k,
                          .keylen = (size_t)kl,
                          .index = 0,
                          .version = (uint64_t)i,
                          .crc = (uint32_t)i,
                          .chunk_len = 1,
                          .size = 1,
                          .d = 1};
        inv_append(&big, &ie);
    }
    sync_index_free(&x);
    sync_index_init(&x, buf_head(&big), buf_len(&big));
    pos = 0;
    while (at = pos, inv_next(buf_head(&big), buf_len(&big), &pos, &e) == 1)
        assert_int_equal(sync_index_add(&x, at, e.key, e.keylen, e.index, e.version), 0);
    for (int i = 0; i < 5000; i += 7) {
        char k[16];
        int kl = snprintf(k, sizeof k, "k%d", i);
        store_entry_t *q;
        assert_int_equal(store_reserve(&st, k, (size_t)kl, 0, (uint64_t)i, 1, &q), 0);
        q->crc = (uint32_t)i;
        assert_true(sync_index_has(&x, q));
        store_abort(&st, q);
    }
    sync_index_free(&x);
    buf_free(&big);
    store_free(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delta),
        cmocka_unit_test(test_journal_during_sync),
        cmocka_unit_test(test_tombstones_carried),
        cmocka_unit_test(test_rename_carried),
        cmocka_unit_test(test_journal_overflow),
        cmocka_unit_test(test_peer_error_keeps_whole_chunks),
        cmocka_unit_test(test_peer_closes),
        cmocka_unit_test(test_silent_peer_times_out),
        cmocka_unit_test(test_bad_inventory),
        cmocka_unit_test(test_start_arguments),
        cmocka_unit_test(test_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
