/* op_rename.c -- RENAME and RENAMENX: the object takes its new name in the metadata at once and
 * on its chunks' nodes (CRENAME: no chunk byte moves), and the reply waits for the nodes; COPY:
 * the value read and stored again under the new name as a compound command (op_rmw.c). */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "meta.h"
#include "nodepool.h"
#include "op.h"
#include "repair.h"
#include "server.h"

/* ---- RENAME, RENAMENX ----
 * Both keys are held (op_rmw.c) from the start to the reply, so no command of any client runs on
 * either while the nodes rename; every later request to a node is queued behind its CRENAME (one
 * ordered connection per node, deferred requests first), so no read asks for the new name before
 * the node has it. The object gets a new version: a tombstone of the new name on a node (an
 * earlier DEL of it) must not hide it from a rebuild, and a replaced destination's chunks must
 * lose to it. */

static void rename_check_done(op_t *op)
{
    if (op->outstanding > 0 || !op->all_args || op->finished) return;
    op->finished = 1;
    rmw_hold_release(op->srv, op->key, op->keylen);
    rmw_hold_release(op->srv, op->rename_to, op->rename_tolen);
    if (op->rename_nx)
        resp_add_int(&op->reply, 1);
    else
        resp_add_simple(&op->reply, "OK");
    client_on_op_done(op);
}

void ops_rename_acked(op_t *op, int index, int lost)
{
    op->outstanding--;
    if (lost && index >= 0) {
        /* Under its new name the chunk is missing there: repair rebuilds it from the others. */
        meta_t *m = meta_lookup(op->srv, op->rename_to, op->rename_tolen);
        if (m && m->version == op->rename_version) repair_note_lost(op->srv, m, index);
    }
    rename_check_done(op);
    op_unref(op);
}

/* The object m under the name dst, with a new version and the same chunks, nodes and expiry. */
static meta_t *renamed_meta(server_t *srv, meta_t *m, const char *dst, size_t dstlen)
{
    meta_t *n = meta_new(dst, dstlen, m->d, m->p);
    if (!n) return NULL;
    n->version = server_next_version(srv);
    n->size = m->size;
    n->chunk_size = m->chunk_size;
    n->expire_ms = m->expire_ms;
    n->lost_mask = m->lost_mask;
    n->atime_s = m->atime_s;
    n->referenced = m->referenced;
    memcpy(meta_nodes(n), meta_nodes(m), sizeof(uint16_t) * (size_t)(m->d + m->p));
    memcpy(meta_crcs(n), meta_crcs(m), sizeof(uint32_t) * (size_t)(m->d + m->p));
    return n;
}

int cmd_rename(client_t *c, op_t *op, const char *src, size_t srclen, const char *dst,
               size_t dstlen, int nx)
{
    server_t *srv = c->srv;
    meta_t *m = meta_lookup(srv, src, srclen);
    if (!m) {
        resp_add_error(&op->reply, "ERR no such key");
        return 0;
    }
    if (srclen == dstlen && memcmp(src, dst, srclen) == 0) {
        if (nx)
            resp_add_int(&op->reply, 0);
        else
            resp_add_simple(&op->reply, "OK");
        return 0;
    }
    meta_t *old = meta_lookup(srv, dst, dstlen);
    if (old && nx) {
        resp_add_int(&op->reply, 0);
        return 0;
    }
    if (dstlen > UINT16_MAX) {
        resp_add_error(&op->reply, "ERR key too long");
        return 0;
    }
    /* Everything that can fail is done before anything changes. The new object goes into the
     * table ahead of the one it replaces (found first in its chain until that one is gone). */
    meta_t *n = renamed_meta(srv, m, dst, dstlen);
    char *to = malloc(dstlen + 1);
    if (!n || !to || op_copy_key(op, src, srclen) < 0 || rmw_hold_take(srv, src, srclen) < 0) {
        free(n);
        free(to);
        resp_add_error(&op->reply, "ERR out of memory");
        return 0;
    }
    if (rmw_hold_take(srv, dst, dstlen) < 0) {
        rmw_hold_release(srv, src, srclen);
        free(n);
        free(to);
        resp_add_error(&op->reply, "ERR out of memory");
        return 0;
    }
    if (meta_insert(&srv->meta, n) < 0) {
        rmw_hold_release(srv, src, srclen);
        rmw_hold_release(srv, dst, dstlen);
        free(n);
        free(to);
        resp_add_error(&op->reply, "ERR out of memory");
        return 0;
    }
    memcpy(to, dst, dstlen);
    op->kind = OP_RENAME;
    op->rename_to = to;
    op->rename_tolen = dstlen;
    op->rename_version = n->version;
    op->rename_nx = nx;
    op->version = m->version;
    if (old) op_delete_object(srv, op, old); /* as DEL: tombstones, answered before the reply */
    /* If a holder is out of reach, a serving node keeps the old name's tombstone meanwhile. */
    op_tomb_witness(srv, op, m);
    uint16_t *nodes = meta_nodes(m);
    for (int k = 0; k < m->d + m->p; k++) {
        if (node_rename_chunk_acked(&srv->nodes[nodes[k]], src, srclen, k, m->version, dst, dstlen,
                                    n->version, op)) {
            op->outstanding++;
            op_ref(op);
        } else {
            /* Out of memory: that chunk keeps its old name, which the node's next inventory
             * finds unknown and deletes; under the new name it is rebuilt. */
            n->lost_mask |= 1ull << k;
            node_delete_chunk(&srv->nodes[nodes[k]], src, srclen, k, m->version, 1);
        }
    }
    /* The node's room is counted with the key's length (the node counts the same). */
    meta_charge_placement(srv, nodes, m->d + m->p, m->chunk_size, dstlen);
    meta_forget(srv, m);
    if (n->lost_mask) repair_enqueue(srv, n);
    log_debug("event=rename src_len=%zu dst_len=%zu version=%llu replaced=%d", srclen, dstlen,
              (unsigned long long)n->version, old != NULL);
    op->all_args = 1;
    op_ref(op);
    rename_check_done(op);
    op_unref(op);
    return 1;
}

/* ---- COPY ----
 * The copy is a new object placed as a SET places one: read through the proxy (the ordinary read
 * path), stored under dst (the ordinary write path: placement, eviction, -NOMEM, its own nodes),
 * with src's expiry. Both keys are held from the read to the commit. */

static rmw_next_t compute_copy(op_t *op, const rmw_old_t *old, op_t *w)
{
    server_t *srv = op->srv;
    if (!old->exists) {
        resp_add_int(&op->reply, 0);
        return RMW_REPLIED;
    }
    /* Without REPLACE the destination must be absent, now and when the copy commits (a store of
     * it in flight when the key was taken may commit first: the copy is then refused and the
     * command starts over, to answer :0). */
    w->cas = op->rmw_nx;
    w->cas_version = 0;
    if (op->rmw_nx && meta_lookup(srv, op->rmw_arg, op->rmw_arglen)) {
        resp_add_int(&op->reply, 0);
        return RMW_REPLIED;
    }
    meta_t *m = meta_lookup(srv, op->key, op->keylen);
    w->expire_ms = m && m->version == op->rmw_version ? (int64_t)m->expire_ms : 0;
    if (set_prepare_value(w, old->data, old->len) < 0) {
        buf_clear(&op->reply);
        buf_append(&op->reply, buf_head(&w->reply), buf_len(&w->reply));
        return RMW_REPLIED;
    }
    resp_add_int(&op->reply, 1);
    return RMW_WRITE;
}

static const struct rmw_kind rmw_copy = {1, compute_copy, 1, NULL, 0};

void cmd_copy(client_t *c, op_t *op, const char *src, size_t srclen, const char *dst, size_t dstlen,
              int replace)
{
    char *to = malloc(dstlen ? dstlen : 1);
    if (!to) {
        resp_add_error(&op->reply, "ERR out of memory");
        client_on_op_done(op);
        return;
    }
    if (dstlen) memcpy(to, dst, dstlen);
    op->kind = OP_RMW; /* rmw_arg is the op's from here (freed with it) */
    op->rmw_arg = to;
    op->rmw_arglen = dstlen;
    op->rmw_nx = !replace;
    rmw_start(c, op, src, srclen, &rmw_copy);
}
