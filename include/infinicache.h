/* infinicache.h -- the C client library of InfiniCache: erasure-coded SET/GET over icproxy servers. */
#ifndef INFINICACHE_H
#define INFINICACHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Results. Every call returns one of these or a negative IC_E* error. */
#define IC_OK 0
#define IC_MISS 0 /* ic_get*, ic_exists, ic_del: the key is not there */
#define IC_HIT 1  /* ic_get*, ic_exists, ic_del: the key is there (was deleted) */

/* Errors. ic_strerror() names them; ic_last_error() adds the detail of the last failure. */
enum {
    IC_EINVAL = -1,    /* a bad argument or option */
    IC_ENOMEM = -2,    /* out of memory */
    IC_ECONNECT = -3,  /* cannot connect to the proxy */
    IC_EIO = -4,       /* the connection failed or closed mid-request */
    IC_ETIMEDOUT = -5, /* the proxy did not answer in time */
    IC_EPROTO = -6,    /* the proxy's reply is malformed or inconsistent */
    IC_ESERVER = -7,   /* the proxy answered -ERR (text in ic_last_error) */
    IC_ETOOSMALL = -8, /* ic_get_into: the buffer is too small; *len is the size needed */
    IC_ECORRUPT = -9,  /* too few chunks passed their checksum to rebuild the object, spares
                          included (more than p are corrupt or gone) */
    IC_ETOOBIG = -10,  /* the object is over max_object_size */
    IC_EAUTH = -11,    /* the proxy refused the user/password (-WRONGPASS), or wants one (-NOAUTH) */
};

typedef struct ic_client ic_client_t;

/* Options. Call ic_options_init() first, then change what you need. */
typedef struct {
    /* "host:port" of icproxy servers; NULL/0 means 127.0.0.1:6378. A key goes to the proxy
     * that serves its Redis Cluster slot (CRC16 of the key or its {hash tag}, mod 16384), as a
     * Redis Cluster client would send it: at the first key the client reads CLUSTER SLOTS from
     * the first of them that answers, and again whenever a proxy answers -MOVED (it follows
     * -ASK once, after ASKING), so one proxy of a cluster is enough. When the proxies are not a
     * cluster, the slots are split among them in the order given (proxy i of n serves slots
     * i*16384/n to (i+1)*16384/n - 1): every client must list them in the same order. */
    const char *const *proxies;
    size_t nproxies;
    int d;                   /* data chunks per object (1..32), default 10 */
    int p;                   /* parity chunks (0 allowed, d + p <= 48), default 2 */
    size_t small_max;        /* objects up to this size are stored as 1 chunk + p replicas;
                                default 64 KiB, the proxy's own small-object-max */
    uint64_t max_object_size; /* largest object this client writes or accepts, default 1 GiB */
    int connect_timeout_ms;  /* per connection attempt, default 1000 */
    int op_timeout_ms;       /* whole operation, default 10000 */
    int chunk_deadline_ms;   /* longest wait for the next bytes of a reply, default 2000 */
    int repair;              /* after a GET, rebuild the chunks reported lost and those that
                                failed their checksum and re-store them (ICREPAIR; the proxy
                                checks each); default 1 */
    int first_d;             /* 1 (default): a GET returns once d verified chunks are in, not
                                waiting for the slowest p. 0: it waits for all d + p chunks (the
                                proxy forwards every one; ICGET key ALL), or until no byte came for
                                chunk_deadline_ms with d good chunks in hand: the baseline first-d
                                is measured against. Needs a proxy that knows ICGET ALL. */
    /* Authentication: every connection the client opens sends AUTH before anything else. */
    const char *user;     /* ACL user name; NULL: the default user (AUTH password) */
    const char *password; /* NULL: send no AUTH. Copied; the copy is wiped when the client is freed */
    /* TLS to the proxies (their tls-port). The proxy's certificate is always verified against
     * tls_ca_file and must name the host (DNS name or IP address) given in `proxies`; a client
     * certificate and key (PEM files) are presented when set. Files are read at the first
     * connection; an unreadable one fails it with IC_ECONNECT and a message. Default 0/NULL. */
    int tls;
    const char *tls_ca_file;
    const char *tls_cert_file;
    const char *tls_key_file;
} ic_options_t;

/* Fills *opt with the defaults above. */
void ic_options_init(ic_options_t *opt);

/* Creates a client. Connections are opened lazily, one per proxy, and reopened after a failure.
 * The option strings are copied. Returns NULL on bad options or no memory (*err, if given, says
 * which). A client is not thread-safe: use one per thread. Free with ic_client_free(). */
ic_client_t *ic_client_new(const ic_options_t *opt, int *err);
void ic_client_free(ic_client_t *c);

/* Stores value[0..len) under key. The value is read in place (only the zero-padded tail chunk and
 * the parity chunks are allocated). IC_OK or an error. */
int ic_set(ic_client_t *c, const void *key, size_t keylen, const void *value, size_t len);

/* Reads key into a buffer the library allocates; the caller frees *value with ic_free(). An empty
 * object gives a non-NULL *value of length 0. IC_HIT, IC_MISS or an error; never wrong bytes.
 * Every chunk is checked against its CRC-32C. When fewer than d of the chunks first sent pass,
 * the same call asks the proxy for the chunks it did not send (first-d with spares, ICGETCHUNKS)
 * and succeeds whenever d good chunks exist; if another version was stored meanwhile it starts
 * over once. IC_ECORRUPT only when d good chunks do not exist. */
int ic_get(ic_client_t *c, const void *key, size_t keylen, void **value, size_t *len);

/* Reads key straight into buf[0..cap): data chunks land at their offsets with no copy. If the
 * object is larger than cap, returns IC_ETOOSMALL with *len = the size needed (pass cap 0 to learn
 * the size; this costs one request and drops the connection, which is reopened on next use).
 * IC_HIT (with *len = size), IC_MISS or an error. */
int ic_get_into(ic_client_t *c, const void *key, size_t keylen, void *buf, size_t cap,
                size_t *len);

/* Reads bytes [offset, offset + length) of key's value, clamped to its size, into a buffer the
 * caller frees with ic_free() (*value is NULL when *len is 0). Only the pieces of the data
 * chunks that hold the range move from the cache nodes; the proxy checks each piece against its
 * chunk's CRC and rebuilds a piece that is lost or corrupt from the same window of d other chunks
 * (docs/PROTOCOL.md, GETRANGE). IC_HIT (*len may be 0 when the range lies past the end), IC_MISS,
 * or an error; IC_EINVAL if offset + length is past 2^63. */
int ic_get_range(ic_client_t *c, const void *key, size_t keylen, uint64_t offset, size_t length,
                 void **value, size_t *len);

/* IC_HIT if the key was deleted, IC_MISS if it did not exist, or an error. */
int ic_del(ic_client_t *c, const void *key, size_t keylen);
/* IC_HIT or IC_MISS, or an error. */
int ic_exists(ic_client_t *c, const void *key, size_t keylen);

/* Number of proxies (those given, then any the cluster map named besides), and INFO of proxy i
 * as text the caller frees with ic_free(). */
size_t ic_proxy_count(const ic_client_t *c);
int ic_info(ic_client_t *c, size_t proxy, char **text, size_t *len);

/* Frees memory the library returned. */
void ic_free(void *p);

/* A fixed description of an IC_E* code. */
const char *ic_strerror(int err);
/* Detail of the last failure on this client (the proxy's error text, the address that failed);
 * "" if none. Valid until the next call on the client. */
const char *ic_last_error(const ic_client_t *c);

#ifdef __cplusplus
}
#endif

#endif
