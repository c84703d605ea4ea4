/* relay.c -- moves one bulk body out of a connection: into memory (read straight into the
 * destination), into another socket (splice through a pooled pipe, no copy to user space, or
 * through a bounded buffer when an end is TLS that the kernel does not do), or into nowhere
 * (late chunks). Work per call is capped so one big body cannot starve others. With byte movers
 * (mover.h), a body read into memory or discarded is carried, past what is already buffered, by
 * a worker thread when its source is a plain socket; the relay takes it up again when the mover
 * is back. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ec.h"
#include "log.h"
#include "mover.h"
#include "transport.h"

#define RELAY_PIPE_SIZE (1 << 20)
#define RELAY_MAX_PER_PUMP (4u << 20) /* bytes moved per call before yielding to the loop */
#define DISCARD_SIZE (256 * 1024)
#define RELAY_UBUF_SIZE (256 * 1024) /* user-space relay buffer (TLS without kTLS) */

static int pipe_acquire(transport_t *tp)
{
    for (int i = 0; i < tp->npipes; i++) {
        if (!tp->pipe_used[i]) {
            tp->pipe_used[i] = 1;
            return i;
        }
    }
    if (tp->npipes == 64) return -1;
    int i = tp->npipes;
    if (pipe2(tp->pipes[i], O_NONBLOCK | O_CLOEXEC) < 0) return -1;
    fcntl(tp->pipes[i][0], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
    tp->npipes++;
    tp->pipe_used[i] = 1;
    return i;
}

static void pipe_release(transport_t *tp, relay_t *r)
{
    if (r->pipe_idx < 0) return;
    if (r->in_pipe > 0) {
        /* A pipe with leftovers cannot be reused: replace it. */
        close(tp->pipes[r->pipe_idx][0]);
        close(tp->pipes[r->pipe_idx][1]);
        if (pipe2(tp->pipes[r->pipe_idx], O_NONBLOCK | O_CLOEXEC) == 0)
            fcntl(tp->pipes[r->pipe_idx][0], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
        r->in_pipe = 0;
    }
    tp->pipe_used[r->pipe_idx] = 0;
    r->pipe_idx = -1;
}

static void relay_kick_cb(ev_loop_t *loop, void *arg)
{
    relay_pump(arg);
}

/* What the mover did becomes the relay's own progress. */
static void absorb_job(relay_t *r, struct mover_job *j)
{
    transport_t *tp = r->tp;
    r->job = NULL;
    r->pulled += j->moved_in;
    tp->stats.bytes_in += (uint64_t)j->moved_in;
    if (j->moved_in && r->src) r->src->last_rx_ms = ev_now_ms();
    if (j->want_crc && j->failed == MOVE_OK && r->sink == RELAY_TO_MEMORY) {
        r->crc = j->crc;
        r->want_crc = 2; /* computed */
    }
}

void relay_want_crc(relay_t *r)
{
    if (r && r->sink == RELAY_TO_MEMORY) r->want_crc = 1;
}

static void source_broken(relay_t *r, const char *why);

static void job_done(struct mover_job *j, void *arg)
{
    relay_t *r = arg;
    absorb_job(r, j);
    if (j->failed == MOVE_SRC_FAILED) {
        source_broken(r, j->err == 0 ? "connection closed" : "read failed");
        return;
    }
    if (r->src) conn_update_events(r->src);
    relay_pump(r);
}

void relay_take_back(relay_t *r)
{
    struct mover_job *j = r->job;
    if (!j) return;
    mover_cancel(r->tp->mover, j);
    absorb_job(r, j);
}

/* Hands the rest of a body bound for memory or for nowhere to a byte mover when it is long enough
 * and its source is a plain socket (the movers do not share a TLS session with this thread): the
 * mover then does the copy out of the kernel (and the checksum). A body spliced from socket to
 * socket stays here: splice copies nothing, and handing it over costs this thread more (epoll
 * interest changes, two wake-ups, the completion) than the splice it would save (measured:
 * docs/BENCHMARKS.md, "Threads"). 1 when handed over. */
static int body_offload(relay_t *r)
{
    transport_t *tp = r->tp;
    size_t rest = r->total - r->pulled;
    if (!tp->moving || rest < tp->mover_min || r->src->type != &conn_type_plain ||
        r->sink == RELAY_TO_CONN)
        return 0;
    struct mover_job *j =
        mover_job_new(r->sink == RELAY_TO_MEMORY ? MOVE_READ : MOVE_DISCARD, job_done, r);
    if (!j) return 0;
    if (r->sink == RELAY_TO_MEMORY) {
        j->mem = r->mem + r->pulled;
        if (r->want_crc) {
            j->want_crc = 1;
            j->crc_base = r->mem;
            j->crc_len = r->total;
        }
    }
    j->src_fd = r->src->fd;
    j->len = rest;
    r->job = j;
    mover_submit(tp->mover, j);
    conn_update_events(r->src);
    return 1;
}

relay_t *relay_start(conn_t *src, relay_sink_t sink, conn_t *dst, char *mem, size_t len,
                     relay_done_cb *done, void *arg)
{
    transport_t *tp = src->tp;
    relay_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->tp = tp;
    r->src = src;
    r->sink = sink;
    r->dst = sink == RELAY_TO_CONN ? dst : NULL;
    r->mem = mem;
    r->total = len;
    r->pipe_idx = -1;
    /* A node reply's bulk CRLF is eaten here; a client's belongs to its command reader. */
    r->crlf_needed = src->h->relay_eats_crlf ? 2 : 0;
    r->done = done;
    r->arg = arg;
    src->rx_relay = r;
    if (r->dst) r->dst->tx_relay = r;
    tp->stats.relays++;
    /* Bytes may already sit in src->in, where no epoll event will announce them. */
    ev_timer_add(tp->loop, 0, relay_kick_cb, r);
    conn_update_events(src);
    return r;
}

static void relay_finish(relay_t *r, relay_status_t st)
{
    transport_t *tp = r->tp;
    if (r->src) {
        r->src->rx_relay = NULL;
        conn_update_events(r->src);
    }
    if (r->dst) {
        r->dst->tx_relay = NULL;
        conn_update_events(r->dst);
    }
    pipe_release(tp, r);
    free(r->ubuf);
    r->ubuf = NULL;
    r->ubuf_len = 0;
    relay_done_cb *done = r->done;
    void *arg = r->arg;
    conn_t *src = r->src;
    r->done = NULL;
    r->src = NULL;
    r->dst = NULL;
    /* The struct stays allocated until the zero-delay kick has surely fired: freed below via a
     * timer of its own, so a pending kick never touches freed memory. */
    r->total = r->pulled = 0;
    r->crlf_needed = -1; /* finished marker */
    if (done) done(r, st, arg);
    /* Input that arrived behind the body is parsed now: no epoll event will announce it (nor
     * input a TLS record held beyond the body). */
    if (src && !src->closing) {
        conn_drain_pending(src);
        src->h->resumed(src);
    }
}

static void relay_free_cb(ev_loop_t *loop, void *arg)
{
    free(arg);
}

void relay_drop_sink(relay_t *r)
{
    relay_take_back(r);
    if (r->dst) {
        r->dst->tx_relay = NULL;
        r->dst = NULL;
    }
    pipe_release(r->tp, r); /* bytes in the pipe belong to the dead sink */
    r->ubuf_len = 0;        /* and so do those in the buffer */
    r->sink = RELAY_DISCARD;
    r->dst_failed = 1;
    ev_timer_add(r->tp->loop, 0, relay_kick_cb, r);
}

void relay_fail_source(relay_t *r)
{
    if (r->crlf_needed < 0) return;
    relay_take_back(r);
    if (r->src) {
        r->src->rx_relay = NULL;
        r->src = NULL;
    }
    relay_finish(r, RELAY_SRC_FAILED);
    ev_timer_add(r->tp->loop, 1, relay_free_cb, r);
}

/* Source hit EOF or an error. */
static void source_broken(relay_t *r, const char *why)
{
    conn_t *src = r->src;
    relay_fail_source(r);
    conn_fail(src, why);
}

static void sink_broken(relay_t *r, const char *why)
{
    conn_t *dst = r->dst;
    relay_drop_sink(r);
    conn_fail(dst, why);
}

/* Body bytes already read into the source's buffer go first. */
static size_t take_buffered(relay_t *r)
{
    size_t have = buf_len(&r->src->in);
    size_t want = r->total - r->pulled;
    size_t n = have < want ? have : want;
    if (n == 0) return 0;
    switch (r->sink) {
    case RELAY_TO_MEMORY:
        memcpy(r->mem + r->pulled, buf_head(&r->src->in), n);
        break;
    case RELAY_TO_CONN:
        conn_write(r->dst, buf_head(&r->src->in), n);
        break;
    case RELAY_DISCARD:
        break;
    }
    buf_consume(&r->src->in, n);
    r->pulled += n;
    return n;
}

/* Writes what is queued on the destination ahead of the body. 1 when nothing is left queued; 0
 * when the relay must wait for the destination to drain (or it broke: the relay is told). */
static int dst_queue_drained(relay_t *r)
{
    if (!r->dst->out.head) return 1;
    if (conn_flush(r->dst) < 0) {
        sink_broken(r, "write failed");
        return 0;
    }
    if (!r->dst->out.head) return 1;
    r->wait_dst = 1;
    conn_update_events(r->dst);
    return 0;
}

/* One step of a relay to a connection when splice cannot be used (an end is TLS and the kernel
 * does not do it): the buffer is written out first (a TLS write retry must repeat its bytes),
 * then queued output, then bytes already read, then the socket is read into the buffer.
 * 1: progress, go on; 0: waiting for an event; -1: the relay ended. */
static int move_through_buffer(relay_t *r, size_t *moved)
{
    transport_t *tp = r->tp;
    if (r->ubuf_len > 0) {
        struct iovec iov = {r->ubuf + r->ubuf_off, r->ubuf_len};
        ssize_t n = r->dst->type->writev(r->dst, &iov, 1);
        if (n == -EAGAIN) {
            r->wait_dst = 1;
            conn_update_events(r->dst);
            return 0;
        }
        if (n <= 0) {
            sink_broken(r, "write failed");
            return 0;
        }
        r->ubuf_off += (size_t)n;
        r->ubuf_len -= (size_t)n;
        tp->stats.bytes_out += (uint64_t)n;
        *moved += (size_t)n;
        return 1;
    }
    if (!dst_queue_drained(r)) return 0;
    if (r->pulled >= r->total) return 1;
    if (buf_len(&r->src->in) > 0) {
        *moved += take_buffered(r);
        return 1;
    }
    if (!r->ubuf && !(r->ubuf = malloc(RELAY_UBUF_SIZE))) return 0;
    size_t want = r->total - r->pulled;
    if (want > RELAY_UBUF_SIZE) want = RELAY_UBUF_SIZE;
    ssize_t n = r->src->type->read(r->src, r->ubuf, want);
    if (n == -EAGAIN) return 0;
    if (n <= 0) {
        source_broken(r, n == 0 ? "connection closed" : "read failed");
        return -1;
    }
    r->ubuf_off = 0;
    r->ubuf_len = (size_t)n;
    r->pulled += (size_t)n;
    tp->stats.bytes_in += (uint64_t)n;
    r->src->last_rx_ms = ev_now_ms();
    return 1;
}

/* Returns 1 when the body is complete, 0 when waiting for an event, -1 when the relay ended. */
static int move_body(relay_t *r)
{
    transport_t *tp = r->tp;
    size_t moved = 0;
    r->wait_dst = 0;
    while (r->pulled < r->total || r->in_pipe > 0 || r->ubuf_len > 0) {
        if (moved >= RELAY_MAX_PER_PUMP) {
            ev_timer_add(tp->loop, 0, relay_kick_cb, r);
            return 0;
        }
        if (r->sink == RELAY_TO_CONN && r->pipe_idx < 0 &&
            (r->ubuf_len > 0 || !r->src->type->splice_from(r->src) ||
             !r->dst->type->splice_to(r->dst))) {
            int rc = move_through_buffer(r, &moved);
            if (rc <= 0) return rc;
            continue;
        }
        if (r->sink == RELAY_TO_CONN) {
            /* Order on the destination: whatever is queued goes before the spliced bytes. */
            if (!dst_queue_drained(r)) return 0;
            if (r->in_pipe > 0) {
                ssize_t n = splice(tp->pipes[r->pipe_idx][0], NULL, r->dst->fd, NULL, r->in_pipe,
                                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && errno == EAGAIN) {
                    r->wait_dst = 1;
                    conn_update_events(r->dst);
                    return 0;
                }
                if (n <= 0) {
                    sink_broken(r, "splice to socket failed");
                    return 0;
                }
                r->in_pipe -= (size_t)n;
                tp->stats.bytes_out += (uint64_t)n;
                moved += (size_t)n;
                continue;
            }
            if (buf_len(&r->src->in) > 0) {
                moved += take_buffered(r);
                continue;
            }
            if (r->pipe_idx < 0 && (r->pipe_idx = pipe_acquire(tp)) < 0) {
                /* No pipe: fall back to copying through the source buffer. */
                ssize_t n = conn_read(r->src, 256 * 1024);
                if (n == -EAGAIN) return 0;
                if (n <= 0) {
                    source_broken(r, n == 0 ? "connection closed" : "read failed");
                    return -1;
                }
                continue;
            }
            size_t want = r->total - r->pulled;
            if (want > RELAY_PIPE_SIZE) want = RELAY_PIPE_SIZE;
            ssize_t n = splice(r->src->fd, NULL, tp->pipes[r->pipe_idx][1], NULL, want,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno == EAGAIN) return 0; /* wait for the source */
            if (n <= 0) {
                source_broken(r, n == 0 ? "connection closed" : "splice from socket failed");
                return -1;
            }
            r->in_pipe += (size_t)n;
            r->pulled += (size_t)n;
            tp->stats.bytes_in += (uint64_t)n;
            r->src->last_rx_ms = ev_now_ms();
            continue;
        }
        if (buf_len(&r->src->in) > 0) {
            moved += take_buffered(r);
            continue;
        }
        if (body_offload(r)) return 0;
        size_t want = r->total - r->pulled;
        char *dst;
        if (r->sink == RELAY_TO_MEMORY) {
            dst = r->mem + r->pulled;
        } else {
            if (!tp->discard && !(tp->discard = malloc(DISCARD_SIZE))) return 0;
            dst = tp->discard;
            if (want > DISCARD_SIZE) want = DISCARD_SIZE;
        }
        ssize_t n = r->src->type->read(r->src, dst, want);
        if (n == -EAGAIN) return 0;
        if (n <= 0) {
            source_broken(r, n == 0 ? "connection closed" : "read failed");
            return -1;
        }
        r->pulled += (size_t)n;
        moved += (size_t)n;
        tp->stats.bytes_in += (uint64_t)n;
        r->src->last_rx_ms = ev_now_ms();
    }
    return 1;
}

void relay_pump(relay_t *r)
{
    if (r->crlf_needed < 0 || r->job) return; /* finished, or a mover carries the body */
    if (r->pulled < r->total || r->in_pipe > 0 || r->ubuf_len > 0) {
        if (move_body(r) <= 0) return;
    }
    /* The source's bulk ends with CRLF. */
    while (r->crlf_needed > 0) {
        if (buf_len(&r->src->in) == 0) {
            ssize_t n = conn_read(r->src, 16 * 1024);
            if (n == -EAGAIN) return;
            if (n <= 0) {
                source_broken(r, n == 0 ? "connection closed" : "read failed");
                return;
            }
        }
        char expect = r->crlf_needed == 2 ? '\r' : '\n';
        if (buf_head(&r->src->in)[0] != expect) {
            conn_t *src = r->src;
            relay_fail_source(r);
            conn_fail(src, "protocol error: bulk not followed by CRLF");
            return;
        }
        buf_consume(&r->src->in, 1);
        r->crlf_needed--;
    }
    if (r->sink == RELAY_TO_CONN) conn_write(r->dst, "\r\n", 2);
    if (r->want_crc == 1 && r->sink == RELAY_TO_MEMORY) r->crc = ec_crc(r->mem, r->total);
    relay_status_t st = r->dst_failed ? RELAY_DST_FAILED : RELAY_OK;
    relay_finish(r, st);
    ev_timer_add(r->tp->loop, 1, relay_free_cb, r);
}
