/* proxy_conn.c -- one blocking-with-deadline TCP (or TLS) connection per proxy: connect, send,
 * receive. Bodies go to and from the caller's buffers with no staging copy, through TLS too. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "icc.h"
#include "net.h"
#include "tls.h"

#define ICC_READ_CHUNK (64 * 1024)

int icc_fail(ic_client_t *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return rc;
}

int icc_server_error(ic_client_t *c, const char *str, size_t len)
{
    icc_fail(c, IC_ESERVER, "%.*s", (int)(len < 400 ? len : 400), str);
    if ((len >= 6 && !memcmp(str, "NOAUTH", 6)) || (len >= 9 && !memcmp(str, "WRONGPASS", 9)))
        return IC_EAUTH;
    return IC_ESERVER;
}

static int wait_fd(ic_client_t *c, icc_conn_t *k, short events, uint64_t deadline);

/* The TLS handshake on a fresh connection, within the connect timeout. */
static int tls_start(ic_client_t *c, icc_conn_t *k)
{
    if (!c->tls_ctx) {
        char why[400];
        c->tls_ctx = tls_client_ctx_new(c->tls_ca_file, c->tls_cert_file, c->tls_key_file, why,
                                        sizeof why);
        if (!c->tls_ctx) return icc_fail(c, IC_ECONNECT, "TLS: %s", why);
    }
    k->tls = tls_new_client(c->tls_ctx, k->fd, k->host);
    if (!k->tls) return icc_fail(c, IC_ENOMEM, "out of memory");
    uint64_t deadline = ev_now_ms() + (uint64_t)c->opt.connect_timeout_ms;
    for (;;) {
        int rc = tls_handshake(k->tls);
        if (rc == 0) return 0;
        if (rc != TLS_WANT_READ && rc != TLS_WANT_WRITE)
            return icc_fail(c, IC_ECONNECT, "%s: TLS %s", k->addr, tls_last_error(k->tls));
        uint64_t now = ev_now_ms();
        if (now >= deadline)
            return icc_fail(c, IC_ECONNECT, "%s: TLS handshake timed out after %d ms", k->addr,
                            c->opt.connect_timeout_ms);
        struct pollfd pfd = {.fd = k->fd, .events = rc == TLS_WANT_READ ? POLLIN : POLLOUT};
        if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
            return icc_fail(c, IC_ECONNECT, "%s: poll: %s", k->addr, strerror(errno));
    }
}

int icc_conn_open(ic_client_t *c, icc_conn_t *k)
{
    if (k->fd >= 0) return 0;
    int fd = net_connect(k->host, k->port, c->opt.connect_timeout_ms);
    if (fd < 0) return icc_fail(c, IC_ECONNECT, "connect %s: %s", k->addr, strerror(-fd));
    net_set_nonblock(fd, 1);
    k->fd = fd;
    buf_clear(&k->rx);
    if (c->opt.tls) {
        int rc = tls_start(c, k);
        if (rc < 0) {
            icc_conn_close(k);
            return rc;
        }
    }
    int rc = icc_conn_auth(c, k);
    if (rc < 0) icc_conn_close(k);
    return rc;
}

void icc_conn_close(icc_conn_t *k)
{
    tls_free(k->tls);
    k->tls = NULL;
    if (k->fd >= 0) close(k->fd);
    k->fd = -1;
    buf_clear(&k->rx);
    buf_shrink_if_empty(&k->rx, 0);
}

/* Waits until fd is ready, bounded by the operation deadline and by the chunk deadline (the
 * longest silence tolerated), whichever comes first. 0, IC_ETIMEDOUT or IC_EIO. */
static int wait_fd(ic_client_t *c, icc_conn_t *k, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = ev_now_ms();
        if (now >= deadline)
            return icc_fail(c, IC_ETIMEDOUT, "%s: operation timed out after %d ms", k->addr,
                            c->opt.op_timeout_ms);
        uint64_t wait = deadline - now;
        int silence = 0;
        if (wait > (uint64_t)c->opt.chunk_deadline_ms) {
            wait = (uint64_t)c->opt.chunk_deadline_ms;
            silence = 1;
        }
        struct pollfd pfd = {.fd = k->fd, .events = events};
        int n = poll(&pfd, 1, (int)wait);
        if (n > 0) return 0;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return icc_fail(c, IC_EIO, "%s: poll: %s", k->addr, strerror(errno));
        if (silence)
            return icc_fail(c, IC_ETIMEDOUT, "%s: no progress for %d ms", k->addr,
                            c->opt.chunk_deadline_ms);
    }
}

/* SSL_write writes with write(2), which raises SIGPIPE on a closed peer; a library must not
 * change the process's signal handling, so SIGPIPE is blocked in this thread around the write
 * and one it raised is taken back before unblocking. */
static ssize_t tls_send(icc_conn_t *k, const struct iovec *iov, int iovcnt)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    ssize_t n = tls_writev(k->tls, iov, iovcnt);
    if (n == -EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return n;
}

/* Steps an iovec array past n bytes that were written. */
static void iov_advance(struct iovec **iov, int *iovcnt, size_t n)
{
    while (n > 0 && *iovcnt > 0) {
        if (n >= (*iov)->iov_len) {
            n -= (*iov)->iov_len;
            (*iov)++;
            (*iovcnt)--;
        } else {
            (*iov)->iov_base = (char *)(*iov)->iov_base + n;
            (*iov)->iov_len -= n;
            n = 0;
        }
    }
}

int icc_conn_send(ic_client_t *c, icc_conn_t *k, struct iovec *iov, int iovcnt, uint64_t deadline)
{
    while (iovcnt > 0) {
        if (iov->iov_len == 0) {
            iov++;
            iovcnt--;
            continue;
        }
        if (k->tls) {
            /* The caller's buffers go to SSL_write as they are (large bodies are not copied). */
            ssize_t n = tls_send(k, iov, iovcnt > 1024 ? 1024 : iovcnt);
            if (n == TLS_WANT_READ || n == TLS_WANT_WRITE) {
                int rc = wait_fd(c, k, n == TLS_WANT_READ ? POLLIN : POLLOUT, deadline);
                if (rc < 0) return rc;
                continue;
            }
            if (n <= 0)
                return icc_fail(c, IC_EIO, "%s: send: %s", k->addr,
                                n == TLS_ERR ? tls_last_error(k->tls) : strerror((int)-n));
            iov_advance(&iov, &iovcnt, (size_t)n);
            continue;
        }
        /* sendmsg, not writev: MSG_NOSIGNAL keeps a closed peer from raising SIGPIPE. */
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)(iovcnt > 1024 ? 1024 : iovcnt)};
        ssize_t n = sendmsg(k->fd, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                int rc = wait_fd(c, k, POLLOUT, deadline);
                if (rc < 0) return rc;
                continue;
            }
            return icc_fail(c, IC_EIO, "%s: send: %s", k->addr, strerror(errno));
        }
        iov_advance(&iov, &iovcnt, (size_t)n);
    }
    return 0;
}

/* One recv into dst, waiting as needed. Returns bytes (> 0) or an error. */
static ssize_t recv_some(ic_client_t *c, icc_conn_t *k, void *dst, size_t n, uint64_t deadline)
{
    while (k->tls) {
        ssize_t r = tls_read(k->tls, dst, n);
        if (r > 0) {
            k->rx_total += (uint64_t)r;
            return r;
        }
        if (r == 0) return icc_fail(c, IC_EIO, "%s: connection closed by the proxy", k->addr);
        if (r != TLS_WANT_READ && r != TLS_WANT_WRITE)
            return icc_fail(c, IC_EIO, "%s: recv: %s", k->addr,
                            r == TLS_ERR ? tls_last_error(k->tls) : strerror((int)-r));
        int rc = wait_fd(c, k, r == TLS_WANT_READ ? POLLIN : POLLOUT, deadline);
        if (rc < 0) return rc;
    }
    for (;;) {
        ssize_t r = recv(k->fd, dst, n, 0);
        if (r > 0) {
            k->rx_total += (uint64_t)r;
            return r;
        }
        if (r == 0) return icc_fail(c, IC_EIO, "%s: connection closed by the proxy", k->addr);
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return icc_fail(c, IC_EIO, "%s: recv: %s", k->addr, strerror(errno));
        int rc = wait_fd(c, k, POLLIN, deadline);
        if (rc < 0) return rc;
    }
}

int icc_conn_fill(ic_client_t *c, icc_conn_t *k, uint64_t deadline)
{
    if (buf_reserve(&k->rx, ICC_READ_CHUNK) < 0) return icc_fail(c, IC_ENOMEM, "out of memory");
    ssize_t r = recv_some(c, k, k->rx.data + k->rx.end, ICC_READ_CHUNK, deadline);
    if (r < 0) return (int)r;
    k->rx.end += (size_t)r;
    return 0;
}

int icc_conn_read(ic_client_t *c, icc_conn_t *k, void *dst, size_t n, uint64_t deadline)
{
    size_t have = buf_len(&k->rx) < n ? buf_len(&k->rx) : n;
    if (dst && have) memcpy(dst, icc_rx_head(k), have);
    buf_consume(&k->rx, have);
    size_t off = have;
    char sink[16384];
    while (off < n) {
        size_t want = n - off;
        void *to = dst ? (char *)dst + off : sink;
        if (!dst && want > sizeof sink) want = sizeof sink;
        ssize_t r = recv_some(c, k, to, want, deadline);
        if (r < 0) return (int)r;
        off += (size_t)r;
    }
    return 0;
}
