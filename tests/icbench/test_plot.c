/* test_plot.c -- icbench's plot data: size buckets, the CDF, latency by size and cost-over-time
 * files, the gnuplot script, and how a missing or failing gnuplot is reported (a stand-in
 * gnuplot script on PATH, so the test does not depend on the real one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "plot.h"

static char dir[256];
static char bindir[300];

static void write_fake_gnuplot(int exit_code)
{
    char path[400];
    snprintf(path, sizeof path, "%s/gnuplot", bindir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* It must be run in the plot directory with the script as its argument. */
    fprintf(f, "#!/bin/sh\ntest -f \"$1\" || exit 9\nprintf ok > ran\nexit %d\n", exit_code);
    fclose(f);
    chmod(path, 0755);
}

static char *slurp(const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[1 << 17];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_buckets(void **state)
{
    (void)state;
    assert_int_equal(plot_size_bucket(0), 0);
    assert_int_equal(plot_size_bucket(1), 0);
    assert_int_equal(plot_size_bucket(2), 1);
    assert_int_equal(plot_size_bucket(1023), 9);
    assert_int_equal(plot_size_bucket(1024), 10);
    assert_int_equal(plot_size_bucket(1 << 20), 20);
    assert_int_equal(plot_size_bucket(UINT64_MAX), PLOT_SIZE_BUCKETS - 1);

    plot_samples_t a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    plot_samples_add(&a, 1 << 20, 5);
    plot_samples_add(&b, 1 << 20, 7);
    plot_samples_add(&b, 100, 1);
    plot_samples_merge(&a, &b);
    assert_int_equal(a.by_size[20].n, 2);
    assert_int_equal(a.by_size[6].n, 1);
    assert_int_equal(b.by_size[20].n, 0);
    plot_samples_free(&a);
    plot_samples_free(&b);
}

static void test_write(void **state)
{
    (void)state;
    write_fake_gnuplot(0);
    char err[512];
    assert_int_equal(plot_find_gnuplot(err, sizeof err), 0);

    /* 5000 GETs of 1..5000 us, half of 1 KiB objects, half of 1 MiB ones. */
    enum { N = 5000 };
    static uint64_t lat[N];
    plot_samples_t sizes;
    memset(&sizes, 0, sizeof sizes);
    for (int i = 0; i < N; i++) {
        lat[i] = (uint64_t)(i + 1) * 1000;
        plot_samples_add(&sizes, i % 2 ? 1024 : 1 << 20, lat[i]);
    }
    /* Two INFO samples 10 s apart: 2 GB-s of serving and 10 requests. */
    meter_sample_t cost[2];
    memset(cost, 0, sizeof cost);
    for (int i = 0; i < 2; i++) {
        cost[i].c.has_pool = cost[i].c.has_platform = 1;
        cost[i].c.pool_size = 8;
        cost[i].c.node_memory_mb = 256;
    }
    cost[1].t_s = 10;
    cost[1].c.gb_seconds_by_kind[COST_SERVING] = 2;
    cost[1].c.requests_by_kind[COST_SERVING] = 10;
    plot_series_t series[2] = {
        {.name = "resp:it's", .get_ns = lat, .nget = N, .sizes = &sizes, .cost = cost, .ncost = 2},
        {.name = "memcached:x", .get_ns = NULL, .nget = 0, .sizes = NULL},
    };
    /* The 2020 set with the VM the paper-era report used, fixed (not chosen by bandwidth). */
    static cost_prices_t prices;
    assert_int_equal(
        cost_prices_configure(&prices, "2020", "", "", "", "c5n.xlarge:0.216", err, sizeof err), 0);
    const cost_prices_t *p = &prices;
    assert_int_equal(plot_write(dir, series, 2, p, err, sizeof err), 0);
    assert_non_null(slurp("ran"));

    char *cdf = slurp("cdf-0.dat");
    assert_non_null(cdf);
    int lines = 0;
    double prev = 0, lat_ms = 0, frac = 0;
    for (char *l = strchr(cdf, '\n') + 1; *l; l = strchr(l, '\n') + 1) {
        assert_int_equal(sscanf(l, "%lf %lf", &lat_ms, &frac), 2);
        assert_true(frac > prev);
        prev = frac;
        lines++;
    }
    assert_int_equal(lines, 2000); /* at most 2000 points */
    assert_true(frac == 1.0 && lat_ms == 5.0);

    char *sz = slurp("size-0.dat");
    assert_non_null(sz);
    /* 1 KiB bucket: odd i, 2500 samples of 2,4,..,5000 us; p50 is the 1250th = 2.5 ms. */
    assert_non_null(strstr(sz, "0.00138106793 2.500000 4.950000 2500\n"));
    assert_non_null(strstr(sz, "1.41421356 2.499000 4.949000 2500\n"));

    char *c = slurp("cost-0.dat");
    assert_non_null(c);
    /* 10 s: Lambda 2 x 0.0000166667 + 10 x 0.2e-6 = 0.0000353334; VM and r5.large $0.216/h. */
    assert_non_null(strstr(c, "\n0.000 0.0000000000 0.0000000000 0.0000000000\n"));
    assert_non_null(strstr(c, "\n10.000 0.0006353334 0.0006000000 0.0000353334\n"));
    assert_null(slurp("cost-1.dat"));

    char *gp = slurp("plots.gp");
    assert_non_null(gp);
    assert_non_null(strstr(gp, "set output 'latency_cdf.png'"));
    assert_non_null(strstr(gp, "set output 'latency_by_size.png'"));
    assert_non_null(strstr(gp, "set output 'cost.png'"));
    assert_non_null(strstr(gp, "set title 'GET latency CDF per target"));
    assert_non_null(strstr(gp, "set xlabel 'GET latency (ms, log scale)'"));
    assert_non_null(strstr(gp, "title 'resp:it''s'")); /* a quote is doubled */
    assert_non_null(strstr(gp, "ElastiCache 1 x cache.r5.large Redis OSS"));
    assert_null(strstr(gp, "cdf-1.dat")); /* no GETs: no curve */
    plot_samples_free(&sizes);

    /* A failing gnuplot is an error with its exit status. */
    write_fake_gnuplot(5);
    assert_int_equal(plot_write(dir, series, 2, p, err, sizeof err), -1);
    assert_non_null(strstr(err, "gnuplot failed (exit 5)"));
}

static void test_missing(void **state)
{
    (void)state;
    char path[400], err[512];
    snprintf(path, sizeof path, "%s/gnuplot", bindir);
    unlink(path);
    assert_int_equal(plot_find_gnuplot(err, sizeof err), -1);
    assert_non_null(strstr(err, "gnuplot-nox"));
    plot_series_t s = {.name = "x"};
    static cost_prices_t current;
    assert_int_equal(cost_prices_configure(&current, "current", "", "", "", "", err, sizeof err),
                     0);
    assert_int_equal(plot_write(dir, &s, 1, &current, err, sizeof err), -1);
    assert_non_null(strstr(err, "gnuplot could not be run"));
    /* A directory that cannot be created. */
    assert_int_equal(plot_write("/proc/icbench-no", &s, 1, &current, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot create"));
}

int main(void)
{
    char tmpl[] = "/tmp/test_plot_XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    snprintf(dir, sizeof dir, "%s/plots", tmpl);
    snprintf(bindir, sizeof bindir, "%s/bin", tmpl);
    mkdir(bindir, 0755);
    setenv("PATH", bindir, 1); /* only the stand-in gnuplot */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_missing),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "/bin/rm -rf %s", tmpl);
    if (system(cmd) != 0) rc = rc ? rc : 1;
    return rc;
}
