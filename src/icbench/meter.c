/* meter.c -- samples an icproxy's INFO (pool and platform billing) before, during and after one
 * icbench run, and prints the run's cost report. */
#include "meter.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "net.h"
#include "resp_client.h"

/* The proxy fetches the platform's figures once a second; waiting this long after the last
 * invocation ended makes sure INFO includes it. */
#define PLATFORM_REFRESH_MS 1200
#define SETTLE_POLL_MS 100
#define INFO_REPLY_MAX (1 << 20) /* an icproxy's INFO is a few KiB */

struct meter {
    resp_client_t conn; /* the sampling thread's while it runs, then meter_finish's */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;
    int interval_ms;
    double start_s, run_end_s, settle_s; /* run_end_s, settle_s: relative to start */
    int settled;
    meter_sample_t samples[METER_SAMPLES_MAX];
    size_t n;
};

/* One INFO reading. 0, 1 if the server is not an icproxy, -1 on an error. */
static int read_info(resp_client_t *conn, cost_counters_t *c, char *err, size_t errlen)
{
    static const char cmd[] = "INFO";
    const void *argv[] = {cmd};
    const size_t argl[] = {sizeof cmd - 1};
    resp_reply_t r;
    char why[256];
    if (resp_client_send(conn, 1, argv, argl, why, sizeof why) < 0 ||
        resp_client_read(conn, &r, why, sizeof why) < 0) {
        snprintf(err, errlen, "INFO: %s", why);
        return -1;
    }
    if (r.kind != RESP_REPLY_BULK) {
        snprintf(err, errlen, "INFO: unexpected reply type %d", (int)r.kind);
        return -1;
    }
    return cost_counters_parse((const char *)r.value, r.len, c) == 0 ? 0 : 1;
}

/* Appends a sample; when full, keeps every other one and doubles the interval. Under lock. */
static void add_sample(meter_t *m, const cost_counters_t *c, double t_s)
{
    if (m->n == METER_SAMPLES_MAX) {
        size_t k = 0;
        for (size_t i = 0; i < m->n; i += 2)
            m->samples[k++] = m->samples[i];
        m->n = k;
        m->interval_ms *= 2;
    }
    m->samples[m->n].t_s = t_s;
    m->samples[m->n].c = *c;
    m->n++;
}

static void *sampler_main(void *arg)
{
    meter_t *m = arg;
    pthread_mutex_lock(&m->lock);
    while (!m->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long long ns = until.tv_nsec + (long long)m->interval_ms * 1000000LL;
        until.tv_sec += (time_t)(ns / 1000000000LL);
        until.tv_nsec = (long)(ns % 1000000000LL);
        while (!m->stop && pthread_cond_timedwait(&m->wake, &m->lock, &until) == 0) {
        }
        if (m->stop) break;
        pthread_mutex_unlock(&m->lock);
        cost_counters_t c;
        char err[256];
        int rc = read_info(&m->conn, &c, err, sizeof err);
        double t = clock_mono_s_double() - m->start_s;
        pthread_mutex_lock(&m->lock);
        if (rc != 0) break; /* the final reading will say whether INFO still works */
        add_sample(m, &c, t);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

meter_t *meter_start(const char *host, int port, int interval_ms, int timeout_ms, int *not_icproxy,
                     char *err, size_t errlen)
{
    *not_icproxy = 0;
    meter_t *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->wake, NULL);
    m->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    resp_client_init(&m->conn, -1, INFO_REPLY_MAX);
    int fd = net_connect(host, port, timeout_ms);
    if (fd < 0) {
        snprintf(err, errlen, "INFO connection: %s", strerror(-fd));
        goto fail;
    }
    net_set_io_timeout(fd, timeout_ms);
    resp_client_init(&m->conn, fd, INFO_REPLY_MAX);
    cost_counters_t c;
    int rc = read_info(&m->conn, &c, err, errlen);
    if (rc == 1) *not_icproxy = 1;
    if (rc != 0) goto fail;
    m->start_s = clock_mono_s_double();
    add_sample(m, &c, 0);
    if (pthread_create(&m->thread, NULL, sampler_main, m) != 0) {
        snprintf(err, errlen, "cannot start the INFO sampling thread");
        goto fail;
    }
    m->thread_started = 1;
    return m;
fail:
    meter_free(m);
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int meter_finish(meter_t *m, int settle_ms)
{
    double end = clock_mono_s_double();
    pthread_mutex_lock(&m->lock);
    m->stop = 1;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    if (m->thread_started) pthread_join(m->thread, NULL);
    m->thread_started = 0;
    m->run_end_s = end - m->start_s;
    double deadline = end + settle_ms / 1e3, quiet_since = 0, serving_changed = end;
    double serving = -1;
    for (;;) {
        cost_counters_t c;
        char err[256];
        if (read_info(&m->conn, &c, err, sizeof err) != 0) return -1;
        double now = clock_mono_s_double();
        if (c.nodes_awake + c.nodes_invoking == 0) {
            if (quiet_since == 0) quiet_since = now;
        } else {
            quiet_since = 0;
        }
        if (c.gb_seconds_by_kind[COST_SERVING] != serving) {
            serving = c.gb_seconds_by_kind[COST_SERVING];
            serving_changed = now;
        }
        /* Settled: the pool is idle and INFO has caught up; or, with warm-ups and backups that
         * keep nodes busy, the serving figures stopped moving for two refreshes. */
        int settled = (quiet_since > 0 && now - quiet_since >= PLATFORM_REFRESH_MS / 1e3) ||
                      now - serving_changed >= 2 * PLATFORM_REFRESH_MS / 1e3;
        if (settled || now >= deadline) {
            add_sample(m, &c, now - m->start_s);
            m->settle_s = now - end;
            m->settled = settled;
            return settled ? 0 : 1;
        }
        sleep_ms(SETTLE_POLL_MS);
    }
}

const meter_sample_t *meter_samples(const meter_t *m, size_t *n)
{
    *n = m->n;
    return m->samples;
}

void meter_free(meter_t *m)
{
    if (!m) return;
    if (m->thread_started) {
        pthread_mutex_lock(&m->lock);
        m->stop = 1;
        pthread_cond_signal(&m->wake);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->thread, NULL);
    }
    resp_client_close(&m->conn);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->wake);
    free(m);
}

void meter_report(const meter_t *m, const char *spec, const cost_prices_t *p,
                  const cost_usage_t *workload, FILE *out)
{
    if (m->n < 2) {
        fprintf(out, "cost %s: no final INFO reading (the proxy stopped answering)\n", spec);
        return;
    }
    const cost_counters_t *first = &m->samples[0].c, *last = &m->samples[m->n - 1].c;
    if (!last->has_platform) {
        fprintf(out,
                "cost %s: INFO has no billing figures (neither a billing section nor the "
                "platform's); no cost report\n",
                spec);
        return;
    }
    cost_counters_t d;
    cost_counters_diff(last, first, &d);
    double window = m->samples[m->n - 1].t_s - m->samples[0].t_s;
    cost_usage_t usage = *workload;
    cost_usage_from_samples(m->samples, m->n, &usage);
    cost_report_t r;
    cost_compute(p, &d, &usage, window, &r);

    fprintf(out,
            "\ncost %s: prices '%s' as of %s (configuration: --prices, --lambda-arch, --price-*, "
            "--proxy-vm)\n",
            spec, p->name, p->as_of);
    char gran[64] = "an unreported granularity";
    if (last->billing_ms > 0)
        snprintf(gran, sizeof gran, "%lld ms units", (long long)last->billing_ms);
    /* Who said what was billed: the platform's admin API, or the nodes' own records (AWS). */
    const char *source = last->billing_source[0] ? last->billing_source : "platform";
    fprintf(out,
            "  window %.3f s (run %.3f s + settle %.3f s%s); billed in %s, as the %s report%s\n",
            window, m->run_end_s, m->settle_s,
            m->settled ? "" : ", invocations still running when the settle time ran out", gran,
            source, strcmp(source, "nodes") ? "s" : "");
    /* The price set says how Lambda rounded when its prices were recorded (100 ms in 2020). */
    int64_t set_ms = (int64_t)p->set.lambda_billing_ms.value;
    if (last->billing_ms > 0 && set_ms > 0 && last->billing_ms != set_ms)
        fprintf(out,
                "  note: when these prices were recorded Lambda rounded to %lld ms; run icproxy "
                "with --billing %lldms to bill as it was billed then\n",
                (long long)set_ms, (long long)set_ms);
    fprintf(out, "  Lambda %s at $%.10f per GB-s and $%.2f per 1M requests:\n",
            price_arch_name(p->arch), p->usd_per_gb_second, p->usd_per_million_requests);
    fprintf(out, "  %-9s %10s %14s %14s %14s %14s\n", "kind", "requests", "GB-s", "$ GB-s",
            "$ requests", "$ total");
    double req_total = 0, gbs_total = 0;
    for (int k = 0; k < COST_KINDS; k++) {
        fprintf(out, "  %-9s %10.0f %14.6f %14.8f %14.8f %14.8f\n", cost_kind_name(k),
                d.requests_by_kind[k], d.gb_seconds_by_kind[k], r.gb_second_usd[k],
                r.request_usd[k], r.gb_second_usd[k] + r.request_usd[k]);
        req_total += d.requests_by_kind[k];
        gbs_total += d.gb_seconds_by_kind[k];
    }
    fprintf(out, "  %-9s %10.0f %14.6f %14s %14s %14.8f\n", "lambda", req_total, gbs_total, "", "",
            r.lambda_usd);
    cost_print_comparisons(out, p, &r, &usage, "  ");
    int cheaper;
    double x = cost_ratio(r.infinicache_usd, r.elasticache_usd, &cheaper);
    fprintf(out,
            "cost target=%s prices=%s window_s=%.3f run_s=%.3f billing_ms=%lld billing_source=%s "
            "settled=%d requests=%.0f gb_seconds=%.6f",
            spec, p->name, window, m->run_end_s, (long long)last->billing_ms, source, m->settled,
            req_total, gbs_total);
    for (int k = 0; k < COST_KINDS; k++)
        fprintf(out, " requests_%s=%.0f gb_seconds_%s=%.6f", cost_kind_name(k),
                d.requests_by_kind[k], cost_kind_name(k), d.gb_seconds_by_kind[k]);
    fprintf(out,
            " lambda_usd=%.8f vm_usd=%.8f infinicache_usd=%.8f elasticache_usd=%.8f "
            "elasticache_node=%s elasticache_nodes=%d infinicache_usd_per_h=%.6f "
            "elasticache_usd_per_h=%.6f peak_bytes_per_s=%.0f",
            r.lambda_usd, r.vm_usd, r.infinicache_usd, r.elasticache_usd,
            r.cluster.type ? r.cluster.type->type : "none", r.cluster.count,
            cost_per_hour(r.infinicache_usd, window), r.cluster.usd_per_hour,
            usage.peak_bytes_per_s);
    cost_print_fields(out, p, &r);
    fprintf(out, " ratio=%.4f %s\n", x,
            x > 0 ? (cheaper ? "cheaper" : "more_expensive") : "no_ratio");
}
