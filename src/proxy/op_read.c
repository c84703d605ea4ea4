/* op_read.c -- the read path: Redis GET (chunks read into memory, decoded if needed, riders of
 * a hot key), the library's streamed ICGET and ICGETCHUNKS, and chunk arrival from the nodes. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "icproto.h"
#include "layout.h"
#include "nodeproto.h"
#include "log.h"
#include "backing.h"
#include "client.h"
#include "meta.h"
#include "nodepool.h"
#include "op.h"
#include "server.h"
#include "transport.h"

/* ================= reading chunks (GET, ICGET) ================= */

void op_get_check(op_t *op);
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
        op_get_check(op);
}

static int slots_pending(op_t *op)
{
    int n = 0;
    for (int i = 0; i < op->n; i++)
        n += op->slot_state[i] == SLOT_PENDING;
    return n;
}

/* The object cannot be read any more: forget it, so later GETs miss cleanly. */
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

static int finish_get_reply(op_t *op);

static void finish_get(op_t *op)
{
    opindex_remove(&op->srv->readers, op);
    if (finish_get_reply(op)) return; /* the backing store answers it */
    op_answer_riders(op);
    client_on_op_done(op);
}

/* Decides the answer of a GET into op->reply (riders count in the statistics). Returns 1 when
 * the object could not be decoded and the backing store was asked instead (backing.c answers
 * the op and its riders then). */
static int finish_get_reply(op_t *op)
{
    server_t *srv = op->srv;
    uint64_t answered = 1 + (uint64_t)op->nriders;
    op->finished = 1;
    for (int i = 0; i < op->n; i++)
        if (op->slot_relay[i]) relay_drop_sink(op->slot_relay[i]);
    op_count_lost_chunks(op);
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
            return 0;
        }
        if (!op->bg_done) srv->stats.get_hits += answered;
        if (srv->cfg.repair) op_repair_from_obj(op);
        if (op->size <= GET_COPY_MAX) {
            resp_add_bulk(&op->reply, op->obj->data, op->size);
        } else {
            resp_add_bulk_header(&op->reply, op->size);
            op->reply_ref = objbuf_ref(op->obj);
            op->reply_ref_len = op->size;
        }
    } else if (op_lost_chunks(op) > op->p) {
        op_object_lost(op);
        if (backing_read_miss(op, op->version)) return 1;
        if (!op->bg_done) srv->stats.get_misses += answered;
        resp_add_null(&op->reply);
    } else {
        if (backing_read_miss(op, op->version)) return 1;
        if (!op->bg_done) srv->stats.errors += answered;
        resp_add_error(&op->reply, "ERR only %d of the %d chunks needed could be read%s; try again",
                       op->nhave, op->d, op->timed_out ? " in time" : "");
    }
    return 0;
}

static void request_more(op_t *op);

void op_get_check(op_t *op)
{
    if (op->finished) return;
    log_debug("event=op_get_check op=%p have=%d pending=%d d=%d", (void *)op, op->nhave,
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
        /* A relay checksummed the body as it landed (a mover, when it read it); a body taken
         * whole from the input buffer is checksummed here. */
        const char *chunk = op->obj->data + (size_t)i * op->chunk_size;
        uint32_t crc = r ? r->crc : ec_crc(chunk, op->chunk_size);
        if (crc == meta_crcs(op->meta)[i]) {
            op->slot_state[i] = SLOT_GOOD;
            op->have_idx[op->nhave++] = i;
            op->srv->stats.chunk_reads[CHUNK_READ_FIRST_D]++;
        } else {
            log_warn("event=chunk_corrupt node=%d index=%d", q->node->id, i);
            op_mark_lost(op, i);
            op->srv->stats.chunk_reads[CHUNK_READ_CORRUPT]++;
        }
    } else if (st == RELAY_SRC_FAILED) {
        op_mark_lost(op, i);
        op->srv->stats.chunk_reads[CHUNK_READ_FAILED]++;
    }
    nreq_free(q);
    op_get_check(op);
    op_unref(op);
}

/* ---- ICGET: the first d chunk bodies are spliced to the client in arrival order ---- */

static void icget_write_entry_header(conn_t *c, int index, int state, int64_t len)
{
    static buf_t hdr; /* kept between calls: one per chunk sent (the proxy is single-threaded) */
    if (icproto_put_entry(&hdr, index, state, len >= 0 ? (size_t)len : 0) < 0)
        conn_fail(c, "out of memory");
    conn_write_buf(c, &hdr);
}

static void body_discarded(relay_t *r, relay_status_t st, void *arg);

/* After any chunk outcome of a read: request more, answer, or wait. */
static void read_progress(op_t *op)
{
    if (op->kind == OP_ICGET)
        icget_progress(op);
    else
        op_get_check(op);
}

static void icget_finish(op_t *op)
{
    server_t *srv = op->srv;
    client_t *c = op->client;
    op->finished = 1;
    for (int i = 0; i < op->n; i++)
        if (op->slot_relay[i]) relay_drop_sink(op->slot_relay[i]);
    while (!QUEUE_EMPTY(&op->ready)) {
        nreq_t *q;
        QUEUE_POP_HEAD(&op->ready, q, next);
        conn_t *src = node_unpark(q->node);
        srv->stats.chunk_reads[CHUNK_READ_LATE]++; /* parked, and not needed in the end */
        relay_start(src, RELAY_DISCARD, NULL, NULL, q->body_len, body_discarded, q);
    }
    op_count_lost_chunks(op);
    if (c) {
        for (int i = 0; i < op->n; i++) {
            if (op->slot_state[i] == SLOT_GOOD) continue;
            icget_write_entry_header(c->conn, i, op_slot_known_lost(op, i) ? 2 : 1, -1);
        }
        c->streaming = NULL;
    }
    if (op->spare) {
        /* A second look for one library GET, which the first ICGET already counted. */
        srv->stats.icget_spare_reads++;
        if (op->forwarded < op->forward_min && op_lost_chunks(op) > op->p) op_object_lost(op);
    } else if (op->forwarded >= op->d)
        srv->stats.get_hits++;
    else if (op_lost_chunks(op) > op->p) {
        op_object_lost(op);
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
    op->srv->stats.chunk_reads[CHUNK_READ_FIRST_D]++;
    op->relay_active = 1;
    relay_start(q->node->conn, RELAY_TO_CONN, c->conn, NULL, len, icget_stream_done, q);
}

static void icget_progress(op_t *op)
{
    if (op->finished) return;
    log_debug("event=icget_progress op=%p forwarded=%d pending=%d relay=%d", (void *)op,
              op->forwarded, slots_pending(op), op->relay_active);
    request_more(op);
    if (!op->relay_active && !QUEUE_EMPTY(&op->ready) && op->forwarded < op->forward_goal &&
        op->client) {
        nreq_t *q;
        QUEUE_POP_HEAD(&op->ready, q, next);
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
        op_mark_lost(op, q->slot);
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
    QUEUE_REMOVE(&op->ready, q, nreq_t, next);
    if (res == NRES_MISSING)
        op_mark_lost(op, q->slot);
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
    conn_t *src = q->node->conn;
    int i = q->slot;
    int unwanted = op->finished || !read_awaited(op) ||
                   (op->kind == OP_ICGET ? op->forwarded >= op->forward_goal : op->nhave >= op->d);
    if (len != op->chunk_size || crc != meta_crcs(op->meta)[i]) {
        log_warn("event=chunk_mismatch node=%d index=%d len=%zu", q->node->id, i, len);
        op_mark_lost(op, i);
        unwanted = 1;
        op->srv->stats.chunk_reads[CHUNK_READ_CORRUPT]++;
    } else if (unwanted) {
        op->srv->stats.chunk_reads[CHUNK_READ_LATE]++;
    }
    /* Small bodies usually sit whole in the input buffer already: take them here, without a
     * relay and its timers (this is most of the work of a small GET). */
    if ((unwanted || op->kind == OP_GET) &&
        nodeproto_body_in_buffer(buf_head(&src->in), buf_len(&src->in), len) > 0) {
        if (!unwanted) memcpy(op->obj->data + (size_t)i * op->chunk_size, buf_head(&src->in), len);
        buf_consume(&src->in, len + 2);
        if (unwanted)
            body_discarded(NULL, RELAY_OK, q);
        else
            get_body_done(NULL, RELAY_OK, q);
        return;
    }
    if (unwanted) {
        relay_start(src, RELAY_DISCARD, NULL, NULL, len, body_discarded, q);
        return;
    }
    if (op->kind == OP_GET) {
        op->slot_relay[i] =
            relay_start(src, RELAY_TO_MEMORY, NULL, op->obj->data + (size_t)i * op->chunk_size, len,
                        get_body_done, q);
        relay_want_crc(op->slot_relay[i]);
        return;
    }
    if (!op->relay_active && QUEUE_EMPTY(&op->ready)) {
        icget_send(op, q, len);
        return;
    }
    /* The client's output is busy with another chunk: leave this body in its node's socket
     * (the connection stops reading) and splice it when its turn comes. No copy, no staging. */
    q->body_len = len;
    QUEUE_PUSH_TAIL(&op->ready, q, next);
    node_park(q->node, q);
}

static void request_chunk(op_t *op, int i);

/* CGET answered without a body: the node lacks the chunk, or failed. */
static void chunk_missing(nreq_t *q, nres_t res, const char *err)
{
    op_t *op = q->op;
    int slot = q->slot;
    int wanted = !op->finished && !op->timed_out && read_awaited(op);
    op->srv->stats.chunk_reads[res == NRES_MISSING ? CHUNK_READ_LOST : CHUNK_READ_FAILED]++;
    if (res == NRES_MISSING) {
        op_mark_lost(op, slot);
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
int op_read_begin_key(server_t *srv, op_t *op, const char *key, size_t keylen)
{
    meta_t *m = meta_lookup(srv, key, keylen);
    if (!m) {
        if (!op->bg_done) srv->stats.get_misses++;
        resp_add_null(&op->reply);
        client_on_op_done(op);
        return 1;
    }
    meta_touch(m);
    size_t msize = meta_alloc_size(m->d, m->p, m->keylen);
    op->meta = malloc(msize);
    if (!op->meta || op_copy_key(op, key, keylen) < 0) {
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

void op_request_chunks(op_t *op)
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
    cmd_get_key(c, op, c->cmd.argv[1], c->cmd.argl[1]);
}

/* The start of a client's read (GET, ICGET): counted, a miss sent to the backing store when
 * there is one, else the metadata snapshot taken. 1 when op is answered (or the store will
 * answer it), 0 when the caller reads the cache. */
static int read_start(server_t *srv, op_t *op, const char *key, size_t keylen)
{
    srv->stats.gets++;
    if (srv->backing && !meta_lookup(srv, key, keylen) && op_copy_key(op, key, keylen) == 0 &&
        backing_read_miss(op, 0))
        return 1;
    return op_read_begin_key(srv, op, key, keylen);
}

void cmd_get_key(client_t *c, op_t *op, const char *key, size_t keylen)
{
    if (read_start(c->srv, op, key, keylen) || backing_check_hit(op)) return;
    cmd_get_continue(op);
}

void cmd_get_continue(op_t *op)
{
    server_t *srv = op->srv;
    if (get_ride(srv, op)) return;
    op->obj = objbuf_new(op->chunk_size * (size_t)op->n + 1);
    if (!op->obj) {
        opindex_remove(&srv->readers, op); /* nobody rode on it yet: it never read */
        resp_add_error(&op->reply, "ERR out of memory");
        client_on_op_done(op);
        return;
    }
    op_request_chunks(op);
    op_get_check(op);
}

void cmd_icget(client_t *c, op_t *op)
{
    /* ICGET key ALL: forward every chunk, not only the first d (the baseline first-d is
     * measured against: the read waits for its slowest chunk). */
    int all;
    char err[64];
    if (icproto_icget_decode((int)c->cmd.argc, c->cmd.argv, c->cmd.argl, &all, err, sizeof err) <
        0) {
        resp_add_error(&op->reply, "%s", err);
        client_on_op_done(op);
        return;
    }
    if (read_start(c->srv, op, c->cmd.argv[1], c->cmd.argl[1])) return;
    /* Replicas (d = 1) are read one at a time either way: each is the whole object. */
    op->forward_goal = all && op->d > 1 ? op->n : op->d;
    op->forward_min = op->d;
    if (backing_check_hit(op)) return;
    icget_start(c, op);
}

void cmd_icget_continue(op_t *op)
{
    if (!op->client) { /* gone while the store was asked: nobody to stream to */
        op->finished = 1;
        client_on_op_done(op);
        return;
    }
    icget_start(op->client, op);
}

/* Answers an ICGET with a whole value at hand (read from the backing store) in the reply's own
 * shape: the d data chunks of the value's layout and no parity (p = 0: the library decodes
 * nothing), each with the CRC computed here, the tail zero-padded as stored chunks are. The
 * version is 0, as no cached version was read: a spare request for it is answered STALE and the
 * library starts over. Takes the caller's reference to value (NULL: out of memory). */
void icget_answer_value(op_t *op, objbuf_t *value, uint64_t size)
{
    /* Every chunk is ceil(size / d) rounded up to EC_ALIGN, so the padding of all of them
     * together is under d * EC_ALIGN bytes. */
    static const char zeros[EC_MAX_DATA * EC_ALIGN];
    server_t *srv = op->srv;
    client_t *c = op->client;
    if (!value) {
        resp_add_error(&op->reply, "ERR out of memory");
        return;
    }
    if (c && !c->conn->closing) {
        int d = layout_data_chunks(size, (uint64_t)srv->cfg.small_object_max, (int)srv->cfg.d);
        if (d > EC_MAX_DATA) d = EC_MAX_DATA;
        size_t cs = ec_chunk_size(size, d);
        icproto_meta_t meta = {.size = size, .d = d, .p = 0, .n = d, .chunk_size = cs};
        size_t data_len[EC_MAX_DATA];
        for (int i = 0; i < d; i++) {
            uint64_t off = (uint64_t)i * cs;
            data_len[i] = off >= size ? 0 : size - off < cs ? (size_t)(size - off) : cs;
            size_t pad = cs - data_len[i];
            uint32_t crc = ec_crc(value->data + (data_len[i] ? off : 0), data_len[i]);
            meta.crc[i] = pad ? ec_crc_combine(crc, ec_crc(zeros, pad), pad) : crc;
        }
        buf_t b;
        buf_init(&b);
        icproto_put_meta(&b, &meta);
        conn_write_buf(c->conn, &b);
        for (int i = 0; i < d; i++) {
            icget_write_entry_header(c->conn, i, ICPROTO_CHUNK_SENT, (int64_t)cs);
            if (data_len[i])
                conn_write_ref(c->conn, value, value->data + (size_t)i * cs, data_len[i]);
            if (cs > data_len[i]) conn_write(c->conn, zeros, cs - data_len[i]);
            conn_write(c->conn, "\r\n", 2);
        }
        buf_free(&b);
    }
    objbuf_unref(value);
}

/* Writes the reply's metadata and starts reading the chunks the op wants. */
static void icget_start(client_t *c, op_t *op)
{
    /* The op owns the output from here: the queue ahead of it is empty (see dispatch). */
    icproto_meta_t meta = {.version = op->version,
                           .size = op->size,
                           .d = op->d,
                           .p = op->p,
                           .n = op->n,
                           .chunk_size = op->chunk_size};
    memcpy(meta.crc, meta_crcs(op->meta), (size_t)op->n * sizeof meta.crc[0]);
    buf_t b;
    buf_init(&b);
    icproto_put_meta(&b, &meta);
    conn_write_buf(c->conn, &b);
    buf_free(&b);
    c->streaming = op;
    op_request_chunks(op);
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
    char err[96];
    meta_t *m = meta_lookup(srv, argv[1], argl[1]);
    if (icproto_icgetchunks_decode(argc, argv, argl, &version, &need, err, sizeof err) < 0) {
        resp_add_error(&op->reply, "%s", err);
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
    if (icproto_icgetchunks_indexes(argc, argv, argl, m->d + m->p, need, &listed, err, sizeof err) <
        0) {
        resp_add_error(&op->reply, "%s", err);
        goto answered;
    }
    if (op_read_begin_key(srv, op, argv[1], argl[1])) return;
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
