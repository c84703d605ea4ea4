/* op_range.c -- GETRANGE of a coded object: only the pieces of the data chunks that hold the range
 * are read (CGETR), each checked against its chunk's CRC; a piece that cannot be read is decoded
 * from the same window of d other chunks. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "layout.h"
#include "log.h"
#include "meta.h"
#include "nodeproto.h"
#include "nodepool.h"
#include "op.h"
#include "server.h"
#include "transport.h"

/* Answers of this size or less are copied into the reply; larger ones go out by reference. */
#define RANGE_COPY_MAX 8192

static void range_progress(op_t *op);

static int range_awaited(const op_t *op)
{
    return op->client != NULL;
}

static int range_slots_pending(const op_t *op)
{
    int n = 0;
    for (int i = 0; i < op->n; i++)
        n += (op->requested >> i & 1) && op->slot_state[i] == SLOT_PENDING;
    return n;
}

static void range_finish(op_t *op, int ok, const char *err)
{
    server_t *srv = op->srv;
    op->finished = 1;
    for (int i = 0; i < op->n; i++)
        if (op->slot_relay[i]) {
            relay_drop_sink(op->slot_relay[i]);
            op->slot_relay[i] = NULL;
        }
    if (ok) {
        srv->stats.get_hits++;
        if (op->range_count <= RANGE_COPY_MAX) {
            resp_add_bulk(&op->reply, op->obj->data, (size_t)op->range_count);
        } else {
            resp_add_bulk_header(&op->reply, (size_t)op->range_count);
            op->reply_ref = objbuf_ref(op->obj);
            op->reply_ref_len = (size_t)op->range_count;
        }
    } else if (!err) {
        /* More than p chunks are gone: the object is lost, and like a GET the answer is that
         * the key is gone (GETRANGE's answer for a missing key is the empty string). */
        op_object_lost(op);
        srv->stats.get_misses++;
        resp_add_bulk(&op->reply, "", 0);
    } else {
        srv->stats.errors++;
        resp_add_error(&op->reply, "%s", err);
    }
    client_on_op_done(op);
}

static void range_timeout(ev_loop_t *loop, void *arg)
{
    op_t *op = arg;
    (void)loop;
    op->timer = 0;
    if (op->finished) return;
    op->timed_out = 1;
    range_progress(op);
}

static void piece_arrived(nreq_t *q, uint32_t head_crc, size_t len);
static void piece_missing(nreq_t *q, nres_t res, const char *err);

/* Asks slot i's node for bytes [off, off + len) of its chunk, read into dest. */
static void request_piece(op_t *op, int i, uint64_t off, size_t len, char *dest)
{
    nreq_t *q = nreq_new(NREQ_CGETR, op, i, op->key, op->keylen, i, op->version);
    op->requested |= 1ull << i;
    if (!q) {
        op->slot_state[i] = SLOT_FAILED;
        return;
    }
    q->piece_off = off;
    q->piece_len = len;
    q->piece_dest = dest;
    q->on_body = piece_arrived;
    q->done = piece_missing;
    op_ref(op);
    node_submit(&op->srv->nodes[meta_nodes(op->meta)[i]], q);
}

/* The piece of q is in q->piece_dest: is it the chunk's, by the chunk's CRC? */
static void piece_check(op_t *op, nreq_t *q, uint32_t head_crc)
{
    int i = q->slot;
    uint32_t crc = ec_crc_combine(head_crc, ec_crc(q->piece_dest, q->piece_len), q->piece_len);
    crc = ec_crc_combine(crc, q->tail_crc, op->chunk_size - q->piece_off - q->piece_len);
    if (crc == meta_crcs(op->meta)[i]) {
        op->slot_state[i] = SLOT_GOOD;
        op->have_idx[op->nhave++] = i;
        op->srv->stats.chunk_reads[CHUNK_READ_FIRST_D]++;
    } else {
        log_warn("event=chunk_corrupt node=%d index=%d piece_off=%" PRIu64, q->node->id, i,
                 q->piece_off);
        op_mark_lost(op, i);
        op->srv->stats.chunk_reads[CHUNK_READ_CORRUPT]++;
    }
}

static void piece_body_done(relay_t *r, relay_status_t st, void *arg)
{
    nreq_t *q = arg;
    op_t *op = q->op;
    (void)r;
    op->slot_relay[q->slot] = NULL;
    if (!op->finished && st == RELAY_OK) {
        piece_check(op, q, q->crc);
    } else if (st == RELAY_SRC_FAILED) {
        op_mark_lost(op, q->slot);
        op->srv->stats.chunk_reads[CHUNK_READ_FAILED]++;
    }
    nreq_free(q);
    range_progress(op);
    op_unref(op);
}

static void piece_discarded(relay_t *r, relay_status_t st, void *arg)
{
    nreq_t *q = arg;
    op_t *op = q->op;
    (void)r, (void)st;
    nreq_free(q);
    range_progress(op);
    op_unref(op);
}

/* A node's CGETR reply header is parsed; the piece's body is next on its connection. */
static void piece_arrived(nreq_t *q, uint32_t head_crc, size_t len)
{
    op_t *op = q->op;
    conn_t *src = q->node->conn;
    int unwanted = op->finished || !range_awaited(op);
    op->srv->stats.getrange_chunk_bytes += len;
    if (len != q->piece_len) {
        log_warn("event=chunk_mismatch node=%d index=%d len=%zu", q->node->id, q->slot, len);
        op_mark_lost(op, q->slot);
        op->srv->stats.chunk_reads[CHUNK_READ_CORRUPT]++;
        unwanted = 1;
    } else if (unwanted) {
        op->srv->stats.chunk_reads[CHUNK_READ_LATE]++;
    }
    q->crc = head_crc;
    if (nodeproto_body_in_buffer(buf_head(&src->in), buf_len(&src->in), len) > 0) {
        if (!unwanted) memcpy(q->piece_dest, buf_head(&src->in), len);
        buf_consume(&src->in, len + 2);
        if (unwanted)
            piece_discarded(NULL, RELAY_OK, q);
        else
            piece_body_done(NULL, RELAY_OK, q);
        return;
    }
    if (unwanted) {
        relay_start(src, RELAY_DISCARD, NULL, NULL, len, piece_discarded, q);
        return;
    }
    op->slot_relay[q->slot] =
        relay_start(src, RELAY_TO_MEMORY, NULL, q->piece_dest, len, piece_body_done, q);
}

/* CGETR answered without a body: the node lacks the chunk, or failed. */
static void piece_missing(nreq_t *q, nres_t res, const char *err)
{
    op_t *op = q->op;
    int slot = q->slot;
    (void)err;
    op->srv->stats.chunk_reads[res == NRES_MISSING ? CHUNK_READ_LOST : CHUNK_READ_FAILED]++;
    if (res == NRES_MISSING) {
        op_mark_lost(op, slot);
    } else if (!op->finished && !op->timed_out && range_awaited(op) && !(op->retried >> slot & 1)) {
        /* As a GET does: ask once more, which wakes the function; its next instance holds the
         * chunk or says it lacks it. */
        op->retried |= 1ull << slot;
        uint64_t off = q->piece_off;
        size_t len = q->piece_len;
        char *dest = q->piece_dest;
        nreq_free(q);
        request_piece(op, slot, off, len, dest);
        op_unref(op);
        return;
    } else if (!op->finished) {
        op->slot_state[slot] = SLOT_FAILED;
    }
    nreq_free(q);
    range_progress(op);
    op_unref(op);
}

/* Second step: the pieces of the data chunks in range_bad are decoded from the window
 * [win_off, win_off + win_len) of d other chunks. Chunks are asked for d at a time; each one that
 * fails brings in the next candidate. */
static void decode_request_more(op_t *op)
{
    int want = op->d - op->nhave - range_slots_pending(op);
    for (int i = 0; i < op->n && want > 0; i++) {
        if (op->requested >> i & 1 || op->range_bad >> i & 1 || op_slot_known_lost(op, i)) continue;
        request_piece(op, i, op->win_off, (size_t)op->win_len,
                      op->range_scratch->data + (size_t)i * op->win_len);
        want--;
    }
}

static int decode_start(op_t *op)
{
    layout_piece_t pieces[EC_MAX_DATA];
    int np = layout_range_pieces(op->range_first, op->range_count, op->chunk_size, op->d, pieces);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int k = 0; k < np; k++) {
        if (!(op->range_bad >> pieces[k].index & 1)) continue;
        if (pieces[k].chunk_off < lo) lo = pieces[k].chunk_off;
        if (pieces[k].chunk_off + pieces[k].len > hi) hi = pieces[k].chunk_off + pieces[k].len;
    }
    op->win_off = lo;
    op->win_len = hi - lo;
    op->range_scratch = objbuf_new((size_t)op->win_len * (size_t)op->n + 1);
    if (!op->range_scratch) return -1;
    op->range_decoding = 1;
    op->srv->stats.getrange_decoded++;
    op->nhave = 0;
    op->requested = 0;
    op->retried = 0;
    for (int i = 0; i < op->n; i++)
        if (!(op->range_bad >> i & 1) && op->slot_state[i] != SLOT_LOST)
            op->slot_state[i] = SLOT_PENDING;
    log_info("event=getrange_decode key_len=%zu bad=%#" PRIx64 " window=%" PRIu64, op->keylen,
             op->range_bad, op->win_len);
    decode_request_more(op);
    return 0;
}

/* d window pieces are in: rebuild the bad ones and copy their parts of the range into obj. */
static int decode_finish(op_t *op)
{
    size_t wl = (size_t)op->win_len;
    uint8_t *have[EC_MAX_DATA], *want[EC_MAX_CHUNKS];
    int want_idx[EC_MAX_CHUNKS], nwant = 0;
    for (int k = 0; k < op->d; k++)
        have[k] = (uint8_t *)op->range_scratch->data + (size_t)op->have_idx[k] * wl;
    for (int i = 0; i < op->d; i++)
        if (op->range_bad >> i & 1) {
            want_idx[nwant] = i;
            want[nwant++] = (uint8_t *)op->range_scratch->data + (size_t)i * wl;
        }
    if (ec_decode(op->d, op->p, wl, op->have_idx, have, nwant, want_idx, want) < 0) return -1;
    layout_piece_t pieces[EC_MAX_DATA];
    int np = layout_range_pieces(op->range_first, op->range_count, op->chunk_size, op->d, pieces);
    for (int k = 0; k < np; k++) {
        const layout_piece_t *pc = &pieces[k];
        if (!(op->range_bad >> pc->index & 1)) continue;
        memcpy(op->obj->data + (pc->value_off - op->range_first),
               op->range_scratch->data + (size_t)pc->index * wl + (pc->chunk_off - op->win_off),
               (size_t)pc->len);
    }
    return 0;
}

static void range_progress(op_t *op)
{
    if (op->finished) return;
    if (!range_awaited(op)) {
        range_finish(op, 0, "ERR client gone");
        return;
    }
    if (op->range_decoding) {
        if (op->nhave < op->d && !op->timed_out) decode_request_more(op);
        if (range_slots_pending(op) > 0 && op->nhave < op->d && !op->timed_out) return;
        if (op->nhave >= op->d) {
            if (decode_finish(op) < 0)
                range_finish(op, 0, "ERR decoding failed");
            else
                range_finish(op, 1, NULL);
            return;
        }
        int lost = 0;
        for (int i = 0; i < op->n; i++)
            lost += op_slot_known_lost(op, i);
        if (lost > op->p)
            range_finish(op, 0, NULL);
        else
            range_finish(op, 0,
                         op->timed_out ? "ERR the chunks needed could not be read in time; "
                                         "try again"
                                       : "ERR the chunks needed could not be read; try "
                                         "again");
        return;
    }
    if (range_slots_pending(op) > 0 && !op->timed_out) return;
    op->range_bad = 0;
    for (int i = 0; i < op->d; i++)
        if ((op->requested >> i & 1) && op->slot_state[i] != SLOT_GOOD) op->range_bad |= 1ull << i;
    if (!op->range_bad) {
        range_finish(op, 1, NULL);
        return;
    }
    if (op->timed_out) {
        range_finish(op, 0, "ERR the chunks needed could not be read in time; try again");
        return;
    }
    if (decode_start(op) < 0) {
        range_finish(op, 0, "ERR out of memory");
        return;
    }
    range_progress(op);
}

int cmd_getrange_coded(client_t *c, op_t *op, const char *key, size_t keylen, uint64_t first,
                       uint64_t count)
{
    server_t *srv = c->srv;
    meta_t *m = meta_lookup(srv, key, keylen);
    if (!m || m->d == 1) return -1;
    op->kind = OP_GETRANGE;
    srv->stats.gets++;
    srv->stats.getrange_requests++;
    if (op_read_begin_key(srv, op, key, keylen)) return 0;
    op->range_first = first;
    op->range_count = count;
    op->obj = objbuf_new((size_t)count + 1);
    if (!op->obj) {
        resp_add_error(&op->reply, "ERR out of memory");
        client_on_op_done(op);
        return 0;
    }
    op->timer = ev_timer_add(srv->loop, (uint64_t)srv->cfg.request_timeout_ms, range_timeout, op);
    layout_piece_t pieces[EC_MAX_DATA];
    int np = layout_range_pieces(first, count, op->chunk_size, op->d, pieces);
    op_ref(op); /* the read may be decided inside these calls */
    for (int k = 0; k < np; k++) {
        const layout_piece_t *pc = &pieces[k];
        if (op_slot_known_lost(op, pc->index)) {
            op->requested |= 1ull << pc->index;
            op->slot_state[pc->index] = SLOT_LOST;
            continue;
        }
        request_piece(op, pc->index, pc->chunk_off, (size_t)pc->len,
                      op->obj->data + (pc->value_off - first));
    }
    range_progress(op);
    op_unref(op);
    return 0;
}
