/* test_tls.c -- the TLS module over socket pairs: handshakes with host checks, gathered writes,
 * a write retried with fewer bytes than the blocked one (a rate limiter does that), input held
 * in the TLS layer. The certificate is made in-process (self-signed for IP 127.0.0.1). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls.h"

static char dir[] = "/tmp/ictlsunitXXXXXX";
static char cert_path[64], key_path[64];

/* A self-signed certificate for IP 127.0.0.1: the server's, and the client's CA bundle. */
static int make_cert(void **state)
{
    if (!mkdtemp(dir)) return -1;
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", dir);
    snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    if (!key || !x) return -1;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    const char *exts[][2] = {{"subjectAltName", "IP:127.0.0.1"}, {"basicConstraints", "critical,CA:TRUE"}};
    for (int i = 0; i < 2; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
        if (!e) return -1;
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (!X509_sign(x, key, EVP_sha256())) return -1;
    FILE *f = fopen(cert_path, "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key_path, "w");
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
    return 0;
}

static int remove_cert(void **state)
{
    unlink(cert_path);
    unlink(key_path);
    rmdir(dir);
    return 0;
}

typedef struct {
    int fd[2];
    tls_ctx_t *sctx, *cctx;
    tls_t *server, *client;
} pair_t;

/* A connected non-blocking socket pair with small buffers, TLS on both ends; the client checks
 * `host`. Returns the handshake result of the client (0, or TLS_ERR). */
static int pair_open_batched(pair_t *p, const char *host, int batch_server);

static int pair_open(pair_t *p, const char *host)
{
    return pair_open_batched(p, host, 0);
}

/* batch_server: the server batches its writes (tls_batch_writes). */
static int pair_open_batched(pair_t *p, const char *host, int batch_server)
{
    char err[300];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 0);
    for (int i = 0; i < 2; i++) {
        int sz = 16384;
        setsockopt(p->fd[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        setsockopt(p->fd[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
        fcntl(p->fd[i], F_SETFL, O_NONBLOCK);
    }
    p->sctx = tls_server_ctx_new(cert_path, key_path, NULL, TLS_AUTH_NO, err, sizeof err);
    assert_non_null(p->sctx);
    p->cctx = tls_client_ctx_new(cert_path, NULL, NULL, err, sizeof err);
    assert_non_null(p->cctx);
    p->server = tls_new_server(p->sctx, p->fd[0]);
    if (batch_server) assert_int_equal(tls_batch_writes(p->server), 0);
    p->client = tls_new_client(p->cctx, p->fd[1], host);
    int sdone = 0, cdone = 0, crc = 0;
    for (int i = 0; i < 1000 && !(sdone && cdone); i++) {
        if (!cdone) {
            crc = tls_handshake(p->client);
            if (crc == 0 || crc == TLS_ERR) cdone = 1;
        }
        if (!sdone) {
            int rc = tls_handshake(p->server);
            if (rc == 0 || rc == TLS_ERR) sdone = 1;
        }
    }
    assert_true(cdone);
    return crc;
}

static void pair_close(pair_t *p)
{
    tls_free(p->server);
    tls_free(p->client);
    tls_ctx_free(p->sctx);
    tls_ctx_free(p->cctx);
    close(p->fd[0]);
    close(p->fd[1]);
}

/* Reads everything available from `from` into out (at most cap). */
static size_t drain(tls_t *from, char *out, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t r = tls_read(from, out + got, cap - got);
        if (r <= 0) break;
        got += (size_t)r;
        if (got == cap) break;
    }
    return got;
}

static void test_auth_parse(void **state)
{
    tls_auth_t a;
    assert_int_equal(tls_auth_parse("yes", &a), 0);
    assert_int_equal(a, TLS_AUTH_YES);
    assert_int_equal(tls_auth_parse("optional", &a), 0);
    assert_int_equal(a, TLS_AUTH_OPTIONAL);
    assert_int_equal(tls_auth_parse("no", &a), 0);
    assert_int_equal(a, TLS_AUTH_NO);
    assert_int_equal(tls_auth_parse("YES ", &a), -EINVAL);
    char err[300];
    assert_null(tls_server_ctx_new(cert_path, key_path, NULL, TLS_AUTH_YES, err, sizeof err));
    assert_non_null(strstr(err, "CA"));
    assert_null(tls_client_ctx_new(NULL, NULL, NULL, err, sizeof err));
    assert_null(tls_client_ctx_new(cert_path, cert_path, NULL, err, sizeof err));
}

static void test_host_checks(void **state)
{
    pair_t p;
    assert_int_equal(pair_open(&p, "127.0.0.1"), 0);
    pair_close(&p);
    assert_int_equal(pair_open(&p, "127.0.0.2"), TLS_ERR);
    assert_non_null(strstr(tls_last_error(p.client), "IP address mismatch"));
    pair_close(&p);
    assert_int_equal(pair_open(&p, "localhost"), TLS_ERR);
    assert_non_null(strstr(tls_last_error(p.client), "hostname mismatch"));
    pair_close(&p);
}

static void test_gathered_writes(void **state)
{
    pair_t p;
    assert_int_equal(pair_open(&p, "127.0.0.1"), 0);
    char pieces[40][7];
    struct iovec iov[40];
    for (int i = 0; i < 40; i++) {
        snprintf(pieces[i], sizeof pieces[i], "p%03d;", i);
        iov[i].iov_base = pieces[i];
        iov[i].iov_len = 5;
    }
    /* Small pieces share one record: all 200 bytes are taken in one call. */
    assert_int_equal(tls_writev(p.client, iov, 40), 200);
    char out[256];
    assert_int_equal(drain(p.server, out, sizeof out), 200);
    assert_memory_equal(out, "p000;p001;p002;", 15);
    assert_memory_equal(out + 195, "p039;", 5);
    pair_close(&p);
}

static void test_blocked_write_retried_with_fewer_bytes(void **state)
{
    pair_t p;
    assert_int_equal(pair_open(&p, "127.0.0.1"), 0);
    size_t len = 1 << 20;
    char *src = malloc(len), *dst = malloc(len);
    for (size_t i = 0; i < len; i++) src[i] = (char)(i * 31 + 7);
    size_t sent = 0, got = 0;
    int blocked = 0, small_refused = 0;
    while (got < len) {
        /* Write until the socket is full, then read everything the other end has. */
        while (sent < len) {
            struct iovec v = {src + sent, len - sent};
            ssize_t w = tls_writev(p.client, &v, 1);
            if (w > 0) {
                sent += (size_t)w;
            } else {
                assert_int_equal(w, TLS_WANT_WRITE);
                blocked++;
                /* A retry offering fewer bytes than the blocked record waits; it must not
                 * break the connection ("bad length"). */
                struct iovec few = {src + sent, 10};
                if (len - sent > 16384) {
                    assert_int_equal(tls_writev(p.client, &few, 1), TLS_WANT_WRITE);
                    small_refused++;
                }
                break;
            }
        }
        got += drain(p.server, dst + got, len - got);
    }
    assert_true(blocked > 0);
    assert_true(small_refused > 0);
    assert_memory_equal(src, dst, len);
    free(src);
    free(dst);
    pair_close(&p);
}

static void test_input_held_in_the_tls_layer(void **state)
{
    pair_t p;
    assert_int_equal(pair_open(&p, "127.0.0.1"), 0);
    char msg[12000];
    memset(msg, 'x', sizeof msg);
    struct iovec v = {msg, sizeof msg};
    assert_int_equal(tls_writev(p.client, &v, 1), (ssize_t)sizeof msg);
    char out[sizeof msg];
    assert_int_equal(tls_read(p.server, out, 100), 100);
    /* The rest of the record is decrypted and waiting where poll() cannot see it. */
    assert_true(tls_pending(p.server) > 0);
    size_t got = 100;
    while (tls_pending(p.server) > 0) {
        ssize_t r = tls_read(p.server, out + got, sizeof out - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_int_equal(got, sizeof msg);
    assert_int_equal(tls_read(p.server, out, 1), TLS_WANT_READ);
    assert_int_equal(tls_pending(p.server), 0);
    pair_close(&p);
}

/* A batched writer takes many records per call and leaves what the socket refused buffered:
 * unflushed until the reader makes room and tls_flush sends it; nothing reordered or lost, and
 * no new record overtakes the buffered ones. */
static void test_batched_writes(void **state)
{
    pair_t p;
    assert_int_equal(pair_open_batched(&p, "127.0.0.1", 1), 0);
    size_t len = 3 << 20;
    char *src = malloc(len), *dst = malloc(len);
    for (size_t i = 0; i < len; i++) src[i] = (char)(i * 131 + 3);
    size_t sent = 0, got = 0;
    int calls = 0, left_buffered = 0, flush_blocked = 0, refused_behind = 0;
    while (got < len) {
        if (sent < len) {
            struct iovec v = {src + sent, len - sent};
            ssize_t w = tls_writev(p.server, &v, 1);
            if (w > 0) {
                calls++;
                /* More than one 16 KiB record per call. */
                if (calls == 1) assert_true(w > 16384);
                sent += (size_t)w;
                if (tls_unflushed(p.server) > 0) {
                    left_buffered++;
                    assert_int_equal(tls_flush(p.server), TLS_WANT_WRITE);
                    flush_blocked++;
                    /* New bytes wait behind the buffered ones. */
                    struct iovec more = {src + sent, len - sent > 10 ? 10 : len - sent};
                    if (sent < len) {
                        assert_int_equal(tls_writev(p.server, &more, 1), TLS_WANT_WRITE);
                        refused_behind++;
                    }
                }
            } else {
                assert_int_equal(w, TLS_WANT_WRITE);
            }
        } else {
            ssize_t f = tls_flush(p.server);
            assert_true(f == 0 || f == TLS_WANT_WRITE);
        }
        got += drain(p.client, dst + got, len - got);
    }
    assert_int_equal(tls_unflushed(p.server), 0);
    assert_true(left_buffered > 0 && flush_blocked > 0 && refused_behind > 0);
    assert_true(calls < (int)(len / 16384));
    assert_memory_equal(src, dst, len);
    free(src);
    free(dst);
    pair_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_parse),
        cmocka_unit_test(test_host_checks),
        cmocka_unit_test(test_gathered_writes),
        cmocka_unit_test(test_blocked_write_retried_with_fewer_bytes),
        cmocka_unit_test(test_input_held_in_the_tls_layer),
        cmocka_unit_test(test_batched_writes),
    };
    return cmocka_run_group_tests(tests, make_cert, remove_cert);
}
