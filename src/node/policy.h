/* policy.h -- when an invocation returns: a pure, clock-injected policy so it can be replaced
 * (the next one is the paper's anticipatory billed-duration control) and tested with a fake clock.
 *
 * The serving loop calls, with a monotonic `now` in milliseconds:
 *   policy_begin(now, deadline)      at the start of every activate invocation
 *   policy_on_request(now, kind)     for every complete request it dispatches
 *   policy_on_done(now)              when every reply queued so far has been written
 *   policy_wait_ms(now, inflight)    how long it may block in poll() before asking again
 *   policy_should_return(now, inflight)  whether to end the invocation now
 * `inflight` means a request is partly read or a reply is partly written. */
#ifndef NODE_POLICY_H
#define NODE_POLICY_H

#include <stdint.h>

typedef enum {
    POLICY_REQ_PING = 1, /* the proxy's pre-flight check: a billed-duration policy extends on it */
    POLICY_REQ_DATA,     /* CSET, CGET, CDEL */
    POLICY_REQ_OTHER,    /* STATS, unknown commands */
} policy_req_kind_t;

typedef struct {
    uint64_t idle_return_ms;  /* return once nothing arrived for this long */
    uint64_t deadline_margin_ms; /* and always this long before the deadline */
} policy_config_t;

typedef struct {
    policy_config_t cfg;
    uint64_t started;       /* policy_begin() time */
    uint64_t deadline;      /* monotonic ms; 0 = none known */
    uint64_t last_activity; /* last request or completion */
    uint64_t requests;      /* requests seen in this invocation */
} policy_t;

void policy_init(policy_t *p, const policy_config_t *cfg);
/* deadline is on the same monotonic clock as now, 0 when the platform gave none. */
void policy_begin(policy_t *p, uint64_t now, uint64_t deadline);
void policy_on_request(policy_t *p, uint64_t now, policy_req_kind_t kind);
void policy_on_done(policy_t *p, uint64_t now);
/* Milliseconds to wait for I/O before calling policy_should_return() again (>= 0; 0 = now). */
int policy_wait_ms(const policy_t *p, uint64_t now, int inflight);
int policy_should_return(const policy_t *p, uint64_t now, int inflight);

#endif
