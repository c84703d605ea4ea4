/* backing.h -- the object store under the cache (docs/BACKING.md): read-through on a miss or an
 * undecodable object, write-through and write-behind of SETs, deletes, and the authoritative
 * check of a hit. Runs on the event loop; the store's requests go through s3client.c's thread. */
#ifndef IC_PROXY_BACKING_H
#define IC_PROXY_BACKING_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct server server_t;
typedef struct op op_t;
typedef struct meta meta_t;

typedef enum {
    BACKING_NONE,
    BACKING_READ_THROUGH,  /* misses are read from the store; SETs write the cache only */
    BACKING_WRITE_THROUGH, /* and a SET is acknowledged once the store and the cache have it */
    BACKING_WRITE_BEHIND,  /* and a SET is acknowledged once cached; a journaled queue uploads */
} backing_mode_t;

/* Checks the backing options of srv->cfg and starts the store's client (and, for write-behind,
 * opens the journal and replays it). Nothing happens without --backing. 0, or -1 with err. */
int backing_start(server_t *srv, char *err, size_t errlen);
void backing_stop(server_t *srv);

/* A GET or ICGET found no value it can answer (op->key set; op->reply still empty): no object
 * (cache_version 0), or the object of cache_version cannot be decoded. Returns 1 when the store
 * is asked and the op (and its riders) is answered later, 0 when the caller answers as before.
 * An ICGET is answered in its own shape (icget_answer_value). */
int backing_read_miss(op_t *op, uint64_t cache_version);

/* GETRANGE key start end of a key the cache does not have: the store's object is read whole
 * (and cached) and the range answered from it. 1 when the store is asked (op answers later). */
int backing_getrange_miss(op_t *op, const char *key, size_t keylen, int64_t start, int64_t end);

/* --backing-authoritative: a GET or ICGET hit (op's metadata snapshot taken) is checked against
 * the store first. Returns 1 when the check runs (the op then either goes on with
 * cmd_get_continue() or cmd_icget_continue(), or is answered from the store), 0 when the caller
 * reads the cache as before. */
int backing_check_hit(op_t *op);

/* --backing-repair: a background repair read (op_start_repair's op, its buffer allocated) takes
 * the object from the store instead of d chunks from the nodes. Returns 1 when the store is
 * asked: the op then re-stores the lost chunks and ends, or, when the store's copy is not this
 * version (its bytes fail the chunks' CRCs) or cannot be read, reads the nodes after all. */
int backing_repair_read(op_t *op);

/* Whether SETs (and the library's ICSETs) must reach the store: write-through or write-behind.
 * An ICSET then reads its chunks into op->obj instead of streaming them to the nodes. */
int backing_takes_sets(const server_t *srv);

/* A SET (or an ICSET read into memory) about to store op->obj in the cache. Returns 1 when the
 * op waits for the store (write-through; it then goes on with cmd_set_continue() or fails), 0 to
 * go on now. A write-behind SET is journaled and queued here; -1: refused (op->reply holds the
 * error). */
int backing_before_set(op_t *op);
/* The cache refused a value the store accepted: the cache's older value of the key must not be
 * answered any more. */
void backing_set_failed(op_t *op);
/* A SET the store accepted and the pool can never hold (larger than an empty pool takes): the
 * cache's older value is dropped and 1 returned, the SET a success served from the store from
 * now on (not cached); 0 when the SET fails as it would without a store. */
int backing_holds_instead(op_t *op);

/* A compound command (op_rmw.c: APPEND, INCR*, SETRANGE, SET ... GET, GETDEL, GETEX with a TTL)
 * found its key absent from the cache: the store's object is read instead. Returns 1 when the
 * store is asked; the answer comes through rmw_store_read(). */
int backing_rmw_read(op_t *op);
/* GETDEL (or GETEX to a time already past) with --backing-delete yes: the store's object goes
 * too. Returns 1 when the DELETE is sent; the outcome comes through rmw_store_deleted(). */
int backing_rmw_delete(op_t *op);

/* DEL of key with --backing-delete yes: a store DELETE counted in op->outstanding and answered
 * through ops_delete_acked(). Returns 1 when sent. */
int backing_delete(op_t *op, const char *key, size_t keylen);
/* An expired key left the cache: deleted from the store too with --backing-delete yes. */
void backing_expired(server_t *srv, const char *key, size_t keylen);

/* INFO's "# Backing" section and the Prometheus families. */
void backing_info(server_t *srv, buf_t *b);
void backing_metrics(server_t *srv, buf_t *b);

#endif
