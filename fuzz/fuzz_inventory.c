/* fuzz_inventory.c -- libFuzzer driver for the inventory parser: arbitrary bytes are walked
 * line by line; every entry it accepts (chunk or tombstone) must lie inside the line it consumed,
 * meet the documented rules, and survive a round trip through inv_append(). */
#include <stdint.h>
#include <string.h>

#include "ec.h"
#include "inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const inv_entry_t *a, const inv_entry_t *b)
{
    return a->tomb == b->tomb && a->keylen == b->keylen && memcmp(a->key, b->key, a->keylen) == 0 &&
           a->index == b->index && a->version == b->version && a->crc == b->crc &&
           a->chunk_len == b->chunk_len && a->size == b->size && a->d == b->d && a->p == b->p &&
           a->expire_ms == b->expire_ms;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    buf_t out;
    buf_init(&out);
    size_t pos = 0;
    for (;;) {
        size_t before = pos;
        inv_entry_t e;
        int rc = inv_next(in, size, &pos, &e);
        if (rc == 0 && before != size) __builtin_trap(); /* 0 only at the end of the data */
        if (rc <= 0) {
            if (pos != before) __builtin_trap(); /* nothing consumed on the end or an error */
            break;
        }
        if (pos <= before || pos > size) __builtin_trap();
        if (e.key < in + before || e.key + e.keylen + 1 != in + pos) __builtin_trap();
        if (e.tomb ? (e.d || e.p || e.index || e.crc || e.chunk_len || e.size)
                   : (e.d < 1 || (uint64_t)e.d + e.p > EC_MAX_CHUNKS || e.index >= e.d + e.p))
            __builtin_trap();
        if (e.keylen > INV_MAX_KEY) __builtin_trap();
        buf_clear(&out);
        if (inv_append(&out, &e) < 0) break;
        size_t p2 = 0;
        inv_entry_t f;
        if (inv_next(buf_head(&out), buf_len(&out), &p2, &f) != 1 || p2 != buf_len(&out) ||
            !same(&e, &f))
            __builtin_trap();
    }
    buf_free(&out);
    return 0;
}
