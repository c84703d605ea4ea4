/* conn.h -- the node's one connection to its proxy: dial, HELLO/BYE, and serving PING, CSET,
 * CGET, CDEL and STATS in order with pipelining (docs/PROTOCOL.md section 2). Single-threaded;
 * a non-blocking socket driven by poll(). */
#ifndef NODE_CONN_H
#define NODE_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "policy.h"
#include "request.h"
#include "store.h"

/* One piece of queued output: owned bytes (base != NULL, freed when sent) or a chunk body that
 * holds a store reference until it is sent. */
typedef struct {
    char *base;
    store_entry_t *chunk;
    const char *data;
    size_t len, off;
} node_out_seg_t;

typedef struct {
    int fd; /* -1 while not connected */
    char host[256];
    int port;
    store_t *store;
    policy_t *policy;       /* told about requests and completions; may be NULL */
    uint64_t *invocations;  /* the instance's invocation counter, for STATS */

    buf_t in;
    node_req_t req;
    /* A bulk body being consumed: into `pending` (a CSET chunk) or discarded. */
    int body_active;
    size_t body_len, body_got;
    store_entry_t *pending;
    int req_nomem;     /* the CSET chunk did not fit: answer NOMEM */
    int req_oversized; /* an argument was over the limit: answer an error */
    int failed;        /* a reply could not be queued: the connection must be closed */

    buf_t small; /* small replies batched until the next chunk body or flush */
    node_out_seg_t *segs;
    size_t nsegs, seg_head, seg_cap;
    size_t out_owned; /* owned bytes queued, for backpressure */

    uint64_t served; /* requests answered in this invocation */
} node_conn_t;

void node_conn_init(node_conn_t *c, store_t *store, policy_t *policy, uint64_t *invocations);
/* Closes the socket and drops partial input and queued output; chunks stay in the store. */
void node_conn_close(node_conn_t *c);
void node_conn_free(node_conn_t *c);

/* Connects to host:port unless already connected there (an open connection elsewhere is
 * closed first). 0 or -errno. */
int node_conn_ensure(node_conn_t *c, const char *host, int port, int timeout_ms);

/* Queues a command of small arguments (HELLO, BYE). 0 or -ENOMEM. */
int node_conn_queue_command(node_conn_t *c, int argc, const char *const *argv);

/* Serves requests until the policy says to return or the connection closes. */
void node_conn_serve(node_conn_t *c);

/* Writes queued output, waiting at most timeout_ms in total. 0 when all is written, -ETIMEDOUT,
 * or another -errno (the connection is then closed). */
int node_conn_flush(node_conn_t *c, int timeout_ms);

/* Feeds bytes already in c->in through the request reader and queues replies. Used by the
 * serving loop after each read and by the fuzz target (with fd -1). Returns 0, or a negative
 * RESP_E* code on a protocol error (the caller closes the connection). */
int node_conn_process(node_conn_t *c);

/* Closes a connection the peer has shut down while the process was frozen, so the caller can
 * redial before sending HELLO. Returns 1 if still connected, 0 if not. */
int node_conn_check_alive(node_conn_t *c);

/* Gives idle buffers back between invocations (the instance may sit frozen for minutes). */
void node_conn_trim(node_conn_t *c);

/* 1 while a request is partly read or a reply partly written. */
int node_conn_inflight(const node_conn_t *c);

#endif
