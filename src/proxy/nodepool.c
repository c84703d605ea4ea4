/* nodepool.c -- the proxy's side of cache nodes: wake-up by invocation, HELLO/BYE, pipelined chunk
 * requests answered in order, ping of idle nodes, and failure of everything a lost node held. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "net.h"
#include "invoker.h"
#include "lifecycle.h"
#include "nodeproto.h"
#include "nodepool.h"
#include "bill.h"
#include "op.h"
#include "repair.h"
#include "schedule.h"
#include "server.h"
#include "transport.h"
#include "resp.h"

#define NODE_READ_SIZE (256 * 1024)

/* Requests with short keys (nearly all) are recycled through a free list: a small GET or SET
 * makes several of them. A request never leaves its thread: one list per thread. */
#define NREQ_POOLED_KEY 64
#define NREQ_POOL_MAX 4096
static _Thread_local nreq_t *nreq_pool;
static _Thread_local int nreq_pooled;

nreq_t *nreq_new(nreq_kind_t kind, op_t *op, int slot, const char *key, size_t keylen, int index,
                 uint64_t version)
{
    nreq_t *q;
    if (keylen <= NREQ_POOLED_KEY && nreq_pool) {
        q = nreq_pool;
        nreq_pool = q->next;
        nreq_pooled--;
        memset(q, 0, sizeof *q);
    } else {
        q = calloc(1, sizeof *q + (keylen <= NREQ_POOLED_KEY ? NREQ_POOLED_KEY : keylen) + 1);
        if (!q) return NULL;
    }
    q->kind = kind;
    q->op = op;
    q->slot = slot;
    q->key = (char *)(q + 1);
    if (keylen && key) memcpy(q->key, key, keylen);
    q->keylen = keylen;
    q->index = index;
    q->version = version;
    return q;
}

void nreq_free(nreq_t *q)
{
    if (!q) return;
    objbuf_unref(q->body_ref);
    if (q->keylen <= NREQ_POOLED_KEY && nreq_pooled < NREQ_POOL_MAX) {
        q->next = nreq_pool;
        nreq_pool = q;
        nreq_pooled++;
        return;
    }
    free(q);
}

void node_init(server_t *srv, node_t *n, int id)
{
    memset(n, 0, sizeof *n);
    n->id = id;
    n->srv = srv;
    snprintf(n->function, sizeof n->function, "%s%d", srv->cfg.function_prefix, id);
    n->state = NODE_DOWN;
    n->room.mem_limit = (uint64_t)(srv->cfg.node_memory_mb - srv->cfg.node_reserved_mb) << 20;
}

static void complete(nreq_t *q, nres_t res, const char *err)
{
    if (q->done)
        q->done(q, res, err);
    else
        nreq_free(q);
}

static void fail_list(nreq_queue_t *list, nres_t res, const char *err)
{
    nreq_t *q = list->head;
    QUEUE_CLEAR(list);
    while (q) {
        nreq_t *next = q->next;
        q->next = NULL;
        /* Only reads learn anything from a vanished instance: what it held is gone. */
        complete(q, q->kind == NREQ_CGET || q->kind == NREQ_CGETR ? res : NRES_ERROR, err);
        q = next;
    }
}

/* res: NRES_MISSING when the instance itself is gone (its memory with it), else NRES_ERROR. */
static void fail_inflight_as(node_t *n, nres_t res, const char *err)
{
    n->inflight = 0;
    n->ping_outstanding = 0;
    ev_timer_cancel(n->srv->loop, n->ping_timer);
    n->ping_timer = 0;
    fail_list(&n->sent, res, err);
}

static void fail_inflight(node_t *n, const char *err)
{
    fail_inflight_as(n, NRES_ERROR, err);
}

static void fail_pending(node_t *n, const char *err)
{
    fail_list(&n->pending, NRES_ERROR, err);
}

static void invoke_timeout_cb(ev_loop_t *loop, void *arg)
{
    node_t *n = arg;
    n->invoke_timer = 0;
    if (n->state != NODE_INVOKING) return;
    uint64_t waited = ev_now_ms() - n->invoke_started_ms;
    if (waited < (uint64_t)n->srv->cfg.node_connect_timeout_ms) {
        /* An Event invocation can be lost without a word (the instance it landed on died):
         * ask again, as the wait for this node is not over yet. */
        log_info("event=invoke_retry node=%d waited_ms=%" PRIu64, n->id, waited);
        node_invoke(n, "activate");
        return;
    }
    char err[160];
    snprintf(err, sizeof err, "node %d did not connect within %" PRId64 " ms", n->id,
             n->srv->cfg.node_connect_timeout_ms);
    log_warn("event=node_wait_timeout node=%d", n->id);
    n->srv->stats.node_timeouts++;
    n->state = n->conn ? NODE_ASLEEP : NODE_DOWN;
    fail_pending(n, err);
    if (n->conn && n->sent.head) {
        /* Requests written to an instance that never woke up cannot be trusted any more. */
        conn_t *c = n->conn;
        n->conn = NULL;
        n->state = NODE_DOWN;
        fail_inflight(n, err);
        c->owner = NULL;
        conn_close_async(c);
    }
}

void node_invoke(node_t *n, const char *cmd)
{
    server_t *srv = n->srv;
    if (srv->fenced) return; /* replaced: the nodes would refuse it anyway */
    /* The event is sealed with the node secret over its every field, a timestamp and a nonce:
     * a node obeys no event that fails the check, so nobody else can send it elsewhere. Its
     * epoch fences every proxy started before this one (docs/STANDBY.md). */
    char inner[400], nonce[NODEAUTH_NONCE_HEX + 1], payload[1024];
    if (nodeauth_random_hex(nonce, NODEAUTH_NONCE_BYTES) < 0) {
        log_error("event=invoke_failed node=%d err=\"random generator failed\"", n->id);
        return;
    }
    int ilen = snprintf(inner, sizeof inner,
                        "{\"cmd\":\"%s\",\"node_id\":%d,\"proxy\":\"%s\",\"ts\":%" PRIu64
                        ",\"nonce\":\"%s\",\"epoch\":%" PRIu64 "%s}",
                        cmd, n->id, srv->node_addr, clock_wall_ms(), nonce, srv->epoch,
                        srv->node_tls ? ",\"tls\":true" : "");
    if (ilen < 0 || (size_t)ilen >= sizeof inner ||
        nodeauth_event_seal(srv->node_secrets.current, n->function, inner, (size_t)ilen, payload,
                            sizeof payload) < 0) {
        log_error("event=invoke_failed node=%d err=\"event too long\"", n->id);
        return;
    }
    if (strcmp(cmd, "activate") == 0 || strcmp(cmd, "backup") == 0) {
        if (n->state != NODE_INVOKING) {
            n->invoke_started_ms = ev_now_ms();
            n->invoke_attempts = 0;
        } else {
            n->invoke_attempts++;
        }
        n->state = NODE_INVOKING;
        ev_timer_cancel(srv->loop, n->invoke_timer);
        uint64_t left =
            (uint64_t)srv->cfg.node_connect_timeout_ms - (ev_now_ms() - n->invoke_started_ms);
        uint64_t retry = (uint64_t)srv->cfg.invoke_retry_ms;
        uint64_t wait = retry && retry < left ? retry : left;
        n->invoke_timer = ev_timer_add(srv->loop, wait, invoke_timeout_cb, n);
    }
    n->invocations++;
    srv->stats.invocations++;
    srv->stats.invocations_by_kind[billing_kind_of_command(cmd)]++;
    log_debug("event=invoke node=%d cmd=%s", n->id, cmd);
    invoker_invoke(srv->invoker, n->id, n->function, payload);
}

void node_invoke_result(server_t *srv, int node_id, int ok, const char *err)
{
    if (node_id < 0 || node_id >= srv->nnodes) return;
    node_t *n = &srv->nodes[node_id];
    if (ok) return;
    srv->stats.invoke_failures++;
    log_warn("event=invoke_failed node=%d error=\"%s\"", node_id, err);
    if (n->state != NODE_INVOKING) return;
    ev_timer_cancel(srv->loop, n->invoke_timer);
    n->invoke_timer = 0;
    n->state = n->conn ? NODE_ASLEEP : NODE_DOWN;
    char msg[300];
    snprintf(msg, sizeof msg, "invoking %s failed: %s", n->function, err);
    fail_pending(n, msg);
    if (n->conn && n->sent.head) fail_inflight(n, msg);
}

static void ping_timeout_cb(ev_loop_t *loop, void *arg)
{
    node_t *n = arg;
    n->ping_timer = 0;
    if (!n->ping_outstanding || n->state != NODE_AWAKE) return;
    /* A node that said no BYE but does not answer is frozen or stuck: invoke it again. The
     * platform starts a fresh instance if the old one is still "busy"; its HELLO replaces the
     * stuck connection. */
    log_warn("event=ping_timeout node=%d", n->id);
    n->srv->stats.node_timeouts++;
    n->replace_ok = 1; /* whichever instance answers next takes over */
    node_invoke(n, "activate");
}

/* Encodes q's request (nodeproto.c) into buffer b: for a CSET, up to its chunk's bulk header. */
static int encode_request(buf_t *b, const nreq_t *q)
{
    switch (q->kind) {
    case NREQ_PING:
        return nodeproto_put_simple(b, NODEPROTO_PING);
    case NREQ_INVENTORY:
        return nodeproto_put_simple(b, NODEPROTO_INVENTORY);
    case NREQ_CGET:
        return nodeproto_put_cget(b, q->key, q->keylen, (uint32_t)q->index, q->version);
    case NREQ_CGETR:
        return nodeproto_put_cgetr(b, q->key, q->keylen, (uint32_t)q->index, q->version,
                                   q->piece_off, q->piece_len);
    case NREQ_CDEL:
        return nodeproto_put_cdel(b, q->key, q->keylen, (uint32_t)q->index, q->version, q->tomb);
    case NREQ_CEXPIRE:
        return nodeproto_put_cexpire(b, q->key, q->keylen, (uint32_t)q->index, q->version,
                                     q->expire_ms);
    case NREQ_CRENAME:
        return nodeproto_put_crename(b, q->key, q->keylen, (uint32_t)q->index, q->version,
                                     q->newkey, q->newkeylen, q->new_version);
    case NREQ_CSET: {
        nodeproto_cset_t c = {.key = q->key,
                              .keylen = q->keylen,
                              .index = (uint32_t)q->index,
                              .version = q->version,
                              .crc = q->crc,
                              .size = q->obj_size,
                              .d = q->d,
                              .p = q->p,
                              .expire_ms = q->expire_ms,
                              .body_len = q->body_len};
        return nodeproto_put_cset(b, &c);
    }
    case NREQ_BACKUP: {
        /* key holds "relay token endpoint [sigv4]" (lifecycle.c) */
        const char *f[4] = {0}, *a = q->key, *end = q->key + q->keylen;
        size_t fl[4] = {0};
        int fields = 1;
        for (const char *c = a; c < end; c++)
            fields += *c == ' ';
        fields = fields >= 4 ? 4 : 3;
        for (int k = 0; k < fields; k++) {
            const char *sp = memchr(a, ' ', (size_t)(end - a));
            if (!sp || k == fields - 1) sp = end;
            f[k] = a;
            fl[k] = (size_t)(sp - a);
            a = sp < end ? sp + 1 : end;
        }
        return nodeproto_put_backup(b, f[0], fl[0], f[1], fl[1], f[2], fl[2], f[3], fl[3]);
    }
    }
    return 0;
}

/* Writes one request to the node connection: the header is encoded into a scratch buffer that
 * is kept between calls (the proxy is single-threaded), a CSET body from memory is queued by
 * reference. */
static void write_request(node_t *n, nreq_t *q)
{
    static buf_t scratch;
    conn_t *c = n->conn;
    buf_clear(&scratch);
    if (encode_request(&scratch, q) < 0) {
        conn_fail(c, "out of memory");
        return;
    }
    conn_write(c, buf_head(&scratch), buf_len(&scratch));
    /* A long key's header does not stay allocated. */
    buf_clear(&scratch);
    buf_shrink_if_empty(&scratch, 4096);
    if (q->kind == NREQ_CSET && !q->body_src) {
        /* Small bodies are copied into the batch (cheaper than a segment of their own); large
         * ones are written from the object by reference. */
        if (q->body_len <= 8192)
            conn_write(c, q->body_ptr, q->body_len);
        else
            conn_write_ref(c, q->body_ref, q->body_ptr, q->body_len);
        nodeproto_put_body_end(&scratch);
        conn_write_buf(c, &scratch);
    }
    q->sent_ms = ev_now_ms();
    QUEUE_PUSH_TAIL(&n->sent, q, next);
    n->inflight++;
}

/* The body of a streamed CSET has been moved (or the move failed). */
static void stream_body_done(relay_t *r, relay_status_t st, void *arg)
{
    nreq_t *q = arg;
    icset_body_moved(q->op, q->slot, st);
}

static void warm_wait_done(ev_loop_t *loop, void *arg)
{
    node_t *n = arg;
    n->warm_timer = 0;
    node_kick(n);
}

static void flush_deferred(node_t *n);

void node_kick(node_t *n)
{
    server_t *srv = n->srv;
    if (srv->fenced) {
        fail_pending(n, "FENCED this proxy was replaced by one of a higher takeover epoch");
        return;
    }
    if (node_reachable(n)) flush_deferred(n);
    if (!n->pending.head) return;
    if ((n->state == NODE_DOWN || n->state == NODE_ASLEEP) && ev_now_ms() < n->warming_until_ms) {
        /* A warm-up is running on the function's instance: an invocation now would find it
         * busy and start a second, empty instance. Wait for the warm-up to end. */
        if (!n->warm_timer)
            n->warm_timer =
                ev_timer_add(srv->loop, n->warming_until_ms - ev_now_ms(), warm_wait_done, n);
        return;
    }
    if (n->state == NODE_DOWN || n->state == NODE_ASLEEP) {
        /* Woken for a backup only: the invocation is billed as backup. */
        node_invoke(
            n, sched_wake_command(n->pending.head->kind == NREQ_BACKUP && !n->pending.head->next));
        return;
    }
    if (n->state != NODE_AWAKE || !n->conn) return;
    conn_t *c = n->conn;
    if (!n->ping_outstanding && n->inflight == 0 &&
        ev_now_ms() - c->last_rx_ms > (uint64_t)srv->cfg.ping_idle_ms) {
        nreq_t *ping = nreq_new(NREQ_PING, NULL, 0, NULL, 0, 0, 0);
        if (ping) {
            write_request(n, ping);
            n->ping_outstanding = 1;
            n->ping_timer =
                ev_timer_add(srv->loop, (uint64_t)srv->cfg.ping_timeout_ms, ping_timeout_cb, n);
        }
    }
    while (!QUEUE_EMPTY(&n->pending) && !c->tx_relay && !c->closing) {
        nreq_t *q;
        QUEUE_POP_HEAD(&n->pending, q, next);
        conn_t *src = q->body_src;
        write_request(n, q);
        if (q->kind == NREQ_CSET && src) {
            q->body_src = NULL; /* the body is on its way; nobody else may drain it */
            if (!relay_start(src, RELAY_TO_CONN, c, NULL, q->body_len, stream_body_done, q)) {
                conn_fail(c, "out of memory");
                return;
            }
        }
    }
    conn_mark_dirty(c);
}

void node_submit(node_t *n, nreq_t *q)
{
    q->node = n;
    QUEUE_PUSH_TAIL(&n->pending, q, next);
    node_kick(n);
}

/* Keeps a delete for the instance's return. Past the bound the instance must be inventoried
 * again, which deletes whatever it holds that the proxy does not know (repair_inventory). */
static void defer_delete(node_t *n, nreq_t *q)
{
    if (n->ndeferred >= NODE_DEFERRED_MAX) {
        if (n->inventoried) log_warn("event=deferred_deletes_full node=%d", n->id);
        n->inventoried = 0;
        n->srv->stats.deletes_dropped++;
        nreq_free(q);
        return;
    }
    q->node = n;
    q->answered = 0;
    QUEUE_PUSH_TAIL(&n->deferred, q, next);
    n->ndeferred++;
    n->srv->stats.deletes_deferred++;
}

/* A delete that never reached the instance (its connection was lost, the invocation failed,
 * it timed out) waits for its return; one the node answered, even with an error, is done. */
static void cdel_done(nreq_t *q, nres_t res, const char *err)
{
    if (res == NRES_ERROR && !q->answered) {
        defer_delete(q->node, q);
        return;
    }
    nreq_free(q);
}

static void cdel_acked(nreq_t *q, nres_t res, const char *err)
{
    op_t *op = q->op;
    q->op = NULL;
    q->done = cdel_done;
    cdel_done(q, res, err);
    ops_delete_acked(op);
}

int node_reachable(const node_t *n)
{
    return n->state == NODE_AWAKE && n->conn;
}

static int delete_chunk(node_t *n, const char *key, size_t keylen, int index, uint64_t version,
                        int tomb, op_t *op)
{
    nreq_t *q = nreq_new(NREQ_CDEL, NULL, 0, key, keylen, index, version);
    if (!q) {
        n->inventoried = 0; /* the delete is lost: the next inventory finds the chunk */
        n->srv->stats.deletes_dropped++;
        return 0;
    }
    q->done = cdel_done;
    q->tomb = (uint8_t)tomb;
    /* A DEL wakes the node (a sleeping one, or a function whose instance was lost: its backup
     * peer may hold the chunks), so the delete and its tombstone are on the node, not only in
     * this process, when the client hears of it; the delete is kept for later only if the node
     * cannot be reached now (the invocation fails or times out). */
    if (!op && !node_reachable(n)) {
        defer_delete(n, q);
        return 0;
    }
    if (op) {
        q->op = op;
        q->done = cdel_acked;
    }
    node_submit(n, q);
    return op != NULL;
}

void node_delete_chunk(node_t *n, const char *key, size_t keylen, int index, uint64_t version,
                       int tomb)
{
    delete_chunk(n, key, keylen, index, version, tomb, NULL);
}

int node_delete_chunk_acked(node_t *n, const char *key, size_t keylen, int index, uint64_t version,
                            op_t *op)
{
    return delete_chunk(n, key, keylen, index, version, 1, op);
}

/* An expiry change takes the path of a client's delete: it is kept for the node's return when
 * the node cannot be reached (cdel_done), since the chunk it names may still be there then. */
int node_expire_chunk_acked(node_t *n, const char *key, size_t keylen, int index, uint64_t version,
                            uint64_t expire_ms, op_t *op)
{
    nreq_t *q = nreq_new(NREQ_CEXPIRE, NULL, 0, key, keylen, index, version);
    if (!q) return 0;
    q->expire_ms = expire_ms;
    q->op = op;
    q->done = cdel_acked;
    node_submit(n, q);
    return 1;
}

static void crename_acked(nreq_t *q, nres_t res, const char *err)
{
    op_t *op = q->op;
    int index = q->index;
    /* Not held, or refused by the node (an error it answered): the chunk is not under the new
     * name there, and never will be. Not reached: kept, it is renamed when the node is back. */
    int lost = res == NRES_MISSING || (res == NRES_ERROR && q->answered);
    q->op = NULL;
    q->done = cdel_done;
    cdel_done(q, res, err);
    ops_rename_acked(op, index, lost);
}

/* The new name lives in the request's key allocation, behind the key: nreq_new sizes it for both,
 * and nreq_free, which judges by the key's length alone, at worst pools a larger allocation. */
int node_rename_chunk_acked(node_t *n, const char *key, size_t keylen, int index, uint64_t version,
                            const char *newkey, size_t newkeylen, uint64_t new_version, op_t *op)
{
    nreq_t *q = nreq_new(NREQ_CRENAME, NULL, 0, NULL, keylen + newkeylen, index, version);
    if (!q) return 0;
    if (keylen) memcpy(q->key, key, keylen);
    if (newkeylen) memcpy(q->key + keylen, newkey, newkeylen);
    q->keylen = keylen;
    q->newkey = q->key + keylen;
    q->newkeylen = newkeylen;
    q->new_version = new_version;
    q->op = op;
    q->done = crename_acked;
    node_submit(n, q);
    return 1;
}

void node_drop_deferred(node_t *n)
{
    while (!QUEUE_EMPTY(&n->deferred)) {
        nreq_t *q;
        QUEUE_POP_HEAD(&n->deferred, q, next);
        nreq_free(q);
    }
    n->ndeferred = 0;
}

/* Moves the deferred deletes behind the pending requests. Ahead of them a delete could overtake
 * an older request: a GET's chunk read of the version a SET replaced while the node slept (the
 * read then finds the chunk gone and the GET answers a miss), or the store of a chunk that a
 * failed SET's clean-up deletes (the chunk then stays, unknown). Behind newer requests it harms
 * nothing: a delete names one version, and none issued after the delete reads or stores that
 * version (it left the metadata first). */
static void flush_deferred(node_t *n)
{
    while (!QUEUE_EMPTY(&n->deferred)) {
        nreq_t *q;
        QUEUE_POP_HEAD(&n->deferred, q, next);
        QUEUE_PUSH_TAIL(&n->pending, q, next);
    }
    n->ndeferred = 0;
}

/* ---- incoming ---- */

static void detach_conn(node_t *n, nres_t res, const char *why)
{
    conn_t *c = n->conn;
    n->conn = NULL;
    if (c) c->owner = NULL;
    fail_inflight_as(n, res, why);
    n->inventory_pending = 0;
    lifecycle_node_lost(n);
    if (n->state != NODE_INVOKING) n->state = NODE_DOWN;
    if (n->pending.head && n->state == NODE_DOWN) node_invoke(n, "activate");
}

void node_park(node_t *n, nreq_t *q)
{
    n->parked = q;
    n->conn->read_paused = 1;
    conn_update_events(n->conn);
}

conn_t *node_unpark(node_t *n)
{
    conn_t *c = n->conn;
    n->parked = NULL;
    c->read_paused = 0;
    conn_update_events(c);
    return c;
}

static void conn_lost(conn_t *c, nres_t res, const char *why)
{
    node_t *n = c->owner;
    if (n && n->parked && n->conn == c) {
        nreq_t *q = n->parked;
        n->parked = NULL;
        icget_parked_failed(q, res);
    }
    if (c->rx_relay) relay_fail_source(c->rx_relay);
    if (c->tx_relay) relay_drop_sink(c->tx_relay);
    if (n) {
        if (n->srv->stopping)
            log_debug("event=node_disconnected node=%d reason=\"%s\"", n->id, why);
        else
            log_info("event=node_disconnected node=%d reason=\"%s\"", n->id, why);
        detach_conn(n, res, why);
    }
    conn_close_async(c);
}

void node_conn_failed(conn_t *c, const char *why)
{
    conn_lost(c, NRES_ERROR, why);
}

/* The node closed its end. A node closes only on malformed input, which the proxy never sends,
 * so the instance is gone (killed, reclaimed, crashed) and so are its chunks. */
static void node_conn_gone(conn_t *c)
{
    node_t *n = c->owner;
    conn_lost(c, NRES_MISSING, "instance gone (connection closed)");
    /* Its chunks went with it, unless a backup peer holds them: wake the function now, so the
     * instance that answers announces what it holds and repair can start before a read finds
     * the gaps. */
    if (n && !n->srv->stopping && n->room.chunks_placed && n->state == NODE_DOWN)
        node_invoke(n, "activate");
}

/* What the node port keeps for each connection, from accept to close: the challenge its HELLO
 * must prove, whether it did, and the deadline for it. Nothing but HELLO is read from a node
 * connection before that. */
typedef struct {
    server_t *srv;
    char challenge[NODEAUTH_NONCE_HEX + 1];
    int authenticated;
    uint64_t hello_timer; /* closes a connection that has not proved itself in time */
} node_link_t;

static node_link_t *link_of(conn_t *c)
{
    return c->owner_state;
}

/* Refuses a node connection that did not prove the node secret: counted, logged (never the
 * proof), told why in a message it logs (REFUSED reason), and closed once that is written. */
static void refuse_node(conn_t *c, const char *reason)
{
    link_of(c)->srv->stats.nodes_refused++;
    log_warn("event=node_refused reason=%s", reason);
    if (c->owner) {
        /* A node's connection already in use (a later HELLO failed its proof): it leaves
         * through the path that detaches it from its node and fails what it carries. */
        conn_fail(c, "HELLO without a valid proof");
        return;
    }
    buf_t msg;
    buf_init(&msg);
    nodeproto_put_refused(&msg, reason);
    conn_write_buf(c, &msg);
    buf_free(&msg);
    c->read_paused = 1;
    conn_flush(c);
    conn_close_async(c);
}

static void hello_timeout(ev_loop_t *loop, void *arg)
{
    conn_t *c = arg;
    node_link_t *l = link_of(c);
    l->hello_timer = 0;
    if (!l->authenticated && !c->closing) refuse_node(c, "no_hello_in_time");
}

/* HELLO node_id instance mem_limit mem_used chunks invocation proof: the proof is the HMAC of the
 * connection's challenge, the node id and the instance under the node secret. Checked on every
 * HELLO (one HMAC), so a connection never carries an unproven announcement. */
static int hello_proven(conn_t *c, int decoded, const nodeproto_hello_t *h)
{
    if (decoded == NODEPROTO_EUNEXPECTED) {
        refuse_node(c, "no_proof");
        return 0;
    }
    node_link_t *l = link_of(c);
    int ok = h->has_epoch
                 ? nodeauth_hello_epoch_ok(&l->srv->node_secrets, l->challenge, h->node_id_text,
                                           h->node_id_len, h->instance, h->instance_len,
                                           h->epoch_text, h->epoch_len, h->proof, h->proof_len)
                 : nodeauth_hello_ok(&l->srv->node_secrets, l->challenge, h->node_id_text,
                                     h->node_id_len, h->instance, h->instance_len, h->proof,
                                     h->proof_len);
    if (!ok) {
        refuse_node(c, "bad_proof");
        return 0;
    }
    l->authenticated = 1;
    ev_timer_cancel(l->srv->loop, l->hello_timer);
    l->hello_timer = 0;
    return 1;
}

static void on_hello(conn_t *c, const nodeproto_msg_t *m)
{
    server_t *srv = link_of(c)->srv;
    nodeproto_hello_t h;
    int decoded = nodeproto_hello_decode(m, &h);
    if (!hello_proven(c, decoded, &h)) return;
    if (decoded < 0 || h.node_id < 0 || h.node_id >= srv->nnodes) {
        log_warn("event=bad_hello");
        conn_fail(c, "bad HELLO");
        return;
    }
    if ((uint64_t)h.epoch > srv->epoch) {
        /* The node has accepted an event of a proxy started after this one (it says so on the
         * connection it is leaving, or dials in to say it refused our event): we are replaced. */
        server_fence(srv, (uint64_t)h.epoch, (int)h.node_id);
        conn_fail(c, "node fenced this proxy");
        return;
    }
    if (srv->fenced) {
        conn_fail(c, "fenced");
        return;
    }
    int64_t id = h.node_id, limit = h.mem_limit, used = h.mem_used, chunks = h.chunks;
    node_t *n = &srv->nodes[id];
    char instance[40];
    snprintf(instance, sizeof instance, "%.*s", (int)(h.instance_len < 39 ? h.instance_len : 39),
             h.instance);
    /* Another instance of this function is taken only when the proxy has reason to leave the
     * one it uses: that one stopped answering (ping timeout), or an invocation went unanswered
     * for invoke-retry. Otherwise the newcomer came from an invocation nobody is waiting for (a
     * retry, a stray event) and the instance that holds the data is kept: the invocation just
     * sent reaches it, as it is idle. */
    int may_replace = n->state == NODE_INVOKING && (n->invoke_attempts > 0 || n->replace_ok);
    if (n->conn && n->conn != c && !may_replace && strcmp(n->instance, instance)) {
        log_info("event=hello_refused node=%d current=%s other=%s", n->id, n->instance, instance);
        /* GOAWAY tells it why (an empty one then leaves for good); the connection closes once
         * that is written. */
        buf_t msg;
        buf_init(&msg);
        nodeproto_put_simple(&msg, NODEPROTO_GOAWAY);
        conn_write_buf(c, &msg);
        buf_free(&msg);
        c->read_paused = 1;
        conn_flush(c);
        conn_close_async(c);
        return;
    }
    if (n->conn && n->conn != c) {
        /* A new instance of this function dialed in: the old connection is frozen or lost. */
        log_info("event=node_replaced node=%d old=%s new=%s", n->id, n->instance, instance);
        n->state = NODE_INVOKING; /* so dropping the old connection does not invoke again */
        node_conn_failed(n->conn, "node instance replaced");
    }
    /* Another instance than the one the proxy knows (or the first since the proxy started):
     * what it holds must be learned before it is trusted. */
    int new_instance = strcmp(n->instance, instance) != 0;
    snprintf(n->instance, sizeof n->instance, "%s", instance);
    if (new_instance) n->inventoried = 0;
    n->conn = c;
    c->owner = n;
    n->room.mem_limit = (uint64_t)limit;
    n->replace_ok = 0;
    n->hellos++;
    n->state = NODE_AWAKE;
    ev_timer_cancel(srv->loop, n->invoke_timer);
    n->invoke_timer = 0;
    log_debug("event=hello node=%d instance=%s used=%" PRId64 " chunks=%" PRId64, n->id, instance,
              used, chunks);
    if (!n->inventoried) repair_request_inventory(n);
    node_kick(n);
}

static void on_bye(conn_t *c)
{
    node_t *n = c->owner;
    if (!n) return;
    log_debug("event=bye node=%d pending=%d inflight=%d", n->id, n->pending.head != NULL,
              n->inflight);
    if (n->state == NODE_AWAKE) n->state = NODE_ASLEEP;
    ev_timer_cancel(n->srv->loop, n->ping_timer);
    n->ping_timer = 0;
    n->ping_outstanding = 0;
    /* Requests it has not answered yet are read at its next invocation: wake it now. */
    if (n->pending.head || n->sent.head) node_invoke(n, "activate");
}

/* Takes the head request off the in-flight queue (its reply is being handled). */
static nreq_t *pop_inflight(node_t *n)
{
    nreq_t *q;
    QUEUE_POP_HEAD(&n->sent, q, next);
    n->inflight--;
    return q;
}

static void inventory_read(relay_t *r, relay_status_t st, void *arg)
{
    nreq_t *q = arg;
    node_t *n = q->node;
    char *data = r->mem;
    size_t len = q->body_len;
    nreq_free(q);
    n->inventory_pending = 0;
    if (st != RELAY_OK) {
        free(data);
        return;
    }
    repair_inventory(n, data, len);
}

/* An INVENTORY reply's body follows on the connection (the codec bounds its length): read it
 * into memory. */
static int inventory_body(conn_t *c, node_t *n, nreq_t *q, size_t len)
{
    char *mem = malloc(len + 1);
    q->body_len = len;
    if (!mem || !relay_start(c, RELAY_TO_MEMORY, NULL, mem, len, inventory_read, q)) {
        free(mem);
        nreq_free(q);
        conn_fail(c, "out of memory");
        return -1;
    }
    return 1;
}

/* Handles one reply for the head in-flight request. 1 progressed, 0 need more, -1 failed. */
static int handle_reply(conn_t *c, node_t *n)
{
    static const nodeproto_cmd_t asked[] = {
        [NREQ_PING] = NODEPROTO_PING,           [NREQ_CSET] = NODEPROTO_CSET,
        [NREQ_CGET] = NODEPROTO_CGET,           [NREQ_CDEL] = NODEPROTO_CDEL,
        [NREQ_INVENTORY] = NODEPROTO_INVENTORY, [NREQ_BACKUP] = NODEPROTO_BACKUP,
        [NREQ_CEXPIRE] = NODEPROTO_CEXPIRE,     [NREQ_CGETR] = NODEPROTO_CGETR,
        [NREQ_CRENAME] = NODEPROTO_CRENAME,
    };
    nreq_t *q = n->sent.head;
    if (!q) {
        conn_fail(c, "unexpected reply from node");
        return -1;
    }
    nodeproto_reply_t rep;
    ssize_t r = nodeproto_parse_reply(buf_head(&c->in), buf_len(&c->in), asked[q->kind], &rep);
    if (r == 0) return 0;
    if (r < 0) {
        char why[128];
        snprintf(why, sizeof why, "malformed reply from node: %s", nodeproto_strerror((int)r));
        conn_fail(c, r == NODEPROTO_ETOOBIG && q->kind == NREQ_INVENTORY ? "inventory too large"
                                                                         : why);
        return -1;
    }
    buf_consume(&c->in, (size_t)r);
    pop_inflight(n);
    switch (rep.kind) {
    case NODEPROTO_REPLY_ERROR: {
        char err[256];
        snprintf(err, sizeof err, "node %d: %.*s", n->id, (int)rep.len, rep.str);
        q->answered = 1;
        complete(q, NRES_ERROR, err);
        return 1;
    }
    case NODEPROTO_REPLY_CHUNK:
        q->on_body(q, rep.crc, rep.body_len);
        return 1;
    case NODEPROTO_REPLY_PIECE:
        q->tail_crc = rep.tail_crc;
        q->on_body(q, rep.crc, rep.body_len);
        return 1;
    case NODEPROTO_REPLY_BULK:
        return inventory_body(c, n, q, rep.body_len);
    case NODEPROTO_REPLY_NULL:
        complete(q, NRES_MISSING, NULL);
        return 1;
    default:
        break;
    }
    if (q->kind == NREQ_PING) {
        n->ping_outstanding = 0;
        ev_timer_cancel(n->srv->loop, n->ping_timer);
        n->ping_timer = 0;
    }
    complete(q, rep.kind == NODEPROTO_REPLY_INT && rep.n == 0 ? NRES_MISSING : NRES_OK, NULL);
    return 1;
}

static void node_process_input(conn_t *c)
{
    while (!c->closing && !c->rx_relay && !c->read_paused && buf_len(&c->in) > 0) {
        node_t *n = c->owner;
        /* Unsolicited messages are arrays whose first element is a bulk (HELLO, BYE); replies
         * to our requests never are. A reply is parsed whole up to its body, so no reply is
         * ever half-consumed here. */
        int is_msg = nodeproto_is_message(buf_head(&c->in), buf_len(&c->in));
        if (is_msg < 0) return;
        if (is_msg || !n) {
            nodeproto_msg_t m;
            ssize_t used = nodeproto_parse_message(buf_head(&c->in), buf_len(&c->in), &m);
            if (used == 0) return;
            if (used < 0) {
                conn_fail(c, "malformed message from node");
                return;
            }
            if (nodeproto_msg_is(&m, "HELLO")) {
                on_hello(c, &m);
                if (c->closing) return;
            } else if (!link_of(c)->authenticated) {
                refuse_node(c, "not_hello");
                return;
            } else if (nodeproto_msg_is(&m, "BYE")) {
                on_bye(c);
            } else if (nodeproto_msg_is(&m, "BACKUPDONE")) {
                if (n) lifecycle_backup_done(n, &m);
            } else if (nodeproto_msg_is(&m, "BILL")) {
                if (n) bill_from_node(n, &m);
            } else {
                conn_fail(c, "unknown message from node");
                return;
            }
            buf_consume(&c->in, (size_t)used);
            continue;
        }
        if (handle_reply(c, n) <= 0) return;
    }
    if (c->owner) node_kick(c->owner);
}

static void node_io(ev_loop_t *loop, int fd, int events, void *arg)
{
    conn_t *c = arg;
    events = conn_io_events(c, events);
    if (events & EV_WRITE) {
        if (conn_flush(c) < 0) {
            conn_fail(c, "write failed");
            return;
        }
        if (c->tx_relay) relay_pump(c->tx_relay);
        if (!c->out.head && !c->tx_relay && c->owner) node_kick(c->owner);
    }
    if (c->closing) return;
    if (events & EV_READ) {
        if (c->rx_relay) {
            relay_pump(c->rx_relay);
        } else if (!c->read_paused) {
            ssize_t n = conn_read(c, NODE_READ_SIZE);
            if (n == 0 || n == -ECONNRESET) {
                node_conn_gone(c);
                return;
            }
            if (n < 0 && n != -EAGAIN) {
                conn_fail(c, "read failed");
                return;
            }
            node_process_input(c);
        }
    }
    if (!c->closing) conn_update_events(c);
}

/* After a relay finishes, input that was already buffered must be looked at again. */
static void node_resume_input(conn_t *c)
{
    if (c->closing || c->rx_relay) return;
    node_process_input(c);
    if (!c->closing) conn_update_events(c);
}

/* Every 100 ms: a node whose oldest request has waited longer than request-timeout is frozen
 * or stuck mid-invocation. Its requests fail (first-d reads do not even notice) and the next
 * request invokes the function again, which brings a fresh instance if the old one is wedged. */
static void stuck_sweep(ev_loop_t *loop, void *arg)
{
    server_t *srv = arg;
    uint64_t now = ev_now_ms();
    for (int i = 0; i < srv->nnodes; i++) {
        node_t *n = &srv->nodes[i];
        if (!n->conn || !n->sent.head || n->state != NODE_AWAKE) continue;
        /* A node whose reply we are not reading (a body streaming to a slow client, or parked
         * behind another chunk) is not silent: the wait is ours. */
        if (n->conn->rx_relay || n->parked) continue;
        uint64_t since = n->sent.head->sent_ms > n->conn->last_rx_ms ? n->sent.head->sent_ms
                                                                     : n->conn->last_rx_ms;
        if (now - since <= (uint64_t)srv->cfg.request_timeout_ms) continue;
        char why[128];
        snprintf(why, sizeof why, "node %d stuck: no reply within %" PRId64 " ms", n->id,
                 srv->cfg.request_timeout_ms);
        log_warn("event=node_stuck node=%d inflight=%d", n->id, n->inflight);
        srv->stats.node_timeouts++;
        node_conn_failed(n->conn, why);
    }
    ev_timer_add(loop, 100, stuck_sweep, srv);
}

void node_start_sweeps(server_t *srv)
{
    ev_timer_add(srv->loop, 100, stuck_sweep, srv);
}

static void node_conn_freed(conn_t *c)
{
    node_link_t *l = link_of(c);
    if (l->hello_timer) ev_timer_cancel(l->srv->loop, l->hello_timer);
    free(l);
}

static const conn_handlers_t node_handlers = {
    .role = "node",
    .io = node_io,
    .failed = node_conn_failed,
    .resumed = node_resume_input,
    .freed = node_conn_freed,
    .relay_eats_crlf = 1,
};

void node_accept(server_t *srv, int fd)
{
    node_link_t *l = calloc(1, sizeof *l);
    conn_t *c = l ? conn_new(&srv->tp, fd, &node_handlers, NULL) : NULL;
    if (!c) {
        free(l);
        close(fd);
        return;
    }
    l->srv = srv;
    c->owner_state = l;
    net_set_bufsizes(fd, 4 << 20);
    if (srv->node_tls && conn_tls_accept(c, srv->node_tls) < 0) {
        conn_fail(c, "out of memory");
        return;
    }
    /* A fresh challenge: the HELLO that follows must carry a proof over it, so a HELLO seen on
     * the wire cannot be replayed on another connection. */
    char msg[96];
    size_t len;
    if (nodeauth_random_hex(l->challenge, NODEAUTH_NONCE_BYTES) < 0 ||
        !(len = nodeauth_challenge_message(l->challenge, msg, sizeof msg)) ||
        conn_write(c, msg, len) < 0) {
        conn_close_async(c);
        return;
    }
    conn_mark_dirty(c);
    /* A connection that says nothing would hold a socket and its buffers for ever. */
    l->hello_timer =
        ev_timer_add(srv->loop, (uint64_t)srv->cfg.node_connect_timeout_ms, hello_timeout, c);
    conn_update_events(c);
}
