/* sim.h -- discrete-event simulation of an InfiniCache deployment on a virtual clock: every
 * decision (the proxy's object layout, placement, CLOCK eviction, warm-up and backup; the node's
 * billing policy and throttle; the platform's instance choice, billing and reclaim) is the real
 * system's own code in src/model; only bytes and sockets are replaced by a timing model
 * (docs/EVALUATION.md, "Simulation mode"). */
#ifndef IC_SIM_H
#define IC_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "billing.h"
#include "policy.h"
#include "trace.h"

#define SIM_MAX_INSTANCES 16 /* per function: the platform's max-instances, bounded */
#define SIM_POOL_MAX 4096    /* functions */
#define SIM_HOURS_MAX 100000 /* per-hour series entries */
#define SIM_CLIENTS_MAX 1024

/* One decision of the simulated proxy, as it is taken: a test runs the same requests through the
 * proxy's own code and compares (tests/model/test_sim_agrees.c). The pointers are valid during the
 * call only. */
typedef enum {
    SIM_CHOICE_EVICT = 1, /* key: the CLOCK victim of a placement (before that SIM_CHOICE_PLACE) */
    SIM_CHOICE_PLACE,     /* key, size, version, d, p, n and nodes[0..n-1]: a SET's layout */
    SIM_CHOICE_READ,      /* key, version, slot and node: a GET asks for one chunk */
} sim_choice_kind_t;

typedef struct {
    sim_choice_kind_t kind;
    const char *key;
    size_t keylen;
    uint64_t size, version;
    int d, p, n;
    const uint16_t *nodes;
    int slot, node;
} sim_choice_t;

/* When lost chunks are re-created. LAZY: when a GET finds them (icproxy today). EAGER: as soon
 * as the proxy learns of the loss (it adopts an empty instance): with a store, each lost data
 * chunk by one ranged GET of its bytes (lost parity waits for the next GET, which holds the data
 * to encode it from); without, from d surviving chunks read from their nodes. HOT: as EAGER for
 * objects used within repair_hot_ms; the rest are left to the next GET (and the store). */
enum { SIM_REPAIR_LAZY, SIM_REPAIR_EAGER, SIM_REPAIR_HOT };

#define SIM_KILLS_MAX 64 /* icsim --kill: scripted reclaims */

typedef struct {
    /* the pool (icproxy's options of the same names) */
    int pool_size;
    int64_t node_memory_mb, node_reserved_mb;
    int d, p;
    uint64_t small_object_max;
    const char *key_prefix; /* keys are PREFIX<16 hex digits>, as icbench names them */
    /* lifecycle (0 = off) */
    uint64_t warmup_interval_ms, backup_interval_ms;
    int backup_concurrency; /* most backups at once, as icproxy's option */
    /* the object store under the cache (docs/EVALUATION.md, "Durability with an object store") */
    int store;              /* every object also lives in an S3 bucket: client SETs are written
                             * through, and a GET that finds no decodable object is answered from
                             * the store (then the cache is filled) */
    int repair;             /* SIM_REPAIR_*: when lost chunks are re-created */
    uint64_t repair_hot_ms; /* SIM_REPAIR_HOT: objects read or written this recently */
    uint64_t store_part;    /* bytes of one ranged GET or multipart part (0: 8 MiB) */
    /* the platform */
    int64_t billing_ms, max_instances, idle_reclaim_ms, function_timeout_ms;
    double reclaim_rate; /* random reclaims per idle instance-hour */
    uint64_t seed;
    /* the node's return policy (anticipatory or idle, as icnode's IC_NODE_* variables) */
    policy_config_t policy;
    /* the timing model, in microseconds and bytes per second (0 bandwidth = not limited) */
    uint64_t node_bandwidth;   /* a node sending chunks to the proxy (GET replies) */
    uint64_t upload_bandwidth; /* the proxy sending chunks to a node (SET) */
    uint64_t sync_bandwidth;   /* a backup's source sending its peer (0: as node_bandwidth) */
    int64_t rtt_us;            /* one request's round trip proxy <-> node, excluding bytes */
    int64_t warm_invoke_us;    /* invocation sent -> a warm instance starts serving it */
    int64_t cold_invoke_us;    /* the same for a cold start */
    int64_t hello_us;          /* the serving node's HELLO reaches the proxy after its start */
    int64_t warmup_run_us;     /* a warm-up invocation's duration (the node returns at once) */
    int64_t post_us;           /* a node's return: posting the response, inside the billed time */
    int clients;               /* closed-loop clients, as icbench --clients */
    /* fault injection, as the platform's admin kill (POST /admin/reclaim?function=): at each
     * kill's at_ms the instance its node's proxy uses is reclaimed (once it is not serving) */
    int nkills;
    struct {
        int64_t at_ms;
        int node;
    } kills[SIM_KILLS_MAX];
    /* Told of every choice (NULL: nobody is). */
    void (*observe)(void *arg, const sim_choice_t *choice);
    void *observe_arg;
} sim_config_t;

/* Counters of one hour (and of the whole run). */
typedef struct {
    uint64_t gets, hits, misses, sets, fills, set_errors;
    uint64_t gets_of_stored, hits_of_stored; /* GETs of objects stored and not evicted */
    uint64_t evictions, objects_lost, chunks_lost, chunks_restored;
    uint64_t cold_starts, reclaims_random, reclaims_idle;
    uint64_t warmups, backups;
    /* the object store: GETs answered from it, its requests (S3 GET and PUT classes), and the
     * objects re-created by eager repair (from the store, or from d chunks in the cache) */
    uint64_t store_answers, store_answers_of_stored, store_gets, store_puts;
    uint64_t repairs_from_store, repairs_from_cache;
    billing_totals_t bill;
} sim_counts_t;

typedef struct {
    sim_counts_t total;
    sim_counts_t *hours; /* hours[i]: virtual hour i of the run */
    size_t nhours;
    double end_s;         /* virtual time when the last request finished */
    uint64_t events;      /* events processed */
    uint64_t objects_end; /* objects cached at the end */
} sim_result_t;

/* One request of the workload: at `at` seconds after the start (0: as soon as a client is free). */
typedef struct {
    trace_op_t op;
    uint64_t key;
    uint64_t size;
    double at;
} sim_request_t;

/* The defaults of every knob (icproxy's and icplatform's defaults; the timing model calibrated on
 * the local platform, docs/EVALUATION.md). */
void sim_config_defaults(sim_config_t *cfg);

/* Runs the requests in order (each client takes the next one when free). 0, or -1 with err set
 * (bad configuration, out of memory). The result's hours are the caller's to sim_result_free. */
int sim_run(const sim_config_t *cfg, const sim_request_t *reqs, size_t nreqs, sim_result_t *out,
            char *err, size_t errlen);
void sim_result_free(sim_result_t *r);

#endif
