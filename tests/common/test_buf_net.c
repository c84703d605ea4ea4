/* test_buf_net.c -- byte buffers and the TCP helpers on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "buf.h"
#include "net.h"

static void test_buf_basics(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    assert_int_equal(buf_len(&b), 0);
    assert_int_equal(buf_append(&b, "hello", 5), 0);
    assert_int_equal(buf_printf(&b, " %d", 42), 0);
    assert_int_equal(buf_len(&b), 8);
    assert_memory_equal(buf_head(&b), "hello 42", 8);
    buf_consume(&b, 6);
    assert_memory_equal(buf_head(&b), "42", 2);
    /* Reserve by compacting: capacity stays, the unread bytes move to the front. */
    size_t cap = b.cap;
    assert_int_equal(buf_reserve(&b, cap - 2), 0);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.start, 0);
    assert_memory_equal(buf_head(&b), "42", 2);
    /* Growing keeps the content. */
    assert_int_equal(buf_reserve(&b, 100000), 0);
    assert_true(b.cap - b.end >= 100000);
    assert_memory_equal(buf_head(&b), "42", 2);
    buf_consume(&b, 2);
    assert_int_equal(b.start, 0); /* an emptied buffer rewinds */
    buf_shrink_if_empty(&b, 4096);
    assert_int_equal(b.cap, 0);
    buf_free(&b);
}

static void test_buf_fd(void **state)
{
    (void)state;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    buf_t out, in;
    buf_init(&out);
    buf_init(&in);
    buf_append(&out, "abcdef", 6);
    assert_int_equal(buf_write_fd(&out, pfd[1]), 6);
    assert_int_equal(buf_len(&out), 0);
    assert_int_equal(buf_read_fd(&in, pfd[0], 4), 4);
    assert_int_equal(buf_read_fd(&in, pfd[0], 100), 2);
    assert_memory_equal(buf_head(&in), "abcdef", 6);
    close(pfd[1]);
    assert_int_equal(buf_read_fd(&in, pfd[0], 100), 0);
    close(pfd[0]);
    assert_true(buf_read_fd(&in, pfd[0], 100) < 0);
    buf_free(&out);
    buf_free(&in);
}

static void test_hostport(void **state)
{
    (void)state;
    char host[64];
    int port;
    assert_int_equal(net_split_hostport("127.0.0.1:6378", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6378);
    assert_int_equal(net_split_hostport("[::1]:80", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 80);
    assert_int_equal(net_split_hostport("localhost:0", host, sizeof host, &port), 0);
    assert_true(net_split_hostport("noport", host, sizeof host, &port) < 0);
    assert_true(net_split_hostport(":80", host, sizeof host, &port) < 0);
    assert_true(net_split_hostport("h:", host, sizeof host, &port) < 0);
    assert_true(net_split_hostport("h:65536", host, sizeof host, &port) < 0);
    assert_true(net_split_hostport("h:12x", host, sizeof host, &port) < 0);
    assert_true(net_split_hostport("averyveryverylonghostname:1", host, 8, &port) < 0);
}

static void test_listen_connect_accept(void **state)
{
    (void)state;
    int lfd = net_listen("127.0.0.1", 0, 16);
    assert_true(lfd >= 0);
    int port = net_local_port(lfd);
    assert_true(port > 0);
    assert_int_equal(net_accept(lfd), -11); /* -EAGAIN: nothing pending, never blocks */
    int cfd = net_connect("127.0.0.1", port, 1000);
    assert_true(cfd >= 0);
    int afd = -1;
    for (int i = 0; i < 1000 && afd < 0; i++) {
        afd = net_accept(lfd);
        if (afd == -11) usleep(1000);
    }
    assert_true(afd >= 0);
    assert_int_equal(write(cfd, "ping", 4), 4);
    char b[8];
    ssize_t n = -1;
    for (int i = 0; i < 1000 && n < 0; i++) {
        n = read(afd, b, sizeof b);
        if (n < 0) usleep(1000);
    }
    assert_int_equal(n, 4);
    assert_memory_equal(b, "ping", 4);
    close(afd);
    close(cfd);
    close(lfd);
    /* Nobody listens there any more: a clear negative error, not a hang. */
    assert_true(net_connect("127.0.0.1", port, 1000) < 0);
}

/* A connect to an address already known (a connection's peer) that never blocks: the outcome comes
 * from net_connect_result once the socket is writable. */
static void test_connect_start(void **state)
{
    (void)state;
    int lfd = net_listen("127.0.0.1", 0, 16);
    assert_true(lfd >= 0);
    int cfd = net_connect("127.0.0.1", net_local_port(lfd), 1000);
    assert_true(cfd >= 0);
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    assert_int_equal(getpeername(cfd, (struct sockaddr *)&peer, &len), 0);
    int fd = net_connect_start((struct sockaddr *)&peer, len);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    struct pollfd p = {fd, POLLOUT, 0};
    assert_int_equal(poll(&p, 1, 2000), 1);
    assert_int_equal(net_connect_result(fd), 0);
    close(fd);
    close(cfd);
    close(lfd);
    /* Nobody listens there now: refused, reported by net_connect_result (or at once). */
    fd = net_connect_start((struct sockaddr *)&peer, len);
    if (fd >= 0) {
        p = (struct pollfd){fd, POLLOUT, 0};
        assert_int_equal(poll(&p, 1, 2000), 1);
        assert_int_equal(net_connect_result(fd), -ECONNREFUSED);
        close(fd);
    } else {
        assert_int_equal(fd, -ECONNREFUSED);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_basics),    cmocka_unit_test(test_buf_fd),
        cmocka_unit_test(test_hostport),      cmocka_unit_test(test_listen_connect_accept),
        cmocka_unit_test(test_connect_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
