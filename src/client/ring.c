/* ring.c -- consistent hashing of keys over proxies, 160 virtual nodes per proxy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "icc.h"

uint64_t icc_hash(const void *p, size_t n)
{
    uint64_t h = hash_fnv1a64(p, n);
    /* FNV alone clusters keys that differ only in their last bytes ("key1", "key2"). */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static int cmp_point(const void *a, const void *b)
{
    const icc_point_t *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->proxy < y->proxy ? -1 : x->proxy > y->proxy; /* deterministic on a collision */
}

int icc_ring_build(icc_ring_t *r, const char *const *names, size_t n, int vnodes)
{
    r->points = NULL;
    r->npoints = 0;
    if (n == 0 || vnodes <= 0) return IC_EINVAL;
    r->points = calloc(n * (size_t)vnodes, sizeof *r->points);
    if (!r->points) return IC_ENOMEM;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < vnodes; j++) {
            char tmp[600];
            int len = snprintf(tmp, sizeof tmp, "%s#%d", names[i], j);
            if (len < 0 || (size_t)len >= sizeof tmp) len = (int)sizeof tmp - 1;
            r->points[r->npoints++] = (icc_point_t){icc_hash(tmp, (size_t)len), (uint32_t)i};
        }
    qsort(r->points, r->npoints, sizeof *r->points, cmp_point);
    return 0;
}

size_t icc_ring_lookup(const icc_ring_t *r, const void *key, size_t keylen)
{
    uint64_t h = icc_hash(key, keylen);
    size_t lo = 0, hi = r->npoints;
    while (lo < hi) { /* first point with hash >= h */
        size_t mid = lo + (hi - lo) / 2;
        if (r->points[mid].hash < h) lo = mid + 1;
        else hi = mid;
    }
    if (lo == r->npoints) lo = 0;
    return r->points[lo].proxy;
}

void icc_ring_free(icc_ring_t *r)
{
    free(r->points);
    r->points = NULL;
    r->npoints = 0;
}
