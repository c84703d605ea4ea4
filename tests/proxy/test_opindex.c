/* test_opindex.c -- the index of in-flight ops by (key, version): find, versions and keys kept
 * apart, removal from the middle of a chain, growth with many ops, removal of an op not indexed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "op.h"
#include "opindex.h"


static op_t *mkop(const char *key, uint64_t version)
{
    op_t *op = calloc(1, sizeof *op);
    op->key = strdup(key);
    op->keylen = strlen(key);
    op->version = version;
    return op;
}

static void freeop(op_t *op)
{
    free(op->key);
    free(op);
}

static void test_find_and_remove(void **state)
{
    opindex_t x;
    opindex_init(&x);
    assert_null(opindex_find(&x, "k", 1, 1)); /* empty table */
    op_t *a = mkop("k", 1), *b = mkop("k", 2), *c = mkop("kk", 1);
    assert_int_equal(opindex_add(&x, a), 0);
    assert_int_equal(opindex_add(&x, b), 0);
    assert_int_equal(opindex_add(&x, c), 0);
    assert_int_equal(x.count, 3);
    assert_ptr_equal(opindex_find(&x, "k", 1, 1), a);
    assert_ptr_equal(opindex_find(&x, "k", 1, 2), b);
    assert_ptr_equal(opindex_find(&x, "kk", 2, 1), c);
    assert_null(opindex_find(&x, "k", 1, 3));
    assert_null(opindex_find(&x, "x", 1, 1));
    opindex_remove(&x, b);
    assert_null(opindex_find(&x, "k", 1, 2));
    assert_ptr_equal(opindex_find(&x, "k", 1, 1), a);
    opindex_remove(&x, b); /* not indexed any more: nothing happens */
    assert_int_equal(x.count, 2);
    opindex_t other;
    opindex_init(&other);
    opindex_remove(&other, a); /* indexed elsewhere: untouched */
    assert_ptr_equal(opindex_find(&x, "k", 1, 1), a);
    opindex_remove(&x, a);
    opindex_remove(&x, c);
    assert_int_equal(x.count, 0);
    opindex_free(&x);
    freeop(a), freeop(b), freeop(c);
}

static void test_growth_keeps_everything(void **state)
{
    enum { N = 5000 };
    opindex_t x;
    opindex_init(&x);
    op_t **ops = calloc(N, sizeof *ops);
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%012d", i);
        ops[i] = mkop(key, (uint64_t)i % 7);
        assert_int_equal(opindex_add(&x, ops[i]), 0);
    }
    assert_true(x.nbuckets >= N);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%012d", i);
        assert_ptr_equal(opindex_find(&x, key, strlen(key), (uint64_t)i % 7), ops[i]);
    }
    for (int i = 0; i < N; i += 2)
        opindex_remove(&x, ops[i]);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%012d", i);
        op_t *want = i % 2 ? ops[i] : NULL;
        assert_ptr_equal(opindex_find(&x, key, strlen(key), (uint64_t)i % 7), want);
    }
    assert_int_equal(x.count, N / 2);
    opindex_free(&x);
    for (int i = 0; i < N; i++)
        freeop(ops[i]);
    free(ops);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_and_remove),
        cmocka_unit_test(test_growth_keeps_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
