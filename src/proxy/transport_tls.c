/* transport_tls.c -- the TLS transport of proxy connections: the server-side handshake inside the
 * event loop (with a deadline), and reads and writes through OpenSSL, or straight through the
 * socket for splice when the kernel does the TLS (kTLS). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "net.h"
#include "transport.h"
#include "tls.h"

#define HANDSHAKE_SWEEP_MS 100

/* Maps the TLS module's codes to the transport's (-EAGAIN, -errno). */
static ssize_t map(conn_t *c, ssize_t r, int reading)
{
    if (r >= 0) return r;
    if (r == TLS_WANT_READ) return -EAGAIN;
    if (r == TLS_WANT_WRITE) {
        if (reading) c->tls_want_write = 1;
        return -EAGAIN;
    }
    if (r == TLS_ERR) {
        log_warn("event=tls_error kind=%s error=\"%s\"", c->h->role, tls_last_error(c->tls));
        return -EPROTO;
    }
    return r;
}

/* Reads whole records until `n` is filled or the socket is dry: one SSL_read takes one record
 * (16 KiB at most), and an event that read one record only would pay epoll for each. */
static ssize_t tls_conn_read(conn_t *c, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = tls_read(c->tls, (char *)p + got, n - got);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (got > 0 && (r == TLS_WANT_READ || r == TLS_WANT_WRITE)) break;
        if (got > 0 && r == 0) break; /* the end shows on the next read */
        return map(c, r, 1);
    }
    return (ssize_t)got;
}

static ssize_t tls_conn_writev(conn_t *c, const struct iovec *iov, int cnt)
{
    return map(c, tls_writev(c->tls, iov, cnt), 0);
}

static int tls_conn_splice_from(conn_t *c)
{
    return tls_ktls_recv(c->tls) && tls_pending(c->tls) == 0;
}

static int tls_conn_splice_to(conn_t *c)
{
    return tls_ktls_send(c->tls);
}

static size_t tls_conn_pending(conn_t *c)
{
    return tls_pending(c->tls);
}

static size_t tls_conn_unflushed(conn_t *c)
{
    return tls_unflushed(c->tls);
}

static ssize_t tls_conn_flush(conn_t *c)
{
    return map(c, tls_flush(c->tls), 0);
}

static void tls_conn_shutdown(conn_t *c)
{
    tls_shutdown(c->tls);
    shutdown(c->fd, SHUT_RDWR);
}

static const conn_type_t conn_type_tls = {
    .name = "tls",
    .read = tls_conn_read,
    .writev = tls_conn_writev,
    .splice_from = tls_conn_splice_from,
    .splice_to = tls_conn_splice_to,
    .pending = tls_conn_pending,
    .unflushed = tls_conn_unflushed,
    .flush = tls_conn_flush,
    .shutdown = tls_conn_shutdown,
};

static void hs_unlink(conn_t *c)
{
    if (!c->handshaking) return;
    c->handshaking = 0;
    if (c->hs_prev)
        c->hs_prev->hs_next = c->hs_next;
    else
        c->tp->handshaking = c->hs_next;
    if (c->hs_next) c->hs_next->hs_prev = c->hs_prev;
    c->hs_prev = c->hs_next = NULL;
}

static void handshake_failed(conn_t *c, const char *why)
{
    c->tp->stats.tls_handshake_failures++;
    char peer[64];
    log_warn("event=tls_handshake_failed kind=%s peer=%s error=\"%s\"", c->h->role,
             net_peer_name(c->fd, peer, sizeof peer), why);
    hs_unlink(c);
    conn_fail(c, "TLS handshake failed");
}

static void handshake_io(ev_loop_t *loop, int fd, int events, void *arg)
{
    conn_t *c = arg;
    if (c->closing) return;
    int rc = tls_handshake(c->tls);
    if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
        ev_set(loop, c->fd, rc == TLS_WANT_READ ? EV_READ : EV_WRITE, handshake_io, c);
        return;
    }
    if (rc != 0) {
        handshake_failed(c, tls_last_error(c->tls));
        return;
    }
    hs_unlink(c);
    c->tp->stats.tls_connections++;
    char desc[96];
    log_debug("event=tls_established kind=%s protocol=\"%s\" ktls_send=%d ktls_recv=%d", c->h->role,
              tls_describe(c->tls, desc, sizeof desc), tls_ktls_send(c->tls),
              tls_ktls_recv(c->tls));
    /* The peer may have sent its first command with its last handshake message; it may sit
     * in the TLS layer already, so read now rather than wait for an event. */
    c->h->io(loop, c->fd, EV_READ, c);
}

/* Connections still in their handshake after tls-handshake-timeout are closed: a peer that
 * connects and says nothing (or speaks plaintext and waits) must not hold a slot forever. */
static void handshake_sweep(ev_loop_t *loop, void *arg)
{
    transport_t *tp = arg;
    uint64_t now = ev_now_ms();
    conn_t *c = tp->handshaking;
    while (c) {
        conn_t *next = c->hs_next;
        if (now - c->created_ms > tp->tls_handshake_timeout_ms)
            handshake_failed(c, "handshake timed out");
        c = next;
    }
    ev_timer_add(loop, HANDSHAKE_SWEEP_MS, handshake_sweep, tp);
}

int conn_tls_accept(conn_t *c, struct tls_ctx *ctx)
{
    c->tls = tls_new_server(ctx, c->fd);
    if (!c->tls) return -ENOMEM;
    /* Without kernel TLS every record is a send of its own; batched, a 10 MiB body takes 40
     * sends instead of 640 (docs/BENCHMARKS.md, "TLS"). A connection that cannot batch still
     * works, one record per send. */
    if (c->tp->tls_batch) tls_batch_writes(c->tls);
    c->type = &conn_type_tls;
    c->handshaking = 1;
    c->hs_prev = NULL;
    c->hs_next = c->tp->handshaking;
    if (c->hs_next) c->hs_next->hs_prev = c;
    c->tp->handshaking = c;
    ev_set(c->tp->loop, c->fd, EV_READ, handshake_io, c);
    return 0;
}

void conn_tls_free(conn_t *c)
{
    if (!c->tls) return;
    hs_unlink(c);
    tls_free(c->tls);
    c->tls = NULL;
}

void transport_tls_init(transport_t *tp, uint64_t handshake_timeout_ms)
{
    tp->tls_batch = !tls_kernel_offers_ktls();
    tp->tls_handshake_timeout_ms = handshake_timeout_ms;
    ev_timer_add(tp->loop, HANDSHAKE_SWEEP_MS, handshake_sweep, tp);
}
