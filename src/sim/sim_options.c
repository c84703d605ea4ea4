/* sim_options.c -- icsim's one option table: the groups it shares with icproxy and icbench, and
 * its own rows (the timing model and what differs in meaning from the other programs). */
#include "sim_options.h"

#include <stddef.h>

#include "options.h"
#include "sim.h"

#define OPT(name, type, field, min, max, def, help)                                                \
    {                                                                                              \
        name, type, offsetof(icsim_config_t, field), min, max, def, help, 0                        \
    }
#define FIELD(field) offsetof(icsim_config_t, field)
#define GiB ((int64_t)1 << 30)

const conf_option_t icsim_options[] = {
    /* the workload: icbench's groups, and what icsim means by the rest */
    MODEL_OPTIONS_TRACE(FIELD),
    OPT("time-compress", CONF_STRING, time_compress, 0, 0, "1",
        "trace: divide the trace's times by this (icbench's 0, as fast as the clients go, has no "
        "meaning on a virtual clock)"),
    OPT("hours", CONF_STRING, hours, 0, 0, "0",
        "trace: only the first N hours (0: all); synthetic: N hours at --hourly-rate"),
    MODEL_OPTIONS_WORKLOAD(FIELD),
    OPT("hourly-rate", CONF_STRING, rate, 0, 0, "3500",
        "synthetic: requests per hour of virtual time (Poisson arrivals)"),
    OPT("requests", CONF_INT, requests, 0, ICSIM_REQUESTS_MAX, "0",
        "requests (0: the whole trace, or rate x hours, or 1000 for a synthetic run)"),
    OPT("seed", CONF_INT, seed, 0, INT64_MAX, "1",
        "seed of the synthetic workload and of the random reclaims"),
    OPT("clients", CONF_INT, clients, 1, SIM_CLIENTS_MAX, "1", "closed-loop clients"),
    /* the pool, the platform, the node and the lifecycle: icproxy's groups */
    MODEL_OPTIONS_POOL(FIELD),
    MODEL_OPTIONS_PLATFORM(FIELD),
    MODEL_OPTIONS_NODE_POLICY(FIELD),
    OPT("billing-margin", CONF_MS, billing_margin_ms, 0, 1000, "0",
        "anticipatory: return this long before a boundary (0: billing/10 within 2..10 ms)"),
    MODEL_OPTIONS_LIFECYCLE(FIELD),
    /* the timing model */
    OPT("upload-bandwidth", CONF_BYTES, upload_bandwidth, 0, 64 * GiB, "1g",
        "bytes per second the proxy sends a node (SET chunks); 0: not limited"),
    OPT("sync-bandwidth", CONF_BYTES, sync_bandwidth, 0, 64 * GiB, "0",
        "bytes per second of a backup's sync to the peer; 0: as node-bandwidth (the local "
        "platform does not limit it: pass e.g. 1g to model a local run)"),
    OPT("rtt-us", CONF_INT, rtt_us, 0, 10000000, "300", "round trip proxy <-> node, us"),
    OPT("warm-invoke-us", CONF_INT, warm_invoke_us, 0, 60000000, "3000",
        "invocation sent -> a warm instance starts it, us"),
    OPT("cold-invoke-us", CONF_INT, cold_invoke_us, 0, 60000000, "60000",
        "invocation sent -> a cold start starts it, us"),
    OPT("hello-us", CONF_INT, hello_us, 0, 60000000, "2000",
        "an invocation's start -> its HELLO at the proxy, us"),
    OPT("warmup-run-us", CONF_INT, warmup_run_us, 0, 60000000, "3000",
        "duration of a warm-up invocation, us"),
    OPT("post-us", CONF_INT, post_us, 0, 60000000, "2000",
        "a return: posting the response, inside the billed duration, us"),
    /* durability (docs/EVALUATION.md, "Durability with an object store") */
    OPT("backing", CONF_STRING, backing, 0, 0, "none",
        "none, or s3: every object also lives in an S3 bucket (client SETs written through; a GET "
        "that finds no decodable object is answered from the bucket, then the cache is filled)"),
    OPT("backing-part", CONF_BYTES, backing_part, 1 << 20, 5 * GiB, "8m",
        "bytes of one ranged GET or multipart part in the bucket"),
    OPT("repair-policy", CONF_STRING, repair, 0, 0, "lazy",
        "lazy: lost chunks are re-created when a GET finds them; eager: when the proxy learns of "
        "the loss (with --backing s3 each lost data chunk by one ranged GET, parity at the next "
        "GET; else from d surviving chunks, as icproxy's background repair, not rate-limited "
        "here); hot: eager for objects used within --repair-hot-window, the rest left to the "
        "next GET"),
    OPT("kill", CONF_STRING, kill, 0, 0, "",
        "scripted reclaims, as the local platform's POST /admin/reclaim?function=: "
        "TIME:NODE[,TIME:NODE...] reclaims the instance node NODE uses at TIME into the run "
        "(once it is not serving), to compare with a real run that does the same"),
    /* prices: icbench's group (src/model/cost.c) */
    MODEL_OPTIONS_PRICES(FIELD),
    OPT("json", CONF_STRING, json, 0, 0, "", "write the totals and per-hour series here"),
    CONF_END,
};
