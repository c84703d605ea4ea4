/* icbench.c -- replays one workload (synthetic or the IBM Docker registry trace) against several
 * caches and reports latency, throughput and hit ratio. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backing.h"
#include "clock.h"
#include "config.h"
#include "cost.h"
#include "meter.h"
#include "plot.h"
#include "gentrace.h"
#include "stats.h"
#include "targets.h"
#include "trace.h"
#include "workload.h"

#define MAX_TARGETS 16
#define MAX_CLIENTS 1024
#define DEFAULT_SYNTHETIC_REQUESTS 1000

typedef struct {
    char *target; /* only from a config file; --target on the command line repeats */
    char *trace;
    char *trace_format;
    int strict;
    int64_t min_size, max_size;
    char *size_scale, *time_compress, *hours;
    char *size_dist;
    int64_t keys;
    char *zipf, *get_ratio, *rate;
    int64_t clients, requests, duration_ms, seed, timeout_ms;
    char *csv;
    char *key_prefix;
    int cost;
    int64_t cost_interval_ms, cost_settle_ms;
    char *prices, *price_gb_s, *price_requests, *proxy_vm, *plot;
    char *backing;
    char *generate_trace;
} icbench_config_t;

#define OPT(name, type, field, min, max, def, help)                                                \
    {                                                                                              \
        name, type, offsetof(icbench_config_t, field), min, max, def, help                         \
    }
#define TiB ((int64_t)1 << 40)

static const conf_option_t options[] = {
    OPT("target", CONF_STRING, target, 0, 0, "",
        "a cache to measure, repeat for several: ic:HOST:PORT[,d=N,p=N,firstd=0|1] (libinfinicache), "
        "resp:HOST:PORT (icproxy or redis-server), memcached:HOST:PORT"),
    OPT("clients", CONF_INT, clients, 1, MAX_CLIENTS, "1",
        "closed-loop clients per target, each a thread with its own connection"),
    OPT("requests", CONF_INT, requests, 0, INT64_MAX, "0",
        "requests per target (0: the whole trace, or 1000 for a synthetic run without --duration)"),
    OPT("duration", CONF_MS, duration_ms, 0, 30LL * 86400000, "0",
        "stop each target after this long (0: no limit)"),
    OPT("seed", CONF_INT, seed, 0, INT64_MAX, "1", "seed of the synthetic workload"),
    OPT("size-dist", CONF_STRING, size_dist, 0, 0, "fixed:1m",
        "synthetic object sizes: fixed:SIZE, uniform:MIN-MAX or lognormal:MEDIAN,SIGMA"),
    OPT("keys", CONF_INT, keys, 1, WORKLOAD_KEYS_MAX, "1000", "synthetic: number of distinct keys"),
    OPT("zipf", CONF_STRING, zipf, 0, 0, "0.99",
        "synthetic: Zipf exponent of key popularity (0: uniform)"),
    OPT("get-ratio", CONF_STRING, get_ratio, 0, 0, "0.9",
        "synthetic: fraction of requests that are GETs (the rest are SETs)"),
    OPT("rate", CONF_STRING, rate, 0, 0, "0",
        "synthetic: issue request i at i/RATE seconds after the start, RATE requests per second "
        "over all clients (open loop; 0: closed loop, each client as fast as it goes)"),
    OPT("trace", CONF_STRING, trace, 0, 0, "",
        "replay this trace (IBM Docker registry: JSON array, JSON lines or CSV with a header) "
        "instead of the synthetic workload"),
    OPT("trace-format", CONF_STRING, trace_format, 0, 0, "auto", "auto, json or csv"),
    OPT("strict", CONF_BOOL, strict, 0, 1, "no",
        "stop at the first malformed trace record instead of reporting and skipping it"),
    OPT("min-size", CONF_BYTES, min_size, 0, TiB, "0",
        "trace: keep only objects larger than this (after --size-scale; 0 keeps all)"),
    OPT("size-scale", CONF_STRING, size_scale, 0, 0, "1", "trace: multiply object sizes by this"),
    OPT("max-size", CONF_BYTES, max_size, 0, TiB, "0",
        "cap object sizes at this (trace and synthetic; 0: no cap)"),
    OPT("time-compress", CONF_STRING, time_compress, 0, 0, "0",
        "trace: replay at this many times real speed (0: as fast as the clients go)"),
    OPT("hours", CONF_STRING, hours, 0, 0, "0", "trace: replay only the first N hours (0: all)"),
    OPT("timeout", CONF_MS, timeout_ms, 100, 3600000, "30s", "per-request timeout"),
    OPT("csv", CONF_STRING, csv, 0, 0, "", "write one row per request to this file"),
    OPT("key-prefix", CONF_STRING, key_prefix, 0, 0, "icb",
        "keys are PREFIX<target number>:<16 hex digits>"),
    OPT("cost", CONF_BOOL, cost, 0, 1, "yes",
        "cost report for every ic: or resp: target that is an icproxy (its INFO has a pool): "
        "Lambda billed by its platform, proxy VM, ElastiCache of the same capacity"),
    OPT("cost-interval", CONF_MS, cost_interval_ms, 100, 3600000, "1s",
        "read the icproxy's INFO this often during a run (cost over time)"),
    OPT("cost-settle", CONF_MS, cost_settle_ms, 0, 600000, "10s",
        "after a run, wait at most this long for the proxy's invocations to end and be billed"),
    OPT("prices", CONF_STRING, prices, 0, 0, "current",
        "price set: current (us-east-1 on-demand, recorded 2026-11-24) or 2020 (the paper's)"),
    OPT("price-gb-s", CONF_STRING, price_gb_s, 0, 0, "",
        "USD per Lambda GB-second (empty: the price set's, 0.0000166667)"),
    OPT("price-requests", CONF_STRING, price_requests, 0, 0, "",
        "USD per million Lambda requests (empty: the price set's, 0.20)"),
    OPT("proxy-vm", CONF_STRING, proxy_vm, 0, 0, "",
        "the proxy's VM as TYPE:USD_PER_HOUR, or none (empty: the price set's, c5n.xlarge:0.216)"),
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

static const char usage[] =
    "usage: icbench --target SPEC [--target SPEC ...] [options]\n"
    "\n"
    "Runs the same workload against every target, one after the other, and prints latency\n"
    "percentiles per target, operation and size class, throughput, hit ratio, bytes moved and\n"
    "errors. A GET that misses fetches the object from the backing store (--backing; timed as\n"
    "FETCH) and SETs it (cache fill). Every value read, from a cache or the store, is checked\n"
    "byte for byte (wrong_bytes). Exit status: 0 done, 1 wrong bytes seen, 2 bad\n"
    "options, an unreadable trace or an unreachable target.\n"
    "\n"
    "  icbench --target resp:127.0.0.1:6378 --target ic:127.0.0.1:6378,d=10,p=2 \\\n"
    "          --size-dist lognormal:4m,1.5 --keys 500 --clients 4 --duration 30s\n"
    "  icbench --target memcached:127.0.0.1:11211 --trace registry.json --min-size 10m";

/* ---- the workload ---- */

typedef struct {
    trace_op_t op;
    uint64_t key;
    uint64_t size;
    uint32_t version;
    double at; /* seconds after the start when a paced trace issues it */
} request_t;

typedef struct {
    const icbench_config_t *cfg;
    int is_trace;
    trace_t trace;
    double compress; /* > 0: pace the trace */
    double rate;     /* > 0: pace the synthetic workload, requests per second */
    workload_zipf_t zipf;
    workload_size_t size;
    double get_ratio;
    uint64_t limit;      /* requests per target */
    uint64_t max_object; /* largest object the workload can ask for, 0 if unbounded */
} workload_t;

static void request_at(const workload_t *w, uint64_t idx, request_t *r)
{
    r->version = (uint32_t)(idx + 1);
    if (w->is_trace) {
        const trace_record_t *t = &w->trace.records[idx];
        r->op = t->op;
        r->key = t->key;
        r->size = t->size;
        r->at = w->compress > 0 ? (t->time - w->trace.records[0].time) / w->compress : 0;
        return;
    }
    workload_rng_t rng;
    workload_rng_seed(&rng, (uint64_t)w->cfg->seed, idx);
    r->op = workload_rng_double(&rng) < w->get_ratio ? TRACE_OP_GET : TRACE_OP_SET;
    uint64_t k = workload_zipf_draw(&w->zipf, &rng);
    r->key = workload_mix64((uint64_t)w->cfg->seed ^ workload_mix64(k + 1));
    workload_rng_t sizer; /* a key's size is a property of the key */
    workload_rng_seed(&sizer, (uint64_t)w->cfg->seed, r->key);
    r->size = workload_size_draw(&w->size, &sizer, (uint64_t)w->cfg->max_size);
    r->at = w->rate > 0 ? idx / w->rate : 0;
}

/* ---- measuring ---- */

enum { OP_FETCH = 2, OPS = 3 }; /* after TRACE_OP_GET and TRACE_OP_SET */
static const char *const op_names[OPS] = {"GET", "SET", "FETCH"};

typedef struct {
    stats_samples_t lat[OPS][STATS_SIZE_CLASSES];
    uint64_t requests, gets, hits, misses, sets, fills, errors, wrong;
    uint64_t bytes_read, bytes_written, fetches, bytes_fetched;
    int out_of_memory;
    plot_samples_t plot; /* GET latencies by size, only with --plot */
} tally_t;

typedef struct run run_t;

typedef struct {
    run_t *run;
    int id;
    pthread_t thread;
    target_conn_t *conn;
    tally_t tally;
    unsigned char *value;
    size_t value_cap;
    workload_verify_t verify; /* of the GET in flight, advanced as its bytes arrive */
    char last_error[256];
} worker_t;

struct run {
    const workload_t *w;
    const target_t *target;
    int target_index;
    const char *key_prefix;
    backing_t *backing; /* NULL: misses are filled from generated bytes */
    uint64_t start_ns, deadline_ns; /* deadline 0: none */
    atomic_uint_fast64_t next, done;
    atomic_int running; /* workers still in their loop */
    FILE *csv;
    pthread_mutex_t csv_lock;
    int plot;
};

static atomic_int stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, 1);
}

static void sleep_until(uint64_t t_ns)
{
    uint64_t now;
    while ((now = clock_mono_ns()) < t_ns && !atomic_load(&stop_requested)) {
        uint64_t d = t_ns - now;
        if (d > 100000000) d = 100000000; /* wake up to notice Ctrl-C */
        struct timespec ts = {(time_t)(d / 1000000000), (long)(d % 1000000000)};
        nanosleep(&ts, NULL);
    }
}

static void record(worker_t *w, int op, uint64_t size, uint64_t ns)
{
    if (stats_samples_add(&w->tally.lat[op][stats_size_class(size)], ns) < 0)
        w->tally.out_of_memory = 1;
    if (op == TRACE_OP_GET && w->run->plot) plot_samples_add(&w->tally.plot, size, ns);
}

static void csv_row(worker_t *w, uint64_t idx, int op, const request_t *r, const char *result,
                    uint64_t start, uint64_t ns)
{
    run_t *run = w->run;
    if (!run->csv) return;
    pthread_mutex_lock(&run->csv_lock);
    fprintf(run->csv, "%s,%d,%" PRIu64 ",%s,%016" PRIx64 ",%" PRIu64 ",%s,%.3f,%.6f\n",
            run->target->spec, w->id, idx, op_names[op], r->key, r->size, result, ns / 1e3,
            (start - run->start_ns) / 1e9);
    pthread_mutex_unlock(&run->csv_lock);
}

/* Makes w->value hold version r->version of the object. */
static const unsigned char *object_bytes(worker_t *w, const request_t *r)
{
    if (r->size > w->value_cap) {
        unsigned char *v = realloc(w->value, r->size);
        if (!v) return NULL;
        w->value = v;
        w->value_cap = r->size;
    }
    workload_object_fill(w->value, r->size, r->key, r->version);
    return w->value;
}

/* SETs the given bytes (a fill from the backing store), or generated ones (a workload SET, which
 * also writes the backing store, untimed). */
static void do_set(worker_t *w, uint64_t idx, const request_t *r, const char *key, size_t keylen,
                   const unsigned char *given, size_t given_len)
{
    char err[256];
    const unsigned char *v = given ? given : object_bytes(w, r);
    uint64_t size = given ? given_len : r->size;
    if (!v) {
        w->tally.errors++;
        w->tally.out_of_memory = 1;
        return;
    }
    uint64_t t0 = clock_mono_ns();
    int rc = target_set(w->conn, key, keylen, v, size, err, sizeof err);
    uint64_t ns = clock_mono_ns() - t0;
    w->tally.sets++;
    if (rc == TARGET_STORED) {
        w->tally.bytes_written += size;
        record(w, TRACE_OP_SET, size, ns);
    } else {
        w->tally.errors++;
        snprintf(w->last_error, sizeof w->last_error, "%s", err);
    }
    csv_row(w, idx, TRACE_OP_SET, r, rc == TARGET_STORED ? "stored" : "error", t0, ns);
    if (!given && w->run->backing &&
        backing_store(w->run->backing, r->key, v, size, err, sizeof err) < 0) {
        w->tally.errors++;
        snprintf(w->last_error, sizeof w->last_error, "%s", err);
    }
}

/* A miss: the object from the backing store, checked, then SET into the cache. */
static void do_fill(worker_t *w, uint64_t idx, const request_t *r, const char *key, size_t keylen)
{
    char err[256];
    size_t len = 0;
    uint64_t ns = 0, t0 = clock_mono_ns();
    if (backing_fetch(w->run->backing, r->key, r->size, r->version, &w->value, &w->value_cap,
                      &len, &ns, err, sizeof err) < 0) {
        w->tally.errors++;
        snprintf(w->last_error, sizeof w->last_error, "%s", err);
        csv_row(w, idx, OP_FETCH, r, "error", t0, clock_mono_ns() - t0);
        return;
    }
    w->tally.fetches++;
    w->tally.bytes_fetched += len;
    if (workload_object_verify(w->value, len, r->key) != 0 ||
        (!w->run->w->is_trace && len != r->size)) {
        w->tally.wrong++;
        snprintf(w->last_error, sizeof w->last_error,
                 "backing store %s: object %016" PRIx64 " has wrong bytes (not cached)",
                 backing_name(w->run->backing), r->key);
        csv_row(w, idx, OP_FETCH, r, "wrong", t0, ns);
        return;
    }
    record(w, OP_FETCH, len, ns);
    csv_row(w, idx, OP_FETCH, r, "fetched", t0, ns);
    do_set(w, idx, r, key, keylen, w->value, len);
}

static void on_value_bytes(void *arg, const void *value, size_t len, size_t have)
{
    worker_t *w = arg;
    workload_verify_update(&w->verify, value, len, have);
}

static void do_get(worker_t *w, uint64_t idx, const request_t *r, const char *key, size_t keylen)
{
    char err[256];
    const void *value = NULL;
    size_t len = 0;
    workload_verify_begin(&w->verify, r->key);
    uint64_t t0 = clock_mono_ns();
    int rc = target_get(w->conn, key, keylen, &value, &len, err, sizeof err);
    uint64_t ns = clock_mono_ns() - t0;
    w->tally.gets++;
    const char *result;
    if (rc == TARGET_HIT) {
        w->tally.bytes_read += len;
        /* A trace may give one URI several sizes; any complete version of the key is right. */
        int right = workload_verify_end(&w->verify, value, len) == 0 &&
                    (w->run->w->is_trace || len == r->size);
        if (right) {
            w->tally.hits++;
            record(w, TRACE_OP_GET, len, ns);
            result = "hit";
        } else {
            w->tally.wrong++;
            result = "wrong";
            snprintf(w->last_error, sizeof w->last_error, "GET %s returned wrong bytes", key);
        }
    } else if (rc == TARGET_MISS) {
        w->tally.misses++;
        record(w, TRACE_OP_GET, r->size, ns);
        result = "miss";
    } else {
        w->tally.errors++;
        snprintf(w->last_error, sizeof w->last_error, "%s", err);
        result = "error";
    }
    csv_row(w, idx, TRACE_OP_GET, r, result, t0, ns);
    if (rc == TARGET_MISS) {
        w->tally.fills++;
        if (w->run->backing)
            do_fill(w, idx, r, key, keylen);
        else
            do_set(w, idx, r, key, keylen, NULL, 0);
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    run_t *run = w->run;
    for (;;) {
        if (atomic_load(&stop_requested)) break;
        uint64_t idx = atomic_fetch_add(&run->next, 1);
        if (idx >= run->w->limit) break;
        if (run->deadline_ns && clock_mono_ns() >= run->deadline_ns) break;
        request_t r;
        request_at(run->w, idx, &r);
        if (r.at > 0) sleep_until(run->start_ns + (uint64_t)(r.at * 1e9));
        char key[96];
        int keylen = snprintf(key, sizeof key, "%s%d:%016" PRIx64, run->key_prefix,
                              run->target_index, r.key);
        if (r.op == TRACE_OP_GET)
            do_get(w, idx, &r, key, (size_t)keylen);
        else
            do_set(w, idx, &r, key, (size_t)keylen, NULL, 0);
        w->tally.requests++;
        atomic_fetch_add(&run->done, 1);
    }
    atomic_fetch_sub(&run->running, 1);
    return NULL;
}

/* ---- reporting ---- */

typedef struct {
    tally_t total;
    double seconds;
    int clients_failed;
    char last_error[256];
    meter_t *meter; /* icproxy targets with --cost or --plot: INFO over the run */
} result_t;

static void merge(tally_t *into, tally_t *from)
{
    for (int op = 0; op < OPS; op++)
        for (int c = 0; c < STATS_SIZE_CLASSES; c++) {
            if (stats_samples_merge(&into->lat[op][c], &from->lat[op][c]) < 0)
                into->out_of_memory = 1;
            stats_samples_free(&from->lat[op][c]);
        }
    into->requests += from->requests;
    into->gets += from->gets;
    into->hits += from->hits;
    into->misses += from->misses;
    into->sets += from->sets;
    into->fills += from->fills;
    into->errors += from->errors;
    into->wrong += from->wrong;
    into->bytes_read += from->bytes_read;
    into->bytes_written += from->bytes_written;
    into->fetches += from->fetches;
    into->bytes_fetched += from->bytes_fetched;
    into->out_of_memory |= from->out_of_memory;
    plot_samples_merge(&into->plot, &from->plot);
}

static void progress(const run_t *run, int final)
{
    uint64_t done = atomic_load(&run->done);
    double secs = (clock_mono_ns() - run->start_ns) / 1e9;
    char total[32] = "";
    if (run->w->limit != UINT64_MAX) snprintf(total, sizeof total, "/%" PRIu64, run->w->limit);
    fprintf(stderr, "\r%-32s %10" PRIu64 "%s requests %8.1f s %10.0f req/s%s", run->target->spec,
            done, total, secs, secs > 0 ? done / secs : 0, final ? "\n" : "");
    fflush(stderr);
}

/* An INFO meter on an icproxy target when cost or plots are wanted; NULL otherwise. */
static meter_t *start_meter(const icbench_config_t *cfg, const target_t *t)
{
    if ((!cfg->cost && !cfg->plot[0]) || t->kind == TARGET_MEMCACHED) return NULL;
    char err[256];
    int not_icproxy;
    meter_t *m = meter_start(t->host, t->port, (int)cfg->cost_interval_ms, t->timeout_ms,
                             &not_icproxy, err, sizeof err);
    if (!m && !not_icproxy) fprintf(stderr, "icbench: %s: no cost report: %s\n", t->spec, err);
    return m;
}

/* Runs the workload against one target with cfg->clients threads. 0, or -1 on a setup failure. */
static int run_target(const workload_t *w, const target_t *t, int index, FILE *csv,
                      backing_t *backing, result_t *res)
{
    const icbench_config_t *cfg = w->cfg;
    int n = (int)cfg->clients;
    worker_t *workers = calloc((size_t)n, sizeof *workers);
    run_t run = {
        .w = w, .target = t, .target_index = index, .key_prefix = cfg->key_prefix, .csv = csv,
        .backing = backing};
    if (!workers) return -1;
    pthread_mutex_init(&run.csv_lock, NULL);
    run.plot = cfg->plot[0] != 0;
    atomic_init(&run.next, 0);
    atomic_init(&run.done, 0);
    atomic_init(&run.running, 0);
    memset(res, 0, sizeof *res);
    for (int i = 0; i < n; i++) {
        char err[256];
        workers[i].run = &run;
        workers[i].id = i;
        workers[i].conn = target_connect(t, err, sizeof err);
        if (!workers[i].conn) {
            fprintf(stderr, "icbench: %s: client %d: %s\n", t->spec, i, err);
            res->clients_failed++;
        } else {
            target_set_progress(workers[i].conn, on_value_bytes, &workers[i]);
        }
    }
    res->meter = start_meter(cfg, t);
    run.start_ns = clock_mono_ns();
    run.deadline_ns =
        cfg->duration_ms > 0 ? run.start_ns + (uint64_t)cfg->duration_ms * 1000000 : 0;
    int started = 0;
    for (int i = 0; i < n; i++) {
        if (!workers[i].conn) continue;
        atomic_fetch_add(&run.running, 1);
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            atomic_fetch_sub(&run.running, 1);
            target_close(workers[i].conn);
            workers[i].conn = NULL;
            res->clients_failed++;
            continue;
        }
        started++;
    }
    int tty = isatty(STDERR_FILENO);
    if (tty && started > 0) {
        /* Poll the shared counter; the workers never wait for this thread. */
        while (atomic_load(&run.running) > 0) {
            progress(&run, 0);
            struct timespec ts = {0, 200000000};
            nanosleep(&ts, NULL);
        }
    }
    for (int i = 0; i < n; i++)
        if (workers[i].conn) pthread_join(workers[i].thread, NULL);
    res->seconds = (clock_mono_ns() - run.start_ns) / 1e9;
    if (tty && started > 0) progress(&run, 1);
    if (res->meter &&
        meter_finish(res->meter, atomic_load(&stop_requested) ? 0 : (int)cfg->cost_settle_ms) < 0) {
        fprintf(stderr, "icbench: %s: INFO failed after the run; no cost report\n", t->spec);
        meter_free(res->meter);
        res->meter = NULL;
    }
    for (int i = 0; i < n; i++) {
        merge(&res->total, &workers[i].tally);
        if (workers[i].last_error[0])
            snprintf(res->last_error, sizeof res->last_error, "%s", workers[i].last_error);
        target_close(workers[i].conn);
        free(workers[i].value);
    }
    for (int op = 0; op < OPS; op++)
        for (int c = 0; c < STATS_SIZE_CLASSES; c++)
            stats_samples_sort(&res->total.lat[op][c]);
    pthread_mutex_destroy(&run.csv_lock);
    free(workers);
    return started > 0 ? 0 : -1;
}

static double ms(uint64_t ns)
{
    return ns / 1e6;
}

static void print_summary(const target_t *targets, result_t *results, int ntargets)
{
    printf("\n%-32s %-4s %-10s %9s %10s %10s %10s %10s\n", "target", "op", "size", "count",
           "p50_ms", "p90_ms", "p99_ms", "p99.9_ms");
    for (int i = 0; i < ntargets; i++) {
        for (int op = 0; op < OPS; op++)
            for (int c = 0; c < STATS_SIZE_CLASSES; c++) {
                const stats_samples_t *s = &results[i].total.lat[op][c];
                if (s->n == 0) continue;
                printf("%-32s %-4s %-10s %9zu %10.3f %10.3f %10.3f %10.3f\n", targets[i].spec,
                       op_names[op], stats_size_class_name(c), s->n,
                       ms(stats_percentile(s->v, s->n, 50)), ms(stats_percentile(s->v, s->n, 90)),
                       ms(stats_percentile(s->v, s->n, 99)),
                       ms(stats_percentile(s->v, s->n, 99.9)));
            }
    }
    printf("\n%-32s %9s %8s %10s %9s %9s %8s %11s\n", "target", "requests", "seconds", "req/s",
           "MiB/s", "hit_ratio", "errors", "wrong_bytes");
    for (int i = 0; i < ntargets; i++) {
        const tally_t *t = &results[i].total;
        double secs = results[i].seconds > 0 ? results[i].seconds : 1e-9;
        double mib = (t->bytes_read + t->bytes_written) / 1048576.0;
        double hit = t->gets ? (double)t->hits / t->gets : 0;
        printf("%-32s %9" PRIu64 " %8.2f %10.1f %9.1f %9.3f %8" PRIu64 " %11" PRIu64 "\n",
               targets[i].spec, t->requests, results[i].seconds, t->requests / secs, mib / secs,
               hit, t->errors, t->wrong);
    }
    printf("\n");
    for (int i = 0; i < ntargets; i++) {
        const tally_t *t = &results[i].total;
        double secs = results[i].seconds > 0 ? results[i].seconds : 1e-9;
        printf("result target=%s requests=%" PRIu64 " seconds=%.3f req_per_s=%.1f gets=%" PRIu64
               " hits=%" PRIu64 " misses=%" PRIu64 " hit_ratio=%.4f sets=%" PRIu64 " fills=%" PRIu64
               " bytes_read=%" PRIu64 " bytes_written=%" PRIu64 " errors=%" PRIu64
               " wrong_bytes=%" PRIu64 " clients_failed=%d fetches=%" PRIu64
               " bytes_fetched=%" PRIu64 "\n",
               targets[i].spec, t->requests, results[i].seconds, t->requests / secs, t->gets,
               t->hits, t->misses, t->gets ? (double)t->hits / t->gets : 0, t->sets, t->fills,
               t->bytes_read, t->bytes_written, t->errors, t->wrong, results[i].clients_failed,
               t->fetches, t->bytes_fetched);
        if (results[i].last_error[0])
            fprintf(stderr, "icbench: %s: last error: %s\n", targets[i].spec,
                    results[i].last_error);
        if (t->out_of_memory)
            fprintf(stderr, "icbench: %s: out of memory: some samples were not kept\n",
                    targets[i].spec);
    }
    fflush(stdout);
}

/* --plot: every target's GET latencies (all size classes) and, for icproxy targets, INFO
 * samples. 0 or -1 (reported). */
static int write_plots(const icbench_config_t *cfg, const target_t *targets, result_t *results,
                       int n, const cost_prices_t *prices)
{
    plot_series_t series[MAX_TARGETS];
    stats_samples_t gets[MAX_TARGETS];
    memset(gets, 0, sizeof gets);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < STATS_SIZE_CLASSES; c++)
            if (stats_samples_merge(&gets[i], &results[i].total.lat[TRACE_OP_GET][c]) < 0) rc = -1;
        stats_samples_sort(&gets[i]);
        series[i] = (plot_series_t){.name = targets[i].spec,
                                    .get_ns = gets[i].v,
                                    .nget = gets[i].n,
                                    .sizes = &results[i].total.plot};
        if (results[i].meter) series[i].cost = meter_samples(results[i].meter, &series[i].ncost);
    }
    char err[512];
    if (rc < 0)
        snprintf(err, sizeof err, "out of memory for the plots");
    else
        rc = plot_write(cfg->plot, series, n, prices, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "icbench: --plot: %s\n", err);
    else {
        int have_cost = 0;
        for (int i = 0; i < n; i++)
            have_cost |= series[i].ncost >= 2;
        printf("icbench: plots in %s: latency_cdf.png latency_by_size.png%s (plots.gp and .dat)\n",
               cfg->plot, have_cost ? " cost.png" : "");
    }
    for (int i = 0; i < n; i++)
        stats_samples_free(&gets[i]);
    return rc;
}

/* ---- options ---- */

/* A decimal option in [lo, hi]. */
static int parse_decimal(const char *name, const char *s, double lo, double hi, double *out,
                         char *err, size_t errlen)
{
    if (conf_parse_decimal(s, lo, hi, out) < 0) {
        snprintf(err, errlen, "option %s: '%s' is not a number from %g to %g", name, s, lo, hi);
        return -1;
    }
    return 0;
}

/* Removes every --target from argv (it may repeat, which the option table cannot express). */
static int take_targets(int *argc, char **argv, const char **specs, int *n, char *err,
                        size_t errlen)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--target")) {
            if (i + 1 >= *argc) {
                snprintf(err, errlen, "option --target needs a value");
                return -1;
            }
            v = argv[++i];
        } else if (!strncmp(argv[i], "--target=", 9)) {
            v = argv[i] + 9;
        } else {
            argv[out++] = argv[i];
            continue;
        }
        if (*n == MAX_TARGETS) {
            snprintf(err, errlen, "at most %d targets", MAX_TARGETS);
            return -1;
        }
        specs[(*n)++] = v;
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

static int setup_workload(const icbench_config_t *cfg, workload_t *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->cfg = cfg;
    if (cfg->trace[0]) {
        trace_format_t fmt;
        if (!strcmp(cfg->trace_format, "auto"))
            fmt = TRACE_FORMAT_AUTO;
        else if (!strcmp(cfg->trace_format, "json"))
            fmt = TRACE_FORMAT_JSON;
        else if (!strcmp(cfg->trace_format, "csv"))
            fmt = TRACE_FORMAT_CSV;
        else {
            snprintf(err, errlen, "option trace-format: '%s' is not auto, json or csv",
                     cfg->trace_format);
            return -1;
        }
        double scale, hours;
        if (parse_decimal("size-scale", cfg->size_scale, 0, 1e6, &scale, err, errlen) < 0 ||
            parse_decimal("time-compress", cfg->time_compress, 0, 1e9, &w->compress, err, errlen) <
                0 ||
            parse_decimal("hours", cfg->hours, 0, 1e6, &hours, err, errlen) < 0)
            return -1;
        if (trace_load(cfg->trace, fmt, cfg->strict, stderr, &w->trace, err, errlen) < 0) return -1;
        size_t read = w->trace.count;
        w->trace.count = trace_filter(w->trace.records, w->trace.count, scale,
                                      (uint64_t)cfg->min_size, (uint64_t)cfg->max_size, hours);
        fprintf(stderr,
                "icbench: trace %s: %ld lines, %zu GET/PUT records, %" PRIu64
                " other methods ignored, %" PRIu64 " malformed, %zu kept after filters\n",
                cfg->trace, w->trace.lines, read, w->trace.ignored, w->trace.malformed,
                w->trace.count);
        if (w->trace.count == 0) {
            snprintf(err, errlen, "trace %s: no records to replay", cfg->trace);
            return -1;
        }
        w->is_trace = 1;
        w->limit = w->trace.count;
        if (cfg->requests > 0 && (uint64_t)cfg->requests < w->limit)
            w->limit = (uint64_t)cfg->requests;
        for (size_t i = 0; i < w->trace.count; i++)
            if (w->trace.records[i].size > w->max_object) w->max_object = w->trace.records[i].size;
        return 0;
    }
    double zipf;
    if (workload_size_parse(cfg->size_dist, &w->size, err, errlen) < 0 ||
        parse_decimal("zipf", cfg->zipf, 0, 10, &zipf, err, errlen) < 0 ||
        parse_decimal("get-ratio", cfg->get_ratio, 0, 1, &w->get_ratio, err, errlen) < 0 ||
        parse_decimal("rate", cfg->rate, 0, 1e7, &w->rate, err, errlen) < 0)
        return -1;
    if (workload_zipf_init(&w->zipf, (uint64_t)cfg->keys, zipf) < 0) {
        snprintf(err, errlen, "out of memory for %" PRId64 " keys", cfg->keys);
        return -1;
    }
    if (cfg->requests > 0)
        w->limit = (uint64_t)cfg->requests;
    else
        w->limit = cfg->duration_ms > 0 ? UINT64_MAX : DEFAULT_SYNTHETIC_REQUESTS;
    w->max_object = workload_size_bound(&w->size, (uint64_t)cfg->max_size);
    return 0;
}

int main(int argc, char **argv)
{
    icbench_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    char err[512];
    const char *specs[MAX_TARGETS];
    int ntargets = 0, status = 2;
    target_t targets[MAX_TARGETS];
    result_t *results = NULL;
    workload_t w;
    memset(&w, 0, sizeof w);
    FILE *csv = NULL;
    cost_prices_t prices;
    backing_t *backing = NULL;

    if (take_targets(&argc, argv, specs, &ntargets, err, sizeof err) < 0) goto usage_error;
    int rc = conf_parse_args(options, &cfg, argc, argv, usage, err, sizeof err);
    if (rc == 1) { /* --help or --sample-config was printed */
        status = 0;
        goto out;
    }
    if (rc < 0) goto usage_error;
    if (cfg.generate_trace[0]) {
        double hours;
        if (parse_decimal("hours", cfg.hours, 0, GENTRACE_HOURS_MAX, &hours, err, sizeof err) < 0)
            goto usage_error;
        status = gentrace_to_file(cfg.generate_trace, hours > 0 ? hours : 50, (uint64_t)cfg.seed,
                                  strcmp(cfg.generate_trace, "-") ? stdout : stderr);
        goto out;
    }
    if (ntargets == 0 && cfg.target[0]) specs[ntargets++] = cfg.target;
    if (ntargets == 0) {
        snprintf(err, sizeof err, "no --target given (see --help)");
        goto usage_error;
    }
    /* Keys must suit every protocol: memcached's text protocol forbids blanks and controls. */
    size_t plen = strlen(cfg.key_prefix);
    for (size_t i = 0; i < plen; i++)
        if (cfg.key_prefix[i] <= ' ' || cfg.key_prefix[i] == 127) plen = 0;
    if (plen == 0 || plen > 32) {
        snprintf(err, sizeof err, "option key-prefix: 1 to 32 characters, no blanks or controls");
        goto usage_error;
    }
    for (int i = 0; i < ntargets; i++) {
        if (target_parse(specs[i], &targets[i], err, sizeof err) < 0) goto usage_error;
        targets[i].timeout_ms = (int)cfg.timeout_ms;
    }
    if (setup_workload(&cfg, &w, err, sizeof err) < 0) goto error;
    if (cost_prices_configure(&prices, cfg.prices, cfg.price_gb_s, cfg.price_requests, cfg.proxy_vm,
                              err, sizeof err) < 0 ||
        (cfg.plot[0] && plot_find_gnuplot(err, sizeof err) < 0))
        goto usage_error;
    if (backing_open(cfg.backing, &backing, err, sizeof err) < 0) goto error;

    /* Every target must answer before anything runs: a typo should not cost a long run. */
    for (int i = 0; i < ntargets; i++) {
        target_conn_t *c = target_connect(&targets[i], err, sizeof err);
        if (!c) {
            fprintf(stderr, "icbench: target %s is not reachable: %s\n", targets[i].spec, err);
            goto out;
        }
        uint64_t item_max = target_item_size_max(c);
        if (item_max && (w.max_object == 0 || w.max_object > item_max))
            fprintf(stderr,
                    "icbench: warning: %s stores items up to %" PRIu64
                    " bytes (memcached -I); larger objects will count as errors\n",
                    targets[i].spec, item_max);
        target_close(c);
    }
    if (cfg.csv[0]) {
        csv = fopen(cfg.csv, "w");
        if (!csv) {
            snprintf(err, sizeof err, "cannot write %s: %s", cfg.csv, strerror(errno));
            goto error;
        }
        fprintf(csv, "target,client,index,op,key,size,result,latency_us,start_s\n");
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    if (w.is_trace)
        printf("icbench: trace %s, %" PRIu64 " requests per target, %" PRId64 " clients\n",
               cfg.trace, w.limit, cfg.clients);
    else
        printf("icbench: synthetic %s, %" PRId64 " keys, zipf %s, get-ratio %s, %" PRId64
               " clients, %s, seed %" PRId64 "\n",
               cfg.size_dist, cfg.keys, cfg.zipf, cfg.get_ratio, cfg.clients,
               w.rate > 0 ? "open loop" : "closed loop", cfg.seed);
    printf("icbench: misses are filled from %s\n", backing_name(backing));
    fflush(stdout);
    results = calloc((size_t)ntargets, sizeof *results);
    if (!results) {
        snprintf(err, sizeof err, "out of memory");
        goto error;
    }
    int wrong = 0, ran = 0;
    for (int i = 0; i < ntargets && !atomic_load(&stop_requested); i++) {
        if (run_target(&w, &targets[i], i, csv, backing, &results[i]) == 0) ran++;
        wrong |= results[i].total.wrong > 0;
    }
    print_summary(targets, results, ntargets);
    if (cfg.cost)
        for (int i = 0; i < ntargets; i++)
            if (results[i].meter) meter_report(results[i].meter, targets[i].spec, &prices, stdout);
    int plot_failed = cfg.plot[0] && write_plots(&cfg, targets, results, ntargets, &prices) < 0;
    status = wrong ? 1 : ran == ntargets && !plot_failed ? 0 : 2;
    if (ran < ntargets) fprintf(stderr, "icbench: some targets could not be measured\n");
    goto out;

usage_error:
    fprintf(stderr, "icbench: %s\n", err);
    goto out;
error:
    fprintf(stderr, "icbench: %s\n", err);
out:
    if (csv && fclose(csv) != 0) {
        fprintf(stderr, "icbench: cannot write %s\n", cfg.csv);
        status = 2;
    }
    if (results)
        for (int i = 0; i < ntargets; i++)
            for (int op = 0; op < OPS; op++)
                for (int c = 0; c < STATS_SIZE_CLASSES; c++)
                    stats_samples_free(&results[i].total.lat[op][c]);
    for (int i = 0; results && i < ntargets; i++) {
        plot_samples_free(&results[i].total.plot);
        meter_free(results[i].meter);
    }
    free(results);
    backing_close(backing);
    free(w.trace.records);
    workload_zipf_free(&w.zipf);
    for (const conf_option_t *o = options; o->name; o++)
        if (o->type == CONF_STRING) free(*(char **)((char *)&cfg + o->offset));
    return status;
}
