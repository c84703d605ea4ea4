/* conn.c -- serving the proxy's requests over the node's one connection (see conn.h). */
#include "conn.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"
#include "net.h"
#include "resp.h"

#define CONN_READ_MAX (64 * 1024)      /* bytes per read into the input buffer */
#define CONN_OUT_OWNED_MAX (1u << 20)  /* stop reading requests above this much queued reply */
#define CONN_OUT_SEGS_MAX 1024         /* ... or this many queued pieces */
#define CONN_IOV_MAX 64                /* pieces per writev */

void node_conn_init(node_conn_t *c, store_t *store, policy_t *policy, uint64_t *invocations)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->store = store;
    c->policy = policy;
    c->invocations = invocations;
    buf_init(&c->in);
    buf_init(&c->small);
    node_req_init(&c->req);
}

static void seg_release(node_conn_t *c, node_out_seg_t *s)
{
    if (s->chunk) store_unref(c->store, s->chunk);
    free(s->base);
    s->chunk = NULL;
    s->base = NULL;
}

/* Drops the request being read, including a reserved chunk that was never committed. */
static void request_reset(node_conn_t *c)
{
    if (c->pending) store_abort(c->store, c->pending);
    c->pending = NULL;
    c->body_active = 0;
    c->body_len = c->body_got = 0;
    c->req_nomem = c->req_oversized = 0;
    node_req_reset(&c->req);
}

void node_conn_close(node_conn_t *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->failed = 0;
    request_reset(c);
    for (size_t i = c->seg_head; i < c->nsegs; i++) seg_release(c, &c->segs[i]);
    c->nsegs = c->seg_head = 0;
    c->out_owned = 0;
    buf_free(&c->in);
    buf_free(&c->small);
}

void node_conn_free(node_conn_t *c)
{
    node_conn_close(c);
    free(c->segs);
    c->segs = NULL;
    c->seg_cap = 0;
    node_req_free(&c->req);
}

int node_conn_ensure(node_conn_t *c, const char *host, int port, int timeout_ms)
{
    if (c->fd >= 0 && c->port == port && strcmp(c->host, host) == 0) return 0;
    if (c->fd >= 0) {
        log_info("event=proxy_moved old=%s:%d new=%s:%d", c->host, c->port, host, port);
        node_conn_close(c);
    }
    int fd = net_connect(host, port, timeout_ms);
    if (fd < 0) return fd;
    int rc = net_set_nonblock(fd, 1);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    c->fd = fd;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    return 0;
}

static int output_pending(const node_conn_t *c)
{
    return c->nsegs > c->seg_head || buf_len(&c->small) > 0;
}

static int backpressured(const node_conn_t *c)
{
    return c->out_owned + buf_len(&c->small) > CONN_OUT_OWNED_MAX ||
           c->nsegs - c->seg_head > CONN_OUT_SEGS_MAX;
}

int node_conn_inflight(const node_conn_t *c)
{
    return node_req_busy(&c->req) || c->body_active || buf_len(&c->in) > 0 || output_pending(c);
}

static int push_seg(node_conn_t *c, node_out_seg_t s)
{
    if (c->seg_head == c->nsegs) c->seg_head = c->nsegs = 0;
    if (c->nsegs == c->seg_cap) {
        if (c->seg_head > 0) { /* reuse the space of pieces already sent */
            memmove(c->segs, c->segs + c->seg_head, (c->nsegs - c->seg_head) * sizeof *c->segs);
            c->nsegs -= c->seg_head;
            c->seg_head = 0;
        } else {
            size_t cap = c->seg_cap ? c->seg_cap * 2 : 16;
            node_out_seg_t *p = realloc(c->segs, cap * sizeof *p);
            if (!p) return -ENOMEM;
            c->segs = p;
            c->seg_cap = cap;
        }
    }
    c->segs[c->nsegs++] = s;
    return 0;
}

/* Moves the batched small replies into the queue as one piece, adopting the buffer's memory. */
static int push_small(node_conn_t *c)
{
    if (buf_len(&c->small) == 0) return 0;
    node_out_seg_t s = {.base = c->small.data, .data = buf_head(&c->small),
                        .len = buf_len(&c->small)};
    if (push_seg(c, s) < 0) return -ENOMEM;
    c->out_owned += s.len;
    buf_init(&c->small);
    return 0;
}

/* Queues a chunk body without copying it; the queue holds a reference until it is written. */
static int push_chunk(node_conn_t *c, store_entry_t *e)
{
    if (push_small(c) < 0) return -ENOMEM;
    if (e->body_len == 0) return 0;
    node_out_seg_t s = {.chunk = e, .data = e->body, .len = e->body_len};
    if (push_seg(c, s) < 0) return -ENOMEM;
    store_ref(e);
    return 0;
}

int node_conn_queue_command(node_conn_t *c, int argc, const char *const *argv)
{
    return resp_add_command(&c->small, argc, argv, NULL);
}

static int parse_u32(const char *s, size_t n, uint32_t *out)
{
    uint64_t v;
    if (resp_parse_u64(s, n, &v) < 0 || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Parses "key index version" at argv[1..3]; 0 or -1 with an error reply queued. */
static int parse_chunk_id(node_conn_t *c, uint32_t *index, uint64_t *version)
{
    node_req_t *r = &c->req;
    if (parse_u32(r->argv[2], r->argl[2], index) < 0) {
        resp_add_error(&c->small, "ERR invalid chunk index");
        return -1;
    }
    if (resp_parse_u64(r->argv[3], r->argl[3], version) < 0) {
        resp_add_error(&c->small, "ERR invalid version");
        return -1;
    }
    return 0;
}

static int cmd_is(const node_req_t *r, const char *name)
{
    return r->argl[0] == strlen(name) && strncasecmp(r->argv[0], name, r->argl[0]) == 0;
}

/* A body arrives: a CSET chunk goes into a freshly reserved entry of exactly its size; anything
 * else (or a chunk that does not fit) is read and dropped so the stream stays in sync. */
static void start_body(node_conn_t *c)
{
    node_req_t *r = &c->req;
    c->body_active = 1;
    c->body_len = (size_t)r->body_len;
    c->body_got = 0;
    if (!(r->is_cset && r->argi == 5)) {
        c->req_oversized = 1;
        return;
    }
    if (r->argc != 6 || r->nargs != 5 || c->req_oversized) return;
    uint32_t index, crc;
    uint64_t version;
    if (parse_u32(r->argv[2], r->argl[2], &index) < 0 ||
        resp_parse_u64(r->argv[3], r->argl[3], &version) < 0 ||
        parse_u32(r->argv[4], r->argl[4], &crc) < 0)
        return; /* answered with an error in dispatch */
    int rc = store_reserve(c->store, r->argv[1], r->argl[1], index, version, c->body_len,
                           &c->pending);
    if (rc < 0) {
        c->pending = NULL;
        c->req_nomem = 1;
    }
}

static void reply_cset(node_conn_t *c)
{
    node_req_t *r = &c->req;
    if (c->pending) {
        uint32_t crc = 0;
        parse_u32(r->argv[4], r->argl[4], &crc);
        store_commit(c->store, c->pending, crc);
        c->pending = NULL;
        resp_add_simple(&c->small, "OK");
        return;
    }
    if (c->req_nomem) {
        resp_add_error(&c->small, "NOMEM chunk of %zu bytes does not fit: used %llu of %llu",
                       c->body_len, (unsigned long long)c->store->used,
                       (unsigned long long)c->store->limit);
        return;
    }
    uint32_t index, crc;
    uint64_t version;
    if (parse_chunk_id(c, &index, &version) < 0) return;
    if (parse_u32(r->argv[4], r->argl[4], &crc) < 0) {
        resp_add_error(&c->small, "ERR invalid crc");
        return;
    }
    resp_add_error(&c->small, "ERR chunk not stored");
}

static void reply_cget(node_conn_t *c)
{
    uint32_t index;
    uint64_t version;
    if (parse_chunk_id(c, &index, &version) < 0) return;
    store_entry_t *e = store_get(c->store, c->req.argv[1], c->req.argl[1], index, version);
    if (!e) {
        resp_add_null(&c->small);
        return;
    }
    resp_add_array_header(&c->small, 2);
    resp_add_int(&c->small, e->crc);
    resp_add_bulk_header(&c->small, e->body_len);
    if (push_chunk(c, e) < 0) {
        /* Without memory for the queue the reply cannot be completed in order: give up the
         * connection rather than send a truncated reply. */
        log_error("event=out_of_memory where=reply_queue");
        c->failed = 1;
        return;
    }
    resp_add_crlf(&c->small);
}

static policy_req_kind_t dispatch(node_conn_t *c)
{
    node_req_t *r = &c->req;
    buf_t *o = &c->small;
    if (r->argc == 0) {
        resp_add_error(o, "ERR empty command");
        return POLICY_REQ_OTHER;
    }
    if (c->req_oversized || r->nargs == 0) {
        resp_add_error(o, "ERR argument over %d bytes", NODE_REQ_MAX_ARG);
        return POLICY_REQ_OTHER;
    }
    static const struct {
        const char *name;
        int argc;
        policy_req_kind_t kind;
    } table[] = {
        {"PING", 1, POLICY_REQ_PING},  {"CSET", 6, POLICY_REQ_DATA}, {"CGET", 4, POLICY_REQ_DATA},
        {"CDEL", 4, POLICY_REQ_DATA},  {"STATS", 1, POLICY_REQ_OTHER},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (!cmd_is(r, table[i].name)) continue;
        if (r->argc != table[i].argc) {
            resp_add_error(o, "ERR wrong number of arguments for '%s'", table[i].name);
            return table[i].kind;
        }
        switch (i) {
        case 0: resp_add_simple(o, "PONG"); break;
        case 1: reply_cset(c); break;
        case 2: reply_cget(c); break;
        case 3: {
            uint32_t index;
            uint64_t version;
            if (parse_chunk_id(c, &index, &version) == 0)
                resp_add_int(o, store_del(c->store, r->argv[1], r->argl[1], index, version));
            break;
        }
        case 4:
            resp_add_array_header(o, 4);
            resp_add_int(o, (int64_t)c->store->limit);
            resp_add_int(o, (int64_t)c->store->used);
            resp_add_int(o, (int64_t)c->store->count);
            resp_add_int(o, c->invocations ? (int64_t)*c->invocations : 0);
            break;
        }
        return table[i].kind;
    }
    resp_add_error(o, "ERR unknown command '%.64s'", r->argv[0]);
    return POLICY_REQ_OTHER;
}

int node_conn_process(node_conn_t *c)
{
    for (;;) {
        if (c->body_active) {
            size_t want = c->body_len - c->body_got;
            size_t take = buf_len(&c->in) < want ? buf_len(&c->in) : want;
            if (c->pending) memcpy(c->pending->body + c->body_got, buf_head(&c->in), take);
            buf_consume(&c->in, take);
            c->body_got += take;
            if (c->body_got < c->body_len) return 0;
            c->body_active = 0;
            node_req_body_done(&c->req);
        }
        if (backpressured(c)) return 0;
        int rc = node_req_feed(&c->req, &c->in);
        if (rc < 0) return rc;
        if (rc == NODE_REQ_NEED_MORE) return 0;
        if (rc == NODE_REQ_BODY) {
            start_body(c);
            continue;
        }
        policy_req_kind_t kind = dispatch(c);
        if (c->failed) return RESP_ENOMEM;
        c->served++;
        if (c->policy) policy_on_request(c->policy, ev_now_ms(), kind);
        request_reset(c);
    }
}

/* Writes as much queued output as the socket takes. 0 (maybe with output left) or -errno. */
static int write_some(node_conn_t *c)
{
    if (push_small(c) < 0) return -ENOMEM;
    while (c->seg_head < c->nsegs) {
        struct iovec iov[CONN_IOV_MAX];
        int n = 0;
        for (size_t i = c->seg_head; i < c->nsegs && n < CONN_IOV_MAX; i++, n++) {
            iov[n].iov_base = (char *)c->segs[i].data + c->segs[i].off;
            iov[n].iov_len = c->segs[i].len - c->segs[i].off;
        }
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            return -errno;
        }
        size_t left = (size_t)w;
        while (left > 0 && c->seg_head < c->nsegs) {
            node_out_seg_t *s = &c->segs[c->seg_head];
            size_t k = s->len - s->off < left ? s->len - s->off : left;
            s->off += k;
            left -= k;
            if (s->off == s->len) {
                if (s->base) c->out_owned -= s->len;
                seg_release(c, s);
                c->seg_head++;
            }
        }
    }
    c->seg_head = c->nsegs = 0;
    if (c->policy) policy_on_done(c->policy, ev_now_ms());
    return 0;
}

int node_conn_flush(node_conn_t *c, int timeout_ms)
{
    uint64_t end = ev_now_ms() + (uint64_t)timeout_ms;
    while (c->fd >= 0 && output_pending(c)) {
        int rc = write_some(c);
        if (rc < 0) {
            log_warn("event=proxy_write_failed err=%s", strerror(-rc));
            node_conn_close(c);
            return rc;
        }
        if (!output_pending(c)) break;
        uint64_t now = ev_now_ms();
        if (now >= end) return -ETIMEDOUT;
        struct pollfd p = {c->fd, POLLOUT, 0};
        if (poll(&p, 1, (int)(end - now)) < 0 && errno != EINTR) return -errno;
    }
    return c->fd >= 0 ? 0 : -ENOTCONN;
}

/* One readable event: a chunk body goes straight from the socket into its own buffer; anything
 * else through the input buffer. Returns 0, or -1 when the connection was closed. */
static int read_step(node_conn_t *c)
{
    ssize_t n;
    if (c->body_active && c->pending && buf_len(&c->in) == 0) {
        do n = read(c->fd, c->pending->body + c->body_got, c->body_len - c->body_got);
        while (n < 0 && errno == EINTR);
        if (n < 0) n = -errno;
        if (n > 0) c->body_got += (size_t)n;
    } else {
        n = buf_read_fd(&c->in, c->fd, CONN_READ_MAX);
    }
    if (n == -EAGAIN || n == -EWOULDBLOCK) return 0;
    if (n == 0) {
        log_info("event=proxy_closed proxy=%s:%d", c->host, c->port);
        node_conn_close(c);
        return -1;
    }
    if (n < 0) {
        log_warn("event=proxy_read_failed err=%s", strerror((int)-n));
        node_conn_close(c);
        return -1;
    }
    int rc = node_conn_process(c);
    if (rc < 0) {
        log_warn("event=proxy_protocol_error err=\"%s\"", resp_strerror(rc));
        node_conn_close(c);
        return -1;
    }
    return 0;
}

void node_conn_serve(node_conn_t *c)
{
    while (c->fd >= 0) {
        uint64_t now = ev_now_ms();
        int inflight = node_conn_inflight(c);
        if (c->policy && policy_should_return(c->policy, now, inflight)) return;
        int wait = c->policy ? policy_wait_ms(c->policy, now, inflight) : -1;
        struct pollfd p = {c->fd, 0, 0};
        if (!backpressured(c)) p.events |= POLLIN;
        if (output_pending(c)) p.events |= POLLOUT;
        int n = poll(&p, 1, wait);
        if (n < 0) {
            if (errno == EINTR) continue;
            log_error("event=poll_failed err=%s", strerror(errno));
            return;
        }
        if (n == 0) continue;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            if (read_step(c) < 0) return;
        }
        if (output_pending(c)) {
            int rc = write_some(c);
            if (rc < 0) {
                log_warn("event=proxy_write_failed err=%s", strerror(-rc));
                node_conn_close(c);
                return;
            }
            /* Requests held back while the queue was full can go on now. */
            if (buf_len(&c->in) > 0 && !backpressured(c)) {
                rc = node_conn_process(c);
                if (rc < 0) {
                    log_warn("event=proxy_protocol_error err=\"%s\"", resp_strerror(rc));
                    node_conn_close(c);
                    return;
                }
            }
        }
    }
}

int node_conn_check_alive(node_conn_t *c)
{
    if (c->fd < 0) return 0;
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        log_info("event=proxy_gone_while_frozen proxy=%s:%d", c->host, c->port);
        node_conn_close(c);
        return 0;
    }
    return 1;
}

void node_conn_trim(node_conn_t *c)
{
    buf_shrink_if_empty(&c->in, 0);
    buf_shrink_if_empty(&c->small, 0);
    if (!node_req_busy(&c->req) && !c->body_active) node_req_reset(&c->req);
}
