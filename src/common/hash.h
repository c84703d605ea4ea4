/* hash.h -- FNV-1a, 64-bit: the one string hash of the project (placement, hash tables, the
 * client's ring, trace keys, seeds). Callers that need better low-bit spread mix the result. */
#ifndef IC_HASH_H
#define IC_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t hash_fnv1a64(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

#endif
