/* opindex.h -- in-flight operations by (key, version): how a GET finds a read of the same object
 * already under way to ride on, and a SET finds a store of the same key it supersedes. */
#ifndef PROXY_OPINDEX_H
#define PROXY_OPINDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct op op_t;

/* Intrusive: an op is in at most one index, linked through its idx_next and idx_hash fields. */
typedef struct {
    op_t **buckets;
    size_t nbuckets; /* power of two, or 0 before the first insert */
    size_t count;
} opindex_t;

void opindex_init(opindex_t *x);
void opindex_free(opindex_t *x); /* the ops themselves belong to their owners */
/* Adds op under (op->key, op->version). 0, or -1 when out of memory (op is then not indexed). */
int opindex_add(opindex_t *x, op_t *op);
op_t *opindex_find(const opindex_t *x, const char *key, size_t keylen, uint64_t version);
/* Any op of the key, whatever its version (a transaction waits for stores of its keys). */
op_t *opindex_find_key(const opindex_t *x, const char *key, size_t keylen);
/* Removes op if it is in x; a no-op otherwise. */
void opindex_remove(opindex_t *x, op_t *op);

#endif
