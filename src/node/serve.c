/* serve.c -- serving requests on a node connection, and the serving loops (see serve.h). */
#include "serve.h"

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

#include "clock.h"
#include "ec.h"
#include "ev.h"
#include "inventory.h"
#include "lanes.h"
#include "log.h"
#include "net.h"
#include "piece.h"
#include "resp.h"
#include "stream.h"
#include "sync.h"
#include "tls.h"

#define CONN_READ_MAX (64 * 1024)     /* bytes per read into the input buffer */
#define CONN_OUT_OWNED_MAX (1u << 20) /* stop reading requests above this much queued reply */
#define CONN_OUT_SEGS_MAX 1024        /* ... or this many queued pieces */

_Static_assert(EC_MAX_CHUNKS <= UINT8_MAX, "a chunk's d and p are kept in 8 bits");

void node_conn_init(node_conn_t *c, store_t *store, policy_t *policy, uint64_t *invocations)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->store = store;
    c->policy = policy;
    c->invocations = invocations;
    c->role = "proxy";
    buf_init(&c->in);
    outq_init(&c->out, store);
    nodeproto_req_init(&c->req);
}

/* Drops the request being read, including a reserved chunk that was never committed. */
static void request_reset(node_conn_t *c)
{
    if (c->pending) store_abort(c->store, c->pending);
    c->pending = NULL;
    c->body_active = 0;
    c->body_len = c->body_got = 0;
    c->req_nomem = c->req_oversized = 0;
    nodeproto_req_reset(&c->req);
}

void node_conn_close(node_conn_t *c)
{
    tls_free(c->tls);
    c->tls = NULL;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->failed = 0;
    c->challenge[0] = '\0';
    request_reset(c);
    outq_free(&c->out);
    outq_init(&c->out, c->store);
    buf_free(&c->in);
}

void node_conn_free(node_conn_t *c)
{
    node_conn_close(c);
    nodeproto_req_free(&c->req);
}

int node_conn_ensure(node_conn_t *c, const char *host, int port, int timeout_ms)
{
    if (c->fd >= 0 && c->port == port && strcmp(c->host, host) == 0 &&
        (c->tls != NULL) == (c->tls_ctx != NULL))
        return 0;
    if (c->fd >= 0) {
        log_info("event=%s_moved old=%s:%d new=%s:%d", c->role, c->host, c->port, host, port);
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
    c->generation++;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    if (c->tls_ctx) {
        c->tls = stream_tls_dial(c->tls_ctx, fd, host, port, c->role, timeout_ms, &rc);
        if (!c->tls) {
            node_conn_close(c);
            return rc;
        }
    }
    return 0;
}

/* Reads from the socket, or through TLS: >0, 0 at the end, -EAGAIN, -errno. */
static ssize_t conn_recv(node_conn_t *c, void *p, size_t n)
{
    return stream_recv(c->fd, c->tls, c->role, p, n);
}

/* Input decrypted and held in the TLS layer: poll() would not announce it. */
static int input_held(const node_conn_t *c)
{
    return c->fd >= 0 && stream_input_held(c->tls);
}

int node_conn_input_held(const node_conn_t *c)
{
    return input_held(c);
}

int node_conn_challenge_step(node_conn_t *c)
{
    if (c->fd < 0) return -ENOTCONN;
    if (c->challenge[0]) return 1;
    /* Bounded: every turn adds a byte or more, and 512 bytes without a challenge end it. */
    for (;;) {
        ssize_t used = buf_len(&c->in) ? nodeauth_parse_challenge(buf_head(&c->in), buf_len(&c->in),
                                                                  c->challenge)
                                       : 0;
        if (used < 0) return -EPROTO;
        if (used > 0) {
            buf_consume(&c->in, (size_t)used);
            return 1;
        }
        if (buf_len(&c->in) > 512) return -EPROTO;
        char in[256];
        ssize_t n = conn_recv(c, in, sizeof in);
        if (n == -EAGAIN || n == -EINTR) return 0;
        if (n == 0) return -ECONNRESET;
        if (n < 0) return (int)n;
        if (buf_append(&c->in, in, (size_t)n) < 0) return -ENOMEM;
    }
}

int node_conn_await_challenge(node_conn_t *c, int timeout_ms)
{
    if (c->fd < 0) return -ENOTCONN;
    uint64_t until = ev_now_ms() + (uint64_t)timeout_ms;
    int rc;
    for (;;) {
        rc = node_conn_challenge_step(c);
        if (rc == 1) return 0;
        if (rc < 0) break;
        uint64_t now = ev_now_ms();
        if (now >= until) {
            rc = -ETIMEDOUT;
            break;
        }
        if (!input_held(c)) {
            struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
            if (poll(&pfd, 1, (int)(until - now)) < 0 && errno != EINTR) {
                rc = -errno;
                break;
            }
        }
    }
    log_warn("event=%s_no_challenge peer=%s:%d err=%s", c->role, c->host, c->port,
             rc == -EPROTO ? "unexpected_first_message" : strerror(-rc));
    node_conn_close(c);
    return rc;
}

static int backpressured(const node_conn_t *c)
{
    return outq_owned(&c->out) > CONN_OUT_OWNED_MAX || outq_pieces(&c->out) > CONN_OUT_SEGS_MAX;
}

int node_conn_inflight(const node_conn_t *c)
{
    return nodeproto_req_busy(&c->req) || c->body_active || buf_len(&c->in) > 0 ||
           outq_pending(&c->out);
}

/* Parses "key index version" at argv[1..3]; 0 or -1 with an error reply queued. */
static int parse_chunk_id(node_conn_t *c, uint32_t *index, uint64_t *version)
{
    const char *err = nodeproto_chunk_id_decode(&c->req, index, version);
    if (err) resp_add_error(&c->out.small, "%s", err);
    return err ? -1 : 0;
}

/* A body arrives: a CSET chunk goes into a freshly reserved entry of exactly its size; anything
 * else (or a chunk that does not fit) is read and dropped so the stream stays in sync. */
static void start_body(node_conn_t *c)
{
    nodeproto_req_t *r = &c->req;
    c->body_active = 1;
    c->body_len = (size_t)r->body_len;
    c->body_got = 0;
    if (!(r->is_cset && r->argi == NODEPROTO_CSET_BODY)) {
        c->req_oversized = 1;
        return;
    }
    if (r->argc != NODEPROTO_CSET_ELEMENTS || r->nargs != NODEPROTO_CSET_BODY || c->req_oversized)
        return;
    nodeproto_cset_t a;
    if (nodeproto_cset_decode(r, &a)) return; /* answered with an error in dispatch */
    int rc = store_reserve(c->store, a.key, a.keylen, a.index, a.version, c->body_len, &c->pending);
    if (rc < 0) {
        c->pending = NULL;
        c->req_nomem = 1;
        return;
    }
    /* EC_MAX_CHUNKS fits the entry's 8-bit fields. */
    c->pending->obj_size = a.size;
    c->pending->d = (uint8_t)a.d;
    c->pending->p = (uint8_t)a.p;
    c->pending->expire_ms = a.expire_ms;
}

static void reply_cset(node_conn_t *c)
{
    nodeproto_req_t *r = &c->req;
    buf_t *o = &c->out.small;
    nodeproto_cset_t a;
    const char *err = nodeproto_cset_decode(r, &a);
    if (c->pending) {
        store_commit(c->store, c->pending, a.crc);
        c->pending = NULL;
        c->stored++;
        resp_add_simple(o, "OK");
        return;
    }
    if (c->req_nomem) {
        /* The footprint is what the chunk counts (common/footprint.h); the proxy reads used and
         * limit as the truth for this node. */
        resp_add_error(o,
                       "NOMEM chunk of %zu bytes (footprint %zu) does not fit: used %llu of %llu",
                       c->body_len, store_entry_cost(c->req.argl[1], c->body_len),
                       (unsigned long long)c->store->used, (unsigned long long)c->store->limit);
        return;
    }
    resp_add_error(o, "%s", err ? err : "ERR chunk not stored");
}

/* Without memory for the reply queue a reply cannot be completed in order: give up the
 * connection rather than send a truncated one. */
static void reply_queue_failed(node_conn_t *c)
{
    log_error("event=out_of_memory where=reply_queue");
    c->failed = 1;
}

/* The chunk a CGET or CGETR names, after the hold a throttled node puts before each chunk reply
 * (its straggler delay). NULL: answered already ($-1, the node does not hold that version) or
 * the connection failed. */
static store_entry_t *chunk_to_send(node_conn_t *c, uint32_t index, uint64_t version)
{
    uint64_t hold = c->throttle ? throttle_straggler_next(&c->throttle->straggler) : 0;
    if (hold && outq_push_hold(&c->out, ev_now_ms() + hold) < 0) {
        reply_queue_failed(c);
        return NULL;
    }
    store_entry_t *e = store_get(c->store, c->req.argv[1], c->req.argl[1], index, version);
    if (!e) resp_add_null(&c->out.small);
    return e;
}

static void reply_cget(node_conn_t *c)
{
    uint32_t index;
    uint64_t version;
    if (parse_chunk_id(c, &index, &version) < 0) return;
    store_entry_t *e = chunk_to_send(c, index, version);
    if (!e) return;
    nodeproto_put_chunk_header(&c->out.small, e->crc, e->body_len);
    if (outq_push_chunk(&c->out, e) < 0) {
        reply_queue_failed(c);
        return;
    }
    nodeproto_put_body_end(&c->out.small);
}

/* CGETR key index version offset length: a piece of a chunk, with the CRCs of the bytes around
 * it so the proxy checks it against the chunk's CRC (piece.c). */
static void reply_cgetr(node_conn_t *c)
{
    uint32_t index;
    uint64_t version, offset, length;
    buf_t *o = &c->out.small;
    const char *err = nodeproto_cgetr_decode(&c->req, &index, &version, &offset, &length);
    if (err) {
        resp_add_error(o, "%s", err);
        return;
    }
    store_entry_t *e = chunk_to_send(c, index, version);
    if (!e) return;
    if (offset > e->body_len || length > e->body_len - offset) {
        resp_add_error(o, "ERR range outside the chunk of %zu bytes", e->body_len);
        return;
    }
    uint32_t head, tail;
    piece_crcs(e, offset, length, &head, &tail); /* -ENOMEM: computed without the cache */
    nodeproto_put_piece_header(o, head, tail, (size_t)length);
    if (outq_push_piece(&c->out, e, (size_t)offset, (size_t)length) < 0) {
        reply_queue_failed(c);
        return;
    }
    nodeproto_put_body_end(o);
}

typedef struct {
    buf_t *blob;
    int rc;
} inventory_walk_t;

static void inventory_visit(store_entry_t *e, void *arg)
{
    inventory_walk_t *w = arg;
    if (w->rc < 0) return;
    inv_entry_t ie = {.key = e->key,
                      .keylen = e->key_len,
                      .index = e->index,
                      .version = e->version,
                      .crc = e->crc,
                      .chunk_len = e->body_len,
                      .size = e->obj_size,
                      .d = e->d,
                      .p = e->p,
                      .expire_ms = e->expire_ms};
    w->rc = inv_append(w->blob, &ie);
    if (w->rc == 0 && buf_len(w->blob) > NODE_INVENTORY_MAX) w->rc = -E2BIG;
}

typedef struct {
    buf_t *blob;
    int rc;
} tomb_walk_t;

static void tomb_visit(const store_tomb_t *t, void *arg)
{
    tomb_walk_t *w = arg;
    if (w->rc < 0) return;
    inv_entry_t ie = {.key = t->key,
                      .keylen = t->key_len,
                      .version = t->version,
                      .expire_ms = t->expire_ms,
                      .tomb = 1};
    w->rc = inv_append(w->blob, &ie);
    if (w->rc == 0 && buf_len(w->blob) > NODE_INVENTORY_MAX) w->rc = -E2BIG;
}

/* The list of every chunk held, as one bulk adopted by the output queue without a copy. */
static void reply_inventory(node_conn_t *c)
{
    buf_t blob;
    buf_init(&blob);
    inventory_walk_t w = {&blob, 0};
    uint64_t cursor = 0;
    do
        cursor = store_scan(c->store, cursor, inventory_visit, &w);
    while (cursor != 0 && w.rc == 0);
    /* Then the tombstones (expired ones are dropped first). */
    store_tomb_expire(c->store, clock_wall_ms());
    if (w.rc == 0) {
        tomb_walk_t tw = {&blob, 0};
        store_tomb_each(c->store, tomb_visit, &tw);
        w.rc = tw.rc;
    }
    buf_t *o = &c->out.small;
    if (w.rc < 0) {
        buf_free(&blob);
        if (w.rc == -E2BIG)
            resp_add_error(o, "ERR inventory over %zu MiB", NODE_INVENTORY_MAX >> 20);
        else
            resp_add_error(o, "ERR out of memory");
        return;
    }
    size_t len = buf_len(&blob);
    nodeproto_put_inventory_header(o, len);
    if (len > 0 && outq_push_owned(&c->out, blob.data, buf_head(&blob), len) < 0) {
        buf_free(&blob);
        reply_queue_failed(c);
        return;
    }
    if (len == 0) buf_free(&blob);
    nodeproto_put_body_end(&c->out.small);
    log_info("event=inventory chunks=%zu tombstones=%zu bytes=%zu", c->store->count,
             c->store->ntombs, len);
}

/* CDEL key index version [TOMB]: deletes the chunk; with TOMB the key's versions up to this one
 * are recorded as deleted (store_tomb_put), whether or not the chunk was here, so a restarted
 * proxy learns of the delete from any node that heard it. */
static void reply_cdel(node_conn_t *c)
{
    nodeproto_req_t *r = &c->req;
    buf_t *o = &c->out.small;
    uint32_t index;
    uint64_t version;
    int tomb = r->argc == 5;
    if (tomb && !(r->argl[4] == 4 && strncasecmp(r->argv[4], "TOMB", 4) == 0)) {
        resp_add_error(o, "ERR syntax error (CDEL key index version [TOMB])");
        return;
    }
    if (parse_chunk_id(c, &index, &version) < 0) return;
    int held = store_del(c->store, r->argv[1], r->argl[1], index, version);
    if (tomb) {
        int rc = store_tomb_put(c->store, r->argv[1], r->argl[1], version, clock_wall_ms());
        if (rc < 0)
            log_warn("event=tombstone_not_kept key_len=%zu error=\"%s\"", r->argl[1],
                     strerror(-rc));
    }
    resp_add_int(o, held);
}

/* CEXPIRE key index version expire_ms: a client changed the object's expiry (EXPIRE, PERSIST);
 * the chunk carries it into inventories, so a restarted proxy rebuilds the key with it. */
static void reply_cexpire(node_conn_t *c)
{
    nodeproto_req_t *r = &c->req;
    uint32_t index;
    uint64_t version, expire_ms;
    const char *err = nodeproto_cexpire_decode(r, &index, &version, &expire_ms);
    if (err) {
        resp_add_error(&c->out.small, "%s", err);
        return;
    }
    resp_add_int(&c->out.small,
                 store_set_expire(c->store, r->argv[1], r->argl[1], index, version, expire_ms));
}

/* CRENAME key index version newkey newversion: a client renamed the object (RENAME); the chunk
 * takes its new name where it lies, and the old name keeps a tombstone so neither a restarted
 * proxy nor a backup peer brings it back. A chunk that cannot be renamed is deleted (:0, the
 * proxy then rebuilds it under the new name). */
static void reply_crename(node_conn_t *c)
{
    nodeproto_crename_t rn;
    const char *err = nodeproto_crename_decode(&c->req, &rn);
    if (err) {
        resp_add_error(&c->out.small, "%s", err);
        return;
    }
    int rc = store_rename(c->store, rn.key, rn.keylen, rn.index, rn.version, rn.newkey,
                          rn.newkeylen, rn.newversion, clock_wall_ms());
    if (rc < 0)
        log_warn("event=rename_failed key_len=%zu new_key_len=%zu error=\"%s\"", rn.keylen,
                 rn.newkeylen, strerror(-rc));
    resp_add_int(&c->out.small, rc > 0);
}

static void reply_backup(node_conn_t *c)
{
    nodeproto_req_t *r = &c->req;
    buf_t *o = &c->out.small;
    if (!c->sync) {
        resp_add_error(o, "ERR BACKUP is not served on this connection");
        return;
    }
    char err[256];
    int signed_ = r->argc == 5;
    if (sync_start(c->sync, r->argv[1], r->argl[1], r->argv[2], r->argl[2], r->argv[3], r->argl[3],
                   signed_ ? r->argv[4] : NULL, signed_ ? r->argl[4] : 0, c->tls_ctx, err,
                   sizeof err) < 0) {
        log_warn("event=backup_refused err=\"%s\"", err);
        resp_add_error(o, "ERR %s", err);
        return;
    }
    resp_add_simple(o, "OK");
}

enum {
    CMD_PING,
    CMD_CSET,
    CMD_CGET,
    CMD_CGETR,
    CMD_CDEL,
    CMD_CEXPIRE,
    CMD_CRENAME,
    CMD_STATS,
    CMD_INVENTORY,
    CMD_SYNCDONE,
    CMD_BACKUP,
    CMD_GOAWAY,
    CMD_REFUSED,
    CMD_LANES
};

/* LANES n on lane 0: keep lanes 1..n-1 to the proxy (lanes.c dials them without blocking this
 * one); +OK once their dials have started. */
static void reply_lanes(node_conn_t *c)
{
    buf_t *o = &c->out.small;
    unsigned n;
    const char *err = nodeproto_lanes_decode(&c->req, &n);
    if (err) {
        resp_add_error(o, "%s", err);
        return;
    }
    if (!c->lanes) {
        resp_add_error(o, "ERR LANES is not served on this connection");
        return;
    }
    int rc = lanes_request(c->lanes, n, ev_now_ms());
    if (rc < 0) {
        resp_add_error(o, "ERR lanes: %s", strerror(-rc));
        return;
    }
    resp_add_simple(o, "OK");
}

static policy_req_kind_t dispatch(node_conn_t *c)
{
    nodeproto_req_t *r = &c->req;
    buf_t *o = &c->out.small;
    if (r->argc == 0) {
        resp_add_error(o, "ERR empty command");
        return POLICY_REQ_OTHER;
    }
    if (r->nargs == 0) { /* the command name itself was over the limit */
        resp_add_error(o, "ERR argument over %d bytes", NODEPROTO_MAX_ARG);
        return POLICY_REQ_OTHER;
    }
    static const struct {
        int id;
        const char *name;
        int argc;
        policy_req_kind_t kind;
        const char *usage; /* in the arity error */
        int lane0_only;    /* refused on an extra lane (below) */
    } table[] = {
        {CMD_PING, "PING", 1, POLICY_REQ_PING, "", 0},
        {CMD_CSET, "CSET", NODEPROTO_CSET_ELEMENTS, POLICY_REQ_DATA,
         " (CSET key index version crc size d p expire_ms chunk)", 0},
        {CMD_CGET, "CGET", 4, POLICY_REQ_DATA, "", 0},
        {CMD_CGETR, "CGETR", 6, POLICY_REQ_DATA, " (CGETR key index version offset length)", 0},
        {CMD_CDEL, "CDEL", 4, POLICY_REQ_DATA, " (CDEL key index version [TOMB])", 0},
        {CMD_CEXPIRE, "CEXPIRE", 5, POLICY_REQ_DATA, " (CEXPIRE key index version expire_ms)", 0},
        {CMD_CRENAME, "CRENAME", 6, POLICY_REQ_DATA,
         " (CRENAME key index version newkey newversion)", 0},
        {CMD_STATS, "STATS", 1, POLICY_REQ_OTHER, "", 0},
        {CMD_INVENTORY, "INVENTORY", 1, POLICY_REQ_OTHER, "", 1},
        {CMD_SYNCDONE, "SYNCDONE", 1, POLICY_REQ_OTHER, "", 1},
        {CMD_BACKUP, "BACKUP", 4, POLICY_REQ_OTHER, " (BACKUP relay token endpoint [sigv4])", 1},
        {CMD_GOAWAY, "GOAWAY", 1, POLICY_REQ_OTHER, "", 1},
        {CMD_REFUSED, "REFUSED", 2, POLICY_REQ_OTHER, "", 0},
        {CMD_LANES, "LANES", 2, POLICY_REQ_OTHER, " (LANES n)", 1},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (!nodeproto_req_is(r, table[i].name)) continue;
        /* What concerns the node as a whole goes over lane 0 alone: the lane count, backups (one
         * at a time, reported on lane 0), GOAWAY (which ends the instance's use), and INVENTORY,
         * whose list of every chunk is built in memory per request: shards asking on their
         * lanes would hold one copy each in a function of 128 MiB, and the node cannot tell
         * which keys a shard owns. The proxy reads it once on lane 0 and splits it. */
        if (table[i].lane0_only && c->lane > 0) {
            resp_add_error(o, "ERR %s is served on lane 0 only", table[i].name);
            return table[i].kind;
        }
        /* BACKUP takes an optional fifth argument: how to sign its invocation; CDEL one that
         * leaves a tombstone. */
        int extra_ok =
            (table[i].id == CMD_BACKUP || table[i].id == CMD_CDEL) && r->argc == table[i].argc + 1;
        if (r->argc != table[i].argc && !extra_ok) {
            resp_add_error(o, "ERR wrong number of arguments for '%s'%s", table[i].name,
                           table[i].usage);
            return table[i].kind;
        }
        if (c->req_oversized) {
            resp_add_error(o, "ERR argument over %d bytes", NODEPROTO_MAX_ARG);
            return table[i].kind;
        }
        switch (table[i].id) {
        case CMD_PING:
            resp_add_simple(o, "PONG");
            break;
        case CMD_CSET:
            reply_cset(c);
            break;
        case CMD_CGET:
            reply_cget(c);
            break;
        case CMD_CGETR:
            reply_cgetr(c);
            break;
        case CMD_CDEL:
            reply_cdel(c);
            break;
        case CMD_CEXPIRE:
            reply_cexpire(c);
            break;
        case CMD_CRENAME:
            reply_crename(c);
            break;
        case CMD_STATS:
            nodeproto_put_stats(o, c->store->limit, c->store->used, c->store->count,
                                c->invocations ? *c->invocations : 0);
            break;
        case CMD_INVENTORY:
            reply_inventory(c);
            break;
        case CMD_SYNCDONE:
            c->sync_done = 1;
            resp_add_simple(o, "OK");
            break;
        case CMD_BACKUP:
            reply_backup(c);
            break;
        case CMD_LANES:
            reply_lanes(c);
            break;
        case CMD_GOAWAY:
            /* The proxy uses another instance of this function; it closes this connection. */
            c->goaway = 1;
            resp_add_simple(o, "OK");
            break;
        case CMD_REFUSED:
            /* The proxy did not accept this node's proof (another node secret) and closes the
             * connection; nothing is answered. The invocation then fails with the reason. */
            snprintf(c->refused, sizeof c->refused, "%.*s",
                     (int)(r->argl[1] < 48 ? r->argl[1] : 48), r->argv[1]);
            log_error("event=refused_by_proxy reason=%s hint=\"check IC_NODE_SECRET against the "
                      "proxy's node secret\"",
                      c->refused);
            c->failed = 1;
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
            if (c->pending && take) memcpy(c->pending->body + c->body_got, buf_head(&c->in), take);
            buf_consume(&c->in, take);
            c->body_got += take;
            if (c->body_got < c->body_len) return 0;
            c->body_active = 0;
            nodeproto_req_body_done(&c->req);
        }
        if (backpressured(c)) return 0;
        int rc = nodeproto_req_feed(&c->req, &c->in);
        if (rc < 0) return rc;
        if (rc == NODEPROTO_REQ_NEED_MORE) return 0;
        if (rc == NODEPROTO_REQ_BODY) {
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

/* Milliseconds until queued output may be written under the throttle: 0 now, UINT64_MAX when
 * nothing is queued. */
static uint64_t output_wait_ms(const node_conn_t *c, uint64_t now)
{
    if (!outq_pending(&c->out)) return UINT64_MAX;
    if (!c->throttle) return 0;
    uint64_t until;
    if (outq_held(&c->out, now, &until)) return until - now;
    return throttle_bucket_wait_ms(&c->throttle->bucket, now);
}

int node_conn_wait_ms(const node_conn_t *c, uint64_t now)
{
    if (c->fd < 0) return -1;
    uint64_t w = output_wait_ms(c, now);
    if (w == 0 || w == UINT64_MAX) return -1; /* writable now (POLLOUT says when), or nothing */
    return w > 60000 ? 60000 : (int)w;
}

/* Writes what the socket and the throttle take. Returns bytes written or -errno. */
static ssize_t write_throttled(node_conn_t *c)
{
    if (!c->throttle && !c->tls) return outq_write(&c->out, c->fd);
    uint64_t now = ev_now_ms();
    size_t allow = c->throttle ? throttle_bucket_allow(&c->throttle->bucket, now) : SIZE_MAX;
    if (allow == 0) return 0;
    if (!c->throttle) now = UINT64_MAX; /* holds are the throttle's: none without it */
    ssize_t w = c->tls ? outq_write_with(&c->out, stream_tls_writer, c->tls, now, allow)
                       : outq_write_upto(&c->out, c->fd, now, allow);
    if (w > 0 && c->throttle) throttle_bucket_consume(&c->throttle->bucket, (size_t)w);
    return w;
}

/* Writes as much queued output as the socket takes. 0, or -1 when the connection was closed. */
static int write_step(node_conn_t *c)
{
    ssize_t w = write_throttled(c);
    if (w < 0) {
        log_warn("event=%s_write_failed err=%s", c->role, strerror((int)-w));
        node_conn_close(c);
        return -1;
    }
    if (w > 0) c->last_io = ev_now_ms();
    if (!outq_pending(&c->out) && c->policy) policy_on_done(c->policy, ev_now_ms());
    return 0;
}

int node_conn_flush(node_conn_t *c, int timeout_ms)
{
    uint64_t end = ev_now_ms() + (uint64_t)timeout_ms;
    while (c->fd >= 0 && outq_pending(&c->out)) {
        if (write_step(c) < 0) return -EPIPE;
        if (!outq_pending(&c->out)) break;
        uint64_t now = ev_now_ms();
        if (now >= end) return -ETIMEDOUT;
        int wait = (int)(end - now), gate = node_conn_wait_ms(c, now);
        if (gate >= 0 && gate < wait) wait = gate;
        struct pollfd p = {c->fd, node_conn_poll_events(c) & POLLOUT, 0};
        if (poll(&p, 1, wait) < 0 && errno != EINTR) return -errno;
    }
    return c->fd >= 0 ? 0 : -ENOTCONN;
}

/* One readable event: a chunk body goes straight from the socket into its own buffer; anything
 * else through the input buffer. Returns 0, or -1 when the connection was closed. */
static int read_step(node_conn_t *c)
{
    ssize_t n;
    if (c->body_active && c->pending && buf_len(&c->in) == 0) {
        n = conn_recv(c, c->pending->body + c->body_got, c->body_len - c->body_got);
        if (n > 0) c->body_got += (size_t)n;
    } else if (buf_reserve(&c->in, CONN_READ_MAX) < 0) {
        n = -ENOMEM;
    } else {
        n = conn_recv(c, c->in.data + c->in.end, CONN_READ_MAX);
        if (n > 0) c->in.end += (size_t)n;
    }
    if (n == -EAGAIN || n == -EWOULDBLOCK) return 0;
    if (n == 0) {
        log_info("event=%s_closed addr=%s:%d", c->role, c->host, c->port);
        node_conn_close(c);
        return -1;
    }
    if (n < 0) {
        log_warn("event=%s_read_failed err=%s", c->role, strerror((int)-n));
        node_conn_close(c);
        return -1;
    }
    c->last_io = ev_now_ms();
    int rc = node_conn_process(c);
    if (rc < 0) {
        /* REFUSED fails the connection too; dispatch has said why. */
        if (!c->refused[0])
            log_warn("event=%s_protocol_error err=\"%s\"", c->role, nodeproto_strerror(rc));
        node_conn_close(c);
        return -1;
    }
    return 0;
}

short node_conn_poll_events(const node_conn_t *c)
{
    short ev = 0;
    if (!backpressured(c)) ev |= POLLIN;
    if (output_wait_ms(c, ev_now_ms()) == 0) ev |= POLLOUT;
    return ev;
}

/* One poll result: read and process, then write. hold_after_syncdone (a backup peer): once
 * SYNCDONE is answered nothing more is written here, so its +OK stays queued for the caller. */
static int handle(node_conn_t *c, short revents, int hold_after_syncdone)
{
    if (c->fd < 0) return -1;
    if ((revents & (POLLIN | POLLHUP | POLLERR)) && read_step(c) < 0) return -1;
    if (hold_after_syncdone && c->sync_done) return 0;
    if (outq_pending(&c->out)) {
        if (write_step(c) < 0) return -1;
        /* Requests held back while the queue was full can go on now. */
        if (buf_len(&c->in) > 0 && !backpressured(c)) {
            int rc = node_conn_process(c);
            if (rc < 0) {
                log_warn("event=%s_protocol_error err=\"%s\"", c->role, nodeproto_strerror(rc));
                node_conn_close(c);
                return -1;
            }
        }
    }
    return 0;
}

int node_conn_handle(node_conn_t *c, short revents)
{
    return handle(c, revents, 0);
}

/* A finished backup: BACKUPDONE token status chunks_sent bytes_sent chunks_deleted to the proxy
 * (if it is still there), then the sync is idle again. */
static void backup_report(node_conn_t *c)
{
    struct sync *s = c->sync;
    int ok = strcmp(s->status, "ok") == 0;
    uint64_t now = ev_now_ms();
    log_write(ok ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
              "event=backup_done token=%s status=%s chunks=%llu bytes=%llu deleted=%llu ms=%llu "
              "reported=%d",
              s->token, s->status, (unsigned long long)s->chunks_sent,
              (unsigned long long)s->bytes_sent, (unsigned long long)s->chunks_deleted,
              (unsigned long long)(now - s->started_ms), c->fd >= 0);
    if (c->fd >= 0) {
        if (nodeproto_put_backupdone(&c->out.small, s->token, s->status, s->chunks_sent,
                                     s->bytes_sent, s->chunks_deleted) < 0)
            log_error("event=out_of_memory where=backup_done");
    }
    sync_reset(s);
    if (c->policy) policy_on_done(c->policy, now);
}

void node_conn_serve(node_conn_t *c)
{
    struct sync *s = c->sync;
    struct lanes *l = c->lanes;
    for (;;) {
        uint64_t now = ev_now_ms();
        if (s && sync_finished(s)) backup_report(c);
        int syncing = s && sync_active(s);
        if (l) lanes_step(l, now); /* drops the lanes once lane 0 is gone */
        if (c->fd < 0 && !syncing) return;
        int inflight = (c->fd >= 0 && node_conn_inflight(c)) || syncing || (l && lanes_inflight(l));
        if (c->policy && policy_should_return(c->policy, now, inflight)) {
            if (syncing) {
                sync_abort(s, "deadline");
                backup_report(c);
            }
            return;
        }
        int wait = c->policy ? policy_wait_ms(c->policy, now, inflight) : -1;
        int gate = node_conn_wait_ms(c, now); /* throttled output moves again then */
        if (gate >= 0 && (wait < 0 || gate < wait)) wait = gate;
        struct pollfd p[2 + NODE_LANES_MAX];
        int np = 0, ci = -1, si = -1, li = -1, lanes_held = 0;
        if (c->fd >= 0) {
            p[np] = (struct pollfd){c->fd, node_conn_poll_events(c), 0};
            ci = np++;
        }
        if (syncing) {
            int w = sync_wait_ms(s, now);
            if (w >= 0 && (wait < 0 || w < wait)) wait = w;
            if (sync_fd(s) >= 0) {
                p[np] = (struct pollfd){sync_fd(s), sync_poll_events(s), 0};
                si = np++;
            }
        }
        if (l) {
            int w = lanes_wait_ms(l, now);
            if (w >= 0 && (wait < 0 || w < wait)) wait = w;
            li = np;
            np += (int)lanes_poll(l, p + np, &lanes_held);
        }
        int held = ci >= 0 && (p[ci].events & POLLIN) && input_held(c);
        int n = poll(p, (nfds_t)np, held || lanes_held ? 0 : wait);
        if (n < 0) {
            if (errno == EINTR) continue;
            log_error("event=poll_failed err=%s", strerror(errno));
            if (syncing) {
                sync_abort(s, "poll_failed");
                backup_report(c);
            }
            return;
        }
        if (held) p[ci].revents |= POLLIN;
        if (ci >= 0 && p[ci].revents) node_conn_handle(c, p[ci].revents);
        if (li >= 0) lanes_handle(l, p + li, ev_now_ms());
        if (syncing) sync_step(s, si >= 0 ? p[si].revents : 0, ev_now_ms());
    }
}

node_peer_end_t node_conn_serve_peer(node_conn_t *c, uint64_t stop_at, uint64_t timeout_ms)
{
    c->last_io = ev_now_ms();
    for (;;) {
        if (c->fd < 0) return NODE_PEER_CLOSED;
        if (c->sync_done) return NODE_PEER_SYNCED; /* its +OK is written by the caller */
        uint64_t now = ev_now_ms();
        if (stop_at && now >= stop_at) return NODE_PEER_DEADLINE;
        uint64_t quiet_end = c->last_io + timeout_ms;
        if (now >= quiet_end) return NODE_PEER_TIMEOUT;
        uint64_t until = stop_at && stop_at < quiet_end ? stop_at : quiet_end;
        uint64_t wait = until - now;
        struct pollfd p = {c->fd, node_conn_poll_events(c), 0};
        int held = (p.events & POLLIN) && input_held(c);
        int n = poll(&p, 1, held ? 0 : wait > 60000 ? 60000 : (int)wait);
        if (n < 0) {
            if (errno == EINTR) continue;
            log_error("event=poll_failed err=%s", strerror(errno));
            return NODE_PEER_CLOSED;
        }
        if (held) {
            p.revents |= POLLIN;
            n = 1;
        }
        if (n > 0) handle(c, p.revents, 1);
    }
}

int node_conn_check_alive(node_conn_t *c)
{
    if (c->fd < 0) return 0;
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        log_info("event=%s_gone_while_frozen addr=%s:%d", c->role, c->host, c->port);
        node_conn_close(c);
        return 0;
    }
    return 1;
}

void node_conn_trim(node_conn_t *c)
{
    buf_shrink_if_empty(&c->in, 0);
    buf_shrink_if_empty(&c->out.small, 0);
    if (!nodeproto_req_busy(&c->req) && !c->body_active) nodeproto_req_reset(&c->req);
}
