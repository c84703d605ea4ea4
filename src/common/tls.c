/* tls.c -- TLS over sockets with OpenSSL 3: contexts, non-blocking handshakes, reads, gathered
 * writes, and kernel TLS when the kernel offers it (then the socket carries plaintext for
 * splice). Nothing here touches the event loop: callers wait on TLS_WANT_READ/WRITE. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* Small pieces of a gathered write are copied into one record of at most this size: a record
 * per tiny reply would cost a header, a tag and a syscall each. */
#define TLS_GATHER 16384
#define TLS_READ_AHEAD (128 * 1024)
/* Batched writes (tls_batch_writes): records are encrypted into a buffer of this size and leave
 * in one send, instead of one send per 16 KiB record. */
#define TLS_BATCH (256 * 1024)
/* A record's ciphertext beyond its plaintext, with room to spare: TLS 1.3 adds 22 bytes, TLS 1.2
 * with AES-GCM 29. */
#define TLS_RECORD_OVERHEAD 512
#define TLS_RECORD_MAX 16384

struct tls_ctx {
    SSL_CTX *ssl_ctx;
};

struct tls {
    SSL *ssl;
    size_t retry_len; /* bytes offered to a write that must be retried, 0 when none */
    BIO *batch;       /* tls_batch_writes: the buffer BIO in front of the socket, else NULL */
    int drained;      /* the last read wanted the socket: what is read ahead is a partial record */
    char err[256];
};

int tls_auth_parse(const char *s, tls_auth_t *out)
{
    if (!strcmp(s, "yes"))
        *out = TLS_AUTH_YES;
    else if (!strcmp(s, "no"))
        *out = TLS_AUTH_NO;
    else if (!strcmp(s, "optional"))
        *out = TLS_AUTH_OPTIONAL;
    else
        return -EINVAL;
    return 0;
}

/* The oldest error on OpenSSL's queue, in words; the queue is emptied. */
static void queue_error(char *out, size_t cap, const char *what)
{
    unsigned long e = ERR_get_error();
    char msg[200] = "unknown error";
    if (e) ERR_error_string_n(e, msg, sizeof msg);
    snprintf(out, cap, "%s: %s", what, msg);
    ERR_clear_error();
}

/* What every context shares: TLS 1.2 at least, no renegotiation or compression, writes that
 * may be partial and retried from a moved buffer (output queues move), kernel TLS if any. */
static SSL_CTX *ctx_common(const SSL_METHOD *method, char *err, size_t errlen)
{
    SSL_CTX *c = SSL_CTX_new(method);
    if (!c) {
        queue_error(err, errlen, "SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    uint64_t opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* Clients such as redis-cli close without close_notify; that is an end, not an attack on
     * a cache protocol that frames its own messages. */
    opts |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
#ifdef SSL_OP_ENABLE_KTLS
    opts |= SSL_OP_ENABLE_KTLS;
#endif
    SSL_CTX_set_options(c, opts);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Read ahead: one read(2) takes several records (without it, two per record: header, then
     * body). What it buffers counts as pending input (tls_pending). */
    SSL_CTX_set_read_ahead(c, 1);
    SSL_CTX_set_default_read_buffer_len(c, TLS_READ_AHEAD);
    return c;
}

static int load_pair(SSL_CTX *c, const char *cert_file, const char *key_file, char *err,
                     size_t errlen)
{
    char what[300];
    if (SSL_CTX_use_certificate_chain_file(c, cert_file) != 1) {
        snprintf(what, sizeof what, "cannot load certificate %s", cert_file);
        queue_error(err, errlen, what);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(c, key_file, SSL_FILETYPE_PEM) != 1) {
        snprintf(what, sizeof what, "cannot load private key %s", key_file);
        queue_error(err, errlen, what);
        return -1;
    }
    if (SSL_CTX_check_private_key(c) != 1) {
        snprintf(what, sizeof what, "key %s does not match certificate %s", key_file, cert_file);
        queue_error(err, errlen, what);
        return -1;
    }
    return 0;
}

static int load_ca(SSL_CTX *c, const char *ca_file, char *err, size_t errlen)
{
    if (SSL_CTX_load_verify_locations(c, ca_file, NULL) != 1) {
        char what[300];
        snprintf(what, sizeof what, "cannot load CA bundle %s", ca_file);
        queue_error(err, errlen, what);
        return -1;
    }
    return 0;
}

static tls_ctx_t *wrap(SSL_CTX *c)
{
    tls_ctx_t *ctx = malloc(sizeof *ctx);
    if (!ctx) {
        SSL_CTX_free(c);
        return NULL;
    }
    ctx->ssl_ctx = c;
    return ctx;
}

tls_ctx_t *tls_server_ctx_new(const char *cert_file, const char *key_file, const char *ca_file,
                              tls_auth_t auth, char *err, size_t errlen)
{
    if (!cert_file || !*cert_file || !key_file || !*key_file) {
        snprintf(err, errlen, "TLS needs a certificate file and a key file");
        return NULL;
    }
    int has_ca = ca_file && *ca_file;
    if (auth != TLS_AUTH_NO && !has_ca) {
        snprintf(err, errlen, "verifying client certificates needs a CA file");
        return NULL;
    }
    SSL_CTX *c = ctx_common(TLS_server_method(), err, errlen);
    if (!c) return NULL;
    if (load_pair(c, cert_file, key_file, err, errlen) < 0) goto fail;
    if (has_ca) {
        if (load_ca(c, ca_file, err, errlen) < 0) goto fail;
        /* Tell clients which CAs we accept, so one with several certificates picks right. */
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_file);
        if (names) SSL_CTX_set_client_CA_list(c, names);
    }
    int mode = SSL_VERIFY_NONE;
    if (auth == TLS_AUTH_YES) mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    if (auth == TLS_AUTH_OPTIONAL) mode = SSL_VERIFY_PEER;
    SSL_CTX_set_verify(c, mode, NULL);
    /* No session resumption: connections are long-lived, and tickets would be extra writes
     * right after the handshake that a non-blocking reader would have to schedule. */
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(c, 0);
    return wrap(c);
fail:
    SSL_CTX_free(c);
    return NULL;
}

int tls_ctx_set_ciphersuites(tls_ctx_t *ctx, const char *suites, char *err, size_t errlen)
{
    if (SSL_CTX_set_ciphersuites(ctx->ssl_ctx, suites) != 1) {
        char what[300];
        snprintf(what, sizeof what, "tls-ciphersuites '%.200s'", suites);
        queue_error(err, errlen, what);
        return -1;
    }
    SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    return 0;
}

tls_ctx_t *tls_client_ctx_new(const char *ca_file, const char *cert_file, const char *key_file,
                              char *err, size_t errlen)
{
    if (!ca_file || !*ca_file) {
        snprintf(err, errlen, "TLS needs a CA file to verify the server's certificate");
        return NULL;
    }
    int has_cert = cert_file && *cert_file, has_key = key_file && *key_file;
    if (has_cert != has_key) {
        snprintf(err, errlen, "a client certificate needs its key (and a key its certificate)");
        return NULL;
    }
    SSL_CTX *c = ctx_common(TLS_client_method(), err, errlen);
    if (!c) return NULL;
    if (load_ca(c, ca_file, err, errlen) < 0) goto fail;
    if (has_cert && load_pair(c, cert_file, key_file, err, errlen) < 0) goto fail;
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    return wrap(c);
fail:
    SSL_CTX_free(c);
    return NULL;
}

void tls_ctx_free(tls_ctx_t *ctx)
{
    if (!ctx) return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

static tls_t *tls_new(tls_ctx_t *ctx, int fd)
{
    tls_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ssl = SSL_new(ctx->ssl_ctx);
    if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1) {
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    return t;
}

tls_t *tls_new_server(tls_ctx_t *ctx, int fd)
{
    tls_t *t = tls_new(ctx, fd);
    if (t) SSL_set_accept_state(t->ssl);
    return t;
}

int tls_kernel_offers_ktls(void)
{
    /* The upper-layer protocols TCP can use now; "tls" once the kernel's tls module is in. */
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
    if (!f) return 0;
    char line[256] = "";
    int found = 0;
    if (fgets(line, sizeof line, f))
        for (char *tok = strtok(line, " \n"); tok; tok = strtok(NULL, " \n"))
            if (!strcmp(tok, "tls")) found = 1;
    fclose(f);
    return found;
}

int tls_batch_writes(tls_t *t)
{
    int fd = SSL_get_fd(t->ssl);
    BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE);
    BIO *batch = BIO_new(BIO_f_buffer());
    if (!sock || !batch || BIO_set_write_buffer_size(batch, TLS_BATCH) != 1 ||
        !BIO_up_ref(sock)) {
        BIO_free(sock);
        BIO_free(batch);
        ERR_clear_error();
        return -1;
    }
    /* Kernel TLS would send through the socket BIO behind the batch's back. */
#ifdef SSL_OP_ENABLE_KTLS
    SSL_clear_options(t->ssl, SSL_OP_ENABLE_KTLS);
#endif
    /* The socket BIO reads; the buffer BIO over the same socket writes. The SSL owns one
     * reference to each (the second reference to sock is the chain's). */
    BIO_push(batch, sock);
    SSL_set_bio(t->ssl, sock, batch);
    t->batch = batch;
    return 0;
}

tls_t *tls_new_client(tls_ctx_t *ctx, int fd, const char *host)
{
    tls_t *t = tls_new(ctx, fd);
    if (!t) return NULL;
    SSL_set_connect_state(t->ssl);
    if (host && *host) {
        unsigned char addr[16];
        int ok;
        if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
            ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
        } else {
            ok = SSL_set1_host(t->ssl, host) && SSL_set_tlsext_host_name(t->ssl, host);
        }
        if (!ok) {
            tls_free(t);
            ERR_clear_error();
            return NULL;
        }
    }
    return t;
}

void tls_free(tls_t *t)
{
    if (!t) return;
    SSL_free(t->ssl);
    free(t);
}

/* Maps an OpenSSL result to this module's codes; fills t->err on a failure. */
static ssize_t result(tls_t *t, int rc, const char *what)
{
    int e = SSL_get_error(t->ssl, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (errno == EAGAIN || errno == EWOULDBLOCK) return TLS_WANT_READ;
        snprintf(t->err, sizeof t->err, "%s: %s", what,
                 errno ? strerror(errno) : "connection closed");
        return errno ? -errno : 0;
    default: {
        long v = SSL_get_verify_result(t->ssl);
        if (v != X509_V_OK) {
            snprintf(t->err, sizeof t->err, "%s: certificate verify failed: %s", what,
                     X509_verify_cert_error_string(v));
            ERR_clear_error();
        } else {
            queue_error(t->err, sizeof t->err, what);
        }
        return TLS_ERR;
    }
    }
}

int tls_handshake(tls_t *t)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1) return 0;
    ssize_t r = result(t, rc, "handshake");
    if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) return (int)r;
    if (r == 0 || (r < 0 && r != TLS_ERR)) {
        if (!t->err[0] || r == 0)
            snprintf(t->err, sizeof t->err, "handshake: connection closed by the peer");
    }
    return TLS_ERR;
}

ssize_t tls_read(tls_t *t, void *p, size_t n)
{
    if (n > INT_MAX) n = INT_MAX;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read(t->ssl, p, (int)n);
    if (rc > 0) {
        t->drained = 0;
        return rc;
    }
    ssize_t r = result(t, rc, "read");
    if (r == TLS_WANT_READ) t->drained = 1;
    return r;
}

/* Sends what the batch holds: 0 when empty, TLS_WANT_WRITE when the socket is full, or an
 * error (-errno, TLS_ERR). */
static ssize_t batch_flush(tls_t *t)
{
    if (!t->batch || BIO_wpending(t->batch) == 0) return 0;
    ERR_clear_error();
    errno = 0;
    if (BIO_flush(t->batch) == 1) return 0;
    if (BIO_should_retry(t->batch)) return TLS_WANT_WRITE;
    snprintf(t->err, sizeof t->err, "write: %s", errno ? strerror(errno) : "connection closed");
    ERR_clear_error();
    return errno ? -errno : -EPIPE;
}

ssize_t tls_writev(tls_t *t, const struct iovec *iov, int cnt)
{
    /* Ciphertext batched earlier goes first: new records must follow it on the wire. */
    ssize_t f = batch_flush(t);
    if (f < 0) return f;
    while (cnt > 0 && iov[0].iov_len == 0) {
        iov++;
        cnt--;
    }
    if (cnt == 0) return 0;
    char gather[TLS_GATHER];
    const char *p = iov[0].iov_base;
    size_t n = iov[0].iov_len;
    if (n < TLS_GATHER && cnt > 1) {
        /* Small pieces share one record. A retry gathers the same front bytes again (the
         * queue only grows at its tail), which SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows. */
        n = 0;
        for (int i = 0; i < cnt && n < TLS_GATHER; i++) {
            size_t take = iov[i].iov_len;
            if (take > TLS_GATHER - n) take = TLS_GATHER - n;
            memcpy(gather + n, iov[i].iov_base, take);
            n += take;
        }
        p = gather;
    }
    if (n > INT_MAX) n = INT_MAX;
    /* A retry offering fewer bytes than the record being written would fail with "bad
     * length" (a rate limiter may offer less): wait until at least as many are offered. */
    if (n < t->retry_len) return TLS_WANT_WRITE;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_write(t->ssl, p, (int)n);
    if (rc <= 0) {
        ssize_t r = result(t, rc, "write");
        if (r == TLS_WANT_READ || r == TLS_WANT_WRITE)
            t->retry_len = n < TLS_GATHER ? n : TLS_GATHER;
        return r == 0 ? -EPIPE : r;
    }
    t->retry_len = 0;
    if (!t->batch) return rc;
    /* More records while each surely fits in the batch: the buffer BIO then only copies, so no
     * record is left half-written inside OpenSSL (which would tie the next call to its bytes).
     * One send takes them all. */
    size_t taken = (size_t)rc;
    while (taken < n &&
           (size_t)BIO_wpending(t->batch) + TLS_RECORD_MAX + TLS_RECORD_OVERHEAD <= TLS_BATCH) {
        size_t len = n - taken < INT_MAX ? n - taken : INT_MAX;
        rc = SSL_write(t->ssl, p + taken, (int)len);
        if (rc <= 0) {
            ERR_clear_error();
            break; /* only a failure can end this early: it shows on the next call */
        }
        taken += (size_t)rc;
    }
    batch_flush(t); /* what the socket does not take now waits for tls_flush or the next write */
    return (ssize_t)taken;
}

ssize_t tls_flush(tls_t *t)
{
    return batch_flush(t);
}

size_t tls_unflushed(tls_t *t)
{
    return t->batch ? (size_t)BIO_wpending(t->batch) : 0;
}

size_t tls_pending(tls_t *t)
{
    /* Decrypted bytes of the current record, or else records read ahead and not yet
     * decrypted (their size is unknown here: one record's worth is announced). Once a read
     * has asked for the socket, what is left ahead is an incomplete record, which the socket
     * will announce when the rest arrives: not pending, or callers would spin on it. */
    int n = SSL_pending(t->ssl);
    if (n > 0) return (size_t)n;
    return !t->drained && SSL_has_pending(t->ssl) ? 16384 : 0;
}

void tls_shutdown(tls_t *t)
{
    if (!SSL_is_init_finished(t->ssl)) return;
    batch_flush(t);
    ERR_clear_error();
    SSL_shutdown(t->ssl);
    ERR_clear_error();
}

int tls_ktls_send(tls_t *t)
{
    return BIO_get_ktls_send(SSL_get_wbio(t->ssl)) ? 1 : 0;
}

int tls_ktls_recv(tls_t *t)
{
    return BIO_get_ktls_recv(SSL_get_rbio(t->ssl)) ? 1 : 0;
}

const char *tls_describe(tls_t *t, char *out, size_t cap)
{
    snprintf(out, cap, "%s %s", SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
    return out;
}

const char *tls_last_error(tls_t *t)
{
    return t->err[0] ? t->err : "no error";
}
