/* gentrace.h -- a synthetic stand-in for the IBM Docker registry trace (dal09): records in the
 * published JSON form whose statistics match what the InfiniCache paper reports of the real one.
 *
 * Targets (the paper's figures for the first 50 hours of dal09):
 *  - objects larger than 10 MB carry more than 95% of the bytes;
 *  - fewer than 3,500 GETs of large objects per hour;
 *  - 37-46% of the large objects are reused within an hour;
 *  - most requests are for small objects (manifests and small layers).
 * The model: every hour draws its number of large GETs (1,000-2,500); a large object's first GET
 * falls uniformly in its hour and, with probability GENTRACE_REUSE, it is read again 1 + a
 * geometric number of times, each within an hour of the read before (never past the end of the
 * trace, so the last hour keeps the rate); sizes are lognormal above 10 MiB (median 40 MiB) and,
 * for small objects, lognormal around 8 KiB drawn from a skewed pool (so they repeat). Some
 * objects are uploaded (PUT) just before their first GET; a few HEADs are mixed in, as in the
 * real trace (icbench counts them as ignored). Everything follows from the seed. */
#ifndef IC_GENTRACE_H
#define IC_GENTRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trace.h"

#define GENTRACE_LARGE ((uint64_t)10 << 20) /* "large": strictly above 10 MiB */
#define GENTRACE_REUSE 0.415                /* middle of the paper's 37-46% */
#define GENTRACE_HOURS_MAX 1000.0           /* bounds the output (about 25,000 records/hour) */
#define GENTRACE_START 1497916800.0         /* 2017-06-20T00:00:00Z, when the records begin */

typedef struct {
    double hours;  /* length of the trace, > 0 and <= GENTRACE_HOURS_MAX */
    uint64_t seed; /* same seed, same bytes */
} gentrace_params_t;

/* The statistics the paper gives, measured on any list of records sorted by time. Hours are
 * counted from the first record. A large object is reused within an hour if two of its GETs are
 * at most 3600 s apart; the fraction is over the large objects read at least once. */
typedef struct {
    uint64_t records, gets, puts;
    uint64_t large_gets, small_gets;
    uint64_t bytes_total, bytes_large; /* over GETs and PUTs */
    double large_byte_share;
    uint64_t max_large_gets_per_hour;
    double mean_large_gets_per_hour;
    uint64_t large_objects, large_reused;
    double reuse_fraction;
    double hours; /* from the first to the last record, rounded up */
} gentrace_stats_t;

/* Writes the trace to out as one JSON array, one record per line, sorted by time. On success
 * fills *stats (if not NULL) from the generated records and returns 0; -1 with err set (bad
 * parameters, out of memory, a write error). */
int gentrace_write(FILE *out, const gentrace_params_t *p, gentrace_stats_t *stats, char *err,
                   size_t errlen);

/* Measures records[0..n) (sorted by time, as trace_load returns a generated trace). 0, or -1 if
 * out of memory. */
int gentrace_stats(const trace_record_t *records, size_t n, gentrace_stats_t *out);

/* icbench --generate-trace: writes the trace to path ("-": stdout) and its statistics to report.
 * Exit status: 0, or 2 with the reason on stderr. */
int gentrace_to_file(const char *path, double hours, uint64_t seed, FILE *report);

/* Prints the statistics beside the paper's targets, one "name value target" line each. */
void gentrace_print_stats(FILE *f, const gentrace_stats_t *s);

#endif
