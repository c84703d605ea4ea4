/* piece.h -- ranged chunk reads (CGETR): the CRC-32C of a stored chunk's bytes before and after a
 * piece of it, so the reader can check the piece against the chunk's own CRC without the rest. */
#ifndef NODE_PIECE_H
#define NODE_PIECE_H

#include <stdint.h>

#include "store.h"

/* The CRC-32C of e's body before offset and from offset + length to its end (the caller checked
 * that the piece lies inside the body). The CRCs of the body's 256 KiB segments are computed on
 * the first ranged read of an entry and kept in a small cache (PIECE_CACHE_SLOTS entries, about
 * 16 KiB for a 1 GiB chunk), so a piece costs the CRC of at most two partial segments. 0, or
 * -ENOMEM (the CRCs are then computed from the bytes, slower but right). */
int piece_crcs(const store_entry_t *e, uint64_t offset, uint64_t length, uint32_t *head,
               uint32_t *tail);

#endif
