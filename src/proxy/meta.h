/* meta.h -- the server's object table bound to its nodes: lookups with expiry, drops that delete
 * chunks, placement with eviction (meta.c over the pure table in metatab.h). */
#ifndef IC_PROXY_META_H
#define IC_PROXY_META_H

#include <stddef.h>
#include <stdint.h>

#include "metatab.h"

typedef struct server server_t;

/* ---- object metadata (the table, CLOCK and placement: metatab.h) ---- */
meta_t *meta_lookup(server_t *srv, const char *key, size_t keylen); /* drops expired ones */
/* Removes the object and deletes its chunks on their nodes. */
void meta_drop(server_t *srv, meta_t *m);
/* The same for a client's delete (FLUSHALL): the nodes keep tombstones of the key. */
void meta_delete(server_t *srv, meta_t *m);
/* Removes the object (and its placement charge) only: the caller has deleted its chunks. */
void meta_forget(server_t *srv, meta_t *m);
/* A read of the object: it earns its CLOCK second chance and its idle time restarts. */
void meta_touch(meta_t *m);
void meta_start_expiry(server_t *srv); /* the background sweep for expired objects (meta.c) */
/* Picks n distinct nodes with room for chunk_size bytes each, evicting objects (CLOCK) while
 * needed. Returns 0, -E2BIG if even an empty pool cannot hold it, or -ENOSPC. */
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

#endif
