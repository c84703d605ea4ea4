/* outq.h -- a connection's queue of output: small bytes batched in one buffer, chunk bodies
 * written straight from the store (each holding a store reference until sent), large owned blobs
 * adopted without a copy; all written with sendmsg over an iovec. Used for the replies to the
 * proxy (serve.c) and for a backup's requests to its peer (sync.c). */
#ifndef NODE_OUTQ_H
#define NODE_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <sys/types.h>

#include "buf.h"
#include "store.h"

/* One piece: owned bytes (base != NULL, freed when sent), a chunk body (chunk != NULL), or a hold
 * (len 0, hold_until != 0): nothing behind it is written before that time. */
typedef struct {
    char *base;
    store_entry_t *chunk;
    const char *data;
    size_t len, off;
    uint64_t hold_until; /* monotonic ms */
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
/* As outq_push_chunk, for bytes [offset, offset + len) of the chunk's body (CGETR). */
int outq_push_piece(outq_t *q, store_entry_t *e, size_t offset, size_t len);
/* Adopts `len` bytes at `data` inside malloc'ed `base` (freed once written). On -ENOMEM the
 * caller still owns base. */
int outq_push_owned(outq_t *q, char *base, const char *data, size_t len);

/* Holds everything queued after this point (the bytes in `small` included) until the monotonic
 * time until_ms: a late reply, and the replies behind it, as from a slow function. 0 or -ENOMEM. */
int outq_push_hold(outq_t *q, uint64_t until_ms);
/* 1, with the time in *until_ms, when the next byte to write is behind a hold not yet over at
 * now_ms; 0 otherwise. */
int outq_held(const outq_t *q, uint64_t now_ms, uint64_t *until_ms);

/* Writes as much as the socket takes. Returns bytes written (0 if it would block or nothing was
 * queued), or -errno. Holds are ignored (passed over as if their time had come). */
ssize_t outq_write(outq_t *q, int fd);
/* The same, writing at most max_bytes and stopping at a hold not over at now_ms. */
ssize_t outq_write_upto(outq_t *q, int fd, uint64_t now_ms, size_t max_bytes);
/* The same through a writer of the caller's (TLS): it returns bytes taken, -EAGAIN when it
 * would block, or another -errno. */
typedef ssize_t outq_writer_fn(void *arg, const struct iovec *iov, int cnt);
ssize_t outq_write_with(outq_t *q, outq_writer_fn *writer, void *arg, uint64_t now_ms,
                        size_t max_bytes);

/* Moves everything queued into `into` (when not NULL) as if it had been written: for tests and
 * fuzz targets that have no socket. 0 or -ENOMEM. */
int outq_take_all(outq_t *q, buf_t *into);

#endif
