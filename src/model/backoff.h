/* backoff.h -- when to retry an Invoke call that was throttled (429) or failed on the service's
 * side (5xx): capped exponential backoff with jitter (pure, no clock, no randomness of its own). */
#ifndef IC_MODEL_BACKOFF_H
#define IC_MODEL_BACKOFF_H

#include <stdint.h>

/* Whether an Invoke answer with this HTTP status is worth another attempt: 429 (throttled:
 * concurrency or rate) and 5xx (the service's own trouble). 4xx other than 429 will not change. */
int backoff_retryable(long status);

/* The delay before retry number `retry` (0 for the first): half of min(cap, base * 2^retry)
 * plus a random part of the other half ("equal jitter"), so retries of many nodes throttled at
 * once spread out, yet none comes back at once. random is any 64-bit random value. */
int64_t backoff_delay_ms(int retry, int64_t base_ms, int64_t cap_ms, uint64_t random);

#endif
