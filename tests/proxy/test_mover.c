/* test_mover.c -- byte movers: reads into memory (with their checksum), vectored writes, the
 * source's end of stream, a dead destination, and a job taken back before it finishes. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ec.h"
#include "ev.h"
#include "mover.h"

#define BIG (3u << 20) /* more than a socket buffer holds: the mover must wait and resume */

typedef struct {
    int fd;
    const char *data;
    size_t len;
    int close_after; /* close the socket once len bytes are written */
} writer_arg_t;

static void *writer(void *arg)
{
    writer_arg_t *w = arg;
    size_t off = 0;
    while (off < w->len) {
        ssize_t n = write(w->fd, w->data + off, w->len - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    if (w->close_after) close(w->fd);
    return NULL;
}

typedef struct {
    int fd;
    char *data;
    size_t want, got;
} reader_arg_t;

static void *reader(void *arg)
{
    reader_arg_t *r = arg;
    while (r->got < r->want) {
        ssize_t n = read(r->fd, r->data + r->got, r->want - r->got);
        if (n <= 0) break;
        r->got += (size_t)n;
    }
    return NULL;
}

static char *pattern(size_t n, unsigned seed)
{
    char *p = malloc(n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (char)(seed >> 16);
    }
    return p;
}

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

typedef struct {
    ev_loop_t *loop;
    int calls;
    int failed, err;
    size_t moved_in, moved_out;
    uint32_t crc;
} done_t;

static void on_done(mover_job_t *j, void *arg)
{
    done_t *d = arg;
    d->calls++;
    d->failed = j->failed;
    d->err = j->err;
    d->moved_in = j->moved_in;
    d->moved_out = j->moved_out;
    d->crc = j->crc;
    ev_stop(d->loop);
}

static void give_up(ev_loop_t *loop, void *arg)
{
    (void)arg;
    ev_stop(loop); /* a test that never finishes fails its checks instead of hanging */
}

static void run_until_done(ev_loop_t *loop)
{
    uint64_t t = ev_timer_add(loop, 20000, give_up, NULL);
    ev_run(loop);
    ev_timer_cancel(loop, t);
}

/* A loop with movers and a socket pair whose end sv[0] (non-blocking) the jobs use. */
typedef struct {
    ev_loop_t *loop;
    mover_t *m;
    int sv[2];
    done_t d;
} rig_t;

static void rig_open(rig_t *g, int threads)
{
    g->loop = ev_create(1024);
    g->m = mover_start(g->loop, threads);
    assert_non_null(g->m);
    pair(g->sv);
    nonblock(g->sv[0]);
    memset(&g->d, 0, sizeof g->d);
    g->d.loop = g->loop;
}

static void rig_close(rig_t *g)
{
    for (int i = 0; i < 2; i++)
        if (g->sv[i] >= 0) close(g->sv[i]);
    mover_stop(g->m);
    ev_destroy(g->loop);
}

static mover_job_t *job(rig_t *g, move_kind_t kind)
{
    return mover_job_new(kind, on_done, &g->d);
}

static void run_job(rig_t *g, mover_job_t *j)
{
    mover_submit(g->m, j);
    run_until_done(g->loop);
}

static void test_read_into_memory(void **state)
{
    (void)state;
    rig_t g;
    rig_open(&g, 2);
    char *src = pattern(BIG, 7), *dst = calloc(1, BIG);
    writer_arg_t wa = {g.sv[1], src, BIG, 0};
    pthread_t th;
    pthread_create(&th, NULL, writer, &wa);
    /* The loop thread took the first 100 bytes itself (as a relay takes what is buffered); the
     * mover reads the rest and checksums the whole body. */
    size_t head = 0;
    while (head < 100) {
        ssize_t n = read(g.sv[0], dst + head, 100 - head);
        if (n > 0) head += (size_t)n;
    }
    mover_job_t *j = job(&g, MOVE_READ);
    j->src_fd = g.sv[0];
    j->mem = dst + head;
    j->len = BIG - head;
    j->want_crc = 1;
    j->crc_base = dst;
    j->crc_len = BIG;
    run_job(&g, j);
    pthread_join(th, NULL);
    assert_int_equal(g.d.calls, 1);
    assert_int_equal(g.d.failed, MOVE_OK);
    assert_int_equal(g.d.moved_in, BIG - head);
    assert_memory_equal(src, dst, BIG);
    assert_int_equal(g.d.crc, ec_crc(src, BIG));
    mover_stats_t st;
    mover_stats(g.m, &st);
    assert_int_equal(st.jobs, 1);
    assert_int_equal(st.bytes, BIG - head);
    free(src);
    free(dst);
    rig_close(&g);
}

static void test_writev_segments(void **state)
{
    (void)state;
    rig_t g;
    rig_open(&g, 2);
    char *src = pattern(BIG, 3);
    reader_arg_t ra = {g.sv[1], calloc(1, BIG), BIG, 0};
    pthread_t tr;
    pthread_create(&tr, NULL, reader, &ra);
    mover_job_t *j = job(&g, MOVE_WRITEV);
    /* uneven segments, one of them empty */
    size_t cuts[] = {0, 1, 1, 4096, 100000, BIG};
    j->iovcnt = 5;
    j->iov = malloc(5 * sizeof *j->iov);
    for (int i = 0; i < 5; i++) {
        j->iov[i].iov_base = src + cuts[i];
        j->iov[i].iov_len = cuts[i + 1] - cuts[i];
    }
    j->dst_fd = g.sv[0];
    run_job(&g, j);
    pthread_join(tr, NULL);
    assert_int_equal(g.d.failed, MOVE_OK);
    assert_int_equal(g.d.moved_out, BIG);
    assert_memory_equal(src, ra.data, BIG);
    free(src);
    free(ra.data);
    rig_close(&g);
}

static void test_source_ends_early(void **state)
{
    (void)state;
    rig_t g;
    rig_open(&g, 1);
    char *src = pattern(1000, 5);
    writer_arg_t wa = {g.sv[1], src, 1000, 1};
    pthread_t th;
    pthread_create(&th, NULL, writer, &wa);
    mover_job_t *j = job(&g, MOVE_DISCARD);
    j->src_fd = g.sv[0];
    j->len = 5000;
    run_job(&g, j);
    pthread_join(th, NULL);
    g.sv[1] = -1; /* the writer closed it */
    assert_int_equal(g.d.failed, MOVE_SRC_FAILED);
    assert_int_equal(g.d.err, 0); /* the end of the stream, not an error */
    assert_int_equal(g.d.moved_in, 1000);
    free(src);
    rig_close(&g);
}

static void test_dead_destination(void **state)
{
    (void)state;
    rig_t g;
    rig_open(&g, 1);
    close(g.sv[1]);
    g.sv[1] = -1;
    char *src = pattern(BIG, 9);
    mover_job_t *j = job(&g, MOVE_WRITEV);
    j->iovcnt = 1;
    j->iov = malloc(sizeof *j->iov);
    j->iov[0].iov_base = src;
    j->iov[0].iov_len = BIG;
    j->dst_fd = g.sv[0];
    run_job(&g, j);
    assert_int_equal(g.d.failed, MOVE_DST_FAILED);
    assert_int_equal(g.d.err, EPIPE);
    free(src);
    rig_close(&g);
}

static void test_take_back(void **state)
{
    (void)state;
    rig_t g;
    rig_open(&g, 2);
    char buf[4096];
    assert_int_equal(write(g.sv[1], "abc", 3), 3);
    mover_job_t *j = job(&g, MOVE_READ);
    j->src_fd = g.sv[0];
    j->mem = buf;
    j->len = sizeof buf; /* more than will ever come: it waits */
    mover_submit(g.m, j);
    /* Taken back while it waits for input (whether or not it read the 3 bytes yet). */
    mover_cancel(g.m, j);
    assert_true(j->moved_in == 0 || j->moved_in == 3);
    size_t got = j->moved_in;
    /* The mailbox may still get its completion: delivering it must not run the callback. */
    uint64_t t = ev_timer_add(g.loop, 50, give_up, NULL);
    ev_run(g.loop);
    ev_timer_cancel(g.loop, t);
    assert_int_equal(g.d.calls, 0);
    /* The descriptor is the caller's again: what the mover did not take is still there. */
    ssize_t n = read(g.sv[0], buf, sizeof buf);
    assert_int_equal(n, got == 3 ? -1 : 3);
    mover_stats_t st;
    mover_stats(g.m, &st);
    assert_int_equal(st.cancelled, 1);
    rig_close(&g);
}

static void test_wanted_by_load(void **state)
{
    (void)state;
    /* Off: on only from MOVER_ON_LOAD of a core of work. */
    assert_false(mover_wanted(0, 0.0, 0.0));
    assert_false(mover_wanted(0, 0.55, 0.0));
    assert_true(mover_wanted(0, 0.6, 0.0));
    assert_true(mover_wanted(0, 0.9, 0.3));
    /* On: the loop the movers freed (0.2 busy) keeps them while the work is still there... */
    assert_true(mover_wanted(1, 0.2, 0.45));
    assert_true(mover_wanted(1, 0.4, 0.0));
    /* ...and lets them go once it is gone. */
    assert_false(mover_wanted(1, 0.2, 0.1));
    assert_false(mover_wanted(1, 0.0, 0.0));
}

static void test_no_threads_no_mover(void **state)
{
    (void)state;
    ev_loop_t *loop = ev_create(64);
    assert_null(mover_start(loop, 0));
    assert_int_equal(mover_threads(NULL), 0);
    ev_destroy(loop);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_into_memory),
        cmocka_unit_test(test_writev_segments),    cmocka_unit_test(test_source_ends_early),
        cmocka_unit_test(test_dead_destination),   cmocka_unit_test(test_take_back),
        cmocka_unit_test(test_wanted_by_load),     cmocka_unit_test(test_no_threads_no_mover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
