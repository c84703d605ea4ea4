/* op.c -- the life of an operation: allocation from a pool, references, the first error kept,
 * and riders (ops answered with another op's reply). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "client.h"
#include "op.h"
#include "server.h"
#include "transport.h"

uint64_t server_next_version(server_t *srv)
{
    return ++srv->next_version;
}

void op_fail(op_t *op, const char *fmt, ...)
{
    if (op->err[0]) return; /* keep the first cause */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->err, sizeof op->err, fmt, ap);
    va_end(ap);
}

int op_copy_key(op_t *op, const char *key, size_t keylen)
{
    if (op->key) return 0;
    op->key = malloc(keylen + 1);
    if (!op->key) return -1;
    memcpy(op->key, key, keylen);
    op->keylen = keylen;
    return 0;
}

/* Answers every rider of op with op's reply: a copy of op->reply and, for a large GET, a
 * reference to the same object buffer (the value is never copied per rider). */
void op_answer_riders(op_t *op)
{
    while (op->riders) {
        op_t *r = op->riders;
        op->riders = r->rider_next;
        r->rider_next = NULL;
        r->carrier = NULL;
        /* A rider whose client speaks the other RESP version gets its own spelling of a miss. */
        int null_reply =
            buf_len(&op->reply) && !op->reply_ref && r->reply.resp_proto != op->reply.resp_proto &&
            ((buf_len(&op->reply) == 5 && !memcmp(buf_head(&op->reply), "$-1\r\n", 5)) ||
             (buf_len(&op->reply) == 3 && !memcmp(buf_head(&op->reply), "_\r\n", 3)));
        if (null_reply) {
            resp_add_null(&r->reply);
        } else if (buf_append(&r->reply, buf_head(&op->reply), buf_len(&op->reply)) < 0) {
            buf_clear(&r->reply);
            resp_add_error(&r->reply, "ERR out of memory");
        } else if (op->reply_ref) {
            r->reply_ref = objbuf_ref(op->reply_ref);
            r->reply_ref_off = op->reply_ref_off;
            r->reply_ref_len = op->reply_ref_len;
        }
        client_on_op_done(r);
        op_unref(r);
    }
    op->nriders = 0;
}

/* Finished ops are recycled, reply buffers included: a small command costs no allocation. An op
 * lives and dies on its shard's thread, so each thread keeps its own pool. */
#define OP_POOL_MAX 1024
static _Thread_local op_t *op_pool;
static _Thread_local int op_pooled;

op_t *op_alloc(server_t *srv, op_kind_t kind)
{
    op_t *op;
    if (op_pool) {
        op = op_pool;
        op_pool = op->next;
        op_pooled--;
        buf_t reply = op->reply;
        memset(op, 0, sizeof *op);
        op->reply = reply;
        op->reply.resp_proto = 0; /* its client, if any, sets its own (client.c) */
    } else {
        op = calloc(1, sizeof *op);
        if (!op) return NULL;
        buf_init(&op->reply);
    }
    op->kind = kind;
    op->srv = srv;
    op->refs = 1; /* the caller's: a client's queue, or a background task */
    op->started_us = ev_now_us();
    return op;
}

op_t *op_ref(op_t *op)
{
    op->refs++;
    return op;
}

void op_unref(op_t *op)
{
    if (--op->refs > 0) return;
    /* Normally out of its index long before; never leave a recycled op findable there. */
    if (op->indexed) opindex_remove(op->indexed, op);
    ev_timer_cancel(op->srv->loop, op->timer);
    objbuf_unref(op->reply_ref);
    objbuf_unref(op->obj);
    free(op->meta);
    free(op->key);
    if (op->kind == OP_RMW) free(op->rmw_arg);
    if (op->kind == OP_RMW) free(op->rmw_ctx);
    if (op->kind == OP_GETRANGE) objbuf_unref(op->range_scratch);
    if (op->kind == OP_RENAME) free(op->rename_to);
    if (op_pooled < OP_POOL_MAX && op->reply.cap <= 4096) {
        buf_clear(&op->reply);
        op->next = op_pool;
        op_pool = op;
        op_pooled++;
        return;
    }
    buf_free(&op->reply);
    free(op);
}
