/* policy.c -- the idle-return policy: return after a quiet spell with nothing in flight, and
 * always a margin before the deadline (see policy.h for the interface it keeps). */
#include "policy.h"

#include <string.h>

void policy_init(policy_t *p, const policy_config_t *cfg)
{
    memset(p, 0, sizeof *p);
    p->cfg = *cfg;
}

void policy_begin(policy_t *p, uint64_t now, uint64_t deadline)
{
    p->started = now;
    p->deadline = deadline;
    p->last_activity = now;
    p->requests = 0;
}

void policy_on_request(policy_t *p, uint64_t now, policy_req_kind_t kind)
{
    (void)kind; /* this policy treats every request alike */
    p->requests++;
    if (now > p->last_activity) p->last_activity = now;
}

void policy_on_done(policy_t *p, uint64_t now)
{
    if (now > p->last_activity) p->last_activity = now;
}

/* The latest moment the invocation may still run, or UINT64_MAX without a deadline. */
static uint64_t hard_stop(const policy_t *p)
{
    if (!p->deadline) return UINT64_MAX;
    return p->deadline > p->cfg.deadline_margin_ms ? p->deadline - p->cfg.deadline_margin_ms : 0;
}

int policy_should_return(const policy_t *p, uint64_t now, int inflight)
{
    if (now >= hard_stop(p)) return 1;
    if (inflight) return 0;
    return now - p->last_activity >= p->cfg.idle_return_ms;
}

int policy_wait_ms(const policy_t *p, uint64_t now, int inflight)
{
    uint64_t stop = hard_stop(p);
    if (now >= stop) return 0;
    uint64_t until = stop;
    if (!inflight) {
        uint64_t idle_end = p->last_activity + p->cfg.idle_return_ms;
        if (idle_end < until) until = idle_end;
    }
    if (until <= now) return 0;
    uint64_t w = until - now;
    return w > 60000 ? 60000 : (int)w; /* re-check at least once a minute */
}
