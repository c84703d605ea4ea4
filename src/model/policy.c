/* policy.c -- when an invocation returns: anticipatory billed-duration control and the idle-return
 * baseline (the rules are in policy.h). Pure: every time comes from the caller. */
#include "policy.h"

#include <string.h>

int policy_kind_parse(const char *name, policy_kind_t *kind)
{
    if (!name) return -1;
    if (!strcmp(name, "anticipatory")) {
        *kind = POLICY_ANTICIPATORY;
        return 0;
    }
    if (!strcmp(name, "idle")) {
        *kind = POLICY_IDLE;
        return 0;
    }
    return -1;
}

const char *policy_kind_name(policy_kind_t kind)
{
    return kind == POLICY_ANTICIPATORY ? "anticipatory" : "idle";
}

uint64_t policy_default_margin(uint64_t billing_ms)
{
    /* 2-10 ms as in the paper: a tenth of the cycle, but never so small that posting the
     * response (about a millisecond) lands in the next cycle, nor so large that long cycles give
     * up serving time for nothing. */
    uint64_t m = billing_ms / 10;
    if (m < 2) m = 2;
    if (m > 10) m = 10;
    return m;
}

void policy_init(policy_t *p, const policy_config_t *cfg)
{
    memset(p, 0, sizeof *p);
    p->cfg = *cfg;
    if (p->cfg.billing_ms == 0) p->cfg.billing_ms = 1;
    p->margin =
        cfg->billing_margin_ms ? cfg->billing_margin_ms : policy_default_margin(p->cfg.billing_ms);
    /* A cycle must leave more time to serve than the margin takes, or aiming at its boundary
     * only means returning at once. */
    p->boundary_mode = cfg->kind == POLICY_ANTICIPATORY && p->cfg.billing_ms > 2 * p->margin;
}

/* The idle spell after which the policy returns when it does not aim at boundaries. */
static uint64_t idle_spell(const policy_t *p)
{
    return p->cfg.kind == POLICY_ANTICIPATORY ? p->cfg.billing_idle_ms : p->cfg.idle_return_ms;
}

/* The first planned-return point (a cycle boundary minus the margin, cycles counted from
 * started) at or after t. Boundary mode only. */
static uint64_t point_at_or_after(const policy_t *p, uint64_t t)
{
    uint64_t g = p->cfg.billing_ms;
    uint64_t first = p->started + g - p->margin;
    if (t <= first) return first;
    uint64_t k = (t - p->started + p->margin + g - 1) / g; /* ceil((t - started + margin) / g) */
    return p->started + k * g - p->margin;
}

static void plan_at_least(policy_t *p, uint64_t t)
{
    if (t > p->due) p->due = t;
}

void policy_begin(policy_t *p, uint64_t now, uint64_t deadline)
{
    p->started = now;
    p->deadline = deadline;
    p->last_activity = now;
    p->requests = 0;
    p->work_requests = 0;
    p->due = p->boundary_mode ? point_at_or_after(p, now) : now + idle_spell(p);
}

void policy_on_request(policy_t *p, uint64_t now, policy_req_kind_t kind)
{
    p->requests++;
    if (now > p->last_activity) p->last_activity = now;
    if (!p->boundary_mode) {
        plan_at_least(p, now + idle_spell(p));
        return;
    }
    if (kind == POLICY_REQ_PING) {
        /* The request this pre-flight announces follows within about a round trip, which the
         * margin stands for: it must not find the node gone. */
        plan_at_least(p, point_at_or_after(p, now + p->margin));
        return;
    }
    uint64_t plan = point_at_or_after(p, now);
    if (p->work_requests++ > 0) plan += p->cfg.billing_ms; /* another one: expect more */
    plan_at_least(p, plan);
}

void policy_on_done(policy_t *p, uint64_t now)
{
    if (now > p->last_activity) p->last_activity = now;
    plan_at_least(p, p->boundary_mode ? point_at_or_after(p, now) : now + idle_spell(p));
}

/* The latest moment the invocation may still run, or UINT64_MAX without a deadline. */
static uint64_t hard_stop(const policy_t *p)
{
    if (!p->deadline) return UINT64_MAX;
    return p->deadline > p->cfg.deadline_margin_ms ? p->deadline - p->cfg.deadline_margin_ms : 0;
}

/* The planned return as of now. Work that ran past the plan without a completion being reported
 * (the caller's own inflight activity) has crossed the boundary the plan aimed at: the cycle it
 * is in now is billed anyway, so the plan becomes that cycle's end. */
static uint64_t due_at(const policy_t *p, uint64_t now)
{
    if (p->boundary_mode && now >= p->due + p->margin) return point_at_or_after(p, now);
    return p->due;
}

int policy_should_return(const policy_t *p, uint64_t now, int inflight)
{
    if (now >= hard_stop(p)) return 1;
    if (inflight) return 0;
    return now >= due_at(p, now);
}

int policy_wait_ms(const policy_t *p, uint64_t now, int inflight)
{
    uint64_t stop = hard_stop(p);
    if (now >= stop) return 0;
    uint64_t until = stop;
    if (!inflight) {
        uint64_t due = due_at(p, now);
        if (due < until) until = due;
    }
    if (until <= now) return 0;
    uint64_t w = until - now;
    return w > 60000 ? 60000 : (int)w; /* re-check at least once a minute */
}
