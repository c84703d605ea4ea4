/* test_meta.c -- unit tests for the proxy's object table: lookup, expiry, placement on distinct
 * nodes with room, CLOCK eviction that spares recently used objects, accounting back to zero. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "footprint.h"
#include "meta.h"
#include "nodepool.h"
#include "server.h"
#include "test_server.h"

static meta_t *store(server_t *srv, const char *key, int d, int p, size_t cs)
{
    meta_t *m = meta_new(key, strlen(key), d, p);
    assert_non_null(m);
    int rc = meta_place(srv, key, strlen(key), d + p, cs, meta_nodes(m));
    if (rc < 0) {
        free(m);
        return NULL;
    }
    m->chunk_size = (uint32_t)cs;
    m->size = cs * (size_t)d;
    for (int i = 0; i < d + p; i++)
        meta_crcs(m)[i] = (uint32_t)(0xABC0 + i);
    assert_int_equal(meta_insert(&srv->meta, m), 0);
    return m;
}

static void test_layout_and_lookup(void **state)
{
    server_t *srv = make_server(16, 1 << 30);
    meta_t *m = store(srv, "hello", 3, 2, 1024); /* odd n exercises the alignment pad */
    assert_memory_equal(meta_key(m), "hello", 5);
    assert_int_equal(meta_crcs(m)[4], 0xABC4);
    assert_true(((uintptr_t)meta_crcs(m) & 3) == 0);
    assert_ptr_equal(meta_lookup(srv, "hello", 5), m);
    assert_null(meta_lookup(srv, "hell", 4));
    /* The chunks land on distinct nodes. */
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            assert_int_not_equal(meta_nodes(m)[i], meta_nodes(m)[j]);
    /* Per-object overhead stays within the budget: 256 bytes plus the key, for RS(10+2). */
    assert_true(meta_alloc_size(10, 2, 0) <= 256);
    free_server(srv);
}

static void test_expiry(void **state)
{
    server_t *srv = make_server(4, 1 << 30);
    meta_t *m = store(srv, "ttl", 1, 1, 64);
    m->expire_ms = clock_wall_ms() - 1;
    assert_null(meta_lookup(srv, "ttl", 3));
    assert_int_equal(srv->meta.count, 0);
    assert_int_equal(srv->meta.expired, 1);
    free_server(srv);
}

static void test_many_objects_rehash(void **state)
{
    server_t *srv = make_server(8, (uint64_t)1 << 40);
    char key[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        assert_non_null(store(srv, key, 2, 1, 64));
    }
    for (int i = 0; i < 20000; i += 97) {
        snprintf(key, sizeof key, "key-%d", i);
        meta_t *m = meta_lookup(srv, key, strlen(key));
        assert_non_null(m);
        meta_drop(srv, m);
        assert_null(meta_lookup(srv, key, strlen(key)));
    }
    assert_int_equal(srv->meta.count, 20000 - (20000 + 96) / 97);
    free_server(srv);
}

static void test_clock_eviction(void **state)
{
    /* 4 nodes with room for 4 chunks each (chunk 1000 + overhead): 8 objects of 2 chunks. */
    server_t *srv = make_server(4, 4 * chunk_footprint(4, 1000) + 10);
    char key[16];
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof key, "obj%d", i);
        assert_non_null(store(srv, key, 1, 1, 1000));
    }
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof key, "obj%d", i);
        meta_lookup(srv, key, strlen(key))->referenced = (i != 3); /* obj3 is the cold one */
    }
    assert_non_null(store(srv, "new0", 1, 1, 1000));
    assert_int_equal(srv->meta.evictions, 1);
    assert_null(meta_lookup(srv, "obj3", 4));
    assert_non_null(meta_lookup(srv, "obj2", 4));
    assert_non_null(meta_lookup(srv, "new0", 4));
    free_server(srv);
}

static void test_clock_spares_recent_reads(void **state)
{
    /* Every object new (unreferenced) except the one just read: the oldest unread goes first. */
    server_t *srv = make_server(4, 4 * chunk_footprint(4, 1000) + 10);
    char key[16];
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof key, "obj%d", i);
        assert_non_null(store(srv, key, 1, 1, 1000));
    }
    meta_lookup(srv, "obj0", 4)->referenced = 1;
    assert_non_null(store(srv, "new0", 1, 1, 1000));
    assert_non_null(meta_lookup(srv, "obj0", 4));
    assert_null(meta_lookup(srv, "obj1", 4));
    free_server(srv);
}

static void test_ring_compaction_keeps_objects(void **state)
{
    server_t *srv = make_server(8, (uint64_t)1 << 40);
    char key[32];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 3000; i++) {
            snprintf(key, sizeof key, "r%d-%d", round, i);
            assert_non_null(store(srv, key, 2, 1, 64));
        }
        for (int i = 0; i < 3000; i += 2) { /* leave holes behind */
            snprintf(key, sizeof key, "r%d-%d", round, i);
            meta_drop(srv, meta_lookup(srv, key, strlen(key)));
        }
    }
    assert_int_equal(srv->meta.count, 5 * 1500);
    assert_true(srv->meta.clock_len <= 2 * srv->meta.count + 1024 + 64);
    for (int round = 0; round < 5; round++)
        for (int i = 1; i < 3000; i += 2) {
            snprintf(key, sizeof key, "r%d-%d", round, i);
            meta_t *m = meta_lookup(srv, key, strlen(key));
            assert_non_null(m);
            assert_ptr_equal(srv->meta.clock[m->clock_pos], m);
        }
    free_server(srv);
}

/* The proxy charges a chunk what the node counts for it (common/footprint.h): a node with room
 * for exactly 7 footprints takes 7 chunks and no more. */
static void test_footprint_formula(void **state)
{
    assert_int_equal(meta_chunk_cost(1000, 5), 1000 + 5 + 128);
    assert_int_equal(meta_chunk_cost(1000, 5), chunk_footprint(5, 1000));
    server_t *srv = make_server(1, 7 * chunk_footprint(5, 1000));
    char key[8];
    for (int i = 0; i < 7; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        assert_non_null(store(srv, key, 1, 0, 1000));
    }
    assert_int_equal(srv->nodes[0].room.mem_placed, srv->nodes[0].room.mem_limit);
    assert_int_equal(srv->meta.evictions, 0);
    assert_non_null(store(srv, "key-7", 1, 0, 1000));
    assert_int_equal(srv->meta.evictions, 1);
    free_server(srv);
}

/* A node's -NOMEM figures replace the proxy's for it, and objects with a chunk there (only those)
 * are evicted until the refused chunk fits. */
static void test_node_refused_evicts_there(void **state)
{
    server_t *srv = make_server(2, 100 * chunk_footprint(5, 1000));
    char key[8];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "key-%02d", i);
        assert_non_null(store(srv, key, 1, 0, 1000));
    }
    int busy = srv->nodes[0].room.chunks_placed >= srv->nodes[1].room.chunks_placed ? 0 : 1;
    int on = (int)srv->nodes[busy].room.chunks_placed;
    int other = (int)srv->nodes[1 - busy].room.chunks_placed;
    assert_true(on >= 10);
    uint64_t fp = chunk_footprint(6, 1000);
    /* The node holds 3 chunks' worth more than the proxy knows of and its limit is lower. */
    char err[160];
    uint64_t limit = (uint64_t)(on + 1) * fp;
    snprintf(err, sizeof err, "node %d: NOMEM chunk of 1000 bytes (footprint %llu) does not fit: "
             "used %llu of %llu", busy, (unsigned long long)fp,
             (unsigned long long)((uint64_t)(on + 3) * fp), (unsigned long long)limit);
    assert_int_equal(meta_node_refused(srv, busy, err, fp), 0);
    assert_int_equal(srv->nodes[busy].room.mem_limit, limit);
    assert_true(srv->nodes[busy].room.mem_placed <= limit);
    assert_int_equal(srv->meta.evictions, 3);
    assert_int_equal(srv->nodes[busy].room.chunks_placed, on - 3);
    assert_int_equal(srv->nodes[1 - busy].room.chunks_placed, other); /* the other untouched */
    /* Without figures the node is taken as full; with nothing left there, no room is made. */
    meta_t *v;
    while ((v = meta_clock_victim_on(&srv->meta, (uint16_t)busy)) != NULL) meta_drop(srv, v);
    assert_int_equal(srv->nodes[busy].room.chunks_placed, 0);
    srv->nodes[busy].room.mem_placed = srv->nodes[busy].room.mem_limit;
    assert_int_equal(meta_node_refused(srv, busy, "node: NOMEM chunk does not fit", fp), -ENOSPC);
    free_server(srv);
}

static void test_too_big_and_accounting(void **state)
{
    server_t *srv = make_server(4, 10000);
    assert_null(store(srv, "huge", 1, 1, 20000)); /* cannot fit even in an empty pool */
    assert_null(store(srv, "wide", 4, 1, 10));    /* more chunks than nodes */
    meta_t *m = store(srv, "a", 2, 2, 500);
    assert_non_null(m);
    meta_drop(srv, m);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(srv->nodes[i].room.mem_placed, 0);
        assert_int_equal(srv->nodes[i].room.chunks_placed, 0);
    }
    free_server(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_and_lookup),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_many_objects_rehash),
        cmocka_unit_test(test_clock_eviction),
        cmocka_unit_test(test_footprint_formula),
        cmocka_unit_test(test_node_refused_evicts_there),
        cmocka_unit_test(test_too_big_and_accounting),
        cmocka_unit_test(test_clock_spares_recent_reads),
        cmocka_unit_test(test_ring_compaction_keeps_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
