/* op_delete.c -- DEL, FLUSHALL and expiry changes: metadata first, then the node requests the
 * reply waits for (RENAME, in op_rename.c, takes the same path). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "backing.h"
#include "client.h"
#include "meta.h"
#include "nodepool.h"
#include "op.h"
#include "server.h"
#include "watch.h"

/* A DEL answers once every chunk delete it sent is answered by its node, or kept for the node's
 * return (node_delete_chunk_acked): when the client hears of it, no node it reached still serves
 * the chunks, and the others will be told before anything else. */
static void del_check_done(op_t *op)
{
    if (op->outstanding > 0 || !op->all_args || op->finished) return;
    op->finished = 1;
    if (op->reply_ok)
        resp_add_simple(&op->reply, "OK");
    else
        resp_add_int(&op->reply, op->ndeleted);
    client_on_op_done(op);
}

void ops_delete_acked(op_t *op)
{
    if (op->kind == OP_RENAME) {
        ops_rename_acked(op, -1, 0); /* the replaced destination's delete, or the witness */
        return;
    }
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
        for (int i = 0; i < m->d + m->p && !holds; i++)
            holds = meta_nodes(m)[i] == id;
        if (!holds && node_reachable(&srv->nodes[id])) return id;
    }
    return -1;
}

/* A holder that cannot be reached now keeps the chunk until it is back; should this proxy go
 * down before then, the tombstones of the holders that answered tell its successor. If none may
 * answer, one serving node that holds nothing of the key keeps a tombstone too (its CDEL finds
 * no chunk): otherwise the delete would live only here. */
void op_tomb_witness(server_t *srv, op_t *op, meta_t *m)
{
    int unreachable = 0;
    for (int k = 0; k < m->d + m->p; k++)
        unreachable += !node_reachable(&srv->nodes[meta_nodes(m)[k]]);
    if (!unreachable) return;
    int extra = del_witness(srv, m);
    if (extra >= 0 &&
        node_delete_chunk_acked(&srv->nodes[extra], meta_key(m), m->keylen, 0, m->version, op)) {
        op->outstanding++;
        op_ref(op);
    }
}

void op_delete_object(server_t *srv, op_t *op, meta_t *m)
{
    uint16_t *nodes = meta_nodes(m);
    op_tomb_witness(srv, op, m);
    for (int k = 0; k < m->d + m->p; k++) {
        if (node_delete_chunk_acked(&srv->nodes[nodes[k]], meta_key(m), m->keylen, k, m->version,
                                    op)) {
            op->outstanding++;
            op_ref(op);
        }
    }
    meta_forget(srv, m);
    op->ndeleted++;
}

void cmd_del(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    server_t *srv = c->srv;
    op->ndeleted = 0;
    op->reply_ok = 0;
    for (int i = 1; i < argc; i++) {
        meta_t *m = meta_lookup(srv, argv[i], argl[i]);
        if (m) op_delete_object(srv, op, m);
        backing_delete(op, argv[i], argl[i]); /* --backing-delete yes: the store's copy too */
    }
    op->all_args = 1;
    del_check_done(op);
}

/* Every object, expired ones included (a sweep would only drop them without tombstones). */
void cmd_flush(client_t *c, op_t *op)
{
    server_t *srv = c->srv;
    op->ndeleted = 0;
    op->reply_ok = 1;
    for (size_t i = srv->meta.clock_len; i-- > 0;)
        if (srv->meta.clock[i]) op_delete_object(srv, op, srv->meta.clock[i]);
    op->all_args = 1;
    del_check_done(op);
}

/* The expiry lives with every chunk too (CSET carries it; CEXPIRE changes it), so that a proxy
 * rebuilding from the nodes after a restart gives the key the expiry the client set last. */
void cmd_expire_set(client_t *c, op_t *op, meta_t *m, uint64_t expire_ms)
{
    server_t *srv = c->srv;
    op->ndeleted = 1; /* the reply: :1, the expiry was changed */
    op->reply_ok = 0;
    meta_set_expire(&srv->meta, m, expire_ms);
    watch_touch(srv, meta_key(m), m->keylen);
    uint16_t *nodes = meta_nodes(m);
    for (int k = 0; k < m->d + m->p; k++) {
        if (node_expire_chunk_acked(&srv->nodes[nodes[k]], meta_key(m), m->keylen, k, m->version,
                                    expire_ms, op)) {
            op->outstanding++;
            op_ref(op);
        }
    }
    op->all_args = 1;
    del_check_done(op);
}
