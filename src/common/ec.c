/* ec.c -- RS(d+p) encode/decode with ISA-L; Cauchy matrix, or replication when d == 1. */
#include "ec.h"

#include <errno.h>
#include <isa-l/crc.h>
#include <isa-l/erasure_code.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ISA-L's coding and CRC routines take an int length, so chunks go through them in slices of at
 * most this many bytes: a multiple of EC_ALIGN, well under INT_MAX. test_ec builds this file a
 * second time with a small value, to check the slicing against the reference on small buffers. */
#ifndef EC_SLICE_BYTES
#define EC_SLICE_BYTES ((size_t)1 << 30)
#endif
_Static_assert(EC_SLICE_BYTES % EC_ALIGN == 0 && EC_SLICE_BYTES <= (size_t)1 << 30,
               "slices must stay aligned and fit ISA-L's int lengths");

/* ISA-L's expanded tables: 32 bytes per matrix coefficient. */
#define TABLE_BYTES_PER_COEF 32
#define MAX_TABLE_BYTES (EC_MAX_DATA * EC_MAX_CHUNKS * TABLE_BYTES_PER_COEF)

/* Decode tables depend on which chunks survived, so they are cached per erasure pattern: per
 * (d, p), up to DECODE_CACHE_MAX_SLOTS patterns and DECODE_CACHE_MAX_BYTES of tables (RS(10+2):
 * 128 slots of 640 bytes, room for all its 66 two-loss patterns), each pattern kept in one of
 * DECODE_CACHE_WAYS slots from its hash on. */
#define DECODE_CACHE_MAX_SLOTS 128
#define DECODE_CACHE_MAX_BYTES (256 * 1024)
#define DECODE_CACHE_WAYS 4

typedef struct {
    uint8_t key_len;            /* d + nwant; 0 while the slot is empty */
    uint8_t key[EC_MAX_CHUNKS]; /* have_idx[0..d) then want_idx[0..nwant) */
    uint8_t *tables;            /* d * nwant * 32 bytes, nwant <= p */
} decode_slot_t;

/* Everything that depends only on (d, p), built once and never freed: at most one per pair. */
typedef struct {
    int d, p;
    uint8_t matrix[EC_MAX_CHUNKS * EC_MAX_DATA]; /* (d + p) x d: identity, then the parity rows */
    uint8_t *encode_tables;                      /* d * p * 32 bytes, behind this struct */
    /* The decode cache: the lock guards the slots and their tables, which are allocated on the
     * first decode; callers copy tables out under it, so no table is read while rewritten. */
    pthread_mutex_t decode_lock;
    int decode_nslots;
    unsigned decode_next_victim;
    decode_slot_t *decode_slots;
} ec_code_t;

/* Published once per (d, p) with a compare-and-swap, then only read: the encode path takes no
 * lock. Index [d][p]; d + p <= EC_MAX_CHUNKS keeps p below EC_MAX_CHUNKS. */
static _Atomic(ec_code_t *) codes[EC_MAX_DATA + 1][EC_MAX_CHUNKS];

int ec_params_valid(int d, int p)
{
    return d >= 1 && d <= EC_MAX_DATA && p >= 0 && d + p <= EC_MAX_CHUNKS;
}

size_t ec_chunk_size(uint64_t object_size, int d)
{
    /* Written so that no intermediate sum can wrap, whatever the object size. */
    uint64_t per = object_size / (uint64_t)d + (object_size % (uint64_t)d != 0);
    uint64_t aligned = per / EC_ALIGN * EC_ALIGN + (per % EC_ALIGN ? EC_ALIGN : 0);
    return (size_t)aligned;
}

/* The (d+p) x d encoding matrix: identity on top, then the parity rows. */
static void encode_matrix(int d, int p, uint8_t *m)
{
    int n = d + p;
    if (d == 1) {
        memset(m, 1, (size_t)n); /* every chunk is a copy of the one data chunk */
        return;
    }
    gf_gen_cauchy1_matrix(m, n, d);
}

/* The code for (d, p), built on first use; NULL only if memory ran out, and then the callers
 * build what they need on the stack for that one call, as every call once did. */
static ec_code_t *code_get(int d, int p)
{
    ec_code_t *code = atomic_load_explicit(&codes[d][p], memory_order_acquire);
    if (code) return code;
    size_t encode_bytes = (size_t)d * (size_t)p * TABLE_BYTES_PER_COEF;
    code = calloc(1, sizeof *code + encode_bytes);
    if (!code) return NULL;
    code->d = d;
    code->p = p;
    code->encode_tables = (uint8_t *)(code + 1);
    encode_matrix(d, p, code->matrix);
    if (d > 1) ec_init_tables(d, p, code->matrix + d * d, code->encode_tables);
    if (pthread_mutex_init(&code->decode_lock, NULL) != 0) {
        free(code);
        return NULL;
    }
    ec_code_t *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&codes[d][p], &expected, code,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        /* Another thread published the same code first: use its copy. */
        pthread_mutex_destroy(&code->decode_lock);
        free(code);
        code = expected;
    }
    return code;
}

/* Runs ISA-L's multiply-accumulate over chunks of any size: out[r] = sum over i of
 * coef(r, i) x in[i], for rows chunks out of k inputs, slice by slice. */
static void code_in_slices(size_t chunk_size, int k, int rows, const uint8_t *tables,
                           uint8_t *const *in, uint8_t *const *out)
{
    if (chunk_size <= EC_SLICE_BYTES) {
        ec_encode_data((int)chunk_size, k, rows, (unsigned char *)tables, (unsigned char **)in,
                       (unsigned char **)out);
        return;
    }
    unsigned char *in_slice[EC_MAX_CHUNKS], *out_slice[EC_MAX_CHUNKS];
    for (size_t off = 0; off < chunk_size; off += EC_SLICE_BYTES) {
        size_t len = chunk_size - off < EC_SLICE_BYTES ? chunk_size - off : EC_SLICE_BYTES;
        for (int i = 0; i < k; i++)
            in_slice[i] = in[i] + off;
        for (int r = 0; r < rows; r++)
            out_slice[r] = out[r] + off;
        ec_encode_data((int)len, k, rows, (unsigned char *)tables, in_slice, out_slice);
    }
}

int ec_encode(int d, int p, size_t chunk_size, uint8_t *const *data, uint8_t *const *parity)
{
    if (!ec_params_valid(d, p)) return -EINVAL;
    if (p == 0 || chunk_size == 0) return 0;
    if (d == 1) {
        for (int i = 0; i < p; i++)
            memcpy(parity[i], data[0], chunk_size);
        return 0;
    }
    const ec_code_t *code = code_get(d, p);
    if (code) {
        code_in_slices(chunk_size, d, p, code->encode_tables, data, parity);
        return 0;
    }
    uint8_t m[EC_MAX_CHUNKS * EC_MAX_DATA], tables[MAX_TABLE_BYTES];
    encode_matrix(d, p, m);
    ec_init_tables(d, p, m + d * d, tables);
    code_in_slices(chunk_size, d, p, tables, data, parity);
    return 0;
}

/* Builds the tables that turn have_idx's chunks into want_idx's, from the encoding matrix m.
 * -EINVAL if the chunks in have_idx cannot be inverted (they always can with distinct indexes). */
static int decode_tables_build(int d, const uint8_t *m, const int *have_idx, int nwant,
                               const int *want_idx, uint8_t *tables)
{
    uint8_t sub[EC_MAX_DATA * EC_MAX_DATA], inv[EC_MAX_DATA * EC_MAX_DATA];
    uint8_t rows[EC_MAX_CHUNKS * EC_MAX_DATA];
    for (int i = 0; i < d; i++)
        memcpy(sub + i * d, m + have_idx[i] * d, (size_t)d);
    if (gf_invert_matrix(sub, inv, d) < 0) return -EINVAL;
    /* Row for chunk w = (encoding row of w) x inverse: data chunk j = inv row j. */
    for (int k = 0; k < nwant; k++) {
        const uint8_t *erow = m + want_idx[k] * d;
        for (int j = 0; j < d; j++) {
            uint8_t s = 0;
            for (int t = 0; t < d; t++)
                s ^= gf_mul(erow[t], inv[t * d + j]);
            rows[k * d + j] = s;
        }
    }
    ec_init_tables(d, nwant, rows, tables);
    return 0;
}

/* The cache key of an erasure pattern: the indexes in the order given, since the tables' columns
 * follow have_idx's order and their rows want_idx's. Returns its length. */
static int pattern_key(int d, const int *have_idx, int nwant, const int *want_idx, uint8_t *key)
{
    for (int i = 0; i < d; i++)
        key[i] = (uint8_t)have_idx[i];
    for (int k = 0; k < nwant; k++)
        key[d + k] = (uint8_t)want_idx[k];
    return d + nwant;
}

static unsigned pattern_hash(const uint8_t *key, int len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < len; i++)
        h = (h ^ key[i]) * 16777619u;
    return h;
}

/* Copies the cached tables for the pattern into tables; 1 on a hit, 0 on a miss. */
static int decode_cache_lookup(ec_code_t *code, const uint8_t *key, int key_len, uint8_t *tables)
{
    int hit = 0;
    size_t bytes = (size_t)code->d * (size_t)(key_len - code->d) * TABLE_BYTES_PER_COEF;
    pthread_mutex_lock(&code->decode_lock);
    if (code->decode_slots) {
        unsigned first = pattern_hash(key, key_len);
        for (int w = 0; w < DECODE_CACHE_WAYS && !hit; w++) {
            decode_slot_t *s =
                &code->decode_slots[(first + (unsigned)w) % (unsigned)code->decode_nslots];
            if (s->key_len == key_len && memcmp(s->key, key, (size_t)key_len) == 0) {
                memcpy(tables, s->tables, bytes);
                hit = 1;
            }
        }
    }
    pthread_mutex_unlock(&code->decode_lock);
    return hit;
}

/* Remembers the tables of a pattern: in an empty slot of its window, else in place of one of the
 * window's entries in turn. Allocates the slots on the first call; without memory it caches
 * nothing. */
static void decode_cache_store(ec_code_t *code, const uint8_t *key, int key_len,
                               const uint8_t *tables)
{
    int d = code->d, p = code->p;
    size_t slot_table_bytes = (size_t)d * (size_t)p * TABLE_BYTES_PER_COEF;
    pthread_mutex_lock(&code->decode_lock);
    if (!code->decode_slots) {
        size_t nslots = DECODE_CACHE_MAX_BYTES / slot_table_bytes;
        if (nslots > DECODE_CACHE_MAX_SLOTS) nslots = DECODE_CACHE_MAX_SLOTS;
        if (nslots < DECODE_CACHE_WAYS) nslots = DECODE_CACHE_WAYS;
        decode_slot_t *slots = calloc(nslots, sizeof *slots + slot_table_bytes);
        if (!slots) goto out;
        uint8_t *table_mem = (uint8_t *)(slots + nslots);
        for (size_t i = 0; i < nslots; i++)
            slots[i].tables = table_mem + i * slot_table_bytes;
        code->decode_slots = slots;
        code->decode_nslots = (int)nslots;
    }
    unsigned first = pattern_hash(key, key_len);
    decode_slot_t *victim = NULL;
    for (int w = 0; w < DECODE_CACHE_WAYS && !victim; w++) {
        decode_slot_t *s =
            &code->decode_slots[(first + (unsigned)w) % (unsigned)code->decode_nslots];
        if (s->key_len == 0 || (s->key_len == key_len && memcmp(s->key, key, (size_t)key_len) == 0))
            victim = s;
    }
    if (!victim) {
        unsigned w = code->decode_next_victim++ % DECODE_CACHE_WAYS;
        victim = &code->decode_slots[(first + w) % (unsigned)code->decode_nslots];
    }
    victim->key_len = (uint8_t)key_len;
    memcpy(victim->key, key, (size_t)key_len);
    memcpy(victim->tables, tables, (size_t)d * (size_t)(key_len - d) * TABLE_BYTES_PER_COEF);
out:
    pthread_mutex_unlock(&code->decode_lock);
}

int ec_decode(int d, int p, size_t chunk_size, const int *have_idx, uint8_t *const *have, int nwant,
              const int *want_idx, uint8_t *const *want)
{
    int n = d + p;
    if (!ec_params_valid(d, p) || nwant < 0 || nwant > n) return -EINVAL;
    uint8_t seen[EC_MAX_CHUNKS] = {0};
    for (int i = 0; i < d; i++) {
        if (have_idx[i] < 0 || have_idx[i] >= n || seen[have_idx[i]]) return -EINVAL;
        seen[have_idx[i]] = 1;
    }
    for (int i = 0; i < nwant; i++)
        if (want_idx[i] < 0 || want_idx[i] >= n) return -EINVAL;
    if (nwant == 0 || chunk_size == 0) return 0;
    if (d == 1) { /* replication: every chunk equals the one survivor */
        for (int k = 0; k < nwant; k++)
            if (want[k] != have[0]) memcpy(want[k], have[0], chunk_size);
        return 0;
    }

    uint8_t tables[MAX_TABLE_BYTES];
    ec_code_t *code = code_get(d, p);
    if (!code) {
        uint8_t m[EC_MAX_CHUNKS * EC_MAX_DATA];
        encode_matrix(d, p, m);
        if (decode_tables_build(d, m, have_idx, nwant, want_idx, tables) < 0) return -EINVAL;
    } else {
        /* Only patterns of at most p wanted chunks are cached, which bounds a slot's tables;
         * asking for more (a parity chunk rebuilt alongside p others) is rare. */
        uint8_t key[EC_MAX_CHUNKS];
        int cacheable = nwant <= p;
        int key_len = cacheable ? pattern_key(d, have_idx, nwant, want_idx, key) : 0;
        if (!cacheable || !decode_cache_lookup(code, key, key_len, tables)) {
            if (decode_tables_build(d, code->matrix, have_idx, nwant, want_idx, tables) < 0)
                return -EINVAL;
            if (cacheable) decode_cache_store(code, key, key_len, tables);
        }
    }
    code_in_slices(chunk_size, d, nwant, tables, have, want);
    return 0;
}

uint32_t ec_crc(const void *p, size_t n)
{
    /* crc32_iscsi neither inverts its seed nor its result, so slices chain through the raw
     * register; the one inversion at each end makes it the standard CRC-32C. */
    const unsigned char *bytes = p;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t off = 0; off < n; off += EC_SLICE_BYTES) {
        size_t len = n - off < EC_SLICE_BYTES ? n - off : EC_SLICE_BYTES;
        crc = crc32_iscsi((unsigned char *)bytes + off, (int)len, crc);
    }
    return crc ^ 0xFFFFFFFFu;
}
