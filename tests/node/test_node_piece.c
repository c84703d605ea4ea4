/* test_node_piece.c -- the CRCs around a piece of a chunk (src/node/piece.c, CGETR): with them
 * and the piece, the reader gets the chunk's own CRC back, for pieces anywhere, on chunks below
 * and above a segment, through the cache and after an entry's memory is reused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crc32c.h"
#include "ec.h"
#include "piece.h"

static store_entry_t *entry_of(size_t len, uint64_t seq, unsigned seed)
{
    store_entry_t *e = calloc(1, sizeof *e);
    assert_non_null(e);
    e->body = malloc(len ? len : 1);
    assert_non_null(e->body);
    e->body_len = len;
    e->commit_seq = seq;
    for (size_t i = 0; i < len; i++)
        e->body[i] = (char)(i * 131 + seed + (i >> 11));
    e->crc = ec_crc(e->body, len);
    return e;
}

static void entry_free(store_entry_t *e)
{
    free(e->body);
    free(e);
}

/* What the proxy checks: head + piece + tail gives the chunk's CRC. */
static void check_piece(const store_entry_t *e, uint64_t off, uint64_t len)
{
    uint32_t head, tail;
    assert_int_equal(piece_crcs(e, off, len, &head, &tail), 0);
    uint32_t crc = ec_crc_combine(head, ec_crc(e->body + off, (size_t)len), len);
    crc = ec_crc_combine(crc, tail, e->body_len - off - len);
    if (crc != e->crc)
        fail_msg("piece [%llu, +%llu) of %zu: %08x != %08x", (unsigned long long)off,
                 (unsigned long long)len, e->body_len, crc, e->crc);
}

/* The node's CRC-32C (CPU instructions or its table) is ISA-L's, at every length and alignment. */
static void test_crc32c_matches_isal(void **state)
{
    (void)state;
    size_t n = (1 << 20) + 13;
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 2654435761u >> 13);
    assert_int_equal(crc32c("123456789", 9), 0xE3069283u); /* the CRC-32C check value */
    for (int table = 0; table <= 1; table++) {
        crc32c_force_table(table);
        for (size_t len = 0; len < 80; len++)
            for (size_t off = 0; off < 9; off++)
                assert_int_equal(crc32c(buf + off, len), ec_crc(buf + off, len));
        assert_int_equal(crc32c(buf + 3, n - 3), ec_crc(buf + 3, n - 3));
    }
    crc32c_force_table(0);
    free(buf);
}

static void test_pieces_check_against_the_chunk(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 4096, 262144, 262145, (3 << 20) + 77};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        store_entry_t *e = entry_of(n, s + 1, (unsigned)s);
        uint64_t offs[] = {0, 1, 262143, 262144, 262145, n / 2, n ? n - 1 : 0, n};
        for (size_t a = 0; a < sizeof offs / sizeof offs[0]; a++)
            for (size_t b = a; b < sizeof offs / sizeof offs[0]; b++) {
                if (offs[a] > n || offs[b] > n || offs[b] < offs[a]) continue;
                check_piece(e, offs[a], offs[b] - offs[a]);
            }
        entry_free(e);
    }
}

static void test_corrupt_piece_is_seen(void **state)
{
    (void)state;
    store_entry_t *e = entry_of(1 << 20, 100, 3);
    uint32_t head, tail;
    assert_int_equal(piece_crcs(e, 300000, 4096, &head, &tail), 0);
    e->body[302000] ^= 0x10; /* after the CRCs were cached: only the piece's own CRC sees it */
    uint32_t crc = ec_crc_combine(head, ec_crc(e->body + 300000, 4096), 4096);
    crc = ec_crc_combine(crc, tail, e->body_len - 300000 - 4096);
    assert_true(crc != e->crc);
    entry_free(e);
}

static void test_reused_entry_is_not_taken_for_the_old(void **state)
{
    (void)state;
    /* The same entry memory committed again (a new commit_seq) with other bytes. */
    store_entry_t *e = entry_of(700000, 200, 1);
    check_piece(e, 1000, 5000);
    for (size_t i = 0; i < e->body_len; i++)
        e->body[i] = (char)(i * 7 + 9);
    e->crc = ec_crc(e->body, e->body_len);
    e->commit_seq = 201;
    check_piece(e, 1000, 5000);
    check_piece(e, 600000, 100000);
    entry_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_matches_isal),
        cmocka_unit_test(test_pieces_check_against_the_chunk),
        cmocka_unit_test(test_corrupt_piece_is_seen),
        cmocka_unit_test(test_reused_entry_is_not_taken_for_the_old),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
