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
    const char *sets[] = {"current", "2020"};
    for (int i = 0; i < 2; i++) {
        cost_report_t r;
        cost_compute(cost_prices_named(sets[i]), &d, 60, &r);
        if (!r.cluster.type || r.cluster.count < 1) __builtin_trap();
        if (isnan(r.lambda_usd) || isnan(r.elasticache_usd)) __builtin_trap();
    }
    return 0;
}
