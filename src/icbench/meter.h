/* meter.h -- samples an icproxy's INFO (pool and platform billing) before, during and after one
 * icbench run, and prints the run's cost report. */
#ifndef IC_METER_H
#define IC_METER_H

#include <stddef.h>
#include <stdio.h>

#include "cost.h"

/* At most this many samples are kept: when full, every other one is dropped and the interval
 * doubles, so a long run keeps its whole span at a coarser step. */
#define METER_SAMPLES_MAX 4096

/* t_s: seconds since meter_start. */
typedef cost_sample_t meter_sample_t;

typedef struct meter meter_t;

/* Connects to HOST:PORT (its own connection), reads INFO and, if the server is an icproxy,
 * starts a thread that reads it again every interval_ms. NULL if the server is not an icproxy
 * (*not_icproxy = 1) or on an error (err says why). The caller frees with meter_free. */
meter_t *meter_start(const char *host, int port, int interval_ms, int timeout_ms, int *not_icproxy,
                     char *err, size_t errlen);

/* The run is over: stops the sampling thread, then waits (at most settle_ms) until the serving
 * invocations have ended and been billed: no node awake or being invoked for longer than the
 * proxy's once-a-second refresh of the platform's figures, or (warm-ups and backups keeping
 * nodes busy) the serving GB-seconds unchanged for two refreshes. That reading is the final
 * sample. 0 once settled, 1 if settle_ms passed first (the report says so), -1 if INFO failed. */
int meter_finish(meter_t *m, int settle_ms);

/* The samples, oldest first (the first is the reading before the run, the last the final). */
const meter_sample_t *meter_samples(const meter_t *m, size_t *n);

/* Prints the cost report of spec's run (see docs/EVALUATION.md, "Cost report"). workload: the
 * run's GETs, SETs, their bytes and the backing store's requests, as icbench counted them (the
 * peak bandwidth and the data held come from the INFO samples). */
void meter_report(const meter_t *m, const char *spec, const cost_prices_t *prices,
                  const cost_usage_t *workload, FILE *out);

void meter_free(meter_t *m);

#endif
