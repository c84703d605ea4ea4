/* placement.c -- instance selection for an invocation (warm reuse first, then cold start). */
#include "placement.h"

placement_decision_t placement_choose(const placement_slot_t *slots, size_t n,
                                      int64_t max_instances, size_t *pick)
{
    int64_t alive = 0;
    int found = 0;
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        if (!slots[i].alive) continue;
        alive++;
        if (slots[i].free && (!found || slots[i].last_used_us > slots[best].last_used_us)) {
            best = i;
            found = 1;
        }
    }
    if (found) {
        *pick = best;
        return PLACEMENT_WARM;
    }
    return alive < max_instances ? PLACEMENT_COLD_START : PLACEMENT_AT_CAPACITY;
}
