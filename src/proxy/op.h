/* op.h -- operations: what a command does once dispatched, from its first node request to its
 * reply (op.c: life and riders; op_write.c, op_read.c, op_repair.c, op_delete.c: the paths). */
#ifndef IC_PROXY_OP_H
#define IC_PROXY_OP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ec.h"
#include "metatab.h"
#include "nodepool.h"
#include "transport.h"
#include "opindex.h"

typedef struct server server_t;
typedef struct client client_t;
typedef struct op op_t;
typedef struct nreq nreq_t;
typedef struct node node_t;

typedef enum {
    OP_SIMPLE,
    OP_GET,
    OP_SET,
    OP_ICGET,
    OP_ICSET,
    OP_ICREPAIR,
    OP_RMW,
    OP_GETRANGE,
    OP_RENAME,
    OP_TX_END /* behind an EXEC's commands: lets go of its keys (cmd_tx.c) */
} op_kind_t;

/* Per-chunk state of an operation. LOST: the node does not have it (or it failed its CRC), which
 * is known data loss; FAILED: the node could not be reached, which says nothing about the data. */
enum { SLOT_PENDING = 0, SLOT_GOOD = 1, SLOT_LOST = 2, SLOT_FAILED = 3 };

struct op {
    /* ---- what every op has ---- */
    op_t *next; /* in its client's queue */
    op_kind_t kind;
    client_t *client; /* NULL once the client is gone */
    server_t *srv;
    buf_t reply;         /* small reply, sent when the op reaches the head of the queue */
    objbuf_t *reply_ref; /* big bulk body (GET), sent by reference after reply, then CRLF */
    size_t reply_ref_off; /* where in reply_ref the body starts (GETRANGE) */
    size_t reply_ref_len;
    int done;
    int rejected; /* refused before it ran (arity, NOAUTH): INFO commandstats counts it apart */
    char err[256];
    uint64_t timer;
    uint64_t started_us;
    /* the command's row, for its latency (metrics.c); NULL for background ops */
    const struct command *cmd;
    int refs; /* queue + node requests + relays; freed at zero */
    int backing_passed; /* SET: the backing store has had its say (backing.c), or needs none */
    int backing_stored; /* SET: the backing store holds the value (write-through) */
    /* the object being read, written or deleted */
    char *key;
    size_t keylen;
    meta_t *meta;  /* pending (SET) or snapshot copy (GET) */
    objbuf_t *obj; /* whole value (Redis path) */
    int n, d, p;
    size_t chunk_size;
    uint64_t size;
    uint64_t version;
    uint8_t slot_state[EC_MAX_CHUNKS]; /* per chunk: SLOT_PENDING, _GOOD, _LOST, _FAILED */
    int outstanding;                   /* SET/ICSET/DEL: node requests not answered yet */
    int finished;                      /* the answer is decided; late arrivals are dropped */
    int all_args;                      /* ICSET/ICREPAIR/DEL: every argument has been read */
    int big_discard;                   /* a big argument nobody wants is being drained */
    int commit_waiting;        /* stored, waiting for an earlier write of the same key to commit */
    void (*bg_done)(op_t *op); /* a background op (no client): called when it is decided */
    op_t *parent;              /* a compound op this background op is a step of (op_rmw.c) */
    /* Riders: ops of other requests answered with this op's reply instead of doing the work
     * again (GETs of the object this GET is reading; SETs this SET superseded before they were
     * sent). Each rider holds a reference while it rides. */
    op_t *riders;
    op_t *rider_next;
    int nriders;
    op_t *carrier; /* the op this one rides on */
    /* in srv->readers, srv->staged or srv->storing (opindex.h) */
    op_t *idx_next;
    uint64_t idx_hash;
    opindex_t *indexed;

    /* ---- what each kind has (the members are named directly: op->nhave, op->crcs) ---- */
    union {
        struct { /* reads: GET, ICGET, ICGETCHUNKS, the repair read (op_read.c) */
            int have_idx[EC_MAX_CHUNKS];
            int nhave;
            int relay_active;                /* ICGET: a chunk body is being spliced out */
            nreq_queue_t ready; /* ICGET: chunks parked while the client was busy */
            int forwarded;
            int forward_goal; /* chunks to forward: d (first-d), or n for ICGET key ALL */
            int forward_min;  /* fewer forwarded is a failed read: d, or ICGETCHUNKS's need */
            int spare;        /* ICGETCHUNKS: only the listed chunks are read */
            int timed_out;
            uint64_t requested; /* slots whose chunk was asked for */
            uint64_t retried;   /* slots asked again after their node failed (once each) */
            relay_t *slot_relay[EC_MAX_CHUNKS]; /* GET: bodies being read into obj */
            /* GETRANGE of a coded object (op_range.c): the pieces of the data chunks that hold
             * the range are read into obj; a piece that cannot be read is decoded from the same
             * window of d other chunks, read into range_scratch. */
            uint64_t range_first, range_count; /* the value's bytes answered */
            uint64_t range_bad;                /* data chunks whose piece must be decoded */
            uint64_t win_off, win_len;         /* in chunk offsets: what decoding reads */
            int range_decoding;                /* the second step has started */
            objbuf_t *range_scratch;           /* n windows of win_len bytes */
        };
        struct { /* writes: SET, ICSET (op_write.c) */
            int failed;
            uint8_t slot_retried[EC_MAX_CHUNKS]; /* CSET sent again after the node's -NOMEM */
            int64_t expire_ms;                   /* SET options */
            int nx, xx, get_old, keepttl;
            int chunks_seen; /* ICSET */
            int in_memory;   /* ICSET: chunks read into obj (a backing store needs the value) */
            uint32_t crcs[EC_MAX_CHUNKS];
            uint16_t nodes[EC_MAX_CHUNKS];
            int placed;
            int pool_too_small; /* placing found that even an empty pool cannot hold it */
            int body_failed;
            op_t *stage_next; /* srv->staged list: SETs sent after this loop iteration */
            int reply_int;    /* SETNX: answers :1 / :0 instead of +OK / nil */
            int cas;          /* commit only if the key's version is still cas_version */
            uint64_t cas_version; /* 0: the key must still be absent */
        };
        struct { /* compound commands: read, compute, write, the key held (op_rmw.c) */
            const struct rmw_kind *rmw;
            uint64_t rmw_version; /* of the value read; 0: the key was absent */
            int rmw_tries;
            int rmw_pending; /* MSET: stores not decided yet */
            int rmw_failed;  /* MSETNX: a store found its key taken */
            int rmw_nx, rmw_xx, rmw_keepttl, rmw_persist;
            int rmw_from_store; /* the value computed from is the backing store's, not cached */
            int64_t rmw_expire_ms; /* absolute; 0: none */
            int64_t rmw_int;       /* INCRBY's increment, SETRANGE's offset, GETRANGE's start */
            int64_t rmw_int2;      /* GETRANGE's end */
            long double rmw_float; /* INCRBYFLOAT's increment */
            char *rmw_arg;         /* a small argument (APPEND's, SETRANGE's value), owned */
            size_t rmw_arglen;
            void *rmw_ctx; /* MIGRATE's state (cmd_migrate.c): one block, freed with the op */
        };
        struct {                 /* ICREPAIR (op_repair.c) */
            int repair_unlisted; /* the chunk was not known lost: the client found it corrupt */
        };
        struct {              /* DEL (op_delete.c), RENAME (op_rename.c: it deletes too) */
            int64_t ndeleted; /* keys removed: the reply's count */
            int reply_ok;     /* FLUSHALL/FLUSHDB: +OK rather than the count */
            char *rename_to;  /* RENAME: the new name (owned; op->key is the old one) */
            size_t rename_tolen;
            uint64_t rename_version; /* the version the object has under its new name */
            int rename_nx;           /* RENAMENX: answers :1 rather than +OK */
        };
    };
};

/* An op of `kind` with one reference, the caller's (a client's queue, or a background task);
 * from a pool of recycled ops. */
op_t *op_alloc(server_t *srv, op_kind_t kind);
op_t *op_ref(op_t *op);
void op_unref(op_t *op);
void op_retry_commit(op_t *op);
/* Called for each delete node_delete_chunk_acked() took for op. */
void ops_delete_acked(op_t *op);
/* Called for each rename node_rename_chunk_acked() took for op (op_rename.c); lost: the chunk
 * `index` is not under the new name on its node. */
void ops_rename_acked(op_t *op, int index, int lost);

/* the paths (op_write.c, op_read.c, op_repair.c, op_delete.c) */
int set_prepare_value(op_t *op, const char *value, size_t len);
int icset_small(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl);
void icset_check_done(op_t *op);
void icset_body_moved(op_t *op, int slot, relay_status_t st);
void icget_parked_failed(nreq_t *q, nres_t res);
void cmd_get(client_t *c, op_t *op);
void cmd_set(client_t *c, op_t *op);  /* value in op->obj, options parsed */
/* A SET that waited for the backing store goes on (op->err set: it fails with that). */
void cmd_set_continue(op_t *op);
/* A GET hit the backing store confirmed goes on to read the cache. */
void cmd_get_continue(op_t *op);
void ops_start_staged(server_t *srv); /* sends the SETs staged in this iteration */
op_t *op_carrier_root(op_t *op);      /* the op that answers a rider (NULL: op rides nothing) */
void cmd_icget(client_t *c, op_t *op);
/* An ICGET hit the backing store confirmed goes on to stream the cache's chunks. */
void cmd_icget_continue(op_t *op);
/* Answers an ICGET with the whole value (the backing store's): its data chunks, no parity. */
void icget_answer_value(op_t *op, objbuf_t *value, uint64_t size);
/* GETRANGE of a coded object: bytes [first, first + count) of the value (count > 0, clamped by
 * the caller), read from the pieces of the data chunks that hold them (op_range.c). Returns 0 if
 * op now reads (or is answered), -1 if the object is stored replicated (d = 1) and the caller
 * should read it whole. */
int cmd_getrange_coded(client_t *c, op_t *op, const char *key, size_t keylen, uint64_t first,
                       uint64_t count);
void cmd_icgetchunks(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl);
void cmd_del(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl);
void cmd_flush(client_t *c, op_t *op); /* DEL of every key, answered +OK */
/* Forgets m and sends the tombstoning deletes of its chunks, each counted in op->outstanding and
 * answered through ops_delete_acked(op) (op_delete.c; DEL and RENAME onto an existing key). */
void op_delete_object(server_t *srv, op_t *op, meta_t *m);
/* When a holder of m's chunks cannot be reached now, one serving node that holds nothing of the
 * key is sent the key's tombstone (up to m's version), counted in op as a delete: otherwise the
 * delete of the key's name would live only in this process until the holder is back. */
void op_tomb_witness(server_t *srv, op_t *op, meta_t *m);
/* RENAME (nx 0) and RENAMENX (nx 1) of src to dst (op_rename.c). Returns 0 with op->reply the
 * answer, or 1 when the op answers later, on its own, once the nodes hold the new name. */
int cmd_rename(client_t *c, op_t *op, const char *src, size_t srclen, const char *dst,
               size_t dstlen, int nx);
/* COPY src dst [REPLACE] (op_rename.c): src is read and its value stored again under dst with
 * src's expiry, both keys held meanwhile; answers :1, or :0 (src absent, or dst present without
 * REPLACE), later, on its own. */
void cmd_copy(client_t *c, op_t *op, const char *src, size_t srclen, const char *dst,
              size_t dstlen, int replace);
/* Sets m's expiry (0 = none) here and on its chunks' nodes; answers :1 once they hold it. */
void cmd_expire_set(client_t *c, op_t *op, meta_t *m, uint64_t expire_ms);
int cmd_icset_begin(client_t *c, op_t *op);
void cmd_icset_chunk(client_t *c, op_t *op, size_t len);
void cmd_icrepair(client_t *c, op_t *op, const char **argv, const size_t *argl, objbuf_t *body);
/* Reads the object like a Redis GET and re-stores its lost chunks; `done` runs when the read is
 * decided (maybe before this returns). -1 if the object is gone or memory is short. */
int op_start_repair(server_t *srv, const char *key, size_t keylen, void (*done)(op_t *op));

/* ---- compound commands (op_rmw.c): read the key's value, compute, write, with the key held so
 * no other command on it runs in between (see docs/ARCHITECTURE.md, "Compound commands") ---- */
typedef struct rmw_old {
    const char *data; /* the current value (NULL when absent) */
    size_t len;
    int exists;
    objbuf_t *obj; /* holds data (a large reply may refer to it); NULL: a reply copies data */
} rmw_old_t;
typedef enum {
    RMW_REPLIED, /* op->reply is the answer; nothing is written */
    RMW_WRITE,   /* w (key copied, value prepared, expiry options set) is stored, then op->reply
                  * (already written) is the answer */
    RMW_DELETE,  /* the key is deleted, then op->reply is the answer */
    RMW_TTL,     /* the key's expiry becomes op->rmw_expire_ms (rmw_persist: none) */
} rmw_next_t;
struct rmw_kind {
    int hold; /* holds the key from the read to the write (every command that writes) */
    /* Computes the command from the value read (called again if a store in flight when the key
     * was taken commits first). w's version check (cas) is the version read; compute may
     * change it. */
    rmw_next_t (*compute)(op_t *op, const rmw_old_t *old, op_t *w);
    /* The write goes to the key in op->rmw_arg (owned), which is held as well (COPY): the key
     * read is op->key, and compute sets the write's version check for the written key. */
    int writes_arg;
    /* A command of several keys, one after the other (MIGRATE ... KEYS): called once a key is
     * done, its hold released. 1: op->key is the next key, its hold taken, and it is read next;
     * 0: the command is over (op->reply is its answer). NULL: one key. */
    int (*next_key)(op_t *op);
    /* A key absent from the cache is read from the backing store, when there is one (the
     * commands that read a value: not MIGRATE, COPY or GETRANGE, which has its own way). */
    int reads_store;
};
/* Runs the compound command k on key in op (a client's op; the key is copied). With
 * k->writes_arg, op->rmw_arg must be set (taken by the op). */
void rmw_start(client_t *c, op_t *op, const char *key, size_t keylen, const struct rmw_kind *k);
/* The backing store's answer to backing_rmw_read(): the object's bytes, valid for the call only
 * (NULL: the store has no such object, or err), or err, the error the command answers. The
 * computation copies what it keeps (the value written, a reply), so the store's buffer is used
 * as it is. */
void rmw_store_read(op_t *op, const char *value, uint64_t size, const char *err);
/* The backing store's DELETE of backing_rmw_delete() is done (err NULL) or failed. */
void rmw_store_deleted(op_t *op, const char *err);
/* True while a compound command holds the key: every other command on it waits (client.c). */
int rmw_key_held(server_t *srv, const char *key, size_t keylen);
/* Takes a hold of the key (counted: a key may be held twice), or lets one go; the last hold's
 * release resumes the clients that waited. 0, or -1 when out of memory (not held). */
int rmw_hold_take(server_t *srv, const char *key, size_t keylen);
void rmw_hold_release(server_t *srv, const char *key, size_t keylen);
void rmw_holds_free(server_t *srv); /* at shutdown */
/* The held-key table for other holders (a transaction's EXEC, cmd_tx.c): take one hold of a key
 * (0, or -1 when out of memory), let one go, count the holds of a key or of all keys. */
int rmw_hold_take(server_t *srv, const char *key, size_t keylen);
void rmw_hold_release(server_t *srv, const char *key, size_t keylen);
int rmw_hold_count(server_t *srv, const char *key, size_t keylen);
size_t rmw_holds_total(server_t *srv);
/* Clients that wait (for a held key, or a transaction for a store of its keys) try again at the
 * end of this loop iteration. */
void rmw_wake_waiters(server_t *srv);
/* MSET / MSETNX (nx) of argv[1..]: pairs, every key held until all are stored. */
void cmd_mset(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl, int nx);
/* Sets a value reply: a small value copied into op->reply, a large one by reference into obj. */
void rmw_reply_value(op_t *op, objbuf_t *obj, const char *data, size_t len);
/* A Redis GET of key into op (MGET runs one per key). */
void cmd_get_key(client_t *c, op_t *op, const char *key, size_t keylen);

/* Between the op files (op.c, op_write.c, op_read.c, op_repair.c). */
/* Keeps the first error of an op: its reply when it fails. */
void op_fail(op_t *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int op_copy_key(op_t *op, const char *key, size_t keylen); /* once; 0 or -1 (memory) */
/* Answers every rider of op with op's reply (a large value by reference, never copied). */
void op_answer_riders(op_t *op);
void op_encode_parity(op_t *op); /* the p parity chunks of op->obj, behind its d data chunks */
/* The object fields a CSET carries with its chunk (announced again in inventories). */
void op_cset_object_fields(nreq_t *q, uint64_t size, int d, int p, int64_t expire_ms);
/* Read path: the object's metadata and chunk layout into op (non-zero: a miss, answered), its
 * chunks asked for, and the decision once enough have arrived (or cannot). */
int op_read_begin_key(server_t *srv, op_t *op, const char *key, size_t keylen);
void op_request_chunks(op_t *op);
void op_get_check(op_t *op);
/* Lost chunks (op_repair.c): noted on the object so readers repair them; more than p lost is a
 * lost object. */
void op_object_lost(op_t *op);
void op_note_lost(op_t *op, int slot);
void op_mark_lost(op_t *op, int slot);
int op_slot_known_lost(op_t *op, int slot);
void op_count_lost_chunks(op_t *op);
int op_lost_chunks(op_t *op);
void op_repair_from_obj(op_t *op);

#endif
