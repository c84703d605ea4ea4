/* cmdstats.c -- per-command counters (calls, time, rejected and failed calls) and latency
 * histograms behind INFO commandstats and INFO latencystats. Kept for every command whether or
 * not the metrics endpoint runs; only the loop thread touches them. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmdstats.h"
#include "command.h"

typedef struct {
    uint64_t calls, usec, rejected, failed;
    cmdstats_hist_t *hist; /* NULL until the first call */
} cmdstat_t;

/* One entry per command, in command_all's order; a process runs one proxy. */
static cmdstat_t *stats;
static size_t nstats;

/* The percentiles INFO latencystats reports: Redis's default latency-tracking-info-percentiles. */
static const double percentiles[] = {50.0, 99.0, 99.9};

int cmdstats_bucket(uint64_t us)
{
    if (us < CMDSTATS_SUB_BUCKETS) return (int)us; /* exact below 32 us */
    int magnitude = 63 - __builtin_clzll(us) - CMDSTATS_SUB_BITS + 1;
    if (magnitude >= CMDSTATS_MAGNITUDES) return CMDSTATS_BUCKETS - 1;
    int sub = (int)(us >> (magnitude - 1)) - CMDSTATS_SUB_BUCKETS;
    return magnitude * CMDSTATS_SUB_BUCKETS + sub;
}

uint64_t cmdstats_bucket_max(int bucket)
{
    int magnitude = bucket / CMDSTATS_SUB_BUCKETS, sub = bucket % CMDSTATS_SUB_BUCKETS;
    if (magnitude == 0) return (uint64_t)sub;
    uint64_t width = 1ull << (magnitude - 1);
    return ((uint64_t)(CMDSTATS_SUB_BUCKETS + sub) << (magnitude - 1)) + width - 1;
}

uint64_t cmdstats_percentile(const cmdstats_hist_t *h, double p)
{
    if (!h->total) return 0;
    /* The rank of the percentile's value among the observations, rounded up (at least 1). */
    uint64_t rank = (uint64_t)((p / 100.0) * (double)h->total + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > h->total) rank = h->total;
    uint64_t seen = 0;
    for (int i = 0; i < CMDSTATS_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) return cmdstats_bucket_max(i);
    }
    return cmdstats_bucket_max(CMDSTATS_BUCKETS - 1);
}

/* The entry of a command row, allocating the table on first use; NULL if out of memory or the
 * row is not in the table. */
static cmdstat_t *entry(const struct command *cmd)
{
    size_t n;
    const command_t *const *all = command_all(&n);
    if (!stats) {
        stats = calloc(n ? n : 1, sizeof *stats);
        if (!stats) return NULL;
        nstats = n;
    }
    size_t lo = 0, hi = nstats;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(cmd->name, all[mid]->name);
        if (cmp == 0) return &stats[mid];
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void cmdstats_done(const struct command *cmd, uint64_t us, int failed)
{
    cmdstat_t *s = entry(cmd);
    if (!s) return;
    s->calls++;
    s->usec += us;
    s->failed += failed != 0;
    if (!s->hist) s->hist = calloc(1, sizeof *s->hist);
    if (s->hist) {
        s->hist->counts[cmdstats_bucket(us)]++;
        s->hist->total++;
    }
}

void cmdstats_rejected(const struct command *cmd)
{
    cmdstat_t *s = entry(cmd);
    if (s) s->rejected++;
}

void cmdstats_reset(void)
{
    for (size_t i = 0; i < nstats; i++) {
        free(stats[i].hist);
        memset(&stats[i], 0, sizeof stats[i]);
    }
}

void cmdstats_info_commandstats(buf_t *b)
{
    size_t n;
    const command_t *const *all = command_all(&n);
    for (size_t i = 0; i < nstats && i < n; i++) {
        const cmdstat_t *s = &stats[i];
        if (!s->calls && !s->rejected) continue;
        buf_printf(b,
                   "cmdstat_%s:calls=%" PRIu64 ",usec=%" PRIu64 ",usec_per_call=%.2f"
                   ",rejected_calls=%" PRIu64 ",failed_calls=%" PRIu64 "\r\n",
                   all[i]->name, s->calls, s->usec,
                   s->calls ? (double)s->usec / (double)s->calls : 0.0, s->rejected, s->failed);
    }
}

void cmdstats_info_latencystats(buf_t *b)
{
    size_t n;
    const command_t *const *all = command_all(&n);
    for (size_t i = 0; i < nstats && i < n; i++) {
        const cmdstat_t *s = &stats[i];
        if (!s->hist || !s->hist->total) continue;
        buf_printf(b, "latency_percentiles_usec_%s:", all[i]->name);
        for (size_t k = 0; k < sizeof percentiles / sizeof *percentiles; k++)
            buf_printf(b, "%sp%g=%.3f", k ? "," : "", percentiles[k],
                       (double)cmdstats_percentile(s->hist, percentiles[k]));
        buf_printf(b, "\r\n");
    }
}
