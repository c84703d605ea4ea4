/* throttle.c -- token bucket and straggler choice for network emulation (see throttle.h). */
#include "throttle.h"

#include <string.h>

#include "hash.h"

uint64_t throttle_default_burst(uint64_t rate)
{
    uint64_t b = rate / 100;
    return b < 4096 ? 4096 : b;
}

void throttle_bucket_init(throttle_bucket_t *b, uint64_t rate, uint64_t burst, uint64_t now)
{
    if (rate > THROTTLE_RATE_MAX) rate = THROTTLE_RATE_MAX;
    b->rate = rate;
    b->burst = burst ? burst : throttle_default_burst(rate);
    if (b->burst > THROTTLE_RATE_MAX) b->burst = THROTTLE_RATE_MAX;
    b->milli = b->burst * 1000;
    b->last_ms = now;
}

/* Tokens at `now` without changing the bucket. */
static uint64_t tokens_at(const throttle_bucket_t *b, uint64_t now)
{
    uint64_t full = b->burst * 1000;
    if (now <= b->last_ms || b->milli >= full) return b->milli < full ? b->milli : full;
    uint64_t dt = now - b->last_ms;
    /* Past the time to fill up from empty the bucket is full; the bound also keeps rate x dt
     * from overflowing. */
    uint64_t fill_ms = full / b->rate + 1;
    if (dt >= fill_ms) return full;
    uint64_t m = b->milli + b->rate * dt;
    return m < full ? m : full;
}

size_t throttle_bucket_allow(throttle_bucket_t *b, uint64_t now)
{
    if (b->rate == 0) return SIZE_MAX;
    b->milli = tokens_at(b, now);
    if (now > b->last_ms) b->last_ms = now;
    return (size_t)(b->milli / 1000);
}

void throttle_bucket_consume(throttle_bucket_t *b, size_t n)
{
    if (b->rate == 0) return;
    uint64_t m = (uint64_t)n * 1000;
    b->milli = m < b->milli ? b->milli - m : 0;
}

uint64_t throttle_bucket_wait_ms(const throttle_bucket_t *b, uint64_t now)
{
    if (b->rate == 0) return 0;
    uint64_t m = tokens_at(b, now);
    if (m >= 1000) return 0;
    return (1000 - m + b->rate - 1) / b->rate; /* ceil: waking early would find no byte */
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void throttle_straggler_init(throttle_straggler_t *s, double rate, uint64_t delay_ms, uint64_t seed)
{
    s->rate = rate < 0 ? 0 : rate > 1 ? 1 : rate;
    s->delay_ms = delay_ms;
    s->state = seed;
}

uint64_t throttle_straggler_next(throttle_straggler_t *s)
{
    if (s->rate <= 0 || s->delay_ms == 0) return 0;
    /* 53 random bits as a fraction in [0, 1): below rate with probability rate, always at 1. */
    double u = (double)(splitmix64(&s->state) >> 11) * 0x1.0p-53;
    return u < s->rate ? s->delay_ms : 0;
}

uint64_t throttle_seed_mix(uint64_t seed, const char *name)
{
    const char *text = name ? name : "";
    uint64_t s = seed ^ hash_fnv1a64(text, strlen(text));
    return splitmix64(&s);
}
