/* reclaim.h -- when the platform reclaims instances (pure, no clock, no I/O): time compression of
 * the idle limit and the random reclaim rate, a seedable PRNG, exponential waiting times. */
#ifndef IC_MODEL_RECLAIM_H
#define IC_MODEL_RECLAIM_H

#include <stdint.h>

/* Bounds of the decimal options (the proxy accepts the same ranges). */
#define RECLAIM_MAX_COMPRESSION 1e6
#define RECLAIM_MAX_RECLAIM_RATE 1e6 /* reclaims per instance-hour */

/* A "never" deadline, far beyond any uptime, that still leaves room for additions. */
#define RECLAIM_NEVER_US (INT64_C(1) << 62)

/* xoshiro256** state: small, fast and of good statistical quality; seeded through splitmix64 so
 * that any 64-bit seed, including 0, gives a usable state. */
typedef struct {
    uint64_t s[4];
} reclaim_rng_t;

/* Seeds rng from `seed` and `stream`: different streams of one seed are independent sequences
 * (the platform uses the instance id as the stream, so an instance's draws depend only on the
 * seed and its id, not on how draws of other instances interleave with its own). */
void reclaim_rng_seed(reclaim_rng_t *rng, uint64_t seed, uint64_t stream);
uint64_t reclaim_rng_next(reclaim_rng_t *rng);
/* Uniform on (0, 1]: never 0, so its logarithm is finite. */
double reclaim_rng_uniform(reclaim_rng_t *rng);

/* One exponentially distributed waiting time, in microseconds, for events at rate_per_us
 * (events per microsecond): -ln(U) / rate. A rate of 0 or less, or a draw beyond
 * RECLAIM_NEVER_US, gives RECLAIM_NEVER_US. */
int64_t reclaim_exponential_us(reclaim_rng_t *rng, double rate_per_us);

/* The random reclaim rate in events per real microsecond: `per_hour` reclaims per simulated
 * instance-hour, with `compression` simulated hours passing per real hour. */
double reclaim_rate_per_us(double per_hour, double compression);

/* The idle-reclaim limit in real microseconds: idle_ms of simulated time divided by
 * `compression`, at least 1 us. */
int64_t reclaim_idle_limit_us(int64_t idle_ms, double compression);


#endif
