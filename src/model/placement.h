/* placement.h -- where an invocation goes: a warm idle instance, a cold start, or nowhere (pure).
 */
#ifndef IC_MODEL_PLACEMENT_H
#define IC_MODEL_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

/* The platform's view of one instance of a function at decision time. */
typedef struct {
    int alive;            /* counts against max-instances (starting, idle or busy; not dying) */
    int free;             /* alive, no invocation assigned or running: can take one now */
    int64_t last_used_us; /* monotonic time it last finished an invocation (or started) */
} placement_slot_t;

typedef enum {
    PLACEMENT_WARM = 0,    /* use slots[*pick] */
    PLACEMENT_COLD_START,  /* start a new instance */
    PLACEMENT_AT_CAPACITY, /* every instance busy and max_instances alive: queue or throttle */
} placement_decision_t;

/* Picks the free instance used most recently (so that surplus instances stay idle and get
 * reclaimed, as providers scale down), else a cold start while fewer than max_instances are
 * alive, else PLACEMENT_AT_CAPACITY. */
placement_decision_t placement_choose(const placement_slot_t *slots, size_t n,
                                      int64_t max_instances, size_t *pick);

#endif
