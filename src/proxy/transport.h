/* transport.h -- the proxy's transport layer: connections (plain TCP or TLS) with their input
 * buffer and zero-copy output queue, relays that move bulk bodies between them, and the flush
 * at the end of each loop iteration.
 *
 * It knows nothing of its users, as libuv's handles do not: a connection's owner (a client, a
 * node) gives it a handler table, and the transport calls back only through that table and
 * through the end-of-iteration hooks. Nothing here includes the proxy's op, node or client
 * headers. Everything runs on the event-loop thread; with byte movers (mover.h), worker threads
 * carry bulk transfers for it, each on descriptors and memory lent to it until it is back. */
#ifndef IC_PROXY_TRANSPORT_H
#define IC_PROXY_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdatomic.h>
#include <sys/uio.h>

#include "buf.h"
#include "ev.h"
#include "queue.h"

typedef struct transport transport_t;
typedef struct conn conn_t;
typedef struct relay relay_t;
struct mover;
struct mover_job;

/* ---- reference-counted byte buffers: object values shared by output queues ---- */
typedef struct {
    atomic_int refs;
    size_t len;
    char data[];
} objbuf_t;

objbuf_t *objbuf_new(size_t len);
objbuf_t *objbuf_ref(objbuf_t *b);
void objbuf_unref(objbuf_t *b);

/* ---- what a connection's owner is told ---- */
typedef struct conn_handlers {
    const char *role; /* "client", "node": names the connection in log lines */
    /* The socket is readable or writable (or a handshake just finished): the owner reads and
     * writes through conn_read/conn_write. */
    ev_io_cb *io;
    /* The socket failed (EOF, reset, write error, failed handshake). The owner detaches relays
     * and operations and calls conn_close_async. Safe to be called from inside a relay. */
    void (*failed)(conn_t *c, const char *why);
    /* A relay out of this connection finished: input that arrived behind the body (where no
     * epoll event announces it) is to be parsed now. */
    void (*resumed)(conn_t *c);
    /* Queued output went out while input was paused (NULL: nothing to do). */
    void (*drained)(conn_t *c);
    /* The connection's memory is about to be freed: release c->owner_state (NULL: none). */
    void (*freed)(conn_t *c);
    /* Bodies relayed out of this connection are RESP bulks whose CRLF the relay consumes (node
     * replies); 0 when the owner's own reader consumes it (client commands). */
    int relay_eats_crlf;
} conn_handlers_t;

/* ---- the transport's shared state (one per event loop) ---- */
typedef struct {
    uint64_t bytes_in, bytes_out;
    uint64_t relays;
    uint64_t tls_connections;        /* TLS handshakes completed */
    uint64_t tls_handshake_failures; /* failed or timed out (plaintext to a TLS port, bad cert) */
} transport_stats_t;

/* Work that must run once per loop iteration after the I/O and timers and before output is
 * flushed (the proxy sends the SETs it staged in the iteration, so their node requests join
 * this iteration's writes). */
typedef void transport_hook_fn(void *arg);
#define TRANSPORT_MAX_HOOKS 4

struct transport {
    ev_loop_t *loop;
    conn_t *dirty_head; /* connections with output to flush at the end of the iteration */
    conn_t **closing;   /* connections to free after this iteration */
    size_t nclosing, capclosing;
    int pipes[64][2]; /* pool of pipes for splice relays */
    int pipe_used[64];
    int npipes;
    char *discard;       /* scratch to read bodies nobody wants */
    conn_t *handshaking; /* connections in a TLS handshake, for its timeout */
    int tls_batch;       /* no kernel TLS: batch each connection's TLS records */
    uint64_t tls_handshake_timeout_ms;
    struct {
        transport_hook_fn *fn;
        void *arg;
    } hooks[TRANSPORT_MAX_HOOKS];
    int nhooks;
    transport_stats_t stats;
    /* Byte movers (mover.h): worker threads that read bodies into memory and write large output
     * queues of plain-socket connections, transfers of at least mover_min bytes; NULL: this
     * thread moves every byte. */
    struct mover *mover;
    size_t mover_min;
    /* transfers go to movers now: always, or (--mover-when busy) as a sample of the loop's
     * and the movers' load every 100 ms decides */
    int moving;
    uint64_t moving_switches;
    uint64_t sample_at_us, sample_idle_us, sample_mover_us;
};

/* Sets up tp over loop and registers the end-of-iteration flush with it. */
void transport_init(transport_t *tp, ev_loop_t *loop);
/* Adds work to run at the end of every iteration, before the flush. 0, or -1 when full. */
int transport_add_hook(transport_t *tp, transport_hook_fn *fn, void *arg);
/* The end of an iteration: runs the hooks, writes batched output once per connection, frees
 * closed connections. Registered by transport_init; callable directly at shutdown. */
void transport_after_io(ev_loop_t *loop, void *arg);
/* Frees the transport's own memory (pipes, scratch); connections must be gone. */
void transport_free(transport_t *tp);
/* Lets byte movers carry transfers of at least min_bytes (mover may be NULL: none): always, or
 * by_load: only while the loop and the movers together are busy (mover_wanted). */
void transport_set_mover(transport_t *tp, struct mover *mover, size_t min_bytes, int by_load);

/* ---- connections ---- */

/* A connection's transport, as Redis's ConnectionType: callers move bytes through these and
 * never ask which transport it is. Plain sockets (transport.c) and TLS (transport_tls.c). */
typedef struct conn_type {
    const char *name;
    /* >0 bytes, 0 at the peer's end, -EAGAIN, -errno. */
    ssize_t (*read)(conn_t *c, void *p, size_t n);
    /* Bytes taken (maybe fewer than offered), -EAGAIN, -errno. A TLS write that returned
     * -EAGAIN must be retried with the same bytes at the front. */
    ssize_t (*writev)(conn_t *c, const struct iovec *iov, int cnt);
    /* 1 when the socket itself carries this connection's plaintext in that direction (plain
     * TCP, or kernel TLS), so splice may take bytes from it / put bytes into it. */
    int (*splice_from)(conn_t *c);
    int (*splice_to)(conn_t *c);
    /* Input decrypted and held above the socket, where no epoll event announces it. */
    size_t (*pending)(conn_t *c);
    /* Output held above the socket (TLS records batched for one send): while there is some,
     * the connection waits for EV_WRITE and flush sends it (0, -EAGAIN, -errno). */
    size_t (*unflushed)(conn_t *c);
    ssize_t (*flush)(conn_t *c);
    void (*shutdown)(conn_t *c);
} conn_type_t;

extern const conn_type_t conn_type_plain;

/* Output queue segment: inline bytes, or a slice of a shared objbuf. */
typedef struct outseg {
    struct outseg *next;
    objbuf_t *ref; /* NULL: inline bytes in data[] */
    const char *ptr;
    size_t len;
    size_t cap; /* inline capacity */
    char data[];
} outseg_t;

struct conn {
    int fd;
    const conn_type_t *type;
    const conn_handlers_t *h; /* set by the owner */
    transport_t *tp;
    struct tls *tls;    /* TLS state (transport_tls.c), NULL on a plain connection */
    int handshaking;    /* TLS handshake under way: I/O goes to the handshake only */
    int tls_want_write; /* a TLS read needs the socket writable first */
    uint64_t created_ms;
    conn_t *hs_prev, *hs_next; /* the transport's list of connections in a handshake */
    buf_t in;
    QUEUE(outseg_t) out; /* output not yet taken by the socket */
    size_t out_bytes;
    relay_t *rx_relay; /* a relay is pulling a body out of this connection's input */
    relay_t *tx_relay; /* a relay is pushing a body into this connection's output */
    int read_paused;   /* owner does not want input now (backpressure) */
    int closing;       /* closed asynchronously after this loop iteration */
    int dirty;         /* on the transport's flush list */
    conn_t *next_dirty;
    uint64_t last_rx_ms;
    /* A byte mover is writing the head of the output queue (the segments stay queued, and
     * untouched, until it is back); flushing waits for it. */
    struct mover_job *wjob;
    void *owner;       /* the client or node this connection serves, NULL once it let go */
    void *owner_state; /* owner's memory that lives as long as the connection (h->freed) */
};

conn_t *conn_new(transport_t *tp, int fd, const conn_handlers_t *h, void *owner);
/* Queues bytes (copied) or a slice of a shared buffer (referenced, zero-copy). */
int conn_write(conn_t *c, const void *p, size_t n);
int conn_write_ref(conn_t *c, objbuf_t *ref, const char *p, size_t n);
int conn_write_buf(conn_t *c, buf_t *b);
/* Writes as much queued output as the socket takes. 0, or -errno on a dead socket. */
int conn_flush(conn_t *c);
void conn_update_events(conn_t *c);
void conn_mark_dirty(conn_t *c);
void conn_close_async(conn_t *c); /* the memory is freed after this loop iteration */
/* The socket failed: tells the owner through h->failed. Safe to call from inside a relay. */
void conn_fail(conn_t *c, const char *why);
void conn_free(conn_t *c);
/* Reads what the socket has into c->in (at least `max` when that much is there; input a
 * TLS record held back is taken too). >0 bytes, 0 EOF, -EAGAIN, -errno. */
ssize_t conn_read(conn_t *c, size_t max);
/* Moves input the transport holds above the socket (TLS) into c->in. */
void conn_drain_pending(conn_t *c);
/* Events as the owner's I/O callback should see them: a TLS read that waited for the socket
 * to become writable is retried as a read. */
int conn_io_events(conn_t *c, int events);

/* ---- TLS on proxy connections (transport_tls.c) ---- */
struct tls_ctx;
/* Starts the handshake deadline sweep and picks record batching (when the kernel has no TLS). */
void transport_tls_init(transport_t *tp, uint64_t handshake_timeout_ms);
/* Puts an accepted connection under TLS: its I/O drives the server-side handshake until it is
 * done (then the owner's io handler runs) or fails or times out (then the connection fails). */
int conn_tls_accept(conn_t *c, struct tls_ctx *ctx);
/* Unlinks and frees the TLS state (conn_free). */
void conn_tls_free(conn_t *c);

/* ---- relay: moves one bulk body out of a connection to memory, another socket, or nowhere ---- */
typedef enum { RELAY_TO_MEMORY, RELAY_TO_CONN, RELAY_DISCARD } relay_sink_t;
typedef enum { RELAY_OK = 0, RELAY_SRC_FAILED = -1, RELAY_DST_FAILED = -2 } relay_status_t;
typedef void relay_done_cb(relay_t *r, relay_status_t status, void *arg);

struct relay {
    transport_t *tp;
    conn_t *src;
    relay_sink_t sink;
    conn_t *dst;
    char *mem;
    size_t total;    /* body length */
    size_t pulled;   /* bytes taken from the source (body only) */
    size_t in_pipe;  /* bytes spliced into the pipe, not yet out */
    int pipe_idx;    /* index into the transport's pipe pool, -1 none */
    int wait_dst;    /* waiting for the destination socket to take more */
    int dst_failed;  /* the sink died; the body is being drained into nowhere */
    int crlf_needed; /* 2..0: trailing CRLF of the source bulk still to consume */
    /* When either end is TLS without kernel TLS, the body goes through this bounded buffer
     * (read into it, written out of it) instead of a pipe. */
    char *ubuf;
    size_t ubuf_off, ubuf_len;
    /* A byte mover reads the rest of the body (into memory or nowhere): the source's reading
     * end is the mover's until it is back (relay_pump does nothing meanwhile). */
    struct mover_job *job;
    /* relay_want_crc: the CRC-32C of the whole body, computed where its bytes landed (by the
     * mover that read them, or by this thread), valid in `done` when the relay ended RELAY_OK */
    int want_crc;
    uint32_t crc;
    relay_done_cb *done;
    void *arg;
};

/* Starts moving `len` body bytes out of src (and the bulk's CRLF when src's handlers say the
 * relay eats it). For RELAY_TO_CONN the caller has already queued the bulk header on dst; the
 * relay adds the trailing CRLF. `done` runs exactly once, from the loop (never from inside
 * relay_start). */
relay_t *relay_start(conn_t *src, relay_sink_t sink, conn_t *dst, char *mem, size_t len,
                     relay_done_cb *done, void *arg);
/* A RELAY_TO_MEMORY relay computes the body's CRC-32C into r->crc as it completes (call right
 * after relay_start): a mover that reads the body checksums it too, while it is in its cache. */
void relay_want_crc(relay_t *r);
/* Moves bytes; called when either end is ready. */
void relay_pump(relay_t *r);
/* The sink went away: keep draining the source into nowhere so it stays in sync. */
void relay_drop_sink(relay_t *r);
/* The source went away: the relay fails and its sink is told. */
void relay_fail_source(relay_t *r);
/* Takes the body back from a byte mover at once (its ends are about to close); no-op when none
 * carries it. */
void relay_take_back(relay_t *r);

#endif
