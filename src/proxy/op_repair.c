/* op_repair.c -- lost chunks: noting them on the object, re-storing them after a decoded read,
 * background repair reads, and the library's ICREPAIR. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "icproto.h"
#include "log.h"
#include "backing.h"
#include "client.h"
#include "meta.h"
#include "nodepool.h"
#include "op.h"
#include "repair.h"
#include "server.h"
#include "transport.h"

void op_object_lost(op_t *op)
{
    server_t *srv = op->srv;
    meta_t *m = meta_lookup(srv, op->key, op->keylen);
    srv->stats.objects_lost++;
    log_warn("event=op_object_lost key_len=%zu version=%" PRIu64 " good=%d d=%d", op->keylen,
             op->version, op->nhave + op->forwarded, op->d);
    if (m && m->version == op->version) meta_drop(srv, m);
}

/* Remembers on the object that chunk `slot` is gone, so later reads report it lost (state 2)
 * and readers repair it, even when the loss was only learned after a first-d read finished. */
void op_note_lost(op_t *op, int slot)
{
    meta_t *m = meta_lookup(op->srv, op->key, op->keylen);
    if (m && m->version == op->version) repair_note_lost(op->srv, m, slot);
}

void op_mark_lost(op_t *op, int slot)
{
    if (!op->finished) op->slot_state[slot] = SLOT_LOST;
    op_note_lost(op, slot);
}

int op_slot_known_lost(op_t *op, int slot)
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
void op_repair_from_obj(op_t *op)
{
    size_t cs = op->chunk_size;
    int need_parity = 0, any = 0;
    for (int i = 0; i < op->n; i++) {
        if (!op_slot_known_lost(op, i)) continue;
        any = 1;
        need_parity |= i >= op->d;
    }
    if (!any || cs == 0) return;
    if (need_parity) {
        op_encode_parity(op);
    }
    for (int i = 0; i < op->n; i++) {
        if (!op_slot_known_lost(op, i)) continue;
        const char *chunk = op->obj->data + (size_t)i * cs;
        if (ec_crc(chunk, cs) != meta_crcs(op->meta)[i])
            continue; /* never store what we cannot vouch for */
        nreq_t *q = nreq_new(NREQ_CSET, op, i, op->key, op->keylen, i, op->version);
        if (!q) return;
        q->body_ref = objbuf_ref(op->obj);
        q->body_ptr = chunk;
        q->body_len = cs;
        q->crc = meta_crcs(op->meta)[i];
        op_cset_object_fields(q, op->size, op->d, op->p, (int64_t)op->meta->expire_ms);
        q->done = repair_chunk_done;
        op_ref(op);
        node_submit(&op->srv->nodes[meta_nodes(op->meta)[i]], q);
    }
}

void op_count_lost_chunks(op_t *op)
{
    for (int i = 0; i < op->n; i++)
        if (op->slot_state[i] == SLOT_LOST) op_note_lost(op, i);
}

/* Chunks known to be gone. Only more than p of them make the object lost; chunks that are merely
 * unreachable make the read fail with an error and leave the object in place. */
int op_lost_chunks(op_t *op)
{
    int n = 0;
    for (int i = 0; i < op->n; i++)
        n += op_slot_known_lost(op, i);
    return n;
}

int op_start_repair(server_t *srv, const char *key, size_t keylen, void (*done)(op_t *op))
{
    op_t *op = op_alloc(srv, OP_GET);
    if (!op) return -1;
    op->bg_done = done;
    if (op_read_begin_key(srv, op, key, keylen)) {
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
    /* With a store, its copy (one read, no function woken) is the source when it is this
     * version. Else every chunk is asked for (lost ones answer at once that they are missing);
     * the first d are decoded from, and finish_get re-stores the lost ones. */
    if (backing_repair_read(op)) return 0;
    op_request_chunks(op);
    op_get_check(op);
    return 0;
}

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
    uint64_t version, index;
    uint32_t crc;
    char err[64];
    const char *chunk = body ? body->data : argv[5];
    size_t len = body ? body->len : argl[5];
    meta_t *m = meta_lookup(srv, argv[1], argl[1]);
    if (icproto_icrepair_decode(6, argv, argl, &version, &index, &crc, err, sizeof err) < 0) {
        resp_add_error(&op->reply, "%s", err);
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
            q->crc = crc;
            op_cset_object_fields(q, m->size, m->d, m->p, (int64_t)m->expire_ms);
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
