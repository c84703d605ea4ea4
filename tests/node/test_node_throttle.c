/* test_node_throttle.c -- network emulation in the node: holds in the output queue, and a
 * connection that keeps a straggler's reply (and the ones behind it) queued as work in flight (the
 * token bucket and the straggler choice themselves are tested in tests/model/test_throttle.c). */
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

#include "serve.h"
#include "ev.h"
#include "outq.h"
#include "throttle.h"

static size_t drain(int fd, char *out, size_t cap)
{
    ssize_t n = recv(fd, out, cap, MSG_DONTWAIT);
    return n > 0 ? (size_t)n : 0;
}

static void test_outq_holds_and_limit(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    store_t store;
    store_init(&store, 4096);
    outq_t q;
    outq_init(&q, &store);
    char got[64];
    uint64_t until = 0;

    buf_append(&q.small, "first", 5);
    assert_int_equal(outq_push_hold(&q, 100), 0);
    buf_append(&q.small, "second", 6);
    assert_int_equal(outq_held(&q, 50, &until), 0); /* "first" may go now */
    assert_int_equal(outq_write_upto(&q, sv[0], 50, SIZE_MAX), 5);
    assert_int_equal(drain(sv[1], got, sizeof got), 5);
    assert_int_equal(outq_held(&q, 50, &until), 1);
    assert_int_equal(until, 100);
    assert_true(outq_pending(&q)); /* a held reply is work in flight */
    assert_int_equal(outq_write_upto(&q, sv[0], 99, SIZE_MAX), 0);
    assert_int_equal(outq_held(&q, 100, &until), 0);
    /* At most max_bytes per call. */
    assert_int_equal(outq_write_upto(&q, sv[0], 100, 4), 4);
    assert_int_equal(outq_write_upto(&q, sv[0], 100, 4), 2);
    assert_false(outq_pending(&q));
    assert_int_equal(drain(sv[1], got, sizeof got), 6);
    assert_memory_equal(got, "second", 6);

    /* outq_write passes holds over; take_all ignores them. */
    buf_append(&q.small, "a", 1);
    outq_push_hold(&q, UINT64_MAX - 1);
    buf_append(&q.small, "b", 1);
    assert_int_equal(outq_write(&q, sv[0]), 2);
    assert_false(outq_pending(&q));
    assert_int_equal(drain(sv[1], got, sizeof got), 2);
    outq_push_hold(&q, 5);
    buf_append(&q.small, "c", 1);
    buf_t all;
    buf_init(&all);
    assert_int_equal(outq_take_all(&q, &all), 0);
    assert_int_equal(buf_len(&all), 1);
    buf_free(&all);

    outq_free(&q);
    store_free(&store);
    close(sv[0]);
    close(sv[1]);
}

#define OBJ "$3\r\n100\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n0\r\n"
#define CSET "*10\r\n$4\r\nCSET\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n9\r\n" OBJ "$2\r\nhi\r\n"
#define CGET "*4\r\n$4\r\nCGET\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n1\r\n"
#define PING "*1\r\n$4\r\nPING\r\n"

/* Every CGET reply is a straggler: it is held with the PING behind it, POLLOUT is not asked
 * for, the serving loop gets a timeout instead, and the connection counts as busy. */
static void test_conn_holds_straggler(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    store_t store;
    store_init(&store, 4096);
    node_conn_t c;
    node_conn_init(&c, &store, NULL, NULL);
    c.fd = sv[0];
    throttle_t t;
    throttle_bucket_init(&t.bucket, 0, 0, 0);
    throttle_straggler_init(&t.straggler, 1, 60000, 1);
    c.throttle = &t;

    static const char in[] = CSET CGET PING;
    buf_append(&c.in, in, sizeof in - 1);
    assert_int_equal(node_conn_process(&c), 0);
    assert_true(node_conn_poll_events(&c) & POLLOUT); /* CSET's +OK is ahead of the hold */
    assert_int_equal(node_conn_handle(&c, POLLOUT), 0);
    char got[256];
    size_t n = drain(sv[1], got, sizeof got);
    assert_int_equal(n, 5);
    assert_memory_equal(got, "+OK\r\n", 5);
    assert_false(node_conn_poll_events(&c) & POLLOUT);
    int wait = node_conn_wait_ms(&c, ev_now_ms());
    assert_true(wait > 0 && wait <= 60000);
    assert_true(node_conn_inflight(&c));
    assert_int_equal(node_conn_handle(&c, POLLOUT), 0); /* a spurious event writes nothing */
    assert_int_equal(drain(sv[1], got, sizeof got), 0);

    /* Once the hold is over the reply and the PONG behind it go out in order. */
    c.out.segs[c.out.head].hold_until = 1;
    assert_int_equal(node_conn_wait_ms(&c, ev_now_ms()), -1);
    assert_true(node_conn_poll_events(&c) & POLLOUT);
    assert_int_equal(node_conn_handle(&c, POLLOUT), 0);
    static const char want[] = "*2\r\n:9\r\n$2\r\nhi\r\n+PONG\r\n";
    n = drain(sv[1], got, sizeof got);
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(got, want, n);
    assert_false(node_conn_inflight(&c));

    node_conn_free(&c); /* closes sv[0] */
    store_free(&store);
    close(sv[1]);
}

/* A bandwidth cap leaves the rest of a reply queued, with a wait instead of POLLOUT. */
static void test_conn_bandwidth(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    store_t store;
    store_init(&store, 4096);
    node_conn_t c;
    node_conn_init(&c, &store, NULL, NULL);
    c.fd = sv[0];
    throttle_t t;
    throttle_bucket_init(&t.bucket, 1000, 8, ev_now_ms()); /* 1 byte per ms, 8 at once */
    throttle_straggler_init(&t.straggler, 0, 0, 1);
    c.throttle = &t;
    static const char in[] = PING PING PING;
    buf_append(&c.in, in, sizeof in - 1);
    assert_int_equal(node_conn_process(&c), 0);
    assert_int_equal(node_conn_handle(&c, POLLOUT), 0);
    char got[64];
    size_t n = drain(sv[1], got, sizeof got);
    assert_true(n >= 8 && n < 21); /* the burst, and what trickled in since */
    assert_true(node_conn_inflight(&c));
    /* Drained by waiting as told: never more than a burst ahead of the rate. */
    uint64_t start = ev_now_ms();
    size_t total = n;
    while (node_conn_inflight(&c)) {
        int wait = node_conn_wait_ms(&c, ev_now_ms());
        struct pollfd p = {c.fd, node_conn_poll_events(&c), 0};
        poll(&p, 1, wait);
        if (p.revents) node_conn_handle(&c, p.revents);
        total += drain(sv[1], got + total, sizeof got - total);
        assert_true(ev_now_ms() - start < 10000);
    }
    assert_int_equal(total, 21);
    node_conn_free(&c);
    store_free(&store);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outq_holds_and_limit),
        cmocka_unit_test(test_conn_holds_straggler),
        cmocka_unit_test(test_conn_bandwidth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
