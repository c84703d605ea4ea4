/* buf.h -- growable byte buffer with a read cursor, used for socket input and output. */
#ifndef IC_BUF_H
#define IC_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bytes live in data[start, end); free space is data[end, cap). */
typedef struct {
    char *data;
    size_t start;
    size_t end;
    size_t cap;
    /* The RESP version the resp_add_* encoders write into this buffer (resp.h): 0 or 2 for
     * RESP2, 3 for RESP3. It lives here so that a reply built for a client that said HELLO 3
     * comes out right without any command knowing which protocol its client speaks. */
    uint8_t resp_proto;
} buf_t;

void buf_init(buf_t *b);
void buf_free(buf_t *b);
static inline size_t buf_len(const buf_t *b) { return b->end - b->start; }
static inline char *buf_head(const buf_t *b) { return b->data + b->start; }
/* buf_reserve's slow path: compacts or grows the buffer. */
int buf_grow(buf_t *b, size_t n);
/* Ensures at least `n` bytes of free space after end (compacting or growing). 0 or -ENOMEM.
 * Inline: the encoders call it for every field, and it almost always has room. */
static inline int buf_reserve(buf_t *b, size_t n)
{
    return b->cap - b->end >= n ? 0 : buf_grow(b, n);
}
int buf_append(buf_t *b, const void *p, size_t n);
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_consume(buf_t *b, size_t n);
void buf_clear(buf_t *b);
/* Releases memory above `keep` bytes of capacity when the buffer is empty (idle connections). */
void buf_shrink_if_empty(buf_t *b, size_t keep);

/* read(2) up to `max` bytes into free space. Returns bytes read, 0 on EOF, -errno (incl. -EAGAIN). */
ssize_t buf_read_fd(buf_t *b, int fd, size_t max);
/* write(2) as much as possible from the head. Returns bytes written or -errno (incl. -EAGAIN). */
ssize_t buf_write_fd(buf_t *b, int fd);

#endif
