/* test_ec.c -- erasure coding checked against a plain GF(2^8) reference written here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "ec.h"

/* Reference GF(2^8) with the polynomial x^8+x^4+x^3+x^2+1 (0x11d), the one ISA-L uses. */
static uint8_t ref_mul(uint8_t a, uint8_t b)
{
    uint8_t r = 0;
    while (b) {
        if (b & 1) r ^= a;
        b >>= 1;
        a = (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1d : 0));
    }
    return r;
}

static uint8_t ref_inv(uint8_t a)
{
    for (int x = 1; x < 256; x++)
        if (ref_mul(a, (uint8_t)x) == 1) return (uint8_t)x;
    return 0;
}

/* Parity row r (0-based), column j of the encoding matrix: Cauchy 1/(i ^ j) with i = d + r, or a
 * plain copy when d == 1 (the project's replication case). */
static uint8_t ref_coef(int d, int r, int j)
{
    if (d == 1) return 1;
    return ref_inv((uint8_t)((d + r) ^ j));
}

static void ref_encode(int d, int p, size_t cs, uint8_t **data, uint8_t **parity)
{
    for (int r = 0; r < p; r++)
        for (size_t b = 0; b < cs; b++) {
            uint8_t s = 0;
            for (int j = 0; j < d; j++) s ^= ref_mul(ref_coef(d, r, j), data[j][b]);
            parity[r][b] = s;
        }
}

typedef struct {
    int d, p;
    size_t cs;
    uint8_t *mem;
    uint8_t *chunk[EC_MAX_CHUNKS];
} shards_t;

static void shards_make(shards_t *s, int d, int p, size_t cs, unsigned seed)
{
    s->d = d;
    s->p = p;
    s->cs = cs;
    s->mem = malloc((size_t)(d + p) * cs + 1);
    assert_non_null(s->mem);
    srand(seed);
    for (int i = 0; i < d + p; i++) s->chunk[i] = s->mem + (size_t)i * cs;
    for (size_t b = 0; b < (size_t)d * cs; b++) s->mem[b] = (uint8_t)rand();
}

static void check_encode(int d, int p, size_t cs)
{
    shards_t s;
    shards_make(&s, d, p, cs, (unsigned)(d * 131 + p));
    assert_int_equal(ec_encode(d, p, cs, s.chunk, s.chunk + d), 0);
    uint8_t *ref = malloc((size_t)p * cs + 1);
    uint8_t *refp[EC_MAX_CHUNKS];
    for (int r = 0; r < p; r++) refp[r] = ref + (size_t)r * cs;
    ref_encode(d, p, cs, s.chunk, refp);
    for (int r = 0; r < p; r++)
        if (memcmp(refp[r], s.chunk[d + r], cs) != 0) fail_msg("RS(%d+%d) parity %d differs", d, p, r);
    free(ref);
    free(s.mem);
}

static void test_encode_matches_reference(void **state)
{
    (void)state;
    int cfg[][2] = {{10, 2}, {4, 2}, {1, 2}, {10, 1}, {5, 1}, {10, 4}, {2, 1}, {32, 16}, {1, 47}, {20, 28}};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) check_encode(cfg[i][0], cfg[i][1], 128);
    check_encode(10, 2, 64 * 33);
    check_encode(10, 2, 64 * 7);
}

/* Erases `ne` chunks listed in er[], decodes them from the first d survivors, compares. */
static void check_decode_pattern(const shards_t *s, const int *er, int ne)
{
    int d = s->d, n = s->d + s->p;
    int have_idx[EC_MAX_CHUNKS], want_idx[EC_MAX_CHUNKS];
    uint8_t *have[EC_MAX_CHUNKS], *want[EC_MAX_CHUNKS];
    int nh = 0;
    for (int i = 0; i < n && nh < d; i++) {
        int erased = 0;
        for (int k = 0; k < ne; k++) erased |= er[k] == i;
        if (erased) continue;
        have_idx[nh] = i;
        have[nh++] = s->chunk[i];
    }
    assert_int_equal(nh, d);
    uint8_t *out = malloc((size_t)ne * s->cs + 1);
    for (int k = 0; k < ne; k++) {
        want_idx[k] = er[k];
        want[k] = out + (size_t)k * s->cs;
        memset(want[k], 0xAA, s->cs);
    }
    assert_int_equal(ec_decode(d, s->p, s->cs, have_idx, have, ne, want_idx, want), 0);
    for (int k = 0; k < ne; k++)
        if (memcmp(want[k], s->chunk[er[k]], s->cs) != 0)
            fail_msg("RS(%d+%d): rebuilding chunk %d (of %d erased) failed", d, s->p, er[k], ne);
    free(out);
}

static void check_all_erasures(int d, int p, size_t cs)
{
    shards_t s;
    shards_make(&s, d, p, cs, (unsigned)(d * 7 + p));
    assert_int_equal(ec_encode(d, p, cs, s.chunk, s.chunk + d), 0);
    int n = d + p;
    for (int a = 0; a < n; a++) {
        int er1[1] = {a};
        if (p >= 1) check_decode_pattern(&s, er1, 1);
        for (int b = a + 1; b < n && p >= 2; b++) {
            int er2[2] = {a, b};
            check_decode_pattern(&s, er2, 2);
        }
    }
    free(s.mem);
}

static void test_decode_single_double(void **state)
{
    (void)state;
    check_all_erasures(10, 2, 256);
    check_all_erasures(4, 2, 256);
    check_all_erasures(1, 2, 128);
    check_all_erasures(10, 1, 128);
    check_all_erasures(32, 16, 64);
    check_all_erasures(1, 47, 64);
}

static void test_decode_random_many(void **state)
{
    (void)state;
    int cfg[][2] = {{32, 16}, {10, 4}, {16, 32}, {4, 2}};
    srand(7);
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        int d = cfg[c][0], p = cfg[c][1], n = d + p;
        shards_t s;
        shards_make(&s, d, p, 192, 99);
        assert_int_equal(ec_encode(d, p, 192, s.chunk, s.chunk + d), 0);
        for (int round = 0; round < 50; round++) {
            int perm[EC_MAX_CHUNKS];
            for (int i = 0; i < n; i++) perm[i] = i;
            for (int i = n - 1; i > 0; i--) {
                int j = rand() % (i + 1), t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            check_decode_pattern(&s, perm, p); /* the most erasures that can be survived */
        }
        free(s.mem);
    }
}

/* The tables are cached per (d, p): alternating between codes must never hand one code's tables
 * to another. */
static void test_encode_alternating_codes(void **state)
{
    (void)state;
    int cfg[][2] = {{10, 2}, {4, 2}, {10, 4}, {10, 2}, {2, 1}, {4, 2}, {10, 2}};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        check_encode(cfg[i][0], cfg[i][1], 448);
}

/* Every one- and two-chunk erasure of RS(10+2), three times over: the first pass fills the decode
 * cache, the later ones read it back, and evictions in between must not mix patterns up. The
 * same survivors with the wanted chunks in the opposite order must give their own tables. */
static void test_decode_cached_patterns(void **state)
{
    (void)state;
    for (int pass = 0; pass < 3; pass++)
        check_all_erasures(10, 2, 320);
    shards_t s;
    shards_make(&s, 10, 2, 128, 5);
    assert_int_equal(ec_encode(10, 2, 128, s.chunk, s.chunk + 10), 0);
    int forward[2] = {3, 7}, backward[2] = {7, 3};
    check_decode_pattern(&s, forward, 2);
    check_decode_pattern(&s, backward, 2);
    check_decode_pattern(&s, forward, 2);
    free(s.mem);
}

/* Asking for more chunks than p (here every chunk, from the data chunks) bypasses the cache. */
static void test_decode_more_than_p(void **state)
{
    (void)state;
    shards_t s;
    shards_make(&s, 4, 2, 192, 11);
    assert_int_equal(ec_encode(4, 2, 192, s.chunk, s.chunk + 4), 0);
    int have_idx[4] = {0, 1, 2, 3}, want_idx[6] = {5, 4, 3, 2, 1, 0};
    uint8_t *want[6], *out = malloc(6 * 192);
    for (int k = 0; k < 6; k++)
        want[k] = out + k * 192;
    assert_int_equal(ec_decode(4, 2, 192, have_idx, s.chunk, 6, want_idx, want), 0);
    for (int k = 0; k < 6; k++)
        assert_memory_equal(want[k], s.chunk[want_idx[k]], 192);
    free(out);
    free(s.mem);
}

/* Several threads use codes they may be the first to build, and decode patterns that evict one
 * another, at once: each checks its own results. */
#define THREADS 4
typedef struct {
    int d, p, id;
    int failures;
} thread_job_t;

static void *coding_thread(void *arg)
{
    thread_job_t *job = arg;
    int d = job->d, p = job->p, n = d + p;
    size_t cs = 256;
    uint8_t *mem = malloc((size_t)(2 * n) * cs), *chunk[EC_MAX_CHUNKS], *want[EC_MAX_CHUNKS];
    for (int i = 0; i < n; i++)
        chunk[i] = mem + (size_t)i * cs;
    for (size_t b = 0; b < (size_t)d * cs; b++)
        mem[b] = (uint8_t)(b * 7 + (size_t)job->id);
    uint8_t *expected = malloc((size_t)p * cs);
    for (int round = 0; round < 300; round++) {
        if (ec_encode(d, p, cs, chunk, chunk + d) != 0) job->failures++;
        if (round == 0)
            memcpy(expected, chunk[d], (size_t)p * cs);
        else if (memcmp(expected, chunk[d], (size_t)p * cs) != 0)
            job->failures++;
        /* Lose chunks (round, round + 1) mod n: rebuild them from the first d others. */
        int lost[2] = {round % n, (round + 1) % n}, have_idx[EC_MAX_CHUNKS], want_idx[2];
        uint8_t *have[EC_MAX_CHUNKS];
        int nh = 0, nwant = p >= 2 ? 2 : 1;
        for (int i = 0; i < n && nh < d; i++)
            if (i != lost[0] && (nwant < 2 || i != lost[1])) {
                have_idx[nh] = i;
                have[nh++] = chunk[i];
            }
        for (int k = 0; k < nwant; k++) {
            want_idx[k] = lost[k];
            want[k] = mem + (size_t)(n + k) * cs;
        }
        if (ec_decode(d, p, cs, have_idx, have, nwant, want_idx, want) != 0) job->failures++;
        for (int k = 0; k < nwant; k++)
            if (memcmp(want[k], chunk[lost[k]], cs) != 0) job->failures++;
    }
    free(expected);
    free(mem);
    return NULL;
}

static void test_threads_share_codes(void **state)
{
    (void)state;
    /* Codes no earlier test used, so the threads race to build them. */
    thread_job_t jobs[THREADS] = {{6, 3, 0, 0}, {6, 3, 1, 0}, {7, 2, 2, 0}, {7, 2, 3, 0}};
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, coding_thread, &jobs[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(jobs[i].failures, 0);
    check_encode(6, 3, 128);
    check_encode(7, 2, 128);
}

static void test_params_and_errors(void **state)
{
    (void)state;
    assert_true(ec_params_valid(1, 0));
    assert_true(ec_params_valid(32, 16));
    assert_false(ec_params_valid(0, 2));
    assert_false(ec_params_valid(33, 0));
    assert_false(ec_params_valid(32, 17));
    assert_false(ec_params_valid(2, -1));
    uint8_t a[64] = {1}, b[64] = {2}, c[64];
    uint8_t *have[2] = {a, b}, *want[1] = {c};
    int dup[2] = {0, 0}, idx_bad[2] = {0, 9}, want_idx[1] = {2};
    assert_int_equal(ec_decode(2, 1, 64, dup, have, 1, want_idx, want), -22);
    assert_int_equal(ec_decode(2, 1, 64, idx_bad, have, 1, want_idx, want), -22);
    int ok[2] = {0, 1}, want_bad[1] = {3};
    assert_int_equal(ec_decode(2, 1, 64, ok, have, 1, want_bad, want), -22);
    assert_int_equal(ec_encode(0, 1, 64, have, want), -22);
    /* p == 0 is valid and a no-op. */
    assert_int_equal(ec_encode(2, 0, 64, have, want), 0);
}

static void test_chunk_size(void **state)
{
    (void)state;
    assert_int_equal(ec_chunk_size(0, 10), 0);
    assert_int_equal(ec_chunk_size(1, 10), 64);
    assert_int_equal(ec_chunk_size(640, 10), 64);
    assert_int_equal(ec_chunk_size(641, 10), 128);
    assert_int_equal(ec_chunk_size(65536, 1), 65536);
    assert_int_equal(ec_chunk_size(65537, 1), 65600);
    assert_int_equal(ec_chunk_size(100u << 20, 10), 10485760);
    assert_int_equal(ec_chunk_size((1u << 30) + 1, 3), 357913984);
    for (uint64_t sz = 1; sz < 5000; sz += 37)
        for (int d = 1; d <= 32; d++) {
            size_t cs = ec_chunk_size(sz, d);
            assert_true(cs % EC_ALIGN == 0);
            assert_true((uint64_t)cs * (uint64_t)d >= sz);
            assert_true((uint64_t)(cs - EC_ALIGN) * (uint64_t)d < sz);
        }
}

/* Bitwise CRC-32C (reflected polynomial 0x82F63B78), to check ec_crc on any length. */
static uint32_t ref_crc32c(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return crc ^ 0xFFFFFFFFu;
}

static void test_crc(void **state)
{
    (void)state;
    assert_int_equal(ec_crc("123456789", 9), 0xE3069283u);
    assert_int_equal(ec_crc("", 0), 0);
    uint8_t z[32] = {0};
    assert_int_equal(ec_crc(z, 32), 0x8A9136AAu); /* RFC 3720 B.4: 32 bytes of zeros */
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 151 + 3);
    for (size_t n = 0; n <= sizeof buf; n += 37)
        assert_int_equal(ec_crc(buf, n), ref_crc32c(buf, n));
}

static void test_crc_combine(void **state)
{
    (void)state;
    uint8_t buf[3000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 89 + 7);
    /* Any split, three ways: head, piece, tail, as a ranged read checks a chunk. */
    for (size_t a = 0; a <= sizeof buf; a += 211)
        for (size_t b = a; b <= sizeof buf; b += 307) {
            uint32_t head = ec_crc(buf, a), mid = ec_crc(buf + a, b - a);
            uint32_t tail = ec_crc(buf + b, sizeof buf - b);
            uint32_t all = ec_crc_combine(ec_crc_combine(head, mid, b - a), tail, sizeof buf - b);
            assert_int_equal(all, ec_crc(buf, sizeof buf));
        }
    /* A flipped byte in the piece is seen. */
    uint32_t head = ec_crc(buf, 100), tail = ec_crc(buf + 200, sizeof buf - 200);
    buf[150] ^= 1;
    uint32_t mid = ec_crc(buf + 100, 100);
    assert_true(ec_crc_combine(ec_crc_combine(head, mid, 100), tail, sizeof buf - 200) !=
                ref_crc32c((buf[150] ^= 1, buf), sizeof buf));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_matches_reference),
        cmocka_unit_test(test_decode_single_double),
        cmocka_unit_test(test_decode_random_many),
        cmocka_unit_test(test_encode_alternating_codes),
        cmocka_unit_test(test_decode_cached_patterns),
        cmocka_unit_test(test_decode_more_than_p),
        cmocka_unit_test(test_threads_share_codes),
        cmocka_unit_test(test_params_and_errors),
        cmocka_unit_test(test_chunk_size),
        cmocka_unit_test(test_crc),
        cmocka_unit_test(test_crc_combine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
