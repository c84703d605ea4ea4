/* test_sim.c -- the simulator's event loop and accounting on scenarios small enough to check by
 * hand: invocations and billed time of one function, an eviction, a reclaim with and without
 * backup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sim.h"

/* One function, objects of one chunk (d = 1, p = 0), 100 ms billing, nothing periodic, no
 * reclaims: every figure follows from the requests alone. */
static sim_config_t tiny(void)
{
    sim_config_t c;
    sim_config_defaults(&c);
    c.pool_size = 1;
    c.d = 1;
    c.p = 0;
    c.node_memory_mb = 128;
    c.node_reserved_mb = 32;
    c.billing_ms = 100;
    c.policy.billing_ms = 100;
    c.warmup_interval_ms = 0;
    c.backup_interval_ms = 0;
    c.idle_reclaim_ms = 0;
    return c;
}

static sim_result_t run(const sim_config_t *c, const sim_request_t *r, size_t n)
{
    sim_result_t res;
    char err[256];
    assert_int_equal(sim_run(c, r, n, &res, err, sizeof err), 0);
    return res;
}

/* Three GETs a second apart: the first misses and is filled (one invocation for the SET), the
 * others hit; each invocation serves one request and returns before its first boundary. */
static void test_three_requests_three_invocations(void **state)
{
    (void)state;
    sim_config_t c = tiny();
    sim_request_t r[3] = {
        {TRACE_OP_GET, 7, 1000, 0}, {TRACE_OP_GET, 7, 1000, 1}, {TRACE_OP_GET, 7, 1000, 2}};
    sim_result_t res = run(&c, r, 3);
    assert_int_equal(res.total.gets, 3);
    assert_int_equal(res.total.hits, 2);
    assert_int_equal(res.total.misses, 1);
    assert_int_equal(res.total.fills, 1);
    assert_int_equal(res.total.bill.requests, 3);
    assert_int_equal(res.total.bill.requests_by_kind[BILLING_KIND_ACTIVATE], 3);
    assert_int_equal(res.total.bill.billed_ms, 300);
    /* 3 x 100 ms x 128 MiB */
    assert_true(res.total.bill.gb_seconds > 0.0375 - 1e-9 &&
                res.total.bill.gb_seconds < 0.0375 + 1e-9);
    assert_int_equal(res.total.cold_starts, 0);
    assert_int_equal(res.nhours, 1);
    sim_result_free(&res);
}

/* The same requests 30 ms apart: one invocation serves them all. The second request extends the
 * plan to the end of the cycle after the one it arrived in (the anticipatory policy), so it is
 * billed 200 ms. */
static void test_burst_is_one_invocation(void **state)
{
    (void)state;
    sim_config_t c = tiny();
    sim_request_t r[3] = {
        {TRACE_OP_GET, 7, 1000, 0}, {TRACE_OP_GET, 7, 1000, 0.03}, {TRACE_OP_GET, 7, 1000, 0.06}};
    sim_result_t res = run(&c, r, 3);
    assert_int_equal(res.total.hits, 2);
    assert_int_equal(res.total.bill.requests, 1);
    assert_int_equal(res.total.bill.billed_ms, 200);
    sim_result_free(&res);
}

/* A pool with room for one object: storing a second evicts the first (CLOCK), so reading the first
 * again misses. The eviction's delete rides on the invocation that stores the second. */
static void test_eviction(void **state)
{
    (void)state;
    sim_config_t c = tiny();
    c.node_reserved_mb = 126; /* 2 MiB for chunks: one object of 1.5 MiB */
    uint64_t big = 3 << 19;
    sim_request_t r[3] = {
        {TRACE_OP_SET, 1, big, 0}, {TRACE_OP_SET, 2, big, 1}, {TRACE_OP_GET, 1, big, 2}};
    sim_result_t res = run(&c, r, 3);
    /* SET 1; SET 2 evicts 1; GET 1 misses and its fill evicts 2. */
    assert_int_equal(res.total.evictions, 2);
    assert_int_equal(res.total.misses, 1);
    assert_int_equal(res.total.gets_of_stored, 0); /* an evicted object is not a loss */
    assert_int_equal(res.total.objects_lost, 0);
    assert_int_equal(res.total.sets, 3);
    assert_int_equal(res.total.bill.requests, 3);
    assert_int_equal(res.objects_end, 1);
    sim_result_free(&res);
}

/* The instance holding an object is reclaimed at 5 s; the object is read at 10 s. */
static sim_result_t reclaim_scenario(uint64_t backup_interval_ms)
{
    sim_config_t c = tiny();
    c.backup_interval_ms = backup_interval_ms;
    c.nkills = 1;
    c.kills[0].at_ms = 5000;
    c.kills[0].node = 0;
    sim_request_t r[2] = {{TRACE_OP_SET, 1, 1000, 0}, {TRACE_OP_GET, 1, 1000, 10}};
    return run(&c, r, 2);
}

static void test_reclaim_loses_object_without_backup(void **state)
{
    (void)state;
    sim_result_t res = reclaim_scenario(0);
    assert_int_equal(res.total.reclaims_random, 1);
    assert_int_equal(res.total.chunks_lost, 1);
    assert_int_equal(res.total.objects_lost, 1);
    assert_int_equal(res.total.gets_of_stored, 1);
    assert_int_equal(res.total.hits_of_stored, 0);
    assert_int_equal(res.total.misses, 1);
    /* The proxy invokes the function at once when the instance holding data is gone: a cold
     * start, which comes up empty. */
    assert_int_equal(res.total.cold_starts, 1);
    sim_result_free(&res);
}

static void test_backup_keeps_object(void **state)
{
    (void)state;
    sim_result_t res = reclaim_scenario(1000);
    assert_true(res.total.backups >= 1);
    assert_true(res.total.bill.requests_by_kind[BILLING_KIND_BACKUP] >= 1);
    assert_int_equal(res.total.reclaims_random, 1);
    assert_int_equal(res.total.chunks_lost, 0);
    assert_int_equal(res.total.objects_lost, 0);
    assert_int_equal(res.total.gets_of_stored, 1);
    assert_int_equal(res.total.hits_of_stored, 1);
    sim_result_free(&res);
}

/* The instance holding a 1,000-byte object (written at 0 s) is reclaimed at 5 s and the object
 * is read at 10 s, with or without a store and with the given repair policy. */
static sim_result_t store_scenario(int store, int repair, uint64_t hot_ms)
{
    sim_config_t c = tiny();
    c.store = store;
    c.repair = repair;
    c.repair_hot_ms = hot_ms;
    c.nkills = 1;
    c.kills[0].at_ms = 5000;
    c.kills[0].node = 0;
    sim_request_t r[2] = {{TRACE_OP_SET, 1, 1000, 0}, {TRACE_OP_GET, 1, 1000, 10}};
    return run(&c, r, 2);
}

/* With the object store: the lost object's GET is answered from the store (one ranged GET for
 * 1,000 bytes), then the cache is filled; the client's SET was written through (one PUT). */
static void test_store_answers_lost_object(void **state)
{
    (void)state;
    sim_result_t res = store_scenario(1, SIM_REPAIR_LAZY, 0);
    assert_int_equal(res.total.objects_lost, 1);
    assert_int_equal(res.total.hits_of_stored, 0);
    assert_int_equal(res.total.store_answers, 1);
    assert_int_equal(res.total.store_answers_of_stored, 1);
    assert_int_equal(res.total.store_gets, 1);
    assert_int_equal(res.total.store_puts, 1);
    assert_int_equal(res.total.fills, 1);
    sim_result_free(&res);
}

/* Eager repair from the store: the chunk lost with the instance is read back by range when the
 * proxy adopts the empty one, and the later GET hits. */
static void test_eager_repair_from_store(void **state)
{
    (void)state;
    sim_result_t res = store_scenario(1, SIM_REPAIR_EAGER, 0);
    assert_int_equal(res.total.chunks_lost, 1);
    assert_int_equal(res.total.objects_lost, 0);
    assert_int_equal(res.total.repairs_from_store, 1);
    assert_int_equal(res.total.chunks_restored, 1);
    assert_int_equal(res.total.store_gets, 1);
    assert_int_equal(res.total.hits_of_stored, 1);
    assert_int_equal(res.total.store_answers, 0);
    sim_result_free(&res);
}

/* Hot repair skips an object nobody used within the window: its GET goes to the store. */
static void test_hot_repair_skips_cold_object(void **state)
{
    (void)state;
    sim_result_t res = store_scenario(1, SIM_REPAIR_HOT, 1000);
    assert_int_equal(res.total.repairs_from_store, 0);
    assert_int_equal(res.total.store_answers, 1);
    assert_int_equal(res.total.hits_of_stored, 0);
    sim_result_free(&res);
    res = store_scenario(1, SIM_REPAIR_HOT, 60000); /* used 5 s before the loss: hot */
    assert_int_equal(res.total.repairs_from_store, 1);
    assert_int_equal(res.total.hits_of_stored, 1);
    sim_result_free(&res);
}

/* Eager repair without a store: two replicas (d = 1, p = 1); the one lost is copied back from
 * the other (a read from its node, a store to the adopted instance). */
static void test_eager_repair_from_cache(void **state)
{
    (void)state;
    sim_config_t c = tiny();
    c.pool_size = 2;
    c.p = 1;
    c.repair = SIM_REPAIR_EAGER;
    c.nkills = 1;
    c.kills[0].at_ms = 5000;
    c.kills[0].node = 0;
    sim_request_t r[2] = {{TRACE_OP_SET, 1, 1000, 0}, {TRACE_OP_GET, 1, 1000, 10}};
    sim_result_t res = run(&c, r, 2);
    assert_int_equal(res.total.chunks_lost, 1);
    assert_int_equal(res.total.repairs_from_cache, 1);
    assert_int_equal(res.total.chunks_restored, 1);
    assert_int_equal(res.total.store_gets, 0);
    assert_int_equal(res.total.hits_of_stored, 1);
    sim_result_free(&res);
}

/* A 20 MiB SET written through in 8 MiB parts: create, 3 parts, complete. */
static void test_multipart_put_counted(void **state)
{
    (void)state;
    sim_config_t c = tiny();
    c.store = 1;
    sim_request_t r[1] = {{TRACE_OP_SET, 1, 20u << 20, 0}};
    sim_result_t res = run(&c, r, 1);
    assert_int_equal(res.total.store_puts, 5);
    sim_result_free(&res);
}

static void test_bad_config_refused(void **state)
{
    (void)state;
    sim_config_t c = tiny();
    c.d = 4;
    c.p = 2; /* 6 chunks on a pool of 1 */
    sim_result_t res;
    char err[256];
    assert_int_equal(sim_run(&c, NULL, 0, &res, err, sizeof err), -1);
    assert_non_null(strstr(err, "bad d=4"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_requests_three_invocations),
        cmocka_unit_test(test_burst_is_one_invocation),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_reclaim_loses_object_without_backup),
        cmocka_unit_test(test_backup_keeps_object),
        cmocka_unit_test(test_store_answers_lost_object),
        cmocka_unit_test(test_eager_repair_from_store),
        cmocka_unit_test(test_hot_repair_skips_cold_object),
        cmocka_unit_test(test_eager_repair_from_cache),
        cmocka_unit_test(test_multipart_put_counted),
        cmocka_unit_test(test_bad_config_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
