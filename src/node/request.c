/* request.c -- the node's request reader (see request.h). */
#include "request.h"

#include <string.h>
#include <strings.h>

/* Header lines are short ("$1073741824\r\n"); a long one is garbage, not a slow sender. */
static const resp_limits_t req_limits = {
    .max_bulk = NODE_REQ_MAX_BODY,
    .max_array = NODE_REQ_MAX_ELEMENTS,
    .max_line = 64,
};

void node_req_init(node_req_t *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->store);
    r->argc = -1;
}

void node_req_reset(node_req_t *r)
{
    r->argc = -1;
    r->argi = 0;
    r->body_len = 0;
    r->after_body = 0;
    r->is_cset = 0;
    r->nargs = 0;
    buf_clear(&r->store);
    buf_shrink_if_empty(&r->store, 128 * 1024);
}

void node_req_free(node_req_t *r)
{
    buf_free(&r->store);
}

int node_req_busy(const node_req_t *r)
{
    return r->argc >= 0 || r->after_body;
}

void node_req_body_done(node_req_t *r)
{
    r->after_body = 1;
}

/* Arguments are copied into one store that may move as it grows; argv is rebuilt each time the
 * caller gets control. */
static void fix_argv(node_req_t *r)
{
    for (int i = 0; i < r->nargs; i++) r->argv[i] = buf_head(&r->store) + r->argoff[i];
}

static int keep_arg(node_req_t *r, const char *p, size_t n)
{
    size_t off = buf_len(&r->store);
    /* An empty argument appends only the NUL: buf_append of 0 bytes to a buffer that was never
     * allocated would do pointer arithmetic on NULL. */
    if ((n && buf_append(&r->store, p, n) < 0) || buf_append(&r->store, "", 1) < 0)
        return RESP_ENOMEM;
    r->argoff[r->nargs] = off;
    r->argl[r->nargs] = n;
    if (r->argi == 0) r->is_cset = n == 4 && strncasecmp(p, "CSET", 4) == 0;
    r->nargs++;
    return 0;
}

int node_req_feed(node_req_t *r, buf_t *in)
{
    resp_header_t h;
    if (r->after_body) {
        if (buf_len(in) < 2) return NODE_REQ_NEED_MORE;
        if (memcmp(buf_head(in), "\r\n", 2) != 0) return RESP_EPROTO;
        buf_consume(in, 2);
        r->after_body = 0;
        r->argi++;
    }
    if (r->argc < 0) {
        if (buf_len(in) == 0) return NODE_REQ_NEED_MORE;
        if (buf_head(in)[0] != '*') return RESP_EPROTO; /* the proxy never sends inline commands */
        ssize_t n = resp_parse_header(buf_head(in), buf_len(in), &req_limits, &h);
        if (n <= 0) return (int)n;
        if (h.n < 0) return RESP_EPROTO;
        buf_consume(in, (size_t)n);
        r->argc = h.n;
        r->argi = 0;
    }
    while (r->argi < r->argc) {
        ssize_t n = resp_parse_header(buf_head(in), buf_len(in), &req_limits, &h);
        if (n <= 0) return (int)n;
        if (h.type != RESP_BULK || h.n < 0) return RESP_EPROTO;
        if ((r->is_cset && r->argi == NODE_REQ_CSET_BODY) || h.n > NODE_REQ_MAX_ARG) {
            buf_consume(in, (size_t)n);
            r->body_len = h.n;
            fix_argv(r);
            return NODE_REQ_BODY;
        }
        if (buf_len(in) < (size_t)n + (size_t)h.n + 2) return NODE_REQ_NEED_MORE;
        const char *body = buf_head(in) + n;
        if (body[h.n] != '\r' || body[h.n + 1] != '\n') return RESP_EPROTO;
        if (r->nargs < NODE_REQ_MAX_ARGS) {
            int rc = keep_arg(r, body, (size_t)h.n);
            if (rc < 0) return rc;
        }
        buf_consume(in, (size_t)n + (size_t)h.n + 2);
        r->argi++;
    }
    fix_argv(r);
    return NODE_REQ_DONE;
}
