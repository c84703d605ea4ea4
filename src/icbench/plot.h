/* plot.h -- icbench's plots: data files, a gnuplot script and the PNGs gnuplot draws from them
 * (GET latency CDF, latency by object size, cost over time). */
#ifndef IC_PLOT_H
#define IC_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "cost.h"
#include "meter.h"
#include "stats.h"

/* GET latencies by object size, in power-of-two buckets: bucket b holds sizes in
 * [2^b, 2^(b+1)) (b 0 also holds size 0). Memory grows like the summary's own samples. */
#define PLOT_SIZE_BUCKETS 48
typedef struct {
    stats_samples_t by_size[PLOT_SIZE_BUCKETS];
    int out_of_memory;
} plot_samples_t;

int plot_size_bucket(uint64_t size);
void plot_samples_add(plot_samples_t *s, uint64_t size, uint64_t ns);
/* Moves from's samples into into (from is emptied); sorting is plot_write's. */
void plot_samples_merge(plot_samples_t *into, plot_samples_t *from);
void plot_samples_free(plot_samples_t *s);

/* One target's figures. get_ns: its GET latencies sorted ascending; cost: its INFO samples,
 * NULL if it is not an icproxy. */
typedef struct {
    const char *name;
    const uint64_t *get_ns;
    size_t nget;
    plot_samples_t *sizes;
    const meter_sample_t *cost;
    size_t ncost;
} plot_series_t;

/* 0 if a "gnuplot" executable is on PATH, else -1 with a message saying how to get one. */
int plot_find_gnuplot(char *err, size_t errlen);

/* Creates dir if needed, writes the .dat files and plots.gp into it and runs gnuplot there:
 * latency_cdf.png, latency_by_size.png and (if a series has cost samples) cost.png. 0, or -1
 * with err set (gnuplot missing or failing included). */
int plot_write(const char *dir, const plot_series_t *series, int n, const cost_prices_t *prices,
               char *err, size_t errlen);

#endif
