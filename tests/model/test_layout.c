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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_chunks),
        cmocka_unit_test(test_read_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
