/* proxy.h -- icproxy internals: connections, relays, nodes, object metadata, operations.
 *
 * Threading: everything here runs on the one event-loop thread, except the invoker
 * (invoker.c), which owns its own thread and talks to the loop through a queue + eventfd. */
#ifndef IC_PROXY_H
#define IC_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nodeauth.h"
#include "buf.h"
#include "ec.h"
#include "ev.h"
#include "metatab.h"
#include "opindex.h"
#include "resp.h"
#include "auth.h"
#include "schedule.h"
#include "transport.h"

typedef struct server server_t;
typedef struct node node_t;
typedef struct nreq nreq_t;
typedef struct op op_t;
typedef struct invoker invoker_t;
typedef struct awscreds_provider awscreds_provider_t;

/* ---- configuration (one table in config.c) ---- */
typedef struct {
    char *bind;
    int64_t client_port;
    int64_t node_port;
    char *node_advertise; /* address nodes dial; default bind:node_port */
    int64_t pool_size;
    char *function_prefix;
    int64_t node_memory_mb;
    int64_t node_reserved_mb;
    int64_t d, p;
    int64_t small_object_max;
    int64_t max_object_size;
    int64_t max_clients;
    int64_t max_pipeline;
    int64_t client_output_limit; /* unread reply bytes before a client's input pauses */
    char *requirepass;      /* the default user's password; "" none (never logged) */
    char *aclfile;          /* ACL-style users; "" none */
    int64_t protected_mode; /* bool */
    int64_t timeout_s;      /* idle clients are closed after this; 0 never */
    char *platform_endpoint; /* empty: start the embedded local platform */
    char *platform_binary;
    char *platform_admin_token_file; /* the platform's admin token (embedded: instead of a fresh one) */
    char *node_binary;
    int64_t function_timeout_ms;
    int64_t node_idle_return_ms;
    int64_t idle_reclaim_ms;
    char *billing;
    char *billing_log;
    int64_t max_instances;
    char *aws_sigv4; /* "auto", or e.g. "aws:amz:us-east-1:lambda"; empty: unsigned */
    char *aws_profile;           /* shared-file profile; "": AWS_PROFILE, then default */
    char *aws_region;            /* "": AWS_REGION, AWS_DEFAULT_REGION, the profile's, IMDS */
    char *imds_endpoint;         /* "": AWS_EC2_METADATA_SERVICE_ENDPOINT, then 169.254.169.254 */
    int64_t aws_refresh_margin_ms; /* temporary keys are replaced this long before expiry */
    int64_t aws_fetch_timeout_ms;  /* one IMDS or container-agent request */
    int64_t aws_process_timeout_ms; /* one credential_process run */
    char *node_secret_file; /* the deployment's node secret; empty: a fresh one (embedded only) */
    int64_t invoke_timeout_ms;
    int64_t node_connect_timeout_ms;
    int64_t invoke_retry_ms;
    int64_t invoke_attempts;      /* tries of one Invoke call answered 429 or 5xx */
    int64_t invoke_backoff_ms;    /* first delay between them (doubles, jittered) */
    int64_t invoke_backoff_max_ms; /* the cap of that delay */
    int64_t ping_idle_ms;
    int64_t ping_timeout_ms;
    int64_t request_timeout_ms;
    int64_t warm_on_start;
    int64_t ready_timeout_ms;
    char *node_return_policy; /* anticipatory | idle */
    /* lifecycle (docs/ARCHITECTURE.md, "Keeping data alive") */
    int64_t warmup_interval_ms;
    int64_t backup_interval_ms;
    int64_t backup_timeout_ms;
    int64_t backup_concurrency;
    int64_t relay_port;
    int64_t repair;
    int64_t repair_rate; /* bytes per second */
    char *time_compression; /* decimal factor >= 1 */
    char *reclaim_rate;     /* local platform: random reclaims per instance-hour */
    int64_t seed;
    /* network emulation in the local platform's nodes (docs/PLATFORM.md) */
    int64_t node_bandwidth;     /* bytes per second each node sends; 0: unlimited */
    char *straggler_rate;       /* decimal fraction of chunk replies held back */
    int64_t straggler_delay_ms;
    char *log_level;
    /* TLS (docs/SECURITY.md): Redis's option names and meanings */
    int64_t tls_port;       /* 0: no TLS listener for clients */
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_ca_cert_file;
    char *tls_auth_clients; /* yes | no | optional */
    char *tls_ciphersuites; /* TLS 1.3 suites, the proxy's preference first */
    int64_t tls_handshake_timeout_ms;
    int64_t node_tls; /* the node port speaks TLS only; invocations say "tls": true */
    /* derived by proxy_config_load */
    double compression;   /* time_compression as a number */
    int64_t billing_ms;   /* billing as a number: 1 or 100 */
} proxy_config_t;

/* A lifecycle period after time compression (at least 1 ms). */
uint64_t proxy_scaled_ms(const proxy_config_t *cfg, int64_t ms);

extern const void *proxy_option_table; /* conf_option_t[] */
int proxy_config_load(proxy_config_t *cfg, int argc, char **argv, char *err, size_t errlen);

/* ---- nodes ---- */
typedef enum {
    NODE_DOWN,     /* no connection */
    NODE_INVOKING, /* invoked, waiting for HELLO (connection may exist: asleep) */
    NODE_AWAKE,    /* serving */
    NODE_ASLEEP,   /* said BYE: frozen until the next invocation */
} node_state_t;

typedef enum { NREQ_PING, NREQ_CSET, NREQ_CGET, NREQ_CDEL, NREQ_INVENTORY, NREQ_BACKUP } nreq_kind_t;

/* Result delivered to the operation that issued a request. */
typedef enum {
    NRES_OK = 0,      /* stored / deleted / chunk arrived (for CGET: header parsed, see below) */
    NRES_MISSING = 1, /* CGET: the node does not hold the chunk */
    NRES_ERROR = 2,   /* node answered an error, connection lost, invoke failed, timeout */
} nres_t;

typedef void nreq_done_cb(nreq_t *q, nres_t res, const char *err);
/* For CGET: called when the reply header is parsed and the body is next on the connection;
 * the callback must start a relay on the node connection (possibly to RELAY_DISCARD). */
typedef void nreq_body_cb(nreq_t *q, uint32_t crc, size_t len);

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
    nreq_done_cb *done;
    nreq_body_cb *on_body;
    uint64_t sent_ms;
    uint8_t answered; /* NRES_ERROR came from the node itself (it read the request) */
    uint8_t tomb;     /* CDEL ... TOMB: the node keeps the key's tombstone */
};

struct node {
    int id;
    server_t *srv;
    char function[96];
    node_state_t state;
    conn_t *conn;
    char instance[40];
    meta_room_t room; /* capacity (from HELLO, or the configured estimate) and chunks placed */
    nreq_t *pending_head, *pending_tail;   /* not written yet */
    nreq_t *inflight_head, *inflight_tail; /* written, waiting for their replies */
    int inflight;
    /* Reply parser state for the head in-flight request. */
    int rx_state;
    uint32_t rx_crc;
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
    nreq_t *parked;             /* its body is next on the connection; reading waits for the op */
    /* what the proxy knows of the instance's store (repair.c) */
    int inventory_pending;     /* an INVENTORY request is out */
    int inventoried;           /* this instance's inventory has been reconciled */
    /* backup (lifecycle.c) */
    int backup_state;          /* BACKUP_IDLE, BACKUP_REQUESTED, BACKUP_RUNNING */
    char backup_token[24];
    uint64_t backup_started_ms;
    uint64_t last_backup_ms;   /* last backup attempt ended (or the node's first data) */
    uint64_t backup_timer;
    struct sync_relay *relay;  /* where the node and its peer instance meet */
    /* Chunk deletes for an instance that is not reachable now (down, asleep, its connection
     * lost): sent ahead of anything else when it is back. Bounded (NODE_DEFERRED_MAX); past the
     * bound the instance is inventoried again instead (repair.c deletes what it should not hold). */
    nreq_t *deferred_head, *deferred_tail;
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
/* An instance serving now (awake, connected): only such a node is sent a delete nobody waits for
 * at once; a sleeping one is not woken (billed) for it, and one that is down may come back with
 * its memory. */
int node_reachable(const node_t *n);
/* Frees the deletes kept for the node's return (at shutdown). */
void node_drop_deferred(node_t *n);
/* Called for each delete node_delete_chunk_acked() took for op. */
void ops_delete_acked(op_t *op);
void node_invoke(node_t *n, const char *cmd);
void node_start_sweeps(server_t *srv);
/* A CGET body the op cannot take yet stays in the node's socket: reading pauses until unpark. */
void node_park(node_t *n, nreq_t *q);
conn_t *node_unpark(node_t *n);

/* ---- object metadata (the table, CLOCK and placement: metatab.h) ---- */
meta_t *meta_lookup(server_t *srv, const char *key, size_t keylen); /* drops expired ones */
/* Removes the object and deletes its chunks on their nodes. */
void meta_drop(server_t *srv, meta_t *m);
/* The same for a client's delete (FLUSHALL): the nodes keep tombstones of the key. */
void meta_delete(server_t *srv, meta_t *m);
/* Removes the object (and its placement charge) only: the caller has deleted its chunks. */
void meta_forget(server_t *srv, meta_t *m);
void meta_start_expiry(server_t *srv); /* the background sweep for expired objects (meta.c) */
/* Picks n distinct nodes with room for chunk_size bytes each, evicting objects (CLOCK) while
 * needed. Returns 0, or -ENOSPC if even an empty pool cannot hold it. */
int meta_place(server_t *srv, const char *key, size_t keylen, int n, size_t chunk_size,
               uint16_t *nodes_out);
/* Counts n chunks placed on `nodes` (meta_place does it; a rebuild places chunks found). */
/* A node answered -NOMEM to a chunk of `cost` bytes (still charged to it): its reported used and
 * limit (from err, "used U of L") become the proxy's figures for it, and objects with a chunk
 * there are evicted (CLOCK) until the chunk fits. 0 when it now fits, -ENOSPC otherwise. */
int meta_node_refused(server_t *srv, int node, const char *err, uint64_t cost);
void meta_charge_placement(server_t *srv, const uint16_t *nodes, int n, size_t chunk_size,
                           size_t keylen);
void meta_release_placement(server_t *srv, const uint16_t *nodes, int n, size_t chunk_size,
                            size_t keylen);

/* ---- client operations ---- */
typedef struct client client_t;

typedef enum { OP_SIMPLE, OP_GET, OP_SET, OP_ICGET, OP_ICSET, OP_ICREPAIR } op_kind_t;

struct client {
    conn_t *conn;
    server_t *srv;
    uint64_t id;
    char name[64];
    resp_cmd_t cmd;
    op_t *ops_head, *ops_tail; /* in arrival order; replies go out in this order */
    int nops;
    op_t *reading;   /* an op that is consuming a big argument from the input */
    op_t *streaming; /* an op that owns the output (ICGET) */
    int quit_after_reply;
    int processing;   /* inside client_process: completions must not re-enter it */
    int waiting_body; /* an ICSET chunk body waits for its node; do not parse past it */
    int skip_rest;    /* the command being read is answered already: drain its arguments */
    client_t *next, *prev;
    uint64_t created_ms;
    uint64_t cmds;
    uint64_t last_active_ms; /* the reply queue last became empty (idle timeout) */
    const auth_user_t *user; /* authenticated as; NULL: only AUTH, HELLO and QUIT are allowed */
};

struct op {
    op_t *next;
    op_kind_t kind;
    client_t *client; /* NULL once the client is gone */
    server_t *srv;
    buf_t reply;         /* small reply, sent when the op reaches the head of the queue */
    objbuf_t *reply_ref; /* big bulk body (GET), sent by reference after reply, then CRLF */
    size_t reply_ref_len;
    int done;
    /* object being read or written */
    char *key;
    size_t keylen;
    meta_t *meta;  /* pending (SET) or snapshot copy (GET) */
    objbuf_t *obj; /* whole value (Redis path) */
    int n, d, p;
    size_t chunk_size;
    uint64_t size;
    uint64_t version;
    int outstanding; /* SET/ICSET: chunk stores not answered yet */
    int failed;
    int64_t ndeleted; /* DEL: keys removed */
    uint8_t slot_state[EC_MAX_CHUNKS]; /* per chunk: 0 pending, 1 good, 2 lost/failed, 3 late */
    uint8_t slot_retried[EC_MAX_CHUNKS]; /* CSET sent again after the node's -NOMEM */
    int have_idx[EC_MAX_CHUNKS];
    int nhave;
    char err[256];
    uint64_t timer;
    uint64_t started_us;
    /* SET options */
    int64_t expire_ms;
    int nx, xx, get_old, keepttl;
    /* ICGET streaming */
    int relay_active;                /* a chunk body is being spliced to the client */
    nreq_t *ready_head, *ready_tail; /* chunks staged in memory while the client was busy */
    int forwarded;
    int forward_goal; /* chunks to forward: d (first-d), or n for ICGET key ALL */
    int forward_min;  /* fewer forwarded is a failed read: d, or ICGETCHUNKS's need */
    int spare;        /* ICGETCHUNKS: only the listed chunks are read (the others "not sent") */
    int timed_out;
    uint64_t requested; /* slots whose chunk was asked for */
    uint64_t retried;   /* slots asked again after their node failed (once each) */
    /* ICREPAIR */
    int repair_unlisted; /* the chunk was not known lost: the client found it corrupt */
    /* ICSET */
    int chunks_seen;
    uint32_t crcs[EC_MAX_CHUNKS];
    uint16_t nodes[EC_MAX_CHUNKS];
    int placed;
    int body_failed;
    relay_t *slot_relay[EC_MAX_CHUNKS]; /* GET: bodies being read into obj */
    int finished;                       /* the answer is decided; late arrivals are dropped */
    int all_args;                       /* ICSET/ICREPAIR: every argument has been read */
    int big_discard;                    /* a big argument nobody wants is being drained */
    int commit_waiting; /* stored, waiting for an earlier write of the same key to commit */
    void (*bg_done)(op_t *op); /* a background op (no client): called when it is decided */
    int refs;           /* queue + node requests + relays; freed at zero */
    /* Riders: ops of other requests answered with this op's reply instead of doing the work
     * again (GETs of the object this GET is reading; SETs this SET superseded before they were
     * sent). Each rider holds a reference while it rides. */
    op_t *riders;
    op_t *rider_next;
    int nriders;
    op_t *carrier;    /* the op this one rides on */
    op_t *stage_next; /* srv->staged_head list: SETs sent after this loop iteration */
    /* in srv->readers or srv->staged (opindex.h) */
    op_t *idx_next;
    uint64_t idx_hash;
    opindex_t *indexed;
};

void client_accept(server_t *srv, int fd, struct tls_ctx *tls);
void client_on_op_done(op_t *op);
int client_key_busy(client_t *c, op_t *before, const char *key, size_t keylen);
void op_retry_commit(op_t *op);
void client_resume_input(client_t *c);
void client_conn_failed(conn_t *c, const char *why);
void node_conn_failed(conn_t *c, const char *why);
op_t *op_ref(op_t *op);
void op_unref(op_t *op);
void client_close_all(server_t *srv);
/* Closes clients idle longer than the timeout option (when it is set), once a second. */
void client_start_timeout_sweep(server_t *srv);

/* op implementations (ops.c) */
int set_prepare_value(op_t *op, const char *value, size_t len);
int icset_small(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl);
void icset_check_done(op_t *op);
void icset_body_moved(op_t *op, int slot, relay_status_t st);
void icget_parked_failed(nreq_t *q, nres_t res);
void cmd_get(client_t *c, op_t *op);
void cmd_set(client_t *c, op_t *op); /* value in op->obj, options parsed */
void ops_start_staged(server_t *srv); /* sends the SETs staged in this iteration */
op_t *op_carrier_root(op_t *op);      /* the op that answers a rider (NULL: op rides nothing) */
void cmd_icget(client_t *c, op_t *op);
void cmd_icgetchunks(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl);
void cmd_del(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl);
int cmd_icset_begin(client_t *c, op_t *op);
void cmd_icset_chunk(client_t *c, op_t *op, size_t len);
void cmd_icrepair(client_t *c, op_t *op, const char **argv, const size_t *argl, objbuf_t *body);
void cmd_info(client_t *c, op_t *op, const char *section);
/* An op no client waits for (background repair); one reference, the caller's. */
op_t *op_new_background(server_t *srv, op_kind_t kind);
/* Reads the object like a Redis GET and re-stores its lost chunks; `done` runs when the read is
 * decided (maybe before this returns). -1 if the object is gone or memory is short. */
int op_start_repair(server_t *srv, const char *key, size_t keylen, void (*done)(op_t *op));

/* ---- lifecycle: warm-up, backups, the relay port (lifecycle.c) ---- */
int lifecycle_start(server_t *srv, char *err, size_t errlen);
/* BACKUPDONE token status chunks bytes deleted, from the node. */
void lifecycle_backup_done(node_t *n, int argc, const char **argv, const size_t *argl);
void lifecycle_node_lost(node_t *n);
/* A connection to the relay port: it must introduce itself with RELAY token source|peer. */
void lifecycle_relay_adopt(server_t *srv, int fd);

/* ---- repair: lost chunks, inventories, rebuild after a restart (repair.c) ---- */
int repair_init(server_t *srv);
/* Chunk `slot` of object m is gone from its node: remember it and queue the object. */
void repair_note_lost(server_t *srv, meta_t *m, int slot);
/* Queues the object for repair if it has lost chunks (again, after a failed attempt). */
void repair_enqueue(server_t *srv, meta_t *m);
/* A node runs an instance whose store the proxy has not reconciled: ask what it holds. */
void repair_request_inventory(node_t *n);
/* The INVENTORY reply (malloc'd; ownership passes). */
void repair_inventory(node_t *n, char *data, size_t len);
/* Start-up: 1 while nodes' inventories may still bring back objects (client reads wait). */
int repair_rebuilding(server_t *srv);
/* Ends the start-up window: rebuilt objects become visible, repairs may start. */
void repair_rebuild_done(server_t *srv);

/* ---- invoker: Lambda Invoke API over libcurl, in its own thread ---- */
/* admin_token: the platform's admin API token, sent with the /admin/stats reads ("" reads none). */
invoker_t *invoker_start(server_t *srv, const char *endpoint, const char *sigv4,
                         int64_t timeout_ms, const char *admin_token);
/* Asynchronous Event invocation; the result comes back through node_invoke_result(). */
void invoker_invoke(invoker_t *inv, int node_id, const char *function, const char *payload);
/* Copies the latest platform stats JSON (fetched every second); "" if none. */
void invoker_platform_stats(invoker_t *inv, char *out, size_t cap);
/* Invoke answers 429 seen, and retries made (of 429 and 5xx answers), since start. */
void invoker_counters(invoker_t *inv, uint64_t *throttled, uint64_t *retries);
void invoker_stop(invoker_t *inv);

/* ---- local platform child ---- */
typedef struct {
    int pid;
    int port;
} platform_child_t;
/* The platform's admin API token: 16 to 512 printable bytes (icplatform's bounds). */
#define PLATFORM_TOKEN_MIN 16
#define PLATFORM_TOKEN_MAX 512
/* Chooses the token the proxy reads the platform's /admin/stats with, into out (cap >
 * PLATFORM_TOKEN_MAX): the first line of --platform-admin-token-file if given; else, for the
 * embedded platform, a fresh random one (32 bytes, hex); else "" (an external platform's stats
 * are not read). 0, or -1 with err set. */
int platform_admin_token(const proxy_config_t *cfg, char *out, size_t cap, char *err,
                         size_t errlen);
/* Starts icplatform with admin_token as its admin API token (IC_PLATFORM_ADMIN_TOKEN, which the
 * platform removes from its environment before starting any instance). */
int platform_child_start(const proxy_config_t *cfg, const char *self_dir, const char *admin_token,
                         platform_child_t *out, char *err, size_t errlen);
void platform_child_stop(platform_child_t *pc);

/* ---- the server ---- */
typedef struct {
    uint64_t connections;
    uint64_t commands;
    uint64_t gets, get_hits, get_misses;
    uint64_t sets;
    uint64_t errors;
    uint64_t invocations, invoke_failures;
    uint64_t chunks_lost;
    uint64_t chunks_repaired;
    uint64_t chunks_corrupt_repaired; /* ICREPAIRs of chunks not known lost: found corrupt */
    uint64_t icget_spare_reads;       /* ICGETCHUNKS: a library asked for more chunks */
    uint64_t objects_lost;
    uint64_t node_timeouts;
    uint64_t warmups;
    uint64_t backups_started, backups_ok, backups_failed;
    uint64_t backup_bytes, backup_chunks, backup_deletes;
    uint64_t last_backup_ms, last_backup_bytes; /* duration and bytes of the latest good one */
    uint64_t repairs_started, repair_bytes;
    uint64_t inventories, rebuilt_objects;
    uint64_t deletes_deferred; /* chunk deletes kept for an unreachable node's return */
    uint64_t deletes_dropped;  /* ... past the bound: the node is inventoried again instead */
    uint64_t stale_chunks;     /* chunks found at inventory that no object owns, deleted */
    uint64_t gets_coalesced; /* GETs answered by a read of the same object already under way */
    uint64_t sets_coalesced; /* SETs superseded by a later SET of the key before being sent */
    uint64_t nodes_refused;  /* node or relay connections that failed to prove the node secret */
    uint64_t auth_failures;  /* AUTH / HELLO AUTH refused */
    uint64_t auth_denied;    /* connections refused by protected mode */
    uint64_t idle_closed;    /* clients closed by the idle timeout */
} proxy_stats_t;

struct server {
    proxy_config_t cfg;
    ev_loop_t *loop;
    int client_lfd, node_lfd, relay_lfd, tls_lfd; /* -1 when not listening */
    int client_port, node_port, relay_port, tls_port;
    struct tls_ctx *client_tls; /* TLS for the tls-port listener */
    struct tls_ctx *node_tls;   /* TLS for the node port (node-tls yes) */
    char node_addr[128]; /* what nodes dial */
    /* --aws-sigv4 with "auto" resolved to "aws:amz:REGION:lambda" (what libcurl and the nodes'
     * backup invocations take); "" unsigned. The keys come from aws (NULL when unsigned). */
    char aws_sigv4[128];
    awscreds_provider_t *aws;
    node_t *nodes;
    int nnodes;
    meta_table_t meta;
    invoker_t *invoker;
    platform_child_t platform;
    char platform_endpoint[256];
    nodeauth_secrets_t node_secrets; /* signs invocation events, checks HELLO and RELAY proofs */
    client_t *clients;
    int nclients;
    uint64_t next_client_id;
    uint64_t next_version;
    transport_t tp; /* connections, relays and the end-of-iteration flush (transport.h) */
    proxy_stats_t stats;
    uint64_t start_ms;
    int ready;
    int stopping;
    int backups_active;
    struct repair_queue *repair; /* repair.c */
    opindex_t readers; /* Redis-path GETs reading their chunks, by (key, version) */
    opindex_t staged;  /* SETs waiting for the end of the iteration, by key (version 0) */
    opindex_t storing; /* stores placed and not yet decided, by (key, version): their chunks are
                        * on nodes before the metadata knows them (an inventory spares them) */
    op_t *staged_head, *staged_tail;
    auth_t auth; /* users of the client port (auth.c) */
};

uint64_t server_next_version(server_t *srv);

#endif
