/* fuzz_info.c -- libFuzzer driver for icbench's INFO reader: any bytes parse within limits, the
 * pool flag matches the result, and pricing what was read stays defined (UBSan watches the
 * conversions). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "cost.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cost_counters_t c, zero = {0}, d;
    int rc = cost_counters_parse((const char *)data, size, &c);
    if ((rc == 0) != (c.has_pool != 0)) __builtin_trap();
    if (c.pool_size < 0 || c.node_memory_mb < 0 || c.billing_ms < 0 || c.requests < 0 ||
        !(c.gb_seconds >= 0))
        __builtin_trap();
    cost_counters_diff(&c, &zero, &d);
    /* The shipped sets, loaded once (found in the source tree). */
    static cost_prices_t sets[2];
    static int loaded;
    if (!loaded) {
        const char *names[] = {"current", "2020"};
        char err[512];
        for (int i = 0; i < 2; i++)
            if (cost_prices_configure(&sets[i], names[i], "", "", "", "", err, sizeof err) < 0)
                __builtin_trap();
        loaded = 1;
    }
    /* Samples from the same reading a second apart: the usage figures stay defined too. */
    cost_sample_t samples[2] = {{0, zero}, {1, c}};
    cost_usage_t usage = {0};
    cost_usage_from_samples(samples, 2, &usage);
    if (!(usage.peak_bytes_per_s >= 0) || !(usage.data_bytes >= 0)) __builtin_trap();
    for (int i = 0; i < 2; i++) {
        cost_report_t r;
        cost_compute(&sets[i], &d, &usage, 60, &r);
        if (!r.cluster.type || r.cluster.count < 1) __builtin_trap();
        if (isnan(r.lambda_usd) || isnan(r.elasticache_usd) || isnan(r.infinicache_usd))
            __builtin_trap();
    }
    return 0;
}
