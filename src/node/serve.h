/* serve.h -- a connection the node serves requests on (docs/PROTOCOL.md section 2): its proxy
 * (dial, HELLO/BYE, requests in order with pipelining, a backup running beside them, and the
 * extra lanes LANES asks for, served alike: lanes.h), or, on a backup peer, the relay connection
 * from the backup's source. Single-threaded; non-blocking sockets driven by poll(). */
#ifndef NODE_CONN_H
#define NODE_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "nodeauth.h"
#include "buf.h"
#include "outq.h"
#include "policy.h"
#include "nodeproto.h"
#include "store.h"
#include "throttle.h"

struct sync;
struct lanes;

/* Largest INVENTORY answer; a store whose list would be longer answers an error. */
#define NODE_INVENTORY_MAX NODEPROTO_INVENTORY_MAX

struct tls_ctx;
struct tls;

typedef struct {
    int fd; /* -1 while not connected */
    /* TLS: set tls_ctx before node_conn_ensure to dial with TLS (the peer's certificate must
     * name the host dialled); tls is the connection's state while connected. */
    struct tls_ctx *tls_ctx;
    struct tls *tls;
    char host[256];
    int port;
    const char *role; /* "proxy" or "relay", for log lines */
    store_t *store;
    policy_t *policy;      /* told about requests and completions; may be NULL */
    uint64_t *invocations; /* the instance's invocation counter, for STATS */
    struct sync *sync;     /* the backup BACKUP starts and the serving loop drives; NULL: none */
    struct lanes *lanes;   /* lane 0's: the extra lanes LANES asks for, served beside it */
    unsigned lane;         /* 0: lane 0 (or a relay connection); 1..63: an extra lane, which
                              refuses what only lane 0 serves (LANES, BACKUP, INVENTORY, ...) */
    uint64_t generation;   /* connections made on this struct: extra lanes belong to one */
    throttle_t *throttle;  /* network emulation on what this connection sends; NULL: none */

    buf_t in;
    nodeproto_req_t req;
    /* A bulk body being consumed: into `pending` (a CSET chunk) or discarded. */
    int body_active;
    size_t body_len, body_got;
    store_entry_t *pending;
    int req_nomem;     /* the CSET chunk did not fit: answer NOMEM */
    int req_oversized; /* an argument was over the limit: answer an error */
    int failed;        /* a reply could not be queued: the connection must be closed */

    outq_t out; /* replies (and HELLO, BYE, BACKUPDONE) */

    uint64_t served; /* requests answered in this invocation */
    uint64_t stored; /* chunks committed by CSET in this invocation */
    int sync_done;   /* SYNCDONE was answered (a backup peer ends once it is written) */
    int goaway;      /* the proxy said GOAWAY: it uses another instance of this function */
    /* The challenge the proxy (or relay) sent when this connection opened: every HELLO or RELAY
     * on it carries a proof over it. Empty until received. */
    char challenge[NODEAUTH_NONCE_HEX + 1];
    char refused[64]; /* the proxy said REFUSED <reason>: it did not accept our proof */
    uint64_t last_io; /* ev_now_ms() of the last byte read or written */
} node_conn_t;

void node_conn_init(node_conn_t *c, store_t *store, policy_t *policy, uint64_t *invocations);
/* Closes the socket and drops partial input and queued output; chunks stay in the store. */
void node_conn_close(node_conn_t *c);
void node_conn_free(node_conn_t *c);

/* Connects to host:port unless already connected there (an open connection elsewhere, or one
 * whose TLS does not match c->tls_ctx, is closed first), with a TLS handshake when c->tls_ctx
 * is set. 0, -EPROTO when the handshake failed (logged with the reason), or -errno. */
int node_conn_ensure(node_conn_t *c, const char *host, int port, int timeout_ms);

/* Reads the CHALLENGE the proxy or relay sends first on a new connection into c->challenge,
 * waiting at most timeout_ms; anything after it stays in c->in. 0 at once when it is already
 * known; -ETIMEDOUT, -EPROTO (something else came first: not a proxy of this system) or -errno,
 * with the connection closed. */
int node_conn_await_challenge(node_conn_t *c, int timeout_ms);

/* One non-blocking step of reading the CHALLENGE that opens a connection: 1 when c->challenge is
 * known (anything after it stays in c->in), 0 when more is needed, or -EPROTO (something else
 * came first: not a proxy of this system), -ECONNRESET or -errno. Does not close c. */
int node_conn_challenge_step(node_conn_t *c);

/* 1 when decrypted input waits inside the TLS layer, where poll() does not announce it. */
int node_conn_input_held(const node_conn_t *c);

/* Serves requests until the policy says to return or the connection closes, and drives c->sync
 * while a backup runs: the invocation does not return while it does (except at the deadline,
 * which fails it), and it goes on if the connection closes. Its outcome is sent as BACKUPDONE.
 * With c->lanes, the extra lanes are served in the same loop: every lane's requests count for the
 * policy, the invocation returns only when none has work in flight, and a lane that closes is
 * dialled again (lanes.h); the loop ends when lane 0 closes (which drops the lanes). */
void node_conn_serve(node_conn_t *c);

typedef enum {
    NODE_PEER_SYNCED = 1, /* SYNCDONE answered (the +OK may still be queued) */
    NODE_PEER_CLOSED,     /* the source or the relay went away */
    NODE_PEER_DEADLINE,   /* stop_at reached */
    NODE_PEER_TIMEOUT,    /* nothing moved for timeout_ms */
} node_peer_end_t;
/* Serves a backup source's requests on c (no policy) until SYNCDONE is answered, the connection
 * closes, the monotonic time stop_at (0: none) or timeout_ms without traffic. After SYNCDONE the
 * reply is left queued: the caller posts its invocation response first and then flushes, so by the
 * time the source learns the sync is complete the platform already counts this instance as idle
 * (and gives it the next invocation of the function). */
node_peer_end_t node_conn_serve_peer(node_conn_t *c, uint64_t stop_at, uint64_t timeout_ms);

/* Writes queued output, waiting at most timeout_ms in total. 0 when all is written, -ETIMEDOUT,
 * or another -errno (the connection is then closed). */
int node_conn_flush(node_conn_t *c, int timeout_ms);

/* Feeds bytes already in c->in through the request reader and queues replies. Used by the
 * serving loop after each read and by the fuzz target (with fd -1). Returns 0, or a negative
 * RESP_E* code on a protocol error (the caller closes the connection). */
int node_conn_process(node_conn_t *c);

/* The poll events the connection wants, and one round of I/O for the events poll returned:
 * 0, or -1 when the connection was closed. POLLOUT is left out while queued output waits for
 * the throttle (a held straggler reply, an empty token bucket); node_conn_wait_ms() says for how
 * long. */
short node_conn_poll_events(const node_conn_t *c);
int node_conn_handle(node_conn_t *c, short revents);

/* Closes a connection the peer has shut down while the process was frozen, so the caller can
 * redial before sending HELLO. Returns 1 if still connected, 0 if not. */
int node_conn_check_alive(node_conn_t *c);

/* Gives idle buffers back between invocations (the instance may sit frozen for minutes). */
void node_conn_trim(node_conn_t *c);

/* How long a poll() may block before queued output may move again under the throttle (ms), or
 * -1 when no output is waiting for it. */
int node_conn_wait_ms(const node_conn_t *c, uint64_t now);

/* 1 while a request is partly read or a reply partly written (or held back by the throttle, which
 * counts as work in flight: a slow function is billed for its slowness). */
int node_conn_inflight(const node_conn_t *c);

#endif
