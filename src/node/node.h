/* node.h -- the cache node's settings and per-invocation logic, shared by main.c and tests. */
#ifndef NODE_NODE_H
#define NODE_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "serve.h"
#include "event.h"
#include "policy.h"
#include "runtime.h"
#include "store.h"
#include "throttle.h"

/* Settings read from IC_NODE_* environment variables (Lambda passes no argv). Each option
 * "name-with-dashes" is read from IC_NODE_NAME_WITH_DASHES:
 *
 *   variable                     default  meaning
 *   IC_NODE_RESERVED_MB          32       MiB of the function's memory kept for the process
 *                                         itself (raised to what the process needs)
 *   IC_NODE_RETURN_POLICY        anticipatory  when an invocation returns (src/model/policy.h):
 *                                         anticipatory = just before a billing boundary, extended
 *                                         while requests come; idle = the naive baseline
 *   IC_NODE_IDLE_RETURN_MS       20       idle: return after this long without requests
 *   IC_NODE_DEADLINE_MARGIN_MS   50       both: always return this long before the deadline
 *   IC_NODE_BILLING_MS           1        billing granularity, 1..1000 (1 = AWS since 2020-12,
 *                                         100 = the paper's); must match the platform's
 *   IC_NODE_BILLING_MARGIN_MS    0        anticipatory: return this long before a boundary;
 *                                         0 = BILLING_MS/10 bounded to 2..10 ms
 *   IC_NODE_BILLING_IDLE_MS      10       anticipatory when BILLING_MS <= 2 x margin (every ms is
 *                                         billed, no boundary to aim at): return after this long
 *                                         without requests. 10 ms is about where waiting costs as
 *                                         much as one more invocation's request fee for a ~1 GiB
 *                                         function ($0.20 per million vs $0.0000166667 per GB-s)
 *   IC_NODE_CONNECT_TIMEOUT_MS   1000     bound on dialing the proxy
 *   IC_NODE_BYE_TIMEOUT_MS       1000     bound on writing BYE (and pending replies) at return
 *   IC_NODE_BACKUP_TIMEOUT_MS    30000    a backup (either end) fails when no byte moves this long
 *   IC_NODE_TOMBSTONE_TTL_MS     3600000  how long a deleted key's tombstone is kept
 *   IC_NODE_EVENT_MAX_AGE_MS     300000   an event whose "ts" is further than this from the
 *                                         node's clock (either way) is refused
 *   IC_NODE_LOG_LEVEL            info     debug, info, warn or error
 *   IC_NODE_BANDWIDTH            0        network emulation: bytes per second this node sends
 *                                         its proxy (k/m/g suffixes; 0 = unlimited)
 *   IC_NODE_STRAGGLER_RATE       0        network emulation: fraction (0..1) of CGET replies held
 *                                         back, with the replies behind them
 *   IC_NODE_STRAGGLER_DELAY_MS   100      ... for this long
 *   IC_NODE_STRAGGLER_SEED       0        ... chosen by a generator seeded with this and the
 *                                         function's name (0: a random seed)
 *
 * and, not in this table (a secret is never printed with the options): IC_NODE_SECRET, the
 * deployment's node secret (required: events are refused without it), IC_NODE_SECRET_PREVIOUS
 * (optional, still accepted while a secret is rotated); from the platform: AWS_LAMBDA_RUNTIME_API (host:port[/prefix]) and
 * AWS_LAMBDA_FUNCTION_MEMORY_SIZE (MiB). */
typedef struct {
    int64_t reserved_mb;
    int64_t idle_return_ms;
    int64_t tombstone_ttl_ms;
    int64_t deadline_margin_ms;
    char *return_policy;
    int64_t billing_ms;
    int64_t billing_margin_ms;
    int64_t billing_idle_ms;
    int64_t connect_timeout_ms;
    int64_t bye_timeout_ms;
    int64_t backup_timeout_ms;
    int64_t event_max_age_ms;
    char *log_level;
    int64_t bandwidth;
    char *straggler_rate_text; /* as given; parsed into straggler_rate */
    double straggler_rate;
    int64_t straggler_delay_ms;
    int64_t straggler_seed;
} node_config_t;

extern const conf_option_t node_options[];

/* Fills cfg from defaults and the environment. 0, or -1 with a message in err. */
int node_config_from_env(node_config_t *cfg, char *err, size_t errlen);
void node_config_free(node_config_t *cfg);

/* Store limit in bytes for a function of memory_mb MiB, reserving max(reserved_mb, floor_mb).
 * 0 on success, -1 (with err) when nothing would be left for chunks. */
int node_mem_limit(int64_t memory_mb, int64_t reserved_mb, int64_t floor_mb, uint64_t *limit,
                   char *err, size_t errlen);

/* Reads IC_NODE_SECRET (required) and IC_NODE_SECRET_PREVIOUS (optional) into s. 0, or -1 with
 * a message in err that names the variable but never shows its value. */
int node_secrets_from_env(nodeauth_secrets_t *s, char *err, size_t errlen);

/* Sets up network emulation from cfg for the function `function` (its name goes into the
 * straggler seed). Returns 1 when some is configured (t is then ready), 0 when none is. */
int node_throttle_setup(const node_config_t *cfg, const char *function, uint64_t now,
                        throttle_t *t);

/* Resident set of this process in MiB (rounded up), from /proc/self/status; 0 if unknown. */
int64_t node_rss_mb(void);

#endif
