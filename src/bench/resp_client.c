/* resp_client.c -- icbench's blocking Redis-protocol client: one writev per command, bulk replies
 * read straight into one value buffer (no reader buffer in between), every length bounded. */
#include "resp_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net.h"
#include "resp.h"

void resp_client_init(resp_client_t *c, int fd, uint64_t value_max)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->value_max = value_max ? value_max : RESP_CLIENT_VALUE_MAX;
}

void resp_client_close(resp_client_t *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    free(c->value);
    c->value = NULL;
    c->value_cap = 0;
    buf_free(&c->heads);
    c->in_pos = c->in_len = 0;
}

int resp_client_send(resp_client_t *c, int argc, const void *const *argv, const size_t *argl,
                     char *err, size_t errlen)
{
    if (argc < 1 || argc > RESP_CLIENT_ARGS_MAX) {
        snprintf(err, errlen, "resp: %d arguments (1 to %d)", argc, RESP_CLIENT_ARGS_MAX);
        return -1;
    }
    /* "*N\r\n$L\r\n" before the first argument, "\r\n$L\r\n" between, "\r\n" after the last,
     * all encoded first (the buffer may move while it grows), then sent around the arguments. */
    buf_t *h = &c->heads;
    size_t start[RESP_CLIENT_ARGS_MAX + 1];
    int rc = 0;
    buf_clear(h);
    for (int i = 0; i < argc && !rc; i++) {
        start[i] = buf_len(h);
        rc = i == 0 ? resp_add_array_header(h, argc) : resp_add_crlf(h);
        if (!rc) rc = resp_add_bulk_header(h, argl[i]);
    }
    start[argc] = buf_len(h);
    if (!rc) rc = resp_add_crlf(h);
    if (rc) {
        snprintf(err, errlen, "resp: out of memory");
        return -1;
    }
    struct iovec iov[2 * RESP_CLIENT_ARGS_MAX + 1];
    int n = 0;
    for (int i = 0; i < argc; i++) {
        iov[n++] = (struct iovec){buf_head(h) + start[i], start[i + 1] - start[i]};
        iov[n++] = (struct iovec){(void *)argv[i], argl[i]};
    }
    iov[n++] = (struct iovec){buf_head(h) + start[argc], 2};
    if (net_writev_all(c->fd, iov, n) < 0) {
        snprintf(err, errlen, "resp: cannot send: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* One recv into p[0..n): bytes read (> 0), or -1 with the reason in err. */
static ssize_t receive(resp_client_t *c, void *p, size_t n, char *err, size_t errlen)
{
    for (;;) {
        ssize_t r = recv(c->fd, p, n, 0);
        if (r > 0) return r;
        if (r < 0 && errno == EINTR) continue;
        if (r == 0)
            snprintf(err, errlen, "resp: connection closed by the server");
        else if (errno == EAGAIN || errno == EWOULDBLOCK)
            snprintf(err, errlen, "resp: timed out waiting for a reply");
        else
            snprintf(err, errlen, "resp: connection lost: %s", strerror(errno));
        return -1;
    }
}

/* Reads more into the line buffer, moving unread bytes to its start first. */
static int fill_in(resp_client_t *c, char *err, size_t errlen)
{
    if (c->in_pos > 0) {
        memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
        c->in_len -= c->in_pos;
        c->in_pos = 0;
    }
    if (c->in_len == sizeof c->in) {
        snprintf(err, errlen, "resp: reply line longer than %d bytes", RESP_CLIENT_LINE_MAX);
        return -1;
    }
    ssize_t r = receive(c, c->in + c->in_len, sizeof c->in - c->in_len, err, errlen);
    if (r < 0) return -1;
    c->in_len += (size_t)r;
    return 0;
}

/* The body of a bulk of len bytes and its CRLF; the header is consumed. */
static int read_bulk(resp_client_t *c, size_t len, resp_reply_t *r, char *err, size_t errlen)
{
    size_t avail = c->in_len - c->in_pos;
    if (avail >= len + 2) { /* a small reply came whole with its header: use it in place */
        const char *body = c->in + c->in_pos;
        if (body[len] != '\r' || body[len + 1] != '\n') goto no_crlf;
        r->value = (const unsigned char *)body;
        c->in_pos += len + 2;
        return 0;
    }
    if (len > c->value_cap) {
        /* The old contents are not needed: allocate afresh instead of realloc's copy. */
        free(c->value);
        c->value_cap = 0;
        c->value = malloc(len);
        if (!c->value) {
            snprintf(err, errlen, "resp: out of memory for a %zu-byte reply", len);
            return -1;
        }
        c->value_cap = len;
    }
    size_t have = avail < len ? avail : len;
    memcpy(c->value, c->in + c->in_pos, have);
    c->in_pos += have;
    while (have < len) {
        ssize_t got = receive(c, c->value + have, len - have, err, errlen);
        if (got < 0) return -1;
        have += (size_t)got;
        if (c->progress) c->progress(c->progress_arg, c->value, len, have);
    }
    while (c->in_len - c->in_pos < 2)
        if (fill_in(c, err, errlen) < 0) return -1;
    if (c->in[c->in_pos] != '\r' || c->in[c->in_pos + 1] != '\n') goto no_crlf;
    c->in_pos += 2;
    r->value = c->value;
    return 0;
no_crlf:
    snprintf(err, errlen, "resp: bulk reply of %zu bytes not followed by CRLF", len);
    return -1;
}

int resp_client_read(resp_client_t *c, resp_reply_t *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (c->fd < 0) {
        snprintf(err, errlen, "resp: not connected");
        return -1;
    }
    resp_limits_t lim = {.max_bulk = c->value_max > INT64_MAX ? INT64_MAX : (int64_t)c->value_max,
                         .max_array = INT64_MAX, /* refused below, with its own message */
                         .max_line = RESP_CLIENT_LINE_MAX + 2};
    resp_header_t h;
    ssize_t used;
    while ((used = resp_parse_header(c->in + c->in_pos, c->in_len - c->in_pos, &lim, &h)) == 0)
        if (fill_in(c, err, errlen) < 0) return -1;
    if (used < 0) {
        char shown[41];
        size_t n = c->in_len - c->in_pos < 40 ? c->in_len - c->in_pos : 40;
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)c->in[c->in_pos + i];
            shown[i] = ch >= ' ' && ch < 127 ? (char)ch : '.';
        }
        shown[n] = 0;
        if (used == RESP_ETOOBIG)
            snprintf(err, errlen,
                     "resp: reply over the limits (line %d bytes, bulk %llu bytes): '%s'",
                     RESP_CLIENT_LINE_MAX, (unsigned long long)c->value_max, shown);
        else
            snprintf(err, errlen, "resp: protocol error in reply '%s'", shown);
        return -1;
    }
    c->in_pos += (size_t)used;
    switch (h.type) {
    case RESP_SIMPLE:
    case RESP_ERROR:
        r->kind = h.type == RESP_SIMPLE ? RESP_REPLY_STATUS : RESP_REPLY_ERROR;
        ((char *)h.str)[h.len] = 0; /* the CR, already consumed */
        r->text = h.str;
        r->len = h.len;
        return 0;
    case RESP_INTEGER:
        r->kind = RESP_REPLY_INTEGER;
        r->integer = h.n;
        return 0;
    case RESP_BULK:
        if (h.n < 0) {
            r->kind = RESP_REPLY_NIL;
            return 0;
        }
        r->kind = RESP_REPLY_BULK;
        r->len = (size_t)h.n;
        return read_bulk(c, (size_t)h.n, r, err, errlen);
    case RESP_ARRAY:
        break;
    }
    snprintf(err, errlen, "resp: unexpected array reply to a simple command");
    return -1;
}
