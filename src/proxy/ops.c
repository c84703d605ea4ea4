/* ops.c -- object operations: SET and GET with proxy-side erasure coding (Redis path), the
 * library's pre-encoded ICSET, streamed ICGET and ICREPAIR, and DEL. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "layout.h"
#include "log.h"
#include "proxy.h"

/* Per-chunk state of an operation. LOST: the node does not have it (or it failed its CRC), which
 * is known data loss; FAILED: the node could not be reached, which says nothing about the data. */
enum { SLOT_PENDING = 0, SLOT_GOOD = 1, SLOT_LOST = 2, SLOT_FAILED = 3 };

uint64_t server_next_version(server_t *srv)
{
    return ++srv->next_version;
}

static void op_fail(op_t *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void op_fail(op_t *op, const char *fmt, ...)
{
    if (op->err[0]) return; /* keep the first cause */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->err, sizeof op->err, fmt, ap);
    va_end(ap);
}

static int copy_key(op_t *op, const char *key, size_t keylen)
{
    if (op->key) return 0;
    op->key = malloc(keylen + 1);
    if (!op->key) return -1;
    memcpy(op->key, key, keylen);
    op->keylen = keylen;
    return 0;
}

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

/* Answers every rider of op with op's reply: a copy of op->reply and, for a large GET, a
 * reference to the same object buffer (the value is never copied per rider). */
static void answer_riders(op_t *op)
{
    while (op->riders) {
        op_t *r = op->riders;
        op->riders = r->rider_next;
        r->rider_next = NULL;
        r->carrier = NULL;
        if (buf_append(&r->reply, buf_head(&op->reply), buf_len(&op->reply)) < 0) {
            buf_clear(&r->reply);
            resp_add_error(&r->reply, "ERR out of memory");
        } else if (op->reply_ref) {
            r->reply_ref = objbuf_ref(op->reply_ref);
            r->reply_ref_len = op->reply_ref_len;
        }
        client_on_op_done(r);
        op_unref(r);
    }
    op->nriders = 0;
}


/* Computes the p parity chunks of op->obj in place, behind its d data chunks. */
static void encode_parity(op_t *op)
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
        relay_start(op->srv, q->body_src, RELAY_DISCARD, NULL, NULL, q->body_len,
                    icset_discard_done, op);
    }
    nreq_free(q);
    op->outstanding--;
    store_check_done(op);
    op_unref(op);
}

/* What a CSET tells the node about the chunk's object, so the proxy can rebuild its metadata
 * from the nodes after a restart. */
static void cset_object_fields(nreq_t *q, uint64_t size, int d, int p, int64_t expire_ms)
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
    cset_object_fields(q, op->size, op->d, op->p, op->expire_ms);
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
        return;
    }
    op->finished = 1;
    if (op->indexed == &srv->storing) opindex_remove(&srv->storing, op);
    meta_t *old = op->err[0] ? NULL : meta_lookup(srv, op->key, op->keylen);
    int refused = !op->err[0] && ((op->nx && old) || (op->xx && !old));
    if (op->err[0] || op->failed || op->body_failed || refused) {
        for (int i = 0; i < op->n && op->placed; i++)
            if (op->slot_state[i] == SLOT_GOOD)
                node_delete_chunk(&srv->nodes[op->nodes[i]], op->key, op->keylen, i, op->version,
                                  0);
        if (op->placed) meta_release_placement(srv, op->nodes, op->n, op->chunk_size, op->keylen);
        if (refused) {
            resp_add_null(&op->reply);
        } else {
            srv->stats.errors += 1 + (uint64_t)op->nriders;
            resp_add_error(&op->reply, "%s", op->err[0] ? op->err : "ERR store failed");
        }
        answer_riders(op);
        client_on_op_done(op);
        return;
    }
    meta_t *m = meta_new(op->key, op->keylen, op->d, op->p);
    if (!m) {
        for (int i = 0; i < op->n; i++)
            node_delete_chunk(&srv->nodes[op->nodes[i]], op->key, op->keylen, i, op->version, 0);
        meta_release_placement(srv, op->nodes, op->n, op->chunk_size, op->keylen);
        resp_add_error(&op->reply, "ERR out of memory");
        answer_riders(op);
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
    meta_insert(&srv->meta, m);
    srv->stats.sets += 1 + (uint64_t)op->nriders;
    log_debug("event=set_committed op=%p us=%" PRIu64, (void *)op, ev_now_us() - op->started_us);
    resp_add_simple(&op->reply, "OK");
    answer_riders(op);
    client_on_op_done(op);
}

void op_retry_commit(op_t *op)
{
    store_check_done(op);
}

static void set_start(op_t *op);
static int set_stage(server_t *srv, op_t *op);

/* Redis SET: the value is in op->obj; encode, checksum, place and send every chunk. */
void cmd_set(client_t *c, op_t *op)
{
    log_debug("event=set_value_read op=%p size=%" PRIu64 " us=%" PRIu64, (void *)op, op->size,
              ev_now_us() - op->started_us);
    op->all_args = 1;
    if ((op->nx || op->xx) && ((op->nx && meta_lookup(op->srv, op->key, op->keylen)) ||
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
    if (set_stage(op->srv, op)) return;
    set_start(op);
}

/* Encodes and checksums a Redis SET's value, then places and sends every chunk. (Not before:
 * a SET refused by NX/XX or superseded while staged never needs its chunks.) */
static void set_start(op_t *op)
{
    size_t cs = op->chunk_size;
    size_t data_bytes = cs * (size_t)op->d;
    if (data_bytes > op->size) memset(op->obj->data + op->size, 0, data_bytes - op->size);
    if (op->d == 1) {
        /* Replicas are the data chunk itself: no copies, one checksum (see submit_cset). */
        uint32_t crc = ec_crc(op->obj->data, cs);
        for (int i = 0; i < op->n; i++)
            op->crcs[i] = crc;
    } else {
        encode_parity(op);
        for (int i = 0; i < op->n; i++)
            op->crcs[i] = ec_crc(op->obj->data + (size_t)i * cs, cs);
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
    op->stage_next = NULL;
    op_ref(op); /* the staged list's: its client may go before the list is sent */
    if (srv->staged_tail)
        srv->staged_tail->stage_next = op;
    else
        srv->staged_head = op;
    srv->staged_tail = op; /* sent at the end of this loop iteration (server_after_io) */
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
    while (srv->staged_head) {
        op_t *op = srv->staged_head;
        srv->staged_head = op->stage_next;
        if (!srv->staged_head) srv->staged_tail = NULL;
        op->stage_next = NULL;
        if (!op->carrier) { /* a superseded SET is answered with its carrier */
            opindex_remove(&srv->staged, op);
            set_start(op);
        }
        op_unref(op);
    }
}

/* Parses "ICSET key d p size crc_0..crc_{n-1}" from argv. 0 or -1 (op->err set). */
static int icset_parse_header(op_t *op, int argc, const char **argv, const size_t *argl)
{
    server_t *srv = op->srv;
    int64_t d, p, size;
    if (argc < 5 || resp_parse_i64(argv[2], argl[2], &d) < 0 ||
        resp_parse_i64(argv[3], argl[3], &p) < 0 || !ec_params_valid((int)d, (int)p) || d > 255 ||
        p > 255) {
        op_fail(op, "ERR ICSET: bad d or p");
        return -1;
    }
    if (resp_parse_i64(argv[4], argl[4], &size) < 0 || size < 0) {
        op_fail(op, "ERR ICSET: bad size");
        return -1;
    }
    if (size > srv->cfg.max_object_size) {
        op_fail(op, "ERR value of %" PRId64 " bytes exceeds max-object-size (%" PRId64 ")", size,
                srv->cfg.max_object_size);
        return -1;
    }
    if (argl[1] > UINT16_MAX || copy_key(op, argv[1], argl[1]) < 0) {
        op_fail(op, "ERR ICSET: bad key");
        return -1;
    }
    op->d = (int)d;
    op->p = (int)p;
    op->n = (int)(d + p);
    op->size = (uint64_t)size;
    if (argc < 5 + op->n) {
        op_fail(op, "ERR ICSET: expected %d checksums", op->n);
        return -1;
    }
    for (int i = 0; i < op->n; i++) {
        uint64_t crc;
        if (resp_parse_u64(argv[5 + i], argl[5 + i], &crc) < 0 || crc > UINT32_MAX) {
            op_fail(op, "ERR ICSET: bad checksum %d", i);
            return -1;
        }
        op->crcs[i] = (uint32_t)crc;
    }
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
                for (int i = 0; i < op->n; i++)
                    memcpy(op->obj->data + (size_t)i * cs, argv[5 + op->n + i], cs);
                if (place(op) == 0)
                    for (int i = 0; i < op->n; i++)
                        submit_cset(op, i, NULL, cs);
            }
        }
    }
    store_check_done(op);
    return 0;
}

/* First big chunk of a streamed ICSET: validate the header and place the chunks. */
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
    if (op->body_failed || !op->placed || i >= op->n || len != op->chunk_size) {
        if (!op->body_failed) op_fail(op, "ERR ICSET: chunk %d has the wrong size or is extra", i);
        op->body_failed = 1;
        c->waiting_body = 1;
        op_ref(op);
        relay_start(op->srv, c->conn, RELAY_DISCARD, NULL, NULL, len, icset_discard_done, op);
        return;
    }
    c->waiting_body = 1; /* parse no further until the body has moved */
    submit_cset(op, i, c->conn, len);
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
    if (op->placed && op->chunks_seen != op->n) {
        op_fail(op, "ERR ICSET: expected %d chunks, got %d", op->n, op->chunks_seen);
        op->body_failed = 1;
    }
    store_check_done(op);
}

/* ================= reading chunks (GET, ICGET) ================= */

static void get_check(op_t *op);
static void icget_progress(op_t *op);
static void icget_start(client_t *c, op_t *op);

static void get_timeout(ev_loop_t *loop, void *arg)
{
    op_t *op = arg;
    op->timer = 0;
    if (op->finished) return;
    op->timed_out = 1;
    if (op->kind == OP_ICGET)
        icget_progress(op);
    else
        get_check(op);
}

static int slots_pending(op_t *op)
{
    int n = 0;
    for (int i = 0; i < op->n; i++)
        n += op->slot_state[i] == SLOT_PENDING;
    return n;
}

/* The object cannot be read any more: forget it, so later GETs miss cleanly. */
static void object_lost(op_t *op)
{
    server_t *srv = op->srv;
    meta_t *m = meta_lookup(srv, op->key, op->keylen);
    srv->stats.objects_lost++;
    log_warn("event=object_lost key_len=%zu version=%" PRIu64 " good=%d d=%d", op->keylen,
             op->version, op->nhave + op->forwarded, op->d);
    if (m && m->version == op->version) meta_drop(srv, m);
}

/* Remembers on the object that chunk `slot` is gone, so later reads report it lost (state 2)
 * and readers repair it, even when the loss was only learned after a first-d read finished. */
static void note_lost(op_t *op, int slot)
{
    meta_t *m = meta_lookup(op->srv, op->key, op->keylen);
    if (m && m->version == op->version) repair_note_lost(op->srv, m, slot);
}

static void mark_lost(op_t *op, int slot)
{
    if (!op->finished) op->slot_state[slot] = SLOT_LOST;
    note_lost(op, slot);
}

static int slot_known_lost(op_t *op, int slot)
{
    return op->slot_state[slot] == SLOT_LOST || (op->meta->lost_mask >> slot & 1);
}

static void repair_chunk_done(nreq_t *q, nres_t res, const char *err)
{
    op_t *op = q->op;
    meta_t *m = meta_lookup(op->srv, op->key, op->keylen);
    if (m && m->version == op->version) {
        if (res == NRES_OK) {
            m->lost_mask &= ~(1ull << q->slot);
            op->srv->stats.chunks_repaired++;
        } else {
            repair_enqueue(op->srv, m); /* try again later */
        }
    }
    nreq_free(q);
    op_unref(op);
}

/* Redis-path repair: after a decoded GET, every chunk of the object is at hand in op->obj, so
 * the lost ones are re-stored on their nodes right away (parity is recomputed if one is lost). */
static void repair_from_obj(op_t *op)
{
    size_t cs = op->chunk_size;
    int need_parity = 0, any = 0;
    for (int i = 0; i < op->n; i++) {
        if (!slot_known_lost(op, i)) continue;
        any = 1;
        need_parity |= i >= op->d;
    }
    if (!any || cs == 0) return;
    if (need_parity) {
        encode_parity(op);
    }
    for (int i = 0; i < op->n; i++) {
        if (!slot_known_lost(op, i)) continue;
        const char *chunk = op->obj->data + (size_t)i * cs;
        if (ec_crc(chunk, cs) != meta_crcs(op->meta)[i])
            continue; /* never store what we cannot vouch for */
        nreq_t *q = nreq_new(NREQ_CSET, op, i, op->key, op->keylen, i, op->version);
        if (!q) return;
        q->body_ref = objbuf_ref(op->obj);
        q->body_ptr = chunk;
        q->body_len = cs;
        q->crc = meta_crcs(op->meta)[i];
        cset_object_fields(q, op->size, op->d, op->p, (int64_t)op->meta->expire_ms);
        q->done = repair_chunk_done;
        op_ref(op);
        node_submit(&op->srv->nodes[meta_nodes(op->meta)[i]], q);
    }
}

static void count_lost_chunks(op_t *op)
{
    for (int i = 0; i < op->n; i++)
        if (op->slot_state[i] == SLOT_LOST) note_lost(op, i);
}

/* Chunks known to be gone. Only more than p of them make the object lost; chunks that are merely
 * unreachable make the read fail with an error and leave the object in place. */
static int lost_chunks(op_t *op)
{
    int n = 0;
    for (int i = 0; i < op->n; i++)
        n += slot_known_lost(op, i);
    return n;
}

/* ---- Redis GET: chunks are read into op->obj, decoded if needed, sent as one bulk ---- */

/* Someone still waits for this read's answer: its client, a background task, or riders. */
static int read_awaited(const op_t *op)
{
    return op->client || op->bg_done || op->riders;
}

/* Values up to this size are copied into op->reply; larger ones go out by reference. */
#define GET_COPY_MAX 8192

/* A GET of an object that another GET is already reading at the same version rides on that
 * read: one read of the chunks answers every GET of a hot key that arrives while it is under
 * way (a large value is then written to every rider from the same buffer). The version is the
 * current one now, so the carrier's answer is one this GET may give. Returns 1 if op rides (it
 * is answered with the carrier), 0 if it reads for itself. */
static int get_ride(server_t *srv, op_t *op)
{
    op_t *carrier = opindex_find(&srv->readers, op->key, op->keylen, op->version);
    if (!carrier || carrier->finished) {
        opindex_add(&srv->readers, op); /* out of memory: no one rides, nothing else changes */
        return 0;
    }
    op->carrier = carrier;
    op->rider_next = carrier->riders;
    carrier->riders = op_ref(op);
    carrier->nriders++;
    srv->stats.gets_coalesced++;
    return 1;
}

static void finish_get_reply(op_t *op);

static void finish_get(op_t *op)
{
    opindex_remove(&op->srv->readers, op);
    finish_get_reply(op);
    answer_riders(op);
    client_on_op_done(op);
}

/* Decides the answer of a GET into op->reply (riders count in the statistics). */
static void finish_get_reply(op_t *op)
{
    server_t *srv = op->srv;
    uint64_t answered = 1 + (uint64_t)op->nriders;
    op->finished = 1;
    for (int i = 0; i < op->n; i++)
        if (op->slot_relay[i]) relay_drop_sink(op->slot_relay[i]);
    count_lost_chunks(op);
    if (op->nhave >= op->d) {
        size_t cs = op->chunk_size;
        int want_idx[EC_MAX_CHUNKS], nwant = 0;
        uint8_t *have[EC_MAX_CHUNKS], *want[EC_MAX_CHUNKS];
        int used[EC_MAX_CHUNKS] = {0};
        for (int k = 0; k < op->d; k++) {
            have[k] = (uint8_t *)op->obj->data + (size_t)op->have_idx[k] * cs;
            used[op->have_idx[k]] = 1;
        }
        for (int i = 0; i < op->d; i++) {
            if (used[i]) continue;
            want_idx[nwant] = i;
            want[nwant++] = (uint8_t *)op->obj->data + (size_t)i * cs;
        }
        if (nwant && ec_decode(op->d, op->p, cs, op->have_idx, have, nwant, want_idx, want) < 0) {
            resp_add_error(&op->reply, "ERR decoding failed");
            return;
        }
        if (!op->bg_done) srv->stats.get_hits += answered;
        if (srv->cfg.repair) repair_from_obj(op);
        if (op->size <= GET_COPY_MAX) {
            resp_add_bulk(&op->reply, op->obj->data, op->size);
        } else {
            resp_add_bulk_header(&op->reply, op->size);
            op->reply_ref = objbuf_ref(op->obj);
            op->reply_ref_len = op->size;
        }
    } else if (lost_chunks(op) > op->p) {
        object_lost(op);
        if (!op->bg_done) srv->stats.get_misses += answered;
        resp_add_null(&op->reply);
    } else {
        if (!op->bg_done) srv->stats.errors += answered;
        resp_add_error(&op->reply, "ERR only %d of the %d chunks needed could be read%s; try again",
                       op->nhave, op->d, op->timed_out ? " in time" : "");
    }
}

static void request_more(op_t *op);

static void get_check(op_t *op)
{
    if (op->finished) return;
    log_debug("event=get_check op=%p have=%d pending=%d d=%d", (void *)op, op->nhave,
              slots_pending(op), op->d);
    request_more(op);
    if (op->nhave >= op->d || op->timed_out || op->nhave + slots_pending(op) < op->d)
        finish_get(op);
}

static void get_body_done(relay_t *r, relay_status_t st, void *arg)
{
    nreq_t *q = arg;
    op_t *op = q->op;
    int i = q->slot;
    op->slot_relay[i] = NULL;
    if (!op->finished && st == RELAY_OK) {
        const char *chunk = op->obj->data + (size_t)i * op->chunk_size;
        if (ec_crc(chunk, op->chunk_size) == meta_crcs(op->meta)[i]) {
            op->slot_state[i] = SLOT_GOOD;
            op->have_idx[op->nhave++] = i;
        } else {
            log_warn("event=chunk_corrupt node=%d index=%d", q->node->id, i);
            mark_lost(op, i);
        }
    } else if (st == RELAY_SRC_FAILED) {
        mark_lost(op, i);
    }
    nreq_free(q);
    get_check(op);
    op_unref(op);
}

/* ---- ICGET: the first d chunk bodies are spliced to the client in arrival order ---- */

static void icget_write_entry_header(conn_t *c, int index, int state, int64_t len)
{
    char hdr[96];
    int n;
    if (len >= 0)
        n = snprintf(hdr, sizeof hdr, "*3\r\n:%d\r\n:%d\r\n$%" PRId64 "\r\n", index, state, len);
    else
        n = snprintf(hdr, sizeof hdr, "*3\r\n:%d\r\n:%d\r\n$-1\r\n", index, state);
    conn_write(c, hdr, (size_t)n);
}

static void body_discarded(relay_t *r, relay_status_t st, void *arg);

/* After any chunk outcome of a read: request more, answer, or wait. */
static void read_progress(op_t *op)
{
    if (op->kind == OP_ICGET)
        icget_progress(op);
    else
        get_check(op);
}

static void icget_finish(op_t *op)
{
    server_t *srv = op->srv;
    client_t *c = op->client;
    op->finished = 1;
    for (int i = 0; i < op->n; i++)
        if (op->slot_relay[i]) relay_drop_sink(op->slot_relay[i]);
    while (op->ready_head) {
        nreq_t *q = op->ready_head;
        op->ready_head = q->next;
        q->next = NULL;
        conn_t *src = node_unpark(q->node);
        relay_start(srv, src, RELAY_DISCARD, NULL, NULL, q->body_len, body_discarded, q);
    }
    op->ready_tail = NULL;
    count_lost_chunks(op);
    if (c) {
        for (int i = 0; i < op->n; i++) {
            if (op->slot_state[i] == SLOT_GOOD) continue;
            icget_write_entry_header(c->conn, i, slot_known_lost(op, i) ? 2 : 1, -1);
        }
        c->streaming = NULL;
    }
    if (op->spare) {
        /* A second look for one library GET, which the first ICGET already counted. */
        srv->stats.icget_spare_reads++;
        if (op->forwarded < op->forward_min && lost_chunks(op) > op->p) object_lost(op);
    } else if (op->forwarded >= op->d)
        srv->stats.get_hits++;
    else if (lost_chunks(op) > op->p) {
        object_lost(op);
        srv->stats.get_misses++;
    } else {
        srv->stats.errors++; /* the client sees fewer than d chunks, none of them lost: an error */
    }
    client_on_op_done(op);
}

static void icget_stream_done(relay_t *r, relay_status_t st, void *arg);

/* Splices chunk q from its node's connection (positioned at the body) to the client. */
static void icget_send(op_t *op, nreq_t *q, size_t len)
{
    client_t *c = op->client;
    icget_write_entry_header(c->conn, q->slot, 0, (int64_t)len);
    op->relay_active = 1;
    relay_start(op->srv, q->node->conn, RELAY_TO_CONN, c->conn, NULL, len, icget_stream_done, q);
}

static void icget_progress(op_t *op)
{
    if (op->finished) return;
    log_debug("event=icget_progress op=%p forwarded=%d pending=%d relay=%d", (void *)op,
              op->forwarded, slots_pending(op), op->relay_active);
    request_more(op);
    if (!op->relay_active && op->ready_head && op->forwarded < op->forward_goal && op->client) {
        nreq_t *q = op->ready_head;
        op->ready_head = q->next;
        if (!op->ready_head) op->ready_tail = NULL;
        q->next = NULL;
        node_unpark(q->node);
        icget_send(op, q, q->body_len);
    }
    if (op->relay_active) return;
    /* Done when the goal is met, when nothing more can come (ALL: every chunk is in, lost or
     * failed), or when d (ICGETCHUNKS: need) can no longer be reached. */
    int pending = slots_pending(op);
    if (!op->client || op->forwarded >= op->forward_goal || op->timed_out || pending == 0 ||
        op->forwarded + pending < op->forward_min)
        icget_finish(op);
}

static void icget_stream_done(relay_t *r, relay_status_t st, void *arg)
{
    nreq_t *q = arg;
    op_t *op = q->op;
    op->relay_active = 0;
    if (st == RELAY_OK) {
        op->slot_state[q->slot] = SLOT_GOOD;
        op->forwarded++;
    } else {
        mark_lost(op, q->slot);
        if (st == RELAY_SRC_FAILED && op->client) {
            /* Part of a body is on the client's stream: the only safe end is to close it. */
            client_conn_failed(op->client->conn, "node failed while its chunk was streaming");
        }
    }
    nreq_free(q);
    icget_progress(op);
    op_unref(op);
}

/* The node holding parked chunk q lost its connection before the chunk could be sent. */
void icget_parked_failed(nreq_t *q, nres_t res)
{
    op_t *op = q->op;
    nreq_t **pp = &op->ready_head;
    op->ready_tail = NULL;
    while (*pp) {
        if (*pp == q)
            *pp = q->next;
        else {
            op->ready_tail = *pp;
            pp = &(*pp)->next;
        }
    }
    if (res == NRES_MISSING)
        mark_lost(op, q->slot);
    else if (!op->finished)
        op->slot_state[q->slot] = SLOT_FAILED;
    nreq_free(q);
    icget_progress(op);
    op_unref(op);
}

static void body_discarded(relay_t *r, relay_status_t st, void *arg)
{
    nreq_t *q = arg;
    op_t *op = q->op;
    nreq_free(q);
    read_progress(op);
    op_unref(op);
}

/* A node's CGET reply header is parsed; its body is next on the node connection. */
static void chunk_arrived(nreq_t *q, uint32_t crc, size_t len)
{
    op_t *op = q->op;
    server_t *srv = op->srv;
    conn_t *src = q->node->conn;
    int i = q->slot;
    int unwanted = op->finished || !read_awaited(op) ||
                   (op->kind == OP_ICGET ? op->forwarded >= op->forward_goal : op->nhave >= op->d);
    if (len != op->chunk_size || crc != meta_crcs(op->meta)[i]) {
        log_warn("event=chunk_mismatch node=%d index=%d len=%zu", q->node->id, i, len);
        mark_lost(op, i);
        unwanted = 1;
    }
    /* Small bodies usually sit whole in the input buffer already: take them here, without a
     * relay and its timers (this is most of the work of a small GET). */
    if ((unwanted || op->kind == OP_GET) && buf_len(&src->in) >= len + 2 &&
        memcmp(buf_head(&src->in) + len, "\r\n", 2) == 0) {
        if (!unwanted) memcpy(op->obj->data + (size_t)i * op->chunk_size, buf_head(&src->in), len);
        buf_consume(&src->in, len + 2);
        if (unwanted)
            body_discarded(NULL, RELAY_OK, q);
        else
            get_body_done(NULL, RELAY_OK, q);
        return;
    }
    if (unwanted) {
        relay_start(srv, src, RELAY_DISCARD, NULL, NULL, len, body_discarded, q);
        return;
    }
    if (op->kind == OP_GET) {
        op->slot_relay[i] =
            relay_start(srv, src, RELAY_TO_MEMORY, NULL, op->obj->data + (size_t)i * op->chunk_size,
                        len, get_body_done, q);
        return;
    }
    if (!op->relay_active && !op->ready_head) {
        icget_send(op, q, len);
        return;
    }
    /* The client's output is busy with another chunk: leave this body in its node's socket
     * (the connection stops reading) and splice it when its turn comes. No copy, no staging. */
    q->body_len = len;
    q->next = NULL;
    if (op->ready_tail)
        op->ready_tail->next = q;
    else
        op->ready_head = q;
    op->ready_tail = q;
    node_park(q->node, q);
}

static void request_chunk(op_t *op, int i);

/* CGET answered without a body: the node lacks the chunk, or failed. */
static void chunk_missing(nreq_t *q, nres_t res, const char *err)
{
    op_t *op = q->op;
    int slot = q->slot;
    int wanted = !op->finished && !op->timed_out && read_awaited(op);
    if (res == NRES_MISSING) {
        mark_lost(op, slot);
    } else if (wanted && !(op->retried >> slot & 1)) {
        /* The node failed (its instance was reclaimed, its connection broke, it stuck). Ask
         * once more: the request wakes the function, and its next instance either holds the
         * chunk (the backup peer) or says it lacks it, which makes it lost, not just late. The
         * read's deadline bounds the wait. */
        op->retried |= 1ull << slot;
        nreq_free(q);
        request_chunk(op, slot);
        op_unref(op);
        return;
    } else if (!op->finished) {
        op->slot_state[slot] = SLOT_FAILED; /* unreachable now, not gone */
    }
    nreq_free(q);
    read_progress(op);
    op_unref(op);
}

/* Looks the key up and snapshots its metadata. Returns 0, or 1 on a miss (reply written). */
static int read_begin_key(server_t *srv, op_t *op, const char *key, size_t keylen)
{
    meta_t *m = meta_lookup(srv, key, keylen);
    if (!m) {
        if (!op->bg_done) srv->stats.get_misses++;
        resp_add_null(&op->reply);
        client_on_op_done(op);
        return 1;
    }
    m->referenced = 1;
    size_t msize = meta_alloc_size(m->d, m->p, m->keylen);
    op->meta = malloc(msize);
    if (!op->meta || copy_key(op, key, keylen) < 0) {
        resp_add_error(&op->reply, "ERR out of memory");
        client_on_op_done(op);
        return 1;
    }
    memcpy(op->meta, m, msize);
    op->d = m->d;
    op->p = m->p;
    op->n = m->d + m->p;
    op->size = m->size;
    op->version = m->version;
    op->chunk_size = m->chunk_size;
    return 0;
}

static int read_begin(client_t *c, op_t *op)
{
    c->srv->stats.gets++;
    return read_begin_key(c->srv, op, c->cmd.argv[1], c->cmd.argl[1]);
}

static void request_chunk(op_t *op, int i)
{
    nreq_t *q = nreq_new(NREQ_CGET, op, i, op->key, op->keylen, i, op->version);
    op->requested |= 1ull << i;
    if (!q) {
        op->slot_state[i] = SLOT_FAILED;
        return;
    }
    q->on_body = chunk_arrived;
    q->done = chunk_missing;
    log_debug("event=chunk_request op=%p slot=%d node=%d", (void *)op, i, meta_nodes(op->meta)[i]);
    op_ref(op);
    node_submit(&op->srv->nodes[meta_nodes(op->meta)[i]], q);
}

/* Replicated objects (d = 1) are read from one replica at a time: asking all of them would
 * triple the work of every small GET for no gain. A lost replica brings in the next one. */
static void request_more(op_t *op)
{
    if (op->finished || op->d != 1) return;
    for (int i = 0; i < op->n; i++)
        if ((op->requested >> i & 1) && op->slot_state[i] == SLOT_PENDING) return;
    for (int k = 0; k < op->n; k++) {
        int i = layout_read_slot(op->version, op->n, k);
        if (!(op->requested >> i & 1)) {
            request_chunk(op, i);
            return;
        }
    }
}

static void request_chunks(op_t *op)
{
    op->timer =
        ev_timer_add(op->srv->loop, (uint64_t)op->srv->cfg.request_timeout_ms, get_timeout, op);
    if (op->d == 1) {
        request_more(op);
        return;
    }
    for (int i = 0; i < op->n; i++)
        if (!(op->requested >> i & 1)) request_chunk(op, i); /* ICGETCHUNKS: only those listed */
}

void cmd_get(client_t *c, op_t *op)
{
    if (read_begin(c, op)) return;
    if (get_ride(c->srv, op)) return;
    op->obj = objbuf_new(op->chunk_size * (size_t)op->n + 1);
    if (!op->obj) {
        opindex_remove(&c->srv->readers, op); /* nobody rode on it yet: it never read */
        resp_add_error(&op->reply, "ERR out of memory");
        client_on_op_done(op);
        return;
    }
    request_chunks(op);
    get_check(op);
}

int op_start_repair(server_t *srv, const char *key, size_t keylen, void (*done)(op_t *op))
{
    op_t *op = op_new_background(srv, OP_GET);
    if (!op) return -1;
    op->bg_done = done;
    if (read_begin_key(srv, op, key, keylen)) {
        op->bg_done = NULL;
        op_unref(op);
        return -1;
    }
    op->obj = objbuf_new(op->chunk_size * (size_t)op->n + 1);
    if (!op->obj) {
        op->bg_done = NULL;
        op_unref(op);
        return -1;
    }
    /* Every chunk is asked for (lost ones answer at once that they are missing); the first d
     * are decoded from, and finish_get re-stores the lost ones. */
    request_chunks(op);
    get_check(op);
    return 0;
}

void cmd_icget(client_t *c, op_t *op)
{
    /* ICGET key ALL: forward every chunk, not only the first d (the baseline first-d is
     * measured against: the read waits for its slowest chunk). */
    int all = 0;
    if (c->cmd.argc == 3) {
        if (c->cmd.argl[2] != 3 || strncasecmp(c->cmd.argv[2], "ALL", 3) != 0) {
            resp_add_error(&op->reply, "ERR syntax error: ICGET key [ALL]");
            client_on_op_done(op);
            return;
        }
        all = 1;
    }
    if (read_begin(c, op)) return;
    /* Replicas (d = 1) are read one at a time either way: each is the whole object. */
    op->forward_goal = all && op->d > 1 ? op->n : op->d;
    op->forward_min = op->d;
    icget_start(c, op);
}

/* Writes the reply's metadata and starts reading the chunks the op wants. */
static void icget_start(client_t *c, op_t *op)
{
    /* The op owns the output from here: the queue ahead of it is empty (see dispatch). */
    buf_t b;
    buf_init(&b);
    resp_add_array_header(&b, 1 + op->n);
    resp_add_array_header(&b, 5 + op->n);
    resp_add_int(&b, (int64_t)op->version);
    resp_add_int(&b, (int64_t)op->size);
    resp_add_int(&b, op->d);
    resp_add_int(&b, op->p);
    resp_add_int(&b, (int64_t)op->chunk_size);
    for (int i = 0; i < op->n; i++)
        resp_add_int(&b, meta_crcs(op->meta)[i]);
    conn_write_buf(c->conn, &b);
    buf_free(&b);
    c->streaming = op;
    request_chunks(op);
    icget_progress(op);
}

/* ICGETCHUNKS key version need index...: a library's second look at the version it is reading,
 * when some of the chunks it got failed their checksum (or its first reply came without d). Only
 * the listed chunks are read; the first `need` that arrive are streamed as ICGET streams them, in
 * the same reply shape, and every other entry says "not sent" (or "lost"). A key that is gone
 * answers $-1; a version that is no longer current, -STALE, so the library starts over. */
void cmd_icgetchunks(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    server_t *srv = c->srv;
    uint64_t version, need, listed = 0;
    meta_t *m = meta_lookup(srv, argv[1], argl[1]);
    if (resp_parse_u64(argv[2], argl[2], &version) < 0 ||
        resp_parse_u64(argv[3], argl[3], &need) < 0) {
        resp_add_error(&op->reply, "ERR ICGETCHUNKS: bad version or need");
        goto answered;
    }
    if (!m) {
        resp_add_null(&op->reply);
        goto answered;
    }
    if (m->version != version) {
        resp_add_error(&op->reply, "STALE version %" PRIu64 " is not current", version);
        goto answered;
    }
    for (int a = 4; a < argc; a++) {
        uint64_t i;
        if (resp_parse_u64(argv[a], argl[a], &i) < 0 || i >= (uint64_t)(m->d + m->p) ||
            (listed >> i & 1)) {
            resp_add_error(&op->reply, "ERR ICGETCHUNKS: bad or repeated chunk index");
            goto answered;
        }
        listed |= 1ull << i;
    }
    if (need < 1 || need > (uint64_t)__builtin_popcountll(listed)) {
        resp_add_error(&op->reply, "ERR ICGETCHUNKS: need must be 1 to the number of indexes");
        goto answered;
    }
    if (read_begin_key(srv, op, argv[1], argl[1])) return;
    op->spare = 1;
    op->forward_goal = op->forward_min = (int)need;
    for (int i = 0; i < op->n; i++)
        if (!(listed >> i & 1)) {
            op->requested |= 1ull << i; /* never read; answered "not sent" */
            op->slot_state[i] = SLOT_FAILED;
        }
    icget_start(c, op);
    return;
answered:
    client_on_op_done(op);
}

/* ================= ICREPAIR, DEL ================= */

static void repair_done(nreq_t *q, nres_t res, const char *err)
{
    op_t *op = q->op;
    meta_t *m = res == NRES_OK ? meta_lookup(op->srv, q->key, q->keylen) : NULL;
    if (m && m->version == q->version) {
        m->lost_mask &= ~(1ull << q->slot);
        op->srv->stats.chunks_repaired++;
        op->srv->stats.chunks_corrupt_repaired += (uint64_t)op->repair_unlisted;
    }
    if (res == NRES_OK)
        resp_add_simple(&op->reply, "OK");
    else
        resp_add_error(&op->reply, "ERR repair failed: %s", err ? err : "node error");
    nreq_free(q);
    client_on_op_done(op);
    op_unref(op);
}

void cmd_icrepair(client_t *c, op_t *op, const char **argv, const size_t *argl, objbuf_t *body)
{
    server_t *srv = c->srv;
    uint64_t version, index, crc;
    const char *chunk = body ? body->data : argv[5];
    size_t len = body ? body->len : argl[5];
    meta_t *m = meta_lookup(srv, argv[1], argl[1]);
    if (resp_parse_u64(argv[2], argl[2], &version) < 0 ||
        resp_parse_u64(argv[3], argl[3], &index) < 0 ||
        resp_parse_u64(argv[4], argl[4], &crc) < 0) {
        resp_add_error(&op->reply, "ERR ICREPAIR: bad arguments");
    } else if (!m || m->version != version) {
        resp_add_error(&op->reply, "ERR ICREPAIR: version %" PRIu64 " is not current", version);
    } else if (index >= (uint64_t)(m->d + m->p) || len != m->chunk_size ||
               crc != meta_crcs(m)[index] || ec_crc(chunk, len) != crc) {
        resp_add_error(&op->reply, "ERR ICREPAIR: chunk does not match the object's metadata");
    } else {
        nreq_t *q = nreq_new(NREQ_CSET, op, (int)index, argv[1], argl[1], (int)index, version);
        objbuf_t *ref = body ? objbuf_ref(body) : objbuf_new(len);
        if (!q || !ref) {
            nreq_free(q);
            objbuf_unref(ref);
            resp_add_error(&op->reply, "ERR out of memory");
        } else {
            if (!body) memcpy(ref->data, chunk, len);
            q->body_ref = ref;
            q->body_ptr = ref->data;
            q->body_len = len;
            q->crc = (uint32_t)crc;
            cset_object_fields(q, m->size, m->d, m->p, (int64_t)m->expire_ms);
            q->done = repair_done;
            /* Clients re-store only chunks that were lost or failed their checksum: one the
             * proxy did not know lost was corrupt. */
            op->repair_unlisted = !(m->lost_mask >> index & 1);
            op_ref(op);
            node_submit(&srv->nodes[meta_nodes(m)[index]], q);
            return;
        }
    }
    client_on_op_done(op);
}

/* A DEL answers once every chunk delete it sent is answered by its node, or kept for the node's
 * return (node_delete_chunk_acked): when the client hears of it, no node it reached still serves
 * the chunks, and the others will be told before anything else. */
static void del_check_done(op_t *op)
{
    if (op->outstanding > 0 || !op->all_args || op->finished) return;
    op->finished = 1;
    resp_add_int(&op->reply, op->ndeleted);
    client_on_op_done(op);
}

void ops_delete_acked(op_t *op)
{
    op->outstanding--;
    del_check_done(op);
    op_unref(op);
}

/* A serving node that holds no chunk of m (from a key-dependent start), or -1. */
static int del_witness(server_t *srv, meta_t *m)
{
    for (int k = 0; k < srv->nnodes; k++) {
        int id = (int)((m->hash + (uint64_t)k) % (uint64_t)srv->nnodes);
        int holds = 0;
        for (int i = 0; i < m->d + m->p && !holds; i++) holds = meta_nodes(m)[i] == id;
        if (!holds && node_reachable(&srv->nodes[id])) return id;
    }
    return -1;
}

void cmd_del(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    server_t *srv = c->srv;
    op->ndeleted = 0;
    for (int i = 1; i < argc; i++) {
        meta_t *m = meta_lookup(srv, argv[i], argl[i]);
        if (!m) continue;
        uint16_t *nodes = meta_nodes(m);
        int unreachable = 0;
        for (int k = 0; k < m->d + m->p; k++) {
            unreachable += !node_reachable(&srv->nodes[nodes[k]]);
            if (node_delete_chunk_acked(&srv->nodes[nodes[k]], meta_key(m), m->keylen, k,
                                        m->version, op)) {
                op->outstanding++;
                op_ref(op);
            }
        }
        /* A holder that cannot be reached now keeps the chunk until it is back; should this
         * proxy go down before then, the tombstones of the holders that answered tell its
         * successor. If none may answer, one serving node that holds nothing of the key keeps
         * a tombstone too (its CDEL finds no chunk): otherwise the delete would live only here. */
        if (unreachable) {
            int extra = del_witness(srv, m);
            if (extra >= 0 && node_delete_chunk_acked(&srv->nodes[extra], meta_key(m), m->keylen, 0,
                                                      m->version, op)) {
                op->outstanding++;
                op_ref(op);
            }
        }
        meta_forget(srv, m);
        op->ndeleted++;
    }
    op->all_args = 1;
    del_check_done(op);
}
