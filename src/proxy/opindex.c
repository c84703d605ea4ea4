/* opindex.c -- chained hash of in-flight ops by (key, version) (see opindex.h). */
#include "opindex.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "op.h"

void opindex_init(opindex_t *x)
{
    memset(x, 0, sizeof *x);
}

void opindex_free(opindex_t *x)
{
    free(x->buckets);
    opindex_init(x);
}

/* By key alone: the versions of one key in flight at once are few, and opindex_find_key finds
 * any of them in the key's bucket. */
static uint64_t op_hash(const char *key, size_t keylen)
{
    return hash_fnv1a64(key, keylen);
}

/* Doubles the table once it holds as many ops as buckets; a failed grow keeps longer chains. */
static int grow(opindex_t *x)
{
    size_t n = x->nbuckets ? x->nbuckets * 2 : 256;
    op_t **b = calloc(n, sizeof *b);
    if (!b) return x->nbuckets ? 0 : -1;
    for (size_t i = 0; i < x->nbuckets; i++) {
        op_t *op = x->buckets[i];
        while (op) {
            op_t *next = op->idx_next;
            op->idx_next = b[op->idx_hash & (n - 1)];
            b[op->idx_hash & (n - 1)] = op;
            op = next;
        }
    }
    free(x->buckets);
    x->buckets = b;
    x->nbuckets = n;
    return 0;
}

int opindex_add(opindex_t *x, op_t *op)
{
    if (x->count >= x->nbuckets && grow(x) < 0) return -1;
    op->idx_hash = op_hash(op->key, op->keylen);
    op_t **head = &x->buckets[op->idx_hash & (x->nbuckets - 1)];
    op->idx_next = *head;
    *head = op;
    op->indexed = x;
    x->count++;
    return 0;
}

op_t *opindex_find(const opindex_t *x, const char *key, size_t keylen, uint64_t version)
{
    if (!x->nbuckets) return NULL;
    uint64_t h = op_hash(key, keylen);
    for (op_t *op = x->buckets[h & (x->nbuckets - 1)]; op; op = op->idx_next)
        if (op->idx_hash == h && op->version == version && op->keylen == keylen &&
            memcmp(op->key, key, keylen) == 0)
            return op;
    return NULL;
}

op_t *opindex_find_key(const opindex_t *x, const char *key, size_t keylen)
{
    if (!x->nbuckets) return NULL;
    uint64_t h = op_hash(key, keylen);
    for (op_t *op = x->buckets[h & (x->nbuckets - 1)]; op; op = op->idx_next)
        if (op->idx_hash == h && op->keylen == keylen && memcmp(op->key, key, keylen) == 0)
            return op;
    return NULL;
}

void opindex_remove(opindex_t *x, op_t *op)
{
    if (op->indexed != x) return;
    for (op_t **pp = &x->buckets[op->idx_hash & (x->nbuckets - 1)]; *pp; pp = &(*pp)->idx_next) {
        if (*pp != op) continue;
        *pp = op->idx_next;
        op->idx_next = NULL;
        op->indexed = NULL;
        x->count--;
        return;
    }
}
