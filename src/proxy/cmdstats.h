/* cmdstats.h -- per-command counters and latency histograms for INFO commandstats and INFO
 * latencystats, observed on the event loop as each command is answered (cmdstats.c). */
#ifndef IC_PROXY_CMDSTATS_H
#define IC_PROXY_CMDSTATS_H

#include <stdint.h>

#include "buf.h"

struct command;

/* The latency histogram: log-linear, CMDSTATS_SUB_BUCKETS buckets for each power of two of
 * microseconds, so a percentile is within 1/CMDSTATS_SUB_BUCKETS (3%) of the true value, as
 * Redis's HDR histograms report within 1%. */
#define CMDSTATS_SUB_BITS 5
#define CMDSTATS_SUB_BUCKETS (1 << CMDSTATS_SUB_BITS)
#define CMDSTATS_MAGNITUDES 37 /* up to 2^41 us (25 days); longer counts as that */
#define CMDSTATS_BUCKETS (CMDSTATS_MAGNITUDES * CMDSTATS_SUB_BUCKETS)

typedef struct {
    uint64_t counts[CMDSTATS_BUCKETS];
    uint64_t total;
} cmdstats_hist_t;

/* The bucket of a value, and the highest value a bucket holds (what a percentile reports). */
int cmdstats_bucket(uint64_t us);
uint64_t cmdstats_bucket_max(int bucket);
/* The value at percentile p (0..100] of h: the highest value of the bucket where the count
 * reaches p percent of the total. 0 for an empty histogram. */
uint64_t cmdstats_percentile(const cmdstats_hist_t *h, double p);

/* A command ran and was answered: us is its whole time, from its last byte read to its reply
 * decided (node round trips included); failed: its reply was an error. O(1); the histogram of
 * a command is allocated at its first call (nothing is counted if that fails). */
void cmdstats_done(const struct command *cmd, uint64_t us, int failed);
/* A command was refused before it ran (arity, authentication). */
void cmdstats_rejected(const struct command *cmd);
/* CONFIG RESETSTAT: every counter and histogram back to zero. */
void cmdstats_reset(void);
/* "cmdstat_<name>:calls=...,usec=...,usec_per_call=...,rejected_calls=...,failed_calls=..."
 * for each command that was called or rejected, as Redis's INFO commandstats. */
void cmdstats_info_commandstats(buf_t *b);
/* "latency_percentiles_usec_<name>:p50=...,p99=...,p99.9=..." for each command that was
 * called, as Redis's INFO latencystats (with its default percentiles). */
void cmdstats_info_latencystats(buf_t *b);

#endif
