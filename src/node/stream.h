/* stream.h -- the byte stream under a node's outgoing connections (to the proxy, to the relay):
 * a socket, or TLS over it. Both serve.c and sync.c read and write through these. */
#ifndef IC_NODE_STREAM_H
#define IC_NODE_STREAM_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct tls;
struct tls_ctx;

/* The client side of a TLS handshake on a connected non-blocking socket, within timeout_ms:
 * the peer's certificate must verify against ctx and name `host`. Returns the TLS state, or
 * NULL with *err set to -EPROTO (logged with role and address), -ENOMEM or -errno. */
struct tls *stream_tls_dial(struct tls_ctx *ctx, int fd, const char *host, int port,
                            const char *role, int timeout_ms, int *err);

/* Reads from the socket, or through TLS when tls is not NULL: >0, 0 at the end, -EAGAIN,
 * -EPROTO (a TLS failure, logged with role) or -errno. */
ssize_t stream_recv(int fd, struct tls *tls, const char *role, void *p, size_t n);

/* An outq writer (outq_write_with) over TLS: arg is the struct tls. */
ssize_t stream_tls_writer(void *arg, const struct iovec *iov, int cnt);

/* 1 when decrypted input waits inside the TLS layer, where poll() does not announce it. */
int stream_input_held(struct tls *tls);

#endif
