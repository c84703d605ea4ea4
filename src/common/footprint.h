/* footprint.h -- the one memory-accounting formula for a stored chunk, shared by the node's store
 * limit and the proxy's (and the simulator's) capacity bookkeeping, so both ends agree. */
#ifndef COMMON_FOOTPRINT_H
#define COMMON_FOOTPRINT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes counted for each stored chunk on top of its key and body: the node's entry struct, its
 * hash slot and two allocator headers, rounded up so the count never undercounts the real
 * footprint (src/node/store.c checks the struct against it at compile time). A tombstone counts
 * as a chunk with an empty body. */
#define CHUNK_FOOTPRINT_OVERHEAD 128

/* Bytes a chunk of this key and body length counts against a node's memory limit. */
static inline uint64_t chunk_footprint(size_t key_len, size_t body_len)
{
    return (uint64_t)body_len + (uint64_t)key_len + CHUNK_FOOTPRINT_OVERHEAD;
}

#endif
