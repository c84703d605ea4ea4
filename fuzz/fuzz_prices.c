/* fuzz_prices.c -- libFuzzer driver for the price file loader: any bytes are parsed within the
 * file limit, and a file that is accepted holds only values the checks allow. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "prices.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int good(const price_t *p)
{
    return isfinite(p->value) && p->value >= 0 && p->recorded[4] == '-' &&
           p->checked < PRICE_CHECKED_COUNT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static price_set_t s; /* ~30 KB: not on the fuzzer's stack */
    char err[512];
    if (prices_parse((const char *)data, size, "fuzz.json", &s, err, sizeof err) < 0) {
        /* A refusal names the file and leaves nothing half-filled behind. */
        if (strncmp(err, "fuzz.json: ", 11) || s.nnodes || s.ninstances) __builtin_trap();
        return 0;
    }
    if (s.nnodes < 1 || s.nnodes > PRICES_NODES_MAX || s.ninstances < 1 ||
        s.ninstances > PRICES_INSTANCES_MAX || !s.lambda[PRICE_ARCH_X86_64].present ||
        !good(&s.lambda_billing_ms) || !good(&s.lambda[PRICE_ARCH_X86_64].usd_per_gb_second))
        __builtin_trap();
    for (size_t i = 0; i < s.nnodes; i++)
        if (!good(&s.nodes[i].usd_per_hour) || !(s.nodes[i].memory_gib > 0) ||
            memchr(s.nodes[i].type, 0, sizeof s.nodes[i].type) == NULL)
            __builtin_trap();
    for (size_t i = 0; i < s.ninstances; i++)
        if (!good(&s.instances[i].usd_per_hour) ||
            s.instances[i].burst_gbps < s.instances[i].baseline_gbps)
            __builtin_trap();
    return 0;
}
