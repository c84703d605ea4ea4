/* test_table_schedule.c -- the proxy's decisions in src/model without a server: placement and CLOCK
 * eviction over a plain array of node rooms (as the simulator drives them), the warm-up and backup
 * schedule, and the Invoke backoff. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backoff.h"
#include "metatab.h"
#include "schedule.h"

typedef struct {
    meta_table_t table;
    meta_room_t rooms[4];
    int evicted;
    char last_victim[16];
} pool_t;

static meta_room_t *room_of(void *arg, int i)
{
    return &((pool_t *)arg)->rooms[i];
}

static void evict(void *arg, meta_t *victim)
{
    pool_t *p = arg;
    p->evicted++;
    snprintf(p->last_victim, sizeof p->last_victim, "%.*s", (int)victim->keylen, meta_key(victim));
    meta_rooms_release(room_of, p, meta_nodes(victim), victim->d + victim->p, victim->chunk_size,
                       victim->keylen);
    meta_remove(&p->table, victim);
    free(victim);
}

static void store(pool_t *p, const char *key)
{
    meta_t *m = meta_new(key, strlen(key), 1, 1);
    assert_non_null(m);
    m->chunk_size = 1000;
    assert_int_equal(
        meta_place_rooms(&p->table, 4, room_of, evict, p, key, strlen(key), 2, 1000, meta_nodes(m)),
        0);
    assert_int_not_equal(meta_nodes(m)[0], meta_nodes(m)[1]);
    assert_int_equal(meta_insert(&p->table, m), 0);
}

/* Four nodes with room for two chunks each hold four objects of two chunks; a fifth evicts the
 * oldest unreferenced one, and a read gives an object its second chance. */
static void test_place_and_evict_over_array(void **state)
{
    (void)state;
    pool_t p;
    memset(&p, 0, sizeof p);
    assert_int_equal(meta_table_init(&p.table), 0);
    for (int i = 0; i < 4; i++)
        p.rooms[i].mem_limit = 2 * meta_chunk_cost(1000, 2) + 10;
    store(&p, "k0");
    store(&p, "k1");
    store(&p, "k2");
    store(&p, "k3");
    assert_int_equal(p.evicted, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(p.rooms[i].chunks_placed, 2);
    meta_find(&p.table, "k0", 2)->referenced = 1;
    store(&p, "k4");
    assert_int_equal(p.evicted, 1);
    assert_string_equal(p.last_victim, "k1");
    assert_non_null(meta_find(&p.table, "k0", 2));
    assert_null(meta_find(&p.table, "k1", 2));
    /* A chunk larger than any node, or more chunks than nodes, is refused as never fitting
     * (-E2BIG), without evicting. */
    uint16_t nodes[5];
    assert_int_equal(meta_place_rooms(&p.table, 4, room_of, evict, &p, "big", 3, 2, 1 << 20, nodes),
                     -E2BIG);
    assert_int_equal(meta_place_rooms(&p.table, 4, room_of, evict, &p, "wide", 4, 5, 1000, nodes),
                     -E2BIG);
    assert_int_equal(p.evicted, 1);
    meta_table_free(&p.table);
}

/* The expiry sweep finds expired objects wherever they sit in the ring, within its budget per
 * call, and comes round again after the end. */
static void test_expiry_sweep(void **state)
{
    (void)state;
    meta_table_t t;
    assert_int_equal(meta_table_init(&t), 0);
    char key[16];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "e%d", i);
        meta_t *m = meta_new(key, strlen(key), 1, 0);
        assert_non_null(m);
        m->expire_ms = i % 3 == 0 ? 0 : (uint64_t)(100 * i); /* 0: no TTL */
        assert_int_equal(meta_insert(&t, m), 0);
    }
    size_t budget = 0;
    assert_null(meta_expired_next(&t, 1000, &budget)); /* no budget, nothing looked at */
    /* At time 450, e1, e2 and e4 have expired (e3, e6, e9 have no TTL). */
    int found = 0;
    budget = 3;
    meta_t *m = meta_expired_next(&t, 450, &budget); /* slots 0..2: e1 */
    assert_non_null(m);
    assert_memory_equal(meta_key(m), "e1", 2);
    assert_int_equal(budget, 1);
    meta_remove(&t, m);
    free(m);
    found++;
    budget = 100;
    while ((m = meta_expired_next(&t, 450, &budget)) != NULL) {
        assert_true(m->expire_ms && m->expire_ms <= 450);
        meta_remove(&t, m);
        free(m);
        found++;
    }
    assert_int_equal(found, 3);
    assert_int_equal(budget, 0);
    assert_int_equal(t.count, 7);
    /* Later every TTL has passed: one more round finds the other three (e5, e7, e8). */
    budget = 30;
    found = 0;
    while ((m = meta_expired_next(&t, 10000, &budget)) != NULL) {
        meta_remove(&t, m);
        free(m);
        found++;
    }
    assert_int_equal(found, 3);
    assert_int_equal(t.count, 4); /* the keys without a TTL */
    meta_table_free(&t);
}

/* Hot repair's rule: used within the window (whole seconds, as atime is kept), a clock behind
 * the object's atime counting as just used. */
static void test_used_within(void **state)
{
    (void)state;
    meta_t *m = meta_new("k", 1, 4, 2);
    assert_non_null(m);
    m->atime_s = 1000;
    assert_true(meta_used_within(m, 1000, 1));
    assert_true(meta_used_within(m, 1004, 4000));
    assert_false(meta_used_within(m, 1005, 4000));
    assert_true(meta_used_within(m, 999, 1));
    free(m);
}

static void test_warmup_skips_serving_nodes(void **state)
{
    (void)state;
    assert_true(sched_warmup_wanted(0));
    assert_false(sched_warmup_wanted(1));
}

/* A sleeping node woken for a backup alone bills the invocation as backup. */
static void test_wake_command(void **state)
{
    (void)state;
    assert_string_equal(sched_wake_command(1), "backup");
    assert_string_equal(sched_wake_command(0), "activate");
}

/* Only a known, reconciled instance that is not being woken may be a backup's source. */
static void test_backup_source(void **state)
{
    (void)state;
    assert_true(sched_backup_source_ok(1, 1, 0));
    assert_false(sched_backup_source_ok(0, 1, 0));
    assert_false(sched_backup_source_ok(1, 0, 0));
    assert_false(sched_backup_source_ok(1, 1, 1));
}

static void test_backup_schedule(void **state)
{
    (void)state;
    uint64_t last = 0;
    /* Nothing held, or a backup running: not due, and the clock does not start. */
    assert_int_equal(sched_backup_check(&last, 1, 0, 1, 100000, 1000, 7), SCHED_BACKUP_NOT_DUE);
    assert_int_equal(sched_backup_check(&last, 0, 5, 1, 100000, 1000, 7), SCHED_BACKUP_NOT_DUE);
    assert_int_equal(last, 0);
    /* First data: the clock starts up to half an interval in the past (rnd % 501 = 7). */
    assert_int_equal(sched_backup_check(&last, 1, 5, 1, 100000, 1000, 7), SCHED_BACKUP_ARMED);
    assert_int_equal(last, 100000 - 7);
    assert_int_equal(sched_backup_check(&last, 1, 5, 1, 100992, 1000, 0), SCHED_BACKUP_NOT_DUE);
    /* Due after a whole interval, but only from an instance the proxy may trust. */
    assert_int_equal(sched_backup_check(&last, 1, 5, 0, 100993, 1000, 0), SCHED_BACKUP_NOT_DUE);
    assert_int_equal(sched_backup_check(&last, 1, 5, 1, 100993, 1000, 0), SCHED_BACKUP_START);
    /* The tick runs a twentieth of the interval, within 10 ms..1 s. */
    assert_int_equal(sched_backup_tick_ms(100), 10);
    assert_int_equal(sched_backup_tick_ms(300000), 1000);
    assert_int_equal(sched_backup_tick_ms(4000), 200);
}

/* Invoke retries: only 429 and 5xx; the delay doubles per retry up to the cap, and the jitter
 * keeps it within [half, whole] of that. */
static void test_backoff(void **state)
{
    (void)state;
    assert_true(backoff_retryable(429));
    assert_true(backoff_retryable(500) && backoff_retryable(503));
    assert_false(backoff_retryable(400) || backoff_retryable(404) || backoff_retryable(202));
    int64_t want[] = {100, 200, 400, 800, 1000, 1000};
    for (int r = 0; r < 6; r++) {
        assert_int_equal(backoff_delay_ms(r, 100, 1000, 0), want[r] / 2);
        assert_int_equal(backoff_delay_ms(r, 100, 1000, (uint64_t)(want[r] - want[r] / 2)),
                         want[r]);
        for (uint64_t x = 1; x < 2000; x += 37) {
            int64_t d = backoff_delay_ms(r, 100, 1000, x * 2654435761u);
            assert_true(d >= want[r] / 2 && d <= want[r]);
        }
    }
    assert_int_equal(backoff_delay_ms(60, 100, 1000, 0), 500); /* no overflow */
    assert_int_equal(backoff_delay_ms(3, 0, 1000, 7), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_place_and_evict_over_array),
        cmocka_unit_test(test_expiry_sweep),
        cmocka_unit_test(test_used_within),
        cmocka_unit_test(test_warmup_skips_serving_nodes),
        cmocka_unit_test(test_wake_command),
        cmocka_unit_test(test_backup_source),
        cmocka_unit_test(test_backup_schedule),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
