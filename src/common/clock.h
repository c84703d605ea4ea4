/* clock.h -- the one place that reads the clocks: monotonic (elapsed time) in the units its
 * callers want, and wall-clock milliseconds (expiry times, billing records). */
#ifndef IC_COMMON_CLOCK_H
#define IC_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC never jumps with wall-clock changes, so differences are true elapsed time.
 * The origin is arbitrary (usually boot): only compare readings from this machine's clock. */
static inline struct timespec clock_mono_timespec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

/* Integer readings, each truncated toward zero to its unit. */
static inline uint64_t clock_mono_ns(void)
{
    struct timespec ts = clock_mono_timespec();
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock_mono_us(void)
{
    struct timespec ts = clock_mono_timespec();
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t clock_mono_ms(void)
{
    struct timespec ts = clock_mono_timespec();
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Fractional readings for the benchmarks' reports: seconds and nanoseconds are added as doubles,
 * so short intervals keep their sub-unit part. */
static inline double clock_mono_s_double(void)
{
    struct timespec ts = clock_mono_timespec();
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double clock_mono_ms_double(void)
{
    struct timespec ts = clock_mono_timespec();
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Milliseconds since the Unix epoch (CLOCK_REALTIME): for times that leave this process (TTLs
 * stored on nodes, billing records); it may jump, so never measure elapsed time with it. */
static inline uint64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
