/* bench_options.c -- icbench's one option table: its own rows and the groups it shares with icsim.
 */
#include "bench_options.h"

#include <stddef.h>

#include "options.h"

#define OPT(name, type, field, min, max, def, help)                                                \
    {                                                                                              \
        name, type, offsetof(icbench_config_t, field), min, max, def, help, 0                      \
    }
#define FIELD(field) offsetof(icbench_config_t, field)

const conf_option_t icbench_options[] = {
    OPT("target", CONF_STRING, target, 0, 0, "",
        "a cache to measure, repeat for several: ic:HOST:PORT[,d=N,p=N,firstd=0|1] "
        "(libinfinicache), "
        "resp:HOST:PORT (icproxy or redis-server), memcached:HOST:PORT"),
    OPT("clients", CONF_INT, clients, 1, ICBENCH_MAX_CLIENTS, "1",
        "closed-loop clients per target, each a thread with its own connection"),
    OPT("requests", CONF_INT, requests, 0, INT64_MAX, "0",
        "requests per target (0: the whole trace, or 1000 for a synthetic run without --duration)"),
    OPT("duration", CONF_MS, duration_ms, 0, 30LL * 86400000, "0",
        "stop each target after this long (0: no limit)"),
    OPT("seed", CONF_INT, seed, 0, INT64_MAX, "1", "seed of the synthetic workload"),
    MODEL_OPTIONS_WORKLOAD(FIELD),
    OPT("rate", CONF_STRING, rate, 0, 0, "0",
        "synthetic: issue request i at i/RATE seconds after the start, RATE requests per second "
        "over all clients (open loop; 0: closed loop, each client as fast as it goes)"),
    MODEL_OPTIONS_TRACE(FIELD),
    OPT("strict", CONF_BOOL, strict, 0, 1, "no",
        "stop at the first malformed trace record instead of reporting and skipping it"),
    OPT("time-compress", CONF_STRING, time_compress, 0, 0, "0",
        "trace: replay at this many times real speed (0: as fast as the clients go)"),
    OPT("hours", CONF_STRING, hours, 0, 0, "0", "trace: replay only the first N hours (0: all)"),
    OPT("timeout", CONF_MS, timeout_ms, 100, 3600000, "30s", "per-request timeout"),
    OPT("csv", CONF_STRING, csv, 0, 0, "", "write one row per request to this file"),
    OPT("cost", CONF_BOOL, cost, 0, 1, "yes",
        "cost report for every ic: or resp: target that is an icproxy (its INFO has a pool): "
        "Lambda billed by its platform, proxy VM, ElastiCache of the same capacity"),
    OPT("cost-interval", CONF_MS, cost_interval_ms, 100, 3600000, "1s",
        "read the icproxy's INFO this often during a run (cost over time)"),
    OPT("cost-settle", CONF_MS, cost_settle_ms, 0, 600000, "10s",
        "after a run, wait at most this long for the proxy's invocations to end and be billed"),
    MODEL_OPTIONS_PRICES(FIELD),
    OPT("plot", CONF_STRING, plot, 0, 0, "",
        "write PNG plots (GET latency CDF, latency by size, cost over time) with gnuplot, their "
        "data and plots.gp into this directory"),
    OPT("backing", CONF_STRING, backing, 0, 0, "",
        "where a GET miss fetches the object before filling the cache: a directory (one file per "
        "key, written on first need and by every SET), s3://BUCKET@http://HOST:PORT (an "
        "S3-compatible store, SigV4 with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION), "
        "none (generate the bytes), or empty for a temporary directory removed at the end"),
    OPT("generate-trace", CONF_STRING, generate_trace, 0, 0, "",
        "write a synthetic registry trace with the paper's statistics to this file (- for "
        "stdout), --hours long (0: 50) from --seed, print its statistics and exit"),
    CONF_END,
};
