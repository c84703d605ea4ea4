/* inventory.h -- the list of chunks a node holds, as a text blob: what INVENTORY answers (to the
 * proxy, which reconciles or rebuilds its metadata, and to a backup source, which diffs).
 *
 * One line per chunk, decimal numbers, the key binary-safe behind its length:
 *   <index> <version> <crc> <chunk_len> <size> <d> <p> <expire_ms> <keylen>:<key>\n
 * and one per tombstone (every version of the key up to <version> was deleted; kept on the node
 * until <expire_ms>, wall clock):
 *   T <version> <expire_ms> <keylen>:<key>\n */
#ifndef IC_INVENTORY_H
#define IC_INVENTORY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define INV_MAX_KEY (64 * 1024)

typedef struct {
    const char *key; /* points into the parsed blob */
    size_t keylen;
    uint32_t index;
    uint64_t version;
    uint32_t crc;
    uint64_t chunk_len;
    uint64_t size; /* the whole object's */
    uint32_t d, p;
    uint64_t expire_ms; /* wall clock, 0 = never (a tombstone's: when the node drops it) */
    int tomb;           /* a tombstone: only key, version and expire_ms are set (the rest 0) */
} inv_entry_t;

/* Appends one line. 0 or -ENOMEM. */
int inv_append(buf_t *b, const inv_entry_t *e);

/* Parses the entry at data[*pos..len) and advances *pos past it. Returns 1 for an entry (a chunk,
 * or a tombstone with e->tomb set), 0 at the end of the data, or -EINVAL for a malformed line
 * (never reads past len). Checks, for a chunk, 1 <= d, d + p <= EC_MAX_CHUNKS, index < d + p;
 * for both, keylen <= INV_MAX_KEY and numbers within their types. */
int inv_next(const char *data, size_t len, size_t *pos, inv_entry_t *e);

#endif
