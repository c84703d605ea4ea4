/* transport.c -- the transport's connections: input buffer, zero-copy output queue, batched flushing
 * at the end of each loop iteration, and the owner told through its handler table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "mover.h"
#include "transport.h"

#define OUTSEG_INLINE 16384
#define FLUSH_IOV 64

objbuf_t *objbuf_new(size_t len)
{
    objbuf_t *b = malloc(sizeof *b + len);
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    return b;
}

/* Atomic: an object's bytes may be referenced from output queues on several threads (a reply
 * read by one shard and written by the thread of the client's connection). Taking a reference
 * needs no ordering; the last release must see every write to the buffer before it is freed. */
objbuf_t *objbuf_ref(objbuf_t *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void objbuf_unref(objbuf_t *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) free(b);
}

/* ---- the plain-socket transport ---- */

static ssize_t plain_read(conn_t *c, void *p, size_t n)
{
    for (;;) {
        ssize_t r = read(c->fd, p, n);
        if (r >= 0) return r;
        if (errno != EINTR) return -errno;
    }
}

static ssize_t plain_writev(conn_t *c, const struct iovec *iov, int cnt)
{
    for (;;) {
        ssize_t w = writev(c->fd, iov, cnt);
        if (w >= 0) return w;
        if (errno != EINTR) return -errno;
    }
}

static int plain_splice(conn_t *c)
{
    return 1;
}

static size_t plain_pending(conn_t *c)
{
    return 0;
}

static void plain_shutdown(conn_t *c)
{
    shutdown(c->fd, SHUT_RDWR);
}

static size_t plain_unflushed(conn_t *c)
{
    return 0;
}

static ssize_t plain_flush(conn_t *c)
{
    return 0;
}

const conn_type_t conn_type_plain = {
    .name = "tcp",
    .read = plain_read,
    .writev = plain_writev,
    .splice_from = plain_splice,
    .splice_to = plain_splice,
    .pending = plain_pending,
    .unflushed = plain_unflushed,
    .flush = plain_flush,
    .shutdown = plain_shutdown,
};

conn_t *conn_new(transport_t *tp, int fd, const conn_handlers_t *h, void *owner)
{
    conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->tp = tp;
    c->fd = fd;
    c->type = &conn_type_plain;
    c->h = h;
    c->created_ms = ev_now_ms();
    c->owner = owner;
    buf_init(&c->in);
    c->last_rx_ms = ev_now_ms();
    return c;
}

/* Inline segments of the standard size are recycled: small replies would otherwise cost a
 * malloc/free pair each. Segments are made and freed by the thread of their connection's loop,
 * so a plain list per thread will do. */
static _Thread_local outseg_t *seg_cache;
static _Thread_local int seg_cached;
#define SEG_CACHE_MAX 256

static outseg_t *seg_new(size_t cap)
{
    if (cap == OUTSEG_INLINE && seg_cache) {
        outseg_t *s = seg_cache;
        seg_cache = s->next;
        seg_cached--;
        s->next = NULL;
        s->ptr = s->data;
        s->len = 0;
        return s;
    }
    outseg_t *s = malloc(sizeof *s + cap);
    if (!s) return NULL;
    s->next = NULL;
    s->ref = NULL;
    s->ptr = s->data;
    s->len = 0;
    s->cap = cap;
    return s;
}


int conn_write(conn_t *c, const void *p, size_t n)
{
    if (n == 0) return 0;
    outseg_t *t = c->out.tail;
    /* Append to the tail when it is inline and has room, so small replies batch up. */
    if (t && !t->ref && (size_t)(t->ptr - t->data) + t->len + n <= t->cap) {
        memcpy((char *)t->ptr + t->len, p, n);
        t->len += n;
    } else {
        outseg_t *s = seg_new(n > OUTSEG_INLINE ? n : OUTSEG_INLINE);
        if (!s) return -ENOMEM;
        memcpy(s->data, p, n);
        s->len = n;
        QUEUE_PUSH_TAIL(&c->out, s, next);
    }
    c->out_bytes += n;
    conn_mark_dirty(c);
    return 0;
}

int conn_write_ref(conn_t *c, objbuf_t *ref, const char *p, size_t n)
{
    if (n == 0) return 0;
    outseg_t *s = seg_new(0);
    if (!s) return -ENOMEM;
    s->ref = objbuf_ref(ref);
    s->ptr = p;
    s->len = n;
    QUEUE_PUSH_TAIL(&c->out, s, next);
    c->out_bytes += n;
    conn_mark_dirty(c);
    return 0;
}

int conn_write_buf(conn_t *c, buf_t *b)
{
    int rc = conn_write(c, buf_head(b), buf_len(b));
    buf_clear(b);
    return rc;
}

static void seg_free(outseg_t *s)
{
    objbuf_unref(s->ref);
    if (!s->ref && s->cap == OUTSEG_INLINE && seg_cached < SEG_CACHE_MAX) {
        s->next = seg_cache;
        seg_cache = s;
        seg_cached++;
        return;
    }
    free(s);
}

/* The socket took n bytes from the head of the output queue (written here or by a mover). */
static void out_taken(conn_t *c, size_t n)
{
    c->tp->stats.bytes_out += (uint64_t)n;
    c->out_bytes -= n;
    while (n > 0 && !QUEUE_EMPTY(&c->out)) {
        outseg_t *s = c->out.head;
        if (n < s->len) {
            s->ptr += n;
            s->len -= n;
            return;
        }
        n -= s->len;
        QUEUE_POP_HEAD(&c->out, s, next);
        seg_free(s);
    }
}

static int write_offload(conn_t *c);

/* The mover wrote j->moved_out bytes of the queue's head (or failed): they leave the queue, and
 * the owner is told the socket took them as an EV_WRITE would (it may send more, resume a relay
 * or its input). */
static void write_done(struct mover_job *j, void *arg)
{
    conn_t *c = arg;
    c->wjob = NULL;
    out_taken(c, j->moved_out);
    if (c->closing) return;
    if (j->failed != MOVE_OK) {
        conn_fail(c, "write failed");
        return;
    }
    /* What was queued meanwhile goes to a mover too when it is big; otherwise the owner sees
     * the socket writable, as after an EV_WRITE (it writes the rest, resumes a relay or input). */
    if (write_offload(c)) return;
    c->h->io(c->tp->loop, c->fd, EV_WRITE, c);
}

/* Hands the queued output to a byte mover when it is big enough to be worth a thread's
 * wake-up (a large reply, a chunk to a node). 1 when handed over. */
static int write_offload(conn_t *c)
{
    transport_t *tp = c->tp;
    if (!tp->moving || c->type != &conn_type_plain || c->out_bytes < tp->mover_min ||
        c->tx_relay)
        return 0;
    /* Object bytes (segments of a shared buffer: a value, a chunk) are what a mover copies
     * cheaply; a queue of batched protocol messages (pipelined small replies and requests) is
     * many small writes whose hand-off would only delay the batch (measured: 1 KiB GETs 17%
     * slower when those went to movers). */
    int cnt = 0;
    size_t object_bytes = 0;
    for (outseg_t *s = c->out.head; s; s = s->next, cnt++)
        if (s->ref) object_bytes += s->len;
    if (object_bytes < tp->mover_min) return 0;
    struct mover_job *j = mover_job_new(MOVE_WRITEV, write_done, c);
    struct iovec *iov = j ? malloc((size_t)cnt * sizeof *iov) : NULL;
    if (!iov) {
        free(j);
        return 0;
    }
    /* The segments stay queued: the loop thread only appends behind them (and may add bytes to
     * the tail inline segment beyond the length lent here) until the mover is back. */
    int i = 0;
    for (outseg_t *s = c->out.head; s; s = s->next, i++) {
        iov[i].iov_base = (void *)s->ptr;
        iov[i].iov_len = s->len;
    }
    j->iov = iov;
    j->iovcnt = cnt;
    j->dst_fd = c->fd;
    c->wjob = j;
    mover_submit(tp->mover, j);
    return 1;
}

/* Writes what the socket takes; may_offload: a big queue goes to a byte mover instead (the
 * end-of-iteration flush, where replies and chunks bound for nodes are written; a relay waiting
 * for the bytes queued ahead of its body writes them itself, at once). */
static int flush_out(conn_t *c, int may_offload)
{
    /* A relay's bounded buffer holds bytes older than anything queued since, and a TLS write
     * retry must repeat the bytes it began with: the relay writes first. */
    if (c->tx_relay && c->tx_relay->ubuf_len > 0) return 0;
    if (c->handshaking) return 0;
    if (c->wjob) return 0; /* a mover is writing the head of the queue */
    if (may_offload && write_offload(c)) return 0;
    while (c->out.head) {
        struct iovec iov[FLUSH_IOV];
        int n = 0;
        for (outseg_t *s = c->out.head; s && n < FLUSH_IOV; s = s->next) {
            iov[n].iov_base = (void *)s->ptr;
            iov[n].iov_len = s->len;
            n++;
        }
        ssize_t w = c->type->writev(c, iov, n);
        if (w == -EAGAIN) return 0;
        if (w < 0) return (int)w;
        out_taken(c, (size_t)w);
    }
    ssize_t f = c->type->unflushed(c) ? c->type->flush(c) : 0;
    return f == -EAGAIN ? 0 : (int)f;
}

int conn_flush(conn_t *c)
{
    return flush_out(c, 0);
}

ssize_t conn_read(conn_t *c, size_t max)
{
    if (buf_reserve(&c->in, max) < 0) return -ENOMEM;
    ssize_t n = c->type->read(c, c->in.data + c->in.end, max);
    if (n <= 0) return n;
    c->in.end += (size_t)n;
    /* A TLS record may hold more than was asked for: take the rest now, or it would wait for
     * an epoll event that the socket, already drained, never raises. */
    size_t more;
    while ((more = c->type->pending(c)) > 0) {
        if (buf_reserve(&c->in, more) < 0) return -ENOMEM;
        ssize_t m = c->type->read(c, c->in.data + c->in.end, more);
        if (m <= 0) break;
        c->in.end += (size_t)m;
        n += m;
    }
    c->tp->stats.bytes_in += (uint64_t)n;
    c->last_rx_ms = ev_now_ms();
    return n;
}

void conn_drain_pending(conn_t *c)
{
    size_t more = c->type->pending(c);
    if (more > 0) conn_read(c, more);
}

int conn_io_events(conn_t *c, int events)
{
    if (c->tls_want_write && (events & EV_WRITE)) {
        c->tls_want_write = 0;
        events |= EV_READ;
    }
    return events;
}

void conn_mark_dirty(conn_t *c)
{
    if (c->dirty || c->closing) return;
    c->dirty = 1;
    c->next_dirty = c->tp->dirty_head;
    c->tp->dirty_head = c;
}

/* Epoll interest follows state: read unless paused or a relay into memory/conn is waiting on
 * the sink; write while output is queued or a relay waits for room. */
void conn_update_events(conn_t *c)
{
    /* A dirty connection is flushed, then updated, at the end of this loop iteration: setting
     * EV_WRITE now only to clear it a moment later would cost two epoll_ctl calls. */
    if (c->closing || c->fd < 0 || c->dirty || c->handshaking) return;
    int ev = 0;
    if (c->tls_want_write) ev |= EV_WRITE;
    /* While a mover reads or writes the socket for this connection, that direction is its. */
    int moving_in = c->rx_relay && c->rx_relay->job;
    int moving_out = c->wjob != NULL;
    if ((!c->read_paused || c->rx_relay) && !moving_in) ev |= EV_READ;
    if (!moving_out &&
        (c->out.head || c->type->unflushed(c) || (c->tx_relay && c->tx_relay->in_pipe > 0)))
        ev |= EV_WRITE;
    if (c->tx_relay && c->tx_relay->wait_dst && !moving_out) ev |= EV_WRITE;
    ev_set(c->tp->loop, c->fd, ev, c->h->io, c);
}

void conn_close_async(conn_t *c)
{
    if (c->closing) return;
    c->closing = 1;
    transport_t *tp = c->tp;
    if (c->fd >= 0) {
        ev_del(tp->loop, c->fd);
        c->type->shutdown(c);
    }
    if (tp->nclosing == tp->capclosing) {
        size_t cap = tp->capclosing ? tp->capclosing * 2 : 16;
        conn_t **p = realloc(tp->closing, cap * sizeof *p);
        if (!p) abort(); /* tiny allocation; nothing sane to do without it */
        tp->closing = p;
        tp->capclosing = cap;
    }
    tp->closing[tp->nclosing++] = c;
}

/* Frees a connection that is already detached from its owner (called after the iteration). */
void conn_free(conn_t *c)
{
    /* Whatever a mover still does with the socket ends before it closes (it was shut down, so
     * the mover's next step fails at once). Only reads and output queues are ever lent. */
    if (c->rx_relay) relay_take_back(c->rx_relay);
    if (c->wjob) {
        mover_cancel(c->tp->mover, c->wjob);
        c->wjob = NULL;
    }
    if (c->h->freed) c->h->freed(c);
    while (!QUEUE_EMPTY(&c->out)) {
        outseg_t *s;
        QUEUE_POP_HEAD(&c->out, s, next);
        seg_free(s);
    }
    buf_free(&c->in);
    conn_tls_free(c);
    if (c->fd >= 0) close(c->fd);
    free(c);
}

void conn_fail(conn_t *c, const char *why)
{
    if (c->closing) return;
    c->h->failed(c, why);
}

void transport_init(transport_t *tp, ev_loop_t *loop)
{
    memset(tp, 0, sizeof *tp);
    tp->loop = loop;
    ev_set_after_io(loop, transport_after_io, tp);
}

int transport_add_hook(transport_t *tp, transport_hook_fn *fn, void *arg)
{
    if (tp->nhooks == TRANSPORT_MAX_HOOKS) return -1;
    tp->hooks[tp->nhooks].fn = fn;
    tp->hooks[tp->nhooks].arg = arg;
    tp->nhooks++;
    return 0;
}

/* After each loop iteration (its I/O and timers): the owners' hooks, then batched output written
 * once per connection, then closed connections freed. */
void transport_after_io(ev_loop_t *loop, void *arg)
{
    transport_t *tp = arg;
    for (int i = 0; i < tp->nhooks; i++)
        tp->hooks[i].fn(tp->hooks[i].arg);
    while (tp->dirty_head) {
        conn_t *c = tp->dirty_head;
        tp->dirty_head = c->next_dirty;
        c->dirty = 0;
        c->next_dirty = NULL;
        if (c->closing) continue;
        if (flush_out(c, 1) < 0) {
            conn_fail(c, "write failed");
            continue;
        }
        if (c->tx_relay && !c->out.head) relay_pump(c->tx_relay);
        /* An owner that paused its input for unread output may go on once it is out. */
        if (c->read_paused && c->h->drained && !c->closing) c->h->drained(c);
        if (!c->closing) conn_update_events(c);
    }
    for (size_t i = 0; i < tp->nclosing; i++) {
        conn_t *c = tp->closing[i];
        /* A dirty entry may still point here; it was skipped above because closing is set. */
        conn_free(c);
    }
    tp->nclosing = 0;
}

/* Every 100 ms: how busy the loop was (its time outside epoll_wait) and the movers (their time
 * moving), and so whether transfers go to movers until the next sample. */
static void mover_sample(ev_loop_t *loop, void *arg)
{
    transport_t *tp = arg;
    uint64_t now = ev_now_us(), idle = ev_idle_us(loop);
    mover_stats_t st;
    mover_stats(tp->mover, &st);
    if (tp->sample_at_us && now > tp->sample_at_us) {
        double wall = (double)(now - tp->sample_at_us);
        double loop_busy = 1.0 - (double)(idle - tp->sample_idle_us) / wall;
        double movers_busy = (double)(st.busy_us - tp->sample_mover_us) / wall;
        int want = mover_wanted(tp->moving, loop_busy < 0 ? 0 : loop_busy, movers_busy);
        if (want != tp->moving) {
            tp->moving = want;
            tp->moving_switches++;
        }
    }
    tp->sample_at_us = now;
    tp->sample_idle_us = idle;
    tp->sample_mover_us = st.busy_us;
    ev_timer_add(loop, 100, mover_sample, tp);
}

void transport_set_mover(transport_t *tp, struct mover *mover, size_t min_bytes, int by_load)
{
    tp->mover = mover;
    tp->mover_min = min_bytes;
    tp->moving = mover && !by_load;
    if (mover && by_load) ev_timer_add(tp->loop, 100, mover_sample, tp);
}

void transport_free(transport_t *tp)
{
    for (int i = 0; i < tp->npipes; i++) {
        close(tp->pipes[i][0]);
        close(tp->pipes[i][1]);
    }
    tp->npipes = 0;
    free(tp->closing);
    tp->closing = NULL;
    free(tp->discard);
    tp->discard = NULL;
}
