/* metatab.h -- the object table, CLOCK ring and chunk placement over node capacities, with no
 * sockets and no clock: icproxy (meta.c) and the simulator (src/sim) run this same code. */
#ifndef IC_MODEL_METATAB_H
#define IC_MODEL_METATAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct meta meta_t;

struct meta {
    meta_t *hnext;
    uint64_t hash;
    uint64_t version;
    uint64_t size;
    uint64_t expire_ms; /* wall clock ms, 0 = never */
    uint64_t lost_mask; /* chunks known to be gone from their node, awaiting repair */
    uint32_t chunk_size;
    uint32_t clock_pos;
    uint32_t atime_s; /* last read, seconds of the caller's clock (OBJECT IDLETIME) */
    uint16_t keylen;
    uint8_t d, p;
    uint8_t referenced;
    uint8_t repair_queued; /* in the repair queue */
    uint8_t pad[6];
    meta_t *slot_next, *slot_prev; /* the objects of the same cluster slot (when indexed) */
    /* followed by: uint16_t node[n]; uint32_t crc[n]; char key[keylen] */
    char tail[];
};

static inline uint16_t *meta_nodes(meta_t *m)
{
    return (uint16_t *)m->tail;
}
static inline uint32_t *meta_crcs(meta_t *m)
{
    return (uint32_t *)(m->tail + sizeof(uint16_t) * (m->d + m->p) + (((m->d + m->p) & 1) ? 2 : 0));
}
static inline char *meta_key(meta_t *m)
{
    return (char *)(meta_crcs(m) + m->d + m->p);
}

typedef struct {
    meta_t **buckets;
    size_t nbuckets;
    size_t count;
    meta_t **clock;   /* ring in insertion order, for CLOCK eviction; NULL marks a removed slot */
    size_t clock_len; /* slots in use, holes included */
    size_t clock_cap;
    size_t clock_hand;
    size_t expire_cursor; /* where the expiry sweep (meta_expired_next) goes on */
    uint64_t bytes;       /* sum of object sizes */
    size_t expires;       /* objects with an expiry (INFO keyspace) */
    long double expire_sum; /* sum of their expire_ms, for avg_ttl without a walk */
    uint64_t evictions;
    uint64_t expired;
    uint32_t place_rotor; /* advances at every placement, so equal keys spread over the pool */
    /* The objects of each Redis Cluster slot, for CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT and
     * slot migration; NULL unless meta_table_index_slots was called (the proxy in cluster mode). */
    meta_t **slot_heads;
    uint32_t *slot_counts;
} meta_table_t;

/* What the placement knows of one node: its capacity and what the proxy placed there. */
typedef struct {
    uint64_t mem_limit;  /* from HELLO, or the configured estimate */
    uint64_t mem_placed; /* bytes of chunks placed here (meta_chunk_cost each) */
    uint64_t chunks_placed;
} meta_room_t;

/* The room of node i (the proxy's rooms live inside its node structs, the simulator's in an
 * array). */
typedef meta_room_t *(*meta_room_fn)(void *arg, int i);
/* Removes `victim` from the table and releases its chunks' rooms (the proxy also deletes the
 * chunks on their nodes). The callback must take it out of the table. */
typedef void (*meta_evict_fn)(void *arg, meta_t *victim);

int meta_table_init(meta_table_t *t);
/* Starts the per-slot index (on an empty table): 0 or -ENOMEM. */
int meta_table_index_slots(meta_table_t *t);
/* The first object of a cluster slot (follow slot_next), and how many there are. */
meta_t *meta_slot_first(const meta_table_t *t, unsigned slot);
uint32_t meta_slot_count(const meta_table_t *t, unsigned slot);
void meta_table_free(meta_table_t *t);
meta_t *meta_new(const char *key, size_t keylen, int d, int p);
size_t meta_alloc_size(int d, int p, size_t keylen);
meta_t *meta_find(meta_table_t *t, const char *key, size_t keylen); /* expiry not checked */
int meta_insert(meta_table_t *t, meta_t *m);                        /* replaces nothing */
void meta_remove(meta_table_t *t, meta_t *m);
/* Changes the expiry of an object in the table (0 = none), keeping the table's counts. */
void meta_set_expire(meta_table_t *t, meta_t *m, uint64_t expire_ms);
/* One step of SCAN, Redis's reverse-binary cursor over the buckets: calls fn on every object of
 * the bucket `cursor` names and returns the next cursor (0 when the walk is over). Every object
 * in the table from the first call to the last is visited at least once, however the table grows
 * between calls (some may be visited twice); fn must not change the table. */
size_t meta_scan(meta_table_t *t, size_t cursor, void (*fn)(void *arg, meta_t *m), void *arg);
uint64_t meta_hash(const char *key, size_t keylen);
/* Bytes a chunk counts against its node (body, entry and key, as the node accounts it). */
uint64_t meta_chunk_cost(size_t chunk_size, size_t keylen);
/* CLOCK: sweeps the ring from the hand, clearing reference bits, and returns the first
 * unreferenced object (still in the table), or NULL if there is none. */
meta_t *meta_clock_victim(meta_table_t *t);
/* The same sweep over the objects with a chunk on `node` only (the others are passed over, their
 * reference bits kept): to free memory on one node that refused a chunk. */
meta_t *meta_clock_victim_on(meta_table_t *t, uint16_t node);
/* The expiry sweep: walks the ring from where it stopped, at most *budget slots (each slot
 * visited is taken off *budget), and returns the first object whose expire_ms is at or before
 * now_ms (still in the table: the caller removes it), or NULL when the budget is spent. Over
 * repeated calls every object is visited, so an expired key that is never read again is still
 * found. */
meta_t *meta_expired_next(meta_table_t *t, uint64_t now_ms, size_t *budget);
/* Hot repair's rule (icproxy --repair hot, icsim --repair-policy hot): the object was read or
 * written within window_ms of now_s (both on the clock atime_s is kept in). */
int meta_used_within(const meta_t *m, uint64_t now_s, uint64_t window_ms);
/* Counts (or uncounts) n chunks of chunk_size on the rooms of `nodes`. */
void meta_rooms_charge(meta_room_fn room, void *arg, const uint16_t *nodes, int n,
                       size_t chunk_size, size_t keylen);
void meta_rooms_release(meta_room_fn room, void *arg, const uint16_t *nodes, int n,
                        size_t chunk_size, size_t keylen);
/* Picks n distinct nodes of 0..nnodes-1 with room for a chunk each, evicting CLOCK victims through
 * evict() while needed, and charges the rooms. 0; -E2BIG if even an empty pool cannot hold it
 * (fewer than n nodes could take such a chunk), without evicting anything; -ENOSPC if nothing
 * evictable is left (in-flight stores hold the rest). */
int meta_place_rooms(meta_table_t *t, int nnodes, meta_room_fn room, meta_evict_fn evict, void *arg,
                     const char *key, size_t keylen, int n, size_t chunk_size, uint16_t *nodes_out);

#endif
