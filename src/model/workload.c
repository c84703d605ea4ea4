/* workload.c -- icbench's deterministic generators: random numbers, Zipf keys, object sizes, object
 * bytes. */
#include "workload.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

uint64_t workload_mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void workload_rng_seed(workload_rng_t *r, uint64_t seed, uint64_t stream)
{
    r->state = workload_mix64(seed ^ workload_mix64(stream));
}

uint64_t workload_rng_next(workload_rng_t *r)
{
    r->state += 0x9E3779B97F4A7C15ull;
    uint64_t x = r->state;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

double workload_rng_double(workload_rng_t *r)
{
    return (double)(workload_rng_next(r) >> 11) * 0x1.0p-53;
}

double workload_rng_normal(workload_rng_t *r)
{
    double u1 = workload_rng_double(r), u2 = workload_rng_double(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int workload_zipf_init(workload_zipf_t *z, uint64_t n, double exponent)
{
    z->cdf = NULL;
    z->n = 0;
    if (n == 0 || n > WORKLOAD_KEYS_MAX || !isfinite(exponent) || exponent < 0 || exponent > 10)
        return -EINVAL;
    z->cdf = malloc(n * sizeof(double));
    if (!z->cdf) return -ENOMEM;
    double sum = 0;
    for (uint64_t k = 0; k < n; k++) {
        sum += pow((double)(k + 1), -exponent);
        z->cdf[k] = sum;
    }
    for (uint64_t k = 0; k < n; k++)
        z->cdf[k] /= sum;
    z->cdf[n - 1] = 1.0;
    z->n = n;
    return 0;
}

void workload_zipf_free(workload_zipf_t *z)
{
    free(z->cdf);
    z->cdf = NULL;
    z->n = 0;
}

uint64_t workload_zipf_draw(const workload_zipf_t *z, workload_rng_t *r)
{
    double u = workload_rng_double(r);
    uint64_t lo = 0, hi = z->n - 1; /* the first k with cdf[k] > u */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* A size with k/m/g suffix, 1 .. WORKLOAD_SIZE_MAX. */
static int size_value(const char *s, uint64_t *out)
{
    int64_t v;
    if (conf_parse_bytes(s, &v) < 0 || v < 1 || (uint64_t)v > WORKLOAD_SIZE_MAX) return -1;
    *out = (uint64_t)v;
    return 0;
}

int workload_size_parse(const char *spec, workload_size_t *out, char *err, size_t errlen)
{
    char buf[128];
    memset(out, 0, sizeof *out);
    if (strlen(spec) >= sizeof buf) goto bad;
    strcpy(buf, spec);
    char *arg = strchr(buf, ':');
    if (!arg) goto bad;
    *arg++ = 0;
    if (!strcmp(buf, "fixed")) {
        out->kind = SIZE_FIXED;
        if (size_value(arg, &out->a) < 0) goto bad;
        out->b = out->a;
        return 0;
    }
    if (!strcmp(buf, "uniform")) {
        out->kind = SIZE_UNIFORM;
        char *dash = strchr(arg, '-');
        if (!dash) goto bad;
        *dash++ = 0;
        if (size_value(arg, &out->a) < 0 || size_value(dash, &out->b) < 0 || out->a > out->b)
            goto bad;
        return 0;
    }
    if (!strcmp(buf, "lognormal")) {
        out->kind = SIZE_LOGNORMAL;
        char *comma = strchr(arg, ',');
        if (!comma) goto bad;
        *comma++ = 0;
        char *end;
        errno = 0;
        out->sigma = strtod(comma, &end);
        if (size_value(arg, &out->a) < 0 || errno || end == comma || *end ||
            !isfinite(out->sigma) || out->sigma < 0 || out->sigma > 10)
            goto bad;
        out->b = out->a;
        return 0;
    }
bad:
    snprintf(err, errlen,
             "size distribution '%s': expected fixed:SIZE, uniform:MIN-MAX or "
             "lognormal:MEDIAN,SIGMA (SIZE 1 .. 1t with k/m/g, SIGMA 0 .. 10)",
             spec);
    return -1;
}

uint64_t workload_size_draw(const workload_size_t *s, workload_rng_t *r, uint64_t cap)
{
    uint64_t v;
    switch (s->kind) {
    case SIZE_UNIFORM:
        v = s->a + workload_rng_next(r) % (s->b - s->a + 1);
        break;
    case SIZE_LOGNORMAL: {
        double x = (double)s->a * exp(s->sigma * workload_rng_normal(r));
        v = x < 1 ? 1 : x >= (double)WORKLOAD_SIZE_MAX ? WORKLOAD_SIZE_MAX : (uint64_t)(x + 0.5);
        break;
    }
    default:
        v = s->a;
    }
    if (cap > 0 && v > cap) v = cap;
    return v;
}

uint64_t workload_size_bound(const workload_size_t *s, uint64_t cap)
{
    if (s->kind == SIZE_LOGNORMAL) return s->sigma == 0 ? (cap && cap < s->a ? cap : s->a) : cap;
    return cap && cap < s->b ? cap : s->b;
}

/* The seed of the stream of (key, version). */
static uint64_t stream_seed(uint64_t key, uint32_t version)
{
    return workload_mix64(key ^ ((uint64_t)version * 0xD6E8FEB86659FD93ull));
}

static void fill_stream(unsigned char *p, size_t len, uint64_t seed)
{
    uint64_t i = 0;
    for (; len >= 8; len -= 8, p += 8, i++) {
        uint64_t w = workload_mix64(seed + i);
        memcpy(p, &w, 8);
    }
    if (len > 0) {
        uint64_t w = workload_mix64(seed + i);
        memcpy(p, &w, len);
    }
}

/* Checks whole 8-byte words of the stream from word `first` while they lie in p[0..len); the
 * stream's word i is at p + 8 * i. Returns the next word index to check. The loop is written
 * once and compiled twice: plainly, and for AVX-512DQ, whose 64-bit vector multiply lets the
 * compiler check eight words at a time (about five times faster). */
#define CHECK_WORDS_BODY                                                                           \
    uint64_t end = len / 8, i = first, d = 0;                                                      \
    for (; i < end; i++) {                                                                         \
        uint64_t got;                                                                              \
        memcpy(&got, p + 8 * i, 8);                                                                \
        d |= got ^ workload_mix64(seed + i);                                                       \
    }                                                                                              \
    *diff |= d;                                                                                    \
    return i < first ? first : i;

static uint64_t check_words_plain(const unsigned char *p, size_t len, uint64_t seed,
                                  uint64_t first, uint64_t *diff)
{
    CHECK_WORDS_BODY
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_CHECK_WORDS_WIDE 1
#if defined(__clang__)
#define WIDE_ATTRIBUTES __attribute__((target("avx512f,avx512dq")))
#else
#define WIDE_ATTRIBUTES                                                                            \
    __attribute__((target("avx512f,avx512dq"), optimize("tree-vectorize", "vect-cost-model=dynamic")))
#endif
static inline __attribute__((always_inline)) uint64_t mix64_inline(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
WIDE_ATTRIBUTES static uint64_t check_words_wide(const unsigned char *p, size_t len, uint64_t seed,
                                                 uint64_t first, uint64_t *diff)
{
#define workload_mix64 mix64_inline
    CHECK_WORDS_BODY
#undef workload_mix64
}
#endif

static _Atomic int use_plain = -1; /* -1: not decided yet; relaxed: all threads agree */

void workload_verify_use_plain(int plain)
{
    atomic_store_explicit(&use_plain, plain, memory_order_relaxed);
}

static uint64_t check_words(const unsigned char *p, size_t len, uint64_t seed, uint64_t first,
                            uint64_t *diff)
{
#ifdef HAVE_CHECK_WORDS_WIDE
    int plain = atomic_load_explicit(&use_plain, memory_order_relaxed);
    if (plain < 0) {
        __builtin_cpu_init();
        plain = !(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"));
        atomic_store_explicit(&use_plain, plain, memory_order_relaxed);
    }
    if (!plain) return check_words_wide(p, len, seed, first, diff);
#endif
    return check_words_plain(p, len, seed, first, diff);
}

/* The last partial word of a stream of len bytes at p. */
static int check_tail(const unsigned char *p, size_t len, uint64_t seed)
{
    size_t rest = len % 8;
    if (rest == 0) return 0;
    uint64_t w = workload_mix64(seed + len / 8);
    return memcmp(p + len - rest, &w, rest) != 0 ? -1 : 0;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void workload_object_fill(void *buf, size_t len, uint64_t key, uint32_t version)
{
    unsigned char *p = buf;
    if (len < WORKLOAD_HEADER) {
        fill_stream(p, len, stream_seed(key, 0));
        return;
    }
    memcpy(p, "ICB1", 4);
    put_le(p + 4, version, 4);
    put_le(p + 8, key, 8);
    put_le(p + 16, len, 8);
    fill_stream(p + WORKLOAD_HEADER, len - WORKLOAD_HEADER, stream_seed(key, version));
}

int workload_object_verify(const void *buf, size_t len, uint64_t key)
{
    workload_verify_t v;
    workload_verify_begin(&v, key);
    return workload_verify_end(&v, buf, len);
}

void workload_verify_begin(workload_verify_t *v, uint64_t key)
{
    memset(v, 0, sizeof *v);
    v->key = key;
}

/* Reads the header once it has arrived; returns the offset of the stream, or -1 if wrong. */
static long verify_start(workload_verify_t *v, const unsigned char *p, size_t len, size_t have)
{
    if (v->len == 0 && !v->wrong) {
        if (len < WORKLOAD_HEADER) {
            v->seed = stream_seed(v->key, 0);
        } else {
            if (have < WORKLOAD_HEADER) return -1;
            if (memcmp(p, "ICB1", 4) != 0 || get_le(p + 8, 8) != v->key || get_le(p + 16, 8) != len)
                v->wrong = 1;
            v->seed = stream_seed(v->key, (uint32_t)get_le(p + 4, 4));
        }
        v->len = len;
    }
    if (v->len != len) v->wrong = 1;
    return len < WORKLOAD_HEADER ? 0 : WORKLOAD_HEADER;
}

void workload_verify_update(workload_verify_t *v, const void *buf, size_t len, size_t have)
{
    const unsigned char *p = buf;
    long start = verify_start(v, p, len, have);
    if (start < 0 || v->wrong || have > len) return;
    uint64_t diff = 0;
    uint64_t from = v->checked > (size_t)start ? (v->checked - (size_t)start) / 8 : 0;
    uint64_t next = check_words(p + start, have - (size_t)start, v->seed, from, &diff);
    if (diff) v->wrong = 1;
    v->checked = (size_t)start + 8 * next;
}

int workload_verify_end(workload_verify_t *v, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    long start = verify_start(v, p, len, len);
    if (start < 0 || v->wrong) return -1;
    uint64_t diff = 0;
    uint64_t from = v->checked > (size_t)start ? (v->checked - (size_t)start) / 8 : 0;
    check_words(p + start, len - (size_t)start, v->seed, from, &diff);
    if (diff || check_tail(p + start, len - (size_t)start, v->seed) < 0) return -1;
    return 0;
}
