/* node.c -- the cache node's option table and memory sizing (see node.h). */
#include "node.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define OPT(field) offsetof(node_config_t, field)
const conf_option_t node_options[] = {
    {"reserved-mb", CONF_INT, OPT(reserved_mb), 0, 1 << 20, "32",
     "MiB of the function's memory kept for the process itself, not for chunks", 0},
    {"idle-return-ms", CONF_MS, OPT(idle_return_ms), 0, 3600000, "20",
     "idle policy: return an invocation after this long without requests", 0},
    {"deadline-margin-ms", CONF_MS, OPT(deadline_margin_ms), 0, 3600000, "50",
     "always return this long before the invocation deadline", 0},
    {"return-policy", CONF_STRING, OPT(return_policy), 0, 0, "anticipatory",
     "when an invocation returns: anticipatory (just before a billing boundary) or idle (after "
     "idle-return-ms without requests)",
     0},
    {"billing-ms", CONF_MS, OPT(billing_ms), 1, 1000, "1",
     "billing granularity of the platform: 1 (AWS since 2020-12) or 100 (the paper's)", 0},
    {"billing-margin-ms", CONF_MS, OPT(billing_margin_ms), 0, 1000, "0",
     "anticipatory: return this long before a billing boundary (0: billing-ms/10 within 2..10)", 0},
    {"billing-idle-ms", CONF_MS, OPT(billing_idle_ms), 0, 3600000, "10",
     "anticipatory, when billing-ms is at most twice the margin: return after this long idle", 0},
    {"connect-timeout-ms", CONF_MS, OPT(connect_timeout_ms), 1, 600000, "1000",
     "bound on dialing the proxy", 0},
    {"bye-timeout-ms", CONF_MS, OPT(bye_timeout_ms), 1, 600000, "1000",
     "bound on writing BYE and pending replies when returning", 0},
    {"backup-timeout-ms", CONF_MS, OPT(backup_timeout_ms), 1, 3600000, "30000",
     "a backup (either end) fails when no byte moves for this long", 0},
    {"event-max-age-ms", CONF_MS, OPT(event_max_age_ms), 1000, 86400000, "300000",
     "an invocation event made further than this from the node's clock is refused", 0},
    {"tombstone-ttl-ms", CONF_MS, OPT(tombstone_ttl_ms), 1000, 30LL * 24 * 3600 * 1000, "3600000",
     "how long a deleted key's tombstone is kept (so a restarted proxy does not bring the key "
     "back); outlive several backup intervals",
     0},
    {"log-level", CONF_STRING, OPT(log_level), 0, 0, "info", "debug, info, warn or error", 0},
    {"bandwidth", CONF_BYTES, OPT(bandwidth), 0, (int64_t)THROTTLE_RATE_MAX, "0",
     "network emulation: bytes per second sent to the proxy (0: unlimited)", 0},
    {"straggler-rate", CONF_STRING, OPT(straggler_rate_text), 0, 0, "0",
     "network emulation: fraction (0..1) of CGET replies held back", 0},
    {"straggler-delay-ms", CONF_MS, OPT(straggler_delay_ms), 0, 3600000, "100",
     "network emulation: how long a straggler's reply is held", 0},
    {"straggler-seed", CONF_INT, OPT(straggler_seed), 0, INT64_MAX, "0",
     "network emulation: seed of the straggler choice, mixed with the function name (0: random)",
     0},
    CONF_END,
};

int node_config_from_env(node_config_t *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    if (conf_defaults(node_options, cfg, err, errlen) < 0) return -1;
    for (const conf_option_t *o = node_options; o->name; o++) {
        char var[64] = "IC_NODE_";
        size_t n = strlen(var);
        for (const char *p = o->name; *p && n + 1 < sizeof var; p++)
            var[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        var[n] = 0;
        const char *v = getenv(var);
        if (!v) continue;
        char msg[200];
        if (conf_set(node_options, cfg, o->name, v, msg, sizeof msg) < 0) {
            snprintf(err, errlen, "%s: %s", var, msg);
            return -1;
        }
    }
    if (conf_parse_decimal(cfg->straggler_rate_text, 0, 1, &cfg->straggler_rate) < 0) {
        snprintf(err, errlen, "IC_NODE_STRAGGLER_RATE '%.40s' is not a fraction from 0 to 1",
                 cfg->straggler_rate_text);
        return -1;
    }
    return 0;
}

int node_secrets_from_env(nodeauth_secrets_t *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    const char *cur = getenv("IC_NODE_SECRET"), *prev = getenv("IC_NODE_SECRET_PREVIOUS");
    char why[160];
    if (!cur || !*cur) {
        snprintf(err, errlen, "IC_NODE_SECRET is not set: the node obeys only events sealed with "
                              "the deployment's node secret (docs/SECURITY.md)");
        return -1;
    }
    if (nodeauth_secret_check(cur, why, sizeof why) < 0) {
        snprintf(err, errlen, "IC_NODE_SECRET: %s", why);
        return -1;
    }
    snprintf(s->current, sizeof s->current, "%s", cur);
    if (prev && *prev) {
        if (nodeauth_secret_check(prev, why, sizeof why) < 0) {
            snprintf(err, errlen, "IC_NODE_SECRET_PREVIOUS: %s", why);
            return -1;
        }
        snprintf(s->previous, sizeof s->previous, "%s", prev);
    }
    return 0;
}

int node_throttle_setup(const node_config_t *cfg, const char *function, uint64_t now,
                        throttle_t *t)
{
    if (cfg->bandwidth <= 0 && !(cfg->straggler_rate > 0 && cfg->straggler_delay_ms > 0)) return 0;
    throttle_bucket_init(&t->bucket, (uint64_t)cfg->bandwidth, 0, now);
    uint64_t seed = (uint64_t)cfg->straggler_seed;
    if (seed == 0 && getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = now ^ ((uint64_t)getpid() << 32); /* no entropy source: still differs per run */
    throttle_straggler_init(&t->straggler, cfg->straggler_rate, (uint64_t)cfg->straggler_delay_ms,
                            throttle_seed_mix(seed, function));
    return 1;
}

void node_config_free(node_config_t *cfg)
{
    free(cfg->log_level);
    cfg->log_level = NULL;
    free(cfg->return_policy);
    cfg->return_policy = NULL;
    free(cfg->straggler_rate_text);
    cfg->straggler_rate_text = NULL;
}

int node_mem_limit(int64_t memory_mb, int64_t reserved_mb, int64_t floor_mb, uint64_t *limit,
                   char *err, size_t errlen)
{
    int64_t reserve = reserved_mb > floor_mb ? reserved_mb : floor_mb;
    if (memory_mb <= reserve) {
        snprintf(err, errlen,
                 "function memory of %lld MiB leaves nothing for chunks after reserving %lld MiB",
                 (long long)memory_mb, (long long)reserve);
        return -1;
    }
    *limit = (uint64_t)(memory_mb - reserve) << 20;
    return 0;
}

int64_t node_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1) break;
    fclose(f);
    return (kb + 1023) / 1024;
}
