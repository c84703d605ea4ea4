/* reclaim.c -- time compression, seedable PRNG and exponential reclaim times of the platform. */
#include "reclaim.h"

#include <math.h>
#include <stdlib.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void reclaim_rng_seed(reclaim_rng_t *rng, uint64_t seed, uint64_t stream)
{
    /* Mixing the stream through splitmix64 first keeps seeds (s, t) and (s + 1, t - 1) apart. */
    uint64_t x = seed;
    uint64_t mixed_stream = stream;
    x ^= splitmix64(&mixed_stream);
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

uint64_t reclaim_rng_next(reclaim_rng_t *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double reclaim_rng_uniform(reclaim_rng_t *rng)
{
    /* 53 random bits, shifted by one so that 0 is impossible and 1 possible. */
    return (double)((reclaim_rng_next(rng) >> 11) + 1) * 0x1.0p-53;
}

int64_t reclaim_exponential_us(reclaim_rng_t *rng, double rate_per_us)
{
    if (!(rate_per_us > 0)) return RECLAIM_NEVER_US;
    double wait = -log(reclaim_rng_uniform(rng)) / rate_per_us;
    if (!(wait < (double)RECLAIM_NEVER_US)) return RECLAIM_NEVER_US;
    return (int64_t)wait;
}

double reclaim_rate_per_us(double per_hour, double compression)
{
    if (!(per_hour > 0) || !(compression > 0)) return 0;
    return per_hour * compression / 3.6e9;
}

int64_t reclaim_idle_limit_us(int64_t idle_ms, double compression)
{
    if (!(compression >= 1)) compression = 1;
    double us = (double)idle_ms * 1000.0 / compression;
    if (us < 1) return 1;
    if (us >= (double)RECLAIM_NEVER_US) return RECLAIM_NEVER_US;
    return (int64_t)us;
}

