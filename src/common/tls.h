/* tls.h -- TLS (OpenSSL) for non-blocking and blocking sockets: contexts, handshakes, reads and
 * gathered writes, kernel TLS when the kernel has it. The only header that callers include;
 * OpenSSL's own headers stay inside tls.c. */
#ifndef IC_TLS_H
#define IC_TLS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct tls_ctx tls_ctx_t; /* an SSL_CTX: certificates, verification, protocol floor */
typedef struct tls tls_t;         /* one connection's TLS state */

/* How a server treats client certificates (Redis's tls-auth-clients). */
typedef enum {
    TLS_AUTH_NO = 0,       /* none asked for */
    TLS_AUTH_YES = 1,      /* required, verified against the CA */
    TLS_AUTH_OPTIONAL = 2, /* verified if presented */
} tls_auth_t;

/* Parses "yes", "no" or "optional". 0 or -EINVAL. */
int tls_auth_parse(const char *s, tls_auth_t *out);

/* A server context: certificate chain and key (PEM files), the CA bundle that client
 * certificates are verified against (may be NULL or "" with TLS_AUTH_NO), TLS 1.2 at least.
 * Returns NULL with a message in err. */
tls_ctx_t *tls_server_ctx_new(const char *cert_file, const char *key_file, const char *ca_file,
                              tls_auth_t auth, char *err, size_t errlen);
/* A client context: the server's certificate is always verified against ca_file; cert_file and
 * key_file (both or neither, may be NULL) are presented when the server asks. */
tls_ctx_t *tls_client_ctx_new(const char *ca_file, const char *cert_file, const char *key_file,
                              char *err, size_t errlen);
void tls_ctx_free(tls_ctx_t *ctx);
/* A server's TLS 1.3 cipher suites, in its order of preference (which it then applies over the
 * client's): OpenSSL's "TLS_AES_128_GCM_SHA256:..." syntax. 0, or -1 with the reason in err. */
int tls_ctx_set_ciphersuites(tls_ctx_t *ctx, const char *suites, char *err, size_t errlen);

/* Wraps a connected socket (the fd stays the caller's). A client passes the host it dialled:
 * the server's certificate must name it (an IP address is matched as one, a name as a DNS
 * name, which is also sent as SNI). NULL when out of memory. */
tls_t *tls_new_server(tls_ctx_t *ctx, int fd);
tls_t *tls_new_client(tls_ctx_t *ctx, int fd, const char *host);
void tls_free(tls_t *t);
/* 1 when the running kernel has its TLS module loaded (kernel TLS can be used). */
int tls_kernel_offers_ktls(void);
/* Batches writes (call before the handshake; it turns kernel TLS off for this connection): tls_writev encrypts several records into a
 * 256 KiB buffer and sends them at once, instead of one send per 16 KiB record. Ciphertext the
 * socket did not take stays buffered: the caller must then wait for the socket to be writable
 * while tls_unflushed() > 0 and call tls_flush() (tls_writev flushes first, too). 0 or -1. */
int tls_batch_writes(tls_t *t);
/* Sends batched ciphertext: 0 when none is left, TLS_WANT_WRITE, or -errno/TLS_ERR. */
ssize_t tls_flush(tls_t *t);
/* Bytes of batched ciphertext not yet sent (0 without batching). */
size_t tls_unflushed(tls_t *t);

/* Results of the calls below besides byte counts. */
#define TLS_WANT_READ (-11000)  /* non-blocking: wait until the socket is readable */
#define TLS_WANT_WRITE (-11001) /* non-blocking: wait until the socket is writable */
#define TLS_ERR (-11002)        /* protocol or verification failure: tls_last_error() says */

/* Drives the handshake: 0 when done, TLS_WANT_READ/WRITE, or TLS_ERR. On a blocking socket it
 * returns 0 or TLS_ERR. */
int tls_handshake(tls_t *t);
/* Reads decrypted bytes: >0, 0 at the peer's end, TLS_WANT_READ/WRITE, TLS_ERR, or -errno. */
ssize_t tls_read(tls_t *t, void *p, size_t n);
/* Writes from an iovec array without copying large pieces: the first piece goes to SSL_write
 * as it is; small pieces are gathered into one record. Returns bytes taken (possibly fewer than
 * offered), TLS_WANT_*, TLS_ERR or -errno. After a TLS_WANT_*, call again with the same bytes
 * at the front (more may follow). */
ssize_t tls_writev(tls_t *t, const struct iovec *iov, int cnt);
/* Input held inside the TLS layer, where no readiness event announces it: decrypted bytes,
 * or an estimate when records were read ahead (a read then returns them). 0 when none. */
size_t tls_pending(tls_t *t);
/* Sends close_notify (best effort, never blocks on a non-blocking socket). */
void tls_shutdown(tls_t *t);
/* 1 when the kernel encrypts (send) or decrypts (recv) this connection: then the socket itself
 * carries plaintext for splice and sendfile. */
int tls_ktls_send(tls_t *t);
int tls_ktls_recv(tls_t *t);
/* The negotiated protocol and cipher, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384". */
const char *tls_describe(tls_t *t, char *out, size_t cap);
/* Why the last call on this thread failed (certificate verification, protocol), in one line. */
const char *tls_last_error(tls_t *t);

#endif
