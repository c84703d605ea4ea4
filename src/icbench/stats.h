/* stats.h -- icbench's latency samples, percentiles and object size classes. */
#ifndef IC_STATS_H
#define IC_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Size classes of the summary: <1MiB, 1-10MiB, 10-100MiB, >=100MiB. */
#define STATS_SIZE_CLASSES 4
int stats_size_class(uint64_t size);
const char *stats_size_class_name(int cls);

/* A growable array of latencies in nanoseconds. */
typedef struct {
    uint64_t *v;
    size_t n, cap;
} stats_samples_t;

int stats_samples_add(stats_samples_t *s, uint64_t ns); /* 0 or -ENOMEM */
int stats_samples_merge(stats_samples_t *into, const stats_samples_t *from);
void stats_samples_sort(stats_samples_t *s);
void stats_samples_free(stats_samples_t *s);

/* The nearest-rank percentile (0 < pct <= 100) of sorted[0..n): the smallest value with at least
 * pct% of the samples at or below it. 0 if n is 0. */
uint64_t stats_percentile(const uint64_t *sorted, size_t n, double pct);

#endif
