/* fuzz_globmatch.c -- libFuzzer driver for the glob matcher: any pattern and key (split at the
 * first 0xfe byte) are matched within bounds, and a key escaped byte by byte is a pattern that
 * matches exactly that key. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "globmatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = memchr(data, 0xfe, size);
    size_t plen = sep ? (size_t)(sep - data) : size;
    const char *key = sep ? (const char *)sep + 1 : "";
    size_t klen = sep ? size - plen - 1 : 0;
    /* Exact copies of the inputs, so ASan sees any read past either end. */
    char *p = malloc(plen ? plen : 1), *k = malloc(klen ? klen : 1), *e = malloc(2 * klen + 1);
    if (!p || !k || !e) abort();
    memcpy(p, data, plen);
    memcpy(k, key, klen);
    (void)globmatch(p, plen, k, klen);
    for (size_t i = 0; i < klen; i++)
        e[2 * i] = '\\', e[2 * i + 1] = k[i];
    if (klen && !globmatch(e, 2 * klen, k, klen)) __builtin_trap();
    if (klen && globmatch(e, 2 * klen, k, klen - 1)) __builtin_trap();
    free(p);
    free(k);
    free(e);
    return 0;
}
