/* backoff.c -- capped, jittered exponential backoff for the proxy's Invoke retries. */
#include "backoff.h"

int backoff_retryable(long status)
{
    return status == 429 || (status >= 500 && status <= 599);
}

int64_t backoff_delay_ms(int retry, int64_t base_ms, int64_t cap_ms, uint64_t random)
{
    if (base_ms <= 0 || cap_ms <= 0) return 0;
    int64_t d = base_ms;
    for (int i = 0; i < retry && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms) d = cap_ms;
    int64_t half = d / 2;
    return half + (int64_t)(random % (uint64_t)(d - half + 1));
}
