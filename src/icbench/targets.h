/* targets.h -- the servers icbench measures: icproxy through libinfinicache, any Redis-protocol
 * server, memcached. */
#ifndef IC_TARGETS_H
#define IC_TARGETS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { TARGET_IC, TARGET_RESP, TARGET_MEMCACHED } target_kind_t;

/* A parsed --target: "ic:HOST:PORT[,d=N,p=N,firstd=0|1]", "resp:HOST:PORT" or "memcached:HOST:PORT". */
typedef struct {
    target_kind_t kind;
    char spec[300]; /* as given, the name in reports */
    char host[256];
    int port;
    int d, p;       /* ic only */
    int first_d;    /* ic only: 0 waits for all d+p chunks (ICGET ALL), the baseline */
    int timeout_ms; /* per operation */
} target_t;

int target_parse(const char *spec, target_t *t, char *err, size_t errlen); /* 0 or -1 */

/* Results of target_get / target_set. */
enum { TARGET_MISS = 0, TARGET_HIT = 1, TARGET_STORED = 0, TARGET_ERROR = -1 };

typedef struct target_conn target_conn_t;

/* Opens one connection and proves the server answers (PING, version, or an EXISTS through the
 * library). NULL with the reason in err. A connection belongs to one thread. */
target_conn_t *target_connect(const target_t *t, char *err, size_t errlen);
void target_close(target_conn_t *c);

/* GET: on TARGET_HIT, *value and *len point into the connection's own buffer, valid until the next
 * call on it. TARGET_MISS, or TARGET_ERROR with the reason in err (the connection is reopened
 * on the next call if it broke). */
int target_get(target_conn_t *c, const char *key, size_t keylen, const void **value, size_t *len,
               char *err, size_t errlen);
/* SET: TARGET_STORED or TARGET_ERROR (err says why, e.g. memcached's "object too large"). */
int target_set(target_conn_t *c, const char *key, size_t keylen, const void *value, size_t len,
               char *err, size_t errlen);

/* resp and memcached: called while a GET's value arrives (value[0..have) of len bytes in place,
 * have grows), so the caller can check bytes while the rest is on the wire. ic never calls it. */
typedef void (*target_progress_fn)(void *arg, const void *value, size_t len, size_t have);
void target_set_progress(target_conn_t *c, target_progress_fn fn, void *arg);

/* memcached: the server's item_size_max (its -I), learned when connecting; 0 if unknown. */
uint64_t target_item_size_max(const target_conn_t *c);

#endif
