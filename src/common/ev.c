/* ev.c -- epoll event loop; timers live in a binary min-heap keyed by deadline. */
#include "ev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clock.h"

typedef struct {
    ev_io_cb *cb;
    void *arg;
    int events;
    int registered;
} ev_fd_t;

typedef struct {
    uint64_t when;
    uint64_t id;
    ev_timer_cb *cb;
    void *arg;
} ev_timer_t;

struct ev_loop {
    int epfd;
    int max_fds;
    ev_fd_t *fds;
    ev_timer_t *heap;
    size_t nheap, capheap;
    uint64_t next_id;
    int stop;
    void (*after_io)(ev_loop_t *, void *);
    void *after_io_arg;
    uint64_t idle_us; /* time spent waiting in epoll_wait */
};

uint64_t ev_idle_us(const ev_loop_t *l)
{
    return l->idle_us;
}

uint64_t ev_now_us(void)
{
    return clock_mono_us();
}

uint64_t ev_now_ms(void)
{
    return clock_mono_ms();
}

ev_loop_t *ev_create(int max_fds)
{
    ev_loop_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->fds = calloc((size_t)max_fds, sizeof *l->fds);
    l->max_fds = max_fds;
    if (l->epfd < 0 || !l->fds) {
        ev_destroy(l);
        return NULL;
    }
    return l;
}

void ev_destroy(ev_loop_t *l)
{
    if (!l) return;
    if (l->epfd >= 0) close(l->epfd);
    free(l->fds);
    free(l->heap);
    free(l);
}

int ev_set(ev_loop_t *l, int fd, int events, ev_io_cb *cb, void *arg)
{
    if (fd < 0 || fd >= l->max_fds) return -EMFILE;
    ev_fd_t *f = &l->fds[fd];
    f->cb = cb;
    f->arg = arg;
    if (f->registered && f->events == events) return 0;
    struct epoll_event ee = {0};
    ee.events = (events & EV_READ ? EPOLLIN : 0) | (events & EV_WRITE ? EPOLLOUT : 0);
    ee.data.fd = fd;
    int op = f->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->epfd, op, fd, &ee) < 0) return -errno;
    f->registered = 1;
    f->events = events;
    return 0;
}

int ev_get(ev_loop_t *l, int fd)
{
    if (fd < 0 || fd >= l->max_fds || !l->fds[fd].registered) return 0;
    return l->fds[fd].events;
}

int ev_del(ev_loop_t *l, int fd)
{
    if (fd < 0 || fd >= l->max_fds) return -EBADF;
    ev_fd_t *f = &l->fds[fd];
    if (f->registered) epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    memset(f, 0, sizeof *f);
    return 0;
}

static void heap_swap(ev_timer_t *h, size_t a, size_t b)
{
    ev_timer_t t = h[a];
    h[a] = h[b];
    h[b] = t;
}

static void heap_up(ev_timer_t *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p].when <= h[i].when) break;
        heap_swap(h, p, i);
        i = p;
    }
}

static void heap_down(ev_timer_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].when < h[m].when) m = l;
        if (r < n && h[r].when < h[m].when) m = r;
        if (m == i) break;
        heap_swap(h, m, i);
        i = m;
    }
}

uint64_t ev_timer_add(ev_loop_t *l, uint64_t after_ms, ev_timer_cb *cb, void *arg)
{
    if (l->nheap == l->capheap) {
        size_t cap = l->capheap ? l->capheap * 2 : 64;
        ev_timer_t *h = realloc(l->heap, cap * sizeof *h);
        if (!h) return 0;
        l->heap = h;
        l->capheap = cap;
    }
    uint64_t id = ++l->next_id;
    l->heap[l->nheap] = (ev_timer_t){ev_now_ms() + after_ms, id, cb, arg};
    heap_up(l->heap, l->nheap++);
    return id;
}

void ev_timer_cancel(ev_loop_t *l, uint64_t id)
{
    if (!id) return;
    for (size_t i = 0; i < l->nheap; i++) {
        if (l->heap[i].id != id) continue;
        l->heap[i] = l->heap[--l->nheap];
        if (i < l->nheap) {
            heap_down(l->heap, l->nheap, i);
            heap_up(l->heap, i);
        }
        return;
    }
}

void ev_set_after_io(ev_loop_t *l, void (*cb)(ev_loop_t *, void *), void *arg)
{
    l->after_io = cb;
    l->after_io_arg = arg;
}

void ev_stop(ev_loop_t *l)
{
    l->stop = 1;
}

static void run_due_timers(ev_loop_t *l)
{
    uint64_t now = ev_now_ms();
    /* Timers added by a callback run on a later pass, so a zero-delay timer cannot spin. */
    uint64_t last_id = l->next_id;
    while (l->nheap > 0 && l->heap[0].when <= now && !l->stop) {
        ev_timer_t t = l->heap[0];
        if (t.id > last_id) break;
        l->heap[0] = l->heap[--l->nheap];
        heap_down(l->heap, l->nheap, 0);
        t.cb(l, t.arg);
    }
}

int ev_run(ev_loop_t *l)
{
    struct epoll_event evs[256];
    l->stop = 0;
    while (!l->stop) {
        int timeout = -1;
        if (l->nheap > 0) {
            uint64_t now = ev_now_ms();
            timeout = l->heap[0].when <= now ? 0 : (int)(l->heap[0].when - now);
        }
        uint64_t t0 = timeout != 0 ? clock_mono_us() : 0;
        int n = epoll_wait(l->epfd, evs, 256, timeout);
        if (timeout != 0) l->idle_us += clock_mono_us() - t0;
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        for (int i = 0; i < n && !l->stop; i++) {
            int fd = evs[i].data.fd;
            ev_fd_t *f = &l->fds[fd];
            if (!f->registered || !f->cb) continue;
            int mask = 0;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) mask |= EV_READ;
            if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) mask |= EV_WRITE;
            mask &= f->events ? f->events : 0;
            if (evs[i].events & (EPOLLHUP | EPOLLERR)) mask |= f->events; /* let the owner see it */
            if (mask) f->cb(l, fd, mask, f->arg);
        }
        run_due_timers(l);
        /* After the timers too: what a timer callback queued (a reply, a request) goes out in
         * this iteration rather than after the next event, which may be a long wait away. */
        if (l->after_io) l->after_io(l, l->after_io_arg);
    }
    return 0;
}
