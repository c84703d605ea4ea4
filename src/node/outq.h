/* outq.h -- a connection's queue of output: small bytes batched in one buffer, chunk bodies
 * written straight from the store (each holding a store reference until sent), large owned blobs
 * adopted without a copy; all written with sendmsg over an iovec. Used for the replies to the
 * proxy (conn.c) and for a backup's requests to its peer (sync.c). */
#ifndef NODE_OUTQ_H
#define NODE_OUTQ_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "store.h"

/* One piece: owned bytes (base != NULL, freed when sent) or a chunk body (chunk != NULL). */
typedef struct {
    char *base;
    store_entry_t *chunk;
    const char *data;
    size_t len, off;
} outq_seg_t;

typedef struct {
    store_t *store; /* where chunk references are released */
    buf_t small;    /* bytes appended since the last piece; becomes a piece before the next one */
    outq_seg_t *segs;
    size_t nsegs, head, cap;
    size_t owned; /* owned bytes in queued pieces, for backpressure */
} outq_t;

void outq_init(outq_t *q, store_t *store);
/* Drops everything queued, releasing chunk references. */
void outq_clear(outq_t *q);
void outq_free(outq_t *q);

/* 1 while anything is queued. */
int outq_pending(const outq_t *q);
/* Pieces queued and not fully written. */
static inline size_t outq_pieces(const outq_t *q)
{
    return q->nsegs - q->head;
}
/* Owned bytes queued (pieces and the small buffer). */
static inline size_t outq_owned(const outq_t *q)
{
    return q->owned + buf_len(&q->small);
}

/* Queues a chunk's body after what is in `small`, taking a reference. 0 or -ENOMEM. */
int outq_push_chunk(outq_t *q, store_entry_t *e);
/* Adopts `len` bytes at `data` inside malloc'ed `base` (freed once written). On -ENOMEM the
 * caller still owns base. */
int outq_push_owned(outq_t *q, char *base, const char *data, size_t len);

/* Writes as much as the socket takes. Returns bytes written (0 if it would block or nothing was
 * queued), or -errno. */
ssize_t outq_write(outq_t *q, int fd);

/* Moves everything queued into `into` (when not NULL) as if it had been written: for tests and
 * fuzz targets that have no socket. 0 or -ENOMEM. */
int outq_take_all(outq_t *q, buf_t *into);

#endif
