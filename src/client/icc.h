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
#include "slot.h"

/* ---- connections and the client (proxy_conn.c, client.c) ---- */

typedef struct {
    char *addr; /* "host:port", owned */
    char host[256];
    int port;
    int fd;          /* -1 when closed */
    struct tls *tls; /* TLS state when the client speaks TLS, NULL otherwise */
    buf_t rx;
    uint64_t rx_total; /* bytes ever received: tells "nothing came back" apart for retries */
} icc_conn_t;

#define ICC_PROXIES_MAX 1024 /* proxies given and found in the cluster map together */

struct ic_client {
    ic_options_t opt; /* opt.user and opt.password point to the client's own copies */
    size_t nproxies;  /* the given ones first, then any the cluster map names besides */
    size_t ngiven;
    icc_conn_t *conns; /* may move when the map names a new proxy: hold no pointer across calls */
    /* Which connection serves each slot: the cluster's map (CLUSTER SLOTS), or the slots split
     * in order among the given proxies when they are not a cluster. Read at the first key. */
    uint16_t slot_owner[SLOT_COUNT];
    int slots_known;
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
/* Waits for the next reply header on k and consumes it. -ERR becomes IC_ESERVER (the text in
 * last_error). A simple string's text, cut to cap - 1 bytes, goes to simple when given (else ""),
 * since h->str, which pointed into rx, is cleared. A bulk's body is the caller's to read. */
int icc_read_header(ic_client_t *c, icc_conn_t *k, uint64_t deadline, resp_header_t *h,
                    char *simple, size_t cap);
/* Moves exactly n bytes into dst (NULL discards them): first what rx holds, then straight from
 * the socket into dst, with no staging copy. */
int icc_conn_read(ic_client_t *c, icc_conn_t *k, void *dst, size_t n, uint64_t deadline);

/* Unread received bytes; never NULL (buf_head of a never-used buffer would be NULL + 0). */
static inline const char *icc_rx_head(const icc_conn_t *k)
{
    return buf_len(&k->rx) ? buf_head(&k->rx) : "";
}

/* ---- the slot map (slots.c) ---- */

/* The slots split among the first n proxies in order: proxy i has [i*16384/n, (i+1)*16384/n). */
void icc_slots_split(ic_client_t *c, size_t n);
/* Reads CLUSTER SLOTS from the first proxy that answers; one that answers an error is not a
 * cluster, and the slots are split among the given proxies. 0 or an error (the map is kept). */
int icc_slots_refresh(ic_client_t *c);
/* The connection of the proxy serving the key (the map is read first if not known yet). */
icc_conn_t *icc_conn_for_key(ic_client_t *c, const void *key, size_t keylen);
/* The connection of host:port, added if new; its index, or -1. */
int icc_conn_find_or_add(ic_client_t *c, const char *host, int port);
/* After an operation failed with rc: when the proxy answered -MOVED (the map is read again) or
 * -ASK (ASKING is sent first), the connection to repeat it on; NULL otherwise. */
icc_conn_t *icc_follow_redirect(ic_client_t *c, int rc);
/* At most this many redirections per operation. */
#define ICC_REDIRECTS_MAX 5

/* Sends a small command and reads its simple reply (client.c). */
int icc_small_command(ic_client_t *c, icc_conn_t *k, int argc, const char *const *argv,
                      const size_t *argl, resp_header_t *h, char **bulk, uint64_t max_bulk);

/* Test and fuzz hook: makes proxy i use an already connected fd (the client takes ownership). */
void icc_client_adopt_fd(ic_client_t *c, size_t proxy, int fd);

#endif
