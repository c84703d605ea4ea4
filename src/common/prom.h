/* prom.h -- the Prometheus text exposition format 0.0.4: a fixed-bucket histogram and a writer of
 * HELP/TYPE lines and samples with escaped label values. No I/O: the text goes into a buf_t. */
#ifndef IC_PROM_H
#define IC_PROM_H

#include <stdint.h>

#include "buf.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROM_HIST_MAX_BOUNDS 24

/* A histogram over integer observations (microseconds, bytes): counts per bucket, not yet
 * cumulative, so an observation is one bounded scan and three increments, with no allocation.
 * bounds are the buckets' inclusive upper bounds, ascending; the caller owns them (static). */
typedef struct {
    const uint64_t *bounds;
    int nbounds;
    uint64_t counts[PROM_HIST_MAX_BOUNDS + 1]; /* the last one: above every bound (+Inf) */
    uint64_t sum;
    uint64_t count;
} prom_hist_t;

/* Sets h empty over bounds (nbounds <= PROM_HIST_MAX_BOUNDS, ascending). 0 or -EINVAL. */
int prom_hist_init(prom_hist_t *h, const uint64_t *bounds, int nbounds);
void prom_hist_observe(prom_hist_t *h, uint64_t value);

/* One optional label of a sample (name NULL: none). Values are escaped as the format asks. */
typedef struct {
    const char *name;
    const char *value;
} prom_label_t;

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge, histogram). */
void prom_family(buf_t *b, const char *name, const char *type, const char *help);
/* One sample: name{labels} value. Integers are written exactly. */
void prom_sample_u64(buf_t *b, const char *name, const prom_label_t *label, uint64_t value);
void prom_sample_double(buf_t *b, const char *name, const prom_label_t *label, double value);
/* The series of one histogram: name_bucket{label,le="..."} cumulative counts ending with
 * le="+Inf", then name_sum and name_count. scale turns observations into the exported unit
 * (1e-6: microseconds to seconds). */
void prom_hist_write(buf_t *b, const char *name, const prom_label_t *label,
                     const prom_label_t *label2, const prom_hist_t *h, double scale);
/* Appends value escaped for a label value: backslash, double quote and newline. */
void prom_escape_label_value(buf_t *b, const char *value);

#endif
