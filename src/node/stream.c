/* stream.c -- the byte stream under a node's outgoing connections (see stream.h). */
#include "stream.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"
#include "tls.h"

struct tls *stream_tls_dial(struct tls_ctx *ctx, int fd, const char *host, int port,
                            const char *role, int timeout_ms, int *err)
{
    struct tls *t = tls_new_client(ctx, fd, host);
    if (!t) {
        *err = -ENOMEM;
        return NULL;
    }
    uint64_t end = ev_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int rc = tls_handshake(t);
        if (rc == 0) return t;
        uint64_t now = ev_now_ms();
        if (rc != TLS_WANT_READ && rc != TLS_WANT_WRITE) {
            log_warn("event=%s_tls_failed addr=%s:%d err=\"%s\"", role, host, port,
                     tls_last_error(t));
            *err = -EPROTO;
            break;
        }
        if (now >= end) {
            log_warn("event=%s_tls_failed addr=%s:%d err=\"handshake timed out\"", role, host,
                     port);
            *err = -EPROTO;
            break;
        }
        struct pollfd p = {fd, rc == TLS_WANT_READ ? POLLIN : POLLOUT, 0};
        if (poll(&p, 1, (int)(end - now)) < 0 && errno != EINTR) {
            *err = -errno;
            break;
        }
    }
    tls_free(t);
    return NULL;
}

ssize_t stream_recv(int fd, struct tls *tls, const char *role, void *p, size_t n)
{
    if (tls) {
        ssize_t r = tls_read(tls, p, n);
        if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) return -EAGAIN;
        if (r == TLS_ERR) {
            log_warn("event=%s_tls_error err=\"%s\"", role, tls_last_error(tls));
            return -EPROTO;
        }
        return r;
    }
    for (;;) {
        ssize_t r = read(fd, p, n);
        if (r >= 0) return r;
        if (errno != EINTR) return -errno;
    }
}

ssize_t stream_tls_writer(void *arg, const struct iovec *iov, int cnt)
{
    ssize_t w = tls_writev(arg, iov, cnt);
    if (w == TLS_WANT_READ || w == TLS_WANT_WRITE) return -EAGAIN;
    if (w == TLS_ERR) return -EPROTO;
    return w;
}

int stream_input_held(struct tls *tls)
{
    return tls && tls_pending(tls) > 0;
}
