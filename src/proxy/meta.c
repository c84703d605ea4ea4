/* meta.c -- the proxy's side of object metadata: expiry on lookup and by a background sweep,
 * dropping an object deletes its chunks on their nodes; the table, CLOCK and placement
 * themselves are in metatab.c. */
#include <inttypes.h>
#include <stdlib.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "backing.h"
#include "log.h"
#include "meta.h"
#include "nodepool.h"
#include "server.h"
#include "watch.h"


meta_t *meta_lookup(server_t *srv, const char *key, size_t keylen)
{
    meta_t *m = meta_find(&srv->meta, key, keylen);
    if (m && m->expire_ms && m->expire_ms <= clock_wall_ms()) {
        srv->meta.expired++;
        backing_expired(srv, key, keylen);
        meta_drop(srv, m);
        return NULL;
    }
    return m;
}

/* Expired objects nobody reads again are found by a sweep over the table, as Redis's active
 * expiry does, so their chunks leave the nodes without waiting for CLOCK to evict them. Each tick
 * looks at a bounded number of objects: 10 000 per second, a million-key table in 100 s. */
#define EXPIRE_SWEEP_MS 100
#define EXPIRE_SWEEP_SLOTS 1000

static void expire_sweep(ev_loop_t *loop, void *arg)
{
    server_t *srv = arg;
    size_t budget = EXPIRE_SWEEP_SLOTS;
    uint64_t now = clock_wall_ms();
    meta_t *m;
    while ((m = meta_expired_next(&srv->meta, now, &budget)) != NULL) {
        srv->meta.expired++;
        backing_expired(srv, meta_key(m), m->keylen);
        meta_drop(srv, m);
    }
    if (!srv->stopping) ev_timer_add(loop, EXPIRE_SWEEP_MS, expire_sweep, srv);
}

void meta_touch(meta_t *m)
{
    m->referenced = 1;
    m->atime_s = (uint32_t)(clock_wall_ms() / 1000);
}

void meta_start_expiry(server_t *srv)
{
    ev_timer_add(srv->loop, EXPIRE_SWEEP_MS, expire_sweep, srv);
}

/* The proxy's rooms are inside its node structs. */
static meta_room_t *node_room(void *arg, int i)
{
    server_t *srv = arg;
    return &srv->nodes[i].room;
}

void meta_charge_placement(server_t *srv, const uint16_t *nodes, int n, size_t chunk_size,
                           size_t keylen)
{
    meta_rooms_charge(node_room, srv, nodes, n, chunk_size, keylen);
}

void meta_release_placement(server_t *srv, const uint16_t *nodes, int n, size_t chunk_size,
                            size_t keylen)
{
    meta_rooms_release(node_room, srv, nodes, n, chunk_size, keylen);
}

/* Every removal comes through here (a delete, an expiry, an eviction, an overwrite's old
 * version, a lost object): a watched key has changed. */
void meta_forget(server_t *srv, meta_t *m)
{
    watch_touch(srv, meta_key(m), m->keylen);
    meta_release_placement(srv, meta_nodes(m), m->d + m->p, m->chunk_size, m->keylen);
    meta_remove(&srv->meta, m);
    free(m);
}

static void drop(server_t *srv, meta_t *m, int tomb)
{
    uint16_t *nodes = meta_nodes(m);
    for (int i = 0; i < m->d + m->p; i++)
        node_delete_chunk(&srv->nodes[nodes[i]], meta_key(m), m->keylen, i, m->version, tomb);
    meta_forget(srv, m);
}

/* Eviction, expiry and an overwrite leave no tombstone: an evicted object that comes back after
 * a restart is still the key's latest value, an expired one carries its expiry, and an overwrite's
 * newer version wins the rebuild. Only a client's delete must never be undone. */
void meta_drop(server_t *srv, meta_t *m)
{
    drop(srv, m, 0);
}

void meta_delete(server_t *srv, meta_t *m)
{
    drop(srv, m, 1);
}

/* A CLOCK victim of meta_place_rooms: its chunks are deleted on their nodes. */
static void evict_drop(void *arg, meta_t *victim)
{
    log_debug("event=evict key_len=%u size=%llu", victim->keylen,
              (unsigned long long)victim->size);
    meta_drop(arg, victim);
}

int meta_place(server_t *srv, const char *key, size_t keylen, int n, size_t chunk_size,
               uint16_t *nodes_out)
{
    return meta_place_rooms(&srv->meta, srv->nnodes, node_room, evict_drop, srv, key, keylen, n,
                            chunk_size, nodes_out);
}

/* Reads "used U of L" out of a node's -NOMEM text. 0, or -1 when the figures are not there. */
static int nomem_figures(const char *err, uint64_t *used, uint64_t *limit)
{
    const char *p = err ? strstr(err, "used ") : NULL;
    unsigned long long u, l;
    if (!p || sscanf(p, "used %llu of %llu", &u, &l) != 2) return -1;
    *used = u;
    *limit = l;
    return 0;
}

int meta_node_refused(server_t *srv, int node, const char *err, uint64_t cost)
{
    meta_room_t *r = &srv->nodes[node].room;
    uint64_t used, limit;
    /* The refused chunk is still charged here (placement charged it), so the node's real use
     * with it stored would be used + cost; the proxy's own figure may only be higher (chunks in
     * flight to the node are charged but not yet reserved there). */
    if (nomem_figures(err, &used, &limit) == 0) {
        r->mem_limit = limit;
        if (used + cost > r->mem_placed) r->mem_placed = used + cost;
    } else if (r->mem_placed <= r->mem_limit) {
        r->mem_placed = r->mem_limit + 1; /* no figures: the node is full, that much is known */
    }
    int evicted = 0;
    meta_t *victim;
    while (r->mem_placed > r->mem_limit &&
           (victim = meta_clock_victim_on(&srv->meta, (uint16_t)node)) != NULL) {
        srv->meta.evictions++;
        evict_drop(srv, victim);
        evicted++;
    }
    log_info("event=node_nomem node=%d placed=%" PRIu64 " limit=%" PRIu64 " evicted=%d", node,
             r->mem_placed, r->mem_limit, evicted);
    return r->mem_placed <= r->mem_limit ? 0 : -ENOSPC;
}
