/* meta.c -- the proxy's side of object metadata: expiry on lookup and by a background sweep,
 * dropping an object deletes its chunks on their nodes; the table, CLOCK and placement
 * themselves are in metatab.c. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "proxy.h"


meta_t *meta_lookup(server_t *srv, const char *key, size_t keylen)
{
    meta_t *m = meta_find(&srv->meta, key, keylen);
    if (m && m->expire_ms && m->expire_ms <= clock_wall_ms()) {
        srv->meta.expired++;
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
        meta_drop(srv, m);
    }
    if (!srv->stopping) ev_timer_add(loop, EXPIRE_SWEEP_MS, expire_sweep, srv);
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

void meta_drop(server_t *srv, meta_t *m)
{
    int n = m->d + m->p;
    uint16_t *nodes = meta_nodes(m);
    for (int i = 0; i < n; i++)
        node_delete_chunk(&srv->nodes[nodes[i]], meta_key(m), m->keylen, i, m->version);
    meta_release_placement(srv, nodes, n, m->chunk_size, m->keylen);
    meta_remove(&srv->meta, m);
    free(m);
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
