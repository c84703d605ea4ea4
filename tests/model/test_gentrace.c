/* test_gentrace.c -- the synthetic registry trace: read back by icbench's own loader, it has the
 * paper's statistics (large objects' byte share, large GETs per hour, reuse within an hour), it
 * is the same for the same seed, and the statistics themselves count what they say. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gentrace.h"
#include "trace.h"

/* Generates into a temporary file; returns its path (the caller unlinks and frees it). */
static char *generate(double hours, uint64_t seed, gentrace_stats_t *st)
{
    char *path = strdup("/tmp/test_gentrace_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    gentrace_params_t p = {hours, seed};
    char err[256];
    assert_int_equal(gentrace_write(f, &p, st, err, sizeof err), 0);
    assert_int_equal(fclose(f), 0);
    return path;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void test_statistics_hold_when_read_back(void **state)
{
    (void)state;
    gentrace_stats_t gen;
    char *path = generate(4, 11, &gen);
    trace_t t;
    char err[256];
    FILE *diag = tmpfile();
    assert_int_equal(trace_load(path, TRACE_FORMAT_AUTO, 1, diag, &t, err, sizeof err), 0);
    assert_int_equal(t.malformed, 0);
    assert_true(t.ignored > 0); /* the HEADs */
    gentrace_stats_t st;
    assert_int_equal(gentrace_stats(t.records, t.count, &st), 0);
    /* What the generator measured is what the loader sees. */
    assert_int_equal(st.records, gen.records);
    assert_int_equal(st.large_gets, gen.large_gets);
    assert_int_equal(st.large_reused, gen.large_reused);
    assert_int_equal(st.bytes_total, gen.bytes_total);
    /* The paper's figures. */
    assert_true(st.hours >= 4 && st.hours <= 5);
    assert_true(st.large_byte_share > 0.95);
    assert_true(st.max_large_gets_per_hour < 3500);
    assert_true(st.mean_large_gets_per_hour > 500);
    assert_true(st.reuse_fraction >= 0.37 && st.reuse_fraction <= 0.46);
    assert_true(st.small_gets > 2 * st.large_gets); /* many small objects */
    /* Sorted by time, all sizes sane, and keys repeat (objects are reused). */
    for (size_t i = 1; i < t.count; i++) assert_true(t.records[i].time >= t.records[i - 1].time);
    for (size_t i = 0; i < t.count; i++)
        assert_true(t.records[i].size >= 1 && t.records[i].size <= ((uint64_t)1 << 30));
    assert_true(st.large_objects < st.large_gets);
    free(t.records);
    fclose(diag);
    unlink(path);
    free(path);
}

static void test_same_seed_same_bytes(void **state)
{
    (void)state;
    gentrace_stats_t a, b, c;
    char *pa = generate(0.5, 3, &a), *pb = generate(0.5, 3, &b), *pc = generate(0.5, 4, &c);
    size_t la, lb, lc;
    char *ba = slurp(pa, &la), *bb = slurp(pb, &lb), *bc = slurp(pc, &lc);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    assert_true(la != lc || memcmp(ba, bc, la) != 0);
    free(ba);
    free(bb);
    free(bc);
    unlink(pa);
    unlink(pb);
    unlink(pc);
    free(pa);
    free(pb);
    free(pc);
}

static void test_bad_length(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    char err[256];
    gentrace_params_t zero = {0, 1}, huge = {GENTRACE_HOURS_MAX + 1, 1};
    assert_int_equal(gentrace_write(f, &zero, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "hours"));
    assert_int_equal(gentrace_write(f, &huge, NULL, err, sizeof err), -1);
    fclose(f);
}

/* The statistics on records made by hand: every rule at its edge. */
static void test_stats_rules(void **state)
{
    (void)state;
    const uint64_t L = GENTRACE_LARGE + 1, S = GENTRACE_LARGE; /* 10 MiB exactly is small */
    trace_record_t r[] = {
        {TRACE_OP_GET, 1, L, 0},       /* object 1: again at 3600 s: reused */
        {TRACE_OP_GET, 2, L, 10},      /* object 2: again at 3611 s: not within an hour */
        {TRACE_OP_SET, 3, L, 20},      /* object 3: PUT, then one GET: not reused */
        {TRACE_OP_GET, 3, L, 30},
        {TRACE_OP_GET, 9, S, 40},      /* small */
        {TRACE_OP_GET, 1, L, 3600},
        {TRACE_OP_GET, 2, L, 3611},    /* second hour */
        {TRACE_OP_GET, 9, S, 7000},
    };
    gentrace_stats_t s;
    assert_int_equal(gentrace_stats(r, 8, &s), 0);
    assert_int_equal(s.records, 8);
    assert_int_equal(s.puts, 1);
    assert_int_equal(s.large_gets, 5);
    assert_int_equal(s.small_gets, 2);
    assert_int_equal(s.large_objects, 3);
    assert_int_equal(s.large_reused, 1);
    assert_int_equal(s.max_large_gets_per_hour, 3);
    assert_true(s.hours == 2);
    assert_int_equal(s.bytes_large, 6 * L);
    assert_int_equal(s.bytes_total, 6 * L + 2 * S);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statistics_hold_when_read_back),
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_bad_length),
        cmocka_unit_test(test_stats_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
