/* outq.c -- output queue with zero-copy chunk bodies (see outq.h). */
#include "outq.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define OUTQ_IOV_MAX 64 /* pieces per sendmsg */

void outq_init(outq_t *q, store_t *store)
{
    memset(q, 0, sizeof *q);
    q->store = store;
    buf_init(&q->small);
}

static void seg_release(outq_t *q, outq_seg_t *s)
{
    if (s->chunk) store_unref(q->store, s->chunk);
    free(s->base);
    s->chunk = NULL;
    s->base = NULL;
}

void outq_clear(outq_t *q)
{
    for (size_t i = q->head; i < q->nsegs; i++)
        seg_release(q, &q->segs[i]);
    q->nsegs = q->head = 0;
    q->owned = 0;
    buf_clear(&q->small);
}

void outq_free(outq_t *q)
{
    outq_clear(q);
    free(q->segs);
    q->segs = NULL;
    q->cap = 0;
    buf_free(&q->small);
}

int outq_pending(const outq_t *q)
{
    return q->nsegs > q->head || buf_len(&q->small) > 0;
}

static int push_seg(outq_t *q, outq_seg_t s)
{
    if (q->head == q->nsegs) q->head = q->nsegs = 0;
    if (q->nsegs == q->cap) {
        if (q->head > 0) { /* reuse the space of pieces already sent */
            memmove(q->segs, q->segs + q->head, (q->nsegs - q->head) * sizeof *q->segs);
            q->nsegs -= q->head;
            q->head = 0;
        } else {
            size_t cap = q->cap ? q->cap * 2 : 16;
            outq_seg_t *p = realloc(q->segs, cap * sizeof *p);
            if (!p) return -ENOMEM;
            q->segs = p;
            q->cap = cap;
        }
    }
    q->segs[q->nsegs++] = s;
    return 0;
}

/* Moves the batched small bytes into the queue as one piece, adopting the buffer's memory. */
static int push_small(outq_t *q)
{
    if (buf_len(&q->small) == 0) return 0;
    outq_seg_t s = {.base = q->small.data, .data = buf_head(&q->small), .len = buf_len(&q->small)};
    if (push_seg(q, s) < 0) return -ENOMEM;
    q->owned += s.len;
    buf_init(&q->small);
    return 0;
}

int outq_push_chunk(outq_t *q, store_entry_t *e)
{
    if (push_small(q) < 0) return -ENOMEM;
    if (e->body_len == 0) return 0;
    outq_seg_t s = {.chunk = e, .data = e->body, .len = e->body_len};
    if (push_seg(q, s) < 0) return -ENOMEM;
    store_ref(e);
    return 0;
}

int outq_push_piece(outq_t *q, store_entry_t *e, size_t offset, size_t len)
{
    if (push_small(q) < 0) return -ENOMEM;
    if (len == 0) return 0;
    outq_seg_t s = {.chunk = e, .data = e->body + offset, .len = len};
    if (push_seg(q, s) < 0) return -ENOMEM;
    store_ref(e);
    return 0;
}

int outq_push_hold(outq_t *q, uint64_t until_ms)
{
    if (push_small(q) < 0) return -ENOMEM;
    outq_seg_t s = {.hold_until = until_ms ? until_ms : 1};
    return push_seg(q, s);
}

int outq_held(const outq_t *q, uint64_t now_ms, uint64_t *until_ms)
{
    for (size_t i = q->head; i < q->nsegs; i++) {
        const outq_seg_t *s = &q->segs[i];
        if (s->len > s->off) return 0;
        if (s->hold_until > now_ms) {
            *until_ms = s->hold_until;
            return 1;
        }
    }
    return 0;
}

int outq_push_owned(outq_t *q, char *base, const char *data, size_t len)
{
    if (push_small(q) < 0) return -ENOMEM;
    outq_seg_t s = {.base = base, .data = data, .len = len};
    if (push_seg(q, s) < 0) return -ENOMEM;
    q->owned += len;
    return 0;
}

/* Accounts for `n` bytes written from the head, passing holds over by now_ms on the way. */
static void advance(outq_t *q, size_t n, uint64_t now_ms)
{
    while (n > 0 && q->head < q->nsegs) {
        outq_seg_t *s = &q->segs[q->head];
        if (s->len == s->off && s->hold_until > now_ms) break; /* nothing was written past it */
        size_t k = s->len - s->off < n ? s->len - s->off : n;
        s->off += k;
        n -= k;
        if (s->off == s->len) {
            if (s->base) q->owned -= s->len;
            seg_release(q, s);
            q->head++;
        }
    }
    if (q->head == q->nsegs) q->head = q->nsegs = 0;
}

/* Drops the finished pieces and the holds whose time has come at the head. */
static void pass_holds(outq_t *q, uint64_t now_ms)
{
    while (q->head < q->nsegs) {
        outq_seg_t *s = &q->segs[q->head];
        if (s->len > s->off || s->hold_until > now_ms) break;
        seg_release(q, s);
        q->head++;
    }
    if (q->head == q->nsegs) q->head = q->nsegs = 0;
}

ssize_t outq_write(outq_t *q, int fd)
{
    return outq_write_upto(q, fd, UINT64_MAX, SIZE_MAX);
}

/* sendmsg, not writev: MSG_NOSIGNAL keeps a closed peer from raising SIGPIPE. */
static ssize_t socket_writer(void *arg, const struct iovec *iov, int cnt)
{
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt};
    for (;;) {
        ssize_t w = sendmsg(*(int *)arg, &msg, MSG_NOSIGNAL);
        if (w >= 0) return w;
        if (errno == EINTR) continue;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

ssize_t outq_write_upto(outq_t *q, int fd, uint64_t now_ms, size_t max_bytes)
{
    return outq_write_with(q, socket_writer, &fd, now_ms, max_bytes);
}

ssize_t outq_write_with(outq_t *q, outq_writer_fn *writer, void *arg, uint64_t now_ms,
                        size_t max_bytes)
{
    if (push_small(q) < 0) return -ENOMEM;
    size_t total = 0;
    for (;;) {
        pass_holds(q, now_ms);
        if (q->head == q->nsegs || total >= max_bytes) break;
        struct iovec iov[OUTQ_IOV_MAX];
        int n = 0;
        size_t room = max_bytes - total;
        for (size_t i = q->head; i < q->nsegs && n < OUTQ_IOV_MAX && room > 0; i++) {
            const outq_seg_t *s = &q->segs[i];
            if (s->len == s->off) {
                if (s->hold_until > now_ms) break;
                continue; /* a hold already over */
            }
            size_t len = s->len - s->off < room ? s->len - s->off : room;
            iov[n].iov_base = (char *)s->data + s->off;
            iov[n].iov_len = len;
            room -= len;
            n++;
        }
        if (n == 0) break;
        ssize_t w = writer(arg, iov, n);
        if (w == -EAGAIN) break;
        if (w < 0) return w;
        advance(q, (size_t)w, now_ms);
        total += (size_t)w;
    }
    return (ssize_t)total;
}

int outq_take_all(outq_t *q, buf_t *into)
{
    int rc = 0;
    for (size_t i = q->head; i < q->nsegs && into; i++) {
        outq_seg_t *s = &q->segs[i];
        if (s->len > s->off && buf_append(into, s->data + s->off, s->len - s->off) < 0)
            rc = -ENOMEM;
    }
    /* The small bytes were appended after the last piece. */
    if (into && buf_len(&q->small) && buf_append(into, buf_head(&q->small), buf_len(&q->small)) < 0)
        rc = -ENOMEM;
    outq_clear(q);
    return rc;
}
