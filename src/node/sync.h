/* sync.h -- the source side of a backup: copying this node's store to a peer instance of the same
 * function by delta, over a relay connection, while the node keeps serving its proxy.
 *
 * A backup (docs/PROTOCOL.md sections 2 and 3): on BACKUP the node invokes its own function with
 * a "backup-peer" event (the platform runs it on another instance, since this one is busy), dials
 * the relay and introduces itself (`RELAY token source`), then talks to the peer as if it were the
 * proxy: INVENTORY, then CDEL for what the peer holds and the source does not, CSET for what the
 * source holds and the peer lacks (bodies written straight from the store), then the changes made
 * meanwhile (journaled by the store) until none are left, then SYNCDONE. Requests are pipelined
 * within a window; every step is non-blocking and bounded per call, driven by the serving loop.
 * Single-threaded; the sync state is owned by the node and lives across invocations. */
#ifndef NODE_SYNC_H
#define NODE_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "outq.h"
#include "store.h"

struct tls;
struct tls_ctx;

#define SYNC_WINDOW_REQUESTS 256     /* requests sent and not answered yet */
#define SYNC_WINDOW_BYTES (8u << 20) /* chunk bytes sent and not answered yet */
#define SYNC_INVENTORY_MAX NODEPROTO_INVENTORY_MAX
#define SYNC_JOURNAL_MAX_RECS (1u << 20) /* changes recorded during one backup */
#define SYNC_JOURNAL_MAX_KEY_BYTES ((size_t)64 << 20)
#define SYNC_INVOKE_TIMEOUT_MS 2000 /* the Invoke call, blocking */
#define SYNC_MAX_TOKEN 128

typedef enum {
    SYNC_IDLE = 0,
    SYNC_CONNECT,   /* started: the relay is dialed at the next step */
    SYNC_INVENTORY, /* INVENTORY sent: reading the peer's list */
    SYNC_DELETE,    /* walking the peer's list: index it, CDEL what the source does not hold */
    SYNC_SCAN,      /* walking the store: CSET what the peer lacks */
    SYNC_JOURNAL,   /* sending what changed since the inventory arrived */
    SYNC_DONE_SENT, /* SYNCDONE sent: waiting for its +OK */
    SYNC_FINISHED,  /* result ready for BACKUPDONE; sync_reset() makes it idle again */
} sync_phase_t;

typedef enum {
    SYNC_REQ_INVENTORY = 1,
    SYNC_REQ_CSET,
    SYNC_REQ_CDEL,
    SYNC_REQ_SYNCDONE
} sync_req_kind_t;

/* A request sent to the peer and not answered yet. */
typedef struct {
    sync_req_kind_t kind;
    uint32_t bytes; /* chunk bytes (CSET) */
} sync_req_t;

/* The peer's chunks by id, an open-addressed table of offsets of their lines in the inventory
 * blob (8 bytes a slot), so the blob is not copied into per-entry structs. */
typedef struct {
    const char *blob;
    size_t blob_len;
    uint64_t *slots; /* 0 = empty, else (line offset + 1) << 24 | 24 bits of the hash */
    size_t nslots;   /* power of two, or 0 */
    size_t count;
} sync_index_t;

typedef struct {
    const char *function;   /* AWS_LAMBDA_FUNCTION_NAME: the function to invoke for the peer */
    uint64_t timeout_ms;    /* fail when no byte moves for this long */
    int connect_timeout_ms; /* dialing the relay */
    const char *secret;     /* the node secret: seals the peer's event, proves us to the relay */
} sync_config_t;

typedef struct sync {
    sync_config_t cfg;
    store_t *store;
    int64_t node_id; /* of the current activation, for the backup-peer event */
    int64_t epoch;   /* the instance's takeover epoch: a peer that accepted a higher one refuses */
    sync_phase_t phase;
    char token[SYNC_MAX_TOKEN + 1];
    char relay_host[256];
    int relay_port;
    int fd;
    struct tls_ctx *tls_ctx; /* dial the relay with TLS (as this node reaches its proxy), or NULL */
    struct tls *tls;         /* the relay connection's TLS state */
    uint64_t started_ms, last_progress;

    buf_t in;   /* the peer's replies */
    outq_t out; /* requests to the peer */
    sync_req_t *fifo;
    size_t fifo_head, fifo_n, fifo_cap;
    size_t window_bytes;

    char *blob; /* the peer's inventory */
    size_t blob_len, blob_got, blob_pos;
    int blob_reading; /* its bytes are arriving; then its CRLF */
    sync_index_t peer;

    uint64_t
        snapshot_seq; /* store->commits when the inventory arrived: later commits are journaled */
    uint64_t cursor;  /* store_scan() position */
    store_journal_t journal;
    store_journal_t replay; /* the batch of changes being sent */
    size_t replay_pos;
    int more; /* the last step stopped at its budget with room left: call again at once */

    uint64_t chunks_sent, bytes_sent, chunks_deleted; /* acknowledged by the peer */
    char status[112];                                 /* "ok" or "failed:<reason>" once finished */
} sync_t;

void sync_init(sync_t *s, store_t *store, const sync_config_t *cfg);
void sync_free(sync_t *s);

/* Starts a backup for BACKUP relay token endpoint [sigv4]: validates the arguments, invokes the
 * function (blocking, at most SYNC_INVOKE_TIMEOUT_MS; signed when sigv4 is given, see invoke.h)
 * and leaves the relay to be dialed by the next sync_step(). With tls (the context this node
 * reaches its proxy with) the relay is dialed over TLS and the peer's event tells it to do the
 * same. Returns 0, or -errno with a one-line reason in err (nothing started). */
int sync_start(sync_t *s, const char *relay, size_t relay_len, const char *token, size_t token_len,
               const char *endpoint, size_t endpoint_len, const char *sigv4, size_t sigv4_len,
               struct tls_ctx *tls, char *err, size_t errlen);
/* Starts on a connected socket (taken over, made non-blocking): sends the RELAY introduction and
 * INVENTORY. sync_start() ends up here, with the relay's challenge (the introduction then
 * carries a proof over it); tests call it with one end of a socketpair and no challenge. 0 or
 * -errno. */
int sync_attach(sync_t *s, int fd, const char *token, const char *challenge);

/* 1 from start until finished. */
int sync_active(const sync_t *s);
int sync_finished(const sync_t *s);

/* The socket to poll (-1 if none) and the poll events it wants. */
int sync_fd(const sync_t *s);
short sync_poll_events(const sync_t *s);
/* How long the caller may wait in poll before calling sync_step() again (>= 0), or -1. */
int sync_wait_ms(const sync_t *s, uint64_t now);
/* Does a bounded amount of work: reads replies (revents from poll, 0 if none), queues requests
 * while the window has room, writes, and checks the timeout. */
void sync_step(sync_t *s, short revents, uint64_t now);
/* Ends an active sync as failed:<reason>. */
void sync_abort(sync_t *s, const char *reason);
/* After the result was reported: back to idle, memory given back. */
void sync_reset(sync_t *s);

/* Peer index, exposed for tests: build from an inventory blob (kept, not copied) entry by entry.
 * sync_index_add() returns 0 or -ENOMEM; lookup returns 1 if the peer holds that exact chunk
 * with that crc and length. */
void sync_index_init(sync_index_t *x, const char *blob, size_t blob_len);
int sync_index_add(sync_index_t *x, size_t line_off, const char *key, size_t key_len,
                   uint32_t index, uint64_t version);
int sync_index_has(const sync_index_t *x, const store_entry_t *e);
void sync_index_free(sync_index_t *x);

#endif
