/* test_ec_big.c -- one RS(2+1) object whose chunks are just over 2 GiB, past ISA-L's int lengths,
 * encoded, checksummed and rebuilt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>
#include <isa-l/crc.h>

#include "ec.h"

#define REGION 4096 /* bytes of data in each of the places checked */
/* Just past 2^31, and not a whole number of the 1 GiB slices ec.c cuts chunks into. */
#define BIG_CHUNK (((size_t)2 << 30) + 2 * REGION)

/* The chunks are anonymous mappings, zeros except in the regions below, each of which straddles a
 * place where a size that went through an int would go wrong. */
static const size_t region_start[] = {
    0, ((size_t)1 << 30) - REGION / 2, /* the first slice boundary */
    ((size_t)2 << 30) - REGION / 2,    /* 2^31: INT_MAX + 1 */
    BIG_CHUNK - REGION,                /* the tail slice */
};
#define NREGIONS (sizeof region_start / sizeof region_start[0])

/* GF(2^8) as in test_ec.c (polynomial 0x11d), for RS(2+1)'s one parity row: 1/(2^j). */
static uint8_t ref_mul(uint8_t a, uint8_t b)
{
    uint8_t r = 0;
    while (b) {
        if (b & 1) r ^= a;
        b >>= 1;
        a = (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1d : 0));
    }
    return r;
}

static uint8_t ref_inv(uint8_t a)
{
    for (int x = 1; x < 256; x++)
        if (ref_mul(a, (uint8_t)x) == 1) return (uint8_t)x;
    return 0;
}

static uint8_t pattern_byte(int chunk, size_t off)
{
    return (uint8_t)((off * 2654435761u) >> 13 ^ (size_t)chunk * 77 ^ 1);
}

/* CRC-32C of the whole chunk in 64 MiB pieces straight through ISA-L: a different cut from
 * ec.c's (test_ec checks the chaining itself against a bitwise CRC on small buffers). */
static uint32_t crc_in_pieces(const uint8_t *p, size_t n)
{
    const size_t piece = (size_t)64 << 20;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t off = 0; off < n; off += piece)
        crc = crc32_iscsi((unsigned char *)p + off, (int)(n - off < piece ? n - off : piece), crc);
    return crc ^ 0xFFFFFFFFu;
}

static uint8_t *map_chunk(void)
{
    void *m = mmap(NULL, BIG_CHUNK, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return NULL;
    /* This kernel backs even read faults with real pages, so all three chunks cost their full
     * size; huge pages make that a thousand faults per chunk instead of half a million. */
    madvise(m, BIG_CHUNK, MADV_HUGEPAGE);
    return m;
}

static void test_chunk_over_2gib(void **state)
{
    (void)state;
    uint8_t *chunk[3];
    for (int i = 0; i < 3; i++) {
        chunk[i] = map_chunk();
        if (!chunk[i]) {
            for (int j = 0; j < i; j++)
                munmap(chunk[j], BIG_CHUNK);
            skip(); /* no address space for 3 x 2 GiB: nothing to say about the coder */
        }
    }
    for (int c = 0; c < 2; c++)
        for (size_t r = 0; r < NREGIONS; r++)
            for (size_t b = region_start[r]; b < region_start[r] + REGION; b++)
                chunk[c][b] = pattern_byte(c, b);

    assert_int_equal(ec_encode(2, 1, BIG_CHUNK, chunk, chunk + 2), 0);
    uint8_t coef0 = ref_inv(2), coef1 = ref_inv(3);
    for (size_t r = 0; r < NREGIONS; r++)
        for (size_t b = region_start[r]; b < region_start[r] + REGION; b++) {
            uint8_t want = ref_mul(coef0, chunk[0][b]) ^ ref_mul(coef1, chunk[1][b]);
            if (chunk[2][b] != want)
                fail_msg("parity byte %zu is %u, not %u", b, chunk[2][b], want);
        }
    /* Between the regions the data is zero, and so is its parity. */
    assert_int_equal(chunk[2][(size_t)3 << 29], 0);
    assert_int_equal(chunk[2][BIG_CHUNK - REGION - 1], 0);

    assert_int_equal(ec_crc(chunk[1], BIG_CHUNK), crc_in_pieces(chunk[1], BIG_CHUNK));

    /* Lose data chunk 1: dropping its pages makes it read as zeros again, then rebuild it in
     * place from chunk 0 and the parity. */
    assert_int_equal(madvise(chunk[1], BIG_CHUNK, MADV_DONTNEED), 0);
    assert_int_equal(chunk[1][region_start[NREGIONS - 1]], 0);
    int have_idx[2] = {0, 2}, want_idx[1] = {1};
    uint8_t *have[2] = {chunk[0], chunk[2]}, *want[1] = {chunk[1]};
    assert_int_equal(ec_decode(2, 1, BIG_CHUNK, have_idx, have, 1, want_idx, want), 0);
    for (size_t r = 0; r < NREGIONS; r++)
        for (size_t b = region_start[r]; b < region_start[r] + REGION; b++)
            if (chunk[1][b] != pattern_byte(1, b)) fail_msg("rebuilt byte %zu differs", b);
    assert_int_equal(chunk[1][(size_t)3 << 29], 0);

    for (int i = 0; i < 3; i++)
        munmap(chunk[i], BIG_CHUNK);
}

static void test_chunk_size_of_big_objects(void **state)
{
    (void)state;
    /* The proxy's largest object, 64 GiB, over RS(10+2) and over one chunk. */
    assert_int_equal(ec_chunk_size((uint64_t)64 << 30, 10), 6871947712u);
    assert_int_equal(ec_chunk_size((uint64_t)64 << 30, 1), (uint64_t)64 << 30);
    assert_int_equal(ec_chunk_size(((uint64_t)4 << 30) + 1, 2), ((uint64_t)2 << 30) + EC_ALIGN);
    /* No intermediate sum wraps, even for sizes nobody will store. */
    assert_int_equal(ec_chunk_size(UINT64_MAX - 5, 32), (uint64_t)1 << 59);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_size_of_big_objects),
        cmocka_unit_test(test_chunk_over_2gib),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
