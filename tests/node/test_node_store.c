/* test_node_store.c -- chunk store: limits, NOMEM, versions side by side, delete, accounting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store.h"

static store_entry_t *put(store_t *s, const char *key, uint32_t idx, uint64_t ver, size_t len,
                          char fill)
{
    store_entry_t *e = NULL;
    if (store_reserve(s, key, strlen(key), idx, ver, len, &e) < 0) return NULL;
    memset(e->body, fill, len);
    store_commit(s, e, (uint32_t)(ver * 7));
    return e;
}

static void test_put_get_delete(void **state)
{
    store_t s;
    store_init(&s, 1 << 20);
    assert_non_null(put(&s, "k", 0, 1, 1000, 'a'));
    store_entry_t *e = store_get(&s, "k", 1, 0, 1);
    assert_non_null(e);
    assert_int_equal(e->body_len, 1000);
    assert_int_equal(e->crc, 7);
    assert_int_equal((unsigned char)e->body[999], 'a');
    assert_null(store_get(&s, "k", 1, 1, 1));  /* other index */
    assert_null(store_get(&s, "k", 1, 0, 2));  /* other version */
    assert_null(store_get(&s, "kk", 2, 0, 1)); /* other key */
    assert_int_equal(s.count, 1);
    assert_int_equal(s.used, store_entry_cost(1, 1000));
    assert_int_equal(store_del(&s, "k", 1, 0, 1), 1);
    assert_int_equal(store_del(&s, "k", 1, 0, 1), 0);
    assert_null(store_get(&s, "k", 1, 0, 1));
    assert_int_equal(s.used, 0);
    assert_int_equal(s.count, 0);
    store_free(&s);
}

static void test_versions_side_by_side(void **state)
{
    store_t s;
    store_init(&s, 1 << 20);
    put(&s, "obj", 3, 10, 100, 'o');
    put(&s, "obj", 3, 11, 200, 'n');
    assert_int_equal(s.count, 2);
    assert_int_equal(store_get(&s, "obj", 3, 3, 10)->body[0], 'o');
    assert_int_equal(store_get(&s, "obj", 3, 3, 11)->body[0], 'n');
    assert_int_equal(store_del(&s, "obj", 3, 3, 10), 1);
    assert_non_null(store_get(&s, "obj", 3, 3, 11));
    /* Same triple again replaces, and the accounting follows. */
    put(&s, "obj", 3, 11, 50, 'r');
    assert_int_equal(s.count, 1);
    assert_int_equal(s.used, store_entry_cost(3, 50));
    assert_int_equal(store_get(&s, "obj", 3, 3, 11)->body_len, 50);
    store_free(&s);
}

static void test_limit_and_nomem(void **state)
{
    store_t s;
    size_t one = store_entry_cost(1, 1000);
    store_init(&s, 3 * one);
    assert_non_null(put(&s, "a", 0, 1, 1000, 'x'));
    assert_non_null(put(&s, "b", 0, 1, 1000, 'x'));
    assert_non_null(put(&s, "c", 0, 1, 1000, 'x'));
    assert_int_equal(s.used, s.limit);
    store_entry_t *e = NULL;
    assert_int_equal(store_reserve(&s, "d", 1, 0, 1, 1, &e), -ENOSPC);
    assert_int_equal(s.used, 3 * one);
    assert_int_equal(store_del(&s, "b", 1, 0, 1), 1);
    assert_int_equal(store_reserve(&s, "d", 1, 0, 1, 1001, &e), -ENOSPC); /* one byte too many */
    assert_int_equal(store_reserve(&s, "d", 1, 0, 1, 1000, &e), 0);
    assert_int_equal(s.used, 3 * one); /* pending entries count at once */
    store_abort(&s, e);
    assert_int_equal(s.used, 2 * one);
    /* A body bigger than the whole limit, and sizes that would overflow. */
    assert_int_equal(store_reserve(&s, "z", 1, 0, 1, 1u << 30, &e), -ENOSPC);
    assert_int_equal(store_reserve(&s, "z", 1, 0, 1, SIZE_MAX - 10, &e), -ENOSPC);
    store_del(&s, "a", 1, 0, 1);
    store_del(&s, "c", 1, 0, 1);
    assert_int_equal(s.used, 0);
    store_free(&s);
}

static void test_refs_outlive_delete(void **state)
{
    store_t s;
    store_init(&s, 1 << 20);
    store_entry_t *e = put(&s, "k", 0, 1, 10, 'q');
    store_ref(e); /* as a queued CGET reply does */
    assert_int_equal(store_del(&s, "k", 1, 0, 1), 1);
    assert_null(store_get(&s, "k", 1, 0, 1));
    assert_int_equal(s.used, store_entry_cost(1, 10)); /* still in memory */
    assert_int_equal(e->body[9], 'q');
    store_unref(&s, e);
    assert_int_equal(s.used, 0);
    store_free(&s);
}

static void test_many_entries_and_zero_bytes(void **state)
{
    store_t s;
    store_init(&s, 64 << 20);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        assert_non_null(put(&s, key, (uint32_t)(i % 12), (uint64_t)i, (size_t)(i % 3), 'z'));
    }
    assert_int_equal(s.count, 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        store_entry_t *e = store_get(&s, key, strlen(key), (uint32_t)(i % 12), (uint64_t)i);
        assert_non_null(e);
        assert_int_equal(e->body_len, (size_t)(i % 3));
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        assert_int_equal(store_del(&s, key, strlen(key), (uint32_t)(i % 12), (uint64_t)i), 1);
    }
    assert_int_equal(s.used, 0);
    assert_int_equal(s.count, 0);
    store_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_delete),
        cmocka_unit_test(test_versions_side_by_side),
        cmocka_unit_test(test_limit_and_nomem),
        cmocka_unit_test(test_refs_outlive_delete),
        cmocka_unit_test(test_many_entries_and_zero_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
