/* workload.h -- icbench's deterministic generators: random numbers, Zipf keys, object sizes, object
 * bytes. */
#ifndef IC_WORKLOAD_H
#define IC_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64: a tiny generator whose state can be derived from (seed, request index), so every
 * target replays exactly the same requests whichever thread takes them. */
typedef struct {
    uint64_t state;
} workload_rng_t;

uint64_t workload_mix64(uint64_t x);
void workload_rng_seed(workload_rng_t *r, uint64_t seed, uint64_t stream);
uint64_t workload_rng_next(workload_rng_t *r);
double workload_rng_double(workload_rng_t *r); /* uniform in [0, 1) */
double workload_rng_normal(workload_rng_t *r); /* standard normal (Box-Muller) */

/* Zipf popularity over keys 0..n-1: key k is drawn with probability proportional to
 * 1/(k+1)^exponent (exponent 0 is uniform). The table is n doubles. */
#define WORKLOAD_KEYS_MAX 10000000
typedef struct {
    double *cdf;
    uint64_t n;
} workload_zipf_t;

int workload_zipf_init(workload_zipf_t *z, uint64_t n, double exponent); /* 0 or -ENOMEM/-EINVAL */
void workload_zipf_free(workload_zipf_t *z);
uint64_t workload_zipf_draw(const workload_zipf_t *z, workload_rng_t *r);

/* Object sizes: "fixed:SIZE", "uniform:MIN-MAX" or "lognormal:MEDIAN,SIGMA" (SIZE with k/m/g). */
typedef enum { SIZE_FIXED, SIZE_UNIFORM, SIZE_LOGNORMAL } workload_size_kind_t;
typedef struct {
    workload_size_kind_t kind;
    uint64_t a, b; /* fixed: a; uniform: a..b inclusive; lognormal: median a */
    double sigma;
} workload_size_t;

#define WORKLOAD_SIZE_MAX ((uint64_t)1 << 40)
/* 0, or -1 with a reason in err. */
int workload_size_parse(const char *spec, workload_size_t *out, char *err, size_t errlen);
/* A size drawn from the distribution, at least 1 and at most cap (if cap > 0). */
uint64_t workload_size_draw(const workload_size_t *s, workload_rng_t *r, uint64_t cap);
/* The largest size the distribution can give with cap, or 0 if unbounded (lognormal, no cap). */
uint64_t workload_size_bound(const workload_size_t *s, uint64_t cap);

/* Object bytes are a function of (key, version): objects of 24 bytes or more start with a
 * header (magic "ICB1", version, key, size) followed by a stream derived from key and version;
 * shorter ones are the first bytes of the version-0 stream. A GET can then check any value it
 * receives without knowing which version the server had. */
#define WORKLOAD_HEADER 24
void workload_object_fill(void *buf, size_t len, uint64_t key, uint32_t version);
/* 0 if buf[0..len) is a version of key's object of length len, -1 if the bytes are wrong. */
int workload_object_verify(const void *buf, size_t len, uint64_t key);

/* The same check done piecewise while a value arrives, so most of it overlaps the transfer:
 * begin, then update with the bytes received so far (buf[0..have) of a len-byte value; have
 * only grows, the buffer stays put), then end with the whole value. end checks whatever update
 * has not, so calling only begin and end is the plain check. */
typedef struct {
    uint64_t key;
    size_t len;     /* 0 until the first update or end */
    size_t checked; /* bytes of buf already checked */
    uint64_t seed;  /* of the stream after the header */
    int wrong;
} workload_verify_t;
void workload_verify_begin(workload_verify_t *v, uint64_t key);
void workload_verify_update(workload_verify_t *v, const void *buf, size_t len, size_t have);
int workload_verify_end(workload_verify_t *v, const void *buf, size_t len); /* 0 or -1 */
/* Tests: 1 forces the plain check, 0 the fast one where the CPU has it (the default picks). */
void workload_verify_use_plain(int plain);

#endif
