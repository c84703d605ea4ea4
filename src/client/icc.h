/* icc.h -- internals of libinfinicache shared by its files and its tests; never installed. */
#ifndef IC_CLIENT_ICC_H
#define IC_CLIENT_ICC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "buf.h"
#include "ec.h"
#include "icproto.h"
#include "infinicache.h"
#include "resp.h"

/* ---- consistent hashing ring (ring.c) ---- */

/* 64-bit FNV-1a followed by the MurmurHash3 fmix64 finalizer, so nearby inputs spread well. */
uint64_t icc_hash(const void *p, size_t n);

#define ICC_RING_VNODES 160 /* points per proxy */
typedef struct {
    uint64_t hash;
    uint32_t proxy;
} icc_point_t;
typedef struct {
    icc_point_t *points; /* sorted by hash; owned by the ring */
    size_t npoints;
} icc_ring_t;

/* Builds the ring: proxy i gets points icc_hash("<names[i]>#<j>") for j < vnodes. A key goes to
 * the first point at or after icc_hash(key), wrapping around. 0 or IC_ENOMEM/IC_EINVAL. */
int icc_ring_build(icc_ring_t *r, const char *const *names, size_t n, int vnodes);
size_t icc_ring_lookup(const icc_ring_t *r, const void *key, size_t keylen);
void icc_ring_free(icc_ring_t *r);

/* ---- connections and the client (conn.c, client.c) ---- */

typedef struct {
    char *addr; /* "host:port", owned */
    char host[256];
    int port;
    int fd; /* -1 when closed */
    struct tls *tls; /* TLS state when the client speaks TLS, NULL otherwise */
    buf_t rx;
    uint64_t rx_total; /* bytes ever received: tells "nothing came back" apart for retries */
} icc_conn_t;

struct ic_client {
    ic_options_t opt; /* opt.user and opt.password point to the client's own copies */
    size_t nproxies;
    icc_conn_t *conns;
    icc_ring_t ring;
    struct tls_ctx *tls_ctx; /* made at the first TLS connection from the copies below */
    char *tls_ca_file, *tls_cert_file, *tls_key_file;
    char err[512];
};

/* Sets the client's last-error text and returns rc, so failures read `return icc_fail(...)`. */
int icc_fail(ic_client_t *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* An -ERR style reply from the proxy: the text goes to last_error; -NOAUTH and -WRONGPASS give
 * IC_EAUTH, anything else IC_ESERVER. */
int icc_server_error(ic_client_t *c, const char *str, size_t len);

/* Opens the connection if it is closed; a new one authenticates first (icc_conn_auth). */
int icc_conn_open(ic_client_t *c, icc_conn_t *k);
/* Sends AUTH on a fresh connection and reads its +OK. 0 if no password is configured. */
int icc_conn_auth(ic_client_t *c, icc_conn_t *k);
void icc_conn_close(icc_conn_t *k);
/* Writes all of iov (modified as it goes) before the deadline (ev_now_ms() clock). */
int icc_conn_send(ic_client_t *c, icc_conn_t *k, struct iovec *iov, int iovcnt, uint64_t deadline);
/* Reads at least one more byte into k->rx. 0 or an error (IC_EIO on EOF, IC_ETIMEDOUT). */
int icc_conn_fill(ic_client_t *c, icc_conn_t *k, uint64_t deadline);
/* Moves exactly n bytes into dst (NULL discards them): first what rx holds, then straight from
 * the socket into dst, with no staging copy. */
int icc_conn_read(ic_client_t *c, icc_conn_t *k, void *dst, size_t n, uint64_t deadline);

/* Unread received bytes; never NULL (buf_head of a never-used buffer would be NULL + 0). */
static inline const char *icc_rx_head(const icc_conn_t *k)
{
    return buf_len(&k->rx) ? buf_head(&k->rx) : "";
}

/* Test and fuzz hook: makes proxy i use an already connected fd (the client takes ownership). */
void icc_client_adopt_fd(ic_client_t *c, size_t proxy, int fd);

#endif
