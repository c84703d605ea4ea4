/* plot.c -- icbench's plots: data files, a gnuplot script and the PNGs gnuplot draws from them
 * (GET latency CDF, latency by object size, cost over time). */
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The CDF keeps at most this many points per target: enough for a smooth curve at any size. */
#define CDF_POINTS 2000
#define SCRIPT_NAME "plots.gp"

int plot_size_bucket(uint64_t size)
{
    int b = 0;
    while (size > 1 && b < PLOT_SIZE_BUCKETS - 1) {
        size >>= 1;
        b++;
    }
    return b;
}

void plot_samples_add(plot_samples_t *s, uint64_t size, uint64_t ns)
{
    if (stats_samples_add(&s->by_size[plot_size_bucket(size)], ns) < 0) s->out_of_memory = 1;
}

void plot_samples_merge(plot_samples_t *into, plot_samples_t *from)
{
    for (int b = 0; b < PLOT_SIZE_BUCKETS; b++) {
        if (stats_samples_merge(&into->by_size[b], &from->by_size[b]) < 0) into->out_of_memory = 1;
        stats_samples_free(&from->by_size[b]);
    }
    into->out_of_memory |= from->out_of_memory;
}

void plot_samples_free(plot_samples_t *s)
{
    for (int b = 0; b < PLOT_SIZE_BUCKETS; b++)
        stats_samples_free(&s->by_size[b]);
}

int plot_find_gnuplot(char *err, size_t errlen)
{
    const char *path = getenv("PATH");
    if (path) {
        const char *p = path;
        for (;;) {
            const char *colon = strchr(p, ':');
            size_t len = colon ? (size_t)(colon - p) : strlen(p);
            char full[PATH_MAX];
            if (len > 0 && len + sizeof "/gnuplot" < sizeof full) {
                snprintf(full, sizeof full, "%.*s/gnuplot", (int)len, p);
                if (access(full, X_OK) == 0) return 0;
            }
            if (!colon) break;
            p = colon + 1;
        }
    }
    snprintf(err, errlen,
             "--plot needs gnuplot, which is not on PATH (Debian: apt-get install gnuplot-nox)");
    return -1;
}

/* Writes s into a gnuplot single-quoted string (a quote is doubled). */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        if ((unsigned char)*s >= ' ') fputc(*s, f);
    }
    fputc('\'', f);
}

static FILE *open_in(const char *dir, const char *name, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        snprintf(err, errlen, "--plot %s: path too long", dir);
        return NULL;
    }
    FILE *f = fopen(path, "w");
    if (!f) snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return f;
}

static int close_checked(FILE *f, const char *dir, const char *name, char *err, size_t errlen)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "cannot write %s/%s", dir, name);
        return -1;
    }
    return 0;
}

/* cdf-N.dat: latency (ms) and the fraction of GETs at or below it. */
static int write_cdf(const char *dir, int i, const plot_series_t *s, char *err, size_t errlen)
{
    char name[32];
    snprintf(name, sizeof name, "cdf-%d.dat", i);
    FILE *f = open_in(dir, name, err, errlen);
    if (!f) return -1;
    fprintf(f, "# GET latency CDF of %s: latency_ms fraction\n", s->name);
    size_t points = s->nget < CDF_POINTS ? s->nget : CDF_POINTS;
    for (size_t j = 1; j <= points; j++) {
        size_t idx = (size_t)ceil((double)j * (double)s->nget / (double)points) - 1;
        fprintf(f, "%.6f %.6f\n", s->get_ns[idx] / 1e6, (double)(idx + 1) / (double)s->nget);
    }
    return close_checked(f, dir, name, err, errlen);
}

/* size-N.dat: bucket middle (MiB), p50 and p99 GET latency (ms), count. */
static int write_sizes(const char *dir, int i, const plot_series_t *s, char *err, size_t errlen)
{
    char name[32];
    snprintf(name, sizeof name, "size-%d.dat", i);
    FILE *f = open_in(dir, name, err, errlen);
    if (!f) return -1;
    fprintf(f, "# GET latency by object size of %s: size_mib p50_ms p99_ms count\n", s->name);
    for (int b = 0; s->sizes && b < PLOT_SIZE_BUCKETS; b++) {
        stats_samples_t *v = &s->sizes->by_size[b];
        if (v->n == 0) continue;
        stats_samples_sort(v);
        fprintf(f, "%.9g %.6f %.6f %zu\n", pow(2.0, b + 0.5) / 1048576.0,
                stats_percentile(v->v, v->n, 50) / 1e6, stats_percentile(v->v, v->n, 99) / 1e6,
                v->n);
    }
    return close_checked(f, dir, name, err, errlen);
}

/* cost-N.dat: seconds since the run started, cumulative InfiniCache $ (Lambda + VM), ElastiCache
 * $ for the same capacity, Lambda $ alone. */
static int write_cost(const char *dir, int i, const plot_series_t *s, const cost_prices_t *p,
                      char *err, size_t errlen)
{
    char name[32];
    snprintf(name, sizeof name, "cost-%d.dat", i);
    FILE *f = open_in(dir, name, err, errlen);
    if (!f) return -1;
    fprintf(f, "# cost over time of %s: seconds infinicache_usd elasticache_usd lambda_usd\n",
            s->name);
    /* The whole run's peak picks the VM, as in the report. */
    cost_usage_t usage = {0};
    cost_usage_from_samples(s->cost, s->ncost, &usage);
    for (size_t j = 0; j < s->ncost; j++) {
        cost_counters_t d;
        cost_counters_diff(&s->cost[j].c, &s->cost[0].c, &d);
        double t = s->cost[j].t_s - s->cost[0].t_s;
        cost_report_t r;
        cost_compute(p, &d, &usage, t, &r);
        fprintf(f, "%.3f %.10f %.10f %.10f\n", t, r.lambda_usd + r.vm_usd, r.elasticache_usd,
                r.lambda_usd);
    }
    return close_checked(f, dir, name, err, errlen);
}

static void script_head(FILE *g, const char *png, const char *title, const char *xlabel,
                        const char *ylabel)
{
    fprintf(g, "\nset output '%s'\nset title ", png);
    put_quoted(g, title);
    fprintf(g, "\nset xlabel ");
    put_quoted(g, xlabel);
    fprintf(g, "\nset ylabel ");
    put_quoted(g, ylabel);
    fprintf(g, "\n");
}

static int write_script(const char *dir, const plot_series_t *series, int n, int have_cost,
                        const cost_prices_t *prices, char *err, size_t errlen)
{
    FILE *g = open_in(dir, SCRIPT_NAME, err, errlen);
    if (!g) return -1;
    fprintf(g,
            "# plots.gp -- written by icbench --plot; run again with: gnuplot %s\n"
            "set terminal pngcairo size 1100,700 noenhanced font ',11'\n"
            "set grid\nset key below\n",
            SCRIPT_NAME);

    script_head(g, "latency_cdf.png", "GET latency CDF per target (hits and misses)",
                "GET latency (ms, log scale)", "fraction of GETs at or below");
    fprintf(g, "set logscale x\nunset logscale y\nset yrange [0:1]\nplot ");
    int any = 0;
    for (int i = 0; i < n; i++) {
        if (series[i].nget == 0) continue;
        fprintf(g, "%s'cdf-%d.dat' using 1:2 with lines lw 2 title ", any ? ", \\\n     " : "", i);
        put_quoted(g, series[i].name);
        any = 1;
    }
    if (!any) fprintf(g, "NaN title 'no GETs were measured'");
    fprintf(g, "\n");

    script_head(g, "latency_by_size.png",
                "GET latency by object size per target: p50 (solid) and p99 (dashed), "
                "power-of-two size buckets",
                "object size (MiB, log scale; bucket middle)", "GET latency (ms, log scale)");
    fprintf(g, "set logscale xy\nset autoscale y\nplot ");
    any = 0;
    for (int i = 0; i < n; i++) {
        if (series[i].nget == 0) continue;
        fprintf(g, "%s'size-%d.dat' using 1:2 with linespoints lw 2 lc %d dt 1 title ",
                any ? ", \\\n     " : "", i, i + 1);
        char t[400];
        snprintf(t, sizeof t, "%s p50", series[i].name);
        put_quoted(g, t);
        fprintf(g, ", \\\n     'size-%d.dat' using 1:3 with linespoints lw 2 lc %d dt 2 title ", i,
                i + 1);
        snprintf(t, sizeof t, "%s p99", series[i].name);
        put_quoted(g, t);
        any = 1;
    }
    if (!any) fprintf(g, "NaN title 'no GETs were measured'");
    fprintf(g, "\n");

    if (have_cost) {
        script_head(g, "cost.png",
                    "Cumulative cost: InfiniCache (Lambda billed + proxy VM, solid) vs "
                    "ElastiCache of the same capacity (dashed)",
                    "time since the run started (s)", "cumulative cost (USD)");
        fprintf(g, "unset logscale xy\nset autoscale xy\nset format y '%%.2e'\nplot ");
        any = 0;
        for (int i = 0; i < n; i++) {
            if (series[i].ncost < 2) continue;
            fprintf(g, "%s'cost-%d.dat' using 1:2 with linespoints lw 2 lc %d dt 1 title ",
                    any ? ", \\\n     " : "", i, i + 1);
            char t[400];
            snprintf(t, sizeof t, "InfiniCache %s", series[i].name);
            put_quoted(g, t);
            fprintf(g, ", \\\n     'cost-%d.dat' using 1:3 with lines lw 2 lc %d dt 2 title ", i,
                    i + 1);
            const meter_sample_t *last = &series[i].cost[series[i].ncost - 1];
            cost_report_t r;
            cost_compute(prices, &last->c, NULL, 0, &r);
            snprintf(t, sizeof t, "ElastiCache %d x %s%s%s for the pool of %s", r.cluster.count,
                     r.cluster.type ? r.cluster.type->type : "(no node types)",
                     r.cluster.type ? " " : "",
                     r.cluster.type ? price_engine_title(r.cluster.type->engine) : "",
                     series[i].name);
            put_quoted(g, t);
            any = 1;
        }
        fprintf(g, "\n");
    }
    return close_checked(g, dir, SCRIPT_NAME, err, errlen);
}

/* Runs "gnuplot plots.gp" in dir; its messages go to icbench's stderr. */
static int run_gnuplot(const char *dir, char *err, size_t errlen)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "cannot start gnuplot: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            dup2(devnull, STDOUT_FILENO);
        }
        if (chdir(dir) != 0) _exit(126);
        execlp("gnuplot", "gnuplot", SCRIPT_NAME, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errlen, "waiting for gnuplot: %s", strerror(errno));
            return -1;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        snprintf(err, errlen, "gnuplot could not be run (not on PATH? Debian: gnuplot-nox)");
    else if (WIFEXITED(status))
        snprintf(err, errlen, "gnuplot failed (exit %d) on %s/%s", WEXITSTATUS(status), dir,
                 SCRIPT_NAME);
    else
        snprintf(err, errlen, "gnuplot was killed by signal %d", WTERMSIG(status));
    return -1;
}

int plot_write(const char *dir, const plot_series_t *series, int n, const cost_prices_t *prices,
               char *err, size_t errlen)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create --plot directory %s: %s", dir, strerror(errno));
        return -1;
    }
    int have_cost = 0;
    for (int i = 0; i < n; i++) {
        if (write_cdf(dir, i, &series[i], err, errlen) < 0 ||
            write_sizes(dir, i, &series[i], err, errlen) < 0)
            return -1;
        if (series[i].ncost >= 2) {
            if (write_cost(dir, i, &series[i], prices, err, errlen) < 0) return -1;
            have_cost = 1;
        }
    }
    if (write_script(dir, series, n, have_cost, prices, err, errlen) < 0) return -1;
    return run_gnuplot(dir, err, errlen);
}
