/* lanes.h -- the extra connections ("lanes") to the proxy that LANES n asks for (docs/PROTOCOL.md
 * section 2, "Lanes"): lanes 1..n-1 beside lane 0, each dialled to the address lane 0 is connected
 * to (same TLS), opened with a LANE proof over the challenge the proxy sends on it, then served as
 * lane 0 is (serve.c: the same request handling, the same store, policy and throttle). Lanes
 * belong to one lane-0 connection: when it closes or is replaced they are closed and the count
 * goes back to 1. Every step is non-blocking and driven by the serving loop; single-threaded.
 * The lanes live across invocations as lane 0 does (the instance is frozen with them open). */
#ifndef NODE_LANES_H
#define NODE_LANES_H

#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>

#include "nodeproto.h"
#include "serve.h"

#define NODE_LANES_MAX NODEPROTO_MAX_LANES
#define LANES_REDIAL_MIN_MS 100  /* a lane that failed is dialled again after this... */
#define LANES_REDIAL_MAX_MS 5000 /* ... doubling per failure up to this, within an invocation */

typedef enum {
    LANE_DOWN = 0,   /* no connection: dialled when due */
    LANE_CONNECTING, /* the connect is in progress */
    LANE_TLS,        /* the TLS handshake is in progress */
    LANE_CHALLENGE,  /* waiting for the proxy's CHALLENGE */
    LANE_OPEN,       /* LANE sent: requests are served */
} lane_state_t;

typedef struct {
    node_conn_t conn; /* conn.lane is this lane's number */
    lane_state_t state;
    short tls_want;         /* LANE_TLS: POLLIN or POLLOUT, what the handshake waits for */
    uint64_t step_deadline; /* an opening step (connect, TLS, challenge) ends by then */
    uint64_t retry_at;      /* LANE_DOWN: dialled again from then */
    uint64_t backoff;       /* the wait after the next failure */
    int refused;            /* the proxy said REFUSED: not dialled again in this invocation */
} lane_t;

typedef struct lanes {
    node_conn_t *lane0;
    const char *instance; /* the instance id, and the secret: what the LANE proof covers */
    const char *secret;
    int connect_timeout_ms;
    unsigned wanted;  /* lanes the last LANES asked for, lane 0 included (1: no extra lane) */
    uint64_t session; /* lane0->generation the lanes belong to */
    char node_id[24]; /* of the current activation, as HELLO says it */
    struct sockaddr_storage addr; /* lane 0's peer when LANES came: where lanes are dialled */
    unsigned addrlen;
    lane_t *lane[NODE_LANES_MAX]; /* [1..wanted-1], allocated when first dialled */
    /* What the last lanes_poll() filled: the lane of each pollfd, the ones with input held in
     * TLS, and the epoch they belong to (LANES or a drop in between makes them stale). */
    unsigned char polled[NODE_LANES_MAX];
    unsigned npolled;
    uint64_t held_mask;
    uint64_t epoch, polled_epoch;
} lanes_t;

/* lane0 is the node's proxy connection; instance and secret must outlive the lanes. */
void lanes_init(lanes_t *l, node_conn_t *lane0, const char *instance, const char *secret,
                int connect_timeout_ms);
void lanes_free(lanes_t *l);

/* LANES n on lane 0: from now on the node keeps lanes 1..n-1 (n = 1: none); lanes numbered n and
 * above are closed, missing ones are dialled at once (without waiting for the connects). 0, or
 * -errno when lane 0 has no peer address to dial (nothing changes then). */
int lanes_request(lanes_t *l, unsigned n, uint64_t now);

/* At the start of an activation, once lane 0 is connected and its HELLO queued: lanes the proxy
 * closed while the instance was frozen are noticed, lanes caught half-open are closed, and every
 * missing lane is dialled now. node_id is the activation's (LANE carries it). */
void lanes_begin(lanes_t *l, int64_t node_id, uint64_t now);

/* Each turn of the serving loop: drops every lane if lane 0 is gone or was replaced, dials lanes
 * whose retry time has come, fails opening steps past their deadline. */
void lanes_step(lanes_t *l, uint64_t now);
/* Drops every lane if lane 0 is gone or was replaced (lanes_step does this first). */
void lanes_follow(lanes_t *l);

/* 1 while a lane is opening, or has a request partly read or a reply not written: the invocation
 * does not return then (a dial is bounded by the connect timeout). */
int lanes_inflight(const lanes_t *l);
/* How long the serving loop may block before lanes_step is due (a retry, an opening step's
 * deadline, throttled output), or -1. */
int lanes_wait_ms(const lanes_t *l, uint64_t now);
/* Fills one pollfd per connected lane (at most NODE_LANES_MAX - 1) and returns how many; *held
 * is set when a lane has input waiting inside TLS (poll must not block then). */
unsigned lanes_poll(lanes_t *l, struct pollfd *p, int *held);
/* Handles the events of the pollfds lanes_poll filled: opening steps, then requests and replies
 * as on lane 0. A lane that closes is dialled again after its backoff. */
void lanes_handle(lanes_t *l, const struct pollfd *p, uint64_t now);

/* At the end of an activation, before BYE: closes lanes still opening (they are dialled afresh
 * next time) and writes what open lanes have queued, within timeout_ms in all (a lane that cannot
 * is closed: its stream was cut mid-reply). */
void lanes_finish(lanes_t *l, int timeout_ms);
/* Requests answered and chunks stored on the extra lanes since lanes_begin. */
uint64_t lanes_served(const lanes_t *l);
uint64_t lanes_stored(const lanes_t *l);
/* Lanes open now (LANE sent), lane 0 not counted. */
unsigned lanes_open(const lanes_t *l);
/* Gives idle buffers back between invocations. */
void lanes_trim(lanes_t *l);

#endif
