/* test_node_store.c -- chunk store: limits, NOMEM, versions side by side, delete, accounting,
 * the scan cursor across growth, and the change journal a backup reads. */
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

/* The node counts a chunk with the shared formula (the proxy places by the same one): a store
 * whose limit is k footprints holds exactly k chunks, and refuses the next. */
static void test_footprint_formula(void **state)
{
    assert_int_equal(chunk_footprint(5, 1000), 1000 + 5 + 128);
    assert_int_equal(store_entry_cost(5, 1000), chunk_footprint(5, 1000));
    assert_int_equal(store_entry_cost(0, 0), CHUNK_FOOTPRINT_OVERHEAD);
    store_t s;
    store_init(&s, 7 * chunk_footprint(5, 1000));
    store_entry_t *e;
    char key[8];
    for (int i = 0; i < 7; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        assert_int_equal(store_reserve(&s, key, 5, 0, 1, 1000, &e), 0);
        store_commit(&s, e, 0);
    }
    assert_int_equal(s.used, s.limit);
    assert_int_equal(store_reserve(&s, "key-7", 5, 0, 1, 1000, &e), -ENOSPC);
    store_free(&s);
}

/* Tombstones: one per key with the highest version, counted with the shared formula, the oldest
 * giving way to a new tombstone or a chunk, dropped by a newer chunk of the key and at their
 * expiry, journaled. */
static void test_tombstones(void **state)
{
    store_t s;
    store_init(&s, chunk_footprint(5, 100) + 2 * chunk_footprint(5, 0));
    s.tomb_ttl_ms = 1000;
    store_journal_t j;
    store_journal_init(&j, 16, 1024);
    store_set_journal(&s, &j);
    assert_int_equal(store_tomb_put(&s, "key-a", 5, 7, 50), 0);
    assert_int_equal(s.used, chunk_footprint(5, 0));
    assert_int_equal(store_tomb_put(&s, "key-a", 5, 3, 60), 0); /* lower: the higher stays */
    assert_int_equal(s.ntombs, 1);
    const store_tomb_t *t = store_tomb_get(&s, "key-a", 5);
    assert_non_null(t);
    assert_int_equal(t->version, 7);
    assert_int_equal(t->expire_ms, 1060);
    assert_int_equal(store_tomb_put(&s, "key-b", 5, 9, 100), 0);
    assert_int_equal(s.used, 2 * chunk_footprint(5, 0));
    assert_int_equal(j.n, 3);
    assert_int_equal(j.recs[0].op, STORE_OP_TOMB);
    assert_int_equal(j.recs[2].version, 9);
    /* An older chunk of key-a leaves its tombstone; a newer one drops it. */
    store_entry_t *e;
    assert_int_equal(store_reserve(&s, "key-a", 5, 0, 6, 100, &e), 0);
    store_commit(&s, e, 0);
    assert_non_null(store_tomb_get(&s, "key-a", 5));
    store_del(&s, "key-a", 5, 0, 6);
    assert_int_equal(store_reserve(&s, "key-a", 5, 0, 8, 100, &e), 0);
    store_commit(&s, e, 0);
    assert_null(store_tomb_get(&s, "key-a", 5));
    assert_int_equal(s.ntombs, 1);
    assert_int_equal(s.used, chunk_footprint(5, 100) + chunk_footprint(5, 0));
    /* Full: the oldest tombstone gives way to a new one (key-b, written before key-c). */
    assert_int_equal(store_tomb_put(&s, "key-c", 5, 1, 100), 0);
    assert_int_equal(s.used, s.limit);
    assert_int_equal(store_tomb_put(&s, "key-b", 5, 10, 200), 0); /* rewritten: now the newest */
    assert_int_equal(store_tomb_put(&s, "key-d", 5, 1, 300), 0);
    assert_null(store_tomb_get(&s, "key-c", 5));
    assert_non_null(store_tomb_get(&s, "key-b", 5));
    assert_int_equal(s.tombs_dropped, 1);
    /* ... and to a chunk: the proxy never counts them, so they never make a chunk fail. */
    store_del(&s, "key-a", 5, 0, 8);
    assert_int_equal(store_tomb_put(&s, "key-e", 5, 1, 300), 0);
    assert_int_equal(s.ntombs, 3);
    assert_int_equal(store_reserve(&s, "key-f", 5, 0, 1, 100, &e), 0);
    store_commit(&s, e, 0);
    assert_int_equal(s.ntombs, 2);
    assert_null(store_tomb_get(&s, "key-b", 5)); /* the oldest went */
    assert_int_equal(s.used, s.limit);
    /* Chunks do not give way; and no tombstone goes for a chunk that cannot fit anyway. */
    assert_int_equal(store_reserve(&s, "key-g", 5, 0, 1, 300, &e), -ENOSPC);
    assert_int_equal(s.ntombs, 2);
    /* Expiry: key-d (until 1300) goes at 1300, key-e (1300 too) with it. */
    store_tomb_expire(&s, 1299);
    assert_int_equal(s.ntombs, 2);
    store_tomb_expire(&s, 1300);
    assert_int_equal(s.ntombs, 0);
    assert_int_equal(s.tomb_bytes, 0);
    store_set_journal(&s, NULL);
    store_journal_free(&j);
    store_free(&s);
    assert_int_equal(s.used, 0);
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

/* Freed mapped bodies are kept for the next body of the same size, within their bounds, and give
 * way to new chunks so the store never holds more than its limit. */
static void test_spare_bodies(void **state)
{
    const size_t big = 256 * 1024; /* mapped, not malloc'd */
    store_t s;
    store_init(&s, 16 * store_entry_cost(1, big)); /* spares may hold a sixteenth: one body */
    store_entry_t *e = put(&s, "a", 0, 1, big, 'a');
    char *body = e->body;
    assert_int_equal(store_del(&s, "a", 1, 0, 1), 1);
    assert_int_equal(s.nspares, 1);
    assert_int_equal(s.spare_bytes, big);
    /* The same size reuses it, with the old bytes still there until the caller writes. */
    e = put(&s, "b", 0, 1, big - 100, 'b');
    assert_ptr_equal(e->body, body);
    assert_int_equal(s.spare_reuses, 1);
    assert_int_equal(s.nspares, 0);
    /* Another size maps afresh; a second spare over the byte bound replaces the first. */
    e = put(&s, "c", 0, 1, 2 * big, 'c');
    assert_ptr_not_equal(e->body, body);
    store_del(&s, "b", 1, 0, 1);
    assert_int_equal(s.nspares, 1);
    store_del(&s, "c", 1, 0, 1); /* 2 * big is over the bound: unmapped */
    assert_int_equal(s.nspares, 1);
    assert_int_equal(s.spare_bytes, big - 100);
    assert_int_equal(s.used, 0);
    /* Filling the store to its limit sheds the spare instead of refusing. */
    size_t n = 0;
    char key[24];
    for (;; n++) {
        snprintf(key, sizeof key, "f%zu", n);
        store_entry_t *f = NULL;
        if (store_reserve(&s, key, strlen(key), 0, 1, big + 4096, &f) < 0) break;
        store_commit(&s, f, 1);
        assert_true(s.used + s.spare_bytes <= s.limit);
    }
    assert_int_equal(n, 15);
    assert_int_equal(s.nspares, 0);
    /* Deleting with the store full keeps no spare beyond the limit either. */
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "f%zu", i);
        assert_int_equal(store_del(&s, key, strlen(key), 0, 1), 1);
        assert_true(s.used + s.spare_bytes <= s.limit);
        assert_true(s.nspares <= STORE_SPARE_SLOTS);
    }
    store_free(&s);
    assert_int_equal(s.nspares, 0);
    assert_int_equal(s.spare_bytes, 0);
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

static void count_visit(store_entry_t *e, void *arg)
{
    /* Counts visits per entry in its body's first byte (bodies are 1 byte here). */
    (void)arg;
    e->body[0]++;
}

static void test_scan_covers_all_across_growth(void **state)
{
    store_t s;
    store_init(&s, 64 << 20);
    char key[32];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "a-%d", i);
        put(&s, key, 0, 1, 1, 0);
    }
    /* Walk a few buckets, then grow the table several times, then finish the walk: every entry
     * linked for the whole walk is seen at least once. */
    uint64_t cursor = 0;
    for (int k = 0; k < 20; k++) cursor = store_scan(&s, cursor, count_visit, NULL);
    assert_int_not_equal(cursor, 0);
    size_t before = s.nbuckets;
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "b-%d", i);
        put(&s, key, 0, 1, 1, 0);
    }
    assert_true(s.nbuckets > before);
    int steps = 0;
    do {
        cursor = store_scan(&s, cursor, count_visit, NULL);
        steps++;
    } while (cursor != 0);
    assert_true(steps <= (int)s.nbuckets);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "a-%d", i);
        assert_true(store_get(&s, key, strlen(key), 0, 1)->body[0] >= 1);
    }
    /* Without growth a full walk visits every entry exactly once. */
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "b-%d", i);
        store_get(&s, key, strlen(key), 0, 1)->body[0] = 0;
    }
    cursor = 0;
    do cursor = store_scan(&s, cursor, count_visit, NULL);
    while (cursor != 0);
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "b-%d", i);
        assert_int_equal(store_get(&s, key, strlen(key), 0, 1)->body[0], 1);
    }
    store_free(&s);
    store_t empty;
    store_init(&empty, 100);
    assert_int_equal(store_scan(&empty, 0, count_visit, NULL), 0);
}

static void test_journal(void **state)
{
    store_t s;
    store_init(&s, 1 << 20);
    put(&s, "before", 0, 1, 10, 'x');
    uint64_t seq = s.commits;
    store_journal_t j;
    store_journal_init(&j, 5, 1000);
    store_set_journal(&s, &j);
    store_entry_t *e = put(&s, "k\xff", 0, 2, 10, 'y'); /* binary key */
    assert_true(e->commit_seq > seq);
    assert_int_equal(store_del(&s, "before", 6, 0, 1), 1);
    assert_int_equal(store_del(&s, "before", 6, 0, 1), 0); /* nothing unlinked: not journaled */
    put(&s, "", 3, 4, 0, 0); /* empty key */
    store_entry_t *p = NULL;
    assert_int_equal(store_reserve(&s, "pending", 7, 0, 1, 5, &p), 0);
    store_abort(&s, p); /* never committed: not journaled */
    assert_int_equal(j.n, 3);
    assert_int_equal(j.recs[0].op, STORE_OP_COMMIT);
    assert_int_equal(j.recs[0].key_len, 2);
    assert_memory_equal(store_journal_key(&j, 0), "k\xff", 2);
    assert_int_equal(j.recs[0].version, 2);
    assert_int_equal(j.recs[1].op, STORE_OP_DELETE);
    assert_memory_equal(store_journal_key(&j, 1), "before", 6);
    assert_int_equal(j.recs[2].index, 3);
    assert_int_equal(j.recs[2].key_len, 0);
    assert_string_equal(store_journal_key(&j, 2), "");
    assert_int_equal(j.overflow, 0);
    /* Bounds: records, then key bytes; past one, nothing more is kept and overflow is set. */
    put(&s, "a", 0, 1, 1, 0);
    put(&s, "b", 0, 1, 1, 0);
    assert_int_equal(j.n, 5);
    assert_int_equal(j.overflow, 0);
    put(&s, "c", 0, 1, 1, 0);
    assert_int_equal(j.n, 5);
    assert_int_equal(j.overflow, 1);
    store_journal_clear(&j);
    assert_int_equal(j.n, 0);
    assert_int_equal(j.overflow, 0);
    j.max_key_bytes = 3;
    put(&s, "xy", 0, 1, 1, 0);
    put(&s, "zw", 0, 1, 1, 0);
    assert_int_equal(j.n, 1);
    assert_int_equal(j.overflow, 1);
    /* Detached: nothing recorded. */
    store_journal_clear(&j);
    store_set_journal(&s, NULL);
    put(&s, "q", 0, 1, 1, 0);
    assert_int_equal(j.n, 0);
    store_journal_free(&j);
    store_free(&s);
}

/* CRENAME's store side: the body moves to the new name without a copy, the object fields come
 * along, the old name keeps a tombstone, the key length is accounted, and the journal a backup
 * reads holds the delete, the commit and the tombstone. */
static void test_rename(void **state)
{
    (void)state;
    store_t s;
    store_init(&s, 1 << 20);
    store_journal_t j;
    store_journal_init(&j, 16, 1024);
    store_set_journal(&s, &j);
    store_entry_t *e = put(&s, "old", 2, 5, 100000, 'r');
    e->obj_size = 123;
    e->d = 3;
    e->p = 1;
    e->expire_ms = 777;
    const char *body = e->body;
    store_journal_clear(&j);
    assert_int_equal(store_rename(&s, "old", 3, 2, 5, "newname", 7, 9, 1000), 1);
    assert_null(store_get(&s, "old", 3, 2, 5));
    store_entry_t *n = store_get(&s, "newname", 7, 2, 9);
    assert_non_null(n);
    assert_ptr_equal(n->body, body); /* moved, not copied */
    assert_int_equal(n->crc, 35);
    assert_true(n->obj_size == 123 && n->d == 3 && n->p == 1 && n->expire_ms == 777);
    assert_int_equal(n->body_len, 100000);
    const store_tomb_t *t = store_tomb_get(&s, "old", 3);
    assert_non_null(t);
    assert_int_equal(t->version, 5);
    assert_int_equal(s.count, 1);
    assert_int_equal(s.used, store_entry_cost(7, 100000) + store_entry_cost(3, 0));
    assert_int_equal(j.n, 3);
    assert_int_equal(j.recs[0].op, STORE_OP_DELETE);
    assert_memory_equal(store_journal_key(&j, 0), "old", 3);
    assert_int_equal(j.recs[1].op, STORE_OP_COMMIT);
    assert_memory_equal(store_journal_key(&j, 1), "newname", 7);
    assert_true(j.recs[1].version == 9 && j.recs[1].index == 2);
    assert_int_equal(j.recs[2].op, STORE_OP_TOMB);
    assert_memory_equal(store_journal_key(&j, 2), "old", 3);
    /* Not held: :0, but the old name is still tombstoned (a node that lost the chunk). */
    assert_int_equal(store_rename(&s, "other", 5, 0, 4, "x", 1, 10, 1000), 0);
    assert_non_null(store_tomb_get(&s, "other", 5));
    assert_null(store_get(&s, "x", 1, 0, 10));
    /* The new name had a tombstone below the new version: the chunk lives again there. */
    assert_int_equal(store_tomb_put(&s, "dst", 3, 8, 1000), 0);
    assert_int_equal(store_rename(&s, "newname", 7, 2, 9, "dst", 3, 11, 1000), 1);
    assert_null(store_tomb_get(&s, "dst", 3));
    assert_non_null(store_get(&s, "dst", 3, 2, 11));
    store_set_journal(&s, NULL);
    store_journal_free(&j);
    store_free(&s);
}

/* A reply still writing the chunk keeps the old entry whole: the body is copied instead. */
static void test_rename_while_referenced(void **state)
{
    (void)state;
    store_t s;
    store_init(&s, 1 << 20);
    store_entry_t *e = put(&s, "k", 0, 1, 5000, 'z');
    store_ref(e);
    assert_int_equal(store_rename(&s, "k", 1, 0, 1, "k2", 2, 2, 1000), 1);
    store_entry_t *n = store_get(&s, "k2", 2, 0, 2);
    assert_non_null(n);
    assert_ptr_not_equal(n->body, e->body);
    assert_int_equal(n->body[4999], 'z');
    assert_int_equal(e->body[4999], 'z');
    store_unref(&s, e);
    assert_int_equal(s.used, store_entry_cost(2, 5000) + store_entry_cost(1, 0));
    store_free(&s);
}

/* A longer name that does not fit even with the tombstones gone: the chunk is deleted, the old
 * name tombstoned, and nothing passes the limit. */
static void test_rename_no_room(void **state)
{
    (void)state;
    store_t s;
    size_t cost = store_entry_cost(1, 1000);
    store_init(&s, cost + store_entry_cost(1, 0));
    assert_non_null(put(&s, "k", 0, 1, 1000, 'a'));
    char longkey[600];
    memset(longkey, 'L', sizeof longkey);
    assert_int_equal(store_rename(&s, "k", 1, 0, 1, longkey, sizeof longkey, 2, 1000), -ENOSPC);
    assert_null(store_get(&s, "k", 1, 0, 1));
    assert_null(store_get(&s, longkey, sizeof longkey, 0, 2));
    assert_non_null(store_tomb_get(&s, "k", 1));
    assert_true(s.used <= s.limit);
    store_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_delete),
        cmocka_unit_test(test_footprint_formula),
        cmocka_unit_test(test_tombstones),
        cmocka_unit_test(test_versions_side_by_side),
        cmocka_unit_test(test_limit_and_nomem),
        cmocka_unit_test(test_refs_outlive_delete),
        cmocka_unit_test(test_spare_bodies),
        cmocka_unit_test(test_many_entries_and_zero_bytes),
        cmocka_unit_test(test_scan_covers_all_across_growth),
        cmocka_unit_test(test_journal),
        cmocka_unit_test(test_rename),
        cmocka_unit_test(test_rename_while_referenced),
        cmocka_unit_test(test_rename_no_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
