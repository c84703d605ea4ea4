/* test_ev.c -- event loop: timer order and cancel, io callbacks on a socketpair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ev.h"

static int order[16];
static int norder;
static int watchdog_fired;

static void record(ev_loop_t *l, void *arg)
{
    order[norder++] = (int)(intptr_t)arg;
    if ((intptr_t)arg == 99) ev_stop(l);
}

/* Stops a loop that would otherwise hang, so the test fails instead of timing out. */
static void watchdog(ev_loop_t *l, void *arg)
{
    watchdog_fired = 1;
    ev_stop(l);
}

static void test_timers_order_and_cancel(void **state)
{
    (void)state;
    ev_loop_t *l = ev_create(64);
    assert_non_null(l);
    norder = 0;
    watchdog_fired = 0;
    ev_timer_add(l, 5000, watchdog, NULL);
    ev_timer_add(l, 30, record, (void *)3);
    ev_timer_add(l, 10, record, (void *)1);
    uint64_t c = ev_timer_add(l, 15, record, (void *)7);
    ev_timer_add(l, 20, record, (void *)2);
    ev_timer_add(l, 0, record, (void *)0);
    ev_timer_add(l, 40, record, (void *)99);
    ev_timer_cancel(l, c);
    ev_timer_cancel(l, 12345); /* unknown: harmless */
    uint64_t t0 = ev_now_ms();
    assert_int_equal(ev_run(l), 0);
    assert_false(watchdog_fired);
    assert_true(ev_now_ms() - t0 >= 40);
    assert_int_equal(norder, 5);
    int want[] = {0, 1, 2, 3, 99};
    assert_memory_equal(order, want, sizeof want);
    ev_destroy(l);
}

typedef struct {
    int fd;
    char got[64];
    size_t ngot;
    int eof;
    int writable;
} io_state_t;

static void on_read(ev_loop_t *l, int fd, int events, void *arg)
{
    io_state_t *s = arg;
    assert_true(events & EV_READ);
    ssize_t n = read(fd, s->got + s->ngot, sizeof s->got - s->ngot);
    if (n > 0) s->ngot += (size_t)n;
    if (n == 0) {
        s->eof = 1;
        ev_del(l, fd);
        ev_stop(l);
    }
}

static void on_write(ev_loop_t *l, int fd, int events, void *arg)
{
    io_state_t *s = arg;
    assert_true(events & EV_WRITE);
    s->writable++;
    ev_set(l, fd, 0, on_write, arg); /* pause: we only wanted to see it once */
}

static int peer_fd;
static void send_later(ev_loop_t *l, void *arg)
{
    assert_int_equal(write(peer_fd, arg, strlen(arg)), (ssize_t)strlen(arg));
}

static void close_later(ev_loop_t *l, void *arg)
{
    close(peer_fd);
    peer_fd = -1;
}

static void test_io_socketpair(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ev_loop_t *l = ev_create(1024);
    io_state_t rs = {.fd = sv[0]}, ws = {.fd = sv[1]};
    peer_fd = sv[1];
    watchdog_fired = 0;
    assert_int_equal(ev_set(l, sv[0], EV_READ, on_read, &rs), 0);
    assert_int_equal(ev_get(l, sv[0]), EV_READ);
    assert_int_equal(ev_set(l, sv[1], EV_WRITE, on_write, &ws), 0);
    ev_timer_add(l, 5000, watchdog, NULL);
    ev_timer_add(l, 5, send_later, "hello ");
    ev_timer_add(l, 10, send_later, "world");
    ev_timer_add(l, 20, close_later, NULL);
    assert_int_equal(ev_run(l), 0);
    assert_false(watchdog_fired);
    assert_int_equal(ws.writable, 1);
    assert_int_equal(rs.ngot, 11);
    assert_memory_equal(rs.got, "hello world", 11);
    assert_int_equal(rs.eof, 1);
    assert_int_equal(ev_get(l, sv[0]), 0);
    assert_int_equal(ev_set(l, 5000, EV_READ, on_read, &rs), -24); /* fd beyond max_fds */
    ev_destroy(l);
    close(sv[0]);
}

static int after_io_calls;
static void after_io(ev_loop_t *l, void *arg)
{
    after_io_calls++;
}

static void test_after_io_hook(void **state)
{
    (void)state;
    ev_loop_t *l = ev_create(16);
    after_io_calls = 0;
    norder = 0;
    ev_set_after_io(l, after_io, NULL);
    ev_timer_add(l, 1, record, (void *)99);
    assert_int_equal(ev_run(l), 0);
    assert_true(after_io_calls >= 1);
    ev_destroy(l);
}

/* What a timer callback leaves is seen by the hook in that same iteration: the loop does not
 * block in epoll_wait first (here it would until the 5 s guard timer). */
static int timer_left_work, hook_saw_work;
static void leave_work(ev_loop_t *l, void *arg)
{
    timer_left_work = 1;
}
static void hook_after_work(ev_loop_t *l, void *arg)
{
    if (!timer_left_work) return;
    hook_saw_work = 1;
    ev_stop(l);
}
static void guard(ev_loop_t *l, void *arg)
{
    ev_stop(l);
}

static void test_after_io_hook_follows_timers(void **state)
{
    (void)state;
    ev_loop_t *l = ev_create(16);
    timer_left_work = hook_saw_work = 0;
    ev_set_after_io(l, hook_after_work, NULL);
    ev_timer_add(l, 0, leave_work, NULL);
    ev_timer_add(l, 5000, guard, NULL);
    uint64_t t0 = ev_now_ms();
    assert_int_equal(ev_run(l), 0);
    assert_true(hook_saw_work);
    assert_true(ev_now_ms() - t0 < 4000); /* the guard did not end it */
    ev_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_order_and_cancel),
        cmocka_unit_test(test_io_socketpair),
        cmocka_unit_test(test_after_io_hook),
        cmocka_unit_test(test_after_io_hook_follows_timers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
