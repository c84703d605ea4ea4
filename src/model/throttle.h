/* throttle.h -- network emulation for the local platform: a token bucket capping the bytes a node
 * sends per second, and a seeded choice of which chunk replies are stragglers. Pure and
 * clock-injected (the caller passes a monotonic `now` in milliseconds), so tests use a fake clock.
 *
 * Real functions get tens of MB/s each and some of their replies come late; on loopback neither
 * happens. icnode applies both to what it sends its proxy (serve.c), configured by
 * IC_NODE_BANDWIDTH, IC_NODE_STRAGGLER_RATE, IC_NODE_STRAGGLER_DELAY_MS and
 * IC_NODE_STRAGGLER_SEED (node.h); the same variables could be set on a real function. */
#ifndef IC_MODEL_THROTTLE_H
#define IC_MODEL_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

/* Largest rate accepted, in bytes per second: keeps every product below 2^64. */
#define THROTTLE_RATE_MAX ((uint64_t)64 << 30)

typedef struct {
    uint64_t rate;    /* bytes per second; 0 = unlimited */
    uint64_t burst;   /* bucket size in bytes: the most sent at once after a pause */
    uint64_t milli;   /* tokens, in thousandths of a byte, so rate x ms accrues exactly */
    uint64_t last_ms; /* when milli was last brought up to date */
} throttle_bucket_t;

/* The burst used when none is given: 10 ms worth of the rate, at least 4 KiB. Small, so that a
 * reply after an idle spell is not served at loopback speed for long. */
uint64_t throttle_default_burst(uint64_t rate);

/* rate 0 disables the bucket; burst 0 picks throttle_default_burst(). Starts full. rate is
 * clamped to THROTTLE_RATE_MAX. */
void throttle_bucket_init(throttle_bucket_t *b, uint64_t rate, uint64_t burst, uint64_t now);
/* Bytes that may be sent now (SIZE_MAX when unlimited). */
size_t throttle_bucket_allow(throttle_bucket_t *b, uint64_t now);
/* Takes n bytes sent (at most what allow returned). */
void throttle_bucket_consume(throttle_bucket_t *b, size_t n);
/* Milliseconds until at least one byte may be sent: 0 when it may be now. */
uint64_t throttle_bucket_wait_ms(const throttle_bucket_t *b, uint64_t now);

typedef struct {
    double rate;       /* fraction of replies delayed, 0..1 */
    uint64_t delay_ms; /* how long a straggler's reply is held */
    uint64_t state;    /* splitmix64 state */
} throttle_straggler_t;

/* Same seed, same choices. */
void throttle_straggler_init(throttle_straggler_t *s, double rate, uint64_t delay_ms,
                             uint64_t seed);
/* For the next reply: how long to hold it (0 = not a straggler). While enabled it draws one
 * number per call, so the n-th reply's fate depends only on the seed. */
uint64_t throttle_straggler_next(throttle_straggler_t *s);

/* Folds a name (the function's) into a seed, so every node of a pool given one seed gets its own
 * repeatable sequence. */
uint64_t throttle_seed_mix(uint64_t seed, const char *name);

/* Both, for one connection. */
typedef struct {
    throttle_bucket_t bucket;
    throttle_straggler_t straggler;
} throttle_t;

#endif
