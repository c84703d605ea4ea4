/* server.h -- the proxy as a whole: its options, listeners, pool, object table, counters and the
 * transport it runs on. Everything runs on the one event-loop thread, except the invoker
 * (invoker.c) and the AWS credential refresher (awscreds.c), which own threads of their own and
 * talk to the loop through queues. */
#ifndef IC_PROXY_SERVER_H
#define IC_PROXY_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "billing.h"
#include "ev.h"
#include "metatab.h"
#include "nodeauth.h"
#include "opindex.h"
#include "platform_child.h"
#include "proxy_config.h"
#include "queue.h"
#include "transport.h"

typedef struct server server_t;
typedef struct node node_t;
typedef struct op op_t;
typedef struct client client_t;
typedef struct invoker invoker_t;
typedef struct awscreds_provider awscreds_provider_t;
typedef struct metrics metrics_t;

/* How a chunk read ended (the metrics' infinicache_chunk_reads_total{outcome}). */
typedef enum {
    CHUNK_READ_FIRST_D, /* among the first d to arrive: used */
    CHUNK_READ_LATE,    /* arrived after the read had its d: dropped */
    CHUNK_READ_LOST,    /* the node lacks it */
    CHUNK_READ_CORRUPT, /* its length or CRC is wrong */
    CHUNK_READ_FAILED,  /* the node could not be reached */
    CHUNK_READ_OUTCOMES
} chunk_read_outcome_t;

/* ---- the server ---- */
typedef struct {
    uint64_t connections;
    uint64_t commands;
    uint64_t gets, get_hits, get_misses;
    /* GETRANGE: requests, chunk bytes read from nodes for them (pieces, decoding windows and
     * whole replicated objects), and those that had to decode (op_range.c) */
    uint64_t getrange_requests, getrange_chunk_bytes, getrange_decoded;
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
    uint64_t repairs_deferred; /* --repair hot: cold objects left to their next GET */
    uint64_t inventories, rebuilt_objects;
    uint64_t deletes_deferred; /* chunk deletes kept for an unreachable node's return */
    uint64_t deletes_dropped;  /* ... past the bound: the node is inventoried again instead */
    uint64_t stale_chunks;     /* chunks found at inventory that no object owns, deleted */
    uint64_t gets_coalesced;   /* GETs answered by a read of the same object already under way */
    uint64_t sets_coalesced;   /* SETs superseded by a later SET of the key before being sent */
    uint64_t nodes_refused;    /* node or relay connections that failed to prove the node secret */
    uint64_t auth_failures;    /* AUTH / HELLO AUTH refused */
    uint64_t auth_denied;      /* connections refused by protected mode */
    uint64_t idle_closed;      /* clients closed by the idle timeout */
    uint64_t chunk_reads[CHUNK_READ_OUTCOMES];
    uint64_t invocations_by_kind[BILLING_KIND_COUNT]; /* what each invocation was for */
    /* The nodes' own billing records (bill.c): what they add up to, and those not counted. */
    billing_totals_t node_billing;
    uint64_t bills_refused;    /* malformed or out of bounds */
    uint64_t bills_duplicate;  /* a seq already counted (sent again after a lost connection) */
    uint64_t bills_unreported; /* records the nodes dropped for lack of room */
} proxy_stats_t;

struct server {
    proxy_config_t cfg;
    ev_loop_t *loop;
    int client_lfd, node_lfd, relay_lfd, tls_lfd; /* -1 when not listening */
    int client_port, node_port, relay_port, tls_port;
    struct tls_ctx *client_tls; /* TLS for the tls-port listener */
    struct tls_ctx *node_tls;   /* TLS for the node port (node-tls yes) */
    char node_addr[128];        /* what nodes dial */
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
    /* Takeover fencing (docs/STANDBY.md): the epoch every event this proxy seals carries, and
     * whether a node has told it of a higher one (it is then replaced and serves nothing). */
    uint64_t epoch;
    int fenced;
    uint64_t fenced_by_epoch;
    transport_t tp; /* connections, relays and the end-of-iteration flush (transport.h) */
    proxy_stats_t stats;
    uint64_t start_ms;
    int ready;
    int stopping;
    int backups_active;
    struct repair_queue *repair; /* repair.c */
    opindex_t readers;           /* Redis-path GETs reading their chunks, by (key, version) */
    opindex_t staged;            /* SETs waiting for the end of the iteration, by key (version 0) */
    opindex_t storing; /* stores placed and not yet decided, by (key, version): their chunks are
                        * on nodes before the metadata knows them (an inventory spares them) */
    QUEUE(op_t) staged_ops; /* SETs staged in this iteration, in arrival order */
    auth_t auth;            /* users of the client port (auth.c) */
    /* the Prometheus endpoint (metrics.c); NULL when off */
    metrics_t *metrics;
    struct key_holds *holds;     /* keys held by compound commands (op_rmw.c) */
    int hold_waiters;            /* clients whose next command waits for a held key */
    struct watch_table *watches; /* keys clients WATCH (watch.c) */
    struct backing *backing;     /* the object store under the cache (backing.c); NULL: none */
    struct cluster_map *cluster; /* the slot map (cluster.c); NULL: not in cluster mode */
};

uint64_t server_next_version(server_t *srv);
/* A node proved it has accepted `epoch`, higher than this proxy's: another proxy has taken the
 * pool over. From now on this one is fenced for good: every client connection is closed (nothing
 * not yet written goes out), later commands but INFO, AUTH, HELLO and QUIT are answered -FENCED,
 * and nothing more is sent to any node (client.c). */
void server_fence(server_t *srv, uint64_t epoch, int node_id);

#endif
