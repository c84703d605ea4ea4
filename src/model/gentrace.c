/* gentrace.c -- writes a synthetic IBM Docker registry trace with the published statistics (see
 * gentrace.h for the model) and measures those statistics on any trace. */
#include "gentrace.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workload.h"

#define SMALL_POOL 50000           /* distinct small objects; popularity skewed towards low ids */
#define SMALL_PER_LARGE 8.0        /* small requests per large GET */
#define LARGE_GETS_MIN 1000.0      /* large GETs drawn per hour, uniformly in [MIN, MIN + SPAN] */
#define LARGE_GETS_SPAN 1500.0
#define REREAD_CONTINUE 0.4        /* after a reuse, chance of one more read (geometric) */
#define PUT_FRACTION 0.05          /* large objects uploaded in the trace before their first GET */
#define LARGE_MAX ((uint64_t)1 << 30)

enum { M_GET, M_PUT, M_HEAD };

typedef struct {
    double time;     /* seconds from the start */
    uint64_t object; /* id; the top bit marks a small object */
    uint32_t seq;    /* order of creation: ties in time sort the same way everywhere */
    uint8_t method;
} event_t;

#define SMALL_BIT ((uint64_t)1 << 63)

typedef struct {
    event_t *v;
    size_t n, cap;
} events_t;

static int push(events_t *e, double time, uint64_t object, int method)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 65536;
        event_t *v = realloc(e->v, cap * sizeof *v);
        if (!v) return -1;
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n] = (event_t){time, object, (uint32_t)e->n, (uint8_t)method};
    e->n++;
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const event_t *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* An object's size is a property of the object: derived from (seed, id). */
static uint64_t object_size(uint64_t seed, uint64_t object)
{
    workload_rng_t r;
    workload_rng_seed(&r, seed ^ 0x5eedull, object);
    if (object & SMALL_BIT) {
        double s = 8192.0 * exp(1.5 * workload_rng_normal(&r));
        if (s < 1) s = 1;
        if (s > (double)GENTRACE_LARGE) s = (double)GENTRACE_LARGE;
        return (uint64_t)s;
    }
    double s = 40.0 * 1048576.0 * exp(0.7 * workload_rng_normal(&r));
    if (s <= (double)GENTRACE_LARGE) s = (double)GENTRACE_LARGE + 1 + workload_rng_double(&r) * 1048576.0;
    if (s > (double)LARGE_MAX) s = (double)LARGE_MAX;
    return (uint64_t)s;
}

/* Registry-shaped URIs: blobs named by a digest; some small objects are manifests. */
static int object_uri(char *buf, size_t cap, uint64_t seed, uint64_t object)
{
    uint64_t h[4];
    uint64_t x = workload_mix64(seed ^ workload_mix64(object));
    for (int i = 0; i < 4; i++) h[i] = x = workload_mix64(x + (uint64_t)i);
    unsigned user = (unsigned)(h[0] >> 48) % 4096, repo = (unsigned)(h[1] >> 48) % 8192;
    if ((object & SMALL_BIT) && (object & ~SMALL_BIT) % 10 == 0)
        return snprintf(buf, cap, "v2/u%03x/r%04x/manifests/t%" PRIu64, user, repo,
                        (object & ~SMALL_BIT) / 10);
    return snprintf(buf, cap, "v2/u%03x/r%04x/blobs/sha256:%016" PRIx64 "%016" PRIx64 "%016" PRIx64
                    "%016" PRIx64, user, repo, h[0], h[1], h[2], h[3]);
}

static int generate(const gentrace_params_t *p, events_t *e)
{
    workload_rng_t r;
    workload_rng_seed(&r, p->seed, 0);
    double end = p->hours * 3600.0;
    double per_first = 1.0 + GENTRACE_REUSE * (1.0 + REREAD_CONTINUE / (1.0 - REREAD_CONTINUE));
    uint64_t next_large = 0;
    for (int h = 0; h * 3600.0 < end; h++) {
        double start = h * 3600.0, len = end - start < 3600.0 ? end - start : 3600.0;
        double large_gets = (LARGE_GETS_MIN + LARGE_GETS_SPAN * workload_rng_double(&r)) * len / 3600.0;
        long firsts = lround(large_gets / per_first);
        for (long i = 0; i < firsts; i++) {
            uint64_t id = next_large++;
            double t = start + len * workload_rng_double(&r);
            if (workload_rng_double(&r) < PUT_FRACTION &&
                push(e, t > 60.0 ? t - 1.0 - 59.0 * workload_rng_double(&r) : t, id, M_PUT) < 0)
                return -1;
            if (push(e, t, id, M_GET) < 0) return -1;
            if (workload_rng_double(&r) >= GENTRACE_REUSE) continue;
            /* Reused: read again, each time within an hour of the last read, inside the trace. */
            do {
                double room = end - t - 0.01;
                if (room > 3599.0) room = 3599.0;
                if (room < 1.0) break;
                t += 1.0 + (room - 1.0) * workload_rng_double(&r);
                if (push(e, t, id, M_GET) < 0) return -1;
            } while (workload_rng_double(&r) < REREAD_CONTINUE);
        }
        long smalls = lround(large_gets * SMALL_PER_LARGE);
        for (long i = 0; i < smalls; i++) {
            double t = start + len * workload_rng_double(&r);
            uint64_t id = (uint64_t)(SMALL_POOL * pow(workload_rng_double(&r), 2.5));
            double m = workload_rng_double(&r);
            if (push(e, t, id | SMALL_BIT, m < 0.03 ? M_HEAD : m < 0.08 ? M_PUT : M_GET) < 0)
                return -1;
        }
    }
    qsort(e->v, e->n, sizeof *e->v, by_time);
    return 0;
}

static void format_time(char *buf, size_t cap, double t)
{
    long long ms = llround((GENTRACE_START + t) * 1000.0);
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

int gentrace_write(FILE *out, const gentrace_params_t *p, gentrace_stats_t *stats, char *err,
                   size_t errlen)
{
    if (!(p->hours > 0 && p->hours <= GENTRACE_HOURS_MAX)) {
        snprintf(err, errlen, "trace length must be above 0 and at most %g hours",
                 GENTRACE_HOURS_MAX);
        return -1;
    }
    events_t e = {0};
    trace_record_t *recs = NULL;
    int rc = -1;
    if (generate(p, &e) < 0 || !(recs = malloc((e.n ? e.n : 1) * sizeof *recs))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    static const char *const names[] = {"GET", "PUT", "HEAD"};
    size_t nrec = 0;
    fputs("[\n", out);
    for (size_t i = 0; i < e.n; i++) {
        char uri[256], stamp[80];
        int ulen = object_uri(uri, sizeof uri, p->seed, e.v[i].object);
        uint64_t size = object_size(p->seed, e.v[i].object);
        format_time(stamp, sizeof stamp, e.v[i].time);
        fprintf(out,
                "%s{\"http.request.method\": \"%s\", \"http.request.uri\": \"%s\", "
                "\"http.response.written\": %" PRIu64 ", \"timestamp\": \"%s\"}",
                i ? ",\n" : "", names[e.v[i].method], uri, size, stamp);
        if (e.v[i].method == M_HEAD) continue; /* as trace_load: not replayed */
        double t;
        trace_parse_time(stamp, strlen(stamp), &t);
        recs[nrec++] = (trace_record_t){e.v[i].method == M_GET ? TRACE_OP_GET : TRACE_OP_SET,
                                        trace_key_hash(uri, (size_t)ulen), size, t};
    }
    fputs("\n]\n", out);
    if (fflush(out) != 0 || ferror(out)) {
        snprintf(err, errlen, "write error");
        goto out;
    }
    if (stats && gentrace_stats(recs, nrec, stats) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
out:
    free(e.v);
    free(recs);
    return rc;
}

/* ---- statistics ---- */

typedef struct {
    uint64_t key;
    double last_get;
    uint8_t used, reused;
} slot_t;

int gentrace_stats(const trace_record_t *rec, size_t n, gentrace_stats_t *s)
{
    memset(s, 0, sizeof *s);
    s->records = n;
    if (n == 0) return 0;
    size_t cap = 1024;
    while (cap < 2 * n) cap *= 2;
    slot_t *tab = calloc(cap, sizeof *tab);
    double span = rec[n - 1].time - rec[0].time;
    size_t hours = (size_t)ceil(span / 3600.0);
    if (hours == 0) hours = 1;
    uint64_t *per_hour = calloc(hours + 1, sizeof *per_hour);
    if (!tab || !per_hour) {
        free(tab);
        free(per_hour);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const trace_record_t *r = &rec[i];
        int large = r->size > GENTRACE_LARGE;
        s->bytes_total += r->size;
        if (large) s->bytes_large += r->size;
        if (r->op == TRACE_OP_SET) {
            s->puts++;
            continue;
        }
        s->gets++;
        if (!large) {
            s->small_gets++;
            continue;
        }
        s->large_gets++;
        size_t h = (size_t)((r->time - rec[0].time) / 3600.0);
        per_hour[h < hours ? h : hours - 1]++;
        size_t j = (size_t)workload_mix64(r->key) & (cap - 1);
        while (tab[j].used && tab[j].key != r->key) j = (j + 1) & (cap - 1);
        if (!tab[j].used) {
            tab[j] = (slot_t){r->key, r->time, 1, 0};
            s->large_objects++;
            continue;
        }
        if (!tab[j].reused && r->time - tab[j].last_get <= 3600.0) {
            tab[j].reused = 1;
            s->large_reused++;
        }
        tab[j].last_get = r->time;
    }
    for (size_t h = 0; h < hours; h++)
        if (per_hour[h] > s->max_large_gets_per_hour) s->max_large_gets_per_hour = per_hour[h];
    s->hours = (double)hours;
    s->mean_large_gets_per_hour = (double)s->large_gets / (double)hours;
    s->large_byte_share = s->bytes_total ? (double)s->bytes_large / (double)s->bytes_total : 0;
    s->reuse_fraction = s->large_objects ? (double)s->large_reused / (double)s->large_objects : 0;
    free(tab);
    free(per_hour);
    return 0;
}

int gentrace_to_file(const char *path, double hours, uint64_t seed, FILE *report)
{
    int to_stdout = !strcmp(path, "-");
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    if (!f) {
        fprintf(stderr, "icbench: cannot write %s: %s\n", path, strerror(errno));
        return 2;
    }
    gentrace_params_t p = {hours, seed};
    gentrace_stats_t st;
    char err[256];
    int rc = gentrace_write(f, &p, &st, err, sizeof err);
    if (!to_stdout && fclose(f) != 0 && rc == 0) {
        snprintf(err, sizeof err, "write error");
        rc = -1;
    }
    if (rc < 0) {
        fprintf(stderr, "icbench: generating %s: %s\n", path, err);
        return 2;
    }
    fprintf(report, "icbench: wrote %s: synthetic registry trace, %g hours, seed %" PRIu64 "\n",
            path, hours, seed);
    gentrace_print_stats(report, &st);
    return 0;
}

void gentrace_print_stats(FILE *f, const gentrace_stats_t *s)
{
    fprintf(f, "records %" PRIu64 " (GET %" PRIu64 ", PUT %" PRIu64 "), %.0f hours\n", s->records,
            s->gets, s->puts, s->hours);
    fprintf(f, "large_byte_share %.4f (paper: > 0.95)\n", s->large_byte_share);
    fprintf(f, "large_gets_per_hour mean %.0f max %" PRIu64 " (paper: < 3500)\n",
            s->mean_large_gets_per_hour, s->max_large_gets_per_hour);
    fprintf(f, "large_reused_within_hour %.4f of %" PRIu64 " large objects (paper: 0.37-0.46)\n",
            s->reuse_fraction, s->large_objects);
    fprintf(f, "small_gets %" PRIu64 ", large_gets %" PRIu64 "\n", s->small_gets, s->large_gets);
}
