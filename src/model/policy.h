/* policy.h -- when an invocation returns: a pure, clock-injected policy (anticipatory
 * billed-duration control, or the naive idle return kept as its baseline), tested with a fake
 * clock.
 *
 * The serving loop calls, with a monotonic `now` in milliseconds:
 *   policy_begin(now, deadline)      at the start of every activate invocation
 *   policy_on_request(now, kind)     for every complete request it dispatches
 *   policy_on_done(now)              when every reply queued so far has been written
 *   policy_wait_ms(now, inflight)    how long it may block in poll() before asking again
 *   policy_should_return(now, inflight)  whether to end the invocation now
 * `inflight` means work is under way (a request partly read, a reply partly written, or any other
 * activity the caller counts); it is the only signal of ongoing work, and nothing but the deadline
 * ends an invocation while it is set.
 *
 * POLICY_ANTICIPATORY (the paper's billed-duration control). The platform bills whole cycles of
 * `billing_ms`, counted from the start of the invocation, so once a cycle has begun its rest is
 * paid for. The policy therefore plans to return `margin` ms before a cycle boundary (the margin
 * covers posting the response, so the return lands inside the cycle), and moves that plan:
 *   - begin: just before the end of the first cycle;
 *   - the first request (or a completion): at least just before the end of the cycle it falls in;
 *     one that falls inside the margin moves the plan to the next cycle, which is billed anyway;
 *   - every further request of the invocation ("another request within the cycle"): one cycle
 *     more than that, anticipating that requests come in bursts;
 *   - the proxy's pre-flight PING: the request it announces must find the node awake, so a PING
 *     that arrives less than one margin before the planned return extends it by one cycle;
 *   - work that outlives the planned return (inflight) crosses into a cycle that is billed anyway:
 *     the plan becomes the end of that cycle.
 * The margin is `billing_margin_ms`, or when 0 `billing_ms`/10 bounded to 2..10 ms.
 * When a cycle is too short for this (`billing_ms` <= 2 x margin, e.g. the 1 ms billing of AWS
 * since 2020-12) every millisecond is billed and there is no boundary worth aiming at: the policy
 * returns after `billing_idle_ms` without requests or completions instead.
 *
 * POLICY_IDLE (the baseline): return once nothing arrived or completed for `idle_return_ms`.
 *
 * Both: never while inflight, and always `deadline_margin_ms` before the deadline, even inflight
 * (a function that overruns its deadline is killed and loses its memory). */
#ifndef IC_MODEL_POLICY_H
#define IC_MODEL_POLICY_H

#include <stdint.h>

typedef enum {
    POLICY_REQ_PING = 1, /* the proxy's pre-flight check */
    POLICY_REQ_DATA,     /* CSET, CGET, CDEL */
    POLICY_REQ_OTHER,    /* STATS, unknown commands */
} policy_req_kind_t;

typedef enum {
    POLICY_IDLE = 0, /* zero, so a zeroed config keeps the old behaviour */
    POLICY_ANTICIPATORY,
} policy_kind_t;

typedef struct {
    policy_kind_t kind;
    uint64_t idle_return_ms;     /* idle: return once nothing arrived for this long */
    uint64_t deadline_margin_ms; /* both: always return this long before the deadline */
    uint64_t billing_ms;         /* anticipatory: billing granularity (0 is taken as 1) */
    uint64_t billing_margin_ms;  /* anticipatory: return this long before a boundary; 0 = auto */
    uint64_t billing_idle_ms;    /* anticipatory with fine billing: return after this long idle */
} policy_config_t;

typedef struct {
    policy_config_t cfg;
    uint64_t margin;        /* resolved billing margin */
    int boundary_mode;      /* anticipatory with cycles long enough to aim at their boundary */
    uint64_t started;       /* policy_begin() time: the start of the first billing cycle */
    uint64_t deadline;      /* monotonic ms; 0 = none known */
    uint64_t last_activity; /* last request or completion */
    uint64_t due;           /* planned return time (before the deadline rule) */
    uint64_t requests;      /* requests seen in this invocation, PINGs included */
    uint64_t work_requests; /* requests other than PING in this invocation */
} policy_t;

/* "anticipatory" or "idle" into *kind: 0, or -1 for anything else. */
int policy_kind_parse(const char *name, policy_kind_t *kind);
const char *policy_kind_name(policy_kind_t kind);
/* The margin used when billing_margin_ms is 0: billing_ms / 10, bounded to 2..10 ms. */
uint64_t policy_default_margin(uint64_t billing_ms);

void policy_init(policy_t *p, const policy_config_t *cfg);
/* deadline is on the same monotonic clock as now, 0 when the platform gave none. */
void policy_begin(policy_t *p, uint64_t now, uint64_t deadline);
void policy_on_request(policy_t *p, uint64_t now, policy_req_kind_t kind);
void policy_on_done(policy_t *p, uint64_t now);
/* Milliseconds to wait for I/O before calling policy_should_return() again (>= 0; 0 = now). */
int policy_wait_ms(const policy_t *p, uint64_t now, int inflight);
int policy_should_return(const policy_t *p, uint64_t now, int inflight);

#endif
