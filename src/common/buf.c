/* buf.c -- growable byte buffer with a read cursor. */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void buf_init(buf_t *b)
{
    memset(b, 0, sizeof *b);
}

void buf_free(buf_t *b)
{
    free(b->data);
    buf_init(b);
}

void buf_clear(buf_t *b)
{
    b->start = b->end = 0;
}

int buf_grow(buf_t *b, size_t n)
{
    if (b->cap - b->end >= n) return 0;
    size_t used = buf_len(b);
    if (b->start > 0 && b->cap - used >= n) { /* compacting is enough */
        memmove(b->data, b->data + b->start, used);
        b->start = 0;
        b->end = used;
        return 0;
    }
    /* Small first allocation: many buffers (replies to one command) never hold more. */
    size_t cap = b->cap ? b->cap : 256;
    while (cap - used < n)
        cap *= 2;
    char *p = malloc(cap);
    if (!p) return -ENOMEM;
    if (used) memcpy(p, b->data + b->start, used);
    free(b->data);
    b->data = p;
    b->cap = cap;
    b->start = 0;
    b->end = used;
    return 0;
}

int buf_append(buf_t *b, const void *p, size_t n)
{
    if (n == 0) return 0; /* also keeps memcpy away from a never-allocated (NULL) buffer */
    if (buf_reserve(b, n) < 0) return -ENOMEM;
    memcpy(b->data + b->end, p, n);
    b->end += n;
    return 0;
}

int buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return -EINVAL;
    if (buf_reserve(b, (size_t)n + 1) < 0) return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->end, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->end += (size_t)n;
    return 0;
}

void buf_consume(buf_t *b, size_t n)
{
    b->start += n;
    if (b->start >= b->end) b->start = b->end = 0;
}

void buf_shrink_if_empty(buf_t *b, size_t keep)
{
    if (buf_len(b) == 0 && b->cap > keep) {
        free(b->data);
        buf_init(b);
    }
}

ssize_t buf_read_fd(buf_t *b, int fd, size_t max)
{
    if (buf_reserve(b, max) < 0) return -ENOMEM;
    for (;;) {
        ssize_t n = read(fd, b->data + b->end, max);
        if (n >= 0) {
            b->end += (size_t)n;
            return n;
        }
        if (errno != EINTR) return -errno;
    }
}

ssize_t buf_write_fd(buf_t *b, int fd)
{
    size_t total = 0;
    while (buf_len(b) > 0) {
        ssize_t n = write(fd, buf_head(b), buf_len(b));
        if (n < 0) {
            if (errno == EINTR) continue;
            if (total) break;
            return -errno;
        }
        buf_consume(b, (size_t)n);
        total += (size_t)n;
    }
    return (ssize_t)total;
}
