/* test_layout.c -- the object layout (src/model/layout.c): d for an object's size, and the
 * rotation in which a GET asks a replicated object's replicas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "layout.h"

static void test_data_chunks(void **state)
{
    (void)state;
    assert_int_equal(layout_data_chunks(0, 65536, 10), 1);
    assert_int_equal(layout_data_chunks(65536, 65536, 10), 1); /* at the limit: replicated */
    assert_int_equal(layout_data_chunks(65537, 65536, 10), 10);
    assert_int_equal(layout_data_chunks(1, 0, 4), 4); /* small-object-max 0: every object coded */
    assert_int_equal(layout_data_chunks(0, 0, 4), 1); /* except the empty one */
    assert_int_equal(layout_data_chunks(UINT64_MAX, UINT64_MAX, 4), 1);
}

static void test_read_rotation(void **state)
{
    (void)state;
    /* Every replica once, starting at version % n. */
    for (uint64_t version = 0; version < 20; version++) {
        int seen = 0;
        for (int k = 0; k < 3; k++) {
            int i = layout_read_slot(version, 3, k);
            assert_true(i >= 0 && i < 3);
            seen |= 1 << i;
            if (k == 0) assert_int_equal(i, (int)(version % 3));
        }
        assert_int_equal(seen, 7);
    }
    assert_int_equal(layout_read_slot(7, 1, 0), 0);
}

/* Redis 7's answers for GETRANGE on "Hello World" (11 bytes). */
static void test_range_clamp(void **state)
{
    (void)state;
    uint64_t first;
    assert_int_equal(layout_range_clamp(0, 3, 11, &first), 4);
    assert_int_equal(first, 0);
    assert_int_equal(layout_range_clamp(-3, -1, 11, &first), 3);
    assert_int_equal(first, 8);
    assert_int_equal(layout_range_clamp(0, -1, 11, &first), 11);
    assert_int_equal(layout_range_clamp(10, 100, 11, &first), 1);
    assert_int_equal(first, 10);
    assert_int_equal(layout_range_clamp(-100, 2, 11, &first), 3);
    assert_int_equal(first, 0);
    assert_int_equal(layout_range_clamp(5, 3, 11, &first), 0);    /* start > end */
    assert_int_equal(layout_range_clamp(11, 20, 11, &first), 0);  /* past the end */
    assert_int_equal(layout_range_clamp(-1, -5, 11, &first), 0);  /* both negative, reversed */
    assert_int_equal(layout_range_clamp(0, -100, 11, &first), 1); /* end clamps to 0: "H" */
    assert_int_equal(layout_range_clamp(0, 0, 0, &first), 0);     /* empty value */
    assert_int_equal(layout_range_clamp(INT64_MIN, INT64_MAX, 5, &first), 5);
    assert_int_equal(first, 0);
}

static void test_range_pieces(void **state)
{
    (void)state;
    layout_piece_t p[10];
    /* Inside one chunk. */
    assert_int_equal(layout_range_pieces(1000, 100, 4096, 10, p), 1);
    assert_int_equal(p[0].index, 0);
    assert_int_equal(p[0].chunk_off, 1000);
    assert_int_equal(p[0].len, 100);
    assert_int_equal(p[0].value_off, 1000);
    /* Across a boundary. */
    assert_int_equal(layout_range_pieces(4090, 10, 4096, 10, p), 2);
    assert_int_equal(p[0].index, 0);
    assert_int_equal(p[0].chunk_off, 4090);
    assert_int_equal(p[0].len, 6);
    assert_int_equal(p[1].index, 1);
    assert_int_equal(p[1].chunk_off, 0);
    assert_int_equal(p[1].len, 4);
    assert_int_equal(p[1].value_off, 4096);
    /* Whole chunks in the middle, and the last chunk. */
    assert_int_equal(layout_range_pieces(4096, 3 * 4096 + 1, 4096, 10, p), 4);
    assert_int_equal(p[2].index, 3);
    assert_int_equal(p[2].len, 4096);
    assert_int_equal(p[3].index, 4);
    assert_int_equal(p[3].len, 1);
    assert_int_equal(layout_range_pieces(9 * 4096 + 5, 100, 4096, 10, p), 1);
    assert_int_equal(p[0].index, 9);
    /* Clamped to the stored chunks; nothing past them, nothing for nothing. */
    assert_int_equal(layout_range_pieces(10 * 4096 - 1, 100, 4096, 10, p), 1);
    assert_int_equal(p[0].len, 1);
    assert_int_equal(layout_range_pieces(10 * 4096, 1, 4096, 10, p), 0);
    assert_int_equal(layout_range_pieces(0, 0, 4096, 10, p), 0);
    assert_int_equal(layout_range_pieces(0, 1, 0, 10, p), 0);
    /* The whole value: every chunk once, the pieces adjacent. */
    assert_int_equal(layout_range_pieces(0, 10 * 4096, 4096, 10, p), 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(p[i].index, i);
        assert_int_equal(p[i].chunk_off, 0);
        assert_int_equal(p[i].value_off, (uint64_t)i * 4096);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_chunks),
        cmocka_unit_test(test_read_rotation),
        cmocka_unit_test(test_range_clamp),
        cmocka_unit_test(test_range_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
