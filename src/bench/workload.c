/* workload.c -- icbench's deterministic generators: random numbers, Zipf keys, object sizes, object
 * bytes. */
#include "workload.h"

#include <errno.h>
#include <math.h>
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

static int check_stream(const unsigned char *p, size_t len, uint64_t seed)
{
    uint64_t i = 0, diff = 0;
    for (; len >= 8; len -= 8, p += 8, i++) {
        uint64_t w = workload_mix64(seed + i), got;
        memcpy(&got, p, 8);
        diff |= w ^ got;
    }
    if (len > 0) {
        uint64_t w = workload_mix64(seed + i);
        if (memcmp(p, &w, len) != 0) return -1;
    }
    return diff ? -1 : 0;
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
    const unsigned char *p = buf;
    if (len < WORKLOAD_HEADER) return check_stream(p, len, stream_seed(key, 0));
    if (memcmp(p, "ICB1", 4) != 0 || get_le(p + 8, 8) != key || get_le(p + 16, 8) != len) return -1;
    uint32_t version = (uint32_t)get_le(p + 4, 4);
    return check_stream(p + WORKLOAD_HEADER, len - WORKLOAD_HEADER, stream_seed(key, version));
}
