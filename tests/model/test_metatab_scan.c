/* test_metatab_scan.c -- SCAN's cursor over the object table (meta_scan in src/model/metatab.c):
 * every object present for a whole scan is returned, while the table grows under the cursor and
 * objects come and go between calls; and the per-slot index of the cluster commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metatab.h"
#include "slot.h"

#define NKEYS 20000

typedef struct {
    uint8_t *seen; /* by key number */
} scan_state_t;

static int key_number(meta_t *m)
{
    char buf[32];
    memcpy(buf, meta_key(m), m->keylen);
    buf[m->keylen] = 0;
    return atoi(buf + 1);
}

static void on_object(void *arg, meta_t *m)
{
    scan_state_t *s = arg;
    s->seen[key_number(m)]++;
}

static meta_t *add(meta_table_t *t, int i)
{
    char key[32];
    int n = snprintf(key, sizeof key, "k%d", i);
    meta_t *m = meta_new(key, (size_t)n, 2, 1);
    assert_non_null(m);
    assert_int_equal(meta_insert(t, m), 0);
    return m;
}

static void drop(meta_table_t *t, meta_t **objs, int i)
{
    meta_remove(t, objs[i]);
    free(objs[i]);
    objs[i] = NULL;
}

static void test_full_scan_sees_each_once(void **state)
{
    (void)state;
    meta_table_t t;
    assert_int_equal(meta_table_init(&t), 0);
    for (int i = 0; i < 5000; i++)
        add(&t, i);
    scan_state_t s = {calloc(NKEYS, 1)};
    size_t cursor = 0, calls = 0;
    do {
        cursor = meta_scan(&t, cursor, on_object, &s);
        calls++;
    } while (cursor != 0);
    assert_int_equal(calls, t.nbuckets);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(s.seen[i], 1);
    free(s.seen);
    meta_table_free(&t);
}

/* Keys 0..2999 stay throughout; 3000.. are added as the scan goes (the table grows several times
 * under the cursor) and every third stable-range-external key is deleted again. */
static void test_scan_while_growing_and_deleting(void **state)
{
    (void)state;
    for (int round = 0; round < 4; round++) {
        meta_table_t t;
        assert_int_equal(meta_table_init(&t), 0);
        meta_t **objs = calloc(NKEYS, sizeof *objs);
        int next = 0;
        for (; next < 3000; next++)
            objs[next] = add(&t, next);
        /* Some keys that will be deleted mid-scan, beside the stable ones. */
        for (; next < 4000; next++)
            objs[next] = add(&t, next);
        scan_state_t s = {calloc(NKEYS, 1)};
        size_t cursor = 0, steps = 0, start_buckets = t.nbuckets;
        srand(42 + round);
        do {
            cursor = meta_scan(&t, cursor, on_object, &s);
            steps++;
            int adds = rand() % (8 + round * 8);
            for (int a = 0; a < adds && next < NKEYS; a++, next++)
                objs[next] = add(&t, next);
            int victim = 3000 + rand() % (next - 3000);
            if (objs[victim]) drop(&t, objs, victim);
        } while (cursor != 0);
        assert_true(t.nbuckets > start_buckets); /* the table did grow under the cursor */
        for (int i = 0; i < 3000; i++)
            assert_true(s.seen[i] >= 1);
        /* Each bucket is visited once per table size at most, so duplicates stay rare. */
        size_t dup = 0;
        for (int i = 0; i < NKEYS; i++)
            dup += s.seen[i] > 1;
        assert_true(dup < (size_t)next / 2);
        for (int i = 0; i < NKEYS; i++)
            if (objs[i]) drop(&t, objs, i);
        free(objs);
        free(s.seen);
        meta_table_free(&t);
    }
}

/* A cursor taken from a larger table stays usable on a smaller one (Redis's cursors survive a
 * shrink; this table never shrinks, but a cursor from another proxy's table must not crash): the
 * mask keeps the index in range and the walk ends. */
static void test_foreign_cursor(void **state)
{
    (void)state;
    meta_table_t t;
    assert_int_equal(meta_table_init(&t), 0);
    for (int i = 0; i < 100; i++)
        add(&t, i);
    scan_state_t s = {calloc(NKEYS, 1)};
    size_t cursor = (size_t)0xdeadbeefcafef00dull, calls = 0;
    do {
        cursor = meta_scan(&t, cursor, on_object, &s);
    } while (cursor != 0 && ++calls < 10 * t.nbuckets);
    assert_int_equal(cursor, 0);
    free(s.seen);
    meta_table_free(&t);
}

static void test_expire_counts(void **state)
{
    (void)state;
    meta_table_t t;
    assert_int_equal(meta_table_init(&t), 0);
    meta_t *a = meta_new("a", 1, 1, 0), *b = meta_new("b", 1, 1, 0);
    a->expire_ms = 1000;
    meta_insert(&t, a);
    meta_insert(&t, b);
    assert_int_equal(t.expires, 1);
    meta_set_expire(&t, b, 3000);
    assert_int_equal(t.expires, 2);
    assert_true(t.expire_sum == 4000);
    meta_set_expire(&t, a, 0);
    assert_int_equal(t.expires, 1);
    meta_remove(&t, b);
    free(b);
    assert_int_equal(t.expires, 0);
    assert_true(t.expire_sum == 0);
    meta_table_free(&t);
}

/* The objects of each cluster slot (COUNTKEYSINSLOT, GETKEYSINSLOT): kept as objects come and
 * go, hash tags together. */
static void test_slot_index(void **state)
{
    (void)state;
    meta_table_t t;
    assert_int_equal(meta_table_init(&t), 0);
    assert_int_equal(meta_slot_count(&t, 0), 0); /* not indexed: nothing, no crash */
    assert_null(meta_slot_first(&t, 0));
    assert_int_equal(meta_table_index_slots(&t), 0);
    const char *keys[] = {"{u1}a", "{u1}b", "{u1}c", "foo", "bar"};
    meta_t *objs[5];
    for (int i = 0; i < 5; i++) {
        objs[i] = meta_new(keys[i], strlen(keys[i]), 1, 0);
        assert_int_equal(meta_insert(&t, objs[i]), 0);
    }
    unsigned tag = slot_of_key("u1", 2);
    assert_int_equal(meta_slot_count(&t, tag), 3);
    assert_int_equal(meta_slot_count(&t, 12182), 1); /* foo */
    assert_int_equal(meta_slot_count(&t, 5061), 1);  /* bar */
    assert_int_equal(meta_slot_count(&t, SLOT_COUNT), 0);
    meta_remove(&t, objs[1]); /* the middle of the slot's list */
    free(objs[1]);
    assert_int_equal(meta_slot_count(&t, tag), 2);
    int seen = 0;
    for (meta_t *m = meta_slot_first(&t, tag); m; m = m->slot_next) {
        assert_int_equal(slot_of_key(meta_key(m), m->keylen), tag);
        seen++;
    }
    assert_int_equal(seen, 2);
    meta_remove(&t, objs[0]);
    free(objs[0]);
    meta_remove(&t, objs[2]);
    free(objs[2]);
    assert_int_equal(meta_slot_count(&t, tag), 0);
    assert_null(meta_slot_first(&t, tag));
    meta_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slot_index),
        cmocka_unit_test(test_full_scan_sees_each_once),
        cmocka_unit_test(test_scan_while_growing_and_deleting),
        cmocka_unit_test(test_foreign_cursor),
        cmocka_unit_test(test_expire_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
