/* stats.c -- icbench's latency samples, percentiles and object size classes. */
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int stats_size_class(uint64_t size)
{
    const uint64_t MiB = 1u << 20;
    if (size < MiB) return 0;
    if (size < 10 * MiB) return 1;
    if (size < 100 * MiB) return 2;
    return 3;
}

const char *stats_size_class_name(int cls)
{
    static const char *const names[STATS_SIZE_CLASSES] = {"<1MiB", "1-10MiB", "10-100MiB",
                                                          ">=100MiB"};
    return cls >= 0 && cls < STATS_SIZE_CLASSES ? names[cls] : "?";
}

static int reserve(stats_samples_t *s, size_t need)
{
    if (need <= s->cap) return 0;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < need)
        cap *= 2;
    uint64_t *v = realloc(s->v, cap * sizeof *v);
    if (!v) return -ENOMEM;
    s->v = v;
    s->cap = cap;
    return 0;
}

int stats_samples_add(stats_samples_t *s, uint64_t ns)
{
    if (reserve(s, s->n + 1) < 0) return -ENOMEM;
    s->v[s->n++] = ns;
    return 0;
}

int stats_samples_merge(stats_samples_t *into, const stats_samples_t *from)
{
    if (from->n == 0) return 0;
    if (reserve(into, into->n + from->n) < 0) return -ENOMEM;
    memcpy(into->v + into->n, from->v, from->n * sizeof *from->v);
    into->n += from->n;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void stats_samples_sort(stats_samples_t *s)
{
    if (s->n > 1) qsort(s->v, s->n, sizeof *s->v, cmp_u64);
}

void stats_samples_free(stats_samples_t *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

uint64_t stats_percentile(const uint64_t *sorted, size_t n, double pct)
{
    if (n == 0) return 0;
    /* rank = ceil(pct/100 * n), computed so that 99.9% of 1000 is exactly 999, not 1000 */
    double exact = pct / 100.0 * (double)n;
    double rank = ceil(exact * (1 - 1e-12));
    if (rank < 1) rank = 1;
    if (rank > (double)n) rank = (double)n;
    return sorted[(size_t)rank - 1];
}
