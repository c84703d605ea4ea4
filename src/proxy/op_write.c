/* op_write.c -- the write path: Redis SET with proxy-side erasure coding, SET staging and
 * coalescing, the library's pre-encoded ICSET, and the commit of a stored object. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "icproto.h"
#include "layout.h"
#include "log.h"
#include "backing.h"
#include "client.h"
#include "command.h"
#include "meta.h"
#include "nodepool.h"
#include "op.h"
#include "server.h"
#include "watch.h"
#include "transport.h"

/* ================= storing chunks (SET, ICSET) ================= */

/* Sizes the value buffer for a Redis SET: the d data chunks then the p parity chunks. `value`
 * (NULL when the body is read in later) is copied in. 0, or -1 with the error in op->reply. */
int set_prepare_value(op_t *op, const char *value, size_t len)
{
    server_t *srv = op->srv;
    if ((int64_t)len > srv->cfg.max_object_size) {
        resp_add_error(&op->reply, "ERR value of %zu bytes exceeds max-object-size (%" PRId64 ")",
                       len, srv->cfg.max_object_size);
        return -1;
    }
    if (op->keylen > UINT16_MAX) {
        resp_add_error(&op->reply, "ERR key too long");
        return -1;
    }
    op->d = layout_data_chunks(len, (uint64_t)srv->cfg.small_object_max, (int)srv->cfg.d);
    op->p = (int)srv->cfg.p;
    op->n = op->d + op->p;
    op->size = len;
    op->chunk_size = ec_chunk_size(len, op->d);
    if (op->chunk_size > EC_MAX_CHUNK_SIZE) {
        /* Refused on the header, before any byte of the body: no node would store the chunks. */
        resp_add_error(&op->reply,
                       "ERR value of %zu bytes needs chunks of %zu bytes, over the nodes' %zu "
                       "(at most d x %zu bytes per object)",
                       len, op->chunk_size, EC_MAX_CHUNK_SIZE, EC_MAX_CHUNK_SIZE);
        return -1;
    }
    op->obj = objbuf_new(op->chunk_size * (size_t)op->n + 1);
    if (!op->obj) {
        resp_add_error(&op->reply, "ERR out of memory");
        return -1;
    }
    if (value) memcpy(op->obj->data, value, len);
    return 0;
}

static void store_check_done(op_t *op);
/* Computes the p parity chunks of op->obj in place, behind its d data chunks. */
void op_encode_parity(op_t *op)
{
    size_t cs = op->chunk_size;
    uint8_t *data[EC_MAX_CHUNKS], *parity[EC_MAX_CHUNKS];
    for (int i = 0; i < op->n; i++) {
        uint8_t *chunk = (uint8_t *)op->obj->data + (size_t)i * cs;
        if (i < op->d)
            data[i] = chunk;
        else
            parity[i - op->d] = chunk;
    }
    ec_encode(op->d, op->p, cs, data, parity);
}

static void icset_discard_done(relay_t *r, relay_status_t st, void *arg)
{
    op_t *op = arg;
    client_t *c = op->client;
    if (c) {
        c->waiting_body = 0;
        if (st != RELAY_SRC_FAILED) resp_cmd_big_done(&c->cmd);
    }
    op_unref(op);
}

static void submit_cset(op_t *op, int i, conn_t *stream_src, size_t len);

/* A node refused a chunk for memory: the proxy's figures for it were wrong (chunks it does not
 * know of, memory the node keeps). Its reported figures are taken, objects there are evicted to
 * make room, and the chunk is sent once more. Only chunks held in memory can be resent; a
 * streamed body has gone by. 1 when resent. */
static int retry_after_nomem(nreq_t *q, const char *err)
{
    op_t *op = q->op;
    if (!err || !strstr(err, "NOMEM") || q->body_src || !q->body_ref || op->slot_retried[q->slot])
        return 0;
    int node = q->node->id;
    if (meta_node_refused(op->srv, node, err, meta_chunk_cost(q->body_len, op->keylen)) < 0)
        return 0;
    op->slot_retried[q->slot] = 1;
    submit_cset(op, q->slot, NULL, q->body_len);
    return 1;
}

static void store_chunk_done(nreq_t *q, nres_t res, const char *err)
{
    op_t *op = q->op;
    if (res == NRES_ERROR && retry_after_nomem(q, err)) {
        nreq_free(q);
        op->outstanding--; /* the resent chunk counts itself */
        op_unref(op);
        return;
    }
    if (res == NRES_OK) {
        op->slot_state[q->slot] = SLOT_GOOD;
    } else {
        op->failed++;
        op->slot_state[q->slot] = SLOT_LOST;
        op_fail(op, "ERR storing chunk %d failed: %s", q->slot, err ? err : "unknown error");
    }
    if (q->body_src && op->client && !q->body_src->closing) {
        /* The node failed before taking the streamed body: drain it from the client. */
        op_ref(op);
        relay_start(q->body_src, RELAY_DISCARD, NULL, NULL, q->body_len, icset_discard_done, op);
    }
    nreq_free(q);
    op->outstanding--;
    store_check_done(op);
    op_unref(op);
}

/* What a CSET tells the node about the chunk's object, so the proxy can rebuild its metadata
 * from the nodes after a restart. */
void op_cset_object_fields(nreq_t *q, uint64_t size, int d, int p, int64_t expire_ms)
{
    q->obj_size = size;
    q->d = (uint8_t)d;
    q->p = (uint8_t)p;
    q->expire_ms = expire_ms > 0 ? (uint64_t)expire_ms : 0;
}

/* Sends chunk i to its node: from op->obj, or streamed from the client connection. */
static void submit_cset(op_t *op, int i, conn_t *stream_src, size_t len)
{
    nreq_t *q = nreq_new(NREQ_CSET, op, i, op->key, op->keylen, i, op->version);
    if (!q) {
        op->failed++;
        op_fail(op, "ERR out of memory");
        return;
    }
    q->done = store_chunk_done;
    q->crc = op->crcs[i];
    q->body_len = len;
    op_cset_object_fields(q, op->size, op->d, op->p, op->expire_ms);
    if (stream_src) {
        q->body_src = stream_src;
    } else {
        q->body_ref = objbuf_ref(op->obj);
        /* With d = 1 every chunk is a replica of the first: Redis SETs store only that one. */
        int replica_of_first = op->d == 1 && op->kind == OP_SET;
        q->body_ptr = op->obj->data + (replica_of_first ? 0 : (size_t)i * op->chunk_size);
    }
    op->outstanding++;
    op_ref(op);
    node_submit(&op->srv->nodes[op->nodes[i]], q);
}

static int place(op_t *op)
{
    int rc = meta_place(op->srv, op->key, op->keylen, op->n, op->chunk_size, op->nodes);
    if (rc < 0) {
        op->pool_too_small = rc == -E2BIG;
        op_fail(op, "OOM object of %" PRIu64 " bytes does not fit in the pool", op->size);
        return -1;
    }
    op->placed = 1;
    op->version = server_next_version(op->srv);
    /* Out of memory it is not indexed: an inventory read before it commits may then delete a
     * chunk of it, which a read finds lost and repair restores. */
    (void)opindex_add(&op->srv->storing, op);
    return 0;
}

/* Decides a store once every chunk is answered (and, when streaming, every argument read). */
static void store_check_done(op_t *op)
{
    server_t *srv = op->srv;
    if (op->finished || op->outstanding > 0 || !op->all_args || op->commit_waiting) return;
    /* Pipelined writes of one key commit in the order they were sent. */
    if (op->client && client_key_busy(op->client, op, op->key, op->keylen)) {
        op->commit_waiting = 1;
        op->client->ncommit_waiting++;
        return;
    }
    op->finished = 1;
    if (op->indexed == &srv->storing) {
        opindex_remove(&srv->storing, op);
        rmw_wake_waiters(srv); /* an EXEC may wait for the stores of its keys */
    }
    meta_t *old = op->err[0] ? NULL : meta_lookup(srv, op->key, op->keylen);
    int refused = !op->err[0] && ((op->nx && old) || (op->xx && !old) ||
                                  (op->cas && (old ? old->version : 0) != op->cas_version));
    if (!refused && !op->placed) op_fail(op, "ERR store failed"); /* never commit no chunks */
    if (op->err[0] || op->failed || op->body_failed || refused) {
        for (int i = 0; i < op->n && op->placed; i++)
            if (op->slot_state[i] == SLOT_GOOD)
                node_delete_chunk(&srv->nodes[op->nodes[i]], op->key, op->keylen, i, op->version,
                                  0);
        if (op->placed) meta_release_placement(srv, op->nodes, op->n, op->chunk_size, op->keylen);
        if (refused) {
            if (op->reply_int)
                resp_add_int(&op->reply, 0);
            else
                resp_add_null(&op->reply);
        } else if (backing_holds_instead(op)) {
            /* The store has it and the pool could never hold it: served from the store. */
            if (op->reply_int)
                resp_add_int(&op->reply, 1);
            else
                resp_add_simple(&op->reply, "OK");
        } else {
            srv->stats.errors += 1 + (uint64_t)op->nriders;
            backing_set_failed(op);
            resp_add_error(&op->reply, "%s", op->err[0] ? op->err : "ERR store failed");
        }
        op_answer_riders(op);
        client_on_op_done(op);
        return;
    }
    meta_t *m = meta_new(op->key, op->keylen, op->d, op->p);
    if (!m) {
        for (int i = 0; i < op->n; i++)
            node_delete_chunk(&srv->nodes[op->nodes[i]], op->key, op->keylen, i, op->version, 0);
        meta_release_placement(srv, op->nodes, op->n, op->chunk_size, op->keylen);
        resp_add_error(&op->reply, "ERR out of memory");
        op_answer_riders(op);
        client_on_op_done(op);
        return;
    }
    m->version = op->version;
    m->size = op->size;
    _Static_assert(EC_MAX_CHUNK_SIZE <= UINT32_MAX, "meta_t keeps chunk sizes in 32 bits");
    m->chunk_size = (uint32_t)op->chunk_size; /* at most EC_MAX_CHUNK_SIZE, checked at SET */
    m->expire_ms = (uint64_t)op->expire_ms;
    memcpy(meta_nodes(m), op->nodes, sizeof(uint16_t) * (size_t)op->n);
    memcpy(meta_crcs(m), op->crcs, sizeof(uint32_t) * (size_t)op->n);
    if (old) {
        if (op->keepttl) m->expire_ms = old->expire_ms;
        meta_drop(srv, old); /* deletes the previous version's chunks */
    }
    m->atime_s = (uint32_t)(clock_wall_ms() / 1000);
    meta_insert(&srv->meta, m);
    watch_touch(srv, op->key, op->keylen);
    srv->stats.sets += 1 + (uint64_t)op->nriders;
    log_debug("event=set_committed op=%p us=%" PRIu64, (void *)op, ev_now_us() - op->started_us);
    if (op->reply_int)
        resp_add_int(&op->reply, 1);
    else
        resp_add_simple(&op->reply, "OK");
    op_answer_riders(op);
    client_on_op_done(op);
}

void op_retry_commit(op_t *op)
{
    store_check_done(op);
}

static void set_start(op_t *op);
static int set_stage(server_t *srv, op_t *op);
static void store_after_backing(op_t *op);

/* Redis SET: the value is in op->obj; encode, checksum, place and send every chunk. */
void cmd_set(client_t *c, op_t *op)
{
    log_debug("event=set_value_read op=%p size=%" PRIu64 " us=%" PRIu64, (void *)op, op->size,
              ev_now_us() - op->started_us);
    op->all_args = 1;
    /* Refused at once only when no earlier write of this client's may change the answer by
     * the time this one commits (pipelined SET k v; SET k w XX must store). */
    int busy = op->client && client_key_busy(op->client, op, op->key, op->keylen);
    if (!busy && (op->nx || op->xx) &&
        ((op->nx && meta_lookup(op->srv, op->key, op->keylen)) ||
         (op->xx && !meta_lookup(op->srv, op->key, op->keylen)))) {
        store_check_done(op); /* answers nil without storing anything */
        return;
    }
    if (op->keepttl) {
        /* The chunks carry the TTL kept, so a proxy rebuilt from them keeps it too (the commit
         * takes the TTL current then, as before). */
        meta_t *old = meta_lookup(op->srv, op->key, op->keylen);
        op->expire_ms = old ? (int64_t)old->expire_ms : 0;
    }
    store_after_backing(op);
}

/* With a backing store the value in op->obj may have to reach it first (write-through), or be
 * queued for it (write-behind): backing.c decides; then the cache stores it. */
static void store_after_backing(op_t *op)
{
    int backing = backing_before_set(op);
    if (backing > 0) return; /* goes on in cmd_set_continue() */
    if (backing < 0) {
        store_check_done(op); /* answers op->err, nothing stored */
        return;
    }
    cmd_set_continue(op);
}

void cmd_set_continue(op_t *op)
{
    if (op->err[0]) {
        store_check_done(op); /* answers op->err, nothing stored */
        return;
    }
    if (set_stage(op->srv, op)) return;
    set_start(op);
}

/* Encodes and checksums a Redis SET's value, then places and sends every chunk. (Not before:
 * a SET refused by NX/XX or superseded while staged never needs its chunks.) */
static void set_start(op_t *op)
{
    /* An ICSET's chunks come coded and checksummed by the library (checked as they arrived). */
    if (op->kind != OP_ICSET) {
        size_t cs = op->chunk_size;
        size_t data_bytes = cs * (size_t)op->d;
        if (data_bytes > op->size) memset(op->obj->data + op->size, 0, data_bytes - op->size);
        if (op->d == 1) {
            /* Replicas are the data chunk itself: no copies, one checksum (see submit_cset). */
            uint32_t crc = ec_crc(op->obj->data, cs);
            for (int i = 0; i < op->n; i++)
                op->crcs[i] = crc;
        } else {
            op_encode_parity(op);
            for (int i = 0; i < op->n; i++)
                op->crcs[i] = ec_crc(op->obj->data + (size_t)i * cs, cs);
        }
    }
    if (place(op) == 0)
        for (int i = 0; i < op->n; i++)
            submit_cset(op, i, NULL, op->chunk_size);
    store_check_done(op);
}

/* ---- SET coalescing: small SETs wait for the end of the loop iteration before they are sent,
 * and a later SET of the same key in that iteration supersedes an earlier one, which is then
 * answered with the later one's outcome without ever being sent. The superseded SET took effect
 * and was overwritten at once: both were under way together, so that order is one they may take.
 * What an iteration's SETs of one hot key cost is one store instead of one each. ---- */

/* Only plain SETs of replicated (small) values, whose outcome depends on nothing but their own
 * value, supersede or are superseded. */
static int set_coalescable(const op_t *op)
{
    return op->kind == OP_SET && op->d == 1 && op->client && !op->nx && !op->xx && !op->keepttl &&
           !op->get_old;
}

/* `prev` may be superseded by `op` only if nothing its client asked after it must see its value:
 * it is its client's latest request, or `op` comes right after it on the same connection. */
static int set_supersedes(const op_t *prev, const op_t *op)
{
    return set_coalescable(prev) && (prev->next == NULL || prev->next == op);
}

/* Stages op if it may be coalesced. Returns 1 if staged (sent by ops_start_staged()), 0 if the
 * caller sends it now. */
static int set_stage(server_t *srv, op_t *op)
{
    if (!set_coalescable(op)) return 0;
    op_t *prev = opindex_find(&srv->staged, op->key, op->keylen, 0);
    if (prev) {
        /* Either way op is now the key's latest staged SET, the one a later SET finds. */
        opindex_remove(&srv->staged, prev);
        if (set_supersedes(prev, op)) {
            /* prev, and whatever rode on it, ride on op (new, so without riders of its own);
             * prev stays in the staged list, where ops_start_staged() passes over riders. The
             * earlier riders keep prev as their carrier: op_carrier_root() finds op. */
            prev->rider_next = prev->riders;
            op->riders = prev;
            op->nriders = prev->nriders + 1;
            prev->riders = NULL;
            prev->nriders = 0;
            prev->carrier = op;
            objbuf_unref(prev->obj); /* its value will never be stored */
            prev->obj = NULL;
            op_ref(prev);
            srv->stats.sets_coalesced++;
        }
    }
    if (opindex_add(&srv->staged, op) < 0) {
        set_start(op); /* out of memory: sent now, and nothing more can ride on it */
        return 1;
    }
    op_ref(op); /* the staged list's: its client may go before the list is sent */
    /* sent at the end of this loop iteration (the transport hook main.c registers) */
    QUEUE_PUSH_TAIL(&srv->staged_ops, op, stage_next);
    return 1;
}

op_t *op_carrier_root(op_t *op)
{
    op_t *root = op->carrier;
    while (root && root->carrier)
        root = root->carrier;
    /* Shorten the path for the next time (superseding chains one SET at a time). */
    for (op_t *o = op; o->carrier && o->carrier != root;) {
        op_t *next = o->carrier;
        o->carrier = root;
        o = next;
    }
    return root;
}

void ops_start_staged(server_t *srv)
{
    while (!QUEUE_EMPTY(&srv->staged_ops)) {
        op_t *op;
        QUEUE_POP_HEAD(&srv->staged_ops, op, stage_next);
        if (!op->carrier) { /* a superseded SET is answered with its carrier */
            opindex_remove(&srv->staged, op);
            set_start(op);
        }
        op_unref(op);
    }
}

/* Parses "ICSET key d p size crc_0..crc_{n-1}" from argv (icproto.c). 0 or -1 (op->err set). */
static int icset_parse_header(op_t *op, int argc, const char **argv, const size_t *argl)
{
    server_t *srv = op->srv;
    icproto_icset_t h;
    char err[sizeof op->err];
    if (icproto_icset_decode(argc, argv, argl, &h, err, sizeof err) < 0) {
        op_fail(op, "%s", err);
        return -1;
    }
    if (h.size > (uint64_t)srv->cfg.max_object_size) {
        op_fail(op, "ERR value of %" PRIu64 " bytes exceeds max-object-size (%" PRId64 ")", h.size,
                srv->cfg.max_object_size);
        return -1;
    }
    if (op_copy_key(op, h.key, h.keylen) < 0) {
        op_fail(op, "ERR ICSET: bad key");
        return -1;
    }
    op->d = h.d;
    op->p = h.p;
    op->n = h.n;
    op->size = h.size;
    memcpy(op->crcs, h.crc, (size_t)h.n * sizeof h.crc[0]);
    return 0;
}

static int icset_check_chunk_size(op_t *op, size_t cs)
{
    if ((uint64_t)cs * (uint64_t)op->d < op->size || cs > EC_MAX_CHUNK_SIZE ||
        (op->size > 0 && cs > ec_chunk_size(op->size, op->d) + EC_ALIGN)) {
        op_fail(op, "ERR ICSET: chunk size %zu does not fit an object of %" PRIu64 " bytes", cs,
                op->size);
        return -1;
    }
    return 0;
}

/* With a backing store that takes SETs, a chunk read into memory must match the checksum the
 * client sent for it: the proxy then hands the store the very value the library encoded. */
static void icset_check_crc(op_t *op, int i, uint32_t crc)
{
    if (crc == op->crcs[i]) return;
    op_fail(op, "ERR ICSET: chunk %d does not match its checksum", i);
    op->body_failed = 1;
}

/* Every chunk of an ICSET is in op->obj (its value is the first `size` bytes of the data
 * chunks): the backing store has its say first, as for a SET, then the chunks go to the nodes. */
static void icset_in_memory_ready(op_t *op)
{
    op->all_args = 1;
    store_after_backing(op);
}

/* ICSET whose chunks were small enough to arrive as ordinary arguments. */
int icset_small(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    op->all_args = 1;
    if (icset_parse_header(op, argc, argv, argl) == 0) {
        if (argc != 5 + 2 * op->n) {
            op_fail(op, "ERR ICSET: expected %d chunks", op->n);
        } else {
            size_t cs = argl[5 + op->n];
            for (int i = 0; i < op->n; i++)
                if (argl[5 + op->n + i] != cs) op_fail(op, "ERR ICSET: chunks differ in size");
            if (!op->err[0] && icset_check_chunk_size(op, cs) == 0) {
                op->chunk_size = cs;
                op->obj = objbuf_new(cs * (size_t)op->n + 1);
                if (!op->obj) op_fail(op, "ERR out of memory");
            }
            if (!op->err[0]) {
                /* Checked, as streamed chunks are, only when a store is to get the value:
                 * otherwise the proxy passes chunk bodies on unchecked (the library checks). */
                int check = backing_takes_sets(op->srv);
                for (int i = 0; i < op->n; i++) {
                    memcpy(op->obj->data + (size_t)i * cs, argv[5 + op->n + i], cs);
                    if (check) icset_check_crc(op, i, ec_crc(op->obj->data + (size_t)i * cs, cs));
                }
                if (!op->err[0]) {
                    icset_in_memory_ready(op);
                    return 0;
                }
            }
        }
    }
    store_check_done(op);
    return 0;
}

static void icset_chunk_read(relay_t *r, relay_status_t st, void *arg);

/* First big chunk of a streamed ICSET: validate the header and place the chunks (or, with a
 * backing store that takes SETs, make room to read them into memory). */
int cmd_icset_begin(client_t *c, op_t *op)
{
    resp_cmd_t *cmd = &c->cmd;
    if (icset_parse_header(op, cmd->nsmall, cmd->argv, cmd->argl) < 0) goto fail;
    if (cmd->argi != 5 + op->n || cmd->nsmall != 5 + op->n) {
        op_fail(op, "ERR ICSET: expected %d checksums before the chunks", op->n);
        goto fail;
    }
    if (icset_check_chunk_size(op, (size_t)cmd->big_len) < 0) goto fail;
    op->chunk_size = (size_t)cmd->big_len;
    if (backing_takes_sets(op->srv)) {
        /* The store needs the value: the chunks are read into memory, placed once all are in. */
        op->in_memory = 1;
        op->obj = objbuf_new(op->chunk_size * (size_t)op->n + 1);
        if (!op->obj) {
            op_fail(op, "ERR out of memory");
            goto fail;
        }
        return 0;
    }
    if (place(op) < 0) goto fail;
    return 0;
fail:
    /* Every chunk body is still drained, so the reply comes after the whole command. */
    op->body_failed = 1;
    return 0;
}

/* The body of chunk op->chunks_seen is next on the client connection. */
void cmd_icset_chunk(client_t *c, op_t *op, size_t len)
{
    int i = op->chunks_seen++;
    if (op->body_failed || !(op->placed || op->in_memory) || i >= op->n ||
        len != op->chunk_size) {
        if (!op->body_failed) op_fail(op, "ERR ICSET: chunk %d has the wrong size or is extra", i);
        op->body_failed = 1;
        c->waiting_body = 1;
        op_ref(op);
        relay_start(c->conn, RELAY_DISCARD, NULL, NULL, len, icset_discard_done, op);
        return;
    }
    if (op->in_memory) {
        op_ref(op);
        relay_t *r = relay_start(c->conn, RELAY_TO_MEMORY, NULL,
                                 op->obj->data + (size_t)i * op->chunk_size, len, icset_chunk_read,
                                 op);
        if (!r) {
            op_unref(op);
            client_conn_failed(c->conn, "out of memory"); /* the body cannot be skipped */
            return;
        }
        relay_want_crc(r);
        return;
    }
    c->waiting_body = 1; /* parse no further until the body has moved */
    submit_cset(op, i, c->conn, len);
}

/* A chunk body of an in-memory ICSET has been read (the reader then goes on to the next). */
static void icset_chunk_read(relay_t *r, relay_status_t st, void *arg)
{
    op_t *op = arg;
    if (st == RELAY_OK) icset_check_crc(op, op->chunks_seen - 1, r->crc);
    command_big_moved(r, st, op);
}

/* Called by the node layer when a streamed chunk body has been relayed (or drained). */
void icset_body_moved(op_t *op, int slot, relay_status_t st)
{
    client_t *c = op->client;
    if (!c) return;
    c->waiting_body = 0;
    if (st != RELAY_SRC_FAILED) resp_cmd_big_done(&c->cmd);
}

void icset_check_done(op_t *op)
{
    if ((op->placed || op->in_memory) && op->chunks_seen != op->n) {
        op_fail(op, "ERR ICSET: expected %d chunks, got %d", op->n, op->chunks_seen);
        op->body_failed = 1;
    }
    if (op->in_memory && !op->err[0]) {
        icset_in_memory_ready(op);
        return;
    }
    store_check_done(op);
}
