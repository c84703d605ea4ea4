/* nodepool.h -- the pool of cache nodes: each function's state, its connection, and the requests
 * (CSET, CGET, CDEL, INVENTORY, BACKUP) queued and in flight to it (nodepool.c). */
#ifndef IC_PROXY_NODEPOOL_H
#define IC_PROXY_NODEPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "metatab.h"
#include "queue.h"
#include "transport.h"

typedef struct server server_t;
typedef struct node node_t;
typedef struct nreq nreq_t;
typedef struct op op_t;

/* ---- nodes ---- */
typedef enum {
    NODE_DOWN,     /* no connection */
    NODE_INVOKING, /* invoked, waiting for HELLO (connection may exist: asleep) */
    NODE_AWAKE,    /* serving */
    NODE_ASLEEP,   /* said BYE: frozen until the next invocation */
} node_state_t;

typedef enum {
    NREQ_PING,
    NREQ_CSET,
    NREQ_CGET,
    NREQ_CDEL,
    NREQ_INVENTORY,
    NREQ_BACKUP,
    NREQ_CEXPIRE,
    NREQ_CGETR,
    NREQ_CRENAME
} nreq_kind_t;

/* Result delivered to the operation that issued a request. */
typedef enum {
    NRES_OK = 0,      /* stored / deleted / chunk arrived (for CGET: header parsed, see below) */
    NRES_MISSING = 1, /* CGET: the node does not hold the chunk */
    NRES_ERROR = 2,   /* node answered an error, connection lost, invoke failed, timeout */
} nres_t;

typedef void nreq_done_cb(nreq_t *q, nres_t res, const char *err);
/* For CGET and CGETR: called when the reply header is parsed and the body is next on the
 * connection; the callback must start a relay on the node connection (possibly to RELAY_DISCARD).
 */
typedef void nreq_body_cb(nreq_t *q, uint32_t crc, size_t len);

typedef QUEUE(nreq_t) nreq_queue_t;

struct nreq {
    nreq_t *next;
    nreq_kind_t kind;
    node_t *node;
    op_t *op;
    int slot; /* chunk index within the op */
    /* CSET body: from memory (ref) or streamed from a client connection (src). */
    objbuf_t *body_ref;
    const char *body_ptr;
    conn_t *body_src;
    size_t body_len;
    uint32_t crc;
    uint64_t version;
    int index;
    /* CSET: the object the chunk belongs to (stored with the chunk, announced in inventories) */
    uint64_t obj_size;
    uint64_t expire_ms;
    uint8_t d, p;
    char *key; /* owned copy; BACKUP: the request's arguments */
    size_t keylen;
    /* CRENAME: the new name, stored right behind the key in the same allocation, and version */
    const char *newkey;
    size_t newkeylen;
    uint64_t new_version;
    nreq_done_cb *done;
    nreq_body_cb *on_body;
    uint64_t sent_ms;
    uint8_t answered; /* NRES_ERROR came from the node itself (it read the request) */
    uint8_t tomb;     /* CDEL ... TOMB: the node keeps the key's tombstone */
    /* CGETR: the piece asked for, where its body goes, and the CRC of the chunk's bytes after
     * the piece (the reply's; the one before it is on_body's crc) */
    uint64_t piece_off;
    size_t piece_len;
    char *piece_dest;
    uint32_t tail_crc;
};

struct node {
    int id;
    server_t *srv;
    char function[96];
    node_state_t state;
    conn_t *conn;
    char instance[40];
    meta_room_t room;     /* capacity (from HELLO, or the configured estimate) and chunks placed */
    nreq_queue_t pending; /* not written yet */
    nreq_queue_t sent;    /* written, waiting for their replies (inflight of them) */
    int inflight;
    uint64_t invoke_timer;
    uint64_t ping_timer;
    int ping_outstanding;
    uint64_t invocations;
    uint64_t hellos;
    uint64_t invoke_started_ms; /* when the current wait for a HELLO began */
    int invoke_attempts;        /* invocations sent in this wait after the first (retries) */
    int replace_ok;             /* the instance in use stopped answering: another may take over */
    uint64_t warming_until_ms;  /* a warm-up invocation may still run until then (lifecycle.c) */
    uint64_t warm_timer;
    nreq_t *parked; /* its body is next on the connection; reading waits for the op */
    /* what the proxy knows of the instance's store (repair.c) */
    int inventory_pending; /* an INVENTORY request is out */
    int inventoried;       /* this instance's inventory has been reconciled */
    /* billing records (bill.c): the instance they came from, the highest seq counted and the
     * highest count of records it dropped, so that a record sent twice counts once */
    char bill_instance[40];
    int64_t bill_seq, bill_dropped;
    /* backup (lifecycle.c) */
    int backup_state; /* BACKUP_IDLE, BACKUP_REQUESTED, BACKUP_RUNNING */
    char backup_token[24];
    uint64_t backup_started_ms;
    uint64_t last_backup_ms; /* last backup attempt ended (or the node's first data) */
    uint64_t backup_timer;
    struct sync_relay *relay; /* where the node and its peer instance meet */
    /* Chunk deletes for an instance that is not reachable now (down, asleep, its connection
     * lost): sent ahead of anything else when it is back. Bounded (NODE_DEFERRED_MAX); past the
     * bound the instance is inventoried again instead (repair.c deletes what it should not hold).
     */
    nreq_queue_t deferred;
    size_t ndeferred;
};

#define NODE_DEFERRED_MAX 16384

enum { BACKUP_IDLE = 0, BACKUP_REQUESTED, BACKUP_RUNNING };

void node_init(server_t *srv, node_t *n, int id);
/* Queues a request; wakes (invokes) the node when needed. Ownership of q passes to the node. */
void node_submit(node_t *n, nreq_t *q);
nreq_t *nreq_new(nreq_kind_t kind, op_t *op, int slot, const char *key, size_t keylen, int index,
                 uint64_t version);
void nreq_free(nreq_t *q);
void node_accept(server_t *srv, int fd);
/* The node's connection failed: its requests fail (or wait for the next instance), it closes. */
void node_conn_failed(conn_t *c, const char *why);
void node_invoke_result(server_t *srv, int node_id, int ok, const char *err);
void node_kick(node_t *n); /* writes pending requests if possible */
/* Delete of a chunk nobody waits for (eviction, expiry, overwrite, failed SET cleanup, stale
 * chunks found at inventory). Never dropped: a node that is not reachable gets it when it is back
 * (or, past NODE_DEFERRED_MAX, is inventoried again). `tomb` (CDEL ... TOMB) makes the node keep
 * a tombstone saying every version of the key up to `version` is deleted: only for a client's
 * delete of the key's live version (never for a failed store's leftover, which may be newer than
 * the live version). */
void node_delete_chunk(node_t *n, const char *key, size_t keylen, int index, uint64_t version,
                       int tomb);
/* The same, with a tombstone, for a DEL that answers only once its deletes are done: the node is
 * woken if it sleeps or is down. Returns 1 when the request is on its way and
 * ops_delete_acked(op) will be called once the node answered, or once the request was kept for
 * the node's return after all (it could not be reached); 0 when out of memory. */
int node_delete_chunk_acked(node_t *n, const char *key, size_t keylen, int index, uint64_t version,
                            op_t *op);
/* A chunk's new expiry (CEXPIRE; 0 = none), sent as node_delete_chunk_acked sends a delete: the
 * node is woken, ops_delete_acked(op) is called once it answered or the request was kept for its
 * return. Returns 1 when on its way, 0 when out of memory. */
int node_expire_chunk_acked(node_t *n, const char *key, size_t keylen, int index, uint64_t version,
                            uint64_t expire_ms, op_t *op);
/* A chunk's new name (CRENAME key index version newkey newversion), sent as
 * node_delete_chunk_acked sends a delete: the node is woken, and ops_rename_acked(op, index,
 * lost) is called once it answered (lost: it did not hold the chunk, or refused the request) or
 * the request was kept for its return. Returns 1 when on its way, 0 when out of memory. */
int node_rename_chunk_acked(node_t *n, const char *key, size_t keylen, int index, uint64_t version,
                            const char *newkey, size_t newkeylen, uint64_t new_version, op_t *op);
/* An instance serving now (awake, connected): only such a node is sent a delete nobody waits for
 * at once; a sleeping one is not woken (billed) for it, and one that is down may come back with
 * its memory. */
int node_reachable(const node_t *n);
/* Frees the deletes kept for the node's return (at shutdown). */
void node_drop_deferred(node_t *n);
void node_invoke(node_t *n, const char *cmd);
void node_start_sweeps(server_t *srv);
/* A CGET body the op cannot take yet stays in the node's socket: reading pauses until unpark. */
void node_park(node_t *n, nreq_t *q);
conn_t *node_unpark(node_t *n);

#endif
